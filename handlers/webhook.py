"""`appealdesk run --webhook`: Telegram's updates served over HTTP (aiohttp, the `server`
extra), behind a reverse proxy that does TLS.

POST to the path of WEBHOOK_URL: the update, with WEBHOOK_SECRET in Telegram's
`X-Telegram-Bot-Api-Secret-Token` header — a wrong or missing one gets 403 and changes
nothing; what is not an update gets 400. 200 comes once the update is stored in the
database (claimed), and it is handled in a task of its own (`Inbox.accept`): should this
process die before storing it, Telegram posts it again; after, another instance takes it
up. An update stored already gets 200 and nothing more. GET /healthz: 200 while the
database answers, else 503."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging

from aiohttp import web

from bot.usecases import instances
from bot.usecases.env import Env
from handlers.instances import Inbox, NotAnUpdate

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HEALTH_PATH = "/healthz"
HEALTH_SECONDS = 3.0


def make_webhook_app(inbox: Inbox, env: Env, secret: str, path: str) -> web.Application:
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return web.Response(status=403, text="forbidden")
        try:
            payload = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400, text="not JSON")
        if not isinstance(payload, dict) or type(payload.get("update_id")) is not int:
            return web.Response(status=400, text="not an update")
        try:
            await inbox.accept(payload)
        except NotAnUpdate as exc:  # what did not read is logged, not shown to the poster
            log.info("update %s refused: %s", payload.get("update_id"), exc)
            return web.Response(status=400, text="not an update")
        except Exception:  # noqa: BLE001 - not stored: Telegram posts it again
            log.exception("update %s not taken", payload.get("update_id"))
            return web.Response(status=500, text="not taken")
        return web.Response(status=200, text="ok")

    async def health(request: web.Request) -> web.Response:
        try:
            ok = await asyncio.wait_for(instances.reachable(env), HEALTH_SECONDS)
        except TimeoutError:
            ok = False
        if ok:
            return web.Response(status=200, text="ok")
        return web.Response(status=503, text="database unreachable")

    app = web.Application()
    app.router.add_post(path, receive)
    app.router.add_get(HEALTH_PATH, health)
    return app
