"""The callback_data codec: `kind:part:part…`, under Telegram's 64-byte limit.

Callback data comes from the client and can be forged; decoding checks only its shape,
the use cases check everything else.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_BYTES = 64


class BadCallback(ValueError):
    """Callback data that this bot could not have sent."""


@dataclass(frozen=True)
class AppealButton:
    action: str
    appeal_id: int
    version: int
    arg: str = ""


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


def appeal_button(action: str, appeal_id: int, version: int, arg: str = "") -> str:
    return encode(action, appeal_id, version, *([arg] if arg else []))


def decode_appeal_button(data: str | None) -> AppealButton:
    kind, parts = decode(data)
    if len(parts) not in (2, 3):
        raise BadCallback(data)
    try:
        appeal_id, version = int(parts[0]), int(parts[1])
    except ValueError:
        raise BadCallback(data) from None
    if appeal_id <= 0 or version <= 0:
        raise BadCallback(data)
    return AppealButton(kind, appeal_id, version, parts[2] if len(parts) == 3 else "")


def int_part(parts: list[str], index: int) -> int:
    try:
        return int(parts[index])
    except (IndexError, ValueError):
        raise BadCallback(":".join(parts)) from None
