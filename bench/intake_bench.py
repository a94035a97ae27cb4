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

`--instances 2` runs the product as two `appealdesk run --webhook` processes on one
throwaway PostgreSQL server (WEBHOOK_URL, WEBHOOK_LISTEN, WEBHOOK_SECRET, as
docs/operations.md sets them up): the driver plays Telegram and its load balancer, posting
each update to one instance and the next to the other (another one when a post is not
answered 200), at most `--connections` posts at once (Telegram's max_connections, 40 by
default); the echo bot stays one polling process. Only the runs with the rate limiter
are made then (`--repeat` of them, the echo bot and the product by turns).

`--flow whole`: the officials act too — the official of the department whose turn it is
(by the appeal's id) claims (签收) each new appeal from their notice as soon as it comes,
replies (回复, then the text) and closes it (办结, then the text), one appeal after another,
as people do. Printed then also how long an official waited to hear of a new appeal
(appeal filed, i.e. its confirmation delivered → the department notice delivered, per
official told: p50 / p99 / max), the officials' p99 and when the last appeal was closed.

Every run's fake Bot API keeps Telegram's flood limits strictly (30 messages in any
sliding second, 1/s per private chat, 20/min per group) where bot/sandbox/fake_api.py
offers that (`strict_limits`); the fake in use is printed. The busiest second and the
429s the fake gave are printed for the product.

    python -m bench.intake_bench --enterprises 200
    python -m bench.intake_bench --enterprises 200 --notices heads --backend both --pairs 3
    python -m bench.intake_bench --instances 2 --enterprises 100 --repeat 2
    python -m bench.intake_bench --flow whole --rounds 1 --instances 2 --enterprises 200
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import itertools
import logging
import math
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import RetryAfter
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, MessageHandler
from telegram.ext import filters as tg_filters

from bench.common import Place, backend_choice, contact_name, places, settings_for, summary
from bot.app import build_application, make_env, on_start, on_stop, settle_heap
from bot.cli import POLL_INTERVAL as CLI_POLL_INTERVAL
from bot.config import BUNDLED_ORG_CONFIG, load_org
from bot.rules.uscc import check_char
from bot.sandbox.fake_api import FakeBotApi, SentMessage
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


ENTERPRISE_IDS, OFFICIAL_IDS = 50000, 60000


def is_enterprise(chat: int | str) -> bool:
    return isinstance(chat, int) and ENTERPRISE_IDS <= chat < OFFICIAL_IDS


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
            await people.accept_invite(env, OFFICIAL_IDS + 10 * c + k, f"办事员{c}{k}", invite.code)
    for n in range(enterprises):
        await people.register_enterprise(
            env,
            ENTERPRISE_IDS + n,
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
        # A 429 the limiter gave up on (its retries spent, against a fake that keeps the
        # limits strictly) is waited out and the answer sent again: the product keeps such
        # an answer in its outbox, and a baseline that loses answers measures nothing.
        while True:
            try:
                await update.effective_chat.send_message("收到", reply_markup=buttons)
                return
            except RetryAfter as exc:
                await asyncio.sleep(_seconds(exc.retry_after))

    builder = ApplicationBuilder().token("4242:echo").base_url(f"http://127.0.0.1:{port}/bot")
    if limiter is not None:
        builder = builder.rate_limiter(limiter)
    app = builder.concurrent_updates(PerUserOrder(32)).build()
    app.add_handler(MessageHandler(tg_filters.ALL, answer))
    app.add_handler(CallbackQueryHandler(answer))
    return app


Send = Callable[[dict], Awaitable[None]]
Expect = Callable[[SentMessage], bool]


def has_button(prefix: str) -> Expect:
    """A message with a button whose label (or, with `data=`, callback data) starts so."""
    return lambda m: any(label.startswith(prefix) for label, _ in m.buttons)


def has_data(prefix: str) -> Expect:
    return lambda m: any(data.startswith(prefix) for _, data in m.buttons)


def says(words: str) -> Expect:
    return lambda m: words in m.plain


def anything(m: SentMessage) -> bool:
    return True


class Flow:
    """What the people saw and when: the enterprises' and the officials' latencies, when
    each appeal was filed (its confirmation delivered) and when each official heard of it."""

    def __init__(self, api: FakeBotApi) -> None:
        self.api = api
        self.loop = asyncio.get_running_loop()
        self.arrived: dict[int, asyncio.Event] = defaultdict(asyncio.Event)
        self.enterprise_latencies: list[float] = []
        self.official_latencies: list[float] = []
        self.filed: dict[str, float] = {}  # appeal number → when its confirmation came
        self.heard: dict[tuple[int, str], float] = {}  # (official, number) → first told
        self.claims: dict[int, asyncio.Queue] = defaultdict(asyncio.Queue)
        self.queued: set[int] = set()
        self.closed = 0
        self.act = False  # officials act on their notices
        api.listeners.append(self._arrived)

    def _arrived(self, message: SentMessage) -> None:
        now = self.loop.time()
        chat = message.chat_id
        self.arrived[chat].set()
        if chat < OFFICIAL_IDS or chat >= OFFICIAL_IDS + 10 * 6:
            return
        for number in NEW_APPEAL.findall(message.plain):
            self.heard.setdefault((chat, number), now)
        if not self.act:
            return
        k = (chat - OFFICIAL_IDS) % 10
        for _, data in message.buttons:
            got = CLAIM.match(data)
            if (
                got
                and int(got[1]) % OFFICIALS_PER_DEPARTMENT == k
                and int(got[1]) not in self.queued
            ):
                self.queued.add(int(got[1]))
                self.claims[chat].put_nowait((int(got[1]), message))

    async def step(
        self, user: dict, update: dict, send: Send, expect: Expect, latencies: list[float]
    ) -> SentMessage:
        """Post one update; wait for a new message to this person that `expect` accepts
        (returned)."""
        chat, seen = user["id"], len(self.api.messages_to(user["id"]))
        event = self.arrived[chat]
        start = self.loop.time()
        posted = asyncio.ensure_future(send(update))
        try:
            while True:
                found = next((m for m in self.api.messages_to(chat)[seen:] if expect(m)), None)
                if found is not None:
                    break
                event.clear()
                await asyncio.wait_for(event.wait(), PATIENCE)
            latencies.append(self.loop.time() - start)
        finally:
            await posted
        return found

    def press(self, user: dict, message: SentMessage, prefix: str) -> dict:
        data = next(d for label, d in message.buttons if d.startswith(prefix) or label == prefix)
        return self.api.callback_update(user, message, data)

    async def enterprise(
        self, n: int, labels: list[str], send: Send, rounds: int, product: bool
    ) -> None:
        api, lat = self.api, self.enterprise_latencies
        user = {"id": ENTERPRISE_IDS + n, "is_bot": False, "first_name": f"联络员{n}"}
        for round_ in range(rounds):
            label = labels[(n + round_) % len(labels)]
            prompt = await self.step(
                user, api.message_update(user, "/new"), send, has_button(label), lat
            )
            await self.step(
                user,
                self.press(user, prompt, label),
                send,
                says("请用一条消息描述") if product else anything,
                lat,
            )
            text = f"第{round_}件：扩建冷链仓库需流动资金约800万元，申请{label}对接（企业{n}）。"
            summary_ = await self.step(
                user, api.message_update(user, text), send, has_button("提交"), lat
            )
            filed = await self.step(
                user,
                self.press(user, summary_, "提交"),
                send,
                says("诉求已提交") if product else anything,
                lat,
            )
            number = NUMBER.search(filed.plain)
            if number is not None:
                self.filed[number[0]] = self.loop.time()

    async def official(self, c: int, k: int, send: Send) -> None:
        """One official: claims, replies to and closes the appeals given to them, in turn."""
        api, lat = self.api, self.official_latencies
        chat = OFFICIAL_IDS + 10 * c + k
        user = {"id": chat, "is_bot": False, "first_name": f"办事员{c}{k}"}
        while True:
            appeal, notice = await self.claims[chat].get()
            claimed = await self.step(
                user,
                self.press(user, notice, f"claim:{appeal}:"),
                send,
                has_data(f"reply:{appeal}:"),
                lat,
            )
            await self.step(
                user, self.press(user, claimed, f"reply:{appeal}:"), send, says("请输入对诉求"), lat
            )
            replied = await self.step(
                user,
                api.message_update(user, "已联系合作银行，请准备近两年财务报表。"),
                send,
                has_data(f"close:{appeal}:"),
                lat,
            )
            await self.step(
                user, self.press(user, replied, f"close:{appeal}:"), send, says("办结情况"), lat
            )
            await self.step(
                user,
                api.message_update(user, "已完成银企对接，担保公司同意提供800万元担保。"),
                send,
                says("已办结"),
                lat,
            )
            self.closed += 1


def _seconds(value: object) -> float:
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


async def drive(
    api: FakeBotApi,
    enterprises: int,
    labels: list[str],
    send: Send,
    rounds: int,
    product: bool,
    whole: bool,
) -> tuple[float, float, Flow]:
    """Every enterprise files `rounds` appeals (`whole`: the officials handle each to its
    close meanwhile); returns (seconds of the filing burst, seconds until the last appeal
    was closed, what was seen)."""
    flow = Flow(api)
    flow.act = whole and product
    loop = flow.loop
    start = loop.time()
    officials_ = (
        [
            asyncio.create_task(flow.official(c, k, send))
            for c in range(6)
            for k in range(OFFICIALS_PER_DEPARTMENT)
        ]
        if flow.act
        else []
    )
    try:
        await asyncio.gather(
            *(flow.enterprise(n, labels, send, rounds, product) for n in range(enterprises))
        )
        burst = loop.time() - start
        closed = 0.0
        if flow.act:
            while flow.closed < enterprises * rounds:
                if any(t.done() for t in officials_):  # an official failed: say why
                    for t in officials_:
                        if t.done():
                            t.result()
                if loop.time() - start > 900:
                    raise TimeoutError(f"{flow.closed} of {enterprises * rounds} closed")
                await asyncio.sleep(0.2)
            closed = loop.time() - start
    finally:
        for t in officials_:
            t.cancel()
    return burst, closed, flow


NEW_APPEAL = re.compile(r"新诉求 (SQ-\d{4}-\d{6})")
NUMBER = re.compile(r"SQ-\d{4}-\d{6}")
CLAIM = re.compile(r"claim:(\d+):")


def officials(api: FakeBotApi) -> list[list]:
    return [
        api.messages_to(OFFICIAL_IDS + 10 * c + k)
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


SECRET = "intake-bench_secret"
WEBHOOK_PATH = "/telegram"


def make_api() -> tuple[FakeBotApi, str]:
    """The fake Bot API (its clock the real one, for the busiest second): strict about
    Telegram's flood limits where it offers that; and which one it is."""
    if "strict_limits" in inspect.signature(FakeBotApi).parameters:
        return FakeBotApi(now=time.time, strict_limits=True), "strict"
    return FakeBotApi(now=time.time), "lenient (no strict_limits in this tree)"


def flood_figures(api: FakeBotApi) -> tuple[int, str]:
    """The most messages the fake accepted in any sliding second, and its 429s (by limit
    where it counts them)."""
    moments = sorted(t for t, _, _, status in api.attempts if status == 200)
    most, first = 0, 0
    for last, at in enumerate(moments):
        while moments[first] <= at - 1.0:
            first += 1
        most = max(most, last - first + 1)
    limits = getattr(api, "limits", None)
    if limits is not None:
        refused = dict(limits.refused)
        said = ", ".join(f"{k} {v}" for k, v in sorted(refused.items())) or "0"
        to = getattr(limits, "refused_to", None)
        if to:
            people = sum(n for chat, n in to.items() if is_enterprise(chat))
            said += f" (to enterprises {people}, to officials {sum(to.values()) - people})"
        return most, said
    return most, str(sum(1 for a in api.attempts if a[3] == 429))


class Balancer:
    """Telegram and a load balancer in front of the instances: each update posted to the
    next instance in turn (to another, and again after a pause, until one answers 200), at
    most `connections` posts at once, as Telegram's max_connections keeps them."""

    def __init__(self, http: object, urls: list[str], connections: int) -> None:
        self.http, self.urls = http, urls
        self.turn = itertools.count()
        self.slots = asyncio.Semaphore(connections)
        self.refused: Counter = Counter()

    async def _post(self, url: str, update: dict) -> bool:
        import aiohttp

        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        try:
            async with self.slots, self.http.post(url, json=update, headers=headers) as answer:
                if answer.status == 200:
                    return True
                self.refused[answer.status] += 1
        except (TimeoutError, aiohttp.ClientError):
            self.refused["down"] += 1
        return False

    async def post(self, update: dict) -> None:
        n = next(self.turn)
        order = self.urls[n % len(self.urls) :] + self.urls[: n % len(self.urls)]
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            for url in order:
                if await self._post(url, update):
                    return
            await asyncio.sleep(0.2)
        raise AssertionError(f"no instance took update {update['update_id']}")


def appealdesk_command() -> list[str]:
    script = Path(sys.executable).with_name("appealdesk")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def org_file(folder: Path, notices: str) -> Path:
    """The bundled org config with `routing.department_notices` set."""
    text = BUNDLED_ORG_CONFIG.read_text(encoding="utf-8")
    text, changed = re.subn(
        r'(?m)^department_notices = ".*"$', f'department_notices = "{notices}"', text
    )
    assert changed == 1, "routing.department_notices not found in the bundled org config"
    path = folder / "org.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def start_instances(
    count: int, api_port: int, url: str, notices: str, folder: Path
) -> tuple[list[asyncio.subprocess.Process], list[str], list[Path]]:
    """`count` `appealdesk run --webhook` processes on one database (their output in log
    files); returns them with their webhook URLs once each serves /healthz."""
    import aiohttp

    from bench.pgserver import free_port

    ports = [free_port() for _ in range(count)]
    env = {
        **os.environ,
        "BOT_TOKEN": "4242:intake",
        "TELEGRAM_BASE_URL": f"http://127.0.0.1:{api_port}/bot",
        "DATABASE_URL": url,
        "ADMIN_IDS": str(LEADER),
        "ORG_CONFIG": str(org_file(folder, notices)),
        "WEBHOOK_URL": f"https://bot.example.gov.cn{WEBHOOK_PATH}",
        "WEBHOOK_SECRET": SECRET,
    }
    processes, logs = [], []
    for n, port in enumerate(ports):
        log = folder / f"instance-{n}-{port}.log"
        logs.append(log)
        with log.open("wb") as output:
            processes.append(
                await asyncio.create_subprocess_exec(
                    *appealdesk_command(),
                    "run",
                    "--webhook",
                    env={**env, "WEBHOOK_LISTEN": f"127.0.0.1:{port}"},
                    cwd=folder,
                    stdout=output,
                    stderr=asyncio.subprocess.STDOUT,
                )
            )
    deadline = time.monotonic() + PATIENCE
    async with aiohttp.ClientSession() as http:
        for port, process in zip(ports, processes, strict=True):
            while True:
                if process.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError("an instance did not start:\n" + tail(logs))
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as answer:
                        if answer.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
    return processes, [f"http://127.0.0.1:{port}{WEBHOOK_PATH}" for port in ports], logs


def tail(logs: list[Path], lines: int = 30) -> str:
    return "\n".join(
        f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        for log in logs if log.exists()
    )  # fmt: skip


async def stop_processes(processes: list[asyncio.subprocess.Process]) -> None:
    for process in processes:
        if process.returncode is None:
            process.terminate()
    for process in processes:
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


async def run(
    variant: str,
    enterprises: int,
    limited: bool,
    place: Place,
    notices: str,
    instances: int = 1,
    whole: bool = False,
    rounds: int = ROUNDS,
    connections: int = 40,
) -> dict[str, float]:
    """One bot in its own process (the product with `instances` 2: two webhook
    processes); the fake Bot API and the people in this one."""
    import aiohttp

    api, _ = make_api()
    runner, port = await serve(api)
    url = place.url(f"intake-{variant}-{limited}")
    labels = await seed(url, enterprises, notices)
    settled, owed, messages, repeated = 0.0, 0, 0, 0
    webhook = variant != "echo" and instances > 1
    folder = Path(tempfile.mkdtemp(prefix="intake-bench-"))
    logs: list[Path] = []
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) if webhook else None
    refused: Counter = Counter()
    if webhook:
        bots, urls, logs = await start_instances(instances, port, url, notices, folder)
        balancer = Balancer(http, urls, connections)
        send: Send = balancer.post
        refused = balancer.refused
    else:
        bots = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.intake_bench",
                "--serve",
                variant,
                "--port",
                str(port),
                "--db",
                url,
                "--notices",
                notices,
                *([] if limited else ["--only", "unlimited"]),
                stderr=asyncio.subprocess.DEVNULL,
            )
        ]

        async def send(update: dict) -> None:
            api.push(update)

    try:
        if not webhook:
            while not any(method == "getUpdates" for method, _ in api.calls):
                await asyncio.sleep(0.05)
        else:
            await asyncio.sleep(6.0)  # the leader's sweep at start (5 s) done before the burst
        cpu_before = sum(cpu_seconds(b.pid) for b in bots)
        server_before = server_cpu_seconds(url)
        seconds, closed, flow = await drive(
            api, enterprises, labels, send, rounds, variant != "echo", whole
        )
        if variant != "echo":
            # (the whole flow: notices of an appeal claimed meanwhile may be withheld)
            settled = await notices_settle(
                api, notices_per_appeal(notices) * enterprises * rounds, 30.0 if whole else 900.0
            )
            owed = notices_heard(api)
            messages = sum(len(m) for m in officials(api))
            repeated = notices_repeated(api)
        cpu = sum(cpu_seconds(b.pid) for b in bots) - cpu_before
        server_cpu = server_cpu_seconds(url) - server_before
    except TimeoutError:
        busiest, flooded = flood_figures(api)
        raise RuntimeError(
            f"{variant}: an answer never came ({PATIENCE:.0f} s); at the fake: busiest second"
            f" {busiest}, 429s {flooded}" + (f"\n{tail(logs)}" if logs else "")
        ) from None
    except BaseException:
        if logs:
            print(tail(logs), file=sys.stderr)
        raise
    finally:
        await stop_processes(bots)
        if http is not None:
            await http.close()
        await runner.cleanup()
        shutil.rmtree(folder, ignore_errors=True)
    latencies = sorted(flow.enterprise_latencies)
    waits = sorted(
        at - flow.filed[number] for (_, number), at in flow.heard.items() if number in flow.filed
    )
    busiest, flooded = flood_figures(api)
    return {
        "updates": len(latencies),
        "rate": len(latencies) / seconds,
        "p50": statistics.median(latencies),
        "p99": percentile(latencies, 0.99),
        "notices": owed,
        "messages": messages,
        "repeated": repeated,
        "settled": settled,
        "cpu_ms": 1000 * cpu / len(latencies),
        "server_cpu_ms": 1000 * server_cpu / len(latencies),
        "busiest": busiest,
        "flooded": flooded,
        "refused_posts": dict(refused),
        "wait_p50": percentile(waits, 0.5),
        "wait_p99": percentile(waits, 0.99),
        "wait_max": waits[-1] if waits else math.nan,
        "official_updates": len(flow.official_latencies),
        "official_p99": percentile(sorted(flow.official_latencies), 0.99),
        "closed_at": closed,
        "burst": seconds,
    }


