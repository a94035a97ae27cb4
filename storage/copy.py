"""`appealdesk copy-db`: every row of one database into another (SQLite or PostgreSQL on
either side), then proof that nothing was lost.

- The target must hold AppealDesk's schema at the source's version and no data (the digest's
  tallies, which triggers and the digest rebuild, excepted: `DERIVED`).
- Tables are copied in the order of their foreign keys; a cycle (an enterprise's 包保 user
  is a user of an enterprise) is broken by writing a nullable column afterwards.
- Everything is written in one target transaction: a failure leaves the target empty.
  PostgreSQL receives each table through one `COPY … FROM STDIN`, SQLite through batched
  INSERTs.
- PostgreSQL sequences a column owns (identity columns', outbox.list_id's) are set past the
  copied values.
- Then per table: the row count and a checksum on each side, over the rows in primary-key
  order, each value normalised (moments as UTC ISO text, days as ISO dates, JSON canonical,
  booleans as 0/1), so SQLite's text and PostgreSQL's timestamptz/jsonb compare equal.

Synchronous on purpose: an operator's command, one connection per side (sqlite3, psycopg).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from storage.factory import SQLITE, masked, parse_database_url, pg_connection

BATCH = 2000
# Tables a trigger or the digest fills from the others (storage/reports.py): the target's
# own rows there are replaced by the source's, and they need not be empty beforehand.
DERIVED = ("appeal_changes", "appeal_tallies", "appeal_tally_basis")
NOT_COPIED = ("schema_migrations",)  # each side's own record of its migrations

# How a column's values are compared and written: by the PostgreSQL type where one side is
# PostgreSQL (SQLite declares TEXT for moments, days and JSON), else as they are.
MOMENT, DAY, JSON, BOOL, PLAIN = "moment", "day", "json", "bool", "plain"
PG_KINDS = {
    "timestamp with time zone": MOMENT,
    "timestamp without time zone": MOMENT,
    "date": DAY,
    "json": JSON,
    "jsonb": JSON,
    "boolean": BOOL,
}


class CopyRefused(Exception):
    """The copy cannot start (or was undone): one line saying why, no password."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    nullable: bool
    sequenced: bool = False  # a sequence it owns gives its values (PostgreSQL)
    text: bool = False  # compared byte-wise when ordering (COLLATE "C" on PostgreSQL)


@dataclass
class Table:
    name: str
    columns: list[Column]
    key: list[str]  # primary key columns (all columns when there is none)
    references: list[tuple[str, str]] = field(default_factory=list)  # (column, table)
    checked: set[str] = field(default_factory=set)  # names in its CHECK constraints


@dataclass(frozen=True)
class TableResult:
    table: str
    source_rows: int
    target_rows: int
    source_sum: str
    target_sum: str

    @property
    def same(self) -> bool:
        return self.source_rows == self.target_rows and self.source_sum == self.target_sum


@dataclass(frozen=True)
class CopyReport:
    tables: list[TableResult]

    @property
    def differing(self) -> list[str]:
        return [t.table for t in self.tables if not t.same]

    @property
    def total(self) -> int:
        return sum(t.target_rows for t in self.tables)


def copy_database(
    source_url: str, target_url: str, progress: Callable[[str], None] = lambda _: None
) -> CopyReport:
    """Copy every row of `source_url` into `target_url` and compare both sides afterwards."""
    source, target = parse_database_url(source_url), parse_database_url(target_url)
    if source.url == target.url or (
        source.path is not None
        and target.path is not None
        and source.path.resolve() == target.path.resolve()
    ):
        raise CopyRefused("--from and --to name the same database")
    with _side(source_url, writing=False) as src, _side(target_url, writing=True) as dst:
        tables = _compatible(src, dst, masked(source.url), masked(target.url))
        _require_empty(dst, tables, target.shown)
        order, later = _order(tables)
        dst.begin()
        try:
            for table in order:
                progress(f"copying {table.name} …")
                _copy_table(src, dst, table, later.get(table.name, []))
            for table in order:
                for column in later.get(table.name, []):
                    _fill_later(src, dst, table, column)
            dst.after_copy(order)
            dst.commit()
        except _database_errors() as exc:
            dst.rollback()
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise CopyRefused(
                f"the copy was undone (the target is empty again): {detail}"
            ) from None
        except BaseException:
            dst.rollback()
            raise
        results = []
        for table in sorted(tables.values(), key=lambda t: t.name):
            s_rows, s_sum = checksum(src, table)
            t_rows, t_sum = checksum(dst, table)
            results.append(TableResult(table.name, s_rows, t_rows, s_sum, t_sum))
    return CopyReport(results)


