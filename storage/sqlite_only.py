"""SQLITE-SPECIFIC: the SQLite side of what the PostgreSQL backend (storage/postgres/) does
its own way. (SQL fragments inside shared statements come from storage/dialect.py.)

- connection set-up (PRAGMAs, a read-only reader opened with `mode=ro` and `query_only`);
- the migration runner (`executescript` commits by itself, so the version row rides along).
(The ledger's per-appeal history as JSON, `json_group_array` here and `json_agg` there, is a
dialect table in storage/reports.py, beside the statement that uses it.)
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

BUSY_SECONDS = 5  # how long a connection waits for another's lock before it gives up
PRAGMAS = (
    f"PRAGMA busy_timeout = {BUSY_SECONDS * 1000}",  # first: the next one may have to wait
    "PRAGMA journal_mode = WAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",
)


async def connect_writer(path: Path) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = aiosqlite.Row
    await _set_up(conn, PRAGMAS)
    return conn


async def connect_reader(path: Path) -> aiosqlite.Connection:
    """A connection that cannot write, whatever SQL reaches it."""
    conn = await aiosqlite.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    conn.row_factory = aiosqlite.Row
    await _set_up(conn, (f"PRAGMA busy_timeout = {BUSY_SECONDS * 1000}", "PRAGMA query_only = ON"))
    return conn


async def _set_up(conn: aiosqlite.Connection, pragmas: tuple[str, ...]) -> None:
    """Run the PRAGMAs; when one fails (a file that is no database, locked, read-only), close
    the connection: its thread would otherwise keep the process alive after the error."""
    try:
        for pragma in pragmas:
            await conn.execute(pragma)
    except BaseException:
        await conn.close()
        raise


async def apply_migration(conn: aiosqlite.Connection, version: int, sql: str) -> None:
    await conn.executescript(
        "BEGIN IMMEDIATE;\n"
        + sql
        + f"\nINSERT INTO schema_migrations VALUES ({int(version)}, "
        + f"'{datetime.now(UTC).isoformat()}');\nCOMMIT;"
    )


# Also SQLite-specific, written inline where used: the digest's counts in storage/reports.py
# turn UTC moments into local days with `date(moment, :offset)`, `:offset` being the zone's
# UTC offset such as '+480 minutes' (fixed for the period; Asia/Shanghai has no daylight
# saving). PostgreSQL would use `(moment AT TIME ZONE :zone)::date`.
# The triggers of migration 7 (appeals → appeal_changes) use SQLite's trigger body syntax;
# PostgreSQL would write one trigger function and three `CREATE TRIGGER … EXECUTE FUNCTION`.


class DatabaseUnusable(Exception):
    """The database file cannot be used as it is. `str()` is one line naming the file and the
    problem; `appealdesk check`, start-up and every command say it in the same words."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        # the path as configured, made absolute (a link is named, not what it points to)
        super().__init__(f"database: {os.path.abspath(self.path)} {problem}")

    @property
    def lasting(self) -> bool:
        """A wrong file rather than a passing state (a lock, a full disk): waiting and trying
        again will not help, so a supervisor should not restart in a loop."""
        return self.problem.startswith(LASTING_PROBLEMS)


# Problems that stay until somebody changes DATABASE_PATH or the install.
FOLDER = "is a folder, not a database file"
NOT_SQLITE = "is not a SQLite database (or its header is damaged)"
FOREIGN = "holds another application's tables, not AppealDesk's"
NEWER = "was made by a newer AppealDesk"
EMPTY = "is empty: no AppealDesk data"
DAMAGED = "is damaged"  # restore the latest backup
LASTING_PROBLEMS = (FOLDER, NOT_SQLITE, FOREIGN, NEWER, EMPTY, DAMAGED)


# SQLite's primary result codes (the low byte of an extended code) and what they mean for
# the file; anything else is said as "cannot be used".
_PROBLEMS = {
    sqlite3.SQLITE_BUSY: f"is locked by another process (still after {BUSY_SECONDS} s)",
    sqlite3.SQLITE_LOCKED: f"is locked by another process (still after {BUSY_SECONDS} s)",
    sqlite3.SQLITE_READONLY: "cannot be written",
    sqlite3.SQLITE_FULL: "cannot be written: the disk (or the file size limit) is full",
    sqlite3.SQLITE_CORRUPT: DAMAGED,
    sqlite3.SQLITE_NOTADB: NOT_SQLITE,
    sqlite3.SQLITE_CANTOPEN: "cannot be opened",
    sqlite3.SQLITE_IOERR: "cannot be read or written (I/O error)",
    sqlite3.SQLITE_PERM: "cannot be opened (permission denied)",
}


