"""Several contacts per enterprise: the first contact invites colleagues by link, each sees
the enterprise's appeals, and the first contact (or a leader) removes one — all audited."""

from __future__ import annotations

import pytest

from tests.conftest import COMPANY_USCC, OTHER_USCC, file_appeal


def link_code(text: str) -> str:
    return text.split("?start=")[1].split()[0]


async def test_a_colleague_joins_by_link_sees_the_appeals_and_can_be_removed(sandbox, people, db):
    p = people
    number = await file_appeal(p.company)
    [made] = await p.company.send("/colleague")
    assert made.startswith("已为 鄂州市泛亚食品有限公司 生成联系人邀请链接")
    code = link_code(made)
    assert code.startswith("c_")

    colleague = sandbox.person(30011, "陈会计")
    welcome = await colleague.send(f"/start {code}")
    assert welcome[-1].startswith("您受邀成为 鄂州市泛亚食品有限公司 的联系人")
    assert await colleague.send("91350100M000100Y43") == [
        "联系人姓名不应含数字（信用代码或电话请在对应步骤填写），请输入联系人姓名。"
    ]
    await colleague.send("陈会计")
    first = p.company.mark()
    joined = await colleague.send("13907110002")
    assert joined[-1].startswith("已加入 鄂州市泛亚食品有限公司")
    # the first contact is told, once, through the outbox
    assert p.company.since(first) == [
        "陈会计（13907110002）已通过邀请链接加入 鄂州市泛亚食品有限公司，成为本企业的联系人，"
        "可查看和提交本企业的诉求。发送 /contacts 查看或移除联系人。"
    ]
    told = db.rows("SELECT chat_id, kind FROM outbox WHERE kind = 'contact_joined'")
    assert [(r["chat_id"], r["kind"]) for r in told] == [(p.company.id, "contact_joined")]
    assert number in "\n".join(await colleague.send("/my"))

    # the colleague is told of the reply like the first contact
    await p.official.press("签收", containing=number)
    await p.official.press("回复", containing=number)
    await p.official.send("已联系合作银行，请准备近两年财务报表。")
    assert any("已联系合作银行" in m.plain for m in colleague.inbox)

    # only the first contact manages contacts; a used link cannot be used again
    assert await colleague.send("/colleague") == [
        "只有企业的首位联系人（登记人）或局领导可以管理联系人。"
    ]
    stranger = sandbox.person(30012, "路人甲")
    used = await stranger.send(f"/start {code}")
    assert "该链接已于 2026-03-10 10:00 由 陈会计 使用" in used[-1]

    listing = await p.company.send("/contacts")
    assert "陈经理（13907110000）［首位联系人］" in listing[-1]
    assert "陈会计（13907110002）" in listing[-1]
    assert await p.company.press("移除 陈会计") == [
        "已移除联系人 陈会计，其不能再查看或提交本企业的诉求；本人会收到通知。"
    ]
    assert number not in "\n".join(await colleague.send(f"/view {number}"))
    actions = [r["action"] for r in db.rows(
        "SELECT action FROM audit_events WHERE action IN"
        " ('invite_contact', 'join_contact', 'remove_contact') ORDER BY id"
    )]  # fmt: skip
    assert actions == ["invite_contact", "join_contact", "remove_contact"]
    assert db.one("SELECT removed_at FROM users WHERE tg_id = 30011")["removed_at"]


async def test_a_leader_manages_any_enterprises_contacts_but_the_first_stays(sandbox, people):
    p = people
    [made] = await p.leader.send(f"/colleague {COMPANY_USCC}")
    assert "?start=c_" in made
    listing = await p.leader.send(f"/contacts {COMPANY_USCC}")
    assert "陈经理（13907110000）［首位联系人］" in listing[-1]
    assert "移除 陈经理" not in str(p.leader.inbox[-1].buttons)
    # a forged button for the first contact is refused
    enterprise_id = 1
    forged = await p.leader.press_data(
        p.leader.inbox[-1], f"contact:rm:{enterprise_id}:{p.company.id}"
    )
    assert forged == ["首位联系人（登记人）不能被移除。"]
    # another enterprise's first contact may name only its own code: another one reads as
    # a code nobody registered
    assert await p.rival.send(f"/contacts {COMPANY_USCC}") == ["未找到该企业，请核对后重新输入。"]
    assert "鄂州市三和管桩有限公司" in (await p.rival.send(f"/contacts {OTHER_USCC}"))[-1]


