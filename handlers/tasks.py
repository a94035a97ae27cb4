"""/tasks: the rectification ledger in chat — progress reports, 销号, decisions, 责任人 mapping."""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from datetime import date

from telegram import InlineKeyboardMarkup, Update

from bot.digest_text import capped
from bot.rules.model import (
    Attachment,
    Conversation,
    Event,
    Person,
    Task,
    TaskAction,
    TaskState,
)
from bot.rules.parts import added, edited, joined
from bot.rules.refusals import (
    InvalidInput,
    OfficialNameUnclear,
    TaskImportError,
    TaskPartClosed,
)
from bot.rules.task_ledger import (
    Cursor,
    TaskFilter,
    TaskPage,
    Turn,
    column_of,
    event_author,
    offered_filters,
    overdue_days,
)
from bot.rules.tasks import COLUMNS
from bot.rules.workflow import TASK_FLOW, Needs
from bot.task_files import HEADERS, UnreadableFile, read_table
from bot.task_sheet import entry_text, write_task_ledger
from bot.telegram_limits import cut
from bot.texts import keys, name, t
from bot.texts.events import person_name
from bot.usecases import tasks as ledger
from bot.usecases.tasks import ImportResult, TaskView
from handlers import flow
from handlers.buttons import (
    ACTIONS,
    ASSIGN,
    LEDGER,
    TASK,
    TASK_FILES,
    VIEW,
    action_button,
    encode,
    pressed,
    task_view_button,
)
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
    uploaded,
)
from handlers.courier import confirm, send_soon
from handlers.render import snippet, with_files
from handlers.staff_choice import (
    department_first,
    department_staff,
    staff_choice,
    unclear_name,
)

FLOW, IMPORT = "task", "import"
OWNER = "owner"  # the 指定责任人 prompt, where a name may be typed
TASKS_LISTED = 50  # 责任人 an import's report names; the count says how many in all
ITEMS_NAMED = 10  # items of one unmapped 责任人 named in an import's report
CARD_HISTORY = 8  # a task card shows its latest events; the ledger holds them all
ITEMS_PER_ROW = 3  # item buttons (第N项 查看, 第N项) to a row under a page of the ledger


def states_by_label() -> dict[str, TaskState]:
    """Ledger state labels (and their short forms) as typed in an imported file."""
    labels = {name("task_state", s): s for s in TaskState}
    for key in keys("task_state_alias."):
        labels[key.split(".", 1)[1]] = TaskState(t(key))
    return labels


def column_headers() -> dict[str, str]:
    return {c: t(f"task_column.{c}") for c in COLUMNS}


def task_card(view: TaskView, context: Context) -> tuple[str, InlineKeyboardMarkup | None]:
    task = view.task
    owner = esc(task.owner_name)
    if task.owner_id is None:
        holder = (
            t("holder_heads", department=esc(task.department_name))
            if view.held_by_heads
            else t("holder_leaders")
        )  # as the import said when it could not name the 责任人
        owner += t("task_holder_pending", holder=holder)
    text = t(
        "task_card",
        seq=task.seq,
        aspect=esc(task.aspect),
        problem=esc(task.problem),
        measures=snippet(task.measures, 600),
        leader=esc(task.leader_name),
        department=esc(task.department_name),
        owner=owner,
        deadline=task.deadline.isoformat(),
        overdue=overdue_mark(task, env_of(context).today()),
        state=name("task_state", task.state),
    )
    shown = [e for e in view.history if column_of(e.kind) is not None]  # not the import
    if shown:
        zone = env_of(context).zone
        lines = [entry_text(replace(e, text=cut(e.text, 200)), zone, esc) for e in shown]
        earlier = len(lines) - CARD_HISTORY
        if earlier > 0:
            lines = [t("task_reports_earlier", count=earlier), *lines[earlier:]]
        text += "\n\n" + t("task_reports") + "\n" + "\n".join(lines)
    buttons = [
        (t(f"button.task.{a}"), action_button(a, task.id, task.version)) for a in view.actions
    ]
    if view.may_assign:
        buttons.append((t("button.task.assign"), encode("task", task.id, task.version, ASSIGN)))
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return text, with_files(keyboard(rows) if rows else None, TASK_FILES, task.id, view.files)


