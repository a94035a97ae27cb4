"""Leaders' tools: invite links for officials and 包保 assignment."""

from __future__ import annotations

from telegram import Update

from bot.rules.model import Actor, Role
from bot.rules.refusals import NotAllowed
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
    """/baobao <USCC>: choose the official who looks after this enterprise."""
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
    buttons = [
        (t("person_label", name=p.full_name, department=d.name), encode("bb", ent.id, p.tg_id))
        for p, d in staff
    ]
    prompt = t("baobao_pick", enterprise=esc(ent.name))
    await say(update, context, *offered(prompt, buttons, "staff_more"))


@refusals
async def baobao_pressed(update: Update, context: Context) -> None:
    """An official chosen as 包保."""
    enterprise_id, official_id = pressed(update.callback_query.data, "bb").parts
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
