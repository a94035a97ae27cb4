"""A database chosen by URL: which backend, where, and the operations that differ by backend
(check, backup, the schema's state). Everything above storage/ goes through here; nothing
there imports sqlite3 or a PostgreSQL driver.

Accepted forms of DATABASE_URL (`ACCEPTED`):
- a plain file path, `appealdesk.sqlite3` or `/var/lib/appealdesk/appealdesk.sqlite3`;
- `sqlite:///relative/path` or `sqlite:////absolute/path` (SQLAlchemy's spelling);
- `postgresql://user:password@host:port/database?sslmode=verify-full` (also `postgres://`).
A password is never shown: `masked(url)` is how a URL appears in messages and logs.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from storage.contract import Database
from storage.db import Database as SqliteDatabase
from storage.sqlite_only import EMPTY, DatabaseUnusable
from storage.urls import (  # noqa: F401 - the URL names are the factory's too
    ACCEPTED,
    HIDDEN,
    POSTGRES_SCHEMES,
    POSTGRESQL,
    SQLITE,
    SSL_MODES,
    BadDatabaseUrl,
    Target,
    masked,
    parse_database_url,
    secrets_of,
    split_url,
    sqlite_url,
)

# How long a command waits for a PostgreSQL server before it says it cannot reach it.
CONNECT_SECONDS = 10


def open_database(url: str, **options: Any) -> Database:
    """The database at `url`, not opened yet: storage.db.Database for SQLite,
    storage.postgres.PostgresDatabase(url, **options) for PostgreSQL (imported only then,
    so SQLite needs no PostgreSQL driver)."""
    target = parse_database_url(url)
    if target.backend == SQLITE:
        assert target.path is not None
        return SqliteDatabase(target.path, **options)
    try:
        from storage.postgres import PostgresDatabase
    except ImportError as exc:  # an install without the driver (or without the adapter)
        raise ServerUnusable(
            target.url,
            f"cannot be used: this installation has no PostgreSQL support ({exc.name} is"
            " missing; install appealdesk[postgresql])",
            lasting=True,
        ) from None
    return PostgresDatabase(target.url, **options)


class ServerUnusable(DatabaseUnusable):
    """A PostgreSQL database that cannot be used: one line naming it (without its password)
    and the problem, as DatabaseUnusable says it for a file."""

    def __init__(self, url: str, problem: str, lasting: bool = False) -> None:
        self.path = Path()
        self.url = url
        self.problem = problem
        self._lasting = lasting
        Exception.__init__(self, f"database: {masked(url)} {problem}")

    @property
    def lasting(self) -> bool:
        """A missing driver stays missing; a server out of reach may come back."""
        return self._lasting or super().lasting


def schema_versions() -> list[int]:
    """The schema versions this AppealDesk knows, in order."""
    from storage.migrations import MIGRATIONS

    return [_version(m) for m in MIGRATIONS]


def _version(migration: Any) -> int:
    return int(migration[0] if isinstance(migration, tuple) else migration.version)


@dataclass(frozen=True)
class SchemaState:
    """Which schema versions a database has, against the ones this AppealDesk knows."""

    applied: list[int]
    known: list[int]
    server: str = ""  # PostgreSQL's server version
    collation: str = ""  # PostgreSQL: the database's collation when text is not compared by
    # code point as SQLite compares it (empty when it is)

    @property
    def pending(self) -> list[int]:
        return [v for v in self.known if v not in self.applied]

    @property
    def newer(self) -> list[int]:
        return [v for v in self.applied if v not in self.known]


def schema_state(url: str) -> SchemaState:
    """The schema versions applied in the database at `url` (nothing written; a SQLite file
    that does not exist yet has none). Raises DatabaseUnusable when it cannot be read."""
    target = parse_database_url(url)
    if target.backend == SQLITE:
        from storage.migrations import MIGRATIONS
        from storage.sqlite_only import NEWER, access_problem, inspect_file, schema_problem

        path = target.path
        assert path is not None
        if problem := access_problem(path):
            raise DatabaseUnusable(path, problem)
        if not path.exists():
            return SchemaState([], schema_versions())
        _, applied = inspect_file(path, quick=True)
        if (problem := schema_problem(path, MIGRATIONS)) and not problem.startswith(NEWER):
            raise DatabaseUnusable(path, problem)  # another application's file
        return SchemaState(sorted(applied), schema_versions())
    with pg_connection(target.url) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
        collation = _collation_unlike_sqlite(conn)
        found = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
        applied = (
            [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
            if found
            else []
        )
    return SchemaState(applied, schema_versions(), str(server), collation)


# Text in this order by code point (SQLite's), in another under a language's collation
# (punctuation and case weigh less there): the order itself is the test, whatever provider
# (libc, ICU) and name the collation has.
BYTE_ORDER_PROBE = "SELECT 'B' < 'a' AND 'task:1' < 'task;' AND 'Z' < '中'"


def _collation_unlike_sqlite(conn: Any) -> str:
    """The database's collation when it orders text otherwise than by code point, else ''."""
    if conn.execute(BYTE_ORDER_PROBE).fetchone()[0]:
        return ""
    # an ICU collation is named by daticulocale (PostgreSQL 15, 16) or datlocale (17+); to_jsonb
    # reads whichever column exists (NULL for the others), on any version
    row = conn.execute(
        "SELECT COALESCE(to_jsonb(d) ->> 'datlocale', to_jsonb(d) ->> 'daticulocale', d.datcollate)"
        " FROM pg_database d"
        " WHERE d.datname = current_database()"
    ).fetchone()
    return str(row[0]) if row and row[0] else "of a language"


