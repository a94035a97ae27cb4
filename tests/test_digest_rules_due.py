"""Which week the last weekly run that fell due reports (Week.last_due): the run's own day
after its time, any later day that week, and before the time on its day (last week's)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from bot.rules.digest import Week

NINE = time(9)


@pytest.mark.parametrize(
    ("now", "weekday", "reported_from"),
    [
        (datetime(2026, 3, 16, 9, 0), 1, date(2026, 3, 9)),  # Monday 09:00: this Monday's run
        (datetime(2026, 3, 16, 8, 59), 1, date(2026, 3, 2)),  # Monday before it: last Monday's
        (datetime(2026, 3, 17, 0, 30), 1, date(2026, 3, 9)),  # Tuesday: Monday's, caught up
        (datetime(2026, 3, 22, 23, 0), 1, date(2026, 3, 9)),  # Sunday night: still Monday's
        (datetime(2026, 3, 18, 10, 0), 3, date(2026, 3, 9)),  # a Wednesday run: the last whole week
        (datetime(2026, 3, 17, 10, 0), 3, date(2026, 3, 2)),  # Tuesday: last Wednesday's run
    ],
)
def test_the_last_run_due_reports_the_week_before_it(now, weekday, reported_from):
    assert Week.last_due(now, NINE, weekday).start == reported_from
