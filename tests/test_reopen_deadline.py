"""不满意 (重办): the new deadline is the category's time limit counted again from the day of
the rating, never earlier than the deadline in force (an approved extension stands), and
everyone told says how it was set."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import BUNDLED_ORG_CONFIG, load_org
from bot.rules.deadlines import REOPEN_KEPT, REOPEN_TIME_LIMIT, Deadlines
from bot.rules.workcal import WorkingCalendar
from tests.conftest import file_appeal

ORG = load_org(BUNDLED_ORG_CONFIG)
DEADLINES = Deadlines(WorkingCalendar(ORG.calendar.holidays, ORG.calendar.workdays), ORG.limits)


@settings(max_examples=300, deadline=None)
@given(
    today=st.dates(date(2026, 1, 1), date(2026, 12, 31)),
    ahead=st.integers(-30, 120),
    category=st.sampled_from(ORG.categories),
)
def test_a_reopened_deadline_is_never_earlier_than_the_one_in_force(today, ahead, category):
    current = today + timedelta(days=ahead)
    due, basis = DEADLINES.reopen_due(today, category, current)
    fresh = DEADLINES.due(today, category)
    assert due == max(fresh, current)
    assert basis == (REOPEN_TIME_LIMIT if fresh >= current else REOPEN_KEPT)


async def _closed(p, number: str) -> None:
    await p.official.press("办结", containing=number)
    await p.official.send("已完成银企对接，担保公司同意提供800万元担保。")


async def test_after_an_approved_extension_the_approved_deadline_stands(sandbox, people, db, clock):
    p = people
    number = await file_appeal(p.company)  # 融资, Tuesday 2026-03-10, due 2026-03-24
    await p.official.press("签收", containing=number)
    await p.official.press("延期", containing=number)
    await p.official.send("2026-04-30")
    await p.official.send("需等待银行授信审批结果。")
    await p.head.press("同意延期")
    await _closed(p, number)
    clock.advance(timedelta(days=1))  # 2026-03-11: 10 working days more is 2026-03-25
    official_mark, head_mark = p.official.mark(), p.head.mark()
    answer = await p.company.press("不满意")
    assert answer[0].startswith(
        f"已记录评价“不满意”，诉求 {number} 已重新交办，新的办结期限为 2026-04-30"
        "（保留经批准延期的办结期限：按办理时限重新计算为 2026-03-25，早于已批准的期限，故不提前）。"
    ), answer
    assert db.appeal(number).due_date == date(2026, 4, 30)
    for person, mark in ((p.official, official_mark), (p.head, head_mark)):
        [notice] = [m for m in person.since(mark) if "已重办" in m]
        assert "新的办结期限 2026-04-30（保留经批准延期的办结期限" in notice, notice
    events = db.rows(
        "SELECT detail FROM audit_events WHERE action = 'reopen' ORDER BY id DESC LIMIT 1"
    )
    assert '"due_basis": "kept_extension"' in events[0]["detail"]
    [card] = await p.official.send(f"/view {number}")
    assert "不满意重办（陈经理）：不满意，办结期限不变（2026-04-30）" in card

    # handled again and refused again the same day: the kept deadline is kept, said plainly
    await p.company.send("/skip")
    await _closed(p, number)
    answer = await p.company.press("不满意")
    assert (
        "新的办结期限为 2026-04-30（保留原办结期限：按办理时限重新计算为 2026-03-25" in (answer[0])
    ), answer


async def test_without_an_extension_the_time_limit_is_counted_again(sandbox, people, db, clock):
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await _closed(p, number)
    clock.advance(timedelta(days=1))  # Wednesday 2026-03-11
    answer = await p.company.press("不满意")
    assert answer[0].startswith(
        f"已记录评价“不满意”，诉求 {number} 已重新交办，新的办结期限为 2026-03-25"
        "（按“融资”类办理时限 10 个工作日自今日起重新计算）。"
    ), answer
    assert "新的办结期限 2026-03-25（按“融资”类办理时限 10 个工作日自今日起重新计算）" in (
        p.official.last
    )
    assert db.appeal(number).due_date == date(2026, 3, 25)


async def test_a_second_tap_answers_the_same_and_keeps_the_comment_prompt(sandbox, people, db):
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await _closed(p, number)
    first = await p.company.press("不满意")
    assert first[0].startswith("已记录评价“不满意”")
    again = await p.company.press("不满意")
    assert again == [], again  # said on the button alone; the prompt stays open
    popup = [c for m, c in sandbox.api.calls if m == "answerCallbackQuery"][-1]
    assert popup["text"] == "已评价“不满意”，无需重复操作。"
    await p.company.send("只电话告知，没有书面材料。")
    assert (
        db.one("SELECT COUNT(*) AS n FROM appeal_messages WHERE kind = 'rating_comment'")["n"] == 1
    )
    assert db.appeal(number).reopen_count == 1