@contextmanager
def pg_connection(url: str) -> Iterator[Any]:
    """A synchronous psycopg connection (autocommit) for the operator's commands; any failure
    to reach or use the server becomes ServerUnusable (one line, no password)."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_SECONDS) as conn:
            yield conn
    except psycopg.Error as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ServerUnusable(url, f"cannot be used: {_without_secrets(detail, url)}") from None


def _without_secrets(text: str, url: str) -> str:
    for secret in secrets_of(url):
        text = text.replace(secret, HIDDEN)
    return text


def check_database(url: str) -> tuple[bool, str, str]:
    """`appealdesk check`'s database line: (ok, text, caution). SQLite: every page readable, the
    schema ours and current or to be brought up to date. PostgreSQL: the server reachable,
    its version, the schema current; and a caution ('' when none): a collation that does not
    order text as SQLite does."""
    target = parse_database_url(url)
    if target.backend == SQLITE:
        assert target.path is not None
        return (*_check_file(target.path), "")
    try:
        state = schema_state(target.url)
    except DatabaseUnusable as exc:
        return False, str(exc), ""
    where = masked(target.url)
    if state.newer:
        problem = f"was made by a newer AppealDesk (schema {max(state.newer)})"
        return False, str(ServerUnusable(target.url, problem)), ""
    caution = (
        f"text is ordered by the collation {state.collation}, not by code point as AppealDesk"
        " expects (names sort otherwise): make the database with `--locale C.UTF-8` and"
        " `appealdesk copy-db` into it (docs/operations.md)"
        if state.collation
        else ""
    )
    if not state.applied:
        return (
            True,
            (
                f"database: {where} reachable (PostgreSQL {state.server}), no schema yet;"
                " `appealdesk migrate apply` or `appealdesk run` makes it"
            ),
            caution,
        )
    schema = (
        f"schema {max(state.applied)}, {len(state.pending)} migration(s) to apply"
        " (`appealdesk migrate apply`; take a pg_dump first)"
        if state.pending
        else f"schema {max(state.applied)} (current)"
    )
    return True, f"database: {where} reachable (PostgreSQL {state.server}), {schema}", caution


def _check_file(path: Path) -> tuple[bool, str]:
    """The same words as the bot's own start (storage.sqlite_only.DatabaseUnusable)."""
    from storage.migrations import MIGRATIONS
    from storage.sqlite_only import (
        access_problem,
        inspect_file,
        schema_problem,
        verdict_problem,
    )

    if problem := access_problem(path):
        return False, str(DatabaseUnusable(path, problem))
    if not path.exists():
        return True, f"database: {path.resolve()} does not exist yet; `appealdesk run` creates it"
    try:
        result, applied = inspect_file(path)
        problem = verdict_problem(result) or schema_problem(path, MIGRATIONS)
    except DatabaseUnusable as exc:
        return False, str(exc)
    if problem:
        return False, str(DatabaseUnusable(path, problem))
    pending = [v for v in schema_versions() if v not in applied]
    schema = (
        f"schema {max(applied, default=0)}, {len(pending)} migration(s) to apply at next start"
        " (a copy is kept first)"
        if pending
        else f"schema {max(applied)} (current)"
    )
    return True, f"database: {path.resolve()} intact, {schema}"


