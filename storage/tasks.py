"""SQL of the rectification task ledger (整改任务)."""

from __future__ import annotations

from storage.base import Row, Store

TASK_COLUMNS = (
    "seq",
    "aspect",
    "problem",
    "measures",
    "leader_name",
    "department_name",
    "owner_name",
    "deadline",
    "state",
)


class TaskStore(Store):
    async def existing_seqs(self) -> set[int]:
        return {r["seq"] for r in await self._all("SELECT seq FROM tasks")}

    async def insert(self, task: Row, now: str) -> int:
        return await self._insert(
            "INSERT INTO tasks (seq, aspect, problem, measures, leader_name, department_name,"
            " owner_name, deadline, state, created_at, updated_at) VALUES (:seq, :aspect,"
            " :problem, :measures, :leader_name, :department_name, :owner_name, :deadline,"
            " :state, :now, :now)",
            {**{c: task[c] for c in TASK_COLUMNS}, "now": now},
        )

    async def all(self) -> list[Row]:
        return await self._all("SELECT * FROM tasks ORDER BY seq")

    async def get(self, task_id: int) -> Row | None:
        return await self._one("SELECT * FROM tasks WHERE id = ?", (task_id,))

    async def of_owner(self, owner_name: str) -> list[Row]:
        return await self._all(
            "SELECT * FROM tasks WHERE owner_name = ? ORDER BY seq", (owner_name,)
        )

    async def counts_by_state(self) -> dict[str, int]:
        rows = await self._all("SELECT state, COUNT(*) AS n FROM tasks GROUP BY state")
        return {r["state"]: r["n"] for r in rows}

    async def set_state(self, task_id: int, version: int, state: str, now: str) -> bool:
        async with self.conn.execute(
            "UPDATE tasks SET state = ?, updated_at = ?, version = version + 1"
            " WHERE id = ? AND version = ?",
            (state, now, task_id, version),
        ) as cur:
            return cur.rowcount == 1

    async def insert_report(
        self, task_id: int, author_id: int, kind: str, text: str, now: str
    ) -> int:
        return await self._insert(
            "INSERT INTO task_reports (task_id, author_id, kind, text, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (task_id, author_id, kind, text, now),
        )

    async def insert_attachment(
        self,
        task_id: int,
        report_id: int,
        kind: str,
        file_id: str,
        file_unique_id: str,
        file_name: str | None,
        now: str,
    ) -> None:
        await self.conn.execute(
            "INSERT INTO task_attachments (task_id, report_id, kind, file_id, file_unique_id,"
            " file_name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (task_id, report_id, kind, file_id, file_unique_id, file_name, now),
        )

    async def reports(self, task_id: int) -> list[Row]:
        return await self._all(
            "SELECT r.*, u.full_name AS author_name,"
            " (SELECT COUNT(*) FROM task_attachments t WHERE t.report_id = r.id) AS files"
            " FROM task_reports r LEFT JOIN users u ON u.tg_id = r.author_id"
            " WHERE r.task_id = ? ORDER BY r.id",
            (task_id,),
        )

    async def staff_named(self, full_name: str) -> list[Row]:
        return await self._all(
            "SELECT * FROM users WHERE full_name = ? AND role IN ('official', 'head')",
            (full_name,),
        )
