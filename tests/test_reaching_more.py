"""More of reaching enterprises, as people use it: a broadcast's files follow its text; a
月报 defined from a spreadsheet; the roster through the command line; a broadcast list of
USCCs uploaded as a file."""

from __future__ import annotations

import io

from openpyxl import Workbook, load_workbook

from bot.cli import main
from handlers.jobs import deliver_notices
from tests.conftest import database_env, join, register, url_of
from tests.test_directory import DATA_CENTRES, HEADER, csv_of


async def test_a_broadcasts_files_follow_its_text_to_each_contact(sandbox, leader, db):
    person = sandbox.person(31001, "刘工")
    await register(person, DATA_CENTRES[0][0], DATA_CENTRES[0][1])
    await leader.send("/broadcast")
    await leader.send("关于开展2026年度专精特新企业申报的通知")
    await leader.press("惠企政策")
    await leader.send("请符合条件的企业对照附件中的申报指南准备材料，于4月30日前申报。")
    kept = await leader.send_document("申报指南.pdf")
    assert "已添加附件 1/5" in kept[-1]
    await leader.send_document("申报表.xlsx")
    await leader.press("附件已添加完毕")
    preview = await leader.press("全部企业")
    assert "附件：2 个" in preview[-1] and "将发给 1 位联络员" in preview[-1]
    await leader.press("立即发送")
    await deliver_notices(sandbox.app.bot, sandbox.env)
    got = [m for m in person.inbox if m.chat_id == person.id]
    texts = [m.plain for m in got]
    assert any("附件 2 个随后发送" in t for t in texts)
    resent = [r for r in sandbox.api.resent if r[0] == person.id]  # by Telegram's file ids
    assert [r[1] for r in resent] == ["document", "document"]
    assert (
        "申报指南.pdf" in resent[0][3]
        and "宣贯《关于开展2026年度专精特新企业申报的通知》" in resent[0][3]
    )
    assert db.count("broadcast_files") == 2


async def test_a_uscc_list_uploaded_as_a_file_names_its_audience(sandbox, leader, db):
    people = []
    for n, (name, code, *_rest) in enumerate(DATA_CENTRES[:3]):
        person = sandbox.person(31001 + n, f"联络员{n}")
        await register(person, name, code)
        people.append(person)
    await leader.send("/broadcast")
    await leader.send("关于数据中心能耗监测的通知")
    await leader.press("数字经济")
    await leader.send("请名单内企业于本月底前接入能耗在线监测平台。")
    await leader.press("无附件")
    await leader.press("上传信用代码名单")
    wrong = await leader.send(f"{DATA_CENTRES[0][1]}\n91420700MA0000001X")
    assert "有 1 个信用代码不正确" in wrong[-1]
    book = Workbook()
    book.active.append(["统一社会信用代码"])
    book.active.append([DATA_CENTRES[0][1]])
    book.active.append([DATA_CENTRES[2][1]])
    buffer = io.BytesIO()
    book.save(buffer)
    preview = await leader.send_document("名单.xlsx", content=buffer.getvalue())
    assert "信用代码名单（2 家）" in preview[-1] and "将发给 2 位联络员" in preview[-1]
    await leader.press("立即发送")
    await deliver_notices(sandbox.app.bot, sandbox.env)
    reached = [p for p in people if any("【政策宣贯】" in m.plain for m in p.inbox)]
    assert reached == [people[0], people[2]]


async def test_a_monthly_report_defined_in_a_spreadsheet(sandbox, leader, db):
    book = Workbook()
    sheet = book.active
    sheet.append(["表名：软件和信息技术服务业月度统计"])
    sheet.append(["字段名称", "类型", "单位", "最小值", "最大值", "选项", "必填", "说明"])
    sheet.append(["软件业务收入", "数字", "万元", 0, None, None, "是", "本月累计"])
    sheet.append(["从业人数", "数字", "人", 0, 100000, None, "是", None])
    sheet.append(["经营状况", "选项", None, None, None, "良好、一般、困难", "是", None])
    sheet.append(["备注", "文本", None, None, None, None, "否", None])
    buffer = io.BytesIO()
    book.save(buffer)
    await leader.send("/campaigns new")
    read = await leader.send_document("software_monthly.xlsx", content=buffer.getvalue())
    assert "已读取表单《软件和信息技术服务业月度统计》（代码 software_monthly）" in read[-2]
    assert "软件业务收入、从业人数、经营状况、备注" in read[-2]
    bad = Workbook()
    bad.active.append(["字段名称", "类型"])
    bad.active.append(["收入", "金额"])
    buffer = io.BytesIO()
    bad.save(buffer)
    await leader.send("/campaigns new")
    refused = await leader.send_document("bad_monthly.xlsx", content=buffer.getvalue())
    assert "月报表单定义有误" in refused[-1] and "第 2 行" in refused[-1]
    assert db.count("campaigns") == 0


