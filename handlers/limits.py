"""Telegram's flood limits on our side: about 30 messages a second for the bot, one a second
to a private chat and 20 a minute to a group, each kept as a sliding window (`Window`), so
that Telegram, which counts in sliding windows too, never refuses a message for the bot-wide
limit; python-telegram-bot's AIORateLimiter, underneath, retries a 429 all the same. Answers
to people who are waiting go before notices to others (sent inside `bulk()`), which take the
capacity answers leave.

Why not aiolimiter's leaky bucket, as before: a bucket of 30 a second lets 30 go at once and
refills meanwhile, so up to ~60 pass in a sliding second and Telegram refuses the rest (the
bench measured 66-70 429s in 2,000 messages, each pausing every send for over a second). A
window held until Telegram's answer needs no margin for the network's jitter either: see
`SlidingWindow`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from typing import Any, Protocol

from aiolimiter import AsyncLimiter
from telegram.ext import AIORateLimiter

from bot.usecases.instances import ANSWER, NOTICE, OVERDUE

log = logging.getLogger(__name__)

# Telegram's limits: messages in any `period` seconds, for the bot (overall), to one
# private chat, to one group.
OVERALL_RATE, OVERALL_PERIOD = 30, 1.0
PER_CHAT, PER_CHAT_PERIOD = 1, 1.0
PER_GROUP, PER_GROUP_PERIOD = 20, 60.0
KEEP_IDLE = 10_000  # forget idle chats' windows beyond this many
# A notice waits while answers to people are in flight: a Monday burst takes the whole
# capacity. One that has waited this long (seconds) goes at the floor rate (per second, per
# process: 1.5, 5 % of the bot's 30), so that answers without end delay notices but never
# stop them: officials acting on their notices are people being answered too, and a floor
# of one every four seconds after five minutes kept them from hearing of new appeals for
# minutes (docs/performance.md, "Several instances").
NOTICE_PATIENCE = 10.0
NOTICE_FLOOR = 1.5
# Notices let into the shared limit at once: an answer queues behind at most these.
BULK_IN_FLIGHT = 4
# Notices enter the overall window only while it has more than this many places free, so
# that an answer arriving just after a notice finds room (a place kept in a sliding window
# is a place notices never use: 1 of 30 costs them 3 % of the rate).
ANSWER_RESERVE = 1
# How often a notice waiting for room looks again (seconds).
ROOM_POLL = 0.002

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[Any]]


class Window(Protocol):
    """Places for messages under one of Telegram's limits. A message takes a place before
    it goes (`async with window:`, or acquire) and gives it back once Telegram has answered
    (release); it counts in the window until a period after that answer."""

    def has_capacity(self, amount: int = 1) -> bool:
        """Whether `amount` places are free now (a notice waiting for room asks it every
        ROOM_POLL: a window kept elsewhere answers from what it last read)."""
        ...

    async def acquire(self) -> None:
        """Wait for a place and take it (waiters in turn)."""
        ...

    async def release(self) -> None:
        """Telegram answered the message (or the send failed): its place frees a period later."""
        ...

    async def __aenter__(self) -> None: ...

    async def __aexit__(self, *exc: object) -> None: ...


class Windows(Protocol):
    """Where FloodLimits keeps its count: in this process (`LocalWindows`), or, for several
    processes sending as one bot, somewhere they share."""

    def overall(self) -> Window:
        """The bot-wide window (30 a second)."""
        ...

    def chat(self, chat_id: int | str) -> Window:
        """A chat's own window: a private chat's (1 a second) or a group's (20 a minute)."""
        ...


