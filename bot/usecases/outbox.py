"""The outbox: every message to someone other than the person who acted is stored with the
change that caused it, then sent (and retried) by one courier."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from bot.rules import access, delivery, names
from bot.rules.model import (
    Action,
    Actor,
    Appeal,
    Attachment,
    Courier,
    ExtensionState,
    Notice,
    Outgoing,
    Role,
    Task,
)
from bot.usecases import entitlement
from bot.usecases.env import Env
from bot.usecases.people import Caller, actor_in
from storage.contract import UnitOfWork

log = logging.getLogger(__name__)

# Notices that must reach somebody: when every recipient failed for good, leaders get them.
MUST_BE_HEARD = frozenset({"new_appeal", "transferred"})


async def enqueue(uow: UnitOfWork, env: Env, notices: list[Notice]) -> tuple[int, ...]:
    """Store the notices of one action in its transaction; returns their ids."""
    now = env.now()
    ids = []
    for note in notices:
        ids.append(
            await uow.outbox.add(
                note.chat_id,
                note.kind,
                "appeal",
                note.appeal.id,
                note.detail,
                delivery.NOTICE,
                now,
            )
        )
    return tuple(ids)


@dataclass(frozen=True)
class Subject:
    """What a stored message about an appeal or a task says, read as it is now: the
    courier words it from this and only sends (`actions`: what the recipient may do with
    the appeal now — None for a group, which may take the first step)."""

    appeal: Appeal | None = None
    task: Task | None = None
    extension_pending: bool = False
    actions: list[Action] | None = None


async def subject_of(env: Env, item: Outgoing) -> Subject | None:
    """The appeal or task a stored message is about, with what its wording needs; None
    when it no longer exists (the message is then gone)."""
    if item.subject_id is None or item.subject not in ("appeal", "task"):
        return None
    async with env.db.reading() as uow:
        if item.subject == "task":
            task = await uow.tasks.get(item.subject_id)
            return Subject(task=task) if task is not None else None
        appeal = await uow.appeals.get(item.subject_id)
        if appeal is None:
            return None
        if item.kind == "ack":  # the actor's own confirmation: their next steps
            actor = await actor_in(uow, env, Caller(item.chat_id))
            return Subject(appeal, actions=access.allowed_actions(actor, appeal, env.today()))
        asked = item.detail.get("extension_id")
        extension = await uow.extensions.get(int(asked)) if asked else None
        pending = extension is not None and extension.state is ExtensionState.PENDING
        recipient = None
        if not delivery.is_group(item.chat_id):
            recipient = await actor_in(uow, env, Caller(item.chat_id))
        return Subject(appeal, None, pending, may_do(env, recipient, appeal))


def may_do(env: Env, recipient: Actor | None, appeal: Appeal) -> list[Action] | None:
    """What the recipient of a notice may do with the appeal now (None: a group, which may
    take the first step), so the notice offers only buttons that work: nothing for
    somebody not registered or removed (查看 only)."""
    if recipient is None:
        return None
    if recipient.role is Role.GUEST:
        return []
    return access.allowed_actions(recipient, appeal, env.today())


@dataclass(frozen=True)
class Announced:
    """The stored files a notice announces, in the order they came, with what they belong
    to (for their captions)."""

    files: list[Attachment] = field(default_factory=list)
    appeal: Appeal | None = None
    task: Task | None = None


async def announced(env: Env, item: Outgoing) -> Announced:
    """The files a notice's detail names (none when it names none)."""
    ids = [int(i) for i in item.detail.get(delivery.FILES) or ()]
    if not ids or item.subject_id is None:
        return Announced()
    async with env.db.reading() as uow:
        if item.subject == "appeal":
            files = await uow.messages.files(item.subject_id, ids)
            return Announced(files, appeal=await uow.appeals.get(item.subject_id))
        if item.subject == "task":
            files = await uow.tasks.files(item.subject_id, ids)
            return Announced(files, task=await uow.tasks.get(item.subject_id))
    return Announced()


async def enqueue_ack(
    uow: UnitOfWork,
    env: Env,
    chat_id: int,
    key: str,
    subject: tuple[str, int] | None,
    params: dict[str, Any] | None = None,
) -> int:
    """The acting user's confirmation, kept with the change in case the direct answer fails."""
    now = env.now()
    subject_kind, subject_id = subject if subject else (None, None)
    return await uow.outbox.add(
        chat_id,
        "ack",
        subject_kind,
        subject_id,
        {"key": key, "params": params or {}},
        delivery.ACK,
        now,
        due=now + delivery.ACK_GRACE,
    )


