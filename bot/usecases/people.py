"""Use cases about people: who is acting, registration, invites, 包保, departments."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from bot.rules import access, checks, delivery, names
from bot.rules.directory import DirectoryEntry
from bot.rules.model import (
    STAFF_ROLES,
    Actor,
    ContactInvite,
    Department,
    Enterprise,
    Event,
    Invite,
    Person,
    Role,
)
from bot.rules.names import visible_name
from bot.rules.refusals import (
    AlreadyRegistered,
    BaobaoUnchanged,
    ContactAlreadyRemoved,
    EnterpriseTaken,
    InvalidInput,
    InviteInvalid,
    NotAllowed,
    OfficialNameUnclear,
    PrimaryContactOnly,
)
from bot.usecases.env import Env, already_done, remember
from bot.usecases.recognition import recognise, recognised
from storage.contract import UnitOfWork

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
        return await unstaffed_in(uow)


async def unstaffed_in(uow: UnitOfWork) -> list[Department]:
    """`unstaffed`, read in this unit of work."""
    return [
        d
        for d in await uow.departments.all()
        if d.chat_id is None and not await uow.people.staff_of(d.id)
    ]


async def departments(env: Env) -> list[Department]:
    async with env.db.reading() as uow:
        return await uow.departments.all()


@dataclass(frozen=True)
class Caller:
    """Who sent an update, as Telegram names them: a use case loads them as an Actor inside
    its own unit of work (`actor_in`), so the check and the action see the same person."""

    tg_id: int
    display_name: str = ""


# Whom a use case acts for: a caller to load, or an actor already loaded (jobs, tests).
Who = Actor | Caller


async def actor_in(uow: UnitOfWork, env: Env, who: Who) -> Actor:
    """The person acting, as stored in this unit of work (an Actor given is taken as is)."""
    if isinstance(who, Actor):
        return who
    if who.tg_id in env.leaders:  # a leader is not stored: known by their Telegram name, if any
        return Actor(who.tg_id, Role.ADMIN, visible_name(who.display_name))
    person = await uow.people.get(who.tg_id)
    if person is None:
        return Actor(who.tg_id, Role.GUEST, visible_name(who.display_name))
    return Actor(
        who.tg_id, person.role, person.full_name, person.department_id, person.enterprise_id
    )


async def actor_for(env: Env, tg_id: int, display_name: str = "") -> Actor:
    if tg_id in env.leaders:  # no database read for a leader
        return Actor(tg_id, Role.ADMIN, visible_name(display_name))
    async with env.db.reading() as uow:
        return await actor_in(uow, env, Caller(tg_id, display_name))


@dataclass(frozen=True)
class Identity:
    """Who someone is, as /start greets and /help answers them (and free text is hinted):
    their role, a staff member's department, and for a stranger whether they were removed
    as a contact (`removal`: whom to ask)."""

    actor: Actor
    department: Department | None = None
    removal: Removal | None = None
    muted: frozenset[str] = frozenset()  # a contact's enterprise: 政策宣贯 topics it muted


async def identify(env: Env, who: Who) -> Identity:
    """The person and what greeting them needs, read in one reading."""
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        if actor.is_staff and actor.department_id is not None:
            return Identity(actor, department=await uow.departments.get(actor.department_id))
        if actor.role is Role.GUEST:
            return Identity(actor, removal=await removal_in(uow, env, actor.tg_id))
        if actor.role is Role.ENTERPRISE and actor.enterprise_id is not None:
            muted = await uow.broadcasts.muted(actor.enterprise_id)
            return Identity(actor, muted=frozenset(muted))
    return Identity(actor)


async def unregistered_uscc(env: Env, text: str | None) -> str:
    """A valid code no enterprise has registered yet; EnterpriseTaken names who did."""
    code = checks.uscc_code(text)
    async with env.db.reading() as uow:
        taken = await uow.enterprises.by_uscc(code)
    if taken is not None:
        raise EnterpriseTaken(
            name=taken.name, contact=taken.contact_name, phone=checks.masked_phone(taken.phone)
        )
    return code


@dataclass(frozen=True)
class Registered:
    enterprise: Enterprise
    known: DirectoryEntry | None  # the bureau's directory knew it (a roster's entry)
    baobao: str = ""  # its 包保 official by name, when it has one


async def register_enterprise(
    env: Env, tg_id: int, name: str, code: str, contact: str, phone: str, key: str | None
) -> Enterprise:
    """A guest registers an enterprise and becomes its contact."""
    return (await register(env, tg_id, name, code, contact, phone, key)).enterprise


async def register(
    env: Env, tg_id: int, name: str, code: str, contact: str, phone: str, key: str | None
) -> Registered:
    """A guest registers an enterprise and becomes its contact; one the directory knows by
    its USCC is matched to its entry (and given the 包保 the roster named)."""
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
            enterprise = await uow.enterprises.get(done)
            return Registered(
                enterprise, await recognised(uow, done), await _baobao(uow, enterprise)
            )
        if await uow.people.get(tg_id) is not None:
            raise AlreadyRegistered()
        await uow.enterprises.hold_uscc(code)
        taken = await uow.enterprises.by_uscc(code)
        if taken is not None:
            raise EnterpriseTaken(
                name=taken.name, contact=taken.contact_name, phone=checks.masked_phone(taken.phone)
            )
        enterprise_id = await uow.enterprises.add(name, code, contact, phone, now)
        await uow.people.add(tg_id, Role.ENTERPRISE, contact, now, enterprise_id=enterprise_id)
        await uow.people.set_phone(tg_id, phone)
        await uow.enterprises.set_primary(enterprise_id, tg_id)
        await uow.audit.add(
            f"enterprise:{enterprise_id}", tg_id, "register", now, detail={"uscc": code}
        )
        known = await recognise(uow, await uow.enterprises.get(enterprise_id), now)
        await remember(uow, env, tg_id, key, "register", enterprise_id)
        enterprise = await uow.enterprises.get(enterprise_id)
        baobao = await _baobao(uow, enterprise)
        await uow.commit()
    return Registered(enterprise, known, baobao)


async def _baobao(uow: UnitOfWork, enterprise: Enterprise) -> str:
    if enterprise.baobao_user_id is None:
        return ""
    return visible_name(await uow.people.name_of(enterprise.baobao_user_id) or "")


# Colleagues: the first contact (or a leader) invites more contacts of the same enterprise.
COLLEAGUE_PREFIX = "c_"  # /start c_<code> is a colleague's link, /start <code> a staff one


@dataclass(frozen=True)
class Contacts:
    enterprise: Enterprise
    people: list[tuple[Person, str | None]]  # with their phones, the first contact first


async def _enterprise_managed_by(uow: UnitOfWork, actor: Actor, uscc: str | None) -> Enterprise:
    """The enterprise whose contacts `actor` manages: their own as its first contact (who
    may name only its code), or any (named by its code) as a leader."""
    if actor.role is Role.ADMIN:
        if not uscc:
            raise InvalidInput(field="uscc", reason="empty")
        enterprise = await uow.enterprises.by_uscc(checks.uscc_code(uscc))
        if enterprise is None:
            raise InvalidInput(field="enterprise", reason="unknown")
        return enterprise
    if actor.role is not Role.ENTERPRISE or actor.enterprise_id is None:
        raise NotAllowed()
    enterprise = await uow.enterprises.get(actor.enterprise_id)
    if enterprise is None or enterprise.primary_contact_id != actor.tg_id:
        raise PrimaryContactOnly()
    if uscc:
        access.named_enterprise_in_scope(enterprise, checks.uscc_code(uscc))
    return enterprise


async def invite_colleague(
    env: Env, who: Who, uscc: str | None = None
) -> tuple[ContactInvite, Enterprise]:
    """A single-use, expiring link for another contact of the enterprise (and which)."""
    now = env.now()
    code = COLLEAGUE_PREFIX + secrets.token_urlsafe(12)
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        enterprise = await _enterprise_managed_by(uow, actor, uscc)
        expires = now + env.invite_ttl
        await uow.enterprises.add_invite(code, enterprise.id, actor.tg_id, now, expires)
        await uow.audit.add(
            f"enterprise:{enterprise.id}", actor.tg_id, "invite_contact", now, detail={}
        )
        await uow.commit()
    return ContactInvite(code, enterprise.id, actor.tg_id, expires, None), enterprise


async def colleague_invite(env: Env, tg_id: int, code: str) -> Enterprise:
    """The enterprise a colleague's link is for, if it can still be used by `tg_id`."""
    async with env.db.reading() as uow:
        invite = await uow.enterprises.invite(code)
        person = await uow.people.get(tg_id)
        enterprise = await uow.enterprises.get(invite.enterprise_id) if invite else None
        user = await _user_of(uow, invite)
    if person is not None or tg_id in env.leaders:
        raise AlreadyRegistered()
    _usable(env, invite, user)
    assert enterprise is not None
    return enterprise


