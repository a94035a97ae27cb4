"""Imports take the tables clerks really have: a bureau's ledger with its title merged across
the columns above the header, subtitles, notes and empty rows; header cells with spaces or
line breaks; deadlines as Excel writes them (date-times, custom and locale date formats).
Every problem is named by the spreadsheet's own row number. The XLSX files are built here
with openpyxl (no binary fixtures)."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime, time

import pytest
from openpyxl import Workbook
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from bot.rules.refusals import TaskImportError
from bot.rules.tasks import validate_table
from bot.task_files import HEADERS, UnreadableFile, read_table
from bot.texts import t
from handlers.tasks import column_headers, states_by_label

TODAY = date(2026, 3, 10)
TITLE = "市经信局作风问题整改台账"
DEADLINE = date(2026, 3, 31)


def task_row(seq: int, deadline: object = "2026-03-31") -> list[object]:
    return [
        seq,
        "落实全面从严治党和作风建设要求",
        f"问题{seq}：涉企诉求回复内容雷同",
        "建立回复质量抽查机制，每月通报",
        "王局长",
        "市地方金融管理局",
        "李明",
        deadline,
        "整改中",
    ]


def xlsx(
    rows: list[list[object]],
    merges: tuple[str, ...] = (),
    formats: dict[str, str] | None = None,
    epoch: datetime | None = None,
) -> bytes:
    """A workbook whose first sheet holds `rows` from A1 (None: an empty cell)."""
    book = Workbook()
    if epoch is not None:
        book.epoch = epoch
    sheet = book.active
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is not None:
                sheet.cell(r, c, value)
    for cells in merges:
        sheet.merge_cells(cells)
    for ref, number_format in (formats or {}).items():
        sheet[ref].number_format = number_format
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def rewrite(data: bytes, member: str, change) -> bytes:
    """The same XLSX with one part's XML changed (what other writers produce)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == member:
                content = change(content.decode("utf-8")).encode("utf-8")
            target.writestr(item, content)
    return out.getvalue()


def csv(rows: list[list[object]]) -> bytes:
    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        return f'"{text}"' if any(ch in text for ch in ',"\n') else text

    return "\n".join(",".join(cell(v) for v in row) for row in rows).encode("utf-8-sig")


def check(data: bytes, name: str) -> list:
    rows = read_table(data, name)
    return validate_table(rows, set(), column_headers(), states_by_label(), TODAY)


def problems(data: bytes, name: str) -> list[str]:
    with pytest.raises(TaskImportError) as err:
        check(data, name)
    return [t("task_import_line", row=r, problem=t(k, **p)) for r, k, p in err.value.problems]


# Rows above the header, as ledgers have them; the header's row number follows.
LAYOUTS = {
    "header first": [],
    "merged title": [[TITLE]],
    "title and subtitle": [[TITLE], ["（2026年第一季度）"]],
    "title and an empty row": [[TITLE], []],
    "title, subtitle, empty row, note": [
        [TITLE],
        ["填报单位：市经信局"],
        [],
        ["注：整改时限以局党组批复为准", None, None, None, "", "", "", "", "填报日期：2026-03-01"],
    ],
}


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
@pytest.mark.parametrize("layout", LAYOUTS, ids=list(LAYOUTS))
def test_the_header_is_found_under_the_title_rows(layout, kind):
    above = LAYOUTS[layout]
    header_row = len(above) + 1
    rows = [*above, HEADERS, task_row(1), task_row(2)]
    merges = ("A1:I1",) if above else ()
    data = xlsx(rows, merges) if kind == "xlsx" else csv(rows)
    tasks = check(data, f"ledger.{kind}")
    assert [(task.row, task.seq, task.deadline) for task in tasks] == [
        (header_row + 1, 1, DEADLINE),
        (header_row + 2, 2, DEADLINE),
    ]
    # a problem names the spreadsheet's own row number
    bad = [*above, HEADERS, task_row(1), task_row(2, deadline="尽快")]
    data = xlsx(bad, merges) if kind == "xlsx" else csv(bad)
    assert problems(data, f"ledger.{kind}") == [
        f"第 {header_row + 2} 行：整改时限“尽快”不是日期（如 2024-09-30）"
    ]


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_header_cells_with_spaces_line_breaks_and_marks_match(kind):
    header = [
        " 序号 ",
        "方\u3000面",  # a full-width space inside
        "*问题",
        "整改\n措施",
        "责任领导\n",
        "责任科室（处室）",
        "责任人(姓名)",
        "整改\n时限：",  # a closing colon, full-width
        "状态\u200b:",
    ]
    rows = [[TITLE], header, task_row(1)]
    data = xlsx(rows, ("A1:I1",)) if kind == "xlsx" else csv(rows)
    [task] = check(data, f"ledger.{kind}")
    assert (task.row, task.owner_name, task.deadline) == (3, "李明", DEADLINE)


