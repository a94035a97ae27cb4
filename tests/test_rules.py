"""Domain rules without Telegram: USCC, working-day calendar, workflow table, callback codec."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import chinese_calendar
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.rules import uscc
from bot.rules.model import Action, Party, State
from bot.rules.workcal import WorkingCalendar
from bot.rules.workflow import APPEAL_FLOW, actions_in, step
from handlers.buttons import BadCallback, appeal_button, decode


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y43",
        "91110108551385082Q",
        "A1110000MB1234567A",
        "N2440300MJ0000001L",
        "Y1330100MA2B3C4D51",
        "51110000500000000B",
    ],
)
def test_valid_uscc(code):
    assert uscc.is_valid(code)


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y44",  # wrong check digit
        "01350100M000100Y4X",  # first character 0
        "B1110000MB1234567A",  # first character B is not a registration authority
        "91350100M000100I43",  # I is not in the alphabet
        "91350100M000100Y4",  # 17 characters
        "",
    ],
)
def test_invalid_uscc(code):
    assert not uscc.is_valid(code)


def test_uscc_check_char_matches_the_published_example():
    assert uscc.check_char("91350100M000100Y4") == "3"


def test_spring_festival_2026_with_adjusted_working_weekends():
    cal = WorkingCalendar()
    assert cal.is_working_day(date(2026, 2, 14))  # Saturday 补班
    assert cal.is_working_day(date(2026, 2, 28))  # Saturday 补班
    assert not any(cal.is_working_day(date(2026, 2, d)) for d in range(15, 24))
    # Thursday 2026-02-12 + 10 working days: 13, 14, 24, 25, 26, 27, 28, 3/2, 3/3, 3/4
    assert cal.add_working_days(date(2026, 2, 12), 10) == date(2026, 3, 4)
    assert cal.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert cal.add_working_days(date(2026, 2, 14), 1) == date(2026, 2, 24)


def test_national_day_2026():
    cal = WorkingCalendar()
    assert not any(cal.is_working_day(date(2026, 10, d)) for d in range(1, 8))
    assert cal.is_working_day(date(2026, 9, 20))  # Sunday 补班
    assert cal.is_working_day(date(2026, 10, 10))  # Saturday 补班
    assert cal.add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert cal.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)


def test_counting_starts_the_next_working_day():
    cal = WorkingCalendar()
    # filed on a Saturday: Monday is day one
    assert cal.add_working_days(date(2026, 3, 14), 1) == date(2026, 3, 16)
    assert cal.working_days_between(date(2026, 3, 10), date(2026, 3, 24)) == 10
    assert cal.working_days_between(date(2026, 3, 24), date(2026, 3, 10)) == -10


def test_unknown_year_falls_back_to_weekdays_loudly(caplog):
    told: list[int] = []
    cal = WorkingCalendar(on_fallback=told.append)
    assert not cal.covers(2027) and cal.covers(2026)
    with caplog.at_level(logging.WARNING):
        assert cal.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 1)  # a Friday
        cal.add_working_days(date(2027, 3, 1), 5)
    assert told == [2027]  # once per year
    assert cal.fallback_years == {2027}
    assert "2027" in caplog.text and "Mon-Fri" in caplog.text


def test_every_day_of_the_covered_years_is_the_statutory_answer():
    calendar = WorkingCalendar()
    day = date(2024, 1, 1)
    while day.year <= 2026:
        assert calendar.is_working_day(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_org_overrides_win_over_the_statutory_calendar():
    cal = WorkingCalendar(extra_holidays=[date(2026, 3, 11)], extra_workdays=[date(2026, 3, 14)])
    assert not cal.is_working_day(date(2026, 3, 11))
    assert cal.is_working_day(date(2026, 3, 14))
    assert cal.add_working_days(date(2026, 3, 10), 2) == date(2026, 3, 13)


def test_workflow_table():
    assert step(APPEAL_FLOW, State.PENDING, Action.CLAIM).target(State.PENDING) is State.IN_PROGRESS
    assert step(APPEAL_FLOW, State.CLOSED, Action.REOPEN).target(State.CLOSED) is State.IN_PROGRESS
    assert step(APPEAL_FLOW, State.WITHDRAWN, Action.REPLY) is None
    assert actions_in(APPEAL_FLOW, State.WITHDRAWN) == []
    # enterprises never act on the department side and vice versa
    for action, row in APPEAL_FLOW.items():
        if action in (Action.SUPPLEMENT, Action.WITHDRAW, Action.RATE, Action.REOPEN):
            assert row.by == {Party.CONTACT}
        else:
            assert Party.CONTACT not in row.by


def test_callback_codec_round_trip_and_rejects_forgeries():
    data = appeal_button("rate", 123, 4, "s")
    assert len(data.encode()) <= 64
    button = decode(data)
    assert (button.action, button.item_id, button.version, button.arg) == (
        Action.RATE,
        123,
        4,
        "s",
    )
    forgeries = ("rate", "claim:x:1", "claim:1", "claim:-1:1", "claim:1:0", "a" * 65, None)
    for forged in (*forgeries, "claim:" + "9" * 40 + ":1", "claim:１:1"):
        with pytest.raises(BadCallback):
            decode(forged)


def _statutory(day: date) -> bool:
    """The reference: chinesecalendar where it knows the year, else Monday to Friday."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


@given(
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31)),
    span=st.integers(min_value=-800, max_value=800),
)
@settings(max_examples=300, deadline=None)
def test_working_days_between_equals_counting_day_by_day(start, span):
    calendar = WorkingCalendar(on_fallback=lambda year: None)
    end = start + timedelta(days=span)
    low, high = min(start, end), max(start, end)
    counted = sum(_statutory(low + timedelta(days=n)) for n in range(1, (high - low).days + 1))
    assert calendar.working_days_between(start, end) == (counted if end >= start else -counted)


def _common_in_order(a: str, b: str) -> int:
    """Longest common subsequence, by the textbook table (the reference for the check)."""
    row = [0] * (len(b) + 1)
    for ca in a:
        previous_diagonal = 0
        for j, cb in enumerate(b, start=1):
            previous_diagonal, row[j] = (
                row[j],
                previous_diagonal + 1 if ca == cb else max(row[j], row[j - 1]),
            )
    return row[-1]


@given(
    text=st.text(alphabet="已联系企业对接银行政策 ", max_size=40),
    earlier=st.lists(st.text(alphabet="已联系企业对接银行政策 ", max_size=40), max_size=8),
    threshold=st.sampled_from([0.5, 0.8, 0.9]),
)
@example(text="业业业", earlier=["业业"], threshold=0.8)  # exactly at the threshold: 2·2/5
@settings(max_examples=300, deadline=None)
def test_near_duplicate_is_the_most_similar_earlier_reply(text, earlier, threshold):
    """Similarity is 2·LCS/(len a + len b) of the stripped texts; the best at or above the
    threshold is found, the most recent one on a tie, and nothing below it."""
    from bot.rules.digest import best_match_above

    numbers = [f"SQ-2026-{n:06d}" for n in range(len(earlier))]

    def reference(other: str) -> float:
        return (
            1.0
            if not text and not other
            else 2 * _common_in_order(text, other) / (len(text) + len(other))
        )

    ratios = [reference(other) for other in earlier]
    found = best_match_above(text, earlier, numbers, threshold)
    best = max(ratios, default=0)
    if best >= threshold:
        assert found is not None and abs(found[0] - best) < 1e-9
        assert found[1] == numbers[ratios.index(best)]
    else:
        assert found is None
