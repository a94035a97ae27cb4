"""月报 campaigns through the chat, on both backends: a leader defines the data centres'
monthly report from its TOML; the sweep asks the contacts after the National Day holiday,
reminds them on the 调休 Saturday, chases the late one, tells its 包保 official, then the
leaders (each notice with its 文号); contacts fill it field by field (bad answers refused),
review, correct before the due day (versions kept), and are refused after it; the leader
sees who reported, the consolidated XLSX and the chart."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from handlers.jobs import run_sweep
from tests.conftest import SHANGHAI, join, register
from tests.test_directory import DATA_CENTRES, csv_of

DEFINITION = Path(__file__).parent.parent / "examples" / "monthly_datacenter.toml"


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+08:00").astimezone(SHANGHAI)


@pytest.fixture
async def bureau(sandbox, leader, clock):
    """Three registered data centres (the first looked after by 李明), a fourth on the roster
    only, another enterprise; the leader defines the campaign from September 2026."""
    clock.set(at("2026-09-25"))
    official = sandbox.person(20002, "李明")
    await join(official, leader, "jrj")
    await leader.send("/enterprises import")
    await leader.send_document("名录.csv", content=csv_of(DATA_CENTRES))
    centres = []
    for n, (name, code, *_rest) in enumerate(DATA_CENTRES[:3]):
        person = sandbox.person(31001 + n, f"联络员{n + 1}")
        await register(person, name, code)
        centres.append(person)
    other = sandbox.person(30001, "陈经理")
    await register(other)
    await leader.send("/campaigns new")
    read = await leader.send_document("monthly_datacenter.toml", content=DEFINITION.read_bytes())
    assert "已读取表单《大数据中心建设月报》" in read[-2], read
    await leader.press("按标签")
    await leader.press("数据中心（3）")
    created = await leader.send("2026-09")  # the month under way (suggested: August)
    assert "月报《大数据中心建设月报》已建立" in created[-1] and "自 2026年9月 起" in created[-1]
    return type(
        "Bureau",
        (),
        dict(leader=leader, official=official, centres=centres, other=other, box=sandbox),
    )


async def sweep_on(bureau, clock, day: str) -> None:
    clock.set(at(day))
    await run_sweep(bureau.box.app)


async def fill(person, answers: list[str], submit: bool = True) -> list[str]:
    """填报, each answer (a label of a button pressed as "按钮:…"), then 提交."""
    said = await person.press("填报")
    for answer in answers:
        if answer.startswith("按钮:"):
            said = await person.press(answer[3:])
        else:
            said = await person.send(answer)
    if submit:
        said = await person.press("提交")
    return said


GOOD = ["1,200万元", "3500", "按钮:机电安装", "120", "按钮:跳过", "按钮:跳过"]


def notices(person, kind: str) -> list[str]:
    return [m.plain for m in person.inbox if kind in m.plain]


async def test_a_campaign_runs_its_month_across_the_holiday_and_the_tiaoxiu_saturday(
    bureau, clock, db
):
    campaign = db.one("SELECT * FROM campaigns")
    assert (campaign["code"], campaign["first_period"]) == ("dc_construction", "2026-09")
    # September is reported in October: nobody is asked before its first working day
    await sweep_on(bureau, clock, "2026-09-30")
    await sweep_on(bureau, clock, "2026-10-05")  # the National Day holiday
    assert not any(notices(p, "月报") for p in bureau.centres)

    await sweep_on(bureau, clock, "2026-10-08")
    for person in bureau.centres:
        asked = [m for m in person.inbox if "月报填报通知" in m.plain and "2026年9月" in m.plain]
        assert len(asked) == 1 and "截止 2026-10-13（含当日）" in asked[0].plain
        assert [label for label, _ in asked[0].buttons] == ["填报"]
    assert not notices(bureau.other, "月报")
    await sweep_on(bureau, clock, "2026-10-08")  # the same day again: nothing twice
    assert sum(len(notices(p, "月报填报通知")) for p in bureau.centres) == 3

    early, on_time, late = bureau.centres[2], bureau.centres[1], bureau.centres[0]
    # bad answers are refused and change nothing; then the form is filled and reviewed
    await early.press("填报")
    refused = await early.send("-5")
    assert "不能小于 0" in refused[-1]
    refused = await early.send("很多")
    assert "应填写数字" in refused[-1]
    await early.send("1,200万元")
    await early.send("3500")
    wrong = await early.send("9")
    assert "请从以下选项中选择一项" in wrong[-1]
    await early.press("机电安装")
    await early.send("120")
    await early.press("跳过")
    review = await early.press("跳过")
    assert "1. 本月完成投资额：1,200 万元" in review[-1] and "3. 形象进度：机电安装" in review[-1]
    await early.press("修改第1项")
    review = await early.send("1300")
    assert "1. 本月完成投资额：1,300 万元" in review[-1]
    done = await early.press("提交")
    assert "2026年9月 已报送（第 1 版）" in done[-1]
    assert db.count("monthly_reports") == 1

    # 10-10 is a 调休 Saturday, a working day: the two that have not reported are reminded
    await sweep_on(bureau, clock, "2026-10-10")
    for person in (on_time, late):
        [reminder] = notices(person, "月报到期提示")
        assert "【提示〔2026〕" in reminder and "报送截止 2026-10-13" in reminder
    assert not notices(early, "月报到期提示")
    await sweep_on(bureau, clock, "2026-10-11")  # a Sunday: nothing
    assert len(notices(late, "月报到期提示")) == 1

    # a correction before the due day is a new version; the first is kept
    clock.set(at("2026-10-12"))
    await early.press("修改已报送的月报")
    await early.press("修改第4项")
    await early.send("130")
    again = await early.press("提交")
    assert "（第 2 版）" in again[-1]
    versions = db.rows(
        "SELECT version, data FROM monthly_reports WHERE enterprise_id = ("
        " SELECT id FROM enterprises WHERE uscc = ?) ORDER BY version",
        DATA_CENTRES[2][1],
    )
    data = [json.loads(v["data"]) if isinstance(v["data"], str) else v["data"] for v in versions]
    assert [d["racks"] for d in data] == ["120", "130"]

    await sweep_on(bureau, clock, "2026-10-13")
    await fill(on_time, GOOD)
    # after the due day: the late one is chased daily, its 包保 official told, then leaders
    await sweep_on(bureau, clock, "2026-10-14")
    [chased] = notices(late, "月报逾期督办")
    assert "【督办〔2026〕" in chased and "已逾期 1 个工作日" in chased
    [baobao] = notices(bureau.official, "月报逾期督办")
    assert "您包保的" in baobao and DATA_CENTRES[0][0] in baobao
    assert not notices(on_time, "逾期")
    await sweep_on(bureau, clock, "2026-10-15")
    await sweep_on(bureau, clock, "2026-10-16")
    assert len(notices(late, "月报逾期督办")) == 3
    [raised] = notices(bureau.leader, "月报逾期未报")
    assert "共 1 家企业" in raised and "逾期 3 个工作日（提级督办）" in raised
    assert len(notices(bureau.official, "月报逾期督办")) == 1  # once a period

    # the early one may no longer correct; the late one reports, marked late
    closed = await early.press("修改已报送的月报")
    assert "已于 2026-10-12 报送，报送截止日（2026-10-13）已过，不能再修改" in closed[-1]
    clock.set(at("2026-10-19"))
    submitted = await fill(late, GOOD)
    assert "记为逾期" in submitted[-1]
    await sweep_on(bureau, clock, "2026-10-20")
    assert len(notices(late, "月报逾期督办")) == 3  # nothing once reported
    serials = db.rows("SELECT family, serial_no FROM monthly_notices WHERE family IS NOT NULL")
    numbers = sorted((r["family"], r["serial_no"]) for r in serials)
    for family in ("提示", "督办"):
        mine = [n for f, n in numbers if f == family]
        assert mine == list(range(mine[0], mine[0] + len(mine))), numbers  # gap-free

    # the enterprise's 月报 history on its directory card
    card = await bureau.leader.send(f"/enterprises {DATA_CENTRES[0][1]}")
    assert "月报《大数据中心建设月报》：通知填报 1 个月，已报 1 个月（其中逾期 1 个月）" in card[-1]
    # the leader: who reported, the table, the chart
    listed = await bureau.leader.send("/campaigns")
    assert "《大数据中心建设月报》2026年9月" in listed[-1] and "已报 3/3，其中逾期 1" in listed[-1]
    status = await bureau.leader.press("第1项 报送情况")
    assert "逾期报送" in status[-1] and "（第2版）" in status[-1]
    await bureau.leader.press("汇总表（XLSX）")
    _, name, content = bureau.box.api.documents[-1]
    assert name == "大数据中心建设月报-2026-09.xlsx"
    book = load_workbook(io.BytesIO(content))
    sheet = book["2026年9月"]
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert rows[0][:3] == ["企业名称", "统一社会信用代码", "本月完成投资额（万元）"]
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name[DATA_CENTRES[2][0]][2] == 1300 and by_name[DATA_CENTRES[2][0]][-2] == 2
    assert by_name[DATA_CENTRES[0][0]][-1] == "逾期"
    assert len(rows) == 4 and "历月数据" in book.sheetnames
    photos = len(bureau.box.api.photos)
    chart = await bureau.leader.press("趋势图：本月完成投资额")
    assert any("本月完成投资额 各月情况" in c for c in chart), chart
    assert len(bureau.box.api.photos) == photos + 1
    assert bureau.box.api.photos[-1][1].startswith(b"\x89PNG")


async def test_a_campaign_begun_late_asks_first_and_never_catches_up(bureau, clock, db):
    """Defined after its month's ask day: the contacts get the 填报通知 (not weeks of
    reminders at once); nobody is told about days before it began. A month whose due day
    is past cannot be chosen; the one suggested can."""
    db.execute("DELETE FROM campaigns")
    clock.set(at("2026-10-20"))  # September's due day (10-13) has passed
    await bureau.leader.send("/campaigns new")
    await bureau.leader.send_document("m.toml", content=DEFINITION.read_bytes())
    await bureau.leader.press("按标签")
    offered = await bureau.leader.press("数据中心（3）")
    assert "通常为 2026年10月" in offered[-1]
    refused = await bureau.leader.send("2026-09")
    assert "报送截止日已过" in refused[-1] and "最早为 2026-10" in refused[-1]
    assert db.count("campaigns") == 0
    db.execute("DELETE FROM conversations")
    clock.set(at("2026-10-12"))  # before its due day (10-13), after its ask day (10-08)
    await bureau.leader.send("/campaigns new")
    await bureau.leader.send_document("m.toml", content=DEFINITION.read_bytes())
    await bureau.leader.press("按标签")
    offered = await bureau.leader.press("数据中心（3）")
    created = await bureau.leader.press("2026年9月")
    assert "自 2026年9月 起" in created[-1]
    await sweep_on(bureau, clock, "2026-10-12")  # asked late: a 填报通知, nothing else
    for person in bureau.centres:
        assert len(notices(person, "月报填报通知")) == 1
        assert not notices(person, "提示") and not notices(person, "督办")
    assert not notices(bureau.official, "月报") and not notices(bureau.leader, "月报逾期")
    # the day after the due day: the 包保 is told once; enterprises nobody looks after
    # are listed to the leaders in one message, never "您包保的"
    await sweep_on(bureau, clock, "2026-10-13")
    await sweep_on(bureau, clock, "2026-10-14")
    assert len(notices(bureau.official, "您包保的")) == 1
    [listed] = notices(bureau.leader, "月报逾期未报")
    assert "共 2 家企业" in listed and "未设包保责任人" in listed and "您包保的" not in listed


async def test_only_the_enterprises_asked_fill_and_only_leaders_see(bureau, clock, db):
    await sweep_on(bureau, clock, "2026-10-08")
    message, data = bureau.centres[0].find_button("填报")
    for outsider in (bureau.other, bureau.official, bureau.leader):
        answer = await outsider.press_data(outsider.inbox[-1], data)
        assert "未找到该月报" in answer[-1], answer
    answer = await bureau.official.send("/campaigns")
    assert "无权" in answer[-1] or "权限" in answer[-1], answer
    answer = await bureau.centres[0].send("/campaigns new")
    assert "无权" in answer[-1] or "权限" in answer[-1], answer
    assert db.count("monthly_reports") == 0


async def test_a_bad_definition_names_every_problem_and_creates_nothing(sandbox, leader, db):
    await leader.send("/campaigns new")
    bad = (
        'code = "x"\ntitle = "测试月报"\n[[fields]]\nlabel = "投资额"\nkind = "数字"\n'
        'min = 10\nmax = 1\n[[fields]]\nlabel = "进度"\nkind = "选项"\n'
    ).encode()
    answer = await leader.send_document("bad.toml", content=bad)
    assert "月报表单定义有误" in answer[-1]
    assert "最小值 10 大于最大值 1" in answer[-1] and "没有列出选项" in answer[-1]
    answer = await leader.send_document("form.pdf", content=b"%PDF-1.4")
    assert "无法读取表单定义文件" in answer[-1]
    assert db.count("campaigns") == 0


async def test_files_given_in_a_report_reach_the_leader(bureau, clock, db):
    await sweep_on(bureau, clock, "2026-10-08")
    person = bureau.centres[2]
    await fill(person, GOOD[:5], submit=False)
    await person.send_document("机房现场.jpg")
    kept = await person.send_document("进度照片.pdf")
    assert "已收到附件 2 个" in kept[-1]
    review = await person.press("附件已发送完毕")
    assert "6. 现场照片：机房现场.jpg, 进度照片.pdf" in review[-1]
    await person.press("提交")
    await bureau.leader.send("/campaigns")
    await bureau.leader.press("第1项 报送情况")
    name = DATA_CENTRES[2][0][:20]
    before = len(bureau.box.api.resent)
    await bureau.leader.press(f"附件：{name}")
    resent = bureau.box.api.resent[before:]
    assert [r[1] for r in resent] == ["document", "document"]
    assert "现场照片（1/2）：机房现场.jpg" in resent[0][3]
    # anyone else pressing it: unknown
    message, data = bureau.leader.find_button(f"附件：{name}")
    refused = await person.press_data(person.inbox[-1], data)
    assert "未找到该月报" in refused[-1]


async def test_what_a_leader_is_told_of_a_campaign_and_its_months(bureau, clock, db):
    await bureau.leader.send("/campaigns new")
    taken = await bureau.leader.send_document("again.toml", content=DEFINITION.read_bytes())
    assert "已有月报在用" in taken[-1]  # said at the first step, not the last
    await bureau.leader.send("/cancel")
    await bureau.leader.send("/enterprises import")  # the fourth data centre, not registered
    tagged = [(DATA_CENTRES[3][0], DATA_CENTRES[3][1], "", "", "", "数据中心", "")]
    await bureau.leader.send_document("名录.csv", content=csv_of(tagged))
    await bureau.leader.send("/campaigns")
    ahead = await bureau.leader.press("第1项 报送情况")
    assert "未开始，2026-10-08 通知填报" in ahead[-1]
    assert "名录中另有 1 家企业尚未在本平台注册" in ahead[-1]  # the fourth data centre
    await sweep_on(bureau, clock, "2026-10-08")
    person = bureau.centres[0]
    await fill(person, ["1200", "3500", "按钮:机电安装", "120", "无"], submit=False)
    await person.send_photo(caption="机房东侧")
    review = await person.press("附件已发送完毕")
    assert "5. 存在问题：无" in review[-1] and "6. 现场照片：机房东侧" in review[-1]
    await person.press("提交")
    clock.set(at("2026-10-20"))
    await bureau.leader.send("/campaigns")
    closed = await bureau.leader.press("第1项 报送情况")
    assert "（已截止，截止 2026-10-13）" in closed[-1]
    await bureau.leader.press("汇总表（XLSX）")
    _, _, content = bureau.box.api.documents[-1]
    history = load_workbook(io.BytesIO(content))["历月数据"]
    rows = [[c.value for c in r] for r in history.iter_rows(min_row=2)]
    assert sorted(r[-1] for r in rows) == ["按时", "未报", "未报"]  # the missing listed too
