"""A PostgreSQL database made under a language's collation (ICU zh-Hans-CN here; en_US and
zh_CN from libc order alike): text ranges still hold (the task ledger's history is read by a
range of subjects), and `appealdesk check` warns that names sort otherwise than on SQLite."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.checks import WARN, database_check
from storage import open_database
from storage.factory import check_database, migrate
from tests import pg_cluster

pytestmark = pytest.mark.skipif(
    pg_cluster.skip_reason() is not None, reason=pg_cluster.skip_reason() or ""
)
T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
_names = itertools.count()


@pytest.fixture
def chinese_collation() -> Iterator[str]:
    """An empty database whose text is ordered by ICU's zh-Hans-CN collation."""
    cluster = pg_cluster.shared_cluster()
    if not cluster.execute("SELECT 1 FROM pg_collation WHERE collprovider = 'i' LIMIT 1"):
        pytest.skip("this PostgreSQL was built without ICU")
    name = f"zh_{next(_names)}"
    cluster.execute(
        f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING UTF8'
        " LOCALE_PROVIDER icu ICU_LOCALE 'zh-Hans-CN' LOCALE 'C.UTF-8'"
    )
    url = cluster.url(name)
    yield url
    cluster.drop(url)


def test_the_probe_sees_the_collation(chinese_collation):
    # the premise: under this collation the subjects' range as written would be empty
    [(empty,)] = pg_cluster.shared_cluster().execute(
        "SELECT 'task;' < 'task:12'", chinese_collation.rsplit("/", 1)[1]
    )
    assert empty


async def test_the_task_ledgers_history_is_read_whole_under_a_language_collation(
    chinese_collation,
):
    db = open_database(chinese_collation)
    await db.open(migrate=True)
    try:
        subjects = ["task:1", "task:12", "task:2", "appeal:5", "task", "tasks:1", "task;"]
        async with db.unit_of_work() as uow:
            for n, subject in enumerate(subjects):
                await uow.audit.add(subject, None, f"action {n}", T0)
            await uow.audit.add("task:12", None, "again", T0)
            await uow.commit()
        async with db.reading() as uow:
            found = await uow.audit.of_subjects("task")
    finally:
        await db.close()
    assert sorted(found) == ["task:1", "task:12", "task:2"]
    assert [e.action for e in found["task:12"]] == ["action 1", "again"]


@pytest.mark.parametrize("migrated", [False, True])
def test_check_warns_of_a_collation_unlike_sqlite(chinese_collation, migrated):
    if migrated:
        migrate(chinese_collation)
    ok, line, caution = check_database(chinese_collation)
    assert ok and "reachable" in line
    assert "zh-Hans-CN" in caution and "--locale C.UTF-8" in caution
    status, text = database_check(chinese_collation)
    assert status == WARN and text.endswith(caution)


def test_a_database_ordered_by_code_point_gets_no_caution():
    url = pg_cluster.new_database_url()  # the test cluster's databases are C.UTF-8
    try:
        ok, _, caution = check_database(url)
    finally:
        pg_cluster.drop_database(url)
    assert ok and caution == ""
