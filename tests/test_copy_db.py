"""`appealdesk copy-db`: a bureau moved without losing a row or an audit event — counts and
per-table checksums printed and compared — or refused in one line with the target left as it
was. SQLite to SQLite here; the PostgreSQL halves turn on where the PostgreSQL adapter and a
throwaway cluster (tests/pg_cluster.py) are present."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.cli import main
from storage import copy as copy_module
from storage.copy import DERIVED, copy_database
from storage.db import Database
from storage.factory import migrate
from storage.migrations import MIGRATIONS
from tests.conftest import Db, file_appeal

NAMES = ("DATABASE_URL", "DATABASE_PATH", "APPEALDESK_ENV_FILE")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)


async def a_bureau(sandbox, people) -> list[str]:
    """Appeals, messages, audit events, notices and an enterprise whose 包保 official points
    back at the users table (the circle of references copy-db must break)."""
    numbers = [await file_appeal(people.company), await file_appeal(people.rival, "用工(引才)")]
    async with sandbox.env.db.unit_of_work() as uow:
        company = await uow.people.get(30001)
        await uow.enterprises.set_baobao(company.enterprise_id, 20002)
        await uow.commit()
    return numbers


async def empty_target(folder: Path, name: str = "target.sqlite3") -> str:
    """A new SQLite file with the schema and no data (as `appealdesk migrate apply` makes)."""
    url = f"sqlite:///{folder / name}"
    await asyncio.to_thread(migrate, url)
    return url


def rows_in(url: str) -> dict[str, int]:
    """Rows per table (the migrations' records aside) of a database on either backend."""
    db = Db(url)
    return {t: db.count(t) for t in sorted(db.tables() - {"schema_migrations"})}


async def test_a_bureau_is_copied_row_for_row_and_every_table_matches(
    sandbox, people, settings, tmp_path, capsys
):
    numbers = await a_bureau(sandbox, people)
    target = await empty_target(tmp_path)
    code = await asyncio.to_thread(
        main, ["copy-db", "--from", settings.database_url, "--to", target]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    source_rows = rows_in(settings.database_url)
    assert rows_in(target) == source_rows
    assert source_rows["audit_events"] >= 10 and source_rows["appeals"] == 2
    for table, count in source_rows.items():  # one printed line per table, both counts
        line = next(line for line in out.splitlines() if line.split()[:1] == [table])
        assert line.split()[1:3] == [str(count), str(count)] and "DIFFERS" not in line
    assert f"copied {sum(source_rows.values())} rows in {len(source_rows)} tables" in out
    # read back through the contract: the same appeals, history and 包保 official
    copied = Database(tmp_path / "target.sqlite3")
    await copied.open(migrate=False)
    try:
        async with copied.reading() as uow, sandbox.env.db.reading() as original:
            for number in numbers:
                appeal = await uow.appeals.by_number(number)
                assert appeal == await original.appeals.by_number(number)
                assert await uow.audit.of_appeal(appeal.id) == await original.audit.of_appeal(
                    appeal.id
                )
            person = await uow.people.get(30001)
            company = await uow.enterprises.get(person.enterprise_id)
            assert company.baobao_user_id == 20002
    finally:
        await copied.close()


async def test_a_value_that_comes_out_different_fails_naming_its_table(
    sandbox, people, settings, tmp_path, capsys, monkeypatch
):
    """The checksums are computed independently on both sides: a value altered on the way
    (here, on purpose, an appeal's text) is found and the table named, status 1."""
    await a_bureau(sandbox, people)
    target = await empty_target(tmp_path)
    plain = copy_module._SqliteSide.to_db

    def altered(self, value, column):
        if column.name == "description":
            return f"{value}!"
        return plain(self, value, column)

    monkeypatch.setattr(copy_module._SqliteSide, "to_db", altered)
    capsys.readouterr()  # what making the target logged
    code = await asyncio.to_thread(
        main, ["copy-db", "--from", settings.database_url, "--to", target]
    )
    out, err = capsys.readouterr()
    assert code == 1
    assert err.strip() == "appealdesk: copy-db: the copy differs from the source in appeals"
    assert "DIFFERS" in next(line for line in out.splitlines() if line.startswith("appeals "))


async def test_a_copy_that_fails_halfway_leaves_the_target_empty(
    sandbox, people, settings, tmp_path, capsys, monkeypatch
):
    await a_bureau(sandbox, people)
    target = await empty_target(tmp_path)
    real = copy_module._copy_table

    def failing(src, dst, table, later):
        if table.name == "appeals":
            raise sqlite3.IntegrityError("disk said no")
        return real(src, dst, table, later)

    monkeypatch.setattr(copy_module, "_copy_table", failing)
    code = await asyncio.to_thread(
        main, ["copy-db", "--from", settings.database_url, "--to", target]
    )
    err = capsys.readouterr().err
    assert code == 2 and "the copy was undone (the target is empty again): disk said no" in err
    left = rows_in(target)
    assert {t: n for t, n in left.items() if n and t not in DERIVED} == {}


REFUSALS = [
    # (what the target is, the line's end)
    ("the source itself", "--from and --to name the same database"),
    ("a file that does not exist", "no database at"),
    ("a database without the schema", f"at schema {MIGRATIONS[-1][0]} and sqlite:///"),
    ("a database that holds data", "already holds data (in appeal_counters, appeals, audit_events"),
    ("mysql://h/appealdesk", "copy-db --to: unknown kind of database 'mysql://'"),
]


@pytest.mark.parametrize(("kind", "said"), REFUSALS, ids=[k for k, _ in REFUSALS])
async def test_a_target_it_cannot_use_is_refused_in_one_line_and_left_alone(
    sandbox, people, settings, tmp_path, capsys, kind, said
):
    await a_bureau(sandbox, people)
    if kind == "the source itself":
        target = settings.database_url
    elif kind == "a file that does not exist":
        target = f"sqlite:///{tmp_path / 'nothere.sqlite3'}"
    elif kind == "a database without the schema":
        sqlite3.connect(tmp_path / "bare.sqlite3").execute("CREATE TABLE x (a)").connection.close()
        target = f"sqlite:///{tmp_path / 'bare.sqlite3'}"
    elif kind == "a database that holds data":
        target = await empty_target(tmp_path)
        await asyncio.to_thread(copy_database, settings.database_url, target)
    else:
        target = kind
    before = rows_in(settings.database_url)
    capsys.readouterr()  # what making the target logged
    code = await asyncio.to_thread(
        main, ["copy-db", "--from", settings.database_url, "--to", target]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and said in err, err
    assert rows_in(settings.database_url) == before
    assert not (tmp_path / "nothere.sqlite3").exists()


def test_copy_db_needs_both_urls(capsys):
    assert main(["copy-db", "--from", "a.sqlite3"]) == 2
    assert "the following arguments are required: --to" in capsys.readouterr().err


def test_the_order_puts_referenced_tables_first_and_breaks_the_circle_by_a_nullable_column():
    """Every foreign key points at a table copied before it, except the one column written
    afterwards; that column is nullable and named in no CHECK (a user's company is)."""
    with sqlite3.connect(":memory:") as conn:
        from storage.migrations import MIGRATIONS

        conn.execute("CREATE TABLE schema_migrations (version INTEGER, applied_at TEXT)")
        for _, sql in MIGRATIONS:
            conn.executescript(sql)
        tables = copy_module._SqliteSide(conn).tables()
    order, later = copy_module._order(tables)
    assert [t.name for t in order[-len(DERIVED) :]] == list(DERIVED)
    assert {name: [c.name for c in cols] for name, cols in later.items()} == {
        "enterprises": ["baobao_user_id"]
    }
    seen: set[str] = set()
    for table in order:
        for column, ref in table.references:
            deferred = column in [c.name for c in later.get(table.name, [])]
            assert ref in seen or deferred or ref == table.name, (table.name, column, ref)
        seen.add(table.name)


VALUES = [
    None, "", "文本", "2026-11-24", "2026-11-24T08:00:00+00:00", '{"b": 1, "a": [2]}', 0, 7,
    -3, True, False, 1.5, b"\x00\xff", memoryview(b"ab"), {"a": 1}, [1, "二"],
    datetime(2026, 11, 24, 8, 0, tzinfo=UTC), datetime(2026, 11, 24, 8, 0), date(2026, 11, 24),
]  # fmt: skip


@pytest.mark.parametrize("kind", sorted(set(copy_module.PG_KINDS.values()) | {copy_module.PLAIN}))
@pytest.mark.parametrize("text", [False, True])
def test_the_checksums_per_column_normaliser_gives_what_normal_gives(kind, text):
    """The checksum's fast path per column leaves every value as `normal` makes it (where
    `normal` takes the value at all: a moment column holds moments)."""
    column = copy_module.Column("x", kind, nullable=True, text=text)
    fast = copy_module._normaliser(column)
    for value in VALUES:
        try:
            expected = copy_module.normal(value, column)
        except (TypeError, ValueError, AttributeError):
            continue
        got = fast(value)
        assert (type(got), got) == (type(expected), expected), value


# PostgreSQL halves: on where the adapter and a throwaway cluster are ----------------------


async def test_a_bureau_moves_to_postgresql_and_back_without_losing_a_row(
    sandbox, people, settings, tmp_path, capsys, pg_url
):
    import psycopg

    await a_bureau(sandbox, people)
    await asyncio.to_thread(migrate, pg_url)
    there = await asyncio.to_thread(
        main, ["copy-db", "--from", settings.database_url, "--to", pg_url]
    )
    assert there == 0 and "every table matches" in capsys.readouterr().out
    with psycopg.connect(pg_url) as conn:  # identities continue after the copied ids
        biggest = conn.execute("SELECT MAX(id) FROM audit_events").fetchone()[0]
        following = conn.execute(
            "SELECT nextval(pg_get_serial_sequence('audit_events', 'id'))"
        ).fetchone()[0]
        assert following == biggest + 1
    back = await empty_target(tmp_path)
    again = await asyncio.to_thread(main, ["copy-db", "--from", pg_url, "--to", back])
    assert again == 0 and "every table matches" in capsys.readouterr().out
    assert rows_in(back) == rows_in(pg_url) == rows_in(settings.database_url)


async def test_into_postgresql_a_value_that_comes_out_different_fails_naming_its_table(
    sandbox, people, settings, capsys, monkeypatch, pg_url
):
    """PostgreSQL receives the rows through COPY, each value as `to_db` makes it: a value
    altered there is still found by the checksums, the table named, status 1."""
    await a_bureau(sandbox, people)
    await asyncio.to_thread(migrate, pg_url)
    plain = copy_module._PostgresSide.to_db

    def altered(self, value, column):
        if column.name == "description":
            return f"{value}!"
        return plain(self, value, column)

    monkeypatch.setattr(copy_module._PostgresSide, "to_db", altered)
    capsys.readouterr()
    code = await asyncio.to_thread(
        main, ["copy-db", "--from", settings.database_url, "--to", pg_url]
    )
    out, err = capsys.readouterr()
    assert code == 1
    assert err.strip() == "appealdesk: copy-db: the copy differs from the source in appeals"
    assert "DIFFERS" in next(line for line in out.splitlines() if line.startswith("appeals "))


async def test_a_copy_into_postgresql_refused_halfway_leaves_the_target_empty(
    sandbox, people, settings, capsys, monkeypatch, pg_url
):
    """A row the server refuses in the middle of a COPY (here a NULL where NOT NULL is
    declared) undoes the whole copy: one line saying so, every table empty again, and the
    target can then take the copy."""
    await a_bureau(sandbox, people)
    await asyncio.to_thread(migrate, pg_url)
    plain = copy_module._PostgresSide.to_db

    def refused(self, value, column):
        return None if column.name == "description" else plain(self, value, column)

    monkeypatch.setattr(copy_module._PostgresSide, "to_db", refused)
    capsys.readouterr()
    code = await asyncio.to_thread(
        main, ["copy-db", "--from", settings.database_url, "--to", pg_url]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "the copy was undone (the target is empty again)" in err and "description" in err
    assert {t: n for t, n in rows_in(pg_url).items() if n and t not in DERIVED} == {}
    monkeypatch.setattr(copy_module._PostgresSide, "to_db", plain)
    again = await asyncio.to_thread(
        main, ["copy-db", "--from", settings.database_url, "--to", pg_url]
    )
    assert again == 0 and "every table matches" in capsys.readouterr().out
    assert rows_in(pg_url) == rows_in(settings.database_url)
