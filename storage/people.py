"""SQL of departments, people, enterprises, invites and request idempotency."""

from __future__ import annotations

from datetime import datetime

from bot.rules.model import ContactInvite, Department, Enterprise, Invite, Person, Role
from storage import records
from storage.base import HOLD_ENTERPRISE, HOLD_USCC, Store, placeholders


class DepartmentRepo(Store):
    async def upsert(self, code: str, name: str, chat_id: int | None) -> None:
        await self.conn.execute(
            "INSERT INTO departments (code, name, chat_id) VALUES (?, ?, ?) "
            "ON CONFLICT(code) DO UPDATE SET name = excluded.name, chat_id = excluded.chat_id",
            (code, name, chat_id),
        )

    async def all(self) -> list[Department]:
        return [records.department(r) for r in await self._all(_DEPARTMENTS + " ORDER BY d.id")]

    async def get(self, department_id: int) -> Department | None:
        row = await self._one(_DEPARTMENTS + " WHERE d.id = ?", (department_id,))
        return records.department(row) if row else None

    async def by_code(self, code: str) -> Department | None:
        row = await self._one(_DEPARTMENTS + " WHERE d.code = ?", (code,))
        return records.department(row) if row else None

    async def by_chat(self, chat_id: int) -> Department | None:
        """The department whose group this is: by its id now, or the one in the org config."""
        row = await self._one(
            _DEPARTMENTS + " WHERE COALESCE(m.new_chat_id, d.chat_id) = ? OR d.chat_id = ?",
            (chat_id, chat_id),
        )
        return records.department(row) if row else None

    async def by_name(self, name: str) -> Department | None:
        row = await self._one(_DEPARTMENTS + " WHERE d.name = ?", (name,))
        return records.department(row) if row else None

    async def move_chat(self, old_chat_id: int, new_chat_id: int, now: datetime) -> bool:
        """A group became a supergroup with a new id; False when the move was known."""
        changed = await self._changed(
            "INSERT INTO chat_moves (old_chat_id, new_chat_id, moved_at) VALUES (?, ?, ?)"
            " ON CONFLICT (old_chat_id) DO UPDATE SET new_chat_id = excluded.new_chat_id,"
            " moved_at = excluded.moved_at WHERE chat_moves.new_chat_id != excluded.new_chat_id",
            (old_chat_id, new_chat_id, records.stamp(now)),
        )
        return changed == 1

    async def configured_for(self, chat_id: int) -> Department | None:
        """The department whose org config names this chat id (before any move)."""
        row = await self._one(_DEPARTMENTS + " WHERE d.chat_id = ?", (chat_id,))
        return records.department(row) if row else None


# A department with the chat it is reached at now: the org config's chat_id, followed to a
# supergroup's new id if that group was upgraded (another id in the config wins).
_DEPARTMENTS = (
    "SELECT d.id, d.code, d.name, COALESCE(m.new_chat_id, d.chat_id) AS chat_id"
    " FROM departments d LEFT JOIN chat_moves m ON m.old_chat_id = d.chat_id"
)


