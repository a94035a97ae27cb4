"""Spreadsheets a clerk can use as they come: real dates in date formats, wrapped text in
sensible widths, a frozen header with filters, and A4 landscape pages that print readably
(type at least 8 pt on paper, the header row and the title on every page, pages numbered).
Written row by row with xlsxwriter's constant-memory mode, so a year's ledger does not have
to fit in memory (xlsxwriter writes formatted cells 3–4 times as fast as openpyxl's
write-only mode: docs/performance.md)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import multiprocessing
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterable, Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.texts import t

TEXT, WRAP, DATE, DATETIME, NUMBER = "text", "wrap", "date", "datetime", "number"
FORMATS = {DATE: "yyyy-mm-dd", DATETIME: "yyyy-mm-dd hh:mm", NUMBER: "0"}
EXCEL_CELL_LIMIT = 32767
LINE_POINTS = 14  # one line of 10-point text, with leading (a larger type takes more)
MAX_ROW_POINTS = 409  # Excel's highest row

# Paper. Type is set in BODY_POINTS unless a sheet says otherwise (the header row in
# HEADER_POINTS) and must print at MIN_PRINTED_POINTS or more: a sheet is fitted to the page
# width only while that keeps its type this large; a wider sheet prints over several pages
# side by side, at the largest scale that keeps it so (print_scale).
BODY_POINTS, HEADER_POINTS = 10, 11
MIN_PRINTED_POINTS = 8
A4_LANDSCAPE_WIDTH = 841.89  # points (297 mm)
SIDE_MARGIN, TOP_MARGIN, BOTTOM_MARGIN = 0.3, 0.75, 0.75  # inches
HEADER_MARGIN = FOOTER_MARGIN = 0.3  # inches


def column_points(width: float) -> float:
    """The printed width, at 100 %, of a column `width` characters wide, as the wider of the
    two programs that print our files measures it: Excel counts the default font's digits
    (Calibri 11: 7 pixels) plus 5 pixels, at 96 pixels to the inch, (7w + 5) · 0.75 points;
    LibreOffice without Calibri's metrics (no Carlito font installed) gives 7w + 5 points, a
    third more. Fitting to the wider keeps the type large enough in both."""
    return 7 * width + 5


def printable_width() -> float:
    """The width between the side margins of a landscape A4 page, in points."""
    return A4_LANDSCAPE_WIDTH - 2 * SIDE_MARGIN * 72


def fit_scale(columns: Sequence[Column]) -> float:
    """The scale at which `columns` fill the page width (never above 1: fitting does not
    enlarge)."""
    return min(1.0, printable_width() / sum(column_points(c.width) for c in columns))


def fits_one_page_wide(columns: Sequence[Column], points: float = BODY_POINTS) -> bool:
    """Whether the sheet fits the page width with its type (`points`) still printing at
    MIN_PRINTED_POINTS or more."""
    return points * fit_scale(columns) >= MIN_PRINTED_POINTS


def page_breaks(columns: Sequence[Column], scale: float) -> list[int]:
    """Where each page across begins (column indexes, the first page aside) when the sheet
    prints at `scale` over several pages side by side, each page repeating the first column:
    as many whole columns as fit on each."""
    room = printable_width() / scale
    first = column_points(columns[0].width)
    breaks, used = [], first
    for index, column in enumerate(columns[1:], start=1):
        width = column_points(column.width)
        if used + width > room and used > first:
            breaks.append(index)
            used = first
        used += width
    return breaks


def pages_fit(columns: Sequence[Column], breaks: list[int], scale: float) -> bool:
    """Whether each page across, split at `breaks` and starting with the first column (on
    later pages repeated), holds its columns at `scale`."""
    widths = [column_points(c.width) for c in columns]
    starts = [0, *breaks, len(widths)]
    return all(
        (sum(widths[start:end]) + (widths[0] if start else 0)) * scale <= printable_width()
        for start, end in zip(starts, starts[1:], strict=False)
    )


def print_scale(columns: Sequence[Column], points: float = BODY_POINTS) -> tuple[int, list[int]]:
    """For a sheet too wide for one page: the print scale (percent) and the page breaks
    across. Type never prints under MIN_PRINTED_POINTS; of the scales at which every page
    holds its columns, one needing the fewest pages across, and of those the largest."""
    lowest = math.ceil(100 * MIN_PRINTED_POINTS / points)
    plans = []
    for percent in range(100, lowest - 1, -1):
        breaks = page_breaks(columns, percent / 100)
        if pages_fit(columns, breaks, percent / 100):
            plans.append((len(breaks), -percent, breaks))
    if not plans:  # a column too wide for any page: the smallest readable type
        return lowest, page_breaks(columns, lowest / 100)
    _, percent, breaks = min(plans, key=lambda plan: plan[:2])
    return -percent, breaks


def cut_to_row(text: str, width: float, points: float, note: str) -> str:
    """`text` as far as the highest row shows it in a column `width` wide, ending with
    `note` where it was cut."""
    lines = int((MAX_ROW_POINTS - 3) // line_points(points))
    if _lines_needed(text, width, points) <= lines:
        return text
    low, high = 0, len(text)  # the longest prefix that fits with the note
    while low < high:
        middle = (low + high + 1) // 2
        if _lines_needed(text[:middle] + note, width, points) <= lines:
            low = middle
        else:
            high = middle - 1
    return text[:low] + note


def _lines_needed(value: Any, width: float, points: float = BODY_POINTS) -> int:
    """Lines a text in `points` type takes wrapped in a column `width` characters wide (a
    Chinese character of 10-point type is two of them)."""
    if not isinstance(value, str) or not value:
        return 1
    room = int(max((width - 1) * BODY_POINTS / max(points, BODY_POINTS), 1))
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


def line_points(points: float) -> float:
    """The height of one line of `points` type, with leading."""
    return LINE_POINTS * max(points, BODY_POINTS) / BODY_POINTS


@dataclass(frozen=True)
class Column:
    header: str
    width: float
    kind: str = TEXT  # TEXT | WRAP | DATE | DATETIME | NUMBER


@dataclass(frozen=True)
class SheetSpec:
    """One worksheet of a workbook: its tab name, columns, and the line its printed pages
    carry at the top (the tab name when none)."""

    title: str
    columns: list[Column]
    caption: str | None = None
    points: float = BODY_POINTS  # the type of the rows
    # For paper: a wrapped text longer than the highest row shows is cut to fit and ends
    # with this note (else the cell keeps it all, and paper shows only what the row holds).
    cut_note: str | None = None


_UNSAFE_IN_NAMES = str.maketrans({c: "_" for c in '/\\:*?"<>|\n\r\t'})


def safe_file_name(text: str) -> str:
    """A title as part of a file's name: no path separators or characters Windows refuses."""
    return text.translate(_UNSAFE_IN_NAMES).strip() or "_"


