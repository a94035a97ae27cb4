"""`appealdesk copy-db` from SQLite to PostgreSQL: a year of N appeals (bench/seeding.py,
with the digest's tallies built, as a bot that has run a year holds them) copied by
storage.copy.copy_database — every row in one target transaction, then a count and a
checksum of every table on both sides — against, in the same run, the bench's own COPY of
the same generated rows into an empty PostgreSQL database (the floor: no reading, no
checking).

    python -m bench.copy_bench --items 100000
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import date
from pathlib import Path

from bench import seeding
from bench.common import fresh_database, places, summary
from bench.pgserver import PgUnavailable
from bot.usecases import reports
from storage.copy import copy_database


async def one_size(items: int, where: dict) -> None:
    source = where["sqlite"].url(f"copy-{items}")
    env = await fresh_database(source, today=date(2026, 11, 24))
    seeding.seed(source, seeding.year_of_appeals(items))
    await env.db.open()
    try:
        await reports.refresh_tallies(env)
    finally:
        await env.db.close()
    floor_url = where["postgresql"].url(f"copy-floor-{items}")
    await fresh_database(floor_url)
    start = time.perf_counter()
    seeding.seed(floor_url, seeding.year_of_appeals(items))
    floor = time.perf_counter() - start
    target = where["postgresql"].url(f"copy-target-{items}")
    await fresh_database(target)
    start = time.perf_counter()
    report = copy_database(source, target)
    seconds = time.perf_counter() - start
    assert not report.differing, report.differing
    print(f"{items:>9,} | {report.total:>9,} | {seconds:>9.1f} | {report.total / seconds:>9,.0f} |"
          f" {floor:>8.1f}", flush=True)  # fmt: skip
    summary(
        "copy-db s, SQLite → PostgreSQL (rows, checked)",
        f"{items:,} appeals",
        f"{seconds:.1f} ({report.total:,} rows)",
        f"{floor:.1f} (bench COPY of the rows, unchecked)",
        f"{seconds / floor:.1f}x",
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, nargs="+", default=[100_000])
    args = parser.parse_args()
    print(f"{'appeals':>9} | {'rows':>9} | {'copy-db s':>9} | {'rows/s':>9} | {'COPY s':>8}")
    try:
        with (
            tempfile.TemporaryDirectory() as folder,
            places(["sqlite", "postgresql"], Path(folder)) as where,
        ):
            for items in args.items:
                await one_size(items, where)
    except PgUnavailable as exc:
        print(f"PostgreSQL skipped: {exc}")
        summary("copy-db s, SQLite → PostgreSQL", "–", "skipped", str(exc), "–")


if __name__ == "__main__":
    asyncio.run(main())
