"""The outbox: every message to someone other than the person who acted is stored with the
change that caused it, then sent (and retried) by one courier."""

from __future__ import annotations

from typing import Any

from bot.rules import delivery
from bot.rules.model import Courier, Notice, Outgoing
from bot.usecases.env import Env
from storage.db import UnitOfWork

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


async def due(env: Env, limit: int = 100) -> list[Outgoing]:
    async with env.db.reading() as uow:
        return await uow.outbox.due(env.now(), limit)


async def take(env: Env, outgoing_id: int) -> Outgoing | None:
    """Claim one message for sending (None: somebody else has it, or it is done)."""
    now = env.now()
    async with env.db.one_statement() as uow:
        return await uow.outbox.take(outgoing_id, now, now + delivery.LEASE)


async def take_with_others(env: Env, item: Outgoing, limit: int) -> list[Outgoing]:
    """Claim a notice about an appeal together with the others due to the same person, so
    that they go as one list (`item` first when still unclaimed); [] when none is left."""
    now = env.now()
    async with env.db.one_statement() as uow:
        return await uow.outbox.take_with_others(item, now, now + delivery.LEASE, limit)


async def stored(env: Env, ids: tuple[int, ...] | list[int]) -> list[Outgoing]:
    """The stored messages with these ids (in id order)."""
    if not ids:
        return []
    async with env.db.reading() as uow:
        return await uow.outbox.of_ids(list(ids))


async def sent(env: Env, *outgoing_ids: int) -> None:
    async with env.db.one_statement() as uow:
        await uow.outbox.sent_all(list(outgoing_ids), env.now())


async def advanced(env: Env, outgoing_id: int, progress: int) -> None:
    """Telegram accepted one part of a message in several (not its last): recorded at once,
    so that after a crash the message goes on with the parts not sent."""
    async with env.db.one_statement() as uow:
        await uow.outbox.advance(outgoing_id, progress)


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
    now = env.now()
    escalated = []
    async with env.db.unit_of_work() as uow:
        await uow.outbox.failed(outgoing.id, error, status)
        if (
            outgoing.kind in MUST_BE_HEARD
            and outgoing.subject_id is not None
            and outgoing.chat_id not in env.leaders
            and not await uow.outbox.heard(outgoing.subject, outgoing.subject_id, outgoing.kind)
        ):
            for leader in sorted(env.leaders):
                escalated.append(
                    await uow.outbox.add(
                        leader,
                        outgoing.kind,
                        outgoing.subject,
                        outgoing.subject_id,
                        dict(outgoing.detail, unheard=True),
                        delivery.NOTICE,
                        now,
                    )
                )
        await uow.commit()
    return tuple(escalated)


async def owe_again(env: Env, chat_id: int) -> list[int]:
    """Somebody pressed /start again: what could not reach them lately is owed again."""
    now = env.now()
    async with env.db.unit_of_work() as uow:
        ids = await uow.outbox.owe_again(chat_id, now - delivery.OWED_FOR, now)
        await uow.commit()
    return ids


async def report_unreachable(env: Env) -> tuple[int, ...]:
    """Once a working day, the leaders learn who could not be reached since the last report."""
    now = env.now()
    async with env.db.unit_of_work() as uow:
        since = await uow.operator_notes.latest("unreachable:") or now - delivery.OWED_FOR
        if not await uow.operator_notes.first_time(f"unreachable:{env.today()}", now):
            return ()
        lost = [
            (chat, n) for chat, n in await uow.outbox.unreachable(since) if chat not in env.leaders
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
                        {"people": lost},
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
                found[chat] = person.full_name
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
