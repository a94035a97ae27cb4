"""User stories of the appeal lifecycle, driven through the real handlers."""

from __future__ import annotations

from datetime import date, timedelta

from tests.conftest import COMPANY_USCC, file_appeal


async def test_enterprise_files_official_claims_replies_closes_and_enterprise_rates(
    sandbox, people, db
):
    p = people
    await p.company.send("/new")
    categories = [label for label, _ in p.company.inbox[-1].buttons]
    assert categories == ["用工(引才)", "融资", "综合服务", "法务", "政策宣贯", "营商环境"]
    await p.company.press("融资")
    assert "10 个工作日" in p.company.last
    await p.company.send("扩建冷链仓库需流动资金约800万元，申请对接政府性融资担保。")
    await p.company.send_photo()
    await p.company.send_document("可研报告.pdf")
    assert "共 2 个" in p.company.last
    head_mark, official_mark = p.head.mark(), p.official.mark()
    answer = await p.company.press("提交")

    # Tuesday 2026-03-10 + 10 working days = 2026-03-24; claim by the next working day.
    assert answer == [
        "诉求已提交。\n编号：SQ-2026-000001\n类别：融资\n承办单位：市地方金融管理局\n"
        "办理时限：10 个工作日，应于 2026-03-24 前办结。\n发送 /view SQ-2026-000001 查看进展。"
    ]
    for person, mark in ((p.head, head_mark), (p.official, official_mark)):
        # the notice, then the two files it brings (sent again by their file ids)
        notice, *files = person.since(mark)
        assert notice.startswith("新诉求 SQ-2026-000001（融资）")
        assert "请于 2026-03-11 前签收" in notice
        assert files == [
            "诉求 SQ-2026-000001 附件 1/2",
            "诉求 SQ-2026-000001 附件 2/2：可研报告.pdf",
        ]
    assert p.outsider.since(0)[-1].startswith("欢迎加入")  # other departments hear nothing
    row = db.appeal("SQ-2026-000001")
    assert (row.state, row.due_date, row.claim_due_date) == (
        "pending",
        date(2026, 3, 24),
        date(2026, 3, 11),
    )
    assert db.count("attachments") == 2

    mark = p.company.mark()
    answer = await p.official.press("签收")
    assert answer[0] == "您已签收诉求 SQ-2026-000001，办结期限 2026-03-24。"
    assert [label for label, _ in p.official.inbox[-1].buttons] == [
        "回复",
        "备注",
        "转办",
        "办结",
        "延期",
    ]
    assert p.company.since(mark) == [
        "您的诉求 SQ-2026-000001 已由 市地方金融管理局 李明 签收办理，办结期限 2026-03-24。"
    ]

    await p.official.press("备注")
    await p.official.send("需企业补充近两年财务报表（内部）。")
    await p.official.press("回复")
    await p.official.send("已对接市融资担保公司，请下周二携财务报表洽谈。")
    assert p.company.last == (
        "诉求 SQ-2026-000001 有新回复（市地方金融管理局）：\n"
        "已对接市融资担保公司，请下周二携财务报表洽谈。"
    )
    assert not any("内部" in text for text in p.company.since(0))

    await p.official.press("办结")
    await p.official.send("担保公司同意提供800万元担保。")
    assert "已办结" in p.company.last
    assert "请对办理结果进行评价（2026-03-13 前有效）" in p.company.last
    assert [label for label, _ in p.company.inbox[-1].buttons] == ["满意", "基本满意", "不满意"]

    await p.company.press("满意")
    assert "满意" in p.official.last and "SQ-2026-000001" in p.official.last
    assert "满意" in p.head.last
    await p.company.send("对接及时，感谢！")
    assert p.official.last == "诉求 SQ-2026-000001 企业评价意见：对接及时，感谢！"

    row = db.appeal("SQ-2026-000001")
    assert (row.state, row.rating, row.owner_id) == ("rated", "satisfied", p.official.id)
    assert row.resolution == "担保公司同意提供800万元担保。"
    assert db.events("SQ-2026-000001") == [
        ("file", None, "pending", p.company.id),
        ("claim", "pending", "in_progress", p.official.id),
        ("note", "in_progress", "in_progress", p.official.id),
        ("reply", "in_progress", "in_progress", p.official.id),
        ("close", "in_progress", "closed", p.official.id),
        ("rate", "closed", "rated", p.company.id),
        ("rating_comment", "rated", "rated", p.company.id),
    ]
    kinds = [m["kind"] for m in db.rows("SELECT kind FROM appeal_messages ORDER BY id")]
    assert kinds == ["note", "reply", "rating_comment"]


async def test_enterprise_view_hides_internal_notes_and_history(sandbox, people):
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收")
    await p.official.press("备注")
    await p.official.send("企业征信有瑕疵，内部掌握。")
    await p.official.press("回复")
    await p.official.send("请补充财务报表。")

    [card] = await p.company.send(f"/view {number}")
    assert "请补充财务报表。" in card
    assert "征信" not in card and "办理记录" not in card
    [staff_card] = await p.head.send(f"/view {number}")
    assert "企业征信有瑕疵，内部掌握。" in staff_card and "办理记录" in staff_card


