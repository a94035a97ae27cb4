"""`appealdesk run` as a separate process, long-polling a Bot API server over HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.sandbox.fake_api import FakeBotApi, SentMessage
from bot.sandbox.http_server import serve
from tests.conftest import database_env

PATIENCE = 60.0  # generous: the test waits for events, it never measures speed


def appealdesk_command() -> list[str]:
    script = Path(sys.executable).with_name("appealdesk")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


async def wait_for(condition: Callable[[], object], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def bot_api():
    api = FakeBotApi()
    api.fail("setMyCommands", 500, "Internal Server Error")  # optional call: must not stop
    runner, port = await serve(api)
    yield api, port
    await runner.cleanup()


async def test_run_long_polls_a_bot_api_server_over_http(bot_api, tmp_path, database_url):
    api, port = bot_api
    env = {
        **os.environ,
        "BOT_TOKEN": "4242:any-token-will-do",
        "TELEGRAM_BASE_URL": f"http://127.0.0.1:{port}/bot",
        **database_env(database_url),
        "ADMIN_IDS": "900001",
    }
    process = await asyncio.create_subprocess_exec(
        *appealdesk_command(),
        "run",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await wait_for(lambda: any(m == "getUpdates" for m, _ in api.calls), "the first poll")
        company = {"id": 30001, "is_bot": False, "first_name": "陈经理"}
        official = {"id": 20002, "is_bot": False, "first_name": "李明"}
        leader = {"id": 900001, "is_bot": False, "first_name": "王局长"}

        def last_to(user: dict) -> SentMessage | None:
            sent = api.messages_to(user["id"])
            return sent[-1] if sent else None

        async def say(user: dict, text: str, expect: str) -> SentMessage:
            before = len(api.messages_to(user["id"]))
            api.push(api.message_update(user, text))
            await wait_for(
                lambda: any(expect in m.plain for m in api.messages_to(user["id"])[before:]),
                f"{expect!r} after {text!r}",
            )
            return last_to(user)

        async def press(user: dict, label: str, expect: str) -> SentMessage:
            message = next(
                m for m in reversed(api.messages_to(user["id"])) if label in dict(m.buttons)
            )
            before = len(api.messages_to(user["id"]))
            api.push(api.callback_update(user, message, dict(message.buttons)[label]))
            await wait_for(
                lambda: any(expect in m.plain for m in api.messages_to(user["id"])[before:]),
                f"{expect!r} after pressing {label!r}",
            )
            return last_to(user)

        # Telegram's flood control answers 429 with retry_after: the message is sent later.
        api.fail("sendMessage", 429, "Too Many Requests: retry after 1", times=1)
        invite = await say(leader, "/invite jrj", "邀请链接已生成")
        code = invite.plain.split("?start=")[1].split()[0]
        await say(official, f"/start {code}", "欢迎加入")
        await say(company, "/start", "请输入企业名称")
        await say(company, "鄂州市泛亚食品有限公司", "统一社会信用代码")
        await say(company, "91350100M000100Y43", "联系人姓名")
        await say(company, "陈经理", "联系电话")
        await say(company, "13907110000", "请核对登记信息")
        await press(company, "确认登记", "登记成功")
        await say(company, "/new", "诉求类别")
        await press(company, "融资", "描述您的诉求")
        await say(company, "扩建冷链仓库需流动资金约800万元，申请融资担保对接。", "提交")
        filed = await press(company, "提交", "诉求已提交")
        assert "SQ-" in filed.plain and "办结" in filed.plain
        await wait_for(
            lambda: any("新诉求" in m.plain for m in api.messages_to(official["id"])), "notice"
        )
        await press(official, "签收", "您已签收")
        await wait_for(lambda: "签收办理" in last_to(company).plain, "claim notice")
    finally:
        output = await stopped(process)
    assert "set_my_commands" in output  # the failed optional call was logged as a warning
    assert [m for m, _ in api.calls].count("sendMessage") > len(api.sent)  # one was retried
    assert "Traceback" not in output, output


# -- several instances -----------------------------------------------------------------------

SECRET = "webhook-secret_42"


async def start_bot(env: dict, cwd: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *appealdesk_command(),
        "run",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def stopped(process: asyncio.subprocess.Process) -> str:
    """SIGINT, then its output, if it was piped (killed if it does not stop)."""
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), PATIENCE)
        except TimeoutError:
            process.kill()
            await process.wait()
    if process.stdout is None:
        return ""
    return (await process.stdout.read()).decode(errors="replace")


async def test_run_webhook_serves_updates_posted_with_the_secret(
    bot_api, tmp_path, database_url, unused_tcp_port
):
    """`appealdesk run --webhook`: setWebhook with the URL and the secret, updates posted as
    Telegram posts them are answered 200 once stored and then handled, a re-post does nothing, a post
    without the secret gets 403, /healthz says the database answers; SIGINT stops it."""
    import aiohttp

    api, port = bot_api
    url = f"http://127.0.0.1:{unused_tcp_port}/telegram/hook"
    env = {
        **os.environ,
        "BOT_TOKEN": "4242:any-token-will-do",
        "TELEGRAM_BASE_URL": f"http://127.0.0.1:{port}/bot",
        **database_env(database_url),
        "ADMIN_IDS": "900001",
        "WEBHOOK_URL": url,
        "WEBHOOK_LISTEN": f"127.0.0.1:{unused_tcp_port}",
        "WEBHOOK_SECRET": SECRET,
    }
    process = await start_bot(env, tmp_path, "--webhook")
    output = ""
    try:
        await wait_for(lambda: api.webhook is not None, "setWebhook")
        assert api.webhook == {"url": url, "secret_token": SECRET}
        company = {"id": 30001, "is_bot": False, "first_name": "陈经理"}
        async with aiohttp.ClientSession() as http:

            async def post(update: dict, secret: str | None = SECRET) -> int:
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
                for _ in range(200):  # until the server listens
                    try:
                        async with http.post(url, json=update, headers=headers) as response:
                            return response.status
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.05)
                raise AssertionError("the webhook never listened")

            start = api.message_update(company, "/start")
            assert await post(start, None) == 403
            assert await post(start, "wrong") == 403
            assert api.messages_to(company["id"]) == []
            assert await post(start) == 200  # stored; handled in a task of its own
            await wait_for(
                lambda: any("请输入企业名称" in m.plain for m in api.messages_to(company["id"])),
                "the answer to /start",
            )
            asked = api.messages_to(company["id"])
            assert await post(start) == 200  # Telegram's re-send
            await asyncio.sleep(0.5)
            assert len(api.messages_to(company["id"])) == len(asked)
            async with http.get(f"http://127.0.0.1:{unused_tcp_port}/healthz") as health:
                assert health.status == 200
    finally:
        output = await stopped(process)
    assert process.returncode == 0, output
    assert "Traceback" not in output, output


async def test_polling_refuses_while_instances_serve_a_webhook(bot_api, tmp_path, database_url):
    """A plain `appealdesk run` started beside webhook instances (an old service left
    enabled) would delete the webhook and take every update from them: it refuses in one
    line naming the way; `--replace-webhook` polls, the webhook deleted."""
    api, port = bot_api
    api.webhook = {"url": "https://bot.example.gov.cn/telegram", "secret_token": SECRET}
    env = {
        **os.environ,
        "BOT_TOKEN": "4242:any-token-will-do",
        "TELEGRAM_BASE_URL": f"http://127.0.0.1:{port}/bot",
        **database_env(database_url),
        "ADMIN_IDS": "900001",
    }
    process = await start_bot(env, tmp_path)
    output = (await asyncio.wait_for(process.communicate(), 60))[0].decode()
    assert process.returncode == 2, output
    said = [line for line in output.splitlines() if line.startswith("appealdesk:")]
    assert len(said) == 1 and "https://bot.example.gov.cn/telegram" in said[0], output
    assert "--replace-webhook" in said[0] and "Traceback" not in output
    assert api.webhook is not None  # untouched
    assert not any(method == "getUpdates" for method, _ in api.calls)
    process = await start_bot(env, tmp_path, "--replace-webhook")
    try:
        await wait_for(lambda: any(m == "getUpdates" for m, _ in api.calls), "polling")
        assert api.webhook is None
    finally:
        output = await stopped(process)
    assert process.returncode == 0, output


async def test_an_instance_that_cannot_listen_registers_nothing(
    bot_api, tmp_path, database_url, unused_tcp_port
):
    """Its port taken (or any start-up failure before it listens): it stops before
    setWebhook, so a mistyped secret on a machine that cannot serve changes nothing for the
    instances that do."""
    api, port = bot_api
    taken = socket.socket()
    taken.bind(("127.0.0.1", unused_tcp_port))
    taken.listen()
    env = {
        **os.environ,
        "BOT_TOKEN": "4242:any-token-will-do",
        "TELEGRAM_BASE_URL": f"http://127.0.0.1:{port}/bot",
        **database_env(database_url),
        "ADMIN_IDS": "900001",
        "WEBHOOK_URL": "https://bot.example.gov.cn/telegram",
        "WEBHOOK_LISTEN": f"127.0.0.1:{unused_tcp_port}",
        "WEBHOOK_SECRET": "another-secret",
    }
    try:
        process = await start_bot(env, tmp_path, "--webhook")
        output = (await asyncio.wait_for(process.communicate(), 60))[0].decode()
    finally:
        taken.close()
    assert process.returncode != 0, output
    assert not any(method == "setWebhook" for method, _ in api.calls), output


async def test_a_second_poller_says_so_and_waits_until_the_first_stops(
    bot_api, tmp_path, database_url
):
    api, port = bot_api
    env = {
        **os.environ,
        "BOT_TOKEN": "4242:any-token-will-do",
        "TELEGRAM_BASE_URL": f"http://127.0.0.1:{port}/bot",
        **database_env(database_url),
        "ADMIN_IDS": "900001",
    }
    first = await start_bot(env, tmp_path)
    second = None
    try:
        await wait_for(lambda: any(m == "getUpdates" for m, _ in api.calls), "the first poll")
        second = await start_bot(env, tmp_path)
        line = b""
        while b"another instance is polling" not in line:
            line = await asyncio.wait_for(second.stdout.readline(), PATIENCE)
            assert line, "the second poller ended without saying why"
        polls = sum(1 for m, _ in api.calls if m == "getUpdates")
        assert second.returncode is None  # a standby, not an error
        first_output = await stopped(first)
        assert first.returncode == 0, first_output
        # the first gave its lease back: the standby takes over and polls
        await wait_for(
            lambda: sum(1 for m, _ in api.calls if m == "getUpdates") > polls + 2, "the standby"
        )
    finally:
        await stopped(first)
        if second is not None:
            second_output = await stopped(second)
    assert second.returncode == 0, second_output
