"""A button of the flow that is active continues it: a choice still on screen after its step
(a category while the description is asked, a department while the transfer's reason is
asked, the registration summary while a field is corrected) is taken, not a way out."""

from __future__ import annotations

from tests.conftest import file_appeal

NEW_USCC = "91420700MA4F0A1G22"
DESCRIPTION = "扩建冷链仓库需流动资金约800万元，申请融资担保对接。"


async def test_the_category_typed_then_its_button_pressed_keeps_the_draft(sandbox, people, db):
    company = people.company
    await company.send("/new")
    asked = await company.send("融资")
    assert asked[-1].startswith("类别：融资"), asked
    answer = await company.press("融资")  # the button still under /new's first message
    assert not any("已退出" in a or "已结束" in a for a in answer), answer
    assert answer[-1].startswith("类别：融资（办理时限"), answer
    await company.send(DESCRIPTION)
    filed = await company.press("提交")
    assert filed[-1].startswith("诉求已提交"), filed
    assert db.one("SELECT category FROM appeals")["category"] == "融资"


async def test_another_category_pressed_at_the_description_changes_it(sandbox, people, db):
    company = people.company
    await company.send("/new")
    await company.press("融资")
    answer = await company.press("法务")
    assert answer[-1].startswith("类别：法务"), answer
    await company.send(DESCRIPTION)
    await company.press("提交")
    assert db.one("SELECT category FROM appeals")["category"] == "法务"


async def test_a_category_pressed_at_the_summary_keeps_text_and_files(sandbox, people, db):
    company = people.company
    await company.send("/new")
    await company.press("融资")
    await company.send(DESCRIPTION)
    await company.send_photo()
    answer = await company.press("法务")
    assert answer[0].startswith("类别已改为“法务”（办理时限") and "内容和附件保留" in answer[0]
    assert "类别：法务" in answer[-1] and "附件：1 个" in answer[-1], answer
    assert DESCRIPTION in answer[-1]
    await company.press("提交")
    appeal = db.one("SELECT id, category, description FROM appeals")
    assert (appeal["category"], appeal["description"]) == ("法务", DESCRIPTION)
    assert db.count("attachments") == 1


async def test_a_department_pressed_while_the_reason_is_asked_changes_it(sandbox, people, db):
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await p.official.press("转办", containing=number)
    asked = await p.official.send("中小企业科")  # typed by name
    assert "转办至 中小企业科" in asked[-1], asked
    answer = await p.official.press("市人社局")  # the buttons are still there
    assert not any("已退出" in a for a in answer), answer
    assert "转办至 市人社局" in answer[-1], answer
    await p.official.send("属用工类诉求。")
    row = db.one(
        "SELECT d.code FROM appeals a JOIN departments d ON d.id = a.department_id"
        " WHERE a.number = ?",
        number,
    )
    assert row["code"] == "rsj"


async def test_a_department_button_at_another_prompt_is_still_a_way_out(sandbox, people, db):
    """Only the flow that offered the buttons continues: at a reply's prompt an old
    department button leaves it, as any other button does, and nothing is sent."""
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await p.official.press("转办", containing=number)
    await p.official.send("/cancel")
    await p.official.press("回复", containing=number)
    answer = await p.official.press("市人社局")
    assert answer[0] == f"已退出对 {number} 的回复，未发送。", answer
    assert db.rows("SELECT * FROM appeal_messages") == []


async def test_the_summary_buttons_work_while_a_field_is_corrected(sandbox, people, db):
    newcomer = sandbox.person(30009, "孙会计")
    await newcomer.send("/start")
    await newcomer.send("鄂州市新港物流有限公司")
    await newcomer.send(NEW_USCC)
    await newcomer.send("孙会计")
    summary = await newcomer.send("13907110009")
    assert "请核对登记信息" in summary[-1], summary
    await newcomer.press("修改企业名称")
    answer = await newcomer.press("修改联系人")  # changed their mind: the other field
    assert not any("已退出" in a for a in answer), answer
    assert "联系人" in answer[-1], answer
    await newcomer.send("孙晓")
    answer = await newcomer.press("修改企业名称")
    answer = await newcomer.press("确认登记")  # the name stays as it was
    assert answer[-1].startswith("登记成功"), answer
    assert "鄂州市新港物流有限公司" in answer[-1] and "孙晓" in answer[-1]
    stored = db.one("SELECT name, contact_name FROM enterprises WHERE uscc = ?", NEW_USCC)
    assert stored == {"name": "鄂州市新港物流有限公司", "contact_name": "孙晓"}