def explain(path: Path, exc: BaseException) -> str:
    """What an error from SQLite or the file system means for the database at `path`, as
    the rest of a line after the file's name."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if code is not None else -1
        problem = _PROBLEMS.get(primary, "cannot be used")
        detail = str(exc)
        if primary in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR):
            detail += _space_hint(path)
    elif isinstance(exc, OSError):
        problem, detail = "cannot be used", exc.strerror or str(exc)
    else:
        problem, detail = "cannot be used", f"{type(exc).__name__}: {exc}"
    return " ".join(f"{problem}: {detail}".split())  # one line, whatever SQLite said


def _space_hint(path: Path) -> str:
    """Room left for the file: free space on its disk, and this process's file size limit."""
    hints = []
    if path.parent.is_dir():
        free = shutil.disk_usage(path.parent).free
        hints.append(f"{free / 2**20:.0f} MiB free on its disk")
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY:
        hints.append(f"files are limited to {limit} bytes for this process (ulimit -f)")
    return f" ({'; '.join(hints)})" if hints else ""


def access_problem(path: Path) -> str | None:
    """Why this user cannot keep the bot's database at `path` (SQLite writes the file and
    its -wal and -shm files beside it), found before SQLite tries; None when it can."""
    if path.is_dir():
        return FOLDER
    real = path.resolve()  # through a link, SQLite keeps -wal and -shm beside the target
    if path.is_symlink() and not real.parent.is_dir():
        return f"cannot be opened: it links to {real}, whose folder does not exist"
    folder = real.parent
    if not folder.is_dir():
        return f"cannot be opened: folder {folder.resolve()} does not exist"
    if path.exists() and not os.access(path, os.R_OK):
        return "cannot be read: the file is not readable by this user"
    if path.exists() and not os.access(path, os.W_OK):
        return "cannot be written: the file is read-only for this user"
    if not is_sqlite_file(path):  # SQLite would silently write over a short one
        return _PROBLEMS[sqlite3.SQLITE_NOTADB]
    for side in side_files(real):
        if side.exists() and not os.access(side, os.W_OK):
            return (
                f"cannot be written: {side.name} beside it is read-only for this user (made by"
                " another user: give it to this one with chown; never delete a -wal file)"
            )
    if not os.access(folder, os.W_OK | os.X_OK):
        return (
            f"cannot be written: folder {folder.resolve()} is read-only for this user"
            " (SQLite keeps its -wal and -shm files beside the database)"
        )
    return None


SQLITE_HEADER = b"SQLite format 3\x00"


def is_sqlite_file(path: Path) -> bool:
    """Whether the file at `path` is missing, empty, or begins as SQLite's files do."""
    if not path.is_file():
        return not path.exists()
    with path.open("rb") as file:
        header = file.read(len(SQLITE_HEADER))
    return header in (b"", SQLITE_HEADER)


def side_files(path: Path) -> tuple[Path, Path]:
    """The -wal and -shm files SQLite keeps beside a database in WAL mode."""
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def inspect_file(path: Path, quick: bool = False) -> tuple[str, set[int]]:
    """(the integrity check's verdict, the schema versions applied) of a database file,
    opened read-only, without opening it for the bot. `quick`: PRAGMA quick_check (every
    page and record, not the indexes against their tables), fast enough for each start.
    Raises DatabaseUnusable when the file cannot be read at all."""
    pragma = "PRAGMA quick_check(1)" if quick else "PRAGMA integrity_check(1)"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_SECONDS * 1000}")
            verdict = conn.execute(pragma).fetchone()[0]
            try:
                applied = {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
            except sqlite3.OperationalError as exc:
                if "no such table" not in str(exc):
                    raise
                applied = set()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise DatabaseUnusable(path, explain(path, exc)) from None
    return verdict, applied


def schema_problem(path: Path, migrations: list[tuple[int, str]]) -> str | None:
    """Why a database file that SQLite can read is still not one this version may use: made
    by a newer version (a schema beyond the last of `migrations`), or another application's
    (tables these migrations never made, or a `schema_migrations` of another tool's shape).
    None for an empty file or one of ours (opened read-only, nothing written)."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_SECONDS * 1000}")
            tables = {
                name
                for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                    " AND name NOT LIKE 'sqlite_%'"
                )
            }
            columns = [row[1] for row in conn.execute("PRAGMA table_info(schema_migrations)")]
            versions = (
                [v for (v,) in conn.execute("SELECT version FROM schema_migrations")]
                if columns
                else []
            )
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise DatabaseUnusable(path, explain(path, exc)) from None
    if not tables:
        return None
    foreign = f"{FOREIGN}: give DATABASE_PATH a file of its own"
    if columns != ["version", "applied_at"] or not all(type(v) is int for v in versions):
        return foreign
    known = migrations[-1][0]
    if versions and max(versions) > known:
        return (
            f"{NEWER} (schema {max(versions)}; this version knows up to"
            f" {known}): install that version again, or restore the copy kept before the upgrade"
        )
    ours = {"schema_migrations"} | {
        name for _, sql in migrations for name in _CREATED_TABLE.findall(sql)
    }
    return foreign if tables - ours else None


_CREATED_TABLE = re.compile(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", re.IGNORECASE)


def verdict_problem(verdict: str) -> str | None:
    """The problem an integrity check's verdict names, or None when the file is intact."""
    if verdict == "ok":
        return None
    return f"{DAMAGED}: " + " ".join(verdict.split())
