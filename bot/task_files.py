"""Reading the task tables people upload: CSV (UTF-8 or GBK) or XLSX, as text rows."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path

from bot.rules.tasks import COLUMNS
from bot.texts import t

HEADERS = [t(f"task_column.{c}") for c in COLUMNS]


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
