"""A contact fills a 月报 in chat: 填报 under the notice that asks for it, then one field per
message (checked as it comes), a review with 修改第N项, and 提交. A report already submitted
opens at its review, to be corrected until the due day (each 提交 a new version)."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, Update

from bot.rules.model import Conversation
from bot.rules.monthly import (
    SKIPPED_KEY,
    AnswerRefused,
    AttachedFile,
    FieldKind,
    FormField,
    Period,
    ReportForm,
    answer_from_json,
    answer_to_json,
    file_answer,
    is_skip,
    parse_answer,
    shown_answer,
    shown_number,
    shown_options,
)
from bot.texts import t
from bot.usecases import monthly
from bot.usecases.monthly import Filling
from handlers import flow
from handlers.buttons import encode, pressed
from handlers.common import (
    Context,
    answer_button,
    attachment_of,
    caller,
    env_of,
    esc,
    keyboard,
    message_text,
    refusals,
    request_key,
    say,
)
from handlers.monthly_text import FILL, fill_button, period_name, period_of

FLOW = "report"
ACT, CHOICE, EDIT = "mra", "mrc", "mre"  # 跳过/完成/提交/取消; an option; 修改第N项
flow.prompted(FLOW, ACT, CHOICE, EDIT)
OPTIONS_PER_ROW = 2
FILES_PER_FIELD = 10
EDITS_PER_ROW = 3


def correct_button(campaign_id: int, period: Period) -> tuple[str, str]:
    return fill_button(campaign_id, period, "button.monthly_correct")


@refusals
async def fill_pressed(update: Update, context: Context) -> None:
    """填报: the form opens (at its first field, or at the review of what was submitted)."""
    button = pressed(update.callback_query.data, FILL)
    period = period_of(int(button.parts[1]))
    filling = await monthly.start_filling(env_of(context), caller(update), button.item_id, period)
    await answer_button(update.callback_query)
    conversation = await flow.begin(
        update,
        context,
        FLOW,
        "field",
        campaign=filling.campaign.id,
        period=period.label,
        data=filling.data,
        index=0,
        version=filling.version,
        button=update.callback_query.data,
    )
    intro = t(
        "monthly.fill_intro" if not filling.version else "monthly.fill_correct",
        title=esc(filling.campaign.title),
        period=period_name(period),
        due=filling.due.isoformat(),
        count=len(filling.campaign.definition.form.fields),
        version=filling.version,
    )
    await say(update, context, intro)
    if filling.version:
        await _review(update, context, conversation, filling)
    else:
        await _ask(update, context, conversation, filling)


async def _filling(update: Update, context: Context, conversation: Conversation) -> Filling:
    data = conversation.data
    return await monthly.start_filling(
        env_of(context), caller(update), data["campaign"], Period.parse(data["period"])
    )


def _bounds(field: FormField) -> str:
    if field.minimum is not None and field.maximum is not None:
        return t(
            "monthly.bounds_both",
            minimum=shown_number(field.minimum, field.unit),
            maximum=shown_number(field.maximum, field.unit),
        )
    if field.minimum is not None:
        return t("monthly.bounds_min", minimum=shown_number(field.minimum, field.unit))
    if field.maximum is not None:
        return t("monthly.bounds_max", maximum=shown_number(field.maximum, field.unit))
    return ""


def field_prompt(form: ReportForm, index: int) -> tuple[str, InlineKeyboardMarkup | None]:
    field = form.fields[index]
    how = {
        FieldKind.NUMBER: t("monthly.how.number", unit=esc(field.unit) or t("monthly.no_unit")),
        FieldKind.TEXT: t("monthly.how.text", limit=field.max_length),
        FieldKind.DATE: t("monthly.how.date"),
        FieldKind.CHOICE: t("monthly.how.choice", options=esc(shown_options(field))),
        FieldKind.FILE: t("monthly.how.file"),
    }[field.kind]
    text = t(
        "monthly.ask_field",
        n=index + 1,
        total=len(form.fields),
        label=esc(field.label),
        how=how,
        bounds=_bounds(field),
        required=t("monthly.required") if field.required else t("monthly.optional"),
        hint=esc(field.hint),
    )
    rows: list[list[tuple[str, str]]] = []
    if field.kind is FieldKind.CHOICE:
        options = [(o, encode(CHOICE, n)) for n, o in enumerate(field.choices, start=1)]
        rows += [options[i : i + OPTIONS_PER_ROW] for i in range(0, len(options), OPTIONS_PER_ROW)]
    if field.kind is FieldKind.FILE:
        rows.append([(t("button.monthly_files_done"), encode(ACT, "done"))])
    if not field.required:
        rows.append([(t("button.monthly_skip"), encode(ACT, "skip"))])
    return text, keyboard(rows) if rows else None


async def _ask(
    update: Update, context: Context, conversation: Conversation, filling: Filling
) -> None:
    text, markup = field_prompt(filling.campaign.definition.form, conversation.data["index"])
    await flow.offer(update, context, conversation, text, markup)


@flow.step(FLOW, "field", accepts=(flow.TEXT, flow.FILE), buttons=(ACT, CHOICE))
@refusals
async def field_answered(update: Update, context: Context, conversation: Conversation) -> None:
    """The answer to the field asked: typed (or a file, for a file field)."""
    filling = await _filling(update, context, conversation)
    field = filling.campaign.definition.form.fields[conversation.data["index"]]
    attachment = attachment_of(update)
    if field.kind is FieldKind.FILE:
        if attachment is not None:
            files = list(conversation.data.get("files", []))
            if len(files) >= FILES_PER_FIELD:
                await say(
                    update,
                    context,
                    t("monthly.files_full", label=esc(field.label), limit=FILES_PER_FIELD),
                )
                return
            caption = (update.effective_message.caption or "").strip()[:40]
            shown = attachment.file_name or caption or t("monthly.photo_name", n=len(files) + 1)
            files.append([f"{attachment.kind}:{attachment.file_id}", shown])
            moved = await flow.advance(context, conversation, "field", files=files)
            markup = keyboard([[(t("button.monthly_files_done"), encode(ACT, "done"))]])
            await flow.offer(
                update, context, moved, t("monthly.file_kept", count=len(files)), markup
            )
            return
        if is_skip(message_text(update)) or message_text(update).strip() == "完成":
            await _files_done(update, context, conversation, filling, field)
            return
    elif attachment is not None:
        await say(update, context, t("monthly.text_wanted", label=esc(field.label)))
        return
    try:
        value = parse_answer(field, message_text(update), env_of(context).today())
    except AnswerRefused as exc:
        await say(update, context, _refusal(exc))
        return
    await _answered(update, context, conversation, filling, field, value)


def _refusal(exc: AnswerRefused) -> str:
    return t(exc.key, **{k: esc(v) if isinstance(v, str) else v for k, v in exc.params.items()})


async def _files_done(
    update: Update,
    context: Context,
    conversation: Conversation,
    filling: Filling,
    field: FormField,
) -> None:
    files = [AttachedFile(ref, name) for ref, name in conversation.data.get("files", [])]
    try:
        value = file_answer(field, files)
    except AnswerRefused as exc:
        await say(update, context, _refusal(exc))
        return
    await _answered(update, context, conversation, filling, field, value)


async def _answered(
    update: Update,
    context: Context,
    conversation: Conversation,
    filling: Filling,
    field: FormField,
    value: Any,
) -> None:
    data = dict(conversation.data.get("data") or {})
    data[field.key] = answer_to_json(field, value)
    form = filling.campaign.definition.form
    index = conversation.data["index"] + 1
    editing = conversation.data.get("editing", False)
    moved = await flow.advance(
        context, conversation, "field", data=data, index=index, files=[], editing=False
    )
    if editing or index >= len(form.fields):
        await _review(update, context, moved, filling)
    else:
        await _ask(update, context, moved, filling)


def review_text(filling: Filling, data: dict[str, Any]) -> str:
    form = filling.campaign.definition.form
    lines = []
    for n, field in enumerate(form.fields, start=1):
        stored = data.get(field.key)
        value = answer_from_json(field, stored) if stored is not None else None
        shown = esc(shown_answer(field, value)) if value is not None else t(SKIPPED_KEY)
        lines.append(t("monthly.review_line", n=n, label=esc(field.label), value=shown))
    return t(
        "monthly.review",
        title=esc(filling.campaign.title),
        period=period_name(filling.period),
        enterprise=esc(filling.enterprise),
        lines="\n".join(lines),
        due=filling.due.isoformat(),
    )


async def _review(
    update: Update, context: Context, conversation: Conversation, filling: Filling
) -> None:
    moved = await flow.advance(context, conversation, "review")
    fields = filling.campaign.definition.form.fields
    edits = [(t("button.monthly_edit", n=n), encode(EDIT, n)) for n in range(1, len(fields) + 1)]
    rows = [edits[i : i + EDITS_PER_ROW] for i in range(0, len(edits), EDITS_PER_ROW)]
    rows.append(
        [
            (t("button.monthly_submit"), encode(ACT, "submit")),
            (t("button.cancel"), encode(ACT, "cancel")),
        ]
    )
    text = review_text(filling, moved.data.get("data") or {})
    await flow.offer(update, context, moved, text, keyboard(rows))


@flow.step(FLOW, "review", buttons=(ACT, EDIT))
async def review_typed(update: Update, context: Context, conversation: Conversation) -> None:
    await say(update, context, t("monthly.hint_review"))


flow.kept(FLOW, ACT, when=lambda c: True)


async def act_pressed(update: Update, context: Context) -> None:
    """跳过, 完成 (files), 提交 or 取消 under the report's prompts."""
    found = await flow.pressed(update, context, FLOW, None, "monthly.expired")
    if found is None:
        return
    conversation, button = found
    await answer_button(update.callback_query)
    await refusals(_act)(update, context, conversation, str(button.parts[0]) if button else "")