def _database_errors() -> tuple[type[Exception], ...]:
    """What either driver raises when a statement (an INSERT, a COPY) is refused."""
    try:
        import psycopg
    except ImportError:
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg.Error)


def _compatible(src: _Side, dst: _Side, src_name: str, dst_name: str) -> dict[str, Table]:
    """The tables to copy, each column's kind taken from whichever side says more; the two
    sides must be AppealDesk databases at the same schema version with the same columns."""
    applied_src, applied_dst = src.applied(), dst.applied()
    if not applied_src:
        raise CopyRefused(f"{src_name} holds no AppealDesk schema")
    if applied_src != applied_dst:
        src_at, dst_at = max(applied_src), max(applied_dst, default=0)
        raise CopyRefused(
            f"{src_name} is at schema {src_at} and {dst_name} at {dst_at}: bring both to"
            " the same version first (DATABASE_URL=… appealdesk migrate apply, for each)"
        )
    src_tables, dst_tables = src.tables(), dst.tables()
    if set(src_tables) != set(dst_tables):
        odd = sorted(set(src_tables) ^ set(dst_tables))
        raise CopyRefused(f"the two databases' tables differ: {', '.join(odd)}")
    tables = {}
    for name, table in src_tables.items():
        other = dst_tables[name]
        if [c.name for c in table.columns] != [c.name for c in other.columns]:
            raise CopyRefused(f"table {name}: the two databases' columns differ")
        columns = [
            Column(
                a.name,
                a.kind if a.kind != PLAIN else b.kind,
                b.nullable,
                sequenced=b.sequenced,
                text=a.text and b.text,  # a day is TEXT on SQLite, a date here
            )
            for a, b in zip(table.columns, other.columns, strict=True)
        ]
        checked = table.checked | other.checked
        tables[name] = Table(name, columns, other.key or table.key, other.references, checked)
    return tables


def _require_empty(dst: _Side, tables: dict[str, Table], shown: str) -> None:
    full = [name for name in sorted(tables) if name not in DERIVED and dst.count(name)]
    if full:
        raise CopyRefused(
            f"{shown} already holds data (in {', '.join(full[:5])}); copy into a new, empty"
            " database that has only the schema (appealdesk migrate apply)"
        )


def _order(tables: dict[str, Table]) -> tuple[list[Table], dict[str, list[Column]]]:
    """Tables in foreign-key order (derived ones last); where references go round in a
    circle, a nullable column of one table in it is written afterwards (`later`)."""
    later: dict[str, list[Column]] = {}
    waiting = {name for name in tables if name not in DERIVED}
    order: list[Table] = []

    def blocked(table: Table) -> list[tuple[str, str]]:
        deferred = {c.name for c in later.get(table.name, [])}
        return [
            (column, ref)
            for column, ref in table.references
            if ref in waiting and column not in deferred and ref != table.name
        ]

    while waiting:
        ready = sorted(name for name in waiting if not blocked(tables[name]))
        if ready:
            order.extend(tables[name] for name in ready)
            waiting.difference_update(ready)
            continue
        name, column = _cycle_break(tables, blocked, waiting)
        later.setdefault(name, []).append(column)
    # self-references (none today) are written afterwards too
    for table in order:
        for column, ref in table.references:
            nullable = {c.name: c for c in table.columns if c.nullable}
            if ref == table.name and column in nullable:
                later.setdefault(table.name, []).append(nullable[column])
    order.extend(tables[name] for name in DERIVED if name in tables)
    return order, later


def _cycle_break(
    tables: dict[str, Table],
    blocked: Callable[[Table], list[tuple[str, str]]],
    waiting: set[str],
) -> tuple[str, Column]:
    """A nullable column on a circle of references among the waiting tables (every waiting
    table waits for another, so following them from any one comes round to a circle)."""
    path = [min(waiting)]
    while path[-1] not in path[:-1]:
        path.append(blocked(tables[path[-1]])[0][1])
    circle = path[path.index(path[-1]) : -1]
    choices = []
    for i, name in enumerate(circle):
        table, following = tables[name], circle[(i + 1) % len(circle)]
        nullable = {c.name: c for c in table.columns if c.nullable}
        for column, ref in blocked(table):
            if ref == following and column in nullable:
                # a column a CHECK speaks of may not be NULL for a while (a user's company)
                choices.append((column in table.checked, name, nullable[column]))
    if choices:
        _, name, column = min(choices, key=lambda c: (c[0], c[1], c[2].name))
        return name, column
    raise CopyRefused(f"foreign keys in a circle without a nullable column: {', '.join(circle)}")


