"""The ledgers on paper and the digest's totals: every sheet the bot writes prints on A4 with its type at 8 pt or more
(the type's size times the scale its page setup gives), the header row and the title on every
page and the pages numbered; the appeal ledger's paper sheet holds what a clerk files, its
screen sheet the whole history, each appeal's end in its own column (办结 or 撤回), and the
officials' internal 备注 apart from what the enterprise saw; and where the digest's totals
differ (by category with the withdrawn appeals, by department without), it says so."""

from __future__ import annotations

import ast
import io
import math
from datetime import UTC, date, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from bot import ledger_sheet, sheets
from bot.chart import count_titles
from bot.config import BUNDLED_ORG_CONFIG
from bot.digest_text import leaders_text
from bot.rules.digest import LeaderDigest, ReceivedGroup, Week, figures_from_counts
from bot.rules.ledger import LedgerEntry, LedgerMessage
from bot.rules.model import OPEN_STATES, Appeal, State
from bot.texts import name, t
from bot.usecases.appeals import ALL_MESSAGE_KINDS, PUBLIC_MESSAGE_KINDS
from tests.conftest import SHANGHAI, file_appeal

A4_LANDSCAPE_WIDTH = 841.89  # points
SMALLEST_PRINTED = 8  # points
# A column's printed width at 100 % per unit of the width stored in the file: LibreOffice
# without Calibri's metrics gives 7 points (Excel 5.25, narrower): the wider is assumed.
POINTS_PER_UNIT = 7
EXCEL_DEFAULT_WIDTH = 8.43 + 0.71
TASKS = BUNDLED_ORG_CONFIG.parent / "rectification_tasks.csv"


def column_widths(sheet) -> list[float]:
    widths: dict[int, float] = {}
    for dimension in sheet.column_dimensions.values():
        for index in range(dimension.min, dimension.max + 1):
            widths[index] = dimension.width
    return [widths.get(i, EXCEL_DEFAULT_WIDTH) for i in range(1, sheet.max_column + 1)]


def printed_points(sheet) -> float:
    """The smallest type of the sheet as it prints: font size × the scale of the page setup
    (fitted to the page width, or a set scale over pages side by side, each of which must
    then hold its columns)."""
    setup, margins = sheet.page_setup, sheet.page_margins
    assert (setup.orientation, int(setup.paperSize)) == ("landscape", 9), sheet.title
    room = A4_LANDSCAPE_WIDTH - 72 * (margins.left + margins.right)
    widths = [POINTS_PER_UNIT * w for w in column_widths(sheet)]
    properties = sheet.sheet_properties.pageSetUpPr
    if properties is not None and properties.fitToPage:
        assert setup.fitToWidth in (None, 1) and setup.fitToHeight == 0, sheet.title
        scale = min(1.0, room / sum(widths))
    else:
        scale = (setup.scale or 100) / 100
        assert sheet.print_title_cols == "$A:$A", sheet.title  # each page names the item
        starts = [0] + [b.id for b in sheet.col_breaks.brk] + [len(widths)]
        for start, end in zip(starts, starts[1:], strict=False):
            page = sum(widths[start:end]) + (widths[0] if start else 0)
            assert page * scale <= room, (sheet.title, start, end, page * scale, room)
    smallest = min(cell.font.sz for row in sheet.iter_rows() for cell in row)
    return smallest * scale


def check_printable(content: bytes) -> dict[str, float]:
    """Every sheet of a workbook prints readably, with its header row and title on every page
    and numbered pages; returns each sheet's printed type size."""
    book = load_workbook(io.BytesIO(content))
    sizes = {}
    for sheet in book.worksheets:
        sizes[sheet.title] = printed_points(sheet)
        assert sheet.print_title_rows == "$1:$1", sheet.title
        assert sheet.title in sheet.oddHeader.center.text
        assert sheet.oddFooter.center.text == t("sheet.footer", title=sheet.title)
    assert all(size >= SMALLEST_PRINTED for size in sizes.values()), sizes
    return sizes