def cell_text(text: str) -> str:
    """Excel holds at most 32,767 characters in a cell."""
    return text if len(text) <= EXCEL_CELL_LIMIT else text[: EXCEL_CELL_LIMIT - 1] + "…"


def _book(target: Path | io.BytesIO) -> Any:
    import xlsxwriter

    options = {
        # User text is text: never a formula (=…) or a link, whatever it starts with.
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
    }
    # Files are streamed; a workbook kept in memory (a small one sent as bytes) is written
    # whole at the end.
    options["in_memory" if isinstance(target, io.BytesIO) else "constant_memory"] = True
    return xlsxwriter.Workbook(target, options)


def _page_text(text: str) -> str:
    """Text for a page header or footer, where & starts a code."""
    return text.replace("&", "&&")


class _Sheet:
    """One worksheet being written row by row (xlsxwriter's constant-memory mode for files);
    `add` rows, then `finish`."""

    def __init__(self, book: Any, spec: SheetSpec, streaming: bool) -> None:
        columns, title = spec.columns, spec.title
        self.columns = columns
        self.points = spec.points
        self.cut_note = spec.cut_note
        self.streaming = streaming
        sheet = self.sheet = book.add_worksheet(title)
        for index, column in enumerate(columns):
            sheet.set_column(index, index, column.width)
        # The first column (the number) stays in view when scrolling right or down.
        sheet.freeze_panes(1, 1)
        self._print_setup(spec)
        self.formats = {
            kind: book.add_format(
                {
                    "font_size": spec.points,
                    "valign": "top",
                    "text_wrap": kind == WRAP,
                    **({"num_format": FORMATS[kind]} if kind in FORMATS else {}),
                }
            )
            for kind in (TEXT, WRAP, DATE, DATETIME, NUMBER)
        }
        header = book.add_format(
            {"bold": True, "text_wrap": True, "valign": "vcenter", "align": "center",
             "bg_color": "#DDE4EE", "bottom": 1, "font_size": HEADER_POINTS}
        )  # fmt: skip
        headers = [column.header for column in columns]
        lines = max(
            _lines_needed(h, c.width, HEADER_POINTS) for c, h in zip(columns, headers, strict=True)
        )
        sheet.set_row(0, line_points(HEADER_POINTS) * lines + 4)
        for index, text in enumerate(headers):
            sheet.write_string(0, index, text, header)
        self.rows = 0

    def _print_setup(self, spec: SheetSpec) -> None:
        """A4 landscape, the header row on every page, the title at the top of each page and
        its number at the bottom; type never prints under MIN_PRINTED_POINTS."""
        sheet = self.sheet
        sheet.set_landscape()
        sheet.set_paper(9)  # A4
        sheet.set_margins(left=SIDE_MARGIN, right=SIDE_MARGIN, top=TOP_MARGIN, bottom=BOTTOM_MARGIN)
        sheet.repeat_rows(0)
        sheet.set_start_page(1)  # each sheet's pages are numbered from 1
        if fits_one_page_wide(spec.columns, spec.points):
            sheet.fit_to_pages(1, 0)  # as wide as one page, as many pages down as needed
        else:
            # Too wide to fit one page with readable type: over several pages side by side,
            # a row's pages in a row, each starting with the first column.
            percent, breaks = print_scale(spec.columns, spec.points)
            sheet.set_print_scale(percent)
            sheet.set_v_pagebreaks(breaks)
            sheet.repeat_columns(0)
            sheet.print_across()
        sheet.hide_gridlines(0)  # grid lines on screen and on paper
        sheet.set_header("&C" + _page_text(spec.caption or spec.title), {"margin": HEADER_MARGIN})
        sheet.set_footer(
            "&C" + t("sheet.footer", title=_page_text(spec.title)), {"margin": FOOTER_MARGIN}
        )

    def add(self, values: list[Any]) -> None:
        row = self.rows + 1
        if self.cut_note:
            values = [
                cut_to_row(v, c.width, self.points, self.cut_note)
                if c.kind == WRAP and isinstance(v, str)
                else v
                for c, v in zip(self.columns, values, strict=True)
            ]
        lines = max(
            (
                _lines_needed(v, c.width, self.points)
                for c, v in zip(self.columns, values, strict=True)
            ),
            default=1,
        )
        if lines > 1:
            # Not every reader grows rows for wrapped text by itself (LibreOffice does not
            # on opening), so the height is set.
            height = line_points(self.points) * lines + 3
            self.sheet.set_row(row, min(height, MAX_ROW_POINTS))
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

    def finish(self) -> None:
        self.sheet.autofilter(0, 0, self.rows, len(self.columns) - 1)


