"""SQL of appeals, their messages, attachments, audit events and extensions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from bot.rules.model import (
    Appeal,
    Attachment,
    Event,
    Extension,
    ExtensionState,
    Message,
    MessageKind,
    State,
)
from storage import records
from storage.base import Store, placeholders

APPEAL_FIELDS = (
    "SELECT a.*, e.name AS enterprise_name, e.uscc AS uscc, d.code AS department_code,"
    " d.name AS department_name, o.full_name AS owner_name"
)
APPEAL_FROM = (
    " FROM appeals a"
    " JOIN enterprises e ON e.id = a.enterprise_id"
    " JOIN departments d ON d.id = a.department_id"
    " LEFT JOIN users o ON o.tg_id = a.owner_id"
)
APPEAL_SELECT = APPEAL_FIELDS + APPEAL_FROM
OPEN_SCOPE = (
    " WHERE a.state IN ('pending', 'in_progress')"
    " AND (:all_open OR a.department_id = :dept OR a.assignee_id = :person"
    "      OR a.owner_id = :person)"
)


class AppealRepo(Store):
    async def hold(self, appeal_id: int) -> None:
        """Hold the appeal's row until COMMIT, before reading it for a check a later write
        relies on (no extension pending, the state it is in): a change committed meanwhile
        (a close, a transfer, another request) is seen, one under way is waited for.
        SQLite's one writer does this already."""
        if lock := self.dialect.lock_row():
            await self._one("SELECT id FROM appeals WHERE id = ?" + lock, (appeal_id,))  # noqa: S608 (a dialect fragment)

    async def next_seq(self, year: int) -> int:
        """Next number of the year; inside the filing transaction, so numbers have no gaps.

        Gap-free on every backend without a global lock: the upsert takes the year's counter
        row for writing (SQLite: the database's write lock; PostgreSQL: the row's lock) and
        holds it until COMMIT, so filings of one year are numbered one after the other; a
        rollback undoes the increment with the rest, so no number is lost (a SEQUENCE would
        lose one). Call it last in the filing, right before COMMIT (`set_number`), so the
        lock is held for two statements, not for the filing's other round trips.
        """
        row = await self._one(
            "INSERT INTO appeal_counters (year, last_seq) VALUES (?, 1)"
            " ON CONFLICT(year) DO UPDATE SET last_seq = appeal_counters.last_seq + 1"
            " RETURNING last_seq",
            (year,),
        )
        assert row is not None
        return int(row["last_seq"])

    async def set_number(self, appeal_id: int, number: str) -> None:
        """Give a filed appeal (added with a stand-in) its number, in the filing's
        transaction: nobody else ever sees the stand-in."""
        await self.conn.execute("UPDATE appeals SET number = ? WHERE id = ?", (number, appeal_id))

    async def add(
        self,
        *,
        number: str,
        enterprise_id: int,
        filed_by: int,
        category: str,
        description: str,
        state: State,
        department_id: int,
        assignee_id: int | None,
        claim_due_date: date,
        due_date: date,
        created_at: datetime,
    ) -> int:
        return await self._insert(
            "INSERT INTO appeals (number, enterprise_id, filed_by, category, description, state,"
            " department_id, assignee_id, claim_due_date, due_date, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                number,
                enterprise_id,
                filed_by,
                category,
                description,
                state.value,
                department_id,
                assignee_id,
                records.day(claim_due_date),
                records.day(due_date),
                records.stamp(created_at),
            ),
        )

    async def get(self, appeal_id: int) -> Appeal | None:
        row = await self._one(APPEAL_SELECT + " WHERE a.id = ?", (appeal_id,))
        return records.appeal(row) if row else None

    async def by_number(self, number: str) -> Appeal | None:
        row = await self._one(APPEAL_SELECT + " WHERE a.number = ?", (number,))
        return records.appeal(row) if row else None

    async def same_text_since(
        self, enterprise_id: int, description: str, since: datetime
    ) -> Appeal | None:
        """The enterprise's latest appeal with exactly this text, filed since `since`."""
        row = await self._one(
            APPEAL_SELECT + " WHERE a.enterprise_id = ? AND a.description = ?"
            " AND a.created_at >= ? ORDER BY a.id DESC LIMIT 1",
            (enterprise_id, description, records.stamp(since)),
        )
        return records.appeal(row) if row else None

    async def save(self, new: Appeal, expected_version: int) -> bool:
        """Write what a workflow step may change of an appeal (state, routing, owner, dates,
        resolution, rating) from `new`, if nobody changed it since it was read at
        `expected_version`; bumps its version. False, and nothing written, when it was."""
        changed = await self._changed(
            "UPDATE appeals SET state = :state, department_id = :department_id,"
            " assignee_id = :assignee_id, owner_id = :owner_id,"
            " claim_due_date = :claim_due_date, due_date = :due_date,"
            " claimed_at = :claimed_at, closed_at = :closed_at, resolution = :resolution,"
            " rating = :rating, rating_due_date = :rating_due_date, rated_at = :rated_at,"
            " reopen_count = :reopen_count, version = version + 1"
            " WHERE id = :id AND version = :expected_version",
            {
                "state": new.state.value,
                "department_id": new.department_id,
                "assignee_id": new.assignee_id,
                "owner_id": new.owner_id,
                "claim_due_date": records.day(new.claim_due_date),
                "due_date": records.day(new.due_date),
                "claimed_at": records.to_db(new.claimed_at),
                "closed_at": records.to_db(new.closed_at),
                "resolution": new.resolution,
                "rating": new.rating.value if new.rating else None,
                "rating_due_date": records.to_db(new.rating_due_date),
                "rated_at": records.to_db(new.rated_at),
                "reopen_count": new.reopen_count,
                "id": new.id,
                "expected_version": expected_version,
            },
        )
        return changed == 1

    async def of_enterprise(self, enterprise_id: int, limit: int) -> list[Appeal]:
        rows = await self._all(
            APPEAL_SELECT + " WHERE a.enterprise_id = ? ORDER BY a.id DESC LIMIT ?",
            (enterprise_id, limit),
        )
        return [records.appeal(r) for r in rows]

    async def count_of_enterprise(self, enterprise_id: int) -> int:
        row = await self._one(
            "SELECT COUNT(*) AS n FROM appeals a WHERE a.enterprise_id = ?", (enterprise_id,)
        )
        return row["n"]

    async def open_count(
        self, department_id: int | None, person_id: int | None, overdue_on: date | None = None
    ) -> int:
        """How many appeals `open_list` (or, given a day, `overdue_list`) would list unlimited."""
        # the day's clause only when a day is given: no NULL parameter to compare
        overdue = " AND a.due_date < :today" if overdue_on else ""
        row = await self._one(
            "SELECT COUNT(*) AS n FROM appeals a" + OPEN_SCOPE + overdue,  # noqa: S608 - constant clauses
            {
                "today": records.day(overdue_on) if overdue_on else None,
                "all_open": department_id is None and person_id is None,
                "dept": department_id,
                "person": person_id,
            },
        )
        return row["n"]

    async def open_list(
        self, department_id: int | None, person_id: int | None, limit: int
    ) -> list[Appeal]:
        """Open appeals of a department or routed to / owned by a person; all when both None."""
        rows = await self._all(
            APPEAL_SELECT + OPEN_SCOPE + " ORDER BY a.due_date, a.id LIMIT :limit",
            {
                "all_open": department_id is None and person_id is None,
                "dept": department_id,
                "person": person_id,
                "limit": limit,
            },
        )
        return [records.appeal(r) for r in rows]

    async def overdue_list(
        self, today: date, department_id: int | None, person_id: int | None, limit: int
    ) -> list[Appeal]:
        rows = await self._all(
            APPEAL_SELECT + OPEN_SCOPE + " AND a.due_date < :today"
            " ORDER BY a.due_date, a.id LIMIT :limit",
            {
                "today": records.day(today),
                "all_open": department_id is None and person_id is None,
                "dept": department_id,
                "person": person_id,
                "limit": limit,
            },
        )
        return [records.appeal(r) for r in rows]


