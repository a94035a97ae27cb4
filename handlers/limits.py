"""Telegram's flood limits on our side: python-telegram-bot's AIORateLimiter keeps ~20/min
per group and retries 429s; this keeps ~30 messages/s overall and adds ~1 message/s per
private chat, so a person who is owed several messages (a digest and its files, a backlog
after /start) gets them paced instead of drawing 429s — and lets answers to people who are
waiting go before notices to others (sent inside `bulk()`), which take the capacity answers
leave."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.ext import AIORateLimiter

# About one message per second to one private chat, averaged over a few seconds, so that a
# conversation's quick answers are not held back but a backlog is paced.
PER_CHAT_BURST, PER_CHAT_PERIOD = 5, 5.0
KEEP_IDLE = 10_000  # forget idle chats' limiters beyond this many
# A notice waits while answers to people are in flight: a Monday burst takes the whole
# capacity. One that has waited this long (seconds) goes at the floor rate (per second: one
# every four seconds), so that answers without end delay notices but never stop them.
NOTICE_PATIENCE = 300.0
NOTICE_FLOOR = 0.25
# Notices let into the shared limiter at once: an answer queues behind at most these.
BULK_IN_FLIGHT = 4
# Telegram's overall limit (messages a second). Notices enter it only while it has this many
# places to spare, so that an answer arriving just after a notice finds room at once
# instead of queueing behind notices (at the end of a burst, when both are sent).
OVERALL_RATE = 30
ANSWER_RESERVE = 5

_BULK: ContextVar[bool] = ContextVar("appealdesk_bulk_send", default=False)
# When the notice the current task is about to send began to wait (its patience counts
# from there, across the courier's wait and the send's).
_WAITING_SINCE: ContextVar[float | None] = ContextVar("appealdesk_notice_since", default=None)


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
    def __init__(self, max_retries: int = 3, clock: Callable[[], float] = time.monotonic) -> None:
        # The overall limit is kept here (PTB's off), so that notices can see its room.
        super().__init__(max_retries=max_retries, overall_max_rate=0)
        self._overall = AsyncLimiter(OVERALL_RATE, 1)
        self._clock = clock
        self._chats: dict[int, AsyncLimiter] = {}
        self._answering = 0
        self._no_answers = asyncio.Event()
        self._no_answers.set()
        self._bulk_slots = asyncio.Semaphore(BULK_IN_FLIGHT)
        self._floor = AsyncLimiter(1, 1 / NOTICE_FLOOR)

    def chat_limiter(self, chat_id: int) -> AsyncLimiter:
        if len(self._chats) > KEEP_IDLE:
            self._chats = {c: lim for c, lim in self._chats.items() if not lim.has_capacity(1)}
        limiter = self._chats.get(chat_id)
        if limiter is None:
            limiter = self._chats[chat_id] = AsyncLimiter(PER_CHAT_BURST, PER_CHAT_PERIOD)
        return limiter

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
        # The chat's own pace first, so that a notice waiting for its chat does not hold one
        # of the places in the shared queue.
        async with self._chat_pace(endpoint, data), self._bulk_slots:
            if data.get("chat_id") is not None:
                while not self._overall.has_capacity(ANSWER_RESERVE + 1):
                    await asyncio.sleep(1 / OVERALL_RATE)
            async with self._overall_pace(data):
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )

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
        chat_id = data.get("chat_id")
        if isinstance(chat_id, int) and chat_id > 0 and endpoint.startswith("send"):
            return self.chat_limiter(chat_id)
        return contextlib.nullcontext()
