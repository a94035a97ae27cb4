"""/new: category → description → optional attachments → 提交."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import ConversationHandler

from bot.errors import InvalidInput
from bot.model import Appeal, Attachment
from bot.texts import BUTTONS, t
from handlers.callback_data import decode, encode
from handlers.common import Context, actor_of, desk_of, esc, keyboard, refusals, say
from handlers.notify import deliver
from handlers.render import snippet

CATEGORY, DESCRIPTION, ATTACHMENTS = range(10, 13)


def category_keyboard(context: Context) -> InlineKeyboardMarkup:
    cats = desk_of(context).org.categories
    buttons = [(c.name, encode("cat", c.code)) for c in cats]
    return keyboard([buttons[i : i + 3] for i in range(0, len(buttons), 3)])


def submit_keyboard() -> InlineKeyboardMarkup:
    return keyboard(
        [
            [
                (BUTTONS["submit"], encode("new", "submit")),
                (BUTTONS["cancel"], encode("new", "cancel")),
            ]
        ]
    )


@refusals
async def new(update: Update, context: Context) -> int:
    """Start filing an appeal: enterprises only."""
    desk_of(context).require_enterprise(await actor_of(update, context))
    if update.effective_chat.type != "private":
        await say(update, context, t("private_only"))
        return ConversationHandler.END
    context.user_data["draft"] = {"attachments": []}
    await say(update, context, t("ask_category"), category_keyboard(context))
    return CATEGORY


async def _choose(update: Update, context: Context, code: str | None) -> int | None:
    desk = desk_of(context)
    category = desk.org.category(code) if code else None
    if category is None:
        await say(update, context, t("category_unknown"), category_keyboard(context))
        return None
    context.user_data["draft"]["category"] = category.code
    limits = desk.org.limits
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
    category = desk_of(context).org.category_by_name(update.message.text.strip())
    return await _choose(update, context, category.code if category else None)


async def _show_summary(update: Update, context: Context) -> None:
    desk = desk_of(context)
    draft = context.user_data["draft"]
    category = desk.org.category(draft["category"])
    await say(
        update,
        context,
        t(
            "ask_attachments",
            max=desk.org.limits.attachments_max,
            category=esc(category.name),
            description=snippet(draft["description"]),
            count=len(draft["attachments"]),
        ),
        submit_keyboard(),
    )


@refusals
async def description(update: Update, context: Context) -> int:
    """The problem, in one message."""
    text = desk_of(context).check_description(update.message.text)
    context.user_data["draft"]["description"] = text
    await _show_summary(update, context)
    return ATTACHMENTS


async def attachment(update: Update, context: Context) -> int:
    """A photo or a document added to the draft."""
    draft = context.user_data["draft"]
    limit = desk_of(context).org.limits.attachments_max
    if len(draft["attachments"]) >= limit:
        await say(update, context, t("attachments_full", max=limit), submit_keyboard())
        return ATTACHMENTS
    message = update.message
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
    desk = desk_of(context)
    draft = context.user_data.get("draft") or {}
    if "description" not in draft:
        raise InvalidInput(field="description", reason="empty")
    actor = await actor_of(update, context)
    outcome = await desk.file_appeal(
        actor, draft["category"], draft["description"], draft["attachments"], update.update_id
    )
    context.user_data.pop("draft", None)
    await say_filed(update, context, outcome.appeal)
    await deliver(context.bot, desk, outcome.notices)
    return ConversationHandler.END


async def say_filed(update: Update, context: Context, appeal: Appeal) -> None:
    """The filing confirmation: number, department, time limit and due date."""
    desk = desk_of(context)
    category = desk.org.category_by_name(appeal.category)
    await say(
        update,
        context,
        t(
            "filed",
            number=appeal.number,
            category=esc(appeal.category),
            department=esc(appeal.department_name),
            days=category.time_limit_days if category else "",
            due=appeal.due_date,
        ),
    )


async def cancel_pressed(update: Update, context: Context) -> int:
    """取消 on the last step."""
    context.user_data.pop("draft", None)
    await say(update, context, t("cancelled"))
    return ConversationHandler.END


async def waiting_for_submit(update: Update, context: Context) -> int:
    """Text on the last step: 提交 / 取消 typed, or a hint."""
    text = update.message.text.strip()
    if text == BUTTONS["submit"]:
        return await submit(update, context)
    if text == BUTTONS["cancel"]:
        return await cancel_pressed(update, context)
    await say(update, context, t("awaiting_submit"), submit_keyboard())
    return ATTACHMENTS


@refusals
async def stale_submit(update: Update, context: Context) -> None:
    """提交 pressed outside a conversation: a re-delivered update or an old button."""
    desk = desk_of(context)
    actor = await actor_of(update, context)
    appeal = await desk.replayed_appeal(actor, update.update_id)
    if appeal is not None:
        await say_filed(update, context, appeal)
    else:
        await say(update, context, t("draft_expired"))
