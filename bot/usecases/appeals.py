"""Use cases on appeals: filing, every workflow action, ratings, extensions and reading.

Each action of `bot.rules.workflow.APPEAL_FLOW` has one function here registered with
`@handles(action)`; all take (env, actor, ActionRequest) and return an Outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from bot.rules import access, audiences, checks, delivery
from bot.rules.audiences import Directory
from bot.rules.deadlines import REOPEN_KEPT, REOPEN_KEPT_EXTENSION
from bot.rules.model import (
    INTERNAL_MESSAGE_KINDS,
    Action,
    Actor,
    Appeal,
    AppealView,
    Attachment,
    Department,
    Event,
    Extension,
    ExtensionState,
    MessageKind,
    Outcome,
    Party,
    Rating,
    Role,
    State,
    format_number,
)
from bot.rules.refusals import (
    AppealMovedAway,
    DomainError,
    DuplicateAppeal,
    ExtensionPending,
    InvalidInput,
    NotAllowed,
    RatingExpired,
    StaleAction,
)
from bot.rules.workflow import (
    APPEAL_FLOW,
    APPEAL_VERSION_EVENTS,
    EXTENSION_APPROVED,
    EXTENSION_DECISION,
    EXTENSION_DENIED,
    FILE,
    due_set_by_extension,
    explaining_change,
)
from bot.usecases import albums, outbox
from bot.usecases.env import Env, already_done, remember, unseen
from bot.usecases.people import Removal, Who, actor_in, removal_in
from storage.contract import UnitOfWork

# The same text from the same enterprise within this window is probably a repeat.
UNNUMBERED = "~"  # a filed appeal's stand-in number until it is numbered, in its transaction
DUPLICATE_WINDOW = timedelta(hours=24)

# Both lists follow the one declaration of MessageKind (bot/rules/model.py).
ALL_MESSAGE_KINDS = tuple(MessageKind)
PUBLIC_MESSAGE_KINDS = tuple(k for k in MessageKind if k not in INTERNAL_MESSAGE_KINDS)


@dataclass(frozen=True)
class ActionRequest:
    """What the user gave for one action on one appeal; `key` makes it idempotent."""

    appeal_id: int
    version: int | None = None
    key: str | None = None
    text: str | None = None
    department_code: str | None = None
    new_due: str | None = None
    rating: Rating | None = None
    attachments: tuple[Attachment, ...] = ()


# Each takes whom it acts for: a Caller is loaded as an Actor inside its unit of work.
UseCase = Callable[[Env, Who, ActionRequest], Awaitable[Outcome]]
USE_CASES: dict[Action, UseCase] = {}


def handles(action: Action) -> Callable[[UseCase], UseCase]:
    """Register the use case of a workflow action (the chat layer finds it here)."""

    def register(function: UseCase) -> UseCase:
        USE_CASES[action] = function
        return function

    return register


# How an action changes an appeal besides its state: `dataclasses.replace` of the appeal
# as read in the write transaction (AppealRepo.save writes it if nobody changed it since).
Edit = Callable[[Appeal], Appeal]


@dataclass(frozen=True)
class Change:
    """What one action writes: the appeal's edit, maybe a message, the audit detail."""

    edit: Edit | None = None
    message_kind: MessageKind | None = None
    message_text: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()


# reading --------------------------------------------------------------------------------


async def load_visible(uow: UnitOfWork, actor: Actor, ref: int | str) -> Appeal:
    """The appeal if the actor sees it; else not found, except to staff who handled it and
    saw it transferred away: they are told where it went (AppealMovedAway)."""
    if isinstance(ref, str):
        number = checks.appeal_number(ref)
        found = await uow.appeals.by_number(number) if number else None
    else:
        found = await uow.appeals.get(ref)
    if found is not None and not access.may_see(actor, found):
        moved = access.moved_from(actor, await uow.audit.of_appeal(found.id))
        if moved is not None:
            raise AppealMovedAway(
                number=found.number,
                at=moved.created_at,
                who=moved.actor_name or "",
                who_role=moved.actor_role or "",
                department=found.department_name,
                by=moved.actor_id,
            )
    return access.visible_or_not_found(actor, found)


async def directory(uow: UnitOfWork, env: Env, appeal: Appeal) -> Directory:
    department = await uow.departments.get(appeal.department_id)
    return Directory(
        staff=tuple(await uow.people.staff_of(appeal.department_id)),
        department_chat=department.chat_id if department else None,
        contacts=tuple(await uow.people.contacts_of(appeal.enterprise_id)),
        leaders=tuple(sorted(env.leaders)),
        notices=env.org.routing.department_notices,
    )


