"""月报 campaigns as stored: a campaign, the enterprises asked for a period, their
submissions (each correction a new version) and the numbered notices of its ladder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.rules.broadcasts import Audience
from bot.rules.model import Actor, Role
from bot.rules.monthly import MonthlyDefinition, MonthlyNotice, Period
from bot.rules.refusals import CampaignNotFound, NotAllowed

# The 文号 family of each numbered notice (a 填报通知 has none).
FAMILIES: dict[MonthlyNotice, str | None] = {
    MonthlyNotice.ASK: None,
    MonthlyNotice.REMIND: "提示",
    MonthlyNotice.DUE_TODAY: "提示",
    MonthlyNotice.OVERDUE: "督办",
    MonthlyNotice.BAOBAO: "督办",
    MonthlyNotice.LEADERS: "督办",
}
# Notices sent once a period; the others (逾期督办) once a day.
ONCE = frozenset(
    {
        MonthlyNotice.ASK,
        MonthlyNotice.REMIND,
        MonthlyNotice.DUE_TODAY,
        MonthlyNotice.BAOBAO,
        MonthlyNotice.LEADERS,
    }
)


@dataclass(frozen=True)
class Campaign:
    id: int
    code: str
    title: str
    definition: MonthlyDefinition
    audience: Audience
    first_period: Period
    active: bool
    swept_on: date | None
    created_by: int
    created_at: datetime


@dataclass(frozen=True)
class Submission:
    """One version of an enterprise's report for a period (answers as stored JSON data)."""

    campaign_id: int
    period: Period
    enterprise_id: int
    version: int
    data: dict[str, Any]
    submitted_by: int
    submitted_at: datetime
    late: bool


@dataclass(frozen=True)
class Target:
    """An enterprise asked to report a period, with its latest version if any."""

    enterprise_id: int
    name: str
    uscc: str
    baobao_user_id: int | None
    latest: Submission | None


@dataclass(frozen=True)
class MonthlyNoticeRecord:
    id: int
    campaign_id: int
    period: Period
    enterprise_id: int
    kind: MonthlyNotice
    day: str  # the day sent ('' for a notice once a period)
    family: str | None
    serial_year: int | None
    serial_no: int | None
    overdue_days: int
    created_at: datetime


def notice_day(kind: MonthlyNotice, day: date) -> str:
    """The key that keeps a notice to once a period, or once a day (逾期督办)."""
    return "" if kind in ONCE else day.isoformat()


def may_manage(actor: Actor | None, pressed: bool = False) -> None:
    """Campaigns are the leaders' (None: the command line). Anyone else is refused; a
    button of theirs pressed by anyone else reads as an unknown one."""
    if actor is not None and actor.role is not Role.ADMIN:
        raise CampaignNotFound() if pressed else NotAllowed()
