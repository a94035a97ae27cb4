"""Outbox fan-out: N messages due, sent by the courier through python-telegram-bot's
AIORateLimiter to the project's fake Bot API over HTTP on 127.0.0.1.

Telegram allows about 30 messages per second overall; the figure that matters is the rate
achieved divided by 30, with every message delivered once and every 429 honoured. In the
same run the bare loop (the same bot and limiter sending the same texts, no database) is
the baseline.

    python -m bench.fanout_bench --messages 2000
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import tempfile
import time
from datetime import date
from pathlib import Path

from telegram.ext import ExtBot

from bench.common import fresh_database, summary
from bot.sandbox.fake_api import FakeBotApi
from bot.sandbox.http_server import serve
from handlers import courier
from handlers.limits import FloodLimits

TELEGRAM_RATE = 30.0


async def make_bot(port: int) -> ExtBot:
    bot = ExtBot(
        "4242:bench-token",
        base_url=f"http://127.0.0.1:{port}/bot",
        rate_limiter=FloodLimits(max_retries=3),
    )
    await bot.initialize()
    return bot


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--flood-every", type=int, default=500, help="a 429 after this many")
    args = parser.parse_args()
    api = FakeBotApi()
    runner, port = await serve(api)
    try:
        bot = await make_bot(port)
        chats = list(range(100_000, 100_000 + args.messages))
        start = time.perf_counter()
        for chat in chats:
            await bot.send_message(chat, f"基线消息 {chat}")
        bare = time.perf_counter() - start
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
            api.sent.clear()
            flooded = 0

            def flood(message: object) -> None:
                nonlocal flooded
                if len(api.sent) % args.flood_every == 0:
                    api.fail("sendMessage", 429, "Too Many Requests: retry after 1", times=1)
                    flooded += 1

            api.listeners.append(flood)
            start = time.perf_counter()
            sent = await courier.drain(bot, env)
            seconds = time.perf_counter() - start
            delivered = {m.chat_id for m in api.sent}
            await env.db.close()
        await bot.shutdown()
    finally:
        await runner.cleanup()
    rate, bare_rate = args.messages / seconds, args.messages / bare
    print(f"{'':<28} | {'seconds':>8} | {'msg/s':>7} | {'÷ 30':>5}")
    print(f"{'bare loop (same limiter)':<28} | {bare:>8.1f} | {bare_rate:>7.1f} |"
          f" {bare_rate / TELEGRAM_RATE:>5.2f}")  # fmt: skip
    print(f"{'courier from the outbox':<28} | {seconds:>8.1f} | {rate:>7.1f} |"
          f" {rate / TELEGRAM_RATE:>5.2f}")  # fmt: skip
    summary(
        "outbox fan-out msg/s (÷ 30)",
        f"{args.messages:,} notices",
        f"{rate:.1f} ({rate / TELEGRAM_RATE:.2f})",
        f"{bare_rate:.1f} (bare loop)",
        f"{rate / bare_rate:.2f}; lost {args.messages - len(delivered)},"
        f" dup {len(api.sent) - len(delivered)}, 429s {flooded}",
    )
    print(f"sent {sent}, distinct chats reached {len(delivered)} of {args.messages},"
          f" duplicates {len(api.sent) - len(delivered)}, 429s injected {flooded}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
