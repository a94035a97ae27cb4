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
from bot.config import ConfigError, Settings
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


class WebhookInUse(ConfigError):
    """Long polling asked for while Telegram posts this bot's updates to a webhook."""


def poll_as_one(
    app: Application, say: Callable[[str], None], replace_webhook: bool = False
) -> None:
    """Long polling: after start-up the poller's lease is taken (waiting, and saying so,
    while another instance polls); it is renewed while polling and given back at the end.
    While a webhook is set (instances of `appealdesk run --webhook` serve the bot) it
    refuses, unless `replace_webhook`: polling would take every update from them."""

    async def start(app: Application) -> None:
        registered = (await app.bot.get_webhook_info()).url
        if registered and not replace_webhook:
            raise WebhookInUse(
                f"Telegram posts this bot's updates to a webhook ({registered}), served by"
                " `appealdesk run --webhook`: long polling would take them all from it."
                " Serve with `appealdesk run --webhook`, or stop those instances and poll"
                " instead with `appealdesk run --replace-webhook`"
            )
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
    site: web.AppRunner | None = None
    try:
        if app.post_init is not None:
            await app.post_init(app)
        at, weekday = settings.digest_at, settings.digest_weekday
        catch_up = [(sweep_job, None), (digest_catch_up_job, (at, weekday))]
        inbox = serve_several(app, instance_name(), catch_up)
        await app.start()
        site = web.AppRunner(
            make_webhook_app(inbox, app.bot_data["env"], secret, settings.webhook_path)
        )
        await site.setup()
        host, port = settings.webhook_address
        # listening first: an instance that cannot (its port taken) stops before it has
        # pointed Telegram anywhere
        await web.TCPSite(site, host, port).start()
        registered = (await app.bot.get_webhook_info()).url
        if registered and registered != settings.webhook_url:
            log.warning(
                "the webhook was %s; now %s (every instance must have the same WEBHOOK_URL"
                " and WEBHOOK_SECRET: the last one started sets them for all)",
                registered,
                settings.webhook_url,
            )
        await app.bot.set_webhook(
            settings.webhook_url, secret_token=secret, allowed_updates=Update.ALL_TYPES
        )
        log.info(
            "serving updates posted to %s on %s", settings.webhook_path, settings.webhook_listen
        )
        await _until_told_to_stop()
        await site.cleanup()
        site = None
        leadership: Leadership = app.bot_data[LEADERSHIP]
        await leadership.resign()
        await app.stop()
        if app.post_stop is not None:
            await app.post_stop(app)
    finally:
        if site is not None:  # start-up failed after it listened: no post is taken any more
            await site.cleanup()
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