async def _user_of(uow: UnitOfWork, invite: ContactInvite | Invite | None) -> str:
    """The name of whoever used a link (removed or not), "" while unused or unknown."""
    if invite is None or invite.used_by is None:
        return ""
    return await uow.people.name_of(invite.used_by) or ""


def _used(env: Env, invite: ContactInvite | Invite, user: str) -> InviteInvalid:
    """A used link is refused saying when it was used, and by whom when known."""
    at = env.stamp(invite.used_at) if invite.used_at else ""
    return InviteInvalid(reason="used", at=at, by=user)


def _usable(env: Env, invite: ContactInvite | None, user: str) -> None:
    # Used is used, by anyone: a contact who was removed cannot come back on their old link.
    if invite is None:
        raise InviteInvalid(reason="unknown")
    if invite.used_by is not None:
        raise _used(env, invite, user)
    if invite.expires_at <= env.now():
        raise InviteInvalid(reason="expired")


@dataclass(frozen=True)
class Joined:
    enterprise: Enterprise
    queued: tuple[int, ...]  # the outbox row that tells the first contact


async def join_as_colleague(
    env: Env, tg_id: int, code: str, contact: str, phone: str, key: str | None
) -> Joined:
    """A colleague who opened the link becomes another contact of the enterprise; its first
    contact is told, through the outbox (`contact_joined`)."""
    contact, phone = checks.contact_name(contact), checks.phone(phone)
    now = env.now()
    async with env.db.unit_of_work() as uow:
        done = await already_done(uow, env, tg_id, key, "join_contact")
        if done is not None:
            return Joined(await uow.enterprises.get(done), ())
        invite = await uow.enterprises.invite(code)
        _usable(env, invite, await _user_of(uow, invite))
        if await uow.people.get(tg_id) is not None or tg_id in env.leaders:
            raise AlreadyRegistered()
        if not await uow.enterprises.use_invite(code, tg_id, now):
            # used meanwhile by someone else (their unit of work committed first)
            used = await uow.enterprises.invite(code)
            raise _used(env, used, await _user_of(uow, used))
        await uow.people.add(
            tg_id, Role.ENTERPRISE, contact, now, enterprise_id=invite.enterprise_id
        )
        await uow.people.set_phone(tg_id, phone)
        await uow.audit.add(
            f"enterprise:{invite.enterprise_id}",
            tg_id,
            "join_contact",
            now,
            detail={"invited_by": invite.created_by},
        )
        await remember(uow, env, tg_id, key, "join_contact", invite.enterprise_id)
        enterprise = await uow.enterprises.get(invite.enterprise_id)
        queued: tuple[int, ...] = ()
        first = enterprise.primary_contact_id
        if first is not None and first != tg_id:
            detail = {"name": contact, "phone": phone}
            queued = (
                await uow.outbox.add(
                    first, CONTACT_JOINED, "enterprise", enterprise.id, detail,
                    delivery.NOTICE, now,
                ),
            )  # fmt: skip
        await uow.commit()
    return Joined(enterprise, queued)


