"""Who may still receive a stored message when it goes: loads the people and the subject as
they are now and asks the rules (`bot/rules/delivery.py`)."""

from __future__ import annotations

import dataclasses

from bot.rules import delivery
from bot.rules.broadcasts import CANCELLED_ERROR, MUTED_ERROR
from bot.rules.delivery import Recipient
from bot.rules.model import Actor, Outgoing, Role
from bot.usecases.env import Env
from bot.usecases.task_holders import holders
from storage.contract import UnitOfWork


async def recipient(uow: UnitOfWork, env: Env, chat_id: int) -> Recipient:
    """The chat as it is now: a department's group, a leader, a person, or a stranger."""
    department = await uow.departments.by_chat(chat_id) if delivery.is_group(chat_id) else None
    if department is not None:
        return Recipient(Actor(chat_id, Role.GUEST, department.name), department.id)
    if chat_id in env.leaders:
        return Recipient(Actor(chat_id, Role.ADMIN, ""))
    person = await uow.people.get(chat_id)
    if person is None:
        return Recipient(Actor(chat_id, Role.GUEST, ""))
    return Recipient(
        Actor(chat_id, person.role, person.full_name, person.department_id, person.enterprise_id)
    )


async def _about(
    uow: UnitOfWork, env: Env, who: Recipient, subject: str, ref: int, kind: str
) -> bool:
    """Whether `who` may hear `kind` about this appeal, task or ladder notice; True when it
    no longer exists (the courier records that as gone)."""
    if subject == "notice":
        notice = await uow.notices.get(ref)
        if notice is None:
            return True
        subject, ref, kind = notice.subject, notice.subject_id, notice.kind
    if subject == "appeal":
        appeal = await uow.appeals.get(ref)
        return appeal is None or delivery.may_hear_of_appeal(who, appeal, kind)
    if subject == "enterprise":  # its contacts: who joined, who was removed
        return delivery.may_hear_of_contacts(who, ref, kind)
    if subject == "broadcast":  # a 政策宣贯 to a contact; its reach to whoever sent it
        broadcast = await uow.broadcasts.get(ref)
        if broadcast is None:
            return True
        if kind == "broadcast_done":
            return who.actor.tg_id == broadcast.created_by
        muted = await uow.broadcasts.muted(who.actor.enterprise_id or 0)
        return delivery.may_hear_broadcast(who, broadcast.state, broadcast.topic in muted)
    if subject == "monthly":  # a 月报 notice: not once the report is in
        if kind == "monthly_leaders":
            return who.actor.role is Role.ADMIN
        record = await uow.monthly.notice(ref)
        if record is None:
            return True
        campaign = await uow.monthly.campaign(record.campaign_id)
        if campaign is None or not campaign.active:  # stopped since: asks nobody
            return False
        if await uow.monthly.latest(record.campaign_id, record.period, record.enterprise_id):
            return False
        return delivery.may_hear_monthly(who, record.enterprise_id, str(record.kind))
    if subject == "task":
        task = await uow.tasks.get(ref)
        return task is None or delivery.may_hear_of_task(who, await holders(env, uow, task), kind)
    return False


async def still_theirs(uow: UnitOfWork, env: Env, item: Outgoing) -> Outgoing | None:
    """`item` as its recipient may still read it, or None when nothing of it is theirs any
    more. A list keeps its notices in their places (a list resumed after a crash skips its
    items by position) and names those no longer theirs in `withheld`."""
    if item.kind == delivery.OWN:
        return item
    who = await recipient(uow, env, item.chat_id)
    if item.subject == "digest":
        return item if delivery.may_read_digest(who, str(item.detail.get("audience"))) else None
    if item.subject is None:
        return item if delivery.may_hear(who, item.kind) else None
    if item.kind == delivery.LADDER_LIST:
        notices = [int(n) for n in item.detail.get("notices", [])]
        withheld = [n for n in notices if not await _about(uow, env, who, "notice", n, item.kind)]
        if len(withheld) == len(notices):
            return None
        return dataclasses.replace(item, detail={**item.detail, "withheld": withheld})
    if item.subject_id is None:
        return None
    return item if await _about(uow, env, who, item.subject, item.subject_id, item.kind) else None


async def withheld_because(uow: UnitOfWork, item: Outgoing) -> str:
    """Why a message no longer its recipient's is withheld, as its row keeps it: a
    broadcast cancelled, or its topic muted, apart (the reach report counts them so)."""
    if item.subject == "broadcast" and item.subject_id is not None:
        broadcast = await uow.broadcasts.get(item.subject_id)
        if broadcast is not None and broadcast.state == "cancelled":
            return CANCELLED_ERROR
        who = await uow.people.get(item.chat_id)
        if broadcast is not None and who is not None and who.enterprise_id is not None:
            if broadcast.topic in await uow.broadcasts.muted(who.enterprise_id):
                return MUTED_ERROR
    return delivery.WITHHELD
