"""The rectification task ledger (整改任务台账) as a spreadsheet: the nine columns the import
reads, then each task's history — progress reports, the 销号 requests and decisions, the
责任人 named — each event in its column with its author and time, so the file re-imports as
it is and shows what was done and by whom."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.rules.model import Task
from bot.rules.task_ledger import ASSIGN, HISTORY_COLUMNS, TaskEntry, column_of, overdue_days
from bot.rules.tasks import COLUMNS
from bot.sheets import DATE, NUMBER, TEXT, WRAP, Column, write_sheet
from bot.texts import name, t
from bot.texts.events import person_name

WIDTHS = {
    "seq": (6, NUMBER), "aspect": (14, WRAP), "problem": (34, WRAP), "measures": (38, WRAP),
    "leader_name": (9, WRAP), "department_name": (13, WRAP), "owner_name": (9, WRAP),
    "deadline": (11, DATE), "state": (12, WRAP),
}  # fmt: skip
# After the import columns (which the import finds by their headers, so these are ignored).
EXTRA_WIDTHS = {"progress": 40, "decisions": 34, "owners": 20}
# Last: the days a task is past its 整改时限 on the day of the export (blank: not overdue).
OVERDUE_WIDTH = 10


def columns() -> list[Column]:
    return (
        [Column(t(f"task_column.{c}"), *WIDTHS.get(c, (12, TEXT))) for c in COLUMNS]
        + [Column(t(f"task_column.{c}"), EXTRA_WIDTHS[c], WRAP) for c in HISTORY_COLUMNS]
        + [Column(t("task_column.overdue_days"), OVERDUE_WIDTH, NUMBER)]
    )


def entry_text(entry: TaskEntry, zone: ZoneInfo, quote: Callable[[str], str] = str) -> str:
    """One event as a line: when, who, what, and what they wrote (`quote` makes the
    people's words safe where the line goes: HTML in chat, nothing in a sheet)."""
    author = quote(person_name(entry.author_name, entry.author_role))
    when = entry.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    event = name("event", entry.kind, default=entry.kind)
    if entry.kind == ASSIGN:
        official = t("task_entry_gone")
        if entry.official_name is not None:
            official = quote(person_name(entry.official_name, "official"))
        return t("task_entry_assign", time=when, author=author, official=official)
    if not entry.text:
        return t("task_entry_bare", time=when, author=author, event=event)
    files = t("task_sheet.files", count=entry.files) if entry.files else ""
    return t(
        "task_entry", time=when, author=author, event=event, text=quote(entry.text), files=files
    )


def row(task: Task, entries: list[TaskEntry], zone: ZoneInfo, today: date) -> list[object]:
    by_column: dict[str, list[str]] = {c: [] for c in HISTORY_COLUMNS}
    for entry in entries:
        column = column_of(entry.kind)
        if column is not None:
            by_column[column].append(entry_text(entry, zone))
    return [
        task.seq,
        task.aspect,
        task.problem,
        task.measures,
        task.leader_name,
        task.department_name,
        task.owner_name,
        task.deadline,
        name("task_state", task.state),
        *("\n".join(by_column[c]) for c in HISTORY_COLUMNS),
        overdue_days(task, today) or None,
    ]


def write_task_ledger(
    entries: list[tuple[Task, list[TaskEntry]]],
    target: Path | io.BytesIO,
    zone: ZoneInfo,
    today: date,
) -> int:
    """Write the ledger as of `today` (which tasks are overdue); returns the number of tasks."""
    return write_sheet(
        (row(task, history, zone, today) for task, history in entries),
        target,
        t("task_sheet_title"),
        columns(),
    )
