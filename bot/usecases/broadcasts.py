"""Use cases of 政策宣贯 broadcasts: compose and send (or schedule), progress and cancel,
the reach report, and what recipients do with one (已阅, 咨询, a topic muted)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

from bot.rules import delivery
from bot.rules.broadcasts import (
    CANCELLED_ERROR,
    TOPICS,
    Audience,
    AudienceCount,
    AudienceKind,
    Broadcast,
    BroadcastState,
    ReachCounts,
    ReachRow,
    body_text,
    may_broadcast,
    may_see,
    title_text,
)
from bot.rules.model import Actor, Attachment, Role
from bot.rules.refusals import BroadcastNotFound, InvalidInput, UnknownButton
from bot.usecases.env import Env, already_done, remember
from bot.usecases.people import Who, actor_in
from storage.contract import UnitOfWork

MESSAGE = "broadcast"  # the outbox kind of a broadcast to one contact
DONE = "broadcast_done"  # the sender told that it went, with its reach
VALUES_OFFERED = 24  # an audience's values offered as buttons, the most common first
RECENT = 10  # broadcasts /broadcast list shows


def subject(broadcast_id: int) -> str:
    return f"broadcast:{broadcast_id}"


@dataclass(frozen=True)
class Draft:
    title: str
    body: str
    topic: str
    audience: Audience
    files: tuple[Attachment, ...] = ()


async def may_compose(env: Env, who: Who) -> None:
    async with env.db.reading() as uow:
        may_broadcast(await actor_in(uow, env, who))


def checked(draft: Draft) -> Draft:
    """The draft's parts checked again (a stored draft is what a client sent)."""
    if draft.topic not in TOPICS:
        raise InvalidInput(field="broadcast_topic", reason="unknown")
    if len(draft.files) > 5:
        raise InvalidInput(field="attachments", reason="too_many", limit=5)
    if draft.audience.kind is not AudienceKind.ALL and not draft.audience.values:
        raise InvalidInput(field="broadcast_audience", reason="empty")
    return Draft(
        title_text(draft.title),
        body_text(draft.body),
        draft.topic,
        draft.audience,
        draft.files,
    )


@dataclass(frozen=True)
class Choice:
    value: str
    count: int
    label: str  # the value as shown: an official by name, a scale by its word (the handler)


async def audience_values(env: Env, who: Who, kind: AudienceKind) -> list[Choice]:
    """The values an audience of `kind` may take, the most common first."""
    async with env.db.reading() as uow:
        may_broadcast(await actor_in(uow, env, who))
        found = await uow.broadcasts.values(kind, VALUES_OFFERED)
        names = {}
        if kind is AudienceKind.BAOBAO:
            names = await uow.people.names({int(v) for v, _ in found})
    return [Choice(v, n, names.get(int(v), v) if names else v) for v, n in found]


async def preview(env: Env, who: Who, draft: Draft) -> AudienceCount:
    draft = checked(draft)
    async with env.db.reading() as uow:
        may_broadcast(await actor_in(uow, env, who))
        return await uow.broadcasts.audience_count(draft.audience, draft.topic)


@dataclass(frozen=True)
class Created:
    broadcast: Broadcast
    recipients: int  # messages queued now (0 for a scheduled one)
    queued: bool  # its messages are in the outbox


async def create(
    env: Env, who: Who, draft: Draft, send_at: datetime | None, key: str | None
) -> Created:
    """Store a broadcast; sent at once (its messages queued in the same transaction) or
    at `send_at`. Refused when nobody would get it now."""
    draft = checked(draft)
    now = env.now()
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        may_broadcast(actor)
        done = await already_done(uow, env, actor.tg_id, key, "broadcast")
        if done is not None:
            broadcast = await uow.broadcasts.get(done)
            assert broadcast is not None
            sent = broadcast.state is not BroadcastState.SCHEDULED
            return Created(broadcast, broadcast.recipients, sent)
        counted = await uow.broadcasts.audience_count(draft.audience, draft.topic)
        if send_at is None and counted.contacts == 0:
            raise InvalidInput(field="broadcast_audience", reason="nobody")
        broadcast_id = await uow.broadcasts.add(
            draft.title,
            draft.body,
            draft.topic,
            draft.audience,
            actor.tg_id,
            now,
            send_at or now,
        )
        await uow.broadcasts.add_files(broadcast_id, list(draft.files))
        await uow.audit.add(
            subject(broadcast_id),
            actor.tg_id,
            "broadcast_create",
            now,
            to_state=str(BroadcastState.SCHEDULED),
            detail={"audience": draft.audience.as_data(), "topic": draft.topic},
        )
        recipients = 0
        if send_at is None:
            recipients = await _release(uow, broadcast_id, now)
        await remember(uow, env, actor.tg_id, key, "broadcast", broadcast_id)
        broadcast = await uow.broadcasts.get(broadcast_id)
        await uow.commit()
    assert broadcast is not None
    return Created(broadcast, recipients, send_at is None)


