"""How the set-based ladder sweep scales with open items, against a per-item loop.

Seeds N open appeals of which a fixed number (--due, the same at every size) need a notice
today — a quarter each overdue, due tomorrow, due today and unclaimed past the claim limit —
and the rest are due later, then in the same run times:
  baseline  — read every open appeal into Python, decide each rung, insert notices one by one
  set-based — ladder.sweep(): one INSERT … SELECT per kind over the indexes
and a second set-based sweep the same day (must create nothing).

`--backend both` runs each size on SQLite, then on PostgreSQL (a throwaway server; the rows
loaded with COPY), and compares PostgreSQL's set-based sweep with SQLite's of the same run.

    python -m bench.sweep_bench --items 10000 100000 1000000 --due 2000 --backend both
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

from bench import seeding
from bench.common import Place, backend_choice, fresh_database, places, settings_for, summary
from bot.app import make_env
from bot.clock import ManualClock
from bot.config import BUNDLED_ORG_CONFIG, load_org
from bot.usecases import ladder
from storage.factory import parse_database_url

TODAY = date(2026, 3, 10)  # a Tuesday
NEXT_WORKING_DAY = date(2026, 3, 11)
RAISE_DUE = date(2026, 3, 5)  # three working days before TODAY


def seed(url: str, items: int, due_items: int) -> None:
    """The owners and N open appeals (the same rows on either backend)."""

    def rows():  # noqa: ANN202
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
            yield (i + 1, f"SQ-2026-{i:07d}", 1, 1, "融资", "诉求", state, 1, claim_due,
                   due.isoformat(), "2026-02-01T00:00:00+00:00")  # fmt: skip

    columns = ("id", "number", "enterprise_id", "filed_by", "category", "description", "state",
               "department_id", "claim_due_date", "due_date", "created_at")  # fmt: skip
    seeding.seed(url, [*seeding.owners(), ("appeals", columns, rows())])


def baseline_sweep(path: Path) -> int:
    """The per-item approach: every open appeal through Python, one insert per notice
    (SQLite)."""
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


async def set_based(url: str) -> tuple[int, float, int, float]:
    clock = ManualClock(datetime(2026, 3, 10, 9, tzinfo=ZoneInfo("Asia/Shanghai")))
    settings = settings_for(url)
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


async def measure(place: Place, items: int, due_items: int, sqlite_seconds: float | None) -> str:
    """One size on one backend; the per-item baseline only on SQLite, and PostgreSQL's
    set-based sweep against SQLite's of the same run (`sqlite_seconds`)."""
    url = place.url(f"sweep-{items}")
    await fresh_database(url)
    seed(url, items, due_items)
    base_created, base_seconds = None, None
    if place.backend == "sqlite":
        start = time.perf_counter()
        base_created = baseline_sweep(parse_database_url(url).path)
        base_seconds = time.perf_counter() - start
    created, seconds, again, again_seconds = await set_based(url)
    assert again == 0, again
    if base_seconds is not None:
        assert created == base_created, (created, base_created)
        summary(
            "ladder sweep s (notices due)",
            f"{items:,} open",
            f"{seconds:.3f} ({created:,})",
            f"{base_seconds:.3f} (per-item loop)",
            f"{base_seconds / seconds:.1f}x faster",
        )
    if place.backend != "sqlite" and sqlite_seconds:
        summary(
            f"ladder sweep s on {place.backend} (goal ≤ 2× SQLite)",
            f"{items:,} open",
            f"{seconds:.3f} ({created:,})",
            f"{sqlite_seconds:.3f} (SQLite, same run)",
            f"{seconds / sqlite_seconds:.2f}x",
        )
    base = f"{base_seconds:>10.3f}" if base_seconds is not None else f"{'–':>10}"
    speed = f"{base_seconds / seconds:>7.1f}x" if base_seconds is not None else f"{'–':>8}"
    MEASURED[(place.backend, items)] = seconds
    return (f"{place.backend:<10} | {items:>9,} | {created:>7,} | {base} | {seconds:>11.3f} |"
            f" {speed} | {again:>5} | {again_seconds:>8.3f}")  # fmt: skip


MEASURED: dict[tuple[str, int], float] = {}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--due", type=int, default=2_000, help="appeals needing a notice")
    parser.add_argument("--backend", type=backend_choice, default=["sqlite"],
                        help="sqlite | postgresql | both (default sqlite)")  # fmt: skip
    args = parser.parse_args()
    print(f"{'backend':<10} | {'open':>9} | {'notices':>7} | {'baseline s':>10} |"
          f" {'set-based s':>11} | {'speed-up':>8} | {'again':>5} | {'again s':>8}")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder, places(args.backend, Path(folder)) as where:
        for items in args.items:
            for place in where.values():
                sqlite_seconds = MEASURED.get(("sqlite", items))
                print(await measure(place, items, args.due, sqlite_seconds), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
