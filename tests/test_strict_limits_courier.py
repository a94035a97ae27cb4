"""The courier and the answers of the real handlers against a fake Telegram that keeps the
flood limits strictly (30 messages in any sliding second, one a second to a private chat,
20 a minute to a group): a burst of notices with people acting in the middle of it draws no
429, every message is delivered once and the people acting are answered before the burst
ends. Time is virtual: the windows, the fake and every wait of the pacing share one clock
that moves only when something waits, so nothing here depends on the machine's speed."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter

import pytest

from bot.app import build_application, on_start
from bot.sandbox.chat import Sandbox
from bot.sandbox.fake_api import FakeBotApi
from bot.sandbox.request import FakeRequest
from handlers import courier, limits
from handlers.limits import FloodLimits, LocalWindows, SlidingWindow
from tests.conftest import file_appeal

NOTICES = 150
FIRST_CHAT = 500_000


class VirtualTime:
    """Seconds that pass only when somebody waits: a wait moves the clock by its length."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


@pytest.fixture
def seconds() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
async def sandbox(settings, org, clock, seconds):
    """The sandbox of conftest, with `appealdesk run`'s limiter and a strict fake Telegram."""
    api = FakeBotApi(now=lambda: clock.now().timestamp(), strict_limits=True, monotonic=seconds)
    limiter = FloodLimits(
        max_retries=3, windows=LocalWindows(seconds, seconds.sleep), sleep=seconds.sleep
    )
    app = build_application(
        settings, org, clock=clock, request=FakeRequest(api), rate_limiter=limiter
    )
    box = Sandbox(app, api, None)
    await app.initialize()
    await on_start(app)
    yield box
    await box.stop()


async def as_delivery_job(sandbox: Sandbox) -> int:
    """courier.drain as the delivery job runs it: its messages are notices."""
    limits.bulk()
    return await courier.drain(sandbox.app.bot, sandbox.env)


async def due_notices(sandbox: Sandbox, clock, chats: list[int]) -> None:
    """A notice due to each of `chats` (an operator notice: they are made leaders)."""
    env = dataclasses.replace(sandbox.env, leaders=sandbox.env.leaders | frozenset(chats))
    sandbox.app.bot_data["env"] = env
    async with env.db.unit_of_work() as uow:
        for chat in chats:
            await uow.outbox.add(
                chat, "calendar_fallback", None, None, {"year": 2031}, 1, env.now()
            )
        await uow.commit()


async def test_a_burst_of_notices_with_people_acting_meanwhile_draws_no_429(
    sandbox, people, clock, seconds, db
):
    api = sandbox.api
    chats = list(range(FIRST_CHAT, FIRST_CHAT + NOTICES))
    await due_notices(sandbox, clock, chats)
    some_went = asyncio.Event()

    def count(message) -> None:  # noqa: ANN001 - a SentMessage
        if sum(1 for m in api.sent if m.chat_id in chats) >= 40:
            some_went.set()

    api.listeners.append(count)
    burst = asyncio.create_task(as_delivery_job(sandbox))
    await some_went.wait()
    # in the middle of the burst: an enterprise files, the official claims from the notice
    number = await file_appeal(people.company, "融资", "申请技改贴息贷款对接，投资300万元。")
    claimed = await people.official.press("签收", containing=number)
    assert any("已签收" in said for said in claimed), claimed
    assert not burst.done()  # answered while notices were still going
    await burst

    assert api.limits is not None
    assert dict(api.limits.refused) == {}  # no 429 at all: bot-wide, per chat or per group
    assert api.limits.busiest() <= 30
    to_chats = Counter(m.chat_id for m in api.sent if m.chat_id in chats)
    assert to_chats == Counter(chats)  # each notice delivered, once
    assert {r["status"] for r in db.rows("SELECT status FROM outbox")} == {"sent"}


async def test_a_persons_messages_go_a_second_apart_and_a_groups_twenty_a_minute(seconds):
    """Several messages owed to one person (a digest and its files) and a busy group are
    paced by their own windows, before Telegram would refuse them."""
    api = FakeBotApi(strict_limits=True, monotonic=seconds)
    limiter = FloodLimits(windows=LocalWindows(seconds, seconds.sleep), sleep=seconds.sleep)

    async def send(chat: int, as_notice: bool) -> None:
        if as_notice:
            limits.bulk()

        async def call() -> dict:
            status, body = api.handle("sendMessage", {"chat_id": chat, "text": "消息"})
            assert status == 200, body
            return body["result"]

        await limiter.process_request(call, (), {}, "sendMessage", {"chat_id": chat}, None)

    for as_notice in (False, True):
        sends = [send(7, as_notice) for _ in range(4)] + [send(-100, as_notice) for _ in range(25)]
        await asyncio.gather(*(asyncio.create_task(s) for s in sends))
    assert api.limits is not None and dict(api.limits.refused) == {}  # none came too soon
    assert Counter(m.chat_id for m in api.sent) == {7: 8, -100: 50}
    assert seconds.now >= 60.0  # the group's last five of each round waited for its minute


