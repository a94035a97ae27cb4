"""How `appealdesk run` serves Telegram: by long polling (one instance; a second one waits as
a standby), or with `--webhook` behind a reverse proxy (as many instances as wanted, on one
database: handlers/instances.py)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from telegram import Update
from telegram.ext import Application

from bot.app import on_start_to_serve
from bot.config import Settings
from handlers.digest import digest_catch_up_job
from handlers.instances import (
    LEADERSHIP,
    POLLER_RENEW_SECONDS,
    Leadership,
    PollerLease,
    instance_name,
    serve_several,
)
from handlers.jobs import sweep_job

log = logging.getLogger(__name__)

POLLER = "poller_lease"


def poll_as_one(app: Application, say: Callable[[str], None]) -> None:
    """Long polling: after start-up the poller's lease is taken (waiting, and saying so,
    while another instance polls); it is renewed while polling and given back at the end."""

    async def start(app: Application) -> None:
        await on_start_to_serve(app)
        lease = PollerLease(app.bot_data["env"], instance_name())
        await lease.wait_for_it(say)
        app.bot_data[POLLER] = lease
        app.job_queue.run_repeating(
            lease.renew_job, interval=POLLER_RENEW_SECONDS, first=POLLER_RENEW_SECONDS
        )

    async def stop(app: Application) -> None:
        lease: PollerLease | None = app.bot_data.get(POLLER)
        if lease is not None:
            await lease.release()

    app.post_init, app.post_stop = start, stop


async def serve_webhook(app: Application, settings: Settings) -> None:
    """Start up, register the webhook (the same URL and secret from every instance: doing so
    again changes nothing), serve updates at WEBHOOK_LISTEN until SIGINT or SIGTERM, then
    stop cleanly (the leader's lease given back, so another instance leads at once)."""
    from aiohttp import web

    from handlers.webhook import make_webhook_app

    assert settings.webhook_url is not None and settings.webhook_secret is not None
    secret = settings.webhook_secret.get_secret_value()
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        at, weekday = settings.digest_at, settings.digest_weekday
        catch_up = [(sweep_job, None), (digest_catch_up_job, (at, weekday))]
        inbox = serve_several(app, instance_name(), catch_up)
        await app.bot.set_webhook(
            settings.webhook_url, secret_token=secret, allowed_updates=Update.ALL_TYPES
        )
        await app.start()
        site = web.AppRunner(
            make_webhook_app(inbox, app.bot_data["env"], secret, settings.webhook_path)
        )
        await site.setup()
        host, port = settings.webhook_address
        await web.TCPSite(site, host, port).start()
        log.info(
            "serving updates posted to %s on %s", settings.webhook_path, settings.webhook_listen
        )
        await _until_told_to_stop()
        await site.cleanup()
        leadership: Leadership = app.bot_data[LEADERSHIP]
        await leadership.resign()
        await app.stop()
        if app.post_stop is not None:
            await app.post_stop(app)
    finally:
        if app.running:
            await app.stop()
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


async def _until_told_to_stop() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
