"""Several bot processes on one database behave as one: each update is claimed once before
it is handled, a person's updates are handled in turn, and roles (the leader's jobs, the
poller) are held by one process at a time, by lease."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.usecases.env import REDELIVERY_WINDOW, Env

LEADER = "leader"
POLLER = "poller"
TURN_PREFIX = "turn:"


def turn_name(turn_key: int) -> str:
    """The lease a person's (or a chat's) updates are handled under."""
    return f"{TURN_PREFIX}{turn_key}"


async def claim_update(env: Env, update_id: int, turn_key: int, payload: dict[str, Any]) -> bool:
    """Store an update as it came; False when it was stored before (nothing to do)."""
    async with env.db.one_statement() as uow:
        return await uow.inbox.store(update_id, turn_key, payload, env.now())


async def waiting_updates(env: Env, turn_key: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
    """A person's updates still to handle, in the order Telegram numbered them."""
    async with env.db.reading() as uow:
        return await uow.inbox.waiting(turn_key, limit)


async def update_handled(env: Env, update_id: int) -> None:
    async with env.db.one_statement() as uow:
        await uow.inbox.handled(update_id, env.now())


async def stranded_turns(env: Env, older_than: timedelta, limit: int = 50) -> list[int]:
    """People with an update stored longer ago than `older_than` and not handled (the
    instance that took it died or failed meanwhile)."""
    async with env.db.reading() as uow:
        return await uow.inbox.stranded(env.now() - older_than, limit)


async def forget_updates(env: Env) -> int:
    """Handled updates older than Telegram ever re-sends one are forgotten, and leases
    that ran out as long ago (turns of people who wrote nothing since), and the places of
    chats nobody wrote to since; how many updates."""
    before = env.now() - REDELIVERY_WINDOW
    async with env.db.one_statement() as uow:
        forgotten = await uow.inbox.forget(before)
    async with env.db.one_statement() as uow:
        await uow.leases.forget(before)
    async with env.db.one_statement() as uow:
        await uow.chat_places.forget(before.timestamp())
    return forgotten


async def take_lease(
    env: Env,
    name: str,
    holder: str,
    length: timedelta,
    dead: Callable[[str], bool] | None = None,
) -> bool:
    """Take or renew a role for `length`; False while another holder has it — unless
    `dead(holder)` says that holder is known to be dead (a process of this machine killed
    and started again), when it is taken over at once instead of when its lease runs out."""
    now = env.now()
    async with env.db.one_statement() as uow:
        if await uow.leases.take(name, holder, now, now + length):
            return True
    if dead is None:
        return False
    async with env.db.reading() as uow:
        other = await uow.leases.holder(name, now)
    if other is None or not dead(other):
        return False
    async with env.db.one_statement() as uow:
        return await uow.leases.take_over(name, other, holder, now, now + length)


async def release_lease(env: Env, name: str, holder: str) -> None:
    async with env.db.one_statement() as uow:
        await uow.leases.release(name, holder)


async def lease_holder(env: Env, name: str) -> str | None:
    async with env.db.reading() as uow:
        return await uow.leases.holder(name, env.now())


async def reachable(env: Env) -> bool:
    """Whether the database answers a read (the health check)."""
    try:
        await lease_holder(env, LEADER)
    except Exception:  # noqa: BLE001 - whatever the backend raises, the answer is "no"
        return False
    return True


async def take_chat_place(
    env: Env,
    chat: int | str,
    places: int,
    holder: str,
    hold: float,
    dead: Callable[[str], bool] | None = None,
    spare: int = 0,
) -> int | float:
    """A place among a chat's `places` (Telegram's per-chat limit, shared with the other
    instances: storage ChatPlaceRepo), held for at most `hold` seconds and leaving `spare`
    others free; its number, or how many seconds until one may be (a float: infinite while
    too many are in flight). A place whose holder `dead(holder)` says is dead (killed on
    this machine) is taken over."""
    now = env.now().timestamp()
    key = str(chat)
    for _ in range(2):
        async with env.db.one_statement() as uow:
            place = await uow.chat_places.take(key, holder, now, now + hold, spare)
        if place is not None:
            return place
        async with env.db.reading() as uow:
            made, wait, held = await uow.chat_places.free_in(key, now, spare)
        if made >= places:
            for number, by in held:
                if dead is not None and by != holder and dead(by):
                    async with env.db.one_statement() as uow:
                        if await uow.chat_places.take_over(key, number, by, holder, now + hold):
                            return number
            return wait
        async with env.db.unit_of_work() as uow:  # the chat's first message
            await uow.chat_places.make(key, places)
            await uow.commit()
    return 0.0


async def give_chat_place(
    env: Env, chat: int | str, place: int, holder: str, period: float
) -> None:
    """Telegram answered: the chat's place is free again `period` seconds from now."""
    now = env.now().timestamp()
    async with env.db.one_statement() as uow:
        await uow.chat_places.give_back(str(chat), place, holder, now + period)
