"""When to try a message again, when a person counts as unreachable, and who may still
receive a stored message when it goes: pure rules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.rules import audiences
from bot.rules.model import Actor, Appeal, Role

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

# The outbox kind of one message listing several ladder notices.
LADDER_LIST = "ladder_list"

# Several notices to one person become one numbered list (①②…, buttons marked alike) from
# this many: notices about appeals that waited together and a sweep's notices alike. One
# or two read as well apart, each a plain message with its own plain buttons.
LIST_FROM = 3


def as_list(count: int) -> bool:
    """Whether `count` notices to one person go as one list rather than one by one."""
    return count >= LIST_FROM


# Priorities: lower goes first (a 政策宣贯 broadcast after everything about appeals).
ACK, NOTICE, LADDER, BROADCAST = 0, 1, 2, 3


# A notice that announces files (a new appeal's, a 补充's, a 销号 request's) names them in
# its detail (FILES: their stored ids) and goes on its own, never folded into a list: its
# text, then each file by its Telegram file_id, one part after another (a crash resends
# only the part in flight). It keeps the priority of any notice (NOTICE), so a burst of
# reminders never holds it back; its detail, not its priority, keeps it out of lists.
# PIECES: how many messages its text was cut into when it first went, so that after a
# crash its files are counted from there even if the text now reads differently.
FILES = "attachments"
PIECES = "pieces"

# A filing or a transfer to a department nobody can hear yet (no member, no group): its
# leaders were told instead, and the one who acted is told so. Kept in the stored
# confirmation's params (and the filing's event), so that a confirmation sent again after
# a crash or a retry says it as the first did.
UNHEARD = "unheard"


def announces_files(detail: dict) -> bool:
    """Whether a stored notice names files to follow it."""
    return bool(detail.get(FILES))


def joins_lists(subject: str | None, priority: int, detail: dict) -> bool:
    """Notices about appeals that wait for the same person together may go as one list
    (an acknowledgement has its own priority, ACK); one that announces files goes alone."""
    return subject == "appeal" and priority == NOTICE and not announces_files(detail)


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


# Entitlement at send time ---------------------------------------------------------------
# A message goes only to someone still entitled to it when it is sent: a removed contact,
# an official who left the department, an appeal transferred away, a leader no longer in
# ADMIN_IDS, a task given to someone else. What is no longer deliverable is `withheld`:
# never sent, never owed again, never listed as unreachable.
WITHHELD = "not_entitled"

# What /start answers itself, so it is not owed again after it: a removed contact's notice
# (/start says they were removed, and whom to ask).
CONTACT_REMOVED = "contact_removed"  # a removed contact is told once
CONTACT_JOINED = "contact_joined"  # the first contact is told of a colleague who joined
SAID_AT_START = frozenset({CONTACT_REMOVED})
SAID_AT_START_ERROR = "said_at_start"

# Notices an enterprise's contacts receive (the rest are for the bureau's people only).
CONTACT_KINDS = frozenset(
    kind for rows in audiences.AFTER_ACTION.values() for who, kind in rows if who == "contacts"
)
# The acting person's own confirmation of what they just did: always theirs to read.
OWN = "ack"
# An answer to the person who acted that Telegram would not take at once (a 5xx, a timeout,
# a long 429) after their step was kept: the courier sends it, as it is worded, to them.
ANSWER = "answer"
# To the official who had claimed an appeal that was transferred to another department.
TRANSFERRED_AWAY = "transferred_away"


@dataclass(frozen=True)
class Recipient:
    """Who a chat is when the message goes: a person as they are now (a guest once removed
    or unknown; ADMIN only while in ADMIN_IDS), or a department's group (`group_of`)."""

    actor: Actor
    group_of: int | None = None


def may_hear_of_appeal(who: Recipient, appeal: Appeal, kind: str) -> bool:
    """Its department's people and group (the department it is in now), its enterprise's
    current contacts (only what contacts are told: never the bureau's own notices), and the
    leaders."""
    if kind == OWN:
        return True
    if who.group_of is not None:
        return who.group_of == appeal.department_id
    actor = who.actor
    if actor.role is Role.ADMIN:
        return True
    if kind == TRANSFERRED_AWAY:  # to the official who had claimed it, now elsewhere
        return actor.is_staff
    if actor.role is Role.ENTERPRISE:
        return kind in CONTACT_KINDS and actor.enterprise_id == appeal.enterprise_id
    return actor.is_staff and actor.department_id == appeal.department_id