async def owe_answer(
    env: Env,
    chat_id: int,
    text: str,
    buttons: list[list[tuple[str, str]]],
    retry_after: float | None = None,
) -> int:
    """An answer Telegram would not take after the person's step was kept (a 5xx, a
    timeout, a 429 longer than a person waits): stored for the courier, which sends it as
    it was worded (with its buttons: label and callback data) at once, or after Telegram's
    `retry_after`. Returns its id."""
    now = env.now()
    due_at = now if retry_after is None else delivery.retry_at(now, 1, retry_after)
    detail = {"text": text, "buttons": [[list(b) for b in row] for row in buttons]}
    async with env.db.one_statement() as uow:
        return await uow.outbox.add(
            chat_id, delivery.ANSWER, None, None, detail, delivery.ACK, now, due=due_at
        )


async def due(env: Env, limit: int = 100) -> list[Outgoing]:
    async with env.db.reading() as uow:
        return await uow.outbox.due(env.now(), limit)


async def take(env: Env, outgoing_id: int) -> Outgoing | None:
    """Claim one message for sending (None: somebody else has it, it is done, or its
    recipient is no longer entitled to it — then it is withheld)."""
    now = env.now()
    async with env.db.one_statement() as uow:
        taken = await uow.outbox.take(outgoing_id, now, now + delivery.LEASE)
    kept = await _entitled(env, [taken] if taken else [])
    return kept[0] if kept else None


async def take_with_others(env: Env, item: Outgoing, limit: int) -> list[Outgoing]:
    """Claim a notice about an appeal together with the others due to the same person, so
    that they go as one list (`item` first when still unclaimed); [] when none is left.
    What the recipient is no longer entitled to is withheld, not returned."""
    now = env.now()
    async with env.db.one_statement() as uow:
        taken = await uow.outbox.take_with_others(
            item, now, now + delivery.LEASE, limit, delivery.FILES
        )
    return await _entitled(env, taken)


async def _entitled(env: Env, items: list[Outgoing]) -> list[Outgoing]:
    """Entitlement when sent: what is no longer the recipient's is marked withheld."""
    if not items:
        return []
    async with env.db.reading() as uow:
        checked = [(item, await entitlement.still_theirs(uow, env, item)) for item in items]
    withheld = [item for item, kept in checked if kept is None]
    if withheld:
        await _withhold(env, withheld)
    return [kept for _, kept in checked if kept is not None]


async def _withhold(env: Env, items: list[Outgoing]) -> tuple[int, ...]:
    """Messages no longer their recipients' are withheld; a notice that must be heard and
    now reaches nobody of its department goes to the leaders, as when it fails (the drain
    sends it). Returns the ids of those new messages."""
    async with env.db.unit_of_work() as uow:
        why: dict[str, list[int]] = {}
        for item in items:
            why.setdefault(await entitlement.withheld_because(uow, item), []).append(item.id)
        for reason, ids in why.items():
            await uow.outbox.withheld(ids, reason)
        escalated = [i for item in items for i in await _escalate(uow, env, item)]
        await uow.commit()
    return tuple(escalated)


async def stored(env: Env, ids: tuple[int, ...] | list[int]) -> list[Outgoing]:
    """The stored messages with these ids (in id order)."""
    if not ids:
        return []
    async with env.db.reading() as uow:
        return await uow.outbox.of_ids(list(ids))


async def still_ours(env: Env, items: list[Outgoing]) -> bool:
    """Before a part goes: whether every message of it is still this sender's claim (its
    lease renewed), or another sender took one over after the lease ran out — a notice
    that waited long for its place in a burst — and sends it itself."""
    claims = [(item.id, item.attempts) for item in items]
    async with env.db.one_statement() as uow:
        kept = await uow.outbox.keep(claims, env.now() + delivery.LEASE)
    return kept == len(claims)


async def sent(env: Env, *outgoing_ids: int) -> None:
    async with env.db.one_statement() as uow:
        await uow.outbox.sent_all(list(outgoing_ids), env.now())


async def advanced(env: Env, outgoing_id: int, progress: int, pieces: int | None = None) -> None:
    """Telegram accepted one part of a message in several (not its last): recorded at once,
    so that after a crash the message goes on with the parts not sent; `pieces`, how many
    messages the text of a notice with files was cut into, is kept with it the first time."""
    async with env.db.one_statement() as uow:
        await uow.outbox.advance(outgoing_id, progress, delivery.PIECES, pieces)


