"""月报 notices worded: the contacts' (填报通知, 提示, 督办, with 填报), the 包保 official's and
the leaders' (提级) — each numbered with its 文号 like the appeals' ladder."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot.rules.monthly import AUDIENCE, Audience, MonthlyNotice, Period
from bot.rules.refusals import CampaignNotFound
from bot.texts import t
from bot.usecases.monthly import NoticeView
from handlers.buttons import encode
from handlers.common import esc, keyboard

FILL = "mr"  # 填报 under a notice: campaign, period (YYYYMM)


def period_code(period: Period) -> int:
    return period.year * 100 + period.month


def period_of(code: int) -> Period:
    """A period from a button (YYYYMM); one the bot could not have sent reads as unknown."""
    try:
        period = Period(code // 100, code % 100)
    except ValueError:
        raise CampaignNotFound() from None
    if not 2000 <= period.year <= 2999:
        raise CampaignNotFound()
    return period


def period_name(period: Period) -> str:
    return t("monthly.period", year=period.year, month=period.month)


def fill_button(
    campaign_id: int, period: Period, label_key: str = "button.monthly_fill"
) -> tuple[str, str]:
    return t(label_key), encode(FILL, campaign_id, period_code(period), "fill")


def serial(view: NoticeView) -> str:
    """提示〔2026〕12号 (a 填报通知 has none)."""
    record = view.record
    if record.family is None or record.serial_no is None:
        return ""
    label = t("monthly.raised_family") if record.kind is MonthlyNotice.LEADERS else record.family
    return t("monthly.serial", family=label, year=record.serial_year, no=record.serial_no)


def notice(view: NoticeView) -> tuple[str, InlineKeyboardMarkup | None]:
    record = view.record
    text = t(
        f"monthly.notice.{record.kind}",
        serial=serial(view),
        title=esc(view.campaign.title),
        period=period_name(record.period),
        enterprise=esc(view.enterprise),
        due=view.due.isoformat(),
        days=record.overdue_days,
    )
    if AUDIENCE[record.kind] is Audience.CONTACTS:
        return text, keyboard([[fill_button(view.campaign.id, record.period)]])
    return text, None


LEADERS_LISTED = 30  # enterprises a leaders' list names; the count says how many


def leaders_list(views: list[NoticeView]) -> str | None:
    """The enterprises raised to the leaders (or with nobody to chase them) that have still
    not reported when it goes; None when all have."""
    owed = [v for v in views if not v.reported]
    if not owed:
        return None
    first = owed[0]
    lines = [
        t(
            "monthly.leaders_line",
            serial=serial(v),
            enterprise=esc(v.enterprise),
            days=v.record.overdue_days,
            why=t(f"monthly.leaders_why.{v.record.kind}"),
        )
        for v in owed[:LEADERS_LISTED]
    ]
    if len(owed) > LEADERS_LISTED:
        lines.append(t("monthly.leaders_more", count=len(owed) - LEADERS_LISTED))
    return t(
        "monthly.leaders",
        title=esc(first.campaign.title),
        period=period_name(first.record.period),
        due=first.due.isoformat(),
        count=len(owed),
        lines="\n".join(lines),
    )
