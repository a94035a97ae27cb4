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
        # a month or a year at either end: from its first day, to its last (or today)
        ("2025-11", "2025-12", (date(2025, 11, 1), date(2025, 12, 31))),
        ("2025年11月", "2026年1月", (date(2025, 11, 1), date(2026, 1, 31))),
        ("2025/11", "2026.1", (date(2025, 11, 1), date(2026, 1, 31))),
        ("1月", "2月", (date(2026, 1, 1), date(2026, 2, 28))),
        ("1月份", "2月份", (date(2026, 1, 1), date(2026, 2, 28))),
        ("2026-01-15", "2月", (date(2026, 1, 15), date(2026, 2, 28))),
        ("2月", "2026-03-05", (date(2026, 2, 1), date(2026, 3, 5))),
        ("2月", "3月", (date(2026, 2, 1), TODAY)),  # this month: to today
        ("3月", None, (date(2026, 3, 1), TODAY)),
        ("2025年", None, (date(2025, 1, 1), date(2025, 12, 31))),
        ("2025", None, (date(2025, 1, 1), date(2025, 12, 31))),
        ("2025年度", None, (date(2025, 1, 1), date(2025, 12, 31))),
        ("2026年", None, (date(2026, 1, 1), TODAY)),
        ("2024", "2025", (date(2024, 1, 1), date(2025, 12, 31))),
        ("2024年", "2025-06", (date(2024, 1, 1), date(2025, 6, 30))),
        ("2025-12", "2026年", (date(2025, 12, 1), TODAY)),
        ("2026-01-01", "2027-01-01", (date(2026, 1, 1), TODAY)),  # nothing later is recorded
        ("２０２５年１１月", "２０２５年１２月", (date(2025, 11, 1), date(2025, 12, 31))),
        ("2026-03-03 周二", "2026年3月6日（星期五）", (date(2026, 3, 3), date(2026, 3, 6))),
    ],
)
def test_a_period_is_read_as_written(start, end, expected):
    assert parse_period(start, end, TODAY) == expected


JANUARY = date(2027, 1, 5)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # written without a year, a period's month or day is the latest one already begun
        ("12月", None, (date(2026, 12, 1), date(2026, 12, 31))),
        ("11月", None, (date(2026, 11, 1), date(2026, 11, 30))),
        ("11月", "12月", (date(2026, 11, 1), date(2026, 12, 31))),
        ("12月", "1月", (date(2026, 12, 1), JANUARY)),
        ("1月", None, (date(2027, 1, 1), JANUARY)),
        ("12月5日", "1月3日", (date(2026, 12, 5), date(2027, 1, 3))),
        ("12月20日", None, (date(2026, 12, 20), JANUARY)),
        ("2026年12月底", None, (date(2026, 12, 31), JANUARY)),
        ("12月", "12月底", (date(2026, 12, 1), date(2026, 12, 31))),
        ("2月29日", None, (date(2024, 2, 29), JANUARY)),  # the latest leap day
    ],
)
def test_in_january_a_month_without_its_year_is_last_years(start, end, expected):
    assert parse_period(start, end, JANUARY) == expected


@given(today=st.dates(min_value=date(1910, 1, 1), max_value=date(2999, 12, 31)))
def test_a_month_alone_is_never_in_the_future(today):
    for month in range(1, 13):
        first, last = parse_period(f"{month}月", None, today)
        assert first <= today and first.month == month and first.day == 1
        assert (first.year, month) <= (today.year, today.month)
        assert today.year - first.year <= 1


