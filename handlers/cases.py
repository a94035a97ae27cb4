"""Working on appeals: lists, the appeal card and every action button."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ConversationHandler

from bot.errors import NotAllowed, NotRegistered
from bot.model import Action, Attachment, Outcome, Rating, Role
from bot.texts import RATING_NAMES, t
from handlers.callback_data import decode, decode_appeal_button, encode, int_part
from handlers.common import Context, actor_of, desk_of, esc, keyboard, message_text, refusals, say
from handlers.notify import deliver
from handlers.render import ACTIONS_BY_CODE, RATINGS_BY_CODE, action_markup, card, list_text

AWAIT_TEXT, AWAIT_DEPARTMENT, AWAIT_COMMENT, AWAIT_DATE = range(20, 24)

ASK_KEYS = {
    Action.REPLY: "ask_reply",
    Action.NOTE: "ask_note",
    Action.CLOSE: "ask_close",
    Action.SUPPLEMENT: "ask_supplement",
    Action.WITHDRAW: "ask_withdraw",
}


async def _list(update: Update, context: Context, kind: str) -> None:
    desk = desk_of(context)
    actor = await actor_of(update, context)
    if kind == "my":
        appeals = await desk.my_appeals(actor)
    elif kind == "inbox":
        appeals = await desk.inbox(actor)
    else:
        appeals = await desk.overdue(actor)
    if not appeals:
        await say(update, context, t(f"{kind}_empty"))
        return
    text, markup = list_text(
        t(f"{kind}_header", count=len(appeals)), appeals, staff=actor.role is not Role.ENTERPRISE
    )
    await say(update, context, text, markup)


@refusals
async def my(update: Update, context: Context) -> None:
    """/my: the enterprise's own appeals."""
    await _list(update, context, "my")


@refusals
async def inbox(update: Update, context: Context) -> None:
    """/inbox: open appeals of the official's department (all of them for leaders)."""
    await _list(update, context, "inbox")


@refusals
async def overdue(update: Update, context: Context) -> None:
    """/overdue: open appeals past their due date."""
    await _list(update, context, "overdue")


async def _show(update: Update, context: Context, ref: int | str) -> None:
    desk = desk_of(context)
    actor = await actor_of(update, context)
    if actor.role is Role.GUEST:
        raise NotRegistered()
    view = await desk.view(actor, ref)
    text, markup = card(view, desk, actor.role)
    await say(update, context, text, markup)


@refusals
async def view_command(update: Update, context: Context) -> None:
    """/view SQ-YYYY-NNNNNN."""
    if not context.args:
        await say(update, context, t("view_usage"))
        return
    await _show(update, context, context.args[0])


@refusals
async def view_pressed(update: Update, context: Context) -> None:
    """查看 button."""
    button = decode_appeal_button(update.callback_query.data)
    await _show(update, context, button.appeal_id)


async def _done(update: Update, context: Context, key: str, outcome: Outcome, **extra: str) -> None:
    """Confirm to the actor, with the buttons for their next step, then tell the others."""
    desk = desk_of(context)
    appeal = outcome.appeal
    actor = await actor_of(update, context)
    text = t(
        key,
        number=appeal.number,
        due=appeal.due_date,
        department=esc(appeal.department_name),
        **extra,
    )
    await say(update, context, text, action_markup(appeal, desk.allowed_actions(actor, appeal)))
    await deliver(context.bot, desk, outcome.notices)


@refusals
async def claim_pressed(update: Update, context: Context) -> None:
    """签收."""
    button = decode_appeal_button(update.callback_query.data)
    actor = await actor_of(update, context)
    outcome = await desk_of(context).claim(
        actor, button.appeal_id, button.version, update.update_id
    )
    await _done(update, context, "done_claim", outcome)


@refusals
async def action_pressed(update: Update, context: Context) -> int:
    """回复 / 备注 / 转办 / 办结 / 补充 / 撤回: check, then ask for the text."""
    button = decode_appeal_button(update.callback_query.data)
    action = ACTIONS_BY_CODE.get(button.action)
    if action is None or action is Action.CLAIM:
        raise NotAllowed()
    desk = desk_of(context)
    actor = await actor_of(update, context)
    appeal = await desk.preflight(actor, button.appeal_id, action, button.version)
    context.user_data["pending"] = {
        "action": action,
        "appeal_id": appeal.id,
        "version": appeal.version,
    }
    if action is Action.TRANSFER:
        rows = [
            [(d["name"], encode("dept", d["code"]))]
            for d in await desk.departments()
            if d["id"] != appeal.department_id
        ]
        await say(update, context, t("ask_transfer_dept", number=appeal.number), keyboard(rows))
        return AWAIT_DEPARTMENT
    if action is Action.EXTEND:
        context.user_data["pending"]["due"] = appeal.due_date
        await say(
            update, context, t("ask_extension_date", number=appeal.number, due=appeal.due_date)
        )
        return AWAIT_DATE
    await say(update, context, t(ASK_KEYS[action], number=appeal.number))
    return AWAIT_TEXT


async def department_pressed(update: Update, context: Context) -> int | None:
    """Target department of a transfer, by button."""
    return await _department_chosen(update, context, update.callback_query.data.split(":", 1)[1])