class MessageRepo(Store):
    async def add(
        self, appeal_id: int, author_id: int, kind: MessageKind, text: str, now: datetime
    ) -> int:
        return await self._insert(
            "INSERT INTO appeal_messages (appeal_id, author_id, kind, text, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (appeal_id, author_id, kind.value, text, records.stamp(now)),
        )

    async def of_appeal(self, appeal_id: int, kinds: tuple[MessageKind, ...]) -> list[Message]:
        where = f"WHERE m.appeal_id = ? AND m.kind IN ({placeholders(len(kinds))})"
        rows = await self._all(
            "SELECT m.*, u.full_name AS author_name, u.role AS author_role FROM appeal_messages m"  # noqa: S608
            " LEFT JOIN users u ON u.tg_id = m.author_id " + where + " ORDER BY m.id",
            (appeal_id, *(kind.value for kind in kinds)),
        )
        return [records.message(r) for r in rows]

    async def latest_of(self, appeal_id: int, author_id: int, kind: MessageKind) -> int | None:
        """The id of the newest message of `kind` an author wrote on an appeal."""
        row = await self._one(
            "SELECT MAX(id) AS id FROM appeal_messages"
            " WHERE appeal_id = ? AND author_id = ? AND kind = ?",
            (appeal_id, author_id, kind.value),
        )
        return int(row["id"]) if row and row["id"] is not None else None

    async def add_attachment(
        self, appeal_id: int, message_id: int | None, attachment: Attachment, now: datetime
    ) -> int:
        return await self._insert(
            "INSERT INTO attachments (appeal_id, message_id, kind, file_id, file_unique_id,"
            " file_name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                appeal_id,
                message_id,
                attachment.kind,
                attachment.file_id,
                attachment.file_unique_id,
                attachment.file_name,
                records.stamp(now),
            ),
        )

    async def file_ids_of(self, appeal_id: int, message_id: int | None) -> set[int]:
        """The stored ids of the files one message brought."""
        rows = await self._all(
            "SELECT id FROM attachments WHERE appeal_id = ? AND message_id IS NOT DISTINCT FROM ?",
            (appeal_id, message_id),
        )
        return {int(r["id"]) for r in rows}

    async def files(
        self,
        appeal_id: int,
        ids: list[int] | None = None,
        kinds: tuple[MessageKind, ...] | None = None,
    ) -> list[Attachment]:
        """An appeal's files in the order they came (`ids`: only these of them; `kinds`:
        only the filing's and those of messages of these kinds)."""
        rows = await self._all(
            "SELECT a.*, m.kind AS message_kind FROM attachments a"
            " LEFT JOIN appeal_messages m ON m.id = a.message_id"
            " WHERE a.appeal_id = ? ORDER BY a.id",
            (appeal_id,),
        )
        return [
            records.attachment(r)
            for r in rows
            if (ids is None or r["id"] in ids)
            and (kinds is None or r["message_id"] is None or r["message_kind"] in kinds)
        ]

    async def file_ids(self, appeal_id: int) -> list[int]:
        """The ids of every file of an appeal, in the order they came (a notice names them
        for the courier to send after it)."""
        rows = await self._all(
            "SELECT id FROM attachments WHERE appeal_id = ? ORDER BY id", (appeal_id,)
        )
        return [int(r["id"]) for r in rows]


