"""Each notice carries the buttons of its recipient's next step, and only buttons that work.

The decision per notice kind is one table (`audiences.NEXT_STEPS`, `TASK_NEXT_STEPS`); these
tests check that every kind the bot sends is decided there, that a rendered notice offers
exactly the table's actions its recipient may take as the appeal is now (as a table over
every kind × state × recipient), and, in chat, the approval and 退回 notices of the issue.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.rules import access, audiences, delivery
from bot.rules.model import Action, Actor, Appeal, Party, Role, State, TaskState
from bot.rules.workflow import TASK_FLOW
from bot.texts import keys
from bot.usecases import ladder
from handlers import render
from handlers.buttons import ACTIONS, EXT_NO, EXT_OK, TASK, VIEW, decode
from handlers.jobs import run_sweep
from tests.conftest import LEADER_ID, file_appeal
from tests.test_limits import big_task

OFFICIAL, HEAD, OTHER_OFFICIAL, CONTACT = 11, 12, 13, 21
NOW = datetime(2026, 3, 10, 2, 0, tzinfo=ZoneInfo("UTC"))


def test_every_notice_kind_is_decided():
    """Every kind an action, the courier or the ladder sends has its row (maybe empty)."""
    sent = {kind for rows in audiences.AFTER_ACTION.values() for _, kind in rows}
    sent |= {delivery.UNDELIVERED, *ladder.APPEAL_KINDS}
    sent |= {k.split(".", 1)[1] for k in keys("notice.")} - {"list_header", "list_span"}
    sent -= {"list_span_one"}
    assert sent <= set(audiences.NEXT_STEPS), sent - set(audiences.NEXT_STEPS)
    tasks = {k.split(".", 1)[1] for k in keys("notice_task.")} | set(ladder.TASK_KINDS)
    assert tasks | {"assign"} <= set(audiences.TASK_NEXT_STEPS)


def _appeal(state: State, owner: int | None) -> Appeal:
    return Appeal(
        id=7, number="SQ-2026-000007", enterprise_id=1, enterprise_name="鄂州华瑞机械有限公司",
        category="融资", description="申请融资担保对接。", state=state, department_id=3,
        department_code="jrj", department_name="市地方金融管理局", assignee_id=None,
        owner_id=owner, owner_name="李明" if owner else None, claim_due_date=date(2026, 3, 11),
        due_date=date(2026, 3, 24), created_at=NOW, claimed_at=NOW if owner else None,
        closed_at=None, resolution=None, rating=None, rating_due_date=date(2026, 3, 27),
        reopen_count=0, version=4,
    )  # fmt: skip


RECIPIENTS = {
    "owner": Actor(OFFICIAL, Role.OFFICIAL, "李明", 3),
    "head": Actor(HEAD, Role.HEAD, "张科长", 3),
    "colleague": Actor(OTHER_OFFICIAL, Role.OFFICIAL, "赵敏", 3),
    "contact": Actor(CONTACT, Role.ENTERPRISE, "陈经理", None, 1),
    "leader": Actor(LEADER_ID, Role.ADMIN, "王局长"),
    "group": None,
}


def _pressable(actor: Actor | None, appeal: Appeal, leader: bool) -> set[str]:
    """What the recipient may press on a notice about `appeal` and be served."""
    if actor is None:  # a department group: 签收 while pending
        return {Action.CLAIM} if appeal.state is State.PENDING else set()
    return set(access.allowed_actions(actor, appeal, date(2026, 3, 10)))


@pytest.mark.parametrize("kind", sorted(audiences.NEXT_STEPS))
def test_a_notice_offers_its_next_steps_that_work_now(env_for_render, kind):
    """Over every state and recipient: the buttons are the table's actions the recipient
    may take now, 查看 always (or the rating row), nothing a press would refuse."""
    env = env_for_render
    for state in State:
        for who, actor in RECIPIENTS.items():
            owner = OFFICIAL if state is not State.PENDING else None
            appeal = _appeal(state, owner)
            chat = actor.tg_id if actor else -100123
            allowed = None if actor is None else access.allowed_actions(actor, appeal, env.today())
            detail = {"extension_id": 5} if kind == "extension_request" else {}
            markup = render.next_step_markup(kind, appeal, env, chat, allowed, detail)
            pressed = [decode(b.callback_data) for row in markup.inline_keyboard for b in row]
            actions = [ACTIONS[p.kind] for p in pressed if p.kind in ACTIONS]
            decisions = [p for p in pressed if p.kind in (EXT_OK, EXT_NO)]
            may = _pressable(actor, appeal, chat == LEADER_ID)
            expected = set(audiences.next_steps(kind, appeal, allowed, chat == LEADER_ID))
            expected.discard(audiences.DECIDE_EXTENSION)
            shown = set(actions)
            if chat == LEADER_ID and state is State.PENDING and Action.TRANSFER in shown:
                shown.add(Action.CLAIM)  # a leader's first step is 转办
            # every action button works for this recipient now
            assert set(actions) <= may, (kind, state, who, actions)
            # and the table's next steps that work are all there
            assert expected <= shown | {Action.REOPEN}, (kind, state, who, actions)
            if decisions:
                assert kind == "extension_request" and state in (State.PENDING, State.IN_PROGRESS)
            if Action.RATE not in actions:
                assert any(p.kind == VIEW for p in pressed), (kind, state, who)


@pytest.fixture
def env_for_render(org, clock):
    return type(
        "RenderEnv",
        (),
        {"leaders": frozenset({LEADER_ID}), "org": org, "today": lambda self: date(2026, 3, 10)},
    )()


@pytest.mark.parametrize("kind", sorted(audiences.TASK_NEXT_STEPS))
def test_a_task_notice_offers_its_next_steps_that_work_now(kind):
    """Over every state, to a leader and to a holder: the table's actions their party may
    take in that state, then the task's 查看."""
    for state in TaskState:
        task = dataclasses.replace(big_task("x"), state=state)
        for leader in (True, False):
            pressed = [decode(data) for _, data in render.task_next_row(task, kind, leader)]
            assert all(p.kind == TASK for p in pressed) and pressed[-1].arg == VIEW
            party = Party.LEADER if leader else Party.TASK_HOLDER
            expected = [
                a
                for a in audiences.TASK_NEXT_STEPS[kind]
                if state in TASK_FLOW[a].from_states and party in TASK_FLOW[a].by
            ]
            assert [ACTIONS[p.arg] for p in pressed[:-1]] == expected, (kind, state, leader)


