"""Leaders browse the whole task ledger in chat (by state, a page at a time), and the
exported ledger puts every event of a task in its own column, with its author and time."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from bot.cli import main
from bot.rules.model import Event, Task, TaskAction, TaskReport, TaskState
from bot.rules.task_ledger import (
    EVENT_COLUMNS,
    PAGE_SIZE,
    Cursor,
    Order,
    TaskFilter,
    Turn,
    event_kind,
    history,
    matches,
    page_of,
)
from handlers.buttons import LEDGER, decode, encode
from tests.conftest import SHANGHAI, database_env, url_of
from tests.test_tasks import EXAMPLE, csv_bytes, import_file, task_row

# Paging, pure ---------------------------------------------------------------------------


def a_task(seq: int, state: TaskState, owner_id: int | None = 7) -> Task:
    return Task(
        seq, seq, "方面", f"问题{seq}", "措施", "王局长", "财务科", "刘洋", owner_id,
        date(2026, 6, 1 + seq % 7), state, 1, datetime(2026, 3, 1, tzinfo=UTC),
    )  # fmt: skip


ledgers = st.lists(
    st.tuples(st.integers(1, 300), st.sampled_from(list(TaskState)), st.sampled_from([None, 7])),
    max_size=60,
    unique_by=lambda item: item[0],
).map(lambda rows: [a_task(seq, state, owner) for seq, state, owner in rows])


@settings(max_examples=300, deadline=None)
@given(ledgers, st.sampled_from(list(TaskFilter)), st.integers(1, 12), st.sampled_from(Order))
def test_next_pages_show_every_item_of_a_state_once_in_order(tasks, kind, size, order):
    """From the first page, 下一页 after 下一页 walks through every item of the state once,
    in order (序号, or the deadline then 序号), each page numbered n/N; 上一页 from each
    page gives the page before."""
    key = (lambda t: (t.seq,)) if order is Order.SEQ else (lambda t: (t.deadline, t.seq))
    chosen = [t.seq for t in sorted((t for t in tasks if matches(t, kind)), key=key)]
    page = page_of(tasks, kind, None, size, order)
    seen, pages = [], []
    while True:
        assert len(page.tasks) <= size and page.total == len(chosen)
        assert page.pages == max(1, -(-len(chosen) // size))
        seen += [t.seq for t in page.tasks]
        pages.append(page)
        if not page.has_next:
            break
        page = page_of(tasks, kind, Cursor(Turn.NEXT, page.tasks[-1].seq), size, order)
    assert seen == chosen
    assert [p.number for p in pages] == list(range(1, len(pages) + 1))
    assert len(pages) == pages[0].pages
    for before, after in zip(pages, pages[1:], strict=False):
        back = page_of(tasks, kind, Cursor(Turn.PREVIOUS, after.tasks[0].seq), size, order)
        assert back.tasks == before.tasks and not back.moved


@settings(max_examples=300, deadline=None)
@given(ledgers, st.sampled_from(list(TaskFilter)), st.data())
def test_an_old_paging_button_means_the_same_after_changes(tasks, kind, data):
    """Items change state between two presses: 下一页 still shows the items after the 序号
    the button was under (none repeated, none of those skipped); a page emptied since
    shows the last page, said so; the counts are today's."""
    cursor_seq = data.draw(st.integers(0, 310))
    changed = [
        replace(t, state=data.draw(st.sampled_from(list(TaskState))))
        if data.draw(st.booleans())
        else t
        for t in tasks
    ]
    after = sorted(t.seq for t in changed if matches(t, kind) and t.seq > cursor_seq)
    page = page_of(changed, kind, Cursor(Turn.NEXT, max(cursor_seq, 1)), PAGE_SIZE)
    for name in TaskFilter:
        assert page.counts[name] == sum(1 for t in changed if matches(t, name))
    if cursor_seq >= 1 and after:
        assert [t.seq for t in page.tasks] == after[:PAGE_SIZE] and not page.moved
    elif cursor_seq >= 1 and page.total:
        assert page.moved and page.tasks and not page.has_next  # the last page
    before = sorted(t.seq for t in changed if matches(t, kind) and t.seq < max(cursor_seq, 1))
    back = page_of(changed, kind, Cursor(Turn.PREVIOUS, max(cursor_seq, 1)), PAGE_SIZE)
    if len(before) >= PAGE_SIZE:
        assert [t.seq for t in back.tasks] == before[-PAGE_SIZE:]
    else:  # near the top: the first page, whole
        assert back.before == 0