def overdue_mark(task: Task, today: date) -> str:
    """（已逾期 N 天） after a task's 时限 while it is overdue (task_ledger.overdue_days)."""
    days = overdue_days(task, today)
    return t("task_overdue_mark", days=days) if days else ""


def filter_label(kind: TaskFilter) -> str:
    if kind in (TaskFilter.ALL, TaskFilter.OPEN, TaskFilter.OVERDUE, TaskFilter.UNMAPPED):
        return t(f"tasks_filter.{kind}")
    return name("task_state", kind.value)


def ledger_page(
    page: TaskPage, item_label: str = "task_item_label"
) -> tuple[list[str], list[list[tuple[str, str]]]]:
    """A page of the ledger: its lines, and the buttons to open each item (`item_label`),
    turn the page and choose another state (each with its count)."""
    lines = [t("tasks_page_moved", page=page.number)] if page.moved else []
    label = filter_label(page.kind)
    if not page.tasks:
        lines.append(t("tasks_page_empty", filter=label))
    elif page.pages > 1 or page.kind is not TaskFilter.ALL:
        lines.append(
            t("tasks_page", filter=label, page=page.number, pages=page.pages, total=page.total)
        )
    for task in page.tasks:
        owner = esc(task.owner_name) + (t("task_owner_pending") if task.owner_id is None else "")
        lines.append(
            t(
                "task_page_line",
                seq=task.seq,
                state=name("task_state", task.state),
                deadline=task.deadline.isoformat(),
                overdue=overdue_mark(task, page.today),
                owner=owner,
                problem=snippet(task.problem, 40),
            )
        )
    items = [
        (t(item_label, seq=task.seq), task_view_button(task.id, task.version))
        for task in page.tasks
    ]
    rows = [items[i : i + ITEMS_PER_ROW] for i in range(0, len(items), ITEMS_PER_ROW)]
    turn = []
    if page.has_previous:
        turn.append((t("button.tasks_previous"), _turn(page.kind, Turn.PREVIOUS, page.tasks[0])))
    if page.has_next:
        turn.append((t("button.tasks_next"), _turn(page.kind, Turn.NEXT, page.tasks[-1])))
    if turn:
        rows.append(turn)
    kinds = offered_filters(page.counts, page.kind)
    if kinds:
        choices = [
            (
                t(
                    "tasks_filter_button",
                    mark=t("tasks_filter_mark") if k is page.kind else "",
                    label=filter_label(k),
                    count=page.counts[k],
                ),
                encode(LEDGER, k),
            )
            for k in kinds
        ]
        rows += [choices[i : i + 2] for i in range(0, len(choices), 2)]
    return lines, rows


def _turn(kind: TaskFilter, turn: Turn, edge: Task) -> str:
    return encode(LEDGER, kind, turn, edge.seq)


async def show_ledger(
    update: Update, context: Context, kind: TaskFilter | None, cursor: Cursor | None
) -> None:
    """The tasks the person sees (leaders: the whole ledger), a page of one state (None:
    what /tasks shows first)."""
    browsed = await ledger.browse(env_of(context), caller(update), kind, cursor)
    page, leader = browsed.page, browsed.leader
    if not page.counts[TaskFilter.ALL]:
        export = [[(t("button.task_export"), encode(LEDGER, "export"))]]
        await say(
            update,
            context,
            t("tasks_empty" if leader else "tasks_mine_empty"),
            keyboard(export) if leader else None,
        )
        return
    if leader:
        head = [_summary_text(browsed.summary)]
        if page.counts[TaskFilter.CLOSE_REQUESTED]:
            head.append(t("tasks_waiting", count=page.counts[TaskFilter.CLOSE_REQUESTED]))
        if page.counts[TaskFilter.UNMAPPED]:
            head.append(t("tasks_unmapped", count=page.counts[TaskFilter.UNMAPPED]))
    else:
        head = [t("tasks_mine", count=page.counts[TaskFilter.ALL])]
    if page.counts[TaskFilter.OVERDUE]:
        head.append(t("tasks_overdue", count=page.counts[TaskFilter.OVERDUE]))
    # a leader's items read 第N项 查看, as in the notices; an official's 第N项, as always
    lines, rows = ledger_page(page, "task_view_label" if leader else "task_item_label")
    if leader:
        rows.append([(t("button.task_export"), encode(LEDGER, "export"))])
    await say(update, context, "\n".join(head + lines), keyboard(rows))


