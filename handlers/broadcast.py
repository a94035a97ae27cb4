"""/broadcast: composing a 政策宣贯 (title → topic → text → files → audience → preview →
send or schedule), following it (progress, cancel, the reach report), and a contact's
已阅 / 咨询 / 不再接收 on the notice it received."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

from telegram import Update

from bot.broadcast_sheet import write_reach
from bot.rules.broadcasts import (
    FILES_MAX,
    TOPICS,
    Audience,
    AudienceCount,
    AudienceKind,
    Broadcast,
    body_text,
    send_moment,
    title_text,
)
from bot.rules.model import Attachment, Conversation
from bot.rules.refusals import InvalidInput
from bot.sheets import safe_file_name
from bot.texts import name, t
from bot.usecases import broadcasts
from bot.usecases.broadcasts import Draft, Status
from handlers import audience, flow
from handlers.broadcast_text import (
    RECEIVED,
    SENT,
    UNMUTE,
    audience_text,
    status_markup,
    status_text,
    topic_name,
)
from handlers.buttons import encode, pressed
from handlers.common import (
    Context,
    answer_button,
    attachment_of,
    caller,
    env_of,
    esc,
    keyboard,
    local_time,
    message_text,
    refusals,
    request_key,
    say,
)
from handlers.filing import begin_consultation

FLOW = "broadcast"
TOPIC, CHOICE = "bct", "bcc"  # the composer's buttons
flow.prompted(FLOW, TOPIC, CHOICE)


def _draft(data: dict) -> Draft:
    return Draft(
        data["title"],
        data["body"],
        data["topic"],
        Audience.from_data(data["audience"]),
        tuple(Attachment(*f) for f in data.get("files", [])),
    )


@refusals
async def broadcast_command(update: Update, context: Context) -> None:
    """/broadcast: compose a 政策宣贯; /broadcast list: the latest and how far each went."""
    env = env_of(context)
    sub = context.args[0].lower() if context.args else ""
    if sub == "list":
        await show_list(update, context)
        return
    await broadcasts.may_compose(env, caller(update))
    await flow.begin(update, context, FLOW, "title", files=[])
    await say(update, context, t("ask_broadcast.title", limit=60))


async def show_list(update: Update, context: Context) -> None:
    found = await broadcasts.recent(env_of(context), caller(update))
    if not found:
        await say(update, context, t("broadcast_list_empty"))
        return
    env = env_of(context)
    lines = [t("broadcast_list_header", count=len(found))]
    rows = []
    for n, item in enumerate(found, start=1):
        b = item.broadcast
        lines.append(
            t(
                "broadcast_list_line",
                n=n,
                title=esc(b.title),
                state=name("broadcast_state", b.state),
                when=local_time(env, b.send_at),
                sent=f"{item.reach.sent:,}",
                total=f"{b.recipients:,}",
            )
        )
        rows.append([(t("broadcast_list_button", n=n), encode(SENT, b.id, "status"))])
    await say(update, context, "\n".join(lines), keyboard(rows))


@flow.step(FLOW, "title")
@refusals
async def title_typed(update: Update, context: Context, conversation: Conversation) -> None:
    title = title_text(message_text(update))
    moved = await flow.advance(context, conversation, "topic", title=title)
    rows = [
        [(topic_name(topic), encode(TOPIC, topic)) for topic in TOPICS[i : i + 3]]
        for i in range(0, len(TOPICS), 3)
    ]
    await flow.offer(update, context, moved, t("ask_broadcast.topic"), keyboard(rows))


@flow.step(FLOW, "topic", buttons=(TOPIC,))
@refusals
async def topic_typed(update: Update, context: Context, conversation: Conversation) -> None:
    typed = message_text(update).strip()
    topic = next((c for c in TOPICS if typed in (c, topic_name(c))), None)
    await _topic(update, context, conversation, topic)


async def topic_pressed(update: Update, context: Context) -> None:
    found = await flow.pressed(update, context, FLOW, None, "broadcast_expired")
    if found is not None:
        conversation, button = found
        await answer_button(update.callback_query)
        if conversation.step != "topic":  # the draft is past it: the topic stays as chosen
            await say(update, context, t("button_of_other_prompt"))
            return
        await _topic(update, context, conversation, str(button.parts[0]) if button else None)


async def _topic(
    update: Update, context: Context, conversation: Conversation, topic: str | None
) -> None:
    if topic is None:
        await say(update, context, t("broadcast_topic_unknown"))
        return
    await flow.advance(context, conversation, "body", topic=topic)
    await say(update, context, t("ask_broadcast.body", topic=topic_name(topic), max=3000))


@flow.step(FLOW, "body")
@refusals
async def body_typed(update: Update, context: Context, conversation: Conversation) -> None:
    body = body_text(message_text(update))
    moved = await flow.advance(context, conversation, "files", body=body)
    markup = keyboard([[(t("button.broadcast_no_files"), encode(CHOICE, "files_done"))]])
    await flow.offer(update, context, moved, t("ask_broadcast.files", max=FILES_MAX), markup)


@flow.step(FLOW, "files", accepts=(flow.FILE, flow.TEXT), buttons=(CHOICE,))
@refusals
async def file_sent(update: Update, context: Context, conversation: Conversation) -> None:
    """A file for the notice (up to FILES_MAX), or text: 完成 / 无 goes on."""
    attachment = attachment_of(update)
    if attachment is None:
        done = (t("button.broadcast_no_files"), t("button.broadcast_files_done"))
        if message_text(update).strip() in ("完成", "无", "没有", "跳过", "好了", *done):
            await audience.ask(update, context, conversation)
            return
        markup = keyboard([[(t("button.broadcast_files_done"), encode(CHOICE, "files_done"))]])
        await flow.offer(update, context, conversation, t("hint_broadcast_files"), markup)
        return
    files = list(conversation.data.get("files", []))
    if len(files) >= FILES_MAX:
        await say(update, context, t("broadcast_files_full", max=FILES_MAX))
        return
    files.append(
        [attachment.kind, attachment.file_id, attachment.file_unique_id, attachment.file_name]
    )
    moved = await flow.advance(context, conversation, "files", files=files)
    markup = keyboard([[(t("button.broadcast_files_done"), encode(CHOICE, "files_done"))]])
    await flow.offer(
        update, context, moved, t("broadcast_file_kept", count=len(files), max=FILES_MAX), markup
    )


async def _preview(
    update: Update, context: Context, conversation: Conversation, chosen: Audience
) -> None:
    moved = await flow.advance(context, conversation, "confirm", audience=chosen.as_data())
    draft = _draft(moved.data)
    counted = await broadcasts.preview(env_of(context), caller(update), draft)
    rows = [
        [
            (t("button.broadcast_send"), encode(CHOICE, "send")),
            (t("button.broadcast_schedule"), encode(CHOICE, "schedule")),
        ],
        [
            (t("button.broadcast_redo"), encode(CHOICE, "redo")),
            (t("button.cancel"), encode(CHOICE, "cancel")),
        ],
    ]
    await flow.offer(update, context, moved, preview_text(draft, counted), keyboard(rows))


audience.use(FLOW, _preview)


def preview_text(draft: Draft, counted: AudienceCount) -> str:
    text = t(
        "broadcast_preview",
        title=esc(draft.title),
        body=esc(draft.body),
        topic=topic_name(draft.topic),
        files=len(draft.files),
        audience=audience_text(draft.audience),
        enterprises=f"{counted.enterprises:,}",
        registered=f"{counted.registered:,}",
        muted=f"{counted.muted:,}",
        contacts=f"{counted.contacts:,}",
    )
    missing = len(draft.audience.values) - counted.enterprises
    if draft.audience.kind is AudienceKind.USCC and missing > 0:
        text += "\n" + t("broadcast_uscc_unknown", count=missing)
    return text


@flow.step(FLOW, "confirm", buttons=(CHOICE,))
async def confirm_typed(update: Update, context: Context, conversation: Conversation) -> None:
    await say(update, context, t("hint_broadcast_confirm"))


@flow.step(FLOW, "when")
@refusals
async def when_typed(update: Update, context: Context, conversation: Conversation) -> None:
    env = env_of(context)
    moment = send_moment(message_text(update), env.now(), env.zone, env.calendar)
    await _create(update, context, conversation, moment)


async def choice_pressed(update: Update, context: Context) -> None:
    """无附件 / 完成, 立即发送, 定时发送, 重新选择对象, 取消 under the composer's prompts."""
    found = await flow.pressed(update, context, FLOW, None, "broadcast_expired")
    if found is None:
        return
    conversation, button = found
    await answer_button(update.callback_query)
    word = str(button.parts[0]) if button else ""
    await _choice(update, context, conversation, word)


