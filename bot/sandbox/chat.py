"""People chatting with the real handlers through the in-memory Bot API.

`Sandbox` runs the production Application on a fake Telegram; `Person` types, presses
buttons and reads what the bot sent. The demo and the tests are written with these.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.app import build_application, on_start, on_stop
from bot.clock import Clock
from bot.config import Settings
from bot.rules.org import OrgConfig
from bot.sandbox.fake_api import FakeBotApi, SentMessage, plain
from bot.sandbox.request import FakeRequest
from bot.usecases.env import Env

ALBUMS = itertools.count(1)  # media_group_id of the albums people send


class Sandbox:
    """The bot with its handlers, a database and a fake Telegram, in this process."""

    def __init__(self, app: Application, api: FakeBotApi, echo: Callable[[str], None] | None):
        self.app = app
        self.api = api
        self.names: dict[int, str] = {}
        self.transcript: list[str] = []
        self._echo = echo
        api.listeners.append(self._bot_said)

    @classmethod
    async def start(
        cls,
        settings: Settings,
        org: OrgConfig,
        clock: Clock,
        echo: Callable[[str], None] | None = None,
        api: FakeBotApi | None = None,
        names: dict[int, str] | None = None,
    ) -> Sandbox:
        """`names`: the people of the story by id, known before the bot says anything (its
        start-up notices to the leaders are then addressed by name, not by id)."""
        api = api or FakeBotApi(now=lambda: clock.now().timestamp())
        app = build_application(settings, org, clock=clock, request=FakeRequest(api))
        sandbox = cls(app, api, echo)
        sandbox.names.update(names or {})
        await app.initialize()
        await on_start(app)
        return sandbox

    async def stop(self) -> None:
        await on_stop(self.app)
        await self.app.shutdown()

    @contextmanager
    def silenced(self) -> Iterator[None]:
        """The transcript keeps going, the echo pauses (a long stretch told in a line)."""
        echo, self._echo = self._echo, None
        try:
            yield
        finally:
            self._echo = echo

    @property
    def env(self) -> Env:
        return self.app.bot_data["env"]

    def person(self, tg_id: int, first_name: str, last_name: str = "") -> Person:
        self.names[tg_id] = first_name + last_name
        return Person(
            self,
            {
                "id": tg_id,
                "is_bot": False,
                "first_name": first_name,
                "last_name": last_name,
                "language_code": "zh-hans",
            },
        )

    async def deliver(self, update: dict[str, Any]) -> None:
        """Hand one update to the Application, as polling would, and wait for its handlers."""
        await self.app.process_update(Update.de_json(update, self.app.bot))

    def note(self, line: str) -> None:
        self.transcript.append(line)
        if self._echo is not None:
            self._echo(line)

    def _bot_said(self, message: SentMessage) -> None:
        who = self.names.get(message.chat_id, str(message.chat_id))
        text = message.plain
        buttons = "  ".join(f"[{label}]" for label, _ in message.buttons)
        self.note(
            f"🤖 → {who}：" + text.replace("\n", "\n    ") + (f"\n    {buttons}" if buttons else "")
        )


class Person:
    """Somebody in a private chat with the bot."""

    def __init__(self, sandbox: Sandbox, user: dict[str, Any]) -> None:
        self.sandbox = sandbox
        self.user = user
        self.id: int = user["id"]
        self.name: str = user["first_name"] + user.get("last_name", "")

    @property
    def inbox(self) -> list[SentMessage]:
        """Everything the bot sent to this person, oldest first."""
        return self.sandbox.api.messages_to(self.id)

    @property
    def last(self) -> str:
        """The text of the newest message, as the user reads it."""
        return self.inbox[-1].plain if self.inbox else ""

    def mark(self) -> int:
        return len(self.inbox)

    def since(self, mark: int) -> list[str]:
        return [m.plain for m in self.inbox[mark:]]

    async def send(self, text: str) -> list[str]:
        """Type a message; returns what the bot answered this person."""
        mark = self.mark()
        self.sandbox.note(f"👤 {self.name}：{text}")
        await self.sandbox.deliver(self.sandbox.api.message_update(self.user, text))
        return self.since(mark)

    async def send_photo(self, caption: str | None = None) -> list[str]:
        mark = self.mark()
        self.sandbox.note(f"👤 {self.name}：［照片］{caption or ''}")
        update = self.sandbox.api.message_update(self.user, photo=True, caption=caption)
        await self.sandbox.deliver(update)
        return self.since(mark)

    async def send_album(self, photos: int, caption: str | None = None) -> list[str]:
        """Photos sent together (one media group): Telegram delivers each as a message of
        its own, the caption on the first."""
        mark = self.mark()
        self.sandbox.note(f"👤 {self.name}：［{photos} 张照片］{caption or ''}")
        album = f"album-{next(ALBUMS)}"
        for n in range(photos):
            update = self.sandbox.api.message_update(
                self.user, photo=True, caption=caption if n == 0 else None, media_group_id=album
            )
            await self.sandbox.deliver(update)
        return self.since(mark)

    async def send_document(
        self, file_name: str, caption: str | None = None, content: bytes | None = None
    ) -> list[str]:
        mark = self.mark()
        self.sandbox.note(f"👤 {self.name}：［文件 {file_name}］{caption or ''}")
        update = self.sandbox.api.message_update(
            self.user, document=file_name, caption=caption, content=content
        )
        await self.sandbox.deliver(update)
        return self.since(mark)

    def find_button(self, label: str, containing: str | None = None) -> tuple[SentMessage, str]:
        """The newest message of this chat with a button labelled `label`."""
        for message in reversed(self.inbox):
            if containing is not None and containing not in message.plain:
                continue
            for text, data in message.buttons:
                if text == label:
                    return message, data
        raise LookupError(f"{self.name} has no button {label!r}")

    async def press(self, label: str, containing: str | None = None) -> list[str]:
        """Press the button `label` on the newest message that has it."""
        message, data = self.find_button(label, containing)
        return await self.press_data(message, data, label)

    async def press_data(self, message: SentMessage, data: str, label: str = "") -> list[str]:
        """Press a button with any callback data, as a forged client could."""
        mark = self.mark()
        self.sandbox.note(f"👤 {self.name}：（点击“{label or data}”）")
        await self.sandbox.deliver(self.sandbox.api.callback_update(self.user, message, data))
        return self.since(mark)


__all__ = ["Person", "Sandbox", "plain"]
