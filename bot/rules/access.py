"""Who may see and do what. The one place that answers it, for appeals, extensions and tasks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.rules.model import (
    STAFF_ROLES,
    Action,
    Actor,
    Appeal,
    Extension,
    Party,
    Person,
    Role,
    State,
    Task,
    TaskAction,
    TaskState,
)
from bot.rules.refusals import (
    AppealNotFound,
    ExtensionTooLate,
    InvalidInput,
    InvalidTransition,
    NotAllowed,
    NotRegistered,
    NotYourAppeal,
    StaleAction,
    TaskNotFound,
    TaskStale,
    TaskWrongState,
)
from bot.rules.workflow import APPEAL_FLOW, TASK_FLOW, actions_in, step

# The roles that can ever stand in a party; refusing one of them says "not yours",
# anybody else "not allowed".
PARTY_ROLES = {
    Party.CONTACT: {Role.ENTERPRISE},
    Party.CLAIMANT: {Role.OFFICIAL, Role.HEAD},
    Party.OWNER: {Role.OFFICIAL, Role.HEAD},
    Party.HEAD: {Role.HEAD},
    Party.STAFF: {Role.OFFICIAL, Role.HEAD},
    Party.LEADER: {Role.ADMIN},
    Party.TASK_HOLDER: {Role.OFFICIAL, Role.HEAD},
}


def may_see(actor: Actor, appeal: Appeal) -> bool:
    if actor.role is Role.ADMIN:
        return True
    if actor.role is Role.ENTERPRISE:
        return appeal.enterprise_id == actor.enterprise_id
    if actor.is_staff:
        return actor.tg_id in (appeal.assignee_id, appeal.owner_id) or (
            appeal.department_id == actor.department_id
        )
    return False


def parties(actor: Actor, appeal: Appeal) -> frozenset[Party]:
    """Every way `actor` stands to `appeal` (empty for a stranger)."""
    if not may_see(actor, appeal):
        return frozenset()
    found: set[Party] = set()
    if actor.role is Role.ADMIN:
        found.add(Party.LEADER)
    elif actor.role is Role.ENTERPRISE:
        found.add(Party.CONTACT)
    elif actor.is_staff:
        found.add(Party.STAFF)
        if appeal.owner_id == actor.tg_id:
            found.add(Party.OWNER)
        if actor.role is Role.HEAD and appeal.department_id == actor.department_id:
            found.add(Party.HEAD)
        if appeal.assignee_id is None or appeal.assignee_id == actor.tg_id:
            found.add(Party.CLAIMANT)
    return frozenset(found)


def _late_for_extension(appeal: Appeal, today: date) -> bool:
    return today > appeal.due_date


def authorize(
    actor: Actor, appeal: Appeal, action: Action, version: int | None, today: date
) -> None:
    """Raise the refusal that fits, or return when `actor` may take `action` now."""
    row = APPEAL_FLOW.get(action)
    if row is not None and row.versioned and version is not None and version != appeal.version:
        raise StaleAction(number=appeal.number)
    if step(APPEAL_FLOW, appeal.state, action) is None:
        raise InvalidTransition(number=appeal.number, state=appeal.state)
    assert row is not None
    if not row.by & parties(actor, appeal):
        if any(actor.role in PARTY_ROLES[p] for p in row.by):
            raise NotYourAppeal(number=appeal.number)
        raise NotAllowed()
    if action is Action.EXTEND and _late_for_extension(appeal, today):
        raise ExtensionTooLate(number=appeal.number, due=appeal.due_date.isoformat())


def allowed_actions(actor: Actor, appeal: Appeal, today: date) -> list[Action]:
    mine = parties(actor, appeal)
    return [
        a
        for a in actions_in(APPEAL_FLOW, appeal.state)
        if APPEAL_FLOW[a].by & mine
        and not (a is Action.EXTEND and _late_for_extension(appeal, today))
    ]


def visible_or_not_found(actor: Actor, appeal: Appeal | None) -> Appeal:
    """An unknown id and an appeal the actor may not see get the same answer, on purpose."""
    if appeal is None or not may_see(actor, appeal):
        raise AppealNotFound()
    return appeal


def require_enterprise(actor: Actor) -> None:
    """Only a registered enterprise contact files and lists its own appeals."""
    if actor.role is Role.GUEST:
        raise NotRegistered()
    if actor.role is not Role.ENTERPRISE:
        raise NotAllowed()


def require_registered(actor: Actor) -> None:
    if actor.role is Role.GUEST:
        raise NotRegistered()


def require_leader(actor: Actor | None) -> None:
    """Leaders only; `None` is the operator at the command line or the scheduler."""
    if actor is not None and actor.role is not Role.ADMIN:
        raise NotAllowed()


def require_staff_or_leader(actor: Actor) -> None:
    if actor.role is not Role.ADMIN and not actor.is_staff:
        raise NotAllowed()


@dataclass(frozen=True)
class ListScope:
    """Which open appeals a list shows: all (leaders) or a department and a person."""

    department_id: int | None
    person_id: int | None

    @property
    def everything(self) -> bool:
        return self.department_id is None and self.person_id is None


def list_scope(actor: Actor) -> ListScope:
    if actor.role is Role.ADMIN:
        return ListScope(None, None)
    if actor.is_staff:
        return ListScope(actor.department_id, actor.tg_id)
    raise NotAllowed()


def authorize_extension_decision(
    actor: Actor, extension: Extension, appeal: Appeal, approve: bool
) -> None:
    """The department head or a leader decides; never the one who asked; only while open."""
    may_decide = actor.role is Role.ADMIN or (
        actor.role is Role.HEAD and actor.department_id == appeal.department_id
    )
    if not may_decide or extension.requested_by == actor.tg_id:
        raise NotAllowed()
    if extension.state != "pending":
        raise StaleAction(number=appeal.number)
    if appeal.state not in (State.PENDING, State.IN_PROGRESS):
        raise InvalidTransition(number=appeal.number, state=appeal.state)


# Tasks --------------------------------------------------------------------------------


def task_parties(actor: Actor, task: Task, stand_in_ids: frozenset[int]) -> frozenset[Party]:
    """A task's holder is its mapped 责任人; until mapped, the stand-ins (the department head)."""
    found: set[Party] = set()
    if actor.role is Role.ADMIN:
        found.add(Party.LEADER)
    if actor.is_staff:
        holder = actor.tg_id == task.owner_id if task.owner_id else actor.tg_id in stand_in_ids
        if holder:
            found.add(Party.TASK_HOLDER)
    return frozenset(found)


