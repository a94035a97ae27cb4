"""/campaigns (leaders): the 月报 campaigns and who has reported; `/campaigns new` defines one
from a TOML or XLSX/CSV form definition, for a segment of the directory, from a month on;
a period's status, its consolidated table (XLSX) and a numeric field's chart."""

from __future__ import annotations

import io
import re
from pathlib import Path

from telegram import InlineKeyboardMarkup, Update

from bot.monthly_sheet import write_period
from bot.rules.broadcasts import Audience, AudienceCount, AudienceKind
from bot.rules.model import Conversation
from bot.rules.monthly import (
    FieldKind,
    FormDefinitionError,
    MonthlyDefinition,
    Period,
    ReportSchedule,
    ask_day,
    definition_from_data,
    definition_to_data,
    parse_definition_toml,
    parse_form_rows,
)
from bot.rules.refusals import InvalidInput
from bot.sheets import safe_file_name
from bot.task_files import UnreadableFile, read_table
from bot.texts import t
from bot.usecases import monthly
from bot.usecases.monthly import PeriodStatus, file_answers
from handlers import audience, flow
from handlers.broadcast_text import audience_text
from handlers.buttons import encode, pressed
from handlers.common import (
    Context,
    answer_button,
    caller,
    env_of,
    esc,
    keyboard,
    local_time,
    message_text,
    refusals,
    request_key,
    say,
    uploaded,
)
from handlers.monthly_text import period_code, period_name, period_of

FLOW = "campaign"
VIEW = "cp"  # a period's status, or its table: campaign, period (YYYYMM), what
CHART = "cpc"  # a numeric field's chart: campaign, field number
NAMES_SHOWN = 30  # enterprises a status names (the counts say all)
PROBLEMS_SHOWN = 30


@refusals
async def campaigns_command(update: Update, context: Context) -> None:
    """/campaigns: every campaign and its latest period; /campaigns new: define one."""
    env = env_of(context)
    sub = context.args[0].lower() if context.args else ""
    if sub == "new":
        await monthly.may_define(env, caller(update))
        await flow.begin(update, context, FLOW, "definition")
        await say(update, context, t("ask_campaign.definition"))
        return
    found = await monthly.campaigns(env, caller(update))
    if not found:
        await say(update, context, t("campaigns_empty"))
        return
    lines = [t("campaigns_header", count=len(found))]
    rows = []
    for n, status in enumerate(found, start=1):
        lines.append(t("campaigns_line", n=n, summary=_summary(status)))
        rows.append(
            [
                (
                    t("campaigns_button", n=n),
                    _view(status.campaign.id, status.period, "view"),
                )
            ]
        )
    await say(update, context, "\n".join(lines), keyboard(rows))


def _state(status: PeriodStatus) -> str:
    """停止 / 未开始（… 通知填报）/ 填报中 / 已截止, as the period stands today."""
    if not status.campaign.active:
        return t("campaign_stopped")
    if status.asked_on and status.today and status.today < status.asked_on:
        return t("campaign_period_ahead", day=status.asked_on.isoformat())
    if status.today and status.today > status.due:
        return t("campaign_period_closed")
    return t("campaign_active")


def _summary(status: PeriodStatus) -> str:
    return t(
        "campaign_summary",
        title=esc(status.campaign.title),
        period=period_name(status.period),
        due=status.due.isoformat(),
        reported=len(status.reported),
        total=len(status.targets),
        late=len(status.late),
        state=_state(status),
    )


def reach_lines(campaign_audience: Audience, counted: AudienceCount | None) -> list[str]:
    """Who the audience names that cannot be asked: enterprises not registered yet, codes
    of a list not in the directory."""
    lines: list[str] = []
    if counted is None:
        return lines
    unregistered = counted.enterprises - counted.registered
    if unregistered:
        lines.append(t("campaign_unregistered", count=unregistered))
    if campaign_audience.kind is AudienceKind.USCC:
        unknown = len(campaign_audience.values) - counted.enterprises
        if unknown > 0:
            lines.append(t("campaign_uscc_unknown", count=unknown))
    return lines


def status_text(status: PeriodStatus) -> str:
    lines = [
        _summary(status),
        t("campaign_audience", audience=audience_text(status.campaign.audience)),
        *reach_lines(status.campaign.audience, status.counted),
    ]
    for target in status.targets[:NAMES_SHOWN]:
        latest = target.latest
        if latest is None:
            lines.append(t("campaign_missing_line", name=esc(target.name)))
        else:
            lines.append(
                t(
                    "campaign_reported_line",
                    name=esc(target.name),
                    version=latest.version,
                    late=t("campaign_late_mark") if latest.late else "",
                )
            )
    if len(status.targets) > NAMES_SHOWN:
        lines.append(t("campaign_more", count=len(status.targets) - NAMES_SHOWN))
    if not status.targets:
        day = status.asked_on.isoformat() if status.asked_on else ""
        lines.append(t("campaign_not_asked", period=period_name(status.period), day=day))
    return "\n".join(lines)


