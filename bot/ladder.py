"""The reminder and escalation ladder (提示 / 督办 / 提级) for appeals and rectification tasks.

The database is the source of truth: a sweep creates the day's notices with one set-based
statement per kind, each notice unique per item, kind and period; delivery records every
recipient served, so a restart, a second sweep or a crash halfway neither repeats nor
skips a notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from bot.desk import Desk
from bot.model import Appeal, Role, notice_serial
from storage.repo import Repo

# Most urgent first: that is also the order of the serial numbers within a sweep.
APPEAL_KINDS = ("raise", "overdue", "due_today", "due_soon", "unclaimed")
TASK_KINDS = ("task_overdue", "task_d1", "task_d3", "task_d7", "task_monthly")
RAISE_AFTER_WORKING_DAYS = 3


@dataclass(frozen=True)
class PendingNotice:
    """A stored notice with the recipients who have not had it yet."""

    id: int
    kind: str
    serial: str
    appeal: Appeal | None
    task: dict[str, Any] | None
    overdue_days: int
    chats: list[int]


def _unique(ids: list[int]) -> list[int]:
    return list(dict.fromkeys(i for i in ids if i))


class Ladder:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def sweep_params(self, today: date) -> dict[str, Any]:
        cal = self.desk.calendar
        return {
            "today": today.isoformat(),
            "year": today.year,
            "next_working_day": cal.add_working_days(today, 1).isoformat(),
            "raise_due": cal.sub_working_days(today, RAISE_AFTER_WORKING_DAYS).isoformat(),
            "plus3": (today + timedelta(days=3)).isoformat(),
            "plus7": (today + timedelta(days=7)).isoformat(),
            "month": today.strftime("%Y-%m"),
            "month_start": today.replace(day=1).isoformat(),
            "now": self.desk.now().isoformat(timespec="seconds"),
        }

    async def sweep(self) -> dict[str, int] | None:
        """Create today's notices; None on a day off (nobody is chased on holidays)."""
        today = self.desk.today()
        if not self.desk.calendar.is_working_day(today):
            return None
        params = self.sweep_params(today)
        created: dict[str, int] = {}
        async with self.desk.db.transaction() as repo:
            for kind in APPEAL_KINDS + TASK_KINDS:
                created[kind] = await repo.notices.create(kind, params)
        return created

    async def pending(self, limit: int = 200) -> list[PendingNotice]:
        """Notices not yet delivered to everyone, with the chats still to serve."""
        result = []
        async with self.desk.db.reading() as repo:
            for row in await repo.notices.undelivered(limit):
                appeal = task = None
                if row["subject"] == "appeal":
                    found = await repo.appeal(row["subject_id"])
                    appeal = Appeal.from_row(found) if found else None
                    chats = await self._appeal_recipients(repo, row["kind"], appeal)
                else:
                    task = await repo.tasks.get(row["subject_id"])
                    chats = await self._task_recipients(repo, task)
                served = await repo.notices.delivered_chats(row["id"])
                overdue = 0
                if appeal is not None:
                    due = date.fromisoformat(appeal.due_date)
                    overdue = self.desk.calendar.working_days_between(due, self.desk.today())
                result.append(
                    PendingNotice(
                        row["id"],
                        row["kind"],
                        notice_serial(row),
                        appeal,
                        task,
                        max(overdue, 0),
                        [c for c in chats if c not in served],
                    )
                )
        return result

    async def _appeal_recipients(self, repo: Repo, kind: str, appeal: Appeal | None) -> list[int]:
        leaders = sorted(self.desk.admin_ids)
        if appeal is None:
            return leaders
        staff = await repo.staff_of_department(appeal.department_id)
        heads = [u["tg_id"] for u in staff if u["role"] == Role.HEAD]
        handler = (
            [appeal.owner_id or appeal.assignee_id]
            if (appeal.owner_id or appeal.assignee_id)
            else [u["tg_id"] for u in staff]
        )
        if kind == "raise":
            chats = leaders
        elif kind == "unclaimed":
            chats = heads or [u["tg_id"] for u in staff]
        elif kind == "overdue":
            chats = handler + heads
        else:
            chats = handler
        return _unique(chats) or leaders

    async def _task_recipients(self, repo: Repo, task: dict[str, Any] | None) -> list[int]:
        owners = await repo.tasks.staff_named(task["owner_name"]) if task else []
        return _unique([u["tg_id"] for u in owners]) or sorted(self.desk.admin_ids)

    async def record(self, notice_id: int, chat_id: int, error: str | None = None) -> None:
        """One recipient served (or permanently unreachable, with the error)."""
        async with self.desk.db.transaction() as repo:
            await repo.notices.record_delivery(
                notice_id, chat_id, self.desk.now().isoformat(timespec="seconds"), error
            )

    async def finish(self, notice_id: int) -> None:
        async with self.desk.db.transaction() as repo:
            await repo.notices.mark_delivered(
                notice_id, self.desk.now().isoformat(timespec="seconds")
            )

    async def history(self, subject: str, subject_id: int) -> list[dict[str, Any]]:
        async with self.desk.db.reading() as repo:
            rows = await repo.notices.of_subject(subject, subject_id)
        return [{**r, "serial": notice_serial(r)} for r in rows]
