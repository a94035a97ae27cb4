"""Leaders' tools: invite links for officials and 包保 assignment."""

from __future__ import annotations

from telegram import Update

from bot.rules.model import Actor, Person, Role
from bot.rules.refusals import NotAllowed, OfficialNameUnclear
from bot.texts import name, t
from bot.usecases import people
from handlers.buttons import encode, pressed
from handlers.common import (
    Context,
    actor_of,
    env_of,
    esc,
    keyboard,
    local_time,
    offered,
    refusals,
    say,
)
from handlers.staff_choice import department_staff, staff_choice, unclear_name


async def _require_admin(update: Update, context: Context) -> Actor:
    actor = await actor_of(update, context)
    if actor.role is not Role.ADMIN:
        raise NotAllowed()
    return actor


async def _send_invite(update: Update, context: Context, code: str, is_head: bool) -> None:
    env = env_of(context)
    actor = await actor_of(update, context)
    invite = await people.create_invite(env, actor, code, is_head)
    link = f"https://t.me/{context.bot.username}?start={invite.code}"
    expires = local_time(env, invite.expires_at)
    role = name("role", invite.role)
    names = {d.id: d.name for d in await people.departments(env)}
    await say(
        update,
        context,
        t(
            "invite_link",
            department=esc(names[invite.department_id]),
            role=role,
            expires=expires,
            link=esc(link),
        ),
    )


@refusals
async def invite(update: Update, context: Context) -> None:
    """/invite [department code] [head]: a single-use link, or buttons to choose."""
    await _require_admin(update, context)
    if context.args:
        is_head = len(context.args) > 1 and context.args[1].lower() in ("head", "负责人")
        await _send_invite(update, context, context.args[0], is_head)
        return
    buttons = [(d.name, encode("inv", d.code)) for d in await people.departments(env_of(context))]
    await say(update, context, *offered(t("ask_invite_dept"), buttons, "invite_more"))


@refusals
async def invite_department_pressed(update: Update, context: Context) -> None:
    """A department chosen for an invite: now the role."""
    [code] = pressed(update.callback_query.data, "inv").parts
    actor = await actor_of(update, context)
    department = await people.invite_department(env_of(context), actor, str(code))
    rows = [
        [
            (t("button.official"), encode("invr", department.code, "o")),
            (t("button.head"), encode("invr", department.code, "h")),
        ]
    ]
    await say(
        update, context, t("ask_invite_role", department=esc(department.name)), keyboard(rows)
    )


@refusals
async def invite_role_pressed(update: Update, context: Context) -> None:
    """The role chosen: the link is made."""
    code, role = pressed(update.callback_query.data, "invr").parts
    await _send_invite(update, context, str(code), role == "h")


@refusals
async def baobao(update: Update, context: Context) -> None:
    """/baobao <USCC> [姓名]: choose (or name) the official who looks after this enterprise."""
    actor = await _require_admin(update, context)
    if not context.args:
        await say(update, context, t("baobao_usage"))
        return
    env = env_of(context)
    ent = await people.find_enterprise(env, actor, context.args[0])
    staff = await people.staff(env, actor)
    if not staff:
        await say(update, context, t("baobao_no_staff"))
        return

    def choose(person: Person) -> str:
        return encode("bb", ent.id, person.tg_id)

    typed = " ".join(context.args[1:])
    if typed:
        try:
            official = await people.official_named(env, actor, typed)
        except OfficialNameUnclear as exc:
            await say(update, context, *unclear_name(exc, choose))
            return
        await _assign(update, context, ent.id, official.tg_id)
        return
    prompt = t("baobao_pick", enterprise=esc(ent.name))
    how = t("staff_how.baobao", uscc=ent.uscc)
    await say(
        update,
        context,
        *staff_choice(prompt, staff, choose, lambda d: encode("bbd", ent.id, d.id), how),
    )


@refusals
async def baobao_department_pressed(update: Update, context: Context) -> None:
    """A department chosen for 包保 (many officials): now its officials."""
    enterprise_id, department_id = pressed(update.callback_query.data, "bbd").parts
    actor = await actor_of(update, context)
    ent, department, members = await people.baobao_department(
        env_of(context), actor, enterprise_id, department_id
    )
    prompt = t("baobao_pick", enterprise=esc(ent.name))
    how = t("staff_how.baobao", uscc=ent.uscc)
    await say(
        update,
        context,
        *department_staff(
            prompt, department, members, lambda p: encode("bb", ent.id, p.tg_id), how
        ),
    )


@refusals
async def baobao_pressed(update: Update, context: Context) -> None:
    """An official chosen as 包保."""
    enterprise_id, official_id = pressed(update.callback_query.data, "bb").parts
    await _assign(update, context, enterprise_id, official_id)


async def _assign(update: Update, context: Context, enterprise_id: int, official_id: int) -> None:
    actor = await actor_of(update, context)
    result = await people.assign_baobao(env_of(context), actor, enterprise_id, official_id)
    await say(
        update,
        context,
        t(
            "baobao_done",
            official=esc(result.official.full_name),
            enterprise=esc(result.enterprise.name),
        ),
    )
