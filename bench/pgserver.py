"""A throwaway PostgreSQL server for a benchmark: initdb and pg_ctl in a temporary folder,
listening on 127.0.0.1 on a free port and on a Unix socket in that folder, stopped and
removed at the end.

    with pg_server() as url:   # postgresql://bench@/bench?host=FOLDER&port=PORT
        ...
    with pg_server(tcp=True) as url:   # postgresql://bench@127.0.0.1:PORT/bench

The bot reaches the server through the Unix socket, as a bot on the database's own machine
would be set up (docs/operations.md: `?host=/var/run/postgresql`): on 127.0.0.1 every
statement also pays for the loopback TCP stack on both sides (docs/performance.md).

The binaries come from PG_BIN (default /usr/lib/postgresql/15/bin, Debian's package). A
server refuses to run as root, so as root it runs as the `postgres` user through `runuser`.
`PgUnavailable` says why none could be started (no binaries, no such user)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
USER = DATABASE = "bench"


class PgUnavailable(RuntimeError):
    """No PostgreSQL server can be started here (the reason is the message)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_owner(command: list[str]) -> list[str]:
    """`command` run as `postgres` when this process is root (initdb refuses root)."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def pg_server(settings: dict[str, str] | None = None, tcp: bool = False) -> Iterator[str]:
    """A fresh server for the duration of the block; yields its URL: through the Unix socket,
    or (`tcp`) on 127.0.0.1. `settings` are extra postgresql.conf lines (fsync stays on: the
    figures are a real server's)."""
    if not (PG_BIN / "initdb").exists():
        raise PgUnavailable(f"no PostgreSQL binaries in {PG_BIN} (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="appealdesk-pg-"))
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder)
            raise PgUnavailable("running as root and there is no `postgres` user") from None
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    data, port = folder / "data", free_port()
    run = lambda *args: subprocess.run(_as_owner(list(args)), check=True, capture_output=True)  # noqa: E731
    try:
        run(str(PG_BIN / "initdb"), "-D", str(data), "-U", USER, "--auth=trust",
            "--encoding=UTF8", "--locale=C.UTF-8")  # fmt: skip
        conf = {"listen_addresses": "'127.0.0.1'", "port": str(port),
                "unix_socket_directories": f"'{folder}'", **(settings or {})}  # fmt: skip
        with (data / "postgresql.auto.conf").open("a") as out:
            out.writelines(f"{key} = {value}\n" for key, value in conf.items())
        run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "start")
        try:
            run(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, DATABASE)
            if tcp:
                yield f"postgresql://{USER}@127.0.0.1:{port}/{DATABASE}"
            else:
                yield f"postgresql://{USER}@/{DATABASE}?host={folder}&port={port}"
        finally:
            run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":  # a quick look: start, print the version, stop
    import psycopg

    with pg_server() as url, psycopg.connect(url) as conn:
        print(url, conn.execute("SELECT version()").fetchone()[0])
