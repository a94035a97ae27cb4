"""Shared pieces of the handlers: the environment, the actor, replies and refusals."""

from __future__ import annotations

import asyncio
import functools
import html
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ContextTypes

from bot.rules import checks
from bot.rules.model import Action, Actor, Appeal, Attachment, Event, Role
from bot.rules.refusals import (
    AppealMovedAway,
    AppealNotFound,
    BaobaoUnchanged,
    ContactAlreadyRemoved,
    DomainError,
    InvalidInput,
    InvalidTransition,
    InviteInvalid,
    NotAllowed,
    NotRegistered,
    StaleAction,
    TaskReassigned,
    TaskStale,
    TaskWrongState,
)
from bot.rules.workflow import (
    EXTENSION_APPROVED,
    EXTENSION_DECISION,
    EXTENSION_DENIED,
    already_there,
)
from bot.telegram_limits import cut, split_html, visible
from bot.texts import has, name, t
from bot.texts.events import person_name
from bot.usecases import outbox, people
from bot.usecases.appeals import last_change
from bot.usecases.conversations import end_any
from bot.usecases.env import Env
from bot.usecases.people import Caller
from handlers.buttons import CODES, BadCallback, kind_of, unknown_answer

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
Handler = Callable[[Update, Context], Awaitable[Any]]


def esc(value: object) -> str:
    """User-supplied text made safe for an HTML message."""
    return html.escape(str(value), quote=False)


def env_of(context: Context) -> Env:
    return context.application.bot_data["env"]


def local_time(env: Env, moment: datetime) -> str:
    return moment.astimezone(env.zone).strftime("%Y-%m-%d %H:%M")


def request_key(update: Update) -> str:
    """The idempotency key of what the user did. A button is keyed by the message it sits
    on, so a second tap (or Telegram re-sending the update) repeats the first result."""
    query = update.callback_query
    if query is not None and query.message is not None:
        return f"tg:cb:{query.message.chat.id}:{query.message.message_id}:{query.data}"
    return f"tg:{update.update_id}"


def caller(update: Update) -> Caller:
    """Who sent the update, as Telegram names them: the use case loads them as an Actor in
    its own unit of work (one reading for the check and the action)."""
    user = update.effective_user
    assert user is not None
    return Caller(user.id, user.full_name)


