"""Choosing an audience (who a 政策宣贯 goes to, who reports a 月报): all, or by 行业 / 所在区
/ 规模 / 标签 / 包保人 / category history, or a list of USCCs — buttons of the directory's
values with their counts, or typed. One set of steps for every flow that needs it (its
`audience`, `value` and `uscc` steps); the flow says what follows (`use`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update

from bot.rules.broadcasts import Audience, AudienceKind, uscc_list
from bot.rules.model import Conversation
from bot.task_files import UnreadableFile, read_table
from bot.texts import name, t
from bot.usecases import broadcasts
from handlers import flow
from handlers.buttons import encode
from handlers.common import (
    Context,
    answer_button,
    caller,
    env_of,
    esc,
    keyboard,
    message_text,
    refusals,
    say,
    uploaded,
)

KIND, VALUE = "bca", "bcv"  # a kind of audience; one of the values offered (its number)
VALUES_PER_ROW = 2
Chosen = Callable[[Update, Context, Conversation, Audience], Awaitable[None]]
# flow → what it does once its audience is chosen
NEXT: dict[str, Chosen] = {}


def use(flow_name: str, chosen: Chosen) -> None:
    """Give `flow_name` the audience steps; `chosen` continues it with the audience."""
    NEXT[flow_name] = chosen
    flow.step(flow_name, "audience", buttons=(KIND,))(kind_typed)
    flow.step(flow_name, "value", buttons=(VALUE, KIND))(value_typed)
    flow.step(flow_name, "uscc", accepts=(flow.FILE, flow.TEXT))(uscc_sent)
    flow.kept(flow_name, KIND, when=lambda c: c.step in ("audience", "value"))
    flow.prompted(flow_name, KIND, VALUE)


async def _chosen(
    update: Update, context: Context, conversation: Conversation, audience: Audience
) -> None:
    await NEXT[conversation.flow](update, context, conversation, audience)


async def ask(update: Update, context: Context, conversation: Conversation) -> None:
    """Offer the kinds of audience (the flow's next step: `audience`)."""
    moved = await flow.advance(context, conversation, "audience")
    rows = [
        [(name("audience_kind", k), encode(KIND, str(k))) for k in list(AudienceKind)[i : i + 2]]
        for i in range(0, len(AudienceKind), 2)
    ]
    await flow.offer(update, context, moved, t("ask_audience.kind"), keyboard(rows))


@refusals
async def kind_typed(update: Update, context: Context, conversation: Conversation) -> None:
    typed = message_text(update).strip()
    kind = next((k for k in AudienceKind if typed in (str(k), name("audience_kind", k))), None)
    await _kind(update, context, conversation, kind)


async def _kind(
    update: Update, context: Context, conversation: Conversation, kind: AudienceKind | None
) -> None:
    if kind is None:
        await say(update, context, t("audience_kind_unknown"))
        return
    if kind is AudienceKind.ALL:
        await _chosen(update, context, conversation, Audience(kind))
        return
    if kind is AudienceKind.USCC:
        await flow.advance(context, conversation, "uscc", kind=str(kind))
        await say(update, context, t("ask_audience.uscc"))
        return
    choices = await broadcasts.audience_values(env_of(context), caller(update), kind)
    labels = [_label(kind, c.label) for c in choices]
    moved = await flow.advance(
        context,
        conversation,
        "value",
        kind=str(kind),
        offered=[c.value for c in choices],
        labels=labels,
    )
    if not choices:
        await say(update, context, t("audience_no_values", kind=name("audience_kind", kind)))
        await ask(update, context, moved)
        return
    buttons = [
        (t("audience_value_button", value=label, count=c.count), encode(VALUE, n))
        for n, (c, label) in enumerate(zip(choices, labels, strict=True), start=1)
    ]
    rows = [buttons[i : i + VALUES_PER_ROW] for i in range(0, len(buttons), VALUES_PER_ROW)]
    text = t("ask_audience.value", kind=name("audience_kind", kind))
    await flow.offer(update, context, moved, text, keyboard(rows))


def _label(kind: AudienceKind, label: str) -> str:
    return name("scale", label) if kind is AudienceKind.SCALE else label


@refusals
async def value_typed(update: Update, context: Context, conversation: Conversation) -> None:
    """Values typed: one or several, separated by 、 (as offered, or an official's name)."""
    data = conversation.data
    offered, labels = list(data.get("offered", [])), list(data.get("labels", []))
    chosen = []
    for piece in message_text(update).replace("，", "、").replace(",", "、").split("、"):
        piece = piece.strip()
        if not piece:
            continue
        if piece in labels:
            chosen.append(labels.index(piece))
        elif piece in offered:
            chosen.append(offered.index(piece))
        else:
            await say(update, context, t("audience_value_unknown", value=esc(piece)))
            return
    if not chosen:
        await say(update, context, t("audience_value_unknown", value=""))
        return
    await _values(update, context, conversation, sorted(set(chosen)))


async def _values(
    update: Update, context: Context, conversation: Conversation, chosen: list[int]
) -> None:
    data = conversation.data
    audience = Audience(
        AudienceKind(data["kind"]),
        tuple(data["offered"][i] for i in chosen),
        tuple(data["labels"][i] for i in chosen),
    )
    await _chosen(update, context, conversation, audience)


@refusals
async def uscc_sent(update: Update, context: Context, conversation: Conversation) -> None:
    """The enterprises as a list of USCCs: typed, or a CSV/XLSX/TXT file of them."""
    upload = await uploaded(update, context)
    if upload is not None:
        data, file_name = upload
        try:
            text = uscc_text(data, file_name)
        except UnreadableFile as exc:
            await say(update, context, t("error_uscc_file", reason=esc(t(exc.key, **exc.params))))
            return
    else:
        text = message_text(update)
    codes, wrong = uscc_list(text)
    if wrong:
        shown = "、".join(esc(w) for w in wrong[:10])
        await say(update, context, t("audience_uscc_wrong", count=len(wrong), codes=shown))
        return
    if not codes:
        await say(update, context, t("ask_audience.uscc"))
        return
    await _chosen(update, context, conversation, Audience(AudienceKind.USCC, codes))


def uscc_text(data: bytes, file_name: str) -> str:
    """Every cell of an uploaded list as text (CSV, XLSX, or plain text)."""

    rows = read_table(data, file_name, {"uscc": t("roster_column.uscc")})
    return "\n".join(cell for row in rows for cell in row)


async def kind_pressed(update: Update, context: Context) -> None:
    found = await flow.pressed(update, context, None, None, "audience_expired")
    if found is not None:
        conversation, button = found
        await answer_button(update.callback_query)
        kind = AudienceKind(str(button.parts[0])) if button else None
        await refusals(_kind)(update, context, conversation, kind)


async def value_pressed(update: Update, context: Context) -> None:
    found = await flow.pressed(update, context, None, "value", "audience_expired")
    if found is not None:
        conversation, button = found
        await answer_button(update.callback_query)
        offered = conversation.data.get("offered", [])
        index = int(button.parts[0]) - 1 if button else -1
        if not 0 <= index < len(offered):
            await say(update, context, t("audience_value_unknown", value=""))
            return
        await refusals(_values)(update, context, conversation, [index])
