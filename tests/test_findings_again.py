"""A button whose action is not repeatable, tapped twice: the action is done once (one
audit event, one notice to each of the others), the presser reads one confirmation, and
the second tap is answered on the button itself ("已签收，无需重复操作"), with no second
message in the chat."""

from __future__ import annotations

import pytest

from bot.texts import t
from tests.conftest import file_appeal


def popups(sandbox) -> list[str]:
    return [p.get("text") or "" for m, p in sandbox.api.calls if m == "answerCallbackQuery"]


async def _claimed(p) -> str:
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    return number


async def _closed(p) -> str:
    number = await _claimed(p)
    await p.official.press("办结", containing=number)
    await p.official.send("已完成银企对接，担保公司同意提供800万元担保。")
    return number


async def _extension_asked(p) -> str:
    number = await _claimed(p)
    await p.official.press("延期", containing=number)
    await p.official.send("2026-03-31")
    await p.official.send("需等待银行授信审批结果。")
    return number


async def setup_claim(p):
    number = await file_appeal(p.company)
    return number, p.official, "签收", "claim"


async def setup_close(p):
    number = await _claimed(p)

    async def first():
        await p.official.press("办结", containing=number)
        await p.official.send("已完成银企对接，担保公司同意提供800万元担保。")

    return number, p.official, "办结", "close", first


async def setup_withdraw(p):
    number = await file_appeal(p.company)

    async def first():
        await p.company.send(f"/view {number}")
        await p.company.press("撤回", containing=number)
        await p.company.send("问题已自行解决，不再需要协调。")

    return number, p.company, "撤回", "withdraw", first


async def setup_transfer(p):
    number = await _claimed(p)

    async def first():
        await p.official.press("转办", containing=number)
        await p.official.press("中小企业科")
        await p.official.send("属中小企业服务事项，请中小企业科办理。")

    return number, p.official, "转办", "transfer", first


async def setup_deny(p):
    number = await _extension_asked(p)

    async def first():
        await p.head.press("不同意", containing=number)
        await p.head.send("/skip")

    return number, p.head, "不同意", "extension_denied", first


async def setup_rate(p):
    return await _closed(p), p.company, "满意", "rate"


async def setup_basic(p):
    return await _closed(p), p.company, "基本满意", "rate"


async def setup_reopen(p):
    return await _closed(p), p.company, "不满意", "reopen"


async def setup_approve(p):
    return await _extension_asked(p), p.head, "同意延期", "extension_approved"


SETUPS = {
    "签收": setup_claim,
    "办结": setup_close,
    "撤回": setup_withdraw,
    "转办": setup_transfer,
    "不同意": setup_deny,
    "满意": setup_rate,
    "基本满意": setup_basic,
    "不满意": setup_reopen,
    "同意延期": setup_approve,
}


@pytest.mark.parametrize("button", list(SETUPS))
async def test_a_button_tapped_twice_acts_and_answers_once(sandbox, people, db, button):
    p = people
    number, presser, label, code, *first = await SETUPS[button](p)
    others = [x for x in (p.company, p.official, p.head, p.leader) if x is not presser]
    if first:  # the action takes a prompt: done through it, then its button tapped again
        await first[0]()
    else:
        await presser.press(label, containing=number)
    events = db.events(number)
    told = {x.id: x.mark() for x in others}
    mark = presser.mark()
    again = await presser.press(label, containing=number)
    assert again == [], again  # no second message in the chat
    assert popups(sandbox)[-1] == t(f"again.{code}")
    assert db.events(number) == events  # no second event
    assert {x.id: x.mark() for x in others} == told  # nobody is told twice
    assert presser.mark() == mark
