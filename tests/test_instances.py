"""Several instances on one database (both backends): an update is claimed once before it is
handled, whatever instance it is posted to and however often; a person's updates are
handled in Telegram's order even when they reach two instances; an update whose instance
died is taken up by another; the leader's lease decides which instance runs the leader's
jobs; the webhook refuses what does not carry the secret and says whether the database
answers. Two "instances" here are two inboxes (or leaderships) with their own names on the
same database and Application: what they share is the database, as two processes would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.usecases import instances
from handlers import instances as several
from handlers.instances import Inbox, Leadership, NotAnUpdate, leader_only
from handlers.webhook import HEALTH_PATH, SECRET_HEADER, make_webhook_app

SECRET = "s3cret_-Token"
PATH = "/telegram/updates"


@pytest.fixture
def env(sandbox):
    return sandbox.env


def inbox(sandbox, name: str) -> Inbox:
    return Inbox(sandbox.app, sandbox.env, name)


def update(sandbox, person, text: str) -> dict:
    return sandbox.api.message_update(person.user, text)


# -- the database's part: claims and leases ----------------------------------------------


async def test_an_update_is_claimed_once_and_waits_in_its_persons_order(env, clock):
    assert await instances.claim_update(env, 11, 501, {"update_id": 11})
    assert await instances.claim_update(env, 12, 502, {"update_id": 12})
    assert await instances.claim_update(env, 10, 501, {"update_id": 10, "text": "早"})
    assert not await instances.claim_update(env, 11, 501, {"update_id": 11})  # a re-send
    waiting = await instances.waiting_updates(env, 501, 10)
    assert [update_id for update_id, _ in waiting] == [10, 11]
    assert waiting[0][1] == {"update_id": 10, "text": "早"}
    await instances.update_handled(env, 10)
    assert [u for u, _ in await instances.waiting_updates(env, 501, 10)] == [11]
    # stranded: stored STRANDED_AFTER ago and not handled
    assert await instances.stranded_turns(env, timedelta(seconds=5)) == []
    clock.advance(timedelta(seconds=6))
    assert await instances.stranded_turns(env, timedelta(seconds=5)) == [501, 502]
    # a handled update is forgotten after a day; one never handled is kept
    clock.advance(timedelta(hours=25))
    assert await instances.forget_updates(env) == 1
    assert not await instances.claim_update(env, 11, 501, {"update_id": 11})


async def test_a_lease_has_one_holder_until_it_runs_out_or_is_given_back(env, clock):
    minute = timedelta(minutes=1)
    assert await instances.take_lease(env, "leader", "a", minute)
    assert not await instances.take_lease(env, "leader", "b", minute)
    assert await instances.take_lease(env, "leader", "a", minute)  # renewed
    assert await instances.lease_holder(env, "leader") == "a"
    clock.advance(timedelta(seconds=59))
    assert not await instances.take_lease(env, "leader", "b", minute)
    clock.advance(timedelta(seconds=1))  # run out: anybody may take it
    assert await instances.lease_holder(env, "leader") is None
    assert await instances.take_lease(env, "leader", "b", minute)
    await instances.release_lease(env, "leader", "a")  # not a's any more: nothing changes
    assert await instances.lease_holder(env, "leader") == "b"
    await instances.release_lease(env, "leader", "b")
    assert await instances.take_lease(env, "leader", "c", minute)
    assert await instances.take_lease(env, "turn:7", "c", minute)  # another name, its own
    # a day after they ran out, leases are forgotten with the day's handled updates
    clock.advance(timedelta(hours=24, minutes=2))
    await instances.forget_updates(env)
    async with env.db.reading() as uow:
        assert await uow.leases.holder("turn:7", clock.now() - timedelta(days=2)) is None


# -- the inbox: through the real handlers ------------------------------------------------


async def test_an_update_posted_twice_or_to_two_instances_is_handled_once(sandbox, people):
    company = people.company
    one, two = inbox(sandbox, "one"), inbox(sandbox, "two")
    before = len(company.inbox)
    payload = update(sandbox, company, "/my")
    assert await one.receive(payload)
    answered = len(company.inbox)
    assert answered > before
    assert not await one.receive(payload)  # Telegram's re-send
    assert not await two.receive(payload)  # the load balancer's copy to another instance
    assert len(company.inbox) == answered


async def test_a_persons_updates_reaching_two_instances_are_handled_in_their_order(
    sandbox, people, clock
):
    """The person's turn is held elsewhere: what reaches this instance is stored and waits;
    when the turn is free it is handled in Telegram's order, once."""
    company = people.company
    one, two = inbox(sandbox, "one"), inbox(sandbox, "two")
    held = instances.turn_name(company.id)
    assert await instances.take_lease(sandbox.env, held, "elsewhere", timedelta(seconds=30))
    first = update(sandbox, company, "/new")
    second = update(sandbox, company, "/cancel")
    mark = company.mark()
    assert await two.receive(first) and await one.receive(second)
    assert company.since(mark) == []  # stored, not handled: the turn is another's
    await instances.release_lease(sandbox.env, held, "elsewhere")
    clock.advance(several.STRANDED_AFTER + timedelta(seconds=1))
    assert await one.recover() == 1
    said = company.since(mark)
    assert "请选择诉求类别" in said[0] and any("已取消" in s or "退出" in s for s in said[1:])
    assert (
        await one.recover() == 0
        and await instances.waiting_updates(sandbox.env, company.id, 5) == []
    )