@pytest.mark.parametrize(
    ("start", "end", "problem"),
    [
        ("2026-12-31", "2026-01-01", {"reason": "period_future", "start": "2026-12-31"}),
        ("2026-03-11", None, {"reason": "period_future", "start": "2026-03-11"}),
        ("2027", None, {"reason": "period_future", "start": "2027-01-01"}),
        ("2026-03-05", "2026-03-01", {"reason": "period_order", "start": "2026-03-05"}),
        ("2026-03", "2026-02-27", {"reason": "period_order", "start": "2026-03-01"}),
        ("2月", "1月30日", {"reason": "period_order", "end": "2026-01-30"}),
        ("2026年", "2025年", {"reason": "period_order", "end": "2025-12-31"}),
        ("1899年", None, {"field": "period_start", "reason": "date_years"}),
        ("2026-01", "3000年", {"field": "period_end", "reason": "date_years"}),
        ("2026-03-03 周五", None, {"reason": "date_weekday", "real": "二", "typed": "五"}),
        ("3月5日", "3月1日", {"reason": "period_order", "start": "2026-03-05"}),
        ("3月32日", None, {"field": "period_start", "reason": "date_format", "value": "3月32日"}),
        ("2026-01-01", "soon", {"field": "period_end", "reason": "date_format"}),
        ("13月", None, {"field": "period_start", "reason": "date_format"}),
    ],
)
def test_a_period_names_its_problem(start, end, problem):
    params = refusal(parse_period, start, end, TODAY)
    assert params.items() >= problem.items()


WEEKDAY_NAMES = "一二三四五六日"


@given(
    day=st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31)), form=st.integers(0, 3)
)
def test_a_date_with_its_own_weekday_is_that_date_and_with_another_is_refused(day, form):
    """Every date with each of the seven weekdays written after it: its own is dropped,
    any other is refused naming the real one — in chat, in a period and in a file."""
    from bot.rules.checks import WrongWeekday, date_field

    written = (
        f"{day.isoformat()} 周{{}}",
        f"{day.year}年{day.month}月{day.day}日星期{{}}",
        f"{day.year}/{day.month}/{day.day}（周{{}}）",
        f"{day.year}年{day.month}月{day.day}日 礼拜{{}} 9:00",
    )[form]
    for number, typed in enumerate(WEEKDAY_NAMES):
        text = written.format(typed)
        if number == day.weekday():
            assert parse_date(text, TODAY) == day
            continue
        with pytest.raises(WrongWeekday) as err:
            parse_date(text, TODAY)
        assert (err.value.day, err.value.real, err.value.typed) == (
            day,
            WEEKDAY_NAMES[day.weekday()],
            typed,
        )
        params = refusal(date_field, text, "new_due", TODAY)
        assert params["reason"] == "date_weekday" and params["real"] == WEEKDAY_NAMES[day.weekday()]


@pytest.mark.parametrize(
    ("text", "real"),
    [
        ("2026-12-01 周五", "二"),
        ("2026年12月1日星期五", "二"),
        ("2026-12-01（周日）", "二"),
        ("2026-12-06 周天", "日"),  # 周天 is 周日: 2026-12-06 is a Sunday, accepted below
        ("3月31日（周一）", "二"),
        ("3/31 周三", "二"),
    ],
)
def test_a_wrong_weekday_names_the_real_one(text, real):
    from bot.rules.checks import WrongWeekday

    if text.endswith("周天"):
        assert parse_date(text, TODAY) == date(2026, 12, 6)
        return
    with pytest.raises(WrongWeekday) as err:
        parse_date(text, TODAY)
    assert err.value.real == real


@given(today=st.dates(min_value=date(1901, 2, 1), max_value=date(2999, 12, 31)))
def test_the_example_period_is_always_already_past_and_valid(today):
    from bot.rules.checks import sample_period

    start, end = sample_period(today)
    assert start <= end < today
    assert parse_period(start.isoformat(), end.isoformat(), today) == (start, end)
    assert parse_period(f"{end.year}-{end.month:02d}", None, today) == (start, end)


def test_the_words_of_a_period():
    assert period_words([]) == (None, None)
    assert period_words(["2026-01-01"]) == ("2026-01-01", None)
    assert period_words(["2026-01-01", "至", "2026-03-31"]) == ("2026-01-01", "2026-03-31")
    assert period_words(["2026-01-01~2026-03-31"]) == ("2026-01-01", "2026-03-31")
    assert period_words(["2026-01-01到2026-03-31"]) == ("2026-01-01", "2026-03-31")
    assert refusal(period_words, ["1", "2", "3"])["reason"] == "period_parts"
    assert period_words(["2026-12-01", "周二", "至", "2026-12-04（周五）"]) == (
        "2026-12-01 周二",
        "2026-12-04（周五）",
    )


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