async def enterprise(env: Env, enterprise_id: int) -> Enterprise | None:
    async with env.db.reading() as uow:
        return await uow.enterprises.get(enterprise_id)


async def contacts(env: Env, who: Who, uscc: str | None = None) -> Contacts:
    """The contacts of the enterprise `who` manages (/contacts), with their phones."""
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        enterprise = await _enterprise_managed_by(uow, actor, uscc)
        return Contacts(enterprise, await uow.people.contact_people(enterprise.id))


@dataclass(frozen=True)
class ContactRemoved:
    person: Person
    queued: tuple[int, ...]  # the outbox row that tells the removed person


async def remove_contact(env: Env, who: Who, enterprise_id: int, tg_id: int) -> ContactRemoved:
    """The first contact removes another contact of their enterprise, a leader one of any;
    the first stays. Any other pair of ids is answered as unknown (ContactNotFound); a
    contact removed already is named with who removed them and when. The removed person is
    told once, through the outbox (`contact_removed`)."""
    now = env.now()
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        enterprise = await uow.enterprises.get(enterprise_id)
        current = await uow.people.get(tg_id)
        if current is None:
            await _already_removed(uow, env, actor, enterprise, tg_id)
        person = access.removable_contact(actor, enterprise, current)
        await uow.people.remove_contact(tg_id, now)
        await uow.audit.add(
            f"enterprise:{enterprise_id}",
            actor.tg_id,
            "remove_contact",
            now,
            detail={"contact": tg_id, "name": person.full_name},
        )
        told = await uow.outbox.add(
            tg_id, CONTACT_REMOVED, "enterprise", enterprise_id, {}, delivery.NOTICE, now
        )
        await uow.commit()
    return ContactRemoved(person, (told,))


