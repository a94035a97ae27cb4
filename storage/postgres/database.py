"""The database on a PostgreSQL server: the same public face as storage.db.Database
(`open`, `close`, `unit_of_work`, `one_statement`, `reading`), on psycopg 3 pools.

- Writes: a pooled connection per unit of work, `BEGIN` (READ COMMITTED) … `COMMIT` or
  `ROLLBACK`. There is no global write lock: what must not race (serial numbers,
  idempotency keys, outbox leases, tallies) takes row locks in its own SQL.
- `one_statement`: a pooled connection in autocommit (a lone statement is atomic).
- `reading`: a second pool whose sessions are read-only (`default_transaction_read_only`):
  each statement sees what is committed, as on the SQLite reader.
- Every session runs in UTC with ISO dates; values come back as the SQLite side stores
  them (storage/postgres/connection.py).
- Migrations: `storage.migrations.migrations_for("postgresql")`, each step in one
  transaction with its schema_migrations row, under an advisory lock so that two processes
  starting together do not both migrate.
"""

from __future__ import annotations

import logging
import select
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from time import monotonic
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from storage import migrations as _migrations
from storage.db import UnitOfWork, _OneStatement
from storage.dialect import POSTGRESQL
from storage.postgres.connection import Connection, register_loaders
from storage.sqlite_only import NEWER, DatabaseUnusable
from storage.urls import HIDDEN, masked, secrets_of

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key of the migration runner ('AppealDk' in ASCII, as a bigint).
MIGRATION_LOCK = 0x41707065616C446B
SESSION = "-c TimeZone=UTC -c DateStyle=ISO,YMD"
READ_ONLY = " -c default_transaction_read_only=on"
# A pooled connection idle longer than this (seconds) is asked a round trip ("") before use;
# one used more recently only has its socket looked at (no round trip): see `_usable`.
IDLE_CHECK = 5.0
# How long a step waits for a connection (seconds) before it fails and the person is told:
# as long as SQLite waits for a lock. A server that is down fails every step this fast, not
# after half a minute; a pool this busy for this long is overloaded anyway.
POOL_WAIT = 5.0


def postgresql_migrations() -> list[tuple[int, str]]:
    """(version, SQL) of every schema step, as PostgreSQL runs them."""
    return _migrations.migrations_for("postgresql")


class ServerUnusable(DatabaseUnusable):
    """The PostgreSQL database cannot be used: one line naming it (password hidden) and
    the problem; a DatabaseUnusable, so every command says it the same way."""

    def __init__(self, url: str, problem: str) -> None:
        self.url = masked(url)
        self.problem = problem
        Exception.__init__(self, f"database: {self.url} {problem}")


# What a failed connection means (SQLSTATE → the start of the line's problem).
_PROBLEMS = {
    "28P01": "refused the login (wrong password?)",
    "28000": "refused the login (no such role, or pg_hba.conf does not allow it)",
    "3D000": "does not exist (create it: docs/operations.md)",
    "42501": "cannot be used: permission denied",
    "53300": "cannot be reached: the server has too many connections",
    "57P03": "cannot be reached: the server is starting up or shutting down",
}


def explain(exc: BaseException, url: str) -> str:
    """The rest of a one-line message after the database's name (what the driver said,
    without the URL's password: libpq may quote the part of a URL it could not read)."""
    sqlstate = getattr(exc, "sqlstate", None)
    detail = " ".join(str(exc).split()) or type(exc).__name__
    for secret in secrets_of(url):
        detail = detail.replace(secret, HIDDEN)
    if sqlstate in _PROBLEMS:
        problem = _PROBLEMS[sqlstate]
    elif isinstance(exc, psycopg.OperationalError) and sqlstate is None:
        # libpq says what went wrong only in words (no SQLSTATE before a session exists)
        problem = "cannot be reached"
        if "password authentication failed" in detail:
            problem = _PROBLEMS["28P01"]
        elif "does not exist" in detail and "database" in detail:
            problem = _PROBLEMS["3D000"]
    elif isinstance(exc, PoolTimeout):
        problem = "cannot be reached (no connection in time)"
    else:
        problem = "cannot be used"
    return f"{problem}: {detail}"


