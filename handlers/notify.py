"""Delivering the notices a use case produced, after its transaction committed."""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.error import TelegramError

from bot.rules.model import Notice
from bot.usecases.env import Env
from handlers.render import notice

log = logging.getLogger(__name__)


async def deliver(bot: Bot, env: Env, notices: list[Notice]) -> None:
    """Send each notice; one unreachable recipient does not stop the others."""
    for note in notices:
        text, markup = notice(note, env)
        try:
            await bot.send_message(note.chat_id, text, reply_markup=markup)
        except TelegramError as exc:
            log.warning(
                "notice %s for %s to chat %s failed: %s",
                note.kind,
                note.appeal.number,
                note.chat_id,
                exc,
            )
