"""SQL of the weekly digest and the appeal ledger export (台账)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.rules.digest import DigestRow, ReceivedGroup, Reply, StoredDigest, Week, Withdrawal
from bot.rules.ledger import LedgerEntry, LedgerEvent, LedgerMessage, LedgerNotice
from bot.rules.model import Event
from storage import records
from storage.appeals import APPEAL_FIELDS, APPEAL_FROM
from storage.base import Row, Store
from storage.dialect import SQLITE

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
    " AND due_date < :today{unchanged} ORDER BY due_date, id LIMIT :limit) p"
    " UNION ALL"
    " SELECT * FROM (SELECT id FROM appeals WHERE state = 'in_progress'"
    " AND due_date < :today{unchanged} ORDER BY due_date, id LIMIT :limit) i"
)
LATEST_RANKED = (
    " SELECT r.id, r.text, a.number, r.department_id, d.name AS department_name, r.created_at"
    " FROM ranked r JOIN appeals a ON a.id = r.appeal_id"
    " LEFT JOIN departments d ON d.id = r.department_id"
    " WHERE r.nth <= :n ORDER BY r.created_at, r.id"
)
AMONG_LONGEST = " WHERE a.id IN (SELECT id FROM longest)"
# Filed before :end and not changed since: as it was then. Added only when there is an
# :end (a NULL parameter has no type on PostgreSQL, so `:end IS NULL OR …` is not used).
UNCHANGED_SINCE = (
    " AND created_at < :end AND NOT EXISTS (SELECT 1 FROM audit_events ev"
    " WHERE ev.appeal_id = appeals.id AND ev.created_at >= :end)"
)


def _unchanged(since: datetime | None) -> tuple[str, dict[str, str]]:
    """The `UNCHANGED_SINCE` condition and its parameter, or nothing without `since`."""
    return ("", {}) if since is None else (UNCHANGED_SINCE, {"end": records.stamp(since)})


# Appeals filed before :end and changed since: the events since :end, found by their time
# (used only as `IN (SELECT id FROM changed)`, which needs no DISTINCT: one that asks for
# it has SQLite walk every appeal's events in the appeal index's order instead).
CHANGED_SINCE = (
    "changed AS (SELECT appeal_id AS id FROM audit_events"
    " WHERE created_at >= :end AND appeal_id IS NOT NULL)"
)
# The sums `received_counts` gives per group (PostgreSQL sums the department's bigint sums
# to a numeric: cast back).
SUMMED = (
    "received", "claimed_on_time", "resolved", "closed_on_time", "rated", "satisfied", "unrated"
)  # fmt: skip
# Ranked on the replies and their authors alone; the appeals' numbers and the departments'
# names are joined to the few kept (`LATEST_RANKED`), each by its key — joined before the
# ranking, every reply of the range looked its appeal up (a scan of `appeals` on PostgreSQL).
RANKED_REPLIES = (
    "SELECT m.id, m.text, m.appeal_id, u.department_id, m.created_at,"
    " ROW_NUMBER() OVER (PARTITION BY u.department_id ORDER BY m.created_at DESC, m.id DESC)"
    " AS nth"
    " FROM appeal_messages m LEFT JOIN users u ON u.tg_id = m.author_id"
    " WHERE m.kind = 'reply' AND m.created_at >= :since AND m.created_at < :before"
)


# An appeal's local day of receipt and closing: on SQLite `date(moment, :offset)`, `:offset`
# being the zone's UTC offset as a date modifier ('+480 minutes', fixed: SQLite knows no
# zones); on PostgreSQL `(moment AT TIME ZONE :zone)::date`, each moment in its own offset.
# Dialect SQL, by the connection's dialect name (see `_local_day`).
LOCAL_DAY = {
    "sqlite": "date({moment}, :offset)",
    "postgresql": "({moment} AT TIME ZONE :zone)::date",
}


def tally_insert(day: str) -> str:
    """The per-day counts of appeals, grouped by `TALLY_GROUP`; `day` renders a moment
    column's local day. The on-time checks compare local days with the stored due dates,
    as the rules do."""
    created, claimed, closed = (
        day.format(moment=f"a.{c}") for c in ("created_at", "claimed_at", "closed_at")
    )
    return (
        "INSERT INTO appeal_tallies (created_day, department_id, category, withdrawn, closed_day,"  # noqa: S608 (constants only: the day is LOCAL_DAY's)
        " unrated_from, received, claimed_on_time, resolved, closed_on_time, rated, satisfied)"
        f" SELECT {created}, a.department_id, a.category,"
        " a.state = 'withdrawn',"  # a boolean on PostgreSQL, 0/1 on SQLite
        " CASE WHEN a.state IN ('closed', 'rated') AND a.closed_at IS NOT NULL"
        f"   THEN {closed} END,"
        " CASE WHEN a.state = 'closed' AND a.rating IS NULL THEN a.rating_due_date END,"
        " COUNT(*),"
        f" COUNT(*) FILTER (WHERE a.claimed_at IS NOT NULL AND {claimed} <= a.claim_due_date),"
        " COUNT(*) FILTER (WHERE a.state IN ('closed', 'rated')),"
        " COUNT(*) FILTER (WHERE a.state IN ('closed', 'rated') AND a.closed_at IS NOT NULL"
        f"     AND {closed} <= a.due_date),"
        " COUNT(*) FILTER (WHERE a.rating IS NOT NULL),"
        " COUNT(*) FILTER (WHERE a.rating IN ('satisfied', 'basic'))"
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


# The history of one appeal `a` as JSON arrays, rendered (local time, Chinese names) by the
# use case; fixed SQL, no values interpolated. DIALECT SQL, by the connection's dialect name:
# SQLite aggregates with `json_group_array(json_object(…))` over an ordered subquery;
# PostgreSQL with `json_agg(json_build_object(…) ORDER BY …)`, which gives NULL for no rows
# (read as an empty list) and the detail as an object (jsonb), not text. The notices' family
# is ordered by code point on both (`COLLATE "C"`: SQLite compares bytes).
LEDGER_HISTORY = {
    "sqlite": (
        " (SELECT json_group_array(json_object('at', ev.created_at, 'action', ev.action,"
        "   'actor', u.full_name, 'actor_role', u.role, 'detail', ev.detail))"
        "   FROM (SELECT * FROM audit_events"
        "   WHERE appeal_id = a.id ORDER BY id) ev LEFT JOIN users u ON u.tg_id = ev.actor_id)"
        "   AS history,"
        " (SELECT json_group_array(json_object('at', m.created_at, 'kind', m.kind,"
        "   'author', u.full_name, 'author_role', u.role, 'text', m.text,"
        "   'files', (SELECT COUNT(*) FROM attachments f WHERE f.message_id = m.id)))"
        "   FROM (SELECT * FROM appeal_messages"
        "   WHERE appeal_id = a.id ORDER BY id) m LEFT JOIN users u ON u.tg_id = m.author_id)"
        "   AS messages,"
        " (SELECT json_group_array(json_object('family', n.family, 'year', n.serial_year,"
        "   'no', n.serial_no)) FROM (SELECT * FROM notices WHERE subject = 'appeal'"
        "   AND subject_id = a.id ORDER BY family, serial_year, serial_no) n) AS notices"
    ),
    "postgresql": (
        " (SELECT json_agg(json_build_object('at', ev.created_at, 'action', ev.action,"
        "   'actor', u.full_name, 'actor_role', u.role, 'detail', ev.detail) ORDER BY ev.id)"
        "   FROM audit_events ev LEFT JOIN users u ON u.tg_id = ev.actor_id"
        "   WHERE ev.appeal_id = a.id) AS history,"
        " (SELECT json_agg(json_build_object('at', m.created_at, 'kind', m.kind,"
        "   'author', u.full_name, 'author_role', u.role, 'text', m.text,"
        "   'files', (SELECT COUNT(*) FROM attachments f WHERE f.message_id = m.id))"
        "   ORDER BY m.id)"
        "   FROM appeal_messages m LEFT JOIN users u ON u.tg_id = m.author_id"
        "   WHERE m.appeal_id = a.id) AS messages,"
        " (SELECT json_agg(json_build_object('family', n.family, 'year', n.serial_year,"
        "   'no', n.serial_no) ORDER BY n.family COLLATE \"C\", n.serial_year, n.serial_no)"
        "   FROM notices n WHERE n.subject = 'appeal' AND n.subject_id = a.id) AS notices"
    ),
}


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

    def _local_day(self) -> str:
        """How this connection's dialect renders a moment column's local day."""
        return LOCAL_DAY[self.dialect.name]

    async def refresh_tallies(self, zone: ZoneInfo, now: datetime) -> None:
        """Bring the per-day counts up to date: every day on which an appeal written since
        was received is counted again; another zone (or, on SQLite, another UTC offset: the
        zone's at `now`, the caller's clock) counts all. Call inside a write transaction.

        Safe with writers and other refreshers running: the basis row is locked first (an
        UPDATE: a row lock on PostgreSQL, the write lock on SQLite), and the changed days
        are those the DELETE … RETURNING removed, so a change committed meanwhile stays
        noted for the next refresh instead of being lost."""
        day = self._local_day()
        params = {"zone": zone.key, "offset": _offset(zone, now)}
        basis = await self._one(
            "UPDATE appeal_tally_basis SET zone = zone WHERE id = 1 RETURNING zone, utc_offset"
        )
        if basis is None or not _same_basis(basis, zone.key, params["offset"]):
            await self.conn.execute("DELETE FROM appeal_changes")
            await self.conn.execute("DELETE FROM appeal_tallies")
            await self.conn.execute(tally_insert(day) + TALLY_GROUP, params)
            if self.dialect.name == "postgresql":
                # DIALECT SQL: statistics for the planner on the table just filled (its
                # autovacuum would come later); without them it sorts the tallies to sum
                # them. SQLite's planner needs none for these reads.
                await self.conn.execute("ANALYZE appeal_tallies")
            await self.conn.execute(
                "INSERT INTO appeal_tally_basis (id, zone, utc_offset) VALUES (1, :zone, :offset)"
                " ON CONFLICT (id) DO UPDATE SET zone = excluded.zone,"
                " utc_offset = excluded.utc_offset",
                params,
            )
            return
        if basis["zone"] != zone.key:  # a basis kept before zones were named
            await self.conn.execute(
                "UPDATE appeal_tally_basis SET zone = :zone WHERE id = 1", {"zone": zone.key}
            )
        changed = await self._all(
            "DELETE FROM appeal_changes RETURNING "  # noqa: S608 (constants and parameters only)
            + day.format(moment="created_at")
            + " AS day",
            params,
        )
        for local in sorted({records.a_day(str(r["day"])) for r in changed}):
            await self.conn.execute(
                "DELETE FROM appeal_tallies WHERE created_day = ?", (local.isoformat(),)
            )
            # The UTC range is widened by a day each side so the index can be used for
            # any offset; the local day itself is matched exactly.
            await self.conn.execute(
                tally_insert(day)
                + " WHERE a.created_at >= :low AND a.created_at < :high AND "
                + day.format(moment="a.created_at")
                + " = :day"
                + TALLY_GROUP,
                {
                    **params,
                    "day": local.isoformat(),
                    "low": (local - timedelta(days=1)).isoformat(),
                    "high": (local + timedelta(days=2)).isoformat(),
                },
            )

    async def received_counts(self, start: date, end: date, today: date) -> list[ReceivedGroup]:
        """Counts of the appeals received on the local days [start, end], summed from the
        per-day tallies (`refresh_tallies` first): the cost follows the days, not the
        appeals. Closed and unrated count as of the day `today` (a past week's as of its
        end)."""
        # Summed by department id first (the days' tallies, many rows), then by name over
        # those few sums: no sort of the tallies by text in the database's collation.
        rows = await self._all(
            "SELECT d.name AS department, g.category, g.withdrawn, "  # noqa: S608 (constants and parameters only)
            + ", ".join(f"CAST(SUM(g.{c}) AS BIGINT) AS {c}" for c in SUMMED)
            + " FROM (SELECT t.department_id, t.category, t.withdrawn,"
            " SUM(t.received) AS received, SUM(t.claimed_on_time) AS claimed_on_time,"
            " SUM(CASE WHEN t.closed_day > :today THEN 0 ELSE t.resolved END) AS resolved,"
            " SUM(CASE WHEN t.closed_day > :today THEN 0 ELSE t.closed_on_time END)"
            " AS closed_on_time,"
            " SUM(t.rated) AS rated, SUM(t.satisfied) AS satisfied,"
            " SUM(CASE WHEN t.unrated_from < :today THEN t.received ELSE 0 END) AS unrated"
            " FROM appeal_tallies t"
            " WHERE t.created_day >= :start AND t.created_day <= :end"
            " GROUP BY t.department_id, t.category, t.withdrawn) g"
            " JOIN departments d ON d.id = g.department_id"
            " GROUP BY d.name, g.category, g.withdrawn",
            {"start": start.isoformat(), "end": end.isoformat(), "today": today.isoformat()},
        )
        # in the groups' order by code point on both backends (SQLite's GROUP BY gives it;
        # PostgreSQL's hash grouping and collations do not): a category no longer configured
        # is listed where this order puts it
        return sorted(
            (
                ReceivedGroup(**{k: (bool(v) if k == "withdrawn" else v) for k, v in r.items()})
                for r in rows
            ),
            key=lambda g: (g.department, g.category, g.withdrawn),
        )

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
        self, today: date, limit: int, unchanged_since: datetime | None = None
    ) -> tuple[list[DigestRow], int]:
        """The longest overdue open appeals (at most `limit`) and how many there are; with
        `unchanged_since`, only those filed before it and not changed since."""
        # Each open state's longest overdue from its (state, due_date) index order, then
        # the two merged: no sort of every overdue appeal.
        unchanged, params = _unchanged(unchanged_since)
        params["today"] = today.isoformat()
        rows = await self._all(
            "WITH longest AS ("
            + LONGEST_OVERDUE.format(unchanged=unchanged)
            + ") SELECT "
            + DIGEST_COLUMNS
            + DIGEST_JOINS
            + AMONG_LONGEST
            + " ORDER BY a.due_date, a.id LIMIT :limit",
            {**params, "limit": limit},
        )
        total = await self._one(
            "SELECT COUNT(*) AS n FROM appeals WHERE state IN ('pending', 'in_progress')"  # noqa: S608 (constants and parameters only)
            " AND due_date < :today" + unchanged,
            params,
        )
        return [records.digest_row(r) for r in rows], total["n"]

    async def open_rows(self, unchanged_since: datetime | None = None) -> list[DigestRow]:
        """Every open appeal (the departments' weekly lists): as many as are being handled;
        with `unchanged_since`, only those filed before it and not changed since."""
        unchanged, params = _unchanged(unchanged_since)
        rows = await self._all(
            "SELECT "  # noqa: S608 (constants and parameters only)
            + DIGEST_COLUMNS
            + DIGEST_JOINS
            + " WHERE a.id IN (SELECT id FROM appeals WHERE state IN ('pending', 'in_progress')"
            + unchanged
            + ") ORDER BY a.id",
            params,
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

    async def open_counts(self, today: date) -> tuple[int, int, int]:
        """(open, pending, overdue) on the day `today`."""
        row = await self._one(
            "SELECT COUNT(*) AS open, COUNT(*) FILTER (WHERE a.state = 'pending') AS pending,"
            " COUNT(*) FILTER (WHERE a.due_date < :today) AS overdue FROM appeals a"
            " WHERE a.state IN ('pending', 'in_progress')",
            {"today": today.isoformat()},
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
        after = (records.stamp(start), 0)  # every reply is at or after `start`, its id > 0
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
                + LEDGER_HISTORY[self.dialect.name]
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
                yield _ledger_entry(row)
            last_id = rows[-1]["id"]

    async def digest_delivered(self, week: Week, audience: str, chat_id: int) -> bool:
        row = await self._one(
            "SELECT 1 AS x FROM digest_deliveries WHERE week = ? AND audience = ? AND chat_id = ?",
            (week.label, audience, chat_id),
        )
        return row is not None

    async def record_digest(self, week: Week, audience: str, text: str, now: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO digests (week, audience, text, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (week, audience) DO NOTHING",
            (week.label, audience, text, records.stamp(now)),
        )

    async def digest(self, week: Week, audience: str) -> StoredDigest | None:
        row = await self._one(
            "SELECT * FROM digests WHERE week = ? AND audience = ?", (week.label, audience)
        )
        if row is None:
            return None
        return StoredDigest(
            Week.from_label(row["week"]),
            row["audience"],
            row["text"],
            records.moment(row["created_at"]),
        )

    async def record_digest_delivery(
        self, week: Week, audience: str, chat_id: int, now: datetime
    ) -> None:
        await self.conn.execute(
            "INSERT INTO digest_deliveries (week, audience, chat_id, sent_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (week.label, audience, chat_id, records.stamp(now)),
        )


def _offset(zone: ZoneInfo, now: datetime) -> str:
    """The zone's UTC offset at `now` as SQLite's date modifier ('+480 minutes'). SQLite
    knows no zones: its local days use this one offset (the zone's at the refresh, by the
    caller's clock, never the machine's), a zone with daylight saving counted again when it
    changes. Kept in the basis on both backends."""
    return SQLITE.zone_value(zone, now)


def _same_basis(basis: Row, zone: str, offset: str) -> bool:
    """Whether the tallies were counted in `zone` at `offset` (a basis kept before zones
    were named has no zone: its offset decides, so an upgrade counts nothing again)."""
    return basis["zone"] in (zone, "") and basis["utc_offset"] == offset


def _ledger_entry(row: Row) -> LedgerEntry:
    """An appeal's ledger row, its history decoded from the JSON arrays the query built."""
    return LedgerEntry(
        records.appeal(row),
        row["uscc"],
        [
            LedgerEvent(
                records.moment(e["at"]),
                e["action"],
                e.get("actor"),
                e.get("actor_role"),
                _detail(e.get("detail")),
            )
            for e in _array(row["history"])
        ],
        [
            LedgerMessage(
                records.moment(m["at"]),
                m["kind"],
                m.get("text"),
                m.get("author"),
                m.get("author_role"),
                int(m.get("files") or 0),
            )
            for m in _array(row["messages"])
        ],
        [LedgerNotice(n["family"], int(n["year"]), int(n["no"])) for n in _array(row["notices"])],
    )


def _array(value: str | list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """A JSON array as the query returned it: text on SQLite, already decoded by a driver
    that knows JSON (PostgreSQL's json_agg)."""
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str) else value


def _detail(value: str | dict[str, Any] | None) -> dict[str, Any]:
    """An event's detail inside the ledger's history: JSON text where it is stored as text,
    already an object where the column is JSON (jsonb)."""
    return value if isinstance(value, dict) else records.detail_of(value)