def keyboard(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


# A choice offered as buttons shows at most this many (Telegram takes 100 buttons, a
# person reads far fewer); the prompt then says how many there are and how to reach the rest.
CHOICES_MAX = 40


def offered(
    prompt: str,
    buttons: list[tuple[str, str]],
    more_key: str,
    per_row: int = 1,
    **params: object,
) -> tuple[str, InlineKeyboardMarkup]:
    """A prompt and its choices as buttons, `per_row` to a row; beyond CHOICES_MAX the
    prompt adds the catalog's `more_key` (given `shown`, `total` and `params`)."""
    shown = buttons[:CHOICES_MAX]
    if len(buttons) > len(shown):
        prompt += "\n" + t(more_key, shown=len(shown), total=len(buttons), **params)
    rows = [shown[i : i + per_row] for i in range(0, len(shown), per_row)]
    return prompt, keyboard(rows)


async def say(
    update: Update,
    context: Context,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    answer: bool = True,
    owed: bool = True,
) -> Message | None:
    """Answer in the chat the update came from (a button press is acknowledged first); the
    last message sent (the one that holds the buttons). An answer Telegram still would not
    take after the retries (a 5xx, a timeout, a long 429) is owed (`owed`): whatever the
    handler kept before answering stays kept, so the rest of the answer (the next prompt,
    with its buttons) goes through the outbox rather than the person reading that nothing
    was done; None then. `owed=False`: raised instead (the caller has a stored copy)."""
    if answer and update.callback_query is not None:
        await answer_button(update.callback_query)
    chat = update.effective_chat
    assert chat is not None
    sent = None
    pieces = fitted(text, markup)
    for n, (piece, buttons) in enumerate(pieces):
        try:
            sent = await send_retrying(context, chat.id, piece, buttons)
        except BadRequest:
            raise  # refused as such: sending it again changes nothing
        except (NetworkError, RetryAfter) as exc:
            if not owed:
                raise
            await owe(context, chat.id, pieces[n:], exc)
            return None
    return sent


# bot_data's key for the courier's `send_soon`: the courier builds on this module, so it is
# handed in when the application is built rather than imported here.
OWED_SENDER = "send_owed_soon"


async def owe(
    context: Context,
    chat_id: int,
    pieces: list[tuple[str, InlineKeyboardMarkup | None]],
    exc: TelegramError,
) -> None:
    """What is left of an answer, stored for the courier and sent as soon as it may be."""
    log.warning("answer to %s failed, the outbox sends it: %s", chat_id, exc)
    markup = pieces[-1][1]
    rows = (
        [[(b.text, str(b.callback_data)) for b in row] for row in markup.inline_keyboard]
        if markup
        else []
    )
    retry_after = _seconds(exc.retry_after) if isinstance(exc, RetryAfter) else None
    text = "\n".join(piece for piece, _ in pieces)
    stored = await outbox.owe_answer(env_of(context), chat_id, text, rows, retry_after)
    # else the courier sends it when Telegram said it may (or its job does, without a sender)
    send_soon = context.application.bot_data.get(OWED_SENDER)
    if retry_after is None and send_soon is not None:
        await send_soon(context, (stored,))


def fitted(
    text: str, markup: InlineKeyboardMarkup | None = None
) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """A text as the messages Telegram accepts: split at line ends when longer than one
    message may be, the buttons under the last part."""
    pieces = split_html(text)
    return [(piece, None) for piece in pieces[:-1]] + [(pieces[-1], markup)]


Sent = TypeVar("Sent")
# Pauses before trying an answer again after a timeout, a 5xx or a short 429.
RETRY_DELAYS = (0.5, 1.5)
LONGEST_WAIT = 5.0  # a longer 429 is left to the outbox rather than keeping the user waiting


async def send_retrying(
    context: Context, chat_id: int, text: str, markup: InlineKeyboardMarkup | None
) -> Message | None:
    """Send an answer, trying again on transient faults; the last fault is raised."""
    return await retrying(lambda: context.bot.send_message(chat_id, text, reply_markup=markup))


async def retrying(send: Callable[[], Awaitable[Sent]]) -> Sent | None:
    """Make one send to the person answered, trying again on transient faults (a timeout,
    a 5xx, a short 429); a refusal and the last fault are raised."""
    for delay in (*RETRY_DELAYS, None):
        try:
            return await send()
        except (BadRequest, Forbidden):
            raise  # final: retrying changes nothing
        except RetryAfter as exc:
            wait = _seconds(exc.retry_after)
            if delay is None or wait > LONGEST_WAIT:
                raise
            await asyncio.sleep(wait)
        except NetworkError:  # timeouts and 5xx
            if delay is None:
                raise
            await asyncio.sleep(delay)


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total() if total else value)


def refusal_text(exc: DomainError) -> str:
    params = {k: esc(v) for k, v in exc.params.items()}
    if isinstance(exc, InvalidInput):
        field = name("field", exc.params.get("field"), default=t("field.input"))
        reason = str(exc.params.get("reason"))
        key = f"input.{reason}" if has(f"input.{reason}") else "input.invalid"
        if reason == "bare_value":  # a date or a number typed where words were asked for
            params["what"] = name("bare_value", exc.params.get("what"))
        return t(key, **{**params, "field": field, "limit": params.get("limit", "")})
    if isinstance(exc, InvalidTransition):
        family = "task_state" if "seq" in exc.params else "state"
        params["state_name"] = name(family, exc.params.get("state"), default="")
    if isinstance(exc, InviteInvalid):
        reason = str(exc.params.get("reason", "unknown"))
        if reason == "used" and exc.params.get("at"):  # when (and by whom) it was used
            params["reason_text"] = t(
                "invite_used_by", at=params["at"], by_text=by_whom(exc.params.get("by"))
            )
        else:
            params["reason_text"] = t(f"invite_{reason}")
    if isinstance(exc, ContactAlreadyRemoved | BaobaoUnchanged):
        params["by_text"] = by_whom(exc.params.get("by"))
    return t(exc.key, **params)


def actor_name(actor: Actor) -> str:
    """The actor as others read them: their name, or their role when they have none."""
    return person_name(actor.name, None if actor.role is Role.ADMIN else actor.role)


ROLES = frozenset(Role)  # _remover's role, for one that has no name to show


def by_whom(who: object) -> str:
    """ " 由 陈经理 " in "已于 … 由 陈经理 移除"; a leader by role; " " when nobody is known."""
    if not who:
        return " "
    named = name("role", who) if who in ROLES else esc(who)
    return t("by_whom", who=named)