def test_every_paging_button_fits_telegram():
    """Each kind of ledger button, with the largest 序号, encodes within 64 bytes and
    decodes to itself; anything else under the kind is refused."""
    biggest = 2**53 - 1
    for kind in TaskFilter:
        for data in (
            encode(LEDGER, kind),
            *(encode(LEDGER, kind, turn, biggest) for turn in Turn),
        ):
            assert len(data.encode()) <= 64
            assert decode(data).data == data
    for bad in ("tasks:all:n", "tasks:all:x:3", "tasks:nope", "tasks:all:n:0", "tasks:export:n:3"):
        with pytest.raises(ValueError):
            decode(bad)


# Browsing in chat -----------------------------------------------------------------------


def _buttons(message) -> list[str]:
    return [label for label, _ in message.buttons]


async def test_a_leader_reaches_every_item_of_the_bureaus_ledger(sandbox, people, db):
    """The bureau's 29 problems, 24 without a joined 责任人: every item is listed and opened
    from the pages, by state, numbered; items 26–29 are reached."""
    leader = people.leader
    await import_file(leader, "t.csv", EXAMPLE.read_bytes())
    [first] = await leader.send("/tasks")
    assert "待指定责任人：24 项。" in first
    assert (
        "【全部】第 1/3 页（共 29 项）：\n第1项｜已完成，同意销号｜时限 2024-09-30｜刘洋（待指定）"
        in first
    )
    assert _buttons(leader.inbox[-1])[:10] == [f"第{n}项 查看" for n in range(1, 11)]
    assert _buttons(leader.inbox[-1])[10:] == [
        "下一页",
        "✓全部（29）",
        "已完成，同意销号（22）",
        "视同完成，持续整改（7）",
        "待指定责任人（24）",
        "导出台账",
    ]
    seen = []
    for page in (1, 2, 3):
        text = leader.last
        assert f"第 {page}/3 页" in text
        seen += [b for b in _buttons(leader.inbox[-1]) if b.endswith("查看")]
        if page < 3:
            await leader.press("下一页")
    assert seen == [f"第{n}项 查看" for n in range(1, 30)]
    assert "上一页" in _buttons(leader.inbox[-1]) and "下一页" not in _buttons(leader.inbox[-1])
    [card] = await leader.press("第26项 查看")
    assert card.startswith("第26项整改任务（落实全面从严治党和作风建设要求）")
    assert _buttons(leader.inbox[-1]) == ["指定责任人"]  # done: only the 责任人 is left

    [unmapped] = await leader.press("待指定责任人（24）")
    assert "【待指定责任人】第 1/3 页（共 24 项）：" in unmapped
    assert "第9项 查看" not in _buttons(leader.inbox[-1])  # 赵敏 has joined: mapped
    await leader.press("下一页")
    [last] = await leader.press("下一页")
    assert "第 3/3 页" in last
    assert [b for b in _buttons(leader.inbox[-1]) if b.endswith("查看")] == [
        "第26项 查看",
        "第27项 查看",
        "第28项 查看",
        "第29项 查看",
    ]
    [back] = await leader.press("上一页")
    assert "【待指定责任人】第 2/3 页" in back
    # /tasks 序号 opens any item directly, also written 第27项 or in full-width digits
    for typed in ("/tasks 27", "/tasks 第27项", "/tasks ２７"):
        [card] = await leader.send(typed)
        assert card.startswith("第27项整改任务"), typed
    assert await leader.send("/tasks 99") == ["未找到该整改任务，或您无权查看。"]
    assert await leader.send("/tasks 999999999999999999999") == [
        "用法：/tasks 查看整改任务台账；/tasks 序号（如 /tasks 26）打开该项；局领导另可 /tasks"
        " import 导入、/tasks export 导出。"
    ]


