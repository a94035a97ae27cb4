"""When to try a message again, and when a person counts as unreachable: pure rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

# The acting user's own answer is sent directly first; the outbox waits this long before it
# sends the stored copy, so the two do not cross.
ACK_GRACE = timedelta(seconds=10)
# Telegram may be down for a while; after a day a message is not worth sending any more.
GIVE_UP_AFTER = timedelta(hours=24)
# A person who blocked the bot and comes back gets what was owed to them for this long.
OWED_FOR = timedelta(days=7)
FIRST_RETRY = timedelta(seconds=5)
LONGEST_RETRY = timedelta(minutes=15)
# How long a sender may hold a message before another may take it (a crashed sender):
# longer than one send takes with its timeouts; a crash inside it may repeat that message.
LEASE = timedelta(seconds=30)

# Priorities: lower goes first.
ACK, NOTICE, LADDER = 0, 1, 2


def joins_lists(subject: str | None, priority: int) -> bool:
    """Notices about appeals that wait for the same person together may go as one list
    (an acknowledgement has its own priority, ACK)."""
    return subject == "appeal" and priority == NOTICE


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s … up to 15 minutes between tries of one message."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def retry_at(now: datetime, attempts: int, retry_after: float | None = None) -> datetime:
    """When to try again: Telegram's `retry_after` when it gave one, else the backoff."""
    if retry_after is not None:
        return now + timedelta(seconds=max(retry_after, 1))
    return now + backoff(attempts)


def too_old(created_at: datetime, now: datetime) -> bool:
    return now - created_at > GIVE_UP_AFTER


class Fault(StrEnum):
    """How a message Telegram did not accept ends."""

    RETRY = "retry"  # a timeout, a 5xx, the network: tried again after a backoff
    FLOOD = "flood"  # 429: tried again after Telegram's retry_after
    UNREACHABLE = "unreachable"  # blocked, chat not found: final, owed again after /start
    REFUSED = "refused"  # the message itself is wrong (a 400): final, never tried again


# What a 400 says when the chat, not the message, is the problem (lower case).
UNREACHABLE_400 = (
    "chat not found",
    "user not found",
    "peer_id_invalid",
    "user is deactivated",
    "bot was kicked",
    "bot is not a member",
    "not enough rights",
    "have no rights",
    "chat_write_forbidden",
    "chat_restricted",
    "group chat was deactivated",
    "upgraded to a supergroup",
    "migrated to supergroup",
)


def fault(status: int | None, description: str) -> Fault:
    """Classify a refused send by its HTTP status (None: a timeout, the network or a 5xx)
    and Telegram's description. Only what may pass is tried again: a 400 never is."""
    if status == 429:
        return Fault.FLOOD
    if status == 403:
        return Fault.UNREACHABLE
    if status == 400:
        text = description.lower()
        return Fault.UNREACHABLE if any(p in text for p in UNREACHABLE_400) else Fault.REFUSED
    if "request entity too large" in description.lower():
        return Fault.REFUSED  # 413, a file over the upload limit (reported without a status)
    return Fault.RETRY
