"""The one button codec: every callback data the bot sends is made by `encode` and every
press is read by `decode`, both against the shape declared for its kind in KINDS.

Callback data comes from the client and can be forged. Decoding accepts only what this bot
could have sent: a known kind, the declared number of parts, each part of its type (an id
is ASCII digits without a leading zero, from 1 to below 2^53; a code is a department or
category code's shape; a word is one of a closed set) and at most 64 bytes. Anything else
raises BadCallback, and `pressed` turns that into the kind's answer for an unknown id, so a
forged button and a button for something the actor may not see read alike. Whether an id
exists and is within the actor's scope is for the use cases. Adding a button means one
row in KINDS (and, for an appeal action, one in CODES).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.rules.broadcasts import TOPICS, AudienceKind
from bot.rules.directory import Attribute, Scale
from bot.rules.model import Action, Rating, TaskAction
from bot.rules.refusals import (
    AppealNotFound,
    BaobaoNotFound,
    BroadcastNotFound,
    CampaignNotFound,
    ContactNotFound,
    DepartmentNotFound,
    DirectoryEntryNotFound,
    DomainError,
    TaskNotFound,
    UnknownButton,
)
from bot.rules.task_ledger import TaskFilter, Turn
from bot.rules.workflow import APPEAL_FLOW, Needs

MAX_BYTES = 64
MAX_ID = 2**53  # ids from here on were never sent by us

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
VIEW, TASK, ASSIGN, EXT_OK, EXT_NO = "view", "task", "assign", "extok", "extno"
APPEAL_FILES, TASK_FILES = "files", "taskf"  # 查看附件 of an appeal, of a task
LEDGER = "tasks"  # the task ledger in chat: 导出台账, a state's first page, a page turned
# The registration summary's fields (修改 buttons) and the free-text menu's choices.
REGISTRATION_FIELDS = ("name", "uscc", "contact", "phone")
MENU_CHOICES = ("my", "new", "inbox", "overdue")

# Part types: an id (or a version), a config code, or a closed set of words.
ID, CODE = "id", "code"
ID_RE = re.compile(r"[1-9][0-9]{0,15}")
CODE_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")  # the org config's code pattern
Part = str | frozenset[str]


def words(*choices: str) -> frozenset[str]:
    return frozenset(choices)


@dataclass(frozen=True)
class Kind:
    """What one kind of button carries, and how a press that cannot be read is answered:
    `unknown` is the refusal its handler gives for an unknown id (None: the handler answers
    an unreadable press itself, as for an unknown code, because the answer depends on the
    prompt the person is at)."""

    shapes: tuple[tuple[Part, ...], ...]
    unknown: type[DomainError] | None


_APPEAL = Kind(((ID, ID),), AppealNotFound)
KINDS: dict[str, Kind] = {
    **{code: _APPEAL for code in APPEAL_ACTION_CODES if code != CODES[Action.RATE]},
    CODES[Action.RATE]: Kind(((ID, ID, words(*RATINGS)),), AppealNotFound),
    VIEW: _APPEAL,
    APPEAL_FILES: Kind(((ID,),), AppealNotFound),
    TASK_FILES: Kind(((ID,),), TaskNotFound),
    EXT_OK: Kind(((ID,),), AppealNotFound),
    EXT_NO: Kind(((ID,),), AppealNotFound),
    TASK: Kind(((ID, ID, words(*TASK_OPS, VIEW, ASSIGN)),), TaskNotFound),
    "tasko": Kind(((ID, ID, ID),), TaskNotFound),  # task, version, the new 责任人
    "taskd": Kind(((ID, ID, ID),), TaskNotFound),  # task, version, a department to choose in
    # 导出台账; the first page of a state (TaskFilter); the page after (n) or before (p) a 序号
    LEDGER: Kind(
        (
            (words("export"),),
            (words(*TaskFilter),),
            (words(*TaskFilter), words(*Turn), ID),
        ),
        UnknownButton,
    ),
    "contact": Kind(((words("rm"), ID, ID),), ContactNotFound),  # enterprise, contact
    "bb": Kind(((ID, ID),), BaobaoNotFound),  # enterprise, official
    "bbd": Kind(((ID, ID),), BaobaoNotFound),  # enterprise, a department to choose in
    "inv": Kind(((CODE,),), DepartmentNotFound),
    "invr": Kind(((CODE, words("o", "h")),), DepartmentNotFound),
    "dept": Kind(((CODE,),), None),  # a transfer's target: the prompt answers unknown codes
    "cat": Kind(((CODE,),), None),  # a category while filing: likewise
    "reg": Kind(((words("ok", "cancel"),), (words("edit"), words(*REGISTRATION_FIELDS))), None),
    "new": Kind(((words("submit", "again", "cancel"),),), UnknownButton),
    "menu": Kind(((words(*MENU_CHOICES),),), UnknownButton),
    # 政策宣贯: the composer's choices (under its prompts), a contact's 已阅 / 咨询 / mute,
    # the sender's progress / cancel / report, and a muted topic resumed
    "bct": Kind(((words(*TOPICS),),), None),
    "bca": Kind(((words(*AudienceKind),),), None),
    "bcv": Kind(((ID,),), None),
    "bcc": Kind(((words("files_done", "send", "schedule", "redo", "cancel"),),), None),
    "bc": Kind(((ID, words("read", "ask", "mute")),), BroadcastNotFound),
    "bcs": Kind(((ID, words("status", "cancel", "report")),), BroadcastNotFound),
    "bcu": Kind(((words(*TOPICS),),), UnknownButton),
    # 月报: 填报 under a notice (campaign, period YYYYMM); the form's prompts (跳过, 完成,
    # 提交, 取消; an option; 修改第N项); a leader's period (status or table), a field's
    # chart, the first month of a new campaign
    "mr": Kind(((ID, ID, words("fill")),), CampaignNotFound),
    "mra": Kind(((words("skip", "done", "submit", "cancel"),),), None),
    "mrc": Kind(((ID,),), None),
    "mre": Kind(((ID,),), None),
    "cp": Kind(((ID, ID, words("view", "table", "stop", "resume")),), CampaignNotFound),
    "cpc": Kind(((ID, ID),), CampaignNotFound),
    "cpf": Kind(((ID,),), None),
    "cpa": Kind(((ID, ID, ID),), CampaignNotFound),
    # a directory entry: open it; 修改 an attribute; a 规模 chosen under that prompt
    "ent": Kind(((ID, words("open", *Attribute, *Scale)),), DirectoryEntryNotFound),
}
# In a department group only what needs no private input may be pressed (签收).
GROUP_KINDS = frozenset(CODES[a] for a in Action if APPEAL_FLOW[a].needs is Needs.NOTHING)


class BadCallback(ValueError):
    """Callback data that this bot could not have sent."""

    def __init__(self, data: object, kind: str | None = None) -> None:
        super().__init__(repr(data))
        self.kind = kind


@dataclass(frozen=True)
class Button:
    """A decoded press: its kind and its parts (ids as int, codes and words as str)."""

    kind: str
    parts: tuple[int | str, ...]

    @property
    def action(self) -> StrEnum | None:
        return ACTIONS.get(self.kind)

    @property
    def item_id(self) -> int:
        """The first part: the appeal, task or extension the button is about."""
        value = self.parts[0]
        assert isinstance(value, int)
        return value

    @property
    def version(self) -> int:
        value = self.parts[1]
        assert isinstance(value, int)
        return value

    @property
    def arg(self) -> str:
        """The last part when it is a word (a rating, a task operation), else ''."""
        value = self.parts[-1]
        return value if isinstance(value, str) else ""

    @property
    def data(self) -> str:
        return encode(self.kind, *self.parts)


def _part(text: str, part: Part) -> int | str:
    if part == ID:
        if ID_RE.fullmatch(text) is None or int(text) >= MAX_ID:
            raise ValueError(text)
        return int(text)
    if part == CODE:
        if CODE_RE.fullmatch(text) is None:
            raise ValueError(text)
        return text
    if text not in part:
        raise ValueError(text)
    return text


def _read(kind: Kind, parts: list[str]) -> tuple[int | str, ...] | None:
    for shape in kind.shapes:
        if len(shape) != len(parts):
            continue
        try:
            return tuple(_part(text, part) for text, part in zip(parts, shape, strict=True))
        except ValueError:
            continue
    return None


def routed(*kinds: str) -> str:
    """The pattern a CallbackQueryHandler routes these kinds by (decoding is the handler's)."""
    return rf"^({'|'.join(map(re.escape, kinds))})(:|$)"


def kind_of(data: str | None) -> str:
    """The kind a press claims to be (not checked): what it is routed by."""
    return (data or "").split(":", 1)[0]


def encode(kind: str, *parts: object) -> str:
    """Callback data for a button; ValueError if it does not fit its kind's shape."""
    data = ":".join([kind, *(str(p) for p in parts)])
    known = KINDS.get(kind)
    if known is None or _read(known, data.split(":")[1:]) is None:
        raise ValueError(f"callback data of no declared shape: {data!r}")
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data too long: {data!r}")
    return data


def decode(data: str | None, *kinds: str) -> Button:
    """The press, if this bot could have sent it (and it is one of `kinds`, if given)."""
    kind = kind_of(data)
    known = KINDS.get(kind)
    if known is None or (kinds and kind not in kinds):
        raise BadCallback(data)
    assert data is not None
    try:
        size = len(data.encode())
    except UnicodeEncodeError:  # a lone surrogate: no button of ours holds one
        raise BadCallback(data, kind) from None
    if size > MAX_BYTES:
        raise BadCallback(data, kind)
    parts = _read(known, data.split(":")[1:])
    if parts is None:
        raise BadCallback(data, kind)
    return Button(kind, parts)


def unknown_answer(exc: BadCallback) -> DomainError:
    """The refusal for data that cannot be read: its kind's answer for an unknown id (for a
    kind that leaves it to its prompt, or no kind at all, a button nobody knows). The one
    place a BadCallback becomes an answer, so a forged id and an unknown one read alike."""
    known = KINDS.get(exc.kind or "")
    return (known.unknown if known and known.unknown else UnknownButton)()


def pressed(data: str | None, *kinds: str) -> Button:
    """`decode`, answering data that cannot be read as the kind answers an unknown id."""
    try:
        return decode(data, *kinds)
    except BadCallback as exc:
        raise unknown_answer(exc) from None


def pressed_or_none(data: str | None, kind: str) -> Button | None:
    """For a prompt's own buttons (`unknown` None): None when the data cannot be read."""
    try:
        return decode(data, kind)
    except BadCallback:
        return None


def appeal_button(kind: str, appeal_id: int, version: int, arg: str = "") -> str:
    return encode(kind, appeal_id, version, *([arg] if arg else []))


def action_button(action: StrEnum, item_id: int, version: int, arg: str = "") -> str:
    if isinstance(action, TaskAction):
        return encode(TASK, item_id, version, CODES[action])
    return appeal_button(CODES[action], item_id, version, arg)


def task_view_button(task_id: int, version: int) -> str:
    return encode(TASK, task_id, version, VIEW)
