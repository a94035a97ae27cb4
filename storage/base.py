"""The little every store shares: run a statement on one connection, rows as dicts.

The connection is aiosqlite's (SQLite) or the PostgreSQL adapter's
(`storage.postgres.connection.Connection`), which answers the same few calls; `dialect`
gives the SQL fragments that differ (storage/dialect.py)."""

from __future__ import annotations

import re
from typing import Any

from storage.dialect import SQLITE, Dialect

Row = dict[str, Any]

_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)


def placeholders(count: int) -> str:
    """`?, ?, …` for an `IN (…)` of `count` values: the values stay parameters."""
    return ", ".join("?" * count)


def returning_id(sql: str) -> str:
    """An INSERT that gives back the new row's id (both backends: no `lastrowid`)."""
    return sql if _RETURNING.search(sql) else f"{sql.rstrip()} RETURNING id"


# the key spaces of `Store._hold`, one per kind of value held
HOLD_ENTERPRISE, HOLD_USCC, HOLD_TASK_LEDGER, HOLD_DIRECTORY, HOLD_BROADCAST = 2, 3, 4, 5, 6
HOLD_CAMPAIGN = 7


class Store:
    """Queries on one connection; the caller decides the transaction."""

    def __init__(self, conn: Any, dialect: Dialect = SQLITE) -> None:
        self.conn = conn
        self.dialect = dialect

    # A query runs to its end in one call on the connection's thread. Run as execute, then
    # fetch, the statement would stay open between the two while other tasks' queries run on
    # the same connection — and SQLite gives every statement started meanwhile the snapshot
    # of the one already open: the shared reader would not see a person's latest step.

    async def _one(self, sql: str, params: tuple | dict = ()) -> Row | None:
        rows = await self.conn.execute_fetchall(sql, params)
        return dict(rows[0]) if rows else None

    async def _all(self, sql: str, params: tuple | dict = ()) -> list[Row]:
        return [dict(r) for r in await self.conn.execute_fetchall(sql, params)]

    async def _insert(self, sql: str, params: tuple | dict) -> int:
        """Insert one row; its id (`RETURNING id` is added when the statement lacks it)."""
        rows = await self.conn.execute_fetchall(returning_id(sql), params)
        return int(rows[0][0])

    # A write needs no fetch: its count is known once it ran, and it holds no snapshot.

    async def _hold(self, space: int, key: int | str) -> None:
        """Until COMMIT, another transaction holding the same (`space`, `key`) waits: for a
        check a later write relies on (no extension pending, no such USCC yet), which
        SQLite's one writer makes safe by itself and PostgreSQL would let two pass at once."""
        if lock := self.dialect.exclusive_for(space, "?"):
            # in a reading or a lone statement the lock would end with the statement
            assert getattr(self.conn, "in_transaction", True), "hold inside a unit of work"
            await self.conn.execute(lock, (str(key),))

    async def _changed(self, sql: str, params: tuple | dict) -> int:
        """Rows a write changed."""
        cursor = await self.conn.execute(sql, params)
        return cursor.rowcount
