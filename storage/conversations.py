"""Conversations (the one flow each user is in) and the outbox of messages owed to people."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.rules import delivery
from bot.rules.model import Conversation, Courier, Outgoing
from storage import records
from storage.base import Row, Store, placeholders


def _conversation(row: Row) -> Conversation:
    return Conversation(
        row["user_id"],
        row["chat_id"],
        row["flow"],
        row["step"],
        json.loads(row["data"]),
        records.moment(row["started_at"]),
        records.moment(row["expires_at"]),
    )


def _outgoing(row: Row) -> Outgoing:
    return Outgoing(
        row["id"],
        row["chat_id"],
        row["kind"],
        row["subject"],
        row["subject_id"],
        records.detail_of(row["detail"]),
        row["priority"],
        records.moment(row["created_at"]),
        row["attempts"],
        Courier(row["status"]),
        row["error"],
        row["progress"],
        row["list_id"],
        records.moment(row["due_at"]),
    )


class ConversationRepo(Store):
    async def get(self, user_id: int) -> Conversation | None:
        row = await self._one("SELECT * FROM conversations WHERE user_id = ?", (user_id,))
        return _conversation(row) if row else None

    async def put(self, conversation: Conversation) -> None:
        """Start or move on a user's flow (one row per user: a new flow replaces the old)."""
        c = conversation
        await self.conn.execute(
            "INSERT INTO conversations (user_id, chat_id, flow, step, data, started_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET"
            " chat_id = excluded.chat_id, flow = excluded.flow, step = excluded.step,"
            " data = excluded.data, started_at = excluded.started_at,"
            " expires_at = excluded.expires_at",
            (
                c.user_id,
                c.chat_id,
                c.flow,
                c.step,
                json.dumps(c.data, ensure_ascii=False, default=records.to_db),
                records.stamp(c.started_at),
                records.stamp(c.expires_at),
            ),
        )

    async def drop(self, user_id: int, started_at: datetime | None = None) -> bool:
        """End a user's flow (only the one that started at `started_at`, when given)."""
        if started_at is None:
            sql, params = "DELETE FROM conversations WHERE user_id = ?", (user_id,)
        else:
            sql = "DELETE FROM conversations WHERE user_id = ? AND started_at = ?"
            params = (user_id, records.stamp(started_at))
        return await self._changed(sql, params) == 1

    async def take(self, user_id: int) -> Conversation | None:
        """End whatever flow the user is in and return it: one statement (read and delete
        the row at once), so a lone write needs no transaction of its own."""
        row = await self._one("DELETE FROM conversations WHERE user_id = ? RETURNING *", (user_id,))
        return _conversation(row) if row else None

    async def take_expired(self, now: datetime, limit: int) -> list[Conversation]:
        """End up to `limit` flows whose time is up, the longest lapsed first, and return
        them (oldest expiry first): one statement. A flow moved on meanwhile (its time
        renewed by another step) is checked again by the delete and kept."""
        rows = await self._all(
            "DELETE FROM conversations WHERE user_id IN (SELECT user_id FROM conversations"
            " WHERE expires_at <= :now ORDER BY expires_at, user_id LIMIT :limit)"
            " AND expires_at <= :now RETURNING *",
            {"now": records.stamp(now), "limit": limit},
        )
        taken = [_conversation(r) for r in rows]
        return sorted(taken, key=lambda c: (c.expires_at, c.user_id))

    async def expired(self, now: datetime, limit: int) -> list[Conversation]:
        rows = await self._all(
            "SELECT * FROM conversations WHERE expires_at <= ? ORDER BY expires_at LIMIT ?",
            (records.stamp(now), limit),
        )
        return [_conversation(r) for r in rows]


# A message a sender may take now: owed and due, or left `sending` past its lease.
_TAKEABLE = "(status = 'pending' AND due_at <= :now OR status = 'sending' AND lease_until <= :now)"


