"""The database and its unit of work: one write connection that serialises writes, one
read-only connection for reads (WAL lets them run side by side)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

import aiosqlite

from storage.appeals import AppealRepo, AuditRepo, ExtensionRepo, MessageRepo
from storage.base import Store
from storage.broadcasts import BroadcastRepo
from storage.conversations import ConversationRepo, OperatorNotes, OutboxRepo
from storage.dialect import SQLITE, Dialect
from storage.directory import DirectoryRepo
from storage.instances import ChatPlaceRepo, InboxRepo, LeaseRepo
from storage.migrations import MIGRATIONS, SCHEMA_TABLE
from storage.monthly import MonthlyRepo
from storage.notices import NoticeRepo
from storage.people import DepartmentRepo, EnterpriseRepo, InviteRepo, PeopleRepo, RequestRepo
from storage.reports import ReportRepo
from storage.sqlite_only import (
    DatabaseUnusable,
    access_problem,
    apply_migration,
    connect_reader,
    connect_writer,
    explain,
    inspect_file,
    schema_problem,
    verdict_problem,
)
from storage.tasks import TaskRepo
from storage.urls import sqlite_url

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Store)


class _Repo(Generic[R]):
    """A repository made on first use: a unit of work uses one or two of its fifteen, and
    making them all cost more than a short read (one is opened for every step)."""

    def __init__(self, repo: type[R]) -> None:
        self.repo = repo

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, uow: UnitOfWork, owner: type | None = None) -> R:
        made = uow.__dict__[self.name] = self.repo(uow.conn, uow.dialect)
        return made


class UnitOfWork:
    """The repositories on one connection. On the writer, nothing is kept without `commit()`.
    The same class serves both backends: `conn` is aiosqlite's or the PostgreSQL adapter's
    connection, `dialect` the SQL fragments that differ."""

    departments = _Repo(DepartmentRepo)
    people = _Repo(PeopleRepo)
    enterprises = _Repo(EnterpriseRepo)
    directory = _Repo(DirectoryRepo)
    broadcasts = _Repo(BroadcastRepo)
    monthly = _Repo(MonthlyRepo)
    invites = _Repo(InviteRepo)
    requests = _Repo(RequestRepo)
    appeals = _Repo(AppealRepo)
    messages = _Repo(MessageRepo)
    audit = _Repo(AuditRepo)
    extensions = _Repo(ExtensionRepo)
    notices = _Repo(NoticeRepo)
    tasks = _Repo(TaskRepo)
    reports = _Repo(ReportRepo)
    conversations = _Repo(ConversationRepo)
    outbox = _Repo(OutboxRepo)
    operator_notes = _Repo(OperatorNotes)
    inbox = _Repo(InboxRepo)
    leases = _Repo(LeaseRepo)
    chat_places = _Repo(ChatPlaceRepo)

    def __init__(self, conn: Any, dialect: Dialect = SQLITE, read_only: bool = False) -> None:
        self.conn = conn
        self.dialect = dialect
        self.read_only = read_only  # made by `reading()`: nothing it runs may write
        self.committed = False

    async def commit(self) -> None:
        await self.conn.execute("COMMIT")
        self.committed = True


class _OneStatement:
    """The writer for a block that runs one statement; a second one is a mistake (it would
    not be atomic with the first), so it raises instead of running."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._ran = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def _once(self) -> None:
        if self._ran:
            raise RuntimeError("a second statement in one_statement(): use unit_of_work()")
        self._ran = True

    def execute(self, *args: Any) -> Any:
        self._once()
        return self._conn.execute(*args)

    def execute_fetchall(self, *args: Any) -> Any:
        self._once()
        return self._conn.execute_fetchall(*args)

    def executemany(self, *args: Any) -> Any:
        raise RuntimeError("executemany in one_statement() runs several: use unit_of_work()")

    def executescript(self, *args: Any) -> Any:
        raise RuntimeError("executescript in one_statement() runs several: use unit_of_work()")


