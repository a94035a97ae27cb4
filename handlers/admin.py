"""Leaders' tools: invite links for officials and 包保 assignment."""

from __future__ import annotations

from telegram import Update

from bot.errors import NotAllowed
from bot.model import Actor, Role
from bot.texts import BUTTONS, ROLE_NAMES, t
from handlers.callback_data import decode, encode, int_part
from handlers.common import Context, actor_of, desk_of, esc, keyboard, refusals, say


async def _require_admin(update: Update, context: Context) -> Actor:
    actor = await actor_of(update, context)
    if actor.role is not Role.ADMIN:
        raise NotAllowed()
    return actor


async def _send_invite(update: Update, context: Context, code: str, is_head: bool) -> None:
    desk = desk_of(context)
    actor = await actor_of(update, context)
    invite = await desk.create_invite(actor, code, is_head)
    link = f"https://t.me/{context.bot.username}?start={invite.code}"
    expires = invite.expires_at.astimezone(desk.zone).strftime("%Y-%m-%d %H:%M")
    role = ROLE_NAMES[Role.HEAD if is_head else Role.OFFICIAL]
    await say(
        update,
        context,
        t(
            "invite_link",
            department=esc(invite.department_name),
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
    rows = [[(d["name"], encode("inv", d["code"]))] for d in await desk_of(context).departments()]
    await say(update, context, t("ask_invite_dept"), keyboard(rows))


@refusals
async def invite_department_pressed(update: Update, context: Context) -> None:
    """A department chosen for an invite: now the role."""
    await _require_admin(update, context)
    _, parts = decode(update.callback_query.data)
    names = {d["code"]: d["name"] for d in await desk_of(context).departments()}
    code = parts[0] if parts else ""
    if code not in names:
        raise NotAllowed()
    rows = [
        [
            (BUTTONS["official"], encode("invr", code, "o")),
            (BUTTONS["head"], encode("invr", code, "h")),
        ]
    ]
    await say(update, context, t("ask_invite_role", department=esc(names[code])), keyboard(rows))


@refusals
async def invite_role_pressed(update: Update, context: Context) -> None:
    """The role chosen: the link is made."""
    _, parts = decode(update.callback_query.data)
    if len(parts) != 2 or parts[1] not in ("o", "h"):
        raise NotAllowed()
    await _send_invite(update, context, parts[0], parts[1] == "h")


@refusals
async def baobao(update: Update, context: Context) -> None:
    """/baobao <USCC>: choose the official who looks after this enterprise."""
    actor = await _require_admin(update, context)
    if not context.args:
        await say(update, context, t("baobao_usage"))
        return
    desk = desk_of(context)
    ent = await desk.find_enterprise(actor, context.args[0])
    staff = await desk.staff(actor)
    if not staff:
        await say(update, context, t("baobao_no_staff"))
        return
    rows = [
        [(f"{s['full_name']}（{s['department_name']}）", encode("bb", ent["id"], s["tg_id"]))]
        for s in staff[:30]
    ]
    await say(update, context, t("baobao_pick", enterprise=esc(ent["name"])), keyboard(rows))


@refusals
async def baobao_pressed(update: Update, context: Context) -> None:
    """An official chosen as 包保."""
    _, parts = decode(update.callback_query.data)
    actor = await actor_of(update, context)
    result = await desk_of(context).assign_baobao(actor, int_part(parts, 0), int_part(parts, 1))
    await say(
        update,
        context,
        t(
            "baobao_done",
            official=esc(result["official"]["full_name"]),
            enterprise=esc(result["enterprise"]["name"]),
        ),
    )
