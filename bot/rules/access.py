"""Who may see and do what. The one place that answers it, for appeals, extensions, tasks,
contacts, 包保 and invites.

Every id that comes from a button or a command is checked here against the actor's scope
(enterprise, department, role) before anything else: an id outside it gets the same
refusal as an id that does not exist (`…NotFound`), so ids cannot be probed. Only then do
the finer refusals ("not yours", "not now") apply, to things the actor may see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bot.rules.model import (
    STAFF_ROLES,
    Action,
    Actor,
    Appeal,
    Department,
    Enterprise,
    Event,
    Extension,
    Party,
    Person,
    Role,
    State,
    Task,
    TaskAction,
)
from bot.rules.refusals import (
    AppealNotFound,
    BaobaoNotFound,
    ContactNotFound,
    DepartmentNotFound,
    ExtensionTooLate,
    InvalidInput,
    InvalidTransition,
    NotAllowed,
    NotRegistered,
    NotYourAppeal,
    PrimaryContactStays,
    StaleAction,
    TaskNotFound,
    TaskStale,
    TaskWrongState,
)
from bot.rules.workflow import (
    APPEAL_FLOW,
    EXTENSION_DECISION,
    TASK_FLOW,
    actions_in,
    stale,
    step,
    voids_decision,
)

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
    actor: Actor,
    appeal: Appeal,
    action: Action,
    version: int | None,
    today: date,
    changes: Sequence[str] | None = None,
) -> None:
    """Raise the refusal that fits, or return when `actor` may take `action` now. A button
    made at an older `version` works unless `workflow.stale` says the press would now mean
    something else; `changes` are the events it has not seen (None: not known)."""
    row = APPEAL_FLOW.get(action)
    allows = step(APPEAL_FLOW, appeal.state, action) is not None
    if row is not None and stale(row, allows, version, appeal.version, changes):
        raise StaleAction(number=appeal.number, action=str(action))
    if not allows:
        raise InvalidTransition(number=appeal.number, state=appeal.state, action=str(action))
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


def moved_from(actor: Actor, events: Sequence[Event]) -> Event | None:
    """For staff who no longer see an appeal: the transfer that took it from them when they
    had handled it (acted on it before); None for someone who never had it."""
    if not actor.is_staff:
        return None
    had, moved = False, None
    for e in events:
        had = had or e.actor_id == actor.tg_id
        if e.action == Action.TRANSFER and had:
            moved = e
    return moved


def reassigned_from(actor: Actor, events: Sequence[Event]) -> Event | None:
    """For staff who no longer hold a task: the 指定责任人 that gave it to another, when it
    was theirs; None for someone who never held it."""
    if not actor.is_staff:
        return None
    mine = str(actor.tg_id)
    found = [e for e in events if e.action == "task_assign" and e.from_state == mine]
    return found[-1] if found else None


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


def visible_extension(actor: Actor, extension: Extension | None, appeal: Appeal | None) -> Appeal:
    """An extension request is internal: the staff who see its appeal and the leaders see
    it; for anybody else it does not exist."""
    if extension is None or appeal is None or extension.appeal_id != appeal.id:
        raise AppealNotFound()
    if not (actor.role is Role.ADMIN or actor.is_staff) or not may_see(actor, appeal):
        raise AppealNotFound()
    return appeal


def authorize_extension_decision(
    actor: Actor,
    extension: Extension,
    appeal: Appeal,
    approve: bool,
    changes: Sequence[str] = (),
) -> None:
    """The department head or a leader decides; never the one who asked; only while the
    request is open and means what it said: the appeal still being handled where it was,
    by the deadline it was asked against (`changes`: the events since the request)."""
    may_decide = actor.role is Role.ADMIN or (
        actor.role is Role.HEAD and actor.department_id == appeal.department_id
    )
    if not may_decide or extension.requested_by == actor.tg_id:
        raise NotAllowed()
    decision = EXTENSION_DECISION
    if extension.state != "pending" or voids_decision(changes):
        raise StaleAction(number=appeal.number, action=decision)
    if extension.old_due_date != appeal.due_date:
        raise StaleAction(number=appeal.number, action=decision)
    if appeal.state not in (State.PENDING, State.IN_PROGRESS):
        raise InvalidTransition(number=appeal.number, state=appeal.state, action=decision)


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
    changes: Sequence[str] | None = None,
) -> None:
    """As `authorize`, for a task: an old button works unless `workflow.stale` says not."""
    row = TASK_FLOW[action]
    allows = step(TASK_FLOW, task.state, action) is not None
    if stale(row, allows, version, task.version, changes):
        raise TaskStale(seq=task.seq)
    if not allows:
        raise TaskWrongState(seq=task.seq, state=task.state)
    if not row.by & task_parties(actor, task, stand_in_ids):
        raise NotAllowed()


def allowed_task_actions(
    actor: Actor, task: Task, stand_in_ids: frozenset[int] = frozenset()
) -> list[TaskAction]:
    mine = task_parties(actor, task, stand_in_ids)
    return [a for a in actions_in(TASK_FLOW, task.state) if TASK_FLOW[a].by & mine]


# Contacts, 包保, invites ----------------------------------------------------------------


def manages_contacts(actor: Actor, enterprise: Enterprise) -> bool:
    """A leader manages every enterprise's contacts; a first contact their own only."""
    if actor.role is Role.ADMIN:
        return True
    return (
        actor.role is Role.ENTERPRISE
        and actor.enterprise_id == enterprise.id
        and enterprise.primary_contact_id == actor.tg_id
    )


