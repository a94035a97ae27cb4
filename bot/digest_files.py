"""A digest's attachments, prepared once: the chart (PNG) and the year's ledger (XLSX).

Both are made off the event loop, so people's steps go on being answered while a pack is
built. The bot builds the weekly pack with `leaders_pack`: the whole of it — the digest,
its chart, the ledger's rows read and written — in the worker process (bot/sheets.py) on a
connection of its own, so neither this event loop nor this process's heap carries any of
it. `build_leaders_pack` builds one given a digest (the command line, the worker itself):
the chart drawn and the ledger written in the worker, its rows read here.
Which ledger to build — the year's or, when the year would not fit one upload, the week's —
is decided before building it, from the number of appeals it would hold."""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot import ledger_sheet
from bot.clock import ManualClock
from bot.digest_text import leaders_text
from bot.rules.digest import LeaderDigest, Week
from bot.rules.org import OrgConfig
from bot.rules.workcal import WorkingCalendar
from bot.sheets import worker_pool, write_sheets_async, write_sheets_elsewhere
from bot.texts import t
from bot.usecases import reports
from bot.usecases.env import Env
from bot.usecases.people import Who
from storage.factory import open_database

log = logging.getLogger(__name__)


# Telegram bots may upload files of up to 50 MB; keep a margin for the multipart envelope.
UPLOAD_LIMIT = 48 * 2**20
# What one appeal adds to a ledger file (its row on both sheets, compressed), measured on
# the benchmarks' years (docs/performance.md: 160–200 bytes), and what any ledger costs
# (styles, headers); the estimate allows twice the row size, as
# appeals with long histories and many messages make larger rows. An appeal count whose
# estimate is over the limit gets the week's ledger straight away; a year estimated to fit
# that still comes out too large is replaced by the week's after all.
LEDGER_ROW_BYTES = 200
LEDGER_MARGIN = 2.0
LEDGER_OVERHEAD = 16 * 2**10


@dataclass(frozen=True)
class LeadersPack:
    """What every leader receives for a week, prepared once however many leaders there are."""

    week: Week
    text: str
    chart: bytes | None
    chart_error: str | None
    ledger_name: str
    ledger: bytes
    ledger_count: int
    ledger_start: date | None = None  # the period the ledger covers
    year_too_large: bool = False  # the year's ledger exceeded the upload limit
    ledger_end: date | None = None  # the day the digest is as of (else the week's end)


def estimated_ledger_bytes(appeals: int) -> int:
    """The size a ledger of `appeals` rows is expected not to exceed."""
    return LEDGER_OVERHEAD + math.ceil(appeals * LEDGER_ROW_BYTES * LEDGER_MARGIN)


def ledger_fits(appeals: int, limit: int | None = None) -> bool:
    """Whether a ledger of `appeals` rows is expected to fit one upload (UPLOAD_LIMIT)."""
    return estimated_ledger_bytes(appeals) <= (UPLOAD_LIMIT if limit is None else limit)


async def export_ledger(
    env: Env, who: Who | None, start: date, end: date, target: Path, here: bool = False
) -> int:
    """The appeal ledger as an XLSX file, worded from the catalog in local time; the rows
    are worded and written in a worker process (the event loop only reads them), or in this
    one (`here`: in the worker itself). `who`: the person asking (a leader), None for the
    scheduler or the command line."""

    async def write(entries: AsyncIterator[Any], path: Path, names: dict[str, str]) -> None:
        rows = functools.partial(ledger_sheet.cells, zone=env.zone, departments=names)
        specs = ledger_sheet.sheets(start, end)
        if here:
            await write_sheets_async((rows(entry) async for entry in entries), path, specs)
        else:
            await write_sheets_elsewhere(entries, rows, path, specs)

    return await reports.export_named_ledger(env, who, start, end, target, write)


# What draws the chart in the worker process (None: bot.chart.render_chart); a function
# that process can import.
RENDERER: Callable[[LeaderDigest], bytes] | None = None


def _draw(digest: LeaderDigest, renderer: Callable[[LeaderDigest], bytes] | None) -> bytes:
    """In the worker process (one chart at a time there: pyplot keeps global state)."""
    if renderer is None:
        from bot.chart import render_chart as renderer  # matplotlib loads only when drawing
    return renderer(digest)


@dataclass(frozen=True)
class PackOrder:
    """What the worker process needs to build a week's pack by itself: where the database
    is, the bureau's settings, the moment the pack is as of, and what this process has
    already (the text; the digest, when made here) — with the sizes and the chart renderer
    this process uses, so that it decides as this one would."""

    location: str
    org: OrgConfig
    leaders: frozenset[int]
    zone: ZoneInfo
    now: datetime
    week: Week
    text: str | None
    digest: LeaderDigest | None
    renderer: Callable[[LeaderDigest], bytes] | None
    sizing: tuple[int, int, float, int]  # UPLOAD_LIMIT, LEDGER_ROW_BYTES, margin, overhead