def removal_text(removal: people.Removal) -> str:
    """What a removed contact is told: from which enterprise, when, by whom, whom to ask."""
    enterprise = removal.enterprise
    baobao = ""
    if removal.baobao:
        official, department = removal.baobao
        official = person_name(official, Role.OFFICIAL)
        baobao = t("colleague.removed_baobao", name=esc(official), department=esc(department))
    return t(
        "colleague.removed_notice",
        enterprise=esc(enterprise.name),
        at=removal.at,
        by_text=by_whom(removal.by),
        contact=esc(enterprise.contact_name),
        phone=esc(checks.masked_phone(enterprise.phone)),  # no longer one of theirs
        baobao=baobao,
    )


async def removed_text(env: Env, tg_id: int) -> str | None:
    """The removal notice for someone removed as a contact, or None for anyone else."""
    removal = await people.removal(env, tg_id)
    return removal_text(removal) if removal else None


# What a stranger is refused with; a removed contact is told instead that they were removed
# (and whom to ask), rather than invited to register an enterprise that is registered.
_STRANGER_REFUSALS = (NotRegistered, NotAllowed, AppealNotFound)


def refusals(handler: Handler) -> Handler:
    """Turn a domain refusal into a clear message; bad input keeps the user's flow (they
    retype), any other refusal ends it. Forged callback data is refused as an unknown id."""

    @functools.wraps(handler)
    async def wrapper(update: Update, context: Context, *args: Any) -> Any:
        if context.args:
            context.args = command_words(context.args)
        try:
            return await _unreadable_as_unknown(handler, update, context, *args)
        except InvalidInput as exc:
            await refuse(update, context, refusal_text(exc))
        except (StaleAction, InvalidTransition) as exc:
            await _end_flow(update, context)
            change = await _explaining(update, context, exc)
            if not await _done_by_presser(update, exc, change):
                await refuse(update, context, stale_text(env_of(context), exc, change))
        except DomainError as exc:
            await _end_flow(update, context)
            if _transferred_by_presser(update, exc) and await again(update, Action.TRANSFER):
                return None
            if isinstance(exc, AppealMovedAway | TaskReassigned):
                _name_the_move(env_of(context), exc)
            removed = None
            if isinstance(exc, _STRANGER_REFUSALS) and update.effective_user is not None:
                removed = await removed_text(env_of(context), update.effective_user.id)
            await refuse(update, context, removed or refusal_text(exc))
        return None

    return wrapper


def command_words(words: list[str]) -> list[str]:
    """A command's arguments as a person sees them: without invisible characters (controls
    such as NUL, zero-width and direction marks), empty ones dropped. A code pasted with a
    stray mark finds what it names, and no database is handed text it cannot hold
    (PostgreSQL keeps no NUL in text) — the same answer on every backend."""
    return [word for word in (checks.without_invisible(w).strip() for w in words) if word]


def _name_the_move(env: Env, exc: DomainError) -> None:
    """An item the person had, gone to another: when (local time) and who, as shown."""
    params = exc.params
    params["at"] = local_time(env, params["at"]) if params.get("at") else ""
    params["who"] = person_name(str(params.get("who") or ""), params.get("who_role") or None)
    if "owner" in params:
        params["owner"] = person_name(str(params["owner"]), Role.OFFICIAL)


async def _unreadable_as_unknown(
    handler: Handler, update: Update, context: Context, *args: Any
) -> Any:
    """Run `handler`; callback data it decoded itself and could not read is refused as
    `pressed` refuses it (the kind's answer for an unknown id), never otherwise."""
    try:
        return await handler(update, context, *args)
    except BadCallback as exc:
        raise unknown_answer(exc) from None


async def refuse(update: Update, context: Context, text: str) -> None:
    """A refusal: in a group only the person who pressed sees it (a pop-up), never the group."""
    query = update.callback_query
    chat = update.effective_chat
    if query is not None and chat is not None and chat.type != "private":
        await answer_button(query, text, alert=True)
        return
    await say(update, context, text)


POPUP_LIMIT = 200  # characters of a pop-up (answerCallbackQuery's text)


def html_free(text: str) -> str:
    """Pop-ups show plain text: drop tags, undo escapes, keep Telegram's 200-character limit."""
    return cut(visible(text), POPUP_LIMIT)


EXTENSION_DECIDED = frozenset({EXTENSION_APPROVED, EXTENSION_DENIED})


async def answer_button(query: CallbackQuery, text: str | None = None, alert: bool = False) -> None:
    """Answer a button press (a pop-up when `text`). Telegram refuses an answer to an old
    press (a replay after a restart, a slow step): the action stands, so that is only logged,
    never turned into an error message in the chat."""
    try:
        await query.answer(html_free(text) if text else None, show_alert=alert)
    except TelegramError as exc:
        log.warning("answerCallbackQuery failed: %s", exc)


