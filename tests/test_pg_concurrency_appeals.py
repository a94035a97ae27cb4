"""Gap-free numbers on PostgreSQL, where transactions really run side by side (a pool of
connections, row locks, no database-wide write lock): filings from many tasks at once get
SQ numbers 1..N without a gap or a repeat, and a filing that rolls back gives its number to
the next; sweeps at once give every 提示 / 督办 文号 once, 1..N per family, and a sweep
that waits on another's counter numbers after the notices that one committed.

SQLite has one writer, so these proofs are for the PostgreSQL half only (the same
properties on both backends are in test_appeal_writes and test_usecases).
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta

import pytest

from bot.app import make_env
from bot.rules.model import format_number
from bot.usecases import appeals, ladder, people
from tests.conftest import COMPANY_USCC, OTHER_USCC, SHANGHAI

CONTACTS = {
    2001: ("鄂州华瑞机械有限公司", COMPANY_USCC),
    2002: ("鄂州市三和管桩有限公司", OTHER_USCC),
}
DESCRIPTION = "企业新招技术工人30名，申请落实稳岗补贴政策，请协助对接人社部门"


@pytest.fixture(autouse=True)
def postgresql_only(request):
    """Runs on the PostgreSQL half only (decided before any database is made)."""
    if request.node.callspec.params.get("backend") != "postgresql":
        pytest.skip("a PostgreSQL concurrency proof (SQLite has a single writer)")


@pytest.fixture
async def env(settings, org, clock):
    environment = make_env(settings, org, clock)
    await environment.db.open()
    await people.sync_departments(environment)
    for tg_id, (name, uscc) in CONTACTS.items():
        await people.register_enterprise(
            environment, tg_id, name, uscc, "陈经理", "13800000001", f"r{tg_id}"
        )
    yield environment
    await environment.db.close()


async def file(env, contact: int, n: int) -> str:
    actor = await people.actor_for(env, contact)
    text = f"{DESCRIPTION}（第{n}项）。"
    outcome = await appeals.file_appeal(env, actor, "yonggong", text, (), f"k{contact}-{n}")
    return outcome.appeal.number


async def blocked_on_a_lock(env) -> None:
    """Until another session of this database waits on a lock (asked through a connection
    of its own; bounded, so a filing that never waits fails the test, not hangs it)."""
    for _ in range(2000):
        async with env.db.reading() as uow:
            rows = await uow.appeals.conn.execute_fetchall(
                "SELECT COUNT(*) AS n FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'",
                (),
            )
        if rows[0]["n"]:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no session waited on the lock")


async def stored_numbers(env) -> list[str]:
    found: list[str] = []
    async with env.db.reading() as uow:
        for contact in CONTACTS:
            actor = await people.actor_for(env, contact)
            found += [a.number for a in await uow.appeals.of_enterprise(actor.enterprise_id, 500)]
    return sorted(found)


@pytest.mark.parametrize("tasks", [8, 24])
async def test_filings_from_many_tasks_at_once_are_numbered_without_gaps(env, tasks):
    year = env.today().year
    numbers = await asyncio.gather(
        *(file(env, contact, n) for n in range(tasks // 2) for contact in CONTACTS)
    )
    expected = [format_number(year, seq) for seq in range(1, tasks + 1)]
    assert sorted(numbers) == expected  # each once, 1..N
    assert await stored_numbers(env) == expected
    assert await file(env, 2001, tasks) == format_number(year, tasks + 1)  # and it goes on


async def test_a_filing_that_rolls_back_leaves_its_number_to_the_next(env):
    """A transaction holding the year's counter (its row lock) makes a filing wait; when it
    rolls back, the waiting filing takes number 1, not 2."""
    year = env.today().year
    async with env.db.unit_of_work() as uow:  # left without commit: rolled back
        assert await uow.appeals.next_seq(year) == 1
        waiting = asyncio.create_task(file(env, 2001, 1))
        await blocked_on_a_lock(env)  # the filing queues on the counter's row lock
    assert await waiting == format_number(year, 1)
    assert await file(env, 2002, 2) == format_number(year, 2)
    assert await stored_numbers(env) == [format_number(year, 1), format_number(year, 2)]


# the ladder's 文号 --------------------------------------------------------------------------


Numbered = tuple[int, str, int, date]  # 文号's number, kind, appeal, day it was made


async def notices_by_family(env) -> dict[str, list[Numbered]]:
    found: dict[str, list[Numbered]] = {}
    async with env.db.reading() as uow:
        for notice in await uow.notices.undelivered(10_000):
            found.setdefault(notice.family, []).append(
                (notice.serial_no, notice.kind, notice.subject_id, notice.created_at.date())
            )
    return {family: sorted(items) for family, items in found.items()}


def assert_gap_free(by_family: dict[str, list[Numbered]]) -> None:
    """1..N in each family, and one notice per kind, appeal and day."""
    for family, items in by_family.items():
        assert [item[0] for item in items] == list(range(1, len(items) + 1)), family
        assert len({item[1:] for item in items}) == len(items), family


@pytest.mark.parametrize("sweeps", [2, 4])
async def test_sweeps_at_once_give_each_serial_once_without_gaps(env, clock, sweeps):
    numbers = await asyncio.gather(*(file(env, c, n) for n in range(6) for c in CONTACTS))
    async with env.db.reading() as uow:
        filed = [await uow.appeals.by_number(number) for number in numbers]
    ids = sorted(appeal.id for appeal in filed)
    clock.advance(timedelta(days=2))  # the claims were due yesterday: 提示 (unclaimed)

    results = await asyncio.gather(*(ladder.sweep(env) for _ in range(sweeps)))
    by_family = await notices_by_family(env)
    assert_gap_free(by_family)
    assert sorted(item[2] for item in by_family["提示"]) == ids
    assert sum(sum(r.values()) for r in results if r) == len(ids)  # counted once overall

    # past the due dates: 督办 start at 1, 提示 go on after the first round, all at once
    due = max(appeal.due_date for appeal in filed)
    clock.set(datetime.combine(env.calendar.add_working_days(due, 2), time(10), tzinfo=SHANGHAI))
    results = await asyncio.gather(*(ladder.sweep(env) for _ in range(sweeps)))
    after = await notices_by_family(env)
    assert_gap_free(after)
    assert after["提示"][: len(ids)] == by_family["提示"]  # the first round kept its numbers
    assert {item[2] for item in after["督办"] if item[1] == "overdue"} == set(ids)
    made = sum(sum(r.values()) for r in results if r)
    assert made == sum(len(items) for items in after.values()) - len(ids)


async def test_a_sweep_waiting_on_another_numbers_after_what_it_committed(env, clock):
    """One sweep holds the 提示 counter (its transaction open); a second sweep waits on it,
    then skips the notices the first committed and numbers after them."""
    numbers = [await file(env, 2001, n) for n in range(3)]
    clock.advance(timedelta(days=2))
    dates = env.deadlines.sweep_dates(env.today())
    async with env.db.unit_of_work() as uow:
        assert await uow.notices.create("unclaimed", dates, env.now()) == len(numbers)
        second = asyncio.create_task(ladder.sweep(env))
        await blocked_on_a_lock(env)
        await uow.commit()
    assert sum((await second).values()) == 0  # nothing left for it, and no number taken
    assert [item[0] for item in (await notices_by_family(env))["提示"]] == [1, 2, 3]
    clock.advance(timedelta(days=1))  # a day on, still unclaimed: numbered after them
    third = await ladder.sweep(env)
    by_family = await notices_by_family(env)
    assert_gap_free(by_family)
    assert third["unclaimed"] == len(numbers)
    assert sum(len(items) for items in by_family.values()) == len(numbers) + sum(third.values())
