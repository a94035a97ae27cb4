"""The digest's per-day tallies (ReportRepo.refresh_tallies): counted in the bureau's zone,
whose name the basis records; another zone counts every day again; and a change written
while a refresh runs is never lost — the refresh recounts exactly the days it took from
appeal_changes (DELETE … RETURNING), so what is noted after that waits for the next one."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.sandbox.chat import Sandbox
from bot.usecases.reports import refresh_tallies
from tests.test_digest import _counted_and_reference, assert_same_figures, bureau, seeded

__all__ = ["bureau", "seeded"]  # the fixtures, seeded as the digest's tests are

START, END = date(2026, 1, 1), date(2026, 11, 22)
# A copy of the first appeal, filed on a day no other appeal was (2026-02-10 10:00 local).
LATE_WRITER = (
    "INSERT INTO appeals (number, enterprise_id, filed_by, category, description, state,"
    " department_id, claim_due_date, due_date, created_at)"
    " SELECT 'SQ-2026-888888', enterprise_id, filed_by, category, 'x', 'pending',"
    " department_id, '2026-02-11', '2026-02-27', '2026-02-10T02:00:00+00:00'"
    " FROM appeals ORDER BY id LIMIT 1"
)


def received_by_day(db) -> dict[str, int]:
    return {
        r["created_day"]: r["n"]
        for r in db.rows(
            "SELECT created_day, SUM(received) AS n FROM appeal_tallies GROUP BY created_day"
        )
    }


def local_days(db, zone: ZoneInfo) -> dict[str, int]:
    """Each local day's appeals in `zone`, worked out here from the stored moments."""
    return dict(
        Counter(
            datetime.fromisoformat(r["created_at"]).astimezone(zone).date().isoformat()
            for r in db.rows("SELECT created_at FROM appeals")
        )
    )


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/Los_Angeles", "Asia/Kolkata"])
async def test_the_basis_names_the_zone_and_another_zone_counts_every_day_again(seeded, db, zone):
    env = seeded[0].env
    await refresh_tallies(env)
    assert db.one("SELECT zone, utc_offset FROM appeal_tally_basis") == {
        "zone": "Asia/Shanghai",
        "utc_offset": "+480 minutes",
    }
    assert received_by_day(db) == local_days(db, env.zone)
    other = ZoneInfo(zone)
    async with env.db.unit_of_work() as uow:
        await uow.reports.refresh_tallies(other, env.now())
        await uow.commit()
    assert db.one("SELECT zone FROM appeal_tally_basis")["zone"] == zone
    if zone != "America/Los_Angeles":  # no daylight saving: SQLite's one offset is exact
        assert received_by_day(db) == local_days(db, other)
    assert sum(received_by_day(db).values()) == db.count("appeals")
    await refresh_tallies(env)
    assert received_by_day(db) == local_days(db, env.zone)
    assert_same_figures(*await _counted_and_reference(env, START, END))


async def test_a_basis_kept_before_zones_were_named_is_not_counted_again(seeded, db):
    """After the upgrade that names the zone, the tallies counted at the same offset stay:
    only the days changed since are counted again, and the basis gains the zone's name."""
    env = seeded[0].env
    await refresh_tallies(env)
    async with env.db.unit_of_work() as uow:
        await uow.conn.execute("UPDATE appeal_tally_basis SET zone = ''")
        # a day's count left wrong on purpose: a full recount would put it right
        await uow.conn.execute(
            "UPDATE appeal_tallies SET received = received + 100"
            " WHERE created_day = (SELECT MIN(created_day) FROM appeal_tallies)"
        )
        await uow.commit()
    await refresh_tallies(env)
    assert sum(received_by_day(db).values()) == db.count("appeals") + 100
    assert db.one("SELECT zone FROM appeal_tally_basis")["zone"] == "Asia/Shanghai"


class LateWriter:
    """The refresh's connection, with another writer's change landing right after the
    refresh's first statement on appeal_changes (what a concurrent transaction committing
    then would do on a server without one global write lock)."""

    def __init__(self, conn) -> None:
        self.conn, self.wrote = conn, False

    def __getattr__(self, name):
        return getattr(self.conn, name)

    async def _after(self, sql: str) -> None:
        if "appeal_changes" in sql and not self.wrote:
            self.wrote = True
            await self.conn.execute(LATE_WRITER)

    async def execute(self, sql, params=()):
        cursor = await self.conn.execute(sql, params)
        await self._after(sql)
        return cursor

    async def execute_fetchall(self, sql, params=()):
        rows = await self.conn.execute_fetchall(sql, params)
        await self._after(sql)
        return rows


async def test_a_change_written_while_the_tallies_are_refreshed_is_counted_next_time(seeded, db):
    env = seeded[0].env
    await refresh_tallies(env)
    async with env.db.unit_of_work() as uow:
        await uow.conn.execute("UPDATE appeals SET state = 'withdrawn' WHERE id = 5")
        await uow.commit()
    assert db.count("appeal_changes") == 1
    async with env.db.unit_of_work() as uow:
        late = LateWriter(uow.conn)
        await type(uow.reports)(late, uow.dialect).refresh_tallies(env.zone, env.now())
        await uow.commit()
    assert late.wrote
    # the late appeal's day was not among those taken: it waits, noted, for the next refresh
    assert db.rows("SELECT a.number FROM appeal_changes c JOIN appeals a ON a.id = c.appeal_id")
    assert db.rows("SELECT number FROM appeals WHERE number = 'SQ-2026-888888'")
    assert received_by_day(db).get("2026-02-10", 0) == 0
    await refresh_tallies(env)
    assert received_by_day(db)["2026-02-10"] == 1
    assert received_by_day(db) == local_days(db, env.zone)
    assert_same_figures(*await _counted_and_reference(env, START, END))
    assert db.count("appeal_changes") == 0


async def test_the_tallies_are_counted_at_start_not_by_the_first_digest(seeded, db, settings, org):
    """A database just upgraded to the tallies (the basis as the migration leaves it, nothing
    counted) is counted when the bot starts, before it serves anyone: the first digest then
    only reads."""
    box, clock, *_ = seeded
    db.execute("UPDATE appeal_tally_basis SET zone = '', utc_offset = ''")
    db.execute("DELETE FROM appeal_tallies")
    assert received_by_day(db) == {}
    restarted = await Sandbox.start(settings, org, clock)
    try:
        assert db.one("SELECT zone FROM appeal_tally_basis")["zone"] == "Asia/Shanghai"
        assert received_by_day(db) == local_days(db, box.env.zone)
        assert sum(received_by_day(db).values()) == db.count("appeals") > 0
    finally:
        await restarted.stop()