CONTACT_REMOVED = delivery.CONTACT_REMOVED
CONTACT_JOINED = delivery.CONTACT_JOINED


async def _already_removed(
    uow: UnitOfWork, env: Env, actor: Actor, enterprise: Enterprise | None, tg_id: int
) -> None:
    """Raise ContactAlreadyRemoved for a contact of the actor's enterprise who is gone (a
    second tap, an older /contacts list); ContactNotFound for anything else."""
    removed = await uow.people.removed(tg_id)
    person = access.removed_contact_in_scope(actor, enterprise, removed[0] if removed else None)
    assert removed is not None and enterprise is not None
    event = await _removal_event(uow, enterprise.id, tg_id)
    raise ContactAlreadyRemoved(
        name=person.full_name,
        by=_remover(env, event),
        at=env.stamp(event.created_at if event else removed[1]),
    )


async def _removal_event(uow: UnitOfWork, enterprise_id: int, tg_id: int) -> Event | None:
    """The audit event of the contact's latest removal from the enterprise."""
    events = await uow.audit.of_subject(f"enterprise:{enterprise_id}")
    removals = [
        e for e in events if e.action == "remove_contact" and e.detail.get("contact") == tg_id
    ]
    return removals[-1] if removals else None


def _remover(env: Env, event: Event | None) -> str:
    """Who did it (removed a contact, chose a 包保): their name, a leader's role (a leader
    has no stored name), or "" when not known."""
    if event is None:
        return ""
    if visible_name(event.actor_name):
        return visible_name(event.actor_name)
    if event.actor_role is not None:  # stored, but with no name to show: their role
        return str(event.actor_role)
    return ROLE_LEADER if event.actor_id in env.leaders else ""


ROLE_LEADER = str(Role.ADMIN)  # a leader has no stored name: the handler words the role


@dataclass(frozen=True)
class Removal:
    """A contact removed from their enterprise: when, by whom, and whom they may ask (the
    enterprise's first contact and its 包保 official, when it has one)."""

    person: Person
    enterprise: Enterprise
    at: str
    by: str  # a name, ROLE_LEADER, or "" when not known
    baobao: tuple[str, str] | None  # the 包保 official's name and department


async def removal(env: Env, tg_id: int) -> Removal | None:
    """Why someone is a stranger again, if they were removed as a contact (and have not
    joined anything since)."""
    if tg_id in env.leaders:
        return None
    async with env.db.reading() as uow:
        return await removal_in(uow, env, tg_id)


async def removal_in(uow: UnitOfWork, env: Env, tg_id: int) -> Removal | None:
    """`removal`, read in this unit of work."""
    if tg_id in env.leaders:
        return None
    removed = await uow.people.removed(tg_id)
    if removed is None or removed[0].enterprise_id is None:
        return None
    person, removed_at = removed
    enterprise = await uow.enterprises.get(person.enterprise_id)
    if enterprise is None:
        return None
    event = await _removal_event(uow, enterprise.id, tg_id)
    baobao = None
    official = (
        await uow.people.get(enterprise.baobao_user_id) if enterprise.baobao_user_id else None
    )
    if official is not None and official.department_id is not None:
        department = await uow.departments.get(official.department_id)
        baobao = (official.full_name, department.name if department else "")
    return Removal(
        person,
        enterprise,
        env.stamp(event.created_at if event else removed_at),
        _remover(env, event),
        baobao,
    )


