"""Spreadsheets a clerk can use as they come: real dates in date formats, wrapped text in
sensible widths, a frozen header with filters, and A4 landscape pages fitted to the width
with the header repeated on each. Written row by row (openpyxl's write-only mode), so a
year's ledger does not have to fit in memory."""

from __future__ import annotations

import io
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from unicodedata import east_asian_width

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
    room = max(width - 1, 1)
    total = 0
    for line in value.split("\n"):
        units = sum(2 if east_asian_width(ch) in "WF" else 1 for ch in line)
        total += max(1, -(-units // int(room)))
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
    """One worksheet being written; `add` a row of values, then `save`."""

    def __init__(self, title: str, columns: list[Column]) -> None:
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
        from openpyxl.utils import get_column_letter
        from openpyxl.worksheet.worksheet import Worksheet

        self.columns = columns
        self.book = Workbook(write_only=True)
        sheet = self.sheet = self.book.create_sheet(title)
        self.last_column = get_column_letter(len(columns))
        for index, column in enumerate(columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = column.width
        # The first column (the number) stays in view when scrolling right or down.
        sheet.freeze_panes = "B2"
        sheet.print_title_rows = "1:1"
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.paperSize = Worksheet.PAPERSIZE_A4
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0  # as many pages down as needed
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        sheet.print_options.gridLines = True
        sheet.oddFooter.center.text = t("sheet.footer", title=title)
        thin = Side(style="thin", color="999999")
        self.top = Alignment(vertical="top")
        self.wrap = Alignment(vertical="top", wrap_text=True)
        self.body = Font(size=10)
        self.header_style = (
            Font(bold=True),
            Alignment(vertical="center", horizontal="center", wrap_text=True),
            PatternFill("solid", start_color="DDE4EE"),
            Border(bottom=thin),
        )
        self.rows = 0
        headers = [column.header for column in columns]
        lines = max(_lines_needed(h, c.width) for c, h in zip(columns, headers, strict=True))
        sheet.row_dimensions[1].height = LINE_POINTS * lines + 4
        self._append(headers, header=True)

    def _append(self, values: list[Any], header: bool = False) -> None:
        from openpyxl.cell import WriteOnlyCell

        cells = []
        for column, value in zip(self.columns, values, strict=True):
            cell = WriteOnlyCell(self.sheet, value=_excel_value(value))
            if header:
                cell.font, cell.alignment, cell.fill, cell.border = self.header_style
            else:
                cell.font = self.body
                cell.alignment = self.wrap if column.kind == WRAP else self.top
                if column.kind in FORMATS and value not in (None, ""):
                    cell.number_format = FORMATS[column.kind]
            cells.append(cell)
        self.sheet.append(cells)

    def add(self, values: list[Any]) -> None:
        row = self.rows + 2  # after the header, counting from 1
        lines = max(
            (_lines_needed(v, c.width) for c, v in zip(self.columns, values, strict=True)),
            default=1,
        )
        if lines > 1:
            # Not every reader grows rows for wrapped text by itself (LibreOffice does not
            # on opening), so the height is set; the entry is dropped once the row is out.
            self.sheet.row_dimensions[row].height = min(LINE_POINTS * lines + 3, MAX_ROW_POINTS)
        self._append(values)
        self.sheet.row_dimensions.pop(row, None)
        self.rows += 1

    def save(self, target: Path | io.BytesIO) -> None:
        self.sheet.auto_filter.ref = f"A1:{self.last_column}{self.rows + 1}"
        self.book.save(target)


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
    sheet = _Sheet(title, columns)
    for row in rows:
        sheet.add(row)
    sheet.save(target)
    return sheet.rows


async def write_sheet_async(
    rows: AsyncIterable[list[Any]], target: Path | io.BytesIO, title: str, columns: list[Column]
) -> int:
    """write_sheet fed from an async source, one row at a time (memory stays flat)."""
    sheet = _Sheet(title, columns)
    async for row in rows:
        sheet.add(row)
    sheet.save(target)
    return sheet.rows