def _copy_table(src: _Side, dst: _Side, table: Table, later: list[Column]) -> None:
    if table.name in DERIVED:
        # what triggers wrote meanwhile
        dst.execute(f"DELETE FROM {quoted(table.name)}")  # noqa: S608 - identifiers from the catalog, quoted
    deferred = {c.name for c in later}
    names = [c.name for c in table.columns]
    dst.write(
        table,
        (
            [
                tuple(
                    None if name in deferred else dst.to_db(value, column)
                    for name, value, column in zip(names, row, table.columns, strict=True)
                )
                for row in batch
            ]
            for batch in src.batches(table)
        ),
    )


def _fill_later(src: _Side, dst: _Side, table: Table, column: Column) -> None:
    key = [c for c in table.columns if c.name in table.key]
    where = " AND ".join(f"{quoted(c.name)} = {dst.mark}" for c in key)
    update = f"UPDATE {quoted(table.name)} SET {quoted(column.name)} = {dst.mark} WHERE {where}"  # noqa: S608 - identifiers from the catalog, quoted
    index = [c.name for c in table.columns].index(column.name)
    positions = [[c.name for c in table.columns].index(c.name) for c in key]
    for batch in src.batches(table):
        rows = [
            (
                dst.to_db(row[index], column),
                *(dst.to_db(row[i], table.columns[i]) for i in positions),
            )
            for row in batch
            if row[index] is not None
        ]
        if rows:
            dst.executemany(update, rows)


def checksum(side: _Side, table: Table) -> tuple[int, str]:
    """(rows, sha256) over the table's rows in primary-key order, values normalised."""
    digest = hashlib.sha256()
    count = 0
    normalisers = [_normaliser(c) for c in table.columns]
    for batch in side.batches(table):
        for row in batch:
            values = [f(v) for f, v in zip(normalisers, row, strict=True)]
            digest.update(json.dumps(values, ensure_ascii=False).encode())
            digest.update(b"\n")
            count += 1
    return count, digest.hexdigest()


def _normaliser(column: Column) -> Callable[[Any], Any]:
    """`normal` for one column, with the common values (NULL, text and integers in a column
    that is neither a moment, a day, JSON nor a boolean) let through as they are — what
    `normal` returns for them — without the checks (most of the values of a copy)."""
    if column.kind != PLAIN:
        return lambda value: normal(value, column)
    unchanged = (str, int, type(None))  # type() is exact: a bool is not let through

    def plain(value: Any) -> Any:
        return value if type(value) in unchanged else normal(value, column)

    return plain


def normal(value: Any, column: Column) -> Any:
    """A value as both backends' copies of it compare equal."""
    if value is None:
        return None
    if column.kind == MOMENT:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    if column.kind == DAY:
        return (date.fromisoformat(value) if isinstance(value, str) else value).isoformat()
    if column.kind == JSON:
        data = json.loads(value) if isinstance(value, str | bytes) else value
        return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    if column.kind == BOOL or isinstance(value, bool):
        return int(bool(value))
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime | date):  # a driver's value in a column declared text
        return value.isoformat()
    return value


def _checks(create: str) -> str:
    """The CHECK expressions of a CREATE TABLE statement, one after another."""
    found = []
    for match in re.finditer(r"\bCHECK\s*\(", create, re.IGNORECASE):
        depth, end = 1, match.end()
        while depth and end < len(create):
            depth += {"(": 1, ")": -1}.get(create[end], 0)
            end += 1
        found.append(create[match.end() : end - 1])
    return " ".join(found)


