"""SQL statements of AppealDesk. Every value arrives as a parameter, never in the SQL text."""

from __future__ import annotations

from typing import Any

import aiosqlite

from storage.base import Row, Store
from storage.notices import NoticeStore
from storage.reports import ReportStore
from storage.tasks import TaskStore

APPEAL_UPDATABLE = frozenset(
    {
        "state",
        "department_id",
        "assignee_id",
        "owner_id",
        "claim_due_date",
        "due_date",
        "claimed_at",
        "closed_at",
        "resolution",
        "rating",
        "rating_due_date",
        "rated_at",
        "reopen_count",
    }
)


class Repo(Store):
    """Queries on one connection; the caller decides the transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        super().__init__(conn)
        self.notices = NoticeStore(conn)
        self.tasks = TaskStore(conn)
        self.reports = ReportStore(conn)

    # departments -----------------------------------------------------------
    async def upsert_department(self, code: str, name: str, chat_id: int | None) -> None:
        await self.conn.execute(
            "INSERT INTO departments (code, name, chat_id) VALUES (?, ?, ?) "
            "ON CONFLICT(code) DO UPDATE SET name = excluded.name, chat_id = excluded.chat_id",
            (code, name, chat_id),
        )

    async def departments(self) -> list[Row]:
        return await self._all("SELECT * FROM departments ORDER BY id")

    async def department(self, department_id: int) -> Row | None:
        return await self._one("SELECT * FROM departments WHERE id = ?", (department_id,))

    async def department_by_code(self, code: str) -> Row | None:
        return await self._one("SELECT * FROM departments WHERE code = ?", (code,))

    # users -------------------------------------------------------------------
    async def user(self, tg_id: int) -> Row | None:
        return await self._one("SELECT * FROM users WHERE tg_id = ?", (tg_id,))

    async def insert_user(
        self,
        tg_id: int,
        role: str,
        full_name: str,
        department_id: int | None,
        enterprise_id: int | None,
        now: str,
    ) -> None:
        await self.conn.execute(
            "INSERT INTO users (tg_id, role, full_name, department_id, enterprise_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (tg_id, role, full_name, department_id, enterprise_id, now),
        )

    async def set_staff_role(self, tg_id: int, role: str, department_id: int) -> None:
        await self.conn.execute(
            "UPDATE users SET role = ?, department_id = ? WHERE tg_id = ?",
            (role, department_id, tg_id),
        )

    async def staff_of_department(self, department_id: int) -> list[Row]:
        return await self._all(
            "SELECT * FROM users WHERE department_id = ? ORDER BY tg_id", (department_id,)
        )

    async def all_staff(self) -> list[Row]:
        return await self._all(
            "SELECT u.*, d.name AS department_name FROM users u"
            " JOIN departments d ON d.id = u.department_id"
            " WHERE u.role IN ('official', 'head') ORDER BY d.id, u.tg_id"
        )

    # enterprises ------------------------------------------------------------
    async def insert_enterprise(
        self, name: str, uscc: str, contact_name: str, phone: str, now: str
    ) -> int:
        return await self._insert(
            "INSERT INTO enterprises (name, uscc, contact_name, phone, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (name, uscc, contact_name, phone, now),
        )

    async def enterprise(self, enterprise_id: int) -> Row | None:
        return await self._one("SELECT * FROM enterprises WHERE id = ?", (enterprise_id,))

    async def enterprise_by_uscc(self, uscc: str) -> Row | None:
        return await self._one("SELECT * FROM enterprises WHERE uscc = ?", (uscc,))

    async def set_baobao(self, enterprise_id: int, official_id: int) -> None:
        await self.conn.execute(
            "UPDATE enterprises SET baobao_user_id = ? WHERE id = ?", (official_id, enterprise_id)
        )

    async def contacts_of_enterprise(self, enterprise_id: int) -> list[Row]:
        return await self._all(
            "SELECT * FROM users WHERE enterprise_id = ? ORDER BY tg_id", (enterprise_id,)
        )

    # invites ------------------------------------------------------------------
    async def insert_invite(
        self,
        code: str,
        department_id: int,
        is_head: bool,
        created_by: int,
        now: str,
        expires_at: str,
    ) -> None:
        await self.conn.execute(
            "INSERT INTO invites (code, department_id, is_head, created_by, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (code, department_id, int(is_head), created_by, now, expires_at),
        )

    async def invite(self, code: str) -> Row | None:
        return await self._one("SELECT * FROM invites WHERE code = ?", (code,))

    async def use_invite(self, code: str, tg_id: int, now: str) -> bool:
        """Mark an invite used; False when someone else used it first."""
        async with self.conn.execute(
            "UPDATE invites SET used_by = ?, used_at = ? WHERE code = ? AND used_by IS NULL",
            (tg_id, now, code),
        ) as cur:
            return cur.rowcount == 1

    # appeals ------------------------------------------------------------------
    async def next_appeal_seq(self, year: int) -> int:
        """Next number of the year; inside the filing transaction, so numbers have no gaps."""
        row = await self._one(
            "INSERT INTO appeal_counters (year, last_seq) VALUES (?, 1)"
            " ON CONFLICT(year) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq",
            (year,),
        )
        assert row is not None
        return int(row["last_seq"])

    async def insert_appeal(self, fields: Row) -> int:
        return await self._insert(
            "INSERT INTO appeals (number, enterprise_id, filed_by, category, description, state,"
            " department_id, assignee_id, claim_due_date, due_date, created_at)"
            " VALUES (:number, :enterprise_id, :filed_by, :category, :description, :state,"
            " :department_id, :assignee_id, :claim_due_date, :due_date, :created_at)",
            fields,
        )

    async def appeal(self, appeal_id: int) -> Row | None:
        return await self._one(APPEAL_SELECT + " WHERE a.id = ?", (appeal_id,))

    async def appeal_by_number(self, number: str) -> Row | None:
        return await self._one(APPEAL_SELECT + " WHERE a.number = ?", (number,))

    async def update_appeal(self, appeal_id: int, expected_version: int, **fields: Any) -> bool:
        """Change an appeal if nobody changed it since it was read; bumps its version."""
        unknown = set(fields) - APPEAL_UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        assignments = ", ".join(f"{name} = :{name}" for name in fields)
        async with self.conn.execute(
            f"UPDATE appeals SET {assignments}, version = version + 1"  # noqa: S608 - column names come from APPEAL_UPDATABLE
            " WHERE id = :appeal_id AND version = :expected_version",
            {**fields, "appeal_id": appeal_id, "expected_version": expected_version},
        ) as cur:
            return cur.rowcount == 1

    async def appeals_of_enterprise(self, enterprise_id: int, limit: int) -> list[Row]:
        return await self._all(
            APPEAL_SELECT + " WHERE a.enterprise_id = ? ORDER BY a.id DESC LIMIT ?",
            (enterprise_id, limit),
        )

    async def open_appeals(
        self, department_id: int | None, person_id: int | None, limit: int
    ) -> list[Row]:
        """Open appeals of a department or routed to / owned by a person; all when both None."""
        return await self._all(
            APPEAL_SELECT + " WHERE a.state IN ('pending', 'in_progress')"
            " AND (:all_open OR a.department_id = :dept"
            "      OR a.assignee_id = :person OR a.owner_id = :person)"
            " ORDER BY a.due_date, a.id LIMIT :limit",
            {
                "all_open": department_id is None and person_id is None,
                "dept": department_id,
                "person": person_id,
                "limit": limit,
            },
        )

    async def overdue_appeals(
        self, today: str, department_id: int | None, person_id: int | None, limit: int
    ) -> list[Row]:
        return await self._all(
            APPEAL_SELECT + " WHERE a.state IN ('pending', 'in_progress') AND a.due_date < :today"
            " AND (:all_open OR a.department_id = :dept"
            "      OR a.assignee_id = :person OR a.owner_id = :person)"
            " ORDER BY a.due_date, a.id LIMIT :limit",
            {
                "today": today,
                "all_open": department_id is None and person_id is None,
                "dept": department_id,
                "person": person_id,
                "limit": limit,
            },
        )

    # messages, attachments, audit ------------------------------------------------
    async def insert_message(
        self, appeal_id: int, author_id: int, kind: str, text: str, now: str
    ) -> int:
        return await self._insert(
            "INSERT INTO appeal_messages (appeal_id, author_id, kind, text, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (appeal_id, author_id, kind, text, now),
        )

    async def messages(self, appeal_id: int, kinds: tuple[str, ...]) -> list[Row]:
        marks = ", ".join("?" for _ in kinds)
        where = f"WHERE m.appeal_id = ? AND m.kind IN ({marks})"  # placeholders only
        return await self._all(
            "SELECT m.*, u.full_name AS author_name FROM appeal_messages m"  # noqa: S608
            " LEFT JOIN users u ON u.tg_id = m.author_id " + where + " ORDER BY m.id",
            (appeal_id, *kinds),
        )

    async def insert_attachment(
        self,
        appeal_id: int,
        message_id: int | None,
        kind: str,
        file_id: str,
        file_unique_id: str,
        file_name: str | None,
        now: str,
    ) -> None:
        await self.conn.execute(
            "INSERT INTO attachments (appeal_id, message_id, kind, file_id, file_unique_id,"
            " file_name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (appeal_id, message_id, kind, file_id, file_unique_id, file_name, now),
        )

    async def attachments(self, appeal_id: int) -> list[Row]:
        return await self._all(
            "SELECT * FROM attachments WHERE appeal_id = ? ORDER BY id", (appeal_id,)
        )

    async def insert_event(
        self,
        subject: str,
        appeal_id: int | None,
        actor_id: int | None,
        action: str,
        from_state: str | None,
        to_state: str | None,
        detail: str | None,
        now: str,
    ) -> None:
        await self.conn.execute(
            "INSERT INTO audit_events (subject, appeal_id, actor_id, action, from_state,"
            " to_state, detail, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (subject, appeal_id, actor_id, action, from_state, to_state, detail, now),
        )

    async def events(self, appeal_id: int) -> list[Row]:
        return await self._all(
            "SELECT e.*, u.full_name AS actor_name FROM audit_events e"
            " LEFT JOIN users u ON u.tg_id = e.actor_id WHERE e.appeal_id = ? ORDER BY e.id",
            (appeal_id,),
        )

    # extensions -------------------------------------------------------------------
    async def insert_extension(
        self, appeal_id: int, requested_by: int, old_due: str, new_due: str, reason: str, now: str
    ) -> int:
        return await self._insert(
            "INSERT INTO extensions (appeal_id, requested_by, old_due_date, new_due_date, reason,"
            " state, created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?)",
            (appeal_id, requested_by, old_due, new_due, reason, now),
        )

    async def extension(self, extension_id: int) -> Row | None:
        return await self._one(
            "SELECT x.*, u.full_name AS requested_by_name FROM extensions x"
            " LEFT JOIN users u ON u.tg_id = x.requested_by WHERE x.id = ?",
            (extension_id,),
        )

    async def pending_extension(self, appeal_id: int) -> Row | None:
        return await self._one(
            "SELECT * FROM extensions WHERE appeal_id = ? AND state = 'pending'", (appeal_id,)
        )

    async def decide_extension(self, extension_id: int, state: str, by: int, now: str) -> bool:
        async with self.conn.execute(
            "UPDATE extensions SET state = ?, decided_by = ?, decided_at = ?"
            " WHERE id = ? AND state = 'pending'",
            (state, by, now, extension_id),
        ) as cur:
            return cur.rowcount == 1

    # idempotency --------------------------------------------------------------------
    async def processed_update(self, update_id: int, actor_id: int, since: str) -> Row | None:
        return await self._one(
            "SELECT * FROM processed_updates"
            " WHERE update_id = ? AND actor_id = ? AND created_at >= ?",
            (update_id, actor_id, since),
        )

    async def record_update(
        self, update_id: int, actor_id: int, action: str, ref: int | None, now: str
    ) -> None:
        # Telegram may reuse an update id after a week of silence: a stale row is replaced.
        await self.conn.execute(
            "INSERT INTO processed_updates (update_id, actor_id, action, ref, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (update_id, actor_id) DO UPDATE SET"
            " action = excluded.action, ref = excluded.ref, created_at = excluded.created_at",
            (update_id, actor_id, action, ref, now),
        )


APPEAL_SELECT = (
    "SELECT a.*, e.name AS enterprise_name, e.uscc AS enterprise_uscc,"
    " e.contact_name AS enterprise_contact, e.phone AS enterprise_phone,"
    " d.code AS department_code, d.name AS department_name,"
    " o.full_name AS owner_name FROM appeals a"
    " JOIN enterprises e ON e.id = a.enterprise_id"
    " JOIN departments d ON d.id = a.department_id"
    " LEFT JOIN users o ON o.tg_id = a.owner_id"
)
