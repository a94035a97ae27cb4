"""Use cases about people: who is acting, registration, invites, 包保, departments."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from bot.rules import access, checks
from bot.rules.model import Actor, Department, Enterprise, Invite, Person, Role
from bot.rules.refusals import (
    AlreadyRegistered,
    EnterpriseTaken,
    InvalidInput,
    InviteInvalid,
    NotAllowed,
)
from bot.usecases.env import Env, already_done, remember

NAME_MAX = 40


@dataclass(frozen=True)
class Membership:
    role: Role
    department: Department


@dataclass(frozen=True)
class BaobaoAssigned:
    enterprise: Enterprise
    official: Person


async def sync_departments(env: Env) -> None:
    """Make the departments table match the org config (new and renamed ones)."""
    async with env.db.unit_of_work() as uow:
        for dept in env.org.departments:
            await uow.departments.upsert(dept.code, dept.name, dept.chat_id)
        await uow.commit()


async def unstaffed(env: Env) -> list[Department]:
    """Departments that nobody has joined and that have no group chat: their appeals go to
    the leaders until someone joins."""
    async with env.db.reading() as uow:
        return [
            d
            for d in await uow.departments.all()
            if d.chat_id is None and not await uow.people.staff_of(d.id)
        ]


async def departments(env: Env) -> list[Department]:
    async with env.db.reading() as uow:
        return await uow.departments.all()


async def actor_for(env: Env, tg_id: int, display_name: str = "") -> Actor:
    if tg_id in env.leaders:
        return Actor(tg_id, Role.ADMIN, display_name or str(tg_id))
    async with env.db.reading() as uow:
        person = await uow.people.get(tg_id)
    if person is None:
        return Actor(tg_id, Role.GUEST, display_name or str(tg_id))
    return Actor(tg_id, person.role, person.full_name, person.department_id, person.enterprise_id)


async def unregistered_uscc(env: Env, text: str | None) -> str:
    """A valid code no enterprise has registered yet; EnterpriseTaken names who did."""
    code = checks.uscc_code(text)
    async with env.db.reading() as uow:
        taken = await uow.enterprises.by_uscc(code)
    if taken is not None:
        raise EnterpriseTaken(
            name=taken.name, contact=taken.contact_name, phone=masked_phone(taken.phone)
        )
    return code


def masked_phone(phone: str) -> str:
    """139****0000: enough for a colleague to recognise, not to harvest."""
    return phone[:3] + "*" * max(len(phone) - 7, 0) + phone[-4:] if len(phone) > 7 else phone


async def register_enterprise(
    env: Env, tg_id: int, name: str, code: str, contact: str, phone: str, key: str | None
) -> Enterprise:
    """A guest registers an enterprise and becomes its contact."""
    name = checks.enterprise_name(name)
    code = checks.uscc_code(code)
    contact = checks.contact_name(contact)
    phone = checks.phone(phone)
    if tg_id in env.leaders:
        raise NotAllowed()
    now = env.now()
    async with env.db.unit_of_work() as uow:
        done = await already_done(uow, env, tg_id, key, "register")
        if done is not None:
            return await uow.enterprises.get(done)
        if await uow.people.get(tg_id) is not None:
            raise AlreadyRegistered()
        taken = await uow.enterprises.by_uscc(code)
        if taken is not None:
            raise EnterpriseTaken(
                name=taken.name, contact=taken.contact_name, phone=masked_phone(taken.phone)
            )
        enterprise_id = await uow.enterprises.add(name, code, contact, phone, now)
        await uow.people.add(tg_id, Role.ENTERPRISE, contact, now, enterprise_id=enterprise_id)
        await uow.audit.add(
            f"enterprise:{enterprise_id}", tg_id, "register", now, detail={"uscc": code}
        )
        await remember(uow, env, tg_id, key, "register", enterprise_id)
        enterprise = await uow.enterprises.get(enterprise_id)
        await uow.commit()
    return enterprise


async def create_invite(env: Env, actor: Actor, department_code: str, is_head: bool) -> Invite:
    """A leader makes a single-use, expiring invite for one department."""
    if actor.role is not Role.ADMIN:
        raise NotAllowed()
    now = env.now()
    code = secrets.token_urlsafe(12)
    async with env.db.unit_of_work() as uow:
        dept = await uow.departments.by_code(department_code)
        if dept is None:
            raise InvalidInput(field="department", reason="unknown")
        expires = now + env.invite_ttl
        await uow.invites.add(code, dept.id, is_head, actor.tg_id, now, expires)
        await uow.audit.add(
            f"invite:{code}",
            actor.tg_id,
            "invite",
            now,
            detail={"department": dept.code, "role": Role.HEAD if is_head else Role.OFFICIAL},
        )
        await uow.commit()
    return Invite(code, dept.id, is_head, actor.tg_id, expires)


async def accept_invite(env: Env, tg_id: int, full_name: str, code: str) -> Membership:
    """Somebody opens an invite link and joins a department."""
    if tg_id in env.leaders:
        raise NotAllowed()
    now = env.now()
    name = checks.without_invisible(full_name or "").strip()[:NAME_MAX] or str(tg_id)
    async with env.db.unit_of_work() as uow:
        invite = await uow.invites.get(code)
        if invite is None:
            raise InviteInvalid(reason="unknown")
        dept = await uow.departments.get(invite.department_id)
        if invite.used_by == tg_id:
            return Membership(invite.role, dept)  # the same link opened twice
        if invite.used_by is not None:
            raise InviteInvalid(reason="used")
        if invite.expires_at <= now:
            raise InviteInvalid(reason="expired")
        person = await uow.people.get(tg_id)
        if person is not None and person.role is Role.ENTERPRISE:
            raise NotAllowed()
        await uow.invites.use(code, tg_id, now)
        if person is None:
            await uow.people.add(tg_id, invite.role, name, now, department_id=dept.id)
        else:
            await uow.people.set_staff_role(tg_id, invite.role, dept.id)
        await uow.audit.add(
            f"user:{tg_id}",
            tg_id,
            "join",
            now,
            to_state=invite.role,
            detail={"department": dept.code},
        )
        await uow.commit()
    return Membership(invite.role, dept)


async def staff(env: Env, actor: Actor) -> list[tuple[Person, Department]]:
    access.require_leader(actor)
    async with env.db.reading() as uow:
        names = {d.id: d for d in await uow.departments.all()}
        return [(p, names[p.department_id]) for p in await uow.people.all_staff()]


async def find_enterprise(env: Env, actor: Actor, code: str) -> Enterprise:
    access.require_leader(actor)
    code = checks.uscc_code(code)
    async with env.db.reading() as uow:
        enterprise = await uow.enterprises.by_uscc(code)
    if enterprise is None:
        raise InvalidInput(field="uscc", reason="unknown")
    return enterprise


async def assign_baobao(
    env: Env, actor: Actor, enterprise_id: int, official_id: int
) -> BaobaoAssigned:
    """A leader makes an official the 包保 contact of an enterprise."""
    if actor.role is not Role.ADMIN:
        raise NotAllowed()
    now = env.now()
    async with env.db.unit_of_work() as uow:
        enterprise = await uow.enterprises.get(enterprise_id)
        official = access.require_official(await uow.people.get(official_id))
        if enterprise is None:
            raise InvalidInput(field="enterprise", reason="unknown")
        await uow.enterprises.set_baobao(enterprise_id, official_id)
        await uow.audit.add(
            f"enterprise:{enterprise_id}",
            actor.tg_id,
            "baobao",
            now,
            from_state=str(enterprise.baobao_user_id or ""),
            to_state=str(official_id),
        )
        await uow.commit()
    return BaobaoAssigned(enterprise, official)