def named_in(expression: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expression))


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Side:
    """One database, as copy-db reads and writes it."""

    backend: str
    mark: str
    conn: Any  # a DB-API connection: sqlite3's, or psycopg's (both `execute` with parameters)

    def applied(self) -> set[int]:
        raise NotImplementedError

    def tables(self) -> dict[str, Table]:
        raise NotImplementedError

    def count(self, table: str) -> int:
        return int(self.one(f"SELECT COUNT(*) FROM {quoted(table)}")[0])  # noqa: S608 - identifiers from the catalog, quoted

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.conn.execute(sql, params).fetchone()

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    def order_by(self, table: Table) -> str:
        raise NotImplementedError

    def select(self, table: Table) -> str:
        columns = ", ".join(quoted(c.name) for c in table.columns)
        return f"SELECT {columns} FROM {quoted(table.name)} ORDER BY {self.order_by(table)}"  # noqa: S608 - identifiers from the catalog, quoted

    def batches(self, table: Table) -> Iterator[list[tuple[Any, ...]]]:
        raise NotImplementedError

    def insert_sql(self, table: Table) -> str:
        columns = ", ".join(quoted(c.name) for c in table.columns)
        marks = ", ".join(self.mark for _ in table.columns)
        return f"INSERT INTO {quoted(table.name)} ({columns}) VALUES ({marks})"  # noqa: S608 - identifiers from the catalog, quoted

    def write(self, table: Table, batches: Iterator[list[tuple[Any, ...]]]) -> None:
        """Add the rows (values already as `to_db` gives them), batch after batch, inside
        the copy's transaction."""
        insert = self.insert_sql(table)
        for rows in batches:
            self.executemany(insert, rows)

    def to_db(self, value: Any, column: Column) -> Any:
        raise NotImplementedError

    def begin(self) -> None:
        self.execute("BEGIN")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        self.execute("ROLLBACK")

    def after_copy(self, tables: list[Table]) -> None:
        """What the backend needs once the rows are in (PostgreSQL: the columns' sequences)."""


class _SqliteSide(_Side):
    backend, mark = SQLITE, "?"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def applied(self) -> set[int]:
        try:
            return {v for (v,) in self.conn.execute("SELECT version FROM schema_migrations")}
        except sqlite3.OperationalError:
            return set()

    def tables(self) -> dict[str, Table]:
        names = [
            name
            for (name,) in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
            if name not in NOT_COPIED
        ]
        found = {}
        for name in names:
            info = self.conn.execute(f"PRAGMA table_info({quoted(name)})").fetchall()
            columns = [
                Column(
                    row[1],
                    PLAIN,
                    nullable=not row[3] and not row[5],
                    text="TEXT" in (row[2] or "").upper(),
                )
                for row in info
            ]
            key = [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5]]
            refs = [
                (row[3], row[2])
                for row in self.conn.execute(f"PRAGMA foreign_key_list({quoted(name)})")
            ]
            (create,) = self.conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
            ).fetchone()
            checked = named_in(_checks(create))
            found[name] = Table(name, columns, key or [c.name for c in columns], refs, checked)
        return found

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self.conn.executemany(sql, rows)

    def begin(self) -> None:
        self.execute("BEGIN IMMEDIATE")

    def order_by(self, table: Table) -> str:
        return ", ".join(f"{quoted(name)} ASC NULLS FIRST" for name in table.key)

    def batches(self, table: Table) -> Iterator[list[tuple[Any, ...]]]:
        cursor = self.conn.execute(self.select(table))
        while batch := cursor.fetchmany(BATCH):
            yield batch

    def to_db(self, value: Any, column: Column) -> Any:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat(
                timespec="microseconds" if value.microsecond else "seconds"
            )
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False)
        if isinstance(value, bool):
            return int(value)
        return value