def _view(campaign_id: int, period: Period, what: str) -> str:
    return encode(VIEW, campaign_id, period_code(period), what)


def status_markup(status: PeriodStatus) -> InlineKeyboardMarkup:
    campaign, period = status.campaign, status.period
    turn = []
    earlier = [p for p in status.periods if p < period]
    later = [p for p in status.periods if p > period]
    if earlier:
        turn.append(
            (
                t("button.campaign_earlier"),
                encode(VIEW, campaign.id, period_code(earlier[-1]), "view"),
            )
        )
    if later:
        turn.append(
            (t("button.campaign_later"), encode(VIEW, campaign.id, period_code(later[0]), "view"))
        )
    rows = [turn] if turn else []
    rows.append(
        [(t("button.campaign_table"), encode(VIEW, campaign.id, period_code(period), "table"))]
    )
    numbers = [
        (n, f)
        for n, f in enumerate(campaign.definition.form.fields, start=1)
        if f.kind is FieldKind.NUMBER
    ]
    rows += [
        [(t("button.campaign_chart", label=f.label), encode(CHART, campaign.id, n))]
        for n, f in numbers[:4]
    ]
    with_files = [
        target
        for target in status.reported
        if target.latest and file_answers(campaign.definition.form, target.latest.data)
    ]
    rows += [
        [
            (
                t("button.campaign_files", name=target.name[:20]),
                encode(FILES, campaign.id, period_code(period), target.enterprise_id),
            )
        ]
        for target in with_files[:FILES_LISTED]
    ]
    switch = "stop" if campaign.active else "resume"
    rows.append([(t(f"button.campaign_{switch}"), _view(campaign.id, period, switch))])
    return keyboard(rows)


@refusals
async def view_pressed(update: Update, context: Context) -> None:
    """A period's status (上月 / 下月), or its consolidated table as XLSX."""
    button = pressed(update.callback_query.data, VIEW)
    env = env_of(context)
    period = period_of(int(button.parts[1]))
    if button.arg in ("stop", "resume"):
        status = await monthly.set_active(
            env, caller(update), button.item_id, button.arg == "resume"
        )
        await answer_button(update.callback_query)
        key = "campaign_resumed" if status.campaign.active else "campaign_stopped_now"
        text = t(key, title=esc(status.campaign.title)) + "\n\n" + status_text(status)
        await say(update, context, text, status_markup(status))
        return
    status = await monthly.status(env, caller(update), button.item_id, period)
    await answer_button(update.callback_query)
    if button.arg == "table":
        history = await monthly.history(env, caller(update), button.item_id)
        buffer = io.BytesIO()
        count = write_period(status, history, buffer, env.zone)
        await context.bot.send_document(
            update.effective_chat.id,
            document=buffer.getvalue(),
            filename=t(
                "campaign_file", title=safe_file_name(status.campaign.title), period=period.label
            ),
            caption=t(
                "campaign_table_caption",
                title=esc(status.campaign.title),
                period=period_name(period),
                count=count,
                time=local_time(env, env.now()),
            ),
        )
        return
    await say(update, context, status_text(status), status_markup(status))


@refusals
async def chart_pressed(update: Update, context: Context) -> None:
    """趋势图: a numeric field over the months, one line per enterprise."""
    button = pressed(update.callback_query.data, CHART)
    env = env_of(context)
    history = await monthly.history(env, caller(update), button.item_id)
    fields = history.campaign.definition.form.fields
    number = int(button.parts[1])
    await answer_button(update.callback_query)
    if not 1 <= number <= len(fields) or fields[number - 1].kind is not FieldKind.NUMBER:
        await say(update, context, t("error_campaign_not_found"))
        return
    field = fields[number - 1]
    from bot.monthly_chart import render_series  # matplotlib: loaded when a chart is asked for

    lines = monthly.series(history, field.key)
    image = render_series(history.campaign.title, field.label, field.unit, lines)
    await context.bot.send_photo(
        update.effective_chat.id,
        image,
        caption=t(
            "campaign_chart_caption", title=esc(history.campaign.title), label=esc(field.label)
        ),
    )


@refusals
async def files_pressed(update: Update, context: Context) -> None:
    """附件: the files one enterprise's report gave, sent again by their Telegram ids."""
    from handlers.courier import send_files

    button = pressed(update.callback_query.data, FILES)
    period = period_of(int(button.parts[1]))
    found = await monthly.report_files(
        env_of(context), caller(update), button.item_id, period, int(button.parts[2])
    )
    await answer_button(update.callback_query)
    parts = []
    for n, (label, file) in enumerate(found.files, start=1):
        kind, _, file_id = file.ref.partition(":")
        caption = t(
            "campaign_file_caption",
            enterprise=esc(found.enterprise),
            period=period_name(period),
            label=esc(label),
            n=n,
            count=len(found.files),
            name=esc(file.name),
        )
        parts.append(("file", file_id, (kind, caption)))
    if not parts:
        await say(update, context, t("campaign_no_files"))
        return
    await send_files(context.bot, update.effective_chat.id, parts)


