"""The reminder and escalation ladder (提示 / 督办 / 提级) for appeals and rectification tasks.

The database is the source of truth: a sweep creates the day's notices with one set-based
statement for all kinds, each notice unique per item, kind and period; delivery records every
recipient served, so a restart, a second sweep or a crash halfway neither repeats nor
skips a notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.rules import audiences, delivery
from bot.rules.model import Appeal, StoredNotice, Task
from bot.usecases.appeals import directory
from bot.usecases.env import Env
from bot.usecases.task_holders import holders
from storage.contract import UnitOfWork

# Most urgent first: that is also the order of the serial numbers within a sweep.
APPEAL_KINDS = ("raise", "overdue", "due_today", "due_soon", "unclaimed")
TASK_KINDS = ("task_overdue", "task_d1", "task_d3", "task_d7", "task_monthly")
PAGE = 200
LIST = delivery.LADDER_LIST  # the outbox kind of one message listing several notices
# Notices one list keeps (the first, most urgent, of a sweep); those beyond are counted.
LIST_KEPT = PAGE


@dataclass(frozen=True)
class PendingNotice:
    """A stored notice with the recipients who have not had it yet."""

    notice: StoredNotice
    appeal: Appeal | None
    task: Task | None
    overdue_days: int
    chats: list[int]

    @property
    def id(self) -> int:
        return self.notice.id

    @property
    def kind(self) -> str:
        return self.notice.kind

    @property
    def serial(self) -> str:
        return self.notice.serial


async def sweep(env: Env) -> dict[str, int] | None:
    """Create today's notices; None on a day off (nobody is chased on holidays)."""
    today = env.today()
    if not env.calendar.is_working_day(today):
        return None
    dates = env.deadlines.sweep_dates(today)
    async with env.db.unit_of_work() as uow:
        created = await uow.notices.create_many(APPEAL_KINDS + TASK_KINDS, dates, env.now())
        await uow.commit()
    return created


def most_urgent(notices: list[PendingNotice]) -> list[PendingNotice]:
    """The order a list names notices in: raised and overdue appeals first (the longest
    overdue first), then those due, unclaimed, and the tasks."""
    rank = {kind: n for n, kind in enumerate(APPEAL_KINDS + TASK_KINDS)}
    return sorted(notices, key=lambda n: (rank.get(n.kind, len(rank)), -n.overdue_days))


def listing(kept: list[int], more: int, ids: list[int]) -> dict[str, Any]:
    """A list's detail: the notices it may name (at most LIST_KEPT, the most urgent of them
    are named) and how many more it only counts."""
    room = max(LIST_KEPT - len(kept), 0)
    return {"notices": kept + ids[:room], "more": more + len(ids[room:])}


async def _add_to_list(uow: UnitOfWork, outgoing_id: int, ids: list[int]) -> bool:
    """A later page's notices join the list this sweep already made for the same person, so
    a person gets one list however many notices are owed; False once it is being sent."""
    detail = await uow.outbox.pending_detail(outgoing_id)
    if detail is None:
        return False
    kept = listing(detail["notices"], int(detail.get("more", 0)), ids)
    return await uow.outbox.set_detail(outgoing_id, kept)


async def pending(env: Env, limit: int = PAGE) -> list[PendingNotice]:
    """Notices not yet delivered to everyone, with the chats still to serve."""
    result = []
    today = env.today()
    async with env.db.reading() as uow:
        for notice in await uow.notices.undelivered(limit):
            appeal = task = None
            overdue = 0
            if notice.subject == "appeal":
                appeal = await uow.appeals.get(notice.subject_id)
                if appeal is not None:
                    people = await directory(uow, env, appeal)
                    chats = audiences.for_ladder(notice.kind, appeal, people)
                    overdue = env.deadlines.overdue_days(appeal.due_date, today)
                else:
                    chats = sorted(env.leaders)
            else:
                task = await uow.tasks.get(notice.subject_id)
                chats = await holders(env, uow, task) if task else sorted(env.leaders)
            served = await uow.notices.delivered_chats(notice.id)
            result.append(
                PendingNotice(notice, appeal, task, overdue, [c for c in chats if c not in served])
            )
    return result


async def item(env: Env, notice_id: int) -> PendingNotice | None:
    """One stored notice with what it is about, as it is now (for wording it)."""
    async with env.db.reading() as uow:
        notice = await uow.notices.get(notice_id)
        if notice is None:
            return None
        appeal = task = None
        overdue = 0
        if notice.subject == "appeal":
            appeal = await uow.appeals.get(notice.subject_id)
            if appeal is not None:
                overdue = env.deadlines.overdue_days(appeal.due_date, env.today())
        else:
            task = await uow.tasks.get(notice.subject_id)
    return PendingNotice(notice, appeal, task, overdue, [])


async def enqueue_due(env: Env) -> int:
    """Hand every notice still owed to someone to the outbox: one message per recipient,
    listing the recipient's notices when a sweep owes them three or more (one or two go as
    plain messages, as `delivery.as_list` says for every list; a leader who stands in
    for absent task owners gets one list, not one message per task): one list per person
    however many pages the sweep takes, which names the most urgent and counts the rest."""
    queued = 0
    lists: dict[int, int] = {}  # chat → the list this sweep made for it (across pages)
    while batch := await pending(env):
        now = env.now()
        owed_to: dict[int, list[int]] = {}
        for owed in most_urgent(batch):  # a list names the most urgent first
            for chat in owed.chats:
                owed_to.setdefault(chat, []).append(owed.id)
        async with env.db.unit_of_work() as uow:
            for chat, ids in owed_to.items():
                if chat in lists and await _add_to_list(uow, lists[chat], ids):
                    pass
                elif not delivery.as_list(len(ids)):  # one or two: plain messages
                    for notice_id in ids:
                        await uow.outbox.add(
                            chat, "ladder", "notice", notice_id, {}, delivery.LADDER, now
                        )
                else:
                    lists[chat] = await uow.outbox.add(
                        chat, LIST, "notice", ids[0], listing([], 0, ids), delivery.LADDER, now
                    )
                for notice_id in ids:
                    await uow.notices.record_delivery(notice_id, chat, now, None)
                queued += 1
            for owed in batch:
                await uow.notices.mark_delivered(owed.id, now)
            await uow.commit()
    return queued
