"""/enterprises: the enterprise directory in chat — the roster's import and export, finding an
enterprise, and changing its 行业, 所在区, 规模 and 标签 (leaders)."""

from __future__ import annotations

import io

from telegram import InlineKeyboardMarkup, Update

from bot.digest_text import capped
from bot.directory_sheet import write_directory
from bot.rules.directory import (
    OPTIONAL_COLUMNS,
    ROSTER_COLUMNS,
    Attribute,
    DirectoryCounts,
    DirectoryEntry,
    Scale,
)
from bot.rules.model import Conversation
from bot.rules.refusals import RosterImportError
from bot.task_files import UnreadableFile, read_table
from bot.texts import keys, name, t
from bot.texts.events import person_name
from bot.usecases import directory
from bot.usecases.directory import EntryView, RosterImported
from handlers import flow
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
    say,
    uploaded,
)

IMPORT, EDIT = "roster", "directory"
PROBLEMS_SHOWN = 30  # problems of a refused roster listed in chat (the count says all)
UNMATCHED_SHOWN = 20  # 包保人 not matched that an import's report names
HISTORY_SHOWN = 5  # a card's latest changes
ENTRY = "ent"  # a directory entry's buttons: open it; 修改… one attribute; a scale chosen
FIELD_COLUMNS = {"baobao_name": "baobao"}  # a stored field's column in the roster


def roster_headers() -> dict[str, str]:
    return {c: t(f"roster_column.{c}") for c in ROSTER_COLUMNS}


def scales_by_label() -> dict[str, Scale]:
    """规上 / 规下 and their longer forms (规模以上, 规上企业, …) as typed or in a roster."""
    labels = {name("scale", s): s for s in Scale}
    for key in keys("scale_alias."):
        labels[key.split(".", 1)[1]] = Scale(t(key))
    return labels


def shown_value(value: object) -> str:
    """An attribute as a leader reads it (escaped): 未填 when empty."""
    if isinstance(value, Scale) or value in tuple(Scale):
        return name("scale", value)
    if isinstance(value, (tuple, list)):
        return esc("、".join(str(v) for v in value)) if value else t("directory_blank")
    return esc(value) if value else t("directory_blank")


def _counted(values: dict[str, int]) -> str:
    if not values:
        return t("directory_none")
    return "；".join(
        t("directory_count_item", value=shown_value(v), count=n) for v, n in values.items()
    )


def summary_text(counts: DirectoryCounts) -> str:
    scales = {name("scale", s) if s else "": n for s, n in counts.by_scale.items()}
    return t(
        "directory_summary",
        total=counts.total,
        registered=counts.registered,
        scales=_counted(scales),
        industries=_counted(counts.by_industry),
        districts=_counted(counts.by_district),
        tags=_counted(counts.by_tag),
    )


def entry_card(view: EntryView, context: Context) -> tuple[str, InlineKeyboardMarkup]:
    entry = view.entry
    registered = (
        t("directory_registered", contacts=view.contacts)
        if entry.enterprise_id is not None
        else t("directory_unregistered")
    )
    text = t(
        "directory_card",
        name=esc(entry.name),
        uscc=entry.uscc,
        industry=shown_value(entry.industry),
        district=shown_value(entry.district),
        scale=shown_value(entry.scale),
        tags=shown_value(entry.tags),
        baobao=_baobao(view),
        registered=registered,
    )
    for title, asked, reported, late in view.reports:
        text += "\n" + t(
            "directory_reports", title=esc(title), asked=asked, reported=reported, late=late
        )
    lines = [_history_line(item, context) for item in view.history[-HISTORY_SHOWN:]]
    if lines:
        title = t("directory_history_title")
        if len(view.history) > HISTORY_SHOWN:
            title = t("directory_history_latest", shown=HISTORY_SHOWN, total=len(view.history))
        text += "\n\n" + title + "\n" + "\n".join(lines)
    buttons = [(name("button.directory", a), encode(ENTRY, entry.id, str(a))) for a in Attribute]
    return text, keyboard([buttons[:2], buttons[2:]])