def test_a_header_missing_a_column_is_named_on_its_own_row():
    rows = [[TITLE], HEADERS[:-1], task_row(1)[:-1]]
    assert problems(xlsx(rows, ("A1:I1",)), "l.xlsx") == ["第 2 行：缺少列：状态"]


@pytest.mark.parametrize(
    ("rows", "row"),
    [
        ([[TITLE], ["1", "作风建设", "回复雷同"]], 2),  # a table without its header
        ([[TITLE], [], ["a", "b"]], 3),
        ([[TITLE], ["（2026年）"]], 3),  # only titles: the header belongs under them
        ([["名称", "备注"], ["a", "b"]], 1),
    ],
)
def test_no_header_says_which_row_should_hold_it_and_the_columns(rows, row):
    [line] = problems(xlsx(rows, ("A1:I1",) if rows[0] == [TITLE] else ()), "l.xlsx")
    assert line.startswith(f"第 {row} 行：未找到表头：前 {len(rows)} 行中没有一行含这些列名。")
    assert line.endswith("表头应在此行，列名为：" + "、".join(HEADERS))


def test_an_empty_sheet_is_refused_as_empty():
    assert problems(xlsx([]), "l.xlsx") == ["第 1 行：文件为空"]
    assert problems(b"\n\n", "l.csv") == ["第 1 行：文件为空"]


def test_the_header_is_looked_for_in_the_first_ten_rows_only():
    rows = [[TITLE]] + [[f"说明{i}", "…"] for i in range(10)] + [HEADERS, task_row(1)]
    [line] = problems(xlsx(rows), "l.xlsx")
    assert line.startswith("第 2 行：未找到表头：前 10 行中没有一行含这些列名。")


# (cell value, number format or None): every one is 31 March 2026 as Excel shows it.
DATE_CELLS = {
    "date-time at midnight": (datetime(2026, 3, 31), None),
    "date-time with a time": (datetime(2026, 3, 31, 17, 30), "yyyy-mm-dd hh:mm:ss"),
    "date": (date(2026, 3, 31), None),
    "年月日 format": (datetime(2026, 3, 31), 'yyyy"年"m"月"d"日"'),
    "serial in a long date format": (46112, "[$-F800]dddd, mmmm dd, yyyy"),
    "serial in m/d/yy h:mm": (46112.0, "m/d/yy h:mm"),
    "serial and a time in m/d/yy h:mm": (46112.75, "m/d/yy h:mm"),
    "serial in a DBNum format": (46112, '[DBNum1][$-804]yyyy"年"m"月"d"日"'),
    "serial in yyyy/m/d;@": (46112, "yyyy/m/d;@"),
    "text 2026/3/31 0:00": ("2026/3/31 0:00", None),
    "text with seconds": ("2026-03-31 00:00:00", None),
    "text 2026年3月31日": ("2026年3月31日", None),
    "text 2026.3.31": ("2026.3.31", None),
    "text 2026-3-31": ("2026-3-31", None),
}


@pytest.mark.parametrize("case", DATE_CELLS, ids=list(DATE_CELLS))
def test_a_deadline_excel_shows_as_a_date_is_that_date(case):
    value, number_format = DATE_CELLS[case]
    rows = [[TITLE], HEADERS, task_row(1, deadline=value)]
    data = xlsx(rows, ("A1:I1",), {"H3": number_format} if number_format else None)
    [task] = check(data, "l.xlsx")
    assert task.deadline == DEADLINE


