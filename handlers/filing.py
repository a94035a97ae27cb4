"""/new: category → description → optional attachments → 提交."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot.rules import checks
from bot.rules.model import Appeal, Attachment, Conversation
from bot.rules.parts import added, edited, joined
from bot.rules.refusals import DuplicateAppeal, InvalidInput
from bot.texts import t
from bot.usecases import appeals
from bot.usecases.env import Env
from handlers import flow
from handlers.buttons import VIEW, appeal_button, encode, pressed
from handlers.common import (
    Context,
    attachment_of,
    caller,
    env_of,
    esc,
    keyboard,
    message_text,
    offered,
    refusals,
    request_key,
    say,
)
from handlers.courier import confirm
from handlers.render import snippet


def category_choice(context: Context, prompt: str) -> tuple[str, InlineKeyboardMarkup]:
    """The prompt with a button per category (three to a row; more are typed by name)."""
    cats = env_of(context).org.categories
    buttons = [(c.name, encode("cat", c.code)) for c in cats]
    return offered(prompt, buttons, "category_more", per_row=3)


def submit_keyboard() -> InlineKeyboardMarkup:
    return keyboard(
        [
            [
                (t("button.submit"), encode("new", "submit")),
                (t("button.cancel"), encode("new", "cancel")),
            ]
        ]
    )


FLOW = "filing"


def _attachments(conversation: Conversation) -> list[Attachment]:
    return [Attachment(*item) for item in conversation.data.get("attachments", [])]


@refusals
async def new(update: Update, context: Context) -> None:
    """Start filing an appeal: enterprises only, in a private chat."""
    await appeals.may_file(env_of(context), caller(update))
    begun = await flow.begin(update, context, FLOW, "category", attachments=[])
    await flow.offer(update, context, begun, *category_choice(context, t("ask_category")))


async def begin_consultation(
    update: Update, context: Context, broadcast_id: int, title: str
) -> None:
    """咨询 under a 政策宣贯: a draft in its category, quoting it, at the description."""
    env = env_of(context)
    await appeals.may_file(env, caller(update))
    category = env.org.category_by_name(t("consultation_category"))
    quote = t("consultation_quote", title=title)
    begun = await flow.begin(
        update, context, FLOW, "category", attachments=[], quote=quote, consulting=broadcast_id
    )
    if category is None:  # the org config has no such category: the person chooses
        await flow.offer(update, context, begun, *category_choice(context, t("ask_category")))
        return
    await flow.advance(context, begun, "description", category=category.code)
    limits = env.org.limits
    await say(
        update,
        context,
        t(
            "ask_consultation",
            title=esc(title),
            category=esc(category.name),
            days=category.time_limit_days,
            min=limits.description_min,
            max=limits.description_max,
        ),
    )


async def _choose(
    update: Update, context: Context, conversation: Conversation, code: str | None
) -> None:
    env = env_of(context)
    category = env.org.category(code) if code else None
    if category is None:
        await flow.offer(
            update, context, conversation, *category_choice(context, t("category_unknown"))
        )
        return
    if conversation.step == "attachments":  # the category changed: the draft keeps the rest
        moved = await flow.advance(context, conversation, "attachments", category=category.code)
        changed = t("category_changed", category=esc(category.name), days=category.time_limit_days)
        await say(update, context, changed)
        await _show_summary(update, context, moved)
        return
    await flow.advance(context, conversation, "description", category=category.code)
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


async def category_pressed(update: Update, context: Context) -> None:
    """A category button of the draft: chosen at its step, or changed at a later one (the
    buttons stay on screen while the description is typed)."""
    found = await flow.pressed(update, context, FLOW, None, "draft_expired")
    if found is not None:
        conversation, button = found
        await _choose(update, context, conversation, str(button.parts[0]) if button else None)


flow.kept(FLOW, "cat", when=lambda conversation: True)
# Category and draft buttons name no draft: only those under this draft's prompts act on it.
flow.prompted(FLOW, "cat", "new")


@flow.step(FLOW, "category", buttons=("cat",))
async def category_typed(update: Update, context: Context, conversation: Conversation) -> None:
    """A category typed by name."""
    category = env_of(context).org.category_by_name(message_text(update).strip())
    await _choose(update, context, conversation, category.code if category else None)


async def _show_summary(update: Update, context: Context, conversation: Conversation) -> None:
    env = env_of(context)
    category = env.org.category(conversation.data["category"])
    await flow.offer(
        update,
        context,
        conversation,
        t(
            "ask_attachments",
            max=env.org.limits.attachments_max,
            category=esc(category.name),
            description=snippet(conversation.data["description"]),
            count=len(conversation.data.get("attachments", [])),
        ),
        submit_keyboard(),
    )


def _parts(data: dict) -> list:
    """The description's parts (a draft kept before parts were: its one message)."""
    if "parts" in data:
        return data["parts"]
    if "description" in data:
        return [[data.get("edit_message_id"), data["description"]]]
    return []