async def department_typed(update: Update, context: Context) -> int | None:
    """Target department of a transfer, typed by name."""
    return await _department_chosen(update, context, update.message.text.strip(), by_name=True)


async def _department_chosen(
    update: Update, context: Context, key: str, by_name: bool = False
) -> int | None:
    departments = await desk_of(context).departments()
    chosen = next((d for d in departments if d["name" if by_name else "code"] == key), None)
    if chosen is None:
        await say(update, context, t("dept_unknown"))
        return None
    context.user_data["pending"]["department"] = chosen["code"]
    await say(update, context, t("ask_transfer_reason", department=esc(chosen["name"])))
    return AWAIT_TEXT


@refusals
async def date_given(update: Update, context: Context) -> int:
    """The new due date of an extension request; then the reason."""
    pending = context.user_data["pending"]
    new_due = desk_of(context).check_new_due(update.message.text, pending["due"])
    pending["new_due"] = new_due.isoformat()
    await say(update, context, t("ask_extension_reason", new_due=pending["new_due"]))
    return AWAIT_TEXT


@refusals
async def extension_decided(update: Update, context: Context) -> None:
    """同意延期 / 不同意 pressed by a department head or a leader."""
    kind, parts = decode(update.callback_query.data)
    actor = await actor_of(update, context)
    outcome = await desk_of(context).decide_extension(
        actor, int_part(parts, 0), kind == "extok", update.update_id
    )
    key = "done_extension_approved" if kind == "extok" else "done_extension_denied"
    await _done(update, context, key, outcome, new_due=outcome.appeal.due_date)


@refusals
async def text_given(update: Update, context: Context) -> int:
    """The text of the pending action: the use case runs, then everyone concerned is told."""
    desk = desk_of(context)
    actor = await actor_of(update, context)
    pending = context.user_data["pending"]
    action, appeal_id, version = pending["action"], pending["appeal_id"], pending["version"]
    text = message_text(update)
    uid = update.update_id
    extra: dict[str, str] = {}
    if action is Action.REPLY:
        outcome, key = await desk.reply(actor, appeal_id, text, uid), "done_reply"
    elif action is Action.NOTE:
        outcome, key = await desk.note(actor, appeal_id, text, uid), "done_note"
    elif action is Action.CLOSE:
        outcome, key = await desk.close(actor, appeal_id, version, text, uid), "done_close"
    elif action is Action.WITHDRAW:
        outcome, key = await desk.withdraw(actor, appeal_id, version, text, uid), "done_withdraw"
    elif action is Action.EXTEND:
        outcome = await desk.request_extension(actor, appeal_id, pending["new_due"], text, uid)
        key, extra = "done_extension_request", {"new_due": pending["new_due"]}
    elif action is Action.TRANSFER:
        outcome = await desk.transfer(actor, appeal_id, version, pending["department"], text, uid)
        key = "done_transfer"
    else:
        attachments = _attachments_of(update)
        text = text or ("（附件）" if attachments else "")
        outcome = await desk.supplement(actor, appeal_id, text, attachments, uid)
        key = "done_supplement"
    context.user_data.pop("pending", None)
    await _done(update, context, key, outcome, **extra)
    return ConversationHandler.END


def _attachments_of(update: Update) -> list[Attachment]:
    message = update.effective_message
    if message.photo:
        photo = message.photo[-1]
        return [Attachment("photo", photo.file_id, photo.file_unique_id)]
    if message.document:
        doc = message.document
        return [Attachment("document", doc.file_id, doc.file_unique_id, doc.file_name)]
    return []


@refusals
async def rate_pressed(update: Update, context: Context) -> int:
    """满意 / 基本满意 / 不满意: stored at once; a comment may follow."""
    button = decode_appeal_button(update.callback_query.data)
    rating = RATINGS_BY_CODE.get(button.arg)
    if rating is None:
        raise NotAllowed()
    desk = desk_of(context)
    actor = await actor_of(update, context)
    outcome = await desk.rate(actor, button.appeal_id, button.version, rating, update.update_id)
    appeal = outcome.appeal
    context.user_data["pending"] = {"action": Action.RATE, "appeal_id": appeal.id}
    key = "ask_comment_reopen" if rating is Rating.DISSATISFIED else "ask_comment"
    await say(
        update,
        context,
        t(key, number=appeal.number, due=appeal.due_date, rating=RATING_NAMES[rating]),
    )
    await deliver(context.bot, desk, outcome.notices)
    return AWAIT_COMMENT


@refusals
async def comment_given(update: Update, context: Context) -> int:
    """Optional comment after a rating."""
    desk = desk_of(context)
    actor = await actor_of(update, context)
    appeal_id = context.user_data["pending"]["appeal_id"]
    outcome = await desk.comment_rating(actor, appeal_id, update.message.text, update.update_id)
    context.user_data.pop("pending", None)
    await _done(update, context, "done_comment", outcome)
    return ConversationHandler.END


async def skip(update: Update, context: Context) -> int:
    """/skip the optional comment."""
    context.user_data.pop("pending", None)
    await say(update, context, t("skipped"))
    return ConversationHandler.END