def test_a_serial_in_a_locale_date_format_is_a_date():
    """Chinese Excel's built-in 年月日 format (number 31) is not written into the file."""
    data = xlsx([HEADERS, task_row(1, deadline=46112)], formats={"H2": 'yyyy"年"m"月"d"日"'})

    def builtin(styles: str) -> str:
        styles = re.sub(r"<numFmts[^>]*>.*?</numFmts>", "", styles, flags=re.S)
        return styles.replace('numFmtId="164"', 'numFmtId="31"')

    data = rewrite(data, "xl/styles.xml", builtin)
    [task] = check(data, "l.xlsx")
    assert task.deadline == DEADLINE


def test_a_workbook_counting_days_from_1904_gives_the_same_day():
    data = xlsx([HEADERS, task_row(1, deadline=datetime(2026, 3, 31))], epoch=CALENDAR_MAC_1904)
    [task] = check(data, "l.xlsx")
    assert task.deadline == DEADLINE


@pytest.mark.parametrize(
    ("value", "number_format", "shown"),
    [
        (46112, None, "46112"),  # a number Excel shows as a number
        (time(0, 30), "h:mm", "00:30:00"),  # a time of day without a day
        ("2026-02-30", None, "2026-02-30"),
        ("2026/13/1", None, "2026/13/1"),
        ("待定", None, "待定"),
    ],
)
def test_what_excel_does_not_show_as_a_date_is_refused(value, number_format, shown):
    data = xlsx(
        [HEADERS, task_row(1, deadline=value)],
        formats={"H2": number_format} if number_format else None,
    )
    assert problems(data, "l.xlsx") == [f"第 2 行：整改时限“{shown}”不是日期（如 2024-09-30）"]


def test_cells_merged_down_several_rows_belong_to_each_row():
    rows = [[TITLE], HEADERS, task_row(1), task_row(2), task_row(3)]
    for row in rows[3:]:
        row[1] = row[4] = None  # 方面 and 责任领导 merged down from row 3
    data = xlsx(rows, ("A1:I1", "B3:B5", "E3:E5"))
    tasks = check(data, "l.xlsx")
    assert [(task.row, task.aspect, task.leader_name) for task in tasks] == [
        (n, "落实全面从严治党和作风建设要求", "王局长") for n in (3, 4, 5)
    ]


def test_a_note_under_the_table_is_not_a_task():
    rows = [[TITLE], HEADERS, task_row(1), [], ["填报人：张三　审核人：李四"]]
    data = xlsx(rows, ("A1:I1", "A5:I5"))
    assert [task.seq for task in check(data, "l.xlsx")] == [1]


def test_a_sheet_that_declares_a_wrong_size_is_read_whole():
    data = xlsx([[TITLE], HEADERS, task_row(1), task_row(2)], ("A1:I1",))
    data = rewrite(
        data,
        "xl/worksheets/sheet1.xml",
        lambda x: re.sub(r'<dimension ref="[^"]*"/>', '<dimension ref="A1"/>', x),
    )
    assert [task.row for task in check(data, "l.xlsx")] == [3, 4]


def test_the_ledger_sheet_is_found_behind_a_cover_sheet():
    book = Workbook()
    book.active.title = "填表说明"
    book.active.append(["请按下表填写，整改时限写到日。"])
    ledger = book.create_sheet("整改台账")
    for row in ([TITLE], HEADERS, task_row(1, deadline="2026年3月底前")):
        ledger.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    [task] = check(buffer.getvalue(), "l.xlsx")
    assert (task.row, task.deadline) == (3, DEADLINE)


def test_a_header_repeated_on_every_printed_page_is_not_a_task():
    rows = [[TITLE], HEADERS, task_row(1), [], HEADERS, task_row(2)]
    assert [task.row for task in check(csv(rows), "l.csv")] == [3, 6]


def text_table(rows: list[list[object]], delimiter: str, line_end: str) -> str:
    return line_end.join(delimiter.join(str(v) for v in row) for row in rows)