class DatabaseMissing(Exception):
    """A command that reads a database found none at the URL (it never creates one)."""


def require_existing(url: str) -> Target:
    """The database a command reads. A SQLite file that is missing is refused, never made
    (DatabaseMissing: the command names itself and the setting); one the bot could not use
    is refused in the words `appealdesk check` uses (DatabaseUnusable). A PostgreSQL
    database must be reachable and hold AppealDesk's schema."""
    target = parse_database_url(url)
    if target.backend == POSTGRESQL:
        state = schema_state(target.url)
        if not state.applied:
            raise ServerUnusable(target.url, f"{EMPTY} (`appealdesk migrate apply` makes it)")
        return target
    from storage.sqlite_only import access_problem

    path = target.path
    assert path is not None
    if path.is_symlink() and not path.exists():  # a link to nowhere
        raise DatabaseUnusable(
            path, access_problem(path) or f"links to {path.resolve()}, which does not exist"
        )
    if not path.exists() and not path.parent.is_dir():  # as `run` says it (status 1)
        raise DatabaseUnusable(path, access_problem(path) or "cannot be opened")
    if not path.exists():
        raise DatabaseMissing(f"no database at {path.resolve()}")
    if problem := access_problem(path):
        raise DatabaseUnusable(path, problem)
    if path.stat().st_size == 0:  # reading it must not write the schema into it
        raise DatabaseUnusable(path, f"{EMPTY} (`appealdesk run` makes it)")
    return target


async def ready(url: str) -> None:
    """Make sure the bot can use the database at `url` before it starts: the schema current
    and the writer free (SQLite: every page readable, the write lock taken once); raises
    DatabaseUnusable (one line) if not."""
    db = open_database(url)
    await db.open(check=True)
    try:
        with database_errors(url):
            async with db.unit_of_work():
                pass  # SQLite: BEGIN IMMEDIATE waits for (then names) another process's lock
    finally:
        await db.close()


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Inside the block, a driver error (a damaged page a query reached, a full disk, a lock
    held too long, a server gone) becomes DatabaseUnusable: one line naming the database
    and the problem, never a traceback."""
    target = parse_database_url(url)
    if target.backend == SQLITE:
        from storage.db import database_errors as file_errors

        assert target.path is not None
        with file_errors(target.path):
            yield
        return
    import psycopg

    try:
        yield
    except psycopg.Error as exc:
        detail = _without_secrets(" ".join(str(exc).split()), target.url)
        raise ServerUnusable(target.url, f"cannot be used: {detail}") from None


class BackupRefused(Exception):
    """The backup cannot be written where asked (one line)."""


def backup(url: str, target_file: Path) -> str:
    """SQLite: an online backup into `target_file` (a new file), every page checked first;
    returns what was done. PostgreSQL: nothing is copied; raises BackupByPgDump, whose text
    is the pg_dump / pg_restore recipe for this database."""
    target = parse_database_url(url)
    if target.backend == POSTGRESQL:
        raise BackupByPgDump(pg_dump_recipe(target.url, target_file))
    require_existing(url)
    assert target.path is not None

    async def run() -> None:
        db = SqliteDatabase(target.path)
        await db.open(migrate=False, check=True)  # never a damaged copy that looks fine
        try:
            await db.backup(target_file)
        except BaseException:
            target_file.unlink(missing_ok=True)  # a partial copy is no copy to restore
            raise
        finally:
            await db.close()

    try:
        asyncio.run(run())
    except (OSError, sqlite3.Error) as exc:  # the new file cannot be written
        reason = getattr(exc, "strerror", None) or str(exc)
        raise BackupRefused(f"cannot write {target_file}: {reason}") from None
    return f"backup of {target.path.resolve()} written to {target_file}"


class BackupByPgDump(Exception):
    """A PostgreSQL database is backed up with the server's own tools; the text says how."""