def _seen(update: Update, conversation: Conversation) -> list[int]:
    """The messages the draft took, this one added (a message Telegram delivers again is
    found there and not added twice)."""
    return [*conversation.data.get("seen", []), update.effective_message.message_id]


def _again(update: Update, conversation: Conversation) -> bool:
    """This message is in the draft already (Telegram delivered it again)."""
    return update.effective_message.message_id in conversation.data.get("seen", [])


def _with_file(update: Update, context: Context, conversation: Conversation) -> list | None:
    """The draft's attachments with this message's file added; None when it is full."""
    attachments = conversation.data.get("attachments", [])
    added_file = attachment_of(update)
    if added_file is None:
        return attachments
    if len(attachments) >= env_of(context).org.limits.attachments_max:
        return None
    item = [added_file.kind, added_file.file_id, added_file.file_unique_id, added_file.file_name]
    return [*attachments, item]


@flow.step(FLOW, "description", accepts=(flow.TEXT, flow.FILE))
@refusals
async def description(update: Update, context: Context, conversation: Conversation) -> None:
    """The problem (typed, or a photo's caption; a photo or file is kept as an attachment).
    An edit of that message later replaces it."""
    message = update.effective_message
    if _again(update, conversation):  # a file alone, taken already: the description is asked
        count = len(conversation.data.get("attachments", []))
        await say(update, context, t("attachment_before_description", count=count))
        return
    attachments = _with_file(update, context, conversation)
    if attachments is None:  # no attachments allowed at all: the file is not kept
        limit = env_of(context).org.limits.attachments_max
        await say(update, context, t("attachments_full_not_kept", max=limit))
        attachments = conversation.data.get("attachments", [])
    if not message_text(update).strip():  # a file alone: kept, the description still asked
        moved = await flow.advance(
            context,
            conversation,
            "description",
            attachments=attachments,
            seen=_seen(update, conversation),
        )
        count = len(moved.data["attachments"])
        await say(update, context, t("attachment_before_description", count=count))
        return
    parts = added([], message.message_id, message_text(update))
    try:
        text = checks.description(joined(parts), env_of(context).org.limits)
    except InvalidInput:  # the text is refused as a description; a file with it is kept
        if attachment_of(update) is not None:
            await flow.advance(context, conversation, "description", attachments=attachments)
            await say(update, context, t("attachment_kept", count=len(attachments)))
        raise
    moved = await flow.advance(
        context,
        conversation,
        "attachments",
        description=text,
        parts=parts,
        attachments=attachments,
        seen=_seen(update, conversation),
    )
    await _show_summary(update, context, moved)


@flow.step(FLOW, "edit")
@refusals
async def description_edited(update: Update, context: Context, conversation: Conversation) -> None:
    """The user edited a message that gave (a part of) the description: the draft takes it."""
    message = update.edited_message
    parts = edited(_parts(conversation.data), message.message_id, message_text(update))
    if parts is None:
        await say(update, context, t("edit_not_applied"))
        return
    text = checks.description(joined(parts), env_of(context).org.limits)
    moved = await flow.advance(
        context, conversation, conversation.step, description=text, parts=parts
    )
    await say(update, context, t("draft_edited"))
    await _show_summary(update, context, moved)


@flow.step(FLOW, "attachments", accepts=(flow.TEXT, flow.FILE), buttons=("new",))
@refusals
async def attachment_or_text(update: Update, context: Context, conversation: Conversation) -> None:
    """A photo or a document added to the draft; text (a caption too) joins the description,
    except 提交 / 取消 typed as words."""
    text = message_text(update).strip()
    if flow.kind_of(update) == flow.TEXT:
        if text == t("button.submit"):
            await _submit(update, context, conversation)
            return
        if text == t("button.cancel"):
            await _cancel(update, context, conversation)
            return
    if _again(update, conversation):  # taken already: answered as the first time
        await _taken_again(update, context, conversation)
        return
    attachments = _with_file(update, context, conversation)
    limit = env_of(context).org.limits.attachments_max
    if attachments is None:  # full: this message (its caption too) is not kept
        await flow.offer(
            update, context, conversation, t("attachments_full", max=limit), submit_keyboard()
        )
        return
    data = conversation.data
    parts = added(_parts(data), update.effective_message.message_id, text)
    try:
        description_ = checks.description(joined(parts), env_of(context).org.limits)
    except InvalidInput as exc:  # too long with it: nothing of this message is kept
        if exc.params.get("reason") != "too_long":
            raise
        await say(update, context, t("description_part_too_long", limit=exc.params["limit"]))
        return
    moved = await flow.advance(
        context,
        conversation,
        "attachments",
        description=description_,
        parts=parts,
        attachments=attachments,
        album=update.effective_message.media_group_id,
        seen=_seen(update, conversation),
    )
    if len(parts) == len(_parts(data)):  # a file alone
        album = update.effective_message.media_group_id
        if album and album == data.get("album"):  # an album is answered once, by its first
            return
        added_text = t("attachment_added", count=len(attachments))
        await flow.offer(update, context, moved, added_text, submit_keyboard())
        return
    await say(update, context, t("description_part_added"))
    await _show_summary(update, context, moved)