# --- defining a campaign ------------------------------------------------------------------


_CODE = re.compile(r"[a-z][a-z0-9_]{0,31}")


def definition_of(data: bytes, file_name: str, today_code: str) -> MonthlyDefinition:
    """A TOML definition, or a table (XLSX/CSV) whose name gives its code when it can."""
    if Path(file_name).suffix.lower() == ".toml":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise UnreadableFile("file_bad_encoding") from None
        return parse_definition_toml(text)
    headers = {"label": t("monthly_column.label"), "kind": t("monthly_column.kind")}
    rows = read_table(data, file_name, headers)
    stem = Path(file_name).stem.lower()
    code = stem if _CODE.fullmatch(stem) else "m" + today_code
    return MonthlyDefinition(parse_form_rows(rows, code, Path(file_name).stem), ReportSchedule())


@flow.step(FLOW, "definition", accepts=(flow.FILE,))
@refusals
async def definition_received(update: Update, context: Context, conversation: Conversation) -> None:
    upload = await uploaded(update, context)
    if upload is None:
        await say(update, context, t("ask_campaign.definition"))
        return
    data, file_name = upload
    env = env_of(context)
    try:
        definition = definition_of(data, file_name, env.now().strftime("%Y%m%d%H%M"))
    except UnreadableFile as exc:
        await say(update, context, t("error_campaign_file", reason=esc(t(exc.key, **exc.params))))
        return
    except FormDefinitionError as exc:
        lines = [t("monthly.error_definition", count=len(exc.problems))]
        for number, key, params in exc.problems[:PROBLEMS_SHOWN]:
            text = t(key, **{k: esc(v) if isinstance(v, str) else v for k, v in params.items()})
            lines.append(t(exc.at_key, number=number, text=text) if number else text)
        await say(update, context, "\n".join(lines))
        return
    await monthly.may_define(env, caller(update), definition)  # its code not in use yet
    moved = await flow.advance(
        context, conversation, "audience", definition=definition_to_data(definition)
    )
    form = definition.form
    await say(
        update,
        context,
        t(
            "campaign_definition_read",
            title=esc(form.title),
            code=form.code,
            fields="、".join(esc(f.label) for f in form.fields),
            due=definition.schedule.due_working_day,
        ),
    )
    await audience.ask(update, context, moved)


async def _audience_chosen(
    update: Update, context: Context, conversation: Conversation, chosen: Audience
) -> None:
    moved = await flow.advance(context, conversation, "first", audience=chosen.as_data())
    suggested = monthly.first_month(env_of(context), definition_from_data(moved.data["definition"]))
    await flow.offer(
        update,
        context,
        moved,
        t("ask_campaign.first", example=suggested.label, period=period_name(suggested)),
        keyboard([[(period_name(suggested), encode(FIRST, period_code(suggested)))]]),
    )


audience.use(FLOW, _audience_chosen)
FIRST = "cpf"  # the first month reported, offered under its prompt
FILES = "cpa"  # 附件 of one enterprise's report: campaign, period (YYYYMM), enterprise
FILES_LISTED = 10  # enterprises whose files a status offers as buttons
flow.prompted(FLOW, FIRST)


@flow.step(FLOW, "first", buttons=(FIRST,))
@refusals
async def first_typed(update: Update, context: Context, conversation: Conversation) -> None:
    try:
        first = Period.typed(message_text(update))
    except ValueError:
        await say(update, context, t("campaign_first_format", value=esc(message_text(update))))
        return
    await _create(update, context, conversation, first)


async def first_pressed(update: Update, context: Context) -> None:
    found = await flow.pressed(update, context, FLOW, "first", "campaign_expired")
    if found is None:
        return
    conversation, button = found
    await answer_button(update.callback_query)
    if button is None:
        await say(update, context, t("button_of_other_prompt"))
        return
    await refusals(_create)(update, context, conversation, period_of(int(button.parts[0])))


async def _create(
    update: Update, context: Context, conversation: Conversation, first: Period
) -> None:
    data = conversation.data
    definition = definition_from_data(data["definition"])
    try:
        created = await monthly.create(
            env_of(context),
            caller(update),
            definition,
            Audience.from_data(data["audience"]),
            first,
            request_key(update),
        )
    except InvalidInput as exc:
        if exc.params.get("reason") == "campaign_taken":
            await flow.finish(context, conversation)
        raise
    await flow.finish(context, conversation)
    campaign, counted = created.campaign, created.counted
    lines = [
        t(
            "campaign_created",
            title=esc(campaign.title),
            audience=audience_text(campaign.audience),
            first=period_name(first),
            registered=counted.registered,
            asked=ask_day(first, env_of(context).calendar).isoformat(),
        )
    ]
    await say(update, context, "\n".join(lines + reach_lines(campaign.audience, counted)))
