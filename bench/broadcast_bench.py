"""政策宣贯 at scale, against the project's fake Bot API over HTTP on 127.0.0.1 keeping
Telegram's flood limits strictly (30 messages in any sliding second for the bot, one a second
to a private chat: a message over a limit gets 429 and is not delivered).

`rate`: a broadcast to `--contacts` registered contacts (2,000) made by the use case, sent by
the courier from the outbox as the delivery job does; then again with one contact in a
hundred answered 429 once (retry_after 1 s: python-telegram-bot's limiter then pauses every
send for that second, as Telegram asks). Printed: messages per second ÷ 30 and against a
bare loop (the same limiter, no database) in the same run; lost, doubled; whether every 429
was honoured (that chat's next try at least retry_after later).

`intake`: the acting users' latency while a broadcast goes. The intake bench's product bot
(bench/intake_bench.py, its own process, SQLite) takes `--enterprises` enterprises filing
appeals (16 updates each) twice: once alone, once with a broadcast to `--contacts` other
contacts queued as the burst starts. Printed: the p99 of each and their ratio (the goal:
≤ 1.2), and how many broadcast messages went during the burst.

`memory`: the peak of Python's allocations (tracemalloc) while a broadcast to N contacts is
released into the outbox and sent (to a fake without limits, in a process of its own, so that
20,000 go in seconds and what it records is not counted), then while its reach report is
written, for N = 2,000 and 20,000: flat when the peaks match.

`kill`: the product bot sends a broadcast to `--contacts` contacts and is killed (SIGKILL)
`--kills` times while it does, then started again; printed: lost, doubled (the goal: none
lost, at most one repeat per kill).

    python -m bench.broadcast_bench --contacts 2000
    python -m bench.broadcast_bench --only rate --contacts 2000
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from datetime import timedelta
from pathlib import Path

from bench.common import contact_name, settings_for, summary
from bench.fanout_bench import TELEGRAM_RATE, bare_loop, make_bot, measured
from bench.intake_bench import LEADER, drive, percentile, seed, uscc
from bot.app import make_env
from bot.broadcast_sheet import write_reach
from bot.config import BUNDLED_ORG_CONFIG, load_org
from bot.rules.broadcasts import Audience, AudienceKind, Reach
from bot.sandbox.fake_api import FakeBotApi
from bot.sandbox.http_server import serve
from bot.usecases import broadcasts
from bot.usecases.env import Env
from bot.usecases.people import Caller
from handlers import courier

CONTACTS = 80_000  # the contacts' Telegram ids start here (the intake's people are below)
FLOODED_EVERY = 100  # one contact in this many is answered 429 once
TITLE = "关于申报2026年度数据中心建设专项补助的通知"
BODY = "各有关企业：市经信局现受理2026年度专项补助申报，请于3月31日前提交申报材料。"


def leader_env(url: str) -> Env:
    return make_env(settings_for(url, admin_ids=[LEADER]), load_org(BUNDLED_ORG_CONFIG), None)


def seed_contacts(path: Path, contacts: int) -> None:
    """`contacts` registered enterprises with one contact each, tagged 宣贯对象, written
    straight into the SQLite file (the intake's own people are there already)."""
    conn = sqlite3.connect(path)
    now = "2026-03-10T02:00:00+00:00"
    with conn:
        first = conn.execute("SELECT COALESCE(MAX(id), 0) FROM enterprises").fetchone()[0] + 1
        conn.executemany(
            "INSERT INTO enterprises (id, name, uscc, contact_name, phone, created_at)"
            " VALUES (?, ?, ?, ?, '13907110000', ?)",
            [
                (first + n, f"鄂州市宣贯{n}号企业有限公司", uscc(10_000 + n), contact_name(n), now)
                for n in range(contacts)
            ],
        )
        conn.executemany(
            "INSERT INTO users (tg_id, role, full_name, enterprise_id, created_at)"
            " VALUES (?, 'enterprise', ?, ?, ?)",
            [(CONTACTS + n, contact_name(n), first + n, now) for n in range(contacts)],
        )
        conn.executemany(
            "INSERT INTO directory (uscc, name, enterprise_id, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                (uscc(10_000 + n), f"鄂州市宣贯{n}号企业有限公司", first + n, now, now)
                for n in range(contacts)
            ],
        )
        conn.execute(
            "INSERT INTO directory_tags (entry_id, tag) SELECT id, '宣贯对象' FROM directory"
            " WHERE enterprise_id >= ?",
            (first,),
        )
    conn.close()


async def start_broadcast(env: Env) -> int:
    created = await broadcasts.create(
        env,
        Caller(LEADER, "局领导"),
        broadcasts.Draft(TITLE, BODY, "industry", Audience(AudienceKind.TAG, ("宣贯对象",))),
        None,
        None,
    )
    return created.recipients


async def prepared(folder: Path, contacts: int, name: str) -> tuple[Path, Env]:
    path = folder / f"{name}.sqlite3"
    await seed(f"sqlite:///{path}", 0, "heads")  # the schema, the departments
    seed_contacts(path, contacts)
    return path, leader_env(f"sqlite:///{path}")


