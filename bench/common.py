"""What the benchmarks share: a fresh AppealDesk database on either backend (a SQLite file
in a folder, or a database on a throwaway PostgreSQL server: `Places`), the owners to hang
seeded appeals on, and the closing table's rows."""

from __future__ import annotations

import json
import resource
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bot.app import make_env
from bot.clock import ManualClock
from bot.config import BUNDLED_ORG_CONFIG, Settings, load_org
from bot.usecases.env import Env
from storage.factory import parse_database_url, sqlite_url

BACKENDS = ("sqlite", "postgresql")


def available_backends() -> list[str]:
    """SQLite, and PostgreSQL where its server binaries are installed."""
    from bench.pgserver import PG_BIN

    return ["sqlite", *(["postgresql"] if (PG_BIN / "initdb").exists() else [])]


def backend_choice(value: str) -> list[str]:
    """`--backend sqlite|postgresql|both` as the list of backends to run."""
    if value == "both":
        return list(BACKENDS)
    if value not in BACKENDS:
        raise ValueError(value)
    return [value]


class Place:
    """Where one backend's benchmark databases live: files in a folder (SQLite), or
    databases created on demand on one throwaway server (PostgreSQL)."""

    def __init__(self, backend: str, folder: Path, server: str | None = None) -> None:
        self.backend, self.folder, self.server = backend, folder, server

    def url(self, name: str) -> str:
        """A new, empty database called `name` (an old one of that name is dropped)."""
        if self.server is None:
            path = self.folder / f"{name}.sqlite3"
            path.unlink(missing_ok=True)
            return sqlite_url(path)
        import psycopg

        database = name.replace("-", "_").lower()
        with psycopg.connect(self.server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}"')
            conn.execute(f'CREATE DATABASE "{database}"')
        parts = urlsplit(self.server)
        return urlunsplit(parts._replace(path=f"/{database}"))


@contextmanager
def places(backends: list[str], folder: Path, tcp: bool = False) -> Iterator[dict[str, Place]]:
    """A Place per backend; a PostgreSQL server runs (and is removed) for the block, reached
    through its Unix socket (or `tcp`: on 127.0.0.1)."""
    from bench.pgserver import pg_server

    with ExitStack() as stack:
        got = {}
        for backend in backends:
            server = None
            if backend != "sqlite":
                server = stack.enter_context(pg_server(PG_SETTINGS, tcp=tcp))
            got[backend] = Place(backend, folder, server)
        yield got


# The throwaway server's postgresql.conf: a small dedicated server's (the machine has 24 GB;
# SQLite's page cache is not limited either). fsync stays on; commits are not waited for
# (synchronous_commit = off), SQLite's durability as the bot opens it (WAL, synchronous =
# NORMAL: the last commits may be lost in a crash, never consistency), as the driver bench.
PG_SETTINGS = {
    "shared_buffers": "'1GB'",
    "work_mem": "'64MB'",
    "maintenance_work_mem": "'256MB'",
    "synchronous_commit": "off",
}


def execute(url: str, sql: str, params: tuple[Any, ...] = ()) -> int:
    """One raw statement (`?` parameters) on either backend, committed; its row count."""
    if parse_database_url(url).backend == "sqlite":
        conn = sqlite3.connect(parse_database_url(url).path)
        try:
            count = conn.execute(sql, params).rowcount
            conn.commit()
        finally:
            conn.close()
        return count
    import psycopg

    with psycopg.connect(url) as pg:
        return pg.execute(sql.replace("?", "%s"), params).rowcount


def settings_for(target: Path | str, **extra: Any) -> Settings:
    """Settings on a database given as a file or a URL."""
    if isinstance(target, Path):
        return Settings(_env_file=None, database_path=target, **extra)
    return Settings(_env_file=None, database_url=target, **extra)


async def fresh_database(target: Path | str, today: date | None = None) -> Env:
    """An environment on a new database (a file or a URL) with the schema applied (closed
    again); with `today`, its clock stands at 10:00 that day."""
    clock = ManualClock(datetime.combine(today, time(2), UTC)) if today else None
    settings = settings_for(target)
    env = make_env(settings, load_org(BUNDLED_ORG_CONFIG), clock)
    await env.db.open()
    await env.db.close()
    return env


def seed_owners(conn: sqlite3.Connection) -> None:
    """Department 1, enterprise 1 and its contact, user 1."""
    conn.execute("INSERT INTO departments (code, name) VALUES ('d', '部门')")
    conn.execute(
        "INSERT INTO enterprises (name, uscc, contact_name, phone, created_at)"
        " VALUES ('企业', '91350100M000100Y43', '联系人', '13900000000', 'x')"
    )
    conn.execute(
        "INSERT INTO users (tg_id, role, full_name, enterprise_id, created_at)"
        " VALUES (1, 'enterprise', '联系人', 1, 'x')"
    )


def contact_name(n: int) -> str:
    """联络员一二 for 12: a person's name has no digits."""
    return "联络员" + "".join("零一二三四五六七八九"[int(d)] for d in str(n))


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM). Unlike ru_maxrss, which a child inherits
    from the parent that forked it, VmHWM starts afresh at exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_measurement(seconds: float) -> None:
    """What a variant run by `in_own_process` prints last: its seconds and peak RSS."""
    print(json.dumps({"seconds": seconds, "rss_mib": peak_rss_mib()}))


def in_own_process(module: str, *args: str) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of one variant, run as `python -m module args…`."""
    done = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stderr)
        done.check_returncode()
    got = json.loads(done.stdout.strip().splitlines()[-1])
    return got["seconds"], got["rss_mib"]


def summary(what: str, size: str, ours: str, baseline: str, ratio: str) -> None:
    """One row of `python -m bench`'s closing table (printed as a marked JSON line)."""
    print("@@" + json.dumps([what, size, ours, baseline, ratio], ensure_ascii=False), flush=True)