async def _colleague_joins(sandbox, inviter, uscc: str | None = None, tg_id: int = 30011):
    """The inviter makes a colleague link; 王会计 opens it and joins."""
    [made] = await inviter.send(f"/colleague {uscc}" if uscc else "/colleague")
    colleague = sandbox.person(tg_id, "王会计")
    await colleague.send(f"/start {link_code(made)}")
    await colleague.send("王会计")
    joined = await colleague.send("13907110002")
    assert joined[-1].startswith("已加入"), joined
    return colleague, link_code(made)


REMOVED_BY_FIRST = "联系人 王会计 已于 2026-03-10 10:00 由 陈经理 移除，无需再次操作。发送 /contacts 查看当前联系人。"
REMOVED_BY_LEADER = (
    "联系人 王会计 已于 2026-03-10 10:00 由 局领导/督办员 移除，无需再次操作。"
    "发送 /contacts 查看当前联系人。"
)


@pytest.mark.parametrize(
    "who_removes, who_presses_again, expected",
    [
        ("company", "company", REMOVED_BY_FIRST),  # a second tap on the same button
        ("company", "leader", REMOVED_BY_FIRST),  # a leader's older list
        ("leader", "company", REMOVED_BY_LEADER),  # the first contact's older list
        ("leader", "leader", REMOVED_BY_LEADER),
    ],
)
async def test_a_used_remove_button_says_who_removed_the_contact_and_when(
    sandbox, people, db, who_removes, who_presses_again, expected
):
    p = people
    await _colleague_joins(sandbox, p.company)
    await p.company.send("/contacts")
    await p.leader.send(f"/contacts {COMPANY_USCC}")
    first = await getattr(p, who_removes).press("移除 王会计")
    assert first == ["已移除联系人 王会计，其不能再查看或提交本企业的诉求；本人会收到通知。"]
    before = db.count("audit_events"), db.count("outbox")
    assert await getattr(p, who_presses_again).press("移除 王会计") == [expected]
    assert (db.count("audit_events"), db.count("outbox")) == before  # nothing written
    # another enterprise's first contact, forging the same press, learns nothing
    await p.rival.send("/contacts")
    forged = await p.rival.press_data(p.rival.inbox[-1], "contact:rm:1:30011")
    assert forged == ["未找到该联系人，或您无权管理。"]


async def test_a_baobao_button_pressed_again_says_it_is_already_so(sandbox, people, db):
    p = people
    await p.leader.send(f"/baobao {COMPANY_USCC}")
    await p.leader.press("赵敏（中小企业科）")
    audits = db.count("audit_events")
    assert await p.leader.press("赵敏（中小企业科）") == [
        "赵敏 已是 鄂州市泛亚食品有限公司 的包保责任人（2026-03-10 10:00 由 局领导/督办员 指派），"
        "未作更改。"
    ]
    assert await p.leader.send(f"/baobao {COMPANY_USCC} 赵敏") == [p.leader.last]
    assert db.count("audit_events") == audits


@pytest.mark.parametrize("link", ["staff", "colleague"])
async def test_a_used_link_says_when_and_by_whom(sandbox, people, link):
    p = people
    if link == "staff":
        await p.leader.send("/invite zxqy")
        code = p.leader.last.split("?start=")[1].split()[0]
        first = sandbox.person(20011, "孙丽")
        assert "欢迎加入" in (await first.send(f"/start {code}"))[-1]
        user = "孙丽"
    else:
        _, code = await _colleague_joins(sandbox, p.company)
        user = "王会计"
    late = sandbox.person(40001, "钱多多")
    assert await late.send(f"/start {code}") == [
        f"邀请链接无效：该链接已于 2026-03-10 10:00 由 {user} 使用。请向管理员索取新的邀请链接。"
    ]


TOLD = (
    "您已不再是 鄂州市泛亚食品有限公司 的联系人（2026-03-10 10:00 由 陈经理 移除），"
    "不能再查看或提交该企业的诉求。\n如有疑问或需恢复，请联系该企业首位联系人 陈经理（139****0000）"
)
WITH_BAOBAO = "，或该企业的包保责任人 赵敏（中小企业科）。"


