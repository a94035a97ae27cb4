"""A psycopg connection with the small interface the repositories use on aiosqlite's:
`execute` (a cursor-like answer with `rowcount`), `execute_fetchall` (rows that are
mappings — `dict(row)` — and sequences — `row[0]`), `executemany`, `in_transaction`.

Parameters are translated (storage/postgres/params.py), and values come back as the SQLite
side stores them, so the repositories' row → dataclass code (storage/records.py) serves
both: a `timestamptz` as `records.stamp`'s UTC ISO text, a `date` as `YYYY-MM-DD`, JSON as
its text, an integral `numeric` (what `SUM` of integers gives) as an int.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import adapt
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg.rows import RowMaker

from storage.postgres.params import translate

Params = Sequence[Any] | Mapping[str, Any]


class Row(dict):
    """One row: by column name (a dict, so `dict(row)` is a plain copy) and, like
    aiosqlite's rows, by position (`row[0]`)."""

    __slots__ = ()

    def __missing__(self, key: Any) -> Any:
        if isinstance(key, int):
            return list(self.values())[key]
        raise KeyError(key)


def rows(cursor: psycopg.AsyncCursor[Any]) -> RowMaker[Row]:
    """psycopg's row factory for `Row`. The names are read from the result itself: the
    cursor's `description` makes a Column object per column of every result."""
    result = cursor.pgresult
    if result is None or not result.nfields:
        return lambda values: Row()
    encoding = cursor.connection.info.encoding
    names = [(result.fname(i) or b"").decode(encoding) for i in range(result.nfields)]
    return lambda values: Row(zip(names, values, strict=True))


def _has_rows(cursor: psycopg.AsyncCursor[Any]) -> bool:
    """Whether the statement answered with rows (a SELECT, `… RETURNING`), not only a count."""
    result = cursor.pgresult
    return result is not None and result.status == ExecStatus.TUPLES_OK


# -- values as SQLite stores them ---------------------------------------------------------


class MomentText(adapt.Loader):
    """timestamptz → `2026-02-12T01:30:00+00:00` (the session's TimeZone is UTC)."""

    def load(self, data: Any) -> str:
        text = bytes(data).decode()
        # the usual shape, `2026-02-12 01:30:00+00`, without parsing it
        if len(text) == 22 and text.endswith("+00"):
            return f"{text[:10]}T{text[11:19]}+00:00"
        return datetime.fromisoformat(text).astimezone(UTC).isoformat()


class PlainText(adapt.Loader):
    """date (ISO DateStyle), json, jsonb → their text."""

    def load(self, data: Any) -> str:
        return bytes(data).decode()


class Number(adapt.Loader):
    """numeric → int when whole (SUM of integers), else float (as SQLite gives)."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        return float(text) if "." in text or "N" in text else int(text)


def register_loaders(context: adapt.AdaptContext) -> None:
    """Make a connection (or a pool's `configure`) read values as the SQLite side does."""
    adapters = context.adapters
    adapters.register_loader("timestamptz", MomentText)
    for name in ("date", "json", "jsonb"):
        adapters.register_loader(name, PlainText)
    adapters.register_loader("numeric", Number)


# -- the connection -----------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """What `execute` answers: the rows a write changed (aiosqlite's cursor has more; the
    repositories use only this)."""

    rowcount: int


class Connection:
    """A psycopg connection in autocommit mode (transactions are the caller's BEGIN/COMMIT,
    as on the SQLite writer), answering as aiosqlite's does.

    `renew` (from the pool's lease) gives another connection for the first statement when
    the server ended this one before it ran (a restart): that statement runs again there,
    once. Only the first: after it, a lost connection loses what the block did, and the
    error is the caller's.

    One psycopg cursor serves the block's statements one after another (making one per
    statement was a fifth of the adapter's time a statement); a statement started while
    another runs on the same connection takes a cursor of its own."""

    def __init__(
        self,
        conn: psycopg.AsyncConnection[Any],
        renew: Callable[[], Awaitable[psycopg.AsyncConnection[Any]]] | None = None,
    ) -> None:
        self.raw = conn
        self._renew = renew
        self._spare: psycopg.AsyncCursor[Row] | None = None

    def _cursor(self) -> psycopg.AsyncCursor[Row]:
        """The spare cursor (taken: given back when its statement is done), or a new one."""
        cur, self._spare = self._spare, None
        return cur if cur is not None else self.raw.cursor(row_factory=rows)

    async def execute(self, sql: str, params: Params | None = ()) -> Cursor:
        query, args = translate(sql), () if params is None else params
        try:
            return await self._execute(query, args)
        except psycopg.OperationalError:
            if not _repeatable(query) or not await self._renewed():
                raise
            return await self._execute(query, args)
        finally:
            self._renew = None

    async def _execute(self, query: str, args: Params) -> Cursor:
        cur = self._cursor()
        try:
            await cur.execute(query, args)
            return Cursor(cur.rowcount)
        finally:
            self._spare = cur

    async def execute_fetchall(self, sql: str, params: Params | None = ()) -> list[Row]:
        query, args = translate(sql), () if params is None else params
        try:
            return await self._fetchall(query, args)
        except psycopg.OperationalError:
            if not _repeatable(query) or not await self._renewed():
                raise
            return await self._fetchall(query, args)
        finally:
            self._renew = None

    async def _fetchall(self, query: str, args: Params) -> list[Row]:
        cur = self._cursor()
        try:
            await cur.execute(query, args)
            return await cur.fetchall() if _has_rows(cur) else []
        finally:
            self._spare = cur

    async def _renewed(self) -> bool:
        """After an OperationalError on the first statement: True when the connection was
        ended under it (closed now) and another has taken its place."""
        renew, self._renew = self._renew, None
        if renew is None or not self.raw.closed:
            return False
        self.raw = await renew()
        self._spare = None  # the old connection's
        return True

    async def executemany(self, sql: str, seq: Iterable[Params]) -> Cursor:
        self._renew = None
        async with self.raw.cursor(row_factory=rows) as cur:
            await cur.executemany(translate(sql), list(seq))
            return Cursor(cur.rowcount)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE


def _repeatable(query: str) -> bool:
    """Whether a block's first statement may run again on another session after its own
    ended under it: BEGIN and a plain read may. A lone write may not — the server may have
    committed it just before the session ended (its answer lost), and a second run would
    act twice (a message owed twice, a flow taken and then found gone)."""
    head = query.lstrip().split(None, 1)[0].upper() if query.strip() else ""
    return head in ("BEGIN", "SHOW") or (head == "SELECT" and "FOR UPDATE" not in query.upper())