# --- rate --------------------------------------------------------------------------------------


async def drain_all(env: Env, bot: object, deadline: float) -> None:
    """Send until nothing is owed (429s come back due a second later)."""
    while time.monotonic() < deadline:
        await courier.drain(bot, env)
        async with env.db.reading() as uow:
            owed = await uow.outbox.due(env.now() + timedelta(seconds=30), 1)
        if not owed:
            return
        await asyncio.sleep(0.2)


async def rate(contacts: int, flooded_every: int) -> None:
    api = FakeBotApi(now=time.time)
    runner, port = await serve(api)
    chats = [CONTACTS + n for n in range(contacts)]
    flooded = chats[::flooded_every] if flooded_every else []
    try:
        bot = await make_bot(port)
        bare = await measured("bare loop (same limiter)", api, contacts, bare_loop(bot, chats))
        await bot.shutdown()
        with tempfile.TemporaryDirectory() as folder:
            _, env = await prepared(Path(folder), contacts, "rate")
            await env.db.open()
            queued = await start_broadcast(env)
            assert queued == contacts, queued
            for chat in flooded:
                api.fail_chat(chat, 429, "Too Many Requests: retry after 1", times=1)
            bot = await make_bot(port)
            await asyncio.sleep(1.0)
            ours = await measured(
                "broadcast from the outbox",
                api,
                contacts,
                drain_all(env, bot, time.monotonic() + 600),
            )
            await env.db.close()
            await bot.shutdown()
    finally:
        await runner.cleanup()
    honoured = _honoured(api, flooded)
    print(f"{'':<26} | seconds | msg/s  |  ÷ 30 | lost | double")
    for run in (bare, ours):
        print(
            f"{run.label:<26} | {run.seconds:>7.1f} | {run.rate:>6.1f} |"
            f" {run.rate / TELEGRAM_RATE:>5.3f} | {run.messages - run.delivered:>4} |"
            f" {run.doubled:>6}"
        )
    print(f"429 answered {len(flooded)} contacts once; honoured (retry ≥ 1 s later): {honoured}")
    injected = f"{len(flooded)} answered 429 once" if flooded else "no 429 injected"
    summary(
        "broadcast msg/s (÷ 30), strict fake",
        f"{contacts:,} contacts, {injected}",
        f"{ours.rate:.1f} ({ours.rate / TELEGRAM_RATE:.3f})",
        f"{bare.rate:.1f} ({bare.rate / TELEGRAM_RATE:.3f}, bare loop)",
        f"{ours.rate / bare.rate:.2f}; lost {contacts - ours.delivered}, doubled {ours.doubled},"
        f" 429s honoured {honoured}/{len(flooded)}",
    )


def _honoured(api: FakeBotApi, flooded: list[int]) -> int:
    """Chats whose next try after their 429 came at least a second later."""
    by_chat: dict[int, list[tuple[float, int]]] = {}
    for at, chat, _, status in api.attempts:
        if chat in set(flooded):
            by_chat.setdefault(chat, []).append((at, status))
    good = 0
    for tries in by_chat.values():
        refused = [at for at, status in tries if status == 429]
        later = [at for at, status in tries if status == 200]
        if refused and later and min(later) - refused[0] >= 0.99:
            good += 1
    return good


# --- intake while a broadcast goes ------------------------------------------------------------


async def intake(enterprises: int, contacts: int, rounds: int) -> None:
    alone = await _intake_run(enterprises, contacts, rounds, False)
    during = await _intake_run(enterprises, contacts, rounds, True)
    print(
        f"acting users' latency alone: p50 {alone['p50']:.2f} s, p99 {alone['p99']:.2f} s;"
        f" during a broadcast to {contacts:,}: p50 {during['p50']:.2f} s,"
        f" p99 {during['p99']:.2f} s ({during['sent']} broadcast messages went during the burst)"
    )
    summary(
        "acting users' p99 during a broadcast (÷ alone)",
        f"{enterprises} enterprises filing, broadcast to {contacts:,}",
        f"{during['p99']:.2f} s",
        f"{alone['p99']:.2f} s (same intake, no broadcast)",
        f"{during['p99'] / alone['p99']:.2f} (goal ≤ 1.2); {during['sent']} sent meanwhile",
    )


async def _intake_run(enterprises: int, contacts: int, rounds: int, broadcast: bool) -> dict:
    from bench.intake_bench import make_api, stop_processes

    api, _ = make_api()
    runner, port = await serve(api)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "intake.sqlite3"
        url = f"sqlite:///{path}"
        labels = await seed(url, enterprises, "heads")
        seed_contacts(path, contacts)
        bot = await _bot_process(port, url)
        try:
            while not any(method == "getUpdates" for method, _ in api.calls):
                await asyncio.sleep(0.05)
            await asyncio.sleep(6.0)  # the start-up sweep done
            if broadcast:
                env = leader_env(url)
                await env.db.open()
                await start_broadcast(env)
                await env.db.close()
            before = _broadcast_sent(api)

            async def send(update: dict) -> None:
                api.push(update)

            seconds, _, flow = await drive(api, enterprises, labels, send, rounds, True, False)
            sent = _broadcast_sent(api) - before
        finally:
            await stop_processes([bot])
            await runner.cleanup()
    latencies = sorted(flow.enterprise_latencies)
    return {
        "p50": statistics.median(latencies),
        "p99": percentile(latencies, 0.99),
        "seconds": seconds,
        "sent": sent,
    }


