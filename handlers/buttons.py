"""The one button codec: `kind:id:version[:arg]`, under Telegram's 64-byte limit.

Callback data comes from the client and can be forged; decoding checks only its shape,
the use cases check everything else. Adding an appeal action means one row in CODES.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.rules.model import Action, Rating, TaskAction

MAX_BYTES = 64
MAX_ID = 2**53  # ids beyond this were never sent by us

# One row per workflow action: the code its button carries.
CODES: dict[StrEnum, str] = {
    Action.CLAIM: "claim",
    Action.REPLY: "reply",
    Action.NOTE: "note",
    Action.TRANSFER: "xfer",
    Action.CLOSE: "close",
    Action.EXTEND: "extd",
    Action.SUPPLEMENT: "supp",
    Action.WITHDRAW: "wd",
    Action.RATE: "rate",
    Action.REOPEN: "reopen",
    TaskAction.REPORT: "rep",
    TaskAction.REQUEST_CLOSE: "req",
    TaskAction.APPROVE: "ok",
    TaskAction.DEEM: "deem",
    TaskAction.SEND_BACK: "back",
}
ACTIONS = {code: action for action, code in CODES.items()}
APPEAL_ACTION_CODES = [c for a, c in CODES.items() if isinstance(a, Action)]
TASK_OPS = [c for a, c in CODES.items() if isinstance(a, TaskAction)]
RATING_CODES = {Rating.SATISFIED: "s", Rating.BASIC: "b", Rating.DISSATISFIED: "u"}
RATINGS = {code: rating for rating, code in RATING_CODES.items()}
VIEW, TASK, EXT_OK, EXT_NO = "view", "task", "extok", "extno"


class BadCallback(ValueError):
    """Callback data that this bot could not have sent."""


@dataclass(frozen=True)
class Button:
    kind: str
    item_id: int
    version: int
    arg: str = ""

    @property
    def action(self) -> StrEnum | None:
        return ACTIONS.get(self.kind)


def encode(kind: str, *parts: object) -> str:
    data = ":".join([kind, *(str(p) for p in parts)])
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data too long: {data!r}")
    return data


def decode(data: str | None) -> tuple[str, list[str]]:
    if not data or len(data.encode()) > MAX_BYTES:
        raise BadCallback(data)
    kind, *parts = data.split(":")
    return kind, parts


def _positive(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ValueError(text)
    value = int(text)
    if not 0 < value < MAX_ID:
        raise ValueError(text)
    return value


def int_part(parts: list[str], index: int) -> int:
    try:
        return _positive(parts[index])
    except (IndexError, ValueError):
        raise BadCallback(":".join(parts)) from None


def appeal_button(kind: str, appeal_id: int, version: int, arg: str = "") -> str:
    return encode(kind, appeal_id, version, *([arg] if arg else []))


def action_button(action: StrEnum, item_id: int, version: int, arg: str = "") -> str:
    if isinstance(action, TaskAction):
        return encode(TASK, item_id, version, CODES[action])
    return appeal_button(CODES[action], item_id, version, arg)


def task_view_button(task_id: int, version: int) -> str:
    return encode(TASK, task_id, version, VIEW)


def decode_button(data: str | None) -> Button:
    """`kind:id:version[:arg]` with positive ids, or BadCallback."""
    kind, parts = decode(data)
    if len(parts) not in (2, 3):
        raise BadCallback(data)
    try:
        item_id, version = _positive(parts[0]), _positive(parts[1])
    except ValueError:
        raise BadCallback(data) from None
    return Button(kind, item_id, version, parts[2] if len(parts) == 3 else "")


def decode_task_button(data: str | None) -> Button:
    button = decode_button(data)
    if button.kind != TASK or button.arg not in (*TASK_OPS, VIEW, "assign"):
        raise BadCallback(data)
    return button
