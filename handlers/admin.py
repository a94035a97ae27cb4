"""Leaders' tools: invite links for officials and 包保 assignment."""

from __future__ import annotations

from telegram import Update

from bot.rules.model import Conversation, Department, Enterprise, Invite, Person
from bot.rules.refusals import OfficialNameUnclear
from bot.texts import name, t
from bot.texts.events import person_name
from bot.usecases import people
from handlers import flow
from handlers.buttons import encode, pressed
from handlers.common import (
    Context,
    caller,
    env_of,
    esc,
    keyboard,
    local_time,
    message_text,
    offered,
    refusals,
    say,
)
from handlers.staff_choice import department_staff, staff_choice, unclear_name


async def _send_invite(update: Update, context: Context, code: str, is_head: bool) -> None:
    """The link made for a department chosen by button or typed at the /invite prompt."""
    made = await people.invite_link(env_of(context), caller(update), code, is_head)
    await _say_invite(update, context, made)


async def _say_invite(update: Update, context: Context, made: tuple[Invite, Department]) -> None:
    invite, department = made
    link = f"https://t.me/{context.bot.username}?start={invite.code}"
    expires = local_time(env_of(context), invite.expires_at)
    role = name("role", invite.role)
    await say(
        update,
        context,
        t(
            "invite_link",
            department=esc(department.name),
            role=role,
            expires=expires,
            link=esc(link),
        ),
    )


INVITE, BAOBAO = "invite", "baobao"  # flows that wait for a button (and may be typed)


@refusals
async def invite(update: Update, context: Context) -> None:
    """/invite [department code] [head]: a single-use link, or buttons to choose (a prompt:
    /cancel or any other command leaves it)."""
    args = context.args
    is_head = len(args) > 1 and args[1].lower() in ("head", "负责人")
    asked = await people.invite_command(
        env_of(context), caller(update), args[0] if args else None, is_head
    )
    if asked.made is not None:
        await _say_invite(update, context, asked.made)
        await flow.finish(context, await flow.active(update, context, INVITE))
        return
    await flow.finish(context, await flow.active(update, context, INVITE))  # asked anew
    await flow.begin(update, context, INVITE, "department")
    buttons = [(d.name, encode("inv", d.code)) for d in asked.departments]
    await say(update, context, *offered(t("ask_invite_dept"), buttons, "invite_more"))


async def _ask_role(
    update: Update, context: Context, conversation: Conversation | None, department: Department
) -> None:
    """The role buttons; the /invite prompt (re)opens at them, so /cancel names it."""
    if conversation is None:
        await flow.begin(update, context, INVITE, "role", department=department.code)
    else:
        await flow.advance(context, conversation, "role", department=department.code)
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
async def invite_department_pressed(update: Update, context: Context) -> None:
    """A department chosen for an invite (from any /invite answer the leader holds): now the
    role."""
    [code] = pressed(update.callback_query.data, "inv").parts
    department = await people.invite_department(env_of(context), caller(update), str(code))
    await _ask_role(update, context, await flow.active(update, context, INVITE), department)


@flow.step(INVITE, "department", commands=("invite",), buttons=("inv",))
@refusals
async def invite_department_typed(
    update: Update, context: Context, conversation: Conversation
) -> None:
    """The department typed at the /invite prompt (its name or code)."""
    typed = message_text(update).strip()
    departments = await people.departments(env_of(context))
    chosen = next((d for d in departments if typed in (d.name, d.code)), None)
    if chosen is None:
        await say(update, context, t("dept_unknown"))
        return
    await _ask_role(update, context, conversation, chosen)


@refusals
async def invite_role_pressed(update: Update, context: Context) -> None:
    """The role chosen: the link is made, and the /invite prompt (if open) ends."""
    code, role = pressed(update.callback_query.data, "invr").parts
    await _send_invite(update, context, str(code), role == "h")
    await flow.finish(context, await flow.active(update, context, INVITE))


@flow.step(INVITE, "role", commands=("invite",), buttons=("invr", "inv"))
@refusals
async def invite_role_typed(update: Update, context: Context, conversation: Conversation) -> None:
    """The role typed at the /invite prompt (承办人 or 科室负责人)."""
    roles = {t("button.official"): False, t("button.head"): True}
    typed = message_text(update).strip()
    if typed not in roles:
        await say(update, context, t("hint.invite.role"))
        return
    await _send_invite(update, context, conversation.data["department"], roles[typed])
    await flow.finish(context, conversation)


