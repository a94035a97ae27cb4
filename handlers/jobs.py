"""Periodic work on the JobQueue: the daily sweep of the ladder and notice delivery."""

from __future__ import annotations

import logging
from datetime import time

from telegram import Bot
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application

from bot.usecases import ladder
from bot.usecases.env import Env
from handlers.common import Context
from handlers.render import ladder_notice

log = logging.getLogger(__name__)

DELIVERY_RETRY_SECONDS = 600


async def deliver_notices(bot: Bot, env: Env) -> int:
    """Send every stored notice still owed to someone; returns how many messages went out."""
    sent = 0
    for item in await ladder.pending(env):
        text, markup = ladder_notice(item, env)
        retry_later = False
        for chat_id in item.chats:
            try:
                await bot.send_message(chat_id, text, reply_markup=markup)
            except BadRequest as exc:  # a permanent refusal (e.g. chat not found)
                log.warning("notice %s to %s refused: %s", item.serial, chat_id, exc)
                await ladder.record(env, item.id, chat_id, str(exc))
                continue
            except (NetworkError, RetryAfter) as exc:  # transient: the next run tries again
                log.warning("notice %s to %s postponed: %s", item.serial, chat_id, exc)
                retry_later = True
                continue
            except TelegramError as exc:  # e.g. the user blocked the bot
                log.warning("notice %s to %s failed: %s", item.serial, chat_id, exc)
                await ladder.record(env, item.id, chat_id, str(exc))
                continue
            await ladder.record(env, item.id, chat_id)
            sent += 1
        if not retry_later:
            await ladder.finish(env, item.id)
    return sent


async def run_sweep(app: Application) -> dict[str, int] | None:
    """Create today's notices from the database, then deliver them."""
    env: Env = app.bot_data["env"]
    created = await ladder.sweep(env)
    if created:
        log.info("sweep created notices: %s", {k: v for k, v in created.items() if v})
    await deliver_notices(app.bot, env)
    return created


async def sweep_job(context: Context) -> None:
    """JobQueue callback: the daily sweep (and the one at start-up)."""
    await run_sweep(context.application)


async def delivery_job(context: Context) -> None:
    """JobQueue callback: retry notices that could not be delivered before."""
    await deliver_notices(context.bot, context.application.bot_data["env"])


def schedule(app: Application, sweep_at: time) -> None:
    """The sweep every day at `sweep_at` (local time) and once at start-up; retries."""
    jobs = app.job_queue
    if jobs is None:
        log.warning("no JobQueue: install python-telegram-bot[job-queue]; reminders are off")
        return
    jobs.run_daily(sweep_job, time=sweep_at, name="ladder-sweep")
    jobs.run_once(sweep_job, when=5, name="ladder-sweep-at-start")
    jobs.run_repeating(
        delivery_job, interval=DELIVERY_RETRY_SECONDS, first=DELIVERY_RETRY_SECONDS, name="delivery"
    )