def removable_contact(actor: Actor, enterprise: Enterprise | None, person: Person | None) -> Person:
    """The contact to remove: one of an enterprise the actor manages (the first stays)."""
    if enterprise is None or person is None or not manages_contacts(actor, enterprise):
        raise ContactNotFound()
    if person.role is not Role.ENTERPRISE or person.enterprise_id != enterprise.id:
        raise ContactNotFound()
    if person.tg_id == enterprise.primary_contact_id:
        raise PrimaryContactStays()
    return person


def removed_contact_in_scope(
    actor: Actor, enterprise: Enterprise | None, person: Person | None
) -> Person:
    """A removed contact the actor may hear about (of an enterprise they manage); anything
    else reads as unknown, as for `removable_contact`."""
    if enterprise is None or person is None or not manages_contacts(actor, enterprise):
        raise ContactNotFound()
    if person.enterprise_id != enterprise.id:
        raise ContactNotFound()
    return person


def named_enterprise_in_scope(own: Enterprise, named: str | None) -> None:
    """A first contact who names an enterprise by its code (/contacts 代码, /colleague 代码)
    may name only their own: another one is answered as a code nobody registered."""
    if named and own.uscc != named:
        raise InvalidInput(field="enterprise", reason="unknown")


def baobao_pair(
    actor: Actor, enterprise: Enterprise | None, official: Person | None
) -> tuple[Enterprise, Person]:
    """A leader makes a joined official the 包保 of an enterprise; nothing else exists."""
    if actor.role is not Role.ADMIN or enterprise is None:
        raise BaobaoNotFound()
    if official is None or official.role not in STAFF_ROLES:
        raise BaobaoNotFound()
    return enterprise, official


def baobao_department(
    actor: Actor, enterprise: Enterprise | None, department: Department | None
) -> tuple[Enterprise, Department]:
    """A leader choosing a 包保 among one department's officials; nothing else exists."""
    if actor.role is not Role.ADMIN or enterprise is None or department is None:
        raise BaobaoNotFound()
    return enterprise, department


def assignable_task(
    actor: Actor, task: Task | None, official: Person | None
) -> tuple[Task, Person]:
    """A leader maps a task to a joined official; for anybody else the task does not exist."""
    if actor.role is not Role.ADMIN or task is None:
        raise TaskNotFound()
    if official is None or official.role not in STAFF_ROLES:
        raise TaskNotFound()
    return task, official


def task_department(
    actor: Actor, task: Task | None, department: Department | None
) -> tuple[Task, Department]:
    """A leader choosing a task's 责任人 among one department's officials; for anybody else
    (or an unknown task or department) the task does not exist."""
    if actor.role is not Role.ADMIN or task is None or department is None:
        raise TaskNotFound()
    return task, department


def invitable_department(actor: Actor, department: Department | None) -> Department:
    """Only a leader invites, and only to a department of the org config."""
    if actor.role is not Role.ADMIN or department is None:
        raise DepartmentNotFound()
    return department
