"""The SQL that must differ between SQLite and PostgreSQL, as fragments the shared SQL of
the repositories takes from `self.dialect` (everything else is written once, portably).

A fragment is fixed text: keys are code constants (checked to be plain names), values stay
parameters. `SQLITE` and `POSTGRESQL` are the two dialects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _key(key: str) -> str:
    if not _NAME.match(key):
        raise ValueError(f"not a plain JSON key: {key!r}")
    return key


@dataclass(frozen=True)
class Dialect:
    """One database's spelling of the few things SQL does not say the same way."""

    name: str  # "sqlite" | "postgresql"

    @property
    def postgresql(self) -> bool:
        return self.name == "postgresql"

    def json_value(self, column: str, key: str) -> str:
        """The value under `key` of the JSON object in `column`, NULL when absent or null
        (compare with IS NULL / IS NOT NULL; its type differs: SQLite's own, text here)."""
        if self.postgresql:
            return f"({column}::jsonb ->> '{_key(key)}')"
        return f"json_extract({column}, '$.{_key(key)}')"

    def json_set_absent(self, column: str, key: str, value_sql: str) -> str:
        """`column`'s JSON object with `key` set to `value_sql` unless it holds a value
        there already (as the value to assign to the column)."""
        present = f"{self.json_value(column, key)} IS NOT NULL"
        if self.postgresql:
            # Both branches jsonb: assigned to a text column it is cast back (an assignment
            # cast); a jsonb column takes it as it is.
            return (
                f"CASE WHEN {present} THEN {column}::jsonb"
                f" ELSE jsonb_set({column}::jsonb, '{{{_key(key)}}}', to_jsonb({value_sql})) END"
            )
        return (
            f"CASE WHEN {present} THEN {column}"
            f" ELSE json_set({column}, '$.{_key(key)}', {value_sql}) END"
        )

    def skip_locked(self) -> str:
        """Appended to a SELECT that picks rows to claim: rows another transaction holds
        are passed over (PostgreSQL). SQLite has one writer: nothing to add."""
        return " FOR UPDATE SKIP LOCKED" if self.postgresql else ""

    def lock_row(self) -> str:
        """Appended to a SELECT of one row read to be changed: hold it until COMMIT."""
        return " FOR UPDATE" if self.postgresql else ""

    def byte_wise(self, column: str) -> str:
        """`column` compared by code point, as SQLite compares text, whatever the database's
        collation (under a language's, 'task;' sorts before 'task:12': a range of subjects
        would miss them). The PostgreSQL index that serves it is made with the same
        COLLATE."""
        if self.postgresql:
            return f'{column} COLLATE "C"'
        return column

    def unindexed(self, column: str) -> str:
        """`column` as an expression no index serves: SQLite's planner would otherwise walk a
        whole index on it just for an ORDER BY or PARTITION BY (`+column` says not to; the
        unary plus is SQLite's, PostgreSQL has none for text and plans this well itself)."""
        if self.postgresql:
            return column
        return f"+{column}"

    def exclusive_for(self, space: int, key_param: str) -> str | None:
        """A statement making the rest of this transaction exclusive for one value of a kind
        (`space`, a code constant: an appeal's id, an enterprise's USCC bound to
        `key_param`), until COMMIT or ROLLBACK: for work that reads, then writes what the
        read allowed. Two transactions wait for each other only when their values are
        equal. PostgreSQL: a two-key advisory transaction lock. None on SQLite: its one
        writer already is exclusive."""
        if self.postgresql:
            return (
                f"SELECT pg_advisory_xact_lock({int(space)}, hashtext(CAST({key_param} AS text)))"
            )
        return None

    def local_day(self, column: str, zone_param: str) -> str:
        """The calendar day of the moment in `column` where the zone bound to `zone_param`
        (a value from `zone_value`) is."""
        if self.postgresql:
            return f"({column} AT TIME ZONE {zone_param})::date"
        return f"date({column}, {zone_param})"

    def zone_value(self, zone: ZoneInfo, at: datetime) -> str:
        """What to bind to `local_day`'s `zone_param`: the zone's name (PostgreSQL), or its
        UTC offset at `at` as a SQLite modifier ('+480 minutes'; fixed for the period: the
        bureau's zone has no daylight saving)."""
        if self.postgresql:
            return zone.key
        offset = at.astimezone(zone).utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset is not None else 0
        return f"{minutes:+d} minutes"

    def typed(self, param_sql: str, sql_type: str) -> str:
        """A parameter whose type the server cannot infer (`:end IS NULL OR …`): cast on
        PostgreSQL (`timestamptz`, `date`, `bigint`, `text`); as it is on SQLite."""
        if self.postgresql:
            return f"CAST({param_sql} AS {sql_type})"
        return param_sql


SQLITE = Dialect("sqlite")
POSTGRESQL = Dialect("postgresql")
