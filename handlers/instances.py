"""Several instances on one database (docs/design.md, "Several instances").

- `Inbox`: an update that comes to this instance's webhook is claimed in the database by
  its id before anything else (a re-send, or the same update posted to another instance,
  finds it and does nothing), then handled in its person's turn: one instance at a time
  holds a person's turn (a lease, renewed while it works) and handles their stored updates
  in Telegram's order, whichever instance each came to. An update whose instance died is
  taken up by the next look for stranded turns (`recover_job`, on every instance).
- `Leadership`: the jobs only one instance may run (the sweep, the weekly digest, lapsed
  prompts, the unreachable list, the outbox's drain) run where the leader's lease is held.
  A leader that cannot renew stops counting itself leader `LEADER_MARGIN` before its lease
  runs out, so it has stopped before another can take the lease.
- Long polling stays one instance: its poller holds the poller's lease (`PollerLease`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path
from time import monotonic
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.usecases import instances
from bot.usecases.env import Env
from handlers.common import Context
from handlers.limits import FloodLimits, SharedWindows

log = logging.getLogger(__name__)

Job = Callable[[Context], Awaitable[None]]

INBOX = "inbox"
LEADERSHIP = "leadership"
# A person's turn: held this long, renewed this often while their updates are handled.
TURN_LEASE = timedelta(seconds=10)
TURN_RENEW_SECONDS = 3.0
# Updates of one person read at a time.
TURN_BATCH = 20
# An update stored this long ago and not handled: its instance died or failed; another takes
# it up (every instance looks this often).
STRANDED_AFTER = timedelta(seconds=5)
RECOVER_SECONDS = 5.0
# The leader's lease: renewed every LEADER_RENEW_SECONDS; a leader that could not renew
# stops LEADER_MARGIN before it runs out. A dead leader is replaced within LEADER_LEASE +
# LEADER_RENEW_SECONDS, at once by an instance started in its place on its machine.
LEADER_LEASE = timedelta(seconds=30)
LEADER_RENEW_SECONDS = 10.0
LEADER_MARGIN = 5.0
# The poller's lease (long polling: one instance), and how often a second one looks again.
POLLER_LEASE = timedelta(seconds=30)
POLLER_RENEW_SECONDS = 10.0
FORGET_SECONDS = 3600.0


def instance_name() -> str:
    """This process among the others: its machine, its pid and a random part (a restarted
    process with the same pid is another instance)."""
    if not _INSTANCE_PREFIX:
        _INSTANCE_PREFIX.append(f"{_machine()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")
    return _INSTANCE_PREFIX[0]


def _machine() -> str:
    """Where this process's pids are counted: the host name, this boot of the machine and,
    where the system says, the pid namespace — containers sharing the host's name (host
    networking) each count their own pids from 1, and one must not take another's pid 1
    for an earlier life of its own; a namespace's number alone repeats across machines."""
    try:
        namespace = "".join(c for c in os.readlink("/proc/self/ns/pid") if c.isdigit())
    except OSError:
        namespace = ""
    host = socket.gethostname().replace(":", "-")
    try:  # two machines may share a name (cloned ones): this boot of this one
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        boot = ""
    return "~".join(part for part in (host, boot, namespace) if part)


_INSTANCE_PREFIX: list[str] = []  # this process's name, made once


def dead_here(holder: str) -> bool:
    """Whether a lease's holder (`instance_name`'s form, host:pid:…) was a process of this
    machine that is no longer running: killed, and this one started in its place. A holder
    elsewhere, or whose pid runs, is not known to be dead: its lease runs out by itself."""
    machine, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if machine != _machine() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():  # this pid again (a container's first process): an earlier life
        return not holder.startswith(instance_name())
    return not _running(pid)


def _running(pid: int) -> bool:
    """Whether a process with this pid runs (a zombie — killed, not yet reaped — does not)."""
    stat = Path("/proc") / str(pid) / "stat"
    if Path("/proc/self").exists():
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except FileNotFoundError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def turn_key(update: Update) -> int:
    """Whose turn an update is handled in: its person's, else its chat's (0: neither)."""
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat is not None else 0


# Telegram's ids fit in 64 bits (the inbox keeps them as such); a larger one is no update.
ID_LIMIT = 2**63


class NotAnUpdate(ValueError):
    """What was posted does not read as a Telegram update."""


