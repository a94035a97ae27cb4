"""The appeal ledger (台账) as a workbook of two sheets, worded from the catalog in local
time: 诉求台账, the columns a clerk files on paper, fitted to the A4 page width in readable
type; and 全程记录, every column with each appeal's whole history, for the screen (it prints
at full size over several pages)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.rules.ledger import LedgerEntry, LedgerMessage
from bot.rules.model import CLOSED_STATES, INTERNAL_MESSAGE_KINDS, State
from bot.sheets import DATE, DATETIME, TEXT, WRAP, Column, SheetSpec, write_sheets_async
from bot.texts import name, t
from bot.texts.events import event_detail, person_name

# The screen sheet: (column, width, kind), widths in characters; the long texts wrap.
LAYOUT = (
    ("number", 15, TEXT), ("enterprise", 18, WRAP), ("uscc", 19, TEXT), ("category", 9, WRAP),
    ("description", 28, WRAP), ("department", 12, WRAP), ("owner", 7, WRAP),
    ("state", 9, WRAP), ("created", 15, DATETIME), ("claimed", 15, DATETIME),
    ("claim_due", 10.5, DATE), ("due", 10.5, DATE), ("closed", 15, DATETIME),
    ("withdrawn", 15, DATETIME), ("on_time", 8, TEXT), ("resolution", 22, WRAP),
    ("rating", 7, TEXT), ("notices", 16, WRAP), ("history", 36, WRAP), ("messages", 36, WRAP),
    ("notes", 30, WRAP),
)  # fmt: skip
COLUMNS = tuple(name for name, _, _ in LAYOUT)
# The paper sheet: what a clerk files, in 11-point type and widths that fit landscape A4
# with that type printing at 8 pt or more (bot/sheets.py); the dates without their times,
# the history on the screen sheet.
PRINT_LAYOUT = (
    ("number", 13.5, TEXT), ("enterprise", 10.5, WRAP), ("category", 6, WRAP),
    ("description", 21, WRAP), ("department", 8.5, WRAP), ("owner", 6, WRAP),
    ("state", 6, WRAP), ("created_day", 9.5, DATE), ("due", 9.5, DATE),
    ("closed_day", 9.5, DATE), ("withdrawn_day", 9.5, DATE), ("on_time", 5, WRAP),
    ("resolution", 17, WRAP), ("rating", 6, WRAP),
)  # fmt: skip
PRINT_POINTS = 11
PRINT_COLUMNS = tuple(name for name, _, _ in PRINT_LAYOUT)
# Where the moment an appeal ended (closed_at) is shown, by the state it ended in: 办结
# (rated or not) is its 办结时间, a withdrawal its 撤回时间. Open states have none.
END_COLUMN = {State.CLOSED: "closed", State.RATED: "closed", State.WITHDRAWN: "withdrawn"}
# 提示 before 督办; within each, by year and number.
FAMILY_ORDER = {"提示": 0, "督办": 1}


def columns() -> list[Column]:
    """The screen sheet's columns."""
    return [Column(t(f"ledger.header.{c}"), width, kind) for c, width, kind in LAYOUT]


def print_columns() -> list[Column]:
    """The paper sheet's columns."""
    return [Column(t(f"ledger.header.{c}"), width, kind) for c, width, kind in PRINT_LAYOUT]


def local(moment_: datetime | None, zone: ZoneInfo) -> str:
    return moment_.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment_ else ""


def local_time(moment_: datetime | None, zone: ZoneInfo) -> datetime | None:
    return moment_.astimezone(zone) if moment_ else None


def day(moment_: datetime | None, zone: ZoneInfo) -> date | None:
    return moment_.astimezone(zone).date() if moment_ else None


def reopenings(entry: LedgerEntry) -> list[datetime]:
    """When each 不满意 reopened the appeal: each ends a round."""
    return [event.at for event in entry.history if event.action == "reopen"]


def round_mark(number: int, rounds: int) -> str:
    """The mark (〔第1轮〕) before what belongs to round `number` once the appeal was
    reopened (of `rounds`), the current round's too; none for an appeal never reopened."""
    return t("ledger.round", round=number) if rounds > 1 else ""


def history_lines(entry: LedgerEntry, zone: ZoneInfo, departments: dict[str, str]) -> str:
    """The audit events in order, those of earlier rounds marked: a reopening (不满意) is
    the last event of its round."""
    lines = []
    rounds, number = 1 + len(reopenings(entry)), 1
    for event in entry.history:
        action = event.action
        detail = event_detail(action, event.detail, departments)
        lines.append(
            round_mark(number, rounds)
            + t(
                "ledger.history_line",
                time=local(event.at, zone),
                action=name("event", action, default=action),
                actor=person_name(event.actor, event.actor_role),
                detail=f"：{detail}" if detail else "",
            )
        )
        number += action == "reopen"
    return "\n".join(lines)