def _excel_value(value: Any) -> Any:
    """Times are written as local wall-clock times (Excel has no time zones)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    if isinstance(value, str):
        return cell_text(value)
    return value


class _Workbook:
    """Several sheets filled side by side, one row of each per item; the first sheet opens."""

    def __init__(self, target: Path | io.BytesIO, specs: Sequence[SheetSpec]) -> None:
        self.book = _book(target)
        streaming = not isinstance(target, io.BytesIO)
        self.sheets = [_Sheet(self.book, spec, streaming) for spec in specs]

    def add(self, rows: Sequence[list[Any]]) -> None:
        for sheet, values in zip(self.sheets, rows, strict=True):
            sheet.add(values)

    def close(self) -> int:
        for sheet in self.sheets:
            sheet.finish()
        self.book.close()
        return self.sheets[0].rows


def write_sheet(
    rows: Iterable[list[Any]], target: Path | io.BytesIO, title: str, columns: list[Column]
) -> int:
    """A one-sheet workbook; returns the number of rows written (header aside)."""
    book = _Workbook(target, [SheetSpec(title, columns)])
    for row in rows:
        book.add([row])
    return book.close()


def write_book(
    target: Path | io.BytesIO, sheets: Sequence[tuple[SheetSpec, Iterable[list[Any]]]]
) -> list[int]:
    """A workbook of several sheets, each written whole in turn (their rows need not
    match); returns each sheet's number of rows (header aside)."""
    book = _book(target)
    streaming = not isinstance(target, io.BytesIO)
    counts = []
    for spec, rows in sheets:
        sheet = _Sheet(book, spec, streaming)
        for row in rows:
            sheet.add(row)
        sheet.finish()
        counts.append(sheet.rows)
    book.close()
    return counts


async def write_book_async(
    target: Path | io.BytesIO,
    sheets: Sequence[tuple[SheetSpec, Iterable[list[Any]] | AsyncIterable[list[Any]]]],
) -> list[int]:
    """`write_book` with rows that may come from an async source (read a page at a time:
    with a file as `target`, memory stays flat)."""
    book = _book(target)
    streaming = not isinstance(target, io.BytesIO)
    counts = []
    for spec, rows in sheets:
        sheet = _Sheet(book, spec, streaming)
        if isinstance(rows, AsyncIterable):
            async for row in rows:
                sheet.add(row)
        else:
            for row in rows:
                sheet.add(row)
        sheet.finish()
        counts.append(sheet.rows)
    book.close()
    return counts


