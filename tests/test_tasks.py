"""The rectification task ledger: import, export, reminders, progress and 销号."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime

import pytest
from openpyxl import Workbook, load_workbook

from bot.cli import main
from bot.config import BUNDLED_ORG_CONFIG
from bot.task_files import HEADERS
from handlers.jobs import run_sweep
from tests.conftest import SHANGHAI, join, open_database

EXAMPLE = BUNDLED_ORG_CONFIG.parent / "rectification_tasks.csv"
ROW = "整改中"


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8-sig") -> bytes:
    lines = [",".join(HEADERS)] + [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode(encoding)


def xlsx_bytes(rows: list[list[object]], headers: list[str] = HEADERS) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def task_row(seq: int, owner: str = "李明", deadline: str = "2026-03-11", state: str = ROW) -> list:
    return [
        str(seq),
        "落实全面从严治党和作风建设要求",
        f"问题{seq}：涉企诉求回复内容雷同",
        "建立回复质量抽查机制，每月通报",
        "王局长",
        "市地方金融管理局",
        owner,
        deadline,
        state,
    ]


async def import_file(leader, name: str, content: bytes) -> list[str]:
    await leader.send("/tasks import")
    return await leader.send_document(name, content=content)


async def test_import_the_bureaus_29_problems_and_export_them(sandbox, people, db):
    answer = await import_file(people.leader, "rectification_tasks.csv", EXAMPLE.read_bytes())
    assert answer[0].startswith(
        "已导入 29 项整改任务。\n整改任务台账：29 个问题："
        "22 个“已完成，同意销号”，7 个“视同完成，持续整改”。\n"
    )
    # nobody of the ledger has joined yet: each 责任人 is named once with their rows
    assert "责任人“刘洋”（第 1、2、7、" in answer[0] and "暂由局领导代管" in answer[0]
    assert db.count("tasks") == 29
    assert db.one("SELECT * FROM tasks WHERE seq = 26")["department_name"] == "财务科"

    await people.leader.send("/tasks")
    await people.leader.press("导出台账")
    chat, name, content = sandbox.api.documents[-1]
    assert chat == people.leader.id and name.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][:9] == HEADERS and rows[0][9:] == [
        "整改进展",
        "销号审核",
        "责任人指定",
        "逾期天数",
    ]
    assert len(rows) == 30
    assert rows[1][0] == 1 and rows[3][8] == "视同完成，持续整改"
    assert [r[0] for r in rows[1:]] == list(range(1, 30))


async def test_xlsx_and_gbk_csv_with_chinese_headers_import(sandbox, people, db):
    answer = await import_file(
        people.leader,
        "台账.xlsx",
        xlsx_bytes([[1, *task_row(1)[1:7], datetime(2026, 3, 11), "整改中"]]),
    )
    assert answer[0].startswith("已导入 1 项整改任务。")
    assert db.one("SELECT deadline FROM tasks")["deadline"] == "2026-03-11"
    answer = await import_file(
        people.leader, "台账.csv", csv_bytes([task_row(2, deadline="2026年3月20日")], "gb18030")
    )
    assert answer[0].startswith("已导入 1 项整改任务。")
    assert [t["deadline"] for t in db.rows("SELECT deadline FROM tasks ORDER BY seq")] == [
        "2026-03-11",
        "2026-03-20",
    ]


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
async def test_one_bad_row_imports_nothing_and_names_the_row(sandbox, people, db, kind):
    rows = [task_row(1), task_row(2, deadline="九月底"), task_row(3), task_row(1, state="快好了")]
    content = csv_bytes(rows) if kind == "csv" else xlsx_bytes(rows)
    answer = await import_file(people.leader, f"台账.{kind}", content)
    assert answer == [
        "导入失败，共 3 处问题，未导入任何任务：\n"
        "第 3 行：整改时限“九月底”不是日期（如 2024-09-30）\n"
        "第 5 行：序号 1 在文件中重复\n"
        "第 5 行：状态“快好了”无法识别"
    ]
    assert db.count("tasks") == 0


async def test_a_seq_already_in_the_ledger_is_named_as_such(sandbox, people, db):
    await import_file(people.leader, "a.csv", csv_bytes([task_row(1)]))
    answer = await import_file(people.leader, "b.csv", csv_bytes([task_row(2), task_row(1)]))
    assert answer == [
        "导入失败，共 1 处问题，未导入任何任务：\n"
        "第 3 行：序号 1 已在台账中（发送 /tasks 1 查看），导入只添加新的序号"
    ]
    assert db.count("tasks") == 1


async def test_a_file_without_the_ledger_columns_is_refused(sandbox, people, db):
    answer = await import_file(
        people.leader, "x.xlsx", xlsx_bytes([["a", "b"]], headers=["名称", "备注"])
    )
    assert answer[0].startswith("导入失败，共 1 处问题")
    assert (
        "第 1 行：未找到表头：前 2 行中没有一行含这些列名。表头应在此行，列名为：序号、方面、问题、整改措施"
        in answer[0]
    )
    answer = await import_file(people.leader, "x.docx", b"PK...")
    assert answer == [
        "无法读取该文件：不支持的文件类型 .docx，请使用 .xlsx、.csv 或 .txt（Excel 另存的“Unicode 文本”）。"
    ]
    assert db.count("tasks") == 0


async def test_only_leaders_import_and_export(sandbox, people, db):
    for person in (people.official, people.company):
        assert await person.send("/tasks import") == ["您没有权限执行此操作。"]
        assert await person.send("/tasks export") == ["您没有权限执行此操作。"]
    assert sandbox.api.documents == []


async def test_task_reminders_seven_three_one_days_and_overdue(sandbox, people, db, clock):
    await import_file(people.leader, "t.csv", csv_bytes([task_row(30)]))
    got: dict[str, list[str]] = {}
    for day in ("03-04", "03-05", "03-06", "03-09", "03-10", "03-11", "03-12", "03-13"):
        clock.set(datetime.fromisoformat(f"2026-{day}T09:00:00").replace(tzinfo=SHANGHAI))
        mark = people.official.mark()
        await run_sweep(sandbox.app)
        await run_sweep(sandbox.app)  # twice: still once
        got[day] = [t for t in people.official.since(mark) if t.startswith("【")]
    assert [len(v) for v in got.values()] == [1, 0, 0, 1, 1, 0, 1, 1]
    assert got["03-04"][0].startswith(
        "【提示〔2026〕1号】整改提示：第30项整改任务将于 2026-03-11 到期（还有 7 天）。"
    )
    assert "还有 2 天" in got["03-09"][0] and "还有 1 天" in got["03-10"][0]
    assert got["03-12"][0].startswith(
        "【督办〔2026〕1号】整改督办：第30项整改任务已逾期 1 天（整改时限 2026-03-11），"
    )
    assert "第30项整改任务已逾期 2 天（整改时限 2026-03-11）" in got["03-13"][0]
    assert [r["kind"] for r in db.rows("SELECT kind FROM notices ORDER BY id")] == [
        "task_d7",
        "task_d3",
        "task_d1",
        "task_overdue",
        "task_overdue",
    ]


async def test_progress_sendback_deemed_done_and_monthly_reminder(sandbox, people, db, clock):
    p = people
    await import_file(p.leader, "t.csv", csv_bytes([task_row(30), task_row(31, owner="赵敏")]))
    answer = await p.official.send("/tasks")
    assert answer[0].startswith("我负责的整改任务（1 项）：\n第30项｜整改中｜时限 2026-03-11｜李明")
    await p.official.press("第30项")
    await p.official.press("报告进展")
    await p.official.send("已制定抽查办法，本月抽查回复20件。")
    await p.official.send_photo()
    await p.official.send_document("抽查通报.pdf")
    await p.official.send("/done")
    reports = db.rows("SELECT * FROM task_reports")
    assert [(r["kind"], r["text"]) for r in reports] == [
        ("progress", "已制定抽查办法，本月抽查回复20件。")
    ]
    assert db.count("task_attachments") == 2

    # another official neither sees nor acts on it; a leader does not report for the owner
    task_id = db.one("SELECT id FROM tasks WHERE seq = 30")["id"]
    assert await p.outsider.press_data(p.outsider.inbox[-1], f"task:{task_id}:1:view") == [
        "未找到该整改任务，或您无权查看。"
    ]
    assert await p.leader.press_data(p.leader.inbox[-1], f"task:{task_id}:1:rep") == [
        "您没有权限执行此操作。"
    ]

    await p.official.send("/tasks")
    await p.official.press("第30项")
    await p.official.press("申请销号")
    leader_mark = p.leader.mark()
    await p.official.send("抽查机制已建立并运行。")
    assert p.leader.since(leader_mark)[0].startswith("销号申请：第30项整改任务（李明）")
    await p.leader.press("第30项 查看")
    assert [b for b, _ in p.leader.inbox[-1].buttons] == [
        "同意销号",
        "视同完成，持续整改",
        "退回",
        "指定责任人",
        "查看附件（2）",  # the progress reports' files
    ]
    await p.leader.press("退回")
    await p.leader.send("缺少通报文件。")
    assert p.official.last == "第30项整改任务销号申请被退回，请继续整改。\n退回原因：缺少通报文件。"
    assert db.one("SELECT state FROM tasks WHERE seq = 30")["state"] == "in_progress"

    await p.official.send("/tasks")
    await p.official.press("第30项")
    await p.official.press("申请销号")
    await p.official.send("已补充通报文件。")
    await p.leader.press("第30项 查看")
    await p.leader.press("视同完成，持续整改")
    assert "视同完成，持续整改" in p.official.last
    assert db.one("SELECT state FROM tasks WHERE seq = 30")["state"] == "deemed_done"
    # the old 同意销号 button of the request is stale now
    answer = await p.leader.press("同意销号", containing="申请销号")
    assert answer == ["此按钮已失效：第30项整改任务的状态已变化。请发送 /tasks 查看最新情况。"]

    actions = [
        e["action"]
        for e in db.rows("SELECT action FROM audit_events WHERE subject = ?", f"task:{task_id}")
    ]
    assert actions == [
        "task_import",
        "task_report",
        "task_amend",  # the photo, then the file, joined the report
        "task_amend",
        "task_request_close",
        "task_send_back",
        "task_request_close",
        "task_deem",
    ]
    # deemed done: a progress reminder every month, once
    for day, expected in (
        ("2026-03-20", 0),
        ("2026-04-01", 1),
        ("2026-04-02", 0),
        ("2026-05-06", 1),
    ):
        clock.set(datetime.fromisoformat(f"{day}T09:00:00").replace(tzinfo=SHANGHAI))
        mark = p.official.mark()
        await run_sweep(sandbox.app)
        monthly = [t for t in p.official.since(mark) if "月度整改提醒" in t]
        assert len(monthly) == expected, day
    summary = (await p.leader.send("/tasks"))[0]
    assert summary.startswith("整改任务台账：2 个问题：1 个“整改中”，1 个“视同完成，持续整改”。")


@pytest.mark.sqlite_only  # starts with the file-level check: no database file yet
async def test_cli_import_and_export(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "cli.sqlite3"))
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([task_row(1), task_row(2, deadline="")]))
    assert main(["tasks", "import", str(bad)]) == 2  # no database yet: nothing created
    assert "tasks import: no database at" in capsys.readouterr().err
    assert not (tmp_path / "cli.sqlite3").exists()
    db = open_database(f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    await db.open()
    await db.close()
    assert await asyncio.to_thread(main, ["tasks", "import", str(bad)]) == 1
    out, err = capsys.readouterr()
    assert "row 3: 整改时限“”不是日期" in out
    assert (
        err.splitlines()[-1] == f"appealdesk: {bad}: nothing imported, 1 problem(s) (listed above)"
    )
    assert await asyncio.to_thread(main, ["tasks", "import", str(EXAMPLE)]) == 0
    assert "imported 29 rectification tasks" in capsys.readouterr().out
    target = tmp_path / "ledger.xlsx"
    assert await asyncio.to_thread(main, ["tasks", "export", str(target)]) == 0
    rows = list(load_workbook(target, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 30 and list(rows[0])[:9] == HEADERS


async def test_an_unknown_owner_is_held_by_the_head_and_reminded(sandbox, people, db, clock):
    await join(sandbox.person(20010, "孙丽"), people.leader, "zxqy")
    answer = await import_file(people.leader, "t.csv", csv_bytes([task_row(7, owner="无此人")]))
    assert answer[0].endswith(
        "责任人“无此人”（第 7 项）尚未加入，暂由市地方金融管理局负责人代管，请在 /tasks 中指定责任人。"
    )
    assert db.one("SELECT owner_id FROM tasks WHERE seq = 7")["owner_id"] is None
    clock.set(datetime(2026, 3, 12, 9, tzinfo=SHANGHAI))
    mark = people.head.mark()
    await run_sweep(sandbox.app)
    assert [t[:16] for t in people.head.since(mark)] == ["【督办〔2026〕1号】整改督办"]


async def test_an_owner_outside_any_department_is_held_by_the_leaders(sandbox, people, clock):
    row = task_row(8, owner="无此人")
    row[5] = "机关党委"  # not a department of the org config
    await import_file(people.leader, "t.csv", csv_bytes([row]))
    clock.set(datetime(2026, 3, 12, 9, tzinfo=SHANGHAI))
    mark = people.leader.mark()
    await run_sweep(sandbox.app)
    assert [t[:16] for t in people.leader.since(mark)] == ["【督办〔2026〕1号】整改督办"]


@pytest.mark.parametrize(
    ("department", "holder"),
    [
        ("市地方金融管理局", "市地方金融管理局负责人"),  # its head has joined: stands in
        ("中小企业科", "局领导"),  # a department nobody of has joined yet
        ("机关党委", "局领导"),  # not a department of the org config
    ],
)
async def test_the_card_names_who_holds_an_unassigned_task_as_the_import_did(
    sandbox, people, department, holder
):
    row = task_row(9, owner="无此人")
    row[5] = department
    answer = await import_file(people.leader, "t.csv", csv_bytes([row]))
    assert f"暂由{holder}代管" in answer[0]
    [card] = await people.leader.send("/tasks 9")
    assert f"（待指定，暂由{holder}代管）" in card


async def test_a_leader_standing_in_for_several_owners_gets_one_list(sandbox, people, clock):
    """Seven tasks of absent owners overdue on the same day: one message to the leader,
    listing the seven 督办 with their 文号 and each task's buttons — not seven messages."""
    rows = []
    for seq in range(11, 18):
        row = task_row(seq, owner=f"无此人{seq}")
        row[5] = "机关党委"  # not a department: the leaders hold these tasks
        rows.append(row)
    await import_file(people.leader, "t.csv", csv_bytes(rows))
    clock.set(datetime(2026, 3, 12, 9, tzinfo=SHANGHAI))
    mark = people.leader.mark()
    await run_sweep(sandbox.app)
    [message] = [m for m in people.leader.inbox[mark:] if "document" not in m.raw]
    assert message.plain.startswith("今日提示督办共 7 件（第 1–7 件）：")
    serials = [
        f"【督办〔2026〕{n}号】整改督办：第{seq}项" for n, seq in enumerate(range(11, 18), 1)
    ]
    assert all(serial in message.plain for serial in serials)
    assert len(message.buttons) >= 7  # each task keeps its own buttons


