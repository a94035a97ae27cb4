"""/new: category → description → optional attachments → 提交."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import ConversationHandler

from bot.rules import access, checks
from bot.rules.model import Appeal, Attachment
from bot.rules.refusals import InvalidInput
from bot.texts import t
from bot.usecases import appeals
from bot.usecases.env import Env
from handlers.buttons import decode, encode
from handlers.common import (
    Context,
    actor_of,
    env_of,
    esc,
    keyboard,
    message_text,
    refusals,
    request_key,
    say,
)
from handlers.courier import confirm
from handlers.render import snippet

CATEGORY, DESCRIPTION, ATTACHMENTS = range(10, 13)


def category_keyboard(context: Context) -> InlineKeyboardMarkup:
    cats = env_of(context).org.categories
    buttons = [(c.name, encode("cat", c.code)) for c in cats]
    return keyboard([buttons[i : i + 3] for i in range(0, len(buttons), 3)])


def submit_keyboard() -> InlineKeyboardMarkup:
    return keyboard(
        [
            [
                (t("button.submit"), encode("new", "submit")),
                (t("button.cancel"), encode("new", "cancel")),
            ]
        ]
    )


@refusals
async def new(update: Update, context: Context) -> int:
    """Start filing an appeal: enterprises only."""
    access.require_enterprise(await actor_of(update, context))
    if update.effective_chat.type != "private":
        await say(update, context, t("private_only"))
        return ConversationHandler.END
    context.user_data["draft"] = {"attachments": []}
    await say(update, context, t("ask_category"), category_keyboard(context))
    return CATEGORY


async def _choose(update: Update, context: Context, code: str | None) -> int | None:
    env = env_of(context)
    category = env.org.category(code) if code else None
    if category is None:
        await say(update, context, t("category_unknown"), category_keyboard(context))
        return None
    context.user_data["draft"]["category"] = category.code
    limits = env.org.limits
    await say(
        update,
        context,
        t(
            "ask_description",
            category=esc(category.name),
            days=category.time_limit_days,
            min=limits.description_min,
            max=limits.description_max,
        ),
    )
    return DESCRIPTION


async def category_pressed(update: Update, context: Context) -> int | None:
    """A category button."""
    _, parts = decode(update.callback_query.data)
    return await _choose(update, context, parts[0] if parts else None)


async def category_typed(update: Update, context: Context) -> int | None:
    """A category typed by name."""
    category = env_of(context).org.category_by_name(message_text(update).strip())
    return await _choose(update, context, category.code if category else None)


async def _show_summary(update: Update, context: Context) -> None:
    env = env_of(context)
    draft = context.user_data["draft"]
    category = env.org.category(draft["category"])
    await say(
        update,
        context,
        t(
            "ask_attachments",
            max=env.org.limits.attachments_max,
            category=esc(category.name),
            description=snippet(draft["description"]),
            count=len(draft["attachments"]),
        ),
        submit_keyboard(),
    )


@refusals
async def description(update: Update, context: Context) -> int:
    """The problem, in one message."""
    text = checks.description(message_text(update), env_of(context).org.limits)
    context.user_data["draft"]["description"] = text
    await _show_summary(update, context)
    return ATTACHMENTS


async def attachment(update: Update, context: Context) -> int:
    """A photo or a document added to the draft."""
    draft = context.user_data["draft"]
    limit = env_of(context).org.limits.attachments_max
    if len(draft["attachments"]) >= limit:
        await say(update, context, t("attachments_full", max=limit), submit_keyboard())
        return ATTACHMENTS
    message = update.effective_message
    if message.photo:
        photo = message.photo[-1]
        draft["attachments"].append(Attachment("photo", photo.file_id, photo.file_unique_id))
    else:
        doc = message.document
        draft["attachments"].append(
            Attachment("document", doc.file_id, doc.file_unique_id, doc.file_name)
        )
    await say(
        update, context, t("attachment_added", count=len(draft["attachments"])), submit_keyboard()
    )
    return ATTACHMENTS


@refusals
async def submit(update: Update, context: Context) -> int:
    """提交: the appeal is committed, then the enterprise gets its number and due date."""
    env = env_of(context)
    draft = context.user_data.get("draft") or {}
    if "description" not in draft:
        raise InvalidInput(field="description", reason="empty")
    actor = await actor_of(update, context)
    outcome = await appeals.file_appeal(
        env,
        actor,
        draft["category"],
        draft["description"],
        tuple(draft["attachments"]),
        request_key(update),
    )
    context.user_data.pop("draft", None)
    unheard = bool(outcome.notices) and all(n.chat_id in env.leaders for n in outcome.notices)
    text = filed_text(env, outcome.appeal, unheard)
    await confirm(update, context, text, None, outcome.ack_id, outcome.queued)
    return ConversationHandler.END


def filed_text(env: Env, appeal: Appeal, unheard: bool = False) -> str:
    """The filing confirmation: number, department, time limit and due date."""
    category = env.org.category_by_name(appeal.category)
    text = t(
        "filed",
        number=appeal.number,
        category=esc(appeal.category),
        department=esc(appeal.department_name),
        days=category.time_limit_days if category else "",
        due=appeal.due_date.isoformat(),
    )
    return text + ("\n" + t("filed_unheard") if unheard else "")


async def cancel_pressed(update: Update, context: Context) -> int:
    """取消 on the last step."""
    context.user_data.pop("draft", None)
    await say(update, context, t("cancelled"))
    return ConversationHandler.END


async def waiting_for_submit(update: Update, context: Context) -> int:
    """Text on the last step: 提交 / 取消 typed, or a hint."""
    text = message_text(update).strip()
    if text == t("button.submit"):
        return await submit(update, context)
    if text == t("button.cancel"):
        return await cancel_pressed(update, context)
    await say(update, context, t("awaiting_submit"), submit_keyboard())
    return ATTACHMENTS


@refusals
async def stale_submit(update: Update, context: Context) -> None:
    """提交 pressed outside a conversation: a re-delivered update or an old button."""
    actor = await actor_of(update, context)
    appeal = await appeals.replayed_filing(env_of(context), actor, request_key(update))
    if appeal is not None:
        await say(update, context, filed_text(env_of(context), appeal))
    else:
        await say(update, context, t("draft_expired"))
