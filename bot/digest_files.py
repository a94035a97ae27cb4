"""A digest's attachments, prepared once: the chart (PNG) and the year's ledger (XLSX)."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bot.chart import ChartFontMissing, render_chart
from bot.digest import LeaderDigest, Reports, Week

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


async def build_leaders_pack(reports: Reports, digest: LeaderDigest, text: str) -> LeadersPack:
    """The digest text, its chart and the year's ledger (a chart failure is reported, not fatal)."""
    week = digest.week
    chart, error = None, None
    try:
        chart = render_chart(digest)
    except ChartFontMissing as exc:
        log.error("digest chart failed: %s", exc)
        error = str(exc)
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / f"诉求台账-{week.label}.xlsx"
        count = await reports.export_ledger(None, date(week.end.year, 1, 1), week.end, target)
        ledger = target.read_bytes()
    return LeadersPack(week, text, chart, error, target.name, ledger, count)


async def write_digest_files(reports: Reports, week: Week, folder: Path) -> tuple[Path, Path, int]:
    """Writes the chart and the ledger into `folder`; returns their paths and the appeal count."""
    pack = await build_leaders_pack(reports, await reports.leaders_digest(None, week), "")
    if pack.chart is None:
        raise ChartFontMissing(pack.chart_error or "chart failed")
    folder.mkdir(parents=True, exist_ok=True)
    chart = folder / f"督察通报-{week.label}.png"
    chart.write_bytes(pack.chart)
    ledger = folder / pack.ledger_name
    ledger.write_bytes(pack.ledger)
    return chart, ledger, pack.ledger_count
