"""月报 rules, pure: definitions (TOML and table rows) with every problem named, each field
kind's good and bad answers, and the ladder on 2026's working days (the 调休 Saturday of
National Day, the Sunday of New Year)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.rules.monthly import (
    AT_ROW_KEY,
    AnswerRefused,
    AttachedFile,
    FieldKind,
    FormDefinitionError,
    FormField,
    MonthlyNotice,
    Period,
    ReportSchedule,
    answer_from_json,
    answer_to_json,
    ask_day,
    due_day,
    file_answer,
    is_late,
    ladder_step,
    ladder_steps,
    may_correct,
    missing_required,
    parse_answer,
    parse_definition_toml,
    parse_form_rows,
    parse_form_toml,
    remind_day,
    shown_answer,
)
from bot.rules.workcal import WorkingCalendar
from bot.texts import has, placeholders

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 10, 8)
CAL = WorkingCalendar()

MONEY = FormField("invest", "本月完成投资额", FieldKind.NUMBER, unit="万元", minimum=Decimal(0))
PERCENT = FormField(
    "share", "完成比例", FieldKind.NUMBER, unit="%", minimum=Decimal(0), maximum=Decimal(100)
)
RACKS = FormField("racks", "机架数", FieldKind.NUMBER, unit="个", decimals=0)
CHANGE = FormField("change", "较上月变化", FieldKind.NUMBER, maximum=Decimal(50))
NOTE = FormField("note", "存在问题", FieldKind.TEXT, required=False, max_length=20)
SUMMARY = FormField("summary", "进展情况", FieldKind.TEXT, max_length=20)
OPENED = FormField("opened", "开工日期", FieldKind.DATE)
STAGE = FormField(
    "stage", "形象进度", FieldKind.CHOICE, choices=("土建施工", "机电安装", "设备调试", "已投运")
)
PHOTO = FormField("photo", "现场照片", FieldKind.FILE, required=False)
PLAN = FormField("plan", "施工方案", FieldKind.FILE)


def refused_key(field: FormField, text: str | None) -> str:
    with pytest.raises(AnswerRefused) as caught:
        parse_answer(field, text, TODAY)
    exc = caught.value
    assert has(exc.key), exc.key
    assert placeholders(exc.key) <= set(exc.params), (exc.key, exc.params)
    return exc.key


# Answers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "text", "value"),
    [
        (MONEY, "1200", Decimal("1200")),
        (MONEY, "1,200", Decimal("1200")),
        (MONEY, "1，200", Decimal("1200")),
        (MONEY, "1200.5", Decimal("1200.5")),
        (MONEY, "1200.50", Decimal("1200.5")),
        (MONEY, "１２００", Decimal("1200")),
        (MONEY, "１，２００．５", Decimal("1200.5")),
        (MONEY, "1200万元", Decimal("1200")),
        (MONEY, " 1,200.25 万元 ", Decimal("1200.25")),
        (MONEY, "0", Decimal("0")),
        (MONEY, ".5", Decimal("0.5")),
        (PERCENT, "85%", Decimal("85")),
        (PERCENT, "100", Decimal("100")),
        (RACKS, "120", Decimal("120")),
        (RACKS, "120个", Decimal("120")),
        (RACKS, "12.0", Decimal("12")),
        (CHANGE, "负3", Decimal("-3")),
        (CHANGE, "负 3.5", Decimal("-3.5")),
        (CHANGE, "-3.5", Decimal("-3.5")),
        (CHANGE, "−2", Decimal("-2")),
        (CHANGE, "50", Decimal("50")),
        (SUMMARY, "  机房主体完工 ", "机房主体完工"),
        (SUMMARY, "无", "无"),  # for a text field "none" is the answer (存在问题：无)
        (NOTE, "设备到货延迟", "设备到货延迟"),
        (NOTE, "无", "无"),
        (NOTE, "暂无。", "暂无"),
        (NOTE, "跳过", None),
        (NOTE, "-", None),
        (NOTE, "－", None),
        (NOTE, "", None),
        (NOTE, None, None),
        (OPENED, "2026-09-30", date(2026, 9, 30)),
        (OPENED, "2026年9月1日", date(2026, 9, 1)),
        (OPENED, "9月30日", date(2026, 9, 30)),  # a past date: this year's
        (OPENED, "12月1日", date(2025, 12, 1)),  # … not a coming one
        (OPENED, "2025/3/5", date(2025, 3, 5)),
        (STAGE, "1", "土建施工"),
        (STAGE, "４", "已投运"),
        (STAGE, "机电安装", "机电安装"),
        (STAGE, " “设备调试”。", "设备调试"),
        (PHOTO, "无", None),
    ],
)
def test_good_answers(field, text, value):
    if field.required and value is None:
        assert refused_key(field, text) == "monthly.answer.required"
        return
    got = parse_answer(field, text, TODAY)
    assert got == value and type(got) is type(value)
    assert answer_from_json(field, answer_to_json(field, got)) == got


@pytest.mark.parametrize(
    ("field", "text", "key"),
    [
        (MONEY, "abc", "monthly.answer.number"),
        (MONEY, "1200元", "monthly.answer.number"),  # another unit
        (MONEY, "1,20", "monthly.answer.number"),
        (MONEY, "1.2.3", "monthly.answer.number"),
        (MONEY, "1e5", "monthly.answer.number"),
        (MONEY, "NaN", "monthly.answer.number"),
        (MONEY, "9" * 40, "monthly.answer.number"),
        (MONEY, "1200.123", "monthly.answer.decimals"),
        (MONEY, "-1", "monthly.answer.minimum"),
        (MONEY, "负1", "monthly.answer.minimum"),
        (MONEY, "跳过", "monthly.answer.required"),
        (MONEY, "", "monthly.answer.required"),
        (PERCENT, "101", "monthly.answer.range"),
        (PERCENT, "-0.5", "monthly.answer.range"),
        (RACKS, "12.5", "monthly.answer.integer"),
        (CHANGE, "51", "monthly.answer.maximum"),
        (SUMMARY, "", "monthly.answer.required"),
        (SUMMARY, "\u200b ", "monthly.answer.required"),
        (SUMMARY, "进" * 21, "monthly.answer.too_long"),
        (NOTE, "问" * 21, "monthly.answer.too_long"),
        (OPENED, "下个月", "monthly.answer.date"),
        (OPENED, "2026-02-30", "monthly.answer.date"),
        (OPENED, "9999-01-01", "monthly.answer.date_years"),
        (OPENED, "2026-12-01 周五", "monthly.answer.date_weekday"),
        (OPENED, "无", "monthly.answer.required"),
        (STAGE, "5", "monthly.answer.choice"),
        (STAGE, "其他", "monthly.answer.choice"),
        (STAGE, "土建施工和机电安装", "monthly.answer.choice"),
        (PHOTO, "照片稍后发", "monthly.answer.file"),
        (PLAN, "跳过", "monthly.answer.required"),
    ],
)
def test_bad_answers(field, text, key):
    assert refused_key(field, text) == key


def test_refusals_name_the_bounds_with_the_unit_and_the_options():
    with pytest.raises(AnswerRefused) as caught:
        parse_answer(PERCENT, "120", TODAY)
    assert caught.value.params == {
        "label": "完成比例",
        "value": "120 %",
        "minimum": "0 %",
        "maximum": "100 %",
    }
    with pytest.raises(AnswerRefused) as caught:
        parse_answer(MONEY, "-12000", TODAY)
    assert caught.value.params["minimum"] == "0 万元"
    assert caught.value.params["value"] == "-12,000 万元"
    with pytest.raises(AnswerRefused) as caught:
        parse_answer(STAGE, "其他", TODAY)
    assert caught.value.params["options"] == "1 土建施工 / 2 机电安装 / 3 设备调试 / 4 已投运"
    with pytest.raises(AnswerRefused) as caught:
        parse_answer(MONEY, "很多", TODAY)
    assert caught.value.params["example"] == "1,200.5 万元"


def test_an_option_named_by_a_number_is_itself():
    field = FormField("x", "档次", FieldKind.CHOICE, choices=("2", "1"))
    assert parse_answer(field, "1", TODAY) == "1"


def test_files_and_what_is_still_missing():
    files = (AttachedFile("file-1", "a.jpg"), AttachedFile("file-2", "b.jpg"))
    assert file_answer(PHOTO, files) == files
    assert file_answer(PHOTO, []) is None
    with pytest.raises(AnswerRefused):
        file_answer(PLAN, [])
    assert answer_from_json(PHOTO, answer_to_json(PHOTO, files)) == files
    assert answer_to_json(PHOTO, files) == [
        {"ref": "file-1", "name": "a.jpg"},
        {"ref": "file-2", "name": "b.jpg"},
    ]
    assert shown_answer(PHOTO, files) == "a.jpg, b.jpg"
    form = parse_form_toml((ROOT / "examples" / "monthly_datacenter.toml").read_text("utf-8"))
    answers = {"invest_month": Decimal(1), "progress": "已投运", "issues": None}
    assert [f.key for f in missing_required(form, answers)] == ["invest_total", "racks"]


@pytest.mark.parametrize(
    ("field", "value", "shown", "stored"),
    [
        (MONEY, Decimal("1200"), "1,200 万元", "1200"),
        (MONEY, Decimal("1234567.5"), "1,234,567.5 万元", "1234567.5"),
        (MONEY, Decimal("0.25"), "0.25 万元", "0.25"),
        (CHANGE, Decimal("-3"), "-3", "-3"),
        (OPENED, date(2026, 10, 31), "2026-10-31", "2026-10-31"),
        (STAGE, "已投运", "已投运", "已投运"),
        (NOTE, "设备到货延迟", "设备到货延迟", "设备到货延迟"),
        (NOTE, None, "", None),
    ],
)
def test_shown_and_stored(field, value, shown, stored):
    assert shown_answer(field, value) == shown
    assert answer_to_json(field, value) == stored
    assert answer_from_json(field, stored) == value


# Definitions ------------------------------------------------------------------------------


def problem_keys(exc: FormDefinitionError) -> list[tuple[int, str]]:
    for _, key, params in exc.problems:
        assert has(key), key
        assert placeholders(key) <= set(params), (key, params)
    assert has(exc.key) and has(exc.at_key)
    return [(where, key) for where, key, _ in exc.problems]


def test_the_example_parses():
    definition = parse_definition_toml(
        (ROOT / "examples" / "monthly_datacenter.toml").read_text("utf-8")
    )
    form = definition.form
    assert (form.code, form.title, form.topic, form.period) == (
        "dc_construction",
        "大数据中心建设月报",
        "数据中心建设",
        "month",
    )
    assert [f.label for f in form.fields] == [
        "本月完成投资额",
        "累计完成投资额",
        "形象进度",
        "机架数",
        "存在问题",
        "现场照片",
    ]
    assert [f.kind for f in form.fields] == [
        FieldKind.NUMBER,
        FieldKind.NUMBER,
        FieldKind.CHOICE,
        FieldKind.NUMBER,
        FieldKind.TEXT,
        FieldKind.FILE,
    ]
    invest, _, stage, racks, issues, photos = form.fields
    assert (invest.unit, invest.minimum, invest.decimals) == ("万元", Decimal(0), 2)
    assert stage.choices == ("土建施工", "机电安装", "设备调试", "已投运")
    assert racks.decimals == 0
    assert not issues.required and not photos.required and invest.required
    assert definition.schedule == ReportSchedule(5, 2, 1, 3)
    assert form.field("racks") is racks


def test_a_definition_without_schedule_takes_the_defaults():
    text = 'code = "x1"\ntitle = "月报"\n[[fields]]\nlabel = "产值"\nkind = "数字"\n'
    definition = parse_definition_toml(text)
    assert definition.schedule == ReportSchedule()
    assert definition.form.fields[0].key == "f1"


BAD_TOML = """
code = "Bad Code"
title = ""
period = "week"
colour = "red"

