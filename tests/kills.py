"""What a kill -9 may repeat: the kill tests' common check of the outbox's promise."""

from __future__ import annotations

import re

from bot.sandbox.fake_api import FakeBotApi

NUMBER = re.compile(r"SQ-\d{4}-\d{6}")

# How long after Telegram accepted a message its sender may die before recording it (then
# the message goes again): milliseconds on a quiet machine, seconds on a loaded one.
UNRECORDED = 10.0


def repeated_only_at_kills(api: FakeBotApi, word: str, killed_at: list[float]) -> None:
    """The outbox's promise with several senders: an appeal's message (its confirmation, its
    notice alone or in a list) comes again only when its sender was killed between Telegram
    accepting it and recording that — a kill with several messages in flight may repeat each
    of them once — and never a third time."""
    accepted: dict[tuple[int, str], list[float]] = {}
    for at, chat, text, status in api.attempts:
        if status == 200 and chat is not None and word in text:
            for number in set(NUMBER.findall(text)):
                accepted.setdefault((chat, number), []).append(at)
    for (chat, number), times in accepted.items():
        if len(times) == 1:
            continue
        assert len(times) == 2, (chat, number, times)
        assert any(times[0] <= kill <= times[0] + UNRECORDED for kill in killed_at), (
            f"{word} of {number} to {chat} again with no kill after it: {times}, kills {killed_at}"
        )