class Database:
    """The application's database: migrations, a serialised write path and a read path."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self, migrate: bool = True, check: bool = False) -> None:
        """Connect, first bringing the schema up to date (`migrate`); before migrating a
        database that holds data, a copy is kept next to it (see `_migrate`). `check`: first
        read every page (PRAGMA quick_check), so that a damaged file stops the bot at start
        instead of failing on the query that happens to reach the damage.

        Whatever stops it (a missing folder, a read-only file or folder, a damaged file, a
        lock held by another process, a full disk) closes what was opened and raises
        DatabaseUnusable: one line naming the file and the problem."""
        try:
            await self._open(migrate, check)
        except DatabaseUnusable:
            await self.close()
            raise
        except (sqlite3.Error, OSError) as exc:
            await self.close()
            raise DatabaseUnusable(self.path, explain(self.path, exc)) from None

    async def _open(self, migrate: bool, check: bool) -> None:
        if problem := access_problem(self.path):
            # A missing folder is not created: it is a wrong DATABASE_PATH or a volume that is
            # not mounted, and a new empty database there would hide every appeal.
            raise DatabaseUnusable(self.path, problem)
        if check and self.path.exists():
            verdict, _ = await asyncio.to_thread(inspect_file, self.path, quick=True)
            if problem := verdict_problem(verdict):
                raise DatabaseUnusable(self.path, problem)
        if problem := schema_problem(self.path, MIGRATIONS):
            raise DatabaseUnusable(self.path, problem)
        self._writer = await connect_writer(self.path)
        if migrate:
            await self._migrate(self._writer)
        self._reader = await connect_reader(self.path)

    async def close(self) -> None:
        conns, self._reader, self._writer = (self._reader, self._writer), None, None
        for conn in conns:
            if conn is not None:
                try:
                    await conn.close()
                except sqlite3.Error:  # closing a connection to a file that failed under it
                    log.debug("closing %s failed", self.path, exc_info=True)

    def location(self) -> str:
        """The file as a sqlite:/// URL, absolute (another process may work elsewhere)."""
        return sqlite_url(self.path.absolute())

    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        await conn.execute(SCHEMA_TABLE["sqlite"])
        async with conn.execute("SELECT version FROM schema_migrations") as cur:
            applied = {row[0] for row in await cur.fetchall()}
        pending = [version for version, _ in MIGRATIONS if version not in applied]
        if applied and pending:
            # An upgrade: keep the database as it was, so a failed or unwanted upgrade can
            # be undone by putting this file back.
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            copy = self.path.with_name(f"{self.path.name}.before-v{pending[0]}-{stamp}.bak")
            try:
                async with aiosqlite.connect(copy) as dest:
                    await conn.backup(dest)
            except BaseException:
                copy.unlink(missing_ok=True)  # a partial copy (a full disk) is no copy to restore
                raise
            log.warning("database copied to %s before schema migration %s", copy, pending[0])
        # A new database is announced once it exists (nothing is logged for a start that fails).
        level = logging.INFO if applied else logging.DEBUG
        for version, sql in MIGRATIONS:
            if version not in applied:
                log.log(level, "applying schema migration %s", version)
                await apply_migration(conn, version, sql)
        if not applied:
            log.info("new database %s (schema %s)", self.path.resolve(), MIGRATIONS[-1][0])

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """One write transaction: kept only if the block calls `commit()`, else rolled back."""
        assert self._writer is not None, "database is not open"
        async with self._write_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            uow = UnitOfWork(self._writer)
            try:
                yield uow
            finally:
                # A task cancelled while COMMIT ran in the driver's thread may find the
                # transaction already committed: roll back only what is still open.
                if not uow.committed and self._writer.in_transaction:
                    await self._writer.execute("ROLLBACK")

    @asynccontextmanager
    async def one_statement(self) -> AsyncIterator[UnitOfWork]:
        """A write of a single statement, kept as soon as it has run (SQLite makes a lone
        statement atomic): two round trips fewer than `unit_of_work` for the writes every
        step of a conversation makes. Still serialised with the transactions."""
        assert self._writer is not None, "database is not open"
        async with self._write_lock:
            yield UnitOfWork(cast(aiosqlite.Connection, _OneStatement(self._writer)))

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[UnitOfWork]:
        """Read committed data on the read-only connection, without the write lock."""
        assert self._reader is not None, "database is not open"
        yield UnitOfWork(self._reader, read_only=True)

    async def backup(self, target: Path) -> None:
        """SQLite online backup to another file."""
        assert self._writer is not None, "database is not open"
        async with aiosqlite.connect(target) as dest:
            await self._writer.backup(dest)


async def ready(path: Path) -> None:
    """Make sure the bot can use the database at `path`: every page readable (quick_check),
    the schema current, the write lock free; raises DatabaseUnusable (one line) if not."""
    db = Database(path)
    await db.open(check=True)
    try:
        with database_errors(path):
            async with db.unit_of_work():
                pass  # BEGIN IMMEDIATE: waits for (then names) a lock another process holds
    finally:
        await db.close()


@contextmanager
def database_errors(path: Path) -> Iterator[None]:
    """Inside the block, an error of SQLite (a damaged page a query reached, a full disk, a
    lock held too long) becomes DatabaseUnusable: one line naming `path` and the problem,
    for whatever opened the database (the bot's start, a command) to print instead of a
    traceback."""
    try:
        yield
    except sqlite3.Error as exc:
        raise DatabaseUnusable(path, explain(path, exc)) from None