class Inbox:
    """Updates posted to this instance's webhook, claimed once and handled in turn."""

    def __init__(self, app: Application, env: Env, instance: str) -> None:
        self.app, self.env, self.instance = app, env, instance

    async def receive(self, payload: dict[str, Any]) -> bool:
        """Claim an update (a dict as Telegram posts it) and, when its person's turn is
        free, handle their waiting updates; False when it had been claimed before. Returns
        once the update is stored, and handled unless another instance holds the turn."""
        key = await self._claim(payload)
        if key is None:
            return False
        await self.take_turn(key)
        return True

    async def accept(self, payload: dict[str, Any]) -> bool:
        """The webhook's way: claim an update and hand its person's turn to a task of its
        own; returns once the update is stored (False: it had been claimed before). Stored
        is enough for Telegram's 200 — an update whose instance dies before handling it is
        taken up by another (`recover`) — and a post then holds one of Telegram's few
        connections (max_connections, 40 by default) only that long, not while the answer
        waits for its place under the flood limit."""
        key = await self._claim(payload)
        if key is None:
            return False
        self.app.create_task(self.take_turn(key), name=f"turn-{key}")
        return True

    async def _claim(self, payload: dict[str, Any]) -> int | None:
        """Store the update; its turn's key, or None when it was stored before."""
        try:
            update = Update.de_json(payload, self.app.bot)
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            raise NotAnUpdate(f"{type(exc).__name__}: {exc}") from None
        key = turn_key(update)
        if not (0 <= update.update_id < ID_LIMIT and -ID_LIMIT < key < ID_LIMIT):
            raise NotAnUpdate("an id out of Telegram's range")
        if not await instances.claim_update(self.env, update.update_id, key, payload):
            return None
        return key

    async def take_turn(self, key: int) -> None:
        """Handle the person's stored updates in order while holding their turn; nothing when
        another holder has it (it finds what was stored meanwhile). After giving the turn
        back, looks once more: an update stored by another instance while its try for the
        turn failed is handled then."""
        name = instances.turn_name(key)
        while True:
            holder = f"{self.instance}:{uuid.uuid4().hex[:8]}"  # one drain, not the process
            if not await instances.take_lease(self.env, name, holder, TURN_LEASE, dead_here):
                return
            try:
                renew = partial(instances.take_lease, self.env, name, holder, TURN_LEASE)
                async with renewing(renew, TURN_RENEW_SECONDS, name):
                    while waiting := await instances.waiting_updates(self.env, key, TURN_BATCH):
                        for update_id, payload in waiting:
                            await self._handle(payload)
                            await instances.update_handled(self.env, update_id)
            finally:
                await instances.release_lease(self.env, name, holder)
            if not await instances.waiting_updates(self.env, key, 1):
                return

    async def _handle(self, payload: dict[str, Any]) -> None:
        update = Update.de_json(payload, self.app.bot)
        processor = self.app.update_processor
        await processor.process_update(update, self.app.process_update(update))

    async def recover(self) -> int:
        """Take up the turns with updates stranded (their instance died or failed while
        handling them); how many turns were looked at."""
        keys = await instances.stranded_turns(self.env, STRANDED_AFTER)
        for key in keys:
            await self.take_turn(key)
        return len(keys)


@asynccontextmanager
async def renewing(
    renew: Callable[[], Awaitable[object]], every: float, what: str
) -> AsyncIterator[None]:
    """Inside the block, `renew()` runs every `every` seconds (a lease kept while its work
    lasts: a long step keeps its person's turn, a notice waiting for its place keeps its
    claim); one that fails is logged and the next tries again (the lease may run out)."""

    async def keep() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await renew()
            except Exception:  # noqa: BLE001 - the next renewal tries again
                log.warning("could not renew %s", what, exc_info=True)

    task = asyncio.create_task(keep())
    try:
        yield
    finally:
        task.cancel()


