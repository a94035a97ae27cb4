"""The weekly 督察通报's arithmetic over plain rows (no storage, no wording).

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

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from rapidfuzz import process
from rapidfuzz.distance import Indel

from bot.rules.model import CLOSED_STATES, OPEN_STATES, SATISFIED_RATINGS, Rating, State
from bot.rules.refusals import InvalidInput


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

    @property
    def sent_in(self) -> Week:
        """The week this week's digest is sent in (the next): the departments' views that go
        with it are of that week (本周到期: due in it)."""
        return Week.of(self.start + timedelta(days=7))


def require_past_or_current(week: Week, today: date) -> None:
    """A digest of a week that has not begun is refused."""
    if week.start > today:
        raise InvalidInput(
            field="week", reason="week_future", week=week.label, example=Week.before(today).label
        )


@dataclass(frozen=True)
class DigestRow:
    """What the digest needs of one appeal."""

    id: int
    number: str
    category: str
    state: State
    department_id: int
    department_name: str
    owner_name: str | None
    created_at: datetime
    claimed_at: datetime | None
    closed_at: datetime | None
    claim_due_date: date
    due_date: date
    rating: Rating | None
    rating_due_date: date | None


@dataclass(frozen=True)
class ReceivedGroup:
    """Appeals received in a period, counted (by the database) per department, category and
    withdrawn or not."""

    department: str
    category: str
    withdrawn: bool
    received: int
    claimed_on_time: int
    resolved: int
    closed_on_time: int
    rated: int
    satisfied: int
    unrated: int


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


@dataclass(frozen=True)
class Withdrawal:
    number: str
    enterprise_name: str
    reason: str
    created_at: datetime


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
    withdrawn: list[Withdrawal] = field(default_factory=list)

    @property
    def on_time_rate(self) -> float | None:
        return self.closed_on_time / self.closed if self.closed else None

    @property
    def satisfaction_rate(self) -> float | None:
        rated = sum(d.rated for d in self.departments)
        return sum(d.satisfied for d in self.departments) / rated if rated else None

    @property
    def departments_received(self) -> int:
        """Appeals received in the period that the departments count: all but the withdrawn."""
        return sum(d.received for d in self.departments)

    @property
    def withdrawn_received(self) -> int:
        """Appeals received in the period and withdrawn since: in `new` and by category,
        not in the departments' figures."""
        return self.new - self.departments_received


@dataclass(frozen=True)
class OverdueItem:
    number: str
    department: str
    owner: str | None
    days: int
    due_date: date


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
    overdue_total: int = 0  # all overdue appeals; `overdue` lists the longest overdue
    duplicates_total: int = 0  # all near-duplicate replies; the most similar are listed
    short_total: int = 0  # all too-short replies; the shortest are listed
    as_of: date | None = None  # the day it was made: names its week 上周 or 本周
    listed: int = 30  # the other lists (withdrawn appeals) name at most this many


@dataclass
class DepartmentDigest:
    department_id: int
    name: str
    chat_ids: list[int]
    open_items: list[DigestRow]
    due_this_week: list[DigestRow]
    overdue: list[OverdueItem]
    unclaimed: list[DigestRow]
    # Each list names at most this many (the most urgent) with its count; the rest are in
    # the ledger (`[digest] overdue_listed`).
    listed: int = 30


def local_day(moment: datetime | None, zone: ZoneInfo) -> date | None:
    return moment.astimezone(zone).date() if moment else None


def period_figures(
    rows: list[DigestRow],
    start: date,
    end: date,
    category_order: list[str],
    today: date,
    zone: ZoneInfo,
) -> PeriodFigures:
    """New, closed, on time, by category and by department for [start, end]."""
    figures = PeriodFigures(start, end)
    received = [r for r in rows if start <= local_day(r.created_at, zone) <= end]
    figures.new = len(received)
    for row in rows:
        closed_day = local_day(row.closed_at, zone)
        if row.state in CLOSED_STATES and closed_day and start <= closed_day <= end:
            figures.closed += 1
            figures.closed_on_time += closed_day <= row.due_date
    counts: dict[str, int] = {}
    for row in received:
        counts[row.category] = counts.get(row.category, 0) + 1
    figures.by_category = [(name, counts.get(name, 0)) for name in category_order] + [
        (name, n) for name, n in counts.items() if name not in category_order
    ]
    departments: dict[str, DepartmentFigures] = {}
    for row in received:
        if row.state is State.WITHDRAWN:
            continue
        dept = departments.setdefault(row.department_name, DepartmentFigures(row.department_name))
        dept.received += 1
        claimed = local_day(row.claimed_at, zone)
        dept.claimed_on_time += bool(claimed and claimed <= row.claim_due_date)
        closed = local_day(row.closed_at, zone)
        if row.state in CLOSED_STATES:
            dept.resolved += 1
            dept.closed_on_time += bool(closed and closed <= row.due_date)
        if row.rating:
            dept.rated += 1
            dept.satisfied += row.rating in SATISFIED_RATINGS
        elif row.state is State.CLOSED and (row.rating_due_date or today) < today:
            dept.unrated += 1
    figures.departments = sorted(departments.values(), key=lambda d: (-d.score, d.name))
    return figures


