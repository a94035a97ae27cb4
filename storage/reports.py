"""SQL of the weekly digest and the appeal ledger export (台账)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.rules.digest import DigestRow, ReceivedGroup, Withdrawal
from bot.rules.model import Appeal
from storage import records
from storage.appeals import APPEAL_FIELDS, APPEAL_FROM
from storage.base import Store
from storage.sqlite_only import LEDGER_HISTORY

DIGEST_COLUMNS = (
    "a.id, a.number, a.category, a.state, a.department_id, d.name AS department_name,"
    " o.full_name AS owner_name, a.created_at, a.claimed_at, a.closed_at,"
    " a.claim_due_date, a.due_date, a.rating, a.rating_due_date"
)
DIGEST_JOINS = (
    " FROM appeals a JOIN departments d ON d.id = a.department_id"
    " LEFT JOIN users o ON o.tg_id = a.owner_id"
)


@dataclass(frozen=True)
class Reply:
    id: int
    text: str
    number: str
    department_id: int | None
    department_name: str | None
    created_at: datetime


@dataclass(frozen=True)
class LedgerEntry:
    """One appeal with its raw history, for the ledger."""

    appeal: Appeal
    uscc: str
    history: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    notices: list[dict[str, Any]]


@dataclass(frozen=True)
class StoredDigest:
    week: str
    audience: str
    text: str
    created_at: datetime


TEXT_KEYS = ("department", "category")
OVERDUE = " WHERE a.state IN ('pending', 'in_progress') AND a.due_date < :today"


class ReportRepo(Store):
    async def appeals_touching(self, start: datetime, end: datetime) -> list[DigestRow]:
        """Appeals filed, closed or still open in [start, end)."""
        rows = await self._all(
            "SELECT " + DIGEST_COLUMNS + DIGEST_JOINS + " WHERE (a.created_at >= :start"
            " AND a.created_at < :end) OR (a.closed_at >= :start AND a.closed_at < :end)"
            " OR a.state IN ('pending', 'in_progress') ORDER BY a.id",
            {"start": records.stamp(start), "end": records.stamp(end)},
        )
        return [records.digest_row(r) for r in rows]

    async def received_counts(
        self, start: datetime, end: datetime, offset: str, today: str
    ) -> list[ReceivedGroup]:
        """Counts of the appeals received in [start, end), one GROUP BY over the created_at
        index: memory does not grow with the table. `offset` shifts UTC to local days
        (SQLite's `date(…, '+480 minutes')`; listed in storage/sqlite_only.py)."""
        rows = await self._all(
            "SELECT d.name AS department, a.category, a.state = 'withdrawn' AS withdrawn,"
            " COUNT(*) AS received,"
            " SUM(a.claimed_at IS NOT NULL"
            "     AND date(a.claimed_at, :offset) <= a.claim_due_date)"
            "   AS claimed_on_time,"
            " SUM(a.state IN ('closed', 'rated')) AS resolved,"
            " SUM(a.state IN ('closed', 'rated') AND a.closed_at IS NOT NULL"
            "     AND date(a.closed_at, :offset) <= a.due_date)"
            "   AS closed_on_time,"
            " SUM(a.rating IS NOT NULL) AS rated,"
            " SUM(a.rating IN ('satisfied', 'basic')) AS satisfied,"
            " SUM(a.rating IS NULL AND a.state = 'closed'"
            "     AND COALESCE(a.rating_due_date, :today) < :today) AS unrated"
            " FROM appeals a JOIN departments d ON d.id = a.department_id"
            " WHERE a.created_at >= :start AND a.created_at < :end"
            " GROUP BY d.name, a.category, a.state = 'withdrawn'",
            {
                "start": records.stamp(start),
                "end": records.stamp(end),
                "offset": offset,
                "today": today,
            },
        )
        # SUM over NULLs (an unrated appeal's rating) is NULL: count it as 0.
        return [
            ReceivedGroup(**{k: (v or 0) if k not in TEXT_KEYS else v for k, v in r.items()})
            for r in rows
        ]

    async def closed_counts(self, start: datetime, end: datetime, offset: str) -> tuple[int, int]:
        """(closed, closed on time) of the appeals closed in [start, end)."""
        row = await self._one(
            "SELECT COUNT(*) AS closed,"
            " COALESCE(SUM(date(a.closed_at, :offset) <= a.due_date), 0) AS on_time"
            " FROM appeals a"
            " WHERE a.closed_at >= :start AND a.closed_at < :end"
            " AND a.state IN ('closed', 'rated')",
            {"start": records.stamp(start), "end": records.stamp(end), "offset": offset},
        )
        return row["closed"], row["on_time"]

    async def overdue(self, today: str, limit: int) -> tuple[list[DigestRow], int]:
        """The longest overdue open appeals (at most `limit`) and how many there are."""
        rows = await self._all(
            "SELECT " + DIGEST_COLUMNS + DIGEST_JOINS + OVERDUE + " ORDER BY a.due_date, a.id"
            " LIMIT :limit",
            {"today": today, "limit": limit},
        )
        total = await self._one(
            "SELECT COUNT(*) AS n FROM appeals a WHERE a.state IN ('pending', 'in_progress')"
            " AND a.due_date < :today",
            {"today": today},
        )
        return [records.digest_row(r) for r in rows], total["n"]

    async def open_rows(self) -> list[DigestRow]:
        """Every open appeal (the departments' weekly lists): as many as are being handled."""
        rows = await self._all(
            "SELECT "
            + DIGEST_COLUMNS
            + DIGEST_JOINS
            + " WHERE a.state IN ('pending', 'in_progress') ORDER BY a.id"
        )
        return [records.digest_row(r) for r in rows]

    async def open_counts(self, today: str) -> tuple[int, int, int]:
        """(open, pending, overdue) right now."""
        row = await self._one(
            "SELECT COUNT(*) AS open, COALESCE(SUM(a.state = 'pending'), 0) AS pending,"
            " COALESCE(SUM(a.due_date < :today), 0) AS overdue FROM appeals a"
            " WHERE a.state IN ('pending', 'in_progress')",
            {"today": today},
        )
        return row["open"], row["pending"], row["overdue"]

    async def withdrawals(self, start: datetime, end: datetime) -> list[Withdrawal]:
        rows = await self._all(
            "SELECT a.number, e.name AS enterprise_name, ev.detail, ev.created_at"
            " FROM audit_events ev JOIN appeals a ON a.id = ev.appeal_id"
            " JOIN enterprises e ON e.id = a.enterprise_id"
            " WHERE ev.action = 'withdraw' AND ev.created_at >= ? AND ev.created_at < ?"
            " ORDER BY ev.id",
            (records.stamp(start), records.stamp(end)),
        )
        return [records.withdrawal(r) for r in rows]

    async def notice_counts(self, start: datetime, end: datetime) -> list[tuple[str, str, int]]:
        rows = await self._all(
            "SELECT kind, family, COUNT(*) AS n FROM notices"
            " WHERE created_at >= ? AND created_at < ? GROUP BY kind, family",
            (records.stamp(start), records.stamp(end)),
        )
        return [(r["kind"], r["family"], r["n"]) for r in rows]

    async def replies_between(self, start: datetime, end: datetime) -> list[Reply]:
        rows = await self._all(
            "SELECT m.id, m.text, a.number, u.department_id,"
            " d.name AS department_name, m.created_at FROM appeal_messages m"
            " JOIN appeals a ON a.id = m.appeal_id"
            " LEFT JOIN users u ON u.tg_id = m.author_id"
            " LEFT JOIN departments d ON d.id = u.department_id"
            " WHERE m.kind = 'reply' AND m.created_at >= ? AND m.created_at < ? ORDER BY m.id",
            (records.stamp(start), records.stamp(end)),
        )
        return [Reply(**{**r, "created_at": records.moment(r["created_at"])}) for r in rows]

    async def ledger(
        self, start: datetime, end: datetime, batch: int = 1000
    ) -> AsyncIterator[LedgerEntry]:
        """Every appeal filed in [start, end) with its whole history, streamed in batches."""
        last_id = 0
        while True:
            rows = await self._all(
                APPEAL_FIELDS
                + ","
                + LEDGER_HISTORY
                + APPEAL_FROM
                + " WHERE a.id > :last AND a.created_at >= :start AND a.created_at < :end"
                " ORDER BY a.id LIMIT :batch",
                {
                    "last": last_id,
                    "start": records.stamp(start),
                    "end": records.stamp(end),
                    "batch": batch,
                },
            )
            if not rows:
                return
            for row in rows:
                yield LedgerEntry(
                    records.appeal(row),
                    row["uscc"],
                    json.loads(row["history"] or "[]"),
                    json.loads(row["messages"] or "[]"),
                    json.loads(row["notices"] or "[]"),
                )
            last_id = rows[-1]["id"]

    async def digest_delivered(self, week: str, audience: str, chat_id: int) -> bool:
        row = await self._one(
            "SELECT 1 AS x FROM digest_deliveries WHERE week = ? AND audience = ? AND chat_id = ?",
            (week, audience, chat_id),
        )
        return row is not None

    async def record_digest(self, week: str, audience: str, text: str, now: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO digests (week, audience, text, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (week, audience) DO NOTHING",
            (week, audience, text, records.stamp(now)),
        )

    async def digest(self, week: str, audience: str) -> StoredDigest | None:
        row = await self._one(
            "SELECT * FROM digests WHERE week = ? AND audience = ?", (week, audience)
        )
        if row is None:
            return None
        return StoredDigest(
            row["week"], row["audience"], row["text"], records.moment(row["created_at"])
        )

    async def record_digest_delivery(
        self, week: str, audience: str, chat_id: int, now: datetime
    ) -> None:
        await self.conn.execute(
            "INSERT INTO digest_deliveries (week, audience, chat_id, sent_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (week, audience, chat_id, records.stamp(now)),
        )