def _summary_text(counts: dict[TaskState, int]) -> str:
    """整改任务台账：N 个问题：… (the whole ledger by state)."""
    total = sum(counts.values())
    if not total:
        return t("tasks_empty")
    parts = "，".join(
        t("tasks_summary_part", count=counts[state], label=name("task_state", state))
        for state in TaskState
        if counts.get(state)
    )
    return t("tasks_summary", total=total, parts=parts)


ITEM_NUMBER = re.compile(r"第?\s*([0-9]{1,9})\s*项?")


def item_number(text: str) -> int | None:
    """The 序号 in "/tasks 26" (also 第26项, full-width digits); None if it is not one."""
    found = ITEM_NUMBER.fullmatch(unicodedata.normalize("NFKC", text).strip())
    return int(found.group(1)) if found else None


@refusals
async def tasks_command(update: Update, context: Context) -> None:
    """/tasks, /tasks import, /tasks export."""
    env = env_of(context)
    sub = context.args[0].lower() if context.args else ""
    if sub == "export":
        await send_export(update, context)
        return
    if sub == "import":
        await ledger.may_import(env, caller(update))
        await flow.begin(update, context, IMPORT, "file")
        await say(update, context, t("ask_task_file", headers="、".join(HEADERS)))
        return
    seq = item_number(" ".join(context.args or ()))
    if seq is not None:  # /tasks 26: that item's card
        text, markup = task_card(await ledger.view_seq(env, caller(update), seq), context)
        await say(update, context, text, markup)
        return
    if sub:
        await say(update, context, t("tasks_usage"))
        return
    await show_ledger(update, context, None, None)


async def send_export(update: Update, context: Context) -> None:
    """The ledger as an XLSX document (leaders only)."""
    env = env_of(context)
    buffer = io.BytesIO()
    tasks = await ledger.export(env, caller(update))
    total = write_task_ledger(tasks, buffer, env.zone, env.today())
    caption = t("task_export_caption", total=total, time=local_time(env, env.now()))
    if update.callback_query is not None:
        await answer_button(update.callback_query)
    await context.bot.send_document(
        update.effective_chat.id,
        document=buffer.getvalue(),
        filename=f"{t('task_sheet_title')}-{env.today().isoformat()}.xlsx",
        caption=caption,
    )


@refusals
async def ledger_pressed(update: Update, context: Context) -> None:
    """导出台账, a state of the ledger (全部, 整改中, …), 上一页 or 下一页."""
    button = pressed(update.callback_query.data, LEDGER)
    if button.parts[0] == "export":
        await send_export(update, context)
        return
    kind = TaskFilter(button.parts[0])
    cursor = None
    if len(button.parts) == 3:
        turn, seq = button.parts[1:]
        assert isinstance(seq, int)
        cursor = Cursor(Turn(turn), seq)
    await show_ledger(update, context, kind, cursor)


def import_report(result: ImportResult) -> list[str]:
    """One line per imported 责任人 not mapped to exactly one official, with its rows."""
    groups: dict[tuple[str, str], list] = {}
    for item in result.unmapped:
        groups.setdefault((item.name, item.department_name), []).append(item)
    lines = []
    for (owner, department), items in groups.items():
        first = items[0]
        why = (
            t("import_unmapped_ambiguous", count=first.matches)
            if first.matches
            else t("import_unmapped_unknown")
        )
        holder = (
            t("holder_heads", department=esc(department))
            if first.held_by_heads
            else t("holder_leaders")
        )
        # by 序号, as /tasks names and opens them (`/tasks 7`), not by the file's rows
        seqs = "、".join(str(i.seq) for i in items[:ITEMS_NAMED])
        if len(items) > ITEMS_NAMED:
            seqs += t("import_items_more", count=len(items))
        lines.append(t("import_unmapped", seqs=seqs, name=esc(owner), why=why, holder=holder))
    return capped(lines[:TASKS_LISTED], len(lines), "import_unmapped_more")


