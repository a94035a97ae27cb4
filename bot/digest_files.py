"""A digest's attachments written to a folder: the chart (PNG) and the year's ledger (XLSX)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bot.chart import render_chart
from bot.digest import Reports, Week


async def write_digest_files(reports: Reports, week: Week, folder: Path) -> tuple[Path, Path, int]:
    """Returns the chart's path, the ledger's path and the number of appeals in it."""
    folder.mkdir(parents=True, exist_ok=True)
    chart = folder / f"督察通报-{week.label}.png"
    chart.write_bytes(render_chart(await reports.leaders_digest(None, week)))
    ledger = folder / f"诉求台账-{week.label}.xlsx"
    count = await reports.export_ledger(None, date(week.end.year, 1, 1), week.end, ledger)
    return chart, ledger, count
