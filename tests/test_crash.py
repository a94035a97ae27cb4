"""Crash test: `appealdesk run` in its own process, killed with SIGKILL at random moments
while a dozen enterprises file at once, and restarted. People repeat a step that got no
answer, as people do. In the end every appeal exists once with its audit trail, every
enterprise learnt its number, and the department heard of every appeal."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sqlite3
from collections import Counter
from pathlib import Path

from bot.app import make_env
from bot.config import Settings
from bot.sandbox.fake_api import FakeBotApi, SentMessage
from bot.sandbox.http_server import serve
from bot.usecases import people
from tests.conftest import LEADER_ID
from tests.test_http_run import appealdesk_command

KILLS = 20
ENTERPRISES = 12
OFFICIAL, HEAD = 20002, 20001
PATIENCE = 4.0  # how long a person waits for an answer before repeating the step
FINAL_WAIT = 120.0


def uscc(n: int) -> str:
    from bot.rules.uscc import check_char

    base = f"9142070{n:02d}MA4F0A1B2"[:17]
    return base + check_char(base)


async def seed(settings: Settings, org) -> None:
    """Enterprises registered and the 融资 department staffed, before the bot starts."""
    env = make_env(settings, org)
    await env.db.open()
    await people.sync_departments(env)
    leader = await people.actor_for(env, LEADER_ID)
    for tg_id, name, head in ((HEAD, "张科长", True), (OFFICIAL, "李明", False)):
        invite = await people.create_invite(env, leader, "jrj", head)
        await people.accept_invite(env, tg_id, name, invite.code)
    for n in range(ENTERPRISES):
        await people.register_enterprise(
            env,
            40000 + n,
            f"鄂州市第{n}食品有限公司",
            uscc(n),
            "联络员" + "零一二三四五六七八九"[n % 10] * (n // 10 + 1),
            "13907110000",
            None,
        )
    await env.db.close()


class Enterprise:
    def __init__(self, api: FakeBotApi, n: int) -> None:
        self.api = api
        self.user = {"id": 40000 + n, "is_bot": False, "first_name": f"联络员{n}"}
        self.text = f"第{n}家企业：扩建冷链仓库需流动资金约800万元，申请融资担保对接。"
        self.filed = False

    def inbox(self) -> list[SentMessage]:
        return self.api.messages_to(self.user["id"])

    async def answer(self, seen: int, *expected: str) -> SentMessage | None:
        """The first new message containing one of `expected`, or None after PATIENCE."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PATIENCE
        while loop.time() < deadline:
            for message in self.inbox()[seen:]:
                if any(e in message.plain for e in expected):
                    return message
            await asyncio.sleep(0.05)
        return None

    async def act(self, update: dict, *expected: str) -> SentMessage | None:
        seen = len(self.inbox())
        self.api.push(update)
        return await self.answer(seen, *expected)

    async def file(self) -> None:
        """/new → 融资 → text → 提交, each step repeated (or begun again) when unanswered."""
        api, user = self.api, self.user
        while not self.filed:
            prompt = await self.act(api.message_update(user, "/new"), "诉求类别")
            if prompt is None:
                continue
            asked = await self.act(
                api.callback_update(user, prompt, dict(prompt.buttons)["融资"]), "描述"
            )
            if asked is None:
                continue
            summary = await self.act(api.message_update(user, self.text), "提交")
            if summary is None or "提交" not in dict(summary.buttons):
                continue
            submit = api.callback_update(user, summary, dict(summary.buttons)["提交"])
            for _ in range(5):  # the same 提交 again, as an impatient person does
                done = await self.act(submit, "诉求已提交", "已提交，编号", "内容相同", "已失效")
                if done is not None and "已失效" not in done.plain:
                    self.filed = True
                    break
                if done is not None:
                    break

    def numbers_told(self) -> Counter:
        return Counter(
            m.plain.split("编号：")[1].split()[0]
            for m in self.inbox()
            if m.plain.startswith("诉求已提交")
        )


async def test_kill_9_twenty_times_loses_and_repeats_nothing(tmp_path: Path, org):
    database = tmp_path / "crash.sqlite3"
    settings = Settings(_env_file=None, database_path=database, admin_ids=[LEADER_ID])
    await seed(settings, org)
    api = FakeBotApi()
    runner, port = await serve(api)
    env = {
        **os.environ,
        "BOT_TOKEN": "4242:crash-test-token",
        "TELEGRAM_BASE_URL": f"http://127.0.0.1:{port}/bot",
        "DATABASE_PATH": str(database),
        "ADMIN_IDS": str(LEADER_ID),
    }
    rng = random.Random(20261127)
    enterprises = [Enterprise(api, n) for n in range(ENTERPRISES)]

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *appealdesk_command(),
            "run",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )

    filing = asyncio.gather(*(e.file() for e in enterprises))
    kills = 0
    try:
        for _ in range(KILLS):
            process = await start()
            await asyncio.sleep(rng.uniform(0.3, 2.5))
            process.send_signal(signal.SIGKILL)
            await process.wait()
            kills += 1
        process = await start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FINAL_WAIT

        def settled() -> bool:
            with sqlite3.connect(database) as conn:
                owed = conn.execute(
                    "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')"
                ).fetchone()[0]
            return all(e.filed and e.numbers_told() for e in enterprises) and owed == 0

        await asyncio.wait_for(filing, FINAL_WAIT)
        while not settled():
            assert loop.time() < deadline, "the outbox did not settle"
            await asyncio.sleep(0.2)
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 60)
    finally:
        if not filing.done():
            filing.cancel()
        await runner.cleanup()

    with sqlite3.connect(database) as conn:
        appeals = conn.execute("SELECT number, filed_by FROM appeals ORDER BY id").fetchall()
        filed_events = Counter(
            row[0]
            for row in conn.execute(
                "SELECT a.number FROM audit_events e JOIN appeals a ON a.id = e.appeal_id"
                " WHERE e.action = 'file'"
            )
        )
    assert kills == KILLS
    # Every enterprise has exactly one appeal, with exactly one filing event.
    assert sorted(filer for _, filer in appeals) == [40000 + n for n in range(ENTERPRISES)]
    assert all(filed_events[number] == 1 for number, _ in appeals)
    # Every enterprise was told its own number (more than once only across a crash).
    by_filer = {filer: number for number, filer in appeals}
    repeated_acks = 0
    for enterprise in enterprises:
        told = enterprise.numbers_told()
        assert set(told) == {by_filer[enterprise.user["id"]]}
        repeated_acks += sum(told.values()) - 1
    # The department heard of every appeal; a repeat only where a crash fell between
    # Telegram accepting a message and the outbox marking it sent.
    repeated_notices = 0
    for staff in (OFFICIAL, HEAD):
        heard = Counter(  # alone or in a list of notices that waited together
            number
            for m in api.messages_to(staff)
            for number in re.findall(r"新诉求 (SQ-\d{4}-\d{6})", m.plain)
        )
        assert set(heard) == set(by_filer.values())
        repeated_notices += sum(heard.values()) - len(heard)
    assert repeated_acks + repeated_notices <= kills
    print(
        f"\ncrash test: {kills} kills, {len(appeals)} appeals, "
        f"repeated acks {repeated_acks}, repeated notices {repeated_notices}"
    )