class PeopleRepo(Store):
    async def get(self, tg_id: int) -> Person | None:
        """The person, unless removed from their enterprise (then a stranger again)."""
        row = await self._one(
            "SELECT * FROM users WHERE tg_id = ? AND removed_at IS NULL", (tg_id,)
        )
        return records.person(row) if row else None

    async def names(self, tg_ids: set[int]) -> dict[int, str]:
        """The names of these people (as `get` finds them: not removed), in one query."""
        if not tg_ids:
            return {}
        ids = sorted(tg_ids)
        rows = await self._all(
            "SELECT tg_id, full_name FROM users"  # noqa: S608 - placeholders only
            f" WHERE removed_at IS NULL AND tg_id IN ({placeholders(len(ids))})",
            tuple(ids),
        )
        return {r["tg_id"]: r["full_name"] for r in rows}

    async def add(
        self,
        tg_id: int,
        role: Role,
        full_name: str,
        now: datetime,
        *,
        department_id: int | None = None,
        enterprise_id: int | None = None,
    ) -> None:
        # A removed contact who comes back takes their old row (appeals still name it).
        await self.conn.execute(
            "INSERT INTO users (tg_id, role, full_name, department_id, enterprise_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tg_id) DO UPDATE SET role = excluded.role,"
            " full_name = excluded.full_name, department_id = excluded.department_id,"
            " enterprise_id = excluded.enterprise_id, created_at = excluded.created_at,"
            " removed_at = NULL WHERE users.removed_at IS NOT NULL",
            (tg_id, role, full_name, department_id, enterprise_id, records.stamp(now)),
        )

    async def set_staff_role(self, tg_id: int, role: Role, department_id: int) -> None:
        await self.conn.execute(
            "UPDATE users SET role = ?, department_id = ? WHERE tg_id = ?",
            (role, department_id, tg_id),
        )

    async def staff_of(self, department_id: int) -> list[Person]:
        rows = await self._all(
            "SELECT * FROM users WHERE department_id = ? AND removed_at IS NULL ORDER BY tg_id",
            (department_id,),
        )
        return [records.person(r) for r in rows]

    async def all_staff(self) -> list[Person]:
        rows = await self._all(
            "SELECT u.* FROM users u WHERE u.role IN ('official', 'head')"
            " AND u.removed_at IS NULL ORDER BY u.department_id, u.tg_id"
        )
        return [records.person(r) for r in rows]

    async def staff_named(self, full_name: str) -> list[int]:
        rows = await self._all(
            "SELECT tg_id FROM users WHERE full_name = ? AND role IN ('official', 'head')"
            " ORDER BY tg_id",
            (full_name,),
        )
        return [r["tg_id"] for r in rows]

    async def contact_people(self, enterprise_id: int) -> list[tuple[Person, str | None]]:
        """The enterprise's contacts with their phones, the earliest first."""
        rows = await self._all(
            "SELECT * FROM users WHERE enterprise_id = ? AND role = 'enterprise'"
            " AND removed_at IS NULL ORDER BY created_at, tg_id",
            (enterprise_id,),
        )
        return [(records.person(r), r.get("phone")) for r in rows]

    async def set_phone(self, tg_id: int, phone: str) -> None:
        await self.conn.execute("UPDATE users SET phone = ? WHERE tg_id = ?", (phone, tg_id))

    async def remove_contact(self, tg_id: int, now: datetime) -> None:
        """No longer a contact: a stranger again (the appeals they filed keep their name)."""
        await self.conn.execute(
            "UPDATE users SET removed_at = ? WHERE tg_id = ?", (records.stamp(now), tg_id)
        )

    async def removed(self, tg_id: int) -> tuple[Person, datetime] | None:
        """A contact removed from their enterprise (and when), until they join again."""
        row = await self._one(
            "SELECT * FROM users WHERE tg_id = ? AND removed_at IS NOT NULL", (tg_id,)
        )
        return (records.person(row), records.moment(row["removed_at"])) if row else None

    async def name_of(self, tg_id: int) -> str | None:
        """The name a person gave, removed or not (who used a link, who removed whom)."""
        row = await self._one("SELECT full_name FROM users WHERE tg_id = ?", (tg_id,))
        return row["full_name"] if row else None

    async def contacts_of(self, enterprise_id: int) -> list[int]:
        rows = await self._all(
            "SELECT tg_id FROM users WHERE enterprise_id = ? AND removed_at IS NULL ORDER BY tg_id",
            (enterprise_id,),
        )
        return [r["tg_id"] for r in rows]


class EnterpriseRepo(Store):
    async def add(self, name: str, uscc: str, contact_name: str, phone: str, now: datetime) -> int:
        return await self._insert(
            "INSERT INTO enterprises (name, uscc, contact_name, phone, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (name, uscc, contact_name, phone, records.stamp(now)),
        )

    async def get(self, enterprise_id: int) -> Enterprise | None:
        row = await self._one("SELECT * FROM enterprises WHERE id = ?", (enterprise_id,))
        return records.enterprise(row) if row else None

    async def by_uscc(self, uscc: str) -> Enterprise | None:
        row = await self._one("SELECT * FROM enterprises WHERE uscc = ?", (uscc,))
        return records.enterprise(row) if row else None

    async def hold(self, enterprise_id: int) -> None:
        """Hold the enterprise until COMMIT for a check a later write relies on (the same
        text not filed yet): a second filing at once waits, then sees the first."""
        await self._hold(HOLD_ENTERPRISE, enterprise_id)

    async def hold_uscc(self, uscc: str) -> None:
        """Hold a USCC until COMMIT while checking nobody registered it: a second
        registration of it at once waits, then finds the first's enterprise."""
        await self._hold(HOLD_USCC, uscc)

    async def set_primary(self, enterprise_id: int, tg_id: int) -> None:
        await self.conn.execute(
            "UPDATE enterprises SET primary_contact_id = ? WHERE id = ?", (tg_id, enterprise_id)
        )

    async def add_invite(
        self, code: str, enterprise_id: int, created_by: int, now: datetime, expires: datetime
    ) -> None:
        await self.conn.execute(
            "INSERT INTO contact_invites (code, enterprise_id, created_by, created_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?)",
            (code, enterprise_id, created_by, records.stamp(now), records.stamp(expires)),
        )

    async def invite(self, code: str) -> ContactInvite | None:
        row = await self._one("SELECT * FROM contact_invites WHERE code = ?", (code,))
        if row is None:
            return None
        return ContactInvite(
            row["code"],
            row["enterprise_id"],
            row["created_by"],
            records.moment(row["expires_at"]),
            row["used_by"],
            records.moment(row["used_at"]),
        )

    async def use_invite(self, code: str, tg_id: int, now: datetime) -> bool:
        changed = await self._changed(
            "UPDATE contact_invites SET used_by = ?, used_at = ?"
            " WHERE code = ? AND used_by IS NULL",
            (tg_id, records.stamp(now), code),
        )
        return changed == 1

    async def set_baobao(self, enterprise_id: int, official_id: int) -> None:
        await self.conn.execute(
            "UPDATE enterprises SET baobao_user_id = ? WHERE id = ?", (official_id, enterprise_id)
        )


