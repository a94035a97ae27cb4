"""SQL of the rectification task ledger (整改任务)."""

from __future__ import annotations

from datetime import datetime

from bot.rules.model import Attachment, Task, TaskReport, TaskState
from bot.rules.tasks import TaskRow
from storage import records
from storage.base import HOLD_TASK_LEDGER, Store

REPORTS = (
    "SELECT r.*, u.full_name AS author_name, u.role AS author_role,"
    " (SELECT COUNT(*) FROM task_attachments t WHERE t.report_id = r.id) AS files"
    " FROM task_reports r LEFT JOIN users u ON u.tg_id = r.author_id"
)


class TaskRepo(Store):
    async def hold_ledger(self) -> None:
        """Hold the ledger's 序号 until COMMIT: another import waits here until this one
        ends, then sees what it added (two imports at once never both add one 序号)."""
        await self._hold(HOLD_TASK_LEDGER, 0)

    async def existing_seqs(self) -> set[int]:
        """The 序号 the ledger has."""
        return {r["seq"] for r in await self._all("SELECT seq FROM tasks")}

    async def add(self, row: TaskRow, owner_id: int | None, now: datetime) -> int:
        return await self._insert(
            "INSERT INTO tasks (seq, aspect, problem, measures, leader_name, department_name,"
            " owner_name, owner_id, deadline, state, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.seq,
                row.aspect,
                row.problem,
                row.measures,
                row.leader_name,
                row.department_name,
                row.owner_name,
                owner_id,
                records.day(row.deadline),
                row.state,
                records.stamp(now),
                records.stamp(now),
            ),
        )

    async def all(self) -> list[Task]:
        return [records.task(r) for r in await self._all("SELECT * FROM tasks ORDER BY seq")]

    async def get(self, task_id: int) -> Task | None:
        row = await self._one("SELECT * FROM tasks WHERE id = ?", (task_id,))
        return records.task(row) if row else None

    async def by_seq(self, seq: int) -> Task | None:
        row = await self._one("SELECT * FROM tasks WHERE seq = ?", (seq,))
        return records.task(row) if row else None

    async def held_by(self, owner_id: int, department_name: str | None) -> list[Task]:
        """Tasks mapped to this official, and unmapped ones of the department they stand in for."""
        rows = await self._all(
            "SELECT * FROM tasks WHERE owner_id = :owner"
            " OR (owner_id IS NULL AND department_name = :dept) ORDER BY seq",
            {"owner": owner_id, "dept": department_name},
        )
        return [records.task(r) for r in rows]

    async def counts_by_state(self) -> dict[TaskState, int]:
        rows = await self._all("SELECT state, COUNT(*) AS n FROM tasks GROUP BY state")
        return {TaskState(r["state"]): r["n"] for r in rows}

    async def counts_by_state_at(self, end: datetime) -> dict[TaskState, int]:
        """Tasks by the state they were in at the moment `end` (the state the first change
        since left, else the state now), of those imported before it."""
        rows = await self._all(
            # the events since `end`, found by their time: numbered by the subject as an
            # expression (not the column, whose index SQLite would otherwise walk whole)
            "WITH later AS (SELECT subject, from_state,"  # noqa: S608 - a dialect fragment
            f" ROW_NUMBER() OVER (PARTITION BY {self.dialect.unindexed('subject')}"
            " ORDER BY id) AS nth FROM audit_events"
            " WHERE created_at >= :end AND subject LIKE 'task:%'"
            " AND from_state IN ('in_progress', 'close_requested', 'done', 'deemed_done'))"
            " SELECT COALESCE(l.from_state, t.state) AS state, COUNT(*) AS n FROM tasks t"
            " LEFT JOIN later l ON l.subject = 'task:' || t.id AND l.nth = 1"
            " WHERE t.created_at < :end GROUP BY 1",
            {"end": records.stamp(end)},
        )
        return {TaskState(r["state"]): r["n"] for r in rows}

    async def all_at(self, end: datetime) -> list[Task]:
        """The tasks imported before the moment `end`, each in the state it was in then
        (the state the first change since left, else the state now), by 序号."""
        rows = await self._all(
            "WITH later AS (SELECT subject, from_state,"  # noqa: S608 - a dialect fragment
            f" ROW_NUMBER() OVER (PARTITION BY {self.dialect.unindexed('subject')}"
            " ORDER BY id) AS nth FROM audit_events"
            " WHERE created_at >= :end AND subject LIKE 'task:%'"
            " AND from_state IN ('in_progress', 'close_requested', 'done', 'deemed_done'))"
            " SELECT t.id, t.seq, t.aspect, t.problem, t.measures, t.leader_name,"
            " t.department_name, t.owner_name, t.owner_id, t.deadline, t.version, t.updated_at,"
            " COALESCE(l.from_state, t.state) AS state FROM tasks t"
            " LEFT JOIN later l ON l.subject = 'task:' || t.id AND l.nth = 1"
            " WHERE t.created_at < :end ORDER BY t.seq",
            {"end": records.stamp(end)},
        )
        return [records.task(r) for r in rows]

    async def set_state(self, task_id: int, version: int, state: str, now: datetime) -> bool:
        changed = await self._changed(
            "UPDATE tasks SET state = ?, updated_at = ?, version = version + 1"
            " WHERE id = ? AND version = ?",
            (state, records.stamp(now), task_id, version),
        )
        return changed == 1

    async def set_owner(self, task_id: int, version: int, owner_id: int, now: datetime) -> bool:
        changed = await self._changed(
            "UPDATE tasks SET owner_id = ?, updated_at = ?, version = version + 1"
            " WHERE id = ? AND version = ?",
            (owner_id, records.stamp(now), task_id, version),
        )
        return changed == 1

    async def add_report(
        self, task_id: int, author_id: int, kind: str, text: str, now: datetime
    ) -> int:
        return await self._insert(
            "INSERT INTO task_reports (task_id, author_id, kind, text, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (task_id, author_id, kind, text, records.stamp(now)),
        )

    async def set_report_text(self, report_id: int, text: str) -> None:
        """A report's whole text, after one more part of it was typed (or one was edited)."""
        await self.conn.execute("UPDATE task_reports SET text = ? WHERE id = ?", (text, report_id))

    async def add_attachment(
        self, task_id: int, report_id: int | None, attachment: Attachment, now: datetime
    ) -> int:
        return await self._insert(
            "INSERT INTO task_attachments (task_id, report_id, kind, file_id, file_unique_id,"
            " file_name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                task_id,
                report_id,
                attachment.kind,
                attachment.file_id,
                attachment.file_unique_id,
                attachment.file_name,
                records.stamp(now),
            ),
        )

    async def file_ids_of(self, task_id: int, report_id: int | None) -> set[int]:
        """The stored ids of the files one report brought."""
        rows = await self._all(
            "SELECT id FROM task_attachments WHERE task_id = ?"
            " AND report_id IS NOT DISTINCT FROM ?",
            (task_id, report_id),
        )
        return {int(r["id"]) for r in rows}

    async def files(self, task_id: int, ids: list[int] | None = None) -> list[Attachment]:
        """A task's files in the order they came (`ids`: only these of them)."""
        rows = await self._all(
            "SELECT * FROM task_attachments WHERE task_id = ? ORDER BY id", (task_id,)
        )
        return [records.attachment(r) for r in rows if ids is None or r["id"] in ids]

    async def reports(self, task_id: int) -> list[TaskReport]:
        rows = await self._all(REPORTS + " WHERE r.task_id = ? ORDER BY r.id", (task_id,))
        return [records.task_report(r) for r in rows]

    async def all_reports(self) -> dict[int, list[TaskReport]]:
        """Every task's reports, by task, each list in order (one query for the ledger)."""
        by_task: dict[int, list[TaskReport]] = {}
        for row in await self._all(REPORTS + " ORDER BY r.task_id, r.id"):
            by_task.setdefault(row["task_id"], []).append(records.task_report(row))
        return by_task
