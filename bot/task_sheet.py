"""The rectification task ledger (整改任务台账) as a spreadsheet: the nine columns the import
reads, then each task's progress reports and 销号 decisions — so the file re-imports as it is
and shows what was done."""

from __future__ import annotations

import io
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.rules.model import Task, TaskReport
from bot.rules.tasks import COLUMNS
from bot.sheets import DATE, NUMBER, TEXT, WRAP, Column, write_sheet
from bot.texts import name, t

WIDTHS = {
    "seq": (6, NUMBER), "aspect": (14, WRAP), "problem": (34, WRAP), "measures": (38, WRAP),
    "leader_name": (9, WRAP), "department_name": (13, WRAP), "owner_name": (9, WRAP),
    "deadline": (11, DATE), "state": (12, WRAP),
}  # fmt: skip
# After the import columns (which the import finds by their headers, so these are ignored).
EXTRA = (("progress", 40, WRAP), ("decisions", 30, WRAP))


def columns() -> list[Column]:
    return [Column(t(f"task_column.{c}"), *WIDTHS.get(c, (12, TEXT))) for c in COLUMNS] + [
        Column(t(f"task_column.{c}"), width, kind) for c, width, kind in EXTRA
    ]


def _lines(reports: list[TaskReport], kind: str, zone: ZoneInfo) -> str:
    return "\n".join(
        t(
            "task_sheet.report_line",
            time=r.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            author=r.author_name or t("leader_actor"),
            text=r.text,
            files=t("task_sheet.files", count=r.files) if r.files else "",
        )
        for r in reports
        if r.kind == kind
    )


def row(task: Task, reports: list[TaskReport], zone: ZoneInfo) -> list[object]:
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
        _lines(reports, "progress", zone),
        _lines(reports, "decision", zone),
    ]


def write_task_ledger(
    entries: list[tuple[Task, list[TaskReport]]], target: Path | io.BytesIO, zone: ZoneInfo
) -> int:
    """Write the ledger; returns the number of tasks."""
    return write_sheet(
        (row(task, reports, zone) for task, reports in entries),
        target,
        t("task_sheet_title"),
        columns(),
    )
