"""The appeal ledger (台账) as spreadsheet rows: local times, Chinese names, from the catalog."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.rules.model import CLOSED_STATES
from bot.sheets import DATE, DATETIME, TEXT, WRAP, Column, write_sheet_async
from bot.texts import name, t
from bot.texts.events import event_detail
from storage.records import detail_of, moment
from storage.reports import LedgerEntry

# (column, width, kind): widths in characters, chosen so that the sheet fits landscape A4
# at a readable scale while the long texts wrap.
LAYOUT = (
    ("number", 15, TEXT), ("enterprise", 18, WRAP), ("uscc", 19, TEXT), ("category", 9, WRAP),
    ("description", 28, WRAP), ("department", 12, WRAP), ("owner", 7, WRAP),
    ("state", 9, WRAP), ("created", 15, DATETIME), ("claimed", 15, DATETIME),
    ("claim_due", 10.5, DATE), ("due", 10.5, DATE), ("closed", 15, DATETIME),
    ("on_time", 8, TEXT), ("resolution", 22, WRAP), ("rating", 7, TEXT),
    ("notices", 16, WRAP), ("history", 36, WRAP), ("messages", 36, WRAP),
)  # fmt: skip
COLUMNS = tuple(name for name, _, _ in LAYOUT)
# 提示 before 督办; within each, by year and number.
FAMILY_ORDER = {"提示": 0, "督办": 1}


def columns() -> list[Column]:
    return [Column(t(f"ledger.header.{c}"), width, kind) for c, width, kind in LAYOUT]


def headers() -> list[str]:
    return [column.header for column in columns()]


def local(moment_: datetime | None, zone: ZoneInfo) -> str:
    return moment_.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment_ else ""


def local_time(moment_: datetime | None, zone: ZoneInfo) -> datetime | None:
    return moment_.astimezone(zone) if moment_ else None


def history_lines(entry: LedgerEntry, zone: ZoneInfo, departments: dict[str, str]) -> str:
    lines = []
    for item in entry.history:
        action = item["action"]
        detail = event_detail(action, detail_of(item.get("detail")), departments)
        lines.append(
            t(
                "ledger.history_line",
                time=local(moment(item["at"]), zone),
                action=name("event", action, default=action),
                actor=item.get("actor") or t("leader_actor"),
                detail=f"：{detail}" if detail else "",
            )
        )
    return "\n".join(lines)


def message_lines(entry: LedgerEntry, zone: ZoneInfo) -> str:
    return "\n".join(
        t(
            "ledger.message_line",
            time=local(moment(m["at"]), zone),
            kind=name("message_kind", m["kind"], default=m["kind"]),
            author=m.get("author") or "",
            text=m["text"],
        )
        for m in entry.messages
    )


def notice_serials(entry: LedgerEntry) -> str:
    """文号 ordered by kind (提示, then 督办), year and number."""
    ordered = sorted(
        entry.notices,
        key=lambda n: (FAMILY_ORDER.get(n["family"], len(FAMILY_ORDER)), n["year"], n["no"]),
    )
    return t("ledger.notice_sep").join(f"{n['family']}〔{n['year']}〕{n['no']}号" for n in ordered)


def cells(entry: LedgerEntry, zone: ZoneInfo, departments: dict[str, str]) -> list[object]:
    appeal = entry.appeal
    closed = appeal.closed_at.astimezone(zone).date() if appeal.closed_at else None
    on_time = ""
    if closed and appeal.state in CLOSED_STATES:
        on_time = t("ledger.yes") if closed <= appeal.due_date else t("ledger.no")
    return [
        appeal.number,
        appeal.enterprise_name,
        entry.uscc,
        appeal.category,
        appeal.description,
        appeal.department_name,
        appeal.owner_name or "",
        name("state", appeal.state),
        local_time(appeal.created_at, zone),
        local_time(appeal.claimed_at, zone),
        appeal.claim_due_date,
        appeal.due_date,
        local_time(appeal.closed_at, zone),
        on_time,
        appeal.resolution or "",
        name("rating", appeal.rating) if appeal.rating else "",
        notice_serials(entry),
        history_lines(entry, zone, departments),
        message_lines(entry, zone),
    ]


def writer(zone: ZoneInfo, departments: dict[str, str]):  # noqa: ANN201 - returns a coroutine fn
    """A function writing streamed ledger entries to an XLSX file (memory stays flat)."""

    async def write(entries: AsyncIterator[LedgerEntry], target: Path) -> None:
        async def rows() -> AsyncIterator[list[object]]:
            async for entry in entries:
                yield cells(entry, zone, departments)

        await write_sheet_async(rows(), target, t("ledger.sheet"), columns())

    return write
