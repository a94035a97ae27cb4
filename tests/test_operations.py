"""What operators see: no token and no user text in logs, one line for a rejected token, a
calendar warning once per year per admin across restarts."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.clock import ManualClock
from bot.logs import MASK, Redacting, redact
from bot.sandbox.chat import Sandbox
from bot.sandbox.fake_api import FakeBotApi
from bot.sandbox.http_server import serve
from tests.conftest import LEADER_ID, SHANGHAI
from tests.test_http_run import appealdesk_command

TOKEN = "7712345678:AAH-secret_token_value_0123456789abcd"


def test_the_token_is_masked_everywhere_in_a_line():
    line = f"POST https://api.telegram.org/bot{TOKEN}/getMe failed; token={TOKEN}"
    assert TOKEN not in redact(line, [TOKEN])
    assert redact(line, []).count(MASK) == 2  # token-shaped text is masked even if unknown
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "url %s", (TOKEN,), None)
    try:
        raise RuntimeError(f"https://api.telegram.org/bot{TOKEN}/getUpdates")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    text = Redacting("%(message)s", [TOKEN]).format(record)
    assert TOKEN not in text and "Traceback" in text


async def run_bot(folder, port: int, *flags: str) -> tuple[int, str]:
    """`appealdesk run` against the Bot API on `port`: its exit status and all it printed
    (a bound of 60 s against a hang, not a speed assertion)."""
    process = await asyncio.create_subprocess_exec(
        *appealdesk_command(),
        *flags,
        "run",
        env={
            **os.environ,
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": f"http://127.0.0.1:{port}/bot",
            "DATABASE_PATH": str(folder / "run.sqlite3"),
        },
        cwd=folder,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, output.decode()


async def test_a_rejected_token_is_one_clear_line_without_the_token(tmp_path):
    api = FakeBotApi()
    api.fail("getMe", 401, "Unauthorized")
    runner, port = await serve(api)
    try:
        status, text = await run_bot(tmp_path, port, "-v")
    finally:
        await runner.cleanup()
    assert status == 2, text
    assert TOKEN not in text and TOKEN.split(":")[1] not in text
    assert "Traceback" not in text
    last = text.strip().splitlines()[-1]
    assert last == (
        "appealdesk: setting BOT_TOKEN: Telegram rejected the token (check it with @BotFather)"
    )


async def test_run_without_the_bot_api_exits_with_one_line_and_status_1(tmp_path):
    """An unreachable Bot API may come back: status 1, which the unit restarts (2, for a
    rejected token, is not)."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    status, text = await run_bot(tmp_path, port)
    assert status == 1, text
    assert "Traceback" not in text
    assert (
        text.strip()
        .splitlines()[-1]
        .startswith(f"appealdesk: cannot reach the Bot API at http://127.0.0.1:{port}")
    )