# How /export is written; its example is last month (the sandbox's today is 2026-03-10).
USAGE = (
    "用法：/export [起始日期] [截止日期]，如 /export 2026-02-01 2026-02-28；"
    "日期也可写成 2026/2/28 或 2026年2月28日，整月写成 2026-02，整年写成 2025年；默认为本年度至今。"
)


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        (
            "/export 2026-03-01 2026-01-01",
            "起始日期 2026-03-01 晚于截止日期 2026-01-01，请先写起始日期、再写截止日期。\n"
            "如 /export 2026-01-01 2026-03-01。",
        ),
        (
            "/export 2026年3月 2月",  # the example is what was typed, the other way round
            "起始日期 2026-03-01 晚于截止日期 2026-02-28，请先写起始日期、再写截止日期。\n"
            "如 /export 2月 2026年3月。",
        ),
        (
            "/export 2026-03-11",  # after today: no example that ends in the future
            "起始日期 2026-03-11 还没有到（今天是 2026-03-10），请写今天或之前的日期。\n" + USAGE,
        ),
        (
            "/export 2027-01-01",
            "起始日期 2027-01-01 还没有到（今天是 2026-03-10），请写今天或之前的日期。\n" + USAGE,
        ),
        (
            "/export 2026-12-31 2026-01-01",
            "起始日期 2026-12-31 还没有到（今天是 2026-03-10），请写今天或之前的日期。\n" + USAGE,
        ),
        (
            "/export 2999年",
            "起始日期 2999-01-01 还没有到（今天是 2026-03-10），请写今天或之前的日期。\n" + USAGE,
        ),
        (
            "/export 2026-03-03 周五",
            "起始日期“2026-03-03 周五”有误：2026-03-03 是星期二，不是星期五。请核对日期后重新输入。\n"
            + USAGE,
        ),
        (
            "/export 2026-02-30",
            "起始日期“2026-02-30”不是日期，请写成 2026-03-05、2026/3/5 或 2026年3月5日。\n" + USAGE,
        ),
        (
            "/export 2026-01-01 明天",
            "截止日期“明天”不是日期，请写成 2026-03-05、2026/3/5 或 2026年3月5日。\n" + USAGE,
        ),
        (
            "/export 2026-01-01 2026-02-01 2026-03-01",
            "日期过多（2026-01-01 2026-02-01 2026-03-01）：只需起始日期和截止日期两个日期。\n"
            + USAGE,
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
        ("/export 2025-11 2025-12", "诉求台账-2025-11-01-2025-12-31.xlsx"),
        ("/export 2025年11月 至 2026年1月", "诉求台账-2025-11-01-2026-01-31.xlsx"),
        ("/export 1月 2月", "诉求台账-2026-01-01-2026-02-28.xlsx"),
        ("/export 2025年", "诉求台账-2025-01-01-2025-12-31.xlsx"),
        ("/export 2026", "诉求台账-2026-01-01-2026-03-10.xlsx"),
        ("/export 2026-01-01 2027-01-01", "诉求台账-2026-01-01-2026-03-10.xlsx"),
        ("/export 2026-03-03 周二 2026-03-06 周五", "诉求台账-2026-03-03-2026-03-06.xlsx"),
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


async def test_an_extension_date_with_another_days_weekday_is_refused_in_chat(people, db):
    """The official types the new due date with a weekday it does not fall on: refused
    naming the real weekday, nothing stored, and the right date then goes through."""
    from tests.conftest import file_appeal

    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await p.official.press("延期", containing=number)
    answer = await p.official.send("2026-03-31 周五")
    assert answer[0].startswith(
        "新的办结期限“2026-03-31 周五”有误：2026-03-31 是星期二，不是星期五。"
    ), answer
    assert db.count("extensions") == 0
    await p.official.send("2026年3月31日（星期二）")
    answer = await p.official.send("需等待银行授信审批结果。")
    assert "申请延至 2026-03-31" in answer[0]
