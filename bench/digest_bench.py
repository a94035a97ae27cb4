"""The leaders' digest (督察通报) at scale: counted by the database vs every row in Python.

Seeds N appeals over the year in the reference report's category proportions, with
replies (a share of them near-duplicates), ratings and overdue items, then builds the week's
digest twice in the same run:
  baseline  — the former approach: every appeal of the year loaded as rows and counted in
              Python, and each reply of the week compared with the department's 200 latest
              replies found by a query per reply (its plan sorts every reply ever stored);
  set-based — reports.leaders_digest(): counts summed from per-day tallies, a capped
              overdue list, replies compared with each department's latest by rapidfuzz.
The tallies are built once first (as after an upgrade; timed apart), then a week's changes
are made — every appeal received in the last five weeks is written again, so those days
are counted again — and the weekly digest is timed. The baseline is skipped above
--baseline-max appeals (it took more than 300 s at 100,000).
Each variant runs in its own process: its seconds and peak RSS are printed.

    python -m bench.digest_bench --items 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from difflib import SequenceMatcher
from pathlib import Path

from bench import seeding
from bench.common import fresh_database, in_own_process, print_measurement, summary
from bot.rules import digest as rules
from bot.rules.digest import Week
from bot.usecases import reports
from bot.usecases.env import Env

WEEK = Week(2026, 47)
UTC = UTC


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


async def baseline(env: Env) -> None:
    """The former digest: rows of the year counted in Python, a query per reply."""
    year_start = date(WEEK.end.year, 1, 1)
    async with env.db.reading() as uow:
        rows = await uow.reports.appeals_touching(*reports.bounds(env, year_start, WEEK.end))
        order = [c.name for c in env.org.categories]
        for start in (WEEK.start, year_start):
            rules.period_figures(rows, start, WEEK.end, order, env.today(), env.zone)
        rules.overdue_items(rows, env.today(), env.deadlines.overdue_days)
        start, end = reports.bounds(env, WEEK.start, WEEK.end)
        async for reply in uow.reports.replies_between(start, end):
            async with uow.conn.execute(
                "SELECT m.text, a.number FROM appeal_messages m"
                " JOIN appeals a ON a.id = m.appeal_id JOIN users u ON u.tg_id = m.author_id"
                " WHERE m.kind = 'reply' AND u.department_id = ? AND m.id < ?"
                " ORDER BY m.id DESC LIMIT 200",
                (reply.department_id, reply.id),
            ) as cur:
                earlier = [(r[0], r[1]) for r in await cur.fetchall()]
            max(
                (
                    (SequenceMatcher(None, reply.text.strip(), text.strip()).ratio(), number)
                    for text, number in earlier
                    if number != reply.number
                ),
                default=None,
            )


async def set_based(env: Env) -> None:
    await reports.leaders_digest(env, None, WEEK)


async def build_tallies(env: Env) -> None:
    """The one-time count of every day (after the upgrade that brings the tallies)."""
    await reports.refresh_tallies(env)


def a_weeks_changes(path: Path) -> int:
    """Write again every appeal received in the five weeks before the digest's week ends
    (claims, replies, closings and ratings of a busy week touch about these)."""
    conn = sqlite3.connect(path)
    since = stamp(datetime.combine(WEEK.end - timedelta(days=35), datetime.min.time(), UTC))
    touched = conn.execute(
        "UPDATE appeals SET version = version + 1 WHERE created_at >= ?", (since,)
    ).rowcount
    conn.commit()
    conn.close()
    return touched


async def one_variant(path: Path, variant: str) -> None:
    """Run one variant in this (fresh) process and print its seconds and peak RSS."""
    env = await fresh_database(path, today=date(2026, 11, 24))
    await env.db.open()
    try:
        start = time.perf_counter()
        await VARIANTS[variant](env)
        seconds = time.perf_counter() - start
    finally:
        await env.db.close()
    print_measurement(seconds)


def measure(path: Path, variant: str) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of one variant, each in its own process."""
    return in_own_process("bench.digest_bench", "--variant", variant, "--db", str(path))


VARIANTS = {"baseline": baseline, "tallies": build_tallies, "set-based": set_based}


async def run(items: int, folder: Path, baseline_max: int) -> dict[str, tuple[float, float]]:
    path = folder / f"bench-{items}.sqlite3"
    await fresh_database(path)
    seeding.seed_sqlite(path, seeding.year_of_appeals(items))
    got = {"baseline": measure(path, "baseline")} if items <= baseline_max else {}
    got["tallies"] = measure(path, "tallies")
    a_weeks_changes(path)
    got["set-based"] = measure(path, "set-based")
    return got


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--baseline-max", type=int, default=100_000)
    parser.add_argument("--variant", choices=list(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        await one_variant(args.db, args.variant)
        return
    print(f"{'appeals':>9} | {'baseline s':>10} | {'weekly s':>8} | {'speed-up':>8} |"
          f" {'baseline RSS':>12} | {'weekly RSS':>10} | {'first build s':>13} |"
          f" {'build RSS':>9}")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        for items in args.items:
            got = await run(items, Path(folder), args.baseline_max)
            print(row(items, got), flush=True)
            (s_s, s_m), (b_s, b_m) = got["set-based"], got.get("baseline", (None, None))
            summary(
                "leaders' digest s (peak RSS MiB)",
                f"{items:,} appeals",
                f"{s_s:.2f} ({s_m:.0f})",
                f"{b_s:.2f} ({b_m:.0f})" if b_s else "not run",
                f"{b_s / s_s:.1f}x faster" if b_s else "–",
            )


def row(items: int, got: dict[str, tuple[float, float]]) -> str:
    """One line of the table; '–' where the baseline was not run."""
    (s_s, s_m), (t_s, t_m) = got["set-based"], got["tallies"]
    b_s, b_m = got.get("baseline", (None, None))
    base = f"{b_s:>10.2f}" if b_s else f"{'–':>10}"
    ratio = f"{b_s / s_s:>7.1f}x" if b_s else f"{'–':>8}"
    base_m = f"{b_m:>12.1f}" if b_m else f"{'–':>12}"
    return (f"{items:>9,} | {base} | {s_s:>8.2f} | {ratio} | {base_m} | {s_m:>10.1f} |"
            f" {t_s:>13.2f} | {t_m:>9.1f}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
