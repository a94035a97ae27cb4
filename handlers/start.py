"""/start (registration and invite links), /help and /cancel."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ConversationHandler

from bot.rules import checks
from bot.rules.model import Role
from bot.texts import name, t
from bot.usecases import outbox, people
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

NAME, USCC, CONTACT, PHONE = range(4)


@refusals
async def start(update: Update, context: Context) -> int:
    """Join by invite code, greet a known user, or begin enterprise registration."""
    env = env_of(context)
    if update.effective_chat.type != "private":
        await say(update, context, t("private_only"))
        return ConversationHandler.END
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
        return ConversationHandler.END
    actor = await actor_of(update, context)
    if actor.role is not Role.GUEST:
        await say(
            update, context, t("welcome_back", name=esc(actor.name), role=name("role", actor.role))
        )
        return ConversationHandler.END
    context.user_data["registration"] = {}
    await say(update, context, t("welcome_guest", org=esc(env.org.name)))
    return NAME


@refusals
async def got_name(update: Update, context: Context) -> int:
    """Registration step 1: the enterprise name."""
    enterprise = checks.enterprise_name(message_text(update))
    context.user_data["registration"]["name"] = enterprise
    await say(update, context, t("register.ask_uscc"))
    return USCC


@refusals
async def got_uscc(update: Update, context: Context) -> int:
    """Registration step 2: the unified social credit code."""
    code = checks.uscc_code(message_text(update))
    context.user_data["registration"]["uscc"] = code
    await say(update, context, t("register.ask_contact"))
    return CONTACT


@refusals
async def got_contact(update: Update, context: Context) -> int:
    """Registration step 3: the contact's name."""
    contact = checks.contact_name(message_text(update))
    context.user_data["registration"]["contact"] = contact
    await say(update, context, t("register.ask_phone"))
    return PHONE


@refusals
async def got_phone(update: Update, context: Context) -> int:
    """Registration step 4: the phone; then the enterprise is registered."""
    draft = context.user_data["registration"]
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
    context.user_data.pop("registration", None)
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
    return ConversationHandler.END


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


async def cancel(update: Update, context: Context) -> int:
    """Leave any conversation; nothing is changed."""
    for key in ("registration", "draft", "pending"):
        context.user_data.pop(key, None)
    await say(update, context, t("cancelled"))
    return ConversationHandler.END


async def cancel_outside(update: Update, context: Context) -> None:
    """/cancel when no conversation is running."""
    await say(update, context, t("nothing_to_cancel"))
