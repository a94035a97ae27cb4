"""The enterprise directory as a spreadsheet: the roster's columns (so the file imports back
as it is), then whether each enterprise has registered and how many contacts it has."""

from __future__ import annotations

import io
from pathlib import Path

from bot.rules.directory import ROSTER_COLUMNS
from bot.sheets import NUMBER, TEXT, WRAP, Column, write_sheet
from bot.texts import name, t
from bot.usecases.directory import ExportedEntry

WIDTHS = {
    "name": (30, WRAP), "uscc": (21, TEXT), "industry": (18, WRAP), "district": (10, WRAP),
    "scale": (7, TEXT), "tags": (22, WRAP), "baobao": (10, WRAP),
}  # fmt: skip


def columns() -> list[Column]:
    return [Column(t(f"roster_column.{c}"), *WIDTHS[c]) for c in ROSTER_COLUMNS] + [
        Column(t("roster_column.registered"), 10, TEXT),
        Column(t("roster_column.contacts"), 10, NUMBER),
    ]


def row(item: ExportedEntry) -> list[object]:
    entry = item.entry
    return [
        entry.name,
        entry.uscc,
        entry.industry,
        entry.district,
        name("scale", entry.scale) if entry.scale else "",
        "、".join(entry.tags),
        item.baobao,
        t("directory_yes") if entry.enterprise_id is not None else t("directory_no"),
        item.contacts if entry.enterprise_id is not None else None,
    ]


def write_directory(entries: list[ExportedEntry], target: Path | io.BytesIO) -> int:
    """Write the directory; returns the number of enterprises."""
    return write_sheet((row(e) for e in entries), target, t("directory_sheet_title"), columns())
