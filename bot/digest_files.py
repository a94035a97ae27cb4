"""A digest's attachments, prepared once: the chart (PNG) and the year's ledger (XLSX).

Both are made off the event loop, so people's steps go on being answered while a pack is
built. The bot builds the weekly pack whole in the worker process (bot/pack_worker.py).
`build_leaders_pack` builds one given a digest (the command line; the worker itself, with
`here`): the chart drawn and the ledger written in the worker, its rows read here.
Which ledger to build — the year's or, when the year would not fit one upload, the week's —
is decided before building it, from the number of appeals it would hold."""

from __future__ import annotations

import asyncio
import functools
import logging
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bot import ledger_sheet
from bot.ledger_size import LedgerSizing, current_sizing, ledger_fits
from bot.rules.digest import LeaderDigest, Week
from bot.sheets import worker_pool, write_sheets_async, write_sheets_elsewhere
from bot.texts import t
from bot.usecases import reports
from bot.usecases.env import Env
from bot.usecases.people import Who

log = logging.getLogger(__name__)


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


async def build_leaders_pack(
    env: Env,
    digest: LeaderDigest,
    text: str,
    here: bool = False,
    renderer: Callable[[LeaderDigest], bytes] | None = None,
    sizing: LedgerSizing | None = None,
) -> LeadersPack:
    """The digest text, its chart and the year's ledger — the week's when the year's
    appeals would not fit one upload (a chart failure is reported, not fatal). The chart is
    drawn and the ledger written in the worker process, or in this one (`here`: the worker
    itself). `renderer` and `sizing`: RENDERER and the sizes, unless given."""
    from bot.chart import ChartFontMissing

    renderer = renderer or RENDERER
    sizing = sizing or current_sizing()
    week = digest.week
    chart, error = None, None
    try:
        if here:
            chart = _draw(digest, renderer)
        else:
            loop = asyncio.get_running_loop()
            chart = await loop.run_in_executor(worker_pool(), _draw, digest, renderer)
    except ChartFontMissing as exc:
        log.error("digest chart failed: %s", exc)
        error = str(exc)
    end = digest.as_of or week.end  # the year to date ends where the digest does
    start = date(end.year, 1, 1)
    too_large = False
    if digest.year.start == start and not ledger_fits(digest.year.new, sizing):
        # The year's appeals (the digest counted them) would not fit: the week straight away.
        log.warning(
            "year ledger of %s would hold %d appeals, over the upload limit; sending the week",
            week.label,
            digest.year.new,
        )
        start, too_large = week.start, True
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / t("ledger.file", label=week.label)
        count = await export_ledger(env, None, start, end, target, here=here)
        if target.stat().st_size > sizing.upload_limit and not too_large:
            # The year does not fit one upload: send the week, the year comes by CLI.
            log.warning("year ledger of %s exceeds the upload limit; sending the week", week.label)
            start, too_large = week.start, True
            count = await export_ledger(env, None, start, end, target, here=here)
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
