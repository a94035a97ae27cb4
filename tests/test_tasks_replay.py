"""A task action repeated says what it said the first time, and does nothing twice.

The answer to a task action may come other ways than at once: the bot may die after the
action is stored and before it answered, and Telegram delivers the same update again (or
the person taps again); the answer may fail, and the courier sends the stored one. For
every task action, each way reads the same answer and the database holds the action
once: one report, one audit event, one notice to each person told. A button tapped again
once it was answered gets a short answer and no second message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from bot.rules.model import TaskAction
from bot.rules.parts import joined
from bot.sandbox.chat import Person, Sandbox
from bot.texts import t
from bot.usecases import tasks as ledger
from bot.usecases.people import Caller
from handlers import courier
from handlers import tasks as task_handlers
from tests.test_filing_replay import _once
from tests.test_tasks import csv_bytes, task_row

# action → (who acts, the button, the text it asks for, or None: decided at once)
ACTIONS: dict[TaskAction, tuple[str, str, str | None]] = {
    TaskAction.REPORT: ("official", "报告进展", "已制定抽查办法，本月抽查回复20件。"),
    TaskAction.REQUEST_CLOSE: ("official", "申请销号", "抽查机制已建立并运行。"),
    TaskAction.SEND_BACK: ("leader", "退回", "缺少通报文件。"),
    TaskAction.APPROVE: ("leader", "同意销号", None),
    TaskAction.DEEM: ("leader", "视同完成，持续整改", None),
}
ASKED_OF_LEADERS = {TaskAction.SEND_BACK, TaskAction.APPROVE, TaskAction.DEEM}


async def _ready(sandbox: Sandbox, p: Any, db: Any, seq: int, action: TaskAction) -> None:
    """Task `seq` (李明's) in the state the action starts from."""
    if action in ASKED_OF_LEADERS:  # a 销号 request waiting for the leaders
        task = db.one("SELECT id, version FROM tasks WHERE seq = ?", seq)
        await ledger.act(
            sandbox.env, Caller(p.official.id), task["id"], TaskAction.REQUEST_CLOSE,
            task["version"], "已完成整改。",
        )  # fmt: skip
        await courier.drain(sandbox.app.bot, sandbox.env)  # the leaders read the request


async def _update(person: Person, seq: int, action: TaskAction) -> dict[str, Any]:
    """The update that does the action on task `seq` (its prompt opened first, for an
    action that asks for text): not yet delivered."""
    label, text = ACTIONS[action][1:]
    await person.send(f"/tasks {seq}")
    message, data = person.find_button(label, containing=f"第{seq}项")
    if text is None:
        return person.sandbox.api.callback_update(person.user, message, data)
    await person.press_data(message, data, label)
    return person.sandbox.api.message_update(person.user, text)


async def _courier_later(sandbox: Sandbox, clock: Any) -> None:
    clock.advance(timedelta(minutes=1))
    await courier.drain(sandbox.app.bot, sandbox.env)


Way = Callable[[Sandbox, Any, Person, dict, pytest.MonkeyPatch], Awaitable[list[str]]]


async def answered(sandbox, clock, person, update, monkeypatch) -> list[str]:
    mark = person.mark()
    await sandbox.deliver(update)
    await _courier_later(sandbox, clock)  # the stored copy is not sent again
    return person.since(mark)


async def redelivered_before_the_answer(sandbox, clock, person, update, monkeypatch):
    """Dead after the action was stored, before the answer: the same update again."""
    _once(task_handlers, "confirm", monkeypatch)
    await sandbox.deliver(update)
    mark = person.mark()
    await sandbox.deliver(update)
    await _courier_later(sandbox, clock)
    return person.since(mark)


async def answer_failed(sandbox, clock, person, update, monkeypatch) -> list[str]:
    """Telegram failed the answer (502, every retry): the courier sends the stored one."""
    sandbox.api.fail_chat(person.id, 502, "Bad Gateway")
    await sandbox.deliver(update)
    sandbox.api.chat_failures.clear()
    mark = person.mark()
    await _courier_later(sandbox, clock)
    return person.since(mark)


WAYS: list[Way] = [answered, redelivered_before_the_answer, answer_failed]


@pytest.mark.parametrize("action", list(ACTIONS), ids=str)
async def test_each_way_an_action_is_answered_says_the_same_and_acts_once(
    sandbox, people, db, clock, monkeypatch, action
):
    p = people
    who = getattr(p, ACTIONS[action][0])
    rows = [task_row(seq) for seq in range(1, len(WAYS) + 1)]
    await p.leader.send("/tasks import")
    await p.leader.send_document("t.csv", content=csv_bytes(rows))
    read = {}
    for seq, way in enumerate(WAYS, start=1):
        await _ready(sandbox, p, db, seq, action)
        update = await _update(who, seq, action)
        said = await way(sandbox, clock, who, update, monkeypatch)
        read[way.__name__] = [m.replace(f"第{seq}项", "第N项") for m in said]
    first = read["answered"]
    assert first == [t(f"done_task.{action}", seq="N")]
    stored = t(courier.STORED_ACK_KEYS.get(f"done_task.{action}", f"done_task.{action}"), seq="N")
    assert read == {
        "answered": first,
        "redelivered_before_the_answer": first,
        # the live answer to a report asks for more; the stored copy only says it was kept
        "answer_failed": [stored],
    }
    for seq in range(1, len(WAYS) + 1):
        task = db.one("SELECT id FROM tasks WHERE seq = ?", seq)["id"]
        actions = db.rows(
            "SELECT action FROM audit_events WHERE subject = ? AND action = ?",
            f"task:{task}",
            f"task_{action}",
        )
        assert len(actions) == 1, (seq, actions)
        told = db.rows(
            "SELECT chat_id FROM outbox WHERE subject = 'task' AND subject_id = ? AND kind = ?",
            task,
            f"task_{action}",
        )
        assert len(told) == len({r["chat_id"] for r in told}), told  # each person once
        if ACTIONS[action][2] is not None:
            reports = db.rows("SELECT text FROM task_reports WHERE task_id = ?", task)
            assert [r["text"] for r in reports][-1] == ACTIONS[action][2]
            assert len(reports) == (2 if action in ASKED_OF_LEADERS else 1), reports


@pytest.mark.parametrize("action", [TaskAction.APPROVE, TaskAction.DEEM], ids=str)
async def test_a_decision_tapped_twice_is_told_once(sandbox, people, db, action):
    p = people
    await p.leader.send("/tasks import")
    await p.leader.send_document("t.csv", content=csv_bytes([task_row(1)]))
    await _ready(sandbox, p, db, 1, action)
    update = await _update(p.leader, 1, action)
    mark, official = p.leader.mark(), p.official.mark()
    await sandbox.deliver(update)
    await sandbox.deliver(update)
    assert p.leader.since(mark) == [t(f"done_task.{action}", seq=1)]
    popups = [c for m, c in sandbox.api.calls if m == "answerCallbackQuery" and c.get("text")]
    assert popups[-1]["text"] == t("done_task_again", seq=1)
    assert len([m for m in p.official.since(official) if "第1项整改任务经局领导审批" in m]) == 1


@pytest.mark.parametrize("action", [TaskAction.APPROVE, TaskAction.DEEM], ids=str)
async def test_an_old_press_telegram_will_not_answer_is_no_error(sandbox, people, db, action):
    """A press replayed after a restart is too old to answer on the button: Telegram refuses
    the pop-up, and the action (done, once) is not turned into an error in the chat."""
    p = people
    await p.leader.send("/tasks import")
    await p.leader.send_document("t.csv", content=csv_bytes([task_row(1)]))
    await _ready(sandbox, p, db, 1, action)
    update = await _update(p.leader, 1, action)
    await sandbox.deliver(update)
    mark = p.leader.mark()
    too_old = "Bad Request: query is too old and response timeout expired or query ID is invalid"
    sandbox.api.fail("answerCallbackQuery", 400, too_old)
    await sandbox.deliver(update)
    assert p.leader.since(mark) == []


async def test_the_use_case_replays_without_acting_again(sandbox, people, db):
    """Without Telegram: the same request twice stores one report and answers alike."""
    p = people
    await p.leader.send("/tasks import")
    await p.leader.send_document("t.csv", content=csv_bytes([task_row(1)]))
    env, who = sandbox.env, Caller(p.official.id)
    task = db.one("SELECT id, version FROM tasks WHERE seq = 1")
    args = (env, who, task["id"], TaskAction.REPORT, task["version"], "进展一。", (), "key-1")
    first = await ledger.act(*args)
    again = await ledger.act(*args)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.report_id == first.report_id is not None
    assert again.ack_id == first.ack_id is not None  # not answered yet: the replay answers it
    assert again.view == first.view
    assert db.count("task_reports") == 1


async def test_a_responsible_official_named_is_told_once_through_the_outbox(
    sandbox, people, db, clock
):
    """指定责任人: the official's notice is stored with the change (so a failed send is
    retried by the courier); the same button tapped again names nobody twice."""
    p = people
    await p.leader.send("/tasks import")
    await p.leader.send_document("t.csv", content=csv_bytes([task_row(1, owner="谁")]))
    await p.leader.send("/tasks 1")
    await p.leader.press("指定责任人")
    message, data = p.leader.find_button("李明（市地方金融管理局）")
    update = sandbox.api.callback_update(p.leader.user, message, data)
    sandbox.api.fail_chat(p.official.id, 502, "Bad Gateway")
    mark, official = p.leader.mark(), p.official.mark()
    await sandbox.deliver(update)
    await sandbox.deliver(update)
    assert p.leader.since(mark) == ["已将第1项整改任务的责任人指定为 李明。"]
    popups = [c for m, c in sandbox.api.calls if m == "answerCallbackQuery" and c.get("text")]
    assert popups[-1]["text"] == t("done_task_again", seq=1)
    assert p.official.since(official) == []  # Telegram refused it for now
    sandbox.api.chat_failures.clear()
    await _courier_later(sandbox, clock)
    told = p.official.inbox[official:]
    assert [m.plain.split("\n")[0] for m in told] == ["您已被指定为第1项整改任务的责任人。"]
    assert [label for label, _ in told[0].buttons] == ["报告进展", "申请销号", "第1项 查看"]
    assert len(db.rows("SELECT id FROM audit_events WHERE action = 'task_assign'")) == 1


@pytest.mark.parametrize("crash", [True, False], ids=["crash before the prompt moved", "after"])
async def test_a_part_of_a_report_delivered_again_joins_once(
    sandbox, people, db, monkeypatch, crash
):
    """A text and a photo added to a report, each delivered twice (Telegram re-sends an
    update it did not see confirmed): each joins once, and is answered as the first time."""
    p = people
    await p.leader.send("/tasks import")
    await p.leader.send_document("t.csv", content=csv_bytes([task_row(1)]))
    update = await _update(p.official, 1, TaskAction.REPORT)
    await sandbox.deliver(update)
    api = sandbox.api
    answers = []
    for more in (
        api.message_update(p.official.user, "本月抽查回复20件。"),
        api.message_update(p.official.user, photo=True),
    ):
        if crash:  # the part is stored; the bot dies before the prompt notes it
            _once(task_handlers.flow, "advance", monkeypatch)
            await sandbox.deliver(more)
        else:
            await sandbox.deliver(more)
            answers.append(p.official.last)
        mark = p.official.mark()
        await sandbox.deliver(more)
        answers.append(p.official.since(mark)[-1])
    expected = [
        t("done_task_part", seq=1, what="进展报告", stored="文字 2 段，附件 0 个"),
        t("done_task_part", seq=1, what="进展报告", stored="文字 2 段，附件 1 个"),
    ]
    assert answers == (expected if crash else [expected[0], expected[0], *expected[1:] * 2])
    task = db.one("SELECT id FROM tasks WHERE seq = 1")["id"]
    [report] = db.rows("SELECT text FROM task_reports WHERE task_id = ?", task)
    assert report["text"] == joined([[1, ACTIONS[TaskAction.REPORT][2]], [2, "本月抽查回复20件。"]])
    assert db.count("task_attachments") == 1
    amends = db.rows("SELECT id FROM audit_events WHERE action = 'task_amend'")
    assert len(amends) == 2
