"""The full role × action × state matrix of the pure access rules (no database, no Telegram)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from bot.rules import access
from bot.rules.model import Action, Actor, Appeal, Role, State, Task, TaskAction, TaskState
from bot.rules.refusals import DomainError, InvalidTransition, NotAllowed, NotYourAppeal
from bot.rules.workflow import APPEAL_FLOW, TASK_FLOW

TODAY = date(2026, 3, 10)
DEPT, OTHER_DEPT, ENT, OTHER_ENT = 1, 2, 10, 11
PEOPLE = {
    "stranger": Actor(1, Role.GUEST, "路人"),
    "enterprise A": Actor(2, Role.ENTERPRISE, "陈经理", enterprise_id=ENT),
    "enterprise B": Actor(3, Role.ENTERPRISE, "周总", enterprise_id=OTHER_ENT),
    "owner": Actor(4, Role.OFFICIAL, "李明", department_id=DEPT),
    "colleague": Actor(5, Role.OFFICIAL, "王芳", department_id=DEPT),
    "wrong department": Actor(6, Role.OFFICIAL, "赵敏", department_id=OTHER_DEPT),
    "head": Actor(7, Role.HEAD, "张科长", department_id=DEPT),
    "leader": Actor(8, Role.ADMIN, "王局长"),
}
# Who may take each action on a claimed appeal (owner 李明) in a state that allows it.
EXPECTED = {
    Action.CLAIM: {"owner", "colleague", "head"},  # only while pending (owner not set then)
    Action.REPLY: {"owner", "head"},
    Action.NOTE: {"owner", "colleague", "head", "leader"},
    Action.TRANSFER: {"owner", "colleague", "head", "leader"},
    Action.CLOSE: {"owner", "head"},
    Action.EXTEND: {"owner", "head"},
    Action.SUPPLEMENT: {"enterprise A"},
    Action.WITHDRAW: {"enterprise A"},
    Action.RATE: {"enterprise A"},
    Action.REOPEN: {"enterprise A"},
}


def appeal(state: State, owner: int | None = 4) -> Appeal:
    moment = datetime(2026, 3, 9, tzinfo=UTC)
    return Appeal(
        1, "SQ-2026-000001", ENT, "企业", "融资", "描述", state, DEPT, "jrj", "金融局",
        None, owner, None, TODAY, date(2026, 3, 20), moment, None, None, None, None, None, 0, 3,
    )  # fmt: skip


def outcome(actor: Actor, item: Appeal, action: Action) -> str:
    try:
        access.authorize(actor, item, action, item.version, TODAY)
    except DomainError as exc:
        return type(exc).__name__
    return "ok"


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("state", list(State))
def test_every_role_action_and_state(action, state):
    row = APPEAL_FLOW[action]
    owner = None if state is State.PENDING else 4
    item = appeal(state, owner)
    for who, actor in PEOPLE.items():
        result = outcome(actor, item, action)
        if state not in row.from_states:
            if access.may_see(actor, item):
                assert result == "InvalidTransition", (who, action, state)
            else:
                assert result == "AppealNotFound" or result == "InvalidTransition"
            continue
        if who in EXPECTED[action]:
            assert result == "ok", (who, action, state, result)
        else:
            assert result in ("NotAllowed", "NotYourAppeal"), (who, action, state, result)


def test_strangers_and_other_enterprises_see_nothing():
    item = appeal(State.IN_PROGRESS)
    for who in ("stranger", "enterprise B", "wrong department"):
        assert not access.may_see(PEOPLE[who], item)
        assert access.parties(PEOPLE[who], item) == frozenset()
    with pytest.raises(DomainError):
        access.visible_or_not_found(PEOPLE["enterprise B"], item)


def test_refusals_say_not_yours_to_staff_and_not_allowed_to_others():
    item = appeal(State.IN_PROGRESS)
    with pytest.raises(NotYourAppeal):
        access.authorize(PEOPLE["colleague"], item, Action.REPLY, None, TODAY)
    with pytest.raises(NotAllowed):
        access.authorize(PEOPLE["leader"], item, Action.REPLY, None, TODAY)
    with pytest.raises(InvalidTransition):
        access.authorize(PEOPLE["owner"], appeal(State.WITHDRAWN), Action.REPLY, None, TODAY)


def test_a_routed_appeal_is_claimed_only_by_its_official_or_the_head():
    item = replace(appeal(State.PENDING, owner=None), assignee_id=4)
    assert outcome(PEOPLE["owner"], item, Action.CLAIM) == "ok"
    assert outcome(PEOPLE["colleague"], item, Action.CLAIM) == "NotYourAppeal"
    assert outcome(PEOPLE["head"], item, Action.CLAIM) == "ok"


def test_no_extension_after_the_deadline():
    item = appeal(State.IN_PROGRESS)
    late = date(2026, 3, 21)
    assert Action.EXTEND not in access.allowed_actions(PEOPLE["owner"], item, late)
    with pytest.raises(DomainError):
        access.authorize(PEOPLE["owner"], item, Action.EXTEND, None, late)


def task(state: TaskState, owner_id: int | None = 4) -> Task:
    moment = datetime(2026, 3, 9, tzinfo=UTC)
    return Task(1, 1, "方面", "问题", "措施", "王局长", "金融局", "李明", owner_id,
                date(2026, 3, 20), state, 2, moment)  # fmt: skip


@pytest.mark.parametrize("action", list(TaskAction))
@pytest.mark.parametrize("state", list(TaskState))
def test_task_matrix_by_user_id_not_by_name(action, state):
    row = TASK_FLOW[action]
    namesake = Actor(9, Role.OFFICIAL, "李明", department_id=OTHER_DEPT)  # same name, not owner
    for who, actor in {**PEOPLE, "namesake": namesake}.items():
        item = task(state)
        try:
            access.authorize_task(actor, item, action, item.version)
            result = "ok"
        except DomainError as exc:
            result = type(exc).__name__
        holder = who == "owner"
        allowed = state in row.from_states and (
            (holder and action in (TaskAction.REPORT, TaskAction.REQUEST_CLOSE))
            or (who == "leader" and action not in (TaskAction.REPORT, TaskAction.REQUEST_CLOSE))
        )
        assert (result == "ok") == allowed, (who, action, state, result)


def test_an_unmapped_task_is_held_by_its_stand_ins():
    item = task(TaskState.IN_PROGRESS, owner_id=None)
    head = PEOPLE["head"]
    assert access.allowed_task_actions(head, item, frozenset({head.tg_id})) == [
        TaskAction.REPORT,
        TaskAction.REQUEST_CLOSE,
    ]
    assert access.allowed_task_actions(PEOPLE["owner"], item, frozenset({head.tg_id})) == []