async def _release(uow: UnitOfWork, broadcast_id: int, now: datetime) -> int:
    """Its recipients chosen as the directory is now and its messages queued."""
    await uow.broadcasts.hold(broadcast_id)
    broadcast = await uow.broadcasts.get(broadcast_id)
    if broadcast is None or broadcast.state is not BroadcastState.SCHEDULED:
        return 0
    await uow.broadcasts.choose_recipients(broadcast_id, broadcast.audience, broadcast.topic)
    queued = await uow.broadcasts.queue_messages(broadcast_id, MESSAGE, delivery.BROADCAST, now)
    await uow.broadcasts.set_state(
        broadcast_id, BroadcastState.SENDING, BroadcastState.SCHEDULED, now, recipients=queued
    )
    await uow.audit.add(
        subject(broadcast_id),
        None,
        "broadcast_release",
        now,
        from_state=str(BroadcastState.SCHEDULED),
        to_state=str(BroadcastState.SENDING),
        detail={"messages": queued},
    )
    return queued


async def advance(env: Env, limit: int = 10) -> tuple[list[int], list[int]]:
    """The broadcasts' own clock (the leader's delivery job): scheduled ones whose moment
    came are released; sending ones whose messages all ended are finished, their senders
    told. Returns (released, finished) broadcast ids."""
    now = env.now()
    released: list[int] = []
    finished: list[int] = []
    async with env.db.reading() as uow:
        due = await uow.broadcasts.due(now, limit)
        ended = await uow.broadcasts.sending_without_pending(limit)
    for broadcast_id in due:
        async with env.db.unit_of_work() as uow:
            await _release(uow, broadcast_id, now)
            await uow.commit()
        released.append(broadcast_id)
    for broadcast_id in ended:
        async with env.db.unit_of_work() as uow:
            await uow.broadcasts.hold(broadcast_id)
            broadcast = await uow.broadcasts.get(broadcast_id)
            if broadcast is None or not await uow.broadcasts.set_state(
                broadcast_id, BroadcastState.SENT, BroadcastState.SENDING, now
            ):
                continue
            await uow.audit.add(
                subject(broadcast_id),
                None,
                "broadcast_sent",
                now,
                from_state=str(BroadcastState.SENDING),
                to_state=str(BroadcastState.SENT),
            )
            await uow.outbox.add(
                broadcast.created_by, DONE, "broadcast", broadcast_id, {}, delivery.NOTICE, now
            )
            await uow.commit()
            finished.append(broadcast_id)
    return released, finished


@dataclass(frozen=True)
class Status:
    broadcast: Broadcast
    reach: ReachCounts
    may_cancel: bool
    cancelled_before: bool = False  # a 取消发送 again: it was cancelled already


async def _visible(uow: UnitOfWork, actor: Actor, broadcast_id: int) -> Broadcast:
    """A broadcast the actor may follow; any other (or anyone else) reads as unknown."""
    if actor.role not in (Role.ADMIN, Role.HEAD):
        raise BroadcastNotFound()
    broadcast = await uow.broadcasts.get(broadcast_id)
    if broadcast is None or not may_see(actor, broadcast):
        raise BroadcastNotFound()
    return broadcast


def _may_cancel(broadcast: Broadcast) -> bool:
    return broadcast.state in (BroadcastState.SCHEDULED, BroadcastState.SENDING)


async def status(env: Env, who: Who, broadcast_id: int) -> Status:
    async with env.db.reading() as uow:
        broadcast = await _visible(uow, await actor_in(uow, env, who), broadcast_id)
        reach = await uow.broadcasts.reach(broadcast_id)
    return Status(broadcast, reach, _may_cancel(broadcast))


async def recent(env: Env, who: Who) -> list[Status]:
    """The newest broadcasts the actor may see (a head: their own), with their reach."""
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        may_broadcast(actor)
        mine = None if actor.role is Role.ADMIN else actor.tg_id
        found = await uow.broadcasts.recent(mine, RECENT)
        return [Status(b, await uow.broadcasts.reach(b.id), _may_cancel(b)) for b in found]


async def cancel(env: Env, who: Who, broadcast_id: int) -> Status:
    """Stop a broadcast: a scheduled one never goes; a sending one's queued messages are
    dropped, what went stays counted. Cancelling again says it was cancelled."""
    now = env.now()
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        await uow.broadcasts.hold(broadcast_id)
        broadcast = await _visible(uow, actor, broadcast_id)
        if not _may_cancel(broadcast):
            reach = await uow.broadcasts.reach(broadcast_id)
            again = broadcast.state is BroadcastState.CANCELLED
            return Status(broadcast, reach, False, cancelled_before=again)
        await uow.broadcasts.set_state(
            broadcast_id, BroadcastState.CANCELLED, broadcast.state, now, by=actor.tg_id
        )
        dropped = await uow.outbox.withdraw("broadcast", broadcast_id, MESSAGE, CANCELLED_ERROR)
        await uow.audit.add(
            subject(broadcast_id),
            actor.tg_id,
            "broadcast_cancel",
            now,
            from_state=str(broadcast.state),
            to_state=str(BroadcastState.CANCELLED),
            detail={"dropped": dropped},
        )
        broadcast = await uow.broadcasts.get(broadcast_id)
        reach = await uow.broadcasts.reach(broadcast_id)
        await uow.commit()
    assert broadcast is not None
    return Status(broadcast, reach, False)