async def test_an_update_whose_instance_died_after_storing_it_is_handled_by_another(
    sandbox, people, clock
):
    company = people.company
    payload = update(sandbox, company, "/my")
    # the instance claimed it, then died (its turn's lease never taken, or run out)
    assert await instances.claim_update(sandbox.env, payload["update_id"], company.id, payload)
    mark = company.mark()
    survivor = inbox(sandbox, "survivor")
    assert await survivor.recover() == 0  # too recent: its instance may still be on it
    clock.advance(several.STRANDED_AFTER + timedelta(seconds=1))
    assert await survivor.recover() == 1
    assert company.since(mark)
    assert not await survivor.receive(payload)  # Telegram's re-send: nothing more


async def test_what_does_not_read_as_an_update_is_refused(sandbox):
    with pytest.raises(NotAnUpdate):
        await inbox(sandbox, "one").receive({"update_id": 5, "message": {"text": "no chat"}})


# -- the leader ----------------------------------------------------------------------------


class Ticking:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_one_leader_at_a_time_and_a_dead_one_is_replaced(env, clock):
    a_time, b_time = Ticking(), Ticking()
    a = Leadership(env, "a", clock=a_time)
    b = Leadership(env, "b", clock=b_time)
    assert await a.renew() and a.holds()
    assert not await b.renew() and not b.holds()
    assert not await a.renew() and a.holds()  # renewed: not "became" again
    # a dies: its lease runs out in the database; it would have stopped before
    a_time.now += several.LEADER_LEASE.total_seconds() - several.LEADER_MARGIN
    assert not a.holds()
    clock.advance(several.LEADER_LEASE)
    assert await b.renew() and b.holds()
    assert not await a.renew() and not a.holds()  # came back: b leads
    await b.resign()
    assert not b.holds() and await a.renew()


async def test_leader_only_jobs_run_where_the_lease_is_held(sandbox):
    ran = []

    async def job(context) -> None:
        ran.append(True)

    class Context:
        application = sandbox.app

    gated = leader_only(job)
    await gated(Context())  # one instance (no leadership): it always runs
    leadership = Leadership(sandbox.env, "me", clock=Ticking())
    sandbox.app.bot_data[several.LEADERSHIP] = leadership
    try:
        await gated(Context())
        assert await leadership.renew()
        await gated(Context())
    finally:
        del sandbox.app.bot_data[several.LEADERSHIP]
    assert ran == [True, True]


# -- the webhook over HTTP ---------------------------------------------------------------


async def handled_soon(seen):
    """What `seen()` returns once it is something (the update is handled in a task of its
    own, after the 200)."""
    import asyncio

    for _ in range(200):
        if got := seen():
            return got
        await asyncio.sleep(0.025)
    raise AssertionError("the update stored was never handled")


