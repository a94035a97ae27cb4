"""/start (registration and invite links), /help and /cancel."""

from __future__ import annotations

from telegram import Update

from bot.rules import checks
from bot.rules.model import Conversation, Role
from bot.texts import name, t
from bot.usecases import outbox, people
from bot.usecases.conversations import end_any
from handlers import flow
from handlers.common import (
    Context,
    actor_of,
    env_of,
    esc,
    message_text,
    refusals,
    request_key,
    say,
)
from handlers.courier import flush
from handlers.menus import set_menu

FLOW = "registration"


@refusals
async def start(update: Update, context: Context) -> None:
    """Join by invite code, greet a known user, or begin enterprise registration."""
    env = env_of(context)
    if update.effective_chat.type != "private":
        await say(update, context, t("private_only"))
        return
    owed = await outbox.owe_again(env, update.effective_user.id)
    if owed:
        await say(update, context, t("owed_messages", count=len(owed)))
        await flush(context.bot, env, owed)
    if context.args:
        user = update.effective_user
        membership = await people.accept_invite(env, user.id, user.full_name, context.args[0])
        await set_menu(context.bot, user.id, membership.role)
        await say(
            update,
            context,
            t(
                "joined",
                department=esc(membership.department.name),
                role=name("role", membership.role),
            ),
        )
        return
    actor = await actor_of(update, context)
    if actor.role is not Role.GUEST:
        await say(
            update, context, t("welcome_back", name=esc(actor.name), role=name("role", actor.role))
        )
        return
    await flow.begin(update, context, FLOW, "name")
    await say(
        update,
        context,
        t("welcome_guest", org=esc(env.org.name), user_id=update.effective_user.id),
    )


@flow.step(FLOW, "name")
@refusals
async def got_name(update: Update, context: Context, conversation: Conversation) -> None:
    """Registration step 1: the enterprise name."""
    enterprise = checks.enterprise_name(message_text(update))
    await flow.advance(context, conversation, "uscc", name=enterprise)
    await say(update, context, t("register.ask_uscc"))


@flow.step(FLOW, "uscc")
@refusals
async def got_uscc(update: Update, context: Context, conversation: Conversation) -> None:
    """Registration step 2: the unified social credit code."""
    code = checks.uscc_code(message_text(update))
    await flow.advance(context, conversation, "contact", uscc=code)
    await say(update, context, t("register.ask_contact"))


@flow.step(FLOW, "contact")
@refusals
async def got_contact(update: Update, context: Context, conversation: Conversation) -> None:
    """Registration step 3: the contact's name."""
    contact = checks.contact_name(message_text(update))
    await flow.advance(context, conversation, "phone", contact=contact)
    await say(update, context, t("register.ask_phone"))


@flow.step(FLOW, "phone")
@refusals
async def got_phone(update: Update, context: Context, conversation: Conversation) -> None:
    """Registration step 4: the phone; then the enterprise is registered."""
    draft = conversation.data
    phone = checks.phone(message_text(update))
    ent = await people.register_enterprise(
        env_of(context),
        update.effective_user.id,
        draft["name"],
        draft["uscc"],
        draft["contact"],
        phone,
        request_key(update),
    )
    await flow.finish(context, conversation)
    await set_menu(context.bot, update.effective_user.id, Role.ENTERPRISE)
    await say(
        update,
        context,
        t(
            "registered",
            name=esc(ent.name),
            uscc=ent.uscc,
            contact=esc(ent.contact_name),
            phone=esc(ent.phone),
        ),
    )


async def help_command(update: Update, context: Context) -> None:
    """What this user can do, by role."""
    actor = await actor_of(update, context)
    if actor.role is Role.ADMIN:
        text = t("help_admin")
    elif actor.is_staff:
        depts = {d.id: d.name for d in await people.departments(env_of(context))}
        text = t(
            "help_staff",
            role=name("role", actor.role),
            department=esc(depts.get(actor.department_id, "")),
        )
    elif actor.role is Role.ENTERPRISE:
        text = t("help_enterprise")
    else:
        text = t("help_guest")
    await say(update, context, text)


async def cancel(update: Update, context: Context) -> None:
    """/cancel: leave whatever flow the user is in; nothing is changed."""
    ended = await end_any(env_of(context), update.effective_user.id)
    if ended is None or ended.expired(env_of(context).now()):
        await say(update, context, t("nothing_to_cancel"))
        return
    await say(update, context, flow.left_text(ended))
