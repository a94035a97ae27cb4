"""Intake at the flood limit: the product against a bare echo bot, same rate limiter, same
fake Bot API over HTTP on 127.0.0.1, same people.

200 enterprises each file 4 appeals through the real flow (/new → 融资 → description →
提交: 16 updates each, 3,200 in all), waiting for the bot's answer before the next step as a
person does. The echo bot answers every update with one message carrying the same buttons.
Printed: updates per second, and the acting user's latency (update pushed → first answer)
at p50 / p99; with `--no-limiter` both run without the rate limiter (handlers alone).

    python -m bench.intake_bench --enterprises 200
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, MessageHandler
from telegram.ext import filters as tg_filters

from bench.common import fresh_database
from bot.app import build_application, on_start, on_stop
from bot.config import BUNDLED_ORG_CONFIG, Settings, load_org
from bot.rules.uscc import check_char
from bot.sandbox.fake_api import FakeBotApi
from bot.sandbox.http_server import serve
from bot.usecases import people
from handlers.courier import SEND_IN_BACKGROUND
from handlers.limits import FloodLimits
from handlers.ordering import PerUserOrder

ROUNDS = 4
PATIENCE = 120.0


def uscc(n: int) -> str:
    base = f"914207{n:05d}MA4F0A"[:17]
    return base + check_char(base)


async def seed(path: Path, enterprises: int) -> None:
    env = await fresh_database(path)
    await env.db.open()
    await people.sync_departments(env)
    for n in range(enterprises):
        await people.register_enterprise(
            env, 50000 + n, f"鄂州市第{n}号企业有限公司", uscc(n), f"联络员{n}", "13907110000", None
        )
    await env.db.close()


def echo_app(port: int, limiter: FloodLimits | None) -> Application:
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("融资", callback_data="x"),
                InlineKeyboardButton("提交", callback_data="y"),
            ]
        ]
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


async def drive(api: FakeBotApi, enterprises: int) -> tuple[float, list[float]]:
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
            await step(user, api.message_update(user, "/new"), "融资")
            await step(user, press(user, "融资"))
            text = f"第{round_}件：扩建冷链仓库需流动资金约800万元，申请融资担保对接（企业{n}）。"
            await step(user, api.message_update(user, text), "提交")
            await step(user, press(user, "提交"))

    start = loop.time()
    await asyncio.gather(*(person(n) for n in range(enterprises)))
    return loop.time() - start, latencies


async def run(variant: str, enterprises: int, limited: bool, folder: Path) -> dict[str, float]:
    api = FakeBotApi()
    runner, port = await serve(api)
    limiter = FloodLimits(max_retries=3) if limited else None
    try:
        if variant == "echo":
            app = echo_app(port, limiter)
            await app.initialize()
        else:
            path = folder / f"intake-{limited}.sqlite3"
            await seed(path, enterprises)
            settings = Settings(
                _env_file=None,
                database_path=path,
                telegram_base_url=f"http://127.0.0.1:{port}/bot",
                bot_token="4242:intake",
            )
            app = build_application(
                settings,
                load_org(BUNDLED_ORG_CONFIG),
                rate_limiter=limiter,
                update_processor=PerUserOrder(32),
            )
            app.bot_data[SEND_IN_BACKGROUND] = True
            await app.initialize()
            await on_start(app)
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        seconds, latencies = await drive(api, enterprises)
        await app.updater.stop()
        await app.stop()
        if variant != "echo":
            await on_stop(app)
        await app.shutdown()
    finally:
        await runner.cleanup()
    latencies.sort()
    return {
        "updates": len(latencies),
        "rate": len(latencies) / seconds,
        "p50": statistics.median(latencies),
        "p99": latencies[int(0.99 * (len(latencies) - 1))],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--enterprises", type=int, default=200)
    parser.add_argument("--no-limiter", action="store_true")
    args = parser.parse_args()
    limited = not args.no_limiter
    with tempfile.TemporaryDirectory() as folder:
        echo = await run("echo", args.enterprises, limited, Path(folder))
        product = await run("product", args.enterprises, limited, Path(folder))
    label = "with FloodLimits" if limited else "without a rate limiter"
    print(f"{args.enterprises} enterprises × {ROUNDS} appeals, {label}")
    print(f"{'':<10} | {'updates':>7} | {'upd/s':>7} | {'p50 s':>6} | {'p99 s':>6}")
    for name, got in (("echo bot", echo), ("product", product)):
        print(f"{name:<10} | {got['updates']:>7} | {got['rate']:>7.1f} | {got['p50']:>6.2f} |"
              f" {got['p99']:>6.2f}")  # fmt: skip
    print(f"product / echo throughput: {product['rate'] / echo['rate']:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