class _PostgresSide(_Side):
    backend, mark = "postgresql", "%s"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def applied(self) -> set[int]:
        if not self.one("SELECT to_regclass('schema_migrations') IS NOT NULL")[0]:
            return set()
        return {v for (v,) in self.conn.execute("SELECT version FROM schema_migrations")}

    def tables(self) -> dict[str, Table]:
        names = [
            name
            for (name,) in self.conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
                " ORDER BY table_name"
            )
            if name not in NOT_COPIED
        ]
        found = {}
        for name in names:
            columns = [
                Column(
                    column,
                    PG_KINDS.get(kind, PLAIN),
                    nullable == "YES",
                    sequenced=sequenced,
                    text=kind in ("text", "character varying", "character"),
                )
                for column, kind, nullable, sequenced in self.conn.execute(
                    # an identity column's sequence, or one made OWNED BY the column
                    "SELECT column_name, data_type, is_nullable, pg_get_serial_sequence("
                    " format('%%I', table_name), column_name) IS NOT NULL"
                    " FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = %s"
                    " ORDER BY ordinal_position",
                    (name,),
                )
            ]
            key = [
                column
                for (column,) in self.conn.execute(
                    "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
                    " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
                    " WHERE i.indrelid = %s::regclass AND i.indisprimary"
                    " ORDER BY array_position(i.indkey::int2[], a.attnum)",
                    (quoted(name),),
                )
            ]
            refs = [
                (column, ref)
                for column, ref in self.conn.execute(
                    "SELECT a.attname, r.relname FROM pg_constraint c"
                    " JOIN pg_class r ON r.oid = c.confrelid"
                    " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)"
                    " WHERE c.contype = 'f' AND c.conrelid = %s::regclass",
                    (quoted(name),),
                )
            ]
            checks = self.conn.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE contype = 'c' AND conrelid = %s::regclass",
                (quoted(name),),
            )
            checked = named_in(" ".join(text for (text,) in checks))
            found[name] = Table(name, columns, key or [c.name for c in columns], refs, checked)
        return found

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(sql, rows)

    def begin(self) -> None:
        self.execute("BEGIN ISOLATION LEVEL SERIALIZABLE")

    def order_by(self, table: Table) -> str:
        text = {c.name for c in table.columns if c.text}
        byte_wise = ' COLLATE "C"'  # SQLite's order for text, whatever the database's locale
        return ", ".join(
            f"{quoted(name)}{byte_wise if name in text else ''} ASC NULLS FIRST"
            for name in table.key
        )

    def write(self, table: Table, batches: Iterator[list[tuple[Any, ...]]]) -> None:
        """One `COPY … FROM STDIN` per table (psycopg's `cursor.copy`): about five times the
        rate of INSERTs in batches. COPY writes identity columns as given (what INSERT needs
        OVERRIDING SYSTEM VALUE for); the values are those `to_db` made, dumped by psycopg
        as it would bind them."""
        columns = ", ".join(quoted(c.name) for c in table.columns)
        statement = f"COPY {quoted(table.name)} ({columns}) FROM STDIN"
        with self.conn.cursor() as cursor, cursor.copy(statement) as copy:
            for rows in batches:
                for row in rows:
                    copy.write_row(row)

    def batches(self, table: Table) -> Iterator[list[tuple[Any, ...]]]:
        # a server-side cursor: a table of millions of rows is never all in this process
        # (WITH HOLD: the target is read back outside a transaction)
        with self.conn.cursor(name=f"copy_db_{table.name}", withhold=True) as cursor:
            cursor.itersize = BATCH
            cursor.execute(self.select(table))
            while batch := cursor.fetchmany(BATCH):
                yield batch

    def to_db(self, value: Any, column: Column) -> Any:
        from psycopg.types.json import Jsonb

        if value is None:
            return None
        if column.kind == MOMENT and isinstance(value, str):
            moment = datetime.fromisoformat(value)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if column.kind == DAY and isinstance(value, str):
            return date.fromisoformat(value)
        if column.kind == JSON:
            return Jsonb(json.loads(value) if isinstance(value, str | bytes) else value)
        if column.kind == BOOL:
            return bool(value)
        return value

    def after_copy(self, tables: list[Table]) -> None:
        for table in tables:
            for column in table.columns:
                if column.sequenced:
                    self.execute(
                        "SELECT setval(pg_get_serial_sequence(%s, %s),"  # noqa: S608 - identifiers from the catalog, quoted
                        f" COALESCE(MAX({quoted(column.name)}), 0) + 1, false)"
                        f" FROM {quoted(table.name)}",
                        (quoted(table.name), column.name),
                    )


class _side:  # noqa: N801 - used as a context manager: `with _side(url) as side`
    """Open one side: the source read in one snapshot, the target in autocommit until the
    copy's own transaction begins."""

    def __init__(self, url: str, writing: bool) -> None:
        self.url, self.writing = url, writing
        self._close: Callable[[], None] = lambda: None

    def __enter__(self) -> _Side:
        target = parse_database_url(self.url)
        if target.backend == SQLITE:
            return self._sqlite(target.path)
        self._pg = pg_connection(target.url)
        conn = self._pg.__enter__()
        if not self.writing:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _PostgresSide(conn)

    def _sqlite(self, path: Any) -> _Side:
        from storage.sqlite_only import DatabaseUnusable, access_problem, explain

        if not path.is_file() or path.stat().st_size == 0:
            raise CopyRefused(f"no database at {path.resolve()}")
        if self.writing and (problem := access_problem(path)):
            raise DatabaseUnusable(path, problem)
        try:
            uri = path.resolve().as_uri() + ("" if self.writing else "?mode=ro")
            conn = sqlite3.connect(uri, uri=True, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA foreign_keys = ON")
            if not self.writing:
                conn.execute("BEGIN")  # one snapshot for the copy and the checksums
                conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise DatabaseUnusable(path, explain(path, exc)) from None
        self._close = conn.close
        return _SqliteSide(conn)

    def __exit__(self, *exc: object) -> None:
        if hasattr(self, "_pg"):
            self._pg.__exit__(*exc)
        self._close()
