"""What a kill -9 may repeat: the kill tests' common check of the outbox's promise."""

from __future__ import annotations

import re

from bot.sandbox.fake_api import FakeBotApi

NUMBER = re.compile(r"SQ-\d{4}-\d{6}")

# A kill leaves two kinds of repeat. A message Telegram accepted just before the kill, not
# yet recorded as sent: it goes again (the kill falls up to UNRECORDED after its first copy:
# milliseconds on a quiet machine, seconds on a loaded one). And an update the killed
# process was handling, taken up again (by another instance after STRANDED_AFTER, or from
# Telegram after a restart) while the confirmation it had stored falls due (ACK_GRACE): the
# first copy comes up to TAKEN_UP after the kill.
UNRECORDED = 10.0
TAKEN_UP = 25.0


def repeated_only_at_kills(api: FakeBotApi, word: str, killed_at: list[float]) -> None:
    """The outbox's promise with several senders: an appeal's message (its confirmation, its
    notice alone or in a list) comes again only because of a kill — a kill with several
    messages in flight may repeat each of them once — and never a third time."""
    accepted: dict[tuple[int, str], list[float]] = {}
    for at, chat, text, status in api.attempts:
        if status == 200 and chat is not None and word in text:
            for number in set(NUMBER.findall(text)):
                accepted.setdefault((chat, number), []).append(at)
    for (chat, number), times in accepted.items():
        if len(times) == 1:
            continue
        assert len(times) == 2, (chat, number, times)
        first, again = times
        assert any(
            first - TAKEN_UP <= kill <= min(first + UNRECORDED, again) for kill in killed_at
        ), (
            f"{word} of {number} to {chat} again with no kill to explain it: {times}, kills"
            f" {killed_at}"
        )
