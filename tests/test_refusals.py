"""Every refusal: a clear message, and nothing changed in the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.buttons import appeal_button
from tests.conftest import COMPANY_USCC, file_appeal, join


def snapshot(db) -> dict:
    tables = ["appeals", "appeal_messages", "attachments", "audit_events", "enterprises", "users"]
    return {t: db.rows(f"SELECT * FROM {t} ORDER BY 1") for t in tables}


async def submit_press(sandbox, person, category: str, text: str) -> dict:
    """Fills in /new up to the last step; returns the 提交 press as an update, not yet sent."""
    await person.send("/new")
    await person.press(category)
    await person.send(text)
    message, data = person.find_button("提交")
    return sandbox.api.callback_update(person.user, message, data)


async def forge(person, data: str) -> list[str]:
    """Press a button with data this person's client made up."""
    message = person.inbox[-1]
    return await person.press_data(message, data)


async def test_forged_buttons_on_other_departments_and_enterprises_change_nothing(
    sandbox, people, db
):
    p = people
    number = await file_appeal(p.company)
    appeal_id = db.appeal(number).id
    before = snapshot(db)

    assert await forge(p.outsider, appeal_button("claim", appeal_id, 1)) == [
        "未找到该诉求，或您无权查看。"
    ]
    assert await forge(p.rival, appeal_button("wd", appeal_id, 1)) == [
        "未找到该诉求，或您无权查看。"
    ]
    assert await forge(p.rival, appeal_button("view", appeal_id, 1)) == [
        "未找到该诉求，或您无权查看。"
    ]
    assert await forge(p.company, appeal_button("claim", appeal_id, 1)) == [
        "您没有权限执行此操作。"
    ]
    assert await forge(p.official, appeal_button("reply", 999999, 1)) == [
        "未找到该诉求，或您无权查看。"
    ]
    # unreadable ids and ids out of the actor's scope read like unknown ids
    assert await forge(p.official, "claim:abc:1") == ["未找到该诉求，或您无权查看。"]
    assert await forge(p.official, "rate:1:1:zz") == ["未找到该诉求，或您无权查看。"]
    assert await forge(p.rival, "bb:1:20002") == ["未找到该企业或工作人员，或您无权指派包保。"]
    assert await forge(p.official, "invr:jrj:h") == ["未找到该部门，请核对后重新输入。"]
    assert await forge(p.official, "nonsense") == [
        "此按钮已失效，请重新操作。发送 /help 查看可用功能。"
    ]
    assert snapshot(db) == before


async def test_stale_button_after_state_change_is_refused(sandbox, people, db):
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收")
    before = snapshot(db)
    answer = await p.head.press("签收", containing=number)
    assert answer == [  # names what the appeal is now and who acted
        f"诉求 {number} 已是“办理中”：李明 已于 2026-03-10 10:00 签收。"
        f"发送 /view {number} 查看最新情况。"
    ]
    assert snapshot(db) == before


async def test_only_the_owner_or_head_may_reply_once_claimed(sandbox, people, db):
    p = people
    colleague = sandbox.person(20009, "钱进")
    await join(colleague, p.leader, "jrj")
    number = await file_appeal(p.company)
    await p.official.press("签收")
    appeal_id = db.appeal(number).id
    before = snapshot(db)
    answer = await forge(colleague, appeal_button("reply", appeal_id, 2))
    assert answer == [f"诉求 {number} 不由您办理，无法执行此操作。"]
    assert snapshot(db) == before
    await p.head.send(f"/view {number}")
    await p.head.press("回复")
    await p.head.send("科室负责人补充答复：担保费率可优惠。")
    assert "担保费率可优惠" in p.company.last


