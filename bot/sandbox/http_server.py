"""The in-memory Bot API served over HTTP on 127.0.0.1, for `appealdesk run` end to end.

Needs the `server` (or `test`) extra: aiohttp.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from bot.sandbox.fake_api import FakeBotApi

LONG_POLL_CAP = 2.0
HANG_SECONDS = 30.0  # longer than python-telegram-bot's default read timeout (5 s)


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def make_app(api: FakeBotApi) -> web.Application:
    async def bot_method(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        if method == "getUpdates":
            timeout = min(float(params.get("timeout") or 0), LONG_POLL_CAP)
            await api.wait_for_updates(timeout, int(params.get("offset") or 0))
        status, body = api.handle(method, params)
        if status == 0:  # a hang: answer only after the client has given up
            await asyncio.sleep(HANG_SECONDS)
            status, body = 504, {"ok": False, "error_code": 504, "description": "Gateway Timeout"}
        return web.Response(
            status=status,
            text=json.dumps(body, ensure_ascii=False),
            content_type="application/json",
        )

    app = web.Application()
    app.router.add_route("*", "/bot{token}/{method}", bot_method)
    return app


async def serve(api: FakeBotApi, port: int = 0) -> tuple[web.AppRunner, int]:
    """Start serving on 127.0.0.1; returns the runner (to clean up) and the port."""
    runner = web.AppRunner(make_app(api))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    sockets = site._server.sockets  # noqa: SLF001 - aiohttp exposes the bound port only here
    return runner, sockets[0].getsockname()[1]