async def test_the_webhook_takes_only_updates_with_the_secret(sandbox, people):
    company = people.company
    app = make_webhook_app(inbox(sandbox, "web"), sandbox.env, SECRET, PATH)
    async with TestClient(TestServer(app)) as client:
        payload = update(sandbox, company, "/my")
        mark = company.mark()
        for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET + "x"}):
            response = await client.post(PATH, json=payload, headers=headers)
            assert response.status == 403
        assert company.since(mark) == []
        assert await instances.waiting_updates(sandbox.env, company.id, 5) == []
        with_secret = {SECRET_HEADER: SECRET}
        for body, status in (
            (b"not json", 400),
            (b"[1, 2]", 400),
            (b'{"message": {}}', 400),
            (b'{"update_id": "7"}', 400),
            (b'{"update_id": 9, "message": {"text": "no chat"}}', 400),
            (b'{"update_id": 9, "message": "hello"}', 400),
            (b'{"update_id": 1180591620717411303424, "message": {}}', 400),  # 2**70
            (b'{"update_id": -1}', 400),
            (
                b'{"update_id": 10, "message": {"message_id": 1, "date": 0, "chat": {"id": 1,'
                b' "type": "private"}, "from": {"id": 9223372036854775808, "is_bot": false,'
                b' "first_name": "x"}, "text": "hi"}}',
                400,
            ),  # a person's id past 2**63
        ):
            response = await client.post(PATH, data=body, headers=with_secret)
            assert response.status == status, body
            assert "Error" not in await response.text()  # nothing of the code behind it
        response = await client.post(PATH, json=payload, headers=with_secret)
        assert response.status == 200  # stored: a crash now leaves it to another instance
        assert not await instances.claim_update(
            sandbox.env, payload["update_id"], company.id, payload
        )
        answered = await handled_soon(lambda: company.since(mark))
        response = await client.post(PATH, json=payload, headers=with_secret)
        assert response.status == 200 and company.since(mark) == answered
        assert (await client.get(PATH)).status == 405
        health = await client.get(HEALTH_PATH)
        assert health.status == 200 and await health.text() == "ok"


async def test_health_says_503_when_the_database_does_not_answer(sandbox, monkeypatch):
    async def unreachable(env):
        raise OSError("connection refused")

    monkeypatch.setattr(instances, "lease_holder", unreachable)
    app = make_webhook_app(inbox(sandbox, "web"), sandbox.env, SECRET, PATH)
    async with TestClient(TestServer(app)) as client:
        response = await client.get(HEALTH_PATH)
        assert response.status == 503 and "database" in await response.text()


# -- the bot's places shared by every instance ----------------------------------------------


