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


CLOSING = "已完成银企对接，担保公司同意提供800万元担保。"


async def _claimed(p) -> str:
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    return number


async def _closed(p) -> str:
    number = await _claimed(p)
    await p.official.press("办结", containing=number)
    await p.official.send(CLOSING)
    return number


async def _extension_asked(p) -> str:
    number = await _claimed(p)
    await p.official.press("延期", containing=number)
    await p.official.send("2026-03-31")
    await p.official.send("需等待银行授信审批结果。")
    return number


async def _filed(p) -> str:
    return await file_appeal(p.company)


# button: (where the story starts, who taps, the label, its again.<code>, and for an action
# that takes a prompt, how it is done first: ("press", a card's label), ("choose", a
# prompt's label), ("send", text with {number}); without them the first tap is the action)
BUTTONS = {
    "签收": (_filed, "official", "签收", "claim", ()),
    "办结": (_claimed, "official", "办结", "close", (("press", "办结"), ("send", CLOSING))),
    "撤回": (
        _filed, "company", "撤回", "withdraw",
        (("send", "/view {number}"), ("press", "撤回"), ("send", "问题已自行解决，不再需要协调。")),
    ),
    "转办": (
        _claimed, "official", "转办", "transfer",
        (("press", "转办"), ("choose", "中小企业科"), ("send", "属中小企业服务事项，请中小企业科办理。")),
    ),
    "不同意": (_extension_asked, "head", "不同意", "extension_denied", (("press", "不同意"), ("send", "/skip"))),
    "满意": (_closed, "company", "满意", "rate", ()),
    "基本满意": (_closed, "company", "基本满意", "rate", ()),
    "不满意": (_closed, "company", "不满意", "reopen", ()),
    "同意延期": (_extension_asked, "head", "同意延期", "extension_approved", ()),
}  # fmt: skip


async def _do(person, number: str, steps) -> None:
    for kind, what in steps:
        if kind == "press":  # a button of the appeal's card
            await person.press(what, containing=number)
        elif kind == "choose":  # a button of the prompt (it names no appeal)
            await person.press(what)
        else:
            await person.send(what.format(number=number))


@pytest.mark.parametrize("button", list(BUTTONS))
async def test_a_button_tapped_twice_acts_and_answers_once(sandbox, people, db, button):
    p = people
    start, who, label, code, steps = BUTTONS[button]
    number = await start(p)
    presser = getattr(p, who)
    others = [x for x in (p.company, p.official, p.head, p.leader) if x is not presser]
    if steps:  # the action takes a prompt: done through it, then its button tapped again
        await _do(presser, number, steps)
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
