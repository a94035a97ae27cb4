"""Periodic work on the JobQueue: the daily sweep of the ladder and notice delivery."""

from __future__ import annotations

import asyncio
import logging
from datetime import time

from telegram import Bot
from telegram.ext import Application

from bot.usecases import broadcasts, ladder, monthly, outbox
from bot.usecases.env import Env
from handlers import courier, flow, limits
from handlers.common import Context
from handlers.instances import leader_only

log = logging.getLogger(__name__)

# The courier looks for due messages this often (retries, stored answers, ladder notices).
DELIVERY_SECONDS = 2
DRAINING = "courier_draining"
# Lapsed prompts are announced within this many seconds of their expiry.
LAPSE_SECONDS = 30


async def deliver_notices(bot: Bot, env: Env) -> int:
    """Hand owed ladder notices and broadcasts whose moment came to the outbox, then send
    everything due."""
    await ladder.enqueue_due(env)
    await broadcasts.advance(env)
    return await courier.drain(bot, env)


async def run_sweep(app: Application) -> dict[str, int] | None:
    """Create today's notices from the database, then deliver them."""
    env: Env = app.bot_data["env"]
    created = await ladder.sweep(env)
    asked = await monthly.sweep(env)  # 月报: asked, reminded, escalated
    if asked:
        log.info("monthly reports: %d notices made", asked)
    if created and any(created.values()):
        log.info("sweep created notices: %s", {k: v for k, v in created.items() if v})
    if created is not None:
        await outbox.report_unreachable(env)
    async with _draining(app):  # one drain at a time: a crash finds one message in flight
        await deliver_notices(app.bot, env)
    return created


def _draining(app: Application) -> asyncio.Lock:
    return app.bot_data.setdefault(DRAINING, asyncio.Lock())


async def sweep_job(context: Context) -> None:
    """JobQueue callback: the daily sweep (and the one at start-up)."""
    limits.bulk()  # notices: answers to people who are waiting go first
    await run_sweep(context.application)


async def delivery_job(context: Context) -> None:
    """JobQueue callback: send whatever the outbox holds that is due (one drain at a time)."""
    busy = _draining(context.application)
    if busy.locked():
        return
    limits.bulk()
    async with busy:
        env = context.application.bot_data["env"]
        await broadcasts.advance(env)  # scheduled ones released, finished ones told
        await courier.drain(context.bot, env)


def schedule(app: Application, sweep_at: time) -> None:
    """The sweep every day at `sweep_at` (local time) and once at start-up; retries."""
    jobs = app.job_queue
    if jobs is None:
        log.warning("no JobQueue: install python-telegram-bot[job-queue]; reminders are off")
        return
    # Several instances: these run on the leader only (handlers/instances.py).
    jobs.run_daily(leader_only(sweep_job), time=sweep_at, name="ladder-sweep")
    jobs.run_once(leader_only(sweep_job), when=5, name="ladder-sweep-at-start")
    lapse = leader_only(flow.lapse_job)
    jobs.run_repeating(lapse, interval=LAPSE_SECONDS, first=LAPSE_SECONDS, name="lapse")
    jobs.run_repeating(
        leader_only(delivery_job),
        interval=DELIVERY_SECONDS,
        first=DELIVERY_SECONDS,
        name="delivery",
        # A drain may outlast the interval (a backlog at the flood limit): the next run then
        # finds the courier busy and returns at once, instead of the scheduler logging a
        # skipped run every two seconds.
        job_kwargs={"max_instances": 2, "coalesce": True},
    )