async def again(update: Update, code: str) -> bool:
    """A button whose action is done tapped again: answered on the button ("已签收，无需重复
    操作"), no message in the chat. False when the update is no button press, or the action
    has no such answer (`again.<code>` in the catalog)."""
    query = update.callback_query
    text = name("again", code, default="")
    if query is None or not text:
        return False
    await answer_button(query, text)
    return True


# An appeal as it is now and the change that explains a refused press (`last_change`).
Change = tuple[Appeal, Event | None]


async def _explaining(
    update: Update, context: Context, exc: StaleAction | InvalidTransition
) -> Change | None:
    """What explains a press the appeal's state or a change refused, read once (as the
    presser may read it) for both `_done_by_presser` and `stale_text`; None when the
    refusal names no appeal and action (a task's, or one without them)."""
    number, action = exc.params.get("number"), str(exc.params.get("action", ""))
    if isinstance(exc, TaskStale | TaskWrongState) or not number or not action:
        return None
    return await last_change(env_of(context), caller(update), number, action)


async def _done_by_presser(
    update: Update, exc: StaleAction | InvalidTransition, change: Change | None
) -> bool:
    """A button refused because the presser's own action already put the appeal where the
    button would (签收 on another card of an appeal they claimed, 办结 after closing it):
    answered as done (`again`) rather than as a change to explain. True when so answered."""
    action = str(exc.params.get("action", ""))
    if update.callback_query is None or change is None:
        return False
    appeal, event = change
    user = update.effective_user
    if event is None or user is None or event.actor_id != user.id:
        return False
    if action == EXTENSION_DECISION:  # 同意延期 / 不同意 of a request the presser decided
        return event.action in EXTENSION_DECIDED and await again(update, event.action)
    return (
        event.action == action
        and already_there(action, appeal.state)
        and await again(update, action)
    )


def _transferred_by_presser(update: Update, exc: DomainError) -> bool:
    """转办 tapped again by the one who transferred the appeal away (they no longer see it)."""
    query, user = update.callback_query, update.effective_user
    return (
        isinstance(exc, AppealMovedAway)
        and query is not None
        and user is not None
        and kind_of(query.data or "") == CODES[Action.TRANSFER]
        and exc.params.get("by") == user.id
    )


def stale_text(env: Env, exc: StaleAction | InvalidTransition, change: Change | None) -> str:
    """A press the appeal's state or a change refuses names what the appeal is now and the
    change that explains it (relevant to the button, readable by the presser), who made it
    and when; "already so" when the action would put it where it is (撤回 twice)."""
    if change is None or change[1] is None:
        return refusal_text(exc)
    appeal, event = change
    action = str(exc.params.get("action", ""))
    key = "error_already" if already_there(action, appeal.state) else "error_stale_detail"
    return t(
        key,
        number=appeal.number,
        state=name("state", appeal.state),
        who=esc(person_name(event.actor_name, event.actor_role)),
        action=name("event", event.action, default=event.action),
        time=local_time(env, event.created_at),
    )


# The user's flow as read once per update (handlers/flow.py keeps it on the update's context,
# which python-telegram-bot shares between the handler groups of one update).
FLOW_CACHE = "appealdesk_flow"


def forget_flow(context: Context) -> None:
    context.__dict__.pop(FLOW_CACHE, None)


async def _end_flow(update: Update, context: Context) -> None:
    if update.effective_user is not None:
        await end_any(env_of(context), update.effective_user.id)
        forget_flow(context)


def message_text(update: Update) -> str:
    message = update.effective_message
    return (message.text or message.caption or "") if message else ""


async def uploaded(update: Update, context: Context) -> tuple[bytes, str] | None:
    """The document the message carries, downloaded, with its file name; None without one
    (a table to import, a form's definition, a list of USCCs)."""
    document = update.effective_message.document if update.effective_message else None
    if document is None:
        return None
    telegram_file = await context.bot.get_file(document.file_id)
    return bytes(await telegram_file.download_as_bytearray()), document.file_name or ""


def attachment_of(update: Update) -> Attachment | None:
    """The photo (largest size) or document a message carries, if any."""
    message = update.effective_message
    if message is None:
        return None
    if message.photo:
        photo = message.photo[-1]
        return Attachment("photo", photo.file_id, photo.file_unique_id)
    if message.document:
        doc = message.document
        # the name as shown: no controls (a database keeps no NUL in text), None if blank
        shown = checks.without_invisible(doc.file_name or "").strip() or None
        return Attachment("document", doc.file_id, doc.file_unique_id, shown)
    return None