async def create_invite(env: Env, who: Who, department_code: str, is_head: bool) -> Invite:
    """A leader makes a single-use, expiring invite for one department."""
    invite, _ = await invite_link(env, who, department_code, is_head)
    return invite


async def invite_link(
    env: Env, who: Who, department_code: str, is_head: bool
) -> tuple[Invite, Department]:
    """`create_invite`, with the department it is for (its name is in the link's message);
    anyone but a leader is answered as for an unknown department (a forged button)."""
    async with env.db.unit_of_work() as uow:
        return await _invite_in(uow, env, await actor_in(uow, env, who), department_code, is_head)


@dataclass(frozen=True)
class InviteAsked:
    """/invite as asked: the departments to choose among, or the link made for the one named."""

    departments: list[Department]
    made: tuple[Invite, Department] | None = None


async def invite_command(
    env: Env, who: Who, department_code: str | None, is_head: bool
) -> InviteAsked:
    """/invite [department code] [head]: leaders only (others are refused as such); without
    a code the departments to choose among, with one the link."""
    if department_code is None:
        async with env.db.reading() as uow:
            access.require_leader(await actor_in(uow, env, who))
            return InviteAsked(await uow.departments.all())
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        access.require_leader(actor)
        made = await _invite_in(uow, env, actor, department_code, is_head)
    return InviteAsked([], made)


async def _invite_in(
    uow: UnitOfWork, env: Env, actor: Actor, department_code: str, is_head: bool
) -> tuple[Invite, Department]:
    """Make the invite in this unit of work and commit it."""
    now = env.now()
    # Hexadecimal: a staff link can never begin like a colleague's (c_…).
    code = secrets.token_hex(12)
    dept = access.invitable_department(actor, await uow.departments.by_code(department_code))
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
    return Invite(code, dept.id, is_head, actor.tg_id, expires), dept


def _staff_link_usable(
    env: Env, invite: Invite | None, person: Person | None, tg_id: int, user: str = ""
) -> bool:
    """Whether the link is new (False: its own member opened it again); refusals raise."""
    if invite is None:
        raise InviteInvalid(reason="unknown")
    if invite.used_by is not None:
        still_member = (
            invite.used_by == tg_id
            and person is not None
            and person.role is invite.role
            and person.department_id == invite.department_id
        )
        if not still_member:
            raise _used(env, invite, user)
        return False
    if invite.expires_at <= env.now():
        raise InviteInvalid(reason="expired")
    return True


async def invite_department(env: Env, who: Who, department_code: str) -> Department:
    """The department a leader chose for an invite (asked next: which role)."""
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        found = await uow.departments.by_code(department_code)
    return access.invitable_department(actor, found)


async def accept_invite(env: Env, tg_id: int, full_name: str, code: str) -> Membership:
    """Somebody opens an invite link and joins a department. A link that can no longer be
    used (unknown, used, expired) is refused before anything else; a staff link opened
    again by the one it made a member of its department (still there) is fine."""
    now = env.now()
    name = visible_name(full_name)[:NAME_MAX]
    async with env.db.unit_of_work() as uow:
        invite = await uow.invites.get(code)
        person = await uow.people.get(tg_id)
        user = await _user_of(uow, invite)
        usable = _staff_link_usable(env, invite, person, tg_id, user)
        if tg_id in env.leaders:
            raise NotAllowed()
        if not name:  # a Telegram name of nothing visible would show nobody: refused, link kept
            raise InvalidInput(field="telegram_name", reason="invisible_telegram_name")
        if not usable:
            return Membership(invite.role, await uow.departments.get(invite.department_id))
        dept = await uow.departments.get(invite.department_id)
        if person is not None and person.role is Role.ENTERPRISE:
            raise NotAllowed()
        if not await uow.invites.use(code, tg_id, now):
            # used meanwhile (another unit of work committed first): as if it had been then
            again, person = await uow.invites.get(code), await uow.people.get(tg_id)
            _staff_link_usable(env, again, person, tg_id, await _user_of(uow, again))
            return Membership(again.role, await uow.departments.get(again.department_id))
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


async def staff_in(uow: UnitOfWork) -> list[tuple[Person, Department]]:
    """Every joined official and head with their department, in this unit of work."""
    departments = {d.id: d for d in await uow.departments.all()}
    return [(p, departments[p.department_id]) for p in await uow.people.all_staff()]


