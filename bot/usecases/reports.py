"""Use cases of the weekly 督察通报, /stats and the appeal ledger export."""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from bot.rules import access, delivery
from bot.rules import digest as rules
from bot.rules.digest import DepartmentDigest, LeaderDigest, QualityFlag, Week
from bot.rules.model import Actor, State
from bot.rules.refusals import InvalidInput, NotAllowed
from bot.usecases.env import Env
from storage.db import UnitOfWork
from storage.reports import LedgerEntry, Reply, StoredDigest


def bounds(env: Env, start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00) in the bureau's time zone."""
    return (
        datetime.combine(start, time(0), env.zone),
        datetime.combine(end + timedelta(days=1), time(0), env.zone),
    )


def _offset(env: Env, day: date) -> str:
    """The bureau's UTC offset on `day`, as SQLite's date modifier."""
    offset = datetime.combine(day, time(12), env.zone).utcoffset() or timedelta(0)
    return f"{int(offset.total_seconds() // 60):+d} minutes"


async def _period(uow: UnitOfWork, env: Env, start: date, end: date) -> rules.PeriodFigures:
    """A period's figures summed from the per-day tallies (`refresh_tallies` first)."""
    groups = await uow.reports.received_counts(start, end, env.today().isoformat())
    closed = await uow.reports.closed_counts(start, end)
    utc_start, utc_end = bounds(env, start, end)
    figures = rules.figures_from_counts(
        start, end, groups, closed, [c.name for c in env.org.categories]
    )
    figures.notices = rules.notice_totals(await uow.reports.notice_counts(utc_start, utc_end))
    figures.withdrawn = await uow.reports.withdrawals(utc_start, utc_end)
    return figures


async def refresh_tallies(env: Env) -> None:
    """Count again the days on which appeals were received that changed since last time."""
    async with env.db.unit_of_work() as uow:
        await uow.reports.refresh_tallies(_offset(env, env.today()))
        await uow.commit()


async def _overdue(uow: UnitOfWork, env: Env) -> tuple[list[rules.OverdueItem], int]:
    """The longest overdue appeals (capped) and how many are overdue in all."""
    today = env.today()
    rows, total = await uow.reports.overdue(today.isoformat(), env.org.digest.overdue_listed)
    return rules.overdue_items(rows, today, env.deadlines.overdue_days), total


@dataclass
class _Listed:
    """The first `limit` flags by a key, and how many there were in all."""

    limit: int
    total: int = 0
    heap: list[tuple[float, int, QualityFlag]] = field(default_factory=list)

    def add(self, key: float, flag: QualityFlag) -> None:
        self.total += 1
        entry = (key, -self.total, flag)  # on equal keys the earlier reply is kept
        if len(self.heap) < self.limit:
            heapq.heappush(self.heap, entry)
        else:
            heapq.heappushpop(self.heap, entry)

    def listed(self) -> list[QualityFlag]:
        return [flag for _, _, flag in sorted(self.heap, reverse=True)]


async def _quality(
    uow: UnitOfWork, env: Env, start: datetime, end: datetime
) -> tuple[_Listed, _Listed]:
    """Replies nearly the same as one of the department's latest before them (the most
    similar listed), and replies too short (the shortest listed). Only each department's
    latest `similarity_compared` replies are held, newest first, so memory stays flat."""
    settings = env.org.digest
    texts: dict[int | None, deque[str]] = {}
    numbers: dict[int | None, deque[str]] = {}
    duplicates, short = _Listed(settings.quality_listed), _Listed(settings.quality_listed)

    def remember(reply: Reply, text: str) -> None:
        if reply.department_id not in texts:
            texts[reply.department_id] = deque(maxlen=settings.similarity_compared)
            numbers[reply.department_id] = deque(maxlen=settings.similarity_compared)
        texts[reply.department_id].appendleft(text)
        numbers[reply.department_id].appendleft(reply.number)

    window_start = start - timedelta(days=settings.similarity_window_days)
    for reply in await uow.reports.latest_replies_before(
        start, window_start, settings.similarity_compared
    ):
        remember(reply, reply.text.strip())
    async for reply in uow.reports.replies_between(start, end):
        text = reply.text.strip()
        department = reply.department_name or ""
        if len(text) < settings.min_reply_chars:
            short.add(-len(text), QualityFlag(reply.number, department, length=len(text)))
        if reply.department_id is not None and reply.department_id in texts:
            earlier, their = texts[reply.department_id], numbers[reply.department_id]
            if reply.number in their:  # not compared with its own appeal's earlier reply
                others = [(t, n) for t, n in zip(earlier, their, strict=True) if n != reply.number]
                earlier, their = [t for t, _ in others], [n for _, n in others]
            best = rules.best_match_above(text, earlier, their, settings.similarity_threshold)
            if best:
                duplicates.add(best[0], QualityFlag(reply.number, department, best[1], best[0]))
        remember(reply, text)
    return duplicates, short