def visible_task(
    actor: Actor, task: Task | None, stand_in_ids: frozenset[int] = frozenset()
) -> Task:
    if task is None or not task_parties(actor, task, stand_in_ids):
        raise TaskNotFound()
    return task


def authorize_task(
    actor: Actor,
    task: Task,
    action: TaskAction,
    version: int | None,
    stand_in_ids: frozenset[int] = frozenset(),
) -> None:
    row = TASK_FLOW[action]
    if row.versioned and version is not None and version != task.version:
        raise TaskStale(seq=task.seq)
    if step(TASK_FLOW, task.state, action) is None:
        raise TaskWrongState(seq=task.seq, state=task.state)
    if not row.by & task_parties(actor, task, stand_in_ids):
        raise NotAllowed()


def allowed_task_actions(
    actor: Actor, task: Task, stand_in_ids: frozenset[int] = frozenset()
) -> list[TaskAction]:
    mine = task_parties(actor, task, stand_in_ids)
    return [a for a in actions_in(TASK_FLOW, task.state) if TASK_FLOW[a].by & mine]


def is_close_requested(task: Task) -> bool:
    return task.state is TaskState.CLOSE_REQUESTED


def require_official(person: Person | None) -> Person:
    """Only a joined official or head can be made 包保 or 责任人."""
    if person is None or person.role not in STAFF_ROLES:
        raise InvalidInput(field="official", reason="unknown")
    return person
