"""SQL of the weekly digest and the appeal ledger export (台账)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from storage.base import Row, Store

APPEAL_COLUMNS = (
    "a.id, a.number, a.category, a.state, a.department_id, d.name AS department_name,"
    " a.owner_id, o.full_name AS owner_name, a.created_at, a.claimed_at, a.closed_at,"
    " a.claim_due_date, a.due_date, a.rating, a.rating_due_date, e.name AS enterprise_name"
)
APPEAL_JOINS = (
    " FROM appeals a JOIN departments d ON d.id = a.department_id"
    " JOIN enterprises e ON e.id = a.enterprise_id"
    " LEFT JOIN users o ON o.tg_id = a.owner_id"
)


class ReportStore(Store):
    async def appeals_touching(self, start: str, end: str) -> list[Row]:
        """Appeals filed, closed or still open in [start, end) (UTC ISO stamps)."""
        return await self._all(
            "SELECT " + APPEAL_COLUMNS + APPEAL_JOINS + " WHERE (a.created_at >= :start"
            " AND a.created_at < :end) OR (a.closed_at >= :start AND a.closed_at < :end)"
            " OR a.state IN ('pending', 'in_progress') ORDER BY a.id",
            {"start": start, "end": end},
        )

    async def withdrawals(self, start: str, end: str) -> list[Row]:
        return await self._all(
            "SELECT a.number, e.name AS enterprise_name, ev.detail AS reason, ev.created_at"
            " FROM audit_events ev JOIN appeals a ON a.id = ev.appeal_id"
            " JOIN enterprises e ON e.id = a.enterprise_id"
            " WHERE ev.action = 'withdraw' AND ev.created_at >= ? AND ev.created_at < ?"
            " ORDER BY ev.id",
            (start, end),
        )

    async def notice_counts(self, start: str, end: str) -> list[Row]:
        return await self._all(
            "SELECT subject, kind, family, COUNT(*) AS n FROM notices"
            " WHERE created_at >= ? AND created_at < ? GROUP BY subject, kind, family",
            (start, end),
        )

    async def replies_between(self, start: str, end: str) -> list[Row]:
        return await self._all(
            "SELECT m.id, m.text, m.created_at, a.number, u.department_id,"
            " d.name AS department_name FROM appeal_messages m"
            " JOIN appeals a ON a.id = m.appeal_id"
            " LEFT JOIN users u ON u.tg_id = m.author_id"
            " LEFT JOIN departments d ON d.id = u.department_id"
            " WHERE m.kind = 'reply' AND m.created_at >= ? AND m.created_at < ? ORDER BY m.id",
            (start, end),
        )

    async def earlier_replies(self, department_id: int, before_id: int, limit: int) -> list[Row]:
        return await self._all(
            "SELECT m.id, m.text, a.number FROM appeal_messages m"
            " JOIN appeals a ON a.id = m.appeal_id JOIN users u ON u.tg_id = m.author_id"
            " WHERE m.kind = 'reply' AND u.department_id = ? AND m.id < ?"
            " ORDER BY m.id DESC LIMIT ?",
            (department_id, before_id, limit),
        )

    async def ledger(self, start: str, end: str, batch: int = 1000) -> AsyncIterator[Row]:
        """Every appeal filed in [start, end) with its whole history, streamed in batches."""
        last_id = 0
        while True:
            rows = await self._all(
                "SELECT a.*, e.name AS enterprise_name, e.uscc, d.name AS department_name,"  # noqa: S608 - fixed fragments only
                " o.full_name AS owner_name,"
                " (SELECT group_concat(line, char(10)) FROM (SELECT ev.created_at || ' '"
                "   || ev.action || COALESCE(' ' || u.full_name, '')"
                "   || COALESCE('：' || ev.detail, '') AS line FROM audit_events ev"
                "   LEFT JOIN users u ON u.tg_id = ev.actor_id WHERE ev.appeal_id = a.id"
                "   ORDER BY ev.id)) AS history,"
                " (SELECT group_concat(line, char(10)) FROM (SELECT m.created_at || ' '"
                "   || m.kind || '：' || m.text AS line FROM appeal_messages m"
                "   WHERE m.appeal_id = a.id ORDER BY m.id)) AS messages,"
                " (SELECT group_concat(n.family || '〔' || n.serial_year || '〕' || n.serial_no"
                "   || '号', '、') FROM notices n WHERE n.subject = 'appeal'"
                "   AND n.subject_id = a.id) AS notices"
                + APPEAL_JOINS
                + " WHERE a.id > :last AND a.created_at >= :start AND a.created_at < :end"
                " ORDER BY a.id LIMIT :batch",
                {"last": last_id, "start": start, "end": end, "batch": batch},
            )
            if not rows:
                return
            for row in rows:
                yield row
            last_id = rows[-1]["id"]

    async def digest_delivered(self, week: str, audience: str, chat_id: int) -> bool:
        row = await self._one(
            "SELECT 1 AS x FROM digest_deliveries WHERE week = ? AND audience = ? AND chat_id = ?",
            (week, audience, chat_id),
        )
        return row is not None

    async def record_digest(self, week: str, audience: str, text: str, now: str) -> None:
        await self.conn.execute(
            "INSERT INTO digests (week, audience, text, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (week, audience) DO NOTHING",
            (week, audience, text, now),
        )

    async def digest(self, week: str, audience: str) -> Row | None:
        return await self._one(
            "SELECT * FROM digests WHERE week = ? AND audience = ?", (week, audience)
        )

    async def record_digest_delivery(
        self, week: str, audience: str, chat_id: int, now: str
    ) -> None:
        await self.conn.execute(
            "INSERT INTO digest_deliveries (week, audience, chat_id, sent_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (week, audience, chat_id, now),
        )
