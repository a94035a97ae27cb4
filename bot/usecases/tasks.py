"""Use cases of the rectification ledger (整改任务): import, export, progress, 销号, mapping."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field, replace

from bot.rules import access, checks, delivery
from bot.rules.model import (
    Actor,
    Attachment,
    Department,
    Party,
    Person,
    Role,
    Task,
    TaskAction,
    TaskState,
)
from bot.rules.names import visible_name
from bot.rules.refusals import NotAllowed, TaskPartClosed, TaskReassigned, TaskStale
from bot.rules.task_ledger import (
    AMEND,
    ASSIGN,
    Cursor,
    TaskEntry,
    TaskFilter,
    TaskPage,
    closed_by,
    event_kind,
    event_written_with,
    first_view,
    history,
    page_of,
)
from bot.rules.tasks import COLUMNS, resolve_owner, validate_table
from bot.rules.workflow import TASK_FLOW, TASK_VERSION_EVENTS, assignment_stale
from bot.usecases import albums, outbox
from bot.usecases.env import Env, already_done, remember, unseen
from bot.usecases.people import (
    Who,
    actor_in,
    department_staff,
    official_named_in,
    staff_in,
)
from bot.usecases.task_holders import holders, stand_ins
from storage.contract import UnitOfWork


@dataclass(frozen=True)
class Unmapped:
    """An imported 责任人 that is not exactly one official: held by stand-ins meanwhile."""

    row: int
    seq: int
    name: str
    matches: int
    department_name: str
    held_by_heads: bool


@dataclass(frozen=True)
class ImportResult:
    count: int
    unmapped: list[Unmapped]
    summary: dict[TaskState, int] = field(default_factory=dict)  # the ledger after it, by state


@dataclass(frozen=True)
class TaskView:
    task: Task
    history: list[TaskEntry]  # every event of the task, oldest first
    actions: list[TaskAction]
    may_assign: bool
    files: int = 0  # every report's files (查看附件)
    held_by_heads: bool = False  # with no 责任人 yet: its department's heads hold it (else leaders)


@dataclass(frozen=True)
class TaskOutcome:
    task: Task
    notify: list[int] = field(default_factory=list)
    text: str | None = None
    queued: tuple[int, ...] = ()
    ack_id: int | None = None  # the actor's confirmation, stored in case the answer fails
    report_id: int | None = None  # the report (or 销号 request) the text was stored as
    view: TaskView | None = None  # the task's card as the actor sees it after the action
    replayed: bool = False  # the same request again: what it did the first time


async def import_table(
    env: Env,
    who: Who | None,
    rows: list[list[str]],
    headers: dict[str, str],
    states_by_label: dict,
) -> ImportResult:
    """Import a whole table (who None: the command line). Nothing on any bad row. The
    result counts the whole ledger by state after it (what the leader is told)."""
    now = env.now()
    unmapped: list[Unmapped] = []
    async with env.db.unit_of_work() as uow:
        actor = None if who is None else await actor_in(uow, env, who)
        access.require_leader(actor)
        await uow.tasks.hold_ledger()
        tasks = validate_table(
            rows, await uow.tasks.existing_seqs(), headers, states_by_label, env.today()
        )
        for row in tasks:
            named = await uow.people.staff_named(row.owner_name)
            owner_id = resolve_owner(row.owner_name, named)
            task_id = await uow.tasks.add(row, owner_id, now)
            if owner_id is None:
                task = await uow.tasks.get(task_id)
                unmapped.append(
                    Unmapped(
                        row.row,
                        row.seq,
                        row.owner_name,
                        len(named),
                        row.department_name,
                        bool(await stand_ins(uow, task)),
                    )
                )
            await uow.audit.add(
                _subject(task_id),
                actor.tg_id if actor else None,
                "task_import",
                now,
                to_state=row.state,
                detail={"seq": row.seq, "owner": row.owner_name, "owner_id": owner_id},
            )
        summary = await uow.tasks.counts_by_state()
        await uow.commit()
    return ImportResult(len(tasks), unmapped, summary)


async def may_import(env: Env, who: Who) -> None:
    """Only a leader imports a ledger (asked before the file is): NotAllowed else."""
    async with env.db.reading() as uow:
        access.require_leader(await actor_in(uow, env, who))


async def export(env: Env, who: Who | None) -> list[tuple[Task, list[TaskEntry]]]:
    """Every task with its whole history (progress, 销号 requests and decisions, 责任人
    named), for the ledger: a few queries, however many tasks and events."""
    async with env.db.reading() as uow:
        access.require_leader(None if who is None else await actor_in(uow, env, who))
        tasks = await uow.tasks.all()
        reports = await uow.tasks.all_reports()
        events = await uow.audit.of_subjects(TASK)
        histories = [
            history(reports.get(task.id, []), events.get(_subject(task.id), [])) for task in tasks
        ]
        names = await uow.people.names(
            {e.official_id for entries in histories for e in entries if e.official_id is not None}
        )
    return [(task, _named(entries, names)) for task, entries in zip(tasks, histories, strict=True)]


async def _history(uow: UnitOfWork, task: Task) -> list[TaskEntry]:
    """The task's events with their authors; a 责任人 named carries the official's name."""
    entries = history(
        await uow.tasks.reports(task.id), await uow.audit.of_subject(_subject(task.id))
    )
    named = {e.official_id for e in entries if e.official_id is not None}
    return _named(entries, await uow.people.names(named))


def _named(entries: list[TaskEntry], names: dict[int, str]) -> list[TaskEntry]:
    """Each 责任人 named with the official's name (None: no longer found)."""
    return [
        replace(e, official_name=names.get(e.official_id)) if e.official_id is not None else e
        for e in entries
    ]