def may_hear_of_contacts(who: Recipient, enterprise_id: int, kind: str) -> bool:
    """About an enterprise's contacts: a removed contact of their removal (below); a new
    colleague's joining, a current contact of that enterprise."""
    if kind == CONTACT_JOINED:
        actor = who.actor
        return who.group_of is None and (
            actor.role is Role.ENTERPRISE and actor.enterprise_id == enterprise_id
        )
    return may_hear_of_removal(who, enterprise_id)


def may_hear_of_removal(who: Recipient, enterprise_id: int) -> bool:
    """That they were removed as a contact: the person, while they are no contact of that
    enterprise (once added back, the notice is not theirs any more)."""
    actor = who.actor
    return who.group_of is None and not (
        actor.role is Role.ENTERPRISE and actor.enterprise_id == enterprise_id
    )


def may_hear_of_task(who: Recipient, holders: Iterable[int], kind: str) -> bool:
    """A task's current holders (its 责任人, or the stand-ins while it has none) and the
    leaders."""
    if kind == OWN:
        return True
    if who.actor.role is Role.ADMIN:
        return True
    return who.group_of is None and who.actor.is_staff and who.actor.tg_id in set(holders)


def may_read_digest(who: Recipient, audience: str) -> bool:
    """The leaders' digest to leaders; a department's to its people and its group."""
    if audience == LEADERS_DIGEST:
        return who.group_of is None and who.actor.role is Role.ADMIN
    department = department_of_audience(audience)
    if department is None:
        return False
    if who.group_of is not None:
        return who.group_of == department
    return who.actor.is_staff and who.actor.department_id == department


LEADERS_DIGEST = "leaders"
_DEPARTMENT_DIGEST = "department:"


def department_of_audience(audience: str) -> int | None:
    rest = audience.removeprefix(_DEPARTMENT_DIGEST)
    return int(rest) if rest != audience and rest.isascii() and rest.isdigit() else None


# Messages about no appeal or task: operator notices (calendar, unstaffed departments, the
# daily list of people who could not be reached, a group's new id) are for leaders only;
# a person's own confirmation or answer is theirs.
FOR_ANYONE = frozenset({OWN, ANSWER})


def may_hear(who: Recipient, kind: str) -> bool:
    return kind in FOR_ANYONE or (who.group_of is None and who.actor.role is Role.ADMIN)


# Chats that cannot be reached --------------------------------------------------------
# A group that removed the bot is added back; a group that does not exist (any more) is a
# wrong chat_id in the org config. A person is asked to /start the bot.
REMEDY_READD = "readd"
REMEDY_CHAT_ID = "chat_id"
_GONE_GROUP = ("chat not found", "deactivated", "was deleted", "not exist")


def is_group(chat_id: int) -> bool:
    """Telegram's groups, supergroups and channels have negative ids; people positive."""
    return chat_id < 0


def group_remedy(error: str) -> str:
    """What fixes a group that refused a message for good (403 kicked / not a member, or
    400 chat not found)."""
    text = error.lower()
    return REMEDY_CHAT_ID if any(word in text for word in _GONE_GROUP) else REMEDY_READD


# An official's words that did not reach an enterprise's contact: whoever sent them is told
# (once per message) with the contact's name and phone, so they can call. A transfer is
# not: the appeal has left the sender's department, its new one takes it up.
SENDER_TOLD = CONTACT_KINDS - {"transferred_public"}
UNDELIVERED = "undelivered_to_contact"
UNDELIVERED_KEY = "notice." + UNDELIVERED


def sender_of(detail: dict, owner_id: int | None) -> int | None:
    """Who acted for a notice to contacts: stored with it, else the appeal's owner."""
    by = detail.get("by")
    return int(by) if isinstance(by, int) else owner_id


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


def may_hear_broadcast(who: Recipient, state: str, muted: bool) -> bool:
    """A 政策宣贯 goes to a contact still registered, unless it was cancelled meanwhile or
    their enterprise muted its topic."""
    if state == "cancelled" or muted:
        return False
    return who.actor.role is Role.ENTERPRISE and who.actor.enterprise_id is not None


def may_hear_monthly(who: Recipient, enterprise_id: int, kind: str) -> bool:
    """A 月报 notice goes to a contact of its enterprise; the 包保's to staff (or the leaders
    who stand in when nobody looks after the enterprise)."""
    if kind == "baobao":
        return who.actor.role in (Role.OFFICIAL, Role.HEAD, Role.ADMIN)
    return who.actor.role is Role.ENTERPRISE and who.actor.enterprise_id == enterprise_id