async def test_transfer_moves_appeal_to_another_department_with_reason(sandbox, people, db):
    p = people
    number = await file_appeal(
        p.company, "综合服务", "急需招聘冷链物流操作工30名，请协助对接招聘会。"
    )
    assert (
        db.appeal(number).department_id
        == db.one("SELECT id FROM departments WHERE code = 'zxqy'")["id"]
    )
    await p.outsider.press("查看")
    await p.outsider.press("转办")
    departments = [label for label, _ in p.outsider.inbox[-1].buttons]
    assert "中小企业科" not in departments and "市地方金融管理局" in departments
    assert await p.outsider.send("金融局") == ["未找到该部门，请点击按钮选择，或输入部门全称。"]
    await p.outsider.send("市地方金融管理局")  # typed, as well as pressed
    head_mark, company_mark = p.head.mark(), p.company.mark()
    await p.outsider.send("属于融资类诉求，请金融局办理。")
    assert p.outsider.last == f"诉求 {number} 已转办至 市地方金融管理局。"
    [notice] = p.head.since(head_mark)
    assert notice.startswith(f"转办诉求 {number}") and "属于融资类诉求" in notice
    assert p.company.since(company_mark) == [f"您的诉求 {number} 已转至 市地方金融管理局 办理。"]

    row = db.appeal(number)
    assert row.state == "pending" and row.owner_id is None
    assert row.department_id == db.one("SELECT id FROM departments WHERE code='jrj'")["id"]
    assert db.events(number)[-1] == ("transfer", "pending", "pending", p.outsider.id)
    # the old department can no longer act on it; who sent it is told where it went
    answer = await p.outsider.send(f"/view {number}")
    assert answer == [
        f"诉求 {number} 已于 2026-03-10 10:00 由 赵敏 转办至 市地方金融管理局，不再由您办理。"
    ]
    await p.official.press("签收", containing=number)
    assert db.appeal(number).owner_id == p.official.id


async def test_dissatisfied_rating_reopens_with_new_deadline(sandbox, people, db, clock):
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收")
    await p.official.press("办结")
    await p.official.send("已电话告知。")
    clock.advance(timedelta(days=1))  # Wednesday 2026-03-11
    answer = await p.company.press("不满意")
    assert answer[0].startswith(f"已记录评价“不满意”，诉求 {number} 已重新交办")
    assert "2026-03-25" in answer[0]
    assert "已重办" in p.official.last and "已重办" in p.head.last
    await p.company.send("只电话告知，没有书面材料清单。")

    row = db.appeal(number)
    assert (row.state, row.rating, row.reopen_count) == ("in_progress", "dissatisfied", 1)
    assert row.due_date == date(2026, 3, 25)
    assert db.events(number)[-2][:3] == ("reopen", "closed", "in_progress")
    # the owner works on and closes again; the enterprise may rate again
    await p.official.press("办结", containing=number)
    await p.official.send("已书面提供申报材料清单并上门指导。")
    await p.company.press("基本满意")
    assert db.appeal(number).state == "rated"
    assert db.appeal(number).rating == "basic"


async def test_enterprise_supplements_and_withdraws(sandbox, people, db):
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收")
    await p.company.send(f"/view {number}")
    await p.company.press("补充")
    mark = p.official.mark()
    await p.company.send_photo(caption="补充土地证照片")
    assert p.official.since(mark)[0] == f"企业补充说明（诉求 {number}）：\n补充土地证照片"
    assert db.count("attachments") == 1

    await p.company.send(f"/view {number}")
    await p.company.press("撤回")
    await p.company.send("问题已通过其他渠道解决。")
    assert p.company.last == f"诉求 {number} 已撤回。"
    assert p.official.last == f"企业已撤回诉求 {number}。撤回原因：问题已通过其他渠道解决。"
    row = db.appeal(number)
    assert row.state == "withdrawn"
    assert db.events(number)[-1] == ("withdraw", "in_progress", "withdrawn", p.company.id)
    answer = await p.official.press("回复", containing=number)
    assert answer == [
        f"此按钮已失效：诉求 {number} 当前为“已撤回”（陈经理 于 2026-03-10 10:00 撤回）。"
        f"发送 /view {number} 查看最新情况。"
    ]


async def test_lists_for_each_role(sandbox, people, clock):
    p = people
    first = await file_appeal(p.company)
    second = await file_appeal(p.company, "综合服务", "申请协调园区道路维修，影响货车进出。")
    await file_appeal(p.rival, "法务", "合同纠纷需要法律咨询服务，请安排律师。")
    [mine] = await p.company.send("/my")
    assert first in mine and second in mine and "三和" not in mine
    [inbox] = await p.official.send("/inbox")
    assert first in inbox and second not in inbox
    [everything] = await p.leader.send("/inbox")
    assert first in everything and second in everything and "SQ-2026-000003" in everything
    assert await p.official.send("/overdue") == ["当前没有超期诉求。"]
    clock.advance(timedelta(days=20))
    [late] = await p.official.send("/overdue")
    assert first in late and "2026-03-24" in late