@flow.step(IMPORT, "file", accepts=(flow.FILE,))
@refusals
async def file_received(update: Update, context: Context, conversation: Conversation) -> None:
    """The CSV/XLSX to import: validated as a whole, imported all or nothing."""
    upload = await uploaded(update, context)
    if upload is None:
        await say(update, context, t("ask_task_file", headers="、".join(HEADERS)))
        return
    data, file_name = upload
    try:
        rows = read_table(data, file_name)
    except UnreadableFile as exc:
        await say(update, context, t("error_task_file", reason=esc(t(exc.key, **exc.params))))
        return
    try:
        result = await ledger.import_table(
            env_of(context), caller(update), rows, column_headers(), states_by_label()
        )
    except TaskImportError as exc:
        lines = [t("error_task_import", count=len(exc.problems))]
        lines += [
            t("task_import_line", row=r, problem=esc(t(key, **params)))
            for r, key, params in exc.problems[:30]
        ]
        await flow.finish(context, conversation)
        await say(update, context, "\n".join(lines))
        return
    await flow.finish(context, conversation)
    lines = [t("task_imported", count=result.count), _summary_text(result.summary)]
    await say(update, context, "\n".join(lines + import_report(result)))


@refusals
async def task_pressed(update: Update, context: Context) -> None:
    """A task button: show it, decide at once, or ask for the text an action needs."""
    button = pressed(update.callback_query.data, TASK)
    env = env_of(context)
    if button.arg == VIEW:
        text, markup = task_card(await ledger.view(env, caller(update), button.item_id), context)
        await say(update, context, text, markup)
        return
    if button.arg == ASSIGN:
        await _offer_officials(update, context, button.item_id, button.version)
        return
    action = ACTIONS[button.arg]  # the codec accepts only task operations here
    assert isinstance(action, TaskAction)
    if TASK_FLOW[action].needs is Needs.NOTHING:  # decided at once: the use case checks it
        await _act(update, context, button.item_id, button.version, action, None, [])
        return
    task = await ledger.preflight(env, caller(update), button.item_id, action, button.version)
    await flow.begin(
        update,
        context,
        FLOW,
        "text",
        id=task.id,
        seq=task.seq,
        version=button.version,
        action=str(action),
        button=update.callback_query.data,
    )
    await say(update, context, t(f"ask_task.{action}", seq=task.seq))


async def _offer_officials(update: Update, context: Context, task_id: int, version: int) -> None:
    """指定责任人: the officials (the task's own 责任科室's first), or their departments when
    there are many; the name may be typed at this prompt."""
    choice = await ledger.owner_choice(env_of(context), caller(update), task_id)
    staff, task = choice.staff, choice.task
    if not staff:
        await say(update, context, t("baobao_no_staff"))
        return
    await _at_owner_prompt(update, context, task, version)
    staff = department_first(staff, task.department_name)
    prompt = t("ask_task_assign", seq=task.seq, name=esc(task.owner_name))
    await say(
        update,
        context,
        *staff_choice(
            prompt,
            staff,
            _choose_owner(task.id, version),
            lambda d: encode("taskd", task.id, version, d.id),
            t("staff_how.task"),
            env_of(context).zone,
        ),
    )


def _choose_owner(task_id: int, version: int) -> Callable[[Person], str]:
    return lambda person: encode("tasko", task_id, version, person.tg_id)


async def _at_owner_prompt(update: Update, context: Context, task: Task, version: int) -> None:
    """Open the prompt where the 责任人 may be typed (unless it is open for this task)."""
    open_ = await flow.active(update, context, FLOW, OWNER)
    if open_ is not None and open_.data.get("id") == task.id:
        return
    await flow.begin(
        update,
        context,
        FLOW,
        OWNER,
        id=task.id,
        seq=task.seq,
        version=version,
        action=ASSIGN,
        button=update.callback_query.data,
    )


@refusals
async def owner_department_pressed(update: Update, context: Context) -> None:
    """A department chosen for a task's 责任人 (many officials): now its officials."""
    task_id, version, department_id = pressed(update.callback_query.data, "taskd").parts
    task, department, members = await ledger.owner_department(
        env_of(context), caller(update), task_id, department_id
    )
    await _at_owner_prompt(update, context, task, version)
    prompt = t("ask_task_assign", seq=task.seq, name=esc(task.owner_name))
    choose = _choose_owner(task.id, version)
    how = t("staff_how.task")
    zone = env_of(context).zone
    await say(update, context, *department_staff(prompt, department, members, choose, how, zone))


