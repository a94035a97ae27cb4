"""The in-memory Bot API served over HTTP on 127.0.0.1, for `appealdesk run` end to end.

Needs the `server` (or `test`) extra: aiohttp.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.sandbox.fake_api import FakeBotApi

LONG_POLL_CAP = 2.0


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
            await api.wait_for_updates(timeout)
        status, body = api.handle(method, params)
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
