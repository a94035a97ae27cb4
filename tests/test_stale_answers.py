"""A refused press names the change that explains it: the last change RELEVANT to the button
and VISIBLE to the one who pressed it (never an internal event to an enterprise); "already
so" in one wording, whichever button says it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.rules.workflow import EXTENSION_DECISION, already_there, explaining_change
from tests.conftest import file_appeal


@dataclass(frozen=True)
class Ev:
    action: str
    to_state: str | None


FILED = [Ev("file", "pending")]
CLAIMED = [*FILED, Ev("claim", "in_progress")]
CLOSED = [*CLAIMED, Ev("reply", "in_progress"), Ev("close", "closed")]
REOPENED = [*CLOSED, Ev("reopen", "in_progress")]
INTERNAL = [Ev("note", "in_progress"), Ev("extend", "in_progress")]
DENIED = [*REOPENED, *INTERNAL, Ev("extension_denied", "in_progress")]
APPROVED = [*CLAIMED, *INTERNAL, Ev("extension_approved", "in_progress")]
WITHDRAWN = [*CLAIMED, Ev("note", "in_progress"), Ev("withdraw", "withdrawn")]
MOVED = [*CLAIMED, Ev("transfer", "pending"), Ev("note", "pending")]
RATED = [*CLOSED, Ev("rate", "rated"), Ev("note", "rated")]

ENTERPRISE, STAFF = True, False
# (button, the history, the state now, who pressed) → the change named (None: none to name)
CASES = [
    # the enterprise's old 满意 after 不满意 and a refused extension: its own 不满意重办
    ("rate", DENIED, "in_progress", ENTERPRISE, "reopen"),
    ("rate", DENIED, "in_progress", STAFF, "reopen"),
    ("reopen", DENIED, "in_progress", ENTERPRISE, "reopen"),
    ("rate", RATED, "rated", ENTERPRISE, "rate"),
    ("reopen", RATED, "rated", ENTERPRISE, "rate"),
    # the head's old 签收: who claimed it, not the later round
    ("claim", REOPENED, "in_progress", STAFF, "claim"),
    ("claim", DENIED, "in_progress", STAFF, "claim"),
    ("claim", CLOSED, "closed", STAFF, "close"),
    ("claim", WITHDRAWN, "withdrawn", STAFF, "withdraw"),
    # 撤回 / 补充 on a withdrawn appeal: the withdrawal, to either
    ("withdraw", WITHDRAWN, "withdrawn", ENTERPRISE, "withdraw"),
    ("supplement", WITHDRAWN, "withdrawn", ENTERPRISE, "withdraw"),
    ("reply", WITHDRAWN, "withdrawn", STAFF, "withdraw"),
    ("close", WITHDRAWN, "withdrawn", STAFF, "withdraw"),
    # sent elsewhere: the enterprise was told of the transfer; a note after it is not named
    ("withdraw", MOVED, "pending", ENTERPRISE, "transfer"),
    ("close", MOVED, "pending", STAFF, "transfer"),
    # extension decisions: their own events, for staff only
    (EXTENSION_DECISION, DENIED, "in_progress", STAFF, "extension_denied"),
    (EXTENSION_DECISION, APPROVED, "in_progress", STAFF, "extension_approved"),
    (EXTENSION_DECISION, WITHDRAWN, "withdrawn", STAFF, "withdraw"),
    # nothing relevant the enterprise may read
    ("supplement", [Ev("note", "pending")], "pending", ENTERPRISE, None),
    (EXTENSION_DECISION, [*INTERNAL, Ev("extension_denied", "in_progress")], "in_progress",
     ENTERPRISE, None),
]  # fmt: skip


@pytest.mark.parametrize(("button", "events", "state", "enterprise", "named"), CASES)
def test_the_change_named(button, events, state, enterprise, named):
    found = explaining_change(events, button, state, enterprise)
    assert (found.action if found else None) == named
    if enterprise and found is not None:
        assert found.action not in ("note", "extend", "extension_denied", "extension_approved")


@pytest.mark.parametrize(
    ("button", "state", "already"),
    [
        ("withdraw", "withdrawn", True),
        ("claim", "in_progress", True),
        ("close", "closed", True),
        ("rate", "rated", True),
        ("supplement", "withdrawn", False),
        ("rate", "in_progress", False),
        ("claim", "closed", False),
        (EXTENSION_DECISION, "in_progress", False),
    ],
)
def test_already_there(button, state, already):
    assert already_there(button, state) is already


async def test_an_old_rating_after_reopen_and_a_refused_extension(sandbox, people):
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await p.official.press("办结", containing=number)
    await p.official.send("已完成银企对接。")
    await p.company.press("不满意")
    await p.company.send("/skip")
    await p.official.press("延期", containing=number)
    await p.official.send("2026-04-30")
    await p.official.send("需等待银行授信审批结果。")
    await p.head.press("不同意")
    await p.head.send("内部理由：材料已齐。")
    answer = await p.company.press("满意")
    assert answer == [
        f"此按钮已失效：诉求 {number} 当前为“办理中”（陈经理 于 2026-03-10 10:00 不满意重办）。"
        f"发送 /view {number} 查看最新情况。"
    ]
    # the head's old 签收 names the claim, not the enterprise's 不满意
    assert await p.head.press("签收", containing=number) == [
        f"诉求 {number} 已是“办理中”：李明 已于 2026-03-10 10:00 签收。"
        f"发送 /view {number} 查看最新情况。"
    ]


async def test_withdrawn_again_is_said_on_its_button_and_explained_on_others(sandbox, people, db):
    """撤回 tapped again by who withdrew it: answered on the button as done; another
    button of the same card names the change that made it stale."""
    p = people
    number = await file_appeal(p.company)
    await p.company.send(f"/view {number}")
    card = p.company.inbox[-1]
    await p.company.press("撤回", containing=number)
    await p.company.send("问题已自行解决。")
    assert db.appeal(number).state == "withdrawn"
    withdraw = dict(card.buttons)["撤回"]
    supplement = dict(card.buttons)["补充"]
    answers = [await p.company.press_data(card, data) for data in (withdraw, supplement)]
    assert answers[0] == []
    popups = [
        c["text"] for m, c in sandbox.api.calls if m == "answerCallbackQuery" and c.get("text")
    ]
    assert popups == ["已撤回，无需重复操作。"]
    assert answers[1] == [
        f"此按钮已失效：诉求 {number} 当前为“已撤回”（陈经理 于 2026-03-10 10:00 撤回）。"
        f"发送 /view {number} 查看最新情况。"
    ]
    assert db.appeal(number).state == "withdrawn"


async def test_who_had_the_appeal_is_told_where_it_went(sandbox, people):
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await p.official.press("转办", containing=number)
    await p.official.send("中小企业科")
    await p.official.send("属于中小企业扶持，请中小企业科办理。")
    moved = f"诉求 {number} 已于 2026-03-10 10:00 由 李明 转办至 中小企业科，不再由您办理。"
    assert await p.official.press("回复", containing=number) == [moved]
    assert await p.official.send(f"/view {number}") == [moved]
    # who never had it: the unknown-id answer, as for any number
    stranger = sandbox.person(20010, "钱进")
    from tests.conftest import join

    await join(stranger, p.leader, "cyzc")
    assert await stranger.send(f"/view {number}") == ["未找到该诉求，或您无权查看。"]
    assert await p.rival.send(f"/view {number}") == ["未找到该诉求，或您无权查看。"]


async def test_who_held_the_task_is_told_to_whom_it_went(sandbox, people):
    from tests.test_tasks import csv_bytes, import_file, task_row

    p = people
    await import_file(p.leader, "t.csv", csv_bytes([task_row(9)]))
    await p.official.send("/tasks")
    await p.official.press("第9项")
    card = p.official.inbox[-1]
    report = dict(card.buttons)["报告进展"]
    await p.leader.send("/tasks")
    await p.leader.press("第9项 查看")
    await p.leader.press("指定责任人")
    await p.leader.send("张科长")
    assert p.leader.last == "已将第9项整改任务的责任人指定为 张科长。"
    assert await p.official.press_data(card, report) == [
        "第9项整改任务已于 2026-03-10 10:00 由 局领导/督办员 改由 张科长 负责，不再由您办理。"
    ]
    forged = await p.outsider.press_data(p.outsider.inbox[-1], report)  # in their own chat
    assert forged == ["未找到该整改任务，或您无权查看。"]