@flow.step(FLOW, OWNER, buttons=("tasko", "taskd"))
@refusals
async def owner_typed(update: Update, context: Context, conversation: Conversation) -> None:
    """The 责任人 typed by name at the 指定责任人 prompt (姓名, or 姓名（部门）)."""
    pending = conversation.data
    task_id, version = pending["id"], pending["version"]
    try:
        assigned = await ledger.assign_owner_named(
            env_of(context), caller(update), task_id, version, message_text(update),
            request_key(update),
        )  # fmt: skip
    except OfficialNameUnclear as exc:  # the prompt stays open: retype, or press one
        choose = _choose_owner(task_id, version)
        await say(update, context, *unclear_name(exc, choose, env_of(context).zone))
        return
    await _owner_assigned(update, context, assigned)


@refusals
async def owner_pressed(update: Update, context: Context) -> None:
    """An official chosen as the 责任人 of a task."""
    task_id, version, official_id = pressed(update.callback_query.data, "tasko").parts
    assigned = await ledger.assign_owner(
        env_of(context), caller(update), task_id, version, official_id, request_key(update)
    )
    await _owner_assigned(update, context, assigned)


async def _owner_assigned(update: Update, context: Context, assigned: ledger.Assigned) -> None:
    """The 责任人 is named: the prompt ends, the leader is told, and the official (their
    notice stored with the change). A button tapped again gets a short answer only."""
    task, official = assigned.task, assigned.official
    await flow.finish(context, await flow.active(update, context, FLOW, OWNER))
    if assigned.replayed and update.callback_query is not None:
        await answer_button(update.callback_query, t("done_task_again", seq=task.seq))
        return
    named = esc(person_name(official.full_name, official.role))
    await say(update, context, t("done_task_assign", seq=task.seq, official=named))
    await send_soon(context, assigned.queued)


async def _act(
    update: Update,
    context: Context,
    task_id: int,
    version: int,
    action: TaskAction,
    text: str | None,
    attachments: list[Attachment],
) -> ledger.TaskOutcome:
    """Act, and answer with the task's card after it. The same request again (a second
    tap, an update re-delivered after a crash) answers as the first did while that answer
    has not gone; a second tap of a button answered already gets a short answer only."""
    env = env_of(context)
    key = request_key(update)
    outcome = await ledger.act(
        env, caller(update), task_id, action, version, text, tuple(attachments), key
    )
    query = update.callback_query
    if outcome.replayed and outcome.ack_id is None and query is not None:
        await answer_button(query, t("done_task_again", seq=outcome.task.seq))
        return outcome
    assert outcome.view is not None, "the action returns the task's card after it"
    _, markup = task_card(outcome.view, context)
    text = t(f"done_task.{action}", seq=outcome.task.seq)
    await confirm(update, context, text, markup, outcome.ack_id, outcome.queued)
    return outcome


# Actions whose prompt stays open after the first message: what is sent next (text,
# captions, photos, files) joins the same report or request, until /done.
MORE_PARTS = frozenset({TaskAction.REPORT, TaskAction.REQUEST_CLOSE})


def _report_text(parts: list, files: int) -> str:
    """The stored text of a report: its typed parts, or a mark that it is files only."""
    return joined(parts) if parts else t("attachment_only") if files else ""


@flow.step(FLOW, "text", accepts=(flow.TEXT, flow.FILE))
@refusals
async def task_text(update: Update, context: Context, conversation: Conversation) -> None:
    """The text (and maybe a file) of a report, a 销号 request or a send-back reason."""
    pending = conversation.data
    action = TaskAction(pending["action"])
    attachment = attachment_of(update)
    message = update.effective_message
    parts = added([], message.message_id, message.text or message.caption)
    files = 1 if attachment else 0
    outcome = await _act(
        update,
        context,
        pending["id"],
        pending["version"],
        action,
        _report_text(parts, files),
        [attachment] if attachment else [],
    )
    if action in MORE_PARTS:
        await flow.advance(
            context,
            conversation,
            "attach",
            parts=parts,
            files=files,
            report=outcome.report_id,
            seen=[message.message_id],
        )
    else:
        await flow.finish(context, conversation)


def _what(data: dict) -> str:
    return t(f"task_part_what.{data['action']}")


