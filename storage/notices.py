"""SQL of the reminder and escalation ladder: set-based notice creation and delivery records.

Each kind of notice is created by one INSERT … SELECT over an index; the NOT EXISTS guard
makes a second sweep a no-op, and the UNIQUE key (subject, subject_id, kind, period) refuses
a notice twice should the guard ever miss one.
"""

from __future__ import annotations

from datetime import datetime

from bot.rules.deadlines import SweepDates
from bot.rules.model import StoredNotice
from storage import records
from storage.base import Store

OPEN = "('pending', 'in_progress')"

# kind → (family, subject, period expression, FROM … WHERE …). Fixed SQL, parameters only.
# The period is text on every backend (a day, a due date, a month): a date column is CAST,
# and the day has a parameter of its own (`:day`, text) apart from `:today` (compared with
# dates), as PostgreSQL gives one parameter one type.
NOTICE_SOURCES: dict[str, tuple[str, str, str, str]] = {
    "due_soon": (
        "提示",
        "appeal",
        "CAST(a.due_date AS TEXT)",
        f"FROM appeals a WHERE a.state IN {OPEN} AND a.due_date = :next_working_day",
    ),
    "due_today": (
        "提示",
        "appeal",
        "CAST(a.due_date AS TEXT)",
        f"FROM appeals a WHERE a.state IN {OPEN} AND a.due_date = :today",
    ),
    "unclaimed": (
        "提示",
        "appeal",
        ":day",
        # once overdue, the daily 督办 takes over from this reminder
        "FROM appeals a WHERE a.state = 'pending' AND a.claim_due_date < :today"
        " AND a.due_date >= :today",
    ),
    "overdue": (
        "督办",
        "appeal",
        ":day",
        f"FROM appeals a WHERE a.state IN {OPEN} AND a.due_date < :today",
    ),
    "raise": (
        "督办",
        "appeal",
        "CAST(a.due_date AS TEXT)",
        f"FROM appeals a WHERE a.state IN {OPEN} AND a.due_date <= :raise_due",
    ),
    "task_d7": (
        "提示",
        "task",
        "CAST(a.deadline AS TEXT)",
        "FROM tasks a WHERE a.state = 'in_progress' AND a.deadline > :plus_near"
        " AND a.deadline <= :plus_far AND a.deadline > :next_working_day",
    ),
    "task_d3": (
        "提示",
        "task",
        "CAST(a.deadline AS TEXT)",
        "FROM tasks a WHERE a.state = 'in_progress' AND a.deadline > :next_working_day"
        " AND a.deadline <= :plus_near",
    ),
    "task_d1": (
        "提示",
        "task",
        "CAST(a.deadline AS TEXT)",
        "FROM tasks a WHERE a.state = 'in_progress' AND a.deadline > :today"
        " AND a.deadline <= :next_working_day",
    ),
    "task_overdue": (
        "督办",
        "task",
        ":day",
        "FROM tasks a WHERE a.state = 'in_progress' AND a.deadline < :today",
    ),
    "task_monthly": (
        "提示",
        "task",
        ":month",
        "FROM tasks a WHERE a.state = 'deemed_done' AND a.updated_at < :month_start",
    ),
}


class NoticeRepo(Store):
    async def create(self, kind: str, dates: SweepDates, now: datetime) -> int:
        """Create today's notices of one kind in one statement; returns how many were new.

        Serial numbers continue the family's count for the year without gaps, on every
        backend and without a global write lock: the family's counter row is locked first
        (an UPDATE … RETURNING takes its write lock — SQLite's database lock, PostgreSQL's
        row lock — held until COMMIT), so a sweep running meanwhile waits there, then reads
        the counter and the notices this one committed: its NOT EXISTS guard skips them and
        it numbers after them. A sweep takes the families' locks in one order (the kinds'),
        so two never wait on each other. A rollback undoes notices and count together.
        """
        family, subject, period, source = NOTICE_SOURCES[kind]
        year = dates.year
        params = {
            "today": records.day(dates.today),
            "day": records.day(dates.today),
            "year": year,
            "next_working_day": records.day(dates.next_working_day),
            "raise_due": records.day(dates.raise_due),
            "plus_near": records.day(dates.plus_near),
            "plus_far": records.day(dates.plus_far),
            "month": dates.today.strftime("%Y-%m"),  # the period of a monthly notice
            "month_start": records.day(dates.month_start),
            "now": records.stamp(now),
        }
        await self.conn.execute(
            "INSERT INTO notice_counters (family, year, last_no) VALUES (?, ?, 0)"
            " ON CONFLICT (family, year) DO NOTHING",
            (family, year),
        )
        counter = await self._one(
            "UPDATE notice_counters SET last_no = last_no WHERE family = ? AND year = ?"
            " RETURNING last_no",
            (family, year),
        )
        assert counter is not None
        # Only fixed fragments from NOTICE_SOURCES are joined here; values are parameters.
        select = f"SELECT :subject, a.id, :kind, {period}, :family, :year, "
        guard = (
            " AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.subject = :subject"  # noqa: S608
            f" AND n.subject_id = a.id AND n.kind = :kind AND n.period = {period})"
        )
        sql = (
            "INSERT INTO notices (subject, subject_id, kind, period, family, serial_year,"
            " serial_no, created_at) "
            + select
            + ":base + ROW_NUMBER() OVER (ORDER BY a.id), :now "
            + source
            + guard
        )
        values = {
            **params,
            "subject": subject,
            "kind": kind,
            "family": family,
            "base": counter["last_no"],
        }
        created = await self._changed(sql, values)
        if created:
            await self.conn.execute(
                "UPDATE notice_counters SET last_no = last_no + ? WHERE family = ? AND year = ?",
                (created, family, year),
            )
        return created

    async def get(self, notice_id: int) -> StoredNotice | None:
        row = await self._one("SELECT * FROM notices WHERE id = ?", (notice_id,))
        return records.stored_notice(row) if row else None

    async def undelivered(self, limit: int) -> list[StoredNotice]:
        rows = await self._all(
            "SELECT * FROM notices WHERE delivered_at IS NULL ORDER BY id LIMIT ?", (limit,)
        )
        return [records.stored_notice(r) for r in rows]

    async def delivered_chats(self, notice_id: int) -> set[int]:
        rows = await self._all(
            "SELECT chat_id FROM notice_deliveries WHERE notice_id = ?", (notice_id,)
        )
        return {r["chat_id"] for r in rows}

    async def record_delivery(
        self, notice_id: int, chat_id: int, now: datetime, error: str | None
    ) -> None:
        await self.conn.execute(
            "INSERT INTO notice_deliveries (notice_id, chat_id, sent_at, error)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (notice_id, chat_id) DO NOTHING",
            (notice_id, chat_id, records.stamp(now), error),
        )

    async def mark_delivered(self, notice_id: int, now: datetime) -> None:
        await self.conn.execute(
            "UPDATE notices SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL",
            (records.stamp(now), notice_id),
        )

    async def of_subject(self, subject: str, subject_id: int) -> list[StoredNotice]:
        rows = await self._all(
            "SELECT * FROM notices WHERE subject = ? AND subject_id = ? ORDER BY id",
            (subject, subject_id),
        )
        return [records.stored_notice(r) for r in rows]
