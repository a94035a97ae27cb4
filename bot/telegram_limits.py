"""Telegram's size limits, measured as Telegram measures them, and texts cut to fit.

A message's text may hold 4096 characters and a caption 1024, counted after the HTML is
parsed (tags count nothing, `&amp;` counts one) in UTF-16 code units (an emoji counts two);
a button's callback data 64 bytes; an inline keyboard 100 buttons (8 to a row). A text
over the limit is refused with 400 "message is too long", so every text the bot sends is
measured here, split at line ends into several messages, or shortened with a pointer to
the full record.
"""

from __future__ import annotations

import html
import re

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_BYTES = 64
BUTTONS_MAX = 100
ROW_MAX = 8

_TAG = re.compile(r"<[^>]*>")
# One visible unit of HTML text: a tag (counts nothing), an entity or one character.
_TOKEN = re.compile(r"<[^>]*>|&#?\w+;|[\s\S]")
_OPEN_TAG = re.compile(r"<([a-zA-Z][\w-]*)[^>]*>")
_CLOSE_TAG = re.compile(r"</([a-zA-Z][\w-]*)\s*>")


def units(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts (a character beyond the BMP is two)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def visible(html_text: str) -> str:
    """What the reader sees of an HTML text: tags dropped, entities undone."""
    return html.unescape(_TAG.sub("", html_text))


def visible_length(html_text: str) -> int:
    """The length Telegram checks against its limits."""
    return units(visible(html_text))


def cut(text: str, room: int) -> str:
    """Plain (unescaped) text in at most `room` UTF-16 units, ending in "…" when cut."""
    if units(text) <= room:
        return text
    kept, used = [], 0
    for ch in text:
        width = units(ch)
        if used + width > room - 1:
            break
        kept.append(ch)
        used += width
    return "".join(kept) + "…"


def _hard_cut(line: str, limit: int) -> list[str]:
    """A line longer than `limit`, cut between tokens (never inside a tag or an entity)."""
    chunks, current, used = [], [], 0
    for token in _TOKEN.findall(line):
        width = 0 if token.startswith("<") and len(token) > 1 else units(visible(token))
        if used + width > limit and current:
            chunks.append("".join(current))
            current, used = [], 0
        current.append(token)
        used += width
    if current:
        chunks.append("".join(current))
    return chunks


def _balanced(pieces: list[str]) -> list[str]:
    """Each piece closes the tags it leaves open and the next one opens them again."""
    result, carried = [], []
    for piece in pieces:
        opened = list(carried)
        for match in re.finditer(r"</?[a-zA-Z][^>]*>", piece):
            tag = match.group(0)
            closing = _CLOSE_TAG.fullmatch(tag)
            if closing:
                if opened and _OPEN_TAG.fullmatch(opened[-1])[1] == closing[1]:
                    opened.pop()
            else:
                opened.append(tag)
        prefix = "".join(carried)
        suffix = "".join(f"</{_OPEN_TAG.fullmatch(tag)[1]}>" for tag in reversed(opened))
        result.append(prefix + piece + suffix)
        carried = opened
    return result


def split_html(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Pieces of at most `limit` visible units, cut at line ends (a longer line is cut
    between characters); tags left open at a cut are closed and opened again; blank pieces
    (Telegram refuses an empty message) are left out."""
    if 2 * len(text) <= limit:  # no character counts more than two units: it fits as it is
        return [text]
    pieces: list[str] = []
    current: str | None = None
    used = 0
    for line in text.split("\n"):
        width = visible_length(line)
        if current is not None and used + 1 + width <= limit:
            current, used = f"{current}\n{line}", used + 1 + width
            continue
        if current is not None:
            pieces.append(current)
        if width <= limit:
            current, used = line, width
            continue
        *whole, current = _hard_cut(line, limit)
        pieces += whole
        used = visible_length(current)
    if current is not None:
        pieces.append(current)
    return [p for p in _balanced(pieces) if visible(p).strip()] or [text]


def markup_problem(markup: dict | None) -> str | None:
    """Why Telegram would refuse this inline keyboard (as a Bot API dict), or None."""
    rows = markup.get("inline_keyboard") or [] if isinstance(markup, dict) else []
    if sum(len(row) for row in rows) > BUTTONS_MAX or any(len(row) > ROW_MAX for row in rows):
        return "REPLY_MARKUP_TOO_LONG"
    for row in rows:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_BYTES:
                return "BUTTON_DATA_INVALID"
    return None
