"""SQL of 政策宣贯 broadcasts: the notices, their files, their audience (segments of the
directory), recipients with their outcome, 已阅 / 咨询, and the enterprises' topic mutes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

from bot.rules.broadcasts import (
    Audience,
    AudienceCount,
    AudienceKind,
    Broadcast,
    BroadcastState,
    Reach,
    ReachCounts,
    ReachRow,
    reach_of,
)
from bot.rules.model import Attachment
from storage import records
from storage.base import HOLD_BROADCAST, Row, Store, placeholders

# A recipient's message: the outbox row of kind 'broadcast' about its broadcast to its chat.
_MESSAGE = (
    "o.subject = 'broadcast' AND o.subject_id = r.broadcast_id AND o.kind = 'broadcast'"
    " AND o.chat_id = r.chat_id"
)
CHUNK = 900  # values of one `IN (…)` (SQLite allows 32,766 parameters; PostgreSQL 65,535)

# The enterprises an audience names, as a condition on `d` (directory) and `e` (its
# registration, NULL when it has none): one (SQL, parameters) per chunk of its values.
_CONDITIONS = {
    AudienceKind.INDUSTRY: "d.industry IN ({marks})",
    AudienceKind.DISTRICT: "d.district IN ({marks})",
    AudienceKind.SCALE: "d.scale IN ({marks})",
    AudienceKind.TAG: (
        "EXISTS (SELECT 1 FROM directory_tags t WHERE t.entry_id = d.id AND t.tag IN ({marks}))"
    ),
    AudienceKind.BAOBAO: (
        "(e.baobao_user_id IN ({marks}) OR (e.id IS NULL AND d.baobao_user_id IN ({marks})))"
    ),
    AudienceKind.CATEGORY: (
        "EXISTS (SELECT 1 FROM appeals a WHERE a.enterprise_id = d.enterprise_id"
        " AND a.category IN ({marks}))"
    ),
    AudienceKind.USCC: "d.uscc IN ({marks})",
}
_MUTED = (
    "EXISTS (SELECT 1 FROM topic_mutes m WHERE m.enterprise_id = d.enterprise_id AND m.topic = ?)"
)


def audience_conditions(audience: Audience) -> Iterator[tuple[str, tuple]]:
    if audience.kind is AudienceKind.ALL:
        yield "1 = 1", ()
        return
    values: list[object] = list(audience.values)
    if audience.kind is AudienceKind.BAOBAO:
        values = [int(v) for v in values]
    for start in range(0, len(values), CHUNK):
        chunk = tuple(values[start : start + CHUNK])
        template = _CONDITIONS[audience.kind]
        yield template.format(marks=placeholders(len(chunk))), chunk * template.count("{marks}")


def _broadcast(row: Row, files: int) -> Broadcast:
    return Broadcast(
        row["id"],
        row["title"],
        row["body"],
        row["topic"],
        Audience.from_data(json.loads(row["audience"])),
        BroadcastState(row["state"]),
        row["created_by"],
        records.moment(row["created_at"]),
        records.moment(row["send_at"]),
        files,
        row["recipients"],
        records.moment(row["cancelled_at"]),
        row["cancelled_by"],
        records.moment(row["finished_at"]),
    )


_WITH_FILES = (
    "SELECT b.*, (SELECT COUNT(*) FROM broadcast_files f WHERE f.broadcast_id = b.id) AS files"
    " FROM broadcasts b"
)


class BroadcastRepo(Store):
    async def hold(self, broadcast_id: int) -> None:
        """Until COMMIT: one release, cancel or finish of a broadcast at a time."""
        await self._hold(HOLD_BROADCAST, broadcast_id)

    async def add(
        self,
        title: str,
        body: str,
        topic: str,
        audience: Audience,
        created_by: int,
        now: datetime,
        send_at: datetime,
    ) -> int:
        return await self._insert(
            "INSERT INTO broadcasts (title, body, topic, audience, state, created_by,"
            " created_at, send_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                title,
                body,
                topic,
                json.dumps(audience.as_data(), ensure_ascii=False),
                str(BroadcastState.SCHEDULED),
                created_by,
                records.stamp(now),
                records.stamp(send_at),
            ),
        )

    async def add_files(self, broadcast_id: int, files: list[Attachment]) -> None:
        if files:
            await self.conn.executemany(
                "INSERT INTO broadcast_files (broadcast_id, position, kind, file_id,"
                " file_unique_id, file_name) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (broadcast_id, n, f.kind, f.file_id, f.file_unique_id, f.file_name)
                    for n, f in enumerate(files, start=1)
                ],
            )

    async def files(self, broadcast_id: int) -> list[Attachment]:
        rows = await self._all(
            "SELECT kind, file_id, file_unique_id, file_name FROM broadcast_files"
            " WHERE broadcast_id = ? ORDER BY position",
            (broadcast_id,),
        )
        return [
            Attachment(r["kind"], r["file_id"], r["file_unique_id"], r["file_name"]) for r in rows
        ]

    async def get(self, broadcast_id: int) -> Broadcast | None:
        row = await self._one(_WITH_FILES + " WHERE b.id = ?", (broadcast_id,))
        return _broadcast(row, row["files"]) if row else None

    async def recent(self, created_by: int | None, limit: int) -> list[Broadcast]:
        """The newest first; `created_by` None: everybody's."""
        mine = self.dialect.typed("?", "bigint")
        rows = await self._all(
            _WITH_FILES + f" WHERE ({mine} IS NULL OR b.created_by = ?) ORDER BY b.id DESC LIMIT ?",
            (created_by, created_by, limit),
        )
        return [_broadcast(r, r["files"]) for r in rows]

    async def due(self, now: datetime, limit: int) -> list[int]:
        """Scheduled broadcasts whose moment has come, the earliest first."""
        rows = await self._all(
            "SELECT id FROM broadcasts WHERE state = 'scheduled' AND send_at <= ?"
            " ORDER BY send_at, id LIMIT ?",
            (records.stamp(now), limit),
        )
        return [r["id"] for r in rows]

    async def set_state(
        self,
        broadcast_id: int,
        state: BroadcastState,
        was: BroadcastState,
        now: datetime,
        *,
        by: int | None = None,
        recipients: int | None = None,
    ) -> bool:
        """Move a broadcast from `was` to `state` (False: it was not in `was` any more)."""
        changed = await self._changed(
            "UPDATE broadcasts SET state = ?,"
            " recipients = COALESCE(?, recipients),"
            " cancelled_at = CASE WHEN ? = 'cancelled' THEN ? ELSE cancelled_at END,"
            " cancelled_by = CASE WHEN ? = 'cancelled' THEN ? ELSE cancelled_by END,"
            " finished_at = CASE WHEN ? IN ('sent', 'cancelled') THEN ? ELSE finished_at END"
            " WHERE id = ? AND state = ?",
            (
                str(state),
                recipients,
                str(state),
                records.stamp(now),
                str(state),
                by,
                str(state),
                records.stamp(now),
                broadcast_id,
                str(was),
            ),
        )
        return changed == 1

    # --- the audience ----------------------------------------------------------------------

    async def audience_count(self, audience: Audience, topic: str) -> AudienceCount:
        enterprises = registered = muted = contacts = 0
        for condition, params in audience_conditions(audience):
            row = await self._one(
                "SELECT COUNT(*) AS n, COUNT(e.id) AS registered,"  # noqa: S608 - constant SQL, values as parameters
                f" COUNT(*) FILTER (WHERE {_MUTED}) AS muted"
                " FROM directory d LEFT JOIN enterprises e ON e.id = d.enterprise_id"
                f" WHERE {condition}",  # noqa: S608 - constant conditions, values as parameters
                (topic, *params),
            )
            people = await self._one(
                "SELECT COUNT(*) AS n FROM users u JOIN directory d ON d.enterprise_id ="  # noqa: S608 - constant SQL, values as parameters
                " u.enterprise_id JOIN enterprises e ON e.id = u.enterprise_id"
                " WHERE u.role = 'enterprise' AND u.removed_at IS NULL"
                f" AND NOT {_MUTED} AND {condition}",  # noqa: S608 - constant conditions
                (topic, *params),
            )
            enterprises += row["n"]
            registered += row["registered"]
            muted += row["muted"]
            contacts += people["n"]
        return AudienceCount(enterprises, registered, muted, contacts)

    async def choose_recipients(self, broadcast_id: int, audience: Audience, topic: str) -> int:
        """Every registered contact the audience names becomes a recipient (in the database:
        memory stays flat however many); those whose enterprise muted the topic are kept as
        muted. Returns how many recipients."""
        total = 0
        for condition, params in audience_conditions(audience):
            total += await self._changed(
                "INSERT INTO broadcast_recipients (broadcast_id, chat_id, enterprise_id, muted)"  # noqa: S608 - constant SQL, values as parameters
                f" SELECT ?, u.tg_id, u.enterprise_id, CASE WHEN {_MUTED} THEN 1 ELSE 0 END"
                " FROM users u JOIN directory d ON d.enterprise_id = u.enterprise_id"
                " JOIN enterprises e ON e.id = u.enterprise_id"
                " WHERE u.role = 'enterprise' AND u.removed_at IS NULL"
                f" AND {condition} ON CONFLICT DO NOTHING",  # noqa: S608 - constant conditions
                (broadcast_id, topic, *params),
            )
        return total

    async def queue_messages(
        self, broadcast_id: int, kind: str, priority: int, now: datetime
    ) -> int:
        """One outbox message of `kind` to each recipient not muted, due now."""
        stamp = self.dialect.typed("?", "timestamptz")
        return await self._changed(
            "INSERT INTO outbox (chat_id, kind, subject, subject_id, detail, priority,"  # noqa: S608 - constant SQL, values as parameters
            f" created_at, due_at) SELECT chat_id, ?, 'broadcast', broadcast_id,"
            f" {self.dialect.typed('?', 'jsonb')}, ?, {stamp}, {stamp}"
            " FROM broadcast_recipients WHERE broadcast_id = ? AND muted = 0"
            " ORDER BY chat_id",  # noqa: S608 - dialect fragments
            (kind, "{}", priority, records.stamp(now), records.stamp(now), broadcast_id),
        )

    async def values(self, kind: AudienceKind, limit: int) -> list[tuple[str, int]]:
        """The values an audience of `kind` may name, the most common first: (value, how
        many enterprises)."""
        queries = {
            AudienceKind.INDUSTRY: "SELECT industry AS v, COUNT(*) AS n FROM directory"
            " WHERE industry <> '' GROUP BY industry",
            AudienceKind.DISTRICT: "SELECT district AS v, COUNT(*) AS n FROM directory"
            " WHERE district <> '' GROUP BY district",
            AudienceKind.SCALE: "SELECT scale AS v, COUNT(*) AS n FROM directory"
            " WHERE scale <> '' GROUP BY scale",
            AudienceKind.TAG: "SELECT tag AS v, COUNT(*) AS n FROM directory_tags GROUP BY tag",
            # as the audience counts them: the registered enterprise's 包保, else the roster's
            AudienceKind.BAOBAO: "SELECT CAST(b AS TEXT) AS v, COUNT(*) AS n FROM (SELECT"
            " COALESCE(e.baobao_user_id, CASE WHEN e.id IS NULL THEN d.baobao_user_id END) AS b"
            " FROM directory d LEFT JOIN enterprises e ON e.id = d.enterprise_id) x"
            " WHERE b IS NOT NULL GROUP BY b",
            AudienceKind.CATEGORY: "SELECT category AS v, COUNT(DISTINCT enterprise_id) AS n"
            " FROM appeals GROUP BY category",
        }
        rows = await self._all(queries[kind] + " ORDER BY n DESC, v LIMIT ?", (limit,))
        return [(str(r["v"]), int(r["n"])) for r in rows]

    # --- recipients --------------------------------------------------------------------------

    async def is_recipient(self, broadcast_id: int, chat_id: int) -> bool:
        """Whether the broadcast reached this chat (its message went)."""
        row = await self._one(
            f"SELECT 1 AS x FROM broadcast_recipients r JOIN outbox o ON {_MESSAGE}"  # noqa: S608
            " WHERE r.broadcast_id = ? AND r.chat_id = ? AND r.muted = 0 AND o.status = 'sent'",
            (broadcast_id, chat_id),
        )
        return row is not None

    async def mark_read(self, broadcast_id: int, chat_id: int, now: datetime) -> bool:
        """已阅, the first time (False: marked before)."""
        return (
            await self._changed(
                "UPDATE broadcast_recipients SET read_at = ? WHERE broadcast_id = ?"
                " AND chat_id = ? AND read_at IS NULL",
                (records.stamp(now), broadcast_id, chat_id),
            )
            == 1
        )

    async def mark_asked(self, broadcast_id: int, chat_id: int, now: datetime) -> None:
        """咨询 pressed (the first time is kept); 咨询 counts as read too."""
        await self.conn.execute(
            "UPDATE broadcast_recipients SET asked_at = COALESCE(asked_at, ?),"
            " read_at = COALESCE(read_at, ?) WHERE broadcast_id = ? AND chat_id = ?",
            (records.stamp(now), records.stamp(now), broadcast_id, chat_id),
        )

    async def link_appeal(self, broadcast_id: int, chat_id: int, appeal_id: int) -> None:
        await self.conn.execute(
            "UPDATE broadcast_recipients SET appeal_id = COALESCE(appeal_id, ?)"
            " WHERE broadcast_id = ? AND chat_id = ?",
            (appeal_id, broadcast_id, chat_id),
        )

    async def reach(self, broadcast_id: int) -> ReachCounts:
        rows = await self._all(
            "SELECT r.muted, o.status, o.error, COUNT(*) AS n, COUNT(r.read_at) AS read,"  # noqa: S608 - constant SQL, values as parameters
            " COUNT(r.asked_at) AS asked, COUNT(r.appeal_id) AS appeals"
            f" FROM broadcast_recipients r LEFT JOIN outbox o ON {_MESSAGE}"
            " WHERE r.broadcast_id = ? GROUP BY r.muted, o.status, o.error",  # noqa: S608
            (broadcast_id,),
        )
        by: dict[Reach, int] = {}
        total = read = asked = appeals = 0
        for r in rows:
            reach = reach_of(bool(r["muted"]), r["status"], r["error"])
            by[reach] = by.get(reach, 0) + r["n"]
            total += r["n"]
            read += r["read"]
            asked += r["asked"]
            appeals += r["appeals"]
        return ReachCounts(total, by, read, asked, appeals)

    async def reach_rows(
        self, broadcast_id: int, after: tuple[str, str, int] | None, limit: int
    ) -> list[ReachRow]:
        """The recipients after `after` (enterprise name, USCC, chat: the last of the page
        before) with their enterprise, outcome, 已阅 and 咨询, by enterprise: a page."""
        name, uscc, chat = after or ("", "", 0)
        rows = await self._all(
            "SELECT d.name AS enterprise, d.uscc, r.chat_id AS chat, u.full_name AS contact,"  # noqa: S608 - constant SQL, values as parameters
            " r.muted, o.status,"
            " o.error, o.sent_at, r.read_at, r.asked_at, a.number AS appeal"
            " FROM broadcast_recipients r"
            " JOIN directory d ON d.enterprise_id = r.enterprise_id"
            " LEFT JOIN users u ON u.tg_id = r.chat_id"
            f" LEFT JOIN outbox o ON {_MESSAGE}"
            " LEFT JOIN appeals a ON a.id = r.appeal_id"
            " WHERE r.broadcast_id = ? AND (? = 0 OR d.name > ? OR d.name = ? AND (d.uscc > ?"
            " OR d.uscc = ? AND r.chat_id > ?)) ORDER BY d.name, d.uscc, r.chat_id LIMIT ?",
            (broadcast_id, int(after is not None), name, name, uscc, uscc, chat, limit),
        )
        return [
            ReachRow(
                r["enterprise"],
                r["uscc"],
                r["contact"] or "",
                reach_of(bool(r["muted"]), r["status"], r["error"]),
                records.moment(r["sent_at"]),
                records.moment(r["read_at"]),
                records.moment(r["asked_at"]),
                r["appeal"],
                r["chat"],
            )
            for r in rows
        ]

    async def sending_without_pending(self, limit: int) -> list[int]:
        """Broadcasts still `sending` whose messages have all gone or ended."""
        rows = await self._all(
            "SELECT b.id FROM broadcasts b WHERE b.state = 'sending' AND NOT EXISTS ("
            " SELECT 1 FROM outbox o WHERE o.subject = 'broadcast' AND o.subject_id = b.id"
            " AND o.kind = 'broadcast' AND o.status IN ('pending', 'sending'))"
            " ORDER BY b.id LIMIT ?",
            (limit,),
        )
        return [r["id"] for r in rows]

    # --- topic mutes ------------------------------------------------------------------------

    async def mute(self, enterprise_id: int, topic: str, by: int, now: datetime) -> bool:
        changed = await self._changed(
            "INSERT INTO topic_mutes (enterprise_id, topic, muted_by, muted_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (enterprise_id, topic) DO NOTHING",
            (enterprise_id, topic, by, records.stamp(now)),
        )
        return changed == 1

    async def unmute(self, enterprise_id: int, topic: str) -> bool:
        changed = await self._changed(
            "DELETE FROM topic_mutes WHERE enterprise_id = ? AND topic = ?",
            (enterprise_id, topic),
        )
        return changed == 1

    async def muted(self, enterprise_id: int) -> set[str]:
        rows = await self._all(
            "SELECT topic FROM topic_mutes WHERE enterprise_id = ?", (enterprise_id,)
        )
        return {r["topic"] for r in rows}
