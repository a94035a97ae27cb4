"""Use cases of the weekly 督察通报, /stats and the appeal ledger export."""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from time import monotonic

from bot.rules import access, checks, delivery
from bot.rules import digest as rules
from bot.rules.digest import DepartmentDigest, LeaderDigest, QualityFlag, Reply, StoredDigest, Week
from bot.rules.ledger import LedgerEntry
from bot.rules.model import OPEN_STATES, Actor, Department, State, Task, TaskState
from bot.rules.refusals import InvalidInput
from bot.rules.task_ledger import overdue_tasks
from bot.usecases.env import Env
from bot.usecases.people import Who, actor_in, unstaffed_in
from storage.contract import UnitOfWork

# The appeals changed after a past day: each as it is now, and as it was then (None: not
# filed yet).
Changes = list[tuple[rules.DigestRow, rules.DigestRow | None]]

# A digest's work in Python (the replay, the near-duplicate check) pauses after every slice
# of work, so people's steps are answered while a digest is made at any size (at 1M
# appeals one uninterrupted pass held the loop 50-70 ms at a time). The pause is a real
# sleep, not `sleep(0)`: SQLite's queries finish on the driver's threads, which need the
# GIL; a loop that only yields takes the GIL back at once, every time, and those threads
# (so a person's step) would wait for the digest to end.
TURN_SECONDS = 0.01
PAUSE_SECONDS = 0.001


class _Turns:
    """Call after each item: pauses once TURN_SECONDS of work have passed since the last."""

    def __init__(self) -> None:
        self._until = monotonic() + TURN_SECONDS

    async def __call__(self) -> None:
        if monotonic() >= self._until:
            await asyncio.sleep(PAUSE_SECONDS)
            self._until = monotonic() + TURN_SECONDS


def bounds(env: Env, start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00) in the bureau's time zone."""
    return (
        datetime.combine(start, time(0), env.zone),
        datetime.combine(end + timedelta(days=1), time(0), env.zone),
    )


async def _period(
    uow: UnitOfWork,
    env: Env,
    start: date,
    end: date,
    as_of: date | None = None,
    changes: Changes | None = None,
) -> rules.PeriodFigures:
    """A period's figures summed from the per-day tallies (`refresh_tallies` first), as of
    the day `as_of` (default today); `changes`: the appeals changed since, now and then."""
    as_of = as_of or env.today()
    groups = await uow.reports.received_counts(start, end, as_of)
    closed = await uow.reports.closed_counts(start, end)
    if changes:
        # a pure sum over every changed appeal: in a thread, the loop keeps its turns
        groups, closed = await asyncio.to_thread(
            rules.replayed_counts, groups, closed, changes, start, end, as_of, env.zone
        )
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
        await uow.reports.refresh_tallies(env.zone, env.now())
        await uow.commit()


async def _changes(uow: UnitOfWork, env: Env, as_of: date) -> Changes:
    """The appeals changed after the day `as_of`, as they are now and as they were at its
    end (None: filed since); nothing when `as_of` is today."""
    if as_of >= env.today():
        return []
    end = bounds(env, as_of, as_of)[1]
    departments = {d.code: (d.id, d.name) for d in await uow.departments.all()}
    changes: Changes = []
    turn = _Turns()
    for row, events in await uow.reports.changed_since(end):
        then = rules.row_as_of(
            row,
            events,
            end,
            departments,
            env.deadlines,
            env.org.category_by_name(row.category),
            env.zone,
        )
        changes.append((row, then))
        await turn()
    return changes


@dataclass(frozen=True)
class Replay:
    """The appeals changed after the day `as_of`, now and as they were at its end. Working it
    out reads every such appeal with all its events into memory, so a digest run does it
    once (`replay`) and hands it to both the leaders' and the departments' views."""

    as_of: date
    changes: Changes


async def replay(env: Env, as_of: date) -> Replay:
    """The changed appeals replayed to the end of the day `as_of` (none when it is today)."""
    async with env.db.reading() as uow:
        return Replay(as_of, await _changes(uow, env, as_of))


async def _replayed(uow: UnitOfWork, env: Env, as_of: date, given: Replay | None) -> Changes:
    """`given`'s changes when it is as of the same day, else replayed now."""
    if given is not None and given.as_of == as_of:
        return given.changes
    return await _changes(uow, env, as_of)


def _open_then(changes: Changes) -> list[rules.DigestRow]:
    return [then for _, then in changes if then is not None and then.state in OPEN_STATES]