def busiest_second(moments: list[float]) -> int:
    moments = sorted(moments)
    most, start = 0, 0
    for end, moment in enumerate(moments):
        while moment - moments[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_the_bots_places_never_let_31_through_in_any_second(env, clock):
    """Asked every 5 ms for ten seconds, each message answered 5 ms later: no sliding second
    holds more than 30, and the whole rate is Telegram's."""
    granted = []
    start = clock.now()
    for _ in range(2000):
        place = await instances.take_chat_place(env, "*", 30, "a", 60)
        clock.advance(timedelta(milliseconds=5))  # Telegram answers 5 ms later
        if isinstance(place, int):
            granted.append((clock.now() - start).total_seconds() - 0.005)
            await instances.give_chat_place(env, "*", place, "a", 1.0)
    assert busiest_second(granted) <= 30
    assert 0.95 * 30 * 10 <= len(granted) <= 30 * 10


async def test_a_notice_leaves_places_for_answers(env, clock):
    """A notice (spare=1) takes one of the bot's places only while another stays free; an
    answer takes the last; the notice is told when two will be free again."""
    assert await instances.take_chat_place(env, "*", 3, "a", 60, spare=1) == 0
    assert await instances.take_chat_place(env, "*", 3, "a", 60, spare=1) == 1
    wait = await instances.take_chat_place(env, "*", 3, "a", 60, spare=1)
    assert wait == float("inf")  # one free, none beside it; the rest in flight
    assert await instances.take_chat_place(env, "*", 3, "b", 60) == 2  # an answer takes it
    await instances.give_chat_place(env, "*", 0, "a", 1.0)
    await instances.give_chat_place(env, "*", 1, "a", 2.0)
    wait = await instances.take_chat_place(env, "*", 3, "a", 60, spare=1)
    assert wait == pytest.approx(2.0, abs=0.001)  # until both are free
    clock.advance(timedelta(seconds=1))
    wait = await instances.take_chat_place(env, "*", 3, "a", 60, spare=1)
    assert wait == pytest.approx(1.0, abs=0.001)
    clock.advance(timedelta(seconds=1))
    assert await instances.take_chat_place(env, "*", 3, "a", 60, spare=1) == 0


async def test_instances_asking_at_once_never_share_a_place(env, backend):
    """Many asks at the same moment from every connection the pool has: exactly as many
    places as the chat has, each to one asker."""
    import asyncio

    asked = await asyncio.gather(
        *(instances.take_chat_place(env, "*", 5, f"h{n}", 60) for n in range(40))
    )
    taken = [place for place in asked if isinstance(place, int)]
    assert sorted(taken) == [0, 1, 2, 3, 4]


# -- a holder killed on this machine: its lease is taken over at once ------------------------


async def test_a_lease_of_a_process_killed_here_is_taken_over_at_once(env):
    import asyncio
    import os
    import socket

    from handlers.instances import _machine, dead_here, instance_name

    host = _machine()
    minute = timedelta(minutes=1)
    child = await asyncio.create_subprocess_exec("sleep", "60")
    running = f"{host}:{child.pid}:aa"
    assert not dead_here(running) and not dead_here(f"elsewhere:{child.pid}:aa")
    assert await instances.take_lease(env, "poller", running, minute)
    assert not await instances.take_lease(env, "poller", "me", minute, dead_here)
    child.kill()  # killed, not reaped yet: a zombie is dead too
    for _ in range(200):
        if dead_here(running):
            break
        await asyncio.sleep(0.01)
    assert dead_here(running)
    assert await instances.take_lease(env, "poller", "me", minute, dead_here)
    assert await instances.lease_holder(env, "poller") == "me"
    await child.wait()
    # another machine's holder is never taken over: its lease runs out by itself
    assert await instances.take_lease(env, "leader", f"elsewhere:{child.pid}:bb", minute)
    assert not await instances.take_lease(env, "leader", "me", minute, dead_here)
    # this pid with another name: an earlier life of this process (a container restarted)
    assert dead_here(f"{host}:{os.getpid()}:earlier") and not dead_here(instance_name() + ":t1")
    # a container with the host's name but pids of its own (host networking): not this one's
    assert host.startswith(socket.gethostname())
    assert not dead_here(f"{socket.gethostname()}~1:{child.pid}:cc")
    assert not dead_here(f"{socket.gethostname()}~1:{os.getpid()}:earlier")


async def test_a_claim_taken_over_after_its_lease_is_no_longer_the_first_senders(env, clock):
    """A notice claimed, its lease run out while it waited, taken by another sender: the
    first sender's check before sending says no (fenced by the attempt count), the second's
    says yes; a renewal keeps a claim its sender's."""
    from bot.rules import delivery
    from bot.usecases import outbox

    async with env.db.one_statement() as uow:
        ident = await uow.outbox.add(
            30001, "ack", None, None, {"key": "x"}, delivery.ACK, clock.now()
        )
    first = await outbox.take(env, ident)
    assert first is not None and await outbox.still_ours(env, [first])
    clock.advance(delivery.LEASE + timedelta(seconds=1))
    assert await outbox.still_ours(env, [first])  # renewed: nobody may take it
    assert await outbox.take(env, ident) is None
    clock.advance(delivery.LEASE + timedelta(seconds=1))  # not renewed: it runs out
    second = await outbox.take(env, ident)
    assert second is not None and second.attempts == first.attempts + 1
    assert not await outbox.still_ours(env, [first])
    assert await outbox.still_ours(env, [second])


async def test_an_instance_started_in_a_killed_ones_place_leads_and_polls_at_once(env):
    """systemd restarts a killed instance on the same machine: it takes the leader's and the
    poller's leases at once rather than after their 30 s (nobody else can hold them: the
    holder is dead); a holder elsewhere keeps them until they run out."""
    import asyncio

    from handlers.instances import Leadership, PollerLease, _machine

    child = await asyncio.create_subprocess_exec("sleep", "60")
    killed = f"{_machine()}:{child.pid}:aa"
    minute = timedelta(minutes=1)
    for role in (instances.LEADER, instances.POLLER):
        assert await instances.take_lease(env, role, killed, minute)
    child.kill()
    await child.wait()
    assert await Leadership(env, "me").renew()
    said: list[str] = []
    await asyncio.wait_for(PollerLease(env, "me").wait_for_it(said.append, every=0.01), 5)
    assert said == []  # no "another instance is polling": it was dead
    for role in (instances.LEADER, instances.POLLER):
        assert await instances.lease_holder(env, role) == "me"
        await instances.release_lease(env, role, "me")
        assert await instances.take_lease(env, role, f"elsewhere:{child.pid}:bb", minute)
    assert not await Leadership(env, "me").renew()


# -- a chat's places, shared: Telegram's per-chat limits hold for the bot ---------------------


async def test_a_chats_place_is_held_until_answered_and_free_a_period_after(env, clock):
    person, group = 42, -100123
    place = await instances.take_chat_place(env, person, 1, "a", 15)
    assert place == 0
    waiting = await instances.take_chat_place(env, person, 1, "b", 15)
    assert isinstance(waiting, float) and waiting > 1  # held: Telegram has not answered yet
    await instances.give_chat_place(env, person, place, "b", 1.0)  # not b's to give
    assert isinstance(await instances.take_chat_place(env, person, 1, "b", 15), float)
    await instances.give_chat_place(env, person, place, "a", 1.0)
    waiting = await instances.take_chat_place(env, person, 1, "b", 15)
    assert waiting == pytest.approx(1.0)  # answered: free a second after the answer
    clock.advance(timedelta(seconds=1))
    assert await instances.take_chat_place(env, person, 1, "b", 15) == 0
    clock.advance(timedelta(seconds=15))  # b died holding it: free when its hold ran out
    assert await instances.take_chat_place(env, person, 1, "c", 15) == 0
    # a group: twenty places, then none until one is answered and a minute has passed
    taken = [await instances.take_chat_place(env, group, 20, "a", 15) for _ in range(20)]
    assert sorted(taken) == list(range(20))
    assert isinstance(await instances.take_chat_place(env, group, 20, "b", 15), float)
    for place in taken:
        await instances.give_chat_place(env, group, place, "a", 60.0)
    assert await instances.take_chat_place(env, group, 20, "b", 15) == pytest.approx(60.0)
    clock.advance(timedelta(seconds=60))
    again = [await instances.take_chat_place(env, group, 20, "b", 15) for _ in range(21)]
    assert sorted(again[:20]) == list(range(20)) and isinstance(again[20], float)


async def test_instances_asking_for_a_chats_places_at_once_never_share_one(env, backend):
    import asyncio

    asked = await asyncio.gather(
        *(instances.take_chat_place(env, -100777, 20, f"i{n}", 15) for n in range(40))
    )
    places = [p for p in asked if isinstance(p, int)]
    assert sorted(places) == sorted(set(places)) and len(places) <= 20
    assert len(places) >= 1
    for _ in range(3):  # whatever lost a race finds the rest free on asking again
        for i, p in enumerate(asked):
            if not isinstance(p, int):
                asked[i] = await instances.take_chat_place(env, -100777, 20, f"i{i}", 15)
    assert sorted(p for p in asked if isinstance(p, int)) == list(range(20))


async def test_a_chats_places_are_forgotten_a_day_after_its_last_message(env, clock):
    await instances.give_chat_place(
        env, 42, await instances.take_chat_place(env, 42, 1, "a", 15), "a", 1.0
    )
    clock.advance(timedelta(hours=25))
    await instances.forget_updates(env)
    # made afresh: a first message again
    assert await instances.take_chat_place(env, 42, 1, "b", 15) == 0


async def test_two_processes_sending_to_one_chat_keep_its_limit(env, clock):
    """Two processes' limiters (their own windows, the places in the database) send to one
    person, to one group and to the bot's limit at once, Telegram taking 0.2 s to answer
    each: never two messages to the person within a second, never 21 to the group within a
    minute, never 31 for the bot within a second."""
    import asyncio

    from handlers.limits import LocalWindows, SharedWindows

    now = [0.0]

    async def ticking() -> None:
        """The clock: 10 ms a tick, a tick whenever the loop has run everything ready (the
        senders all wait: for the clock, or for the database, whose time counts too)."""
        while True:
            for _ in range(5):
                await asyncio.sleep(0)
            await asyncio.sleep(0.0005)
            now[0] += 0.01
            clock.advance(timedelta(seconds=0.01))

    async def sleep(seconds: float) -> None:
        wake = now[0] + max(seconds, 0.0)
        while now[0] < wake:
            await asyncio.sleep(0.0002)

    ticker = asyncio.create_task(ticking())

    def process(name: str) -> SharedWindows:
        async def take_place(chat: int | str, places: int, hold: float, spare: int) -> int | float:
            return await instances.take_chat_place(env, chat, places, name, hold, spare=spare)

        async def give_place(chat: int | str, place: int, period: float) -> None:
            await instances.give_chat_place(env, chat, place, name, period)

        local = LocalWindows(lambda: now[0], sleep)
        return SharedWindows(take_place, give_place, local, sleep)

    arrivals: dict[int | None, list[float]] = {42: [], -100555: [], None: []}

    async def send(windows: SharedWindows, chat: int | None) -> None:
        window = windows.chat(chat) if chat is not None else windows.overall()
        async with window:
            # Telegram counts it on its way (by the clock the places are kept by)
            arrivals[chat].append(clock.now().timestamp() + 0.1)
            await sleep(0.2)

    a, b = process("a"), process("b")
    await asyncio.gather(
        *(send(w, 42) for _ in range(5) for w in (a, b)),
        *(send(w, -100555) for _ in range(15) for w in (a, b)),
        *(send(w, None) for _ in range(40) for w in (a, b)),  # the bot's own thirty
    )
    ticker.cancel()
    person = sorted(arrivals[42])
    assert len(person) == 10
    gaps = [later - earlier for earlier, later in zip(person, person[1:], strict=False)]
    assert min(gaps) >= 1.0, (gaps, person)
    group = sorted(arrivals[-100555])
    assert len(group) == 30
    assert all(group[i + 20] - group[i] >= 60.0 for i in range(len(group) - 20))
    bot = sorted(arrivals[None])
    assert len(bot) == 80
    assert all(bot[i + 30] - bot[i] >= 1.0 for i in range(len(bot) - 30))


async def test_notices_on_every_instance_leave_room_for_answers_until_they_waited_long(env, clock):
    """Instance A has all but one of the bot's thirty places in flight; instance B's notice
    leaves that one to answers — an answer from A takes it meanwhile — until it has waited
    NOTICE_PATIENCE, then takes it. Once A's messages are answered, B's notices go at once."""
    import asyncio

    from handlers import limits
    from handlers.limits import NOTICE_PATIENCE, LocalWindows, NoticePatience, SharedWindows

    now = [0.0]

    async def sleep(seconds: float) -> None:
        step = max(seconds, 0.001)
        now[0] += step
        clock.advance(timedelta(seconds=step))
        await asyncio.sleep(0)

    def process(name: str) -> SharedWindows:
        async def take_place(chat: int | str, places: int, hold: float, spare: int) -> int | float:
            return await instances.take_chat_place(env, chat, places, name, hold, spare=spare)

        async def give_place(chat: int | str, place: int, period: float) -> None:
            await instances.give_chat_place(env, chat, place, name, period)

        return SharedWindows(
            take_place,
            give_place,
            LocalWindows(lambda: now[0], sleep),
            sleep=sleep,
            patience=NoticePatience(lambda: now[0]),
        )

    a, b = process("a"), process("b")
    answered = asyncio.Event()
    held: list[float] = []

    async def answer(until_answered: bool = True) -> None:
        async with a.overall():
            held.append(now[0])
            if until_answered:
                await answered.wait()

    in_flight = [asyncio.create_task(answer()) for _ in range(29)]
    while len(held) < 29:
        await asyncio.sleep(0)

    async def notice() -> float:
        limits.bulk()
        async with b.overall():
            return now[0]

    waiting = asyncio.create_task(notice())
    while now[0] < 1.0:  # (the notice's own looks move the clock)
        await asyncio.sleep(0)
    assert not waiting.done()  # the last place is left to answers
    await answer(until_answered=False)  # and an answer takes it at once
    assert held[-1] < 2.0 and not waiting.done()
    went = await waiting
    assert NOTICE_PATIENCE <= went <= NOTICE_PATIENCE + 1  # waited, then took it
    answered.set()
    await asyncio.gather(*in_flight)
    await sleep(1.0)  # A's messages answered a second ago: their places are free
    started = now[0]
    assert await notice() - started < 0.1


async def test_a_chats_place_held_by_a_process_killed_here_is_taken_over_at_once(env):
    """An instance killed while its answer to a person was in flight: the instance started
    in its place (or the other one on this machine) answers that person at once, not after
    the hold; a holder elsewhere keeps the place until its hold runs out."""
    import asyncio

    from handlers.instances import _machine, dead_here
    from handlers.limits import NOTICE_PATIENCE, PLACE_HOLD

    assert PLACE_HOLD > NOTICE_PATIENCE  # a notice waiting for its turn keeps its place
    child = await asyncio.create_subprocess_exec("sleep", "60")
    killed = f"{_machine()}:{child.pid}:aa"
    assert await instances.take_chat_place(env, 42, 1, killed, PLACE_HOLD, dead_here) == 0
    elsewhere = "elsewhere:1:bb"
    assert await instances.take_chat_place(env, 43, 1, elsewhere, PLACE_HOLD, dead_here) == 0
    assert isinstance(await instances.take_chat_place(env, 42, 1, "me", 60, dead_here), float)
    child.kill()
    await child.wait()
    assert await instances.take_chat_place(env, 42, 1, "me", 60, dead_here) == 0
    assert isinstance(await instances.take_chat_place(env, 43, 1, "me", 60, dead_here), float)