def _by(actor: Actor) -> dict[str, str]:
    """The actor's name for the task's history: a leader has no account row to find it in
    later (a name that is only the id is no name: the history says 局领导/督办员)."""
    shown = visible_name(actor.name)
    return {"by": shown} if shown else {}


TASK = "task"  # a task's audit events are about `task:<id>`


def _subject(task_id: int) -> str:
    return f"{TASK}:{task_id}"


@dataclass(frozen=True)
class Browsed:
    """A page of the ledger as a person reads it."""

    page: TaskPage
    leader: bool  # the whole ledger (a leader), else the tasks the person holds
    summary: dict[TaskState, int] = field(default_factory=dict)  # a leader's: every task


async def browse(env: Env, who: Who, kind: TaskFilter | None, cursor: Cursor | None) -> Browsed:
    """A page of the tasks the actor sees (leaders: the whole ledger, with its summary),
    by state; kind None: what /tasks shows first."""
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        tasks = await _held(uow, actor)
        leader = actor.role is Role.ADMIN
        summary = await uow.tasks.counts_by_state() if leader else {}
    first, order = first_view(tasks, leader)
    page = page_of(tasks, first if kind is None else kind, cursor, order=order, today=env.today())
    return Browsed(page, leader, summary)


def ledger_columns() -> tuple[str, ...]:
    return COLUMNS


async def tasks_for(env: Env, who: Who) -> list[Task]:
    """Leaders see the whole ledger; officials the tasks they hold."""
    async with env.db.reading() as uow:
        return await _held(uow, await actor_in(uow, env, who))


async def _held(uow: UnitOfWork, actor: Actor) -> list[Task]:
    access.require_staff_or_leader(actor)
    if actor.role is Role.ADMIN:
        return await uow.tasks.all()
    dept = await uow.departments.get(actor.department_id)
    stands_in = actor.role is Role.HEAD and dept is not None
    return await uow.tasks.held_by(actor.tg_id, dept.name if stands_in else None)


async def _visible(uow: UnitOfWork, actor: Actor, task_id: int) -> tuple[Task, frozenset[int]]:
    task = await uow.tasks.get(task_id)
    if task is None:
        return access.visible_task(actor, None), frozenset()
    extra = await stand_ins(uow, task)
    if not access.task_parties(actor, task, extra):
        gone = access.reassigned_from(actor, await uow.audit.of_subject(_subject(task_id)))
        if gone is not None:  # it was theirs: say to whom it went, and when
            holder = await uow.people.get(task.owner_id) if task.owner_id else None
            raise TaskReassigned(
                seq=task.seq,
                at=gone.created_at,
                who=gone.actor_name or "",
                who_role=gone.actor_role or "",
                owner=(holder.full_name if holder else task.owner_name) or "",
            )
    return access.visible_task(actor, task, extra), extra


async def view(env: Env, who: Who, task_id: int) -> TaskView:
    async with env.db.reading() as uow:
        return await _view(uow, await actor_in(uow, env, who), task_id)