async def write_sheets_async(
    rows: AsyncIterable[Sequence[list[Any]]], target: Path | io.BytesIO, specs: list[SheetSpec]
) -> int:
    """A workbook of several sheets fed from an async source: each item holds one row for
    each sheet, in the order of `specs` (memory stays flat); returns the number of items."""
    book = _Workbook(target, specs)
    async for item in rows:
        book.add(item)
    return book.close()


# Items handed to the worker at a time, and how many such batches may be on their way to
# it: the reader stays at most this far ahead, so memory stays flat.
BATCH, QUEUED_BATCHES = 200, 4
# Items read between two turns of the event loop: a batch of rows from the database is
# decoded item by item as it is read, and other tasks get their turn this often.
TURN = 50
WORKER_NICENESS = 10
# The workbooks a worker process is writing, by token (see write_sheets_elsewhere).
_BOOKS: dict[str, tuple[_Workbook, Callable[[Any], Sequence[list[Any]]]]] = {}
_POOL: ProcessPoolExecutor | None = None


def worker_pool() -> ProcessPoolExecutor:
    """The process that words and draws documents for this one (started on first use, kept
    for the next; a fresh one after it died)."""
    global _POOL
    if _POOL is None or getattr(_POOL, "_broken", False):
        # At a lower CPU priority: where cores are few, people's steps go first.
        _POOL = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_started,
            initargs=(WORKER_NICENESS,),
        )
    return _POOL


def stop_worker() -> None:
    """End the worker process now, whatever it is doing (a weekly pack takes minutes at a
    province's size: the bot's stop must not wait for it); the next use starts another."""
    global _POOL
    pool, _POOL = _POOL, None
    if pool is None:
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
            process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def _worker_started(niceness: int) -> None:
    """In the worker: a lower priority, and an end of its own when the process that started
    it is gone (killed, say, with no chance to stop its workers): it is never left behind."""
    os.nice(niceness)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _open_book(token: str, target: Path, specs: list[SheetSpec], rows: Callable) -> None:
    _BOOKS[token] = (_Workbook(target, specs), rows)


def _add_items(token: str, items: list[Any]) -> None:
    book, rows = _BOOKS[token]
    for item in items:
        book.add(rows(item))


def _close_book(token: str) -> int:
    book, _ = _BOOKS.pop(token)
    return book.close()


def _drop_book(token: str) -> None:
    entry = _BOOKS.pop(token, None)
    if entry is not None:
        entry[0].close()


async def write_sheets_elsewhere(
    items: AsyncIterable[Any],
    rows: Callable[[Any], Sequence[list[Any]]],
    target: Path,
    specs: list[SheetSpec],
) -> int:
    """A workbook as `write_sheets_async` writes it, but worded and written in a worker
    process, so the event loop goes on serving people meanwhile (a thread would not do: its
    Python work holds the interpreter lock in turns of 5 ms while people's steps wait).
    `items` are read here (on the loop: they come from the database) and handed over in
    batches of BATCH, at most QUEUED_BATCHES batches ahead of the writing; the worker turns
    each into its rows (`rows`, one per sheet: a function it can import) and writes them.
    Returns the number of items."""
    loop = asyncio.get_running_loop()
    pool, token = worker_pool(), uuid.uuid4().hex
    target = Path(target).absolute()  # the worker's working folder may be another
    await loop.run_in_executor(pool, _open_book, token, target, specs, rows)
    on_the_way: deque[asyncio.Future[None]] = deque()
    try:
        batch: list[Any] = []
        async for item in items:
            batch.append(item)
            if len(batch) % TURN == 0:
                await asyncio.sleep(0)  # the reader does not hold the loop for a whole batch
            if len(batch) >= BATCH:
                on_the_way.append(loop.run_in_executor(pool, _add_items, token, batch))
                batch = []
                if len(on_the_way) >= QUEUED_BATCHES:
                    await on_the_way.popleft()  # raises what stopped the worker
        if batch:
            on_the_way.append(loop.run_in_executor(pool, _add_items, token, batch))
        while on_the_way:
            await on_the_way.popleft()
        return await loop.run_in_executor(pool, _close_book, token)
    except BaseException:
        for waiting in on_the_way:
            waiting.cancel()
        with contextlib.suppress(RuntimeError):  # the pool is gone: so is the book
            pool.submit(_drop_book, token)
        raise
