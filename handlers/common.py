"""Shared pieces of the handlers: the desk, the actor, replies and refusals."""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes, ConversationHandler

from bot.desk import Desk
from bot.errors import DomainError, InvalidInput, InvalidTransition, InviteInvalid
from bot.model import Actor
from bot.texts import FIELD_NAMES, INPUT_REASONS, STATE_NAMES, t
from handlers.callback_data import BadCallback

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
Handler = Callable[[Update, Context], Awaitable[Any]]


def esc(value: object) -> str:
    """User-supplied text made safe for an HTML message."""
    return html.escape(str(value), quote=False)


def desk_of(context: Context) -> Desk:
    return context.application.bot_data["desk"]


async def actor_of(update: Update, context: Context) -> Actor:
    user = update.effective_user
    assert user is not None
    return await desk_of(context).actor(user.id, user.full_name)


def keyboard(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


async def say(
    update: Update, context: Context, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Answer in the chat the update came from (a button press is acknowledged first)."""
    if update.callback_query is not None:
        try:
            await update.callback_query.answer()
        except TelegramError as exc:
            log.warning("answerCallbackQuery failed: %s", exc)
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_message(chat.id, text, reply_markup=markup)


def refusal_text(exc: DomainError) -> str:
    params = {k: esc(v) for k, v in exc.params.items()}
    if isinstance(exc, InvalidInput):
        field = FIELD_NAMES.get(str(exc.params.get("field")), "输入")
        template = INPUT_REASONS.get(str(exc.params.get("reason")), INPUT_REASONS["invalid"])
        return template.format(field=field, limit=exc.params.get("limit", ""))
    if isinstance(exc, InvalidTransition):
        params["state_name"] = STATE_NAMES.get(exc.params.get("state"), "")
    if isinstance(exc, InviteInvalid):
        params["reason_text"] = t(f"invite_{exc.params.get('reason', 'unknown')}")
    return t(exc.key, **params)


def refusals(handler: Handler) -> Handler:
    """Turn a domain refusal into a clear message; bad input keeps the conversation state,
    any other refusal ends it. Forged callback data is refused the same way."""

    @functools.wraps(handler)
    async def wrapper(update: Update, context: Context) -> Any:
        try:
            return await handler(update, context)
        except InvalidInput as exc:
            await say(update, context, refusal_text(exc))
            return None
        except DomainError as exc:
            await say(update, context, refusal_text(exc))
            return ConversationHandler.END
        except BadCallback:
            await say(update, context, t("error_not_allowed"))
            return ConversationHandler.END

    return wrapper


def message_text(update: Update) -> str:
    message = update.effective_message
    return (message.text or message.caption or "") if message else ""