async def _view(uow: UnitOfWork, actor: Actor, task_id: int) -> TaskView:
    """The task's card as the actor may see it, read in this unit of work."""
    task, extra = await _visible(uow, actor, task_id)
    entries = await _history(uow, task)
    files = len(await uow.tasks.files(task.id))
    may_assign = actor.role is Role.ADMIN
    actions = access.allowed_task_actions(actor, task, extra)
    return TaskView(task, entries, actions, may_assign, files, held_by_heads=bool(extra))


async def files(env: Env, who: Who, task_id: int) -> tuple[Task, list[Attachment]]:
    """A task's files (every report's), for whoever may see the task (查看附件)."""
    async with env.db.reading() as uow:
        task, _ = await _visible(uow, await actor_in(uow, env, who), task_id)
        return task, await uow.tasks.files(task.id)


async def view_seq(env: Env, who: Who, seq: int) -> TaskView:
    """A task by its 序号 (/tasks 26), for whoever may see it."""
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        task = await uow.tasks.by_seq(seq)
        return await _view(uow, actor, task.id if task else 0)


def _unseen(uow: UnitOfWork, task: Task, version: int | None) -> Awaitable[list[str] | None]:
    """The changes a task button made at `version` has not seen (`access.authorize_task`)."""
    return unseen(
        lambda: uow.audit.of_subject(_subject(task.id)), version, task.version, TASK_VERSION_EVENTS
    )


async def preflight(env: Env, who: Who, task_id: int, action: TaskAction, version: int) -> Task:
    """Check, before asking for the text an action needs, that it would be allowed."""
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        task, extra = await _visible(uow, actor, task_id)
        changes = await _unseen(uow, task, version)
    access.authorize_task(actor, task, action, version, extra, changes)
    return task


async def act(
    env: Env,
    who: Who,
    task_id: int,
    action: TaskAction,
    version: int,
    text: str | None,
    attachments: tuple[Attachment, ...] = (),
    key: str | None = None,
) -> TaskOutcome:
    """Report, request 销号, or (leaders) approve / deem done / send back; the outcome
    carries the task's card as the actor sees it after the action. The same request
    (`key`) again — an update re-delivered after a crash, a second tap — does nothing new
    and answers as the first did (`_acted_before`)."""
    if text is not None:
        if action is TaskAction.SEND_BACK:  # a 退回 says why in words
            text = checks.reason_text(text, "reason", env.org.limits, env.today())
        else:
            text = checks.free_text(text, "report", env.org.limits)
    now = env.now()
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        done = await already_done(uow, env, actor.tg_id, key, event_kind(action))
        if done is not None:
            return await _acted_before(uow, actor, done, action)
        task, extra = await _visible(uow, actor, task_id)
        changes = await _unseen(uow, task, version)
        access.authorize_task(actor, task, action, version, extra, changes)
        target = TASK_FLOW[action].target(task.state)
        report_id = None
        if text is not None:
            kind = "decision" if Party.LEADER in TASK_FLOW[action].by else "progress"
            report_id = await uow.tasks.add_report(task_id, actor.tg_id, kind, text, now)
        files = [
            await uow.tasks.add_attachment(task_id, report_id, attachment, now)
            for attachment in attachments
        ]
        if target != task.state and not await uow.tasks.set_state(
            task_id, task.version, target, now
        ):
            raise TaskStale(seq=task.seq)
        await uow.audit.add(
            _subject(task_id),
            actor.tg_id,
            f"task_{action}",
            now,
            from_state=task.state,
            to_state=target,
            detail={
                **({"text": text, "report": report_id} if text else {}),
                **_by(actor),
            }
            or None,
        )
        after = await uow.tasks.get(task_id)
        if action is TaskAction.REQUEST_CLOSE:
            notify = sorted(env.leaders)
        elif Party.LEADER in TASK_FLOW[action].by:
            notify = [c for c in await holders(env, uow, after) if c != actor.tg_id]
        else:
            notify = []
        queued = []
        said = {"text": text or "", **({delivery.FILES: files} if files else {})}
        for chat in notify:
            queued.append(
                await uow.outbox.add(
                    chat,
                    f"task_{action}",
                    "task",
                    task_id,
                    said,
                    delivery.NOTICE,
                    now,
                )
            )
        ack = await outbox.enqueue_ack(
            uow, env, actor.tg_id, f"done_task.{action}", ("task", task_id), {"seq": task.seq}
        )
        await remember(uow, env, actor.tg_id, key, event_kind(action), task_id)
        card = await _view(uow, actor, task_id)
        await uow.commit()
    return TaskOutcome(after, notify, text, tuple(queued), ack, report_id, card)