def _without_password(url: str, database: str | None = None) -> str:
    """The URL as the server's tools take it: no password (they read ~/.pgpass or
    PGPASSWORD), every other option kept (sslmode, sslrootcert, …); `database` instead of
    the URL's own where given."""
    parts = urlsplit(url)
    user = quote(unquote(parts.username), safe="") + "@" if parts.username else ""
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
    path = f"/{quote(database, safe='')}" if database is not None else parts.path
    return urlunsplit((parts.scheme, user + host + port, path, query, ""))


def pg_dump_recipe(url: str, target_file: Path) -> str:
    """pg_dump / pg_restore lines for this database, the password left out (give it in
    ~/.pgpass or PGPASSWORD), the connection given as the bot's URL so that its TLS options
    (sslmode, sslrootcert) hold for the tools too. The bot's role may not create databases:
    the server's superuser makes the empty one to restore into."""
    parts = urlsplit(url)
    database = unquote(parts.path.strip("/"))
    restored = f"{database}_restored"
    owner = unquote(parts.username or "") or "appealdesk"
    return "\n".join(
        (
            f"{masked(url)} is a PostgreSQL database: back it up with the server's tools,"
            " not with AppealDesk (the password from ~/.pgpass or PGPASSWORD):",
            f"  pg_dump -Fc -d {shlex.quote(_without_password(url))}"
            f" -f {shlex.quote(str(target_file))}",
            "restore into a new, empty database made by the server's superuser (then start"
            " the bot on it):",
            f"  sudo -u postgres createdb{_server_options(parts)} --owner {shlex.quote(owner)}"
            " --encoding UTF8"
            f" --locale C.UTF-8 --template template0 {shlex.quote(restored)}",
            f"  pg_restore --no-owner -d {shlex.quote(_without_password(url, restored))}"
            f" {shlex.quote(str(target_file))}",
        )
    )


def _server_options(parts: SplitResult) -> str:
    """`-h HOST -p PORT` as the URL names them, in its address or as `host=`/`port=`
    options (a socket folder); none: the server's default socket."""
    options = dict(parse_qsl(parts.query))
    host, port = parts.hostname or options.get("host"), parts.port or options.get("port")
    return (f" -h {shlex.quote(host)}" if host else "") + (
        f" -p {shlex.quote(str(port))}" if port else ""
    )


def migrate(url: str) -> tuple[SchemaState, SchemaState]:
    """Apply the pending schema migrations (SQLite keeps a copy of a database holding data
    first); returns the state before and after."""
    before = schema_state(url)

    async def run() -> None:
        db = open_database(url)
        await db.open(migrate=True, check=True)
        await db.close()

    asyncio.run(run())
    return before, schema_state(url)


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one database file (relative ones from the current folder)."""
    return os.path.abspath(a) == os.path.abspath(b)
