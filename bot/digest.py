"""The weekly 督察通报: figures for leaders and departments, from the database, pure arithmetic.

Definitions (the README repeats them):
- received in a period: appeals filed in it; closed: closed (办结) in it;
- 按时办结: closed on or before the due date;
- 响应率: appeals received in the period and claimed by their claim deadline / received;
- 解决率: received in the period and closed (办结, rated or not) / received;
- 按时办结率: of those closed, closed by the due date;
- 满意率: (满意 + 基本满意) / rated; 未评价 (closed, not rated within the window) apart;
- withdrawn appeals leave the department denominators; ranking by the mean of the rates.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from bot.desk import Desk
from bot.errors import InvalidInput, NotAllowed
from bot.model import Actor, Role
from bot.task_files import write_xlsx_async

WEEK_RE = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
CLOSED_STATES = ("closed", "rated")
OPEN_STATES = ("pending", "in_progress")
SATISFIED = ("satisfied", "basic")
EARLIER_REPLIES_COMPARED = 200
EXCEL_CELL_LIMIT = 32767
LEDGER_HEADERS = [
    "编号", "企业", "统一社会信用代码", "类别", "诉求内容", "承办单位", "承办人", "状态",
    "提交时间", "签收时间", "签收期限", "办结期限", "办结时间", "是否按时办结", "办结情况",
    "评价", "提示督办文号", "办理记录", "往来记录",
]  # fmt: skip
LEDGER_WIDTHS = [16, 24, 20, 10, 40, 16, 8, 10, 16, 16, 11, 11, 16, 8, 30, 8, 24, 60, 60]
STATE_LABELS_ZH = {
    "pending": "待签收",
    "in_progress": "办理中",
    "closed": "已办结",
    "rated": "已评价",
    "withdrawn": "已撤回",
}
RATINGS_ZH = {"satisfied": "满意", "basic": "基本满意", "dissatisfied": "不满意"}


def cell_text(text: str) -> str:
    """Excel holds at most 32,767 characters in a cell."""
    return text if len(text) <= EXCEL_CELL_LIMIT else text[: EXCEL_CELL_LIMIT - 1] + "…"


@dataclass(frozen=True)
class Week:
    year: int
    number: int

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def start(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)

    @classmethod
    def of(cls, day: date) -> Week:
        year, number, _ = day.isocalendar()
        return cls(year, number)

    @classmethod
    def before(cls, day: date) -> Week:
        """The last complete week before `day` (the one a Monday digest reports)."""
        return cls.of(day - timedelta(days=7))

    @classmethod
    def parse(cls, text: str) -> Week:
        match = WEEK_RE.match(text.strip())
        if not match:
            raise InvalidInput(field="week", reason="invalid")
        try:
            week = cls(int(match[1]), int(match[2]))
            week.start  # noqa: B018 - validates the week number for that year
        except ValueError:
            raise InvalidInput(field="week", reason="invalid") from None
        return week


@dataclass
class DepartmentFigures:
    name: str
    received: int = 0
    claimed_on_time: int = 0
    resolved: int = 0
    closed_on_time: int = 0
    rated: int = 0
    satisfied: int = 0
    unrated: int = 0

    @staticmethod
    def _rate(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def response_rate(self) -> float | None:
        return self._rate(self.claimed_on_time, self.received)

    @property
    def resolution_rate(self) -> float | None:
        return self._rate(self.resolved, self.received)

    @property
    def on_time_rate(self) -> float | None:
        return self._rate(self.closed_on_time, self.resolved)

    @property
    def satisfaction_rate(self) -> float | None:
        return self._rate(self.satisfied, self.rated)

    @property
    def score(self) -> float:
        rates = [
            r
            for r in (
                self.response_rate,
                self.resolution_rate,
                self.on_time_rate,
                self.satisfaction_rate,
            )
            if r is not None
        ]
        return sum(rates) / len(rates) if rates else 0.0


@dataclass
class PeriodFigures:
    start: date
    end: date
    new: int = 0
    closed: int = 0
    closed_on_time: int = 0
    by_category: list[tuple[str, int]] = field(default_factory=list)
    departments: list[DepartmentFigures] = field(default_factory=list)
    notices: dict[str, int] = field(default_factory=dict)
    withdrawn: list[dict[str, Any]] = field(default_factory=list)

    @property
    def on_time_rate(self) -> float | None:
        return self.closed_on_time / self.closed if self.closed else None


@dataclass(frozen=True)
class OverdueItem:
    number: str
    department: str
    owner: str | None
    days: int
    due_date: str


@dataclass(frozen=True)
class QualityFlag:
    number: str
    department: str
    earlier_number: str | None = None
    similarity: float | None = None
    length: int | None = None


@dataclass
class LeaderDigest:
    week: Week
    last_week: PeriodFigures
    year: PeriodFigures
    overdue: list[OverdueItem]
    below_floor: list[tuple[str, float]]
    floor: float
    tasks: dict[str, int]
    duplicates: list[QualityFlag]
    short_replies: list[QualityFlag]


@dataclass
class DepartmentDigest:
    department_id: int
    name: str
    chat_ids: list[int]
    open_items: list[dict[str, Any]]
    due_this_week: list[dict[str, Any]]
    overdue: list[OverdueItem]
    unclaimed: list[dict[str, Any]]


def similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, a.strip(), b.strip()).ratio()


class Reports:
    """Use cases of the digest, /stats and the ledger export."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.settings = desk.org.digest

    def _require_leader(self, actor: Actor | None) -> None:
        if actor is not None and actor.role is not Role.ADMIN:
            raise NotAllowed()

    def bounds(self, start: date, end: date) -> tuple[str, str]:
        """UTC stamps of [start 00:00, end+1 00:00) in the bureau's time zone."""
        zone = self.desk.zone

        def stamp(day: date) -> str:
            return (
                datetime.combine(day, time(0), zone)
                .astimezone(self.desk.now().tzinfo)
                .isoformat(timespec="seconds")
            )

        return stamp(start), stamp(end + timedelta(days=1))

    def local_day(self, stamp: str | None) -> date | None:
        if not stamp:
            return None
        return datetime.fromisoformat(stamp).astimezone(self.desk.zone).date()

    async def _period(self, repo: Any, start: date, end: date, rows: list[dict]) -> PeriodFigures:
        figures = PeriodFigures(start, end)
        received = [r for r in rows if start <= self.local_day(r["created_at"]) <= end]
        figures.new = len(received)
        for row in rows:
            closed_day = self.local_day(row["closed_at"])
            if row["state"] in CLOSED_STATES and closed_day and start <= closed_day <= end:
                figures.closed += 1
                figures.closed_on_time += closed_day.isoformat() <= row["due_date"]
        counts: dict[str, int] = {}
        for row in received:
            counts[row["category"]] = counts.get(row["category"], 0) + 1
        order = [c.name for c in self.desk.org.categories]
        figures.by_category = [(name, counts.get(name, 0)) for name in order] + [
            (name, n) for name, n in counts.items() if name not in order
        ]
        departments: dict[str, DepartmentFigures] = {}
        today = self.desk.today().isoformat()
        for row in received:
            if row["state"] == "withdrawn":
                continue
            dept = departments.setdefault(
                row["department_name"], DepartmentFigures(row["department_name"])
            )
            dept.received += 1
            claimed = self.local_day(row["claimed_at"])
            dept.claimed_on_time += bool(claimed and claimed.isoformat() <= row["claim_due_date"])
            closed = self.local_day(row["closed_at"])
            if row["state"] in CLOSED_STATES:
                dept.resolved += 1
                dept.closed_on_time += bool(closed and closed.isoformat() <= row["due_date"])
            if row["rating"]:
                dept.rated += 1
                dept.satisfied += row["rating"] in SATISFIED
            elif row["state"] == "closed" and (row["rating_due_date"] or today) < today:
                dept.unrated += 1
        figures.departments = sorted(departments.values(), key=lambda d: (-d.score, d.name))
        utc_start, utc_end = self.bounds(start, end)
        figures.notices = {"提示": 0, "督办": 0, "提级": 0}
        for row in await repo.reports.notice_counts(utc_start, utc_end):
            key = "提级" if row["kind"] == "raise" else row["family"]
            figures.notices[key] = figures.notices.get(key, 0) + row["n"]
        figures.withdrawn = await repo.reports.withdrawals(utc_start, utc_end)
        return figures

    def _overdue(self, rows: list[dict]) -> list[OverdueItem]:
        today = self.desk.today()
        items = [
            OverdueItem(
                r["number"],
                r["department_name"],
                r["owner_name"],
                self.desk.calendar.working_days_between(date.fromisoformat(r["due_date"]), today),
                r["due_date"],
            )
            for r in rows
            if r["state"] in OPEN_STATES and r["due_date"] < today.isoformat()
        ]
        return sorted(items, key=lambda i: (-i.days, i.number))

    async def _quality(self, repo: Any, start: str, end: str) -> tuple[list, list]:
        duplicates, short = [], []
        for reply in await repo.reports.replies_between(start, end):
            text = reply["text"].strip()
            department = reply["department_name"] or ""
            if len(text) < self.settings.min_reply_chars:
                short.append(QualityFlag(reply["number"], department, length=len(text)))
            if reply["department_id"] is None:
                continue
            earlier = await repo.reports.earlier_replies(
                reply["department_id"], reply["id"], EARLIER_REPLIES_COMPARED
            )
            best = max(
                (
                    (similarity(text, e["text"]), e["number"])
                    for e in earlier
                    if e["number"] != reply["number"]
                ),
                default=None,
            )
            if best and best[0] >= self.settings.similarity_threshold:
                duplicates.append(QualityFlag(reply["number"], department, best[1], best[0]))
        return duplicates, short

    async def leaders_digest(self, actor: Actor | None, week: Week) -> LeaderDigest:
        """The 督察通报 for `week` and the year to its end (actor None: the scheduler)."""
        self._require_leader(actor)
        if week.start > self.desk.today():
            raise InvalidInput(field="week", reason="invalid")
        year_start = date(week.end.year, 1, 1)
        async with self.desk.db.reading() as repo:
            start, end = self.bounds(year_start, week.end)
            rows = await repo.reports.appeals_touching(start, end)
            last_week = await self._period(repo, week.start, week.end, rows)
            year = await self._period(repo, year_start, week.end, rows)
            week_start, week_end = self.bounds(week.start, week.end)
            duplicates, short = await self._quality(repo, week_start, week_end)
            tasks = await repo.tasks.counts_by_state()
        floor = self.settings.satisfaction_floor
        below = [
            (d.name, d.satisfaction_rate)
            for d in year.departments
            if d.satisfaction_rate is not None and d.satisfaction_rate < floor
        ]
        return LeaderDigest(
            week, last_week, year, self._overdue(rows), below, floor, tasks, duplicates, short
        )

    async def department_digests(self, week: Week) -> list[DepartmentDigest]:
        """For each department: open items, due in `week`, overdue, unclaimed (as of now)."""
        async with self.desk.db.reading() as repo:
            start, end = self.bounds(week.start, week.end)
            rows = [
                r
                for r in await repo.reports.appeals_touching(start, end)
                if r["state"] in OPEN_STATES
            ]
            departments = await repo.departments()
            staff = {d["id"]: await repo.staff_of_department(d["id"]) for d in departments}
        result = []
        for dept in departments:
            mine = [r for r in rows if r["department_id"] == dept["id"]]
            chats = [u["tg_id"] for u in staff[dept["id"]]] + (
                [dept["chat_id"]] if dept["chat_id"] else []
            )
            if not mine and not chats:
                continue
            result.append(
                DepartmentDigest(
                    dept["id"],
                    dept["name"],
                    chats,
                    mine,
                    [
                        r
                        for r in mine
                        if week.start.isoformat() <= r["due_date"] <= week.end.isoformat()
                    ],
                    self._overdue(mine),
                    [r for r in mine if r["state"] == "pending"],
                )
            )
        return result

    async def export_ledger(self, actor: Actor | None, start: date, end: date, target: Path) -> int:
        """The 台账: one row per appeal filed in [start, end] with its whole history, streamed."""
        self._require_leader(actor)
        if end < start:
            raise InvalidInput(field="period", reason="invalid")
        utc_start, utc_end = self.bounds(start, end)
        count = 0

        async def rows() -> AsyncIterator[list[object]]:
            nonlocal count
            async with self.desk.db.reading() as repo:
                async for row in repo.reports.ledger(utc_start, utc_end):
                    count += 1
                    yield self._ledger_row(row)

        # openpyxl writes synchronously; rows are pulled batch by batch from the database.
        await write_xlsx_async(rows(), target, "诉求台账", LEDGER_HEADERS, LEDGER_WIDTHS)
        return count

    def _ledger_row(self, row: dict[str, Any]) -> list[object]:
        closed = self.local_day(row["closed_at"])
        on_time = (
            ""
            if not closed or row["state"] not in CLOSED_STATES
            else ("是" if closed.isoformat() <= row["due_date"] else "否")
        )
        return [
            row["number"],
            row["enterprise_name"],
            row["uscc"],
            row["category"],
            cell_text(row["description"]),
            row["department_name"],
            row["owner_name"] or "",
            STATE_LABELS_ZH.get(row["state"], row["state"]),
            self.desk.local_time(row["created_at"]),
            self.desk.local_time(row["claimed_at"]) if row["claimed_at"] else "",
            row["claim_due_date"],
            row["due_date"],
            self.desk.local_time(row["closed_at"]) if row["closed_at"] else "",
            on_time,
            cell_text(row["resolution"] or ""),
            RATINGS_ZH.get(row["rating"] or "", ""),
            row["notices"] or "",
            cell_text(row["history"] or ""),
            cell_text(row["messages"] or ""),
        ]

    async def stats(self, actor: Actor) -> dict[str, Any]:
        """Quick numbers for leaders: open, overdue, this week, this year."""
        self._require_leader(actor)
        today = self.desk.today()
        week = Week.of(today)
        year_start = date(today.year, 1, 1)
        async with self.desk.db.reading() as repo:
            start, end = self.bounds(year_start, today)
            rows = await repo.reports.appeals_touching(start, end)
            this_week = await self._period(repo, week.start, today, rows)
            year = await self._period(repo, year_start, today, rows)
        rated = sum(d.rated for d in year.departments)
        satisfied = sum(d.satisfied for d in year.departments)
        return {
            "open": sum(r["state"] in OPEN_STATES for r in rows),
            "pending": sum(r["state"] == "pending" for r in rows),
            "overdue": len(self._overdue(rows)),
            "week_new": this_week.new,
            "week_closed": this_week.closed,
            "year_new": year.new,
            "year_closed": year.closed,
            "on_time": year.on_time_rate,
            "satisfaction": satisfied / rated if rated else None,
        }

    async def record_digest(self, week: Week, audience: str, text: str) -> dict[str, Any]:
        """Store the digest of a week once; later calls get the stored one (for re-sending)."""
        async with self.desk.db.transaction() as repo:
            await repo.reports.record_digest(
                week.label, audience, text, self.desk.now().isoformat(timespec="seconds")
            )
            stored = await repo.reports.digest(week.label, audience)
        assert stored is not None
        return stored

    async def archived(self, actor: Actor, week: Week) -> dict[str, Any] | None:
        self._require_leader(actor)
        async with self.desk.db.reading() as repo:
            return await repo.reports.digest(week.label, "leaders")

    async def chats_to_send(self, week: Week, audience: str, chats: list[int]) -> list[int]:
        """Those of `chats` that have not had this week's digest."""
        async with self.desk.db.reading() as repo:
            return [
                c for c in chats if not await repo.reports.digest_delivered(week.label, audience, c)
            ]

    async def mark_sent(self, week: Week, audience: str, chat_id: int) -> None:
        async with self.desk.db.transaction() as repo:
            await repo.reports.record_digest_delivery(
                week.label, audience, chat_id, self.desk.now().isoformat(timespec="seconds")
            )

    async def department_digest_for(self, actor: Actor, week: Week) -> DepartmentDigest | None:
        if not actor.is_staff:
            raise NotAllowed()
        for digest in await self.department_digests(week):
            if digest.department_id == actor.department_id:
                return digest
        return None
