"""The courier: sends what the outbox holds, within Telegram's limits, and retries.

Transient faults (timeouts, 5xx, 429) put a message back with a backoff (429: Telegram's
`retry_after`); permanent ones (blocked, chat not found) are recorded once and the person
is listed to the leaders in the daily report. The global 30 msg/s and 20/min per group are
kept by python-telegram-bot's AIORateLimiter in `appealdesk run`, with about one message a
second per private chat added by `handlers/limits.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import date

from telegram import Bot, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.digest_files import LeadersPack, build_leaders_pack
from bot.digest_text import split_message, week_name
from bot.rules.digest import Week
from bot.rules.model import Notice, Outgoing, Rating
from bot.texts import has, name, t
from bot.usecases import appeals, ladder, outbox, people, reports
from bot.usecases.env import Env
from handlers import limits
from handlers.common import Context, env_of, esc, keyboard, say
from handlers.render import (
    action_markup,
    appeal_fields,
    ladder_notice,
    notice,
    snippet,
    task_button_row,
)

log = logging.getLogger(__name__)

# bot_data flag set by `appealdesk run`: an action's notices are sent by a task of their own.
SEND_IN_BACKGROUND = "send_notices_in_background"

# Stored acknowledgements whose live wording asks for more input: the stored copy only reports.
STORED_ACK_KEYS = {
    "done.rate": "ack.rated",
    "done.reopen": "ack.rated",
    "done_task.report": "ack.task_report",
}


class Gone(Exception):
    """What a message was about no longer exists."""


async def _appeal_message(env: Env, item: Outgoing) -> tuple[str, InlineKeyboardMarkup | None]:
    async with env.db.reading() as uow:
        appeal = await uow.appeals.get(item.subject_id)
    if appeal is None:
        raise Gone()
    if item.kind != "ack":
        return notice(Notice(item.chat_id, item.kind, appeal, item.detail), env)
    key = STORED_ACK_KEYS.get(item.detail["key"], item.detail["key"])
    params = dict(item.detail.get("params") or {})
    category = env.org.category_by_name(appeal.category)
    fields = appeal_fields(appeal, env)
    fields.update(
        days=category.time_limit_days if category else "",
        rating=name("rating", appeal.rating or Rating.DISSATISFIED),
        new_due=str(params.get("new_due", fields["due"])),
    )
    actor = await people.actor_for(env, item.chat_id)
    allowed = await appeals.allowed(env, actor, appeal)
    return t(key, **fields), action_markup(appeal, allowed)


async def _task_message(env: Env, item: Outgoing) -> tuple[str, InlineKeyboardMarkup | None]:
    async with env.db.reading() as uow:
        task = await uow.tasks.get(item.subject_id)
    if task is None:
        raise Gone()
    if item.kind == "ack":
        key = STORED_ACK_KEYS.get(item.detail["key"], item.detail["key"])
        return t(key, seq=task.seq), keyboard([task_button_row(task)])
    action = item.kind.removeprefix("task_")
    text = t(
        f"notice_task.{action}",
        seq=task.seq,
        owner=esc(task.owner_name),
        problem=snippet(task.problem, 200),
        text=esc(item.detail.get("text", "")),
    )
    rows = keyboard([task_button_row(task)]) if action == "request_close" else None
    return text, rows


# One thing to send: ("text", text, markup), ("photo", image, caption) or
# ("document", content, (file name, caption)).
Part = tuple[str, object, object]
# The leaders' chart and ledger of a week, prepared once however many leaders get them.
_PACKS: dict[str, LeadersPack] = {}


async def _digest_parts(env: Env, item: Outgoing) -> list[Part]:
    label, audience = item.detail["week"], item.detail["audience"]
    archived = await reports.stored(env, label, audience)
    if archived is None:
        raise Gone()
    if item.kind == "digest":
        return [("text", piece, None) for piece in split_message(archived.text)]
    pack = _PACKS.get(label)
    if pack is None:
        digest = await reports.leaders_digest(env, None, Week.parse(label))
        _PACKS.clear()
        pack = _PACKS[label] = await build_leaders_pack(env, digest, archived.text)
    return pack_parts(pack)


def pack_parts(pack: LeadersPack) -> list[Part]:
    """The leaders' chart (or why it is missing) and the year's ledger."""
    parts: list[Part] = []
    if pack.chart is not None:
        parts.append(("photo", pack.chart, t("digest_chart_caption", week=week_name(pack.week))))
    else:
        parts.append(("text", t("digest_chart_failed", reason=esc(pack.chart_error)), None))
    caption = t(
        "digest_ledger_caption",
        start=pack.ledger_start or date(pack.week.end.year, 1, 1),
        end=pack.week.end,
        count=pack.ledger_count,
    )
    if pack.year_too_large:
        caption += "\n" + t("digest_ledger_week_only")
    parts.append(("document", pack.ledger, (pack.ledger_name, caption)))
    return parts


async def send_part(bot: Bot, chat_id: int, part: Part) -> None:
    kind, body, extra = part
    if kind == "photo":
        await bot.send_photo(chat_id, body, caption=extra)
    elif kind == "document":
        name_, caption = extra
        await bot.send_document(chat_id, body, filename=name_, caption=caption)
    else:
        await bot.send_message(chat_id, body, reply_markup=extra)


# Notices listed in one message at most; a longer list follows in further messages.
LIST_CHUNK = 8


async def _list_parts(env: Env, item: Outgoing) -> list[Part]:
    """Several notices owed to one person by a sweep: a list, each with its buttons."""
    notices = [await ladder.item(env, i) for i in item.detail["notices"]]
    worded = [ladder_notice(n, env, item.chat_id) for n in notices if n is not None]
    if not worded:
        raise Gone()
    parts: list[Part] = []
    for start in range(0, len(worded), LIST_CHUNK):
        chunk = worded[start : start + LIST_CHUNK]
        header = t(
            "ladder.list_header",
            count=len(worded),
            first=start + 1,
            last=start + len(chunk),
        )
        rows = [row for _, markup in chunk if markup for row in markup.inline_keyboard]
        text = "\n\n".join([header, *(text for text, _ in chunk)])
        parts.append(("text", text, InlineKeyboardMarkup(rows) if rows else None))
    return parts


async def parts_of(env: Env, item: Outgoing) -> list[Part]:
    if item.subject == "digest":
        return await _digest_parts(env, item)
    if item.kind == ladder.LIST:
        return await _list_parts(env, item)
    text, markup = await render(env, item)
    return [("text", text, markup)]


async def render(env: Env, item: Outgoing) -> tuple[str, InlineKeyboardMarkup | None]:
    """The message as it reads now: wording from the catalog, data from the database."""
    if item.subject == "appeal":
        return await _appeal_message(env, item)
    if item.subject == "task":
        return await _task_message(env, item)
    if item.subject == "notice":
        owed = await ladder.item(env, item.subject_id)
        if owed is None:
            raise Gone()
        return ladder_notice(owed, env, item.chat_id)
    if item.kind == "unreachable_report":
        lost = [(int(chat), int(n)) for chat, n in item.detail.get("people", [])]
        names = await outbox.names_of(env, [chat for chat, _ in lost])
        lines = "\n".join(
            t("unreachable_line", who=esc(names.get(chat, str(chat))), messages=n)
            for chat, n in lost
        )
        return t("unreachable_report", count=len(lost), lines=lines), None
    if item.subject is None and has(item.kind):
        return t(item.kind, **item.detail), None
    raise Gone()


async def deliver_one(bot: Bot, env: Env, outgoing_id: int) -> bool:
    """Send one stored message if nobody else is; True when it went out now."""
    item = await outbox.take(env, outgoing_id)
    if item is None:
        return False
    try:
        parts = await parts_of(env, item)
    except Gone:
        await outbox.failed(env, item, "gone")
        return False
    try:
        for part in parts:
            await send_part(bot, item.chat_id, part)
    except RetryAfter as exc:
        log.warning("outbox %s to %s: flood limit, retry after %s", item.id, item.chat_id, exc)
        await outbox.postpone(env, item, "429", _seconds(exc.retry_after))
        return False
    except (Forbidden, BadRequest) as exc:  # blocked, chat not found, bad request: final
        log.warning("outbox %s to %s refused: %s", item.id, item.chat_id, exc.message)
        await flush(bot, env, await outbox.failed(env, item, exc.message[:200]))
        return False
    except NetworkError as exc:  # timeouts and 5xx
        log.warning("outbox %s to %s postponed: %s", item.id, item.chat_id, exc.message)
        await outbox.postpone(env, item, exc.message[:200])
        return False
    except TelegramError as exc:
        log.warning("outbox %s to %s failed: %s", item.id, item.chat_id, exc.message)
        await flush(bot, env, await outbox.failed(env, item, exc.message[:200]))
        return False
    await outbox.sent(env, item.id)
    return True


def _seconds(retry_after: object) -> float:
    seconds = getattr(retry_after, "total_seconds", None)
    return float(seconds() if seconds else retry_after)


async def flush(bot: Bot, env: Env, ids: tuple[int, ...] | list[int]) -> int:
    """Send the messages one action stored, right after the actor was answered."""
    sent = 0
    for outgoing_id in ids:
        sent += await deliver_one(bot, env, outgoing_id)
    return sent


async def drain(bot: Bot, env: Env, page: int = 100) -> int:
    """Send everything due until nothing is (what fails is rescheduled, not looped on)."""
    sent = 0
    tried: set[int] = set()
    while True:
        batch = [item for item in await outbox.due(env, page) if item.id not in tried]
        if not batch:
            return sent
        for item in batch:
            tried.add(item.id)
            sent += await deliver_one(bot, env, item.id)


async def confirm(
    update: Update,
    context: Context,
    text: str,
    markup: InlineKeyboardMarkup | None,
    ack_id: int | None,
    queued: tuple[int, ...] = (),
) -> None:
    """Answer the actor, then send what their action owes others. A failed answer is not
    an error for the user: the action is done and its stored confirmation follows."""
    env = env_of(context)
    try:
        await say(update, context, text, markup)
    except TelegramError as exc:
        log.warning("answer to %s failed, the outbox sends it: %s", _user_id(update), exc)
    else:
        if ack_id is not None:
            await outbox.sent(env, ack_id)
    await send_soon(context, queued)


async def send_soon(context: Context, ids: tuple[int, ...] | list[int]) -> None:
    """Send what an action owes others. In `appealdesk run` this is a task of its own, so
    the handler is done as soon as the actor is answered (their next update need not wait);
    the offline sandbox and the tests send at once, in order. Either way the rows are stored:
    whatever this does not send, the courier job does."""
    if not ids:
        return
    if context.application.bot_data.get(SEND_IN_BACKGROUND):
        context.application.create_task(_as_notices(flush(context.bot, env_of(context), ids)))
    else:
        await flush(context.bot, env_of(context), ids)


async def _as_notices(sending: Awaitable[int]) -> int:
    """In a task of its own: what it sends waits for the answers to people in flight."""
    limits.bulk()
    return await sending


def _user_id(update: Update) -> int | None:
    return update.effective_user.id if update.effective_user else None