def message_lines(entry: LedgerEntry, zone: ZoneInfo, public: bool) -> str:
    """The words exchanged with the enterprise (`public`: replies, 补充, rating comments), or
    the officials' internal 备注, which the enterprise never sees; those written before a
    reopening marked with their round."""
    reopened = reopenings(entry)
    return "\n".join(
        round_mark(1 + sum(r < m.at for r in reopened), 1 + len(reopened))
        + t(
            "ledger.message_line",
            time=local(m.at, zone),
            kind=name("message_kind", m.kind, default=m.kind),
            author=person_name(m.author, m.author_role),
            text=_words_and_files(m),
        )
        for m in entry.messages
        if (m.kind not in INTERNAL_MESSAGE_KINDS) == public
    )


def _words_and_files(message: LedgerMessage) -> str:
    """A message's words, and how many files came with it (a 补充 of photos alone has no
    words: the count is what it said)."""
    count = t("ledger.message_files", count=message.files) if message.files else ""
    return (message.text or "") + count


def notice_serials(entry: LedgerEntry) -> str:
    """文号 ordered by kind (提示, then 督办), year and number."""
    ordered = sorted(
        entry.notices,
        key=lambda n: (FAMILY_ORDER.get(n.family, len(FAMILY_ORDER)), n.year, n.no),
    )
    return t("ledger.notice_sep").join(f"{n.family}〔{n.year}〕{n.no}号" for n in ordered)


def values(entry: LedgerEntry, zone: ZoneInfo, departments: dict[str, str]) -> dict[str, object]:
    """Every column's value for one appeal, by column name."""
    appeal = entry.appeal
    ended = local_time(appeal.closed_at, zone)
    on_time = ""
    if ended and appeal.state in CLOSED_STATES:
        on_time = t("ledger.yes") if ended.date() <= appeal.due_date else t("ledger.no")
    end_column = END_COLUMN.get(appeal.state)
    closed = ended if end_column == "closed" else None
    withdrawn = ended if end_column == "withdrawn" else None
    return {
        "number": appeal.number,
        "enterprise": appeal.enterprise_name,
        "uscc": entry.uscc,
        "category": appeal.category,
        "description": appeal.description,
        "department": appeal.department_name,
        "owner": "" if appeal.owner_name is None else person_name(appeal.owner_name, "official"),
        "state": name("state", appeal.state),
        "created": local_time(appeal.created_at, zone),
        "created_day": day(appeal.created_at, zone),
        "claimed": local_time(appeal.claimed_at, zone),
        "claim_due": appeal.claim_due_date,
        "due": appeal.due_date,
        "closed": closed,
        "closed_day": closed.date() if closed else None,
        "withdrawn": withdrawn,
        "withdrawn_day": withdrawn.date() if withdrawn else None,
        "on_time": on_time,
        "resolution": appeal.round_resolution or "",  # the current round's; earlier: 全程记录
        "rating": name("rating", appeal.round_rating) if appeal.round_rating else "",
        "notices": notice_serials(entry),
        "history": history_lines(entry, zone, departments),
        "messages": message_lines(entry, zone, public=True),
        "notes": message_lines(entry, zone, public=False),
    }


def cells(
    entry: LedgerEntry, zone: ZoneInfo, departments: dict[str, str]
) -> tuple[list[object], list[object]]:
    """One appeal's row on the paper sheet and its row on the screen sheet."""
    row = values(entry, zone, departments)
    return [row[c] for c in PRINT_COLUMNS], [row[c] for c in COLUMNS]


def sheets(start: date | None = None, end: date | None = None) -> list[SheetSpec]:
    """The paper sheet first (it opens, and it is what printing the file gives first), then
    the screen sheet; each page names the ledger and the period it covers."""
    paper, screen = t("ledger.sheet"), t("ledger.sheet_full")
    period = t("ledger.period", start=start, end=end) if start and end else ""
    return [
        SheetSpec(
            paper,
            print_columns(),
            t("ledger.caption", title=paper, period=period),
            PRINT_POINTS,
            cut_note=t("ledger.cut_note", sheet=screen),
        ),
        SheetSpec(screen, columns(), t("ledger.caption", title=screen, period=period)),
    ]


Writer = Callable[[AsyncIterator[LedgerEntry], Path], Awaitable[None]]


def writer(
    zone: ZoneInfo,
    departments: dict[str, str],
    start: date | None = None,
    end: date | None = None,
) -> Writer:
    """A function writing streamed ledger entries to an XLSX file (memory stays flat)."""

    async def write(entries: AsyncIterator[LedgerEntry], target: Path) -> None:
        async def rows() -> AsyncIterator[tuple[list[object], list[object]]]:
            async for entry in entries:
                yield cells(entry, zone, departments)

        await write_sheets_async(rows(), target, sheets(start, end))

    return write