[schedule]
due_working_day = 0
remind_before = 2
baobao_after = 5
leaders_after = 2
hours = 3

[[fields]]
key = "a"
label = "产值"
kind = "number"
min = 10
max = 1
decimals = 9
minumum = 3

[[fields]]
key = "a"
label = "产值"
kind = "money"

[[fields]]
label = "形象进度"
kind = "choice"

[[fields]]
label = "这是一个非常非常非常非常非常非常非常非常非常非常非常长的字段名称"
kind = "text"
unit = "元"
choices = ["a"]
max_length = 99999

[[fields]]
label = "阶段"
kind = "选项"
choices = ["一", "一"]
required = "maybe"

[[fields]]
label = "上限"
kind = "数字"
max = "很多"

[[fields]]
label = ""
kind = "text"
key = "9x"
"""


def test_a_toml_definition_names_every_problem():
    with pytest.raises(FormDefinitionError) as caught:
        parse_form_toml(BAD_TOML)
    found = problem_keys(caught.value)
    assert set(found) == {
        (0, "monthly.problem.unknown_setting"),  # colour, hours
        (0, "monthly.problem.bad_code"),
        (0, "monthly.problem.no_title"),
        (0, "monthly.problem.period"),
        (0, "monthly.problem.schedule_range"),
        (0, "monthly.problem.schedule_order"),
        (1, "monthly.problem.unknown_setting"),  # minumum
        (1, "monthly.problem.min_above_max"),
        (1, "monthly.problem.bad_decimals"),
        (2, "monthly.problem.unknown_kind"),
        (2, "monthly.problem.duplicate_label"),
        (2, "monthly.problem.duplicate_key"),
        (3, "monthly.problem.no_choices"),
        (4, "monthly.problem.long_label"),
        (4, "monthly.problem.number_only"),
        (4, "monthly.problem.choices_not_choice"),
        (4, "monthly.problem.bad_length"),
        (5, "monthly.problem.duplicate_choice"),
        (5, "monthly.problem.bad_required"),
        (6, "monthly.problem.bad_bound"),
        (7, "monthly.problem.empty_label"),
        (7, "monthly.problem.bad_key"),
    }
    assert caught.value.params == {"count": len(found)}


def test_toml_that_does_not_parse_or_has_no_fields():
    with pytest.raises(FormDefinitionError) as caught:
        parse_form_toml("code = ")
    assert problem_keys(caught.value) == [(0, "monthly.problem.toml")]
    with pytest.raises(FormDefinitionError) as caught:
        parse_form_toml('code = "a"\ntitle = "月报"\n')
    assert problem_keys(caught.value) == [(0, "monthly.problem.no_fields")]
    many = "".join(f'[[fields]]\nlabel = "字段{n}"\nkind = "text"\n' for n in range(31))
    with pytest.raises(FormDefinitionError) as caught:
        parse_form_toml('code = "a"\ntitle = "月报"\n' + many)
    assert problem_keys(caught.value) == [(0, "monthly.problem.too_many_fields")]


HEADER = ["字段名称", "类型", "单位", "最小值", "最大值", "选项", "必填", "说明"]
GOOD_ROWS = [
    ["表名：大数据中心建设月报", "", ""],
    [],
    HEADER,
    ["本月完成投资额", "数字", "万元", "0", "", "", "是", "本月实际完成"],
    ["形象进度", "选项", "", "", "", "土建施工、机电安装/设备调试,已投运", "是", ""],
    ["开工日期", "日期", "", "", "", "", "", ""],
    ["存在问题", "文本", "", "", "", "", "否", ""],
    ["现场照片", "附件", "", "", "", "", "否", ""],
    ["注：带*为必填", "", ""],
]


def test_a_table_definition_parses():
    form = parse_form_rows(GOOD_ROWS, code="dc")
    assert form.title == "大数据中心建设月报"
    assert [f.key for f in form.fields] == ["f1", "f2", "f3", "f4", "f5"]
    assert [f.kind for f in form.fields] == [
        FieldKind.NUMBER,
        FieldKind.CHOICE,
        FieldKind.DATE,
        FieldKind.TEXT,
        FieldKind.FILE,
    ]
    assert form.fields[0].minimum == Decimal(0) and form.fields[0].hint == "本月实际完成"
    assert form.fields[1].choices == ("土建施工", "机电安装", "设备调试", "已投运")
    assert [f.required for f in form.fields] == [True, True, True, False, False]


def test_a_table_title_from_a_merged_cell_or_the_argument_and_keys_from_a_column():
    rows = [["大数据中心建设月报"], ["代码", *HEADER], ["invest", "产值", "数值", "万元"]]
    form = parse_form_rows(rows, code="dc", title="文件名")
    assert form.title == "大数据中心建设月报" and form.fields[0].key == "invest"
    form = parse_form_rows([HEADER, ["产值", "数字"]], code="dc", title="建设月报")
    assert form.title == "建设月报"


def test_a_table_definition_names_every_problem_by_row():
    rows = [
        HEADER,
        ["产值", "金额", "", "", "", "", "", ""],
        ["产值", "数字", "", "10", "1", "", "", ""],
        ["进度", "选项", "", "", "", "", "", ""],
        ["说明", "文本", "", "", "", "甲/乙", "也许", ""],
        ["长" * 31, "日期", "", "", "", "", "", ""],
    ]
    with pytest.raises(FormDefinitionError) as caught:
        parse_form_rows(rows, code="dc")
    assert caught.value.at_key == AT_ROW_KEY
    assert set(problem_keys(caught.value)) == {
        (0, "monthly.problem.no_title"),
        (2, "monthly.problem.unknown_kind"),
        (3, "monthly.problem.min_above_max"),
        (3, "monthly.problem.duplicate_label"),
        (4, "monthly.problem.no_choices"),
        (5, "monthly.problem.choices_not_choice"),
        (5, "monthly.problem.bad_required"),
        (6, "monthly.problem.long_label"),
    }


def test_a_table_without_header_or_rows():
    with pytest.raises(FormDefinitionError) as caught:
        parse_form_rows([["", ""]], code="dc", title="月报")
    assert problem_keys(caught.value) == [(1, "monthly.problem.empty_file")]
    with pytest.raises(FormDefinitionError) as caught:
        parse_form_rows([["名称", "说明"], ["产值", "万元"]], code="dc", title="月报")
    assert problem_keys(caught.value) == [(1, "monthly.problem.no_header")]
    with pytest.raises(FormDefinitionError) as caught:
        parse_form_rows([HEADER], code="dc", title="月报")
    assert problem_keys(caught.value) == [(1, "monthly.problem.no_fields")]


# Periods and the ladder -------------------------------------------------------------------


def test_periods():
    assert Period.previous(date(2026, 10, 8)) == Period(2026, 9)
    assert Period.previous(date(2026, 1, 4)) == Period(2025, 12)
    assert Period(2025, 12).next() == Period(2026, 1)
    assert Period(2026, 1) > Period(2025, 12) > Period(2025, 11)
    assert Period.parse("2026-09") == Period(2026, 9) and Period(2026, 9).label == "2026-09"
    assert Period(2026, 2).last_day == date(2026, 2, 28)
    with pytest.raises(ValueError):
        Period(2026, 13)


@pytest.mark.parametrize(
    ("period", "asked", "reminded", "due"),
    [
        # National Day: 1–7 October off, Saturday 10 October worked (调休)
        (Period(2026, 9), date(2026, 10, 8), date(2026, 10, 10), date(2026, 10, 13)),
        # New Year: 1–3 January off, Sunday 4 January worked
        (Period(2025, 12), date(2026, 1, 4), date(2026, 1, 6), date(2026, 1, 8)),
        # Labour Day: 1–5 May off, Saturday 9 May worked
        (Period(2026, 4), date(2026, 5, 6), date(2026, 5, 8), date(2026, 5, 11)),
        (Period(2026, 1), date(2026, 2, 2), date(2026, 2, 4), date(2026, 2, 6)),
    ],
)
def test_ask_remind_and_due_days(period, asked, reminded, due):
    schedule = ReportSchedule()
    assert ask_day(period, CAL) == asked
    assert remind_day(period, CAL, schedule) == reminded
    assert due_day(period, CAL, schedule) == due


DEFAULT = ReportSchedule()


def kinds(period: Period, day: date, schedule: ReportSchedule = DEFAULT) -> tuple:
    step = ladder_step(period, day, CAL, schedule, reported=False)
    return step.notices if step else ()


def test_the_ladder_across_national_day():
    september = Period(2026, 9)
    got = {date(2026, 9, 30) + timedelta(days=n): None for n in range(21)}
    for day in got:
        got[day] = kinds(september, day)
    notices = {day: k for day, k in got.items() if k}
    assert notices == {
        date(2026, 10, 8): (MonthlyNotice.ASK,),
        date(2026, 10, 10): (MonthlyNotice.REMIND,),  # the 调休 Saturday
        date(2026, 10, 13): (MonthlyNotice.DUE_TODAY,),
        date(2026, 10, 14): (MonthlyNotice.OVERDUE, MonthlyNotice.BAOBAO),
        date(2026, 10, 15): (MonthlyNotice.OVERDUE,),
        date(2026, 10, 16): (MonthlyNotice.OVERDUE, MonthlyNotice.LEADERS),
        date(2026, 10, 19): (MonthlyNotice.OVERDUE,),  # not the weekend before
        date(2026, 10, 20): (MonthlyNotice.OVERDUE,),
    }
    step = ladder_step(september, date(2026, 10, 16), CAL, ReportSchedule(), reported=False)
    assert step.kind is MonthlyNotice.LEADERS and step.overdue_days == 3
    assert step.due == date(2026, 10, 13)
    assert ladder_step(september, date(2026, 10, 16), CAL, ReportSchedule(), reported=True) is None


def test_the_ladder_asks_on_the_new_year_sunday_worked():
    december = Period(2025, 12)
    assert kinds(december, date(2026, 1, 2)) == ()  # a holiday
    assert kinds(december, date(2026, 1, 4)) == (MonthlyNotice.ASK,)  # Sunday, worked


def test_a_schedule_due_on_the_first_working_day_and_escalating_at_once():
    schedule = ReportSchedule(due_working_day=1, remind_before=2, baobao_after=1, leaders_after=1)
    september = Period(2026, 9)
    assert kinds(september, date(2026, 10, 8), schedule) == (MonthlyNotice.ASK,)
    assert kinds(september, date(2026, 10, 9), schedule) == (
        MonthlyNotice.OVERDUE,
        MonthlyNotice.BAOBAO,
        MonthlyNotice.LEADERS,
    )
    assert remind_day(september, CAL, schedule) is None


def test_a_sweep_catches_up_the_days_it_missed():
    september = Period(2026, 9)
    steps = ladder_steps(
        september, date(2026, 10, 13), date(2026, 10, 16), CAL, ReportSchedule(), False
    )
    # the contacts hear once (the latest day), the 包保 and the leaders each once
    assert [(s.day, s.notices) for s in steps] == [
        (date(2026, 10, 14), (MonthlyNotice.BAOBAO,)),
        (date(2026, 10, 16), (MonthlyNotice.OVERDUE, MonthlyNotice.LEADERS)),
    ]
    steps = ladder_steps(
        september,
        date(2026, 10, 13),
        date(2026, 10, 16),
        CAL,
        ReportSchedule(),
        False,
        sent={MonthlyNotice.BAOBAO, MonthlyNotice.LEADERS},
    )
    assert [(s.day, s.notices) for s in steps] == [(date(2026, 10, 16), (MonthlyNotice.OVERDUE,))]


def test_late_and_corrections():
    due = date(2026, 10, 13)
    assert not is_late(due, due) and is_late(date(2026, 10, 14), due)
    assert may_correct(due, due) and not may_correct(date(2026, 10, 14), due)


periods = st.builds(Period, st.integers(2024, 2026), st.integers(1, 12)).filter(
    lambda p: p < Period(2026, 12)  # the month after is in a year the calendar knows
)
schedules = st.builds(
    ReportSchedule,
    st.integers(1, 20),
    st.integers(0, 10),
    st.integers(1, 20),
    st.integers(1, 30),
)


@settings(max_examples=300, deadline=None)
@given(periods, schedules, st.integers(0, 60))
def test_the_ladder_keeps_to_working_days(period, schedule, offset):
    asked, due = ask_day(period, CAL), due_day(period, CAL, schedule)
    assert CAL.is_working_day(asked) and CAL.is_working_day(due)
    assert period.last_day < asked <= due
    assert asked.month == period.next().month
    day = asked + timedelta(days=offset)
    step = ladder_step(period, day, CAL, schedule, reported=False)
    if not CAL.is_working_day(day):
        assert step is None
    if step is not None:
        assert step.notices and step.notices[0] in (
            MonthlyNotice.ASK,
            MonthlyNotice.REMIND,
            MonthlyNotice.DUE_TODAY,
            MonthlyNotice.OVERDUE,
        )
        assert (step.overdue_days > 0) == (day > due)
    if day > due and CAL.is_working_day(day):
        assert step is not None and MonthlyNotice.OVERDUE in step.notices
    assert ladder_step(period, day, CAL, schedule, reported=True) is None


@pytest.mark.parametrize(
    ("typed", "period"),
    [("2026-09", (2026, 9)), ("2026/9", (2026, 9)), ("2026年9月", (2026, 9)),
     ("２０２６年１０月", (2026, 10)), (" 2026.12 ", (2026, 12))],
)  # fmt: skip
def test_a_month_as_people_type_it(typed, period):
    assert Period.typed(typed) == Period(*period)


@pytest.mark.parametrize("typed", ["2026-13", "9月", "明年", "2026-09-01", ""])
def test_what_is_not_a_month(typed):
    with pytest.raises(ValueError):
        Period.typed(typed)
