"""/tasks: the rectification ledger in chat — progress reports, 销号 and leaders' decisions."""

from __future__ import annotations

import io

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import ConversationHandler

from bot.model import Attachment, Role
from bot.task_files import HEADERS, UnreadableFile, read_table, write_xlsx
from bot.tasks import STATE_LABELS, TaskAction, TaskImportError, TaskLedger, TaskState, TaskView
from bot.texts import BUTTONS, t
from handlers.callback_data import BadCallback, decode, encode
from handlers.common import Context, actor_of, desk_of, esc, keyboard, refusals, say
from handlers.render import snippet

TASK_TEXT, TASK_ATTACH, TASK_FILE = range(30, 33)
OPS = {
    "rep": TaskAction.REPORT,
    "req": TaskAction.REQUEST_CLOSE,
    "ok": TaskAction.APPROVE,
    "deem": TaskAction.DEEM,
    "back": TaskAction.SEND_BACK,
}
CODES = {action: code for code, action in OPS.items()}
BUTTON_KEYS = {
    TaskAction.REPORT: "task_report",
    TaskAction.REQUEST_CLOSE: "task_request_close",
    TaskAction.APPROVE: "task_approve",
    TaskAction.DEEM: "task_deem",
    TaskAction.SEND_BACK: "task_send_back",
}
NEEDS_TEXT = {TaskAction.REPORT, TaskAction.REQUEST_CLOSE, TaskAction.SEND_BACK}


def ledger_of(context: Context) -> TaskLedger:
    return context.application.bot_data["tasks"]


def task_button(task: dict, op: str) -> str:
    return encode("task", task["id"], task["version"], op)


def decode_task_button(data: str | None) -> tuple[int, int, str]:
    kind, parts = decode(data)
    if kind != "task" or len(parts) != 3 or parts[2] not in (*OPS, "view"):
        raise BadCallback(data)
    try:
        return int(parts[0]), int(parts[1]), parts[2]
    except ValueError:
        raise BadCallback(data) from None


