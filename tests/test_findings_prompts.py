"""Telegram answers 502 three times for the bot's answer to a step that was kept (the
step's flow or change is in the database): the person still reads the next prompt or the
confirmation (sent through the outbox once the retries are spent), never "操作未完成",
and what they read matches what the database holds. One row per kind of step: a prompt
with buttons, a prompt after a choice by button or by name, a prompt after a date, a
prompt begun by a card's button, a confirmation, the end of an optional step, a flow left
by a command, a refusal (nothing kept, and said so); filing and registration prompts
take the same path."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from bot.rules import delivery
from bot.sandbox.chat import plain
from bot.texts import t
from handlers import courier
from tests.conftest import file_appeal

INTERNAL = t("error_internal")


def shown(key: str, **params: Any) -> str:
    """A catalog text as the person reads it (tags dropped)."""
    return plain(t(key, **params))


async def claimed(p) -> str:
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    return number


def at_prompt(label: str):
    """A story: 李明 claimed an appeal and pressed `label` on its card (its prompt is open)."""

    async def story(p) -> tuple[Any, Any]:
        number = await claimed(p)
        await p.official.press(label, containing=number)
        return p.official, number

    return story


at_transfer_department, at_extend_date, at_reply_prompt = map(at_prompt, ("转办", "延期", "回复"))


async def extension_asked(p) -> tuple[Any, Any]:
    official, number = await at_extend_date(p)
    await official.send("2026-03-31")
    await official.send("需等待银行授信审批结果。")
    return p.head, number


async def rated(p) -> tuple[Any, Any]:
    number = await claimed(p)
    await p.official.press("办结", containing=number)
    await p.official.send("已完成银企对接，担保公司同意提供800万元担保。")
    await p.company.press("满意", containing=number)
    return p.company, number


async def supplementing(p) -> tuple[Any, Any]:
    number = await file_appeal(p.company)
    await p.company.send(f"/view {number}")
    await p.company.press("补充", containing=number)
    await p.company.send("补充：担保公司需要近三年的财务报表。")
    return p.company, number


async def filed(p) -> tuple[Any, Any]:
    return p.official, await file_appeal(p.company)


async def claimed_by_official(p) -> tuple[Any, Any]:
    return p.official, await claimed(p)


async def nothing(p) -> tuple[Any, Any]:
    return p.company, ""


async def stranger(p) -> tuple[Any, Any]:
    return p.sandbox.person(39001, "新联系人"), ""


def press(label: str):
    return lambda who, number: who.press(label, containing=number or None)


def send(text: str):
    return lambda who, number: who.send(text.format(number=number))


# name: (how the person got there, what they do, what they must read, their flow after it
# as (flow, step) or None, what the appeal's last event is then, or None for no change)
STEPS = {
    "转办 pressed (departments as buttons)": (
        claimed_by_official,
        press("转办"),
        "请选择诉求 {number} 要转办的部门：",
        ("action", "department"),
        None,
    ),
    "department pressed (the reason asked)": (
        at_transfer_department,
        press("中小企业科"),
        "转办至 中小企业科。请输入转办原因：",
        ("action", "text"),
        None,
    ),
    "department typed (the reason asked)": (
        at_transfer_department,
        send("中小企业科"),
        "转办至 中小企业科。请输入转办原因：",
        ("action", "text"),
        None,
    ),
    "回复 pressed": (
        claimed_by_official,
        press("回复"),
        "请输入对诉求 {number} 的回复",
        ("action", "text"),
        None,
    ),
    "延期 pressed": (
        claimed_by_official,
        press("延期"),
        "诉求 {number} 当前办结期限为",
        ("action", "date"),
        None,
    ),
    "extension date typed": (
        at_extend_date,
        send("2026-03-31"),
        "新期限 2026-03-31。请输入延期原因：",
        ("action", "text"),
        None,
    ),
    "extension date refused (nothing kept, said so)": (
        at_extend_date,
        send("2026-03-01"),
        "新的办结期限须晚于",
        ("action", "date"),
        None,
    ),
    "不同意 pressed": (
        extension_asked,
        press("不同意"),
        "不同意诉求 {number} 的延期申请。请输入不同意的理由",
        ("action", "deny"),
        None,
    ),
    "同意 typed at the extension card": (
        extension_asked,
        send("同意"),
        "已同意诉求 {number} 延期至 2026-03-31。",
        None,
        "extension_approved",
    ),
    "签收 pressed (a confirmation)": (
        filed,
        press("签收"),
        "您已签收诉求 {number}",
        None,
        "claim",
    ),
    "/skip after a rating": (rated, send("/skip"), "好的。", None, "rate"),
    "/done after a 补充": (
        supplementing,
        send("/done"),
        "对诉求 {number} 的补充已送达承办单位",
        None,
        "supplement",
    ),
    "a command in the middle of a prompt": (
        at_reply_prompt,
        send("/inbox"),
        "已退出对 {number} 的回复，未发送。",
        None,
        "claim",
    ),
    "/new (categories as buttons)": (
        nothing,
        send("/new"),
        "请选择诉求类别",
        ("filing", "category"),
        None,
    ),
    "/start of registration": (
        stranger,
        send("/start"),
        "第 1 步（共 4 步）：请输入企业名称",
        ("registration", "name"),
        None,
    ),
}


@pytest.mark.parametrize("step", list(STEPS))
async def test_a_kept_step_is_answered_though_telegram_fails_three_times(
    sandbox, people, db, clock, step
):
    p = people
    p.sandbox = sandbox
    setup, act, expected, flow_after, last_event = STEPS[step]
    who, number = await setup(p)
    events = db.events(number) if number else []
    mark = who.mark()
    sandbox.api.fail("sendMessage", 502, "Bad Gateway", times=3)
    await act(who, number)
    # a lost confirmation's stored copy follows after the grace; a prompt came at once
    clock.advance(delivery.ACK_GRACE + timedelta(seconds=1))
    await courier.drain(sandbox.app.bot, sandbox.env)
    got = who.since(mark)
    assert not any(INTERNAL in m for m in got), got
    want = expected.format(number=number)
    assert sum(want in m for m in got) == 1, (want, got)
    # what they read matches what the database holds
    conversation = db.read(lambda uow: uow.conversations.get(who.id))
    held = (conversation.flow, conversation.step) if conversation else None
    if flow_after is not None:
        assert held == flow_after, held
    if number:
        after = db.events(number)
        if last_event is None:
            assert after == events  # a prompt changes no appeal
        else:
            assert after[-1][0] == last_event
    owed = db.rows("SELECT status FROM outbox WHERE kind = ?", delivery.ANSWER)
    assert all(r["status"] == "sent" for r in owed), owed
    await courier.drain(sandbox.app.bot, sandbox.env)  # nothing is sent twice
    assert sum(want in m for m in who.since(mark)) == 1


async def test_the_departments_of_a_prompt_sent_late_still_act(sandbox, people, db):
    """The transfer prompt went through the outbox (its message id was never known to the
    handler): its department buttons act on the transfer."""
    p = people
    number = await claimed(p)
    sandbox.api.fail("sendMessage", 502, "Bad Gateway", times=3)
    await p.official.press("转办", containing=number)
    asked = await p.official.press("中小企业科")
    assert asked == ["转办至 中小企业科。请输入转办原因："], asked
    done = await p.official.send("属中小企业服务事项。")
    assert done[0].startswith(f"诉求 {number} 已转办至 中小企业科"), done
    assert db.events(number)[-1][0] == "transfer"


async def test_a_long_429_leaves_the_prompt_to_the_courier_when_telegram_allows(
    sandbox, people, db, clock
):
    """Telegram asks to wait longer than a person waits: the prompt is owed, due when
    Telegram said, and sent then (once)."""
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await p.official.press("转办", containing=number)
    # a wait longer than a person waits (in tests: any) is not waited out by the answer
    sandbox.api.fail("sendMessage", 429, "Too Many Requests: retry after 1", times=1)
    mark = p.official.mark()
    answer = await p.official.press("中小企业科")
    assert answer == [] and not any(INTERNAL in m for m in p.official.since(mark))
    [row] = db.rows("SELECT status FROM outbox WHERE kind = ?", delivery.ANSWER)
    assert row["status"] == "pending"
    clock.advance(timedelta(seconds=2))
    await courier.drain(sandbox.app.bot, sandbox.env)
    assert p.official.since(mark) == ["转办至 中小企业科。请输入转办原因："]
    await courier.drain(sandbox.app.bot, sandbox.env)
    assert len(p.official.since(mark)) == 1
    assert re.search("转办原因", p.official.last)


async def test_an_owed_answer_that_never_went_is_not_owed_again_after_start(
    sandbox, people, db, clock
):
    """The owed prompt meets a blocked chat (403): /start later brings back what notices
    were missed, not an answer to a step long past."""
    p = people
    number = await claimed(p)
    await p.official.press("转办", containing=number)
    sandbox.api.fail("sendMessage", 502, "Bad Gateway", times=3)
    sandbox.api.fail_chat(p.official.id, 403, "Forbidden: bot was blocked by the user", times=1)
    mark = p.official.mark()
    await p.official.press("中小企业科")
    [row] = db.rows("SELECT status FROM outbox WHERE kind = ?", delivery.ANSWER)
    assert row["status"] == "failed"
    clock.advance(timedelta(minutes=5))
    await p.official.send("/start")
    await courier.drain(sandbox.app.bot, sandbox.env)
    assert not any("请输入转办原因" in m for m in p.official.since(mark))
    [row] = db.rows("SELECT status FROM outbox WHERE kind = ?", delivery.ANSWER)
    assert row["status"] != "pending"
