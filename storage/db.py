"""SQLite access: one write connection that serialises writes, one read connection (WAL)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from storage.migrations import MIGRATIONS
from storage.repo import Repo

log = logging.getLogger(__name__)

PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA synchronous = NORMAL",
)


async def _connect(path: Path) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = aiosqlite.Row
    for pragma in PRAGMAS:
        await conn.execute(pragma)
    return conn


class Database:
    """The application's database: migrations, a serialised write path and a read path."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await _connect(self.path)
        await self._migrate(self._writer)
        self._reader = await _connect(self.path)

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        async with conn.execute("SELECT version FROM schema_migrations") as cur:
            applied = {row[0] for row in await cur.fetchall()}
        for version, sql in MIGRATIONS:
            if version in applied:
                continue
            log.info("applying schema migration %s", version)
            # executescript commits on its own, so the version row goes in the same script.
            await conn.executescript(
                "BEGIN IMMEDIATE;\n"
                + sql
                + f"\nINSERT INTO schema_migrations VALUES ({int(version)}, "
                + f"'{datetime.now(UTC).isoformat()}');\nCOMMIT;"
            )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Repo]:
        """One write transaction; commits on success, rolls back on any exception."""
        assert self._writer is not None, "database is not open"
        async with self._write_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield Repo(self._writer)
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            await self._writer.execute("COMMIT")

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Repo]:
        """Read committed data without taking the write lock."""
        assert self._reader is not None, "database is not open"
        yield Repo(self._reader)

    async def backup(self, target: Path) -> None:
        """SQLite online backup to another file."""
        assert self._writer is not None, "database is not open"
        async with aiosqlite.connect(target) as dest:
            await self._writer.backup(dest)