class AuditRepo(Store):
    async def add(
        self,
        subject: str,
        actor_id: int | None,
        action: str,
        now: datetime,
        *,
        appeal_id: int | None = None,
        from_state: str | None = None,
        to_state: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        await self.conn.execute(
            "INSERT INTO audit_events (subject, appeal_id, actor_id, action, from_state,"
            " to_state, detail, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                subject,
                appeal_id,
                actor_id,
                action,
                from_state,
                to_state,
                records.detail_json(detail),
                records.stamp(now),
            ),
        )

    async def of_appeal(self, appeal_id: int) -> list[Event]:
        rows = await self._all(
            "SELECT e.*, u.full_name AS actor_name, u.role AS actor_role FROM audit_events e"
            " LEFT JOIN users u ON u.tg_id = e.actor_id WHERE e.appeal_id = ? ORDER BY e.id",
            (appeal_id,),
        )
        return [records.event(r) for r in rows]

    async def of_subject(self, subject: str) -> list[Event]:
        rows = await self._all(
            "SELECT e.*, u.full_name AS actor_name, u.role AS actor_role FROM audit_events e"  # noqa: S608 (a dialect fragment and parameters only)
            " LEFT JOIN users u ON u.tg_id = e.actor_id"
            f" WHERE {self.dialect.byte_wise('e.subject')} = ? ORDER BY e.id",
            (subject,),
        )
        return [records.event(r) for r in rows]

    async def of_subjects(self, kind: str) -> dict[str, list[Event]]:
        """Every event whose subject is of `kind` (`task` → task:1, task:2 …), by subject,
        each list in order: one query (a range of the subject index) for a whole ledger."""
        subject = self.dialect.byte_wise("e.subject")
        rows = await self._all(
            "SELECT e.*, u.full_name AS actor_name, u.role AS actor_role FROM audit_events e"  # noqa: S608 (a dialect fragment and parameters only)
            " LEFT JOIN users u ON u.tg_id = e.actor_id"
            f" WHERE {subject} >= ? AND {subject} < ? ORDER BY {subject}, e.id",
            (f"{kind}:", f"{kind};"),  # ';' follows ':' (by code point)
        )
        by_subject: dict[str, list[Event]] = {}
        for row in rows:
            by_subject.setdefault(row["subject"], []).append(records.event(row))
        return by_subject


