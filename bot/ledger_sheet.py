"""The appeal ledger (台账) as spreadsheet rows: local times, Chinese names, from the catalog."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.rules.model import CLOSED_STATES
from bot.task_files import write_xlsx_async
from bot.texts import name, t
from bot.texts.events import event_detail
from storage.records import detail_of, moment
from storage.reports import LedgerEntry

COLUMNS = (
    "number", "enterprise", "uscc", "category", "description", "department", "owner", "state",
    "created", "claimed", "claim_due", "due", "closed", "on_time", "resolution", "rating",
    "notices", "history", "messages",
)  # fmt: skip
WIDTHS = [16, 24, 20, 10, 40, 16, 8, 10, 16, 16, 11, 11, 16, 8, 30, 8, 24, 60, 60]
EXCEL_CELL_LIMIT = 32767


def headers() -> list[str]:
    return [t(f"ledger.header.{c}") for c in COLUMNS]


def cell_text(text: str) -> str:
    """Excel holds at most 32,767 characters in a cell."""
    return text if len(text) <= EXCEL_CELL_LIMIT else text[: EXCEL_CELL_LIMIT - 1] + "…"


def local(moment_: datetime | None, zone: ZoneInfo) -> str:
    return moment_.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment_ else ""


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
    """文号 ordered by kind, year and number (the query orders them)."""
    return t("ledger.notice_sep").join(
        f"{n['family']}〔{n['year']}〕{n['no']}号" for n in entry.notices
    )


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
        cell_text(appeal.description),
        appeal.department_name,
        appeal.owner_name or "",
        name("state", appeal.state),
        local(appeal.created_at, zone),
        local(appeal.claimed_at, zone),
        appeal.claim_due_date.isoformat(),
        appeal.due_date.isoformat(),
        local(appeal.closed_at, zone),
        on_time,
        cell_text(appeal.resolution or ""),
        name("rating", appeal.rating) if appeal.rating else "",
        notice_serials(entry),
        cell_text(history_lines(entry, zone, departments)),
        cell_text(message_lines(entry, zone)),
    ]


def writer(zone: ZoneInfo, departments: dict[str, str]):  # noqa: ANN201 - returns a coroutine fn
    """A function writing streamed ledger entries to an XLSX file (memory stays flat)."""

    async def write(entries: AsyncIterator[LedgerEntry], target: Path) -> None:
        async def rows() -> AsyncIterator[list[object]]:
            async for entry in entries:
                yield cells(entry, zone, departments)

        await write_xlsx_async(rows(), target, t("ledger.sheet"), headers(), WIDTHS)

    return write
