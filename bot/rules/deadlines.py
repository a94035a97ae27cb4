"""Deadlines: every date a rule needs, from the org config's limits and the working calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bot.rules.model import Appeal
from bot.rules.org import Category, Limits
from bot.rules.refusals import InvalidInput
from bot.rules.workcal import WorkingCalendar

# How a reopened appeal's deadline was set (stored in the audit detail, worded for people).
REOPEN_TIME_LIMIT, REOPEN_KEPT = "time_limit", "kept"
# …and when the deadline kept is one an approved extension set.
REOPEN_KEPT_EXTENSION = "kept_extension"


@dataclass(frozen=True)
class Deadlines:
    calendar: WorkingCalendar
    limits: Limits

    def claim_due(self, today: date) -> date:
        return self.calendar.add_working_days(today, self.limits.claim_days)

    def due(self, today: date, category: Category | None) -> date:
        days = category.time_limit_days if category else self.limits.default_time_limit_days
        return self.calendar.add_working_days(today, days)

    def reopen_due(self, today: date, category: Category | None, current: date) -> tuple[date, str]:
        """重办 (不满意): the category's time limit counted again from today, never earlier
        than the deadline in force (an approved extension stands). The due date and how it
        was set: REOPEN_TIME_LIMIT, or REOPEN_KEPT when the deadline in force is later."""
        fresh = self.due(today, category)
        return (fresh, REOPEN_TIME_LIMIT) if fresh >= current else (current, REOPEN_KEPT)

    def rating_due(self, today: date) -> date:
        return self.calendar.add_working_days(today, self.limits.rating_days)

    def rating_expired(self, appeal: Appeal, today: date) -> bool:
        return appeal.rating_due_date is not None and today > appeal.rating_due_date

    def check_extension(self, new_due: date, appeal: Appeal) -> date:
        """An extension moves the deadline to a later working day."""
        if new_due <= appeal.due_date:
            raise InvalidInput(
                field="new_due", reason="not_later", limit=appeal.due_date.isoformat()
            )
        if not self.calendar.is_working_day(new_due):
            raise InvalidInput(field="new_due", reason="not_working_day")
        return new_due

    def overdue_days(self, due: date, today: date) -> int:
        return max(self.calendar.working_days_between(due, today), 0)

    def sweep_dates(self, today: date) -> SweepDates:
        """The dates one sweep of the ladder compares with (computed once per sweep)."""
        far, near = self.limits.task_notice_days
        return SweepDates(
            today=today,
            next_working_day=self.calendar.add_working_days(today, 1),
            raise_due=self.calendar.sub_working_days(today, self.limits.raise_after_days),
            plus_near=today + timedelta(days=near),
            plus_far=today + timedelta(days=far),
        )


@dataclass(frozen=True)
class SweepDates:
    """The days one sweep of the reminder ladder compares deadlines with."""

    today: date
    next_working_day: date  # due then: 即将到期 (and a task's last day before)
    raise_due: date  # due on or before it: raised to the leaders (提级)
    plus_near: date  # a task's deadline within these days: its near / far reminder
    plus_far: date

    @property
    def year(self) -> int:
        """The year whose 文号 the sweep's notices take."""
        return self.today.year

    @property
    def month_start(self) -> date:
        """The first day of the month (a task deemed done before it is reminded monthly)."""
        return self.today.replace(day=1)