class Leadership:
    """Whether this instance is the leader now, by the leader's lease in the database."""

    def __init__(
        self,
        env: Env,
        instance: str,
        catch_up: list[tuple[Job, object]] | None = None,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self.env, self.instance, self.clock = env, instance, clock
        self.catch_up = catch_up or []  # (job, its data) run on becoming the leader
        self._until = 0.0

    def holds(self) -> bool:
        return self.clock() < self._until

    async def renew(self) -> bool:
        """Take or renew the lease; True when this instance just became the leader."""
        was = self.holds()
        started = self.clock()
        try:
            taken = await instances.take_lease(
                self.env, instances.LEADER, self.instance, LEADER_LEASE, dead_here
            )
        except Exception:  # noqa: BLE001 - unreachable: what was held runs out by itself
            log.warning("could not renew the leader's lease", exc_info=True)
            return False
        if not taken:
            if was:
                log.warning("%s is no longer the leader", self.instance)
            self._until = 0.0
            return False
        self._until = started + LEADER_LEASE.total_seconds() - LEADER_MARGIN
        if not was:
            log.info(
                "%s is the leader: it runs the sweep, the digest and the outbox", self.instance
            )
        return not was

    async def resign(self) -> None:
        """At a clean stop: another instance may lead at once."""
        self._until = 0.0
        await instances.release_lease(self.env, instances.LEADER, self.instance)


def leader_only(job: Job) -> Job:
    """A job that runs only where the leader's lease is held (always, with one instance)."""

    async def run(context: Context) -> None:
        leadership: Leadership | None = context.application.bot_data.get(LEADERSHIP)
        if leadership is None or leadership.holds():
            await job(context)

    run.__name__ = run.__qualname__ = job.__name__
    run.__doc__ = job.__doc__
    return run


async def leader_job(context: Context) -> None:
    """Every instance: take or renew the leader's lease; a new leader runs the catch-up
    jobs (what a leader that died may have missed; each is idempotent: the sweep runs once
    a day, the digest goes once a week to each chat)."""
    leadership: Leadership = context.application.bot_data[LEADERSHIP]
    if await leadership.renew():
        for job, data in leadership.catch_up:
            context.application.job_queue.run_once(
                job, when=0, data=data, name=f"{job.__name__}-new-leader"
            )


async def recover_job(context: Context) -> None:
    """Every instance: take up updates stranded by an instance that died."""
    inbox: Inbox = context.application.bot_data[INBOX]
    await inbox.recover()


async def forget_job(context: Context) -> None:
    """Handled updates are kept a day (Telegram re-sends within it), then forgotten."""
    await instances.forget_updates(context.application.bot_data["env"])


def serve_several(
    app: Application, instance: str, catch_up: list[tuple[Job, object]] | None = None
) -> Inbox:
    """Webhook mode: the inbox, the leader's lease and their jobs (`catch_up`: run by an
    instance when it becomes the leader)."""
    env: Env = app.bot_data["env"]
    inbox = Inbox(app, env, instance)
    app.bot_data[INBOX] = inbox
    app.bot_data[LEADERSHIP] = Leadership(env, instance, catch_up)
    limiter = app.bot.rate_limiter
    if isinstance(limiter, FloodLimits):  # Telegram's limit is the bot's, not each process's
        # the bot's thirty places and each chat's, kept in the database (SharedWindows)
        async def take_place(chat: int | str, places: int, hold: float, spare: int) -> int | float:
            return await instances.take_chat_place(
                env, chat, places, instance, hold, dead_here, spare
            )

        async def give_place(chat: int | str, place: int, period: float) -> None:
            await instances.give_chat_place(env, chat, place, instance, period)

        limiter.keep_in(SharedWindows(take_place, give_place, patience=limiter.patience))
    jobs = app.job_queue
    jobs.run_repeating(leader_job, interval=LEADER_RENEW_SECONDS, first=0, name="leader-lease")
    jobs.run_repeating(recover_job, interval=RECOVER_SECONDS, first=RECOVER_SECONDS, name="recover")
    jobs.run_repeating(forget_job, interval=FORGET_SECONDS, first=60, name="forget-updates")
    return inbox


class PollerLease:
    """Long polling serves one instance: its poller holds this lease while it runs."""

    def __init__(self, env: Env, instance: str) -> None:
        self.env, self.instance = env, instance

    async def wait_for_it(
        self, say: Callable[[str], None], every: float = POLLER_RENEW_SECONDS
    ) -> None:
        """Take the lease; while another poller holds it, say so once and wait (this one is
        then a standby that takes over when the other stops or dies)."""
        told = False
        while not await instances.take_lease(
            self.env, instances.POLLER, self.instance, POLLER_LEASE, dead_here
        ):
            if not told:
                holder = await instances.lease_holder(self.env, instances.POLLER)
                say(
                    f"another instance is polling Telegram with this database ({holder}):"
                    " long polling serves one instance; this one waits and takes over when"
                    " it stops (several instances: `appealdesk run --webhook`)"
                )
                told = True
            await asyncio.sleep(every)

    async def renew_job(self, context: Context) -> None:
        if not await instances.take_lease(self.env, instances.POLLER, self.instance, POLLER_LEASE):
            log.error("another instance took the poller's lease: two pollers now share this bot")

    async def release(self) -> None:
        await instances.release_lease(self.env, instances.POLLER, self.instance)
