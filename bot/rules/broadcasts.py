"""政策宣贯 broadcasts, pure: who may send one, its audience, its checks, its schedule, and
how its reach is counted from the recipients' outcomes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from bot.rules import uscc as uscc_rules
from bot.rules.checks import clean_text, parse_date, without_invisible
from bot.rules.model import Actor, Role
from bot.rules.refusals import InvalidInput, NotAllowed
from bot.rules.workcal import WorkingCalendar

TITLE_MAX = 60
BODY_MIN, BODY_MAX = 10, 3000  # the notice, its header and its buttons fit one message
FILES_MAX = 5
USCC_LIST_MAX = 5000  # an uploaded list of enterprises
SCHEDULE_AHEAD = timedelta(days=60)
# A scheduled notice goes in office hours: people read it, and may ask (咨询) at once.
SEND_FROM, SEND_UNTIL = time(8, 0), time(20, 0)


# Topics an enterprise may mute ("不再接收 产业政策 类宣贯"); the catalog names them.
TOPICS = ("industry", "support", "talent", "finance", "digital", "other")


class AudienceKind(StrEnum):
    ALL = "all"
    INDUSTRY = "industry"  # 行业
    DISTRICT = "district"  # 所在区
    SCALE = "scale"  # 规上 / 规下
    TAG = "tag"  # 标签
    BAOBAO = "baobao"  # the enterprises an official looks after (包保)
    CATEGORY = "category"  # the enterprises that filed an appeal in a category
    USCC = "uscc"  # an uploaded list of USCCs


class BroadcastState(StrEnum):
    SCHEDULED = "scheduled"  # waits for its moment: recipients are chosen when it goes
    SENDING = "sending"  # its messages are in the outbox
    SENT = "sent"  # every message went, or ended
    CANCELLED = "cancelled"  # stopped: what was queued is dropped, what went stays counted


class Reach(StrEnum):
    """Where one recipient stands (the reach report's 状态)."""

    QUEUED = "queued"  # 待发送
    DELIVERED = "delivered"  # 已送达: Telegram accepted it
    BLOCKED = "blocked"  # 无法送达: the contact blocked the bot, or the chat is gone
    FAILED = "failed"  # 发送失败: refused, or given up
    CANCELLED = "cancelled"  # 已取消: dropped by a cancel before it went
    MUTED = "muted"  # 已屏蔽此类: the enterprise muted the topic (not sent)
    WITHHELD = "withheld"  # 未发送: no longer a contact when it went


@dataclass(frozen=True)
class Audience:
    """Who a broadcast goes to: every registered contact of the enterprises chosen."""

    kind: AudienceKind
    values: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # the values as shown (an official's name for an id)

    def as_data(self) -> dict[str, object]:
        return {"kind": str(self.kind), "values": list(self.values), "labels": list(self.labels)}

    @classmethod
    def from_data(cls, data: dict[str, object]) -> Audience:
        values, labels = data.get("values") or (), data.get("labels") or ()
        assert isinstance(values, (list, tuple)) and isinstance(labels, (list, tuple))
        return cls(
            AudienceKind(str(data["kind"])),
            tuple(str(v) for v in values),
            tuple(str(v) for v in labels),
        )


@dataclass(frozen=True)
class Broadcast:
    id: int
    title: str
    body: str
    topic: str
    audience: Audience
    state: BroadcastState
    created_by: int
    created_at: datetime
    send_at: datetime
    files: int = 0
    recipients: int = 0  # messages made when it went (0 while scheduled)
    cancelled_at: datetime | None = None
    cancelled_by: int | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class AudienceCount:
    """A preview's numbers: enterprises chosen, how many are registered, how many muted the
    topic, and the contacts who will get it."""

    enterprises: int
    registered: int
    muted: int
    contacts: int


@dataclass(frozen=True)
class ReachCounts:
    total: int
    by_reach: dict[Reach, int] = field(default_factory=dict)
    read: int = 0
    asked: int = 0
    appeals: int = 0

    def count(self, reach: Reach) -> int:
        return self.by_reach.get(reach, 0)

    @property
    def sent(self) -> int:
        """Messages handed to Telegram, whatever it answered."""
        return self.count(Reach.DELIVERED) + self.count(Reach.BLOCKED) + self.count(Reach.FAILED)

    @property
    def done(self) -> int:
        """Messages whose outcome is known (all but the queued)."""
        return self.total - self.count(Reach.QUEUED)


@dataclass(frozen=True)
class ReachRow:
    """One recipient in the reach report."""

    enterprise: str
    uscc: str
    contact: str
    reach: Reach
    sent_at: datetime | None
    read_at: datetime | None
    asked_at: datetime | None
    appeal: str | None  # the number of the appeal its 咨询 became
    chat: int = 0  # the contact's chat (the order within an enterprise)


# The outbox's word for a message dropped by a cancel, or held back by a topic mute.
CANCELLED_ERROR, MUTED_ERROR = "cancelled", "muted"


def reach_of(muted: bool, status: str | None, error: str | None) -> Reach:
    """A recipient's outcome from its outbox message (`status` None: it had none)."""
    if muted or error == MUTED_ERROR:
        return Reach.MUTED
    if status in (None, "pending", "sending"):
        return Reach.QUEUED if status else Reach.WITHHELD
    if status == "sent":
        return Reach.DELIVERED
    if status == "failed":
        return Reach.BLOCKED
    if status == "withheld":
        return Reach.CANCELLED if error == CANCELLED_ERROR else Reach.WITHHELD
    return Reach.FAILED  # refused by Telegram, or given up


def may_broadcast(actor: Actor | None) -> None:
    """Leaders and department heads compose 政策宣贯 (None: the command line)."""
    if actor is not None and actor.role not in (Role.ADMIN, Role.HEAD):
        raise NotAllowed()


def may_see(actor: Actor, broadcast: Broadcast) -> bool:
    """Leaders see every broadcast; a head the ones they sent."""
    return actor.role is Role.ADMIN or broadcast.created_by == actor.tg_id


def title_text(text: str | None) -> str:
    return clean_text(text, "broadcast_title", 2, TITLE_MAX)


def body_text(text: str | None) -> str:
    return clean_text(text, "broadcast_body", BODY_MIN, BODY_MAX)


_USCC_SPLIT = re.compile(r"[\s,，;；、|]+")


def uscc_list(text: str) -> tuple[tuple[str, ...], list[str]]:
    """The USCCs of an uploaded list or a typed message (one per line or cell, any other
    text around them ignored only when it is a header): (valid codes in order, each once;
    the pieces that look like a code but are not one)."""
    codes: list[str] = []
    wrong: list[str] = []
    for piece in _USCC_SPLIT.split(without_invisible(text).upper()):
        piece = piece.strip().strip("\"'")
        if not piece:
            continue
        if len(piece) == 18 and uscc_rules.is_valid(piece):
            if piece not in codes:
                codes.append(piece)
        elif any(c.isdigit() for c in piece) and len(piece) >= 15:
            wrong.append(piece)
    if len(codes) > USCC_LIST_MAX:
        raise InvalidInput(field="uscc_list", reason="too_many", limit=USCC_LIST_MAX)
    return tuple(codes), wrong


_TIME = re.compile(r"(\d{1,2})[:：点时](\d{2})?分?")


def send_moment(
    text: str | None, now: datetime, zone: object, calendar: WorkingCalendar
) -> datetime:
    """When a scheduled broadcast goes: `YYYY-MM-DD HH:MM` (the time may be 9:30, 9点,
    9点30分), a working day, later than now and within SCHEDULE_AHEAD. In UTC."""
    typed = without_invisible(text or "").strip()
    if not typed:
        raise InvalidInput(field="send_at", reason="empty")
    found = _TIME.search(typed)
    if found is None:
        raise InvalidInput(field="send_at", reason="send_at_format", value=typed)
    hour, minute = int(found.group(1)), int(found.group(2) or 0)
    if hour > 23 or minute > 59:
        raise InvalidInput(field="send_at", reason="send_at_format", value=typed)
    day_text = (typed[: found.start()] + typed[found.end() :]).strip()
    local_now = now.astimezone(zone)  # type: ignore[arg-type]
    try:
        day: date = parse_date(day_text, local_now.date()) if day_text else local_now.date()
    except ValueError:
        raise InvalidInput(field="send_at", reason="send_at_format", value=typed) from None
    moment = datetime.combine(day, time(hour, minute), zone)  # type: ignore[arg-type]
    if moment <= now:
        raise InvalidInput(field="send_at", reason="send_at_past", value=typed)
    if moment - now > SCHEDULE_AHEAD:
        raise InvalidInput(field="send_at", reason="send_at_far", limit=SCHEDULE_AHEAD.days)
    if not calendar.is_working_day(day):
        raise InvalidInput(field="send_at", reason="send_at_holiday", day=day.isoformat())
    if not SEND_FROM <= time(hour, minute) <= SEND_UNTIL:
        raise InvalidInput(field="send_at", reason="send_at_hours", value=typed)
    return moment.astimezone(now.tzinfo)
