"""How the set-based ladder sweep scales with open items, against a per-item loop.

Seeds N open appeals of which a fixed number (--due, the same at every size) need a notice
today — a quarter each overdue, due tomorrow, due today and unclaimed past the claim limit —
and the rest are due later, then in the same run times:
  baseline  — read every open appeal into Python, decide each rung, insert notices one by one
  set-based — ladder.sweep(): one INSERT … SELECT per kind over the indexes
and a second set-based sweep the same day (must create nothing).

    python -m bench.sweep_bench --items 10000 100000 1000000 --due 2000
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.common import fresh_database, seed_owners, summary
from bot.app import make_env
from bot.clock import ManualClock
from bot.config import BUNDLED_ORG_CONFIG, Settings, load_org
from bot.usecases import ladder

TODAY = date(2026, 3, 10)  # a Tuesday
NEXT_WORKING_DAY = date(2026, 3, 11)
RAISE_DUE = date(2026, 3, 5)  # three working days before TODAY


def seed(path: Path, items: int, due_items: int) -> None:
    conn = sqlite3.connect(path)
    seed_owners(conn)

    def rows():
        for i in range(items):
            bucket = i % 4 if i < due_items else 4
            state, claim_due = "in_progress", "2026-03-01"
            if bucket == 0:
                due = TODAY - timedelta(days=1 + (i // 4) % 9)  # overdue, some past the raise mark
            elif bucket == 1:
                due = NEXT_WORKING_DAY
            elif bucket == 2:
                due = TODAY
            elif bucket == 3:
                state, due, claim_due = "pending", TODAY + timedelta(days=5), "2026-03-09"
            else:
                due = TODAY + timedelta(days=2 + i % 20)
            yield (
                f"SQ-2026-{i:07d}",
                state,
                claim_due,
                due.isoformat(),
            )

    conn.executemany(
        "INSERT INTO appeals (number, enterprise_id, filed_by, category, description, state,"
        " department_id, claim_due_date, due_date, created_at)"
        " VALUES (?, 1, 1, '融资', '诉求', ?, 1, ?, ?, '2026-02-01T00:00:00+00:00')",
        rows(),
    )
    conn.commit()
    conn.close()


def baseline_sweep(path: Path) -> int:
    """The per-item approach: every open appeal through Python, one insert per notice."""
    conn = sqlite3.connect(path)
    created = 0
    serial = {"提示": 0, "督办": 0}
    today, tomorrow, raise_due = (
        TODAY.isoformat(),
        NEXT_WORKING_DAY.isoformat(),
        RAISE_DUE.isoformat(),
    )
    cursor = conn.execute(
        "SELECT id, state, due_date, claim_due_date FROM appeals"
        " WHERE state IN ('pending', 'in_progress')"
    )
    for appeal_id, state, due, claim_due in cursor.fetchall():
        kinds = []
        if due <= raise_due:
            kinds.append(("raise", "督办", due))
        if due < today:
            kinds.append(("overdue", "督办", today))
        if due == today:
            kinds.append(("due_today", "提示", due))
        if due == tomorrow:
            kinds.append(("due_soon", "提示", due))
        if state == "pending" and claim_due < today <= due:
            kinds.append(("unclaimed", "提示", today))
        for kind, family, period in kinds:
            exists = conn.execute(
                "SELECT 1 FROM notices WHERE subject = 'appeal' AND subject_id = ? AND kind = ?"
                " AND period = ?",
                (appeal_id, kind, period),
            ).fetchone()
            if exists:
                continue
            serial[family] += 1
            conn.execute(
                "INSERT INTO notices (subject, subject_id, kind, period, family, serial_year,"
                " serial_no, created_at) VALUES ('appeal', ?, ?, ?, ?, 2026, ?, 'x')",
                (appeal_id, kind, period, family, 1_000_000 + serial[family]),
            )
            created += 1
    conn.rollback()  # leave the database as it was for the set-based run
    conn.close()
    return created


async def set_based(path: Path) -> tuple[int, float, int, float]:
    clock = ManualClock(datetime(2026, 3, 10, 9, tzinfo=ZoneInfo("Asia/Shanghai")))
    settings = Settings(_env_file=None, database_path=path)
    env = make_env(settings, load_org(BUNDLED_ORG_CONFIG), clock)
    await env.db.open()
    try:
        start = time.perf_counter()
        first = await ladder.sweep(env)
        first_seconds = time.perf_counter() - start
        start = time.perf_counter()
        second = await ladder.sweep(env)
        second_seconds = time.perf_counter() - start
    finally:
        await env.db.close()
    return sum(first.values()), first_seconds, sum(second.values()), second_seconds


async def measure(folder: Path, items: int, due_items: int) -> str:
    path = folder / f"sweep-{items}.sqlite3"
    await fresh_database(path)
    seed(path, items, due_items)
    start = time.perf_counter()
    base_created = baseline_sweep(path)
    base_seconds = time.perf_counter() - start
    created, seconds, again, again_seconds = await set_based(path)
    assert created == base_created, (created, base_created)
    summary(
        "ladder sweep s (notices due)",
        f"{items:,} open",
        f"{seconds:.3f} ({created:,})",
        f"{base_seconds:.3f} (per-item loop)",
        f"{base_seconds / seconds:.1f}x faster",
    )
    return (f"{items:>9,} | {created:>7,} | {base_seconds:>10.3f} | {seconds:>11.3f} |"
            f" {base_seconds / seconds:>7.1f}x | {again:>5} | {again_seconds:>8.3f}")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--due", type=int, default=2_000, help="appeals needing a notice")
    args = parser.parse_args()
    print(f"{'open':>9} | {'notices':>7} | {'baseline s':>10} | {'set-based s':>11} |"
          f" {'speed-up':>8} | {'again':>5} | {'again s':>8}")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        for items in args.items:
            print(await measure(Path(folder), items, args.due), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