def percentile(ordered: list[float], share: float) -> float:
    return ordered[int(share * (len(ordered) - 1))] if ordered else math.nan


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
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        help="2: the product as two `appealdesk run --webhook` processes on"
        " PostgreSQL, behind a load balancer the driver plays",
    )
    parser.add_argument(
        "--flow",
        choices=["filing", "whole"],
        default="filing",
        help="whole: the officials claim, reply and close meanwhile",
    )
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="appeals per enterprise")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="echo/product pairs with the rate limiter (each reported)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=40,
        help="posts at once to the webhooks (Telegram's max_connections)",
    )
    args = parser.parse_args()
    several = args.instances > 1 or args.flow == "whole"
    if args.instances > 1:
        args.backend = ["postgresql"]  # several instances share a PostgreSQL server
    if several:
        args.only = "limited"  # at the flood limit: what these runs are about
    if args.serve:
        await serve_bot(args.serve, args.port, args.db, args.only != "unlimited", args.notices)
        return
    modes = {"limited": True, "unlimited": False}
    # Each bot is stopped while its long poll is open: the fake Bot API's complaint about the
    # lost connection is expected, not news.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    print(
        f"{args.enterprises} enterprises × {args.rounds} appeals, 30 officials,"
        f" department_notices = {args.notices}, product: {args.instances} instance(s)"
        f" ({'webhook' if args.instances > 1 else 'polling'}, {args.backend[0]}),"
        f" flow: {args.flow}, fake Bot API: {make_api()[1]}"
    )
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
            pairs = args.repeat if limited else args.pairs
            runs = []
            for turn in range(pairs):
                # Every other pair the product goes first, so that a machine getting slower
                # or faster during the bench does not favour one bot.
                order = ("echo", "product") if turn % 2 == 0 else ("product", "echo")
                got = {
                    variant: await run(
                        variant,
                        args.enterprises,
                        limited,
                        place,
                        args.notices,
                        instances=args.instances,
                        whole=args.flow == "whole",
                        rounds=args.rounds,
                        connections=args.connections,
                    )
                    for variant in order
                }
                echo, product = got["echo"], got["product"]
                print_pair(label, echo, product)
                print_more(echo, product)
                runs.append((product["rate"] / echo["rate"], echo, product))
            runs.sort(key=lambda r: r[0])
            ratio, echo, product = runs[len(runs) // 2]
            if pairs > 1:
                ratios = ", ".join(f"{r:.2f}" for r, _, _ in runs)
                print(f"{label}: median of {pairs} pairs {ratio:.2f} (pairs: {ratios})")
            size = (
                f"{args.enterprises} ent. × {args.rounds}, {args.notices}"
                + (f", {args.instances} instances" if args.instances > 1 else "")
                + (", whole flow" if args.flow == "whole" else "")
            )
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


def print_more(echo: dict, product: dict) -> None:
    """The figures beyond the table: the flood limit at the fake (both bots), and for the
    product how long officials waited to hear of a new appeal and (the whole flow) the
    officials' latency and when the last appeal was closed."""
    print(
        f"  echo: busiest second {echo['busiest']}, 429s {echo['flooded']}; product: busiest"
        f" second {product['busiest']}, 429s {product['flooded']}, posts refused"
        f" {product['refused_posts'] or 0}; filing burst {product['burst']:.0f} s",
        flush=True,
    )
    print(
        f"  an official told of a new appeal (its confirmation → the notice) after, s:"
        f" p50 {product['wait_p50']:.1f} / p99 {product['wait_p99']:.1f} /"
        f" max {product['wait_max']:.1f}",
        flush=True,
    )
    if product["official_updates"]:
        print(
            f"  officials: {product['official_updates']} updates, p99"
            f" {product['official_p99']:.2f} s; the last appeal closed at"
            f" {product['closed_at']:.0f} s",
            flush=True,
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