# A button of an earlier prompt of this composition stays part of it (refused on the
# button when it no longer fits), never a way out that loses the draft.
flow.kept(FLOW, CHOICE, TOPIC, when=lambda c: True)


@refusals
async def _choice(update: Update, context: Context, conversation: Conversation, word: str) -> None:
    if word == "files_done" and conversation.step == "files":
        await audience.ask(update, context, conversation)
    elif word == "send" and conversation.step in ("confirm", "when"):
        await _create(update, context, conversation, None)
    elif word == "schedule" and conversation.step in ("confirm", "when"):
        await flow.advance(context, conversation, "when")
        await say(update, context, t("ask_broadcast.when", example=_example(context)))
    elif word == "redo" and conversation.step in ("confirm", "when", "audience", "value", "uscc"):
        await audience.ask(update, context, conversation)
    elif word == "cancel":
        await flow.finish(context, conversation)
        await say(update, context, t("flow_left.broadcast"))
    else:
        await say(update, context, t("button_of_other_prompt"))


def _example(context: Context) -> str:
    env = env_of(context)
    day = env.calendar.add_working_days(env.today(), 1)
    return f"{day.isoformat()} 09:00"


async def _create(
    update: Update, context: Context, conversation: Conversation, send_at: object
) -> None:
    env = env_of(context)
    try:
        created = await broadcasts.create(
            env, caller(update), _draft(conversation.data), send_at, request_key(update)
        )
    except InvalidInput as exc:
        if exc.params.get("reason") != "nobody":
            raise
        await say(update, context, t("broadcast_nobody"))
        return
    await flow.finish(context, conversation)
    b = created.broadcast
    if created.queued:
        text = t("broadcast_started", title=esc(b.title), count=f"{created.recipients:,}")
    else:
        text = t("broadcast_scheduled", title=esc(b.title), when=local_time(env, b.send_at))
    await say(update, context, text, status_markup(b, True))


