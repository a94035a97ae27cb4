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
from functools import partial
from typing import Any, Protocol

from aiolimiter import AsyncLimiter
from telegram.ext import AIORateLimiter

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
# How often a notice waiting for answers to end looks whether it has waited long enough.
NOTICE_LOOK = 0.25
# A notice takes a person's (or a group's) place in this process only once it has been
# free this long (seconds): an answer to them waiting takes it the moment it is free, and
# a notice polling for room raced it there. (Across instances the chat's place goes to
# whoever asks first once free: holding its other places meanwhile, a notice kept waiting
# for a quiet place made an answer to that person wait behind it.)
NOTICE_QUIET = 0.5

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[Any]]


class Window(Protocol):
    """Places for messages under one of Telegram's limits. A message takes a place before
    it goes (`async with window:`, or acquire) and gives it back once Telegram has answered
    (release); it counts in the window until a period after that answer."""

    def has_capacity(self, amount: int = 1, quiet: float = 0.0) -> bool:
        """Whether `amount` places are free now, each for `quiet` seconds already (a notice
        waiting for room asks it every ROOM_POLL: a window kept elsewhere answers from what
        it last read)."""
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
        self._freed: deque[float] = deque(maxlen=limit)  # when the latest places became free
        self._turn = asyncio.Lock()  # waiters in the order they came
        self._answered = asyncio.Event()

    def _used(self) -> int:
        now = self._clock()
        while self._frees and self._frees[0] <= now:
            self._freed.append(self._frees.popleft())
        return self._in_flight + len(self._frees)

    def has_capacity(self, amount: int = 1, quiet: float = 0.0) -> bool:
        used = self._used()
        if quiet:
            since = self._clock() - quiet
            used += sum(1 for moment in self._freed if moment > since)
        return used + amount <= self.limit

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


class _Waiting:
    """The wait of the notice the current task is about to send: since when (the patience's
    clock), and whether a place of the floor was taken for the message in hand."""

    __slots__ = ("since", "floor_taken")

    def __init__(self, since: float) -> None:
        self.since, self.floor_taken = since, False


_WAITING: ContextVar[_Waiting | None] = ContextVar("appealdesk_notice_waiting", default=None)


class NoticePatience:
    """When a notice that waits behind answers goes anyway: once it has waited
    NOTICE_PATIENCE, counted from when it fell due and across every gate it passes (the
    courier's turn for its chat, this process's answers, every instance's), at NOTICE_FLOOR
    a second in this process — one place of the floor per message, however many gates it
    passes. Each notice counting its own wait from when it began at each gate kept officials
    from hearing of new appeals for minutes: the notices queued for one chat waited it out
    one after another (docs/performance.md, "Several instances")."""

    def __init__(self, clock: Clock = time.monotonic, floor: AsyncLimiter | None = None) -> None:
        self._clock = clock
        self._floor = floor or AsyncLimiter(1, 1 / NOTICE_FLOOR)

    def begin(self, waited: float = 0.0) -> None:
        """The current task's next notice has been due `waited` seconds already."""
        _WAITING.set(_Waiting(self._clock() - max(waited, 0.0)))

    def _waiting(self) -> _Waiting:
        waiting = _WAITING.get()
        if waiting is None:  # a notice nobody said when fell due: it waits from now
            waiting = _Waiting(self._clock())
            _WAITING.set(waiting)
        return waiting

    def overdue(self) -> bool:
        """Whether the notice may go between answers now: the floor was taken for it, or it
        has waited its patience and the floor has room."""
        return self._waiting().floor_taken or (self.spent() and self._floor.has_capacity())

    def spent(self) -> bool:
        """Whether the current task's notice has waited its patience."""
        return self._clock() - self._waiting().since >= NOTICE_PATIENCE

    def floor_free(self) -> bool:
        """Whether the floor would let a notice go now."""
        return self._floor.has_capacity()

    async def take_floor(self) -> None:
        """Take the floor's place for the message in hand (once, whichever gate asks)."""
        waiting = self._waiting()
        if not waiting.floor_taken:
            await self._floor.acquire()
            waiting.floor_taken = True

    def sent(self) -> None:
        """The message in hand went (or failed): the task's next one takes a place of its
        own; its wait still counts from when it began."""
        waiting = _WAITING.get()
        if waiting is not None:
            waiting.floor_taken = False


# Several instances (handlers/instances.py): the bot-wide limit is kept in the database they
# all send through, as the bot's thirty places (SharedPlaces, SlidingWindow's rule: exact).
# A notice takes one only while ANSWER_RESERVE others stay free, so that an answer on any
# instance finds room (as the local `_room` check does for one process).

# A chat's place (several instances) is held at most this long: longer than a notice may
# wait for its turn after taking it (NOTICE_PATIENCE), so that a slow one keeps it. A sender
# killed on this machine gives its places up at once (its holder is known dead), one that
# died elsewhere when the hold runs out. While all of a chat's places are in flight, a
# sender asks again every PLACE_POLL seconds (else it waits until the first is free).
PLACE_HOLD = 60.0
PLACE_POLL = 0.05
BOT_PLACES = "*"  # the key of the bot's own thirty places (a chat's is its id)