async def view(env: Env, who: Who, ref: int | str) -> AppealView:
    """An appeal with what this actor may read of it: notes and history only for staff.
    (Someone not registered sees no appeal: any number is unknown to them.)"""
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        appeal = await load_visible(uow, actor, ref)
        staff_view = Party.CONTACT not in access.parties(actor, appeal)
        kinds = ALL_MESSAGE_KINDS if staff_view else PUBLIC_MESSAGE_KINDS
        messages = await uow.messages.of_appeal(appeal.id, kinds)
        # the files it may read: an enterprise's contacts never count the bureau's own
        public = None if staff_view else PUBLIC_MESSAGE_KINDS
        attachments = len(await uow.messages.files(appeal.id, kinds=public))
        events = await uow.audit.of_appeal(appeal.id) if staff_view else []
        notices = await uow.notices.of_subject("appeal", appeal.id) if staff_view else []
        departments = {d.code: d.name for d in await uow.departments.all()}
    return AppealView(
        appeal,
        messages,
        attachments,
        events,
        access.allowed_actions(actor, appeal, env.today()),
        notices,
        actor,
        departments,
    )


async def files(env: Env, who: Who, appeal_id: int) -> tuple[Appeal, list[Attachment]]:
    """An appeal's files (the filing's and every 补充's), for whoever may see the appeal:
    its department, the leaders, its enterprise's contacts (查看附件)."""
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        appeal = await load_visible(uow, actor, appeal_id)
        staff_view = Party.CONTACT not in access.parties(actor, appeal)
        kinds = None if staff_view else PUBLIC_MESSAGE_KINDS  # internal files stay inside
        return appeal, await uow.messages.files(appeal.id, kinds=kinds)


async def last_change(env: Env, who: Who, number: str, action: str) -> tuple[Appeal, Event | None]:
    """An appeal as it is now and the change that explains why a press of `action` was
    refused, as this actor may read it (`workflow.explaining_change`)."""
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        appeal = await load_visible(uow, actor, number)
        events = await uow.audit.of_appeal(appeal.id)
    enterprise = Party.CONTACT in access.parties(actor, appeal)
    return appeal, explaining_change(events, action, appeal.state, enterprise)


def _unseen(uow: UnitOfWork, appeal: Appeal, version: int | None) -> Awaitable[list[str] | None]:
    """The changes a button made at `version` has not seen (what `access.authorize` weighs)."""
    return unseen(
        lambda: uow.audit.of_appeal(appeal.id), version, appeal.version, APPEAL_VERSION_EVENTS
    )


@dataclass(frozen=True)
class Listing:
    """A list as a person gets it: the first `items` (at most `[limits] list_max`) and how
    many there are in all."""

    items: list[Appeal]
    total: int
    actor: Actor  # whose list it is (staff read more columns)


async def my_appeals(env: Env, who: Who) -> Listing:
    """The enterprise's appeals, the latest first."""
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        access.require_enterprise(actor)
        items = await uow.appeals.of_enterprise(actor.enterprise_id, env.org.limits.list_max)
        total = await uow.appeals.count_of_enterprise(actor.enterprise_id)
        return Listing(items, total, actor)


async def inbox(env: Env, who: Who) -> Listing:
    """Open appeals in the actor's scope, the nearest due date first."""
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        scope = access.list_scope(actor)
        items = await uow.appeals.open_list(
            scope.department_id, scope.person_id, env.org.limits.list_max
        )
        total = await uow.appeals.open_count(scope.department_id, scope.person_id)
        return Listing(items, total, actor)


async def overdue(env: Env, who: Who) -> Listing:
    """Overdue appeals in the actor's scope, the longest overdue first."""
    today = env.today()
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        scope = access.list_scope(actor)
        items = await uow.appeals.overdue_list(
            today, scope.department_id, scope.person_id, env.org.limits.list_max
        )
        total = await uow.appeals.open_count(scope.department_id, scope.person_id, today)
        return Listing(items, total, actor)


@dataclass(frozen=True)
class Prompt:
    """What asking for an action's input needs: who asks, the appeal as it is now and,
    for a transfer, the departments it may go to."""

    actor: Actor
    appeal: Appeal
    departments: list[Department]