async def test_run_on_a_postgresql_server_out_of_reach_is_one_line_without_the_password(
    tmp_path,
):
    """Said before Telegram is contacted, as for a file: status 1 for a server that may come
    back (2 where this installation has no PostgreSQL support: waiting will not bring it)."""
    import importlib.util

    secret = "n0t-Shown"
    url = f"postgresql://desk:{secret}@127.0.0.1:1/appealdesk?connect_timeout=2"
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_PATH"}
    process = await asyncio.create_subprocess_exec(
        *appealdesk_command(),
        "run",
        env={
            **environment,
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": "http://127.0.0.1:1/bot",
            "DATABASE_URL": url,
        },
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    text = output.decode()
    supported = importlib.util.find_spec("storage.postgres") is not None
    assert process.returncode == (1 if supported else 2), text
    assert secret not in text and "Traceback" not in text
    last = text.strip().splitlines()[-1]
    assert last.startswith("appealdesk: database: postgresql://desk:***@127.0.0.1:1/appealdesk")
    assert "Bot API" not in text
    assert list(tmp_path.iterdir()) == []  # no SQLite file made instead


async def test_errors_are_logged_with_ids_not_with_what_the_user_wrote(
    sandbox, people, caplog, monkeypatch
):
    from handlers import understand

    async def broken(update, context):
        raise RuntimeError("boom")

    monkeypatch.setattr(understand, "understand", broken)
    with caplog.at_level(logging.INFO):
        await people.company.send("我的身份证号是420700199001011234")
    assert people.company.last.startswith("系统繁忙")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "420700199001011234" not in logged
    assert f"user={people.company.id}" in logged


async def test_the_calendar_warning_comes_once_per_year_per_admin(settings, org, db):
    clock = ManualClock(datetime(2031, 3, 10, 10, 0, tzinfo=SHANGHAI))  # a year not yet known
    api = FakeBotApi(now=lambda: clock.now().timestamp())
    for _ in range(3):  # restarts do not repeat it
        box = await Sandbox.start(settings, org, clock, api=api)
        await box.person(LEADER_ID, "王局长").send("/help")
        await box.stop()
    warnings = [m.plain for m in api.messages_to(LEADER_ID) if "chinesecalendar" in m.plain]
    assert len(warnings) == 1 and "2031" in warnings[0]
    assert len(db.rows("SELECT key FROM operator_notes WHERE key LIKE 'calendar:%'")) == 1


def test_start_up_imports_nothing_heavy():
    """Charts (matplotlib) and spreadsheets (openpyxl) load when first used; the PostgreSQL
    driver only for a postgresql:// DATABASE_URL."""
    import subprocess
    import sys

    probe = (
        "import sys, bot.app, bot.cli;"
        " print(sorted({'matplotlib', 'openpyxl', 'psycopg'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_each_persons_updates_run_in_order_and_others_do_not_wait():
    import asyncio
    from types import SimpleNamespace

    from handlers.ordering import PerUserOrder

    order: list[str] = []
    release = asyncio.Event()

    async def handle(name: str, wait: bool) -> None:
        order.append(f"{name} start")
        if wait:
            await release.wait()
        order.append(f"{name} end")

    def update(user: int) -> SimpleNamespace:
        return SimpleNamespace(effective_user=SimpleNamespace(id=user), effective_chat=None)

    processor = PerUserOrder(8)
    first = asyncio.create_task(processor.process_update(update(1), handle("a1", True)))
    await asyncio.sleep(0)
    second = asyncio.create_task(processor.process_update(update(1), handle("a2", False)))
    other = asyncio.create_task(processor.process_update(update(2), handle("b1", False)))
    await other  # somebody else is not held up by user 1's slow update
    assert order == ["a1 start", "b1 start", "b1 end"]
    release.set()
    await asyncio.gather(first, second)
    assert order[3:] == ["a1 end", "a2 start", "a2 end"]  # user 1's second came after
    assert len(processor._turns) == 0  # nothing kept for idle users


async def test_private_chats_get_their_own_pace_groups_and_other_calls_do_not():
    from handlers.limits import FloodLimits

    limits = FloodLimits()
    entered: list[int] = []

    class Recording:
        def __init__(self, chat: int) -> None:
            self.chat = chat

        async def __aenter__(self) -> None:
            entered.append(self.chat)

        async def __aexit__(self, *exc: object) -> None:
            return None

    limits.chat_limiter = Recording  # record which sends pass a per-chat limiter

    async def callback(*args: object, **kwargs: object) -> bool:
        return True

    for chat, endpoint in ((42, "sendMessage"), (-100, "sendMessage"), (42, "getMe")):
        await limits.process_request(callback, (), {}, endpoint, {"chat_id": chat}, None)
    assert entered == [42]
    assert limits.chat_limiter is Recording
    assert FloodLimits().chat_limiter(7) is not None


async def test_answers_go_before_notices_and_notices_are_never_stopped():
    """A notice (sent inside `bulk()`) waits while an answer to a person is in flight and
    goes when none is; with answers never ending it goes once it has waited NOTICE_PATIENCE,
    at the floor rate."""
    from handlers import limits as flood

    now = [0.0]
    limits = flood.FloodLimits(clock=lambda: now[0])
    order: list[str] = []
    gate = asyncio.Event()

    async def callback(name: str, hold: bool = False) -> bool:
        order.append(f"{name} sent")
        if hold:
            await gate.wait()
        return True

    async def send(name: str, hold: bool = False, as_notice: bool = False) -> None:
        if as_notice:
            flood.bulk()
        await limits.process_request(
            callback, (name, hold), {}, "sendMessage", {"chat_id": len(name)}, None
        )

    answer = asyncio.create_task(send("answer", hold=True))
    await asyncio.sleep(0)
    notice = asyncio.create_task(send("notice", as_notice=True))
    for _ in range(5):
        await asyncio.sleep(0)
    assert order == ["answer sent"]  # the notice waits while the answer is in flight
    await asyncio.create_task(send("second answer"))
    assert order == ["answer sent", "second answer sent"]  # a later answer overtakes it
    gate.set()
    await asyncio.gather(answer, notice)
    assert order == ["answer sent", "second answer sent", "notice sent"]

    # answers that never end: the notice waits out its patience, then goes
    gate.clear()
    order.clear()
    endless = asyncio.create_task(send("endless", hold=True))
    await asyncio.sleep(0)
    late = asyncio.create_task(send("late notice", as_notice=True))
    for _ in range(5):
        await asyncio.sleep(0)
    now[0] = flood.NOTICE_PATIENCE - 1
    for _ in range(5):
        await asyncio.sleep(0)
    assert order == ["endless sent"]  # not yet: answers still come first
    now[0] = flood.NOTICE_PATIENCE
    await late
    assert order == ["endless sent", "late notice sent"]
    # the next one that has waited as long goes at the floor rate: not before the floor allows
    assert not limits.patience.floor_free()
    gate.set()
    await endless


async def test_the_courier_waits_for_the_notices_turn_before_it_claims_a_message():
    """A notice task waits for the burst of answers to end before it claims its outbox row
    (a claim held through a long wait would lapse and be sent twice); the patience counts
    once, across the courier's wait and the send's, and the floor is taken by the send."""
    from types import SimpleNamespace

    from handlers import limits as flood

    now = [0.0]
    limits = flood.FloodLimits(clock=lambda: now[0])
    bot = SimpleNamespace(rate_limiter=limits)
    gate = asyncio.Event()
    steps: list[str] = []

    async def callback(name: str, hold: bool = False) -> bool:
        steps.append(f"{name} sent")
        if hold:
            await gate.wait()
        return True

    async def notice_task() -> None:
        flood.bulk()
        await flood.notices_turn(bot)
        steps.append("claimed")
        await limits.process_request(callback, ("notice",), {}, "sendMessage", {"chat_id": 7}, None)

    answer = asyncio.create_task(
        limits.process_request(callback, ("answer", True), {}, "sendMessage", {"chat_id": 8}, None)
    )
    await asyncio.sleep(0)
    task = asyncio.create_task(notice_task())
    for _ in range(5):
        await asyncio.sleep(0)
    assert steps == ["answer sent"]  # not even claimed while the answer is in flight
    now[0] = flood.NOTICE_PATIENCE
    await task  # patience spent in the courier's wait: the send does not wait it again
    assert steps == ["answer sent", "claimed", "notice sent"]
    assert not limits.patience.floor_free()  # taken once, by the send
    gate.set()
    await answer


def test_a_serving_bot_settles_its_heap_after_start_up(settings, org):
    """`appealdesk run` freezes what start-up made, so the cycle collector stops walking it;
    the sandbox and the tests, which start many bots in one process, do not."""
    import gc

    from bot.app import build_application, on_start, on_start_to_serve, settle_heap

    assert build_application(settings, org, serving=True).post_init is on_start_to_serve
    assert build_application(settings, org).post_init is on_start
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


async def test_a_notice_leaves_room_in_the_overall_limit_for_answers():
    """Near Telegram's 30 a second, a notice waits for room to spare while an answer to a
    person goes at once: the answer never queues behind notices."""
    from handlers import limits as flood

    class Overall:
        """The overall limiter with its room set by the test (no clock involved)."""

        def __init__(self) -> None:
            self.room = flood.ANSWER_RESERVE  # places left: not enough for a notice

        def has_capacity(self, amount: float = 1) -> bool:
            return amount <= self.room

        async def __aenter__(self) -> None:
            return None

        async def __aexit__(self, *exc: object) -> None:
            return None

    limits = flood.FloodLimits()
    limits._overall = overall = Overall()
    sent: list[str] = []

    async def callback(name: str) -> bool:
        sent.append(name)
        return True

    async def send(name: str, as_notice: bool = False) -> None:
        if as_notice:
            flood.bulk()
        await limits.process_request(callback, (name,), {}, "sendMessage", {"chat_id": 9}, None)

    notice = asyncio.create_task(send("notice", as_notice=True))
    for _ in range(5):
        await asyncio.sleep(0)
    await asyncio.create_task(send("answer"))
    assert sent == ["answer"]  # the answer went, the notice still waits for room
    overall.room = flood.ANSWER_RESERVE + 1
    await notice
    assert sent == ["answer", "notice"]


def recording(sent: list[str], gate: asyncio.Event) -> Callable[..., Awaitable[bool]]:
    """A send that records its message's name, and with `hold` stays in flight until `gate`."""

    async def callback(name: str, hold: bool = False) -> bool:
        sent.append(name)
        if hold:
            await gate.wait()
        return True

    return callback


async def test_a_notice_counts_its_patience_from_when_it_fell_due():
    """Notices queued for their turn (one chat's, behind one another) do not each wait out
    their patience again: one due NOTICE_PATIENCE ago goes between endless answers at once,
    past a notice that fell due just now, which still waits."""
    from types import SimpleNamespace

    from handlers import limits as flood

    now = [0.0]
    limits = flood.FloodLimits(clock=lambda: now[0])
    bot = SimpleNamespace(rate_limiter=limits)
    gate = asyncio.Event()
    sent: list[str] = []
    callback = recording(sent, gate)

    async def notice(name: str, waited: float) -> None:
        flood.bulk()
        await flood.notices_turn(bot, waited)
        await limits.process_request(callback, (name,), {}, "sendMessage", {"chat_id": 7}, None)

    endless = asyncio.create_task(
        limits.process_request(callback, ("answer", True), {}, "sendMessage", {"chat_id": 8}, None)
    )
    await asyncio.sleep(0)
    fresh = asyncio.create_task(notice("just due", 0.0))
    for _ in range(5):
        await asyncio.sleep(0)
    await notice("due long ago", flood.NOTICE_PATIENCE)
    assert sent == ["answer", "due long ago"]
    assert not fresh.done()  # its own patience is not spent
    assert not limits.patience.floor_free()  # the one that went took the floor
    fresh.cancel()
    gate.set()
    await endless


async def test_a_notice_takes_the_floor_once_across_the_limiter_and_the_shared_window():
    """With several instances a notice passes two gates that answers hold up: this
    process's (FloodLimits) and every instance's (SharedWindow). Overdue, it takes one
    place of the floor for both, and takes any of the bot's places, as an answer does."""
    from types import SimpleNamespace

    from aiolimiter import AsyncLimiter

    from handlers import limits as flood
    from handlers.limits import LocalWindows, NoticePatience, SharedWindows

    class CountedFloor(AsyncLimiter):
        taken = 0

        async def acquire(self, amount: float = 1) -> None:
            CountedFloor.taken += 1
            await super().acquire(amount)

    now = [0.0]
    patience = NoticePatience(lambda: now[0], CountedFloor(1, 1 / flood.NOTICE_FLOOR))
    asked: list[int] = []  # the spare places each ask for one of the bot's left

    async def take_place(chat: int | str, places: int, hold: float, spare: int) -> int | float:
        if chat != flood.BOT_PLACES:
            return 0
        asked.append(spare)  # another instance keeps all but one in flight
        return 0 if spare == 0 else float("inf")

    async def give_place(chat: int | str, place: int, period: float) -> None:
        return None

    limits = flood.FloodLimits(clock=lambda: now[0])
    limits.patience = patience
    limits.keep_in(SharedWindows(take_place, give_place, LocalWindows(), patience=patience))
    bot = SimpleNamespace(rate_limiter=limits)
    gate = asyncio.Event()
    sent: list[str] = []
    callback = recording(sent, gate)

    answer = asyncio.create_task(
        limits.process_request(callback, ("answer", True), {}, "sendMessage", {"chat_id": 8}, None)
    )
    await asyncio.sleep(0)
    flood.bulk()
    await flood.notices_turn(bot, flood.NOTICE_PATIENCE)
    await limits.process_request(callback, ("notice",), {}, "sendMessage", {"chat_id": 7}, None)
    assert sent == ["answer", "notice"]
    # the answer's; the notice's leaving one to answers, refused; then, overdue, any place
    assert asked == [0, 1, 0]
    assert CountedFloor.taken == 1
    gate.set()
    await answer