# take(chat, places, hold, spare): a place's number, or the seconds until one may be (float)
TakePlace = Callable[[int | str, int, float, int], Awaitable[int | float]]
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

    async def try_take(self, spare: int = 0) -> float | None:
        """Take a place, leaving `spare` others free: None when taken, else the seconds to
        wait before asking again (soon, while every place is in flight)."""
        got = await self._take(self.key, self.limit, PLACE_HOLD, spare)
        if isinstance(got, int):
            self._held[asyncio.current_task()] = got
            return None
        return PLACE_POLL if got == float("inf") else max(got, 0.005)

    async def take(self) -> None:
        """Take a place, waiting until one is free."""
        while (wait := await self.try_take()) is not None:
            await self._sleep(wait)

    async def give(self) -> None:
        place = self._held.pop(asyncio.current_task(), None)
        if place is None:
            return
        try:  # given back even when the send was called off: else it stays held a minute
            await asyncio.shield(self._give(self.key, place, self.period))
        except Exception:  # noqa: BLE001 - the place frees itself after PLACE_HOLD at most
            log.warning("could not give back a place of %s", self.key, exc_info=True)


class _SharedPlace(_HeldWhileSending):
    """This process's own window and one of the places the processes share: a message
    takes its local place, then a shared one (`_take_place`), and gives both back."""

    def __init__(self, local: Window, places: SharedPlaces) -> None:
        self.local, self._places = local, places

    def has_capacity(self, amount: int = 1, quiet: float = 0.0) -> bool:
        return self.local.has_capacity(amount, quiet)  # what this process knows, unasked

    @property
    def holds(self) -> bool:
        """Whether a message of this process holds one of the shared places."""
        return self._places.holds

    async def _take_place(self) -> None:
        await self._places.take()

    async def acquire(self) -> None:
        await self.local.acquire()
        try:
            await self._take_place()
        except BaseException:
            await self.local.release()
            raise

    async def release(self) -> None:
        try:
            await self._places.give()
        finally:
            await self.local.release()


class SharedWindow(_SharedPlace):
    """The bot-wide window when several processes send as one bot: this process's own
    window (held until Telegram answers) and one of the bot's thirty places the processes
    share (`places`). An answer takes any free place; a notice only one that leaves
    ANSWER_RESERVE free, so that answers on every instance go first — until it has waited
    NOTICE_PATIENCE, when it takes any at NOTICE_FLOOR (`patience`: the limiter's own, so
    that a notice waits its patience and takes the floor once, here or there)."""

    def __init__(
        self,
        local: Window,
        places: SharedPlaces,
        sleep: Sleep = asyncio.sleep,
        patience: NoticePatience | None = None,
    ) -> None:
        super().__init__(local, places)
        self._sleep = sleep
        self._patience = patience or NoticePatience()
        # one answer and one notice of this process ask the database at a time (the others
        # wait here, in turn), so a burst costs a statement per place, not one per waiter
        # per try: thirty answers polling every 35 ms took 850 statements a second from the
        # pool every step of every person waits on; an answer never waits behind a notice
        self._answers_asking = asyncio.Lock()
        self._notices_asking = asyncio.Lock()

    async def _take_place(self) -> None:
        if not _BULK.get():
            async with self._answers_asking:
                await self._places.take()
            return
        async with self._notices_asking:
            while (wait := await self._places.try_take(ANSWER_RESERVE)) is not None:
                if self._patience.overdue():  # only when answers leave it no room
                    await self._patience.take_floor()
                    await self._places.take()
                    return
                await self._sleep(min(wait, NOTICE_LOOK))


class SharedChatWindow(_SharedPlace):
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
        super().__init__(local, SharedPlaces(chat_id, local.limit, local.period, take, give, sleep))


class SharedWindows:
    """Windows for several processes sending as one bot, kept in places they share
    (`take_place`, `give_place`: SharedPlaces): the bot-wide one (SharedWindow) and each
    chat's (SharedChatWindow). `patience`: the rate limiter's (FloodLimits.patience), so
    that a notice's wait counts once."""

    def __init__(
        self,
        take_place: TakePlace,
        give_place: GivePlace,
        local: LocalWindows | None = None,
        sleep: Sleep = asyncio.sleep,
        patience: NoticePatience | None = None,
    ) -> None:
        self._local = local or LocalWindows()
        patience = patience or NoticePatience()
        bot_places = SharedPlaces(
            BOT_PLACES, OVERALL_RATE, OVERALL_PERIOD, take_place, give_place, sleep
        )
        self._overall = SharedWindow(self._local.overall(), bot_places, sleep, patience)
        self._take_place, self._give_place, self._sleep = take_place, give_place, sleep
        self._chats: dict[int | str, SharedChatWindow] = {}

    def overall(self) -> Window:
        return self._overall

    def chat(self, chat_id: int | str) -> Window:
        local = self._local.chat(chat_id)
        window = self._chats.get(chat_id)
        if window is None or window.local is not local:  # the local one was forgotten idle
            if len(self._chats) > KEEP_IDLE:
                self._chats = {c: w for c, w in self._chats.items() if w.holds}
            window = SharedChatWindow(
                chat_id, local, self._take_place, self._give_place, self._sleep
            )
            self._chats[chat_id] = window
        return window


