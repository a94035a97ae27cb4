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

`--backend both` runs each size on SQLite, then on PostgreSQL (same seed, loaded with COPY)
and compares the weekly digest and the first build with SQLite's of the same run.

    python -m bench.digest_bench --items 10000 100000 1000000 --backend both
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from difflib import SequenceMatcher
from pathlib import Path

from bench import seeding
from bench.common import (
    Place,
    backend_choice,
    execute,
    fresh_database,
    in_own_process,
    places,
    print_measurement,
    summary,
)
from bot.rules import digest as rules
from bot.rules.digest import Week
from bot.usecases import reports
from bot.usecases.env import Env
from storage.factory import parse_database_url

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


def a_weeks_changes(url: str) -> int:
    """Write again every appeal received in the five weeks before the digest's week ends
    (claims, replies, closings and ratings of a busy week touch about these)."""
    since = stamp(datetime.combine(WEEK.end - timedelta(days=35), datetime.min.time(), UTC))
    if parse_database_url(url).backend != "sqlite":
        since = datetime.fromisoformat(since)  # a timestamptz column there
    return execute(url, "UPDATE appeals SET version = version + 1 WHERE created_at >= ?", (since,))


async def one_variant(url: str, variant: str) -> None:
    """Run one variant in this (fresh) process and print its seconds and peak RSS."""
    env = await fresh_database(url, today=date(2026, 11, 24))
    await env.db.open()
    try:
        start = time.perf_counter()
        await VARIANTS[variant](env)
        seconds = time.perf_counter() - start
    finally:
        await env.db.close()
    print_measurement(seconds)


def measure(url: str, variant: str) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of one variant, each in its own process."""
    return in_own_process("bench.digest_bench", "--variant", variant, "--db", url)


VARIANTS = {"baseline": baseline, "tallies": build_tallies, "set-based": set_based}


async def run(items: int, place: Place, baseline_max: int) -> dict[str, tuple[float, float]]:
    """One size on one backend: seeded (same seed), the baseline (SQLite only), the first
    build of the tallies, a week's changes, then the weekly digest."""
    url = place.url(f"digest-{items}")
    await fresh_database(url)
    start = time.perf_counter()
    seeding.seed(url, seeding.year_of_appeals(items))
    got = {"seed": (time.perf_counter() - start, 0.0)}
    if items <= baseline_max and place.backend == "sqlite":
        got["baseline"] = measure(url, "baseline")
    got["tallies"] = measure(url, "tallies")
    a_weeks_changes(url)
    got["set-based"] = measure(url, "set-based")
    return got


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--baseline-max", type=int, default=100_000)
    parser.add_argument("--variant", choices=list(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--backend", type=backend_choice, default=["sqlite"],
                        help="sqlite | postgresql | both (default sqlite)")  # fmt: skip
    args = parser.parse_args()
    if args.variant:
        await one_variant(args.db, args.variant)
        return
    print(f"{'backend':<10} | {'appeals':>9} | {'baseline s':>10} | {'weekly s':>8} |"
          f" {'speed-up':>8} | {'baseline RSS':>12} | {'weekly RSS':>10} |"
          f" {'first build s':>13} | {'build RSS':>9} | {'seed s':>6}")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder, places(args.backend, Path(folder)) as where:
        for items in args.items:
            measured = {}
            for backend, place in where.items():
                got = measured[backend] = await run(items, place, args.baseline_max)
                print(f"{backend:<10} | " + row(items, got), flush=True)
                report(items, backend, got, measured.get("sqlite"))


def report(items: int, backend: str, got: dict, sqlite: dict | None) -> None:
    """The closing table's rows: the weekly digest against the baseline (SQLite), and
    PostgreSQL's weekly digest and first build against SQLite's of the same run."""
    (s_s, s_m), (b_s, b_m) = got["set-based"], got.get("baseline", (None, None))
    if backend == "sqlite":
        summary(
            "leaders' digest s (peak RSS MiB)",
            f"{items:,} appeals",
            f"{s_s:.2f} ({s_m:.0f})",
            f"{b_s:.2f} ({b_m:.0f})" if b_s else "not run",
            f"{b_s / s_s:.1f}x faster" if b_s else "–",
        )
        return
    if sqlite is None:
        return
    for what, key in (("leaders' digest s", "set-based"), ("first tallies build s", "tallies")):
        ours, theirs = got[key][0], sqlite[key][0]
        goal = " (goal ≤ 2× SQLite, ≤ 5 s)" if key == "set-based" else ""
        summary(
            f"{what} on {backend}{goal}",
            f"{items:,} appeals",
            f"{ours:.2f} ({got[key][1]:.0f} MiB)",
            f"{theirs:.2f} (SQLite, same run)",
            f"{ours / theirs:.2f}x",
        )


def row(items: int, got: dict[str, tuple[float, float]]) -> str:
    """One line of the table; '–' where the baseline was not run."""
    (s_s, s_m), (t_s, t_m) = got["set-based"], got["tallies"]
    b_s, b_m = got.get("baseline", (None, None))
    base = f"{b_s:>10.2f}" if b_s else f"{'–':>10}"
    ratio = f"{b_s / s_s:>7.1f}x" if b_s else f"{'–':>8}"
    base_m = f"{b_m:>12.1f}" if b_m else f"{'–':>12}"
    return (f"{items:>9,} | {base} | {s_s:>8.2f} | {ratio} | {base_m} | {s_m:>10.1f} |"
            f" {t_s:>13.2f} | {t_m:>9.1f} | {got['seed'][0]:>6.1f}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
