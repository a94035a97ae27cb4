"""Updates processed concurrently, but each person's in the order they sent them.

A user who taps 提交 and then types the next message must see them handled in that order
(their flow is one row in the database); different people need not wait for each other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

from telegram.ext import BaseUpdateProcessor


def _key(update: object) -> int | None:
    user = getattr(update, "effective_user", None)
    if user is not None:
        return user.id
    chat = getattr(update, "effective_chat", None)
    return chat.id if chat is not None else None


class KeyedLocks:
    """One holder at a time per key, first come first served; nothing kept for idle keys."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._queued: dict[int, int] = {}

    @asynccontextmanager
    async def hold(self, key: int) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._queued[key] = self._queued.get(key, 0) + 1
        try:
            async with lock:  # asyncio.Lock wakes waiters first come, first served
                yield
        finally:
            self._queued[key] -= 1
            if not self._queued[key]:
                del self._queued[key], self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)


class PerUserOrder(BaseUpdateProcessor):
    """Up to `max_concurrent_updates` at once; one at a time per user (or chat)."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._turns = KeyedLocks()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _key(update)
        if key is None:
            await coroutine
            return
        async with self._turns.hold(key):
            await coroutine

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
