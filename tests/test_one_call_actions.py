"""One user action, one use case: every step of the task ledger and of filing calls one use
case (or none, where the step only moves the person's prompt), and that use case loads the
person acting inside its own unit of work — no separate read of "who is this" first.

The database is watched while people act through the real handlers: each unit of work or
reading opened is named by the use case a handler called (the first `bot.usecases` frame
under a `handlers` frame). The prompt's own state (`bot.usecases.conversations`) and the
courier's sending (`handlers.courier`, `bot.usecases.outbox`) are not the action's.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

import pytest

from bot.rules.model import TaskAction
from bot.rules.refusals import NotAllowed, OfficialNameUnclear
from bot.rules.task_ledger import TaskFilter
from bot.usecases import tasks as ledger
from bot.usecases.people import Caller
from handlers.buttons import LEDGER, encode
from tests.test_tasks import csv_bytes, task_row

NOT_THE_ACTION = ("bot.usecases.conversations", "bot.usecases.outbox")
# A refusal's wording (handlers.common.refusals) reads once more whether a stranger was a
# removed contact (who removed them, whom to ask): the refusal's own text, for every handler.
REFUSED_STRANGER = "people.removal"
NOT_A_HANDLER = ("handlers.courier",)


def _entry(frame: FrameType | None) -> str | None:
    """The use case a handler called, from the frame that opened a unit of work: the
    outermost `bot.usecases` frame right under the first `handlers` frame."""
    inner = None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("bot.usecases."):
            inner = (module, frame.f_code.co_name)
        elif module.startswith("handlers."):
            if inner is None or inner[0] in NOT_THE_ACTION or module in NOT_A_HANDLER:
                return None
            return f"{inner[0].removeprefix('bot.usecases.')}.{inner[1]}"
        frame = frame.f_back
    return None


class Watch:
    """The use cases opening units of work, in order, since the last `take()`."""

    def __init__(self, db: Any) -> None:
        self.opened: list[str] = []
        for name in ("unit_of_work", "reading", "one_statement"):
            setattr(db, name, self._named(getattr(db, name)))

    @staticmethod
    def entry_of(frame: FrameType | None) -> str | None:
        """The use case whose unit of work a frame opens (None: not a person's action)."""
        return _entry(frame)

    def _named(self, open_: Callable[..., Any]) -> Callable[..., Any]:
        def opened(*args: Any, **kwargs: Any) -> Any:
            entry = self.entry_of(sys._getframe(1))
            if entry is not None:
                self.opened.append(entry)
            return open_(*args, **kwargs)

        return opened

    def take(self) -> list[str]:
        seen, self.opened = self.opened, []
        return seen


@dataclass(frozen=True)
class Step:
    label: str
    do: Callable[[], Awaitable[list[str]]]  # the action → what the actor read
    calls: list[str]  # the use cases opened, in order (one per action, none for a prompt)
    reads: str  # what the actor's answer holds


def _task_button(person: Any, db: Any, seq: int, what: str) -> Callable[[], Awaitable[list[str]]]:
    """A task button (a forged press where the card does not offer it to this person)."""

    async def press() -> list[str]:
        task = db.one("SELECT id, version FROM tasks WHERE seq = ?", seq)
        return await person.press_data(
            person.inbox[-1], encode("task", task["id"], task["version"], what)
        )

    return press


def task_steps(p: Any, db: Any, jrj: int) -> list[Step]:
    official, leader = p.official, p.leader

    def exported(
        asking: Callable[[], Awaitable[list[str]]],
    ) -> Callable[[], Awaitable[list[str]]]:
        """The ledger asked for: the names of the documents the leader got."""

        async def export() -> list[str]:
            sent = len(leader.sandbox.api.documents)
            await asking()
            return [
                name for chat, name, _ in leader.sandbox.api.documents[sent:] if chat == leader.id
            ]

        return export

    async def owner_department() -> list[str]:
        task = db.one("SELECT id, version FROM tasks WHERE seq = 2")
        data = encode("taskd", task["id"], task["version"], jrj)
        return await leader.press_data(leader.inbox[-1], data)

    return [
        Step("/tasks (a leader)", lambda: leader.send("/tasks"), ["tasks.browse"], "整改任务台账"),
        Step(
            "a state of the ledger",
            lambda: leader.press_data(leader.inbox[-1], encode(LEDGER, TaskFilter.OPEN)),
            ["tasks.browse"],
            "第1项",
        ),
        Step("/tasks 1", lambda: leader.send("/tasks 1"), ["tasks.view_seq"], "整改任务"),
        Step(
            "/tasks export",
            exported(lambda: leader.send("/tasks export")),
            ["tasks.export"],
            ".xlsx",
        ),
        Step("导出台账", exported(lambda: leader.press("导出台账")), ["tasks.export"], ".xlsx"),
        Step("/tasks import", lambda: leader.send("/tasks import"), ["tasks.may_import"], "请发送"),
        Step(
            "the file to import",
            lambda: leader.send_document("t.csv", content=csv_bytes([task_row(2, owner="谁")])),
            ["tasks.import_table"],
            "已导入 1 项整改任务。\n整改任务台账：2 个问题",
        ),
        Step("/tasks after it", lambda: leader.send("/tasks"), ["tasks.browse"], "2 个问题"),
        Step("第2项 查看", lambda: leader.press("第2项 查看"), ["tasks.view"], "第2项"),
        Step("指定责任人", lambda: leader.press("指定责任人"), ["tasks.owner_choice"], "责任人"),
        Step(
            "a department's officials",
            owner_department,
            ["tasks.owner_department"],
            "市地方金融管理局",
        ),
        Step(
            "a name that is nobody",
            lambda: leader.send("无此人"),
            ["tasks.assign_owner_named"],
            "无此人",
        ),
        Step(
            "the 责任人 typed",
            lambda: leader.send("李明"),
            ["tasks.assign_owner_named"],
            "已将第2项整改任务的责任人指定为 李明。",
        ),
        Step("/tasks 2", lambda: leader.send("/tasks 2"), ["tasks.view_seq"], "责任人：李明"),
        Step(
            "指定责任人 again",
            lambda: leader.press("指定责任人"),
            ["tasks.owner_choice"],
            "责任人",
        ),
        Step(
            "the 责任人 pressed",
            lambda: leader.press("张科长（市地方金融管理局）"),
            ["tasks.assign_owner"],
            "已将第2项整改任务的责任人指定为 张科长。",
        ),
        Step(
            "/tasks (an official)",
            lambda: official.send("/tasks"),
            ["tasks.browse"],
            "我负责的整改任务",
        ),
        Step("第1项", lambda: official.press("第1项"), ["tasks.view"], "第1项"),
        Step("报告进展", lambda: official.press("报告进展"), ["tasks.preflight"], "进展情况"),
        Step("the report", lambda: official.send("已制定抽查办法。"), ["tasks.act"], "进展已记录"),
        Step(
            "more of it",
            lambda: official.send("本月抽查20件。"),
            ["tasks.amend_report"],
            "已加入",
        ),
        Step("a photo", lambda: official.send_photo(), ["tasks.amend_report"], "已加入"),
        Step("/done", lambda: official.send("/done"), [], "第1项"),
        Step("申请销号", lambda: official.press("申请销号"), ["tasks.preflight"], "完成情况"),
        Step("the request", lambda: official.send("已建立机制。"), ["tasks.act"], "已提交销号申请"),
        Step("/done after it", lambda: official.send("/done"), [], "第1项"),
        Step(
            "第1项 查看 (a leader)",
            lambda: leader.press("第1项 查看"),
            ["tasks.view"],
            "状态：申请销号",
        ),
        Step("退回", lambda: leader.press("退回"), ["tasks.preflight"], "原因"),
        Step("the reason", lambda: leader.send("缺少通报文件。"), ["tasks.act"], "已退回整改"),
        Step("申请销号 again", lambda: official.press("申请销号"), ["tasks.preflight"], "完成情况"),
        Step(
            "the request again",
            lambda: official.send("已补充。"),
            ["tasks.act"],
            "已提交销号申请",
        ),
        Step(
            "第1项 查看 again", lambda: leader.press("第1项 查看"), ["tasks.view"], "状态：申请销号"
        ),
        Step("同意销号", lambda: leader.press("同意销号"), ["tasks.act"], "同意销号"),
        Step(
            "a report by a leader (refused)",
            _task_button(leader, db, 2, "rep"),
            ["tasks.preflight"],
            "您没有权限执行此操作。",
        ),
    ]


async def test_each_task_action_is_one_use_case_that_loads_the_actor(sandbox, people, db):
    p = people
    await p.leader.send("/tasks import")
    await p.leader.send_document("t.csv", content=csv_bytes([task_row(1)]))
    jrj = db.one("SELECT id FROM departments WHERE code = 'jrj'")["id"]
    watch = Watch(sandbox.env.db)
    wrong = []
    for step in task_steps(p, db, jrj):
        answer = await step.do()
        opened = watch.take()
        read = "\n".join(answer)
        if opened != step.calls or step.reads not in read:
            wrong.append((step.label, opened, step.calls, read[:120]))
    assert not wrong, "\n".join(map(repr, wrong))
    assert db.one("SELECT state FROM tasks WHERE seq = 1")["state"] == "done"
    assert db.one("SELECT owner_id FROM tasks WHERE seq = 2")["owner_id"] == p.head.id


async def test_each_filing_step_is_one_use_case_or_none(sandbox, people, db):
    p = people
    company = p.company
    watch = Watch(sandbox.env.db)
    steps = [
        ("/new", lambda: company.send("/new"), ["appeals.may_file"], "诉求类别"),
        ("a category", lambda: company.press("融资"), [], "描述"),
        (
            "the description",
            lambda: company.send("扩建冷链仓库需流动资金约800万元，申请融资担保对接。"),
            [],
            "提交",
        ),
        ("a photo", lambda: company.send_photo(), [], "附件"),
        ("提交", lambda: company.press("提交"), ["appeals.file_appeal"], "诉求已提交"),
        ("提交 again", lambda: company.press("提交"), ["appeals.replayed_filing"], "无需重复提交"),
        (
            "/new (an official)",
            lambda: p.official.send("/new"),
            ["appeals.may_file", REFUSED_STRANGER],
            "没有权限",
        ),
        ("/new again", lambda: company.send("/new"), ["appeals.may_file"], "诉求类别"),
        ("a category again", lambda: company.press("法务"), [], "描述"),
        (
            "a description",
            lambda: company.send("合同纠纷需要法律咨询，请安排律师对接。"),
            [],
            "提交",
        ),
        ("取消", lambda: company.press("取消"), [], "已取消"),
    ]
    wrong = []
    for label, do, calls, reads in steps:
        answer = await do()
        opened = watch.take()
        read = "\n".join(answer)
        if opened != calls or reads not in read:
            wrong.append((label, opened, calls, read[:120]))
    assert not wrong, "\n".join(map(repr, wrong))
    assert db.count("appeals") == 1


# Use cases without Telegram: the person is named by their Telegram id (a Caller) and loaded
# inside the use case.


async def test_act_returns_the_card_the_actor_sees_after_it(sandbox, people, db):
    p = people
    await p.leader.send("/tasks import")
    await p.leader.send_document("t.csv", content=csv_bytes([task_row(1)]))
    env = sandbox.env
    task = (await ledger.tasks_for(env, Caller(p.official.id)))[0]
    outcome = await ledger.act(
        env, Caller(p.official.id, "李明"), task.id, TaskAction.REQUEST_CLOSE,
        task.version, "已建立机制。",
    )  # fmt: skip
    assert outcome.view is not None
    assert outcome.view.task.state == outcome.task.state == "close_requested"
    assert outcome.view.history[-1].text == "已建立机制。"
    assert outcome.view.actions == []  # the holder waits for the leaders' decision
    seen = await ledger.view(env, Caller(p.leader.id), task.id)
    assert [str(a) for a in seen.actions] == ["approve", "deem", "send_back"]


async def test_a_name_that_is_not_one_official_assigns_nothing(sandbox, people, db):
    p = people
    await p.leader.send("/tasks import")
    await p.leader.send_document("t.csv", content=csv_bytes([task_row(1, owner="谁")]))
    env = sandbox.env
    task = db.one("SELECT id, version, owner_id FROM tasks WHERE seq = 1")
    events = db.count("audit_events")
    with pytest.raises(OfficialNameUnclear):
        await ledger.assign_owner_named(
            env, Caller(p.leader.id), task["id"], task["version"], "无此人"
        )
    with pytest.raises(NotAllowed):  # only a leader names a 责任人, whatever the name
        await ledger.assign_owner_named(env, Caller(p.head.id), task["id"], task["version"], "李明")
    assert db.one("SELECT owner_id FROM tasks WHERE seq = 1")["owner_id"] is None
    assert db.count("audit_events") == events
    assigned = await ledger.assign_owner_named(
        env, Caller(p.leader.id), task["id"], task["version"], "李明（市地方金融管理局）"
    )
    assert assigned.official.tg_id == assigned.task.owner_id == p.official.id