async def test_the_window_holds_a_place_until_telegram_answers(seconds):
    """However long the network keeps a message, Telegram never counts more than the limit
    in a period: a place frees a period after the answer, not after the send."""
    window = SlidingWindow(2, 1.0, seconds, seconds.sleep)
    await window.acquire()
    await window.acquire()
    seconds.now = 0.5  # both still in flight: no place, whatever the time
    assert not window.has_capacity()
    third = asyncio.create_task(window.acquire())
    await asyncio.sleep(0)
    assert not third.done()
    await window.release()  # answered at 0.5: its place frees at 1.5
    await third
    assert seconds.now == 1.5
    await window.release()
    await window.release()
    assert window.has_capacity(0) and not window.has_capacity(1)  # both count until 2.5
    seconds.now = 2.5
    assert window.has_capacity(2)


async def test_a_notice_due_long_ago_goes_between_answers_at_once(sandbox, clock, seconds):
    """The courier counts a notice's patience from when it fell due: a notice stored
    NOTICE_PATIENCE ago goes while an answer to a person is still in flight, instead of
    waiting its patience again from its turn (the limiter's clock does not move here)."""
    from datetime import timedelta

    api = sandbox.api
    limiter = sandbox.app.bot.rate_limiter
    assert isinstance(limiter, FloodLimits)
    limiter.patience = limits.NoticePatience(seconds)
    await due_notices(sandbox, clock, [FIRST_CHAT])
    clock.advance(timedelta(seconds=limits.NOTICE_PATIENCE))
    gate = asyncio.Event()

    async def held_answer() -> bool:
        await gate.wait()
        return True

    answer = asyncio.create_task(
        limiter.process_request(held_answer, (), {}, "sendMessage", {"chat_id": 8}, None)
    )
    await asyncio.sleep(0)
    before = len(api.sent)
    sent = await asyncio.wait_for(as_delivery_job(sandbox), timeout=30)
    assert sent == 1 and not answer.done()  # it went while the answer was in flight
    assert [m.chat_id for m in api.sent[before:]] == [FIRST_CHAT]
    gate.set()
    await answer


async def test_a_notice_reaches_a_person_whose_answers_never_pause(seconds):
    """A person acting as fast as they are answered keeps their chat's one message a second
    full of answers; a notice to them goes once it has waited its patience, between two
    answers, and Telegram refuses nothing."""
    api = FakeBotApi(strict_limits=True, monotonic=seconds)
    limiter = FloodLimits(
        clock=seconds, windows=LocalWindows(seconds, seconds.sleep), sleep=seconds.sleep
    )
    went: list[tuple[str, float]] = []

    async def call(text: str) -> dict:
        status, body = api.handle("sendMessage", {"chat_id": 7, "text": text})
        assert status == 200, body
        went.append((text, seconds.now))
        return body["result"]

    async def answers() -> None:
        for n in range(40):  # forty steps, each answered, the next taken at once
            await limiter.process_request(
                call, (f"答复{n}",), {}, "sendMessage", {"chat_id": 7}, None
            )

    async def notice() -> None:
        limits.bulk()
        await limiter.process_request(
            call, ("新诉求通知",), {}, "sendMessage", {"chat_id": 7}, None
        )

    person = asyncio.create_task(answers())
    await asyncio.sleep(0)
    await notice()
    at = dict(went)["新诉求通知"]
    # (virtual time adds up waits that overlap in real time — the notice's looks every
    # NOTICE_LOOK and the answers' seconds — so the margin is a few seconds, not one)
    assert limits.NOTICE_PATIENCE <= at <= limits.NOTICE_PATIENCE + 5, went
    assert not person.done()  # between the answers, not after them
    await person
    assert api.limits is not None and dict(api.limits.refused) == {}
    times = [moment for _, moment in went]
    assert all(later - earlier >= 1.0 for earlier, later in zip(times, times[1:], strict=False))


async def test_a_place_freed_a_moment_ago_is_left_to_answers(seconds):
    """A person's place freed less than NOTICE_QUIET ago is free for an answer, not yet for
    a notice (which asks with `quiet`)."""
    window = SlidingWindow(1, 1.0, seconds, seconds.sleep)
    await window.acquire()
    await window.release()  # Telegram answered at 0: free again from 1.0
    seconds.now = 1.2
    assert window.has_capacity(1)
    assert not window.has_capacity(1, limits.NOTICE_QUIET)
    seconds.now = 1.0 + limits.NOTICE_QUIET
    assert window.has_capacity(1, limits.NOTICE_QUIET)