async def test_every_sheet_the_bot_sends_prints_at_8_points_or_more(sandbox, people, clock):
    """/export, /tasks → 导出台账 and the digest's ledger, in every state an appeal can end
    in: each sheet's type prints at 8 pt or more, the paper sheet on one page wide."""
    p = people
    numbers = [
        await file_appeal(p.company, text=f"第{i}件：" + "申请流动资金贷款贴息。" * 6)
        for i in range(4)
    ]
    for number in numbers[:3]:
        await p.official.press("签收", containing=number)
    await p.official.press("备注", containing=numbers[0])
    await p.official.send("已电话联系企业财务负责人，内部跟进。")
    await p.official.press("办结", containing=numbers[0])
    await p.official.send("已完成银企对接，担保公司同意提供800万元担保。" * 3)
    await p.company.press("满意")
    await p.company.send(f"/view {numbers[1]}")
    await p.company.press("撤回")
    await p.company.send("已自行解决")
    await p.leader.send("/tasks import")
    await p.leader.send_document(TASKS.name, content=TASKS.read_bytes())

    await p.leader.send("/export 2026-01-01 2026-03-31")
    ledger = sandbox.api.documents[-1][2]
    sizes = check_printable(ledger)
    assert list(sizes) == [t("ledger.sheet"), t("ledger.sheet_full")]  # paper first
    paper = load_workbook(io.BytesIO(ledger))[t("ledger.sheet")]
    assert paper.sheet_properties.pageSetUpPr.fitToPage  # the paper sheet: one page wide
    assert [c.value for c in paper[1]] == [c.header for c in ledger_sheet.print_columns()]
    assert paper.max_row == 1 + 4

    await p.leader.send("/tasks")
    await p.leader.press("导出台账")
    check_printable(sandbox.api.documents[-1][2])

    clock.set(datetime(2026, 3, 16, 10, tzinfo=SHANGHAI))
    await p.leader.send("/digest 2026-W11")
    title, content = sandbox.api.documents[-1][1:]
    assert title == "诉求台账-2026-W11.xlsx"
    check_printable(content)


columns = st.lists(
    st.builds(
        sheets.Column,
        st.just("列"),
        st.floats(min_value=2, max_value=60).map(lambda w: round(w, 1)),
        st.sampled_from([sheets.TEXT, sheets.WRAP, sheets.DATE]),
    ),
    min_size=1,
    max_size=30,
)


@given(columns, st.sampled_from([9, 10, 11, 12]))
def test_any_columns_print_at_8_points_or_more_on_pages_that_hold_them(columns, points):
    """Fitted to one page only while the type stays at 8 pt; else a set scale never under
    8 pt, over pages that each hold their columns (and the first column, repeated)."""
    room = sheets.printable_width()
    if sheets.fits_one_page_wide(columns, points):
        assert points * sheets.fit_scale(columns) >= SMALLEST_PRINTED
        return
    percent, breaks = sheets.print_scale(columns, points)
    assert points * percent / 100 >= SMALLEST_PRINTED and percent <= 100
    starts = [0, *breaks, len(columns)]
    assert starts == sorted(set(starts))
    lowest = math.ceil(100 * SMALLEST_PRINTED / points)
    widths = [sheets.column_points(c.width) for c in columns]
    if not sheets.pages_fit(columns, breaks, percent / 100):
        # only when the first column and some other one do not fit a page even at the
        # smallest readable scale
        assert percent == lowest
        assert any((widths[0] + w) * lowest / 100 > room for w in widths[1:])
        return
    # no readable scale at which every page holds its columns needs fewer pages across,
    # and none as few is larger
    for other in range(lowest, 101):
        other_breaks = sheets.page_breaks(columns, other / 100)
        if sheets.pages_fit(columns, other_breaks, other / 100):
            assert len(other_breaks) >= len(breaks)
            assert len(other_breaks) > len(breaks) or other <= percent


# The ledger's contents ------------------------------------------------------------------------

ENDED = datetime(2026, 3, 12, 15, 45, tzinfo=SHANGHAI)


def appeal(state: State) -> Appeal:
    return Appeal(
        id=1, number="SQ-2026-000001", enterprise_id=1, enterprise_name="鄂州华瑞机械有限公司",
        category="融资", description="申请贷款贴息。", state=state, department_id=1,
        department_code="jrj", department_name="市地方金融管理局", assignee_id=None,
        owner_id=7, owner_name="李明", claim_due_date=date(2026, 3, 11),
        due_date=date(2026, 3, 24), created_at=datetime(2026, 3, 10, 9, tzinfo=SHANGHAI),
        claimed_at=datetime(2026, 3, 10, 10, tzinfo=SHANGHAI),
        closed_at=None if state in OPEN_STATES else ENDED, resolution=None, rating=None,
        rating_due_date=None, reopen_count=0, version=3,
    )  # fmt: skip


def row(entry: LedgerEntry, paper: bool = False) -> dict[str, object]:
    """One appeal's row as the sheet shows it, by header."""
    printed, screen = ledger_sheet.cells(entry, SHANGHAI, {})  # the rows writer() writes
    columns = ledger_sheet.print_columns() if paper else ledger_sheet.columns()
    return dict(zip([c.header for c in columns], printed if paper else screen, strict=True))


END_COLUMNS = {  # the state an appeal ended in → (screen header, paper header) of its end
    State.CLOSED: ("closed", "closed_day"),
    State.RATED: ("closed", "closed_day"),
    State.WITHDRAWN: ("withdrawn", "withdrawn_day"),
}
TIME_COLUMNS = ("closed", "closed_day", "withdrawn", "withdrawn_day")


