"""A digest's attachments, prepared once: the chart (PNG) and the year's ledger (XLSX)."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bot.ledger_sheet import writer
from bot.rules.digest import LeaderDigest, Week
from bot.texts import t
from bot.usecases import people, reports
from bot.usecases.env import Env

log = logging.getLogger(__name__)


# Telegram bots may upload files of up to 50 MB; keep a margin for the multipart envelope.
UPLOAD_LIMIT = 48 * 2**20


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


async def export_ledger(env: Env, actor: object, start: date, end: date, target: Path) -> int:
    """The appeal ledger as an XLSX file, worded from the catalog in local time."""
    names = {d.code: d.name for d in await people.departments(env)}
    write = writer(env.zone, names, start, end)
    return await reports.export_ledger(env, actor, start, end, target, write)


async def build_leaders_pack(env: Env, digest: LeaderDigest, text: str) -> LeadersPack:
    """The digest text, its chart and the year's ledger (a chart failure is reported, not fatal)."""
    from bot.chart import ChartFontMissing, render_chart  # matplotlib loads only when drawing

    week = digest.week
    chart, error = None, None
    try:
        chart = render_chart(digest)
    except ChartFontMissing as exc:
        log.error("digest chart failed: %s", exc)
        error = str(exc)
    end = digest.as_of or week.end  # the year to date ends where the digest does
    start = date(end.year, 1, 1)
    too_large = False
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / t("ledger.file", label=week.label)
        count = await export_ledger(env, None, start, end, target)
        if target.stat().st_size > UPLOAD_LIMIT:
            # The year does not fit one upload: send the week, the year comes by CLI.
            log.warning("year ledger of %s exceeds the upload limit; sending the week", week.label)
            start, too_large = week.start, True
            count = await export_ledger(env, None, start, end, target)
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