async def _baobao_prompt(update: Update, context: Context, ent: Enterprise) -> None:
    """Open the prompt where the 包保 is chosen by button or typed by name (a /baobao
    prompt already open is replaced without a word: the leader asked anew)."""
    await flow.finish(context, await flow.active(update, context, BAOBAO))
    await flow.begin(update, context, BAOBAO, "official", enterprise=ent.id, subject=ent.name)


@refusals
async def baobao(update: Update, context: Context) -> None:
    """/baobao <USCC> [姓名]: choose (or name) the official who looks after this enterprise."""
    env = env_of(context)
    args = context.args
    asked = await people.baobao_command(
        env, caller(update), args[0] if args else None, " ".join(args[1:])
    )
    ent = asked.enterprise
    if ent is None:
        await say(update, context, t("baobao_usage"))
        return
    if not asked.staff:
        await say(update, context, t("baobao_no_staff"))
        return

    def choose(person: Person) -> str:
        return encode("bb", ent.id, person.tg_id)

    if asked.unclear is not None:
        text, markup = unclear_name(asked.unclear, choose, env.zone)
        if markup is not None:  # candidates to press: a prompt is open for them
            await _baobao_prompt(update, context, ent)
        await say(update, context, text, markup)
        return
    if asked.assigned is not None:
        await _assigned(update, context, asked.assigned)
        return
    await _baobao_prompt(update, context, ent)
    prompt = t("baobao_pick", enterprise=esc(ent.name))
    how = t("staff_how.baobao", uscc=ent.uscc)
    await say(
        update,
        context,
        *staff_choice(
            prompt, asked.staff, choose, lambda d: encode("bbd", ent.id, d.id), how, env.zone
        ),
    )


@refusals
async def baobao_department_pressed(update: Update, context: Context) -> None:
    """A department chosen for 包保 (many officials): now its officials."""
    enterprise_id, department_id = pressed(update.callback_query.data, "bbd").parts
    ent, department, members = await people.baobao_department(
        env_of(context), caller(update), enterprise_id, department_id
    )
    open_ = await flow.active(update, context, BAOBAO)
    if open_ is None or open_.data.get("enterprise") != ent.id:
        await _baobao_prompt(update, context, ent)  # so /cancel names it, and a name is taken
    prompt = t("baobao_pick", enterprise=esc(ent.name))
    how = t("staff_how.baobao", uscc=ent.uscc)
    await say(
        update,
        context,
        *department_staff(
            prompt,
            department,
            members,
            lambda p: encode("bb", ent.id, p.tg_id),
            how,
            env_of(context).zone,
        ),
    )


@refusals
async def baobao_pressed(update: Update, context: Context) -> None:
    """An official chosen as 包保."""
    enterprise_id, official_id = pressed(update.callback_query.data, "bb").parts
    assigned = await people.assign_baobao(
        env_of(context), caller(update), enterprise_id, official_id
    )
    await _assigned(update, context, assigned)


@flow.step(BAOBAO, "official", commands=("baobao",), buttons=("bb", "bbd"))
@refusals
async def baobao_typed(update: Update, context: Context, conversation: Conversation) -> None:
    """The 包保 typed by name at the /baobao prompt (姓名, or 姓名（部门）)."""
    enterprise_id = conversation.data["enterprise"]
    try:
        assigned = await people.assign_baobao_named(
            env_of(context), caller(update), enterprise_id, message_text(update)
        )
    except OfficialNameUnclear as exc:  # the prompt stays open: retype, or press one
        await say(
            update,
            context,
            *unclear_name(
                exc, lambda p: encode("bb", enterprise_id, p.tg_id), env_of(context).zone
            ),
        )
        return
    await _assigned(update, context, assigned)


async def _assigned(update: Update, context: Context, result: people.BaobaoAssigned) -> None:
    """The 包保 made: the /baobao prompt (if open) ends, the leader is told."""
    await flow.finish(context, await flow.active(update, context, BAOBAO))
    await say(
        update,
        context,
        t(
            "baobao_done",
            official=esc(person_name(result.official.full_name, result.official.role)),
            enterprise=esc(result.enterprise.name),
        ),
    )