async def test_a_text_longer_than_a_row_shows_is_cut_on_paper_with_a_note_and_whole_on_screen(
    sandbox, people
):
    """Excel's highest row holds about 26 lines: on paper the rest would vanish unseen."""
    long = ("我司扩建冷链仓库需流动资金约800万元，申请对接政府性融资担保。" * 80)[:1900]
    await file_appeal(people.company, text=long)
    await people.leader.send("/export 2026-03-01 2026-03-31")
    book = load_workbook(io.BytesIO(sandbox.api.documents[-1][2]))
    header = t("ledger.header.description")
    paper, screen = book[t("ledger.sheet")], book[t("ledger.sheet_full")]
    [printed] = [c.value for c in paper[2] if paper.cell(1, c.column).value == header]
    [whole] = [c.value for c in screen[2] if screen.cell(1, c.column).value == header]
    note = t("ledger.cut_note", sheet=t("ledger.sheet_full"))
    assert whole == long
    assert printed.endswith(note) and long.startswith(printed.removesuffix(note))
    width = {column: w for column, w, _ in ledger_sheet.PRINT_LAYOUT}
    lines = sheets._lines_needed(printed, width["description"], ledger_sheet.PRINT_POINTS)
    row_height = paper.row_dimensions[2].height
    assert row_height <= sheets.MAX_ROW_POINTS
    assert lines * sheets.line_points(ledger_sheet.PRINT_POINTS) + 3 <= row_height
    assert len(printed) > 150  # as much as fits, not a stub


def test_each_state_an_appeal_ends_in_has_its_own_column():
    """Every state is open or has the column of its end: a new end state cannot fall back
    to 办结时间."""
    assert set(State) == set(OPEN_STATES) | set(ledger_sheet.END_COLUMN)
    assert {s: (c, f"{c}_day") for s, c in ledger_sheet.END_COLUMN.items()} == END_COLUMNS


def test_the_moment_an_appeal_ended_is_in_the_column_of_how_it_ended():
    for state in State:
        entry = LedgerEntry(appeal(state), "91350100M000100Y43", [], [], [])
        screen, paper = row(entry), row(entry, paper=True)
        ended = END_COLUMNS.get(state, ())
        for column in TIME_COLUMNS:
            header = t(f"ledger.header.{column}")
            shown = screen.get(header, paper.get(header))
            if column in ended:
                assert shown == (ENDED.date() if column.endswith("_day") else ENDED), column
            else:
                assert shown is None, (state, column, shown)
        on_time = screen[t("ledger.header.on_time")]
        assert (on_time == t("ledger.yes")) is (state in (State.CLOSED, State.RATED)), state
        assert screen[t("ledger.header.state")] == name("state", state)


def test_internal_notes_have_their_own_column_and_the_rest_is_what_the_enterprise_saw():
    messages = [
        LedgerMessage(datetime(2026, 3, 10, 2, tzinfo=UTC), kind, f"{kind}的内容", "李明")
        for kind in ALL_MESSAGE_KINDS
    ]
    screen = row(LedgerEntry(appeal(State.IN_PROGRESS), "x", [], messages, []))
    seen, notes = screen[t("ledger.header.messages")], screen[t("ledger.header.notes")]
    for kind in ALL_MESSAGE_KINDS:
        line = f"2026-03-10 10:00 {name('message_kind', kind)} 李明：{kind}的内容"
        public = kind in PUBLIC_MESSAGE_KINDS
        assert (line in seen, line in notes) == (public, not public), kind
    assert "note" not in PUBLIC_MESSAGE_KINDS
    assert "企业不可见" in t("ledger.header.notes") and "企业可见" in t("ledger.header.messages")


async def test_a_withdrawn_appeal_in_the_exported_ledger(sandbox, people):
    """From the chat: a withdrawal's time is its 撤回时间, never 办结时间; a 备注 is not
    among the words exchanged with the enterprise."""
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await p.official.press("备注", containing=number)
    await p.official.send("企业资金链紧张，内部先摸底。")
    await p.official.press("回复", containing=number)
    await p.official.send("请提供近三年财务报表。")
    await p.company.send(f"/view {number}")
    await p.company.press("撤回")
    await p.company.send("已通过其他渠道解决")
    await p.leader.send("/export 2026-03-01 2026-03-31")
    book = load_workbook(io.BytesIO(sandbox.api.documents[-1][2]))
    full = book[t("ledger.sheet_full")]
    screen = dict(zip([c.value for c in full[1]], [c.value for c in full[2]], strict=True))
    assert screen[t("ledger.header.state")] == name("state", "withdrawn")
    assert screen[t("ledger.header.withdrawn")] == datetime(2026, 3, 10, 10, 0)
    assert screen[t("ledger.header.closed")] is None
    assert "请提供近三年财务报表。" in screen[t("ledger.header.messages")]
    assert "内部先摸底" not in screen[t("ledger.header.messages")]
    assert "内部先摸底" in screen[t("ledger.header.notes")]
    paper = book[t("ledger.sheet")]
    printed = dict(zip([c.value for c in paper[1]], [c.value for c in paper[2]], strict=True))
    assert printed[t("ledger.header.withdrawn_day")] == datetime(2026, 3, 10)
    assert printed[t("ledger.header.closed_day")] is None
    assert t("ledger.header.history") not in printed  # the history stays on the screen
    assert paper.oddHeader.center.text == "诉求台账（2026-03-01 至 2026-03-10）"  # as of today