def test_the_roster_through_the_command_line(settings, tmp_path, monkeypatch, capsys, db):
    for name, value in database_env(url_of(settings)).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ADMIN_IDS", "900001")
    monkeypatch.chdir(tmp_path)
    assert main(["migrate", "apply"]) == 0
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_of([("坏公司", "123", "", "", "", "", "")]))
    assert main(["enterprises", "import", str(bad)]) == 1
    out, err = capsys.readouterr()
    assert "row 2:" in out and "nothing imported, 1 problem(s)" in err
    good = tmp_path / "roster.csv"
    good.write_bytes(csv_of(DATA_CENTRES).decode().encode("gb18030"))  # as Excel saves it
    assert main(["enterprises", "import", str(good)]) == 0
    out, _ = capsys.readouterr()
    assert "新增 4 家" in out
    assert db.count("directory") == 4
    target = tmp_path / "out.xlsx"
    assert main(["enterprises", "export", str(target)]) == 0
    rows = list(load_workbook(target).active.iter_rows(values_only=True))
    assert list(rows[0][:7]) == HEADER.split(",") and len(rows) == 5


async def test_roster_baobao_names_an_official_who_joins_later(sandbox, leader, db):
    """The roster's 包保人 not yet joined is reported; importing again after they join
    gives the registered enterprise its 包保."""
    company = sandbox.person(31001, "刘工")
    await register(company, DATA_CENTRES[0][0], DATA_CENTRES[0][1])
    await leader.send("/enterprises import")
    first = await leader.send_document("名录.csv", content=csv_of(DATA_CENTRES[:1]))
    assert "包保人“李明”尚未加入" in first[-1]
    official = sandbox.person(20002, "李明")
    await join(official, leader, "jrj")
    await leader.send("/enterprises import")
    again = await leader.send_document("名录.csv", content=csv_of(DATA_CENTRES[:1]))
    assert "更新 1 家" in again[-1]
    row = db.one("SELECT baobao_user_id FROM enterprises WHERE uscc = ?", DATA_CENTRES[0][1])
    assert row["baobao_user_id"] == 20002


async def test_an_old_composer_button_never_loses_the_draft(sandbox, leader, db):
    person = sandbox.person(31001, "刘工")
    await register(person, DATA_CENTRES[0][0], DATA_CENTRES[0][1])
    await leader.send("/broadcast")
    await leader.send("关于开展数字化转型诊断服务的通知")
    await leader.press("数字经济")
    await leader.send("市经信局将组织专家为企业免费开展数字化转型诊断，请有意向的企业报名。")
    await leader.press("无附件")
    first = await leader.press("全部企业")
    preview, _ = leader.find_button("重新选择对象")
    await leader.press("重新选择对象")
    await leader.press("上传信用代码名单")
    # the earlier preview's 重新选择对象, and the topic button of step 2: the draft stays
    again = await leader.press_data(preview, "bcc:redo")  # back to choosing the audience
    assert not any("已退出政策宣贯编写" in a for a in again), again
    assert "请选择对象范围" in again[-1]
    old_topic, data = leader.find_button("数字经济")
    stale = await leader.press_data(old_topic, data)
    assert not any("已退出" in a or "已结束" in a for a in stale), stale
    await leader.press("上传信用代码名单")
    listed = await leader.send(f"{DATA_CENTRES[0][1]}\n{DATA_CENTRES[1][1]}")
    assert "信用代码名单（2 家）" in listed[-1] and "有 1 个信用代码不在企业名录中" in listed[-1]
    await leader.press("立即发送")
    assert db.count("broadcasts") == 1 and "将发给 1 位联络员" in first[-1]


async def test_read_and_ask_only_by_those_it_reached_and_a_cancel_said_once(sandbox, leader, db):
    reached = sandbox.person(31001, "刘工")
    blocked = sandbox.person(31002, "孙经理")
    await register(reached, DATA_CENTRES[0][0], DATA_CENTRES[0][1])
    await register(blocked, DATA_CENTRES[1][0], DATA_CENTRES[1][1])
    sandbox.api.fail_chat(blocked.id, 403, "Forbidden: bot was blocked by the user")
    await leader.send("/broadcast")
    await leader.send("关于2026年度技改项目申报的通知")
    await leader.press("产业政策")
    await leader.send("请有技改计划的企业于5月前报送项目清单，逾期不再受理。")
    await leader.press("无附件")
    await leader.press("全部企业")
    await leader.press("立即发送")
    await deliver_notices(sandbox.app.bot, sandbox.env)
    broadcast = db.one("SELECT id FROM broadcasts")["id"]
    sandbox.api.chat_failures.pop(blocked.id, None)
    forged = await blocked.press_data(blocked.inbox[-1], f"bc:{broadcast}:read")
    assert "未找到该政策宣贯" in forged[-1]
    assert db.one("SELECT COUNT(read_at) AS n FROM broadcast_recipients")["n"] == 0
    await leader.send("/broadcast list")
    await leader.press("第1条 查看进度")
    first = await leader.press("取消发送") if leader.find_button("取消发送") else None
    assert first is not None
    again = await leader.press("取消发送")
    assert "无需重复操作" in again[-1] or "已发送完毕" in again[-1]