async def test_a_leader_acts_from_a_state_page_and_stale_pages_still_work(sandbox, people, db):
    """Twelve 销号 requests among 13 tasks: the leader opens them from the 申请销号 page and approves; an
    old 下一页 shows what is after its item now, never an item twice; an emptied page
    says so and shows the last page; a state with nothing left says so."""
    rows = [task_row(seq, deadline="2026-06-30") for seq in range(1, 14)]
    await import_file(people.leader, "t.csv", csv_bytes(rows))
    for seq in range(1, 13):
        await people.official.send(f"/tasks {seq}")
        await people.official.press("申请销号")
        await people.official.send(f"第{seq}项已整改到位。")
    leader = people.leader
    await leader.send("/tasks")
    [page] = await leader.press("申请销号（12）")
    assert "待审批销号：12 项。" in page and "【申请销号】第 1/2 页（共 12 项）：" in page
    first_page = leader.inbox[-1]
    [card] = await leader.press("第1项 查看", containing="【申请销号】")
    assert "李明 申请销号：第1项已整改到位。" in card
    assert _buttons(leader.inbox[-1])[:3] == ["同意销号", "视同完成，持续整改", "退回"]
    await leader.press("同意销号")
    assert db.one("SELECT state FROM tasks WHERE seq = 1")["state"] == "done"

    # the old page's 下一页 (under 第10项): what comes after 第10项 now
    data = dict(first_page.buttons)["下一页"]
    [after] = await leader.press_data(first_page, data)
    assert "【申请销号】第 2/2 页（共 11 项）：" in after
    assert [b for b in _buttons(leader.inbox[-1]) if b.endswith("查看")] == [
        "第11项 查看",
        "第12项 查看",
    ]
    # both of those decided meanwhile: the old button shows the last page, and says so
    for seq in (11, 12):
        await leader.send(f"/tasks {seq}")
        await leader.press("视同完成，持续整改")
    [moved] = await leader.press_data(first_page, data)
    assert moved.startswith("整改任务台账：13 个问题")
    assert "（台账已有变化，该按钮所指的页已无内容，以下为当前第 1 页。）" in moved
    assert "【申请销号】第 1/1 页（共 9 项）：" in moved
    for seq in range(2, 11):
        await leader.send(f"/tasks {seq}")
        await leader.press("同意销号")
    [empty] = await leader.press_data(first_page, dict(first_page.buttons)["✓申请销号（12）"])
    assert "【申请销号】暂无整改任务。" in empty
    assert "全部（13）" in _buttons(leader.inbox[-1])
    assert db.rows("SELECT state, COUNT(*) AS n FROM tasks GROUP BY state ORDER BY state") == [
        {"state": "deemed_done", "n": 2},
        {"state": "done", "n": 10},
        {"state": "in_progress", "n": 1},
    ]


async def test_pages_respect_telegram_limits_with_long_names_and_problems(sandbox, people):
    """The longest 责任人 and problems the import takes: a page stays one message under
    4096 characters with at most 100 buttons, every callback within 64 bytes."""
    rows = []
    for seq in range(1, 60):
        row = task_row(seq, owner="欧" * 40)
        row[2] = "问" * 1000
        rows.append(row)
    await import_file(people.leader, "t.csv", csv_bytes(rows))
    mark = len(people.leader.inbox)
    await people.leader.send("/tasks")
    await people.leader.press("下一页")
    for message in people.leader.inbox[mark:]:
        assert len(message.plain) < 4096
        assert len(message.buttons) <= 100
        assert all(len(data.encode()) <= 64 for _, data in message.buttons)
    assert people.leader.last.count("｜") == 3 * PAGE_SIZE


async def test_an_official_pages_through_their_own_tasks_only(sandbox, people, db):
    """An official's /tasks pages too, over the tasks they hold; a leader's page button
    pressed by them lists only theirs; an enterprise is refused."""
    rows = [task_row(seq) for seq in range(1, 14)] + [task_row(14, owner="赵敏")]
    await import_file(people.leader, "t.csv", csv_bytes(rows))
    [mine] = await people.official.send("/tasks")
    assert mine.startswith("我负责的整改任务（13 项）：\n【全部】第 1/2 页（共 13 项）：")
    await people.official.press("下一页")
    assert [b for b in _buttons(people.official.inbox[-1]) if b.endswith("项")] == [
        "第11项",
        "第12项",
        "第13项",
    ]
    [other] = await people.outsider.send("/tasks")
    assert other.startswith("我负责的整改任务（1 项）：\n第14项｜整改中")
    assert await people.outsider.send("/tasks 1") == ["未找到该整改任务，或您无权查看。"]
    leaders_page = encode(LEDGER, TaskFilter.ALL, Turn.NEXT, 10)
    [pressed] = await people.outsider.press_data(people.outsider.inbox[-1], leaders_page)
    assert "第11项" not in pressed and "（共 1 项）" not in pressed
    assert await people.company.press_data(people.company.inbox[-1], leaders_page) == [
        "您没有权限执行此操作。"
    ]


# The exported ledger: every event kind in its column -----------------------------------