async def _act(update: Update, context: Context, conversation: Conversation, word: str) -> None:
    filling = await _filling(update, context, conversation)
    form = filling.campaign.definition.form
    if word == "cancel":
        await flow.finish(context, conversation)
        await say(update, context, t("flow_left.report"))
        return
    if word == "submit" and conversation.step == "review":
        await _submit(update, context, conversation)
        return
    if conversation.step != "field":
        await say(update, context, t("button_of_other_prompt"))
        return
    field = form.fields[conversation.data["index"]]
    if word == "done" and field.kind is FieldKind.FILE:
        await _files_done(update, context, conversation, filling, field)
    elif word == "skip" and not field.required:
        await _answered(update, context, conversation, filling, field, None)
    else:
        await say(update, context, t("button_of_other_prompt"))


async def choice_pressed(update: Update, context: Context) -> None:
    found = await flow.pressed(update, context, FLOW, "field", "monthly.expired")
    if found is None:
        return
    conversation, button = found
    await answer_button(update.callback_query)
    filling = await _filling(update, context, conversation)
    field = filling.campaign.definition.form.fields[conversation.data["index"]]
    number = int(button.parts[0]) if button else 0
    if field.kind is not FieldKind.CHOICE or not 1 <= number <= len(field.choices):
        await say(update, context, t("button_of_other_prompt"))
        return
    await _answered(update, context, conversation, filling, field, field.choices[number - 1])


