"""Reading the rectification ledger: browsing it by state a page at a time, and a task's
history (every event of every kind, with its author) as the ledger and the card show it.

Pure: the use cases pass tasks, progress reports and audit events in; the chat layer and
the spreadsheet word what comes out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from bot.rules.model import Event, Task, TaskAction, TaskReport, TaskState
from bot.rules.names import visible_name
from bot.rules.workflow import TASK_VERSION_EVENTS

PAGE_SIZE = 10  # items on one page of the ledger in chat

# A task is overdue (已逾期) once its 整改时限 has passed while it is still being worked on
# or its 销号 awaits a decision. The 时限 (imported as a date) is the last day allowed: the
# day after it, the task is one day late. 已完成，同意销号 is done; 视同完成，持续整改 is a
# leader's decision that the task counts as done (it is then chased monthly for progress,
# not by its 时限), so neither is ever overdue.
OVERDUE_STATES = frozenset({TaskState.IN_PROGRESS, TaskState.CLOSE_REQUESTED})


def overdue_days(task: Task, today: date) -> int:
    """How many calendar days the task is past its 整改时限 on `today`; 0: not overdue."""
    if task.state not in OVERDUE_STATES:
        return 0
    return max(0, (today - task.deadline).days)


def is_overdue(task: Task, today: date) -> bool:
    return overdue_days(task, today) > 0


def overdue_tasks(tasks: Sequence[Task], today: date) -> list[tuple[Task, int]]:
    """The overdue tasks with their days late, the longest overdue first (then by 序号)."""
    late = [(task, overdue_days(task, today)) for task in tasks]
    return sorted(((t, d) for t, d in late if d), key=lambda pair: (-pair[1], pair[0].seq))


class TaskFilter(StrEnum):
    """What a page of the ledger lists: everything, one state, or the tasks still waiting
    for a leader to name their 责任人. The values travel in callback data."""

    ALL = "all"
    OPEN = "open"  # not yet 已完成，同意销号: what is still being worked on or decided
    IN_PROGRESS = TaskState.IN_PROGRESS.value
    CLOSE_REQUESTED = TaskState.CLOSE_REQUESTED.value
    DONE = TaskState.DONE.value
    DEEMED_DONE = TaskState.DEEMED_DONE.value
    OVERDUE = "overdue"  # past its 整改时限 and not done (is_overdue)
    UNMAPPED = "unmapped"


def matches(task: Task, kind: TaskFilter, today: date = date.min) -> bool:
    """Whether `kind` lists the task (on `today`: which are overdue; none by default)."""
    if kind is TaskFilter.ALL:
        return True
    if kind is TaskFilter.OVERDUE:
        return is_overdue(task, today)
    if kind is TaskFilter.UNMAPPED:
        return task.owner_id is None
    if kind is TaskFilter.OPEN:
        return task.state is not TaskState.DONE
    return task.state.value == kind.value


class Order(StrEnum):
    """How a page is ordered: by 序号 (the ledger as leaders know it), or the nearest
    deadline first (an official's own tasks). Both keys never change, so a page turned
    from an old button neither repeats nor skips an item."""

    SEQ = "seq"
    DEADLINE = "deadline"


def _key(order: Order) -> Callable[[Task], tuple]:
    if order is Order.SEQ:
        return lambda task: (task.seq,)
    return lambda task: (task.deadline, task.seq)


def first_view(tasks: Sequence[Task], leader: bool) -> tuple[TaskFilter, Order]:
    """What /tasks shows first: leaders the whole ledger by 序号; anybody else their tasks
    by the nearest deadline, those not yet 销号 when some are and some are not."""
    if leader:
        return TaskFilter.ALL, Order.SEQ
    done = sum(1 for task in tasks if task.state is TaskState.DONE)
    return (TaskFilter.OPEN if 0 < done < len(tasks) else TaskFilter.ALL), Order.DEADLINE


def offered_filters(counts: dict[TaskFilter, int], current: TaskFilter) -> list[TaskFilter]:
    """The states worth a button: 全部, and each that holds something and is not the same
    list as another (未销号 when it is neither everything nor one state). None at all when
    everything is in one state and there is nothing to choose."""
    states = [k for k in TaskFilter if k.value in set(TaskState) and counts[k]]
    both = counts[TaskFilter.OPEN]
    open_differs = 0 < both < counts[TaskFilter.ALL] and all(counts[k] != both for k in states)
    alone = not counts[TaskFilter.UNMAPPED] and not counts[TaskFilter.OVERDUE]
    if len(states) < 2 and alone and current is TaskFilter.ALL:
        return []
    return [
        k
        for k in TaskFilter
        if k is TaskFilter.ALL
        or k is current
        or (k is TaskFilter.OPEN and open_differs)
        or (k is not TaskFilter.OPEN and counts[k])
    ]


class Turn(StrEnum):
    """A paging button: the page after (NEXT) or before (PREVIOUS) a 序号."""

    NEXT = "n"
    PREVIOUS = "p"


@dataclass(frozen=True)
class Cursor:
    """Where a paging button points: after or before the item (by 序号) at the edge of the
    page it was under. Its place in the order never changes, so the button means the same
    whatever changed since: no item is shown twice or skipped because another changed."""

    turn: Turn
    seq: int


@dataclass(frozen=True)
class TaskPage:
    kind: TaskFilter
    tasks: list[Task]  # this page, in 序号 order
    counts: dict[TaskFilter, int]  # every filter's count over the actor's whole scope
    before: int  # items of the filter before this page
    moved: bool  # the page the button pointed at is empty now: the nearest one is shown
    size: int = PAGE_SIZE
    today: date = date.min  # the day the page was made: which of its tasks are overdue

    @property
    def total(self) -> int:
        return self.counts[self.kind]

    @property
    def number(self) -> int:
        """This page's number (1-based), counted from the items before it."""
        return -(-(self.before + len(self.tasks)) // self.size) if self.tasks else 1

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.before > 0

    @property
    def has_next(self) -> bool:
        return self.before + len(self.tasks) < self.total


def page_of(
    tasks: Sequence[Task],
    kind: TaskFilter,
    cursor: Cursor | None,
    size: int = PAGE_SIZE,
    order: Order = Order.SEQ,
    today: date = date.min,
) -> TaskPage:
    """The page of `kind` a button points at. No cursor: the first page. A page that has
    emptied since the button was made (its items changed state) gives the last page, and
    a button whose item is no longer in the person's scope the first; both marked `moved`.
    `today` (the clock's) decides which are overdue."""
    counts = {k: sum(1 for task in tasks if matches(task, k, today)) for k in TaskFilter}
    key = _key(order)
    chosen = sorted((task for task in tasks if matches(task, kind, today)), key=key)
    edge: tuple | None = None
    if cursor is not None:
        found = [task for task in tasks if task.seq == cursor.seq]
        edge = key(found[0]) if found else (cursor.seq,) if order is Order.SEQ else None
    moved = False
    if cursor is None:
        start = 0
    elif edge is None:  # the item has left the person's scope: its place is unknown
        start, moved = 0, True
    elif cursor.turn is Turn.NEXT:
        start = sum(1 for task in chosen if key(task) <= edge)
    else:
        # the items just before; near the top, the first page whole
        start = max(0, sum(1 for task in chosen if key(task) < edge) - size)
    if start >= len(chosen) > 0:  # past the end now: the last page
        start, moved = (len(chosen) - 1) // size * size, True
    return TaskPage(kind, chosen[start : start + size], counts, start, moved, size, today)


# A task's history ----------------------------------------------------------------------

IMPORT, ASSIGN = "task_import", "task_assign"
# More of a report (or 销号 request) sent, or a part of it edited: the event records the
# report's whole text after it (the report row holds the same); no entry of its own.
AMEND = "task_amend"


def event_kind(action: TaskAction) -> str:
    """The audit action recorded for a task action (task_report, task_approve, …)."""
    return f"task_{action}"


# Every event kind of a task and the ledger column it is written in (None: none — the
# import is the row itself). A task action missing here fails the table test.
EVENT_COLUMNS: dict[str, str | None] = {
    IMPORT: None,
    event_kind(TaskAction.REPORT): "progress",
    event_kind(TaskAction.REQUEST_CLOSE): "decisions",
    event_kind(TaskAction.APPROVE): "decisions",
    event_kind(TaskAction.DEEM): "decisions",
    event_kind(TaskAction.SEND_BACK): "decisions",
    ASSIGN: "owners",
}
HISTORY_COLUMNS = ("progress", "decisions", "owners")  # in the ledger's order
# Kinds whose text is stored as a progress report (or a decision) beside the event.
WITH_REPORT = frozenset(
    event_kind(a) for a in (TaskAction.REPORT, TaskAction.REQUEST_CLOSE, TaskAction.SEND_BACK)
)


@dataclass(frozen=True)
class TaskEntry:
    """One event of a task as people read it: what, who, when, what was written."""

    kind: str  # an EVENT_COLUMNS key
    author_id: int | None
    author_name: str | None  # None: nobody known by name (a leader before names were kept)
    text: str
    files: int
    created_at: datetime
    official_id: int | None = None  # task_assign: the 责任人 named
    official_name: str | None = None  # their name, as the use case finds it
    author_role: str | None = None  # a stored author's role (None: a leader)


def event_author(event: Event) -> str | None:
    """The name recorded with the event (leaders are known only so), else the account's;
    a name with nothing visible in it is none."""
    return visible_name(event.detail.get("by")) or event.actor_name


def _written_with(report: TaskReport, events: Sequence[Event]) -> Event | None:
    """The event a report was written with: the one naming it; for events written before
    they named their report, the first by the same person at the same moment."""
    named = [e for e in events if e.detail.get("report") == report.id]
    if named:
        return named[0]
    return next(
        (
            e
            for e in events
            if "report" not in e.detail
            and e.action in WITH_REPORT
            and e.actor_id == report.author_id
            and e.created_at == report.created_at
        ),
        None,
    )


def history(reports: Sequence[TaskReport], events: Sequence[Event]) -> list[TaskEntry]:
    """Every event of one task in the order it happened. A report's text and files come
    from its report, its kind and author from the event written with it; a report without
    one (more text added to a report) is progress, after the report before it."""
    events = [e for e in events if e.action != AMEND]  # folded into their report
    used: set[int] = set()
    keyed: list[tuple[tuple[int, int], TaskEntry]] = []
    last = (0, 0)
    for report in reports:
        event = _written_with(report, [e for e in events if e.id not in used])
        if event is not None:
            used.add(event.id)
            kind, name, last = (
                event.action,
                event_author(event) or report.author_name,
                (event.id, 0),
            )
        else:
            kind = event_kind(
                TaskAction.REPORT if report.kind == "progress" else TaskAction.SEND_BACK
            )
            name, last = report.author_name, (last[0], last[1] + 1)
        entry = TaskEntry(
            kind,
            report.author_id,
            name,
            report.text,
            report.files,
            report.created_at,
            author_role=report.author_role,
        )
        keyed.append((last, entry))
    for event in events:
        if event.id in used:
            continue
        official = int(event.to_state) if event.action == ASSIGN and event.to_state else None
        entry = TaskEntry(
            event.action,
            event.actor_id,
            event_author(event),
            str(event.detail.get("text") or ""),
            0,
            event.created_at,
            official,
            author_role=event.actor_role,
        )
        keyed.append(((event.id, 0), entry))
    return [entry for _, entry in sorted(keyed, key=lambda pair: pair[0])]


def closed_by(report: TaskReport, events: Sequence[Event]) -> Event | None:
    """What closed a report (or 销号 request) to more parts and edits: a change of the task
    (a decision — 同意销号, 视同完成, 退回 —, a 销号 request, another 责任人) after the event
    it was written with, the latest one (what the task is now); None while nothing moved
    the task since."""
    own = event_written_with(report, events)
    moved = [
        e
        for e in events
        if e.action in TASK_VERSION_EVENTS
        and (e.id > own.id if own is not None else e.created_at > report.created_at)
    ]
    return moved[-1] if moved else None


def event_written_with(report: TaskReport, events: Sequence[Event]) -> Event | None:
    """The event a report (or 销号 request) was made with (task_report, task_request_close…)."""
    return _written_with(report, [e for e in events if e.action != AMEND])


def column_of(kind: str) -> str | None:
    """The ledger column of an event kind; a kind not declared is progress (never lost)."""
    return EVENT_COLUMNS.get(kind, "progress")
