"""One reader of dates, periods and weeks for files, the chat and the command line: every
form people and systems write is read back as the same day; what is not a date, or a
period in the wrong order, or a week a year does not have, is refused with its reason."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.rules.checks import parse_date, parse_period, parse_week, period_words
from bot.rules.digest import Week, require_past_or_current
from bot.rules.refusals import InvalidInput

TODAY = date(2026, 3, 10)
MARCH_31 = date(2026, 3, 31)


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-31",
        "2026-3-31",
        "2026/3/31",
        "2026/03/31",
        "2026.3.31",
        "2026年3月31日",
        "2026 年 3 月 31 日",
        "2026年3月31号",
        "２０２６年３月３１日",  # full-width digits
        "２０２６－０３－３１",
        " 2026-03-31\u200b ",  # spaces and a zero-width space around it
        # with a time of day, as Excel and many systems write a date-time
        "2026/3/31 0:00",
        "2026/3/31 00:00",
        "2026-03-31 00:00:00",
        "2026-03-31 23:59:59",
        "2026-03-31 00:00:00.000",
        "2026-03-31T00:00:00",
        "2026-03-31T08:00:00+08:00",
        "2026-03-31T00:00:00Z",
        "2026/3/31 12:00 AM",
        "2026/3/31 9:30 pm",
        "2026年3月31日 0时",
        "2026年3月31日0时0分",
        "2026年3月31日 上午9时30分",
        "2026年3月31日 下午3点",
        # "by" a date, the end of a month: how rectification ledgers set deadlines
        "2026年3月31日前",
        "2026-03-31之前",
        "2026年3月底",
        "2026年3月底前",
        "2026年3月末",
        "3月底",
        "3月31日",  # the next 31 March after 10 March 2026
        "3/31",
        "3-31",
        # packed, and with the weekday Excel's long Chinese date adds
        "20260331",
        "20260331 08:00",
        "2026年3月31日星期二",
        "2026年3月31日 星期二",
        "2026年3月31日（周二）",
        "2026-03-31 周二 9:00",
        "3月31日（周二）",
        "3月31日星期二",
    ],
)
def test_every_written_form_of_a_date_is_that_date(text):
    assert parse_date(text, TODAY) == MARCH_31


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "text",
        "待定",
        "2026-02-30",  # no such day
        "2026-02-29",  # not a leap year
        "2026/13/1",
        "2026-00-10",
        "2026-3-0",
        "2026-3/31",  # mixed separators
        "2026-03-311",
        "3-31-2026",
        "31/3/2026",
        "46112",  # an Excel serial number shown as a number is a number
        "2026-03",
        "2026-03-31 25:00",
        "2026-03-31 12:60",
        "2026-03-31 13:00 PM",
        "2026-03-31 later",
        "2026-03-31 0",
        "13月1日",
        "2月30日",
        "2026年13月底",
        "2026年",
        "长期坚持",
        "前",
        "202603310",
        "20261331",
        "2026年3月31日星期八",
    ],
)
def test_what_is_not_a_date_is_refused(text):
    with pytest.raises(ValueError):
        parse_date(text, TODAY)


def test_a_month_and_day_is_the_next_one_for_a_deadline_and_this_years_for_a_period():
    assert parse_date("3月1日", TODAY) == date(2027, 3, 1)
    assert parse_date("3月1日", TODAY, upcoming=False) == date(2026, 3, 1)
    assert parse_date("3月10日", TODAY) == TODAY
    assert parse_date("2月29日", TODAY) == date(2028, 2, 29)


FORMS = [
    lambda d: d.isoformat(),
    lambda d: f"{d.year}-{d.month}-{d.day}",
    lambda d: f"{d.year}/{d.month}/{d.day}",
    lambda d: f"{d.year}.{d.month:02d}.{d.day:02d}",
    lambda d: f"{d.year}年{d.month}月{d.day}日",
    lambda d: f"{d.year}/{d.month}/{d.day} 0:00",
    lambda d: f"{d.isoformat()} 00:00:00",
    lambda d: f"{d.isoformat()}T13:45:10.250+08:00",
    lambda d: f"{d.year}/{d.month}/{d.day} 11:59 PM",
    lambda d: f"{d.year}年{d.month}月{d.day}日 下午3时5分",
    lambda d: f"{d.year}年{d.month}月{d.day}日前",
    lambda d: f"{d.year}年{d.month}月{d.day}日".translate(
        str.maketrans("0123456789", "０１２３４５６７８９")
    ),
]


@given(
    day=st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31)),
    form=st.sampled_from(FORMS),
)
def test_any_date_written_in_any_accepted_form_parses_back_to_itself(day, form):
    assert parse_date(form(day), TODAY) == day


@given(year=st.integers(1900, 2999), month=st.integers(1, 12), by=st.sampled_from(["", "前"]))
def test_the_end_of_a_month_is_its_last_day(year, month, by):
    last = parse_date(f"{year}年{month}月底{by}", TODAY)
    assert (last.year, last.month) == (year, month) and (last + timedelta(days=1)).day == 1
    assert parse_date(f"{year}年底{by}", TODAY) == date(year, 12, 31)


@given(day=st.dates(min_value=TODAY, max_value=date(2099, 12, 31)))
def test_a_month_and_day_ahead_is_read_as_the_next_one(day):
    upcoming = parse_date(f"{day.month}月{day.day}日", TODAY)
    assert (upcoming.month, upcoming.day) == (day.month, day.day)
    assert TODAY <= upcoming <= day


def refusal(call, *args) -> dict:
    with pytest.raises(InvalidInput) as err:
        call(*args)
    return err.value.params


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, (date(2026, 1, 1), TODAY)),
        ("2026-3-5", None, (date(2026, 3, 5), TODAY)),
        ("3月5日", None, (date(2026, 3, 5), TODAY)),  # a period's month-day is this year's
        ("2026/1/1 0:00", "2026年3月1日", (date(2026, 1, 1), date(2026, 3, 1))),
        ("2026-03-05", "2026-03-05", (date(2026, 3, 5), date(2026, 3, 5))),
        ("2月", None, (date(2026, 2, 1), date(2026, 2, 28))),  # a month alone
        ("2024年2月", None, (date(2024, 2, 1), date(2024, 2, 29))),
        ("2025-12", None, (date(2025, 12, 1), date(2025, 12, 31))),
    ],
)
def test_a_period_is_read_as_written(start, end, expected):
    assert parse_period(start, end, TODAY) == expected


@pytest.mark.parametrize(
    ("start", "end", "problem"),
    [
        ("2026-12-31", "2026-01-01", {"reason": "period_order", "start": "2026-12-31"}),
        ("2026-03-11", None, {"reason": "period_order", "end": "2026-03-10"}),
        ("3月5日", "3月1日", {"reason": "period_order", "start": "2026-03-05"}),
        ("3月32日", None, {"field": "period_start", "reason": "date_format", "value": "3月32日"}),
        ("2026-01-01", "soon", {"field": "period_end", "reason": "date_format"}),
        ("13月", None, {"field": "period_start", "reason": "date_format"}),
    ],
)
def test_a_period_names_its_problem(start, end, problem):
    params = refusal(parse_period, start, end, TODAY)
    assert params.items() >= problem.items()


def test_the_words_of_a_period():
    assert period_words([]) == (None, None)
    assert period_words(["2026-01-01"]) == ("2026-01-01", None)
    assert period_words(["2026-01-01", "至", "2026-03-31"]) == ("2026-01-01", "2026-03-31")
    assert period_words(["2026-01-01~2026-03-31"]) == ("2026-01-01", "2026-03-31")
    assert period_words(["2026-01-01到2026-03-31"]) == ("2026-01-01", "2026-03-31")
    assert refusal(period_words, ["1", "2", "3"])["reason"] == "period_parts"


@pytest.mark.parametrize(
    ("text", "week"),
    [
        ("2026-W47", Week(2026, 47)),
        ("2026W47", Week(2026, 47)),
        ("2026-w03", Week(2026, 3)),
        ("2026-W3", Week(2026, 3)),
        ("2026-W47-1", Week(2026, 47)),
        ("2026年第47周", Week(2026, 47)),
        ("２０２６－Ｗ４７", Week(2026, 47)),
        ("2026-W53", Week(2026, 53)),  # 2026 has 53 ISO weeks
        ("2020-W53", Week(2020, 53)),
    ],
)
def test_a_week_is_read_in_every_written_form(text, week):
    assert parse_week(text, TODAY) == week == parse_week(text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("11", {"reason": "week_no_year", "example": "2026-W11"}),
        ("W11", {"reason": "week_no_year", "example": "2026-W11"}),
        ("第11周", {"reason": "week_no_year", "example": "2026-W11"}),
        ("W60", {"reason": "week_no_year", "example": "2026-W10"}),  # last week as example
        ("2026-W60", {"reason": "week_range", "year": 2026, "weeks": 53}),
        ("2027-W53", {"reason": "week_range", "year": 2027, "weeks": 52}),
        ("2026-W00", {"reason": "week_range"}),
        ("0000-W01", {"reason": "week_years"}),
        ("last week", {"reason": "week_format", "example": "2026-W10"}),
        ("", {"reason": "week_format"}),
    ],
)
def test_a_week_names_its_problem(text, problem):
    params = refusal(parse_week, text, TODAY)
    assert params.items() >= problem.items()


@given(day=st.dates(min_value=date(1900, 1, 8), max_value=date(2999, 12, 20)))
def test_every_week_label_parses_back_to_its_week(day):
    week = Week.of(day)
    assert parse_week(week.label, TODAY) == week


def test_a_week_not_begun_is_refused_with_last_week_as_example():
    require_past_or_current(Week(2026, 11), TODAY)  # this week: fine
    params = refusal(require_past_or_current, Week(2026, 12), TODAY)
    assert params == {
        "field": "week",
        "reason": "week_future",
        "week": "2026-W12",
        "example": "2026-W10",
    }


# The chat: /export and /digest name the real problem with an example.


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        (
            "/export 2026-12-31 2026-01-01",
            "起始日期 2026-12-31 晚于截止日期 2026-01-01，请先写起始日期、再写截止日期。\n"
            "如 /export 2026-01-01 2026-12-31。",
        ),
        (
            "/export 2026-03-11",  # after today, the default end
            "起始日期 2026-03-11 晚于截止日期 2026-03-10，请先写起始日期、再写截止日期。\n"
            "如 /export 2026-03-10 2026-03-11。",
        ),
        (
            "/export 2026-02-30",
            "起始日期“2026-02-30”不是日期，请写成 2026-03-05、2026/3/5 或 2026年3月5日。\n"
            "用法：/export [起始日期] [截止日期]，如 /export 2026-01-01 2026-03-31；"
            "日期也可写成 2026/3/31 或 2026年3月31日，默认为本年度至今。",
        ),
        (
            "/export 2026-01-01 明天",
            "截止日期“明天”不是日期，请写成 2026-03-05、2026/3/5 或 2026年3月5日。\n"
            "用法：/export [起始日期] [截止日期]，如 /export 2026-01-01 2026-03-31；"
            "日期也可写成 2026/3/31 或 2026年3月31日，默认为本年度至今。",
        ),
        (
            "/export 2026-01-01 2026-02-01 2026-03-01",
            "日期过多（2026-01-01 2026-02-01 2026-03-01）：只需起始日期和截止日期两个日期。\n"
            "用法：/export [起始日期] [截止日期]，如 /export 2026-01-01 2026-03-31；"
            "日期也可写成 2026/3/31 或 2026年3月31日，默认为本年度至今。",
        ),
        ("/digest 2026-W60", "2026 年只有 53 周，周次应在 2026-W01 至 2026-W53 之间。"),
        ("/digest 11", "周次“11”缺少年份，请写成 2026-W11（年份-W周数）。"),
        ("/digest W60", "周次“W60”缺少年份，请写成 2026-W10（年份-W周数）。"),
        ("/digest 上周", "周次“上周”无法识别，请写成 2026-W10（年份-W周数）。"),
        ("/digest 2026-W12", "2026-W12 尚未开始，请选择本周或之前的周次，如 2026-W10。"),
    ],
)
async def test_chat_export_and_digest_name_the_problem(sandbox, leader, command, answer):
    assert await leader.send(command) == [answer]
    assert sandbox.api.documents == []  # nothing sent, nothing exported


@pytest.mark.parametrize(
    ("command", "name"),
    [
        ("/export 2026-3-5", "诉求台账-2026-03-05-2026-03-10.xlsx"),
        ("/export 2026/1/1 0:00 2026年3月1日", None),  # a time of day is one word too many
        ("/export 2026-01-01 至 2026-03-01", "诉求台账-2026-01-01-2026-03-01.xlsx"),
        ("/export 2026-01-01~2026-03-01", "诉求台账-2026-01-01-2026-03-01.xlsx"),
        ("/export 3月1日", "诉求台账-2026-03-01-2026-03-10.xlsx"),
        ("/export 2月", "诉求台账-2026-02-01-2026-02-28.xlsx"),
    ],
)
async def test_chat_export_takes_the_dates_people_write(sandbox, leader, command, name):
    answer = await leader.send(command)
    if name is None:
        assert answer[0].startswith("日期过多") and sandbox.api.documents == []
    else:
        assert sandbox.api.documents[-1][1] == name


@pytest.mark.parametrize(
    "text", ["9999-12-31", "0001-01-01", "1899-12-31", "3000-01-01", "9999年12月31日", "0001/1/1"]
)
def test_a_date_in_a_year_no_record_can_have_is_named_so(text):
    """Well written, but 9999-12-31 overflowed a period's end: refused as out of range (not
    as "not a date", which would advise the very form that was typed)."""
    from bot.rules.checks import YearOutOfRange, date_field

    with pytest.raises(YearOutOfRange):
        parse_date(text, TODAY)
    for refuse in (
        lambda: parse_period(text, None, TODAY),
        lambda: parse_period(None, text, TODAY),
        lambda: date_field(text, "new_due", TODAY),
    ):
        with pytest.raises(InvalidInput) as err:
            refuse()
        assert err.value.params["reason"] == "date_years"


@pytest.mark.parametrize("text", ["0001-W01", "0001年第1周", "1899-W52", "3000-W01", "9999-W52"])
def test_a_week_in_a_year_no_record_can_have_is_named_so(text):
    with pytest.raises(InvalidInput) as err:
        parse_week(text, TODAY)
    assert err.value.params["reason"] == "week_years"