@pytest.mark.parametrize(
    ("who", "command", "expected"),
    [
        ("company", "/inbox", "您没有权限执行此操作。"),
        ("company", "/invite jrj", "您没有权限执行此操作。"),
        ("official", "/new", "您没有权限执行此操作。"),
        ("official", "/my", "您没有权限执行此操作。"),
        ("official", "/baobao 91350100M000100Y43", "您没有权限执行此操作。"),
        ("stranger", "/new", "您尚未登记企业信息，请先发送 /start 完成登记。"),
        ("stranger", "/my", "您尚未登记企业信息，请先发送 /start 完成登记。"),
        ("stranger", "/inbox", "您没有权限执行此操作。"),
        ("rival", "/view SQ-2026-000001", "未找到该诉求，或您无权查看。"),
        ("outsider", "/view SQ-2026-000001", "未找到该诉求，或您无权查看。"),
        ("company", "/view SQ-2026-999999", "未找到该诉求，或您无权查看。"),
        ("company", "/view 1 OR 1=1", "未找到该诉求，或您无权查看。"),
        ("company", "/frobnicate", "无法识别的指令。发送 /help 查看可用功能。"),
        ("company", "/cancel", "当前没有进行中的操作。"),
    ],
)
async def test_commands_out_of_role(sandbox, people, db, who, command, expected):
    await file_appeal(people.company)
    person = sandbox.person(40404, "路人") if who == "stranger" else getattr(people, who)
    before = snapshot(db)
    assert await person.send(command) == [expected]
    assert snapshot(db) == before


async def test_registration_rejects_bad_input_and_keeps_asking(sandbox, db):
    person = sandbox.person(50001, "孙总")
    await person.send("/start")
    assert await person.send("  ") == ["企业名称不能为空，请重新输入。"]
    assert await person.send("你好") == [
        "这看起来是问候语，不是企业名称。请输入营业执照上的企业全称。"
    ]
    await person.send("鄂州市晨风轨道交通有限公司")
    says = {
        "12345": "统一社会信用代码应为 18 位，您输入了 5 位，请核对后重新输入。",
        "91350100M000100Y44": "统一社会信用代码第 18 位（校验位）与前 17 位不符，"
        "可能有一位输错，请逐位核对后重新输入。",
        "01350100M000100Y4X": "统一社会信用代码第 1 位应为 1–9 或 A、N、Y，请核对后重新输入。",
        "91350100M000100I43": "统一社会信用代码只含数字和大写字母（不含 I、O、Z、S、V），"
        "请核对后重新输入。",
    }
    for bad, answer in says.items():
        assert await person.send(bad) == [answer]
    await person.send("n2440300mj0000001l")  # lower case is accepted and normalised
    await person.send("孙")
    assert person.last == "联系人姓名至少需要 2 个字，请补充后重新发送。"
    assert await person.send("N2440300MJ0000001L") == [
        "联系人姓名不应含数字（信用代码或电话请在对应步骤填写），请输入联系人姓名。"
    ]
    await person.send("孙晨风")
    assert await person.send("12345") == [
        "联系电话“12345”格式不正确：请填写 11 位手机号（如 138 0013 8000）、带区号的座机（如 027-8888 6666，分机写作 027-8888 6666 转 8001）或 400/800 客服号码。"
    ]
    assert db.count("enterprises") == 0
    await person.send("027-87654321")
    assert db.count("enterprises") == 0  # not before 确认登记
    await person.press("确认登记")
    ent = db.one("SELECT * FROM enterprises")
    assert (ent["uscc"], ent["phone"]) == ("N2440300MJ0000001L", "027-87654321")


async def test_registration_refuses_a_taken_code_and_a_second_registration(sandbox, people, db):
    stranger = sandbox.person(50002, "冒名者")
    await stranger.send("/start")
    await stranger.send("冒名公司")
    # refused at the code step, naming who registered it (phone masked)
    assert await stranger.send(COMPANY_USCC) == [
        "该统一社会信用代码已由“鄂州市泛亚食品有限公司”登记，联系人 陈经理（139****0000）。"
        "如您也是该企业的联系人，请与 陈经理 或管理员联系；如代码输错，请重新输入。"
    ]
    assert await stranger.send("冒名者") == [
        "统一社会信用代码应为 18 位，您输入了 3 位，请核对后重新输入。"
    ]  # still at the code step
    assert db.count("enterprises") == 2
    assert await people.company.send("/start") == [
        "您好，陈经理（企业联络员）。发送 /help 查看可用功能。"
    ]