def _baobao(view: EntryView) -> str:
    """The 包保 official by name; a roster's name nobody matched, said as not set."""
    if view.baobao:
        return esc(view.baobao)
    if view.entry.baobao_name:
        return t("directory_baobao_unmatched", name=esc(view.entry.baobao_name))
    return t("directory_blank")


def _history_line(item: tuple, context: Context) -> str:
    at, who, actor_id, action, changes = item
    what = name("directory_action", action, default=action)
    if changes:
        what += "：" + "；".join(
            t(
                "directory_change",
                field=t(f"roster_column.{FIELD_COLUMNS.get(field, field)}"),
                old=shown_value(old),
                new=shown_value(new),
            )
            for field, (old, new) in changes.items()
        )
    if who:
        who_text = esc(person_name(who, None)) + " "
    else:  # a leader (not stored), or the command line
        who_text = t("leader_actor") + " " if actor_id is not None else ""
    return t("directory_history_line", at=local_time(env_of(context), at), who=who_text, what=what)


@refusals
async def enterprises_command(update: Update, context: Context) -> None:
    """/enterprises, /enterprises import, /enterprises export, /enterprises <name or USCC>."""
    env = env_of(context)
    sub = context.args[0].lower() if context.args else ""
    if sub == "import" and len(context.args) == 1:
        await directory.may_import(env, caller(update))
        await flow.begin(update, context, IMPORT, "file")
        await say(update, context, ask_file_text())
        return
    if sub == "export" and len(context.args) == 1:
        await send_export(update, context)
        return
    if sub:
        await show_found(update, context, " ".join(context.args))
        return
    counts = await directory.summary(env, caller(update))
    await say(update, context, summary_text(counts) + "\n\n" + t("directory_usage"))


def ask_file_text() -> str:
    headers = roster_headers()
    return t(
        "ask_roster_file",
        required="、".join(h for c, h in headers.items() if c not in OPTIONAL_COLUMNS),
        optional="、".join(h for c, h in headers.items() if c in OPTIONAL_COLUMNS),
    )


async def show_found(update: Update, context: Context, text: str) -> None:
    found = await directory.search(env_of(context), caller(update), text)
    if not found.entries:
        await say(update, context, t("directory_search_none", text=esc(text)))
        return
    if len(found.entries) == 1:
        view = await directory.view(env_of(context), caller(update), found.entries[0].id)
        await say(update, context, *entry_card(view, context))
        return
    lines = [t("directory_found_many", count=len(found.entries))]
    if found.more:
        lines.append(t("directory_found_more", shown=len(found.entries)))
    rows = [[(_label(e), encode(ENTRY, e.id, "open"))] for e in found.entries]
    await say(update, context, "\n".join(lines), keyboard(rows))


def _label(entry: DirectoryEntry) -> str:
    return f"{entry.name}（{entry.uscc[-6:]}）"


async def send_export(update: Update, context: Context) -> None:
    """The directory as an XLSX document in the roster's columns (leaders only)."""
    env = env_of(context)
    entries = await directory.export(env, caller(update))
    buffer = io.BytesIO()
    total = write_directory(entries, buffer)
    await context.bot.send_document(
        update.effective_chat.id,
        document=buffer.getvalue(),
        filename=f"{t('directory_sheet_title')}-{env.today().isoformat()}.xlsx",
        caption=t("directory_export_caption", total=total, time=local_time(env, env.now())),
    )


def import_report(result: RosterImported) -> list[str]:
    lines = [
        t(
            "roster_imported",
            added=result.added,
            updated=result.updated,
            unchanged=result.unchanged,
            registered=result.registered,
            total=result.total,
        )
    ]
    unmatched = [
        t(
            "roster_baobao_unmatched",
            row=item.row,
            name=esc(item.name),
            why=(
                t("import_unmapped_ambiguous", count=item.matches)
                if item.matches
                else t("import_unmapped_unknown")
            ),
        )
        for item in result.baobao_unmatched
    ]
    kept = [
        t("roster_name_kept", row=k.row, roster=esc(k.roster_name), name=esc(k.name))
        for k in result.names_kept
    ]
    return (
        lines
        + capped(kept[:UNMATCHED_SHOWN], len(kept), "roster_names_more")
        + capped(unmatched[:UNMATCHED_SHOWN], len(unmatched), "roster_baobao_more")
    )


