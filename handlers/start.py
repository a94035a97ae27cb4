"""/start (registration and invite links), /help and /cancel."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ConversationHandler

from bot.model import Role
from bot.texts import ROLE_NAMES, t
from handlers.common import Context, actor_of, desk_of, esc, refusals, say
from handlers.menus import set_menu

NAME, USCC, CONTACT, PHONE = range(4)


@refusals
async def start(update: Update, context: Context) -> int:
    """Join by invite code, greet a known user, or begin enterprise registration."""
    desk = desk_of(context)
    if update.effective_chat.type != "private":
        await say(update, context, t("private_only"))
        return ConversationHandler.END
    if context.args:
        user = update.effective_user
        membership = await desk.accept_invite(user.id, user.full_name, context.args[0])
        await set_menu(context.bot, user.id, membership.role)
        await say(
            update,
            context,
            t(
                "joined",
                department=esc(membership.department_name),
                role=ROLE_NAMES[membership.role],
            ),
        )
        return ConversationHandler.END
    actor = await actor_of(update, context)
    if actor.role is not Role.GUEST:
        await say(
            update, context, t("welcome_back", name=esc(actor.name), role=ROLE_NAMES[actor.role])
        )
        return ConversationHandler.END
    context.user_data["registration"] = {}
    await say(update, context, t("welcome_guest", org=esc(desk.org.name)))
    return NAME


@refusals
async def got_name(update: Update, context: Context) -> int:
    """Registration step 1: the enterprise name."""
    name = desk_of(context).check_enterprise_name(update.message.text)
    context.user_data["registration"]["name"] = name
    await say(update, context, t("ask_uscc"))
    return USCC


@refusals
async def got_uscc(update: Update, context: Context) -> int:
    """Registration step 2: the unified social credit code."""
    code = desk_of(context).check_uscc(update.message.text)
    context.user_data["registration"]["uscc"] = code
    await say(update, context, t("ask_contact"))
    return CONTACT


@refusals
async def got_contact(update: Update, context: Context) -> int:
    """Registration step 3: the contact's name."""
    contact = desk_of(context).check_contact_name(update.message.text)
    context.user_data["registration"]["contact"] = contact
    await say(update, context, t("ask_phone"))
    return PHONE


@refusals
async def got_phone(update: Update, context: Context) -> int:
    """Registration step 4: the phone; then the enterprise is registered."""
    desk = desk_of(context)
    draft = context.user_data["registration"]
    phone = desk.check_phone(update.message.text)
    ent = await desk.register_enterprise(
        update.effective_user.id,
        draft["name"],
        draft["uscc"],
        draft["contact"],
        phone,
        update.update_id,
    )
    context.user_data.pop("registration", None)
    await set_menu(context.bot, update.effective_user.id, Role.ENTERPRISE)
    await say(
        update,
        context,
        t(
            "registered",
            name=esc(ent["name"]),
            uscc=ent["uscc"],
            contact=esc(ent["contact_name"]),
            phone=esc(ent["phone"]),
        ),
    )
    return ConversationHandler.END


async def help_command(update: Update, context: Context) -> None:
    """What this user can do, by role."""
    actor = await actor_of(update, context)
    if actor.role is Role.ADMIN:
        text = t("help_admin")
    elif actor.is_staff:
        depts = {d["id"]: d["name"] for d in await desk_of(context).departments()}
        text = t(
            "help_staff",
            role=ROLE_NAMES[actor.role],
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