def _unchanged_since(env: Env, as_of: date) -> datetime | None:
    """The end of the day `as_of` when it is past (the rows unchanged since are as then)."""
    return bounds(env, as_of, as_of)[1] if as_of < env.today() else None


async def _overdue(
    uow: UnitOfWork, env: Env, as_of: date, changes: Changes
) -> tuple[list[rules.OverdueItem], int]:
    """The longest overdue appeals (capped) and how many were overdue in all, as of the
    end of the day `as_of`: those unchanged since as they are, the others replayed."""
    listed = env.org.digest.overdue_listed
    since = _unchanged_since(env, as_of)
    rows, total = await uow.reports.overdue(as_of, listed, unchanged_since=since)
    then = [r for r in _open_then(changes) if r.due_date < as_of]
    items = rules.overdue_items([*rows, *then], as_of, env.deadlines.overdue_days)
    return items[:listed], total + len(then)


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
    turn = _Turns()
    async for reply in uow.reports.replies_between(start, end):
        await turn()
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


async def leaders_digest(
    env: Env, actor: Actor | None, week: Week, given: Replay | None = None
) -> LeaderDigest:
    """The 督察通报 for `week` and the year to date, as of the week's last day (today while
    the week runs): every period ends that day, and every figure is as it stood then
    (actor None: the scheduler; `given`: the run's replay, else one is made)."""
    access.require_leader(actor)
    rules.require_past_or_current(week, env.today())
    await refresh_tallies(env)
    async with env.db.reading() as uow:
        return await _leaders_digest_in(uow, env, week, given)


async def counted_leaders_digest(env: Env, week: Week) -> LeaderDigest:
    """`leaders_digest` for the scheduler once the tallies are counted (`refresh_tallies`):
    a reading only, for a process that must not write (the weekly pack's worker)."""
    rules.require_past_or_current(week, env.today())
    async with env.db.reading() as uow:
        return await _leaders_digest_in(uow, env, week)


async def _leaders_digest_in(
    uow: UnitOfWork, env: Env, week: Week, given: Replay | None = None
) -> LeaderDigest:
    """`leaders_digest`, read in this unit of work (the tallies refreshed before it)."""
    as_of = rules.as_of(week, env.today())
    year_start = date(as_of.year, 1, 1)
    changes = await _replayed(uow, env, as_of, given)
    last_week = await _period(uow, env, week.start, as_of, as_of, changes)
    year = await _period(uow, env, year_start, as_of, as_of, changes)
    overdue, overdue_total = await _overdue(uow, env, as_of, changes)
    duplicates, short = await _quality(uow, env, *bounds(env, week.start, as_of))
    tasks = await _tasks_as_of(uow, env, as_of)
    late_tasks = await _overdue_tasks(uow, env, as_of)
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
        as_of,
        env.org.digest.overdue_listed,
        env.today(),
        late_tasks[: env.org.digest.overdue_listed],
        len(late_tasks),
    )


async def _tasks_as_of(uow: UnitOfWork, env: Env, as_of: date) -> dict[TaskState, int]:
    """Rectification tasks by state at the end of the day `as_of` (today: as they are)."""
    since = _unchanged_since(env, as_of)
    if since is None:
        return await uow.tasks.counts_by_state()
    return await uow.tasks.counts_by_state_at(since)


async def _overdue_tasks(uow: UnitOfWork, env: Env, as_of: date) -> list[tuple[Task, int]]:
    """The rectification tasks overdue at the end of the day `as_of`, each in the state it
    was in then, the longest overdue first."""
    since = _unchanged_since(env, as_of)
    tasks = await (uow.tasks.all() if since is None else uow.tasks.all_at(since))
    return overdue_tasks(tasks, as_of)


async def department_digests(
    env: Env, week: Week, as_of: date | None = None, given: Replay | None = None
) -> list[DepartmentDigest]:
    """For each department: open items, due in `week`, overdue, unclaimed, as of the end of
    the day `as_of` (default today; `given`: the run's replay, else one is made)."""
    async with env.db.reading() as uow:
        return await _department_digests_in(uow, env, week, as_of, given)