REPORT_PAGE = 1000  # recipients read at a time for a reach report


@dataclass(frozen=True)
class Report:
    """A reach report: the counts, and every recipient read a page at a time (`rows`), so
    that a report of 20,000 holds no more than one page."""

    broadcast: Broadcast
    reach: ReachCounts
    rows: Callable[[], AsyncIterator[ReachRow]]


async def report(env: Env, who: Who | None, broadcast_id: int) -> Report:
    """The reach report (who None: the command line)."""
    async with env.db.reading() as uow:
        if who is None:
            broadcast = await uow.broadcasts.get(broadcast_id)
            if broadcast is None:
                raise BroadcastNotFound()
        else:
            broadcast = await _visible(uow, await actor_in(uow, env, who), broadcast_id)
        reach = await uow.broadcasts.reach(broadcast_id)

    async def rows() -> AsyncIterator[ReachRow]:
        after = None
        while True:
            async with env.db.reading() as uow:
                page = await uow.broadcasts.reach_rows(broadcast_id, after, REPORT_PAGE)
            for row in page:
                yield row
            if len(page) < REPORT_PAGE:
                return
            last = page[-1]
            after = (last.enterprise, last.uscc, last.chat)

    return Report(broadcast, reach, rows)


# --- recipients ------------------------------------------------------------------------------


async def _received(uow: UnitOfWork, actor: Actor, broadcast_id: int) -> Broadcast:
    """A broadcast the actor received (else: not found, whatever the id)."""
    if actor.role is not Role.ENTERPRISE:
        raise BroadcastNotFound()
    broadcast = await uow.broadcasts.get(broadcast_id)
    if broadcast is None or not await uow.broadcasts.is_recipient(broadcast_id, actor.tg_id):
        raise BroadcastNotFound()
    return broadcast


async def read(env: Env, who: Who, broadcast_id: int) -> tuple[Broadcast, bool]:
    """已阅: (the broadcast, first time)."""
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        broadcast = await _received(uow, actor, broadcast_id)
        first = await uow.broadcasts.mark_read(broadcast_id, actor.tg_id, env.now())
        await uow.commit()
    return broadcast, first


async def consult(env: Env, who: Who, broadcast_id: int) -> Broadcast:
    """咨询: recorded; the chat opens a 政策宣贯 draft quoting it."""
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        broadcast = await _received(uow, actor, broadcast_id)
        await uow.broadcasts.mark_asked(broadcast_id, actor.tg_id, env.now())
        await uow.commit()
    return broadcast


@dataclass(frozen=True)
class Muted:
    topic: str
    changed: bool  # False: it was already so


async def mute(env: Env, who: Who, topic: str, muted: bool) -> Muted:
    """An enterprise stops (or resumes) broadcasts of a topic; appeals are never muted."""
    if topic not in TOPICS:
        raise InvalidInput(field="broadcast_topic", reason="unknown")
    now = env.now()
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        if actor.role is not Role.ENTERPRISE or actor.enterprise_id is None:
            raise UnknownButton()  # only contacts are ever offered these
        if muted:
            changed = await uow.broadcasts.mute(actor.enterprise_id, topic, actor.tg_id, now)
        else:
            changed = await uow.broadcasts.unmute(actor.enterprise_id, topic)
        if changed:
            await uow.audit.add(
                f"enterprise:{actor.enterprise_id}",
                actor.tg_id,
                "topic_mute" if muted else "topic_unmute",
                now,
                detail={"topic": topic},
            )
        await uow.commit()
    return Muted(topic, changed)


async def mute_received(env: Env, who: Who, broadcast_id: int) -> Muted:
    """不再接收此类, pressed under a broadcast the person received: its topic is muted."""
    async with env.db.reading() as uow:
        broadcast = await _received(uow, await actor_in(uow, env, who), broadcast_id)
    return await mute(env, who, broadcast.topic, True)


@dataclass(frozen=True)
class Stored:
    """A broadcast as the courier words it when its message goes (`reach` only for the
    sender's message that it has gone: a contact's message needs none)."""

    broadcast: Broadcast
    files: list[Attachment]
    reach: ReachCounts | None = None


async def stored(env: Env, broadcast_id: int, with_reach: bool = False) -> Stored | None:
    async with env.db.reading() as uow:
        broadcast = await uow.broadcasts.get(broadcast_id)
        if broadcast is None:
            return None
        files = await uow.broadcasts.files(broadcast_id) if not with_reach else []
        reach = await uow.broadcasts.reach(broadcast_id) if with_reach else None
        return Stored(broadcast, files, reach)