def problems_text(exc: RosterImportError) -> list[str]:
    shown = exc.problems[:PROBLEMS_SHOWN]
    return [t("error_roster_import", count=len(exc.problems))] + [
        t("task_import_line", row=r, problem=esc(t(key, **params))) for r, key, params in shown
    ]


@flow.step(IMPORT, "file", accepts=(flow.FILE,))
@refusals
async def roster_received(update: Update, context: Context, conversation: Conversation) -> None:
    """The roster's CSV/XLSX: validated as a whole, imported all or nothing."""
    upload = await uploaded(update, context)
    if upload is None:
        await say(update, context, ask_file_text())
        return
    data, file_name = upload
    try:
        rows = read_table(data, file_name, roster_headers(), OPTIONAL_COLUMNS)
    except UnreadableFile as exc:
        await say(update, context, t("error_roster_file", reason=esc(t(exc.key, **exc.params))))
        return
    try:
        result = await directory.import_roster(
            env_of(context), caller(update), rows, roster_headers(), scales_by_label()
        )
    except RosterImportError as exc:
        await flow.finish(context, conversation)
        await say(update, context, "\n".join(problems_text(exc)))
        return
    await flow.finish(context, conversation)
    await say(update, context, "\n".join(import_report(result)))


@refusals
async def entry_pressed(update: Update, context: Context) -> None:
    """An enterprise of a search (open its card), 修改… (ask for the value), or a scale."""
    button = pressed(update.callback_query.data, ENTRY)
    env = env_of(context)
    if button.arg == "open":
        view = await directory.view(env, caller(update), button.item_id)
        await say(update, context, *entry_card(view, context))
        return
    word = str(button.parts[1])
    if word in tuple(Scale):  # under the 修改规模 prompt: that prompt is answered
        conversation = await flow.current(context, update.effective_user.id)
        await _edit(update, context, button.item_id, Attribute.SCALE, name("scale", word))
        if conversation is not None and conversation.flow == EDIT:
            await flow.finish(context, conversation)
        return
    attribute = Attribute(word)
    view = await directory.view(env, caller(update), button.item_id)
    await flow.begin(
        update,
        context,
        EDIT,
        "value",
        id=view.entry.id,
        attribute=str(attribute),
        subject=view.entry.name,
        button=update.callback_query.data,
    )
    markup = None
    if attribute is Attribute.SCALE:
        markup = keyboard(
            [[(name("scale", s), encode(ENTRY, view.entry.id, str(s))) for s in Scale]]
        )
    await say(
        update,
        context,
        t(
            f"ask_directory.{attribute}",
            name=esc(view.entry.name),
            tags=shown_value(view.entry.tags),
        ),
        markup,
    )


@flow.step(EDIT, "value", buttons=(ENTRY,))
@refusals
async def value_typed(update: Update, context: Context, conversation: Conversation) -> None:
    """The new value typed at a 修改… prompt."""
    attribute = Attribute(conversation.data["attribute"])
    await _edit(update, context, conversation.data["id"], attribute, message_text(update))
    await flow.finish(context, conversation)


async def _edit(
    update: Update, context: Context, entry_id: int, attribute: Attribute, text: str
) -> None:
    view = await directory.edit(
        env_of(context), caller(update), entry_id, attribute, text, scales_by_label()
    )
    if update.callback_query is not None:
        await answer_button(update.callback_query)
    old, new = view.history[-1][4][str(attribute)]
    done = t(
        "directory_edited",
        name=esc(view.entry.name),
        field=t(f"roster_column.{attribute}"),
        old=shown_value(old),
        new=shown_value(new),
    )
    text_, markup = entry_card(view, context)
    await say(update, context, done + "\n\n" + text_, markup)
