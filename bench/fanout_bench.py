"""Outbox fan-out: N messages due, sent by the courier through FloodLimits (handlers/limits.py)
to the project's fake Bot API over HTTP on 127.0.0.1, which keeps Telegram's flood limits
strictly (30 messages in any sliding second for the bot, one a second to a private chat):
a message over a limit gets 429 and is not delivered.

The courier sends as the delivery job does (notices, `limits.bulk()`). The figure that
matters is the rate achieved divided by 30, with every message delivered once, and no 429
from the bot-wide limit. In the same run a bare loop (the same kind of bot and limiter
sending the same texts as notices, no database) is the baseline.

`--instances 2` sends the messages from two `appealdesk run --webhook` processes on one
throwaway PostgreSQL server instead (as docs/operations.md sets them up): the messages are
stored due (answers owed to people, which anyone may receive) and the leader's delivery job
sends them (the outbox's periodic drain is leader-only work; the other instance sends only
what its own handlers owe), through the bot's thirty places kept in the database
(handlers/limits.py: SharedWindows). Rates are taken at the fake, from the first of these
messages accepted to the last, for the bare loop too.

    python -m bench.fanout_bench --messages 2000
    python -m bench.fanout_bench --messages 2000 --instances 2
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

from telegram.ext import ExtBot

from bench.common import fresh_database, summary
from bot.sandbox.fake_api import FakeBotApi, StrictLimits
from bot.sandbox.http_server import serve
from handlers import courier, limits
from handlers.limits import FloodLimits

TELEGRAM_RATE = 30.0
PATIENCE = 600.0  # seconds the two instances get to send everything
KINDS = ("overall", "chat", "group")


async def make_bot(port: int) -> ExtBot:
    bot = ExtBot(
        "4242:bench-token",
        base_url=f"http://127.0.0.1:{port}/bot",
        rate_limiter=FloodLimits(max_retries=3),
    )
    await bot.initialize()
    return bot


@dataclasses.dataclass
class Run:
    label: str
    seconds: float
    messages: int
    refused: Counter[str]
    delivered: int
    doubled: int
    busiest: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def row(self) -> str:
        refused = " ".join(f"{self.refused[kind]:>7}" for kind in KINDS)
        return (
            f"{self.label:<26} | {self.seconds:>7.1f} | {self.rate:>6.1f} |"
            f" {self.rate / TELEGRAM_RATE:>5.3f} | {refused} |"
            f" {self.messages - self.delivered:>4} | {self.doubled:>6} | {self.busiest:>7}"
        )


async def as_notices(sending) -> int:  # noqa: ANN001 - a coroutine
    """Send in a task of its own marked as notices, as the delivery job does."""

    async def task() -> int:
        limits.bulk()
        return await sending

    return await asyncio.create_task(task())


async def measured(label: str, api: FakeBotApi, messages: int, sending) -> Run:  # noqa: ANN001
    """Run `sending` against a fresh strict window; what the fake saw meanwhile."""
    api.sent.clear()
    api.attempts.clear()
    strict = api.keep_limits()
    await as_notices(sending)
    return seen(label, api, messages, strict)


def seen(label: str, api: FakeBotApi, messages: int, strict: StrictLimits) -> Run:
    """What the fake accepted since it was cleared (of `api.sent`'s chats), timed from the
    first message it accepted to the last (so that a process's start and its first look at
    the outbox do not count)."""
    chats = Counter(m.chat_id for m in api.sent)
    accepted = sorted(at for at, chat, _, status in api.attempts if status == 200 and chat in chats)
    seconds = accepted[-1] - accepted[0] if len(accepted) > 1 else math.nan
    return Run(
        label,
        seconds,
        messages,
        Counter(strict.refused),
        len(chats),
        sum(n - 1 for n in chats.values()),
        strict.busiest(),
    )


async def from_two_instances(port: int, api: FakeBotApi, chats: list[int]) -> Run:
    """The messages stored due on a throwaway PostgreSQL and sent by the leader of two
    webhook instances; measured once all arrived (or after PATIENCE seconds)."""
    from bench.common import PG_SETTINGS
    from bench.intake_bench import start_instances, stop_processes, tail
    from bench.pgserver import pg_server
    from bot.rules import delivery

    with pg_server(PG_SETTINGS) as url, tempfile.TemporaryDirectory() as folder:
        env = await fresh_database(url)
        processes, _, logs = await start_instances(2, port, url, "heads", Path(folder))
        try:
            # what the instances send at start (the leader's catch-up) is done by then; it
            # goes to the leader's own chat, never one of `chats`, and is not counted
            await asyncio.sleep(6.0)
            api.sent.clear()
            api.attempts.clear()
            strict = api.keep_limits()
            await env.db.open()
            now = env.now()
            async with env.db.unit_of_work() as uow:
                for chat in chats:
                    detail = {"text": f"政策宣贯测试消息 {chat}", "buttons": []}
                    await uow.outbox.add(
                        chat, delivery.ANSWER, None, None, detail, delivery.NOTICE, now, due=now
                    )
                await uow.commit()
            await env.db.close()
            deadline = time.monotonic() + PATIENCE
            while len({m.chat_id for m in api.sent}) < len(chats):
                if time.monotonic() > deadline:
                    print(tail(logs))
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(2.0)  # anything sent twice would arrive by now
        finally:
            await stop_processes(processes)
        sent = [m for m in api.sent if m.chat_id in set(chats)]
        api.sent[:] = sent
        return seen("the leader of two instances", api, len(chats), strict)


async def bare_loop(bot: ExtBot, chats: list[int]) -> int:
    for chat in chats:
        await bot.send_message(chat, f"基线消息 {chat}")
    return len(chats)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--instances", type=int, choices=(1, 2), default=1)
    args = parser.parse_args()
    api = FakeBotApi(now=time.time)
    runner, port = await serve(api)
    chats = list(range(100_000, 100_000 + args.messages))
    try:
        bot = await make_bot(port)
        bare = await measured("bare loop (same limiter)", api, args.messages, bare_loop(bot, chats))
        await bot.shutdown()
        if args.instances == 2:
            await asyncio.sleep(1.0)  # the bare loop's second has passed at the fake too
            ours = await from_two_instances(port, api, chats)
        else:
            ours = await from_one_courier(port, api, chats)
    finally:
        await runner.cleanup()
    print_runs(args.messages, bare, ours, args.instances)


async def from_one_courier(port: int, api: FakeBotApi, chats: list[int]) -> Run:
    """The messages stored due in a SQLite file and sent by courier.drain in this process."""
    messages = len(chats)
    with tempfile.TemporaryDirectory() as folder:
        env = await fresh_database(Path(folder) / "fanout.sqlite3", today=date(2026, 3, 10))
        # an operator notice goes to leaders only (entitlement is checked as it is sent)
        env = dataclasses.replace(env, leaders=frozenset(chats))
        await env.db.open()
        async with env.db.unit_of_work() as uow:
            for chat in chats:
                await uow.outbox.add(
                    chat, "calendar_fallback", None, None, {"year": 2031}, 1, env.now()
                )
            await uow.commit()
        bot = await make_bot(port)  # a limiter of its own, as a fresh process has
        await asyncio.sleep(1.0)  # the bare loop's second has passed at the fake too
        ours = await measured("courier from the outbox", api, messages, courier.drain(bot, env))
        await env.db.close()
    await bot.shutdown()
    return ours


def print_runs(messages: int, bare: Run, ours: Run, instances: int) -> None:
    print(
        f"{'':<26} | {'seconds':>7} | {'msg/s':>6} | {'÷ 30':>5} |"
        f" {'429 bot':>7} {'429 chat':>7} {'429 grp':>7} | {'lost':>4} | {'double':>6} |"
        f" {'max 1 s':>7}"
    )
    print(bare.row())
    print(ours.row())
    refused = "/".join(str(ours.refused[kind]) for kind in KINDS)
    summary(
        "outbox fan-out msg/s (÷ 30), strict fake",
        f"{messages:,} notices" + (", two instances" if instances == 2 else ""),
        f"{ours.rate:.1f} ({ours.rate / TELEGRAM_RATE:.3f})",
        f"{bare.rate:.1f} ({bare.rate / TELEGRAM_RATE:.3f}, bare loop)",
        f"{ours.rate / bare.rate:.2f}; lost {messages - ours.delivered},"
        f" doubled {ours.doubled}, 429s bot/chat/group {refused}",
    )


if __name__ == "__main__":
    asyncio.run(main())
