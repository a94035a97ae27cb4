"""SQL of the enterprise directory (企业名录): entries, their tags, matching registrations."""

from __future__ import annotations

from collections import Counter

from bot.rules.directory import DirectoryCounts, DirectoryEntry, Scale
from storage import records
from storage.base import HOLD_DIRECTORY, Row, Store, placeholders
from storage.conversations import like_prefix

_COLUMNS = (
    "id, uscc, name, industry, district, scale, baobao_name, baobao_user_id, enterprise_id,"
    " created_at, updated_at"
)


def _entry(row: Row, tags: list[str]) -> DirectoryEntry:
    return DirectoryEntry(
        row["id"],
        row["uscc"],
        row["name"],
        row["industry"],
        row["district"],
        Scale(row["scale"]) if row["scale"] else None,
        tuple(tags),
        row["baobao_name"],
        row["baobao_user_id"],
        row["enterprise_id"],
        records.moment(row["created_at"]),
        records.moment(row["updated_at"]),
    )


class DirectoryRepo(Store):
    async def hold(self) -> None:
        """Hold the directory until COMMIT: two imports at once run one after the other."""
        await self._hold(HOLD_DIRECTORY, 0)

    async def _with_tags(self, rows: list[Row]) -> list[DirectoryEntry]:
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        tags: dict[int, list[str]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for t in await self._all(
                f"SELECT entry_id, tag FROM directory_tags WHERE entry_id IN"  # noqa: S608 - placeholders
                f" ({placeholders(len(chunk))}) ORDER BY entry_id, tag",
                tuple(chunk),
            ):
                tags[t["entry_id"]].append(t["tag"])
        return [_entry(r, tags[r["id"]]) for r in rows]

    async def _first(self, where: str, params: tuple) -> DirectoryEntry | None:
        sql = f"SELECT {_COLUMNS} FROM directory WHERE {where}"  # noqa: S608 - constants
        rows = await self._all(sql, params)
        found = await self._with_tags(rows)
        return found[0] if found else None

    async def get(self, entry_id: int) -> DirectoryEntry | None:
        return await self._first("id = ?", (entry_id,))

    async def by_uscc(self, uscc: str) -> DirectoryEntry | None:
        return await self._first("uscc = ?", (uscc,))

    async def of_enterprise(self, enterprise_id: int) -> DirectoryEntry | None:
        return await self._first("enterprise_id = ?", (enterprise_id,))

    async def add(self, entry: DirectoryEntry) -> int:
        entry_id = await self._insert(
            "INSERT INTO directory (uscc, name, industry, district, scale, baobao_name,"
            " baobao_user_id, enterprise_id, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.uscc,
                entry.name,
                entry.industry,
                entry.district,
                str(entry.scale or ""),
                entry.baobao_name,
                entry.baobao_user_id,
                entry.enterprise_id,
                records.stamp(entry.created_at),
                records.stamp(entry.updated_at),
            ),
        )
        await self._put_tags(entry_id, entry.tags)
        return entry_id

    async def save(self, entry: DirectoryEntry) -> None:
        """Write every attribute of a stored entry (its tags replaced)."""
        await self.conn.execute(
            "UPDATE directory SET name = ?, industry = ?, district = ?, scale = ?,"
            " baobao_name = ?, baobao_user_id = ?, enterprise_id = ?, updated_at = ?"
            " WHERE id = ?",
            (
                entry.name,
                entry.industry,
                entry.district,
                str(entry.scale or ""),
                entry.baobao_name,
                entry.baobao_user_id,
                entry.enterprise_id,
                records.stamp(entry.updated_at),
                entry.id,
            ),
        )
        await self.conn.execute("DELETE FROM directory_tags WHERE entry_id = ?", (entry.id,))
        await self._put_tags(entry.id, entry.tags)

    async def _put_tags(self, entry_id: int, tags: tuple[str, ...]) -> None:
        if tags:
            await self.conn.executemany(
                "INSERT INTO directory_tags (entry_id, tag) VALUES (?, ?)",
                [(entry_id, tag) for tag in tags],
            )

    async def export_page(self, after_id: int, limit: int) -> list[tuple[DirectoryEntry, str, int]]:
        """Entries in id order after `after_id`, each with its 包保 by name (the registered
        enterprise's, else the roster's) and its contacts: one query a page."""
        rows = await self._all(
            f"SELECT {', '.join('d.' + c.strip() for c in _COLUMNS.split(','))},"  # noqa: S608
            " b.full_name AS baobao_shown,"
            " (SELECT COUNT(*) FROM users u WHERE u.enterprise_id = d.enterprise_id"
            "  AND u.removed_at IS NULL) AS contacts"
            " FROM directory d LEFT JOIN enterprises e ON e.id = d.enterprise_id"
            " LEFT JOIN users b ON b.tg_id = e.baobao_user_id"
            " WHERE d.id > ? ORDER BY d.id LIMIT ?",
            (after_id, limit),
        )
        entries = await self._with_tags(rows)
        return [
            (entry, row["baobao_shown"] or entry.baobao_name, int(row["contacts"] or 0))
            for entry, row in zip(entries, rows, strict=True)
        ]

    async def search(self, text: str, limit: int) -> list[DirectoryEntry]:
        """Entries whose name holds `text` (or whose USCC starts with it), by name."""
        pattern = "%" + like_prefix(text)
        rows = await self._all(
            f"SELECT {_COLUMNS} FROM directory WHERE name LIKE ? ESCAPE '!'"  # noqa: S608 - constant columns
            " OR uscc LIKE ? ESCAPE '!' ORDER BY name, id LIMIT ?",
            (pattern, like_prefix(text.upper()), limit),
        )
        return await self._with_tags(rows)

    async def counts(self, top: int) -> DirectoryCounts:
        """How many entries, how many registered, and the `top` most common of each
        attribute (an empty attribute counted under "")."""
        total = await self._one(
            "SELECT COUNT(*) AS n, COUNT(enterprise_id) AS registered FROM directory"
        )
        by: dict[str, dict[str, int]] = {}
        for column in ("scale", "industry", "district"):
            rows = await self._all(
                f"SELECT {column} AS value, COUNT(*) AS n FROM directory GROUP BY {column}"  # noqa: S608 - a constant column
                f" ORDER BY n DESC, {column} LIMIT ?",
                (top,),
            )
            by[column] = {r["value"]: r["n"] for r in rows}
        tags = await self._all(
            "SELECT tag, COUNT(*) AS n FROM directory_tags GROUP BY tag ORDER BY n DESC, tag"
            " LIMIT ?",
            (top,),
        )
        return DirectoryCounts(
            int(total["n"]) if total else 0,
            int(total["registered"]) if total else 0,
            by["scale"],
            by["industry"],
            by["district"],
            dict(Counter({r["tag"]: int(r["n"]) for r in tags})),
        )
