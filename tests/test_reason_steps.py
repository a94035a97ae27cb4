"""Two-step prompts (a value, then a reason): what is only the value again, or only a number,
is never sent as the reason. A date at an extension's reason changes the date; a department's
name at a transfer's reason changes the department; anything else bare is refused plainly."""

from __future__ import annotations

from datetime import date

import pytest

from bot.rules.checks import DATE, NUMBER, bare_value
from tests.conftest import file_appeal

TODAY = date(2026, 3, 10)


@pytest.mark.parametrize(
    ("typed", "kind"),
    [
        ("2026-12-26", DATE),
        ("12月31日", DATE),
        ("2026/3/31", DATE),
        ("２０２６年３月３１日", DATE),
        ("2026-03-31 星期一", DATE),  # a weekday that does not fit: still a date
        ("2026年3月底", DATE),
        ("30", NUMBER),
        ("15.5", NUMBER),
        ("  7 ", NUMBER),
        ("需延期一周", None),
        ("3月31日前材料才能齐", None),
        ("等30天", None),
        ("", None),
    ],
)
def test_what_is_no_reason(typed, kind):
    assert bare_value(typed, TODAY) == kind


async def _claimed(p) -> str:
    number = await file_appeal(p.company)  # due 2026-03-24
    await p.official.press("签收", containing=number)
    return number


async def test_a_date_at_the_extension_reason_changes_the_date(sandbox, people, db):
    p = people
    number = await _claimed(p)
    await p.official.press("延期", containing=number)
    assert await p.official.send("2026-03-27") == ["新期限 2026-03-27。请输入延期原因："]
    head = p.head.mark()
    # the date corrected: said so, and the reason asked again; nothing reaches the head
    assert await p.official.send("2026-03-31") == [
        "已将申请的新期限改为 2026-03-31。请输入延期原因："
    ]
    # a date that cannot be the new one: the date's own refusal, still at the reason
    assert await p.official.send("2026-03-20") == [
        "新的办结期限须晚于当前期限 2026-03-24，请重新输入（格式 YYYY-MM-DD）。"
    ]
    # a bare number is no reason
    assert await p.official.send("30") == [
        "“30”只是数字，不能作为延期原因，未发送。新期限仍为 2026-03-31；请输入延期原因"
        "（要改新期限，直接发送新的日期）："
    ]
    assert p.head.since(head) == [] and db.count("extensions") == 0
    await p.official.send("需等待银行授信审批结果。")
    [request] = p.head.since(head)
    assert "申请延至 2026-03-31" in request and "原因：需等待银行授信审批结果。" in request
    row = db.one("SELECT new_due_date, reason FROM extensions")
    assert (row["new_due_date"], row["reason"]) == ("2026-03-31", "需等待银行授信审批结果。")


async def test_a_department_at_the_transfer_reason_changes_it(sandbox, people, db):
    p = people
    number = await file_appeal(p.company, "综合服务", "急需招聘冷链物流操作工30名，请协助对接。")
    await p.outsider.press("查看")
    await p.outsider.press("转办")
    await p.outsider.press("市人社局")
    assert await p.outsider.send("市地方金融管理局") == [
        "已改为转办至 市地方金融管理局。请输入转办原因："
    ]
    # the department it is in already: refused, the chosen one stays
    assert await p.outsider.send("中小企业科") == ["所选部门就是当前承办单位，请选择其他部门。"]
    head = p.head.mark()
    for typed, what in (("2026-03-31", "日期"), ("12", "数字")):
        assert await p.outsider.send(typed) == [
            f"“{typed}”只是{what}，不能作为转办原因，未发送。转办至 市地方金融管理局；"
            "请输入转办原因（要改部门，发送部门名称或点击上方的部门按钮）："
        ]
    assert p.head.since(head) == []
    assert (
        db.appeal(number).department_id
        == db.one("SELECT id FROM departments WHERE code = 'zxqy'")["id"]
    )
    await p.outsider.send("属于融资类诉求，请金融局办理。")
    assert p.outsider.last == f"诉求 {number} 已转办至 市地方金融管理局。"
    [notice] = p.head.since(head)
    assert "属于融资类诉求" in notice
