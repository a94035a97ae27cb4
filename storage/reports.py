"""SQL of the weekly digest and the appeal ledger export (台账)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from bot.rules.digest import DigestRow, ReceivedGroup, Withdrawal
from bot.rules.model import Appeal, Event
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


# Each open state's longest overdue, in its (state, due_date) index order.
LONGEST_OVERDUE = (
    "SELECT * FROM (SELECT id FROM appeals WHERE state = 'pending'"
    " AND due_date < :today{unchanged} ORDER BY due_date, id LIMIT :limit)"
    " UNION ALL"
    " SELECT * FROM (SELECT id FROM appeals WHERE state = 'in_progress'"
    " AND due_date < :today{unchanged} ORDER BY due_date, id LIMIT :limit)"
)
LATEST_RANKED = (
    " SELECT id, text, number, department_id, department_name, created_at"
    " FROM ranked WHERE nth <= :n ORDER BY created_at, id"
)
AMONG_LONGEST = " WHERE a.id IN (SELECT id FROM longest)"
# Filed before :end and not changed since (with :end None: every appeal): as it was then.
UNCHANGED_SINCE = (
    " AND (:end IS NULL OR (created_at < :end AND NOT EXISTS (SELECT 1 FROM audit_events ev"
    " WHERE ev.appeal_id = appeals.id AND ev.created_at >= :end)))"
)
# Appeals filed before :end and changed since: the events since :end, found by their time
# (used only as `IN (SELECT id FROM changed)`, which needs no DISTINCT: one that asks for
# it has SQLite walk every appeal's events in the appeal index's order instead).
CHANGED_SINCE = (
    "changed AS (SELECT appeal_id AS id FROM audit_events"
    " WHERE created_at >= :end AND appeal_id IS NOT NULL)"
)
RANKED_REPLIES = (
    "SELECT m.id, m.text, a.number, u.department_id, d.name AS department_name, m.created_at,"
    " ROW_NUMBER() OVER (PARTITION BY u.department_id ORDER BY m.created_at DESC, m.id DESC)"
    " AS nth"
    " FROM appeal_messages m JOIN appeals a ON a.id = m.appeal_id"
    " LEFT JOIN users u ON u.tg_id = m.author_id"
    " LEFT JOIN departments d ON d.id = u.department_id"
    " WHERE m.kind = 'reply' AND m.created_at >= :since AND m.created_at < :before"
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


# An appeal's local day of receipt and closing come from `date(moment, :offset)`; the
# on-time checks compare local days with the stored due dates, as the rules do.
TALLY_INSERT = (
    "INSERT INTO appeal_tallies (created_day, department_id, category, withdrawn, closed_day,"
    " unrated_from, received, claimed_on_time, resolved, closed_on_time, rated, satisfied)"
    " SELECT date(a.created_at, :offset), a.department_id, a.category,"
    " a.state = 'withdrawn',"
    " CASE WHEN a.state IN ('closed', 'rated') AND a.closed_at IS NOT NULL"
    "   THEN date(a.closed_at, :offset) END,"
    " CASE WHEN a.state = 'closed' AND a.rating IS NULL THEN a.rating_due_date END,"
    " COUNT(*),"
    " SUM(a.claimed_at IS NOT NULL AND date(a.claimed_at, :offset) <= a.claim_due_date),"
    " SUM(a.state IN ('closed', 'rated')),"
    " SUM(a.state IN ('closed', 'rated') AND a.closed_at IS NOT NULL"
    "     AND date(a.closed_at, :offset) <= a.due_date),"
    " SUM(a.rating IS NOT NULL),"
    " COALESCE(SUM(a.rating IN ('satisfied', 'basic')), 0)"
    " FROM appeals a"
)
TALLY_GROUP = " GROUP BY 1, 2, 3, 4, 5, 6"
REPLY_SELECT = (
    "SELECT m.id, m.text, a.number, u.department_id, d.name AS department_name, m.created_at"
)
REPLY_FROM = (
    " FROM appeal_messages m JOIN appeals a ON a.id = m.appeal_id"
    " LEFT JOIN users u ON u.tg_id = m.author_id"
    " LEFT JOIN departments d ON d.id = u.department_id"
)


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

    async def refresh_tallies(self, offset: str) -> None:
        """Bring the per-day counts up to date: every day on which an appeal written since
        was received is counted again; a new UTC offset (or none yet) counts all. Call
        inside a write transaction."""
        basis = await self._one("SELECT utc_offset FROM appeal_tally_basis WHERE id = 1")
        if basis is None or basis["utc_offset"] != offset:
            await self.conn.execute("DELETE FROM appeal_tallies")
            await self.conn.execute(TALLY_INSERT + TALLY_GROUP, {"offset": offset})
            await self.conn.execute(
                "INSERT INTO appeal_tally_basis (id, utc_offset) VALUES (1, :offset)"
                " ON CONFLICT (id) DO UPDATE SET utc_offset = excluded.utc_offset",
                {"offset": offset},
            )
        else:
            days = await self._all(
                "SELECT DISTINCT date(created_at, :offset) AS day FROM appeal_changes",
                {"offset": offset},
            )
            for row in days:
                day = date.fromisoformat(row["day"])
                await self.conn.execute(
                    "DELETE FROM appeal_tallies WHERE created_day = ?", (row["day"],)
                )
                # The UTC range is widened by a day each side so the index can be used for
                # any offset; the local day itself is matched exactly.
                await self.conn.execute(
                    TALLY_INSERT + " WHERE a.created_at >= :low AND a.created_at < :high"
                    " AND date(a.created_at, :offset) = :day" + TALLY_GROUP,
                    {
                        "offset": offset,
                        "day": row["day"],
                        "low": (day - timedelta(days=1)).isoformat(),
                        "high": (day + timedelta(days=2)).isoformat(),
                    },
                )
        await self.conn.execute("DELETE FROM appeal_changes")

    async def received_counts(self, start: date, end: date, today: str) -> list[ReceivedGroup]:
        """Counts of the appeals received on the local days [start, end], summed from the
        per-day tallies (`refresh_tallies` first): the cost follows the days, not the
        appeals. Closed and unrated count as of the day `today` (a past week's as of its
        end)."""
        rows = await self._all(
            "SELECT d.name AS department, t.category, t.withdrawn,"
            " SUM(t.received) AS received, SUM(t.claimed_on_time) AS claimed_on_time,"
            " SUM(CASE WHEN t.closed_day > :today THEN 0 ELSE t.resolved END) AS resolved,"
            " SUM(CASE WHEN t.closed_day > :today THEN 0 ELSE t.closed_on_time END)"
            " AS closed_on_time,"
            " SUM(t.rated) AS rated, SUM(t.satisfied) AS satisfied,"
            " SUM(CASE WHEN t.unrated_from < :today THEN t.received ELSE 0 END) AS unrated"
            " FROM appeal_tallies t JOIN departments d ON d.id = t.department_id"
            " WHERE t.created_day >= :start AND t.created_day <= :end"
            " GROUP BY d.name, t.category, t.withdrawn",
            {"start": start.isoformat(), "end": end.isoformat(), "today": today},
        )
        return [
            ReceivedGroup(**{k: (bool(v) if k == "withdrawn" else v) for k, v in r.items()})
            for r in rows
        ]

    async def closed_counts(self, start: date, end: date) -> tuple[int, int]:
        """(closed, closed on time) of the appeals closed on the local days [start, end]."""
        row = await self._one(
            "SELECT COALESCE(SUM(resolved), 0) AS closed,"
            " COALESCE(SUM(closed_on_time), 0) AS on_time FROM appeal_tallies"
            " WHERE closed_day >= :start AND closed_day <= :end",
            {"start": start.isoformat(), "end": end.isoformat()},
        )
        return row["closed"], row["on_time"]

    async def overdue(
        self, today: str, limit: int, unchanged_since: datetime | None = None
    ) -> tuple[list[DigestRow], int]:
        """The longest overdue open appeals (at most `limit`) and how many there are; with
        `unchanged_since`, only those filed before it and not changed since."""
        # Each open state's longest overdue from its (state, due_date) index order, then
        # the two merged: no sort of every overdue appeal.
        end = records.stamp(unchanged_since) if unchanged_since else None
        rows = await self._all(
            "WITH longest AS ("
            + LONGEST_OVERDUE.format(unchanged=UNCHANGED_SINCE)
            + ") SELECT "
            + DIGEST_COLUMNS
            + DIGEST_JOINS
            + AMONG_LONGEST
            + " ORDER BY a.due_date, a.id LIMIT :limit",
            {"today": today, "limit": limit, "end": end},
        )
        total = await self._one(
            "SELECT COUNT(*) AS n FROM appeals WHERE state IN ('pending', 'in_progress')"  # noqa: S608 (constants and parameters only)
            " AND due_date < :today" + UNCHANGED_SINCE,
            {"today": today, "end": end},
        )
        return [records.digest_row(r) for r in rows], total["n"]

    async def open_rows(self, unchanged_since: datetime | None = None) -> list[DigestRow]:
        """Every open appeal (the departments' weekly lists): as many as are being handled;
        with `unchanged_since`, only those filed before it and not changed since."""
        rows = await self._all(
            "SELECT "  # noqa: S608 (constants and parameters only)
            + DIGEST_COLUMNS
            + DIGEST_JOINS
            + " WHERE a.id IN (SELECT id FROM appeals WHERE state IN ('pending', 'in_progress')"
            + UNCHANGED_SINCE
            + ") ORDER BY a.id",
            {"end": records.stamp(unchanged_since) if unchanged_since else None},
        )
        return [records.digest_row(r) for r in rows]

    async def changed_since(self, end: datetime) -> list[tuple[DigestRow, list[Event]]]:
        """The appeals filed before `end` and changed since, as they are now, each with its
        audit events in order (to replay what they were at `end`)."""
        params = {"end": records.stamp(end)}
        rows = await self._all(
            "WITH "  # noqa: S608 (constants and parameters only)
            + CHANGED_SINCE
            + " SELECT "
            + DIGEST_COLUMNS
            + DIGEST_JOINS
            + " WHERE a.id IN (SELECT id FROM changed) AND a.created_at < :end ORDER BY a.id",
            params,
        )
        events: dict[int, list[Event]] = {}
        for row in await self._all(
            "WITH " + CHANGED_SINCE + " SELECT e.*, u.full_name AS actor_name, u.role AS actor_role"  # noqa: S608 (constants and parameters only)
            " FROM audit_events e LEFT JOIN users u ON u.tg_id = e.actor_id"
            " WHERE e.appeal_id IN (SELECT id FROM changed) ORDER BY e.appeal_id, e.id",
            params,
        ):
            events.setdefault(row["appeal_id"], []).append(records.event(row))
        return [(records.digest_row(r), events.get(r["id"], [])) for r in rows]

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

    async def latest_replies_before(
        self, before: datetime, since: datetime, per_department: int
    ) -> list[Reply]:
        """Each department's latest `per_department` replies written in [since, before),
        oldest first — what the first replies after `before` are compared with."""
        rows = await self._all(
            "WITH ranked AS (" + RANKED_REPLIES + ")" + LATEST_RANKED,
            {"since": records.stamp(since), "before": records.stamp(before), "n": per_department},
        )
        return [Reply(**{**r, "created_at": records.moment(r["created_at"])}) for r in rows]

    async def replies_between(
        self, start: datetime, end: datetime, batch: int = 2000
    ) -> AsyncIterator[Reply]:
        """Replies written in [start, end) in the order written, streamed in batches over the
        (kind, created_at) index."""
        after = ("", 0)
        while True:
            rows = await self._all(
                REPLY_SELECT
                + REPLY_FROM
                + " WHERE m.kind = 'reply' AND m.created_at >= :start AND m.created_at < :end"
                " AND (m.created_at > :after OR (m.created_at = :after AND m.id > :after_id))"
                " ORDER BY m.created_at, m.id LIMIT :batch",
                {
                    "start": records.stamp(start),
                    "end": records.stamp(end),
                    "after": after[0],
                    "after_id": after[1],
                    "batch": batch,
                },
            )
            for r in rows:
                yield Reply(**{**r, "created_at": records.moment(r["created_at"])})
            if len(rows) < batch:
                return
            after = (rows[-1]["created_at"], rows[-1]["id"])

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
