"""Several contacts per enterprise: the first contact invites colleagues by link, each sees
the enterprise's appeals, and the first contact (or a leader) removes one — all audited."""

from __future__ import annotations

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
    joined = await colleague.send("13907110002")
    assert joined[-1].startswith("已加入 鄂州市泛亚食品有限公司")
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
    assert "该链接已被使用" in used[-1]

    listing = await p.company.send("/contacts")
    assert "陈经理（13907110000）［首位联系人］" in listing[-1]
    assert "陈会计（13907110002）" in listing[-1]
    assert await p.company.press("移除 陈会计") == [
        "已移除联系人 陈会计，其不能再查看或提交本企业的诉求。"
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
