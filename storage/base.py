"""The little every store shares: run a statement on one connection, rows as dicts."""

from __future__ import annotations

from typing import Any

import aiosqlite

Row = dict[str, Any]


def placeholders(count: int) -> str:
    """`?, ?, …` for an `IN (…)` of `count` values: the values stay parameters."""
    return ", ".join("?" * count)


class Store:
    """Queries on one connection; the caller decides the transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    # A query runs to its end in one call on the connection's thread. Run as execute, then
    # fetch, the statement would stay open between the two while other tasks' queries run on
    # the same connection — and SQLite gives every statement started meanwhile the snapshot
    # of the one already open: the shared reader would not see a person's latest step.

    async def _one(self, sql: str, params: tuple | dict = ()) -> Row | None:
        rows = await self.conn.execute_fetchall(sql, params)
        return dict(rows[0]) if rows else None

    async def _all(self, sql: str, params: tuple | dict = ()) -> list[Row]:
        return [dict(r) for r in await self.conn.execute_fetchall(sql, params)]

    # A write needs no fetch: its row id and count are known once it ran, and it holds no
    # snapshot, so the cursor is not closed by another round trip to the connection's thread.

    async def _insert(self, sql: str, params: tuple | dict) -> int:
        cursor = await self.conn.execute(sql, params)
        return int(cursor.lastrowid)

    async def _changed(self, sql: str, params: tuple | dict) -> int:
        """Rows a write changed."""
        cursor = await self.conn.execute(sql, params)
        return cursor.rowcount