COLUMN_HEADERS = {"progress": "整改进展", "decisions": "销号审核", "owners": "责任人指定"}
# Each kind of task event: the line the ledger holds for it (time, author, what, text).
EXPECTED_LINES = {
    "task_assign": "2026-03-10 09:00 王局长 指定责任人：李明",
    "task_report": "2026-03-10 10:00 李明 报告进展：已建立抽查机制。（附件 1 个）",
    "task_request_close": "2026-03-10 11:00 李明 申请销号：抽查机制已运行。",
    "task_send_back": "2026-03-10 12:00 王局长 退回：请补充抽查通报文件。",
    "task_deem": "2026-03-10 14:00 王局长 视同完成，持续整改",
    "task_approve": "2026-03-10 15:00 王局长 同意销号",
}


def test_every_event_kind_has_one_column():
    kinds = {event_kind(a) for a in TaskAction} | {"task_assign", "task_import"}
    assert set(EVENT_COLUMNS) == kinds
    assert set(EXPECTED_LINES) == {k for k, column in EVENT_COLUMNS.items() if column}


AT = datetime(2026, 3, 10, 2, tzinfo=UTC)


def an_event(n: int, action: str, actor: int, **detail) -> Event:
    to = str(detail.pop("to")) if "to" in detail else None
    return Event(n, "task:1", None, actor, None, action, None, to, detail, AT)


def a_report(n: int, author: int, kind: str, text: str, files: int = 0) -> TaskReport:
    return TaskReport(n, 1, author, "李明" if author == 4 else None, kind, text, files, AT)


def test_history_pairs_each_report_with_its_event_and_keeps_extra_reports():
    """All at one moment (as a frozen clock has it): the event naming its report decides
    its kind; an event written before events named reports is paired by person and
    moment; a report with no event (text added later) is progress, after the one before;
    a leader's name comes from the event, none reads as None (the caller words it)."""
    events = [
        an_event(1, "task_import", 8),
        an_event(2, "task_assign", 8, to=4, by="王局长"),
        an_event(3, "task_report", 4, text="甲", report=1, by="李明"),
        an_event(4, "task_request_close", 4, text="乙", report=3, by="李明"),
        an_event(5, "task_send_back", 8, text="丙"),  # older: no report named, no name
        an_event(6, "task_approve", 8, by="王局长"),
    ]
    reports = [
        a_report(1, 4, "progress", "甲", files=2),
        a_report(2, 4, "progress", "甲（续）"),  # no event of its own
        a_report(3, 4, "progress", "乙"),
        a_report(4, 8, "decision", "丙"),
    ]
    got = [
        (e.kind, e.author_name, e.text, e.files, e.official_id) for e in history(reports, events)
    ]
    assert got == [
        ("task_import", None, "", 0, None),
        ("task_assign", "王局长", "", 0, 4),
        ("task_report", "李明", "甲", 2, None),
        ("task_report", "李明", "甲（续）", 0, None),
        ("task_request_close", "李明", "乙", 0, None),
        ("task_send_back", None, "丙", 0, None),
        ("task_approve", "王局长", "", 0, None),
    ]


async def _every_kind(sandbox, people, clock) -> None:
    """A task through every event: imported with an unknown 责任人, assigned, reported on,
    销号 requested, sent back, requested again, deemed done, then approved."""
    leader, official = people.leader, people.official

    def at(hour: int) -> None:
        clock.set(datetime(2026, 3, 10, hour, tzinfo=SHANGHAI))

    at(8)
    await import_file(leader, "t.csv", csv_bytes([task_row(30, owner="李明明")]))
    at(9)
    await leader.send("/tasks 30")
    await leader.press("指定责任人")
    await leader.press("李明（市地方金融管理局）")
    at(10)
    await official.send("/tasks 30")
    await official.press("报告进展")
    await official.send("已建立抽查机制。")
    await official.send_photo()
    await official.send("/done")
    at(11)
    await official.send("/tasks 30")
    await official.press("申请销号")
    await official.send("抽查机制已运行。")
    await official.send("/done")
    at(12)
    await leader.send("/tasks 30")
    await leader.press("退回")
    await leader.send("请补充抽查通报文件。")
    at(13)
    await official.send("/tasks 30")
    await official.press("申请销号")
    await official.send("已补充通报文件。")
    await official.send("/done")
    at(14)
    await leader.send("/tasks 30")
    await leader.press("视同完成，持续整改")
    at(15)
    await leader.send("/tasks 30")
    await leader.press("同意销号")


