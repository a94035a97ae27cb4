"""Working on appeals: lists, the appeal card and every action button, driven by the table.

A button's code names a workflow action; the row in APPEAL_FLOW says what to ask for;
the use case registered for the action does the work; `done.<action>` confirms it.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ConversationHandler

from bot.rules.model import Action, Attachment, Outcome, Rating, Role
from bot.rules.refusals import NotAllowed
from bot.rules.workflow import APPEAL_FLOW, Needs
from bot.texts import name, t
from bot.usecases import appeals, people
from bot.usecases.appeals import USE_CASES, ActionRequest
from handlers.buttons import RATINGS, decode, decode_button, encode, int_part
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
from handlers.render import action_markup, card, list_text

AWAIT_TEXT, AWAIT_DEPARTMENT, AWAIT_COMMENT, AWAIT_DATE = range(20, 24)
LISTS = {"my": appeals.my_appeals, "inbox": appeals.inbox, "overdue": appeals.overdue}


async def _list(update: Update, context: Context, kind: str) -> None:
    actor = await actor_of(update, context)
    found = await LISTS[kind](env_of(context), actor)
    if not found:
        await say(update, context, t(f"{kind}_empty"))
        return
    text, markup = list_text(
        t(f"{kind}_header", count=len(found)), found, staff=actor.role is not Role.ENTERPRISE
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
    env = env_of(context)
    actor = await actor_of(update, context)
    view = await appeals.view(env, actor, ref)
    departments = {d.code: d.name for d in await people.departments(env)}
    text, markup = card(view, env, actor.role, departments)
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
    await _show(update, context, decode_button(update.callback_query.data).item_id)


async def _done(update: Update, context: Context, key: str, outcome: Outcome, **extra: str) -> None:
    """Confirm to the actor, with the buttons for their next step, then tell the others."""
    env = env_of(context)
    appeal = outcome.appeal
    actor = await actor_of(update, context)
    text = t(
        key,
        number=appeal.number,
        due=appeal.due_date.isoformat(),
        department=esc(appeal.department_name),
        **extra,
    )
    markup = action_markup(appeal, await appeals.allowed(env, actor, appeal))
    await confirm(update, context, text, markup, outcome.ack_id, outcome.queued)


async def _run(update: Update, context: Context, action: Action, req: ActionRequest) -> Outcome:
    actor = await actor_of(update, context)
    return await USE_CASES[action](env_of(context), actor, req)


@refusals
async def action_pressed(update: Update, context: Context) -> int:
    """Any appeal action button: act at once, or check and ask for what the action needs."""
    button = decode_button(update.callback_query.data)
    action = button.action
    if not isinstance(action, Action):
        raise NotAllowed()
    row = APPEAL_FLOW[action]
    key = request_key(update)
    if row.needs is Needs.NOTHING:
        req = ActionRequest(button.item_id, button.version, key)
        outcome = await _run(update, context, action, req)
        if action is Action.REOPEN:
            return await _ask_comment(update, context, action, outcome)
        await _done(update, context, f"done.{action}", outcome)
        return ConversationHandler.END
    if row.needs is Needs.RATING:
        rating = RATINGS.get(button.arg)
        if rating is None:
            raise NotAllowed()
        req = ActionRequest(button.item_id, button.version, key, rating=rating)
        outcome = await _run(update, context, action, req)
        done = Action.REOPEN if rating is Rating.DISSATISFIED else action
        return await _ask_comment(update, context, done, outcome)
    env = env_of(context)
    actor = await actor_of(update, context)
    appeal = await appeals.preflight(env, actor, button.item_id, action, button.version)
    context.user_data["pending"] = {
        "action": action,
        "appeal_id": appeal.id,
        "version": appeal.version,
    }
    if row.needs is Needs.DEPARTMENT_AND_TEXT:
        rows = [
            [(d.name, encode("dept", d.code))]
            for d in await people.departments(env)
            if d.id != appeal.department_id
        ]
        await say(update, context, t(f"ask.{action}", number=appeal.number), keyboard(rows))
        return AWAIT_DEPARTMENT
    await say(
        update,
        context,
        t(f"ask.{action}", number=appeal.number, due=appeal.due_date.isoformat()),
    )
    return AWAIT_DATE if row.needs is Needs.DATE_AND_TEXT else AWAIT_TEXT


async def department_pressed(update: Update, context: Context) -> int | None:
    """Target department of a transfer, by button."""
    _, parts = decode(update.callback_query.data)
    return await _department_chosen(update, context, parts[0] if parts else "")


async def department_typed(update: Update, context: Context) -> int | None:
    """Target department of a transfer, typed by name."""
    return await _department_chosen(update, context, message_text(update).strip(), by_name=True)


async def _department_chosen(
    update: Update, context: Context, key: str, by_name: bool = False
) -> int | None:
    departments = await people.departments(env_of(context))
    chosen = next((d for d in departments if (d.name if by_name else d.code) == key), None)
    if chosen is None:
        await say(update, context, t("dept_unknown"))
        return None
    context.user_data["pending"]["department"] = chosen.code
    await say(update, context, t("ask.transfer_reason", department=esc(chosen.name)))
    return AWAIT_TEXT


@refusals
async def date_given(update: Update, context: Context) -> int:
    """The new due date of an extension request; then the reason."""
    pending = context.user_data["pending"]
    env = env_of(context)
    actor = await actor_of(update, context)
    appeal = await appeals.preflight(
        env, actor, pending["appeal_id"], pending["action"], pending["version"]
    )
    pending["new_due"] = appeals.check_new_due(env, message_text(update), appeal)
    await say(update, context, t("ask.extend_reason", new_due=pending["new_due"]))
    return AWAIT_TEXT


@refusals
async def extension_decided(update: Update, context: Context) -> None:
    """同意延期 / 不同意 pressed by a department head or a leader."""
    kind, parts = decode(update.callback_query.data)
    actor = await actor_of(update, context)
    approve = kind == "extok"
    outcome = await appeals.decide_extension(
        env_of(context), actor, int_part(parts, 0), approve, request_key(update)
    )
    key = "done.extension_approved" if approve else "done.extension_denied"
    await _done(update, context, key, outcome, new_due=outcome.appeal.due_date.isoformat())


@refusals
async def text_given(update: Update, context: Context) -> int:
    """What the pending action needed: the use case runs, then everyone concerned is told."""
    pending = context.user_data["pending"]
    action: Action = pending["action"]
    attachments = _attachments_of(update)
    req = ActionRequest(
        pending["appeal_id"],
        pending["version"],
        request_key(update),
        text=message_text(update),
        department_code=pending.get("department"),
        new_due=pending.get("new_due"),
        attachments=tuple(attachments) if APPEAL_FLOW[action].needs is Needs.TEXT_OR_FILE else (),
    )
    outcome = await _run(update, context, action, req)
    context.user_data.pop("pending", None)
    extra = {"new_due": str(outcome.detail["new_due"])} if "new_due" in outcome.detail else {}
    await _done(update, context, f"done.{action}", outcome, **extra)
    return ConversationHandler.END


def _attachments_of(update: Update) -> list[Attachment]:
    message = update.effective_message
    if message is None:
        return []
    if message.photo:
        photo = message.photo[-1]
        return [Attachment("photo", photo.file_id, photo.file_unique_id)]
    if message.document:
        doc = message.document
        return [Attachment("document", doc.file_id, doc.file_unique_id, doc.file_name)]
    return []


async def _ask_comment(update: Update, context: Context, action: Action, outcome: Outcome) -> int:
    """After a rating: stored at once; an optional comment may follow."""
    appeal = outcome.appeal
    context.user_data["pending"] = {"action": Action.RATE, "appeal_id": appeal.id}
    rating = name("rating", appeal.rating) if appeal.rating else ""
    text = t(f"done.{action}", number=appeal.number, due=appeal.due_date.isoformat(), rating=rating)
    await confirm(update, context, text, None, outcome.ack_id, outcome.queued)
    return AWAIT_COMMENT


@refusals
async def comment_given(update: Update, context: Context) -> int:
    """Optional comment after a rating."""
    actor = await actor_of(update, context)
    appeal_id = context.user_data["pending"]["appeal_id"]
    outcome = await appeals.comment_rating(
        env_of(context), actor, appeal_id, message_text(update), request_key(update)
    )
    context.user_data.pop("pending", None)
    await _done(update, context, "done.comment", outcome)
    return ConversationHandler.END


async def skip(update: Update, context: Context) -> int:
    """/skip the optional comment."""
    context.user_data.pop("pending", None)
    await say(update, context, t("skipped"))
    return ConversationHandler.END