async def _department_digests_in(
    uow: UnitOfWork, env: Env, week: Week, as_of: date | None = None, given: Replay | None = None
) -> list[DepartmentDigest]:
    """`department_digests`, read in this unit of work."""
    as_of = as_of or env.today()
    unchanged = await uow.reports.open_rows(unchanged_since=_unchanged_since(env, as_of))
    changes = await _replayed(uow, env, as_of, given)
    rows = sorted([*unchanged, *_open_then(changes)], key=lambda r: r.id)
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
                rules.overdue_items(mine, as_of, env.deadlines.overdue_days),
                [r for r in mine if r.state is State.PENDING],
                env.org.digest.overdue_listed,
            )
        )
    return result


def department_view_day(week: Week, today: date) -> date:
    """The day a department's view of `week` is as of: for a past week the day before it
    began (what the digest sent at its start carried), else today."""
    return week.start - timedelta(days=1) if week.end < today else today


@dataclass(frozen=True)
class DigestAsked:
    """/digest as asked: the week, and for an official their department's view (None: their
    department has nothing to show), for a leader the 督察通报 (and, for a week named, the
    one archived when it was sent, if any)."""

    actor: Actor
    week: Week
    department: DepartmentDigest | None = None
    leaders: LeaderDigest | None = None
    archived: StoredDigest | None = None


async def digest_for(env: Env, who: Who, typed_week: str | None = None) -> DigestAsked:
    """/digest [2026-W47]: an official's department view (this week as of now; a past week
    as its Monday's digest carried it), a leader's 督察通报 (last week, or the week named,
    with its archived text); anyone else is refused."""
    today = env.today()
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        if actor.is_staff:
            week = checks.parse_week(typed_week, today) if typed_week else Week.of(today)
            rules.require_past_or_current(week, today)
            views = await _department_digests_in(uow, env, week, department_view_day(week, today))
            mine = [d for d in views if d.department_id == actor.department_id]
            return DigestAsked(actor, week, department=mine[0] if mine else None)
    access.require_leader(actor)
    week = checks.parse_week(typed_week, today) if typed_week else Week.before(today)
    rules.require_past_or_current(week, today)
    await refresh_tallies(env)
    async with env.db.reading() as uow:
        digest = await _leaders_digest_in(uow, env, week)
        archived = await uow.reports.digest(week, "leaders") if typed_week else None
    return DigestAsked(actor, week, leaders=digest, archived=archived)


async def export_ledger(
    env: Env,
    who: Who | None,
    start: date,
    end: date,
    target: Path,
    write: Callable[[AsyncIterator[LedgerEntry], Path], object],
) -> int:
    """The 台账: one row per appeal filed in [start, end] with its whole history, streamed
    (`who` None: the scheduler or the command line)."""

    async def written(entries: AsyncIterator[LedgerEntry], path: Path, _: dict[str, str]) -> None:
        await write(entries, path)  # type: ignore[misc]

    return await export_named_ledger(env, who, start, end, target, written)


async def export_named_ledger(
    env: Env,
    who: Who | None,
    start: date,
    end: date,
    target: Path,
    write: Callable[[AsyncIterator[LedgerEntry], Path, dict[str, str]], object],
) -> int:
    """`export_ledger`, `write` given the departments' names by code as well (the ledger
    names them): the actor, the names and the rows in one reading."""
    count = 0
    async with env.db.reading() as uow:
        access.require_leader(None if who is None else await actor_in(uow, env, who))
        if end < start:
            raise InvalidInput(field="period", reason="invalid")
        names = {d.code: d.name for d in await uow.departments.all()}

        async def entries() -> AsyncIterator[LedgerEntry]:
            nonlocal count
            async for entry in uow.reports.ledger(*bounds(env, start, end)):
                count += 1
                yield entry

        await write(entries(), target, names)  # type: ignore[misc]
    return count


@dataclass(frozen=True)
class Stats:
    """/stats: the quick numbers, and the departments nobody has joined yet."""

    figures: dict[str, object]
    unstaffed: list[Department]


async def stats(env: Env, who: Who) -> Stats:
    """Quick numbers for leaders: open, overdue, this week, this year; and the departments
    nobody has joined (their appeals go to the leaders)."""
    async with env.db.unit_of_work() as uow:  # a leader's: the tallies counted again first
        access.require_leader(await actor_in(uow, env, who))
        await uow.reports.refresh_tallies(env.zone, env.now())
        await uow.commit()
    today = env.today()
    week = Week.of(today)
    year_start = date(today.year, 1, 1)
    async with env.db.reading() as uow:
        unstaffed = await unstaffed_in(uow)
        this_week = await _period(uow, env, week.start, today)
        year = await _period(uow, env, year_start, today)
        open_, pending, overdue = await uow.reports.open_counts(today)
    return Stats(
        {
            "open": open_,
            "pending": pending,
            "overdue": overdue,
            "week_new": this_week.new,
            "week_closed": this_week.closed,
            "year_new": year.new,
            "year_closed": year.closed,
            "on_time": year.on_time_rate,
            "satisfaction": year.satisfaction_rate,
        },
        unstaffed,
    )


