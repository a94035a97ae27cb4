"""The appeal ledger export (台账): streamed in batches vs loaded at once, and the writer.

Seeds N appeals with a few audit events each, then in the same run exports them:
  streamed   — reports.export_ledger(): batches of 1,000 rows, formatted, through
               xlsxwriter's constant-memory mode (bot/sheets.py)
  baseline   — every row fetched first, then written (skipped above --baseline-max)
  openpyxl   — the same rows and formats through openpyxl's write-only mode (the writer
               used before; up to --writer-max)
Each runs in its own process: seconds and peak RSS (VmHWM).

    python -m bench.export_bench --items 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path

from bench.common import fresh_database, in_own_process, print_measurement, seed_owners, summary
from bot import ledger_sheet
from bot.sheets import write_sheets_async
from bot.usecases import reports
from bot.usecases.env import Env


def seed(path: Path, items: int) -> None:
    conn = sqlite3.connect(path)
    seed_owners(conn)
    conn.executemany(
        "INSERT INTO appeals (id, number, enterprise_id, filed_by, category, description, state,"
        " department_id, claim_due_date, due_date, created_at) VALUES (?, ?, 1, 1, '融资', ?,"
        " 'pending', 1, '2026-03-02', '2026-03-16', '2026-03-01T02:00:00+00:00')",
        (
            (i, f"SQ-2026-{i:06d}", "扩建冷链仓库需流动资金，申请融资担保对接。" * 3)
            for i in range(1, items + 1)
        ),
    )
    conn.executemany(
        "INSERT INTO audit_events (subject, appeal_id, actor_id, action, detail, created_at)"
        " VALUES ('appeal', ?, 1, ?, '融资 → 部门', '2026-03-01T02:00:00+00:00')",
        ((i, action) for i in range(1, items + 1) for action in ("file", "claim", "reply")),
    )
    conn.commit()
    conn.close()


async def openpyxl_rows(env: Env, target: Path, names: dict[str, str]) -> None:
    """The ledger's rows through openpyxl's write-only mode (the writer used before), each
    cell with the same font, alignment and date format."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    start, end = date(2026, 1, 1), date(2026, 12, 31)
    book = Workbook(write_only=True)
    sheets = [book.create_sheet(spec.title) for spec in ledger_sheet.sheets(start, end)]
    for sheet, spec in zip(sheets, ledger_sheet.sheets(start, end), strict=True):
        sheet.append([column.header for column in spec.columns])
    body, wrap = Font(size=10), Alignment(vertical="top", wrap_text=True)
    async with env.db.reading() as uow:
        async for entry in uow.reports.ledger(*reports.bounds(env, start, end)):
            for sheet, values in zip(
                sheets, ledger_sheet.cells(entry, env.zone, names), strict=True
            ):
                row = []
                for value in values:
                    if isinstance(value, datetime):
                        value = value.replace(tzinfo=None)
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.font, cell.alignment = body, wrap
                    if isinstance(value, datetime):
                        cell.number_format = "yyyy-mm-dd hh:mm"
                    row.append(cell)
                sheet.append(row)
    book.save(target)


async def export(path: Path, variant: str) -> None:
    """Run one variant on the seeded database in this (fresh) process; print its figures."""
    env = await fresh_database(path)
    await env.db.open()
    start, end = date(2026, 1, 1), date(2026, 12, 31)
    folder, names = path.parent, {}
    try:
        began = time.perf_counter()
        if variant == "baseline":  # every row first, then the workbook
            async with env.db.reading() as uow:
                entries = [e async for e in uow.reports.ledger(*reports.bounds(env, start, end))]
            rows = [ledger_sheet.cells(e, env.zone, names) for e in entries]

            async def each() -> AsyncIterator[tuple[list[object], list[object]]]:
                for row in rows:
                    yield row

            await write_sheets_async(each(), folder / "all.xlsx", ledger_sheet.sheets(start, end))
        elif variant == "streamed":
            write = ledger_sheet.writer(env.zone, names)
            await reports.export_ledger(env, None, start, end, folder / "streamed.xlsx", write)
        else:  # the same rows and formats through openpyxl's write-only mode
            await openpyxl_rows(env, folder / "openpyxl.xlsx", names)
        seconds = time.perf_counter() - began
    finally:
        await env.db.close()
    print_measurement(seconds)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--baseline-max", type=int, default=100_000)
    parser.add_argument("--writer-max", type=int, default=100_000, help="openpyxl up to")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        await export(args.db, args.variant)
        return
    print(f"{'appeals':>9} | {'streamed s':>10} | {'RSS MiB':>7} | {'rows/s':>7} |"
          f" {'baseline s':>10} | {'RSS MiB':>7} | {'openpyxl s':>12} |"
          f" {'speed-up':>10}")  # fmt: skip
    for items in args.items:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "bench.sqlite3"
            await fresh_database(path)
            seed(path, items)

            def run(variant: str, db: Path = path) -> tuple[float, float]:
                return in_own_process("bench.export_bench", "--variant", variant, "--db", str(db))

            streamed = run("streamed")
            base = run("baseline") if items <= args.baseline_max else None
            writer = run("openpyxl") if items <= args.writer_max else None
        cells = [f"{items:>9,}", f"{streamed[0]:>10.1f}", f"{streamed[1]:>7.0f}",
                 f"{items / streamed[0]:>7,.0f}",
                 f"{base[0]:>10.1f}" if base else f"{'–':>10}",
                 f"{base[1]:>7.0f}" if base else f"{'–':>7}",
                 f"{writer[0]:>12.1f}" if writer else f"{'–':>12}",
                 f"{writer[0] / streamed[0]:>9.2f}x" if writer else f"{'–':>10}"]  # fmt: skip
        print(" | ".join(cells), flush=True)
        summary(
            "ledger export s (peak RSS MiB)",
            f"{items:,} appeals",
            f"{streamed[0]:.1f} ({streamed[1]:.0f})",
            f"{base[0]:.1f} ({base[1]:.0f})" if base else "not run",
            f"{base[1] / streamed[1]:.1f}x less memory" if base else "–",
        )
        if writer:
            summary(
                "ledger writer s: xlsxwriter vs openpyxl",
                f"{items:,} appeals",
                f"{streamed[0]:.1f} (xlsxwriter)",
                f"{writer[0]:.1f} (openpyxl)",
                f"{writer[0] / streamed[0]:.2f}x as fast",
            )


if __name__ == "__main__":
    asyncio.run(main())
