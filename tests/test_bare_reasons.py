"""A reason (or an 办结 summary) is words: a bare date or number is refused by the use case,
whoever calls it, and changes nothing; the chat says so and keeps the prompt. The one
convenience left to the chat: a date at an extension's reason corrects the date."""

from __future__ import annotations

import pytest

from bot.rules.model import Action
from bot.rules.refusals import InvalidInput
from bot.usecases import appeals, tasks
from bot.usecases.appeals import ActionRequest
from tests.conftest import file_appeal
from tests.test_extensions import ask_extension, claimed
from tests.test_files import people_actor
from tests.test_tasks import csv_bytes, import_file, task_row

BARE = {"date": "2026-03-31", "number": "30"}
WORDS = "企业材料尚未齐全，需补正后再办。"


async def _transfer(p, db):
    number = await file_appeal(p.company, "综合服务", "急需招聘冷链物流操作工30名，请协助对接。")
    await p.outsider.press("查看")
    await p.outsider.press("转办")
    await p.outsider.press("市人社局")
    return p.outsider, lambda: db.appeal(number).department_id, "转办原因"


async def _deny(p, db):
    number = await claimed(p)
    await ask_extension(p.official, number, "2026-03-31", "企业材料未齐。")
    await p.head.press("不同意")
    return p.head, lambda: db.one("SELECT state FROM extensions")["state"], "原因"


async def _close(p, db):
    number = await claimed(p)
    await p.official.press("办结", containing=number)
    return p.official, lambda: db.appeal(number).state, "办结情况"


async def _withdraw(p, db):
    number = await file_appeal(p.company)
    await p.company.send(f"/view {number}")
    await p.company.press("撤回")
    return p.company, lambda: db.appeal(number).state, "原因"


async def _send_back(p, db):
    await import_file(p.leader, "t.csv", csv_bytes([task_row(1)]))
    await p.official.send("/tasks")
    await p.official.press("第1项")
    await p.official.press("申请销号")
    await p.official.send("已全部整改完毕，申请销号。")
    await p.official.send("/done")
    await p.leader.press("第1项 查看")
    await p.leader.press("退回")
    return p.leader, lambda: db.one("SELECT state FROM tasks")["state"], "原因"


STEPS = {
    "转办原因": _transfer,
    "不同意延期的原因": _deny,
    "办结情况": _close,
    "撤回原因": _withdraw,
    "退回原因": _send_back,
}


@pytest.mark.parametrize("kind", sorted(BARE))
@pytest.mark.parametrize("step", sorted(STEPS))
async def test_a_bare_value_is_no_reason_in_the_chat(sandbox, people, db, step, kind):
    person, state, field = await STEPS[step](people, db)
    before = state()
    typed = BARE[kind]
    what = "日期" if kind == "date" else "数字"
    answer = await person.send(typed)
    assert any(f"“{typed}”只是{what}" in a for a in answer), answer
    assert state() == before
    assert any(f"不能作为{field}" in a for a in answer), answer
    await person.send(WORDS)  # the prompt stayed: words are taken
    assert state() != before


async def test_a_date_at_the_extension_reason_still_corrects_the_date(sandbox, people, db):
    p = people
    number = await claimed(p)
    await p.official.press("延期", containing=number)
    await p.official.send("2026-03-27")
    assert await p.official.send("2026-03-31") == [
        "已将申请的新期限改为 2026-03-31。请输入延期原因："
    ]
    assert (await p.official.send("30"))[0].startswith("“30”只是数字，不能作为延期原因")
    assert db.count("extensions") == 0


@pytest.mark.parametrize("typed", [*BARE.values(), WORDS])
@pytest.mark.parametrize(
    "action", [Action.TRANSFER, Action.EXTEND, Action.CLOSE, Action.WITHDRAW, "deny", "back"]
)
async def test_the_use_cases_refuse_a_bare_reason_from_any_caller(
    sandbox, people, db, action, typed
):
    """Called directly (no chat): the same refusal, nothing stored; words go through."""
    p = people
    env = sandbox.env
    bare = typed != WORDS
    if action == "back":
        await import_file(p.leader, "t.csv", csv_bytes([task_row(1)]))
        await p.official.send("/tasks")
        await p.official.press("第1项")
        await p.official.press("申请销号")
        await p.official.send("已全部整改完毕，申请销号。")
        await p.official.send("/done")
        task = db.one("SELECT id, version FROM tasks")
        leader = await people_actor(env, p.leader.id)

        async def run():
            from bot.rules.model import TaskAction

            return await tasks.act(
                env, leader, task["id"], TaskAction.SEND_BACK, task["version"], typed
            )

        state = lambda: db.one("SELECT state FROM tasks")["state"]  # noqa: E731
    elif action == "deny":
        number = await claimed(p)
        await ask_extension(p.official, number, "2026-03-31", "企业材料未齐。")
        head = await people_actor(env, p.head.id)
        extension = db.one("SELECT id FROM extensions")["id"]

        async def run():
            return await appeals.decide_extension(env, head, extension, False, None, typed)

        state = lambda: db.one("SELECT state FROM extensions")["state"]  # noqa: E731
    else:
        number = await claimed(p)
        who = p.company if action is Action.WITHDRAW else p.official
        actor = await people_actor(env, who.id)
        appeal = db.appeal(number)
        request = ActionRequest(
            appeal.id,
            appeal.version,
            text=typed,
            new_due="2026-03-31" if action is Action.EXTEND else None,
        )
        if action is Action.TRANSFER:
            actor = await people_actor(env, p.leader.id)
            request = ActionRequest(appeal.id, appeal.version, text=typed, department_code="rsj")

        async def run():
            return await appeals.USE_CASES[action](env, actor, request)

        def state():
            row = db.appeal(number)
            return (row.state, row.department_id, db.count("extensions"))

    before = state()
    if bare:
        with pytest.raises(InvalidInput) as refused:
            await run()
        assert refused.value.params["reason"] == "bare_value"
        assert state() == before
    else:
        await run()
        assert state() != before