async def edit_pressed(update: Update, context: Context) -> None:
    """修改第N项 at the review: that field is asked again, then the review."""
    found = await flow.pressed(update, context, FLOW, "review", "monthly.expired")
    if found is None:
        return
    conversation, button = found
    await answer_button(update.callback_query)
    filling = await _filling(update, context, conversation)
    number = int(button.parts[0]) if button else 0
    if not 1 <= number <= len(filling.campaign.definition.form.fields):
        await say(update, context, t("button_of_other_prompt"))
        return
    moved = await flow.advance(
        context, conversation, "field", index=number - 1, editing=True, files=[]
    )
    await _ask(update, context, moved, filling)


async def _submit(update: Update, context: Context, conversation: Conversation) -> None:
    data = conversation.data
    done = await monthly.submit(
        env_of(context),
        caller(update),
        data["campaign"],
        Period.parse(data["period"]),
        dict(data.get("data") or {}),
        request_key(update),
    )
    await flow.finish(context, conversation)
    key = "monthly.submitted_late" if done.late else "monthly.submitted"
    await say(
        update,
        context,
        t(
            key,
            title=esc(done.campaign.title),
            period=period_name(done.period),
            version=done.version,
            due=done.due.isoformat(),
        ),
        keyboard([[correct_button(done.campaign.id, done.period)]]) if not done.late else None,
    )
