"""A filing confirmation sent again says what the first said.

The confirmation of a filing (诉求已提交 …) may reach the enterprise other ways than as the
answer to 提交: the bot may die after the appeal is stored and before it answered, and the
same 提交 comes again (Telegram re-delivers it, or the person taps again); the answer may
fail, and the courier sends the stored confirmation. Each way says the same as the first
answer would have — the line that nobody of the department can take it yet (its leaders
were told) included — for every way an appeal is routed: a department with members, one
with nobody, an enterprise's 包保 official, a department heard only in its group.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from bot.sandbox.chat import Person, Sandbox
from bot.texts import t
from bot.usecases import appeals
from bot.usecases import people as people_cases
from bot.usecases.people import Caller
from handlers import courier, filing
from tests.conftest import file_appeal, register

UNHEARD = t("filed_unheard")
FILED = "诉求已提交"
GROUP = -100777  # 市司法局's group


class Crash(Exception):
    """The process dies here (the test's stand-in for kill -9)."""


def _once(target: Any, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`target.name` raises Crash the next time it is called, then works again."""
    original = getattr(target, name)

    async def crashing(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(target, name, original)
        raise Crash()

    monkeypatch.setattr(target, name, crashing)


async def _draft(company: Person, category: str, text: str) -> dict[str, Any]:
    """/new → category → description: the 提交 update, not yet delivered."""
    await company.send("/new")
    await company.press(category)
    await company.send(text)
    message, data = company.find_button("提交")
    return company.sandbox.api.callback_update(company.user, message, data)


async def _courier_later(sandbox: Sandbox, clock: Any) -> None:
    """The courier's next rounds, once a stored confirmation is due."""
    clock.advance(timedelta(minutes=1))
    await courier.drain(sandbox.app.bot, sandbox.env)


def _confirmations(company: Person, mark: int) -> list[str]:
    return [text for text in company.since(mark) if text.startswith(FILED)]


# How the confirmation reaches the enterprise: (sandbox, clock, company, 提交, monkeypatch)
# → the confirmations it read.
Way = Callable[[Sandbox, Any, Person, dict, pytest.MonkeyPatch], Awaitable[list[str]]]


async def answered(sandbox, clock, company, submit, monkeypatch) -> list[str]:
    """The answer to 提交, as usual; the same tap again names the filing, confirms nothing."""
    mark = company.mark()
    await sandbox.deliver(submit)
    await sandbox.deliver(submit)
    assert company.last.startswith("该诉求已提交，编号") and "无需重复提交" in company.last
    await _courier_later(sandbox, clock)  # the stored copy is not sent again
    return _confirmations(company, mark)


async def redelivered_before_the_draft_ended(sandbox, clock, company, submit, monkeypatch):
    """Dead after the filing was stored, before the draft ended: the same 提交 again (and
    the courier then owes nothing)."""
    _once(filing.flow, "finish", monkeypatch)
    await sandbox.deliver(submit)
    mark = company.mark()
    await sandbox.deliver(submit)
    await _courier_later(sandbox, clock)
    return _confirmations(company, mark)


async def redelivered_after_the_draft_ended(sandbox, clock, company, submit, monkeypatch):
    """Dead after the draft ended, before the answer: the same 提交 again is answered with
    the stored confirmation itself, marked sent — not "无需重复提交" and the courier's copy
    after it (told twice; three times when the first answer had gone before the kill)."""
    _once(filing, "confirm", monkeypatch)
    await sandbox.deliver(submit)
    mark = company.mark()
    await sandbox.deliver(submit)
    assert company.last.startswith(FILED) and "无需重复提交" not in company.last
    await _courier_later(sandbox, clock)
    return _confirmations(company, mark)


async def answer_failed(sandbox, clock, company, submit, monkeypatch) -> list[str]:
    """Telegram failed the answer (502, every retry): the courier sends the stored one."""
    sandbox.api.fail_chat(company.id, 502, "Bad Gateway")
    await sandbox.deliver(submit)
    sandbox.api.chat_failures.clear()
    mark = company.mark()
    await _courier_later(sandbox, clock)
    return _confirmations(company, mark)


WAYS: list[Way] = [
    answered,
    redelivered_before_the_draft_ended,
    redelivered_after_the_draft_ended,
    answer_failed,
]


def _numberless(text: str) -> str:
    return re.sub(r"SQ-\d{4}-\d{6}", "SQ-…", text)


async def _each_way(sandbox, clock, company, category, monkeypatch) -> dict[str, list[str]]:
    """The confirmations of one appeal filed each way (each with its own text)."""
    read = {}
    for n, way in enumerate(WAYS):
        text = f"第{n + 1}件：扩建冷链仓库需流动资金约800万元，申请融资担保对接。"
        submit = await _draft(company, category, text)
        read[way.__name__] = [
            _numberless(c) for c in await way(sandbox, clock, company, submit, monkeypatch)
        ]
    return read


def _expect_the_same(read: dict[str, list[str]], unheard: bool, department: str) -> None:
    first = read["answered"]
    assert len(first) == 1, read
    assert f"承办单位：{department}" in first[0]
    assert (UNHEARD in first[0]) is unheard
    assert {way: texts for way, texts in read.items()} == {way: first for way in read}


@pytest.mark.parametrize(
    ("case", "category", "department", "unheard"),
    [
        ("a department with members", "融资", "市地方金融管理局", False),
        ("a department nobody joined", "法务", "市司法局", True),
        ("the enterprise's 包保 official", "法务", "市地方金融管理局", False),
    ],
)
async def test_every_way_the_confirmation_comes_says_the_same(
    sandbox, people, clock, monkeypatch, case, category, department, unheard
):
    p = people
    if case == "the enterprise's 包保 official":  # 李明 of 融资 takes the company's appeals
        leader = await people_cases.actor_for(sandbox.env, p.leader.id)
        company = await people_cases.actor_for(sandbox.env, p.company.id)
        await people_cases.assign_baobao(sandbox.env, leader, company.enterprise_id, p.official.id)
    read = await _each_way(sandbox, clock, p.company, category, monkeypatch)
    _expect_the_same(read, unheard, department)


async def test_a_department_heard_in_its_group_only(settings, org, clock, monkeypatch):
    """司法局 has no member but a group: the group hears of it, nobody is told otherwise."""
    departments = [
        d.model_copy(update={"chat_id": GROUP}) if d.code == "sfj" else d for d in org.departments
    ]
    box = await Sandbox.start(settings, org.model_copy(update={"departments": departments}), clock)
    try:
        company = box.person(30001, "陈经理")
        await register(company)
        read = await _each_way(box, clock, company, "法务", monkeypatch)
        _expect_the_same(read, False, "市司法局")
        assert any("新诉求" in m.plain for m in box.api.messages_to(GROUP))
    finally:
        await box.stop()


async def test_the_use_case_replays_what_it_answered(sandbox, people):
    """Without Telegram: the same request filed twice answers the same, unheard included."""
    env = sandbox.env
    who = Caller(people.company.id)
    text = "合同纠纷需要法律咨询，请安排律师对接。"
    first = await appeals.file_appeal(env, who, "fawu", text, (), "key-1")
    again = await appeals.file_appeal(env, who, "fawu", text, (), "key-1")
    assert (first.unheard, again.unheard, again.replayed) == (True, True, True)
    assert again.appeal.id == first.appeal.id
    assert again.ack_id == first.ack_id is not None  # not answered yet: the replay answers it
    heard = await appeals.file_appeal(env, who, "rongzi", text + "融资", (), "key-2")
    assert (
        (await appeals.file_appeal(env, who, "rongzi", text + "融资", (), "key-2")).unheard
        is heard.unheard
        is False
    )


@pytest.mark.parametrize(
    ("department", "unheard"), [("市地方金融管理局", False), ("市司法局", True)]
)
async def test_a_transfers_stored_confirmation_says_what_its_answer_said(
    sandbox, people, clock, department, unheard
):
    """转办 to a department nobody joined tells the official so; the stored confirmation
    the courier sends when that answer failed says it too."""
    p = people
    read = {}
    for lost in (False, True):
        await file_appeal(
            p.company, "综合服务", f"急需招聘冷链物流操作工{30 + lost}名，请协助对接。"
        )
        await p.outsider.press("查看")
        await p.outsider.press("转办")
        await p.outsider.send(department)
        if lost:
            sandbox.api.fail_chat(p.outsider.id, 502, "Bad Gateway")
        mark = p.outsider.mark()
        await p.outsider.send("不属于本科室职责，请转相关部门办理。")
        sandbox.api.chat_failures.clear()
        await _courier_later(sandbox, clock)
        read[lost] = [_numberless(m) for m in p.outsider.since(mark) if "已转办至" in m]
    assert read[False] == read[True] and len(read[False]) == 1
    assert (UNHEARD in read[False][0]) is unheard


async def test_a_message_of_the_draft_delivered_again_is_taken_once(sandbox, people, db):
    """Each message of a draft delivered twice (Telegram re-sends an update it did not see
    confirmed): answered the same both times, and in the appeal once."""
    company, api = people.company, sandbox.api
    await company.send("/new")
    await company.press("融资")
    messages = [
        api.message_update(company.user, photo=True),  # a file before the description
        api.message_update(company.user, "扩建冷链仓库需流动资金约800万元，申请融资担保对接。"),
        api.message_update(company.user, "另需设备融资租赁。"),
        api.message_update(company.user, photo=True),
    ]
    for update in messages:
        first = company.mark()
        await sandbox.deliver(update)
        answered = company.since(first)
        again = company.mark()
        await sandbox.deliver(update)
        assert company.since(again) == answered and answered
    assert company.last.startswith("已添加附件（共 2 个）")
    assert (await company.press("提交"))[0].startswith("诉求已提交")
    appeal = db.one("SELECT id, description FROM appeals")
    assert appeal["description"] == (
        "扩建冷链仓库需流动资金约800万元，申请融资担保对接。\n另需设备融资租赁。"
    )
    assert db.count("attachments") == 2
