"""Peak memory of the appeal ledger export (台账): streamed in batches vs loaded at once.

Seeds N appeals with a few audit events each, then in the same run exports them twice:
  baseline  — every row fetched first (fetchall), then written
  streamed  — reports.export_ledger(): batches of 1,000 rows into openpyxl's write-only mode
Peak Python allocations are measured with tracemalloc.

    python -m bench.export_bench --items 100000
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

from bench.common import fresh_database, seed_owners
from bot import ledger_sheet
from bot.task_files import write_xlsx
from bot.usecases import reports


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


async def measure(label: str, work: Callable[[], Awaitable[None]]) -> tuple[float, float]:
    tracemalloc.start()
    start = time.perf_counter()
    await work()
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<26}: peak {peak / 2**20:8.1f} MiB ({seconds:.1f}s under tracemalloc)")
    return peak, seconds


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite3"
        env = await fresh_database(path)
        seed(path, args.items)
        await env.db.open()
        start, end = date(2026, 1, 1), date(2026, 12, 31)
        names: dict[str, str] = {}

        async def load_all() -> None:
            async with env.db.reading() as uow:
                entries = [e async for e in uow.reports.ledger(*reports.bounds(env, start, end))]
            write_xlsx(
                [ledger_sheet.cells(e, env.zone, names) for e in entries],
                Path(folder) / "all.xlsx",
                "诉求台账",
                ledger_sheet.headers(),
                ledger_sheet.WIDTHS,
            )

        async def streamed() -> None:
            target = Path(folder) / "streamed.xlsx"
            write = ledger_sheet.writer(env.zone, names)
            await reports.export_ledger(env, None, start, end, target, write)

        async def xlsxwriter_rows() -> int:
            """The same rows through xlsxwriter's constant-memory mode, for comparison."""
            import xlsxwriter

            book = xlsxwriter.Workbook(
                str(Path(folder) / "xlsxwriter.xlsx"), {"constant_memory": True}
            )
            sheet = book.add_worksheet("诉求台账")
            sheet.write_row(0, 0, ledger_sheet.headers())
            count = 0
            async with env.db.reading() as uow:
                async for entry in uow.reports.ledger(*reports.bounds(env, start, end)):
                    count += 1
                    sheet.write_row(count, 0, ledger_sheet.cells(entry, env.zone, names))
            book.close()
            return count

        base_peak, _ = await measure("baseline (load all rows)", load_all)
        peak, _ = await measure("streamed (batches)", streamed)
        # tracemalloc slows allocation-heavy code down; time the streamed export without it
        start_time = time.perf_counter()
        await streamed()
        seconds = time.perf_counter() - start_time
        other = None
        try:
            start_time = time.perf_counter()
            await xlsxwriter_rows()
            other = time.perf_counter() - start_time
        except ImportError:
            print("xlsxwriter not installed (pip install -e '.[bench]'): comparison skipped")
        await env.db.close()
    print(f"{args.items:,} appeals: streamed peak is {base_peak / peak:.1f}x smaller")
    print(f"openpyxl write-only, streamed: {seconds:.1f}s ({args.items / seconds:,.0f} rows/s)")
    if other is not None:
        print(
            f"xlsxwriter constant_memory, same rows: {other:.1f}s"
            f" ({args.items / other:,.0f} rows/s) = {seconds / other:.2f}x openpyxl's speed"
        )


if __name__ == "__main__":
    asyncio.run(main())
