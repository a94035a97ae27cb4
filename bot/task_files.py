"""Reading the tables people upload (the task ledger, the enterprise roster): CSV (UTF-8 or
GBK) or XLSX, as text rows.

Of a workbook, the first sheet with the table's header is read (else the first sheet).
Row i of the result is the spreadsheet's row i + 1 (leading empty rows kept), so problems
are named by the row number the clerk sees. In an XLSX, a cell Excel shows as a date comes
as its ISO date, whatever its number format, and a merged range gives its value to every
cell it covers (a 方面 or 责任领导 merged down several rows belongs to each of them)."""

from __future__ import annotations

import codecs
import csv
import io
from datetime import date, datetime
from pathlib import Path

from bot.rules.refusals import TaskImportError
from bot.rules.tasks import COLUMNS, find_header
from bot.texts import t

HEADERS = [t(f"task_column.{c}") for c in COLUMNS]


class UnreadableFile(ValueError):
    """Not a CSV or XLSX file this ledger can read; `key` and `params` word the reason."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


# Excel's built-in number formats that depend on the locale (East Asian and Thai dates)
# are not written into the file, so openpyxl cannot tell that such a number is a date.
LOCALE_DATE_FORMATS = frozenset({27, 28, 29, 30, 31, 36, 50, 51, 52, 53, 54, 57, 58})
LOCALE_DATE_FORMATS |= frozenset({71, 72, 73, 74, 77, 81})
MERGE_TAG = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}mergeCell"


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


def _xlsx_value(cell: object, epoch: datetime) -> object:
    """A cell's value, a number in a locale date format read as the date Excel shows."""
    value = getattr(cell, "value", None)
    style = getattr(cell, "style_array", None) if getattr(cell, "has_style", False) else None
    if (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and style is not None
        and style.numFmtId in LOCALE_DATE_FORMATS
    ):
        from openpyxl.utils.datetime import from_excel

        try:
            return from_excel(value, epoch)
        except (ValueError, OverflowError):
            return value
    return value


def _merged_ranges(book: object, sheet: object) -> list[tuple[int, int, int, int]]:
    """(min_col, min_row, max_col, max_row) of each merged range, read from the sheet's XML
    (a read-only sheet does not parse them)."""
    from xml.etree.ElementTree import iterparse

    from openpyxl.utils.cell import range_boundaries

    ranges = []
    with book._archive.open(sheet._worksheet_path) as xml:
        for _, element in iterparse(xml):
            if element.tag == MERGE_TAG and element.get("ref"):
                ranges.append(range_boundaries(element.get("ref")))
            element.clear()
    return ranges


def _fill_merged(rows: list[list[str]], ranges: list[tuple[int, int, int, int]]) -> None:
    for min_col, min_row, max_col, max_row in ranges:
        if min_row > len(rows) or min_col > len(rows[min_row - 1]):
            continue
        value = rows[min_row - 1][min_col - 1]
        for row in rows[min_row - 1 : max_row]:
            row.extend([""] * (max_col - len(row)))
            row[min_col - 1 : max_col] = [value] * (max_col - min_col + 1)


def _sheet_rows(book: object, sheet: object) -> list[list[str]]:
    sheet.reset_dimensions()  # some writers declare a wrong size; read what is there
    rows = [[_cell_text(_xlsx_value(c, book.epoch)) for c in row] for row in sheet.iter_rows()]
    _fill_merged(rows, _merged_ranges(book, sheet))
    return rows


TASK_HEADERS = dict(zip(COLUMNS, HEADERS, strict=True))


def _has_header(rows: list[list[str]], headers: dict[str, str], optional: frozenset[str]) -> bool:
    try:
        find_header(rows, headers, optional)
    except TaskImportError:
        return False
    return True


def _read_xlsx(data: bytes, headers: dict[str, str], optional: frozenset[str]) -> list[list[str]]:
    try:
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise UnreadableFile("file_not_xlsx") from exc
    try:
        # The table is the first sheet with its header (a cover or 说明 sheet may come first).
        first = None
        for sheet in book.worksheets:
            rows = _sheet_rows(book, sheet)
            if _has_header(rows, headers, optional):
                return rows
            first = rows if first is None else first
        return first or []
    except UnreadableFile:
        raise
    except Exception as exc:  # a damaged sheet inside a readable archive
        raise UnreadableFile("file_not_xlsx") from exc
    finally:
        book.close()


def _decode_csv(data: bytes) -> str:
    # Excel in Chinese Windows saves CSV as GBK; elsewhere UTF-8 (often with a BOM); its
    # "Unicode text" is UTF-16 with a byte-order mark.
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise UnreadableFile("file_bad_encoding") from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("file_bad_encoding")


def _tab_separated(text: str, suffix: str, data: bytes, columns: int) -> bool:
    """Excel's "Unicode text" (UTF-16) and .tsv separate cells with tabs; another text
    table does when one of its first lines holds a tab between every two of its `columns`
    (a cell may hold commas: 1,000万元)."""
    if suffix == ".tsv" or data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    return any(line.count("\t") >= columns - 1 for line in text.split("\n", 10)[:10])


# A table saved as text: CSV, or Excel's "Unicode text" (.txt, tab-separated UTF-16).
TEXT_TABLES = (".csv", ".txt", ".tsv")


def read_table(
    data: bytes,
    file_name: str,
    headers: dict[str, str] = TASK_HEADERS,
    optional: frozenset[str] = frozenset(),
) -> list[list[str]]:
    """All rows of the sheet with `headers` (else the first sheet), or of the CSV, as text,
    header row included. `headers`: the table's columns (the task ledger's by default), by
    key, and those that may be missing, as `find_header` takes them."""
    suffix = Path(file_name).suffix.lower()
    if suffix in TEXT_TABLES:
        try:
            # old Mac line ends (CR alone) too; tabs where Excel's Unicode text puts them
            text = _decode_csv(data).replace("\r\n", "\n").replace("\r", "\n")
            tabs = _tab_separated(text, suffix, data, len(headers) - len(optional))
            delimiter = "\t" if tabs else ","
            reader = csv.reader(io.StringIO(text), delimiter=delimiter)
            return [[c.strip() for c in row] for row in reader]
        except csv.Error as exc:  # a NUL byte, or a binary file named .csv
            raise UnreadableFile("file_not_csv") from exc
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(data, headers, optional)
    raise UnreadableFile("file_unsupported", suffix=suffix or t("file_no_suffix"))
