"""The little every store shares: run a statement on one connection, rows as dicts."""

from __future__ import annotations

from typing import Any

import aiosqlite

Row = dict[str, Any]


class Store:
    """Queries on one connection; the caller decides the transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def _one(self, sql: str, params: tuple | dict = ()) -> Row | None:
        async with self.conn.execute(sql, params) as cur:
            row = await cur.fetchone()
        return dict(row) if row is not None else None

    async def _all(self, sql: str, params: tuple | dict = ()) -> list[Row]:
        async with self.conn.execute(sql, params) as cur:
            return [dict(r) for r in await cur.fetchall()]

    async def _insert(self, sql: str, params: tuple | dict) -> int:
        async with self.conn.execute(sql, params) as cur:
            return int(cur.lastrowid)