def figures_from_counts(
    start: date,
    end: date,
    groups: Iterable[ReceivedGroup],
    closed: tuple[int, int],
    category_order: list[str],
) -> PeriodFigures:
    """The same figures as `period_figures`, from counts the database made."""
    figures = PeriodFigures(start, end)
    figures.closed, figures.closed_on_time = closed
    counts: dict[str, int] = {}
    departments: dict[str, DepartmentFigures] = {}
    for group in groups:
        figures.new += group.received
        counts[group.category] = counts.get(group.category, 0) + group.received
        if group.withdrawn:
            continue
        dept = departments.setdefault(group.department, DepartmentFigures(group.department))
        dept.received += group.received
        dept.claimed_on_time += group.claimed_on_time
        dept.resolved += group.resolved
        dept.closed_on_time += group.closed_on_time
        dept.rated += group.rated
        dept.satisfied += group.satisfied
        dept.unrated += group.unrated
    figures.by_category = [(name, counts.get(name, 0)) for name in category_order] + [
        (name, n) for name, n in counts.items() if name not in category_order
    ]
    figures.departments = sorted(departments.values(), key=lambda d: (-d.score, d.name))
    return figures


CUTOFF_SLACK = 1e-6


def best_match_above(
    text: str, earlier: Sequence[str], numbers: Sequence[str], threshold: float
) -> tuple[float, str] | None:
    """The most similar of the `earlier` texts (with their appeal `numbers`, most recent
    first) at or above `threshold`, as (similarity, number); the most recent on a tie.
    Similarity is 2·LCS / (len a + len b) of the texts as given — the share of characters
    two replies have in common, in order — computed by rapidfuzz in C."""
    # rapidfuzz's cutoff works in floating point with a margin of its own, so a similarity
    # exactly at the threshold (2·2/5 = 0.8) was cut off: ask for a hair less. A similarity
    # is a fraction 2k/n; for replies under 10,000 characters and a threshold of two
    # decimals it is either equal to the threshold or at least 5e-6 away, so the slack lets
    # nothing lower through.
    found = process.extractOne(
        text,
        earlier,
        scorer=Indel.normalized_similarity,
        score_cutoff=max(0.0, threshold - CUTOFF_SLACK),
    )
    if found is None:
        return None
    _, score, index = found
    return score, numbers[index]


def notice_totals(counts: Iterable[tuple[str, str, int]]) -> dict[str, int]:
    """(kind, family, n) rows → 提示 / 督办 / 提级 totals (提级 is the 'raise' kind)."""
    totals = {"提示": 0, "督办": 0, "提级": 0}
    for kind, family, n in counts:
        key = "提级" if kind == "raise" else family
        totals[key] = totals.get(key, 0) + n
    return totals


def overdue_items(
    rows: Iterable[DigestRow], today: date, overdue_days: Callable[[date, date], int]
) -> list[OverdueItem]:
    items = [
        OverdueItem(
            r.number, r.department_name, r.owner_name, overdue_days(r.due_date, today), r.due_date
        )
        for r in rows
        if r.state in OPEN_STATES and r.due_date < today
    ]
    return sorted(items, key=lambda i: (-i.days, i.number))


def below_floor(figures: PeriodFigures, floor: float) -> list[tuple[str, float]]:
    return [
        (d.name, d.satisfaction_rate)
        for d in figures.departments
        if d.satisfaction_rate is not None and d.satisfaction_rate < floor
    ]


def is_due_in(row: DigestRow, week: Week) -> bool:
    return week.start <= row.due_date <= week.end