async def leaders_pack(
    env: Env, week: Week, text: str | None = None, digest: LeaderDigest | None = None
) -> LeadersPack:
    """The week's pack for the leaders, built whole in the worker process on a connection
    of its own: the digest (unless given), its text (unless given), the chart and the
    ledger. Reading a million appeals' ledger here held people's steps up — their reads
    queued behind its batches, and the collector walked its rows again and again
    (docs/performance.md); there nothing of it touches this loop or this heap. The tallies
    are counted here first: the worker only reads."""
    if digest is None:
        await reports.refresh_tallies(env)
    order = PackOrder(
        env.db.location(),
        env.org,
        env.leaders,
        env.zone,
        env.now(),
        week,
        text,
        digest,
        RENDERER,
        (UPLOAD_LIMIT, LEDGER_ROW_BYTES, LEDGER_MARGIN, LEDGER_OVERHEAD),
    )
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(worker_pool(), _pack_in_worker, order)


def _pack_in_worker(order: PackOrder) -> LeadersPack:
    """In the worker process (one job at a time there): the pack, on its own event loop."""
    global RENDERER, UPLOAD_LIMIT, LEDGER_ROW_BYTES, LEDGER_MARGIN, LEDGER_OVERHEAD
    RENDERER = order.renderer
    UPLOAD_LIMIT, LEDGER_ROW_BYTES, LEDGER_MARGIN, LEDGER_OVERHEAD = order.sizing
    try:
        return asyncio.run(_pack_here(order))
    except Exception as exc:
        # what reaches the bot must unpickle there: an error's name and words, not its class
        raise PackFailed(f"{type(exc).__name__}: {exc}") from None


class PackFailed(Exception):
    """The worker could not build a pack (the database was unusable, say)."""


async def _pack_here(order: PackOrder) -> LeadersPack:
    org = order.org
    env = Env(
        db=open_database(order.location),
        org=org,
        calendar=WorkingCalendar(org.calendar.holidays, org.calendar.workdays),
        clock=ManualClock(order.now),
        leaders=order.leaders,
        zone=order.zone,
    )
    await env.db.open(migrate=False)
    try:
        digest = order.digest or await reports.counted_leaders_digest(env, order.week)
        text = leaders_text(digest) if order.text is None else order.text
        return await build_leaders_pack(env, digest, text, here=True)
    finally:
        await env.db.close()


async def build_leaders_pack(
    env: Env, digest: LeaderDigest, text: str, here: bool = False
) -> LeadersPack:
    """The digest text, its chart and the year's ledger — the week's when the year's
    appeals would not fit one upload (a chart failure is reported, not fatal). The chart is
    drawn and the ledger written in the worker process, or in this one (`here`: the worker
    itself)."""
    from bot.chart import ChartFontMissing

    week = digest.week
    chart, error = None, None
    try:
        if here:
            chart = _draw(digest, RENDERER)
        else:
            loop = asyncio.get_running_loop()
            chart = await loop.run_in_executor(worker_pool(), _draw, digest, RENDERER)
    except ChartFontMissing as exc:
        log.error("digest chart failed: %s", exc)
        error = str(exc)
    end = digest.as_of or week.end  # the year to date ends where the digest does
    start = date(end.year, 1, 1)
    too_large = False
    if digest.year.start == start and not ledger_fits(digest.year.new):
        # The year's appeals (the digest counted them) would not fit: the week straight away.
        log.warning(
            "year ledger of %s would hold %d appeals, over the upload limit; sending the week",
            week.label,
            digest.year.new,
        )
        start, too_large = week.start, True
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / t("ledger.file", label=week.label)
        count = await export_ledger(env, None, start, end, target, here)
        if target.stat().st_size > UPLOAD_LIMIT and not too_large:
            # The year does not fit one upload: send the week, the year comes by CLI.
            log.warning("year ledger of %s exceeds the upload limit; sending the week", week.label)
            start, too_large = week.start, True
            count = await export_ledger(env, None, start, end, target, here)
        ledger = target.read_bytes()
    return LeadersPack(
        week, text, chart, error, target.name, ledger, count, start, too_large, ledger_end=end
    )


async def write_digest_files(
    env: Env, week: Week, folder: Path, digest: LeaderDigest | None = None
) -> tuple[Path, Path, int]:
    """Writes the chart and the ledger into `folder` (of `digest`, the week's leaders' digest
    when already made); returns their paths and the appeal count."""
    from bot.chart import ChartFontMissing

    digest = digest or await reports.leaders_digest(env, None, week)
    pack = await build_leaders_pack(env, digest, "")
    if pack.chart is None:
        raise ChartFontMissing(pack.chart_error or "chart failed")
    folder.mkdir(parents=True, exist_ok=True)
    chart = folder / t("chart.file", label=week.label)
    chart.write_bytes(pack.chart)
    ledger = folder / pack.ledger_name
    ledger.write_bytes(pack.ledger)
    return chart, ledger, pack.ledger_count
