"""The digest's tallies take the moment from the caller's clock, never the machine's: on
SQLite a local day is counted at one UTC offset, the zone's at the refresh (by the
environment's clock), and a clock in another offset of the same zone counts every day again
at that one. PostgreSQL counts each moment in its own offset, whatever the clock says."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.usecases.reports import refresh_tallies
from tests.conftest import file_appeal, settings_for

# Berlin: +60 minutes in winter, +120 in summer.
ZONE = "Europe/Berlin"
# Filed late on 14 January in UTC: 23:30 in Berlin's winter, 00:30 on the 15th at +120.
FILED = datetime(2026, 1, 14, 22, 30, tzinfo=UTC)
WINTER, SUMMER = datetime(2026, 1, 20, 9, tzinfo=UTC), datetime(2026, 7, 20, 9, tzinfo=UTC)


@pytest.fixture
def settings(database_url: str):
    return settings_for(database_url, timezone=ZONE)


async def received_on(env, day: date) -> int:
    """Appeals received on the local `day`, as the digest reads them (through the contract)."""
    async with env.db.reading() as uow:
        groups = await uow.reports.received_counts(day, day, env.today())
    return sum(g.received for g in groups)


@pytest.mark.parametrize(
    "clocks",
    [(WINTER, SUMMER, WINTER), (SUMMER, WINTER, SUMMER)],
    ids=["winter-summer-winter", "summer-winter-summer"],
)
async def test_the_tallies_count_at_the_offset_of_the_clock_not_of_the_machine(
    sandbox, people, clock, backend, db, clocks
):
    env = sandbox.env
    clock.set(FILED)
    await file_appeal(people.company)

    for moment in clocks:
        clock.set(moment)
        await refresh_tallies(env)

        offset = moment.astimezone(env.zone).utcoffset()
        assert db.one("SELECT zone, utc_offset FROM appeal_tally_basis") == {
            "zone": ZONE,
            "utc_offset": f"{int(offset.total_seconds() // 60):+d} minutes",
        }
        # SQLite's one offset is the clock's; PostgreSQL takes the filing moment's own (+60)
        if backend == "sqlite" and offset == timedelta(hours=2):
            counted, not_counted = date(2026, 1, 15), date(2026, 1, 14)
        else:
            counted, not_counted = date(2026, 1, 14), date(2026, 1, 15)
        assert await received_on(env, counted) == 1
        assert await received_on(env, not_counted) == 0
