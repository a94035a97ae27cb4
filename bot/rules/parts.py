"""The text of a prompt that takes several messages (a draft's description, a progress
report, a 销号 request): each message a person typed, or the caption of a photo or file,
is one part, kept in order; an edit of a message replaces its part. Nothing is dropped."""

from __future__ import annotations

from collections.abc import Sequence

Parts = list[list]  # [[message_id, text], …] as kept in a conversation's data (JSON)


def added(parts: Sequence[Sequence], message_id: int, text: str | None) -> Parts:
    """The parts with this message's text after them (text that is only blanks adds none)."""
    kept = [list(p) for p in parts]
    if text and text.strip():
        kept.append([message_id, text.strip()])
    return kept


def edited(parts: Sequence[Sequence], message_id: int, text: str | None) -> Parts | None:
    """The parts with this message's part replaced (an edit to blanks removes it); None when
    the message is not one of them."""
    if not any(p[0] == message_id for p in parts):
        return None
    kept = []
    for mid, old in parts:
        if mid != message_id:
            kept.append([mid, old])
        elif text and text.strip():
            kept.append([mid, text.strip()])
    return kept


def joined(parts: Sequence[Sequence]) -> str:
    """The whole text, one part a line."""
    return "\n".join(str(p[1]) for p in parts)


def holds(parts: Sequence[Sequence], message_id: int) -> bool:
    return any(p[0] == message_id for p in parts)