# A new list's id, drawn once for the whole UPDATE (an uncorrelated subquery). DIALECT SQL,
# by the connection's dialect name. SQLite: one more than the greatest (its one writer forms
# one list at a time). PostgreSQL: the sequence of migration 15 — with MAX + 1, couriers
# forming lists at once each read the greatest before the others' lists are committed, and
# share an id; a sequence never gives one twice (a number rolled back is skipped: list ids
# need no gap-free run).
_NEW_LIST_ID = {
    "sqlite": "(SELECT COALESCE(MAX(list_id), 0) + 1 FROM outbox)",
    "postgresql": "(SELECT nextval('outbox_list_ids'))",
}


class OutboxRepo(Store):
    async def add(
        self,
        chat_id: int,
        kind: str,
        subject: str | None,
        subject_id: int | None,
        detail: dict[str, Any],
        priority: int,
        now: datetime,
        due: datetime | None = None,
    ) -> int:
        return await self._insert(
            "INSERT INTO outbox (chat_id, kind, subject, subject_id, detail, priority,"
            " created_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                chat_id,
                kind,
                subject,
                subject_id,
                json.dumps(detail, ensure_ascii=False, default=records.to_db),
                priority,
                records.stamp(now),
                records.stamp(due or now),
            ),
        )

    async def pending_detail(self, outgoing_id: int) -> dict[str, Any] | None:
        """The detail of a message nobody has taken yet (None once a sender has it), read to
        be changed: the row is held until COMMIT, so a sender's claim waits for the change
        instead of sending what was there before it (PostgreSQL; SQLite's writer is one)."""
        row = await self._one(
            "SELECT detail FROM outbox WHERE id = ? AND status = 'pending'"  # noqa: S608 (a dialect fragment)
            + self.dialect.lock_row(),
            (outgoing_id,),
        )
        return json.loads(row["detail"]) if row else None

    async def set_detail(self, outgoing_id: int, detail: dict[str, Any]) -> bool:
        """Replace a message's detail while nobody has taken it; False once a sender has."""
        changed = await self._changed(
            "UPDATE outbox SET detail = ? WHERE id = ? AND status = 'pending'",
            (json.dumps(detail, ensure_ascii=False, default=records.to_db), outgoing_id),
        )
        return changed == 1

    async def due(self, now: datetime, limit: int) -> list[Outgoing]:
        """What may be sent now: pending and due, or left `sending` by a crashed sender."""
        # Two indexed lookups: the table keeps every sent row, only these few are live.
        rows = await self._all(
            "SELECT * FROM (SELECT * FROM outbox WHERE status = 'pending' AND due_at <= :now"
            " UNION ALL SELECT * FROM outbox WHERE status = 'sending' AND lease_until <= :now)"
            " AS live ORDER BY priority, due_at, id LIMIT :limit",
            {"now": records.stamp(now), "limit": limit},
        )
        return [_outgoing(r) for r in rows]

    async def take(self, outgoing_id: int, now: datetime, lease_until: datetime) -> Outgoing | None:
        """Claim one message for sending; None when another sender has it or it is done."""
        row = await self._one(
            "UPDATE outbox SET status = 'sending', lease_until = ?, attempts = attempts + 1"
            " WHERE id = ? AND (status = 'pending' OR (status = 'sending' AND lease_until <= ?))"
            " RETURNING *",
            (records.stamp(lease_until), outgoing_id, records.stamp(now)),
        )
        return _outgoing(row) if row else None

    async def take_with_others(
        self, item: Outgoing, now: datetime, lease_until: datetime, limit: int, alone: str
    ) -> list[Outgoing]:
        """Claim a message and up to `limit - 1` more like it that are due to the same chat
        (same subject and priority, oldest first; none whose detail holds the key `alone`);
        [] when the message itself is not due any more (sent in an earlier list, held by
        another sender, or put back for later): the others due then are taken by their own
        senders (each stored notice has one), so that every sender that finds its message
        gone does not send another list of what came since. A message of a list a crash
        interrupted, still unsent, takes the rest of that list and nothing else; others
        never take a list's items. (On PostgreSQL the message itself must be among the rows
        picked: one another sender holds uncommitted is passed over by SKIP LOCKED, though
        the EXISTS, reading the last committed row, sees it takeable.)"""
        # The rows are picked once (MATERIALIZED): as a subquery, PostgreSQL may run the
        # pick again for each row updated, and each run skips the rows just taken. On
        # PostgreSQL rows another sender holds are passed over (SKIP LOCKED), and the
        # condition is checked again on the row as it is when updated.
        rows = await self._all(
            "WITH picked AS MATERIALIZED (SELECT id FROM outbox"  # noqa: S608
            " WHERE chat_id = :chat AND status IN ('pending', 'sending')"
            " AND subject IS NOT DISTINCT FROM :subject AND priority = :priority"
            f" AND (id = :id OR {self.dialect.json_value('detail', alone)} IS NULL)"
            " AND list_id IS NOT DISTINCT FROM (SELECT list_id FROM outbox WHERE id = :id)"
            f" AND {_TAKEABLE} AND EXISTS (SELECT 1 FROM outbox WHERE id = :id AND {_TAKEABLE})"
            f" ORDER BY id <> :id, id LIMIT :limit{self.dialect.skip_locked()})"
            " UPDATE outbox SET status = 'sending', lease_until = :lease,"
            " attempts = attempts + 1 WHERE id IN (SELECT id FROM picked)"
            f" AND :id IN (SELECT id FROM picked) AND {_TAKEABLE} RETURNING *",
            {
                "lease": records.stamp(lease_until),
                "chat": item.chat_id,
                "subject": item.subject,
                "priority": item.priority,
                "id": item.id,
                "now": records.stamp(now),
                "limit": limit,
            },
        )
        return sorted((_outgoing(r) for r in rows), key=lambda o: o.id)

    async def form_list(self, ids: list[int]) -> None:
        """These messages go as one list, numbered in id order, under a new list id (one
        statement: a list id no other list has, also with couriers forming lists at once)."""
        new_id = _NEW_LIST_ID[self.dialect.name]
        sql = f"UPDATE outbox SET list_id = {new_id} WHERE id IN ({placeholders(len(ids))})"  # noqa: S608
        await self.conn.execute(sql, tuple(ids))

    async def list_items(self, list_id: int) -> list[int]:
        """Every message of a list, sent or not, in its order."""
        rows = await self._all("SELECT id FROM outbox WHERE list_id = ? ORDER BY id", (list_id,))
        return [r["id"] for r in rows]

    async def advance(
        self, outgoing_id: int, progress: int, key: str, value: int | None = None
    ) -> None:
        """Telegram accepted a part of a message in several: `progress` of it have gone;
        a `value` given is kept in the detail under `key` unless one is there already."""
        if value is None:
            await self.conn.execute(
                "UPDATE outbox SET progress = ? WHERE id = ?", (progress, outgoing_id)
            )
            return
        detail = self.dialect.json_set_absent("detail", key, "CAST(? AS BIGINT)")
        await self.conn.execute(
            f"UPDATE outbox SET progress = ?, detail = {detail} WHERE id = ?",  # noqa: S608
            (progress, value, outgoing_id),
        )

    async def announcing(self, subject: str, subject_id: int) -> list[Outgoing]:
        """The notices about one appeal or task that carry files, oldest first."""
        rows = await self._all(
            "SELECT * FROM outbox WHERE subject = ? AND subject_id = ?"  # noqa: S608
            f" AND {self.dialect.json_value('detail', delivery.FILES)} IS NOT NULL ORDER BY id",
            (subject, subject_id),
        )
        return [_outgoing(r) for r in rows]

    async def add_files(self, outgoing_id: int, file_ids: list[int]) -> bool:
        """Append files to a notice nothing of which has gone yet; False once it has. The
        notice is held from the read to COMMIT: a sender claiming it meanwhile waits, then
        sends the files too."""
        row = await self._one(
            "SELECT detail FROM outbox WHERE id = ? AND status = 'pending' AND progress = 0"  # noqa: S608 (a dialect fragment)
            + self.dialect.lock_row(),
            (outgoing_id,),
        )
        if row is None:
            return False
        detail = records.detail_of(row["detail"])
        detail[delivery.FILES] = [*(detail.get(delivery.FILES) or ()), *file_ids]
        changed = await self._changed(
            "UPDATE outbox SET detail = ? WHERE id = ? AND status = 'pending' AND progress = 0",
            (json.dumps(detail, ensure_ascii=False, default=records.to_db), outgoing_id),
        )
        return changed == 1

    async def of_ids(self, ids: list[int]) -> list[Outgoing]:
        rows = await self._all(
            f"SELECT * FROM outbox WHERE id IN ({placeholders(len(ids))}) ORDER BY id",  # noqa: S608
            tuple(ids),
        )
        return [_outgoing(r) for r in rows]

    async def keep(self, claims: list[tuple[int, int]], lease_until: datetime) -> int:
        """Renew the leases of messages this sender claimed — each (id, attempts) as its
        claim returned it: a sender that took one over since has counted another attempt —
        and return how many were still this sender's."""
        pairs = ", ".join(["(?, ?)"] * len(claims))
        return await self._changed(
            f"UPDATE outbox SET lease_until = ? WHERE status = 'sending'"  # noqa: S608
            f" AND (id, attempts) IN (VALUES {pairs})",
            (records.stamp(lease_until), *(value for claim in claims for value in claim)),
        )

    async def sent_all(self, ids: list[int], now: datetime) -> None:
        done = "status = 'sent', sent_at = ?, lease_until = NULL, error = NULL"
        sql = f"UPDATE outbox SET {done} WHERE id IN ({placeholders(len(ids))})"  # noqa: S608
        await self.conn.execute(sql, (records.stamp(now), *ids))

    async def later(self, outgoing_id: int, due: datetime, error: str) -> None:
        await self.conn.execute(
            "UPDATE outbox SET status = 'pending', due_at = ?, lease_until = NULL, error = ?"
            " WHERE id = ?",
            (records.stamp(due), error, outgoing_id),
        )

    async def failed(self, outgoing_id: int, error: str, status: Courier = Courier.FAILED) -> None:
        await self.conn.execute(
            "UPDATE outbox SET status = ?, lease_until = NULL, error = ? WHERE id = ?",
            (status.value, error, outgoing_id),
        )

    async def withheld(self, ids: list[int], reason: str) -> None:
        """No longer the recipient's to read: never sent, never owed again."""
        done = "status = 'withheld', lease_until = NULL, error = ?"
        sql = f"UPDATE outbox SET {done} WHERE id IN ({placeholders(len(ids))})"  # noqa: S608
        await self.conn.execute(sql, (reason, *ids))

    async def withdraw(self, subject: str, subject_id: int, kind: str, reason: str) -> int:
        """Every message of `kind` about a subject not yet taken by a sender is dropped
        (withheld with `reason`): a broadcast cancelled. Those in flight still go."""
        return await self._changed(
            "UPDATE outbox SET status = 'withheld', lease_until = NULL, error = ?"
            " WHERE subject = ? AND subject_id = ? AND kind = ? AND status = 'pending'",
            (reason, subject, subject_id, kind),
        )

    async def gone(self, outgoing_id: int) -> None:
        """What the message was about no longer exists: final, and nobody's fault — never
        owed again after /start, never listed as unreachable."""
        await self.conn.execute(
            "UPDATE outbox SET status = 'gone', lease_until = NULL, error = NULL WHERE id = ?",
            (outgoing_id,),
        )

    async def heard(
        self, subject: str | None, subject_id: int, kind: str, later: Iterable[str] = ()
    ) -> bool:
        """Whether a notice of this kind about this subject — or one of the `later` kinds
        stored after the newest of them — reached, or may reach, anyone."""
        later = list(later)
        unheard = "('failed', 'withheld', 'refused', 'gone')"
        newest = (
            "(SELECT MAX(id) FROM outbox WHERE subject IS NOT DISTINCT FROM ?"
            " AND subject_id = ? AND kind = ?)"
        )
        after = f"kind IN ({placeholders(len(later))}) AND id > {newest}" if later else "1 = 0"
        sql = (
            "SELECT 1 FROM outbox WHERE subject IS NOT DISTINCT FROM ? AND subject_id = ?"  # noqa: S608
            f" AND (kind = ? OR ({after})) AND status NOT IN {unheard} LIMIT 1"
        )
        newest_params = (subject, subject_id, kind) if later else ()
        row = await self._one(sql, (subject, subject_id, kind, *later, *newest_params))
        return row is not None

    async def unsent_ack(self, chat_id: int, subject: str, subject_id: int) -> int | None:
        """The newest stored confirmation to `chat_id` about this subject that no sender
        has taken yet, if any (a request answered again marks it sent once answered)."""
        row = await self._one(
            "SELECT id FROM outbox WHERE subject = ? AND subject_id = ? AND kind = ?"
            " AND chat_id = ? AND status = 'pending' ORDER BY id DESC LIMIT 1",
            (subject, subject_id, delivery.OWN, chat_id),
        )
        return int(row["id"]) if row else None

    async def failed_since(self, chat_id: int, since: datetime) -> list[Outgoing]:
        """What could not reach `chat_id` since `since` (oldest first)."""
        rows = await self._all(
            "SELECT * FROM outbox WHERE chat_id = ? AND status = 'failed' AND created_at >= ?"
            " ORDER BY id",
            (chat_id, records.stamp(since)),
        )
        return [_outgoing(r) for r in rows]

    async def owe_again(self, ids: list[int], now: datetime) -> None:
        """These failed messages are owed again, now."""
        await self.conn.executemany(
            # A list's failed items are owed again on their own (they may form a new list).
            "UPDATE outbox SET status = 'pending', due_at = ?, error = NULL, list_id = NULL"
            " WHERE id = ?",
            [(records.stamp(now), i) for i in ids],
        )

    async def unreachable_why(self, since: datetime) -> list[tuple[int, int, str]]:
        """(chat, messages, the latest of their errors) that failed for good since `since`."""
        rows = await self._all(
            "SELECT chat_id, COUNT(*) AS n, (SELECT o.error FROM outbox o WHERE"
            " o.chat_id = f.chat_id AND o.status = 'failed' AND o.created_at >= :since"
            " ORDER BY o.id DESC LIMIT 1) AS why"
            " FROM outbox f WHERE status = 'failed' AND created_at >= :since"
            " GROUP BY chat_id ORDER BY chat_id",
            {"since": records.stamp(since)},
        )
        return [(r["chat_id"], r["n"], r["why"] or "") for r in rows]

    async def move_chat(
        self, old_chat_id: int, new_chat_id: int, since: datetime, now: datetime
    ) -> list[int]:
        """A group's new id: what is owed to the old one (and what failed there because it
        moved, since `since`) is owed to the new one, now."""
        rows = await self._all(
            "UPDATE outbox SET chat_id = :new, status = 'pending', due_at = :now,"
            " lease_until = NULL, error = NULL WHERE chat_id = :old AND (status IN"
            " ('pending', 'sending') OR status = 'failed' AND created_at >= :since"
            " AND (error LIKE '%supergroup%')) RETURNING id",
            {
                "new": new_chat_id,
                "old": old_chat_id,
                "now": records.stamp(now),
                "since": records.stamp(since),
            },
        )
        return sorted(r["id"] for r in rows)


def like_prefix(prefix: str) -> str:
    """A LIKE pattern (ESCAPE '!') matching text that starts with `prefix` as written."""
    return prefix.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"


class OperatorNotes(Store):
    """Things told to operators once (e.g. a calendar year missing), remembered across starts."""

    async def first_time(self, key: str, now: datetime) -> bool:
        changed = await self._changed(
            "INSERT INTO operator_notes (key, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (key, records.stamp(now)),
        )
        return changed == 1

    async def latest(self, prefix: str) -> datetime | None:
        """When a note starting with `prefix` was last made."""
        row = await self._one(
            "SELECT MAX(created_at) AS at FROM operator_notes WHERE key LIKE ? ESCAPE '!'",
            (like_prefix(prefix),),
        )
        return records.moment(row["at"]) if row else None
