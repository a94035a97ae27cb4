"""What several bot processes on one database share: Telegram's updates claimed by their id
as they come to a webhook (the inbox), leases — who holds a role (the leader's jobs, the
poller) or a person's turn, until when — and Telegram's flood limits (the bot's thirty places
and each chat's)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from storage import records
from storage.base import Store


class InboxRepo(Store):
    """Updates as they came, by Telegram's update id: stored once, handled once, in each
    person's order (`turn_key`: the person, else the chat)."""

    async def store(
        self, update_id: int, turn_key: int, payload: dict[str, Any], now: datetime
    ) -> bool:
        """Keep an update; False when its id was stored before (a re-send, or the same
        update posted to another instance)."""
        changed = await self._changed(
            "INSERT INTO updates_inbox (update_id, turn_key, payload, received_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (update_id) DO NOTHING",
            (update_id, turn_key, json.dumps(payload, ensure_ascii=False), records.stamp(now)),
        )
        return changed == 1

    async def waiting(self, turn_key: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """The key's updates not handled yet, oldest first."""
        rows = await self._all(
            "SELECT update_id, payload FROM updates_inbox WHERE turn_key = ?"
            " AND handled_at IS NULL ORDER BY update_id LIMIT ?",
            (turn_key, limit),
        )
        return [(int(r["update_id"]), json.loads(r["payload"])) for r in rows]

    async def handled(self, update_id: int, now: datetime) -> None:
        await self.conn.execute(
            "UPDATE updates_inbox SET handled_at = ? WHERE update_id = ?",
            (records.stamp(now), update_id),
        )

    async def stranded(self, received_before: datetime, limit: int) -> list[int]:
        """Keys with an update received before that moment and not handled yet (its
        instance died, or failed, while handling it)."""
        rows = await self._all(
            "SELECT turn_key FROM updates_inbox WHERE handled_at IS NULL"
            " AND received_at < ? GROUP BY turn_key ORDER BY MIN(update_id) LIMIT ?",
            (records.stamp(received_before), limit),
        )
        return [int(r["turn_key"]) for r in rows]

    async def forget(self, received_before: datetime) -> int:
        """Updates older than Telegram's re-sending of them are forgotten; how many."""
        return await self._changed(
            "DELETE FROM updates_inbox WHERE received_at < ? AND handled_at IS NOT NULL",
            (records.stamp(received_before),),
        )


class LeaseRepo(Store):
    """A named role held by one holder until a moment; anybody may take it once that moment
    has passed (its holder died), and its holder may renew it before."""

    async def take(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        """Take or renew `name` for `holder` until `until`; False when another holds it."""
        rows = await self._all(
            "INSERT INTO leases (name, holder, until_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
            " until_at = excluded.until_at"
            " WHERE leases.holder = excluded.holder OR leases.until_at <= ?"
            " RETURNING holder",
            (name, holder, records.stamp(until), records.stamp(now)),
        )
        return bool(rows)

    async def take_over(
        self, name: str, dead: str, holder: str, now: datetime, until: datetime
    ) -> bool:
        """Take `name` from a holder known to be dead, if it still holds it."""
        rows = await self._all(
            "UPDATE leases SET holder = ?, until_at = ? WHERE name = ? AND holder = ?"
            " RETURNING holder",
            (holder, records.stamp(until), name, dead),
        )
        return bool(rows)

    async def release(self, name: str, holder: str) -> None:
        """Give `name` up, if `holder` still holds it."""
        await self.conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    async def forget(self, ended_before: datetime) -> int:
        """Leases that ran out before that moment (a person's turn whose holder died, and
        who wrote nothing since) are forgotten; how many."""
        return await self._changed(
            "DELETE FROM leases WHERE until_at < ?", (records.stamp(ended_before),)
        )

    async def holder(self, name: str, now: datetime) -> str | None:
        """Who holds `name` now (None: nobody, or a lease run out)."""
        row = await self._one(
            "SELECT holder FROM leases WHERE name = ? AND until_at > ?",
            (name, records.stamp(now)),
        )
        return None if row is None else str(row["holder"])


class ChatPlaceRepo(Store):
    """A chat's places under Telegram's per-chat limit, shared by every instance (one for a
    person, 20 for a group): a message holds one from before it goes until Telegram
    answered, and the place is free again a period after that answer."""

    async def take(
        self,
        chat: str,
        holder: str,
        now: float,
        held_until: float,
        spare: int = 0,
    ) -> int | None:
        """Hold a free place of the chat for `holder` (until `held_until` at the latest,
        should it die), leaving at least `spare` others free; its number, None when there
        is none to take (or none is made yet)."""
        free = "chat = :chat AND free_from <= :now AND held_until <= :now"
        rows = await self._all(
            "UPDATE chat_places SET holder = :holder, held_until = :held_until"  # noqa: S608 (constants only)
            f" WHERE chat = :chat AND place = (SELECT MIN(place) FROM chat_places WHERE {free})"
            " AND free_from <= :now AND held_until <= :now"
            f" AND (SELECT COUNT(*) FROM chat_places WHERE {free}) > :spare RETURNING place",
            {
                "chat": chat,
                "holder": holder,
                "now": now,
                "held_until": held_until,
                "spare": spare,
            },
        )
        return int(rows[0]["place"]) if rows else None

    async def free_in(
        self, chat: str, now: float, spare: int = 0
    ) -> tuple[int, float, list[tuple[int, str]]]:
        """(how many places the chat has, the seconds until one is free with `spare` others
        beside it — infinite while too many are held by messages Telegram has not answered —,
        and the places with holders)."""
        rows = await self._all(
            "SELECT place, holder, free_from, held_until FROM chat_places WHERE chat = :chat",
            {"chat": chat},
        )
        held = [(int(r["place"]), str(r["holder"])) for r in rows if float(r["held_until"]) > now]
        waits = sorted(
            float(r["free_from"]) - now if float(r["held_until"]) <= now else float("inf")
            for r in rows
        )
        wait = waits[min(spare, len(waits) - 1)] if waits else 0.0
        return len(rows), max(wait, 0.0), held

    async def take_over(
        self, chat: str, place: int, dead: str, holder: str, held_until: float
    ) -> bool:
        """Take a place held by a holder known to be dead, if it still holds it."""
        rows = await self._all(
            "UPDATE chat_places SET holder = :holder, held_until = :held_until"
            " WHERE chat = :chat AND place = :place AND holder = :dead"
            " AND held_until > 0 RETURNING place",
            {
                "chat": chat,
                "place": place,
                "dead": dead,
                "holder": holder,
                "held_until": held_until,
            },
        )
        return bool(rows)

    async def make(self, chat: str, places: int) -> None:
        """The chat's places, made by the first message to it (from any instance)."""
        await self.conn.execute(
            "INSERT INTO chat_places (chat, place) VALUES "  # noqa: S608 - numbers only
            + ", ".join(f"(:chat, {n})" for n in range(places))
            + " ON CONFLICT (chat, place) DO NOTHING",
            {"chat": chat},
        )

    async def give_back(self, chat: str, place: int, holder: str, free_from: float) -> None:
        """Telegram answered the message that held the place: free from `free_from` on (not
        when the place was meanwhile taken by another, its holder having been given up)."""
        await self.conn.execute(
            "UPDATE chat_places SET held_until = 0, free_from = :free_from"
            " WHERE chat = :chat AND place = :place AND holder = :holder",
            {"chat": chat, "place": place, "holder": holder, "free_from": free_from},
        )

    async def forget(self, before: float) -> int:
        """Chats nobody has written to since `before` are forgotten; how many places."""
        return await self._changed(
            "DELETE FROM chat_places WHERE free_from < :before AND held_until < :before",
            {"before": before},
        )
