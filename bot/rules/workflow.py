"""The workflows as data: one row per action — from which states, to which state, by whom.

Appeals and rectification tasks use the same row type. Adding an appeal action means one
row here, one row in the button codec (`handlers/buttons.py`), one use case registered
with `bot.usecases.appeals.handles`, and its texts in the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.rules.model import Action, Party, State, TaskAction, TaskState


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
    versioned: bool = False  # a state change needs an up-to-date button

    def target(self, state: StrEnum) -> StrEnum:
        return self.to_state if self.to_state is not None else state


def _step(action: StrEnum, states: set, to: StrEnum | None, by: set, **kw: object) -> Step:
    return Step(action, frozenset(states), to, frozenset(by), **kw)


P, W, C, R = State.PENDING, State.IN_PROGRESS, State.CLOSED, State.RATED
ANY_STAFF = {Party.STAFF, Party.LEADER}

APPEAL_FLOW: dict[StrEnum, Step] = {
    s.action: s
    for s in (
        _step(Action.CLAIM, {P}, W, {Party.CLAIMANT, Party.HEAD}, versioned=True),
        _step(Action.REPLY, {W}, None, {Party.OWNER, Party.HEAD}, needs=Needs.TEXT),
        _step(Action.NOTE, {P, W, C, R}, None, ANY_STAFF, needs=Needs.TEXT),
        _step(
            Action.TRANSFER, {P, W}, P, ANY_STAFF, needs=Needs.DEPARTMENT_AND_TEXT, versioned=True
        ),
        _step(Action.CLOSE, {W}, C, {Party.OWNER, Party.HEAD}, needs=Needs.TEXT, versioned=True),
        _step(Action.EXTEND, {W}, None, {Party.OWNER, Party.HEAD}, needs=Needs.DATE_AND_TEXT),
        _step(Action.SUPPLEMENT, {P, W}, None, {Party.CONTACT}, needs=Needs.TEXT_OR_FILE),
        _step(
            Action.WITHDRAW, {P, W}, State.WITHDRAWN, {Party.CONTACT}, needs=Needs.TEXT,
            versioned=True,
        ),
        _step(Action.RATE, {C}, R, {Party.CONTACT}, needs=Needs.RATING, versioned=True),
        _step(Action.REOPEN, {C}, W, {Party.CONTACT}, versioned=True),
    )
}  # fmt: skip

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
        _step(
            TaskAction.APPROVE, {TaskState.CLOSE_REQUESTED, TaskState.DEEMED_DONE},
            TaskState.DONE, {Party.LEADER}, versioned=True,
        ),
        _step(
            TaskAction.DEEM, {TaskState.CLOSE_REQUESTED}, TaskState.DEEMED_DONE, {Party.LEADER},
            versioned=True,
        ),
        _step(
            TaskAction.SEND_BACK, {TaskState.CLOSE_REQUESTED}, TaskState.IN_PROGRESS,
            {Party.LEADER}, needs=Needs.TEXT, versioned=True,
        ),
    )
}  # fmt: skip


def step(flow: dict[StrEnum, Step], state: StrEnum, action: StrEnum) -> Step | None:
    """The row for `action` if it may be taken in `state`."""
    row = flow.get(action)
    return row if row is not None and state in row.from_states else None


def actions_in(flow: dict[StrEnum, Step], state: StrEnum) -> list[StrEnum]:
    return [action for action, row in flow.items() if state in row.from_states]