async def _acted_before(
    uow: UnitOfWork, actor: Actor, task_id: int, action: TaskAction
) -> TaskOutcome:
    """What an action done already answers again: the task and its card as they are now,
    the report it stored, and its stored confirmation if that has not gone yet (`ack_id`:
    the answer now is that one; None: the person was answered)."""
    task = await uow.tasks.get(task_id)
    mine = [
        e
        for e in await uow.audit.of_subject(_subject(task_id))
        if e.action == event_kind(action) and e.actor_id == actor.tg_id
    ]
    detail = mine[-1].detail if mine else {}
    report = detail.get("report")
    return TaskOutcome(
        task,
        text=detail.get("text"),
        ack_id=await uow.outbox.unsent_ack(actor.tg_id, TASK, task_id),
        report_id=int(report) if report is not None else None,
        view=await _view(uow, actor, task_id),
        replayed=True,
    )


@dataclass(frozen=True)
class Amended:
    task: Task
    queued: tuple[int, ...] = ()  # the leaders' notices of what was added to a 销号 request
    replayed: bool = False  # the same request again: it joined the report the first time


async def amend_report(
    env: Env,
    who: Who,
    task_id: int,
    report_id: int | None,
    text: str | None,
    attachments: tuple[Attachment, ...] = (),
    part: str | None = None,
    edit: bool = False,
    key: str | None = None,
) -> Amended:
    """More of a report (or 销号 request) the holder is still sending: its whole text so far
    (None: unchanged) and files; `part` is what was added (or, `edit`, what a part now
    reads). Only the author's own report of this task (None: their latest), while they
    still hold it and nothing moved the task since the report was made (a decision, a new
    责任人): else TaskPartClosed names that change. A text over the limit is refused.
    Refused, nothing is stored. Accepted, an audit event records the whole text after it;
    a 销号 request still waiting tells the leaders what was added, with their decisions.
    The same request (`key`) again changes nothing (replayed)."""
    now = env.now()
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        found = await uow.tasks.get(task_id)
        if found is not None and await already_done(uow, env, actor.tg_id, key, AMEND):
            return Amended(found, replayed=True)
        mine = [
            r
            for r in (await uow.tasks.reports(task_id) if found else [])
            if r.author_id == actor.tg_id and report_id in (None, r.id)
        ]
        events = await uow.audit.of_subject(_subject(task_id)) if mine else []
        if found is not None and mine:
            closed = closed_by(mine[-1], events)
            if closed is not None:  # decided, sent back, deemed done, given another 责任人
                raise TaskPartClosed(closed, seq=found.seq, state=found.state)
        task, extra = await _visible(uow, actor, task_id)
        if Party.TASK_HOLDER not in access.task_parties(actor, task, extra) or not mine:
            raise NotAllowed()
        report = mine[-1]
        if text is not None:
            text = checks.free_text(text, "report", env.org.limits)
            await uow.tasks.set_report_text(report.id, text)
        earlier = await uow.tasks.file_ids_of(task_id, report.id)
        files = [
            await uow.tasks.add_attachment(task_id, report.id, attachment, now)
            for attachment in attachments
        ]
        await remember(uow, env, actor.tg_id, key, AMEND, task_id)
        if text is None and not attachments:
            await uow.commit()
            return Amended(task)
        await uow.audit.add(
            _subject(task_id),
            actor.tg_id,
            AMEND,
            now,
            detail={
                "report": report.id,
                "text": text if text is not None else report.text,
                **({"part": part} if part is not None else {}),
                **({"files": len(attachments)} if attachments else {}),
                **({"edit": True} if edit else {}),
                **_by(actor),
            },
        )
        queued = []
        request = event_kind(TaskAction.REQUEST_CLOSE)
        made_with = event_written_with(report, events)
        if made_with is not None and made_with.action == request and text is None and earlier:
            # files alone (the further photos of an album): they follow the notice of the
            # request's earlier files, or one continuation — never a notice per photo
            more = f"{request}_files"
            queued.extend(await albums.follow(uow, now, (TASK, task_id), earlier, files, more))
        elif made_with is not None and made_with.action == request:
            kind = f"{request}_{'edited' if edit else 'more'}"
            said = {"text": part or "", **({delivery.FILES: files} if files else {})}
            for chat in sorted(env.leaders):  # the files added follow the notice, as at first
                queued.append(
                    await uow.outbox.add(chat, kind, TASK, task_id, said, delivery.NOTICE, now)
                )
        await uow.commit()
    return Amended(task, tuple(queued))


