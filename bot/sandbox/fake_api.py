"""An in-memory Telegram Bot API: records what the bot sends and makes the updates it gets.

It speaks plain JSON, so one instance serves both the in-process request class and the
local HTTP server.
"""

from __future__ import annotations

import asyncio
import html
import json
import math
import re
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from itertools import count
from typing import Any

from bot.telegram_limits import CAPTION_LIMIT, TEXT_LIMIT, markup_problem, units, visible

BOT_USER = {
    "id": 123456789,
    "is_bot": True,
    "first_name": "涉企诉求直通车",
    "username": "AppealDeskBot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
JSON_FIELDS = (
    "reply_markup",
    "commands",
    "scope",
    "allowed_updates",
    "entities",
    "link_preview_options",
)
TAG_RE = re.compile(r"<[^>]+>")


def plain(text: str) -> str:
    """HTML message text as the user reads it."""
    return html.unescape(TAG_RE.sub("", text))


@dataclass
class SentMessage:
    chat_id: int
    message_id: int
    text: str
    reply_markup: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False)

    @property
    def plain(self) -> str:
        return plain(self.text)

    @property
    def buttons(self) -> list[tuple[str, str]]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


# Telegram's flood limits as its documentation states them: messages in any `period`
# seconds, for the bot as a whole, to one private chat, to one group (a negative chat id).
OVERALL_LIMIT, OVERALL_PERIOD = 30, 1.0
CHAT_LIMIT, CHAT_PERIOD = 1, 1.0
GROUP_LIMIT, GROUP_PERIOD = 20, 60.0
# The calls that send a message (a chat action is not one).
COUNTED = ("send", "copyMessage", "forwardMessage")


def counted(method: str) -> bool:
    return method.startswith(COUNTED) and method != "sendChatAction"


