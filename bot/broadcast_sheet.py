"""A broadcast's reach report as a spreadsheet: a summary sheet (what went, to whom, what
came back: 已阅, 咨询) and one row per recipient with its outcome."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.rules.broadcasts import Reach
from bot.sheets import DATETIME, TEXT, WRAP, Column, SheetSpec, write_book_async
from bot.texts import name, t
from bot.usecases.broadcasts import Report


def _local(moment: object, zone: ZoneInfo) -> object:
    return moment.astimezone(zone) if moment is not None else None  # type: ignore[union-attr]


def summary_rows(report: Report, zone: ZoneInfo, audience: str) -> list[list[object]]:
    b, reach = report.broadcast, report.reach
    rows: list[list[object]] = [
        [t("reach_sheet.title"), b.title],
        [t("reach_sheet.topic"), name("topic", b.topic)],
        [t("reach_sheet.audience"), audience],
        [t("reach_sheet.state"), name("broadcast_state", b.state)],
        [t("reach_sheet.send_at"), b.send_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")],
        [t("reach_sheet.total"), reach.total],
        [t("reach_sheet.sent"), reach.sent],
    ]
    rows += [[name("reach", r), reach.count(r)] for r in Reach]
    rows += [
        [t("reach_sheet.read"), reach.read],
        [t("reach_sheet.asked"), reach.asked],
        [t("reach_sheet.appeals"), reach.appeals],
    ]
    return rows


async def write_reach(
    report: Report, target: Path | io.BytesIO, zone: ZoneInfo, audience: str
) -> int:
    """Write the report (recipients read a page at a time); returns how many it lists."""
    summary = SheetSpec(
        t("reach_sheet.summary"),
        [Column(t("reach_sheet.item"), 30, WRAP), Column(t("reach_sheet.value"), 50, WRAP)],
    )
    detail = SheetSpec(
        t("reach_sheet.detail"),
        [
            Column(t("reach_column.enterprise"), 26, WRAP),
            Column(t("reach_column.uscc"), 21, TEXT),
            Column(t("reach_column.contact"), 10, WRAP),
            Column(t("reach_column.reach"), 20, WRAP),
            Column(t("reach_column.sent_at"), 17, DATETIME),
            Column(t("reach_column.read_at"), 17, DATETIME),
            Column(t("reach_column.asked_at"), 17, DATETIME),
            Column(t("reach_column.appeal"), 16, TEXT),
        ],
        caption=t("reach_sheet.caption", title=report.broadcast.title),
    )

    async def rows() -> AsyncIterator[list[object]]:
        async for r in report.rows():
            yield [
                r.enterprise,
                r.uscc,
                r.contact,
                name("reach", r.reach),
                _local(r.sent_at, zone),
                _local(r.read_at, zone),
                _local(r.asked_at, zone),
                r.appeal or "",
            ]

    summary_sheet = (summary, summary_rows(report, zone, audience))
    counts = await write_book_async(target, [summary_sheet, (detail, rows())])
    return counts[1]
