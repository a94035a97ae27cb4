"""Spreadsheets: reading CSV / XLSX tables and writing XLSX (openpyxl, streaming)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.rules.tasks import COLUMNS
from bot.texts import t

if TYPE_CHECKING:  # openpyxl loads when a spreadsheet is read or written, not at start-up
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

HEADERS = [t(f"task_column.{c}") for c in COLUMNS]
COLUMN_WIDTHS = [6, 24, 48, 60, 12, 16, 10, 12, 18]


class UnreadableFile(ValueError):
    """Not a CSV or XLSX file this ledger can read; `key` and `params` word the reason."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _decode_csv(data: bytes) -> str:
    # Excel in Chinese Windows saves CSV as GBK; elsewhere UTF-8 (often with a BOM).
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("file_bad_encoding")


def read_table(data: bytes, file_name: str) -> list[list[str]]:
    """All rows of the first sheet (or the CSV) as text, header row included."""
    suffix = Path(file_name).suffix.lower()
    if suffix == ".csv":
        return [[c.strip() for c in row] for row in csv.reader(io.StringIO(_decode_csv(data)))]
    if suffix in (".xlsx", ".xlsm"):
        try:
            from openpyxl import load_workbook

            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged file
            raise UnreadableFile("file_not_xlsx") from exc
        try:
            sheet = book.worksheets[0]
            return [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        finally:
            book.close()
    raise UnreadableFile("file_unsupported", suffix=suffix or t("file_no_suffix"))


def _new_sheet(title: str, headers: list[str], widths: list[int]) -> tuple[Workbook, object]:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    for index, width in enumerate(widths):
        sheet.column_dimensions[get_column_letter(index + 1)].width = width
    sheet.freeze_panes = "A2"
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    sheet.append([_styled(sheet, name, bold, wrap) for name in headers])
    return book, sheet


def write_xlsx(
    rows: Iterable[list[object]],
    target: Path | io.BytesIO,
    title: str,
    headers: list[str] = HEADERS,
    widths: list[int] = COLUMN_WIDTHS,
) -> None:
    """A one-sheet workbook written row by row (write-only mode keeps memory flat)."""
    book, sheet = _new_sheet(title, headers, widths)
    from openpyxl.styles import Alignment

    wrap = Alignment(wrap_text=True, vertical="top")
    for row in rows:
        sheet.append([_styled(sheet, value, None, wrap) for value in row])
    book.save(target)


async def write_xlsx_async(
    rows: AsyncIterator[list[object]],
    target: Path | io.BytesIO,
    title: str,
    headers: list[str],
    widths: list[int],
) -> None:
    """write_xlsx fed from an async source, one row at a time (memory stays flat)."""
    book, sheet = _new_sheet(title, headers, widths)
    async for row in rows:
        sheet.append(row)
    book.save(target)


def _styled(sheet: object, value: object, font: Font | None, alignment: Alignment) -> WriteOnlyCell:
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    if font is not None:
        cell.font = font
    cell.alignment = alignment
    return cell