def test_the_task_table_offers_the_holder_to_apply_again_after_a_send_back():
    task = dataclasses.replace(big_task("x"), state=TaskState.IN_PROGRESS)
    labels = [label for label, _ in render.task_next_row(task, "send_back", leader=False)]
    assert labels[:2] == ["报告进展", "申请销号"]
    asked = dataclasses.replace(task, state=TaskState.CLOSE_REQUESTED)
    labels = [label for label, _ in render.task_next_row(asked, "request_close", leader=True)]
    assert labels[:3] == ["同意销号", "视同完成，持续整改", "退回"]


# -- in chat: the notices ---------------------------------------------------------------


async def _claimed(people) -> str:
    number = await file_appeal(people.company)
    await people.official.press("签收", containing=number)
    return number


async def test_the_approval_carries_the_officials_next_step_and_it_works(sandbox, people, db):
    p = people
    number = await _claimed(p)
    await p.official.press("延期", containing=number)
    await p.official.send("2026-03-31")
    await p.official.send("需等待银行授信审批结果。")
    await p.head.press("同意延期")
    approval = p.official.inbox[-1]
    assert "已获同意" in approval.plain
    assert [label for label, _ in approval.buttons] == ["回复", "转办", "办结", "查看"]
    answer = await p.official.press_data(approval, dict(approval.buttons)["办结"], "办结")
    assert f"请输入诉求 {number} 的办结情况" in answer[-1], answer
    await p.official.send("已完成银企对接，担保公司同意提供800万元担保。")
    assert db.appeal(number).state == "closed"


