"""Who is told of what: chat notices after an action, and the ladder's 提示 / 督办 / 提级.

The use case loads a `Directory` (the people around one appeal); these functions decide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bot.rules.model import (
    OPEN_STATES,
    Action,
    Actor,
    Appeal,
    Notice,
    Party,
    Person,
    Role,
    State,
    TaskAction,
)
from bot.rules.workflow import EXTENSION_APPROVED, EXTENSION_DENIED, TASK_FLOW

FILED = "new_appeal"


@dataclass(frozen=True)
class Directory:
    """The people around one appeal: its department's staff and group, its contacts, leaders."""

    staff: tuple[Person, ...]
    department_chat: int | None
    contacts: tuple[int, ...]
    leaders: tuple[int, ...]
    notices: str = "members_and_group"  # routing.department_notices

    @property
    def heads(self) -> list[int]:
        return [p.tg_id for p in self.staff if p.role is Role.HEAD]


def unique(ids: Iterable[int | None]) -> list[int]:
    return list(dict.fromkeys(i for i in ids if i))


def handlers(appeal: Appeal, people: Directory) -> list[int]:
    """Whoever handles the appeal now: its owner, else its assignee, else the department
    (every member, only its heads, or only its group: `notices`) and its group; a
    department nobody has joined yet is served by the leaders, so nothing goes unheard."""
    if appeal.handler_id:
        return [appeal.handler_id]
    if people.notices == "group" and people.department_chat:
        return [people.department_chat]
    if people.notices == "heads" and people.heads:
        chats = people.heads
    else:
        chats = [p.tg_id for p in people.staff]
    if people.department_chat:
        chats.append(people.department_chat)
    return chats or list(people.leaders)


def served_by_leaders(appeal: Appeal, people: Directory) -> bool:
    """Nobody of the department can take the appeal yet (no member, no group): the
    leaders hear of it instead, and the one who filed or transferred it is told so."""
    return not appeal.handler_id and not people.staff and not people.department_chat


def heads_but_owner(appeal: Appeal, people: Directory) -> list[int]:
    return [h for h in people.heads if h != appeal.owner_id]


def _owner_and_heads(appeal: Appeal, people: Directory) -> list[int]:
    return unique([appeal.owner_id, *heads_but_owner(appeal, people)])


def _deciders(actor: Actor, appeal: Appeal, people: Directory) -> list[int]:
    """Who decides an extension request: the heads but the owner and the actor, else the
    leaders."""
    heads = [h for h in heads_but_owner(appeal, people) if h != actor.tg_id]
    return heads or list(people.leaders)


# Who may be told, by name: (actor, appeal, people, requester, the action's detail) → the chats.
Recipients = Callable[[Actor, Appeal, Directory, int | None, dict[str, Any]], list[int]]
WHO: dict[str, Recipients] = {
    "handlers": lambda actor, appeal, people, _, __: handlers(appeal, people),
    "handlers_but_actor": lambda actor, appeal, people, _, __: [
        c for c in handlers(appeal, people) if c != actor.tg_id
    ],
    "contacts": lambda actor, appeal, people, _, __: list(people.contacts),
    "owner": lambda actor, appeal, people, _, __: unique([appeal.owner_id]),
    "owner_and_heads": lambda actor, appeal, people, _, __: _owner_and_heads(appeal, people),
    "deciders": lambda actor, appeal, people, _, __: _deciders(actor, appeal, people),
    "requester": lambda actor, appeal, people, requester, _: unique([requester]),
    # the official who had claimed it, told it left them (not when they transferred it)
    "former_owner": lambda actor, appeal, people, _, detail: [
        c for c in unique([detail.get("from_owner")]) if c != actor.tg_id
    ],
}

# Notice kinds that hand an appeal to new readers: the files it came with so far follow
# them (a department the appeal is transferred to reads what the enterprise sent).
CARRY_APPEAL_FILES = frozenset({"transferred"})