class PostgresDatabase:
    """The application's database on PostgreSQL (`url`: postgresql://user:pw@host/db)."""

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout: float = 10,
        pool_timeout: float = POOL_WAIT,
        idle_check: float = IDLE_CHECK,
    ) -> None:
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self.connect_timeout = connect_timeout
        self.pool_timeout = pool_timeout
        self.idle_check = idle_check
        self._writers: AsyncConnectionPool | None = None
        self._readers: AsyncConnectionPool | None = None
        # when each pooled connection was last given back (monotonic seconds)
        self._returned: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Any], float] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"PostgresDatabase({masked(self.url)!r})"

    def location(self) -> str:
        """The URL as given (with its password: for another process, never for display)."""
        return self.url

    # -- opening and closing ---------------------------------------------------------------

    async def open(self, migrate: bool = True, check: bool = False) -> None:
        """Connect (first bringing the schema up to date: `migrate`). Whatever stops it (an
        unreachable server, a wrong password, a missing database, a schema from a newer
        version) closes what was opened and raises ServerUnusable: one line. `check` is
        accepted for the same signature as SQLite's (the server checks its own pages)."""
        try:
            await self._open(migrate)
        except DatabaseUnusable:
            await self.close()
            raise
        except (psycopg.Error, PoolTimeout, OSError) as exc:
            await self.close()
            raise ServerUnusable(self.url, explain(exc, self.url)) from None

    async def _connect(self, read_only: bool = False) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(
            self.url, **self._session(read_only), connect_timeout=int(self.connect_timeout)
        )
        register_loaders(conn)
        return conn

    def _session(self, read_only: bool) -> dict[str, Any]:
        return {"autocommit": True, "options": SESSION + (READ_ONLY if read_only else "")}

    async def _open(self, migrate: bool) -> None:
        # One connection first: its error names the problem, where a pool would only time out.
        conn = await self._connect()
        try:
            if migrate:
                await self._migrate(conn)
            else:
                await self._check_schema(conn)
        finally:
            await conn.close()
        self._writers = await self._pool(read_only=False)
        self._readers = await self._pool(read_only=True)

    async def _pool(self, read_only: bool) -> AsyncConnectionPool:
        async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
            register_loaders(conn)

        pool = AsyncConnectionPool(
            self.url,
            min_size=self.min_size,
            max_size=self.max_size,
            kwargs=self._session(read_only),
            configure=configure,
            timeout=self.pool_timeout,
            # a connection the server ended meanwhile (a restart, a failover, an idle
            # timeout) is replaced before a step uses it, not failed in the person's face
            check=self._usable,
            open=False,
            name="appealdesk-read" if read_only else "appealdesk-write",
        )
        await pool.open(wait=True, timeout=self.connect_timeout)
        return pool

    async def _usable(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """The pool's check before it hands out `conn`; raises if the connection cannot be
        used (the pool then replaces it). A connection given back within `idle_check`
        seconds costs no round trip: a session the server ended (a restart, a failover,
        `pg_terminate_backend`) has said so on its socket (the server's FATAL message, then
        the end of the stream), which is looked at without waiting; only when something is
        there, or the connection has been idle longer (a peer gone without a word, an idle
        timeout on the way), is the server asked (an empty query, one round trip)."""
        if conn.closed or conn.pgconn.transaction_status != TransactionStatus.IDLE:
            raise psycopg.OperationalError("the connection is not idle")
        returned = self._returned.get(conn)
        if returned is None or monotonic() - returned > self.idle_check or _has_input(conn):
            await AsyncConnectionPool.check_connection(conn)

    @asynccontextmanager
    async def _lease(self, pool: AsyncConnectionPool | None) -> AsyncIterator[Connection]:
        """A pooled connection for one block, given back after it. Cheaper than the pool's
        `connection()`, which also enters the connection's own block (a COMMIT call, and a
        lock, that autocommit does not need: the blocks here end their transactions
        themselves). Should the connection turn out ended by the server at the block's
        first statement (ended after `_usable` looked: no statement of the block ran on
        it), that statement runs again on another (`Connection.renew`)."""
        assert pool is not None, "database is not open"
        leased = [await pool.getconn()]

        async def renew() -> psycopg.AsyncConnection[Any]:
            # the broken one first (the pool drops it and makes a new one): a pool of one
            # would otherwise wait for itself
            await pool.putconn(leased.pop())
            leased.append(await pool.getconn())
            return leased[0]

        try:
            yield Connection(leased[0], renew)
        finally:
            if leased:  # none when cancelled while renewing
                raw = leased.pop()
                self._returned[raw] = monotonic()
                await pool.putconn(raw)

    async def close(self) -> None:
        pools, self._writers, self._readers = (self._writers, self._readers), None, None
        for pool in pools:
            if pool is not None:
                await pool.close()

    # -- the schema ------------------------------------------------------------------------

    async def _applied(self, conn: psycopg.AsyncConnection[Any]) -> set[int]:
        cur = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
        exists = await cur.fetchone()
        if not exists or not exists[0]:
            return set()
        cur = await conn.execute("SELECT version FROM schema_migrations")
        return {row[0] for row in await cur.fetchall()}

    def _newer(self, applied: set[int], steps: list[tuple[int, str]]) -> None:
        known = steps[-1][0]
        if applied and max(applied) > known:
            raise ServerUnusable(
                self.url,
                f"{NEWER} (schema {max(applied)}; this version knows up to {known}):"
                " install that version again, or restore the dump taken before the upgrade",
            )

    async def _check_schema(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._newer(await self._applied(conn), postgresql_migrations())

    async def _migrate(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Apply the pending steps, each in its own transaction with its record row, all
        under one advisory lock (another process starting now waits, then finds them done).
        There is no automatic copy before an upgrade, as SQLite makes: take a `pg_dump -Fc`
        (docs/operations.md)."""
        steps = postgresql_migrations()
        applied = await self._applied(conn)
        self._newer(applied, steps)
        if all(version in applied for version, _ in steps):
            return
        level = logging.INFO if applied else logging.DEBUG
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            await conn.execute(_migrations.SCHEMA_TABLE["postgresql"])
        for version, sql in steps:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                cur = await conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = %s", (version,)
                )
                if await cur.fetchone():
                    continue  # another process applied it meanwhile
                log.log(level, "applying schema migration %s", version)
                await conn.execute(sql.encode())  # no parameters: run as written (DDL, $$ …)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (%s, %s)",
                    (version, datetime.now(UTC)),
                )
        if not applied:
            log.info("new database %s (schema %s)", masked(self.url), steps[-1][0])

    # -- units of work ---------------------------------------------------------------------

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """One write transaction (READ COMMITTED): kept only if the block calls `commit()`,
        else rolled back."""
        async with self._lease(self._writers) as conn:
            await conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            uow = UnitOfWork(conn, POSTGRESQL)
            try:
                yield uow
            finally:
                if not uow.committed and conn.in_transaction and not conn.raw.closed:
                    await conn.execute("ROLLBACK")

    @asynccontextmanager
    async def one_statement(self) -> AsyncIterator[UnitOfWork]:
        """A write of a single statement, kept as soon as it has run (autocommit); a second
        statement raises (it would not be atomic with the first)."""
        async with self._lease(self._writers) as conn:
            yield UnitOfWork(_OneStatement(conn), POSTGRESQL)  # type: ignore[arg-type]

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[UnitOfWork]:
        """Read committed data on a read-only session (each statement its own snapshot)."""
        async with self._lease(self._readers) as conn:
            yield UnitOfWork(conn, POSTGRESQL, read_only=True)

    async def server_version(self) -> str:
        """The server's version (for `appealdesk check`)."""
        async with self.reading() as uow:
            rows = await uow.conn.execute_fetchall("SHOW server_version")
            return str(rows[0][0])


def _has_input(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Whether the server has sent anything to an idle connection (its socket is readable
    now, without waiting): nothing is owed to an idle session, so it is a FATAL message
    before the server ended it, the end of the stream, or a notice to be read."""
    try:
        poll = select.poll()  # any descriptor number (select() stops at 1024)
        poll.register(conn.pgconn.socket, select.POLLIN)
        return bool(poll.poll(0))
    except (OSError, ValueError, psycopg.OperationalError):
        return True