async def test_owners_are_user_ids_and_a_leader_maps_a_name_in_chat(sandbox, people, db):
    namesake = sandbox.person(20011, "李明")  # a second 李明, in another department
    await join(namesake, people.leader, "zxqy")
    answer = await import_file(people.leader, "t.csv", csv_bytes([task_row(9)]))
    assert "责任人“李明”（第 9 项）有 2 位同名承办人" in answer[0]
    # neither 李明 may act on a task that is not mapped to them
    await people.official.send("/tasks")
    assert people.official.last == "您名下暂无整改任务。"
    await people.leader.send("/tasks")
    assert "待指定责任人：1 项。" in people.leader.last
    await people.leader.press("第9项 查看")
    await people.leader.press("指定责任人")
    await people.leader.press("李明（市地方金融管理局）")
    assert people.leader.last == "已将第9项整改任务的责任人指定为 李明。"
    assert people.official.last.startswith("您已被指定为第9项整改任务的责任人。")
    task = db.one("SELECT owner_id, owner_name FROM tasks WHERE seq = 9")
    assert task == {"owner_id": people.official.id, "owner_name": "李明"}
    assert db.one("SELECT action FROM audit_events WHERE action = 'task_assign'")
    await namesake.send("/tasks")
    assert namesake.last == "您名下暂无整改任务。"
    await people.official.send("/tasks")
    assert "第9项｜整改中" in people.official.last
