"""Working-day arithmetic under China's statutory calendar (holidays and 调休 make-up days).

This module is the only place that decides whether a day is a working day.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date, timedelta

import chinese_calendar

log = logging.getLogger(__name__)


def _index(day: date) -> int:
    return day.timetuple().tm_yday - 1


class WorkingCalendar:
    """Statutory calendar plus the org's own overrides, with a loud Mon–Fri fallback."""

    def __init__(
        self,
        extra_holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        on_fallback: Callable[[int], None] | None = None,
    ) -> None:
        self._holidays = frozenset(extra_holidays)
        self._workdays = frozenset(extra_workdays)
        self._on_fallback = on_fallback
        self.fallback_years: set[int] = set()
        # year → working days from 1 January up to and including each day of the year
        self._running: dict[int, list[int]] = {}

    def covers(self, year: int) -> bool:
        """True when the statutory calendar knows this year's holidays."""
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def is_working_day(self, day: date) -> bool:
        # Answered from the year's running totals: the statutory lookup validates its
        # argument on every call, and a deadline asks about a dozen days per appeal.
        running = self._year(day.year)
        index = _index(day)
        return running[index] > (running[index - 1] if index else 0)

    def _decide(self, day: date) -> bool:
        if day in self._workdays:
            return True
        if day in self._holidays:
            return False
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            self.note_fallback(day.year)
            return day.weekday() < 5

    def note_fallback(self, year: int) -> None:
        """Record (once per year) that Mon–Fri stands in for the statutory calendar."""
        if year in self.fallback_years:
            return
        self.fallback_years.add(year)
        log.warning(
            "statutory calendar for %s is unknown to chinesecalendar; counting Mon-Fri only."
            " Upgrade chinesecalendar or add [calendar] overrides to the org config.",
            year,
        )
        if self._on_fallback is not None:
            self._on_fallback(year)

    def add_working_days(self, start: date, days: int) -> date:
        """The `days`-th working day after `start` (counting begins the next working day)."""
        if days < 1:
            raise ValueError("days must be at least 1")
        current = start
        remaining = days
        while remaining:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def sub_working_days(self, start: date, days: int) -> date:
        """The day `days` working days before `start`: working days in (result, start]."""
        if days < 1:
            raise ValueError("days must be at least 1")
        current = start
        remaining = days if self.is_working_day(start) else days + 1
        while remaining:
            current -= timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative when end is before start. Counted from
        per-year running totals, so a long overdue span costs no more than a short one."""
        if end < start:
            return -self.working_days_between(end, start)
        first, last = self._year(start.year), self._year(end.year)
        before_start = first[_index(start)]
        if start.year == end.year:
            return last[_index(end)] - before_start
        middle = sum(self._year(year)[-1] for year in range(start.year + 1, end.year))
        return first[-1] - before_start + middle + last[_index(end)]

    def _year(self, year: int) -> list[int]:
        running = self._running.get(year)
        if running is None:
            running, count, day = [], 0, date(year, 1, 1)
            while day.year == year:
                count += self._decide(day)
                running.append(count)
                day += timedelta(days=1)
            self._running[year] = running
        return running
