"""政策宣贯 worded: the notice a contact gets with its buttons, a broadcast's status and
reach for its sender, an audience as read in a preview."""

from __future__ import annotations

from collections.abc import Callable

from telegram import InlineKeyboardMarkup

from bot.rules.broadcasts import Audience, AudienceKind, Broadcast, Reach, ReachCounts
from bot.texts import name, t
from handlers.buttons import encode
from handlers.common import esc, keyboard

RECEIVED = "bc"  # a contact's buttons on a broadcast: 已阅, 咨询, mute its topic
SENT = "bcs"  # the sender's: progress, cancel, the reach report
UNMUTE = "bcu"  # 恢复接收 a topic


def topic_name(topic: str) -> str:
    return name("topic", topic)


def message(broadcast: Broadcast, day: str) -> tuple[str, InlineKeyboardMarkup]:
    """The notice as a contact reads it, with 已阅 / 咨询 and the topic's mute."""
    text = t(
        "broadcast_message",
        title=esc(broadcast.title),
        body=esc(broadcast.body),
        topic=topic_name(broadcast.topic),
        day=day,
        files=t("broadcast_files_follow", count=broadcast.files) if broadcast.files else "",
    )
    rows = [
        [
            (t("button.broadcast_read"), encode(RECEIVED, broadcast.id, "read")),
            (t("button.broadcast_ask"), encode(RECEIVED, broadcast.id, "ask")),
        ],
        [
            (
                t("button.broadcast_mute", topic=topic_name(broadcast.topic)),
                encode(RECEIVED, broadcast.id, "mute"),
            )
        ],
    ]
    return text, keyboard(rows)


def audience_text(audience: Audience, quote: Callable[[str], str] = esc) -> str:
    """全部企业; 行业：A、B; 包保人：李明; 信用代码名单（12 家）. `quote` makes the values safe
    where the text goes: HTML in chat (the default), nothing in a sheet."""
    if audience.kind is AudienceKind.ALL:
        return t("audience.all")
    if audience.kind is AudienceKind.USCC:
        return t("audience.uscc", count=len(audience.values))
    shown = audience.labels or tuple(name("scale", v, default=v) for v in audience.values)
    return t(f"audience.{audience.kind}", values=quote("、".join(shown)))


def reach_text(reach: ReachCounts) -> str:
    return t(
        "broadcast_reach",
        sent=f"{reach.sent:,}",
        total=f"{reach.total - reach.count(Reach.MUTED):,}",
        delivered=f"{reach.count(Reach.DELIVERED):,}",
        blocked=f"{reach.count(Reach.BLOCKED):,}",
        failed=f"{reach.count(Reach.FAILED):,}",
        queued=f"{reach.count(Reach.QUEUED):,}",
        cancelled=f"{reach.count(Reach.CANCELLED):,}",
        withheld=f"{reach.count(Reach.WITHHELD):,}",
        muted=f"{reach.count(Reach.MUTED):,}",
        read=f"{reach.read:,}",
        asked=f"{reach.asked:,}",
        appeals=f"{reach.appeals:,}",
    )


def status_text(broadcast: Broadcast, reach: ReachCounts, when: str) -> str:
    return t(
        "broadcast_status",
        title=esc(broadcast.title),
        topic=topic_name(broadcast.topic),
        audience=audience_text(broadcast.audience),
        state=name("broadcast_state", broadcast.state),
        when=when,
        reach=reach_text(reach),
    )


def status_markup(broadcast: Broadcast, may_cancel: bool) -> InlineKeyboardMarkup:
    row = [(t("button.broadcast_refresh"), encode(SENT, broadcast.id, "status"))]
    if may_cancel:
        row.append((t("button.broadcast_cancel"), encode(SENT, broadcast.id, "cancel")))
    report = [(t("button.broadcast_report"), encode(SENT, broadcast.id, "report"))]
    return keyboard([row, report])
