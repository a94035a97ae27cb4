"""Intake at the flood limit: the product against a bare echo bot, same rate limiter, same
fake Bot API over HTTP on 127.0.0.1, same people.

200 enterprises each file 4 appeals through the real flow (/new → category → description
→ 提交: 16 updates each, 3,200 in all; the six categories in turn), waiting for the bot's
answer before the next step as a person does, all at once (a Monday burst). 30 officials
have joined the six departments (five each, the first as head), so every new appeal owes
its department notices. The echo bot answers every update with one message carrying the
same buttons. Printed: updates per second, the acting user's latency (update pushed →
first answer) at p50 / p99, the bot process's CPU time per update (on PostgreSQL also the
server's), and for the product the appeals its officials heard of, in how many messages,
how many twice, and how long after the burst the last one arrived. Both runs are made
with the rate limiter and without it (handlers alone: `--pairs` echo/product pairs by
turns, the product first in every other pair, the median pair reported);
`--only limited|unlimited` runs one. Each bot runs in a process of its own; the fake Bot
API and the simulated people share another.

`--backend postgresql` runs the product on a throwaway PostgreSQL server instead of a
SQLite file (reached through its Unix socket; `--tcp`: on 127.0.0.1); `--backend both`
runs the above on SQLite, then the product on SQLite and on PostgreSQL by pairs (each
first in every other pair) and reports PostgreSQL's rate ÷ SQLite's, median pair.

    python -m bench.intake_bench --enterprises 200
    python -m bench.intake_bench --enterprises 200 --notices heads --backend both --pairs 3
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import re
import signal
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, MessageHandler
from telegram.ext import filters as tg_filters

from bench.common import Place, backend_choice, contact_name, places, settings_for, summary
from bot.app import build_application, make_env, on_start, on_stop, settle_heap
from bot.cli import POLL_INTERVAL as CLI_POLL_INTERVAL
from bot.config import BUNDLED_ORG_CONFIG, load_org
from bot.rules.uscc import check_char
from bot.sandbox.fake_api import FakeBotApi
from bot.sandbox.http_server import serve
from bot.usecases import people
from handlers.courier import SEND_IN_BACKGROUND
from handlers.limits import FloodLimits
from handlers.ordering import PerUserOrder

ROUNDS = 4
# Both bots wait between polls as `appealdesk run` does.
POLL_INTERVAL = CLI_POLL_INTERVAL
PATIENCE = 120.0


def uscc(n: int) -> str:
    base = f"914207{n:05d}MA4F0A"[:17]
    return base + check_char(base)


OFFICIALS_PER_DEPARTMENT = 5
LEADER = 7000


async def seed(url: str, enterprises: int, notices: str) -> list[str]:
    """Registered enterprises and 30 officials; returns the category labels, in turn."""
    org = load_org(BUNDLED_ORG_CONFIG)
    settings = settings_for(url, admin_ids=[LEADER])
    env = make_env(settings, org, None)
    await env.db.open()
    await people.sync_departments(env)
    leader = await people.actor_for(env, LEADER)
    categories = org.categories[:6]
    for c, category in enumerate(categories):
        for k in range(OFFICIALS_PER_DEPARTMENT):
            invite = await people.create_invite(env, leader, category.department, k == 0)
            await people.accept_invite(env, 60000 + 10 * c + k, f"办事员{c}{k}", invite.code)
    for n in range(enterprises):
        await people.register_enterprise(
            env,
            50000 + n,
            f"鄂州市第{n}号企业有限公司",
            uscc(n),
            contact_name(n),
            "13907110000",
            None,
        )
    await env.db.close()
    return [c.name for c in categories]


def echo_app(port: int, limiter: FloodLimits | None, labels: list[str]) -> Application:
    buttons = InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=f"{n}")] for n, label in enumerate(labels)]
        + [[InlineKeyboardButton("提交", callback_data="y")]]
    )

    async def answer(update: Update, context: object) -> None:
        if update.callback_query is not None:
            await update.callback_query.answer()
        await update.effective_chat.send_message("收到", reply_markup=buttons)

    builder = ApplicationBuilder().token("4242:echo").base_url(f"http://127.0.0.1:{port}/bot")
    if limiter is not None:
        builder = builder.rate_limiter(limiter)
    app = builder.concurrent_updates(PerUserOrder(32)).build()
    app.add_handler(MessageHandler(tg_filters.ALL, answer))
    app.add_handler(CallbackQueryHandler(answer))
    return app


async def drive(api: FakeBotApi, enterprises: int, labels: list[str]) -> tuple[float, list[float]]:
    """Every enterprise files ROUNDS appeals; returns (seconds, latencies)."""
    arrived: dict[int, asyncio.Event] = defaultdict(asyncio.Event)
    api.listeners.append(lambda message: arrived[message.chat_id].set())
    latencies: list[float] = []
    loop = asyncio.get_running_loop()

    async def step(user: dict, update: dict, expect: str | None = None) -> None:
        """Push one update; wait for a new message to this person (with `expect`, one
        carrying that button, which the next step presses)."""
        chat, seen = user["id"], len(api.messages_to(user["id"]))
        event = arrived[chat]
        start = loop.time()
        api.push(update)

        def answered() -> bool:
            new = api.messages_to(chat)[seen:]
            return any(expect in dict(m.buttons) for m in new) if expect else bool(new)

        while not answered():
            event.clear()
            await asyncio.wait_for(event.wait(), PATIENCE)
        latencies.append(loop.time() - start)

    def press(user: dict, label: str) -> dict:
        message = next(m for m in reversed(api.messages_to(user["id"])) if label in dict(m.buttons))
        return api.callback_update(user, message, dict(message.buttons)[label])

    async def person(n: int) -> None:
        user = {"id": 50000 + n, "is_bot": False, "first_name": f"联络员{n}"}
        for round_ in range(ROUNDS):
            label = labels[(n + round_) % len(labels)]
            await step(user, api.message_update(user, "/new"), label)
            await step(user, press(user, label))
            text = f"第{round_}件：扩建冷链仓库需流动资金约800万元，申请{label}对接（企业{n}）。"
            await step(user, api.message_update(user, text), "提交")
            await step(user, press(user, "提交"))

    start = loop.time()
    await asyncio.gather(*(person(n) for n in range(enterprises)))
    return loop.time() - start, latencies


NEW_APPEAL = re.compile(r"新诉求 (SQ-\d{4}-\d{6})")


def officials(api: FakeBotApi) -> list[list]:
    return [
        api.messages_to(60000 + 10 * c + k)
        for c in range(6)
        for k in range(OFFICIALS_PER_DEPARTMENT)
    ]


def notices_repeated(api: FakeBotApi) -> int:
    """Appeals an official was told of more than once."""
    return sum(
        len(told) - len(set(told))
        for told in (
            [n for m in messages for n in NEW_APPEAL.findall(m.text)] for messages in officials(api)
        )
    )


def notices_heard(api: FakeBotApi) -> int:
    """(official, new appeal) pairs told so far, alone or in a list of notices."""
    return sum(
        len({n for m in messages for n in NEW_APPEAL.findall(m.text)})
        for messages in officials(api)
    )


async def notices_settle(api: FakeBotApi, owed: int, patience: float = 900.0) -> float:
    """Seconds until the officials have heard of `owed` appeals (or patience runs out)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while notices_heard(api) < owed and loop.time() - start < patience:
        await asyncio.sleep(0.5)
    return loop.time() - start