# action → [(who, notice kind)]: every action of the workflow has its row (() when nobody
# is told); each kind is worded as `notice.<kind>` (tests/test_catalog.py checks both).
AFTER_ACTION: dict[str, tuple[tuple[str, str], ...]] = {
    FILED: (("handlers", "new_appeal"),),
    Action.CLAIM: (("contacts", "claimed"),),
    Action.REPLY: (("contacts", "reply"),),
    Action.CLOSE: (("contacts", "closed"),),
    Action.NOTE: (("handlers_but_actor", "note"),),
    Action.SUPPLEMENT: (("handlers_but_actor", "supplement"),),
    Action.WITHDRAW: (("handlers_but_actor", "withdrawn"),),
    Action.TRANSFER: (
        ("handlers", "transferred"),
        ("contacts", "transferred_public"),
        ("former_owner", "transferred_away"),  # who had claimed it: no longer theirs
    ),
    Action.RATE: (("owner_and_heads", "rated"),),
    Action.REOPEN: (("owner_and_heads", "reopened"),),
    Action.EXTEND: (("deciders", "extension_request"),),
    "rating_comment": (("owner", "rating_comment"),),
    EXTENSION_APPROVED: (("requester", "extension_approved"), ("contacts", "extension_public")),
    EXTENSION_DENIED: (("requester", "extension_denied"),),
}


# What each notice offers its recipient as the next step: the buttons of these actions the
# recipient may take when it is sent (checked against the appeal as it is then), beside 查看.
# CLAIM stands for the first step of a pending appeal: 签收 for its department (a group
# too), 转办 for a leader. Every notice kind is decided here, an empty row included.
DECIDE_EXTENSION = "decide_extension"  # the request's own 同意延期 / 不同意
FIRST_STEP = (Action.CLAIM,)
HANDLE = (Action.CLAIM, Action.REPLY, Action.CLOSE)
GO_ON = (Action.REPLY, Action.TRANSFER, Action.CLOSE)
NEXT_STEPS: dict[str, tuple[str, ...]] = {
    FILED: FIRST_STEP,
    "transferred": FIRST_STEP,
    "claimed": (),  # the enterprise waits for the answer
    "transferred_public": (),
    "transferred_away": (),  # no longer theirs: 查看 only
    "reply": (Action.SUPPLEMENT,),  # the enterprise may answer with a 补充
    "closed": (Action.RATE, Action.REOPEN),
    "note": HANDLE,
    "supplement": HANDLE,
    "supplement_files": HANDLE,
    "withdrawn": (),
    "rated": (),
    "reopened": (Action.REPLY, Action.CLOSE),
    "rating_comment": (Action.REPLY, Action.CLOSE),  # after 不满意 the appeal is open again
    "extension_request": (DECIDE_EXTENSION,),
    "extension_approved": GO_ON,  # handle on, by the new deadline
    "extension_denied": GO_ON,  # handle on, by the deadline that stays
    "extension_public": (),
    "undelivered_to_contact": (),  # a telephone call, not a button
    # the ladder (提示 / 督办 / 提级)
    "unclaimed": FIRST_STEP,
    "due_soon": (Action.CLAIM, Action.CLOSE, Action.EXTEND),
    "due_today": (Action.CLAIM, Action.CLOSE, Action.EXTEND),
    "overdue": (Action.CLAIM, Action.CLOSE),
    "raise": FIRST_STEP,
}
# Tasks: to the holders, except a 销号 request (and what is added to it or corrected in
# it while it waits), which goes to the leaders to decide.
TASK_NEXT_STEPS: dict[str, tuple[TaskAction, ...]] = {
    "request_close": (TaskAction.APPROVE, TaskAction.DEEM, TaskAction.SEND_BACK),
    "request_close_more": (TaskAction.APPROVE, TaskAction.DEEM, TaskAction.SEND_BACK),
    "request_close_files": (TaskAction.APPROVE, TaskAction.DEEM, TaskAction.SEND_BACK),
    "request_close_edited": (TaskAction.APPROVE, TaskAction.DEEM, TaskAction.SEND_BACK),
    "approve": (),
    "deem": (TaskAction.REPORT,),  # 持续整改: monthly progress
    "send_back": (TaskAction.REPORT, TaskAction.REQUEST_CLOSE),  # work on, then apply again
    "assign": (TaskAction.REPORT, TaskAction.REQUEST_CLOSE),
    "task_d7": (TaskAction.REPORT, TaskAction.REQUEST_CLOSE),
    "task_d3": (TaskAction.REPORT, TaskAction.REQUEST_CLOSE),
    "task_d1": (TaskAction.REPORT, TaskAction.REQUEST_CLOSE),
    "task_overdue": (TaskAction.REPORT, TaskAction.REQUEST_CLOSE),
    "task_monthly": (TaskAction.REPORT,),
}


