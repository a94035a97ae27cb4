"""A rectification task past its 整改时限 and not 销号 is overdue (已逾期): one rule, and the
mark everywhere a task is listed or shown — the /tasks pages (with an 已逾期 filter and
count), the card, the task ledger XLSX (chat and command line) and the weekly digest."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook

from bot.cli import main
from bot.clock import SystemClock
from bot.digest_text import leaders_text
from bot.rules.model import Task, TaskState
from bot.rules.task_ledger import (
    OVERDUE_STATES,
    TaskFilter,
    is_overdue,
    matches,
    overdue_days,
    overdue_tasks,
    page_of,
)
from tests.conftest import SHANGHAI, database_env, url_of
from tests.test_paper import year_digest
from tests.test_tasks import csv_bytes, import_file, task_row

DEADLINE = date(2026, 11, 20)


def a_task(seq: int, state: TaskState, deadline: date = DEADLINE) -> Task:
    return Task(
        seq, seq, "方面", f"问题{seq}", "措施", "王局长", "财务科", "刘洋", 7,
        deadline, state, 1, datetime(2026, 3, 1, tzinfo=UTC),
    )  # fmt: skip


# The rule, pure: every state × before / on / after the 时限 ---------------------------

WHEN = {"before": -1, "on": 0, "day after": 1, "ten days after": 10}
LATE = {  # days overdue by state, for each moment
    TaskState.IN_PROGRESS: {"before": 0, "on": 0, "day after": 1, "ten days after": 10},
    TaskState.CLOSE_REQUESTED: {"before": 0, "on": 0, "day after": 1, "ten days after": 10},
    TaskState.DONE: {"before": 0, "on": 0, "day after": 0, "ten days after": 0},
    TaskState.DEEMED_DONE: {"before": 0, "on": 0, "day after": 0, "ten days after": 0},
}


def test_the_table_covers_every_state():
    assert set(LATE) == set(TaskState)
    assert {s for s, row in LATE.items() if any(row.values())} == OVERDUE_STATES


@pytest.mark.parametrize("state", list(TaskState))
@pytest.mark.parametrize("when", list(WHEN))
def test_overdue_by_state_and_day(state, when):
    today = DEADLINE + timedelta(days=WHEN[when])
    task = a_task(1, state)
    assert overdue_days(task, today) == LATE[state][when]
    assert is_overdue(task, today) is bool(LATE[state][when])
    assert matches(task, TaskFilter.OVERDUE, today) is bool(LATE[state][when])


def test_overdue_tasks_longest_first_and_the_filter_counts_them():
    today = date(2026, 11, 30)
    tasks = [
        a_task(1, TaskState.IN_PROGRESS, date(2026, 11, 29)),
        a_task(2, TaskState.CLOSE_REQUESTED, date(2026, 11, 1)),
        a_task(3, TaskState.IN_PROGRESS, date(2026, 11, 1)),
        a_task(4, TaskState.DONE, date(2026, 10, 1)),
        a_task(5, TaskState.DEEMED_DONE, date(2026, 10, 1)),
        a_task(6, TaskState.IN_PROGRESS, today),
    ]
    assert [(t.seq, d) for t, d in overdue_tasks(tasks, today)] == [(2, 29), (3, 29), (1, 1)]
    page = page_of(tasks, TaskFilter.OVERDUE, None, today=today)
    assert [t.seq for t in page.tasks] == [1, 2, 3] and page.counts[TaskFilter.OVERDUE] == 3
    # the day before none of them was late yet but 2 and 3
    assert (
        page_of(tasks, TaskFilter.ALL, None, today=date(2026, 11, 2)).counts[TaskFilter.OVERDUE]
        == 2
    )


def test_the_digest_lists_the_longest_overdue_and_counts_the_rest():
    late = [(a_task(n, TaskState.IN_PROGRESS), 40 - n) for n in range(1, 4)]
    digest = replace(
        year_digest([]),
        tasks={TaskState.IN_PROGRESS: 5, TaskState.DONE: 2},
        overdue_tasks=late,
        overdue_tasks_total=7,
    )
    lines = leaders_text(digest).split("\n")
    at = lines.index("其中已逾期（超过整改时限未销号）7 项。")
    assert lines[at + 1 : at + 5] == [
        "第1项｜财务科｜责任人 刘洋｜逾期 39 天（时限 2026-11-20）",
        "第2项｜财务科｜责任人 刘洋｜逾期 38 天（时限 2026-11-20）",
        "第3项｜财务科｜责任人 刘洋｜逾期 37 天（时限 2026-11-20）",
        "（以上为逾期最久的 3 项，共 7 项；完整清单见整改任务台账，局领导可用 /tasks export 导出。）",
    ]


# In chat, on paper and in the digest -----------------------------------------------------

ROWS = [  # seq, 时限, 状态 → days overdue on 2026-11-30 (None: not overdue)
    (1, "2026-11-20", "整改中", 10),
    (2, "2026-11-29", "整改中", 1),
    (3, "2026-11-30", "整改中", None),
    (4, "2026-11-20", "已完成，同意销号", None),
    (5, "2026-11-20", "视同完成，持续整改", None),
    (6, "2026-12-10", "整改中", None),
    (7, "2026-11-25", "申请销号", 5),
]


@pytest.fixture
async def ledger(sandbox, people, clock):
    clock.set(datetime(2026, 11, 19, 9, 0, tzinfo=SHANGHAI))
    rows = [task_row(seq, deadline=deadline, state=state) for seq, deadline, state, _ in ROWS]
    answer = await import_file(people.leader, "t.csv", csv_bytes(rows))
    assert answer[0].startswith("已导入 7 项整改任务。")
    clock.set(datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI))  # a Monday
    return people


async def test_the_tasks_page_marks_and_filters_overdue_tasks(ledger, db):
    people = ledger
    stored = db.rows("SELECT * FROM tasks ORDER BY seq")
    answer = await people.leader.send("/tasks")
    text = answer[0]
    assert "已逾期（超过整改时限未销号）：3 项。" in text
    for seq, deadline, state, days in ROWS:
        line = next(x for x in text.split("\n") if x.startswith(f"第{seq}项｜"))
        mark = f"（已逾期 {days} 天）" if days else ""
        assert line.startswith(f"第{seq}项｜{state}｜时限 {deadline}{mark}｜"), line
    assert "已逾期（3）" in [label for label, _ in people.leader.inbox[-1].buttons]
    answer = await people.leader.press("已逾期（3）")
    lines = answer[0].split("\n")
    assert "【已逾期】第 1/1 页（共 3 项）：" in lines
    assert [int(x[1 : x.index("项")]) for x in lines if x.startswith("第") and "｜" in x] == [
        1,
        2,
        7,
    ]
    # the official holding them sees the count and the marks on their own list
    answer = await people.official.send("/tasks")
    assert "已逾期（超过整改时限未销号）：3 项。" in answer[0]
    assert "时限 2026-11-20（已逾期 10 天）｜" in answer[0]
    # looking changes nothing
    assert db.rows("SELECT * FROM tasks ORDER BY seq") == stored


async def test_the_card_marks_an_overdue_task(ledger):
    people = ledger
    card = (await people.leader.send("/tasks 1"))[0]
    assert "整改时限：2026-11-20（已逾期 10 天）\n状态：整改中" in card
    card = (await people.leader.send("/tasks 7"))[0]
    assert "整改时限：2026-11-25（已逾期 5 天）\n状态：申请销号" in card
    for seq, deadline, state, _ in ROWS[2:6]:
        card = (await people.leader.send(f"/tasks {seq}"))[0]
        assert f"整改时限：{deadline}\n状态：{state}" in card


def _days_column(content: bytes) -> dict[int, object]:
    sheet = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    at = rows[0].index("逾期天数")
    return {r[0]: r[at] for r in rows[1:]}


async def test_the_ledger_xlsx_has_the_days_overdue(
    ledger, sandbox, clock, settings, monkeypatch, tmp_path
):
    people = ledger
    await people.leader.send("/tasks")
    await people.leader.press("导出台账")
    expected = {seq: days for seq, *_, days in ROWS}
    assert _days_column(sandbox.api.documents[-1][2]) == expected
    for name, value in database_env(url_of(settings)).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ADMIN_IDS", "900001")
    monkeypatch.setattr(SystemClock, "now", lambda self: clock.now())  # the test's day
    target = tmp_path / "ledger.xlsx"
    assert await asyncio.to_thread(main, ["tasks", "export", str(target)]) == 0
    assert _days_column(target.read_bytes()) == expected


async def test_the_digest_counts_and_lists_overdue_tasks_as_of_its_day(ledger):
    people = ledger

    async def digest(week: str) -> list[str]:
        mark = people.leader.mark()
        await people.leader.send(f"/digest {week}")
        messages = people.leader.inbox[mark:]
        text = "\n".join(
            m.plain for m in messages if "photo" not in m.raw and "document" not in m.raw
        )
        return text.split("\n")

    lines = await digest("2026-W49")  # this week: as the tasks are today
    at = lines.index("其中已逾期（超过整改时限未销号）3 项。")
    assert lines[at + 1 : at + 4] == [
        "第1项｜市地方金融管理局｜责任人 李明｜逾期 10 天（时限 2026-11-20）",
        "第7项｜市地方金融管理局｜责任人 李明｜逾期 5 天（时限 2026-11-25）",
        "第2项｜市地方金融管理局｜责任人 李明｜逾期 1 天（时限 2026-11-29）",
    ]
    lines = await digest("2026-W48")  # last week: as of Sunday 11-29, 2 was not late yet
    at = lines.index("其中已逾期（超过整改时限未销号）2 项。")
    assert lines[at + 1 : at + 3] == [
        "第1项｜市地方金融管理局｜责任人 李明｜逾期 9 天（时限 2026-11-20）",
        "第7项｜市地方金融管理局｜责任人 李明｜逾期 4 天（时限 2026-11-25）",
    ]


async def test_an_old_overdue_button_lists_what_is_overdue_now(ledger, db):
    """已逾期 pressed on an old page after a task was 同意销号: the page and its count as
    now, and the card of that task no longer marked."""
    people = ledger
    await people.leader.send("/tasks")
    old, data = people.leader.find_button("已逾期（3）")
    await people.leader.send("/tasks 7")
    await people.leader.press("同意销号")
    assert {r["seq"]: r["state"] for r in db.rows("SELECT seq, state FROM tasks")}[7] == "done"
    answer = await people.leader.press_data(old, data, "已逾期（3）")
    page = next(a for a in answer if "【已逾期】" in a)
    assert "已逾期（超过整改时限未销号）：2 项。\n【已逾期】第 1/1 页（共 2 项）：\n第1项｜" in page
    assert "第2项｜整改中｜时限 2026-11-29（已逾期 1 天）" in page and "第7项｜" not in page
    assert "✓已逾期（2）" in [label for label, _ in people.leader.inbox[-1].buttons]
    card = (await people.leader.send("/tasks 7"))[0]
    assert "整改时限：2026-11-25\n状态：已完成，同意销号" in card
