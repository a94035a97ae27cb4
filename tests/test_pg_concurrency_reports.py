"""The digest's per-day tallies on PostgreSQL, where there is no global write lock: a refresh
racing an appeal written from another connection loses no change, and two refreshes at once
count every appeal once. Each race is staged: one transaction holds its rows, the other is
seen waiting for them on the server (pg_stat_activity), then the first commits."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

import pytest

from bot.usecases.reports import refresh_tallies
from tests.test_digest import _counted_and_reference, assert_same_figures, bureau, seeded
from tests.test_tallies import END, START, local_days, received_by_day

__all__ = ["bureau", "seeded"]  # the fixtures, seeded as the digest's tests are

WAITS = 2000  # turns given to the other transaction to reach its lock (not a time limit)


@pytest.fixture
def postgresql(db):
    if db.backend != "postgresql":
        pytest.skip("about PostgreSQL's row locks: SQLite has one writer at a time")
    return db


async def waiting_for_a_lock(db, task: asyncio.Task) -> bool:
    """Whether a transaction of this database is seen waiting for a lock before `task`
    ends (a refresh that took no lock would just end)."""
    for _ in range(WAITS):
        if task.done():
            return False
        locked = db.rows(
            "SELECT COUNT(*) AS n FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if locked[0]["n"]:
            return True
        await asyncio.sleep(0.005)
    return False


async def refresh(
    env, zone: ZoneInfo, done: asyncio.Event | None = None, hold: asyncio.Event | None = None
) -> None:
    """One refresh in its own transaction; `done` is set when it has counted, and with
    `hold` it does not commit until that is set."""
    async with env.db.unit_of_work() as uow:
        await uow.reports.refresh_tallies(zone, env.now())
        if done is not None:
            done.set()
        if hold is not None:
            await hold.wait()
        await uow.commit()


@pytest.mark.parametrize("already_noted", [True, False])
async def test_a_refresh_racing_an_appeal_write_loses_no_change(seeded, postgresql, already_noted):
    """A writer's change is counted by the refresh that waited for it, or noted for the next
    one: never dropped. `already_noted`: the appeal was noted by an earlier change (the
    trigger's row exists, so the writer updates it rather than inserting one)."""
    db, env = postgresql, seeded[0].env
    await refresh_tallies(env)
    if already_noted:
        db.execute("UPDATE appeals SET description = description WHERE id = 7")
    async with env.db.unit_of_work() as writer:
        await writer.conn.execute("UPDATE appeals SET state = 'withdrawn' WHERE id = 7")
        racing = asyncio.create_task(refresh(env, env.zone))
        if already_noted:  # the refresh must wait for the writer's noted row
            assert await waiting_for_a_lock(db, racing)
        else:  # nothing of the writer's is visible to it yet: it ends without waiting
            await racing
        await writer.commit()
    await racing
    # counted by the refresh that waited, or still noted for the next one
    noted = db.rows("SELECT appeal_id FROM appeal_changes")
    assert noted == ([] if already_noted else [{"appeal_id": 7}])
    if already_noted:
        assert received_by_day(db) == local_days(db, env.zone)
    assert_same_figures(*await _counted_and_reference(env, START, END))
    assert received_by_day(db) == local_days(db, env.zone)
    assert db.count("appeal_changes") == 0


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Asia/Tokyo"])
async def test_two_refreshes_at_once_count_once(seeded, postgresql, zone):
    """The second waits for the first's basis row, then finds nothing left to count: every
    appeal counted once, whether only the changed days are counted again (the bureau's
    zone) or every day (another zone)."""
    db, env = postgresql, seeded[0].env
    await refresh_tallies(env)
    db.execute("UPDATE appeals SET state = 'withdrawn' WHERE id IN (3, 9, 20)")
    counted, hold = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(refresh(env, ZoneInfo(zone), counted, hold))
    await counted.wait()  # the first has counted and holds its rows, not yet committed
    second = asyncio.create_task(refresh(env, ZoneInfo(zone)))
    assert await waiting_for_a_lock(db, second)
    hold.set()
    await asyncio.gather(first, second)
    assert sum(received_by_day(db).values()) == db.count("appeals")
    assert received_by_day(db) == local_days(db, ZoneInfo(zone))
    assert db.count("appeal_changes") == 0
    assert_same_figures(*await _counted_and_reference(env, START, END))