async def test_cancel_leaves_filing_without_an_appeal(sandbox, people, db):
    p = people
    await p.company.send("/new")
    await p.company.press("融资")
    assert await p.company.send("太短") == ["诉求内容至少需要 10 个字，请补充后重新发送。"]
    assert await p.company.send("长" * 2001) == [
        "诉求内容不能超过 2000 个字（当前过长），请精简后重新发送。"
    ]
    await p.company.send("申请协调园区道路维修，影响货车进出。")
    assert await p.company.send("/cancel") == ["已退出提交新诉求，草稿未提交。"]
    assert db.count("appeals") == 0
    assert db.count("conversations") == 0
    # the old 提交 button now does nothing
    assert await p.company.press("提交") == ["该草稿已结束或已失效，请重新发送 /new 提交诉求。"]
    assert db.count("appeals") == 0


async def test_unknown_category_typed_is_refused(sandbox, people, db):
    await people.company.send("/new")
    answer = await people.company.send("房地产")
    assert answer == ["未找到该类别，请点击下方按钮选择诉求类别。"]
    await people.company.send("融资")
    assert "请用一条消息描述您的诉求" in people.company.last


async def test_invites_are_single_use_and_expire(sandbox, people, db, clock):
    p = people
    await p.leader.send("/invite jrj")
    code = p.leader.last.split("?start=")[1].split()[0]
    assert "https://t.me/AppealDeskBot?start=" in p.leader.last
    first = sandbox.person(60001, "新人甲")
    second = sandbox.person(60002, "新人乙")
    assert (await first.send(f"/start {code}"))[0].startswith("欢迎加入")
    assert await second.send(f"/start {code}") == [
        "邀请链接无效：该链接已于 2026-03-10 10:00 由 新人甲 使用。请向管理员索取新的邀请链接。"
    ]
    await p.leader.send("/invite jrj")
    late_code = p.leader.last.split("?start=")[1].split()[0]
    clock.advance(timedelta(hours=73))
    assert await second.send(f"/start {late_code}") == [
        "邀请链接无效：该链接已过期。请向管理员索取新的邀请链接。"
    ]
    assert await second.send("/start forged-code") == [
        "邀请链接无效：该链接不存在。请向管理员索取新的邀请链接。"
    ]
    await p.leader.send("/invite nosuchdept")
    assert p.leader.last == "未找到该部门，请核对后重新输入。"
    assert db.rows("SELECT role FROM users WHERE tg_id = ?", second.id) == []
    # an enterprise contact cannot turn themselves into an official
    await p.leader.send("/invite jrj")
    code = p.leader.last.split("?start=")[1].split()[0]
    assert await p.company.send(f"/start {code}") == ["您没有权限执行此操作。"]
    assert db.one("SELECT role FROM users WHERE tg_id = ?", p.company.id)["role"] == "enterprise"


async def test_rating_after_the_window_counts_as_unrated(sandbox, people, db, clock):
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收")
    await p.official.press("办结")
    await p.official.send("已办结。")
    clock.advance(timedelta(days=7))  # past 3 working days
    answer = await p.company.press("满意")
    assert answer == [f"诉求 {number} 的评价期限已过，已记为“未评价”。"]
    assert db.appeal(number).rating is None


async def test_user_text_is_escaped_in_every_message(sandbox, people, db):
    p = people
    hostile = "<b>加急</b> & <a href='http://x'>点此</a> 申请贷款贴息政策"
    number = await file_appeal(p.company, text=hostile)
    sent = [m.text for m in sandbox.api.sent if number in m.plain and "新诉求" in m.plain]
    assert sent and all(
        "&lt;b&gt;加急&lt;/b&gt; &amp; &lt;a href='http://x'&gt;" in s for s in sent
    )
    assert db.appeal(number).description == hostile  # stored as typed
    await p.official.press("签收")
    await p.official.press("回复")
    await p.official.send("<script>alert(1)</script>")
    assert "&lt;script&gt;" in p.company.inbox[-1].text