class ExtensionRepo(Store):
    async def add(
        self,
        appeal_id: int,
        requested_by: int,
        old_due: date,
        new_due: date,
        reason: str,
        now: datetime,
    ) -> int:
        return await self._insert(
            "INSERT INTO extensions (appeal_id, requested_by, old_due_date, new_due_date, reason,"
            " state, created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?)",
            (
                appeal_id,
                requested_by,
                records.day(old_due),
                records.day(new_due),
                reason,
                records.stamp(now),
            ),
        )

    async def get(self, extension_id: int) -> Extension | None:
        row = await self._one("SELECT * FROM extensions WHERE id = ?", (extension_id,))
        return records.extension(row) if row else None

    async def pending_for(self, appeal_id: int) -> Extension | None:
        row = await self._one(
            "SELECT * FROM extensions WHERE appeal_id = ? AND state = 'pending'", (appeal_id,)
        )
        return records.extension(row) if row else None

    async def pending_in(self, department_id: int | None, limit: int) -> list[Extension]:
        """Requests waiting for a decision, the oldest first: of appeals now in
        `department_id` (None: in any department)."""
        where, params = "", ()
        if department_id is not None:
            where, params = " AND a.department_id = ?", (department_id,)
        rows = await self._all(
            "SELECT e.* FROM extensions e JOIN appeals a ON a.id = e.appeal_id"  # noqa: S608
            f" WHERE e.state = 'pending'{where} ORDER BY e.id LIMIT ?",
            (*params, limit),
        )
        return [records.extension(r) for r in rows]

    async def decide(
        self, extension_id: int, state: ExtensionState, by: int, now: datetime
    ) -> bool:
        changed = await self._changed(
            "UPDATE extensions SET state = ?, decided_by = ?, decided_at = ?"
            " WHERE id = ? AND state = 'pending'",
            (state.value, by, records.stamp(now), extension_id),
        )
        return changed == 1