class StrictLimits:
    """Telegram's flood limits, kept strictly: a message is refused when the bot has sent
    30 in the sliding second before it, or one to the same private chat, or 20 to the same
    group in the sliding minute; a refused message counts towards nothing. `clock` gives
    seconds (monotonic: the tests pass a manual one)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._overall: deque[float] = deque()
        self._chats: dict[int | str, deque[float]] = {}
        # the 429s given, by the limit that gave them: "overall", "chat" or "group"
        self.refused: Counter[str] = Counter()
        self.refused_to: Counter[int | str] = Counter()  # a chat's or a group's, by chat
        self.accepted: list[float] = []  # when each message counted was accepted

    def admit(self, chat_id: int | str) -> int | None:
        """Count a message to `chat_id` now; None when it may go, else the whole seconds
        to wait (Telegram's retry_after)."""
        now = self.clock()
        group = not isinstance(chat_id, int) or chat_id < 0
        chat = self._chats.setdefault(chat_id, deque())
        for kind, sent, limit, period in (
            ("overall", self._overall, OVERALL_LIMIT, OVERALL_PERIOD),
            ("group", chat, GROUP_LIMIT, GROUP_PERIOD) if group else
            ("chat", chat, CHAT_LIMIT, CHAT_PERIOD),
        ):  # fmt: skip
            while sent and sent[0] <= now - period:
                sent.popleft()
            if len(sent) >= limit:
                self.refused[kind] += 1
                if kind != "overall":
                    self.refused_to[chat_id] += 1
                return max(1, math.ceil(sent[0] + period - now))
        self._overall.append(now)
        chat.append(now)
        self.accepted.append(now)
        return None

    def busiest(self, period: float = OVERALL_PERIOD) -> int:
        """The most messages accepted in any sliding `period` (for the benches' reports)."""
        most, first = 0, 0
        for last, at in enumerate(self.accepted):
            while self.accepted[first] <= at - period:
                first += 1
            most = max(most, last - first + 1)
        return most


class FakeBotApi:
    """Telegram's side of the conversation, without a network. With `strict_limits` (or
    after `keep_limits()`) it refuses, as Telegram does, what breaks its flood limits
    (`limits` counts them), timed by `monotonic` (seconds; a manual clock in tests)."""

    def __init__(
        self,
        now: Any = None,
        first_update_id: int = 1,
        *,
        strict_limits: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._now = now or (lambda: 1_767_225_600)
        self.limits: StrictLimits | None = StrictLimits(monotonic) if strict_limits else None
        self.sent: list[SentMessage] = []
        self._sent_to: dict[int, list[SentMessage]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        # method → (HTTP status, description, how many more times or None for always)
        self.failures: dict[str, tuple[int, str, int | None]] = {}
        # chat id → the same, for every method sent to that chat (a blocked user, say)
        self.chat_failures: dict[int, tuple[int, str, int | None]] = {}
        self.pending_updates: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}  # file_id → content users uploaded
        self.documents: list[tuple[int, str, bytes]] = []  # (chat, file name, content) sent
        self.photos: list[tuple[int, bytes]] = []  # (chat, image) sent
        # file ids Telegram knows: what users sent and what the bot uploaded
        self.known_files: set[str] = set()
        # (chat, "photo" | "document", file_id, caption) of every file sent again by its id
        self.resent: list[tuple[int, str, str, str]] = []
        self._update_ids = count(first_update_id)
        self._message_ids = count(1)
        self._new_updates: asyncio.Event | None = None
        self.listeners: list[Any] = []
        self.malformed: list[tuple[str, str]] = []  # (text, why) refused as bad HTML
        self.refused: list[tuple[str, str]] = []  # (method, why) refused as over a limit
        self._chaos: tuple[Any, float, float, float] | None = None
        # (time, chat, text, status) of every message the bot tried to send
        self.attempts: list[tuple[float, int | None, str, int]] = []
        self.migrated: dict[int, int] = {}  # a group's id → its supergroup's (migrate_chat)
        # setWebhook's URL and secret while one is set (then getUpdates is refused, as
        # Telegram refuses it)
        self.webhook: dict[str, Any] | None = None

    # the Bot API ------------------------------------------------------------------
    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer one Bot API call: (HTTP status, JSON body)."""
        params = {k: _decode(k, v) for k, v in params.items()}
        self.calls.append((method, params))
        problem = html_problem(params) if method.startswith(("send", "edit")) else None
        if problem is not None:  # as Telegram does: the message is refused, not shown garbled
            self.malformed.append((str(params.get("text") or params.get("caption")), problem))
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": f"Bad Request: can't parse entities: {problem}",
            }
        too_big = limit_problem(method, params)
        if too_big is not None:  # as Telegram does: refused whole, never cut
            self.refused.append((method, too_big))
            return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {too_big}"}
        if method in self.failures:
            return self._fail(self.failures, method)
        if method == "getUpdates" and self.webhook is not None:
            description = "Conflict: can't use getUpdates method while webhook is active"
            return 409, {"ok": False, "error_code": 409, "description": description}
        chat = str(params.get("chat_id", ""))
        chat_id = int(chat) if chat.lstrip("-").isdigit() else None
        if method.startswith("send") and chat_id in self.migrated:
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: group chat was upgraded to a supergroup chat",
                "parameters": {"migrate_to_chat_id": self.migrated[chat_id]},
            }
        if self.limits is not None and counted(method) and "chat_id" in params:
            retry_after = self.limits.admit(chat_id if chat_id is not None else chat)
            if retry_after is not None:
                if method == "sendMessage":
                    self.attempts.append((self._now(), chat_id, str(params.get("text", "")), 429))
                return 429, too_many(retry_after)
        if method == "sendMessage":
            status, body = self._send_message(params, chat_id)
            self.attempts.append((self._now(), chat_id, str(params.get("text", "")), status))
            return status, body
        if method.startswith("send") and chat_id in self.chat_failures:
            return self._fail(self.chat_failures, chat_id)
        if self._unknown_file(method, params):  # as Telegram does for an id it never issued
            description = "Bad Request: wrong file identifier/HTTP URL specified"
            return 400, {"ok": False, "error_code": 400, "description": description}
        handler = getattr(self, f"_{method}", None)
        result = handler(params) if handler else True
        return 200, {"ok": True, "result": result}

    def keep_limits(self, monotonic: Callable[[], float] = time.monotonic) -> StrictLimits:
        """From now on refuse what breaks Telegram's flood limits (see StrictLimits)."""
        self.limits = StrictLimits(monotonic)
        return self.limits

    def fail(self, method: str, status: int, description: str, times: int | None = None) -> None:
        """Make `method` fail with this status, `times` times or (None) until cleared."""
        self.failures[method] = (status, description, times)

    def fail_chat(
        self, chat_id: int, status: int, description: str, times: int | None = None
    ) -> None:
        """Make every message to `chat_id` fail (403: the user blocked the bot)."""
        self.chat_failures[chat_id] = (status, description, times)

    def _fail(self, table: dict[Any, tuple[int, str, int | None]], key: Any) -> tuple[int, dict]:
        status, description, times = table[key]
        if times is not None:
            if times <= 1:
                del table[key]
            else:
                table[key] = (status, description, times - 1)
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if status == 429:
            body["parameters"] = {"retry_after": 1}
        return status, body

    def migrate_chat(self, old: int, new: int, by: dict[str, Any]) -> list[dict[str, Any]]:
        """The group `old` is upgraded to the supergroup `new` (by the user `by`): sends to
        `old` fail as Telegram's do; returns the service messages Telegram then sends, in the
        old group (migrate_to_chat_id) and in the new supergroup (migrate_from_chat_id)."""
        self.migrated[old] = new
        said = [({"id": old, "type": "group"}, {"migrate_to_chat_id": new})]
        said.append(({"id": new, "type": "supergroup"}, {"migrate_from_chat_id": old}))
        return [
            {
                "update_id": next(self._update_ids),
                "message": {
                    "message_id": next(self._message_ids),
                    "date": int(self._now()),
                    "chat": {**chat, "title": "部门工作群"},
                    "from": by,
                    **service,
                },
            }
            for chat, service in said
        ]

    def chaos(self, rng: Any, bad_gateway: float, flood: float, hang: float) -> None:
        """Make a share of sendMessage calls fail: 502, 429 (retry_after 1) or a hang past
        the client's timeout (status 0: the request class raises TimedOut); `rng` decides."""
        self._chaos = (rng, bad_gateway, flood, hang)

    def _send_message(self, params: dict[str, Any], chat_id: int | None) -> tuple[int, dict]:
        if chat_id in self.chat_failures:
            return self._fail(self.chat_failures, chat_id)
        if self._chaos is not None:
            rng, bad_gateway, flood, hang = self._chaos
            draw = rng.random()
            if draw < bad_gateway:
                return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
            if draw < bad_gateway + flood:
                return 429, too_many(1)
            if draw < bad_gateway + flood + hang:
                return 0, {}
        return 200, {"ok": True, "result": self._sendMessage(params)}

    def _getMe(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - Bot API name
        return BOT_USER

    def _sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return self._record(params, {"text": params.get("text", "")})

    def _unknown_file(self, method: str, params: dict[str, Any]) -> bool:
        field = {"sendPhoto": "photo", "sendDocument": "document"}.get(method)
        file_id = params.get(field) if field and not params.get("_files") else None
        return isinstance(file_id, str) and file_id not in self.known_files

    def _by_id(self, params: dict[str, Any], field: str) -> dict[str, Any] | None:
        """A file sent again by the id Telegram gave it (no upload): recorded in `resent`."""
        file_id = params.get(field)
        if params.get("_files") or not isinstance(file_id, str):
            return None
        caption = str(params.get("caption", ""))
        self.resent.append((int(params["chat_id"]), field, file_id, caption))
        if field == "photo":
            sent = {"photo": [{"file_id": file_id, "file_unique_id": "r", "width": 1, "height": 1}]}
        else:
            sent = {"document": {"file_id": file_id, "file_unique_id": "r"}}
        return self._record(params, {"caption": caption, **sent})

    def _sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        again = self._by_id(params, "photo")
        if again is not None:
            return again
        files = params.pop("_files", {})
        _, content = next(iter(files.values()), ("photo", b""))
        self.photos.append((int(params["chat_id"]), content))
        photo = [
            {
                "file_id": self._known(f"photo-sent-{len(self.photos)}"),
                "file_unique_id": "p",
                "width": 1,
                "height": 1,
            }
        ]
        return self._record(params, {"caption": params.get("caption", ""), "photo": photo})

    def _sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        again = self._by_id(params, "document")
        if again is not None:
            return again
        files = params.pop("_files", {})
        name, content = next(iter(files.values()), ("document", b""))
        self.documents.append((int(params["chat_id"]), name, content))
        document = {
            "file_id": self._known(f"sent-{len(self.documents)}"),
            "file_unique_id": "s",
            "file_name": name,
        }
        return self._record(params, {"caption": params.get("caption", ""), "document": document})

    def _known(self, file_id: str) -> str:
        self.known_files.add(file_id)
        return file_id

    def _getFile(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        file_id = params["file_id"]
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(self.files.get(file_id, b"")),
            "file_path": f"documents/{file_id}",
        }

    def _editMessageText(self, params: dict[str, Any]) -> dict[str, Any] | bool:  # noqa: N802
        for msg in self._sent_to.get(int(params["chat_id"]), ()):
            if msg.message_id == int(params["message_id"]):
                msg.text = params["text"]
                msg.reply_markup = params.get("reply_markup")
                msg.raw["text"] = msg.text
                return msg.raw
        return True

    def _setWebhook(self, params: dict[str, Any]) -> bool:  # noqa: N802
        self.webhook = {"url": params["url"], "secret_token": params.get("secret_token")}
        return True

    def _deleteWebhook(self, params: dict[str, Any]) -> bool:  # noqa: N802
        self.webhook = None
        return True

    def _getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        url = self.webhook["url"] if self.webhook else ""
        return {"url": url, "has_custom_certificate": False, "pending_update_count": 0}

    def _getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:  # noqa: N802
        offset = int(params.get("offset") or 0)
        self.pending_updates = [u for u in self.pending_updates if u["update_id"] >= offset]
        return list(self.pending_updates[: int(params.get("limit") or 100)])

    def _record(self, params: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        raw = {
            "message_id": next(self._message_ids),
            "date": int(self._now()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": BOT_USER,
            **content,
        }
        if params.get("reply_markup"):
            raw["reply_markup"] = params["reply_markup"]
        text = content.get("text") or content.get("caption") or ""
        message = SentMessage(chat_id, raw["message_id"], text, params.get("reply_markup"), raw)
        self.sent.append(message)
        self._sent_to.setdefault(chat_id, []).append(message)
        for listener in self.listeners:
            listener(message)
        return raw

    # updates -----------------------------------------------------------------------
    def message_update(
        self,
        user: dict[str, Any],
        text: str | None = None,
        *,
        chat_id: int | None = None,
        photo: bool = False,
        document: str | None = None,
        caption: str | None = None,
        content: bytes | None = None,
        media_group_id: str | None = None,
    ) -> dict[str, Any]:
        """A message from a user; commands get their bot_command entity, as Telegram does."""
        chat_id = chat_id if chat_id is not None else user["id"]
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "group"}
        if chat_id > 0:
            chat.update(first_name=user.get("first_name", ""))
        else:
            chat["title"] = "部门工作群"
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(self._now()),
            "chat": chat,
            "from": user,
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                length = len(text.split()[0])
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        n = message["message_id"]
        if photo:
            message["photo"] = [
                {
                    "file_id": self._known(f"photo-{n}-s"),
                    "file_unique_id": f"p{n}s",
                    "width": 90,
                    "height": 90,
                },
                {
                    "file_id": self._known(f"photo-{n}"),
                    "file_unique_id": f"p{n}",
                    "width": 800,
                    "height": 600,
                },
            ]
        if document and content is not None:
            self.files[f"doc-{n}"] = content
        if document:
            message["document"] = {
                "file_id": self._known(f"doc-{n}"),
                "file_unique_id": f"d{n}",
                "file_name": document,
            }
        if caption:
            message["caption"] = caption
        if media_group_id:  # one item of an album: Telegram sends each as its own message
            message["media_group_id"] = media_group_id
        return {"update_id": next(self._update_ids), "message": message}

    def callback_update(
        self, user: dict[str, Any], message: SentMessage, data: str
    ) -> dict[str, Any]:
        """A button press on a message the bot sent."""
        update_id = next(self._update_ids)
        return {
            "update_id": update_id,
            "callback_query": {
                "id": f"cq{update_id}",
                "from": user,
                "chat_instance": str(message.chat_id),
                "message": message.raw,
                "data": data,
            },
        }

    def push(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates (long polling over HTTP)."""
        self.pending_updates.append(update)
        if self._new_updates is not None:
            self._new_updates.set()

    async def wait_for_updates(self, timeout: float, offset: int = 0) -> None:
        """Long polling: return once there is an update at or after `offset` (those before
        it the bot has confirmed), or after `timeout` seconds."""
        self.pending_updates = [u for u in self.pending_updates if u["update_id"] >= offset]
        if self.pending_updates:
            return
        self._new_updates = asyncio.Event()
        try:
            await asyncio.wait_for(self._new_updates.wait(), timeout)
        except TimeoutError:
            pass

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        return list(self._sent_to.get(chat_id, ()))


def too_many(retry_after: int) -> dict[str, Any]:
    """Telegram's 429, with the whole seconds to wait."""
    return {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {retry_after}",
        "parameters": {"retry_after": retry_after},
    }


def _decode(key: str, value: Any) -> Any:
    """Over HTTP the bot sends nested values as JSON strings; in process as objects."""
    if key in JSON_FIELDS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# The tags Telegram's HTML parse mode accepts.
TELEGRAM_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
     "tg-spoiler", "span", "blockquote", "tg-emoji"}
)  # fmt: skip


class _TagChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.problem: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in TELEGRAM_TAGS:
            self.problem = self.problem or f'unsupported start tag "{tag}"'
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problem = self.problem or f'unmatched end tag "{tag}"'
        else:
            self.open.pop()


def limit_problem(method: str, params: dict[str, Any]) -> str | None:
    """Which of Telegram's size limits this call breaks, worded as Telegram words it."""
    html_mode = str(params.get("parse_mode", "")).upper() == "HTML"

    def length(text: object) -> int:
        return units(visible(str(text)) if html_mode else str(text))

    if method in ("sendMessage", "editMessageText"):
        if length(params.get("text") or "") > TEXT_LIMIT:
            return "message is too long"
        if not str(visible(str(params.get("text") or ""))).strip():
            return "message text is empty"
    elif method.startswith(("send", "editMessageCaption")) and params.get("caption"):
        if length(params["caption"]) > CAPTION_LIMIT:
            return "message caption is too long"
    if method == "answerCallbackQuery" and units(str(params.get("text") or "")) > 200:
        return "MESSAGE_TOO_LONG"
    return markup_problem(params.get("reply_markup"))


def html_problem(params: dict[str, Any]) -> str | None:
    """Why Telegram would refuse this HTML message, or None."""
    if str(params.get("parse_mode", "")).upper() != "HTML":
        return None
    text = params.get("text") if params.get("text") is not None else params.get("caption")
    if not text:
        return None
    if "<" in re.sub(r"</?[a-zA-Z][^<>]*>", "", str(text)):
        return 'stray "<" (unescaped user text?)'
    checker = _TagChecker()
    checker.feed(str(text))
    checker.close()
    if checker.problem is None and checker.open:
        checker.problem = f'unclosed tag "{checker.open[-1]}"'
    return checker.problem
