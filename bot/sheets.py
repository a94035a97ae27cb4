"""Spreadsheets a clerk can use as they come: real dates in date formats, wrapped text in
sensible widths, a frozen header with filters, and A4 landscape pages fitted to the width
with the header repeated on each. Written row by row with xlsxwriter's constant-memory
mode, so a year's ledger does not have to fit in memory (xlsxwriter writes formatted cells
3–4 times as fast as openpyxl's write-only mode: docs/performance.md)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.texts import t

TEXT, WRAP, DATE, DATETIME, NUMBER = "text", "wrap", "date", "datetime", "number"
FORMATS = {DATE: "yyyy-mm-dd", DATETIME: "yyyy-mm-dd hh:mm", NUMBER: "0"}
EXCEL_CELL_LIMIT = 32767
LINE_POINTS = 14  # one line of 10-point text, with leading
MAX_ROW_POINTS = 409  # Excel's highest row


def _lines_needed(value: Any, width: float) -> int:
    """Lines a text takes wrapped in a column `width` characters wide (a Chinese character
    is two of them)."""
    if not isinstance(value, str) or not value:
        return 1
    room = int(max(width - 1, 1))
    if "\n" not in value and len(value.encode()) <= room:
        return 1  # the common short cell, without looking at each character
    total = 0
    for line in value.split("\n"):
        # A Chinese character is three bytes in UTF-8 and two columns wide: counting
        # bytes (in C) gives the width closely enough to size a row.
        size = len(line.encode())
        units = len(line) + (size - len(line)) // 2
        total += max(1, -(-units // room))
    return total


@dataclass(frozen=True)
class Column:
    header: str
    width: int
    kind: str = TEXT  # TEXT | WRAP | DATE | DATETIME | NUMBER


def cell_text(text: str) -> str:
    """Excel holds at most 32,767 characters in a cell."""
    return text if len(text) <= EXCEL_CELL_LIMIT else text[: EXCEL_CELL_LIMIT - 1] + "…"


class _Sheet:
    """One worksheet being written row by row (xlsxwriter's constant-memory mode for files);
    `add` rows, then `close`."""

    def __init__(self, target: Path | io.BytesIO, title: str, columns: list[Column]) -> None:
        import xlsxwriter

        self.columns = columns
        options = {
            # User text is text: never a formula (=…) or a link, whatever it starts with.
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        }
        # Files are streamed; a sheet kept in memory (a small one sent as bytes) is written
        # whole at the end.
        self.streaming = not isinstance(target, io.BytesIO)
        options["constant_memory" if self.streaming else "in_memory"] = True
        self.book = xlsxwriter.Workbook(target, options)
        sheet = self.sheet = self.book.add_worksheet(title)
        for index, column in enumerate(columns):
            sheet.set_column(index, index, column.width)
        # The first column (the number) stays in view when scrolling right or down.
        sheet.freeze_panes(1, 1)
        sheet.repeat_rows(0)
        sheet.set_landscape()
        sheet.set_paper(9)  # A4
        sheet.fit_to_pages(1, 0)  # as wide as one page, as many pages down as needed
        sheet.hide_gridlines(0)  # grid lines on screen and on paper
        sheet.set_footer("&C" + t("sheet.footer", title=title.replace("&", "&&")))
        self.formats = {
            kind: self.book.add_format(
                {
                    "font_size": 10,
                    "valign": "top",
                    "text_wrap": kind == WRAP,
                    **({"num_format": FORMATS[kind]} if kind in FORMATS else {}),
                }
            )
            for kind in (TEXT, WRAP, DATE, DATETIME, NUMBER)
        }
        header = self.book.add_format(
            {"bold": True, "text_wrap": True, "valign": "vcenter", "align": "center",
             "bg_color": "#DDE4EE", "bottom": 1, "font_size": 11}
        )  # fmt: skip
        headers = [column.header for column in columns]
        lines = max(_lines_needed(h, c.width) for c, h in zip(columns, headers, strict=True))
        sheet.set_row(0, LINE_POINTS * lines + 4)
        for index, text in enumerate(headers):
            sheet.write_string(0, index, text, header)
        self.rows = 0

    def add(self, values: list[Any]) -> None:
        row = self.rows + 1
        lines = max(
            (_lines_needed(v, c.width) for c, v in zip(self.columns, values, strict=True)),
            default=1,
        )
        if lines > 1:
            # Not every reader grows rows for wrapped text by itself (LibreOffice does not
            # on opening), so the height is set.
            self.sheet.set_row(row, min(LINE_POINTS * lines + 3, MAX_ROW_POINTS))
        for index, (column, value) in enumerate(zip(self.columns, values, strict=True)):
            value = _excel_value(value)
            style = self.formats[column.kind]
            if value is None or value == "":
                self.sheet.write_blank(row, index, None, style)
            elif isinstance(value, str):
                self.sheet.write_string(row, index, value, style)
            else:
                self.sheet.write(row, index, value, style)
        # The previous row is on disk now (constant-memory mode writes a row when the next
        # begins), but xlsxwriter keeps every row's height in two dicts: dropping the
        # written row's entries keeps a year's ledger in flat memory.
        if self.streaming:
            self.sheet.row_info.pop(row - 1, None)
            self.sheet.row_sizes.pop(row - 1, None)
        self.rows += 1

    def close(self) -> None:
        self.sheet.autofilter(0, 0, self.rows, len(self.columns) - 1)
        self.book.close()


def _excel_value(value: Any) -> Any:
    """Times are written as local wall-clock times (Excel has no time zones)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    if isinstance(value, str):
        return cell_text(value)
    return value


def write_sheet(
    rows: Iterable[list[Any]], target: Path | io.BytesIO, title: str, columns: list[Column]
) -> int:
    """A one-sheet workbook; returns the number of rows written (header aside)."""
    sheet = _Sheet(target, title, columns)
    for row in rows:
        sheet.add(row)
    sheet.close()
    return sheet.rows


async def write_sheet_async(
    rows: AsyncIterable[list[Any]], target: Path | io.BytesIO, title: str, columns: list[Column]
) -> int:
    """write_sheet fed from an async source, one row at a time (memory stays flat)."""
    sheet = _Sheet(target, title, columns)
    async for row in rows:
        sheet.add(row)
    sheet.close()
    return sheet.rows