async def test_baobao_official_receives_the_enterprise_appeals_first(sandbox, people, db):
    p = people
    await p.leader.send(f"/baobao {COMPANY_USCC}")
    await p.leader.press("赵敏（中小企业科）")
    assert p.leader.last.startswith("已将 赵敏 设为 鄂州市泛亚食品有限公司 的包保责任人")
    head_mark = p.head.mark()
    number = await file_appeal(p.company, "融资")
    assert p.head.since(head_mark) == []  # routed to the 包保 official, not the department
    assert p.outsider.last.startswith(f"新诉求 {number}")
    row = db.appeal(number)
    assert row.assignee_id == p.outsider.id
    assert (
        '"route": "baobao"'
        in db.rows("SELECT detail FROM audit_events WHERE action='file'")[0]["detail"]
    )
    await p.outsider.press("签收")
    assert db.appeal(number).owner_id == p.outsider.id


async def test_appeal_numbers_are_gap_free_per_year(sandbox, people, clock):
    p = people
    numbers = [await file_appeal(p.company) for _ in range(3)]
    assert numbers == ["SQ-2026-000001", "SQ-2026-000002", "SQ-2026-000003"]
    clock.advance(timedelta(days=300))  # 2027
    assert await file_appeal(p.company) == "SQ-2027-000001"


async def sandbox_with_group(settings, org, clock, group_id: int):
    """A sandbox whose 市地方金融管理局 (jrj) has its group chat, an official who joined it
    and a registered enterprise; returns (sandbox, official, enterprise contact)."""
    from bot.sandbox.chat import Sandbox
    from tests.conftest import LEADER_ID, join, register

    departments = [
        d.model_copy(update={"chat_id": group_id}) if d.code == "jrj" else d
        for d in org.departments
    ]
    box = await Sandbox.start(settings, org.model_copy(update={"departments": departments}), clock)
    official = box.person(20002, "李明")
    company = box.person(30001, "陈经理")
    await join(official, box.person(LEADER_ID, "王局长"), "jrj")
    await register(company)
    return box, official, company


async def test_department_group_chat_gets_the_notice_and_members_claim_there(
    settings, org, clock, db
):
    group_id = -100777
    box, official, company = await sandbox_with_group(settings, org, clock, group_id)
    try:
        number = await file_appeal(company)
        [notice] = box.api.messages_to(group_id)
        assert notice.plain.startswith(f"新诉求 {number}")
        claim = dict(notice.buttons)["签收"]

        stranger = {"id": 55555, "is_bot": False, "first_name": "群里路人"}
        before = len(box.api.messages_to(group_id))
        await box.deliver(box.api.callback_update(stranger, notice, claim))
        # The refusal is a pop-up for the stranger alone; the group reads nothing.
        assert len(box.api.messages_to(group_id)) == before
        popup = [p for m, p in box.api.calls if m == "answerCallbackQuery"][-1]
        assert popup["text"] == "未找到该诉求，或您无权查看。" and popup["show_alert"]
        assert db.appeal(number).state == "pending"

        await box.deliver(box.api.callback_update(official.user, notice, claim))
        # Everybody in the group reads who claimed it.
        claimed = f"李明 已签收诉求 {number}，办结期限 {db.appeal(number).due_date}。"
        assert box.api.messages_to(group_id)[-1].plain == claimed
        assert db.appeal(number).owner_id == official.id
        # A second tap is answered to the presser alone: the group reads the line once.
        await box.deliver(box.api.callback_update(official.user, notice, claim))
        assert [m.plain for m in box.api.messages_to(group_id)].count(claimed) == 1
        popup = [p for m, p in box.api.calls if m == "answerCallbackQuery"][-1]
        assert popup["text"] == claimed
    finally:
        await box.stop()


async def test_a_group_that_missed_three_notices_gets_one_list_and_claims_from_it(
    settings, org, clock, db
):
    """Telegram refused the department group's messages for a while: the three new appeals
    reach it as one list, and a member's 签收 ② there claims the second, named to all."""
    from handlers import courier

    group_id = -100778
    box, official, company = await sandbox_with_group(settings, org, clock, group_id)
    try:
        box.api.fail_chat(group_id, 502, "Bad Gateway")
        numbers = [
            await file_appeal(company, "融资", f"第{n}件：申请应急转贷资金{n}00万元。")
            for n in (1, 2, 3)
        ]
        box.api.chat_failures.clear()
        clock.advance(timedelta(seconds=60))
        await courier.drain(box.app.bot, box.env)
        [listing] = box.api.messages_to(group_id)
        assert listing.plain.startswith("新通知 3 条（第 1–3 条）")
        claim = dict(listing.buttons)["签收 ②"]
        await box.deliver(box.api.callback_update(official.user, listing, claim))
        assert box.api.messages_to(group_id)[-1].plain == (
            f"李明 已签收诉求 {numbers[1]}，办结期限 {db.appeal(numbers[1]).due_date}。"
        )
        assert [db.appeal(n).owner_id for n in numbers] == [None, official.id, None]
    finally:
        await box.stop()