async def test_a_redelivered_update_creates_nothing_twice(sandbox, people, db):
    """Telegram re-sends an update whose offset was not confirmed before a crash."""
    p = people
    update = await submit_press(
        sandbox, p.company, "融资", "申请对接政府性融资担保和银行信贷支持。"
    )
    await sandbox.deliver(update)
    await sandbox.deliver(update)  # the same update again
    assert db.count("appeals") == 1
    filed = [a for a in p.company.since(0) if a.startswith("诉求已提交")]
    assert len(filed) == 1
    number = db.rows("SELECT number FROM appeals")[0]["number"]
    # The second answer names the appeal already filed instead of an error.
    assert (
        p.company.last
        == f"该诉求已提交，编号 {number}，无需重复提交。发送 /view {number} 查看进展。"
    )
    assert sum(1 for e in db.rows("SELECT action FROM audit_events") if e["action"] == "file") == 1

    claim_message, claim_data = p.official.find_button("签收")
    claim = sandbox.api.callback_update(p.official.user, claim_message, claim_data)
    await sandbox.deliver(claim)
    await sandbox.deliver(claim)
    assert [e[0] for e in db.events("SQ-2026-000001")] == ["file", "claim"]

    await p.official.press("回复")
    reply = sandbox.api.message_update(p.official.user, "请补充财务报表。")
    await sandbox.deliver(reply)
    await sandbox.deliver(reply)
    assert db.count("appeal_messages") == 1
    assert [e[0] for e in db.events("SQ-2026-000001")] == ["file", "claim", "reply"]


async def test_group_chat_cannot_be_used_to_register(sandbox, db):
    person = sandbox.person(70001, "群成员")
    update = sandbox.api.message_update(person.user, "/start", chat_id=-100123)
    await sandbox.deliver(update)
    assert sandbox.api.messages_to(-100123)[-1].plain.startswith("请在私聊中使用")
    assert db.count("users") == 0


async def test_an_update_id_reused_after_a_day_is_a_new_update(sandbox, people, db, clock):
    """Telegram may reuse update ids after a quiet week; only a 24-hour window counts."""
    p = people
    update = await submit_press(
        sandbox, p.company, "融资", "申请对接政府性融资担保和银行信贷支持。"
    )
    await sandbox.deliver(update)
    clock.advance(timedelta(days=8))
    reused = await submit_press(
        sandbox, p.company, "法务", "合同纠纷需要法律咨询服务，请安排律师。"
    )
    reused["update_id"] = update["update_id"]
    await sandbox.deliver(reused)
    assert [a["category"] for a in db.rows("SELECT category FROM appeals ORDER BY id")] == [
        "融资",
        "法务",
    ]


