"""What every use case runs against: the database, the org, the calendar, the clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.rules.deadlines import Deadlines
from bot.rules.model import Event
from bot.rules.org import OrgConfig
from bot.rules.workcal import WorkingCalendar
from bot.rules.workflow import changes_since
from storage.contract import Database, UnitOfWork

# Telegram keeps an unconfirmed update for 24 hours; after that an id may come back as new.
REDELIVERY_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Env:
    db: Database
    org: OrgConfig
    calendar: WorkingCalendar
    clock: Clock
    leaders: frozenset[int]
    zone: ZoneInfo
    invite_ttl: timedelta = timedelta(hours=72)
    prompt_ttl: timedelta = timedelta(minutes=30)

    def now(self) -> datetime:
        return self.clock.now()

    def stamp(self, moment: datetime) -> str:
        """A moment as the bureau reads it (2026-11-30 10:00), for what a refusal names."""
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    def today(self) -> date:
        """Today's date where the bureau is."""
        return self.now().astimezone(self.zone).date()

    @property
    def deadlines(self) -> Deadlines:
        return Deadlines(self.calendar, self.org.limits)


async def already_done(
    uow: UnitOfWork, env: Env, actor_id: int, key: str | None, action: str
) -> int | None:
    """What a request already did (its reference), if it came before within the window.
    In a unit of work that writes, it claims the key first: the same request delivered
    twice at once runs once (the second waits for the first's work, then finds what it
    did); a read only looks."""
    if key is None:
        return None
    now = env.now()
    if uow.read_only:
        done = await uow.requests.done(key, actor_id, now - REDELIVERY_WINDOW)
    else:
        done = await uow.requests.claim(key, actor_id, now - REDELIVERY_WINDOW, now)
    if done is None or done[0] != action or done[1] is None:
        return None
    return int(done[1])


async def remember(
    uow: UnitOfWork, env: Env, actor_id: int, key: str | None, action: str, ref: int | None
) -> None:
    if key is not None:
        await uow.requests.record(key, actor_id, action, ref, env.now())


async def unseen(
    events: Callable[[], Awaitable[list[Event]]],
    version: int | None,
    current: int,
    counted: frozenset[str],
) -> list[str] | None:
    """The changes a button made at `version` of an appeal or a task (now at `current`)
    has not seen, from its `events` (read only when the versions differ): what
    `access.authorize` and `access.authorize_task` weigh; None for a version never reached."""
    if version is None or version == current:
        return []
    return changes_since([e.action for e in await events()], version, current, counted)
