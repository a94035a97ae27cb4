"""The appeal card as each reader gets it: internal notes marked for staff and never shown
to the enterprise; a history line "A → B" only when A and B differ."""

from __future__ import annotations

import pytest

from bot.texts.events import event_detail
from tests.conftest import file_appeal


@pytest.mark.parametrize(
    ("action", "detail", "shown"),
    [
        ("reopen", {"rating": "dissatisfied", "old_due": "2026-12-31", "new_due": "2026-12-31"},
         "不满意，办结期限不变（2026-12-31）"),
        ("reopen", {"rating": "dissatisfied", "old_due": "2026-03-24", "new_due": "2026-04-07"},
         "不满意，办结期限 2026-03-24 → 2026-04-07"),
        ("extension_approved", {"old_due": "2026-03-24", "new_due": "2026-03-31"},
         "期限由 2026-03-24 延至 2026-03-31"),
        ("extension_denied", {"old_due": "2026-03-24", "new_due": "2026-03-31"},
         "期限仍为 2026-03-24（申请延至 2026-03-31）"),
        ("file", {"category": "融资", "department": "jrj", "route": "category"},
         "融资 → 市地方金融管理局（类别默认部门）"),
        ("transfer", {"department": "zxqy", "reason": "属中小企业扶持"},
         "→ 中小企业科：属中小企业扶持"),
    ],
)  # fmt: skip
def test_every_arrow_in_the_history(action, detail, shown):
    departments = {"jrj": "市地方金融管理局", "zxqy": "中小企业科"}
    assert event_detail(action, detail, departments) == shown


async def test_a_kept_deadline_reads_unchanged_in_the_history(sandbox, people):
    p = people
    number = await file_appeal(p.company)  # due 2026-03-24
    await p.official.press("签收", containing=number)
    await p.official.press("延期", containing=number)
    await p.official.send("2026-04-30")
    await p.official.send("需等待银行授信审批结果。")
    await p.head.press("同意延期")
    await p.official.press("办结", containing=number)
    await p.official.send("已完成银企对接。")
    await p.company.press("不满意")  # the time limit again ends before 2026-04-30: kept
    [card] = await p.official.send(f"/view {number}")
    assert "不满意，办结期限不变（2026-04-30）" in card
    assert "2026-04-30 → 2026-04-30" not in card


async def test_internal_notes_are_marked_for_staff_and_hidden_from_the_enterprise(sandbox, people):
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await p.official.press("备注", containing=number)
    await p.official.send("内部：企业征信有瑕疵，需核实。")
    await p.official.press("回复", containing=number)
    await p.official.send("已联系合作银行，请准备近两年财务报表。")
    for staff in (p.official, p.head, p.leader):
        [card] = await staff.send(f"/view {number}")
        assert "备注（李明）（企业不可见）：内部：企业征信有瑕疵，需核实。" in card, card
        assert "回复（李明）：已联系合作银行" in card  # an exchange with the enterprise: unmarked
    [card] = await p.company.send(f"/view {number}")
    assert "已联系合作银行" in card
    assert "征信" not in card and "备注" not in card and "企业不可见" not in card
