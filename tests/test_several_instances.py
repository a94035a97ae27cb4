"""Two `appealdesk run --webhook` processes on one PostgreSQL behave as one bot (issue 21's
proof): the test plays Telegram's load balancer — it posts each update to one instance or
the other, some to both, and posts again what was not answered 200, as Telegram re-sends —
while 12 enterprises file appeals through the real flow and one instance at a time is
killed with SIGKILL and started again. Then: every appeal stored once, every filing's
confirmation and every department notice delivered once (at most one repeat per kill, the
outbox's promise), the weekly digest once to each leader, never more than 30 messages in
any second at the fake Telegram and no 429 there."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from bench.common import contact_name
from bot.clock import SystemClock
from bot.config import BUNDLED_ORG_CONFIG, load_org
from bot.environment import environment
from bot.rules.uscc import check_char
from bot.sandbox.fake_api import FakeBotApi
from bot.sandbox.http_server import serve
from bot.usecases import people as people_cases
from tests.conftest import LEADER_ID, database_env
from tests.kills import NUMBER, repeated_only_at_kills
from tests.test_http_run import PATIENCE, appealdesk_command, stopped

SECRET = "several-instances_secret"
ENTERPRISES = 12
FILINGS = 2  # each
KILLS = 3
HEADS = 60000


def uscc(n: int) -> str:
    base = f"914207{n:05d}MA4F0A"[:17]
    return base + check_char(base)


async def seed(url: str) -> list[str]:
    """The bureau: a head in each of six departments, 12 registered enterprises; returns the
    six category labels."""
    org = load_org(BUNDLED_ORG_CONFIG)
    from zoneinfo import ZoneInfo

    env = environment(url, org, SystemClock(), frozenset([LEADER_ID]), ZoneInfo("Asia/Shanghai"))
    await env.db.open()
    try:
        await people_cases.sync_departments(env)
        leader = await people_cases.actor_for(env, LEADER_ID)
        categories = org.categories[:6]
        for c, category in enumerate(categories):
            invite = await people_cases.create_invite(env, leader, category.department, True)
            await people_cases.accept_invite(env, HEADS + c, f"科长{c}", invite.code)
        for n in range(ENTERPRISES):
            await people_cases.register_enterprise(
                env,
                50000 + n,
                f"鄂州市第{n}号企业有限公司",
                uscc(n),
                contact_name(n),
                "13907110000",
                None,
            )
    finally:
        await env.db.close()
    return [c.name for c in categories]


class Balancer:
    """Telegram and its load balancer: updates posted to the instances by turns (every
    fourth to both at once), posted again to the other — and again, after a pause — until
    one answers 200."""

    def __init__(self, http: aiohttp.ClientSession, urls: list[str]) -> None:
        self.http, self.urls = http, urls
        self.turn = itertools.count()
        self.refused = Counter()  # status (or "down") → how often

    async def _post(self, url: str, update: dict) -> bool:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        try:
            async with self.http.post(url, json=update, headers=headers) as response:
                if response.status == 200:
                    return True
                self.refused[response.status] += 1
        except (TimeoutError, aiohttp.ClientError):
            self.refused["down"] += 1
        return False

    async def post(self, update: dict) -> None:
        n = next(self.turn)
        first = self.urls[n % 2]
        if n % 4 == 3:  # the same update to both instances at once
            results = await asyncio.gather(*(self._post(u, update) for u in self.urls))
            if any(results):
                return
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            for url in (first, *(u for u in self.urls if u != first)):
                if await self._post(url, update):
                    return
            await asyncio.sleep(0.2)
        raise AssertionError(f"no instance took update {update['update_id']}")


class Instances:
    """The two bot processes, each started again after a kill."""

    def __init__(self, env: dict, cwd: Path, ports: list[int]) -> None:
        self.env, self.cwd, self.ports = env, cwd, ports
        self.processes: list[asyncio.subprocess.Process | None] = [None, None]
        self.kills = self.starts = 0
        self.killed_at: list[float] = []  # time.time(), the fake's clock

    async def start(self, n: int) -> None:
        env = {**self.env, "WEBHOOK_LISTEN": f"127.0.0.1:{self.ports[n]}"}
        self.starts += 1
        log = self.cwd / f"instance-{n}-{self.starts}.log"
        with log.open("wb") as output:
            self.processes[n] = await asyncio.create_subprocess_exec(
                *appealdesk_command(),
                "run",
                "--webhook",
                env=env,
                cwd=self.cwd,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
            )

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')}"
            for log in sorted(self.cwd.glob("instance-*.log"))
        )

    async def kill(self, n: int) -> None:
        process = self.processes[n]
        assert process is not None and process.returncode is None, "killed twice"
        self.killed_at.append(time.time())
        process.kill()  # SIGKILL: no chance to clean up
        await process.wait()
        self.kills += 1

    async def stop(self) -> None:
        for process in self.processes:
            if process is not None:
                await stopped(process)


async def wait_for_text(api: FakeBotApi, chat: int, since: int, *words: str) -> str:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        for message in api.messages_to(chat)[since:]:
            if all(w in message.plain for w in words):
                return message.plain
        await asyncio.sleep(0.05)
    raise AssertionError(f"{chat} never got {words}")


async def test_two_instances_killed_by_turns_behave_as_one_bot(
    backend, database_url, tmp_path, unused_tcp_port_factory
):
    if backend != "postgresql":
        pytest.skip("several instances share a PostgreSQL server")
    labels = await seed(database_url)
    api = FakeBotApi(now=time.time, strict_limits=True)
    runner, api_port = await serve(api)
    ports = [unused_tcp_port_factory(), unused_tcp_port_factory()]
    env = {
        **os.environ,
        "BOT_TOKEN": "4242:several",
        "TELEGRAM_BASE_URL": f"http://127.0.0.1:{api_port}/bot",
        **database_env(database_url),
        "ADMIN_IDS": str(LEADER_ID),
        "WEBHOOK_URL": "https://bot.example.gov.cn/telegram",
        "WEBHOOK_SECRET": SECRET,
        # the weekly digest falls due today, at the first leader's start
        # (today where the bureau is: the bot's time zone, not the machine's)
        "DIGEST_WEEKDAY": str(datetime.now(ZoneInfo("Asia/Shanghai")).isoweekday()),
        "DIGEST_TIME": "00:00",
    }
    bots = Instances(env, tmp_path, ports)
    urls = [f"http://127.0.0.1:{port}/telegram" for port in ports]
    await bots.start(0)
    await bots.start(1)
    numbers: list[str] = []
    try:
        async with aiohttp.ClientSession() as http:
            balancer = Balancer(http, urls)

            async def enterprise(n: int) -> None:
                user = {"id": 50000 + n, "is_bot": False, "first_name": contact_name(n)}
                chat = user["id"]
                for filing in range(FILINGS):
                    label = labels[(n + filing) % len(labels)]
                    mark = len(api.messages_to(chat))
                    await balancer.post(api.message_update(user, "/new"))
                    await wait_for_text(api, chat, mark, "诉求类别")
                    prompt = api.messages_to(chat)[-1]
                    mark = len(api.messages_to(chat))
                    await balancer.post(
                        api.callback_update(user, prompt, dict(prompt.buttons)[label])
                    )
                    await wait_for_text(api, chat, mark, "描述您的诉求")
                    mark = len(api.messages_to(chat))
                    text = f"第{n}-{filing}件：扩建冷链仓库需流动资金，申请{label}对接。"
                    await balancer.post(api.message_update(user, text))
                    await wait_for_text(api, chat, mark, "提交")
                    summary = next(
                        m for m in reversed(api.messages_to(chat)) if "提交" in dict(m.buttons)
                    )
                    mark = len(api.messages_to(chat))
                    await balancer.post(
                        api.callback_update(user, summary, dict(summary.buttons)["提交"])
                    )
                    filed = await wait_for_text(api, chat, mark, "诉求已提交")
                    numbers.append(NUMBER.search(filed)[0])

            async def killer() -> None:
                for k in range(KILLS):
                    await asyncio.sleep(2.0)
                    await bots.kill(k % 2)
                    await asyncio.sleep(1.0)
                    await bots.start(k % 2)

            await asyncio.gather(killer(), *(enterprise(n) for n in range(ENTERPRISES)))
            # the notices: every department head hears of every appeal of theirs
            for number in numbers:
                await wait_for_any(api, number, "新诉求")
            # the weekly digest, due at the first leader's start: a notice too, it gives way
            # to the people being answered and may come after the department notices
            await wait_for_text(api, LEADER_ID, 0, "一、上周情况")
            await asyncio.sleep(2.0)  # a second copy, were there one, would come meanwhile
        repeats = bots.kills
    except BaseException:
        await bots.stop()
        print(bots.logs())
        raise
    finally:
        await bots.stop()
        await runner.cleanup()

    assert len(numbers) == len(set(numbers)) == ENTERPRISES * FILINGS
    confirmations = Counter(
        NUMBER.search(m.plain)[0] for m in api.sent if "诉求已提交" in m.plain and m.chat_id > 0
    )
    missing = set(numbers) - set(confirmations)
    assert not missing, [
        (m.chat_id, m.plain) for m in api.sent if any(x in m.plain for x in missing)
    ]
    repeated_only_at_kills(api, "诉求已提交", bots.killed_at)
    # a kill repeats what was in flight: with twelve people at once, more than one at times
    assert sum(confirmations.values()) - len(numbers) <= 2 * repeats, confirmations
    # a head told of several at once gets them as one list: every number in it counts
    notices = Counter(
        number
        for m in api.sent
        if "新诉求" in m.plain and HEADS <= m.chat_id < HEADS + 6
        for number in set(NUMBER.findall(m.plain))
    )
    unheard = set(numbers) - set(notices)
    assert not unheard, unheard
    repeated_only_at_kills(api, "新诉求", bots.killed_at)
    digests = [m for m in api.messages_to(LEADER_ID) if "一、上周情况" in m.plain]
    assert len(digests) == 1
    busiest = api.limits.busiest()
    flooded = dict(api.limits.refused)
    print(
        f"several instances: {len(numbers)} appeals, {repeats} kills,"
        f" confirmations repeated {sum(confirmations.values()) - len(numbers)},"
        f" notices repeated {sum(notices.values()) - len(numbers)}, busiest second {busiest},"
        f" 429s {flooded}, posts refused {dict(balancer.refused)}"
    )
    assert busiest <= 30
    assert not flooded.get("overall"), flooded  # a chat's own 429 is waited out and retried


async def wait_for_any(api: FakeBotApi, *words: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        if any(all(w in m.plain for w in words) for m in api.sent):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"nobody got {words}")
