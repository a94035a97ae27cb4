"""The acting user's latency during a Monday pack, against a quiet bot, in the same run.

Seeds N appeals over the year (bench/seeding.py, as the digest benchmark) and builds the
per-day tallies (the weekly state), then runs the bot in this process (its real handlers
through python-telegram-bot, the fake Bot API in memory) while `--people` enterprise
contacts file appeals through the real flow (/new → category → description → 提交), each
waiting for the bot's answer before the next step, all at once. Timed: every step, from the
update handed to the bot to the bot's handlers done (the answer sent). Three phases in the
same process (the pack phase first; the quiet one then times as many steps):
  quiet   — only the people;
  pack    — the leaders' pack built meanwhile as the courier builds it on Monday (the
            week's digest, its chart and the ledger: the year's, or the week's when the year
            would not fit one upload), again and again until the people are done and at
            least once whole: all of it in the worker process, on a connection of its own
            (as shipped);
  rows here — the same with the digest made and the ledger's rows read in the bot's
            process, the chart drawn and the ledger written in the worker (the previous
            version), for comparison;
  on loop — the same built in the bot's process, everything on the event loop (as
            before), for comparison.
Printed: p50 and p99 of each phase, the pack phases' p99 ÷ the quiet one's, one pack's
seconds, and which ledger it built.

`--backend sqlite|postgresql|both` picks the database (both: each size on SQLite, then on a
throwaway PostgreSQL server): the seeding is one function per dialect (bench/seeding.py:
executemany on SQLite, COPY on PostgreSQL); the bot opens the database by its URL.

    python -m bench.pack_bench --items 5000 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from datetime import time as clock_time
from pathlib import Path

from bench import seeding
from bench.common import (
    Place,
    backend_choice,
    contact_name,
    fresh_database,
    places,
    settings_for,
    summary,
)
from bot import digest_files, pack_worker
from bot.app import settle_heap
from bot.clock import ManualClock
from bot.config import BUNDLED_ORG_CONFIG, Settings, load_org
from bot.digest_text import leaders_text
from bot.rules.digest import Week
from bot.rules.uscc import check_char
from bot.sandbox.chat import Person, Sandbox
from bot.usecases import people as people_cases
from bot.usecases import reports
from bot.usecases.env import Env

WEEK = Week(2026, 47)
TODAY = date(2026, 11, 24)
LEADER = 7000
PHASES = ("quiet", "pack", "rows here", "on loop")


def uscc(n: int) -> str:
    base = f"914207{n:05d}MA4F0A"[:17]
    return base + check_char(base)


async def seeded(place: Place, items: int) -> Settings:
    """A database with the year of appeals, by the backend's own loader."""
    url = place.url(f"pack-{items}")
    await fresh_database(url)
    seeding.seed(url, seeding.year_of_appeals(items))
    return settings_for(url, admin_ids=[LEADER])


async def register(env: Env, count: int) -> None:
    for n in range(count):
        await people_cases.register_enterprise(
            env,
            50000 + n,
            f"鄂州市第{n}号企业有限公司",
            uscc(n),
            contact_name(n),
            "13907110000",
            None,
        )


async def build_pack(env: Env) -> digest_files.LeadersPack:
    """What the courier does for the leaders' files on Monday."""
    return await pack_worker.leaders_pack(env, WEEK)


async def build_pack_rows_here(env: Env) -> digest_files.LeadersPack:
    """The pack as the previous version built it: the digest made here, the chart drawn
    and the ledger worded and written in the worker, its rows read on the event loop."""
    digest = await reports.leaders_digest(env, None, WEEK)
    return await digest_files.build_leaders_pack(env, digest, leaders_text(digest))


async def build_pack_on_loop(env: Env) -> digest_files.LeadersPack:
    """The pack as it was built before: the digest made, the chart drawn and the ledger
    read, worded and written on the event loop."""
    digest = await reports.leaders_digest(env, None, WEEK)
    return await digest_files.build_leaders_pack(env, digest, leaders_text(digest), here=True)