@dataclass(frozen=True)
class OwnerChoice:
    """What 指定责任人 offers: the task, and every official with their department."""

    task: Task
    staff: list[tuple[Person, Department]]


async def owner_choice(env: Env, who: Who, task_id: int) -> OwnerChoice:
    """The officials a leader may make a task's 责任人 (anybody else: NotAllowed, once the
    task is one they may see)."""
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        task, _ = await _visible(uow, actor, task_id)
        if actor.role is not Role.ADMIN:
            raise NotAllowed()
        return OwnerChoice(task, await staff_in(uow))


@dataclass(frozen=True)
class Assigned:
    """A task given its 责任人: the official is told through the outbox (`queued`)."""

    task: Task
    official: Person
    queued: tuple[int, ...] = ()
    replayed: bool = False  # the same request again: what it did the first time


ASSIGNED = f"{TASK}_assign"  # the official's notice (worded as notice_task_assign)


async def assign_owner(
    env: Env, who: Who, task_id: int, version: int, official_id: int, key: str | None = None
) -> Assigned:
    """A leader maps a task to the official who is its 责任人; renaming changes nothing.
    The same request (`key`) again changes nothing and answers as the first did."""
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        done = await already_done(uow, env, actor.tg_id, key, ASSIGN)
        if done is not None:
            return await _assigned_before(uow, done)
        return await _assign(uow, env, actor, task_id, version, official_id, key)


async def assign_owner_named(
    env: Env, who: Who, task_id: int, version: int, typed: str, key: str | None = None
) -> Assigned:
    """The 责任人 typed by name (姓名, or 姓名（部门）): a name that is not exactly one
    official raises OfficialNameUnclear, and nothing changes."""
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        done = await already_done(uow, env, actor.tg_id, key, ASSIGN)
        if done is not None:
            return await _assigned_before(uow, done)
        official = await official_named_in(uow, actor, typed)
        return await _assign(uow, env, actor, task_id, version, official.tg_id, key)


async def _assigned_before(uow: UnitOfWork, task_id: int) -> Assigned:
    """What a 责任人 named already answers again: the task and the official it was given."""
    task = await uow.tasks.get(task_id)
    named = [e for e in await uow.audit.of_subject(_subject(task_id)) if e.action == ASSIGN]
    official = await uow.people.get(int(named[-1].to_state))
    assert task is not None and official is not None, "a request remembered what it did"
    return Assigned(task, official, replayed=True)


async def _assign(
    uow: UnitOfWork,
    env: Env,
    actor: Actor,
    task_id: int,
    version: int,
    official_id: int,
    key: str | None,
) -> Assigned:
    """Map the task to the official in this unit of work, tell them (the outbox), commit
    (the request `key` claimed already)."""
    now = env.now()
    task, official = access.assignable_task(
        actor, await uow.tasks.get(task_id), await uow.people.get(official_id)
    )
    if assignment_stale(await _unseen(uow, task, version)):
        raise TaskStale(seq=task.seq)
    if not await uow.tasks.set_owner(task_id, task.version, official_id, now):
        raise TaskStale(seq=task.seq)
    await uow.audit.add(
        _subject(task_id),
        actor.tg_id,
        ASSIGN,
        now,
        from_state=str(task.owner_id or ""),
        to_state=str(official_id),
        detail={"owner": task.owner_name, **_by(actor)},
    )
    told = await uow.outbox.add(official_id, ASSIGNED, TASK, task_id, {}, delivery.NOTICE, now)
    await remember(uow, env, actor.tg_id, key, ASSIGN, task_id)
    after = await uow.tasks.get(task_id)
    await uow.commit()
    return Assigned(after, official, (told,))


async def owner_department(
    env: Env, who: Who, task_id: int, department_id: int
) -> tuple[Task, Department, list[Person]]:
    """The officials of one department, to choose a task's 责任人 among (leaders only; an
    unknown task or department reads as TaskNotFound)."""
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        task, department = access.task_department(
            actor, await uow.tasks.get(task_id), await uow.departments.get(department_id)
        )
        return task, department, await department_staff(uow, department)