# --- the sender follows it ---------------------------------------------------------------


@refusals
async def sent_pressed(update: Update, context: Context) -> None:
    """刷新进度, 取消发送 or 送达报告 of a broadcast the actor may see."""
    button = pressed(update.callback_query.data, SENT)
    env = env_of(context)
    word = str(button.parts[1])
    if word == "report":
        await answer_button(update.callback_query)
        await send_report(update, context, button.item_id)
        return
    if word == "cancel":
        found = await broadcasts.cancel(env, caller(update), button.item_id)
    else:
        found = await broadcasts.status(env, caller(update), button.item_id)
    await answer_button(update.callback_query)
    text = _status(found, context)
    if found.cancelled_before:
        when = local_time(env, found.broadcast.cancelled_at or found.broadcast.send_at)
        text = t("broadcast_cancelled_before", when=when) + "\n\n" + text
    await say(update, context, text, status_markup(found.broadcast, found.may_cancel))


def _status(found: Status, context: Context) -> str:
    b = found.broadcast
    return status_text(b, found.reach, local_time(env_of(context), _when(b)))


def _when(broadcast: Broadcast) -> datetime:
    """What a status names: when it was cancelled, else when it went (or goes)."""
    return broadcast.cancelled_at or broadcast.send_at


async def send_report(update: Update, context: Context, broadcast_id: int) -> None:
    """送达报告: written to a file a page of recipients at a time, then sent."""
    env = env_of(context)
    report = await broadcasts.report(env, caller(update), broadcast_id)
    audience = audience_text(report.broadcast.audience, quote=str)
    name = t(
        "reach_file",
        title=safe_file_name(report.broadcast.title[:30]),
        day=env.today().isoformat(),
    )
    with tempfile.TemporaryDirectory(prefix="appealdesk-reach-") as folder:
        path = Path(folder) / "reach.xlsx"
        await write_reach(report, path, env.zone, audience)
        with path.open("rb") as sheet:
            await context.bot.send_document(
                update.effective_chat.id,
                document=sheet,
                filename=name,
                caption=t("reach_caption", title=esc(report.broadcast.title)),
            )


# --- a contact and the notice it received ----------------------------------------------


@refusals
async def received_pressed(update: Update, context: Context) -> None:
    """已阅, 咨询 or 不再接收此类 under a 政策宣贯 the person received."""
    button = pressed(update.callback_query.data, RECEIVED)
    env = env_of(context)
    word = str(button.parts[1])
    if word == "read":
        broadcast, first = await broadcasts.read(env, caller(update), button.item_id)
        key = "broadcast_read" if first else "broadcast_read_again"
        await answer_button(update.callback_query, t(key, title=broadcast.title))  # plain text
        return
    if word == "ask":
        broadcast = await broadcasts.consult(env, caller(update), button.item_id)
        await answer_button(update.callback_query)
        await begin_consultation(update, context, broadcast.id, broadcast.title)
        return
    muted = await broadcasts.mute_received(env, caller(update), button.item_id)
    await answer_button(update.callback_query)
    markup = keyboard(
        [
            [
                (
                    t("button.broadcast_unmute", topic=topic_name(muted.topic)),
                    encode(UNMUTE, muted.topic),
                )
            ]
        ]
    )
    key = "broadcast_muted" if muted.changed else "broadcast_muted_already"
    await say(update, context, t(key, topic=topic_name(muted.topic)), markup)


@refusals
async def unmute_pressed(update: Update, context: Context) -> None:
    """恢复接收 a topic the enterprise muted."""
    button = pressed(update.callback_query.data, UNMUTE)
    topic = str(button.parts[0])
    done = await broadcasts.mute(env_of(context), caller(update), topic, False)
    await answer_button(update.callback_query)
    key = "broadcast_unmuted" if done.changed else "broadcast_unmuted_already"
    await say(update, context, t(key, topic=topic_name(topic)))
