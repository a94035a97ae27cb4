"""Crash tests: `appealdesk run` in its own process, killed with SIGKILL and restarted.

- at random moments while a dozen enterprises file at once; people repeat a step that got
  no answer, as people do. In the end every appeal exists once with its audit trail, every
  enterprise learnt its number, and the department heard of every appeal;
- right after Telegram accepted a part of a message in several (a list of notices owed
  after /start, the weekly digest's texts, chart and ledger): each kill repeats at most
  that one part, nothing is lost, and no item of a list comes again in another message.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import time
from collections import Counter
from pathlib import Path

from bot.app import make_env
from bot.clock import SystemClock
from bot.config import Settings
from bot.sandbox.chat import Sandbox
from bot.sandbox.fake_api import FakeBotApi, SentMessage
from bot.sandbox.http_server import serve
from bot.usecases import people
from tests.conftest import LEADER_ID, Db, database_env, file_appeal, join, settings_for
from tests.kills import repeated_only_at_kills
from tests.test_http_run import appealdesk_command
from tests.test_parts import content, queue_long_digest, repeats

KILLS = 20
ENTERPRISES = 12
OFFICIAL, HEAD = 20002, 20001
PATIENCE = 4.0  # how long a person waits for an answer before repeating the step
FINAL_WAIT = 120.0
KILLED_RUNS_WAIT = 300.0  # generous: the kill tests wait for events, they measure no speed


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


async def test_kill_9_twenty_times_loses_and_repeats_nothing(tmp_path: Path, database_url, org):
    settings = settings_for(database_url)
    db = Db(database_url)
    await seed(settings, org)
    api = FakeBotApi(now=time.time)  # its clock the kills' (repeats are checked by time)
    runner, port = await serve(api)
    env = {
        **os.environ,
        "BOT_TOKEN": "4242:crash-test-token",
        "TELEGRAM_BASE_URL": f"http://127.0.0.1:{port}/bot",
        **database_env(database_url),
        "ADMIN_IDS": str(LEADER_ID),
    }
    killed_at: list[float] = []
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
            killed_at.append(time.time())
            process.send_signal(signal.SIGKILL)
            await process.wait()
            kills += 1
        process = await start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FINAL_WAIT

        def settled() -> bool:
            owed = db.one(
                "SELECT COUNT(*) AS n FROM outbox WHERE status IN ('pending', 'sending')"
            )["n"]
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

    appeals = [
        (r["number"], r["filed_by"])
        for r in db.rows("SELECT number, filed_by FROM appeals ORDER BY id")
    ]
    filed_events = Counter(
        row["number"]
        for row in db.rows(
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
    # each repeat because of a kill, none a third time, and no more than the kills
    repeated_only_at_kills(api, "诉求已提交", killed_at)
    repeated_only_at_kills(api, "新诉求", killed_at)
    assert repeated_acks + repeated_notices <= kills
    print(
        f"\ncrash test: {kills} kills, {len(appeals)} appeals, "
        f"repeated acks {repeated_acks}, repeated notices {repeated_notices}"
    )


class KillAfter:
    """Kill -9 the bot right after the fake Telegram accepted the n-th message that
    `counts` (repeats count too), for each n in `at`: the worst moment — Telegram has the
    message, the bot never learns it did."""

    def __init__(self, api: FakeBotApi, counts, at: set[int]) -> None:
        self.counts, self.at = counts, at
        self.seen = self.kills = 0
        self.process: asyncio.subprocess.Process | None = None
        api.listeners.append(self._accepted)

    def _accepted(self, message: SentMessage) -> None:
        if not self.counts(message):
            return
        self.seen += 1
        if self.seen in self.at and self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.kills += 1


async def run_through_kills(api: FakeBotApi, db: Db, folder: Path, killer: KillAfter, work, done):
    """`appealdesk run` until `done()`, restarted after each kill. `work()` pushes the
    first updates once the bot polls. Between a kill and the restart the dead sender's leases are
    let lapse (as 30 seconds would), so the test does not wait on the wall clock."""
    env = {
        **os.environ,
        "BOT_TOKEN": "4242:crash-test-token",
        **database_env(db.url),
        "ADMIN_IDS": ",".join(str(i) for i in sorted(LEADERS)),
    }
    runner, port = await serve(api)
    env["TELEGRAM_BASE_URL"] = f"http://127.0.0.1:{port}/bot"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + KILLED_RUNS_WAIT
    first = True
    try:
        while True:
            polls = sum(1 for method, _ in api.calls if method == "getUpdates")
            process = await asyncio.create_subprocess_exec(
                *appealdesk_command(),
                "run",
                env=env,
                cwd=folder,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            killer.process = process
            exited = asyncio.ensure_future(process.wait())
            while first and sum(1 for m, _ in api.calls if m == "getUpdates") == polls:
                assert loop.time() < deadline, "the bot did not start polling"
                await asyncio.sleep(0.05)
            if first:
                work()
                first = False
            while not done() and not exited.done():
                assert loop.time() < deadline, "the outbox did not settle"
                await asyncio.sleep(0.1)
            if exited.done():  # killed: the next start finds its leases lapsed
                assert process.returncode == -signal.SIGKILL, "the bot ended by itself"
                # time travel for the leases (no use case moves a lease back): portable SQL
                db.execute(
                    "UPDATE outbox SET lease_until = ? WHERE status = 'sending'", LEASES_LAPSED
                )
                continue
            process.send_signal(signal.SIGINT)
            await asyncio.wait_for(exited, 60)
            return
    finally:
        if killer.process is not None and killer.process.returncode is None:
            killer.process.kill()
        await runner.cleanup()


LEADERS = {LEADER_ID, 900002, 900003}
LEASES_LAPSED = "2000-01-01T00:00:00+00:00"
OWED = 30


async def seed_bureau(database_url: str, org) -> Sandbox:
    """Leaders, the 融资 head and official, an enterprise; in this process, at the real time
    (the bot under test runs on the system clock)."""
    settings = settings_for(database_url, admin_ids=sorted(LEADERS))
    box = await Sandbox.start(settings, org, SystemClock())
    leader = box.person(LEADER_ID, "王局长")
    await join(box.person(HEAD, "张科长"), leader, "jrj", head=True)
    await join(box.person(OFFICIAL, "李明"), leader, "jrj")
    company = box.person(40000, "陈经理")
    await company.send("/start")
    for answer in ("鄂州市第0食品有限公司", uscc(0), "陈经理", "13907110000"):
        await company.send(answer)
    await company.press("确认登记")
    return box


async def test_kill_9_while_a_list_owed_after_start_goes_repeats_one_part_a_kill(
    tmp_path: Path, database_url, org
):
    """An official who had blocked the bot is owed 30 notices and presses /start; the bot
    is killed five times, each right after Telegram accepted a part of the lists. Every
    notice arrives, in exactly one message (a list's part: never again on its own or in
    another list), and no more messages come twice than there were kills."""
    db = Db(database_url)
    box = await seed_bureau(database_url, org)
    box.api.fail_chat(OFFICIAL, 403, "Forbidden: bot was blocked by the user")
    company = box.person(40000, "陈经理")
    numbers = [
        await file_appeal(company, "融资", f"第{n}件：申请技改贴息贷款对接，投资{n}00万元。")
        for n in range(1, OWED + 1)
    ]
    await box.stop()

    api = FakeBotApi()
    official = {"id": OFFICIAL, "is_bot": False, "first_name": "李明"}

    def is_notice(message: SentMessage) -> bool:
        return message.chat_id == OFFICIAL and "新诉求" in message.plain

    def done() -> bool:
        owed = db.one(
            "SELECT COUNT(*) AS n FROM outbox WHERE chat_id = ? AND status != 'sent'", OFFICIAL
        )["n"]
        return owed == 0

    killer = KillAfter(api, is_notice, {1, 2, 4, 6, 8})
    await run_through_kills(
        api, db, tmp_path, killer, lambda: api.push(api.message_update(official, "/start")), done
    )
    got = [m for m in api.messages_to(OFFICIAL) if is_notice(m)]
    assert killer.kills == 5
    assert all(m.plain.startswith("新通知 ") for m in got)  # lists, never single notices
    for number in numbers:
        assert len({content(m) for m in got if number in m.plain}) == 1, number
    assert repeats(got) <= killer.kills
    print(
        f"\nlists after /start: {killer.kills} kills, {len(got)} parts sent, "
        f"{repeats(got)} repeated"
    )


async def test_kill_9_during_a_weekly_digest_repeats_at_most_one_part_a_kill(
    tmp_path: Path, database_url, org
):
    """The leaders' digest (three text parts, the chart, the ledger) to three leaders and
    the department's to its head; killed right after a last text part, a ledger and a
    chart were accepted. Every part reaches every leader; at most one repeat a kill."""
    db = Db(database_url)
    box = await seed_bureau(database_url, org)
    texts = await queue_long_digest(box.env)
    await box.stop()

    api = FakeBotApi()

    def to_leaders(message: SentMessage) -> bool:
        return message.chat_id in LEADERS

    def done() -> bool:
        owed = db.one(
            "SELECT COUNT(*) AS n FROM outbox WHERE subject = 'digest' AND status != 'sent'"
        )["n"]
        return owed == 0

    killer = KillAfter(api, to_leaders, {3, 6, 11})
    await run_through_kills(api, db, tmp_path, killer, lambda: None, done)
    assert killer.kills == 3
    total = 0
    for chat in LEADERS:
        got = [m for m in api.messages_to(chat) if m.text in texts or "督察通报图表" in m.text
               or "诉求台账" in m.text]  # fmt: skip
        assert {m.text for m in got if m.text in texts} == set(texts)
        assert [m.raw.get("photo") is not None for m in got].count(True) >= 1
        assert [m.raw.get("document") is not None for m in got].count(True) >= 1
        total += repeats(got)
    assert total <= killer.kills
    assert len(api.messages_to(HEAD)) == 1  # the department's digest, once
    print(f"\ndigest: {killer.kills} kills, {total} repeated")