def next_steps(
    kind: str,
    appeal: Appeal,
    allowed: Iterable[str] | None,
    leader: bool = False,
    extension_pending: bool = False,
) -> list[str]:
    """The next-step actions a notice of `kind` about `appeal` (as it is now) offers a
    recipient who may now take `allowed` (None: a department group, which may take only
    the first step). CLAIM is the first step of a pending appeal: 转办 for a leader.
    同意延期 / 不同意 only while the request is still `extension_pending` (a late notice
    of a request decided meanwhile offers no dead buttons)."""
    pending = appeal.state is State.PENDING
    mine = set(FIRST_STEP if allowed is None else allowed)
    if leader and Action.TRANSFER in mine:
        mine.add(Action.CLAIM)

    def offered(step: str) -> bool:
        if step == DECIDE_EXTENSION:  # a person's decision, while the request waits for it
            return allowed is not None and extension_pending and appeal.state in OPEN_STATES
        if step in FIRST_STEP:
            return pending and step in mine
        return step in mine

    return [step for step in NEXT_STEPS[kind] if offered(step)]


TO_LEADERS = frozenset(
    {"request_close", "request_close_more", "request_close_edited", "request_close_files"}
)


def task_next_steps(kind: str, state: str, leader: bool) -> list[TaskAction]:
    """The next-step actions a task notice of `kind` offers a leader or a holder, as the
    task's `state` allows now."""
    party = Party.LEADER if leader else Party.TASK_HOLDER
    return [
        a
        for a in TASK_NEXT_STEPS[kind]
        if state in TASK_FLOW[a].from_states and party in TASK_FLOW[a].by
    ]


def after_action(
    action: str,
    actor: Actor,
    appeal: Appeal,
    people: Directory,
    detail: dict[str, Any] | None = None,
    requester: int | None = None,
) -> list[Notice]:
    """The notices one committed action owes to people other than the actor."""
    notices = []
    for who, kind in AFTER_ACTION[action]:
        # What contacts are told keeps who acted: they are told if it cannot arrive.
        said = dict(detail or {}, by=actor.tg_id) if who == "contacts" else dict(detail or {})
        for chat in WHO[who](actor, appeal, people, requester, detail or {}):
            notices.append(Notice(chat, kind, appeal, said))
    return notices


def for_ladder(kind: str, appeal: Appeal | None, people: Directory) -> list[int]:
    """Recipients of a 提示 / 督办 / 提级 about an appeal; the leaders when nobody else."""
    leaders = list(people.leaders)
    if appeal is None:
        return leaders
    staff = [p.tg_id for p in people.staff]
    handler = [appeal.handler_id] if appeal.handler_id else staff
    if kind == "raise":
        chats = leaders
    elif kind == "unclaimed":
        chats = people.heads or staff
    elif kind == "overdue":
        chats = handler + people.heads
    else:
        chats = handler
    return unique(chats) or leaders


def for_task(holders: Iterable[int], leaders: Iterable[int]) -> list[int]:
    """A task's reminders go to its holders; to the leaders while it has none."""
    return unique(holders) or unique(leaders)