async def _authorized(
    uow: UnitOfWork, env: Env, actor: Actor, appeal_id: int, action: Action, version: int
) -> Appeal:
    appeal = await load_visible(uow, actor, appeal_id)
    changes = await _unseen(uow, appeal, version)
    access.authorize(actor, appeal, action, version, env.today(), changes)
    return appeal


async def preflight(env: Env, who: Who, appeal_id: int, action: Action, version: int) -> Prompt:
    """Check, before asking the user for text, that the action would be allowed."""
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        appeal = await _authorized(uow, env, actor, appeal_id, action, version)
        departments = []
        if action is Action.TRANSFER:
            departments = [d for d in await uow.departments.all() if d.id != appeal.department_id]
    return Prompt(actor, appeal, departments)


async def replayed_filing(env: Env, who: Who, key: str) -> Outcome | None:
    """What a request already filed, when the same request comes again once its draft is
    gone: the appeal, and its stored confirmation if that has not gone yet (`ack_id`)."""
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        done = await already_done(uow, env, actor.tg_id, key, "file")
        if done is None:
            return None
        return await _filed_before(uow, actor, await load_visible(uow, actor, done))


async def may_file(env: Env, who: Who) -> Actor:
    """Only a registered enterprise contact files an appeal (asked before /new's first
    prompt): NotRegistered or NotAllowed else."""
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
    access.require_enterprise(actor)
    return actor


# filing -------------------------------------------------------------------------------


async def _filed_before(uow: UnitOfWork, actor: Actor, appeal: Appeal) -> Outcome:
    """What a request that filed already answers again: the same appeal, whether its
    department could not hear of it then (as the first answer said), and its stored
    confirmation if that has not gone yet (`ack_id`: the answer now is that one)."""
    filed = [e for e in await uow.audit.of_appeal(appeal.id) if e.action == FILE]
    unheard = bool(filed and filed[0].detail.get(delivery.UNHEARD))
    ack = await uow.outbox.unsent_ack(actor.tg_id, "appeal", appeal.id)
    return Outcome(appeal, replayed=True, unheard=unheard, ack_id=ack)


async def file_appeal(
    env: Env,
    who: Who,
    category_code: str,
    description: str,
    attachments: tuple[Attachment, ...],
    key: str | None,
    again: bool = False,
    consulting: int | None = None,
) -> Outcome:
    """An enterprise files an appeal; it is routed and numbered in one transaction. The same
    text filed again within a day is refused (naming the first) unless `again` is given.
    The same request again (a re-delivered update) answers as the first did. `consulting`:
    the broadcast whose 咨询 it is (kept with the recipient, for the reach report)."""
    today, now = env.today(), env.now()
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        access.require_enterprise(actor)
        category = env.org.category(category_code)
        if category is None:
            raise InvalidInput(field="category", reason="unknown")
        description = checks.description(description, env.org.limits)
        if len(attachments) > env.org.limits.attachments_max:
            raise InvalidInput(
                field="attachments", reason="too_many", limit=env.org.limits.attachments_max
            )
        done = await already_done(uow, env, actor.tg_id, key, "file")
        if done is not None:
            return await _filed_before(uow, actor, await uow.appeals.get(done))
        await uow.enterprises.hold(actor.enterprise_id)
        enterprise = await uow.enterprises.get(actor.enterprise_id)
        assert enterprise is not None
        earlier = await uow.appeals.same_text_since(
            enterprise.id, description, now - DUPLICATE_WINDOW
        )
        if earlier is not None and not again:
            raise DuplicateAppeal(
                number=earlier.number, appeal_id=earlier.id, version=earlier.version
            )
        department = await uow.departments.by_code(category.department)
        assert department is not None, "departments are synced from the org config at start-up"
        assignee = None
        if env.org.routing.baobao_first and enterprise.baobao_user_id:
            baobao = await uow.people.get(enterprise.baobao_user_id)
            if baobao is not None and baobao.department_id is not None:
                assignee = baobao.tg_id
                department = await uow.departments.get(baobao.department_id)
        claim_due, due = env.deadlines.claim_due(today), env.deadlines.due(today, category)
        appeal_id = await uow.appeals.add(
            number=f"{UNNUMBERED}{uuid.uuid4().hex}",  # numbered last: see below
            enterprise_id=enterprise.id,
            filed_by=actor.tg_id,
            category=category.name,
            description=description,
            state=State.PENDING,
            department_id=department.id,
            assignee_id=assignee,
            claim_due_date=claim_due,
            due_date=due,
            created_at=now,
        )
        files = [
            await uow.messages.add_attachment(appeal_id, None, attachment, now)
            for attachment in attachments
        ]
        appeal = await uow.appeals.get(appeal_id)
        people = await directory(uow, env, appeal)
        unheard = {delivery.UNHEARD: True} if audiences.served_by_leaders(appeal, people) else {}
        await uow.audit.add(
            f"appeal:{appeal_id}",
            actor.tg_id,
            FILE,
            now,
            appeal_id=appeal_id,
            to_state=State.PENDING,
            detail={
                "category": category.name,
                "department": department.code,
                "route": "baobao" if assignee else "category",
                "due": due,  # the dates it set, for a replay of a past day
                "claim_due": claim_due,
                **unheard,
            },
        )
        await remember(uow, env, actor.tg_id, key, "file", appeal_id)
        if consulting is not None and await uow.broadcasts.is_recipient(consulting, actor.tg_id):
            await uow.broadcasts.link_appeal(consulting, actor.tg_id, appeal_id)
        notices = audiences.after_action(audiences.FILED, actor, appeal, people, _with(files))
        queued = await outbox.enqueue(uow, env, notices)
        # the stored confirmation says all the first answer says (the courier words it)
        ack = await outbox.enqueue_ack(
            uow, env, actor.tg_id, "filed", ("appeal", appeal.id), unheard
        )
        # The number last, right before COMMIT: the year's counter row stays locked from
        # here to the end (gap-free numbers), so other filings wait two statements for it,
        # not this filing's every round trip (notices name the appeal by id: worded later).
        number = format_number(today.year, await uow.appeals.next_seq(today.year))
        await uow.appeals.set_number(appeal_id, number)
        appeal = replace(appeal, number=number)
        notices = [replace(notice, appeal=appeal) for notice in notices]
        await uow.commit()
    return Outcome(appeal, notices, queued=queued, ack_id=ack, unheard=bool(unheard))