async def notices_turn(bot: object, waited: float = 0.0) -> None:
    """In a notice task, wait until notices may go (see FloodLimits.notice_turn) for a
    message due `waited` seconds ago; the courier waits here before it claims the message,
    so that the claim's lease is not spent waiting for a burst of answers to end."""
    limiter = getattr(bot, "rate_limiter", None)
    if _BULK.get() and isinstance(limiter, FloodLimits):
        limiter.patience.begin(waited)
        await limiter.notice_turn(take_floor=False)


def bulk() -> None:
    """Mark what the current task sends from now on as notices to others (call it first
    thing in a task of its own: the mark stays with that task)."""
    _BULK.set(True)
    _WAITING.set(None)  # its own wait, not the task's that started it


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
        self._sleep = sleep
        self._windows = windows or LocalWindows()
        self._overall = self._windows.overall()
        self._answering = 0
        self._no_answers = asyncio.Event()
        self._no_answers.set()
        self._bulk_slots = asyncio.Semaphore(BULK_IN_FLIGHT)
        self.patience = NoticePatience(clock)

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
        send = partial(
            super().process_request, callback, args, kwargs, endpoint, data, rate_limit_args
        )
        if not _BULK.get():
            # An answer holds notices back once it is free to go as far as its chat goes:
            # one waiting for its person's one message a second needs none of the bot's
            # places meanwhile, and with people acting throughout, answers waiting so held
            # every notice back for as long as they kept acting.
            async with self._chat_pace(endpoint, data):
                self._answering += 1
                self._no_answers.clear()
                try:
                    async with self._overall_pace(data):
                        return await send()
                finally:
                    self._answering -= 1
                    if not self._answering:
                        self._no_answers.set()
        try:
            return await self._notice(send, endpoint, data)
        finally:
            self.patience.sent()

    async def _notice(
        self, send: Callable[[], Coroutine[Any, Any, Any]], endpoint: str, data: dict[str, Any]
    ) -> Any:
        await self.notice_turn()
        chat = self._chat_pace(endpoint, data)
        # The chat's own room first, so that a notice waiting for its chat does not hold one
        # of the places in the shared queue; its place only after the overall one (where,
        # with several instances, a notice gives way to answers everywhere), so that an
        # answer to the same chat never waits behind a notice waiting for its turn. (Answers
        # take them the other way round; no deadlock: at most BULK_IN_FLIGHT notices of a
        # process hold an overall place.)
        has_capacity = getattr(chat, "has_capacity", None)
        while has_capacity is not None and not has_capacity(1, NOTICE_QUIET):
            if self.patience.spent():
                # A person acting without pause keeps their chat full of answers, and a
                # notice looking for room there never found it: once it has waited its
                # patience it takes the chat's next place in turn with the answers (a
                # person's next answer waits a second, once per notice; the floor is for
                # the bot's places, which answers to everybody share). Its bulk slot first,
                # as every notice takes one before a place: holding the chat while waiting
                # for a slot that notices waiting for this chat hold would never end.
                async with self._bulk_slots, chat:
                    return await self._in_overall(data, contextlib.nullcontext(), send, True)
            await self._sleep(ROOM_POLL)
        return await self._in_overall(data, chat, send)

    async def _in_overall(
        self,
        data: dict[str, Any],
        chat: AbstractAsyncContextManager,
        send: Callable[[], Coroutine[Any, Any, Any]],
        slot_held: bool = False,
    ) -> Any:
        """A notice's place in the overall limit (one of BULK_IN_FLIGHT — `slot_held`: taken
        already —, with room left for answers), then its chat's (`chat`), then the send."""
        async with contextlib.nullcontext() if slot_held else self._bulk_slots:
            if data.get("chat_id") is not None:
                await self._room(self._overall, ANSWER_RESERVE + 1)
            async with self._overall_pace(data), chat:
                return await send()

    async def _room(self, window: object, amount: int) -> None:
        """Wait until `window` has `amount` places free, taking none (a call to no chat has
        no window: nothing to wait for)."""
        has_capacity = getattr(window, "has_capacity", None)
        while has_capacity is not None and not has_capacity(amount):
            await self._sleep(ROOM_POLL)

    async def notice_turn(self, take_floor: bool = True) -> None:
        """Wait until no answer is in flight, or, once the notice has waited its patience,
        for the floor (`take_floor=False`: only wait for it, the send that follows takes
        it; see NoticePatience)."""
        while self._answering:
            if self.patience.overdue():
                if take_floor:
                    await self.patience.take_floor()
                break
            await self._answers_end_or(NOTICE_LOOK)

    async def _answers_end_or(self, seconds: float) -> None:
        """Until no answer is in flight, or `seconds` (this limiter's sleep) have passed."""
        waits = [
            asyncio.ensure_future(self._no_answers.wait()),
            asyncio.ensure_future(self._sleep(seconds)),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

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