# Totals that differ: by category with the withdrawn, by department without -------------------

groups = st.lists(
    st.builds(
        ReceivedGroup,
        department=st.sampled_from(["市人社局", "市地方金融管理局", "中小企业科"]),
        category=st.sampled_from(["用工(引才)", "融资", "综合服务"]),
        withdrawn=st.booleans(),
        received=st.integers(min_value=1, max_value=40),
        claimed_on_time=st.just(0),
        resolved=st.just(0),
        closed_on_time=st.just(0),
        rated=st.just(0),
        satisfied=st.just(0),
        unrated=st.just(0),
    ),
    max_size=12,
)


def year_digest(groups: list[ReceivedGroup]) -> LeaderDigest:
    week = Week(2026, 11)
    order = ["用工(引才)", "融资", "综合服务"]
    year = figures_from_counts(date(2026, 1, 1), week.end, groups, (0, 0), order)
    last = figures_from_counts(week.start, week.end, [], (0, 0), order)
    return LeaderDigest(week, last, year, [], [], 0.85, {}, [], [])


@given(groups)
def test_where_the_totals_differ_the_digest_and_the_chart_say_what_each_counts(groups):
    digest = year_digest(groups)
    text = leaders_text(digest)
    withdrawn = sum(g.received for g in groups if g.withdrawn)
    counted = sum(g.received for g in groups if not g.withdrawn)
    by_category = sum(count for _, count in digest.year.by_category)
    assert digest.year.new == by_category == counted + withdrawn
    assert sum(d.received for d in digest.year.departments) == counted
    note = t(
        "digest.departments_withdrawn", counted=counted, withdrawn=withdrawn, total=by_category
    )
    by_category_title, by_department_title = count_titles(digest.year)
    if withdrawn:
        assert note in text.split("\n")
        # the note sits with the departments it explains (section 三), before section 四
        assert text.index(t("digest.section_departments")) < text.index(note)
        assert text.index(note) < text.index("四、")
        assert (by_category_title, by_department_title) == (
            f"按类别（{by_category} 件，含撤回 {withdrawn} 件）",
            f"按承办单位（{counted} 件，不含撤回）",
        )
    else:
        assert "不含已撤回" not in text
        assert (by_category_title, by_department_title) == ("按类别", "按承办单位")


async def test_the_digest_of_a_year_with_a_withdrawn_appeal_says_so_from_the_chat(
    sandbox, people, clock
):
    """As in the demo: 4 appeals by category, 2 + 1 by department, 1 withdrawn."""
    p = people
    numbers = [
        await file_appeal(p.company, text=f"第{i}件融资诉求，请协助对接银行。") for i in range(3)
    ]
    await file_appeal(p.company, category="综合服务", text="春节后急需招聘操作工30名。")
    await p.company.send(f"/view {numbers[2]}")
    await p.company.press("撤回")
    await p.company.send("已自行解决")
    clock.set(datetime(2026, 3, 16, 10, tzinfo=SHANGHAI))
    mark = p.leader.mark()
    await p.leader.send("/digest 2026-W11")
    text = "\n".join(p.leader.since(mark))
    assert "按类别：用工(引才)类0件，融资类3件，综合服务类1件" in text
    assert "1. 市地方金融管理局：受理 2 件" in text or "2. 市地方金融管理局：受理 2 件" in text
    assert "中小企业科：受理 1 件" in text
    assert "注：各单位受理合计 3 件，不含已撤回的 1 件；年度新增 4 件及按类别件数含撤回。" in text


def test_the_sheet_writers_depend_on_rules_not_use_cases():
    """The workbooks are written from what use cases load: they import the rules and the
    catalog, never a use case (the arrow points down)."""
    for module in (ledger_sheet, sheets):
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        imported = {
            node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        } | {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
        assert not [m for m in imported if m.startswith("bot.usecases")], module.__name__
