"""A chat's lifecycle: a group upgraded to a supergroup is followed to its new id."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.usecases import outbox
from handlers.common import Context, env_of
from handlers.courier import send_soon


async def migrated(update: Update, context: Context) -> None:
    """Telegram's service message in the old group (migrate_to_chat_id) or in the new
    supergroup (migrate_from_chat_id): what was owed goes to the new id, used from now on."""
    message = update.effective_message
    if message.migrate_to_chat_id:
        old, new = message.chat.id, message.migrate_to_chat_id
    else:
        old, new = message.migrate_from_chat_id, message.chat.id
    if old and new and old != new:
        await send_soon(context, await outbox.chat_moved(env_of(context), old, new))
    raise ApplicationHandlerStop
