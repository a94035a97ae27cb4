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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from rapidfuzz import process
from rapidfuzz.distance import Indel

from bot.rules.model import (
    CLOSED_STATES,
    OPEN_STATES,
    SATISFIED_RATINGS,
    Action,
    Event,
    Rating,
    State,
    Task,
)
from bot.rules.org import Category
from bot.rules.refusals import InvalidInput
from bot.rules.workflow import (
    CLAIM_DUE_EVENTS,
    DUE_EVENTS,
    FILE,
    last_due_event,
)


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
    def from_label(cls, label: str) -> Week:
        """The week a stored label names (`2026-W47`, as `label` writes it); what people
        type goes through rules.checks.parse_week."""
        year, number = label.split("-W")
        return cls(int(year), int(number))

    @classmethod
    def of(cls, day: date) -> Week:
        year, number, _ = day.isocalendar()
        return cls(year, number)

    @classmethod
    def before(cls, day: date) -> Week:
        """The last complete week before `day` (the one a Monday digest reports)."""
        return cls.of(day - timedelta(days=7))

    @classmethod
    def last_due(cls, local: datetime, at: time, iso_weekday: int) -> Week:
        """The week the last weekly run that fell due by `local` (the bureau's time) reports:
        this week's run once its day and time have passed, else last week's."""
        due = local.date() - timedelta(days=(local.isoweekday() - iso_weekday) % 7)
        if due == local.date() and local.time() < at.replace(tzinfo=None):
            due -= timedelta(days=7)
        return cls.before(due)

    @property
    def sent_in(self) -> Week:
        """The week this week's digest is sent in (the next): the departments' views that go
        with it are of that week (本周到期: due in it)."""
        return Week.of(self.start + timedelta(days=7))


@dataclass(frozen=True)
class Reply:
    """A reply (答复) written to an enterprise, with its appeal's number and the writer's
    department."""

    id: int
    text: str
    number: str
    department_id: int | None
    department_name: str | None
    created_at: datetime


@dataclass(frozen=True)
class StoredDigest:
    """A digest as it was sent for a week and an audience, kept to be sent again."""

    week: Week
    audience: str
    text: str
    created_at: datetime


def as_of(week: Week, today: date) -> date:
    """The day a week's digest is computed as of: the week's last day once the week is over
    (so the digest of a past week reads as it did when it was sent), today while it runs.
    Every period the digest names ends on this day."""
    return min(today, week.end)


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
    as_of: date | None = None  # the day its figures are as of: every period ends on it
    listed: int = 30  # the other lists (withdrawn appeals) name at most this many
    made_on: date | None = None  # the day it was made: names its week 上周 or 本周
    # the rectification tasks overdue as of `as_of` (task_ledger.overdue_tasks), the
    # longest overdue first and at most `listed`; all of them counted in the total
    overdue_tasks: list[tuple[Task, int]] = field(default_factory=list)
    overdue_tasks_total: int = 0


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


class Limits(Protocol):
    """The dates an appeal gets from a local day (`bot.rules.deadlines.Deadlines`)."""

    def claim_due(self, today: date) -> date: ...

    def due(self, today: date, category: Category | None) -> date: ...

    def rating_due(self, today: date) -> date: ...


def row_as_of(
    row: DigestRow,
    events: Sequence[Event],
    end: datetime,
    departments: Mapping[str, tuple[int, str]],
    limits: Limits,
    category: Category | None,
    zone: ZoneInfo,
) -> DigestRow | None:
    """`row` (as it is now) as it stood at the moment `end`, replayed from its audit
    `events` (in order): state, department, owner, claim and close moments, rating and the
    dates in force. None if it was not filed yet; without a change since `end`, as it is.
    `departments` maps a department code to (id, name)."""
    if row.created_at >= end:
        return None
    before = [e for e in events if e.created_at < end]
    after = [e for e in events if e.created_at >= end]
    if not after:
        return row
    # the state the first change after `end` left (else the one the last before made)
    was = after[0].from_state or next((e.to_state for e in reversed(before) if e.to_state), None)
    state = State(was) if was else row.state
    dept_id, dept_name = row.department_id, row.department_name
    code = next(
        (e.detail.get("department") for e in reversed(before) if e.detail.get("department")), None
    )
    if code in departments:
        dept_id, dept_name = departments[code]
    handled = before[_last_index(before, (Action.TRANSFER,)) + 1 :]  # since the last transfer
    claim = _last(handled, (Action.CLAIM,)) if state is not State.PENDING else None
    closing = _last(before, (Action.CLOSE,)) if state in CLOSED_STATES else None
    rating = _last(before, (Action.RATE, Action.REOPEN))
    return replace(
        row,
        state=state,
        department_id=dept_id,
        department_name=dept_name,
        owner_name=(claim.actor_name if claim else None)
        if state in OPEN_STATES
        else row.owner_name,
        claimed_at=claim.created_at if claim else None,
        closed_at=closing.created_at if closing else None,
        claim_due_date=_claim_due_as_of(row, before, after, limits, zone),
        due_date=_due_as_of(row, before, after, limits, category, zone),
        rating=Rating(rating.detail["rating"]) if rating and rating.detail.get("rating") else None,
        rating_due_date=(
            (
                _recorded(closing, "rating_due")
                or limits.rating_due(local_day(closing.created_at, zone))
            )
            if closing
            else None
        ),
    )


