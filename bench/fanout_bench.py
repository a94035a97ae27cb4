"""Outbox fan-out: N messages due, sent by the courier through FloodLimits (handlers/limits.py)
to the project's fake Bot API over HTTP on 127.0.0.1, which keeps Telegram's flood limits
strictly (30 messages in any sliding second for the bot, one a second to a private chat):
a message over a limit gets 429 and is not delivered.

The courier sends as the delivery job does (notices, `limits.bulk()`). The figure that
matters is the rate achieved divided by 30, with every message delivered once, and no 429
from the bot-wide limit. In the same run a bare loop (the same kind of bot and limiter
sending the same texts as notices, no database) is the baseline.

    python -m bench.fanout_bench --messages 2000
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

from telegram.ext import ExtBot

from bench.common import fresh_database, summary
from bot.sandbox.fake_api import FakeBotApi
from bot.sandbox.http_server import serve
from handlers import courier, limits
from handlers.limits import FloodLimits

TELEGRAM_RATE = 30.0
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
    strict = api.keep_limits()
    start = time.perf_counter()
    await as_notices(sending)
    seconds = time.perf_counter() - start
    chats = Counter(m.chat_id for m in api.sent)
    return Run(
        label,
        seconds,
        messages,
        Counter(strict.refused),
        len(chats),
        sum(n - 1 for n in chats.values()),
        strict.busiest(),
    )


async def bare_loop(bot: ExtBot, chats: list[int]) -> int:
    for chat in chats:
        await bot.send_message(chat, f"基线消息 {chat}")
    return len(chats)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    api = FakeBotApi()
    runner, port = await serve(api)
    chats = list(range(100_000, 100_000 + args.messages))
    try:
        bot = await make_bot(port)
        bare = await measured("bare loop (same limiter)", api, args.messages, bare_loop(bot, chats))
        await bot.shutdown()
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
            ours = await measured(
                "courier from the outbox", api, args.messages, courier.drain(bot, env)
            )
            await env.db.close()
        await bot.shutdown()
    finally:
        await runner.cleanup()
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
        f"{args.messages:,} notices",
        f"{ours.rate:.1f} ({ours.rate / TELEGRAM_RATE:.3f})",
        f"{bare.rate:.1f} ({bare.rate / TELEGRAM_RATE:.3f}, bare loop)",
        f"{ours.rate / bare.rate:.2f}; lost {args.messages - ours.delivered},"
        f" doubled {ours.doubled}, 429s bot/chat/group {refused}",
    )


if __name__ == "__main__":
    asyncio.run(main())