async def leaders_digest(env: Env, actor: Actor | None, week: Week) -> LeaderDigest:
    """The 督察通报 for `week` and the year to its end (actor None: the scheduler)."""
    access.require_leader(actor)
    rules.require_past_or_current(week, env.today())
    year_start = date(week.end.year, 1, 1)
    await refresh_tallies(env)
    async with env.db.reading() as uow:
        last_week = await _period(uow, env, week.start, week.end)
        year = await _period(uow, env, year_start, week.end)
        overdue, overdue_total = await _overdue(uow, env)
        duplicates, short = await _quality(uow, env, *bounds(env, week.start, week.end))
        tasks = await uow.tasks.counts_by_state()
    floor = env.org.digest.satisfaction_floor
    return LeaderDigest(
        week,
        last_week,
        year,
        overdue,
        rules.below_floor(year, floor),
        floor,
        tasks,
        duplicates.listed(),
        short.listed(),
        overdue_total,
        duplicates.total,
        short.total,
        env.today(),
        env.org.digest.overdue_listed,
    )


async def department_digests(env: Env, week: Week) -> list[DepartmentDigest]:
    """For each department: open items, due in `week`, overdue, unclaimed (as of now)."""
    async with env.db.reading() as uow:
        rows = await uow.reports.open_rows()
        departments = await uow.departments.all()
        staff = {d.id: await uow.people.staff_of(d.id) for d in departments}
    result = []
    for dept in departments:
        mine = [r for r in rows if r.department_id == dept.id]
        chats = [p.tg_id for p in staff[dept.id]] + ([dept.chat_id] if dept.chat_id else [])
        if not mine and not chats:
            continue
        result.append(
            DepartmentDigest(
                dept.id,
                dept.name,
                chats,
                mine,
                [r for r in mine if rules.is_due_in(r, week)],
                rules.overdue_items(mine, env.today(), env.deadlines.overdue_days),
                [r for r in mine if r.state is State.PENDING],
                env.org.digest.overdue_listed,
            )
        )
    return result


async def department_digest_for(env: Env, actor: Actor, week: Week) -> DepartmentDigest | None:
    if not actor.is_staff:
        raise NotAllowed()
    for digest in await department_digests(env, week):
        if digest.department_id == actor.department_id:
            return digest
    return None


async def export_ledger(
    env: Env,
    actor: Actor | None,
    start: date,
    end: date,
    target: Path,
    write: Callable[[AsyncIterator[LedgerEntry], Path], object],
) -> int:
    """The 台账: one row per appeal filed in [start, end] with its whole history, streamed."""
    access.require_leader(actor)
    if end < start:
        raise InvalidInput(field="period", reason="invalid")
    count = 0

    async def entries() -> AsyncIterator[LedgerEntry]:
        nonlocal count
        async with env.db.reading() as uow:
            async for entry in uow.reports.ledger(*bounds(env, start, end)):
                count += 1
                yield entry

    await write(entries(), target)
    return count


async def stats(env: Env, actor: Actor) -> dict[str, object]:
    """Quick numbers for leaders: open, overdue, this week, this year."""
    access.require_leader(actor)
    today = env.today()
    week = Week.of(today)
    year_start = date(today.year, 1, 1)
    await refresh_tallies(env)
    async with env.db.reading() as uow:
        this_week = await _period(uow, env, week.start, today)
        year = await _period(uow, env, year_start, today)
        open_, pending, overdue = await uow.reports.open_counts(today.isoformat())
    return {
        "open": open_,
        "pending": pending,
        "overdue": overdue,
        "week_new": this_week.new,
        "week_closed": this_week.closed,
        "year_new": year.new,
        "year_closed": year.closed,
        "on_time": year.on_time_rate,
        "satisfaction": year.satisfaction_rate,
    }


async def record_digest(env: Env, week: Week, audience: str, text: str) -> StoredDigest:
    """Archive the digest of a week once, as sent; later calls get the archived one."""
    async with env.db.unit_of_work() as uow:
        await uow.reports.record_digest(week.label, audience, text, env.now())
        stored = await uow.reports.digest(week.label, audience)
        await uow.commit()
    return stored


async def archived(env: Env, actor: Actor, week: Week) -> StoredDigest | None:
    access.require_leader(actor)
    async with env.db.reading() as uow:
        return await uow.reports.digest(week.label, "leaders")


async def enqueue_digest(
    env: Env, week: Week, audience: str, chats: list[int], kinds: tuple[str, ...]
) -> tuple[int, ...]:
    """Hand a week's archived digest to the outbox, once per chat (a second run adds none)."""
    now = env.now()
    ids = []
    async with env.db.unit_of_work() as uow:
        for chat in chats:
            if await uow.reports.digest_delivered(week.label, audience, chat):
                continue
            for kind in kinds:
                detail = {"week": week.label, "audience": audience}
                ids.append(
                    await uow.outbox.add(chat, kind, "digest", None, detail, delivery.NOTICE, now)
                )
            await uow.reports.record_digest_delivery(week.label, audience, chat, now)
        await uow.commit()
    return tuple(ids)


async def stored(env: Env, week_label: str, audience: str) -> StoredDigest | None:
    """A digest as archived when it was first prepared (what every recipient gets)."""
    async with env.db.reading() as uow:
        return await uow.reports.digest(week_label, audience)