@pytest.mark.parametrize(
    ("encoded", "how"),
    [
        (lambda rows: text_table(rows, "\t", "\r\n").encode("utf-16"), "Excel's Unicode text"),
        (lambda rows: b"\xff\xfe" + text_table(rows, "\t", "\n").encode("utf-16-le"), "UTF-16 LE"),
        (lambda rows: b"\xfe\xff" + text_table(rows, "\t", "\r").encode("utf-16-be"), "UTF-16 BE"),
        (lambda rows: text_table(rows, ",", "\r").encode("utf-8"), "old Mac line ends"),
        (lambda rows: text_table(rows, ",", "\r\n").encode("gb18030"), "GBK with CRLF"),
        (lambda rows: text_table(rows, "\t", "\n").encode("utf-8-sig"), "tabs in UTF-8"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
@pytest.mark.parametrize("name", ["ledger.csv", "ledger.txt"])
def test_a_table_saved_as_text_in_any_of_excels_ways_is_read(encoded, how, name):
    rows = [[TITLE], HEADERS, task_row(1), task_row(2)]
    assert [task.row for task in check(encoded(rows), name)] == [3, 4], how


@pytest.mark.parametrize("name", ["ledger.txt", "ledger.csv", "ledger.tsv"])
def test_excels_unicode_text_with_commas_in_its_cells_is_read_by_its_tabs(name):
    """Amounts such as 1,000万元 in a cell do not make a tab-separated table comma-separated."""
    row = task_row(1)
    row[2] = "、".join(f"{n},000万元" for n in range(1, 14))
    rows = [[TITLE], HEADERS, row]
    data = text_table(rows, "\t", "\r\n").encode("utf-16")
    [task] = check(data, name)
    assert task.row == 3 and "13,000万元" in task.problem


def test_a_csv_that_is_not_text_is_refused_in_one_message():
    with pytest.raises(UnreadableFile) as err:
        read_table(b'"' + b"x" * 200_000, "l.csv")  # one endless field
    assert t(err.value.key) == "不是可读取的 CSV 文件"


async def test_a_bureaus_ledger_is_imported_in_chat(sandbox, people, db):
    rows = [
        [TITLE],
        ["（整改期限：2026年3月底前）"],
        [h.replace("时限", "\n时限") for h in HEADERS],
        task_row(1, deadline=datetime(2026, 3, 31)),
        task_row(2, deadline="2026/4/30 0:00"),
        task_row(3, deadline=46142),
    ]
    data = xlsx(rows, ("A1:I1", "A2:I2"), {"H6": "m/d/yy h:mm"})
    await people.leader.send("/tasks import")
    answer = await people.leader.send_document("整改台账.xlsx", content=data)
    assert answer[0].startswith("已导入 3 项整改任务。")
    deadlines = db.rows("SELECT seq, deadline FROM tasks ORDER BY seq")
    assert deadlines == [
        {"seq": 1, "deadline": "2026-03-31"},
        {"seq": 2, "deadline": "2026-04-30"},
        {"seq": 3, "deadline": "2026-04-30"},
    ]


async def test_a_bad_row_in_chat_is_named_by_its_sheet_row_and_nothing_is_imported(
    sandbox, people, db
):
    rows = [[TITLE], [], HEADERS, task_row(1), task_row(2, deadline="2026-02-30")]
    await people.leader.send("/tasks import")
    answer = await people.leader.send_document("整改台账.xlsx", content=xlsx(rows, ("A1:I1",)))
    assert answer == [
        "导入失败，共 1 处问题，未导入任何任务：\n第 5 行：整改时限“2026-02-30”不是日期（如 2024-09-30）"
    ]
    assert db.count("tasks") == 0


@pytest.mark.parametrize(
    ("deadline", "problem"),
    [
        (
            "2026年3月31日星期五",
            "整改时限“2026年3月31日星期五”有误：2026-03-31 是星期二，不是星期五",
        ),
        ("2026-03-31（周一）", "整改时限“2026-03-31（周一）”有误：2026-03-31 是星期二，不是星期一"),
        ("2026年3月31日星期二", None),  # its own weekday: that day
    ],
)
def test_a_deadline_with_another_days_weekday_is_named_so(deadline, problem):
    rows = [HEADERS, task_row(1, deadline=deadline)]
    if problem is None:
        [task] = check(csv(rows), "l.csv")
        assert task.deadline == DEADLINE
    else:
        assert problems(csv(rows), "l.csv") == [t("task_import_line", row=2, problem=problem)]


@pytest.mark.parametrize("deadline", ["1899-12-31", "3000-01-01", "30000101", "0001-01-01"])
def test_a_deadline_in_a_year_no_ledger_has_is_named_so(deadline):
    rows = [HEADERS, task_row(1, deadline=deadline)]
    assert problems(csv(rows), "l.csv") == [
        t("task_import_line", row=2, problem=t("import_date_years", value=deadline))
    ]
