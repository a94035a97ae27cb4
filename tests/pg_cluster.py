"""A throwaway PostgreSQL server for the tests: `initdb` + `pg_ctl` in a temp folder,
listening on 127.0.0.1 (a free port) and on a unix socket in that folder, stopped when the
process ends (also when it ends by an error: atexit).

    reason = unavailable()            # None, or why PostgreSQL tests are skipped
    cluster = shared_cluster()        # one per process, started on first use
    tpl = cluster.template("appealdesk_tpl", migrate)   # made (and migrated) once
    url = cluster.fresh(tpl)          # CREATE DATABASE … TEMPLATE tpl: a few ms

As root (initdb refuses it), every server command runs as the `postgres` user through
`runuser`, and the folder is given to that user. Durability is off (`fsync`,
`synchronous_commit`, `full_page_writes`): the data dies with the test run anyway.
"""

from __future__ import annotations

import atexit
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

DEBIAN_BINDIR = Path("/usr/lib/postgresql/15/bin")
SERVER_USER = "postgres"  # the role initdb makes, and (as root) the OS user that runs it
SPEED = ("-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")


def bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: Debian's PostgreSQL 15, else `pg_config`'s."""
    candidates = [DEBIAN_BINDIR]
    if pg_config := shutil.which("pg_config"):
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            )
            candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def unavailable() -> str | None:
    """Why a PostgreSQL server cannot be started here (a skip reason), or None."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "PostgreSQL tests skipped: psycopg is not installed (pip install -e '.[test]')"
    if bindir() is None:
        return (
            f"PostgreSQL tests skipped: no initdb/pg_ctl in {DEBIAN_BINDIR} nor from pg_config"
            " (apt-get install -y postgresql)"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"PostgreSQL tests skipped: running as root and no user {SERVER_USER!r}"
        if shutil.which("runuser") is None:
            return "PostgreSQL tests skipped: running as root and no runuser"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ClusterError(RuntimeError):
    """The server could not be made or started; the message holds what it said."""


class Cluster:
    """One running server in its own folder; `url(name)` reaches database `name` over TCP."""

    def __init__(self, folder: Path, bin_dir: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.bin = bin_dir
        self.port = 0
        self._names = itertools.count(1)
        self._templates: dict[str, str] = {}
        self.running = False

    # -- the server ------------------------------------------------------------------------

    def _run(self, *args: str) -> str:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            said = (done.stderr or done.stdout).strip().splitlines()
            raise ClusterError(f"{args[0]} failed: {' / '.join(said[-3:])}")
        return done.stdout

    def start(self) -> Cluster:
        if os.geteuid() == 0:
            entry = pwd.getpwnam(SERVER_USER)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self.folder.chmod(0o700)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", SERVER_USER, "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")  # fmt: skip
        for attempt in range(3):  # a free port may be taken between the check and the start
            self.port = free_port()
            options = " ".join(
                (
                    f"-p {self.port}",
                    f"-k {self.folder}",
                    "-c listen_addresses=127.0.0.1",
                    "-c max_connections=200",
                    *SPEED,
                )
            )
            try:
                self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                          str(self.folder / "server.log"), "-w", "-t", "60", "start")  # fmt: skip
                break
            except ClusterError:
                if attempt == 2:
                    raise ClusterError(f"the server did not start: {self.log_tail()}") from None
        self.running = True
        atexit.register(self.stop)
        return self

    def log_tail(self) -> str:
        log = self.folder / "server.log"
        if not log.exists():
            return "(no log)"
        return " / ".join(log.read_text(errors="replace").strip().splitlines()[-3:])

    def stop(self) -> None:
        """Stop the server (fast: nothing is worth keeping) and remove its folder."""
        if self.running:
            self.running = False
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except (ClusterError, OSError, subprocess.SubprocessError):
                pass
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- databases -------------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/{dbname}"

    def execute(self, sql: str, dbname: str = "postgres") -> list[tuple]:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            cur = conn.execute(sql)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def create(self, template: str | None = None) -> str:
        """A new empty (or `template`-copied) database; its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        # FILE_COPY: a small template is copied in a third of WAL_LOG's time (durability is
        # off on this server, so its checkpoint costs little)
        copy = f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""
        self.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def template(self, name: str, setup: Callable[[str], None] | None = None) -> str:
        """A database `name` made once per cluster and given to `setup(url)` (e.g. migrate
        it), then marked a template; later calls return the same name."""
        if name not in self._templates:
            self.execute(f'CREATE DATABASE "{name}"')
            if setup is not None:
                setup(self.url(name))
            self.execute(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')
            self._templates[name] = name
        return self._templates[name]

    def fresh(self, template: str | None = None) -> str:
        """A fresh database for one test: a copy of `template` (made by `template()`)."""
        return self.create(template)

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_cluster() -> Cluster:
    """A new server in a new temp folder (the caller stops it; atexit does otherwise)."""
    reason = unavailable()
    if reason is not None:
        raise ClusterError(reason)
    folder = Path(tempfile.mkdtemp(prefix="appealdesk-pg-"))
    cluster = Cluster(folder, bindir())  # type: ignore[arg-type]
    try:
        return cluster.start()
    except BaseException:
        cluster.stop()
        raise


_shared: Cluster | None = None


def shared_cluster() -> Cluster:
    """The one server of this process (tests share it; each takes databases of its own)."""
    global _shared
    if _shared is None or not _shared.running:
        _shared = start_cluster()
    return _shared


# -- what the suite's fixtures call (tests/conftest.py, test_cli, test_copy_db) -------------

TEMPLATE = "appealdesk_migrated"


def skip_reason() -> str | None:
    """Why no PostgreSQL can run here (missing binaries, a server that will not start)."""
    if (reason := unavailable()) is not None:
        return reason
    try:
        shared_cluster()
    except ClusterError as exc:
        return f"PostgreSQL: {exc}"
    return None


def _migrate(url: str) -> None:
    import asyncio

    from storage.postgres import PostgresDatabase

    async def run() -> None:
        database = PostgresDatabase(url)
        await database.open(migrate=True)
        await database.close()

    asyncio.run(run())


_finished: list[str] = []


def fresh_database() -> str:
    """A new database holding the current schema (a copy of a template migrated once).
    The databases of finished tests are dropped first."""
    cluster = shared_cluster()
    while _finished:
        cluster.drop(_finished.pop())
    return cluster.fresh(cluster.template(TEMPLATE, _migrate))


def new_database_url() -> str:
    """A new database without any schema (what an operator creates before `migrate`)."""
    return shared_cluster().create()


def drop_database(url: str) -> None:
    """Remove a test's database once the test is over: dropped when the next test asks for
    one (the last checks after a test still read it; the cluster goes at the end anyway)."""
    _finished.append(url)