async def form_list(env: Env, ids: list[int]) -> None:
    """Claimed messages that go as one list: kept together, so that after a crash the list
    goes on with the items not sent, numbered as before."""
    async with env.db.one_statement() as uow:
        await uow.outbox.form_list(ids)


async def list_items(env: Env, list_id: int) -> list[int]:
    """The ids of a list's items in their order (sent or not)."""
    async with env.db.reading() as uow:
        return await uow.outbox.list_items(list_id)


async def postpone(
    env: Env, outgoing: Outgoing, error: str, retry_after: float | None = None
) -> bool:
    """A transient fault: try again later (False: it is too old and was given up)."""
    now = env.now()
    if delivery.too_old(outgoing.created_at, now):
        await failed(env, outgoing, error)  # the periodic drain sends any escalation
        return False
    async with env.db.unit_of_work() as uow:
        await uow.outbox.later(
            outgoing.id, delivery.retry_at(now, outgoing.attempts, retry_after), error
        )
        await uow.commit()
    return True


async def failed(
    env: Env, outgoing: Outgoing, error: str, status: Courier = Courier.FAILED
) -> tuple[int, ...]:
    """A permanent fault: blocked or chat not found (FAILED: owed again after /start), or
    the message refused (REFUSED: never sent again). An appeal nobody hears goes to
    leaders; returns the ids of those new messages."""
    escalated = []
    async with env.db.unit_of_work() as uow:
        await uow.outbox.failed(outgoing.id, error, status)
        # Only a contact who cannot be reached leaves the sender to call; a refused message
        # is the bureau's own fault, logged for the operator.
        told = await _tell_sender(uow, env, outgoing) if status is Courier.FAILED else None
        if told is not None:
            escalated.append(told)
        escalated.extend(await _escalate(uow, env, outgoing))
        await uow.commit()
    return tuple(escalated)


async def gone(env: Env, outgoing: Outgoing) -> None:
    """What a message was about no longer exists: it ends as GONE — nobody could not be
    reached, so it is never owed again after /start, never listed to the leaders as
    unreachable, and nobody is told or escalated to."""
    async with env.db.one_statement() as uow:
        await uow.outbox.gone(outgoing.id)


async def _escalate(uow: UnitOfWork, env: Env, outgoing: Outgoing) -> list[int]:
    """A notice that must be heard (MUST_BE_HEARD) which nobody got or may still get — each
    copy failed, was refused or withheld, and no later 新诉求/转办 notice of the appeal (to
    the department it went to next) is heard either — goes to the leaders, marked unheard."""
    if (
        outgoing.kind not in MUST_BE_HEARD
        or outgoing.subject_id is None
        or outgoing.chat_id in env.leaders
        or await uow.outbox.heard(
            outgoing.subject, outgoing.subject_id, outgoing.kind, later=MUST_BE_HEARD
        )
    ):
        return []
    return [
        await uow.outbox.add(
            leader,
            outgoing.kind,
            outgoing.subject,
            outgoing.subject_id,
            dict(outgoing.detail, unheard=True),
            delivery.NOTICE,
            env.now(),
        )
        for leader in sorted(env.leaders)
    ]


async def _tell_sender(uow: UnitOfWork, env: Env, outgoing: Outgoing) -> int | None:
    """An official's reply, closing… could not reach a contact of the enterprise: the
    official who acted is told, with the contact's name and phone — once per message."""
    if outgoing.kind not in delivery.SENDER_TOLD or outgoing.subject_id is None:
        return None
    appeal = await uow.appeals.get(outgoing.subject_id)
    if appeal is None:
        return None
    sender = delivery.sender_of(outgoing.detail, appeal.owner_id)
    if sender is None or sender == outgoing.chat_id:
        return None
    if not await uow.operator_notes.first_time(f"undelivered:{outgoing.id}", env.now()):
        return None
    enterprise = await uow.enterprises.get(appeal.enterprise_id)
    name, phone = (enterprise.contact_name, enterprise.phone) if enterprise else ("", "")
    for person, own_phone in await uow.people.contact_people(appeal.enterprise_id):
        if person.tg_id == outgoing.chat_id:
            name, phone = person.full_name, own_phone or phone
    detail = {"what": outgoing.kind, "contact": name, "phone": phone}
    return await uow.outbox.add(
        sender, delivery.UNDELIVERED, "appeal", appeal.id, detail, delivery.NOTICE, env.now()
    )