async def test_transfer_to_the_same_department_is_refused(sandbox, people, db):
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收")
    await p.official.press("转办")
    before = snapshot(db)
    # refused when chosen (the department step stays open), not after the reason is typed
    assert await forge(p.official, "dept:jrj") == ["所选部门就是当前承办单位，请选择其他部门。"]
    assert await p.official.send("市地方金融管理局") == [
        "所选部门就是当前承办单位，请选择其他部门。"
    ]
    assert snapshot(db) == before
    assert db.appeal(number).state == "in_progress"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("13800138000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138.0013.8000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("86-13800138000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("027-88886666", "027-88886666"),
        ("027-8888 6666", "027-88886666"),
        ("(027) 8888-6666", "027-88886666"),
        ("（027）88886666", "027-88886666"),
        ("0711 3456789", "0711-3456789"),
        ("02788886666", "027-88886666"),
        ("0278-8886666", "027-88886666"),
        ("+86 27 8888 6666", "027-88886666"),
        ("0086 (027) 8888-6666", "027-88886666"),
        ("010 1234 5678", "010-12345678"),
        ("07113456789", "0711-3456789"),
        ("0371-66661234", "0371-66661234"),
        # a switchboard's extension, and the nationwide service numbers companies publish
        ("027-88886666转8001", "027-88886666转8001"),
        ("027 8888 6666 分机 8001", "027-88886666转8001"),
        ("(027)88886666 ext. 12", "027-88886666转12"),
        ("0711-3456789 x 3", "0711-3456789转3"),
        ("0086 27 8888 6666 转 8001", "027-88886666转8001"),
        ("400-800-8888", "400-800-8888"),
        ("400 8008 888", "400-800-8888"),
        ("8008101234", "800-810-1234"),
    ],
)
def test_a_phone_number_is_read_with_the_separators_people_type(typed, stored):
    from bot.rules.checks import phone

    assert phone(typed) == stored


AREAS = ["010", "021", "027", "0371", "0716", "0991"]


@st.composite
def spelled_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """(a spelling a person may type, the number's one stored form): separators anywhere
    between digits, the area code in brackets, full-width digits, a country code."""
    if draw(st.booleans()):
        digits = draw(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
        stored, area = digits, ""
        prefix = draw(st.sampled_from(["", "+86", "+86 ", "86-", "0086 "]))
    else:
        area = draw(st.sampled_from(AREAS))
        shape = r"[2-8][0-9]{7}" if len(area) == 3 else r"[2-8][0-9]{6,7}"
        local = draw(st.from_regex(shape, fullmatch=True))
        digits, stored = area + local, f"{area}-{local}"
        prefix = draw(st.sampled_from(["", "+86 ", "0086-"]))
        if prefix:
            digits = digits[1:]  # +86 27 8888 6666: the area code without its 0
    separators = st.sampled_from(["", "", " ", "-", ".", " - ", "　", "－"])

    def spelled(part: str) -> str:
        return "".join(c + draw(separators) for c in part[:-1]) + part[-1]

    if area and not prefix and draw(st.booleans()):  # (027) 8888 6666
        text = f"({area}){draw(separators)}{spelled(digits[len(area) :])}"
    else:
        text = spelled(digits)
    if draw(st.booleans()):
        text = text.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})  # full width
    return f"{prefix}{text}", stored


@pytest.mark.parametrize(
    ("stored", "masked"),
    [
        ("13907110000", "139****0000"),
        ("027-88886666", "027-****6666"),
        ("02788886666", "027-****6666"),  # stored before one form was kept
        ("0278-8886666", "027-****6666"),
        ("0716-8888666", "0716-***8666"),
        ("010-12345678", "010-****5678"),
        ("027-88886666转8001", "027-****6666"),
        ("400-800-8888", "400-800-8888"),  # a service number is published: nothing to hide
        ("", ""),
    ],
)
def test_a_masked_phone_keeps_the_area_code_and_the_last_four_digits(stored, masked):
    from bot.rules.checks import masked_phone

    assert masked_phone(stored) == masked


@given(spelled_numbers())
def test_every_spelling_of_a_number_is_stored_alike(spelled):
    from bot.rules.checks import phone

    typed, stored = spelled
    assert phone(typed) == stored, typed


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "1380013800",
        "138001380000",
        "23800138000",
        "abc",
        "027-123",
        "+1 650 253 0000",
        "86 27 8888 6666",
        "027-88886666-123",
        "12345678",
        "13800138000转8001",  # a mobile has no switchboard
        "027-88886666转",
        "027-88886666转1234567",
        "400-800-888",
        "转8001",
    ],
)
def test_what_is_not_a_phone_number_says_which_forms_are_taken(typed):
    from bot.rules.checks import phone
    from bot.rules.refusals import InvalidInput

    with pytest.raises(InvalidInput) as err:
        phone(typed)
    assert err.value.params["reason"] == "phone_format"