async def official_named_in(uow: UnitOfWork, actor: Actor, typed: str) -> Person:
    """The one official a leader names by typing (姓名, or 姓名（部门）), read in this unit of
    work; a name that is not exactly one raises OfficialNameUnclear with whom it may mean."""
    access.require_leader(actor)
    official, _ = names.named_official(await staff_in(uow), typed)
    return official


async def baobao_department(
    env: Env, who: Who, enterprise_id: int, department_id: int
) -> tuple[Enterprise, Department, list[Person]]:
    """The officials of one department, to choose an enterprise's 包保 among (leaders only;
    an unknown enterprise or department reads as BaobaoNotFound)."""
    async with env.db.reading() as uow:
        enterprise, department = access.baobao_department(
            await actor_in(uow, env, who),
            await uow.enterprises.get(enterprise_id),
            await uow.departments.get(department_id),
        )
        return enterprise, department, await department_staff(uow, department)


async def department_staff(uow: UnitOfWork, department: Department) -> list[Person]:
    """The joined officials and heads of a department."""
    return [p for p in await uow.people.staff_of(department.id) if p.role in STAFF_ROLES]


@dataclass(frozen=True)
class BaobaoAsked:
    """/baobao as asked: the enterprise named (None: no code given, the usage is shown) and
    the officials to choose among; with a name typed after the code, the 包保 it made
    (`assigned`), or why the name is not one official (`unclear`: whom it may mean)."""

    enterprise: Enterprise | None
    staff: list[tuple[Person, Department]]
    assigned: BaobaoAssigned | None = None
    unclear: OfficialNameUnclear | None = None


async def baobao_command(env: Env, who: Who, uscc: str | None, typed: str = "") -> BaobaoAsked:
    """/baobao <USCC> [姓名] (leaders only): the enterprise and the officials to choose its 包保
    among, or — a name typed that is one official — that official made its 包保."""
    if not uscc:
        async with env.db.reading() as uow:
            access.require_leader(await actor_in(uow, env, who))
        return BaobaoAsked(None, [])
    async with env.db.unit_of_work() if typed else env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        access.require_leader(actor)
        enterprise = await uow.enterprises.by_uscc(checks.uscc_code(uscc))
        if enterprise is None:
            raise InvalidInput(field="uscc", reason="unknown")
        staff = await staff_in(uow)
        if not staff or not typed:
            return BaobaoAsked(enterprise, staff)
        try:
            official, _ = names.named_official(staff, typed)
        except OfficialNameUnclear as exc:
            return BaobaoAsked(enterprise, staff, unclear=exc)
        assigned = await _assign_baobao_in(uow, env, actor, enterprise.id, official.tg_id)
    return BaobaoAsked(enterprise, staff, assigned)


async def assign_baobao(env: Env, who: Who, enterprise_id: int, official_id: int) -> BaobaoAssigned:
    """A leader makes an official the 包保 contact of an enterprise."""
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        return await _assign_baobao_in(uow, env, actor, enterprise_id, official_id)


async def assign_baobao_named(env: Env, who: Who, enterprise_id: int, typed: str) -> BaobaoAssigned:
    """The 包保 typed by name (姓名, or 姓名（部门）) at the /baobao prompt: a name that is not
    exactly one official raises OfficialNameUnclear, and nothing changes."""
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        official = await official_named_in(uow, actor, typed)
        return await _assign_baobao_in(uow, env, actor, enterprise_id, official.tg_id)


async def _assign_baobao_in(
    uow: UnitOfWork, env: Env, actor: Actor, enterprise_id: int, official_id: int
) -> BaobaoAssigned:
    """Make the official the enterprise's 包保 in this unit of work and commit it."""
    now = env.now()
    enterprise, official = access.baobao_pair(
        actor,
        await uow.enterprises.get(enterprise_id),
        await uow.people.get(official_id),
    )
    if enterprise.baobao_user_id == official_id:  # a second tap, an older choice
        events = await uow.audit.of_subject(f"enterprise:{enterprise_id}")
        chosen = [e for e in events if e.action == "baobao" and e.to_state == str(official_id)]
        raise BaobaoUnchanged(
            official=official.full_name,
            enterprise=enterprise.name,
            by=_remover(env, chosen[-1] if chosen else None),
            at=env.stamp(chosen[-1].created_at) if chosen else "",
        )
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
