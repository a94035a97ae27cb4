"""The use cases' environment on a database named by URL (not opened yet): made once by the
bot at start (bot/app.py `make_env`) and by the worker process for a weekly pack."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.rules.org import OrgConfig
from bot.rules.workcal import WorkingCalendar
from bot.usecases.env import Env
from storage.factory import open_database


def environment(
    database_url: str,
    org: OrgConfig,
    clock: Clock,
    leaders: frozenset[int],
    zone: ZoneInfo,
    invite_ttl: timedelta = timedelta(hours=72),
    prompt_ttl: timedelta = timedelta(minutes=30),
) -> Env:
    return Env(
        db=open_database(database_url),
        org=org,
        calendar=WorkingCalendar(org.calendar.holidays, org.calendar.workdays),
        clock=clock,
        leaders=leaders,
        zone=zone,
        invite_ttl=invite_ttl,
        prompt_ttl=prompt_ttl,
    )
