"""The reads every task card, task action, ledger export and past-week digest pays use an
index (SQLite's own query plan says so; PostgreSQL's too, sequential scans priced out), and
the export reads a fixed number of queries however many tasks, events and 责任人 the ledger
holds."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.rules.model import TaskAction, TaskState
from bot.texts import name, t
from bot.usecases import people, tasks
from storage.base import Store
from tests.conftest import LEADER_ID
from tests.test_usecases import cast, env  # noqa: F401 - fixtures

END = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def recorded(monkeypatch) -> list[tuple[str, Any]]:
    """Every query the stores run (through `_all` / `_one`), with its parameters."""
    seen: list[tuple[str, Any]] = []
    original_all, original_one = Store._all, Store._one

    async def _all(self, sql, params=()):
        seen.append((sql, params))
        return await original_all(self, sql, params)

    async def _one(self, sql, params=()):
        seen.append((sql, params))
        return await original_one(self, sql, params)

    monkeypatch.setattr(Store, "_all", _all)
    monkeypatch.setattr(Store, "_one", _one)
    return seen


def plan(path, sql: str, params: Any) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]


# Stored tables (and their aliases in the queries) that are never read whole: events,
# people, files; a task's reports only by the export, which reads every report.
NEVER_WHOLE = {"audit_events", "e", "ev", "users", "u", "task_attachments"}


def scanned(line: str, sql: str) -> bool:
    """A plan line that reads a table whole (SCAN, even along an index) it should search."""
    if not line.startswith("SCAN "):
        return False
    table = line.split()[1]
    everything = "ORDER BY r.task_id" in sql  # the export: every report of every task
    return table in NEVER_WHOLE or (table in ("r", "task_reports") and not everything)


async def ledger_of(env, cast, count: int, first: int = 1) -> None:  # noqa: F811
    """`count` tasks from 序号 `first`, each with a report, a part added to it and a 责任人."""
    headers = {c: t(f"task_column.{c}") for c in tasks.COLUMNS}
    labels = {name("task_state", s): s for s in TaskState}
    rows = [
        [str(n), "作风", f"问题{n}", "抽查", "王局长", "市人社局", "李明", "2026-06-30", "整改中"]
        for n in range(first, first + count)
    ]
    await tasks.import_table(env, cast["leader"], [list(headers.values()), *rows], headers, labels)
    for task in await tasks.tasks_for(env, cast["leader"]):
        if task.seq < first:
            continue
        made = await tasks.act(
            env, cast["official"], task.id, TaskAction.REPORT, task.version, "甲"
        )
        await tasks.amend_report(env, cast["official"], task.id, made.report_id, "甲\n乙", (), "乙")
        await tasks.assign_owner(env, cast["leader"], task.id, task.version, cast["head"].tg_id)


@pytest.mark.sqlite_only  # SQLite's own EXPLAIN QUERY PLAN
async def test_task_reads_and_past_week_reads_use_an_index(env, cast, recorded):  # noqa: F811
    await ledger_of(env, cast, 3)
    leader = await people.actor_for(env, LEADER_ID)
    [task, *_] = await tasks.tasks_for(env, leader)
    recorded.clear()
    await tasks.view(env, leader, task.id)  # a card: the task's reports, events, names
    await tasks.export(env, leader)  # the ledger: every task's
    async with env.db.reading() as uow:
        await uow.reports.changed_since(END)  # a past week's digest
        await uow.tasks.counts_by_state_at(END)  # the ledger's states at a week's end
        await uow.audit.of_subject(f"enterprise:{cast['contact'].enterprise_id}")
    path = env.db.path
    plans = {sql: plan(path, sql, params) for sql, params in recorded}
    reads_events = [sql for sql in plans if "audit_events" in sql]
    assert len(reads_events) >= 5, reads_events
    for sql, lines in plans.items():
        assert not [line for line in lines if scanned(line, sql)], (sql, lines)
    subject = next(sql for sql in plans if "e.subject = ?" in sql)
    assert any("audit_events_subject" in line for line in plans[subject])
    for sql in [sql for sql in plans if "created_at >= :end" in sql]:
        assert any("audit_events_created (created_at>?)" in line for line in plans[sql]), sql
    assert len([sql for sql in plans if "created_at >= :end" in sql]) == 3


async def test_the_export_reads_a_fixed_number_of_queries(env, cast, recorded):  # noqa: F811
    leader = await people.actor_for(env, LEADER_ID)
    await ledger_of(env, cast, 2)
    recorded.clear()
    small = await tasks.export(env, leader)
    queries_small = len(recorded)
    await ledger_of(env, cast, 10, first=3)
    recorded.clear()
    large = await tasks.export(env, leader)
    assert len(large) == 12 and len(small) == 2
    assert len(recorded) == queries_small <= 4
    # the same histories as each task's card reads one by one
    for task, entries in large:
        assert entries == (await tasks.view(env, leader, task.id)).history
        named = [e.official_name for e in entries if e.official_id is not None]
        assert named == ["张科长"]
        [report] = [e for e in entries if e.kind == "task_report"]
        assert report.text == "甲\n乙"


@pytest.mark.sqlite_only  # the index names in SQLite's catalogue
def test_migration_12_adds_the_indexes(env):  # noqa: F811
    with sqlite3.connect(env.db.path) as conn:
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {
        "audit_events_subject",
        "audit_events_created",
        "task_reports_task",
        "task_attachments_report",
    } <= indexes


async def test_the_ledgers_states_at_a_moment_past_read_by_time(env, cast, clock):  # noqa: F811
    """What the indexed read of a past moment gives: each task in the state the first
    change since left (a task changed twice since counts once, as it was)."""
    await ledger_of(env, cast, 3)
    before = env.now() + timedelta(minutes=1)
    clock.advance(timedelta(hours=1))
    leader = cast["leader"]
    [one, two, _] = await tasks.tasks_for(env, leader)
    holder = cast["head"]  # the 责任人 `ledger_of` named
    asked = await tasks.act(env, holder, one.id, TaskAction.REQUEST_CLOSE, one.version, "完")
    await tasks.act(env, leader, one.id, TaskAction.APPROVE, asked.task.version, None)
    await tasks.act(env, holder, two.id, TaskAction.REQUEST_CLOSE, two.version, "完")
    async with env.db.reading() as uow:
        then = await uow.tasks.counts_by_state_at(before)
        now = await uow.tasks.counts_by_state_at(env.now() + timedelta(minutes=1))
    assert then == {TaskState.IN_PROGRESS: 3}
    assert now == {
        TaskState.DONE: 1,
        TaskState.CLOSE_REQUESTED: 1,
        TaskState.IN_PROGRESS: 1,
    }


def pg_plan(url: str, sql: str, params: Any, hiding: tuple[str, ...] = ()) -> dict:
    """PostgreSQL's plan of `sql` (the adapter's spelling of its parameters), sequential
    scans priced out: a Seq Scan left in it means no index could serve that read. `hiding`:
    indexes dropped for this plan only (rolled back), so that on a test's few rows the
    planner's taste cannot stand in for whether an index serves the read."""
    import psycopg  # noqa: PLC0415 - only the PostgreSQL half needs it

    from storage.postgres.params import translate  # noqa: PLC0415

    with psycopg.connect(url) as conn:
        conn.execute("SET enable_seqscan = off")
        for index in hiding:
            conn.execute(f"DROP INDEX {index}")  # noqa: S608 - a name from this test
        [(found,)] = conn.execute("EXPLAIN (FORMAT JSON) " + translate(sql), params).fetchall()
        conn.rollback()
    return found[0]["Plan"]