def task_card(view: TaskView, context: Context) -> tuple[str, InlineKeyboardMarkup | None]:
    task = view.task
    text = t(
        "task_card",
        seq=task["seq"],
        aspect=esc(task["aspect"]),
        problem=esc(task["problem"]),
        measures=snippet(task["measures"], 600),
        leader=esc(task["leader_name"]),
        department=esc(task["department_name"]),
        owner=esc(task["owner_name"]),
        deadline=task["deadline"],
        state=STATE_LABELS[TaskState(task["state"])],
    )
    if view.reports:
        desk = desk_of(context)
        lines = [
            t(
                "task_report_line",
                time=desk.local_time(r["created_at"]),
                author=esc(r["author_name"] or ""),
                text=snippet(r["text"], 200),
                files=t("task_files", count=r["files"]) if r["files"] else "",
            )
            for r in view.reports[-8:]
        ]
        text += "\n\n" + t("task_reports") + "\n" + "\n".join(lines)
    buttons = [(BUTTONS[BUTTON_KEYS[a]], task_button(task, CODES[a])) for a in view.actions]
    return text, keyboard(
        [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    ) if buttons else None


async def _summary_text(context: Context, actor: object) -> str:
    counts = await ledger_of(context).summary(actor)
    total = sum(counts.values())
    if not total:
        return t("tasks_empty")
    parts = "，".join(
        t("tasks_summary_part", count=n, label=STATE_LABELS[state])
        for state, n in counts.items()
        if n
    )
    return t("tasks_summary", total=total, parts=parts)


@refusals
async def tasks_command(update: Update, context: Context) -> int | None:
    """/tasks, /tasks import, /tasks export."""
    actor = await actor_of(update, context)
    ledger = ledger_of(context)
    sub = context.args[0].lower() if context.args else ""
    if sub == "export":
        await send_export(update, context)
        return ConversationHandler.END
    if sub == "import":
        await ledger.export_rows(actor)  # the same leader-only check as importing
        await say(update, context, t("ask_task_file", headers="、".join(HEADERS)))
        return TASK_FILE
    tasks = await ledger.tasks_for(actor)
    if actor.role is Role.ADMIN:
        lines = [await _summary_text(context, actor)]
        waiting = [task for task in tasks if task["state"] == TaskState.CLOSE_REQUESTED]
        if waiting:
            lines.append(t("tasks_waiting", count=len(waiting)))
        rows = [
            [(f"第{task['seq']}项 {BUTTONS['view']}", task_button(task, "view"))]
            for task in waiting[:20]
        ]
        rows.append([(BUTTONS["task_export"], encode("tasks", "export"))])
        await say(update, context, "\n".join(lines), keyboard(rows))
        return ConversationHandler.END
    if not tasks:
        await say(update, context, t("tasks_mine_empty"))
        return ConversationHandler.END
    lines = [t("tasks_mine", count=len(tasks))] + [
        t(
            "task_line",
            seq=task["seq"],
            state=STATE_LABELS[TaskState(task["state"])],
            deadline=task["deadline"],
            owner=esc(task["owner_name"]),
        )
        for task in tasks
    ]
    rows = [[(f"第{task['seq']}项", task_button(task, "view"))] for task in tasks[:30]]
    await say(update, context, "\n".join(lines), keyboard(rows))
    return ConversationHandler.END


async def send_export(update: Update, context: Context) -> None:
    """The ledger as an XLSX document (leaders only)."""
    actor = await actor_of(update, context)
    rows = await ledger_of(context).export_rows(actor)
    buffer = io.BytesIO()
    write_xlsx(rows, buffer, "整改任务台账")
    desk = desk_of(context)
    caption = t(
        "task_export_caption",
        total=len(rows),
        time=desk.now().astimezone(desk.zone).strftime("%Y-%m-%d %H:%M"),
    )
    if update.callback_query is not None:
        await update.callback_query.answer()
    await context.bot.send_document(
        update.effective_chat.id,
        document=buffer.getvalue(),
        filename=f"整改任务台账-{desk.today().isoformat()}.xlsx",
        caption=caption,
    )


@refusals
async def export_pressed(update: Update, context: Context) -> None:
    """导出台账 button."""
    await send_export(update, context)


@refusals
async def file_received(update: Update, context: Context) -> int | None:
    """The CSV/XLSX to import: validated as a whole, imported all or nothing."""
    actor = await actor_of(update, context)
    document = update.message.document
    telegram_file = await context.bot.get_file(document.file_id)
    data = bytes(await telegram_file.download_as_bytearray())
    try:
        rows = read_table(data, document.file_name or "")
    except UnreadableFile as exc:
        await say(update, context, t("error_task_file", reason=esc(exc)))
        return None
    try:
        count = await ledger_of(context).import_table(actor, rows)
    except TaskImportError as exc:
        lines = [t("error_task_import", count=len(exc.problems))]
        lines += [t("task_import_line", row=r, problem=esc(p)) for r, p in exc.problems[:30]]
        await say(update, context, "\n".join(lines))
        return ConversationHandler.END
    await say(
        update,
        context,
        t("task_imported", count=count) + "\n" + await _summary_text(context, actor),
    )
    return ConversationHandler.END


async def file_expected(update: Update, context: Context) -> None:
    """Text where the import file is expected."""
    await say(update, context, t("ask_task_file", headers="、".join(HEADERS)))


@refusals
async def task_pressed(update: Update, context: Context) -> int | None:
    """A task button: show it, decide at once, or ask for the text an action needs."""
    task_id, version, op = decode_task_button(update.callback_query.data)
    actor = await actor_of(update, context)
    ledger = ledger_of(context)
    if op == "view":
        text, markup = task_card(await ledger.view(actor, task_id), context)
        await say(update, context, text, markup)
        return ConversationHandler.END
    action = OPS[op]
    task = await ledger.preflight(actor, task_id, action, version)
    if action in NEEDS_TEXT:
        context.user_data["task_pending"] = {"id": task_id, "version": version, "action": action}
        await say(update, context, t(f"ask_task_{action}", seq=task["seq"]))
        return TASK_TEXT
    await _act(update, context, task_id, version, action, None, [])
    return ConversationHandler.END


async def _act(
    update: Update,
    context: Context,
    task_id: int,
    version: int,
    action: TaskAction,
    text: str | None,
    attachments: list[Attachment],
) -> None:
    actor = await actor_of(update, context)
    outcome = await ledger_of(context).act(actor, task_id, action, version, text, attachments)
    task = outcome.task
    view = await ledger_of(context).view(actor, task_id)
    _, markup = task_card(view, context)
    await say(update, context, t(f"done_task_{action}", seq=task["seq"]), markup)
    if outcome.notify:
        notice = t(
            f"notice_task_{action}",
            seq=task["seq"],
            owner=esc(task["owner_name"]),
            problem=snippet(task["problem"], 200),
            text=esc(outcome.text or ""),
        )
        rows = None
        if action is TaskAction.REQUEST_CLOSE:
            rows = keyboard([[(f"第{task['seq']}项 {BUTTONS['view']}", task_button(task, "view"))]])
        for chat_id in outcome.notify:
            await context.bot.send_message(chat_id, notice, reply_markup=rows)


def _attachment(update: Update) -> Attachment | None:
    message = update.effective_message
    if message.photo:
        photo = message.photo[-1]
        return Attachment("photo", photo.file_id, photo.file_unique_id)
    if message.document:
        doc = message.document
        return Attachment("document", doc.file_id, doc.file_unique_id, doc.file_name)
    return None


@refusals
async def task_text(update: Update, context: Context) -> int:
    """The text (and maybe a file) of a report, a 销号 request or a send-back reason."""
    pending = context.user_data["task_pending"]
    attachment = _attachment(update)
    message = update.effective_message
    text = message.text or message.caption or ("（附件）" if attachment else "")
    await _act(
        update,
        context,
        pending["id"],
        pending["version"],
        pending["action"],
        text,
        [attachment] if attachment else [],
    )
    if pending["action"] is TaskAction.REPORT:
        return TASK_ATTACH
    context.user_data.pop("task_pending", None)
    return ConversationHandler.END


@refusals
async def task_attachment(update: Update, context: Context) -> int:
    """More photos or files for the report just made."""
    pending = context.user_data["task_pending"]
    actor = await actor_of(update, context)
    await ledger_of(context).add_attachment(actor, pending["id"], _attachment(update))
    view = await ledger_of(context).view(actor, pending["id"])
    await say(update, context, t("done_task_attachment", seq=view.task["seq"]))
    return TASK_ATTACH


async def task_done(update: Update, context: Context) -> int:
    """/done: the report is complete."""
    context.user_data.pop("task_pending", None)
    await say(update, context, t("task_done"))
    return ConversationHandler.END