async def chat_moved(env: Env, old_chat_id: int, new_chat_id: int) -> tuple[int, ...]:
    """A group became a supergroup (seen in Telegram's refusal or its service message): its
    new id is used from now on, what was owed to the old id goes to the new one, and the
    leaders learn the new id once, to write it in the org config (an id written there
    that differs from the old one is used as written). Returns what to send now."""
    now = env.now()
    async with env.db.unit_of_work() as uow:
        first = await uow.departments.move_chat(old_chat_id, new_chat_id, now)
        moved = await uow.outbox.move_chat(old_chat_id, new_chat_id, now - delivery.OWED_FOR, now)
        department = await uow.departments.configured_for(old_chat_id)
        await uow.commit()
    if department is None:
        return tuple(moved)
    if first:
        log.warning(
            "the group of %s moved from %s to %s: put chat_id = %s in the org config",
            department.code,
            old_chat_id,
            new_chat_id,
            new_chat_id,
        )
    detail = {"department": department.name, "old": old_chat_id, "new": new_chat_id}
    told = await tell_once(
        env, f"chat_moved:{old_chat_id}:{new_chat_id}", "chat_moved", detail, sorted(env.leaders)
    )
    return tuple(moved) + told


async def owe_again(env: Env, chat_id: int) -> list[int]:
    """Somebody pressed /start again: what could not reach them lately and is still theirs
    to read is owed again; the rest is withheld (never sent, never counted)."""
    now = env.now()
    async with env.db.unit_of_work() as uow:
        owed, withheld = [], []
        answered = []  # what /start itself says (a removed contact hears it there)
        for item in await uow.outbox.failed_since(chat_id, now - delivery.OWED_FOR):
            if item.kind in delivery.SAID_AT_START:
                answered.append(item.id)
                continue
            if item.kind == delivery.ANSWER:  # an answer to a step long past: not owed again
                withheld.append(item.id)
                continue
            theirs = await entitlement.still_theirs(uow, env, item)
            (owed if theirs is not None else withheld).append(item.id)
        await uow.outbox.owe_again(owed, now)
        if withheld:
            await uow.outbox.withheld(withheld, delivery.WITHHELD)
        if answered:
            await uow.outbox.withheld(answered, delivery.SAID_AT_START_ERROR)
        await uow.commit()
    return owed


async def report_unreachable(env: Env) -> tuple[int, ...]:
    """Once a working day, the leaders learn who could not be reached since the last report."""
    now = env.now()
    async with env.db.unit_of_work() as uow:
        since = await uow.operator_notes.latest("unreachable:") or now - delivery.OWED_FOR
        if not await uow.operator_notes.first_time(f"unreachable:{env.today()}", now):
            return ()
        lost = [
            (chat, n, why)
            for chat, n, why in await uow.outbox.unreachable_why(since)
            if chat not in env.leaders
        ]
        people = [(chat, n) for chat, n, _ in lost if not delivery.is_group(chat)]
        groups = [
            (chat, n, delivery.group_remedy(why))
            for chat, n, why in lost
            if delivery.is_group(chat)
        ]
        ids = []
        if lost:
            for leader in sorted(env.leaders):
                ids.append(
                    await uow.outbox.add(
                        leader,
                        "unreachable_report",
                        None,
                        None,
                        {"people": people, "groups": groups},
                        delivery.NOTICE,
                        now,
                    )
                )
        await uow.commit()
    return tuple(ids)


async def names_of(env: Env, chat_ids: list[int]) -> dict[int, str]:
    async with env.db.reading() as uow:
        found = {}
        for chat in chat_ids:
            person = await uow.people.get(chat)
            if person is not None:
                found[chat] = names.visible_name(person.full_name) or str(person.role)
            else:
                department = await uow.departments.by_chat(chat)
                if department is not None:
                    found[chat] = department.name
        return found


async def tell_once(
    env: Env, key: str, kind: str, detail: dict[str, Any], chats: list[int]
) -> tuple[int, ...]:
    """An operator notice each chat gets once ever (remembered across restarts)."""
    now = env.now()
    ids = []
    async with env.db.unit_of_work() as uow:
        for chat in chats:
            if await uow.operator_notes.first_time(f"{key}:{chat}", now):
                ids.append(
                    await uow.outbox.add(chat, kind, None, None, detail, delivery.NOTICE, now)
                )
        await uow.commit()
    return tuple(ids)
