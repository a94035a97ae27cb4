"""Rectification tasks (整改任务): states, import validation and the ledger's use cases."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from bot.desk import Desk, clean_text
from bot.errors import AppealNotFound, DomainError, InvalidTransition, NotAllowed, StaleAction
from bot.model import Actor, Attachment, Role
from bot.task_files import HEADERS


class TaskState(StrEnum):
    IN_PROGRESS = "in_progress"
    CLOSE_REQUESTED = "close_requested"
    DONE = "done"
    DEEMED_DONE = "deemed_done"


STATE_LABELS = {
    TaskState.IN_PROGRESS: "整改中",
    TaskState.CLOSE_REQUESTED: "申请销号",
    TaskState.DONE: "已完成，同意销号",
    TaskState.DEEMED_DONE: "视同完成，持续整改",
}
STATES_BY_LABEL = {label: state for state, label in STATE_LABELS.items()} | {
    "已完成": TaskState.DONE,
    "同意销号": TaskState.DONE,
    "视同完成": TaskState.DEEMED_DONE,
}


class TaskAction(StrEnum):
    REPORT = "report"
    REQUEST_CLOSE = "request_close"
    APPROVE = "approve"
    DEEM = "deem"
    SEND_BACK = "send_back"


OWNER, LEADER = "owner", "leader"
# (state, action) → (next state, who may): the task workflow as data.
TASK_TRANSITIONS: dict[tuple[TaskState, TaskAction], tuple[TaskState, str]] = {
    (TaskState.IN_PROGRESS, TaskAction.REPORT): (TaskState.IN_PROGRESS, OWNER),
    (TaskState.IN_PROGRESS, TaskAction.REQUEST_CLOSE): (TaskState.CLOSE_REQUESTED, OWNER),
    (TaskState.DEEMED_DONE, TaskAction.REPORT): (TaskState.DEEMED_DONE, OWNER),
    (TaskState.CLOSE_REQUESTED, TaskAction.APPROVE): (TaskState.DONE, LEADER),
    (TaskState.CLOSE_REQUESTED, TaskAction.DEEM): (TaskState.DEEMED_DONE, LEADER),
    (TaskState.CLOSE_REQUESTED, TaskAction.SEND_BACK): (TaskState.IN_PROGRESS, LEADER),
    (TaskState.DEEMED_DONE, TaskAction.APPROVE): (TaskState.DONE, LEADER),
}

DATE_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
FIELD_LIMITS = {
    "方面": 60,
    "问题": 1000,
    "整改措施": 2000,
    "责任领导": 40,
    "责任科室": 40,
    "责任人": 40,
}


class TaskNotFound(AppealNotFound):
    key = "error_task_not_found"


class TaskStale(StaleAction):
    key = "error_task_stale"


class TaskWrongState(InvalidTransition):
    key = "error_task_wrong_state"


class TaskImportError(DomainError):
    """A file that cannot be imported as a whole; `problems` are (row number, message)."""

    key = "error_task_import"

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__(count=len(problems))
        self.problems = problems


@dataclass(frozen=True)
class TaskView:
    task: dict[str, Any]
    reports: list[dict[str, Any]]
    actions: list[TaskAction]


@dataclass(frozen=True)
class TaskOutcome:
    task: dict[str, Any]
    notify: list[int] = field(default_factory=list)
    text: str | None = None


def parse_deadline(text: str) -> date:
    match = DATE_RE.match(text.strip())
    if not match:
        raise ValueError(text)
    return date(int(match[1]), int(match[2]), int(match[3]))


def validate_table(rows: list[list[str]], existing_seqs: set[int]) -> list[dict[str, Any]]:
    """Every row checked; any problem rejects the whole file, each named by its row number."""
    if not rows:
        raise TaskImportError([(1, "文件为空")])
    header = [h.strip() for h in rows[0]]
    missing = [h for h in HEADERS if h not in header]
    if missing:
        raise TaskImportError([(1, "缺少列：" + "、".join(missing))])
    index = {name: header.index(name) for name in HEADERS}
    problems: list[tuple[int, str]] = []
    tasks: list[dict[str, Any]] = []
    seen: set[int] = set()
    for number, raw in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in raw):
            continue  # blank lines at the end of a sheet
        cells = {name: (raw[i].strip() if i < len(raw) else "") for name, i in index.items()}
        row_problems = []
        try:
            seq = int(cells["序号"])
            if seq <= 0:
                raise ValueError
        except ValueError:
            row_problems.append(f"序号“{cells['序号']}”不是正整数")
            seq = 0
        if seq and (seq in seen or seq in existing_seqs):
            row_problems.append(f"序号 {seq} 重复")
        seen.add(seq)
        for name, limit in FIELD_LIMITS.items():
            if not cells[name]:
                row_problems.append(f"“{name}”为空")
            elif len(cells[name]) > limit:
                row_problems.append(f"“{name}”超过 {limit} 字")
        try:
            deadline = parse_deadline(cells["整改时限"]).isoformat()
        except ValueError:
            row_problems.append(f"整改时限“{cells['整改时限']}”不是日期（如 2024-09-30）")
            deadline = ""
        state = STATES_BY_LABEL.get(cells["状态"]) if cells["状态"] else TaskState.IN_PROGRESS
        if state is None:
            row_problems.append(f"状态“{cells['状态']}”无法识别")
        if row_problems:
            problems.extend((number, p) for p in row_problems)
            continue
        tasks.append(
            {
                "seq": seq,
                "aspect": cells["方面"],
                "problem": cells["问题"],
                "measures": cells["整改措施"],
                "leader_name": cells["责任领导"],
                "department_name": cells["责任科室"],
                "owner_name": cells["责任人"],
                "deadline": deadline,
                "state": state,
            }
        )
    if problems:
        raise TaskImportError(problems)
    if not tasks:
        raise TaskImportError([(2, "没有任何任务行")])
    return tasks


def ledger_rows(tasks: list[dict[str, Any]]) -> list[list[object]]:
    """Tasks as rows under HEADERS, for export."""
    return [
        [
            t["seq"],
            t["aspect"],
            t["problem"],
            t["measures"],
            t["leader_name"],
            t["department_name"],
            t["owner_name"],
            t["deadline"],
            STATE_LABELS[TaskState(t["state"])],
        ]
        for t in tasks
    ]


class TaskLedger:
    """Use cases of the rectification ledger."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def _stamp(self) -> str:
        return self.desk.now().isoformat(timespec="seconds")

    def _require_leader(self, actor: Actor | None) -> None:
        if actor is not None and actor.role is not Role.ADMIN:
            raise NotAllowed()

    async def import_table(self, actor: Actor | None, rows: list[list[str]]) -> int:
        """Import a whole table (actor None: the command line). Nothing on any bad row."""
        self._require_leader(actor)
        now = self._stamp()
        async with self.desk.db.transaction() as repo:
            tasks = validate_table(rows, await repo.tasks.existing_seqs())
            for task in tasks:
                task_id = await repo.tasks.insert(task, now)
                await repo.insert_event(
                    f"task:{task_id}",
                    None,
                    actor.tg_id if actor else None,
                    "task_import",
                    None,
                    task["state"],
                    f"第{task['seq']}项 {task['owner_name']} {task['deadline']}",
                    now,
                )
        return len(tasks)

    async def export_rows(self, actor: Actor | None) -> list[list[object]]:
        self._require_leader(actor)
        async with self.desk.db.reading() as repo:
            return ledger_rows(await repo.tasks.all())

    async def summary(self, actor: Actor) -> dict[TaskState, int]:
        if actor.role is not Role.ADMIN and not actor.is_staff:
            raise NotAllowed()
        async with self.desk.db.reading() as repo:
            counts = await repo.tasks.counts_by_state()
        return {state: counts.get(state, 0) for state in TaskState}

    async def tasks_for(self, actor: Actor) -> list[dict[str, Any]]:
        """Leaders see the whole ledger; officials the tasks they are responsible for."""
        async with self.desk.db.reading() as repo:
            if actor.role is Role.ADMIN:
                return await repo.tasks.all()
            if actor.is_staff:
                return await repo.tasks.of_owner(actor.name)
        raise NotAllowed()

    def _relation(self, actor: Actor, task: dict[str, Any]) -> str | None:
        if actor.role is Role.ADMIN:
            return LEADER
        if actor.is_staff and task["owner_name"] == actor.name:
            return OWNER
        return None

    def allowed(self, actor: Actor, task: dict[str, Any]) -> list[TaskAction]:
        relation = self._relation(actor, task)
        state = TaskState(task["state"])
        return [
            a for (s, a), (_, who) in TASK_TRANSITIONS.items() if s == state and who == relation
        ]

    async def _visible(self, repo: Any, actor: Actor, task_id: int) -> dict[str, Any]:
        task = await repo.tasks.get(task_id)
        if task is None or self._relation(actor, task) is None:
            raise TaskNotFound()
        return task

    async def view(self, actor: Actor, task_id: int) -> TaskView:
        async with self.desk.db.reading() as repo:
            task = await self._visible(repo, actor, task_id)
            reports = await repo.tasks.reports(task_id)
        return TaskView(task, reports, self.allowed(actor, task))

    async def preflight(self, actor: Actor, task_id: int, action: TaskAction, version: int) -> dict:
        async with self.desk.db.reading() as repo:
            task = await self._visible(repo, actor, task_id)
        self._check(actor, task, action, version)
        return task

    def _check(self, actor: Actor, task: dict[str, Any], action: TaskAction, version: int) -> None:
        if action is not TaskAction.REPORT and version != task["version"]:
            raise TaskStale(seq=task["seq"])
        row = TASK_TRANSITIONS.get((TaskState(task["state"]), action))
        if row is None:
            raise TaskWrongState(seq=task["seq"], label=STATE_LABELS[TaskState(task["state"])])
        if row[1] != self._relation(actor, task):
            raise NotAllowed()

    async def act(
        self,
        actor: Actor,
        task_id: int,
        action: TaskAction,
        version: int,
        text: str | None,
        attachments: list[Attachment] = (),
    ) -> TaskOutcome:
        """Report, request 销号, or (leaders) approve / deem done / send back."""
        if text is not None:
            text = clean_text(
                text, "reason" if action is TaskAction.SEND_BACK else "report", 1, 2000
            )
        now = self._stamp()
        async with self.desk.db.transaction() as repo:
            task = await self._visible(repo, actor, task_id)
            self._check(actor, task, action, version)
            target, _ = TASK_TRANSITIONS[(TaskState(task["state"]), action)]
            report_id = None
            if text is not None:
                kind = (
                    "progress"
                    if action in (TaskAction.REPORT, TaskAction.REQUEST_CLOSE)
                    else "decision"
                )
                report_id = await repo.tasks.insert_report(task_id, actor.tg_id, kind, text, now)
            for att in attachments:
                await repo.tasks.insert_attachment(
                    task_id,
                    report_id,
                    att.kind,
                    att.file_id,
                    att.file_unique_id,
                    att.file_name,
                    now,
                )
            if target != task["state"]:
                if not await repo.tasks.set_state(task_id, task["version"], target, now):
                    raise TaskStale(seq=task["seq"])
            await repo.insert_event(
                f"task:{task_id}",
                None,
                actor.tg_id,
                f"task_{action}",
                task["state"],
                target,
                text,
                now,
            )
            after = await repo.tasks.get(task_id)
            if action is TaskAction.REQUEST_CLOSE:
                notify = sorted(self.desk.admin_ids)
            elif action in (TaskAction.APPROVE, TaskAction.DEEM, TaskAction.SEND_BACK):
                notify = [u["tg_id"] for u in await repo.tasks.staff_named(task["owner_name"])]
            else:
                notify = []
        return TaskOutcome(after, notify, text)

    async def add_attachment(self, actor: Actor, task_id: int, attachment: Attachment) -> None:
        """A file sent after a progress report joins that report."""
        now = self._stamp()
        async with self.desk.db.transaction() as repo:
            task = await self._visible(repo, actor, task_id)
            reports = await repo.tasks.reports(task_id)
            mine = [r for r in reports if r["author_id"] == actor.tg_id]
            if self._relation(actor, task) != OWNER or not mine:
                raise NotAllowed()
            await repo.tasks.insert_attachment(
                task_id,
                mine[-1]["id"],
                attachment.kind,
                attachment.file_id,
                attachment.file_unique_id,
                attachment.file_name,
                now,
            )