async def test_a_removed_colleague_is_told_once_and_then_on_anything_they_send(sandbox, people, db):
    p = people
    number = await file_appeal(p.company)
    await p.leader.send(f"/baobao {COMPANY_USCC}")
    await p.leader.press("赵敏（中小企业科）")
    colleague, _ = await _colleague_joins(sandbox, p.company)
    await colleague.send(f"/view {number}")  # the card with buttons they held
    await p.company.send("/contacts")
    await p.company.press("移除 王会计")
    told = TOLD + WITH_BAOBAO
    assert colleague.last == told  # told at once, through the outbox
    assert db.one("SELECT status FROM outbox WHERE kind = 'contact_removed'")["status"] == "sent"
    # whatever they send next says so, never "先发送 /start 完成登记"
    for command in ("/new", "/my", f"/view {number}", "你好", "/inbox"):
        answer = await colleague.send(command)
        assert answer[-1] == told, (command, answer)
    assert await colleague.send_photo("营业执照") == [told]
    assert (await colleague.send("/help"))[0].startswith(told)
    start = await colleague.send("/start")
    assert start == [told + "\n\n如需为另一家企业登记，请输入该企业名称（发送 /cancel 退出）。"]
    await colleague.send("/cancel")
    assert db.count("outbox WHERE kind = 'contact_removed'") == 1  # told once
    # a button they still hold is answered the same way
    card = next(m for m in reversed(colleague.inbox) if m.buttons)
    assert (await colleague.press_data(card, card.buttons[0][1]))[-1] == told


async def test_a_removed_colleague_who_is_invited_back_hears_nothing_of_the_removal(
    sandbox, people, db, clock
):
    p = people
    colleague, _ = await _colleague_joins(sandbox, p.company)
    await p.company.send("/contacts")
    await p.company.press("移除 王会计")
    assert colleague.last.startswith("您已不再是 鄂州市泛亚食品有限公司 的联系人")
    [made] = await p.company.send("/colleague")
    await colleague.send(f"/start {link_code(made)}")
    await colleague.send("王会计")
    await colleague.send("13907110002")
    [menu] = await colleague.send("你好")  # an enterprise contact again: the menu
    assert menu.startswith("您好！") and menu.endswith("请问您想：")
    assert not (await colleague.send("/my"))[-1].startswith("您已不再是")


# Every place that shows an enterprise contact's phone, and how: whole to the person who
# typed it and to those who act for the enterprise (its first contact's /contacts, the
# official who must call when a message did not arrive: tests/test_chat_lifecycle.py),
# masked to anyone outside it (a removed colleague, a stranger naming its code). A number
# stored in an earlier form reads in today's one.
OLD_FORMS = ["02788886666", "0278-8886666", "027-88886666"]


@pytest.mark.parametrize("stored", OLD_FORMS)
async def test_a_phone_is_shown_whole_inside_and_masked_outside_in_one_form(
    sandbox, people, db, stored
):
    p = people
    # as an earlier version stored it (today's code keeps one form: no repository writes this)
    db.execute("UPDATE enterprises SET phone = ? WHERE uscc = ?", stored, COMPANY_USCC)
    db.write(lambda uow: uow.people.set_phone(p.company.id, stored))
    colleague, _ = await _colleague_joins(sandbox, p.company)

    shown = {
        "contacts": (await p.company.send("/contacts"))[-1],
        "removed": (await p.company.press("移除 王会计")) and colleague.last,
    }
    stranger = sandbox.person(50002, "冒名者")
    await stranger.send("/start")
    await stranger.send("冒名公司")
    shown["taken"] = (await stranger.send(COMPANY_USCC))[-1]

    expected = {
        "contacts": "陈经理（027-88886666）［首位联系人］",
        "removed": "首位联系人 陈经理（027-****6666）",
        "taken": "联系人 陈经理（027-****6666）",
    }
    for place, text in expected.items():
        assert text in shown[place], (place, shown[place])
    assert "8888" not in shown["removed"] + shown["taken"]  # masked: nothing to harvest
    assert db.one("SELECT phone FROM enterprises WHERE uscc = ?", COMPANY_USCC)["phone"] == stored
