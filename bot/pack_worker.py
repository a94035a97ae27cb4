"""The leaders' weekly pack, built whole in the worker process (bot/sheets.py `worker_pool`) on
a database connection of its own: the tallies counted, the digest (unless the caller has
it), its text (unless given), the chart and the ledger's rows read, worded and written.

Built in the bot's process, a pack at a million appeals held people's steps up: the cycle
collector walked its rows again and again, and on SQLite people's reads queued behind the
ledger's batches on the one reading connection (docs/performance.md, "fourth pass"). Here
only the finished files come back. The worker runs one job at a time: while a pack is
built, an /export or another pack waits for it; `stop_worker` (at the bot's stop) ends it
rather than wait."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from bot import digest_files
from bot.clock import ManualClock
from bot.digest_files import LeadersPack
from bot.digest_text import leaders_text
from bot.environment import environment
from bot.ledger_size import LedgerSizing, current_sizing
from bot.logs import configure as configure_logging
from bot.rules.digest import LeaderDigest, Week
from bot.rules.org import OrgConfig
from bot.sheets import stop_worker, worker_pool
from bot.usecases import reports
from bot.usecases.env import Env
from storage.factory import secrets_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackOrder:
    """What the worker needs to build a week's pack by itself: where the database is (the
    URL carries its password: never shown), the bureau's settings, the moment the pack is
    as of, what the bot has already (the text; the digest, when made there), and the
    renderer and sizes the bot uses, so that the worker decides as the bot would."""

    location: str = field(repr=False)
    org: OrgConfig
    leaders: frozenset[int]
    zone: ZoneInfo
    now: datetime
    week: Week
    text: str | None
    digest: LeaderDigest | None
    renderer: Callable[[LeaderDigest], bytes] | None
    sizing: LedgerSizing
    verbose: bool = False


class PackFailed(Exception):
    """The worker could not build a pack (the database unusable, say); its log says why."""


async def leaders_pack(
    env: Env, week: Week, text: str | None = None, digest: LeaderDigest | None = None
) -> LeadersPack:
    """The week's pack for the leaders, built in the worker process."""
    order = PackOrder(
        env.db.location(),
        env.org,
        env.leaders,
        env.zone,
        env.now(),
        week,
        text,
        digest,
        digest_files.RENDERER,
        current_sizing(),
        verbose=logging.getLogger().isEnabledFor(logging.DEBUG),
    )
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(worker_pool(), build_in_worker, order)
    except asyncio.CancelledError:
        stop_worker()  # the pack cannot be called off inside the worker: the worker ends
        raise


def build_in_worker(order: PackOrder) -> LeadersPack:
    """In the worker process: the pack, on an event loop of its own. What stops it is
    logged there (with the bot's redaction) and reaches the bot as PackFailed, which
    unpickles whatever the error was."""
    configure_logging(order.verbose, secrets_of(order.location))
    try:
        return asyncio.run(_build(order))
    except Exception as exc:
        log.exception("the pack of %s could not be built", order.week.label)
        raise PackFailed(f"{type(exc).__name__}: {exc}") from None


async def _build(order: PackOrder) -> LeadersPack:
    env = environment(order.location, order.org, ManualClock(order.now), order.leaders, order.zone)
    await env.db.open(migrate=False)
    try:
        # the tallies counted here, right before they are read (a short write)
        digest = order.digest
        if digest is None:
            digest = await reports.leaders_digest(env, None, order.week)
        text = leaders_text(digest) if order.text is None else order.text
        return await digest_files.build_leaders_pack(
            env, digest, text, here=True, renderer=order.renderer, sizing=order.sizing
        )
    finally:
        await env.db.close()