def _broadcast_sent(api: FakeBotApi) -> int:
    return sum(1 for m in api.sent if m.chat_id >= CONTACTS)


async def _bot_process(port: int, url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.intake_bench",
        "--serve",
        "product",
        "--port",
        str(port),
        "--db",
        url,
        "--notices",
        "heads",
        stderr=asyncio.subprocess.DEVNULL,
    )


# --- memory ----------------------------------------------------------------------------------


async def fake_server() -> None:
    """In a process of its own (`--fake`): the fake Bot API without limits, its port on the
    first line; what it records is not counted in the measured process's memory."""
    api = FakeBotApi(now=time.time)
    runner, port = await serve(api)
    print(port, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def memory(sizes: list[int]) -> None:
    from telegram.ext import ExtBot

    peaks, reports = {}, {}
    fake = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.broadcast_bench", "--fake", stdout=asyncio.subprocess.PIPE
    )
    assert fake.stdout is not None
    port = int((await fake.stdout.readline()).decode())
    try:
        for size in sizes:
            with tempfile.TemporaryDirectory() as folder:
                _, env = await prepared(Path(folder), size, f"memory{size}")
                await env.db.open()
                bot = ExtBot("4242:bench-token", base_url=f"http://127.0.0.1:{port}/bot")
                await bot.initialize()
                tracemalloc.start()
                await start_broadcast(env)
                while await courier.drain(bot, env):
                    pass
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.reset_peak()
                found = await broadcasts.report(env, None, 1)
                await write_reach(found, Path(folder) / "reach.xlsx", env.zone, "")
                _, report_peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                delivered = found.reach.count(Reach.DELIVERED)
                await bot.shutdown()
                await env.db.close()
            peaks[size], reports[size] = peak / 2**20, report_peak / 2**20
            print(
                f"broadcast to {size:,}: {delivered:,} delivered, peak {peaks[size]:.1f} MiB;"
                f" its reach report (XLSX file) {reports[size]:.1f} MiB"
            )
    finally:
        fake.terminate()
        await fake.wait()
    small, large = sizes[0], sizes[-1]
    summary(
        "broadcast memory, peak MiB (tracemalloc)",
        f"{large:,} recipients",
        f"{peaks[large]:.1f}",
        f"{peaks[small]:.1f} ({small:,} recipients)",
        f"{peaks[large] / peaks[small]:.2f} for {large // small}× the recipients;"
        f" reach report {reports[large]:.1f} vs {reports[small]:.1f} MiB",
    )


# --- kill -9 while sending ------------------------------------------------------------------


async def kills(contacts: int, times: int) -> None:
    api = FakeBotApi(now=time.time)
    api.keep_limits()
    runner, port = await serve(api)
    with tempfile.TemporaryDirectory() as folder:
        path, env = await prepared(Path(folder), contacts, "kill")
        url = f"sqlite:///{path}"
        await env.db.open()
        await start_broadcast(env)
        await env.db.close()
        killed = 0
        bot = await _bot_process(port, url)
        try:
            for _ in range(times):
                target = _broadcast_sent(api) + contacts // (times + 1)
                while _broadcast_sent(api) < target:
                    await asyncio.sleep(0.05)
                bot.send_signal(signal.SIGKILL)
                await bot.wait()
                killed += 1
                bot = await _bot_process(port, url)
            deadline = time.monotonic() + 900
            while len({m.chat_id for m in api.sent if m.chat_id >= CONTACTS}) < contacts:
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(3.0)
        finally:
            from bench.intake_bench import stop_processes

            await stop_processes([bot])
    await runner.cleanup()
    got = Counter(m.chat_id for m in api.sent if m.chat_id >= CONTACTS)
    lost = contacts - len(got)
    doubled = sum(n - 1 for n in got.values())
    print(f"kill -9 ×{killed} while sending to {contacts:,}: lost {lost}, doubled {doubled}")
    summary(
        "broadcast under kill -9",
        f"{contacts:,} contacts, {killed} kills",
        f"lost {lost}, doubled {doubled}",
        f"at most {killed} repeat(s) allowed",
        "ok" if lost == 0 and doubled <= killed else "FAILED",
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--enterprises", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--memory", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--only", choices=("rate", "intake", "memory", "kill"))
    parser.add_argument("--fake", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake:
        await fake_server()
        return
    if args.only in (None, "rate"):
        await rate(args.contacts, 0)
        await rate(args.contacts, FLOODED_EVERY)
    if args.only in (None, "intake"):
        await intake(args.enterprises, args.contacts, args.rounds)
    if args.only in (None, "memory"):
        await memory(args.memory)
    if args.only in (None, "kill"):
        await kills(args.contacts, args.kills)


if __name__ == "__main__":
    asyncio.run(main())
