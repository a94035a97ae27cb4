"""A python-telegram-bot request class that talks to the in-memory Bot API."""

from __future__ import annotations

import json

from telegram.error import TimedOut
from telegram.request import BaseRequest, RequestData

from bot.sandbox.fake_api import FakeBotApi


class FakeRequest(BaseRequest):
    """Every call of the bot goes to `api` instead of the network."""

    def __init__(self, api: FakeBotApi) -> None:
        self.api = api

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = None,
        write_timeout: object = None,
        connect_timeout: object = None,
        pool_timeout: object = None,
    ) -> tuple[int, bytes]:
        if "/file/bot" in url:  # a file download: raw bytes, not JSON
            content = self.api.files.get(url.rsplit("/", 1)[-1])
            return (200, content) if content is not None else (404, b"not found")
        api_method = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data is not None else {}
        if request_data is not None and request_data.contains_files:
            params["_files"] = {
                name: (part[0], part[1] if isinstance(part[1], bytes) else part[1].read())
                for name, part in request_data.multipart_data.items()
            }
        status, body = self.api.handle(api_method, params)
        if status == 0:  # the fake "hung": what the client sees after its read timeout
            raise TimedOut()
        return status, json.dumps(body).encode()