class InviteRepo(Store):
    async def add(
        self,
        code: str,
        department_id: int,
        is_head: bool,
        created_by: int,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        await self.conn.execute(
            "INSERT INTO invites (code, department_id, is_head, created_by, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                code,
                department_id,
                int(is_head),
                created_by,
                records.stamp(now),
                records.stamp(expires_at),
            ),
        )

    async def get(self, code: str) -> Invite | None:
        row = await self._one("SELECT * FROM invites WHERE code = ?", (code,))
        return records.invite(row) if row else None

    async def use(self, code: str, tg_id: int, now: datetime) -> bool:
        """Mark an invite used; False when someone else used it first."""
        changed = await self._changed(
            "UPDATE invites SET used_by = ?, used_at = ? WHERE code = ? AND used_by IS NULL",
            (tg_id, records.stamp(now), code),
        )
        return changed == 1


class RequestRepo(Store):
    """What a request (e.g. a Telegram update) already did, so that it never happens twice.

    A request claims its key first (`claim`), at the start of its unit of work: the row it
    inserts is held until that work commits or rolls back, so a second delivery of the same
    request running at the same time (another pooled task or process, on PostgreSQL) waits
    for it, then finds what it did. `record` fills in what the request did."""

    async def claim(
        self, key: str, actor_id: int, since: datetime, now: datetime
    ) -> tuple[str, int | None] | None:
        """Take the key for this request: None when it is new (or its last use is older
        than `since`: Telegram reuses ids), else what the earlier request did (action, ref;
        an empty action when it did nothing it recorded)."""
        owned = await self._one(
            "INSERT INTO processed_requests (request_key, actor_id, action, ref, created_at)"
            " VALUES (:key, :actor, '', NULL, :now) ON CONFLICT (request_key, actor_id)"
            " DO UPDATE SET action = excluded.action, ref = NULL, created_at = excluded.created_at"
            " WHERE processed_requests.created_at < :since RETURNING 1 AS claimed",
            {
                "key": key,
                "actor": actor_id,
                "now": records.stamp(now),
                "since": records.stamp(since),
            },
        )
        if owned is not None:
            return None
        row = await self._one(
            "SELECT action, ref FROM processed_requests WHERE request_key = ? AND actor_id = ?",
            (key, actor_id),
        )
        return (row["action"], row["ref"]) if row else None

    async def done(self, key: str, actor_id: int, since: datetime) -> tuple[str, int | None] | None:
        row = await self._one(
            "SELECT action, ref FROM processed_requests"
            " WHERE request_key = ? AND actor_id = ? AND created_at >= ?",
            (key, actor_id, records.stamp(since)),
        )
        return (row["action"], row["ref"]) if row else None

    async def record(
        self, key: str, actor_id: int, action: str, ref: int | None, now: datetime
    ) -> None:
        # Usually the row `claim` made; a key may come back after its window (Telegram
        # reuses ids): the old row is replaced.
        await self.conn.execute(
            "INSERT INTO processed_requests (request_key, actor_id, action, ref, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (request_key, actor_id) DO UPDATE SET"
            " action = excluded.action, ref = excluded.ref, created_at = excluded.created_at",
            (key, actor_id, action, ref, records.stamp(now)),
        )