async def _amend(
    update: Update,
    context: Context,
    conversation: Conversation,
    parts: list,
    files: list,
    part: str | None,
    edit: bool = False,
    album: str | None = None,
) -> Conversation | None:
    """Store the report's text as `parts` now make it, and `files` (`part`: what this
    message added, or an edit made a part read). None — the person is told plainly that
    nothing changed — when the text would be too long, or the task moved on since the
    report was made (then the prompt ends: nothing more can join it)."""
    data = conversation.data
    files_before = data.get("files", 0)  # a prompt stored by an older version has none
    text = _report_text(parts, files_before + len(files))
    changed = text if parts != data.get("parts", []) else None
    try:
        amended = await ledger.amend_report(
            env_of(context),
            caller(update),
            data["id"],
            data.get("report"),
            changed,
            tuple(files),
            part,
            edit,
            request_key(update),
        )
    except InvalidInput as exc:
        if exc.params.get("reason") != "too_long":
            raise
        limit = exc.params.get("limit", "")
        await say(update, context, t("task_part_too_long", what=_what(data), limit=limit))
        return None
    except TaskPartClosed as exc:
        await flow.finish(context, conversation)
        await say(update, context, _closed_text(context, exc, data, edit))
        return None
    seen = [*data.get("seen", []), update.effective_message.message_id]
    moved = await flow.advance(
        context,
        conversation,
        "attach",
        parts=parts,
        files=files_before + len(files),
        album=album,
        seen=list(dict.fromkeys(seen)),
    )
    if album is None or album != data.get("album"):
        # a further item of an album leaves its notice to the courier, so the rest of the
        # album joins that one notice instead of one going per photo
        await send_soon(context, amended.queued)
    return moved


def _closed_text(context: Context, exc: TaskPartClosed, data: dict, edit: bool) -> str:
    """未加入 / 修改未生效: the change that closed the report — what, by whom, when — and
    the task's state now."""
    event = exc.event
    assert isinstance(event, Event)
    return t(
        "task_edit_closed" if edit else "task_part_closed",
        seq=data["seq"],
        time=local_time(env_of(context), event.created_at),
        who=esc(person_name(event_author(event), event.actor_role)),
        action=name("event", event.action, default=event.action),
        state=name("task_state", exc.params.get("state")),
        what=_what(data),
    )


@flow.step(FLOW, "attach", accepts=(flow.TEXT, flow.FILE))
@refusals
async def task_attachment(update: Update, context: Context, conversation: Conversation) -> None:
    """More of the report or request just made: text, captions, photos, files; /done ends."""
    message = update.effective_message
    attachment = attachment_of(update)
    parts = added(
        conversation.data.get("parts", []), message.message_id, message.text or message.caption
    )
    part = message.text or message.caption or (t("attachment_only") if attachment else None)
    files = [attachment] if attachment else []
    album = message.media_group_id
    # the further photos of an album (sent together) are answered once, by the first
    quiet = (
        bool(album and files)
        and album == conversation.data.get("album")
        and not (message.text or message.caption)
    )
    if message.message_id in conversation.data.get("seen", []):  # delivered again: joined
        moved: Conversation | None = conversation
    else:
        moved = await _amend(update, context, conversation, parts, files, part, album=album)
    if moved is not None and not quiet:
        data = moved.data
        text = t("done_task_part", seq=data["seq"], what=_what(data), stored=flow.stored(data))
        await say(update, context, text)


@flow.step(FLOW, "edit")
@refusals
async def task_part_edited(update: Update, context: Context, conversation: Conversation) -> None:
    """A message of the report or request still open was edited: its part is replaced."""
    message = update.edited_message
    data = conversation.data
    parts = edited(data.get("parts", []), message.message_id, message.text or message.caption)
    if parts is None or conversation.step != "attach":
        await say(update, context, t("edit_not_applied"))
        return
    part = message.text or message.caption
    moved = await _amend(update, context, conversation, parts, [], part, edit=True)
    if moved is not None:
        stored = flow.stored(moved.data)
        await say(
            update, context, t("task_part_edited", seq=data["seq"], what=_what(data), stored=stored)
        )


@flow.on_done(FLOW, "attach", lapse_unsaid=True)
async def report_done(update: Update, context: Context, conversation: Conversation) -> None:
    """/done after a report or 销号 request: it is complete; say what it holds."""
    await flow.finish(context, conversation)
    data = conversation.data
    await say(
        update, context, t("task_done", seq=data["seq"], what=_what(data), stored=flow.stored(data))
    )


async def task_done(update: Update, context: Context) -> None:
    """/done: the report, 销号 request or 补充 being sent is complete; says what was kept."""
    await flow.done(update, context, "nothing_to_finish")
