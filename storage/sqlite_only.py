"""SQLITE-SPECIFIC: everything a PostgreSQL backend would write differently lives here.

- connection set-up (PRAGMAs, a read-only reader opened with `mode=ro` and `query_only`);
- the migration runner (`executescript` commits by itself, so the version row rides along);
- the ledger's per-appeal history aggregated as JSON (`json_group_array` / `json_object`;
  PostgreSQL: `json_agg(json_build_object(...) ORDER BY ...)`).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA synchronous = NORMAL",
)


async def connect_writer(path: Path) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = aiosqlite.Row
    for pragma in PRAGMAS:
        await conn.execute(pragma)
    return conn


async def connect_reader(path: Path) -> aiosqlite.Connection:
    """A connection that cannot write, whatever SQL reaches it."""
    conn = await aiosqlite.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    conn.row_factory = aiosqlite.Row
    await conn.execute("PRAGMA busy_timeout = 5000")
    await conn.execute("PRAGMA query_only = ON")
    return conn


async def apply_migration(conn: aiosqlite.Connection, version: int, sql: str) -> None:
    await conn.executescript(
        "BEGIN IMMEDIATE;\n"
        + sql
        + f"\nINSERT INTO schema_migrations VALUES ({int(version)}, "
        + f"'{datetime.now(UTC).isoformat()}');\nCOMMIT;"
    )


# The history of one appeal `a` as JSON arrays, rendered (local time, Chinese names) by
# the use case; fixed SQL, no values interpolated.
LEDGER_HISTORY = (
    " (SELECT json_group_array(json_object('at', ev.created_at, 'action', ev.action,"
    "   'actor', u.full_name, 'detail', ev.detail)) FROM (SELECT * FROM audit_events"
    "   WHERE appeal_id = a.id ORDER BY id) ev LEFT JOIN users u ON u.tg_id = ev.actor_id)"
    "   AS history,"
    " (SELECT json_group_array(json_object('at', m.created_at, 'kind', m.kind,"
    "   'author', u.full_name, 'text', m.text)) FROM (SELECT * FROM appeal_messages"
    "   WHERE appeal_id = a.id ORDER BY id) m LEFT JOIN users u ON u.tg_id = m.author_id)"
    "   AS messages,"
    " (SELECT json_group_array(json_object('family', n.family, 'year', n.serial_year,"
    "   'no', n.serial_no)) FROM (SELECT * FROM notices WHERE subject = 'appeal'"
    "   AND subject_id = a.id ORDER BY family, serial_year, serial_no) n) AS notices"
)


# Also SQLite-specific, written inline where used: the digest's counts in storage/reports.py
# turn UTC moments into local days with `date(moment, :offset)`, `:offset` being the zone's
# UTC offset such as '+480 minutes' (fixed for the period; Asia/Shanghai has no daylight
# saving). PostgreSQL would use `(moment AT TIME ZONE :zone)::date`.
# The triggers of migration 7 (appeals → appeal_changes) use SQLite's trigger body syntax;
# PostgreSQL would write one trigger function and three `CREATE TRIGGER … EXECUTE FUNCTION`.


class UnreadableDatabase(Exception):
    """The file is not a SQLite database this can read."""


def inspect_file(path: Path) -> tuple[str, set[int]]:
    """(PRAGMA integrity_check's verdict, the schema versions applied) of a database file,
    opened read-only; for `appealdesk check`, without opening it for the bot."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
            try:
                applied = {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
            except sqlite3.OperationalError:
                applied = set()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise UnreadableDatabase(str(exc)) from None
    return verdict, applied