async def phase(
    box: Sandbox,
    crowd: list[Person],
    labels: list[str],
    steps: int,
    packing: bool,
    build: Callable[[Env], Awaitable[digest_files.LeadersPack]] = build_pack,
) -> tuple[list[float], list[digest_files.LeadersPack], float]:
    """The people's step latencies; with `packing`, packs built until they are done (at
    least one whole); returns the latencies, the packs and the first pack's seconds."""
    latencies: list[float] = []
    done = asyncio.Event()
    packs: list[digest_files.LeadersPack] = []
    first = [0.0]
    counter = [0]

    async def timed(call) -> None:  # noqa: ANN001
        start = time.perf_counter()
        await call
        latencies.append(time.perf_counter() - start)

    async def person(n: int, who: Person) -> None:
        round_ = 0
        while len(latencies) < steps or (packing and not done.is_set()):
            label = labels[(n + round_) % len(labels)]
            counter[0] += 1
            await timed(who.send("/new"))
            await timed(who.press(label))
            await timed(who.send(f"第{counter[0]}件：扩建冷链仓库需流动资金，申请{label}对接。"))
            await timed(who.press("提交"))
            round_ += 1

    async def packer() -> None:
        while not packs or len(latencies) < steps:
            start = time.perf_counter()
            packs.append(await build(box.env))
            first[0] = first[0] or time.perf_counter() - start
        done.set()

    jobs = [person(n, who) for n, who in enumerate(crowd)]
    await asyncio.gather(*jobs, *([packer()] if packing else []))
    return latencies, packs, first[0]


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.99 * (len(ordered) - 1))]


async def run(items: int, people: int, steps: int, place: Place) -> dict:
    settings = await seeded(place, items)
    clock = ManualClock(datetime.combine(TODAY, clock_time(2), UTC))
    box = await Sandbox.start(settings, load_org(BUNDLED_ORG_CONFIG), clock)
    try:
        env = box.env
        await register(env, people)
        await reports.refresh_tallies(env)  # the first build, as after an upgrade (not timed)
        settle_heap()  # as `appealdesk run` does once it has started
        labels = [c.name for c in env.org.categories[:6]]
        crowd = [box.person(50000 + n, contact_name(n)) for n in range(people)]
        await build_pack(env)  # warm: the worker process, fonts, the first digest
        await phase(box, crowd, labels, steps // 4, False)  # warm: the people's paths
        got: dict[str, object] = {}
        # The pack first: the quiet phase then times as many steps as it did (the people
        # keep stepping until a whole pack is built), so both p99s rest on as many steps.
        got["pack"] = await phase(box, crowd, labels, steps, True)
        got["quiet"] = await phase(box, crowd, labels, len(got["pack"][0]), False)
        got["rows here"] = await phase(box, crowd, labels, steps, True, build_pack_rows_here)
        got["on loop"] = await phase(box, crowd, labels, steps, True, build_pack_on_loop)
        return got
    finally:
        await box.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, nargs="+", default=[5_000])
    parser.add_argument("--people", type=int, default=8, help="enterprise contacts at once")
    parser.add_argument("--steps", type=int, default=400, help="steps timed in each phase")
    parser.add_argument("--backend", type=backend_choice, default=["sqlite"],
                        help="sqlite | postgresql | both (default sqlite)")  # fmt: skip
    args = parser.parse_args()
    print(f"{'backend':<10} | {'appeals':>9} | {'phase':<9} | {'steps':>5} | {'p50 ms':>7} |"
          f" {'p99 ms':>7} | {'p99 ÷ quiet':>11} | {'one pack s':>10} | ledger")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder, places(args.backend, Path(folder)) as where:
        for items in args.items:
            for backend, place in where.items():
                got = await run(items, args.people, args.steps, place)
                show(items, backend, args.people, got)


def show(items: int, backend: str, people: int, got: dict) -> None:
    """The phases' lines and the closing table's rows of one size on one backend."""
    quiet = p99(got["quiet"][0])
    for name in PHASES:
        latencies, packs, seconds = got[name]
        ledger = ""
        if packs:
            pack = packs[0]
            which = "week" if pack.year_too_large else "year"
            size = len(pack.ledger) / 2**20
            ledger = f"{which}, {pack.ledger_count:,} rows, {size:.1f} MB"
        print(f"{backend:<10} | {items:>9,} | {name:<9} | {len(latencies):>5} |"
              f" {1000 * statistics.median(latencies):>7.1f} |"
              f" {1000 * p99(latencies):>7.1f} | {p99(latencies) / quiet:>11.2f} |"
              f" {seconds:>10.1f} | {ledger}", flush=True)  # fmt: skip
    for name in PHASES[1:]:
        summary(
            f"acting user's p99 ms during a Monday pack ({name}, {backend})",
            f"{items:,} appeals, {people} people",
            f"{1000 * p99(got[name][0]):.1f}",
            f"{1000 * quiet:.1f} (quiet, same run)",
            f"{p99(got[name][0]) / quiet:.2f}",
        )


if __name__ == "__main__":
    asyncio.run(main())
