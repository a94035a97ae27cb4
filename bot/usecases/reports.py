"""Use cases of the weekly 督察通报, /stats and the appeal ledger export."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path

from bot.rules import access, delivery
from bot.rules import digest as rules
from bot.rules.digest import DepartmentDigest, LeaderDigest, QualityFlag, Week
from bot.rules.model import OPEN_STATES, Actor, State
from bot.rules.refusals import InvalidInput, NotAllowed
from bot.usecases.env import Env
from storage.db import UnitOfWork
from storage.reports import LedgerEntry, StoredDigest

EARLIER_REPLIES_COMPARED = 200


def bounds(env: Env, start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00) in the bureau's time zone."""
    return (
        datetime.combine(start, time(0), env.zone),
        datetime.combine(end + timedelta(days=1), time(0), env.zone),
    )


async def _period(uow: UnitOfWork, env: Env, start: date, end: date, rows: list):
    figures = rules.period_figures(
        rows, start, end, [c.name for c in env.org.categories], env.today(), env.zone
    )
    utc_start, utc_end = bounds(env, start, end)
    figures.notices = rules.notice_totals(await uow.reports.notice_counts(utc_start, utc_end))
    figures.withdrawn = await uow.reports.withdrawals(utc_start, utc_end)
    return figures


def _overdue(env: Env, rows: list) -> list[rules.OverdueItem]:
    return rules.overdue_items(rows, env.today(), env.deadlines.overdue_days)


async def _quality(uow: UnitOfWork, env: Env, start: datetime, end: datetime):
    settings = env.org.digest
    duplicates, short = [], []
    for reply in await uow.reports.replies_between(start, end):
        text = reply.text.strip()
        department = reply.department_name or ""
        if len(text) < settings.min_reply_chars:
            short.append(QualityFlag(reply.number, department, length=len(text)))
        if reply.department_id is None:
            continue
        earlier = await uow.reports.earlier_replies(
            reply.department_id, reply.id, EARLIER_REPLIES_COMPARED
        )
        best = rules.best_match(text, [e for e in earlier if e[1] != reply.number])
        if best and best[0] >= settings.similarity_threshold:
            duplicates.append(QualityFlag(reply.number, department, best[1], best[0]))
    return duplicates, short


async def leaders_digest(env: Env, actor: Actor | None, week: Week) -> LeaderDigest:
    """The 督察通报 for `week` and the year to its end (actor None: the scheduler)."""
    access.require_leader(actor)
    rules.require_past_or_current(week, env.today())
    year_start = date(week.end.year, 1, 1)
    async with env.db.reading() as uow:
        rows = await uow.reports.appeals_touching(*bounds(env, year_start, week.end))
        last_week = await _period(uow, env, week.start, week.end, rows)
        year = await _period(uow, env, year_start, week.end, rows)
        duplicates, short = await _quality(uow, env, *bounds(env, week.start, week.end))
        tasks = await uow.tasks.counts_by_state()
    floor = env.org.digest.satisfaction_floor
    return LeaderDigest(
        week,
        last_week,
        year,
        _overdue(env, rows),
        rules.below_floor(year, floor),
        floor,
        tasks,
        duplicates,
        short,
    )


async def department_digests(env: Env, week: Week) -> list[DepartmentDigest]:
    """For each department: open items, due in `week`, overdue, unclaimed (as of now)."""
    async with env.db.reading() as uow:
        rows = [
            r
            for r in await uow.reports.appeals_touching(*bounds(env, week.start, week.end))
            if r.state in OPEN_STATES
        ]
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
                _overdue(env, mine),
                [r for r in mine if r.state is State.PENDING],
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
    async with env.db.reading() as uow:
        rows = await uow.reports.appeals_touching(*bounds(env, year_start, today))
        this_week = await _period(uow, env, week.start, today, rows)
        year = await _period(uow, env, year_start, today, rows)
    return {
        "open": sum(r.state in OPEN_STATES for r in rows),
        "pending": sum(r.state is State.PENDING for r in rows),
        "overdue": len(_overdue(env, rows)),
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


async def chats_to_send(env: Env, week: Week, audience: str, chats: list[int]) -> list[int]:
    """Those of `chats` that have not had this week's digest."""
    async with env.db.reading() as uow:
        return [c for c in chats if not await uow.reports.digest_delivered(week.label, audience, c)]


async def mark_sent(env: Env, week: Week, audience: str, chat_id: int) -> None:
    async with env.db.unit_of_work() as uow:
        await uow.reports.record_digest_delivery(week.label, audience, chat_id, env.now())
        await uow.commit()
