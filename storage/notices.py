"""SQL of the reminder and escalation ladder: set-based notice creation and delivery records.

Each kind of notice is created by one INSERT … SELECT over an index; the NOT EXISTS guard
makes a second sweep a no-op, and the UNIQUE key (subject, subject_id, kind, period) refuses
a notice twice should the guard ever miss one.
"""

from __future__ import annotations

from collections.abc import Sequence
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
        """Create today's notices of one kind; returns how many were new (`create_many`)."""
        return (await self.create_many((kind,), dates, now))[kind]

    async def create_many(
        self, kinds: Sequence[str], dates: SweepDates, now: datetime
    ) -> dict[str, int]:
        """Create today's notices of `kinds` in one INSERT … SELECT (the kinds' sources
        joined by UNION ALL); returns how many each kind made.

        Serial numbers continue each family's count for the year without gaps, in the order
        of `kinds` and then of the items' ids, on every backend and without a global write
        lock: the families' counter rows are locked first, in one statement, in the order
        the kinds first name them (an upsert's DO UPDATE takes the write lock — SQLite's
        database lock, PostgreSQL's row lock — held until COMMIT), so a sweep running
        meanwhile waits there, then reads the counters and the notices this one committed:
        its NOT EXISTS guard skips them and it numbers after them. Every sweep locks the
        families in the same order, so two never wait on each other. The notices' statement
        reads the bases from the locked rows; the counters then move by what it made. A
        rollback undoes notices and counts together. Three statements, however many kinds.
        """
        if not kinds:
            return {}
        sources = [NOTICE_SOURCES[kind] for kind in kinds]  # a KeyError for an unknown kind
        year = dates.year
        families = list(dict.fromkeys(source[0] for source in sources))
        params: dict[str, object] = {
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
            "INSERT INTO notice_counters (family, year, last_no) VALUES "  # noqa: S608 (placeholders only)
            + ", ".join("(?, ?, 0)" for _ in families)
            + " ON CONFLICT (family, year) DO UPDATE SET last_no = notice_counters.last_no",
            tuple(value for family in families for value in (family, year)),
        )
        parts = []
        for n, (kind, (family, subject, period, source)) in enumerate(
            zip(kinds, sources, strict=True)
        ):
            # Only fixed fragments from NOTICE_SOURCES are joined here; values are parameters.
            parts.append(
                f"SELECT CAST(:subject{n} AS TEXT) AS subject, a.id AS subject_id,"  # noqa: S608
                f" CAST(:kind{n} AS TEXT) AS kind, {period} AS period,"
                f" CAST(:family{n} AS TEXT) AS family, {n} AS rank "
                + source
                + f" AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.subject = :subject{n}"  # noqa: S608
                f" AND n.subject_id = a.id AND n.kind = :kind{n} AND n.period = {period})"
            )
            params.update({f"subject{n}": subject, f"kind{n}": kind, f"family{n}": family})
        made = await self._all(
            "INSERT INTO notices (subject, subject_id, kind, period, family, serial_year,"  # noqa: S608
            " serial_no, created_at)"
            " SELECT s.subject, s.subject_id, s.kind, s.period, s.family, :year,"
            " c.last_no + ROW_NUMBER() OVER (PARTITION BY s.family ORDER BY s.rank, s.subject_id),"
            " :now FROM (" + " UNION ALL ".join(parts) + ") s"
            " JOIN notice_counters c ON c.family = s.family AND c.year = :year"
            " RETURNING kind, family",
            params,
        )
        created = dict.fromkeys(kinds, 0)
        per_family = dict.fromkeys(families, 0)
        for row in made:
            created[row["kind"]] += 1
            per_family[row["family"]] += 1
        moved = [(family, n) for family, n in per_family.items() if n]
        if moved:
            await self.conn.execute(
                "UPDATE notice_counters SET last_no = last_no + CASE family"  # noqa: S608 (placeholders only)
                + " WHEN ? THEN ?" * len(moved)
                + " ELSE 0 END WHERE year = ? AND family IN ("
                + ", ".join("?" for _ in moved)
                + ")",
                tuple(v for family, n in moved for v in (family, n))
                + (year,)
                + tuple(family for family, _ in moved),
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