def _sheet(content: bytes) -> dict[str, str]:
    rows = list(load_workbook(io.BytesIO(content)).worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 2
    return dict(zip(rows[0], rows[1], strict=True))


@pytest.fixture
async def every_kind(sandbox, people, clock, settings, monkeypatch, tmp_path):
    """The ledger of a task that went through every event, as the chat's 导出台账 and the
    command line's `tasks export` write it."""
    await _every_kind(sandbox, people, clock)
    await people.leader.send("/tasks")
    await people.leader.press("导出台账")
    chat = _sheet(sandbox.api.documents[-1][2])
    for name, value in database_env(url_of(settings)).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ADMIN_IDS", "900001")
    target = tmp_path / "ledger.xlsx"
    assert await asyncio.to_thread(main, ["tasks", "export", str(target)]) == 0
    return chat, _sheet(target.read_bytes())


@pytest.mark.parametrize("kind", sorted(EXPECTED_LINES))
async def test_each_event_kind_is_in_its_column_with_author_and_time(every_kind, kind):
    column = COLUMN_HEADERS[EVENT_COLUMNS[kind]]
    line = EXPECTED_LINES[kind]
    for sheet in every_kind:  # the chat's export and the command line's
        assert line in sheet[column].split("\n"), (kind, sheet[column])
        others = [c for c in COLUMN_HEADERS.values() if c != column]
        assert all(line not in (sheet[c] or "") for c in others), kind


async def test_the_ledger_holds_the_events_in_order(every_kind):
    chat, cli = every_kind
    assert chat == cli
    assert chat["销号审核"].split("\n") == [
        "2026-03-10 11:00 李明 申请销号：抽查机制已运行。",
        "2026-03-10 12:00 王局长 退回：请补充抽查通报文件。",
        "2026-03-10 13:00 李明 申请销号：已补充通报文件。",
        "2026-03-10 14:00 王局长 视同完成，持续整改",
        "2026-03-10 15:00 王局长 同意销号",
    ]
    assert chat["状态"] == "已完成，同意销号" and chat["责任人"] == "李明明"


async def test_the_card_names_who_did_what(sandbox, people, clock):
    await _every_kind(sandbox, people, clock)
    [card] = await people.official.send("/tasks 30")
    history = card.split("办理记录：\n")[1].split("\n")
    assert history == [
        "2026-03-10 09:00 王局长 指定责任人：李明",
        EXPECTED_LINES["task_report"],
        EXPECTED_LINES["task_request_close"],
        EXPECTED_LINES["task_send_back"],
        "2026-03-10 13:00 李明 申请销号：已补充通报文件。",
        EXPECTED_LINES["task_deem"],
        EXPECTED_LINES["task_approve"],
    ]


async def test_a_long_history_shows_its_latest_events_on_the_card(sandbox, people, clock):
    await import_file(people.leader, "t.csv", csv_bytes([task_row(30)]))
    for n in range(1, 11):
        clock.set(datetime(2026, 3, 10, 8, n, tzinfo=SHANGHAI))
        await people.official.send("/tasks 30")
        await people.official.press("报告进展")
        await people.official.send(f"第{n}次进展。")
        await people.official.send("/done")
    [card] = await people.leader.send("/tasks 30")
    history = card.split("办理记录：\n")[1].split("\n")
    assert history[0] == "（另有 2 条更早的记录，完整记录见整改任务台账。）"
    assert history[1:] == [
        f"2026-03-10 08:{n:02d} 李明 报告进展：第{n}次进展。" for n in range(3, 11)
    ]


async def test_an_official_sees_what_is_not_yet_closed_nearest_deadline_first(sandbox, people, db):
    rows = [
        task_row(1, deadline="2026-09-30"),
        task_row(2, deadline="2026-04-30"),
        task_row(3, deadline="2026-03-31", state="已完成，同意销号"),
        task_row(4, deadline="2026-06-30", state="视同完成，持续整改"),
    ]
    await import_file(people.leader, "t.csv", csv_bytes(rows))
    [mine] = await people.official.send("/tasks")
    lines = mine.split("\n")
    assert lines[:2] == ["我负责的整改任务（4 项）：", "【未销号】第 1/1 页（共 3 项）："]
    assert [line.split("｜")[0] for line in lines[2::2]] == ["第2项", "第4项", "第1项"]
    assert _buttons(people.official.inbox[-1])[3:] == [
        "全部（4）",
        "✓未销号（3）",
        "整改中（2）",
        "已完成，同意销号（1）",
        "视同完成，持续整改（1）",
    ]
    [everything] = await people.official.press("全部（4）")
    assert [line.split("｜")[0] for line in everything.split("\n")[1::2]] == [
        "第3项",
        "第2项",
        "第4项",
        "第1项",
    ]
