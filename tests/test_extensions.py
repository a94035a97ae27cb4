"""延期: the owner asks before the deadline, the department head decides."""

from __future__ import annotations

from datetime import date, timedelta

from handlers.jobs import run_sweep
from tests.conftest import file_appeal, join


async def claimed(people) -> str:
    number = await file_appeal(people.company)  # Tuesday 2026-03-10, due 2026-03-24
    await people.official.press("签收", containing=number)
    return number


async def ask_extension(official, number: str, new_due: str, reason: str) -> list[str]:
    await official.press("延期", containing=number)
    await official.send(new_due)
    return await official.send(reason)


async def test_head_approves_and_the_due_date_moves(sandbox, people, db, clock):
    p = people
    number = await claimed(p)
    mark = p.head.mark()
    answer = await ask_extension(p.official, number, "2026-03-31", "需等待银行授信审批结果。")
    assert answer[0] == (
        f"延期申请已提交（诉求 {number}，申请延至 2026-03-31），等待科室负责人审批。"
    )
    [request] = p.head.since(mark)
    assert "办结期限 2026-03-24 → 申请延至 2026-03-31" in request
    assert "需等待银行授信审批结果。" in request
    assert db.appeal(number).due_date == date(2026, 3, 24)  # nothing moves before approval

    company_mark = p.company.mark()
    answer = await p.head.press("同意延期")
    assert answer[0] == f"已同意诉求 {number} 延期至 2026-03-31。"
    assert "新的办结期限为 2026-03-31" in p.official.last
    assert p.company.since(company_mark) == [
        f"您的诉求 {number} 经审批延期办理，新的办结期限为 2026-03-31。"
    ]
    assert db.appeal(number).due_date == date(2026, 3, 31)
    extension = db.one("SELECT * FROM extensions")
    assert (extension["state"], extension["decided_by"]) == ("approved", p.head.id)
    events = db.events(number)
    assert events[-2][0] == "extend" and events[-2][3] == p.official.id
    assert events[-1] == ("extension_approved", "in_progress", "in_progress", p.head.id)
    [card] = await p.head.send(f"/view {number}")
    assert "同意延期（张科长）：期限由 2026-03-24 延至 2026-03-31" in card

    # the ladder follows the new date: nothing is overdue on the old one
    clock.set(clock.now() + timedelta(days=15))  # 2026-03-25
    mark = p.official.mark()
    await run_sweep(sandbox.app)
    assert not any(text.startswith("【督办") for text in p.official.since(mark))
    # and a second press of the old button changes nothing: answered on the button
    answer = await p.head.press("同意延期")
    assert answer == []
    popup = [c for m, c in sandbox.api.calls if m == "answerCallbackQuery"][-1]
    assert popup["text"] == "已同意延期，无需重复操作。"
    assert db.events(number)[-1][0] == "extension_approved"


async def test_head_denies_and_the_date_stays(sandbox, people, db):
    p = people
    number = await claimed(p)
    await ask_extension(p.official, number, "2026-03-31", "企业材料未齐。")
    mark = p.official.mark()
    assert await p.head.press("不同意") == [
        f"不同意诉求 {number} 的延期申请。请输入不同意的理由（将告知申请人），"
        "或发送 /skip 不填理由："
    ]
    assert p.official.since(mark) == []  # nothing decided before the reason
    assert db.one("SELECT state FROM extensions")["state"] == "pending"
    assert await p.head.send("   ") != []  # blanks are no reason: refused, still asked
    assert db.one("SELECT state FROM extensions")["state"] == "pending"
    await p.head.send("材料已齐，三月内可办结。")
    assert p.official.since(mark) == [
        f"诉求 {number} 的延期申请未获同意，办结期限仍为 2026-03-24，请按期办结。\n"
        "不同意的理由：材料已齐，三月内可办结。"
    ]
    assert db.appeal(number).due_date == date(2026, 3, 24)
    assert db.one("SELECT state FROM extensions")["state"] == "denied"
    await p.head.send(f"/view {number}")
    assert (
        "不同意延期（张科长）：期限仍为 2026-03-24（申请延至 2026-03-31）；"
        "理由：材料已齐，三月内可办结。" in p.head.last
    )


async def test_extension_requests_that_are_refused(sandbox, people, db, clock):
    p = people
    number = await claimed(p)
    await p.official.press("延期", containing=number)
    assert await p.official.send("下周") == [
        "新的办结期限“下周”不是日期，请写成 2026-03-05、2026/3/5 或 2026年3月5日。"
    ]
    assert await p.official.send("2026-03-20") == [
        "新的办结期限须晚于当前期限 2026-03-24，请重新输入（格式 YYYY-MM-DD）。"
    ]
    assert await p.official.send("2026-03-28") == [
        "新的办结期限须为工作日，请重新输入（格式 YYYY-MM-DD）。"
    ]
    await p.official.send("2026/3/31 0:00")  # a date-time as systems write it is that date
    await p.official.send("第一次申请。")
    assert db.one("SELECT new_due_date FROM extensions")["new_due_date"] == "2026-03-31"
    answer = await ask_extension(p.official, number, "2026-04-02", "第二次申请。")
    assert answer == [f"诉求 {number} 已有一项延期申请待审批，请等待审批结果。"]
    assert db.one("SELECT COUNT(*) AS n FROM extensions")["n"] == 1

    # nobody but the department's head decides; the requester never decides their own
    colleague = sandbox.person(20009, "钱进")
    await join(colleague, p.leader, "jrj")
    _, data = p.head.find_button("同意延期")
    for person in (colleague, p.official, p.outsider, p.company):
        before = db.rows("SELECT * FROM extensions")
        answer = await person.press_data(person.inbox[-1], data)  # forged in their own chat
        assert answer[0] in ("您没有权限执行此操作。", "未找到该诉求，或您无权查看。"), answer
        assert db.rows("SELECT * FROM extensions") == before
    assert await p.head.press_data(p.head.inbox[-1], "extok:999") == [
        "未找到该诉求，或您无权查看。"
    ]

    # only the owner (or the head) is offered 延期; a refusal without a reason (/skip)
    await p.head.press("不同意")
    mark = p.official.mark()
    await p.head.send("/skip")
    assert p.official.since(mark) == [
        f"诉求 {number} 的延期申请未获同意，办结期限仍为 2026-03-24，请按期办结。"
    ]
    await p.head.send(f"/view {number}")
    assert "延期" in dict(p.head.inbox[-1].buttons)
    await colleague.send(f"/view {number}")
    assert "延期" not in dict(colleague.inbox[-1].buttons)

    # once the deadline has passed it is too late to ask, even with an old button
    await p.official.send(f"/view {number}")
    clock.set(clock.now() + timedelta(days=15))
    await p.official.press("延期")
    assert (
        p.official.last == f"诉求 {number} 已超过办结期限 2026-03-24，不能再申请延期，请尽快办结。"
    )
    await p.official.send(f"/view {number}")
    assert "延期" not in dict(p.official.inbox[-1].buttons)