async def test_the_denial_carries_the_same_next_step(sandbox, people):
    p = people
    number = await _claimed(p)
    await p.official.press("延期", containing=number)
    await p.official.send("2026-03-31")
    await p.official.send("企业材料未齐。")
    await p.head.press("不同意")
    await p.head.send("/skip")
    denial = p.official.inbox[-1]
    assert "未获同意" in denial.plain
    assert [label for label, _ in denial.buttons] == ["回复", "转办", "办结", "查看"]


async def test_a_reply_lets_the_enterprise_answer_with_a_supplement(sandbox, people, db):
    p = people
    number = await _claimed(p)
    await p.official.press("回复", containing=number)
    await p.official.send("请提供近三个月的财务报表。")
    notice = p.company.inbox[-1]
    assert [label for label, _ in notice.buttons] == ["补充", "查看"]
    answer = await p.company.press_data(notice, dict(notice.buttons)["补充"], "补充")
    assert f"请输入对诉求 {number} 的补充说明" in answer[-1], answer


async def test_the_ladder_offers_the_owner_closing_and_extension(sandbox, people, clock):
    p = people
    number = await _claimed(p)  # due 2026-03-24
    clock.set(datetime(2026, 3, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    mark = p.official.mark()
    await run_sweep(sandbox.app)
    soon = [m for m in p.official.inbox[mark:] if "到期提示" in m.plain]
    assert soon and [label for label, _ in soon[-1].buttons] == ["办结", "延期", "查看"], [
        (m.plain, m.buttons) for m in p.official.inbox[mark:]
    ]
    clock.set(clock.now() + timedelta(days=3))  # 2026-03-26: overdue
    mark = p.official.mark()
    await run_sweep(sandbox.app)
    overdue = [m for m in p.official.inbox[mark:] if "督办" in m.plain]
    assert overdue and [label for label, _ in overdue[-1].buttons] == ["办结", "查看"]
    assert number in overdue[-1].plain


async def test_after_a_send_back_the_holder_applies_again_from_the_notice_or_the_old_card(
    sandbox, people, db
):
    from tests.test_tasks import csv_bytes, import_file, task_row

    p = people
    await import_file(p.leader, "t.csv", csv_bytes([task_row(30)]))
    await p.official.send("/tasks")
    await p.official.press("第30项")
    card, request = p.official.find_button("申请销号")  # the card, kept for later
    await p.official.press_data(card, request, "申请销号")
    await p.official.send("抽查机制已建立并运行。")
    asked = p.leader.inbox[-1]
    assert [label for label, _ in asked.buttons][:3] == ["同意销号", "视同完成，持续整改", "退回"]
    await p.leader.press_data(asked, dict(asked.buttons)["退回"], "退回")
    await p.leader.send("缺少通报文件。")
    back = p.official.inbox[-1]
    assert "被退回" in back.plain
    assert [label for label, _ in back.buttons][:2] == ["报告进展", "申请销号"]
    # the request on the old card is exactly the next step: it works
    answer = await p.official.press_data(card, request, "申请销号")
    assert "完成情况" in answer[-1], answer
    await p.official.send("已补充通报文件。")
    assert db.one("SELECT state FROM tasks WHERE seq = 30")["state"] == "close_requested"
    # and so does the notice's, the next time
    await p.leader.press("退回", containing="已补充通报文件")
    await p.leader.send("仍缺签字页。")
    back = p.official.inbox[-1]
    answer = await p.official.press_data(back, dict(back.buttons)["申请销号"], "申请销号")
    assert "完成情况" in answer[-1], answer
    await p.official.send("签字页已补。")
    assert db.one("SELECT state FROM tasks WHERE seq = 30")["state"] == "close_requested"