class _HeldWhileSending:
    """`async with window:` takes a place before the message goes and gives it back after."""

    async def acquire(self) -> None:
        raise NotImplementedError

    async def release(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        await self.release()


class SlidingWindow(_HeldWhileSending):
    """At most `limit` messages in any `period` seconds as Telegram counts them. A message
    holds its place from the moment it is let go until `period` after Telegram's answer:
    Telegram counted it in between, so however long the network kept it, Telegram never
    sees more than `limit` in a period. `clock` and `sleep` are injectable (seconds)."""

    def __init__(
        self, limit: int, period: float, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.limit, self.period = limit, period
        self._clock, self._sleep = clock, sleep
        self._in_flight = 0
        self._frees: deque[float] = deque()  # when answered messages leave the window, in order
        self._turn = asyncio.Lock()  # waiters in the order they came
        self._answered = asyncio.Event()

    def _used(self) -> int:
        now = self._clock()
        while self._frees and self._frees[0] <= now:
            self._frees.popleft()
        return self._in_flight + len(self._frees)

    def has_capacity(self, amount: int = 1) -> bool:
        return self._used() + amount <= self.limit

    async def acquire(self) -> None:
        async with self._turn:
            while self._used() >= self.limit:
                if self._frees:
                    await self._sleep(self._frees[0] - self._clock())
                else:  # every place is in flight: the first answer starts its period
                    self._answered.clear()
                    await self._answered.wait()
            self._in_flight += 1

    async def release(self) -> None:
        self._in_flight -= 1
        self._frees.append(self._clock() + self.period)
        self._answered.set()


class LocalWindows:
    """The windows of one process (the whole bot, when one process sends)."""

    def __init__(self, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self._clock, self._sleep = clock, sleep
        self._overall = SlidingWindow(OVERALL_RATE, OVERALL_PERIOD, clock, sleep)
        self._chats: dict[int | str, SlidingWindow] = {}

    def overall(self) -> Window:
        return self._overall

    def chat(self, chat_id: int | str) -> SlidingWindow:
        if len(self._chats) > KEEP_IDLE:  # keep the windows that still count something
            self._chats = {c: w for c, w in self._chats.items() if not w.has_capacity(w.limit)}
        window = self._chats.get(chat_id)
        if window is None:
            group = not isinstance(chat_id, int) or chat_id < 0
            limit, period = (PER_GROUP, PER_GROUP_PERIOD) if group else (PER_CHAT, PER_CHAT_PERIOD)
            window = self._chats[chat_id] = SlidingWindow(limit, period, self._clock, self._sleep)
        return window


_BULK: ContextVar[bool] = ContextVar("appealdesk_bulk_send", default=False)
# When the notice the current task is about to send began to wait (its patience counts
# from there, across the courier's wait and the send's).
_WAITING_SINCE: ContextVar[float | None] = ContextVar("appealdesk_notice_since", default=None)


# Several instances (handlers/instances.py): the bot-wide limit is kept in the database they
# all send through — the bot's thirty places (SharedPlaces, SlidingWindow's rule: exact),
# or, without them, a token bucket of SHARED_RATE a second with one in hand, so that no
# sliding second holds more than SHARED_RATE + 1 (a bucket passes at most capacity + rate
# · T in any T), half a place left for the network's jitter. An answer marks the budget,
# and notices give way for ANSWER_PATIENCE seconds.
SHARED_RATE = 28.5
ANSWER_PATIENCE = 0.5

# A chat's place (several instances) is held at most this long: longer than a notice may
# wait for its turn after taking it (NOTICE_PATIENCE), so that a slow one keeps it. A sender
# killed on this machine gives its places up at once (its holder is known dead), one that
# died elsewhere when the hold runs out. While all of a chat's places are in flight, a
# sender asks again every PLACE_POLL seconds (else it waits until the first is free).
PLACE_HOLD = 60.0
PLACE_POLL = 0.05
BOT_PLACES = "*"  # the key of the bot's own thirty places (a chat's is its id)

# take(chat, places, hold): a place's number, or the seconds until one may be free (float)
TakePlace = Callable[[int | str, int, float], Awaitable[int | float]]
GivePlace = Callable[[int | str, int, float], Awaitable[None]]  # (chat, place, period)


class SharedPlaces:
    """Places kept in the database, shared by the processes sending as one bot — a chat's
    (one, or twenty for a group), or the bot's own (thirty): a message takes one before it
    goes (`take`, a statement or two) and holds it until Telegram answered; then it is free
    a period later (`give`) — SlidingWindow's rule, for all the processes at once."""

    def __init__(
        self,
        key: int | str,
        limit: int,
        period: float,
        take: TakePlace,
        give: GivePlace,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.key, self.limit, self.period = key, limit, period
        self._take, self._give, self._sleep = take, give, sleep
        # the place each sending task holds (a message's take and give are one task's)
        self._held: dict[asyncio.Task | None, int] = {}

    @property
    def holds(self) -> bool:
        return bool(self._held)

    async def take(self) -> None:
        while not isinstance(got := await self._take(self.key, self.limit, PLACE_HOLD), int):
            # till the place is free; while every place is in flight, look again soon
            await self._sleep(PLACE_POLL if got == float("inf") else max(got, 0.005))
        self._held[asyncio.current_task()] = got

    async def give(self) -> None:
        place = self._held.pop(asyncio.current_task(), None)
        if place is None:
            return
        try:  # given back even when the send was called off: else it stays held a minute
            await asyncio.shield(self._give(self.key, place, self.period))
        except Exception:  # noqa: BLE001 - the place frees itself after PLACE_HOLD at most
            log.warning("could not give back a place of %s", self.key, exc_info=True)


TakeToken = Callable[[str], Awaitable[bool]]  # take(ANSWER | NOTICE | OVERDUE)


class SharedWindow(_HeldWhileSending):
    """The bot-wide window when several processes send as one bot: this process's own
    window (held until Telegram answers), and for each message a token from the budget the
    processes share (`take(kind)`: one statement; False while none is left). Answers mark
    the budget, so notices on every instance give way to them; a notice that has waited
    NOTICE_PATIENCE goes between answers at NOTICE_FLOOR (as FloodLimits.notice_turn)."""

    def __init__(
        self,
        local: Window,
        take: TakeToken,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        places: SharedPlaces | None = None,
    ) -> None:
        self._local, self._take, self._sleep, self._clock = local, take, sleep, clock
        self._places = places  # the bot's thirty, when the processes keep them exactly
        # one answer and one notice of this process ask the database at a time (the others
        # wait here, in turn), so a burst costs a statement per place, not one per waiter
        # per try: thirty answers polling every 35 ms took 850 statements a second from the
        # pool every step of every person waits on; an answer never waits behind a notice
        self._answers_asking = asyncio.Lock()
        self._notices_asking = asyncio.Lock()
        self._floor = AsyncLimiter(1, 1 / NOTICE_FLOOR)

    def has_capacity(self, amount: int = 1) -> bool:
        return self._local.has_capacity(amount)  # what this process knows without asking

    async def acquire(self) -> None:
        await self._local.acquire()
        try:
            if not _BULK.get():
                async with self._answers_asking:
                    while not await self._take(ANSWER):
                        await self._sleep(1 / SHARED_RATE)
                    if self._places is not None:
                        await self._places.take()
                return
            since = self._clock()
            async with self._notices_asking:
                while True:
                    overdue = (
                        self._clock() - since >= NOTICE_PATIENCE and self._floor.has_capacity()
                    )
                    if await self._take(OVERDUE if overdue else NOTICE):
                        if overdue:
                            await self._floor.acquire()
                        break
                    await self._sleep(1 / SHARED_RATE)
                if self._places is not None:
                    await self._places.take()
        except BaseException:
            await self._local.release()
            raise

    async def release(self) -> None:
        try:
            if self._places is not None:
                await self._places.give()
        finally:
            await self._local.release()


class SharedChatWindow(_HeldWhileSending):
    """A chat's window when several processes send as one bot: this process's own, and one
    of the chat's places the processes share (SharedPlaces), so that a person's answers
    from one instance and a notice from another never reach Telegram within the chat's
    period."""

    def __init__(
        self,
        chat_id: int | str,
        local: SlidingWindow,
        take: TakePlace,
        give: GivePlace,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.local = local
        self._places = SharedPlaces(chat_id, local.limit, local.period, take, give, sleep)

    def has_capacity(self, amount: int = 1) -> bool:
        return self.local.has_capacity(amount)

    @property
    def holds(self) -> bool:
        """Whether a message of this process holds one of the chat's places."""
        return self._places.holds

    async def acquire(self) -> None:
        await self.local.acquire()
        try:
            await self._places.take()
        except BaseException:
            await self.local.release()
            raise

    async def release(self) -> None:
        try:
            await self._places.give()
        finally:
            await self.local.release()


class SharedWindows:
    """Windows for several processes: the bot-wide one shared (SharedWindow), and each
    chat's (SharedChatWindow) when `take_place` and `give_place` are given."""

    def __init__(
        self,
        take: TakeToken,
        local: LocalWindows | None = None,
        take_place: TakePlace | None = None,
        give_place: GivePlace | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        self._local = local or LocalWindows()
        bot_places = None
        if take_place is not None and give_place is not None:
            bot_places = SharedPlaces(
                BOT_PLACES, OVERALL_RATE, OVERALL_PERIOD, take_place, give_place, sleep
            )
        self._overall = SharedWindow(self._local.overall(), take, sleep, clock, bot_places)
        self._take_place, self._give_place, self._sleep = take_place, give_place, sleep
        self._chats: dict[int | str, SharedChatWindow] = {}

    def overall(self) -> Window:
        return self._overall

    def chat(self, chat_id: int | str) -> Window:
        local = self._local.chat(chat_id)
        if self._take_place is None or self._give_place is None:
            return local
        window = self._chats.get(chat_id)
        if window is None or window.local is not local:  # the local one was forgotten idle
            if len(self._chats) > KEEP_IDLE:
                self._chats = {c: w for c, w in self._chats.items() if w.holds}
            window = SharedChatWindow(
                chat_id, local, self._take_place, self._give_place, self._sleep
            )
            self._chats[chat_id] = window
        return window


async def notices_turn(bot: object) -> None:
    """In a notice task, wait until notices may go (see FloodLimits.notice_turn); the
    courier waits here before it claims a message, so that the claim's lease is not spent
    waiting for a burst of answers to end."""
    limiter = getattr(bot, "rate_limiter", None)
    if _BULK.get() and isinstance(limiter, FloodLimits):
        _WAITING_SINCE.set(None)
        await limiter.notice_turn(take_floor=False)


def bulk() -> None:
    """Mark what the current task sends from now on as notices to others (call it first
    thing in a task of its own: the mark stays with that task)."""
    _BULK.set(True)


class FloodLimits(AIORateLimiter):
    """PTB's rate limiter with Telegram's limits kept in `windows` (PTB's own overall and
    group limiters, leaky buckets, are off; its retries of a 429 stay). `clock` times the
    notices' patience; `windows` keep time of their own (LocalWindows: monotonic time unless
    given a clock and a sleep); `sleep` is how a notice waits for room."""

    def __init__(
        self,
        max_retries: int = 3,
        clock: Clock = time.monotonic,
        windows: Windows | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(max_retries=max_retries, overall_max_rate=0, group_max_rate=0)
        self._clock, self._sleep = clock, sleep
        self._windows = windows or LocalWindows()
        self._overall = self._windows.overall()
        self._answering = 0
        self._no_answers = asyncio.Event()
        self._no_answers.set()
        self._bulk_slots = asyncio.Semaphore(BULK_IN_FLIGHT)
        self._floor = AsyncLimiter(1, 1 / NOTICE_FLOOR)

    def keep_in(self, windows: Windows) -> None:
        """Keep the limits in `windows` from now on (several instances: SharedWindows)."""
        self._windows, self._overall = windows, windows.overall()

    def chat_limiter(self, chat_id: int) -> Window:
        """A private chat's window."""
        return self._windows.chat(chat_id)

    def group_limiter(self, chat_id: int | str) -> Window:
        """A group's (or a channel's, by @name) window."""
        return self._windows.chat(chat_id)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        if not _BULK.get():
            self._answering += 1
            self._no_answers.clear()
            try:
                async with self._chat_pace(endpoint, data), self._overall_pace(data):
                    return await super().process_request(
                        callback, args, kwargs, endpoint, data, rate_limit_args
                    )
            finally:
                self._answering -= 1
                if not self._answering:
                    self._no_answers.set()
        await self.notice_turn()
        chat = self._chat_pace(endpoint, data)
        # The chat's own room first, so that a notice waiting for its chat does not hold one
        # of the places in the shared queue; its place only after the overall one (where,
        # with several instances, a notice gives way to answers everywhere), so that an
        # answer to the same chat never waits behind a notice waiting for its turn. (Answers
        # take them the other way round; no deadlock: at most BULK_IN_FLIGHT notices of a
        # process hold an overall place.)
        await self._room(chat, 1)
        async with self._bulk_slots:
            if data.get("chat_id") is not None:
                await self._room(self._overall, ANSWER_RESERVE + 1)
            async with self._overall_pace(data), chat:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )

    async def _room(self, window: object, amount: int) -> None:
        """Wait until `window` has `amount` places free, taking none (a call to no chat has
        no window: nothing to wait for)."""
        has_capacity = getattr(window, "has_capacity", None)
        while has_capacity is not None and not has_capacity(amount):
            await self._sleep(ROOM_POLL)

    async def notice_turn(self, take_floor: bool = True) -> None:
        """Wait until no answer is in flight, or, after NOTICE_PATIENCE, for the floor
        (`take_floor=False`: only wait for it, the send that follows takes it)."""
        since = _WAITING_SINCE.get()
        if since is None:
            since = self._clock()
        while self._answering:
            if self._clock() - since >= NOTICE_PATIENCE and self._floor.has_capacity():
                if take_floor:
                    await self._floor.acquire()
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._no_answers.wait(), 0.25)
        _WAITING_SINCE.set(None if take_floor else since)

    def _overall_pace(self, data: dict[str, Any]) -> AbstractAsyncContextManager:
        """Messages to a chat count towards the overall limit (as in PTB's limiter)."""
        return self._overall if data.get("chat_id") is not None else contextlib.nullcontext()

    def _chat_pace(self, endpoint: str, data: dict[str, Any]) -> AbstractAsyncContextManager:
        """A message's chat window: a private chat's, or a group's (as in PTB's limiter, a
        negative id or an @name; there every call to it counts, here every message)."""
        chat_id = data.get("chat_id")
        with contextlib.suppress(ValueError, TypeError):
            chat_id = int(chat_id)  # type: ignore[arg-type]
        if not endpoint.startswith("send") or chat_id is None or endpoint == "sendChatAction":
            return contextlib.nullcontext()
        if isinstance(chat_id, int) and chat_id > 0:
            return self.chat_limiter(chat_id)
        return self.group_limiter(chat_id)