async def _taken_again(update: Update, context: Context, conversation: Conversation) -> None:
    """A message of the draft delivered again: the answer it had, nothing added."""
    if message_text(update).strip():
        parts = _parts(conversation.data)
        if not parts or parts[0][0] != update.effective_message.message_id:
            await say(update, context, t("description_part_added"))  # not the first part
        await _show_summary(update, context, conversation)
        return
    count = len(conversation.data.get("attachments", []))
    await flow.offer(
        update, context, conversation, t("attachment_added", count=count), submit_keyboard()
    )


@flow.on_done(FLOW, "category")
@flow.on_done(FLOW, "description")
@flow.on_done(FLOW, "attachments")
async def done_in_draft(update: Update, context: Context, conversation: Conversation) -> None:
    """/done in a draft: nothing is filed until 提交, nothing kept is dropped; the draft (or
    what it still needs) is shown again."""
    if conversation.step == "attachments":
        await say(update, context, t("draft_done_command"))
        await _show_summary(update, context, conversation)
    else:
        await say(update, context, t(f"draft_done_early.{conversation.step}"))


@refusals
async def draft_pressed(update: Update, context: Context) -> None:
    """提交, 仍然提交 (after a duplicate warning) or 取消 under the draft."""
    choice = pressed(update.callback_query.data, "new").arg
    if choice == "cancel":
        await cancel_pressed(update, context)
    else:
        await submit_pressed(update, context, again=choice == "again")


async def submit_pressed(update: Update, context: Context, again: bool) -> None:
    """提交: files the draft; the same button again answers with what was filed."""
    conversation = await flow.active(update, context, FLOW, "attachments")
    if conversation is None:
        await _submitted_before(update, context)
        return
    if not flow.from_prompt(conversation, update):
        await say(update, context, t("button_of_other_prompt"))
        return
    await _submit(update, context, conversation, again)


async def _submit(
    update: Update, context: Context, conversation: Conversation, again: bool = False
) -> None:
    env = env_of(context)
    data = conversation.data
    if "description" not in data:
        raise InvalidInput(field="description", reason="empty")
    try:
        outcome = await appeals.file_appeal(
            env,
            caller(update),
            data["category"],
            _quoted(data, env.org.limits.description_max),
            tuple(_attachments(conversation)),
            request_key(update),
            again,
            consulting=data.get("consulting"),
        )
    except DuplicateAppeal as exc:  # the draft stays: the enterprise decides
        number = exc.params["number"]
        earlier = appeal_button(VIEW, exc.params["appeal_id"], exc.params["version"])
        rows = [
            [(t("button.file_again"), encode("new", "again"))],
            [(t("button.view_earlier", number=number), earlier)],
            [(t("button.cancel"), encode("new", "cancel"))],
        ]
        text = t("error_duplicate_appeal", number=number)
        await flow.offer(update, context, conversation, text, keyboard(rows))
        return
    await flow.finish(context, conversation)
    text = filed_text(env, outcome.appeal, outcome.unheard)
    await confirm(update, context, text, None, outcome.ack_id, outcome.queued)


def _quoted(data: dict, limit: int) -> str:
    """The description, after the policy it asks about when it began as a 咨询 (its title
    left out when the two would pass the limit: the appeal is linked to the broadcast)."""
    quote, description = data.get("quote"), data["description"]
    if not quote:
        return description
    if len(quote) + 1 + len(description) > limit:
        quote = t("consultation_quote_short")
    return f"{quote}\n{description}"


async def _submitted_before(update: Update, context: Context) -> None:
    """提交 on a draft that is gone: the same tap again (or a re-delivered update), or old.
    While the filing's stored confirmation has not gone (the answer was lost, or the
    process that filed was killed before it marked it), this answer is that confirmation,
    marked sent: saying "无需重复提交" as well as the courier's copy after the grace told
    the person twice, three times with the answer that did go before a kill."""
    env = env_of(context)
    replayed = await appeals.replayed_filing(env, caller(update), request_key(update))
    if replayed is None:
        await say(update, context, t("draft_expired"))
    elif replayed.ack_id is not None:
        text = filed_text(env, replayed.appeal, replayed.unheard)
        await confirm(update, context, text, None, replayed.ack_id)
    else:
        await say(update, context, t("already_filed", number=replayed.appeal.number))


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


async def cancel_pressed(update: Update, context: Context) -> None:
    """取消 on the last step."""
    conversation = await flow.active(update, context, FLOW)
    if conversation is None:
        await say(update, context, t("draft_expired"))
        return
    if not flow.from_prompt(conversation, update):
        await say(update, context, t("button_of_other_prompt"))
        return
    await _cancel(update, context, conversation)


async def _cancel(update: Update, context: Context, conversation: Conversation) -> None:
    await flow.finish(context, conversation)
    await say(update, context, t("cancelled"))
