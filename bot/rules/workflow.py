"""The workflows as data: one row per action — from which states, to which state, by whom,
and which later changes make an old button of it mean something else.

Appeals and rectification tasks use the same row type. Adding an appeal action: README.md
("Adding an appeal action") lists every place, this module's part included — its row
here, and, when it changes the version, its event in APPEAL_VERSION_EVENTS (tasks:
TASK_VERSION_EVENTS) and the `void_after` of the rows it makes mean something else.

When a button dies (the one rule, `stale`): a button carries the version of the appeal or
task it was made for. Pressing it after a change is refused only when the press would now
mean something different — the state no longer allows the action, or a change the row
names in `void_after` happened since (an outcome decided, a new round of handling, the
appeal sent elsewhere, a decision taken). Any other change (a claim, an approved extension,
a 退回 that asks for the request again, a new 责任人) leaves the button working: an action
that is still allowed works from any button the person holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from bot.rules.model import Action, Event, Party, State, TaskAction, TaskState


class Needs(StrEnum):
    """What the user must give before the use case can run."""

    NOTHING = "nothing"
    TEXT = "text"
    TEXT_OR_FILE = "text_or_file"
    DEPARTMENT_AND_TEXT = "department_and_text"
    DATE_AND_TEXT = "date_and_text"
    RATING = "rating"


@dataclass(frozen=True)
class Step:
    action: StrEnum
    from_states: frozenset[StrEnum]
    to_state: StrEnum | None  # None: the state does not change
    by: frozenset[Party]
    needs: Needs = Needs.NOTHING
    versioned: bool = False  # its button carries the version it was made for
    # the changes (audit event actions) after which an old button of it means something else
    void_after: frozenset[str] = frozenset()

    def target(self, state: StrEnum) -> StrEnum:
        return self.to_state if self.to_state is not None else state


def _step(
    action: StrEnum, states: set, to: StrEnum | None, by: set, void: Iterable[str] = (), **kw: Any
) -> Step:
    return Step(action, frozenset(states), to, frozenset(by), void_after=frozenset(void), **kw)


P, W, C, R = State.PENDING, State.IN_PROGRESS, State.CLOSED, State.RATED
ANY_STAFF = {Party.STAFF, Party.LEADER}

# The audit events that each change an appeal's version by one (filing makes version 1), so
# a button made at version v has seen the first v - 1 of them.
EXTENSION_APPROVED, EXTENSION_DENIED = "extension_approved", "extension_denied"
APPEAL_VERSION_EVENTS = frozenset(
    {Action.CLAIM, Action.TRANSFER, Action.CLOSE, Action.WITHDRAW, Action.RATE, Action.REOPEN,
     EXTENSION_APPROVED}
)  # fmt: skip
# The dates an appeal's events set, each recorded in the event's detail (so a replay of a
# past day reads them, never counts them again on today's calendar): filing records the
# 办结期限 in "due" and the 签收期限 in "claim_due"; the events in DUE_EVENTS set a new 办结期限
# ("new_due", the one replaced in "old_due"); those in CLAIM_DUE_EVENTS a new 签收期限
# ("claim_due"); 办结 the 评价期限 ("rating_due"). Events stored before a date was recorded
# lack it: filing counted from its day, a 不满意 counted the time limit from its day.
FILE = "file"
DUE_EVENTS = frozenset({EXTENSION_APPROVED, Action.REOPEN})
CLAIM_DUE_EVENTS = frozenset({Action.TRANSFER})


def last_due_event(events: Sequence[Event]) -> Event | None:
    """The last of `events` that set the appeal's 办结期限 (None: the filing's stands)."""
    return next((e for e in reversed(events) if e.action in DUE_EVENTS), None)


def due_set_by_extension(events: Sequence[Event]) -> bool:
    """Whether the 办结期限 that `events` leave in force is one an approved extension set."""
    last = last_due_event(events)
    return last is not None and last.action == EXTENSION_APPROVED


# An outcome decided (办结, 撤回, 评价) or a new round of handling (不满意重办).
OUTCOMES = frozenset({Action.CLOSE, Action.WITHDRAW, Action.RATE, Action.REOPEN})
# Handling an appeal where it is: void once it was sent elsewhere or an outcome came.
HANDLING = OUTCOMES | {Action.TRANSFER}

APPEAL_FLOW: dict[StrEnum, Step] = {
    s.action: s
    for s in (
        _step(Action.CLAIM, {P}, W, {Party.CLAIMANT, Party.HEAD}, versioned=True),  # while pending
        _step(Action.REPLY, {W}, None, {Party.OWNER, Party.HEAD}, needs=Needs.TEXT),
        _step(Action.NOTE, {P, W, C, R}, None, ANY_STAFF, needs=Needs.TEXT),
        _step(
            Action.TRANSFER, {P, W}, P, ANY_STAFF, HANDLING, needs=Needs.DEPARTMENT_AND_TEXT,
            versioned=True,
        ),
        _step(
            Action.CLOSE, {W}, C, {Party.OWNER, Party.HEAD}, HANDLING, needs=Needs.TEXT,
            versioned=True,
        ),
        _step(Action.EXTEND, {W}, None, {Party.OWNER, Party.HEAD}, needs=Needs.DATE_AND_TEXT),
        _step(Action.SUPPLEMENT, {P, W}, None, {Party.CONTACT}, needs=Needs.TEXT_OR_FILE),
        _step(
            Action.WITHDRAW, {P, W}, State.WITHDRAWN, {Party.CONTACT}, needs=Needs.TEXT,
            versioned=True,
        ),
        # a rating answers one closing: void once it was handled again
        _step(Action.RATE, {C}, R, {Party.CONTACT}, HANDLING, needs=Needs.RATING, versioned=True),
        _step(Action.REOPEN, {C}, W, {Party.CONTACT}, HANDLING, versioned=True),
    )
}  # fmt: skip

# Task events (`task_<action>`, `task_assign`) that each change a task's version by one.
TASK_DECISIONS = frozenset(
    f"task_{a}"
    for a in (TaskAction.REQUEST_CLOSE, TaskAction.APPROVE, TaskAction.DEEM, TaskAction.SEND_BACK)
)
TASK_VERSION_EVENTS = TASK_DECISIONS | {"task_assign"}

TASK_FLOW: dict[StrEnum, Step] = {
    s.action: s
    for s in (
        _step(
            TaskAction.REPORT, {TaskState.IN_PROGRESS, TaskState.DEEMED_DONE}, None,
            {Party.TASK_HOLDER}, needs=Needs.TEXT_OR_FILE,
        ),
        _step(
            TaskAction.REQUEST_CLOSE, {TaskState.IN_PROGRESS}, TaskState.CLOSE_REQUESTED,
            {Party.TASK_HOLDER}, needs=Needs.TEXT, versioned=True,
        ),
        # a leader's decision answers one request: void once another was made or decided
        _step(
            TaskAction.APPROVE, {TaskState.CLOSE_REQUESTED, TaskState.DEEMED_DONE},
            TaskState.DONE, {Party.LEADER}, TASK_DECISIONS, versioned=True,
        ),
        _step(
            TaskAction.DEEM, {TaskState.CLOSE_REQUESTED}, TaskState.DEEMED_DONE, {Party.LEADER},
            TASK_DECISIONS, versioned=True,
        ),
        _step(
            TaskAction.SEND_BACK, {TaskState.CLOSE_REQUESTED}, TaskState.IN_PROGRESS,
            {Party.LEADER}, TASK_DECISIONS, needs=Needs.TEXT, versioned=True,
        ),
    )
}  # fmt: skip


def step(flow: dict[StrEnum, Step], state: StrEnum, action: StrEnum) -> Step | None:
    """The row for `action` if it may be taken in `state`."""
    row = flow.get(action)
    return row if row is not None and state in row.from_states else None


def actions_in(flow: dict[StrEnum, Step], state: StrEnum) -> list[StrEnum]:
    return [action for action, row in flow.items() if state in row.from_states]


# An extension decision answers one request: void once the deadline moved, the appeal went
# elsewhere, an outcome came, or the request was decided (it carries no version: the events
# after its request are what it has not seen).
EXTENSION_DECISION_VOID_AFTER = HANDLING | {EXTENSION_APPROVED, EXTENSION_DENIED}


def changes_since(
    events: Sequence[str], version: int, current: int, counted: frozenset[str]
) -> list[str] | None:
    """The changes (event actions, oldest first) a button made at `version` has not seen:
    the n-th of the `counted` events made version n + 1. None — refused as before — for a
    version never reached, or a history that does not account for every version step."""
    bumps = [e for e in events if e in counted]
    if len(bumps) + 1 != current or not 1 <= version <= current:
        return None
    return bumps[version - 1 :]


def stale(
    row: Step,
    state_allows: bool,
    version: int | None,
    current: int,
    changes: Sequence[str] | None,
) -> bool:
    """The one rule for an old button: refused when the state no longer allows its action,
    or a change it has not seen makes the press mean something else (unknown changes: None)."""
    if not row.versioned or version is None or version == current:
        return False
    if not state_allows or changes is None:
        return True
    return any(c in row.void_after for c in changes)


# Choosing a task's 责任人 (指定责任人) answers who holds it: void once somebody chose one.
ASSIGNMENT_VOID_AFTER = frozenset({"task_assign"})


def assignment_stale(changes: Sequence[str] | None) -> bool:
    """Whether an old 指定责任人 choice now means something else (unknown changes: yes)."""
    return changes is None or any(c in ASSIGNMENT_VOID_AFTER for c in changes)


def voids_decision(changes: Iterable[str]) -> bool:
    """Whether changes after an extension request make deciding it mean something else."""
    return any(c in EXTENSION_DECISION_VOID_AFTER for c in changes)


# What an old button is answered with ---------------------------------------------------------
# A refused press names the change that explains it: the last change RELEVANT to the button
# (what decides whether its action may still be taken) and VISIBLE to the person who pressed
# it (an enterprise never reads an internal event: extension decisions, notes, reasons).
EXTENSION_DECISION = "extension_decision"  # the 同意延期 / 不同意 buttons
# Who handles the appeal and what came of it: what any appeal button depends on.
STANDING = HANDLING | {Action.CLAIM}
RELEVANT: dict[str, frozenset[str]] = {
    # 签收 answers "who handles it": a new round (不满意重办) is not who claimed it
    str(Action.CLAIM): frozenset(STANDING - {Action.REOPEN}),
    EXTENSION_DECISION: frozenset(STANDING | EXTENSION_DECISION_VOID_AFTER),
}
# The changes an enterprise contact is told of (each by its own notice); the rest is internal.
VISIBLE_TO_ENTERPRISE = frozenset(
    {"file", Action.CLAIM, Action.TRANSFER, Action.CLOSE, Action.WITHDRAW, Action.RATE,
     Action.REOPEN}
)  # fmt: skip


class Change(Protocol):
    """An audit event as the rule reads it."""

    @property
    def action(self) -> str: ...
    @property
    def to_state(self) -> str | None: ...


C = TypeVar("C", bound=Change)


def explaining_change(events: Sequence[C], action: str, state: str, enterprise: bool) -> C | None:
    """The change to name when a press of `action` is refused (events oldest first): the
    last relevant one that led to the appeal's current `state`, else the last relevant one;
    only those the presser may read (`enterprise`: a contact). None: none to name."""
    relevant = RELEVANT.get(action, STANDING)
    seen = [
        e
        for e in events
        if e.action in relevant and (not enterprise or e.action in VISIBLE_TO_ENTERPRISE)
    ]
    led_here = [e for e in seen if e.to_state == state]
    found = led_here or seen
    return found[-1] if found else None


def already_there(action: str, state: str) -> bool:
    """Whether pressing `action` would put the appeal where it already is (撤回 twice)."""
    row = next((r for a, r in APPEAL_FLOW.items() if str(a) == action), None)
    return row is not None and row.to_state is not None and row.to_state == state