async def record_digest(env: Env, week: Week, audience: str, text: str) -> StoredDigest:
    """Archive the digest of a week once, as sent; later calls get the archived one."""
    async with env.db.unit_of_work() as uow:
        stored = await _record_in(uow, env, week, audience, text)
        await uow.commit()
    return stored


async def _record_in(
    uow: UnitOfWork, env: Env, week: Week, audience: str, text: str
) -> StoredDigest:
    await uow.reports.record_digest(week, audience, text, env.now())
    return await uow.reports.digest(week, audience)


async def enqueue_digest(
    env: Env, week: Week, audience: str, chats: list[int], kinds: tuple[str, ...]
) -> tuple[int, ...]:
    """Hand a week's archived digest to the outbox, once per chat (a second run adds none)."""
    async with env.db.unit_of_work() as uow:
        ids = await _enqueue_in(uow, env, week, audience, chats, kinds)
        await uow.commit()
    return ids


async def _enqueue_in(
    uow: UnitOfWork, env: Env, week: Week, audience: str, chats: list[int], kinds: tuple[str, ...]
) -> tuple[int, ...]:
    now = env.now()
    ids = []
    for chat in chats:
        if await uow.reports.digest_delivered(week, audience, chat):
            continue
        for kind in kinds:
            detail = {"week": week.label, "audience": audience}
            ids.append(
                await uow.outbox.add(chat, kind, "digest", None, detail, delivery.NOTICE, now)
            )
        await uow.reports.record_digest_delivery(week, audience, chat, now)
    return tuple(ids)


LEADERS = "leaders"
LEADERS_KINDS = ("digest", "digest_files")  # the text, then the chart and the ledger
DEPARTMENT_KINDS = ("digest",)


@dataclass(frozen=True)
class WeeklyWords:
    """How the weekly digests read (the catalog's wording, given by the caller): the
    leaders' 督察通报, and a department's view of the week it is sent in."""

    leaders: Callable[[LeaderDigest], str]
    department: Callable[[DepartmentDigest, Week], str]


@dataclass(frozen=True)
class WeeklyQueued:
    queued: list[int]  # the outbox rows added, in order
    served: int  # the chats they are for


async def queue_weekly(env: Env, week: Week, words: WeeklyWords) -> WeeklyQueued:
    """Monday's run for `week` (the scheduler's, not a person's): the leaders' 督察通报 and
    every department's view, worked out from one reading (the changed appeals replayed
    once for both), then archived as sent and handed to the outbox, each chat once, in one
    unit of work — a second run adds only what the first did not."""
    today = env.today()
    rules.require_past_or_current(week, today)
    as_of = rules.as_of(week, today)
    departments_week = week.sent_in  # Monday's run: this week, as of the reported week's end
    await refresh_tallies(env)
    async with env.db.reading() as uow:
        replayed = Replay(as_of, await _changes(uow, env, as_of))
        leaders = await _leaders_digest_in(uow, env, week, replayed)
        views = await _department_digests_in(uow, env, departments_week, as_of, replayed)
    async with env.db.unit_of_work() as uow:
        await _record_in(uow, env, week, LEADERS, words.leaders(leaders))
        queued = list(
            await _enqueue_in(uow, env, week, LEADERS, sorted(env.leaders), LEADERS_KINDS)
        )
        served = len(queued) // len(LEADERS_KINDS)
        for view in views:
            audience = f"department:{view.department_id}"
            await _record_in(uow, env, week, audience, words.department(view, departments_week))
            ids = await _enqueue_in(uow, env, week, audience, view.chat_ids, DEPARTMENT_KINDS)
            queued += ids
            served += len(ids)
        await uow.commit()
    return WeeklyQueued(queued, served)


async def stored(env: Env, week_label: str, audience: str) -> StoredDigest | None:
    """A digest as archived when it was first prepared (what every recipient gets);
    `week_label` as an outbox item names it (2026-W47)."""
    async with env.db.reading() as uow:
        return await uow.reports.digest(Week.from_label(week_label), audience)