# the workflow actions -----------------------------------------------------------------------


# A change worked out inside the write transaction, from the appeal as it is there.
ChangeFor = Callable[[UnitOfWork, Appeal], Awaitable[Change]]


async def _apply(
    env: Env, who: Who, action: Action, req: ActionRequest, change: Change | ChangeFor
) -> Outcome:
    """Load the actor, authorize, change the appeal, store the message and the audit
    event, commit: one unit of work. A change worked out from the appeal (ChangeFor) is
    worked out before the permission check, so its refusals (an unknown department, a
    rating too late) come first, as the person's input is what they fix."""
    now = env.now()
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        done = await already_done(uow, env, actor.tg_id, req.key, action)
        if done is not None:  # the same answer again, with what the first one said
            events = [e for e in await uow.audit.of_appeal(done) if e.action == action]
            detail = events[-1].detail if events else {}
            appeal = await uow.appeals.get(done)
            return _answer(env, actor, Outcome(appeal, replayed=True, detail=detail))
        before = await load_visible(uow, actor, req.appeal_id)
        if not isinstance(change, Change):
            change = await change(uow, before)
        changes = await _unseen(uow, before, req.version)
        access.authorize(actor, before, action, req.version, env.today(), changes)
        target = APPEAL_FLOW[action].target(before.state)
        message_id = None
        if change.message_kind is not None:
            message_id = await uow.messages.add(
                before.id, actor.tg_id, change.message_kind, change.message_text, now
            )
        files = [
            await uow.messages.add_attachment(before.id, message_id, attachment, now)
            for attachment in change.attachments
        ]
        if target != before.state or change.edit is not None:
            edited = change.edit(before) if change.edit else before
            if not await uow.appeals.save(replace(edited, state=target), before.version):
                raise StaleAction(number=before.number, action=str(action))
        await uow.audit.add(
            f"appeal:{before.id}",
            actor.tg_id,
            action,
            now,
            appeal_id=before.id,
            from_state=before.state,
            to_state=target,
            detail=change.detail,
        )
        await remember(uow, env, actor.tg_id, req.key, action, before.id)
        after = await uow.appeals.get(before.id)
        people = await directory(uow, env, after)
        notices = audiences.after_action(action, actor, after, people, _with(files, change.detail))
        if any(n.kind in audiences.CARRY_APPEAL_FILES for n in notices):
            carried = await uow.messages.file_ids(after.id)
            notices = [
                replace(n, detail=_with(carried, n.detail))
                if n.kind in audiences.CARRY_APPEAL_FILES
                else n
                for n in notices
            ]
        queued = await outbox.enqueue(uow, env, notices)
        unheard = action is Action.TRANSFER and audiences.served_by_leaders(after, people)
        params = {**_ack_params(change), **({delivery.UNHEARD: True} if unheard else {})}
        ack = await outbox.enqueue_ack(
            uow, env, actor.tg_id, f"done.{action}", ("appeal", after.id), params
        )
        await uow.commit()
    outcome = Outcome(
        after, notices, detail=change.detail, queued=queued, ack_id=ack, unheard=unheard
    )
    return _answer(env, actor, outcome)