def pg_nodes(node: dict) -> list[dict]:
    return [node, *(n for child in node.get("Plans", ()) for n in pg_nodes(child))]


async def test_the_same_reads_use_an_index_on_postgresql(env, cast, recorded, db):  # noqa: F811
    """The PostgreSQL half of the plan test above: the same reads (a task card, the export,
    a past week's digest and ledger states, a subject's events) search by index there too,
    and the reads by time go through audit_events_created."""
    if db.backend != "postgresql":
        pytest.skip("the SQLite half is test_task_reads_and_past_week_reads_use_an_index")
    await ledger_of(env, cast, 3)
    leader = await people.actor_for(env, LEADER_ID)
    [task, *_] = await tasks.tasks_for(env, leader)
    recorded.clear()
    await tasks.view(env, leader, task.id)
    await tasks.export(env, leader)
    async with env.db.reading() as uow:
        await uow.reports.changed_since(END)
        await uow.tasks.counts_by_state_at(END)
        await uow.audit.of_subject(f"enterprise:{cast['contact'].enterprise_id}")
    plans = {sql: pg_nodes(pg_plan(db.url, sql, params)) for sql, params in recorded}
    assert len([sql for sql in plans if "audit_events" in sql]) >= 5, list(plans)
    whole = {"audit_events", "users", "task_attachments"}
    for sql, nodes in plans.items():
        everything = "ORDER BY r.task_id" in sql  # the export: every report of every task
        read_whole = {
            n["Relation Name"]
            for n in nodes
            if n["Node Type"] == "Seq Scan"
            and (
                n["Relation Name"] in whole
                or (n["Relation Name"] == "task_reports" and not everything)
            )
        }
        assert not read_whole, (sql, read_whole)
    by_time = {sql: params for sql, params in recorded if "created_at >= :end" in sql}
    assert len(by_time) == 3
    others = ("audit_events_appeal", "audit_events_subject", "audit_events_action")
    for sql, params in by_time.items():
        nodes = pg_nodes(pg_plan(db.url, sql, params, hiding=others))
        assert any(n.get("Index Name") == "audit_events_created" for n in nodes), sql