def _last(events: Sequence[Event], actions: tuple[str, ...]) -> Event | None:
    return next((e for e in reversed(events) if e.action in actions), None)


def _last_index(events: Sequence[Event], actions: tuple[str, ...]) -> int:
    return max((i for i, e in enumerate(events) if e.action in actions), default=-1)


def _recorded(event: Event | None, key: str) -> date | None:
    """The date `event` recorded under `key` (None: no such event, or stored without it)."""
    value = event.detail.get(key) if event is not None else None
    return date.fromisoformat(str(value)) if value else None


def _due_as_of(
    row: DigestRow,
    before: Sequence[Event],
    after: Sequence[Event],
    limits: Limits,
    category: Category | None,
    zone: ZoneInfo,
) -> date:
    """The 办结期限 in force at the end of `before`, as the events recorded it: the first
    change after names the date it replaced, else the last change before names the date it
    set, else filing does. Counted again only for an event stored before it recorded its
    date (a 不满意 then counted the time limit from its day, filing from the filing day)."""
    later = next((e for e in after if e.action in DUE_EVENTS), None)
    if later is None:
        return row.due_date
    if replaced := _recorded(later, "old_due"):
        return replaced
    last = last_due_event(before)
    if last is not None:
        return _recorded(last, "new_due") or limits.due(local_day(last.created_at, zone), category)
    filed = _recorded(_last(before, (FILE,)), "due")
    return filed or limits.due(local_day(row.created_at, zone), category)


def _claim_due_as_of(
    row: DigestRow, before: Sequence[Event], after: Sequence[Event], limits: Limits, zone: ZoneInfo
) -> date:
    """The 签收期限 in force at the end of `before` (a transfer sets a new one), as the last
    transfer before or filing recorded it; counted again for events stored without it."""
    if not any(e.action in CLAIM_DUE_EVENTS for e in after):
        return row.claim_due_date
    last = _last(before, tuple(CLAIM_DUE_EVENTS))
    recorded = _recorded(last if last is not None else _last(before, (FILE,)), "claim_due")
    counted_from = last.created_at if last is not None else row.created_at
    return recorded or limits.claim_due(local_day(counted_from, zone))


def received_group(
    row: DigestRow, start: date, end: date, as_of: date, zone: ZoneInfo
) -> ReceivedGroup | None:
    """One appeal's share of the counts of appeals received on [start, end] as of the day
    `as_of`, as the database's per-day tallies count it (None: not received then)."""
    created = local_day(row.created_at, zone)
    if not start <= created <= end:
        return None
    claimed, closed = local_day(row.claimed_at, zone), local_day(row.closed_at, zone)
    resolved = row.state in CLOSED_STATES and not (closed and closed > as_of)
    return ReceivedGroup(
        row.department_name,
        row.category,
        row.state is State.WITHDRAWN,
        1,
        int(bool(claimed and claimed <= row.claim_due_date)),
        int(resolved),
        int(resolved and bool(closed and closed <= row.due_date)),
        int(row.rating is not None),
        int(row.rating in SATISFIED_RATINGS),
        int(
            row.state is State.CLOSED
            and row.rating is None
            and row.rating_due_date is not None
            and row.rating_due_date < as_of
        ),
    )


def closed_share(row: DigestRow, start: date, end: date, zone: ZoneInfo) -> tuple[int, int]:
    """(closed, on time) of one appeal among those closed on [start, end]."""
    closed = local_day(row.closed_at, zone)
    if row.state not in CLOSED_STATES or closed is None or not start <= closed <= end:
        return 0, 0
    return 1, int(closed <= row.due_date)


def replayed_counts(
    groups: Iterable[ReceivedGroup],
    closed: tuple[int, int],
    changes: Iterable[tuple[DigestRow, DigestRow | None]],
    start: date,
    end: date,
    as_of: date,
    zone: ZoneInfo,
) -> tuple[list[ReceivedGroup], tuple[int, int]]:
    """The database's counts (appeals as they are now) with each changed appeal's share as
    it is now taken out and its share as it was (`changes`: now, then) put in."""
    sums: dict[tuple[str, str, bool], list[int]] = {}

    def add(group: ReceivedGroup | None, sign: int) -> None:
        if group is None:
            return
        key = (group.department, group.category, group.withdrawn)
        values = astuple(group)[3:]
        total = sums.setdefault(key, [0] * len(values))
        for i, value in enumerate(values):
            total[i] += sign * value

    for group in groups:
        add(group, 1)
    closed_total, on_time = closed
    for now, then in changes:
        add(received_group(now, start, end, as_of, zone), -1)
        shares = [(-1, closed_share(now, start, end, zone))]
        if then is not None:
            add(received_group(then, start, end, as_of, zone), 1)
            shares.append((1, closed_share(then, start, end, zone)))
        for sign, (n, late_or_not) in shares:
            closed_total += sign * n
            on_time += sign * late_or_not
    result = [ReceivedGroup(*key, *values) for key, values in sums.items() if values[0]]
    return result, (closed_total, on_time)


def is_due_in(row: DigestRow, week: Week) -> bool:
    return week.start <= row.due_date <= week.end