async def serve_bot(variant: str, port: int, url: str, limited: bool, notices: str) -> None:
    """In a process of its own: run one bot against the fake Bot API until SIGTERM."""
    limiter = FloodLimits(max_retries=3) if limited else None
    org = load_org(BUNDLED_ORG_CONFIG)
    if variant == "echo":
        app = echo_app(port, limiter, [c.name for c in org.categories[:6]])
        await app.initialize()
    else:
        settings = settings_for(
            url,
            telegram_base_url=f"http://127.0.0.1:{port}/bot",
            bot_token="4242:intake",
            admin_ids=[LEADER],
        )
        org.routing.department_notices = notices
        app = build_application(
            settings, org, rate_limiter=limiter, update_processor=PerUserOrder(32)
        )
        app.bot_data[SEND_IN_BACKGROUND] = True
        await app.initialize()
        await on_start(app)
    settle_heap()  # both bots, as `appealdesk run` does after start-up
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await app.start()
    await app.updater.start_polling(poll_interval=POLL_INTERVAL, timeout=1)
    await stop.wait()
    await app.updater.stop()
    await app.stop()
    if variant != "echo":
        await on_stop(app)
    await app.shutdown()


async def run(
    variant: str, enterprises: int, limited: bool, place: Place, notices: str
) -> dict[str, float]:
    """One bot in its own process; the fake Bot API and the people in this one."""
    api = FakeBotApi()
    runner, port = await serve(api)
    url = place.url(f"intake-{variant}-{limited}")
    labels = await seed(url, enterprises, notices)
    settled, owed, messages, repeated = 0.0, 0, 0, 0
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.intake_bench", "--serve", variant, "--port", str(port),
        "--db", url, "--notices", notices, *([] if limited else ["--only", "unlimited"]),
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while not any(method == "getUpdates" for method, _ in api.calls):
            await asyncio.sleep(0.05)
        cpu_before, server_before = cpu_seconds(bot.pid), server_cpu_seconds(url)
        seconds, latencies = await drive(api, enterprises, labels)
        if variant != "echo":
            settled = await notices_settle(api, notices_per_appeal(notices) * enterprises * ROUNDS)
            owed = notices_heard(api)
            messages = sum(len(m) for m in officials(api))
            repeated = notices_repeated(api)
        cpu = cpu_seconds(bot.pid) - cpu_before
        server_cpu = server_cpu_seconds(url) - server_before
    finally:
        if bot.returncode is None:
            bot.terminate()
        try:
            await asyncio.wait_for(bot.wait(), 30)
        except TimeoutError:
            bot.kill()
            await bot.wait()
        await runner.cleanup()
    latencies.sort()
    return {
        "updates": len(latencies),
        "rate": len(latencies) / seconds,
        "p50": statistics.median(latencies),
        "p99": latencies[int(0.99 * (len(latencies) - 1))],
        "notices": owed,
        "messages": messages,
        "repeated": repeated,
        "settled": settled,
        "cpu_ms": 1000 * cpu / len(latencies),
        "server_cpu_ms": 1000 * server_cpu / len(latencies),
    }