def _answer(env: Env, actor: Actor, outcome: Outcome) -> Outcome:
    """An outcome with what the person's answer needs: who acted and their next steps."""
    actions = access.allowed_actions(actor, outcome.appeal, env.today())
    return replace(outcome, actor=actor, actions=actions)


def _with(files: list[int], detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """A notice's detail naming the files it announces, which the courier sends after it."""
    return dict(detail or {}, **({delivery.FILES: files} if files else {}))


def _ack_params(change: Change) -> dict[str, Any]:
    """What a stored confirmation needs beyond the appeal itself."""
    kept = ("new_due", "rating", "due_basis", "fresh_due", "days")
    return {k: v for k, v in change.detail.items() if k in kept}


@handles(Action.CLAIM)
async def claim(env: Env, who: Who, req: ActionRequest) -> Outcome:
    now = env.now()
    change = Change(edit=lambda a: replace(a, owner_id=who.tg_id, claimed_at=now))
    return await _apply(env, who, Action.CLAIM, req, change)


@handles(Action.REPLY)
async def reply(env: Env, who: Who, req: ActionRequest) -> Outcome:
    text = checks.free_text(req.text, "reply", env.org.limits)
    change = Change(message_kind=MessageKind.REPLY, message_text=text, detail={"text": text})
    return await _apply(env, who, Action.REPLY, req, change)


@handles(Action.NOTE)
async def note(env: Env, who: Who, req: ActionRequest) -> Outcome:
    text = checks.free_text(req.text, "note", env.org.limits)
    change = Change(message_kind=MessageKind.NOTE, message_text=text, detail={"text": text})
    return await _apply(env, who, Action.NOTE, req, change)


@handles(Action.TRANSFER)
async def transfer(env: Env, who: Who, req: ActionRequest) -> Outcome:
    reason = checks.reason_text(req.text, "reason", env.org.limits, env.today())
    claim_due = env.deadlines.claim_due(env.today())

    async def change(uow: UnitOfWork, current: Appeal) -> Change:
        department = await uow.departments.by_code(req.department_code or "")
        if department is None:
            raise InvalidInput(field="department", reason="unknown")
        if department.id == current.department_id:
            raise InvalidInput(field="department", reason="same")
        return Change(
            edit=lambda a: replace(
                a,
                department_id=department.id,
                assignee_id=None,
                owner_id=None,
                claimed_at=None,
                claim_due_date=claim_due,
            ),
            # who had claimed it is told it left them (audiences: former_owner)
            detail={
                "department": department.code,
                "reason": reason,
                "claim_due": claim_due,
                "from_owner": current.owner_id,
            },
        )

    return await _apply(env, who, Action.TRANSFER, req, change)


@handles(Action.CLOSE)
async def close(env: Env, who: Who, req: ActionRequest) -> Outcome:
    summary = checks.reason_text(req.text, "summary", env.org.limits, env.today())
    rating_due, now = env.deadlines.rating_due(env.today()), env.now()
    change = Change(
        edit=lambda a: replace(a, resolution=summary, closed_at=now, rating_due_date=rating_due),
        detail={"text": summary, "rating_due": rating_due},
    )
    return await _apply(env, who, Action.CLOSE, req, change)


@handles(Action.SUPPLEMENT)
async def supplement(env: Env, who: Who, req: ActionRequest) -> Outcome:
    if req.attachments and not (req.text or "").strip():
        text = ""  # files alone are a supplement too
    else:
        text = checks.free_text(req.text, "supplement", env.org.limits)
    change = Change(
        message_kind=MessageKind.SUPPLEMENT,
        message_text=text,
        detail={"text": text, "files": len(req.attachments)},
        attachments=req.attachments,
    )
    return await _apply(env, who, Action.SUPPLEMENT, req, change)


ALBUM_ITEM = "supplement_album"  # the request key's use: one more file of an album
# The notice of files that joined a 补充 whose notice had already (partly) gone.
SUPPLEMENT_FILES = "supplement_files"


async def add_to_supplement(env: Env, who: Who, req: ActionRequest) -> Appeal:
    """The further files of an album (photos sent together) whose first item made a 补充:
    joined to that 补充 and to its notice while nothing of that has gone, so one album is
    one 补充 and one notice to the department; once it has (partly) gone, one continuation
    notice carries the further files. Allowed while a 补充 is."""
    now = env.now()
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        done = await already_done(uow, env, actor.tg_id, req.key, ALBUM_ITEM)
        appeal = await load_visible(uow, actor, req.appeal_id if done is None else done)
        if done is not None:
            return appeal
        access.authorize(actor, appeal, Action.SUPPLEMENT, None, env.today(), [])
        joined = await uow.messages.latest_of(appeal.id, actor.tg_id, MessageKind.SUPPLEMENT)
        earlier = await uow.messages.file_ids_of(appeal.id, joined)
        added = [
            await uow.messages.add_attachment(appeal.id, joined, attachment, now)
            for attachment in req.attachments
        ]
        await uow.audit.add(  # the 补充's own event counts the files it came with
            f"appeal:{appeal.id}",
            actor.tg_id,
            SUPPLEMENT_FILES,
            now,
            appeal_id=appeal.id,
            from_state=appeal.state,
            to_state=appeal.state,
            detail={"files": len(added), "message": joined},
        )
        await albums.follow(uow, now, ("appeal", appeal.id), earlier, added, SUPPLEMENT_FILES)
        await remember(uow, env, actor.tg_id, req.key, ALBUM_ITEM, appeal.id)
        await uow.commit()
    return appeal


@handles(Action.WITHDRAW)
async def withdraw(env: Env, who: Who, req: ActionRequest) -> Outcome:
    reason = checks.reason_text(req.text, "reason", env.org.limits, env.today())
    now = env.now()
    change = Change(edit=lambda a: replace(a, closed_at=now), detail={"reason": reason})
    return await _apply(env, who, Action.WITHDRAW, req, change)


def _check_rating_window(env: Env, current: Appeal, version: int | None) -> None:
    """A rating (or 不满意) pressed on the card it was asked on, once its window closed."""
    expired = env.deadlines.rating_expired(current, env.today())
    if expired and current.state is State.CLOSED and current.version == version:
        raise RatingExpired(number=current.number)


@handles(Action.RATE)
async def rate(env: Env, who: Who, req: ActionRequest) -> Outcome:
    """满意 / 基本满意; 不满意 is REOPEN."""
    if req.rating is Rating.DISSATISFIED:
        return await reopen(env, who, req)
    rating = req.rating
    if rating not in (Rating.SATISFIED, Rating.BASIC):
        raise NotAllowed()
    now = env.now()

    async def change(uow: UnitOfWork, current: Appeal) -> Change:
        _check_rating_window(env, current, req.version)
        return Change(
            edit=lambda a: replace(a, rating=rating, rated_at=now), detail={"rating": rating}
        )

    return await _apply(env, who, Action.RATE, req, change)


@handles(Action.REOPEN)
async def reopen(env: Env, who: Who, req: ActionRequest) -> Outcome:
    """不满意: the appeal is handled again (重办) with a new deadline, never earlier than the
    one in force (read in the write transaction, with the events that set it)."""
    today, now = env.today(), env.now()

    async def change(uow: UnitOfWork, current: Appeal) -> Change:
        _check_rating_window(env, current, req.version)
        category = env.org.category_by_name(current.category)
        due, basis = env.deadlines.reopen_due(today, category, current.due_date)
        if basis == REOPEN_KEPT and due_set_by_extension(await uow.audit.of_appeal(current.id)):
            basis = REOPEN_KEPT_EXTENSION
        days = category.time_limit_days if category else env.org.limits.default_time_limit_days
        return Change(
            edit=lambda a: replace(
                a,
                rating=Rating.DISSATISFIED,
                rated_at=now,
                reopen_count=a.reopen_count + 1,
                due_date=due,
                closed_at=None,
            ),
            detail={
                "rating": Rating.DISSATISFIED,
                "due_basis": basis,
                "old_due": current.due_date,
                "new_due": due,
                "fresh_due": env.deadlines.due(today, category),
                "days": days,
            },
        )

    return await _apply(env, who, Action.REOPEN, req, change)


async def comment_rating(
    env: Env, who: Who, appeal_id: int, text: str | None, key: str | None
) -> Outcome:
    """An optional comment after a rating: stored, and passed to the owner."""
    text = checks.free_text(text, "comment", env.org.limits)
    now = env.now()
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        done = await already_done(uow, env, actor.tg_id, key, "rating_comment")
        if done is not None:
            return _answer(env, actor, Outcome(await uow.appeals.get(done), replayed=True))
        appeal = await load_visible(uow, actor, appeal_id)
        if Party.CONTACT not in access.parties(actor, appeal) or appeal.rating is None:
            raise NotAllowed()
        await uow.messages.add(appeal.id, actor.tg_id, MessageKind.RATING_COMMENT, text, now)
        await uow.audit.add(
            f"appeal:{appeal.id}",
            actor.tg_id,
            "rating_comment",
            now,
            appeal_id=appeal.id,
            from_state=appeal.state,
            to_state=appeal.state,
            detail={"text": text},
        )
        await remember(uow, env, actor.tg_id, key, "rating_comment", appeal.id)
        people = await directory(uow, env, appeal)
        detail = {"text": text}
        notices = audiences.after_action("rating_comment", actor, appeal, people, detail)
        queued = await outbox.enqueue(uow, env, notices)
        ack = await outbox.enqueue_ack(uow, env, actor.tg_id, "done.comment", ("appeal", appeal.id))
        await uow.commit()
    return _answer(env, actor, Outcome(appeal, notices, queued=queued, ack_id=ack))


# extensions (延期) ------------------------------------------------------------------------


@handles(Action.EXTEND)
async def extend(env: Env, who: Who, req: ActionRequest) -> Outcome:
    """The owner asks, before the deadline, for a later due date; the head decides."""
    reason = checks.reason_text(req.text, "reason", env.org.limits, env.today())
    today, now = env.today(), env.now()
    new_due = checks.date_field(req.new_due, "new_due", today)
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        done = await already_done(uow, env, actor.tg_id, req.key, Action.EXTEND)
        if done is not None:
            return _answer(env, actor, Outcome(await uow.appeals.get(done), replayed=True))
        await uow.appeals.hold(req.appeal_id)
        appeal = await load_visible(uow, actor, req.appeal_id)
        access.authorize(actor, appeal, Action.EXTEND, req.version, today)
        env.deadlines.check_extension(new_due, appeal)
        if await uow.extensions.pending_for(appeal.id) is not None:
            raise ExtensionPending(number=appeal.number)
        extension_id = await uow.extensions.add(
            appeal.id, actor.tg_id, appeal.due_date, new_due, reason, now
        )
        detail = {
            "old_due": appeal.due_date,
            "new_due": new_due,
            "reason": reason,
            "extension_id": extension_id,
        }
        await uow.audit.add(
            f"appeal:{appeal.id}",
            actor.tg_id,
            Action.EXTEND,
            now,
            appeal_id=appeal.id,
            from_state=appeal.state,
            to_state=appeal.state,
            detail=detail,
        )
        await remember(uow, env, actor.tg_id, req.key, Action.EXTEND, appeal.id)
        people = await directory(uow, env, appeal)
        notices = audiences.after_action(Action.EXTEND, actor, appeal, people, detail)
        queued = await outbox.enqueue(uow, env, notices)
        ack = await outbox.enqueue_ack(
            uow, env, actor.tg_id, "done.extend", ("appeal", appeal.id), {"new_due": new_due}
        )
        await uow.commit()
    return _answer(env, actor, Outcome(appeal, notices, detail=detail, queued=queued, ack_id=ack))


def events_after_request(events: list[Event], extension_id: int) -> list[str]:
    """The changes (event actions) since the extension request `extension_id` was made."""
    for at, event in enumerate(events):
        if event.action == Action.EXTEND and event.detail.get("extension_id") == extension_id:
            return [e.action for e in events[at + 1 :]]
    return []


async def check_new_due(
    env: Env, who: Who, appeal_id: int, action: Action, version: int, text: str | None
) -> str:
    """The new due date as typed, checked early so the user can retype it at once (with
    the action, which must still be allowed)."""
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        appeal = await _authorized(uow, env, actor, appeal_id, action, version)
    new_due = checks.date_field(text, "new_due", env.today())
    return env.deadlines.check_extension(new_due, appeal).isoformat()


async def _decidable(
    uow: UnitOfWork, actor: Actor, request: int | Extension, approve: bool
) -> tuple[Extension, Appeal]:
    """The request (given, or read by its id) and its appeal, when `actor` may decide it now
    (else the refusal)."""
    extension = request if isinstance(request, Extension) else await uow.extensions.get(request)
    found = await uow.appeals.get(extension.appeal_id) if extension else None
    appeal = access.visible_extension(actor, extension, found)
    assert extension is not None
    events = await uow.audit.of_appeal(appeal.id)
    access.authorize_extension_decision(
        actor, extension, appeal, approve, events_after_request(events, extension.id)
    )
    return extension, appeal


# Cards a person may answer by typing a button's label: at most this many of each are
# looked at (an enterprise's latest appeals; the oldest requests waiting for a decision).
WAITING_SCAN = 100


@dataclass(frozen=True)
class Waiting:
    """The cards waiting for this person's choice: appeals they may rate now, extension
    requests they may decide now (each with its appeal), the same checks as the buttons'."""

    actor: Actor
    ratings: list[Appeal]
    extensions: list[tuple[Extension, Appeal]]
    removal: Removal | None = None  # a stranger removed as a contact: whom to ask


async def waiting(env: Env, who: Who) -> Waiting:
    """What waits for this person's tap: ratings (a contact, within the rating window) and
    extension decisions (the department head, a leader)."""
    today = env.today()
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        ratings: list[Appeal] = []
        if actor.role is Role.ENTERPRISE and actor.enterprise_id is not None:
            ratings = [
                a
                for a in await uow.appeals.of_enterprise(actor.enterprise_id, WAITING_SCAN)
                if Action.RATE in access.allowed_actions(actor, a, today)
                and not env.deadlines.rating_expired(a, today)
            ]
        decidable: list[tuple[Extension, Appeal]] = []
        if actor.role in (Role.HEAD, Role.ADMIN):
            department = actor.department_id if actor.role is Role.HEAD else None
            for extension in await uow.extensions.pending_in(department, WAITING_SCAN):
                try:
                    decidable.append(await _decidable(uow, actor, extension, True))
                except DomainError:
                    continue  # not this person's to decide (their own request, a stale one)
        removal = await removal_in(uow, env, actor.tg_id) if actor.role is Role.GUEST else None
    return Waiting(actor, ratings, decidable, removal)


async def check_extension_decision(env: Env, who: Who, extension_id: int, approve: bool) -> Appeal:
    """Before asking a head for the reason of a refusal: that deciding is allowed now."""
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        return (await _decidable(uow, actor, extension_id, approve))[1]


async def decide_extension(
    env: Env,
    who: Who,
    extension_id: int,
    approve: bool,
    key: str | None,
    reason: str = "",
) -> Outcome:
    """The department head (or a leader) approves or denies (a refusal may give its
    reason, told to the requester); the due date moves on yes."""
    now = env.now()
    if reason:
        reason = checks.reason_text(reason, "reason", env.org.limits, env.today())
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        done = await already_done(uow, env, actor.tg_id, key, "extension_decision")
        if done is not None:
            return _answer(env, actor, Outcome(await uow.appeals.get(done), replayed=True))
        extension, appeal = await _decidable(uow, actor, extension_id, approve)
        state = ExtensionState.APPROVED if approve else ExtensionState.DENIED
        event = EXTENSION_APPROVED if approve else EXTENSION_DENIED
        await uow.extensions.decide(extension_id, state, actor.tg_id, now)
        moved = replace(appeal, due_date=extension.new_due_date)
        if approve and not await uow.appeals.save(moved, appeal.version):
            raise StaleAction(number=appeal.number, action=EXTENSION_DECISION)
        detail: dict[str, Any] = {
            "old_due": extension.old_due_date,
            "new_due": extension.new_due_date,
        }
        if reason:
            detail["reason"] = reason
        await uow.audit.add(
            f"appeal:{appeal.id}",
            actor.tg_id,
            event,
            now,
            appeal_id=appeal.id,
            from_state=appeal.state,
            to_state=appeal.state,
            detail=detail,
        )
        await remember(uow, env, actor.tg_id, key, "extension_decision", appeal.id)
        after = await uow.appeals.get(appeal.id)
        people = await directory(uow, env, after)
        notices = audiences.after_action(
            event, actor, after, people, detail, requester=extension.requested_by
        )
        queued = await outbox.enqueue(uow, env, notices)
        ack = await outbox.enqueue_ack(
            uow,
            env,
            actor.tg_id,
            f"done.extension_{state}",
            ("appeal", after.id),
            {"new_due": after.due_date},
        )
        await uow.commit()
    return _answer(env, actor, Outcome(after, notices, detail=detail, queued=queued, ack_id=ack))
