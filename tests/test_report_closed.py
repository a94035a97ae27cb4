"""A progress report or a 销号 request takes more parts (and edits of its parts) only while
nothing moved the task since it was made: once a leader decided it (同意销号, 退回, 视同完成)
or named another 责任人, a later part or edit is refused plainly, naming that change, and
changes nothing. Every part accepted is an audit event holding the report's whole text,
and the leaders learn what is added to a 销号 request still waiting for them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from bot.rules.model import TaskAction, TaskState
from bot.rules.refusals import TaskPartClosed
from bot.rules.task_ledger import AMEND
from bot.texts import name, t
from bot.usecases import people as people_cases
from bot.usecases import tasks
from tests.conftest import LEADER_ID
from tests.test_prompt_parts import edited
from tests.test_tasks import csv_bytes, import_file, task_row

FIRST = "抽查机制已建立并运行。"
MORE = "另：仍有3件未整改。"
CORRECTED = "抽查机制已建立，尚在试运行。"
KINDS = {"report": "报告进展", "request_close": "申请销号"}
# What moved the task after the report was made (None: nothing, it still takes parts).
CHANGES = ("approve", "send_back", "deem", "reassign", None)
# The state each change leaves the task in, and the event that names it.
AFTER = {
    "approve": (TaskState.DONE, "task_approve"),
    "send_back": (TaskState.IN_PROGRESS, "task_send_back"),
    "deem": (TaskState.DEEMED_DONE, "task_deem"),
    "reassign": (None, "task_assign"),  # the state stays what it was
}


async def open_report(sandbox, p, kind: str, change: str | None) -> tuple[dict[str, Any], int]:
    """The holder's report or 销号 request, its first message kept (to edit it later); the
    task is in the state where `change` may follow: a report to approve is one of a task
    视同完成 (its monthly report); one to send back or deem is followed by a 销号 request
    the holder makes elsewhere (so the report's prompt is still open)."""
    state = "视同完成，持续整改" if kind == "report" and change == "approve" else "整改中"
    await import_file(p.leader, "t.csv", csv_bytes([task_row(1, state=state)]))
    await p.official.send("/tasks")
    await p.official.press("第1项")
    await p.official.press(KINDS[kind])
    first = sandbox.api.message_update(p.official.user, FIRST)
    await sandbox.deliver(first)
    task = await tasks.view_seq(
        sandbox.env, await people_cases.actor_for(sandbox.env, LEADER_ID), 1
    )
    if kind == "report" and change in ("send_back", "deem"):
        holder = await people_cases.actor_for(sandbox.env, p.official.id)
        await tasks.act(
            sandbox.env, holder, task.task.id, TaskAction.REQUEST_CLOSE, task.task.version, "已完成"
        )
    return first, task.task.id


async def make_change(p, change: str | None) -> None:
    if change is None:
        return
    await p.leader.send("/tasks 1")
    if change == "approve":
        await p.leader.press("同意销号")
    elif change == "deem":
        await p.leader.press("视同完成，持续整改")
    elif change == "send_back":
        await p.leader.press("退回")
        await p.leader.send("缺少通报文件。")
    else:
        await p.leader.press("指定责任人")
        await p.leader.press("张科长（市地方金融管理局）")


def report_text(db) -> str:
    return db.one("SELECT text FROM task_reports WHERE author_id = 20002 ORDER BY id LIMIT 1")[
        "text"
    ]


def amendments(db) -> list[dict]:
    rows = db.rows("SELECT detail FROM audit_events WHERE action = ? ORDER BY id", AMEND)
    return [json.loads(r["detail"]) for r in rows]


@pytest.mark.parametrize("how", ["part", "edit"])
@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_a_report_takes_parts_only_until_the_task_moves_on(
    sandbox, people, db, kind, change, how
):
    p = people
    first, task_id = await open_report(sandbox, p, kind, change)
    await make_change(p, change)
    state_before = db.one("SELECT state, version FROM tasks WHERE id = ?", task_id)
    leader_mark = p.leader.mark()
    if how == "part":
        answer = await p.official.send(MORE)
    else:
        mark = p.official.mark()
        await sandbox.deliver(edited(first, CORRECTED))
        answer = p.official.since(mark)
    what = t(f"task_part_what.{kind}")

    if change is not None:  # refused plainly, naming the change; nothing stored or sent
        state, event = AFTER[change]
        now = name("task_state", state or TaskState(state_before["state"]))
        head = "这条消息未加入" if how == "part" else "修改未生效"
        tail = "不再接受补充" if how == "part" else "不再修改"
        pattern = (
            rf"{head}：第1项整改任务已于 \d{{4}}-\d\d-\d\d \d\d:\d\d 由 王局长 "
            rf"{re.escape(name('event', event))}（当前为“{re.escape(now)}”），"
            rf"此前的{what}{tail}。已保存的内容不变。"
        )
        assert len(answer) == 1 and re.fullmatch(pattern, answer[0]), answer
        assert report_text(db) == FIRST
        assert amendments(db) == []
        assert db.one("SELECT state, version FROM tasks WHERE id = ?", task_id) == state_before
        assert p.leader.since(leader_mark) == []
        assert db.count("conversations") == 0  # the prompt ended: nothing more joins it
        return

    # still open: the part joins (or the edit corrects) the report, recorded as an event
    expected = f"{FIRST}\n{MORE}" if how == "part" else CORRECTED
    done = "已加入" if how == "part" else "已按修改更新"
    assert len(answer) == 1 and answer[0].startswith(f"{done}第1项整改任务的{what}"), answer
    assert report_text(db) == expected
    [amended] = amendments(db)
    assert amended["text"] == expected
    assert amended["part"] == (MORE if how == "part" else CORRECTED)
    assert amended.get("edit", False) is (how == "edit")
    notices = p.leader.since(leader_mark)
    if kind == "report":
        assert notices == []  # a progress report is nobody's to decide
        return
    heading = "销号申请补充" if how == "part" else "销号申请更正"
    quoted = ("补充内容：" + MORE) if how == "part" else ("更正后：" + CORRECTED)
    assert len(notices) == 1, notices
    assert notices[0].startswith(f"{heading}：第1项整改任务（李明）") and quoted in notices[0]
    buttons = [label for label, _ in p.leader.inbox[-1].buttons]
    assert buttons == ["同意销号", "视同完成，持续整改", "退回", "第1项 查看"]
    # the notice's buttons decide the request, the addition seen
    await p.leader.press("同意销号")
    assert db.one("SELECT state FROM tasks WHERE id = ?", task_id)["state"] == "done"
    # and after that, the issue's case: the holder's next part is refused, the text kept
    answer = await p.official.send("又及：已全部整改。")
    assert answer[0].startswith("这条消息未加入：第1项整改任务已于 ") and "同意销号" in answer[0]
    assert report_text(db) == expected


async def test_the_issues_case_an_approved_request_is_not_rewritten(sandbox, people, db):
    p = people
    await import_file(p.leader, "t.csv", csv_bytes([task_row(30)]))
    await p.official.send("/tasks")
    await p.official.press("第30项")
    await p.official.press("申请销号")
    await p.official.send(FIRST)
    await p.leader.press("同意销号")
    answer = await p.official.send(MORE)
    assert answer[0].startswith("这条消息未加入：第30项整改任务已于 ")
    assert "由 王局长 同意销号（当前为“已完成，同意销号”）" in answer[0]
    assert db.one("SELECT text FROM task_reports") == {"text": FIRST}
    card = await p.leader.send("/tasks 30")
    assert MORE not in card[0] and FIRST in card[0]


async def test_a_file_added_to_a_waiting_request_reaches_the_leaders(sandbox, people, db):
    p = people
    await import_file(p.leader, "t.csv", csv_bytes([task_row(1)]))
    await p.official.send("/tasks")
    await p.official.press("第1项")
    await p.official.press("申请销号")
    await p.official.send(FIRST)
    mark = p.leader.mark()
    resent = len(sandbox.api.resent)
    await p.official.send_document("抽查通报.pdf")
    [notice, file] = p.leader.since(mark)
    assert notice.startswith("销号申请补充：第1项整改任务（李明）")
    assert notice.endswith("补充内容：" + t("attachment_only"))
    # the file itself follows the notice, as the request's first files did
    [(chat, kind, _, caption)] = sandbox.api.resent[resent:]
    assert (chat, kind) == (p.leader.id, "document") and caption.startswith("第1项整改任务 附件")
    [amended] = amendments(db)
    assert amended["files"] == 1 and amended["text"] == FIRST


# The use case without Telegram ----------------------------------------------------------------


@pytest.mark.parametrize("edit", [False, True])
@pytest.mark.parametrize("change", ["approve", "send_back", "deem", "reassign"])
async def test_amend_report_refuses_once_a_request_was_decided(sandbox, people, db, change, edit):
    env = sandbox.env
    await import_file(people.leader, "t.csv", csv_bytes([task_row(1)]))
    holder = await people_cases.actor_for(env, people.official.id)
    leader = await people_cases.actor_for(env, LEADER_ID)
    [task] = await tasks.tasks_for(env, holder)
    made = await tasks.act(env, holder, task.id, TaskAction.REQUEST_CLOSE, task.version, FIRST)
    version = made.task.version
    if change == "reassign":
        head = await people_cases.actor_for(env, people.head.id)
        await tasks.assign_owner(env, leader, task.id, version, head.tg_id)
    else:
        action = {"approve": TaskAction.APPROVE, "deem": TaskAction.DEEM}.get(
            change, TaskAction.SEND_BACK
        )
        text = "缺少通报文件。" if action is TaskAction.SEND_BACK else None
        await tasks.act(env, leader, task.id, action, version, text)
    events = db.count("audit_events")
    with pytest.raises(TaskPartClosed) as refused:
        await tasks.amend_report(
            env, holder, task.id, made.report_id, f"{FIRST}\n{MORE}", (), MORE, edit
        )
    assert refused.value.event.action == AFTER[change][1]
    assert report_text(db) == FIRST
    assert db.count("audit_events") == events