def cpu_seconds(pid: int, children: bool = False) -> float:
    """CPU time a process has used (user + system; `children`: with its ended children's),
    from /proc (Linux); nan elsewhere. Time the machine's other tenants take (steal) is not
    in it, unlike a rate."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(url: str) -> float:
    """CPU time the PostgreSQL server behind `url` has used: its postmaster with the
    sessions that ended, and the sessions running (found through /proc: the server runs on
    this machine); 0 for SQLite."""
    if not url.startswith("postgresql"):
        return 0.0
    import psycopg

    with psycopg.connect(url) as conn:  # its session's parent is the postmaster
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        stat = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
    postmaster = int(stat[1])
    total = cpu_seconds(postmaster, children=True)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != backend:
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def notices_per_appeal(notices: str) -> int:
    """Officials told of one new appeal: the department's members, or its head."""
    return 1 if notices == "heads" else OFFICIALS_PER_DEPARTMENT


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--enterprises", type=int, default=200)
    parser.add_argument("--only", choices=["limited", "unlimited"])
    parser.add_argument(
        "--pairs", type=int, default=5, help="echo/product pairs without a limiter (median)"
    )
    parser.add_argument(
        "--notices", choices=["members_and_group", "heads"], default="members_and_group"
    )
    parser.add_argument("--serve", choices=["echo", "product"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--backend", type=backend_choice, default=["sqlite"],
                        help="sqlite | postgresql: the product's database; both: the product"
                        " on PostgreSQL against the product on SQLite, by pairs")  # fmt: skip
    parser.add_argument("--tcp", action="store_true",
                        help="PostgreSQL on 127.0.0.1, not its Unix socket")  # fmt: skip
    args = parser.parse_args()
    if args.serve:
        await serve_bot(args.serve, args.port, args.db, args.only != "unlimited", args.notices)
        return
    modes = {"limited": True, "unlimited": False}
    # Each bot is stopped while its long poll is open: the fake Bot API's complaint about the
    # lost connection is expected, not news.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    print(f"{args.enterprises} enterprises × {ROUNDS} appeals, 30 officials,"
          f" department_notices = {args.notices}")  # fmt: skip
    print(f"{'run':<14} | {'bot':<7} | {'updates':>7} | {'upd/s':>6} | {'p50 s':>6} |"
          f" {'p99 s':>6} | {'CPU ms':>6} | {'÷ echo':>6} | {'notices':>7} | {'in msgs':>7} |"
          f" {'twice':>5} |"
          f" {'last notice s':>13}")  # fmt: skip
    first = args.backend[:1]  # both: the echo comparison on SQLite, then the backends'
    with tempfile.TemporaryDirectory() as folder, places(first, Path(folder), args.tcp) as where:
        place = where[first[0]]
        for mode, limited in modes.items():
            if args.only and args.only != mode:
                continue
            label = "FloodLimits" if limited else "no limiter"
            # Without a limiter the rate is the machine's: pairs run by turns, the median
            # pair reported, so that a slow minute on a shared machine does not decide it.
            # (Its spread is printed too: on a shared 2-core machine one pair says little.)
            pairs = 1 if limited else args.pairs
            runs = []
            for turn in range(pairs):
                # Every other pair the product goes first, so that a machine getting slower
                # or faster during the bench does not favour one bot.
                order = ("echo", "product") if turn % 2 == 0 else ("product", "echo")
                got = {
                    variant: await run(variant, args.enterprises, limited, place, args.notices)
                    for variant in order
                }
                echo, product = got["echo"], got["product"]
                print_pair(label, echo, product)
                runs.append((product["rate"] / echo["rate"], echo, product))
            runs.sort(key=lambda r: r[0])
            ratio, echo, product = runs[len(runs) // 2]
            if pairs > 1:
                ratios = ", ".join(f"{r:.2f}" for r, _, _ in runs)
                print(f"{label}: median of {pairs} pairs {ratio:.2f} (pairs: {ratios})")
            size = f"{args.enterprises} ent., {args.notices}"
            summary(
                f"intake upd/s, {label}",
                size + (f", median of {pairs}" if pairs > 1 else ""),
                f"{product['rate']:.1f}",
                f"{echo['rate']:.1f} (echo bot)",
                f"{ratio:.2f}"
                + (f" (pairs {runs[0][0]:.2f}–{runs[-1][0]:.2f})" if pairs > 1 else ""),
            )
            summary(
                f"intake p50 / p99 s, {label}",
                size,
                f"{product['p50']:.2f} / {product['p99']:.2f}",
                f"{echo['p50']:.2f} / {echo['p99']:.2f} (echo bot)",
                f"p99 {product['p99'] / echo['p99']:.2f}",
            )
            summary(
                f"intake CPU ms per update, {label}",
                size,
                f"{product['cpu_ms']:.2f}",
                f"{echo['cpu_ms']:.2f} (echo bot)",
                f"{echo['cpu_ms'] / product['cpu_ms']:.2f}",
            )
    if len(args.backend) > 1:
        await backends(args)


async def backends(args: argparse.Namespace) -> None:
    """The product on each backend, by pairs taken in turns (each backend first in every
    other pair), both with the rate limiter and without; the median pair's ratio."""
    print(f"{args.enterprises} enterprises × {ROUNDS} appeals, 30 officials,"
          f" department_notices = {args.notices}; the product on each backend")  # fmt: skip
    print(f"{'run':<14} | {'backend':<10} | {'updates':>7} | {'upd/s':>6} | {'p50 s':>6} |"
          f" {'p99 s':>6} | {'CPU ms':>6} | {'server CPU ms':>13} | {'÷ SQLite':>8}")  # fmt: skip
    first, second = args.backend
    with (
        tempfile.TemporaryDirectory() as folder,
        places(args.backend, Path(folder), args.tcp) as where,
    ):
        for label, limited in (("no limiter", False), ("FloodLimits", True)):
            if args.only and (args.only == "limited") != limited:
                continue
            runs = []
            for turn in range(args.pairs):
                order = (first, second) if turn % 2 == 0 else (second, first)
                got = {
                    b: await run("product", args.enterprises, limited, where[b], args.notices)
                    for b in order
                }
                for backend in args.backend:
                    one = got[backend]
                    ratio = one["rate"] / got[first]["rate"]
                    print(f"{label:<14} | {backend:<10} | {one['updates']:>7} |"
                          f" {one['rate']:>6.1f} | {one['p50']:>6.2f} | {one['p99']:>6.2f} |"
                          f" {one['cpu_ms']:>6.2f} | {one['server_cpu_ms']:>13.2f} |"
                          f" {ratio:>8.2f}", flush=True)  # fmt: skip
                runs.append((got[second]["rate"] / got[first]["rate"], got))
            runs.sort(key=lambda r: r[0])
            ratio, got = runs[len(runs) // 2]
            spread = f" (pairs {runs[0][0]:.2f}–{runs[-1][0]:.2f})" if len(runs) > 1 else ""
            ours, theirs = got[second], got[first]
            summary(
                f"intake upd/s on {second}, {label} (goal ≥ 0.9× SQLite)",
                f"{args.enterprises} ent., {args.notices}, median of {len(runs)}",
                f"{ours['rate']:.1f} (p99 {ours['p99']:.2f} s)",
                f"{theirs['rate']:.1f} (p99 {theirs['p99']:.2f} s, SQLite, same run)",
                f"{ratio:.2f}{spread}",
            )


def print_pair(label: str, echo: dict[str, float], product: dict[str, float]) -> None:
    for name, got in (("echo", echo), ("product", product)):
        ratio = f"{product['rate'] / echo['rate']:>6.2f}" if name == "product" else " " * 6
        extra = (f"{got['notices']:>7} | {got['messages']:>7} | {got['repeated']:>5} |"
                 f" {got['settled']:>13.1f}" if name == "product"
                 else f"{'':>7} | {'':>7} | {'':>5} | {'':>13}")  # fmt: skip
        print(f"{label:<14} | {name:<7} | {got['updates']:>7} | {got['rate']:>6.1f} |"
              f" {got['p50']:>6.2f} | {got['p99']:>6.2f} | {got['cpu_ms']:>6.2f} | {ratio} |"
              f" {extra}", flush=True)  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
