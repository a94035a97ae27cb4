"""When an old button still works: the one rule (`bot.rules.workflow.stale`) as a table over
every action button and every change that can happen after the button was made.

Each row: a button made at some moment (its action, who holds it, the version it carries),
the changes that happen afterwards, and what pressing it then does — it works (the action
is still allowed and means what it meant), it is refused as stale (an outcome decided, a new
round of handling, the appeal sent elsewhere, a decision taken, a deadline moved), or the
state no longer allows it (an action whose button carries no version). After every row the
version of the appeal or task equals 1 + the number of version events in its history: the
invariant the rule counts on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from bot.app import make_env
from bot.rules.model import Action, Rating, TaskAction, TaskState
from bot.rules.refusals import InvalidTransition, StaleAction, TaskStale, TaskWrongState
from bot.rules.tasks import COLUMNS
from bot.rules.workflow import (
    APPEAL_FLOW,
    APPEAL_VERSION_EVENTS,
    TASK_FLOW,
    TASK_VERSION_EVENTS,
    changes_since,
    stale,
)
from bot.texts import name, t
from bot.usecases import appeals, people, tasks
from bot.usecases.appeals import ActionRequest
from tests.conftest import COMPANY_USCC, LEADER_ID

OFFICIAL, HEAD, OTHER, CONTACT = 1001, 1002, 1003, 2001
DESCRIPTION = "企业新招技术工人30名，申请落实稳岗补贴政策，请协助对接人社部门。"
WORKS, STALE, STATE = "works", "stale", "state"


@pytest.fixture
async def env(settings, org, clock):
    environment = make_env(settings, org, clock)
    await environment.db.open()
    await people.sync_departments(environment)
    leader = await people.actor_for(environment, LEADER_ID)
    await people.register_enterprise(
        environment, CONTACT, "鄂州华瑞机械有限公司", COMPANY_USCC, "陈经理", "13800000001", "r"
    )
    for tg_id, full, dept, head in (
        (OFFICIAL, "李明", "rsj", False),
        (HEAD, "张科长", "rsj", True),
        (OTHER, "王芳", "jrj", False),
    ):
        invite = await people.create_invite(environment, leader, dept, head)
        await people.accept_invite(environment, tg_id, full, invite.code)
    yield environment
    await environment.db.close()


class Story:
    """One appeal and the people around it; every step is a real use case."""

    def __init__(self, env) -> None:
        self.env = env
        self.n = 0
        self.appeal_id = 0

    async def actor(self, tg_id: int):
        return await people.actor_for(self.env, tg_id)

    def key(self) -> str:
        self.n += 1
        return f"k{self.n}"

    async def current(self):
        async with self.env.db.reading() as uow:
            return await uow.appeals.get(self.appeal_id)

    async def do(self, who: int, action: Action, version: int | None = None, **given):
        appeal = await self.current()
        req = ActionRequest(appeal.id, version=version or appeal.version, key=self.key(), **given)
        return await appeals.USE_CASES[action](self.env, await self.actor(who), req)

    async def file(self) -> None:
        outcome = await appeals.file_appeal(
            self.env, await self.actor(CONTACT), "yonggong", DESCRIPTION, (), "file"
        )
        self.appeal_id = outcome.appeal.id

    # the changes ------------------------------------------------------------------------
    async def claim(self) -> None:
        await self.do(OFFICIAL, Action.CLAIM)

    async def claim_by_head(self) -> None:
        await self.do(HEAD, Action.CLAIM)

    async def reply(self) -> None:
        await self.do(OFFICIAL, Action.REPLY, text="已联系人社局，正在核实补贴条件。")

    async def note(self) -> None:
        await self.do(HEAD, Action.NOTE, text="请本周内办结。")

    async def supplement(self) -> None:
        await self.do(CONTACT, Action.SUPPLEMENT, text="补充：已有社保缴费证明。")

    async def ask_extension(self) -> int:
        outcome = await self.do(
            OFFICIAL, Action.EXTEND, new_due="2026-04-30", text="需等待人社局审核。"
        )
        return int(outcome.detail["extension_id"])

    async def extension_approved(self) -> None:
        await appeals.decide_extension(
            self.env, await self.actor(HEAD), await self.ask_extension(), True, self.key()
        )

    async def extension_denied(self) -> None:
        await appeals.decide_extension(
            self.env, await self.actor(HEAD), await self.ask_extension(), False, self.key()
        )

    async def away_and_back(self) -> None:
        """转办 to 金融局, which sends it back; 李明 claims it again."""
        await self.do(OFFICIAL, Action.TRANSFER, department_code="jrj", text="属融资类。")
        await self.do(OTHER, Action.TRANSFER, department_code="rsj", text="属用工类。")
        await self.claim()

    async def away(self) -> None:
        await self.do(HEAD, Action.TRANSFER, department_code="jrj", text="属融资类。")
        await self.do(OTHER, Action.TRANSFER, department_code="rsj", text="属用工类。")

    async def close(self) -> None:
        await self.do(OFFICIAL, Action.CLOSE, text="已落实稳岗补贴，款项下月到账。")

    async def reopen(self) -> None:
        await self.do(CONTACT, Action.REOPEN)

    async def closed_and_reopened(self) -> None:
        await self.close()
        await self.reopen()

    async def handled_again(self) -> None:
        await self.closed_and_reopened()
        await self.close()

    async def withdraw(self) -> None:
        await self.do(CONTACT, Action.WITHDRAW, text="问题已自行解决。")


@dataclass(frozen=True)
class Row:
    button: Action | str  # an appeal action, or "extok"/"extno" (an extension decision)
    holder: int
    made_after: tuple[str, ...]  # what happened before the button was made
    then: tuple[str, ...]  # the changes after it was made
    expected: str


GIVEN = {
    Action.TRANSFER: {"department_code": "jrj", "text": "请金融局办理。"},
    Action.CLOSE: {"text": "已办结。"},
    Action.REPLY: {"text": "正在办理。"},
    Action.NOTE: {"text": "内部备注。"},
    Action.EXTEND: {"new_due": "2026-05-29", "text": "再延一次。"},
    Action.SUPPLEMENT: {"text": "再补充一点。"},
    Action.WITHDRAW: {"text": "不需要了。"},
    Action.RATE: {"rating": Rating.SATISFIED},
}

C = ("claim",)
APPEAL_ROWS = [
    # 签收: works whenever the appeal waits in the holder's department again
    Row(Action.CLAIM, OFFICIAL, (), (), WORKS),
    Row(Action.CLAIM, OFFICIAL, (), ("note", "supplement"), WORKS),
    Row(Action.CLAIM, OFFICIAL, (), ("away",), WORKS),
    Row(Action.CLAIM, OFFICIAL, (), ("claim_by_head",), STALE),
    Row(Action.CLAIM, OFFICIAL, (), ("withdraw",), STALE),
    # 转办: the issue's case — an approved extension leaves it working
    Row(Action.TRANSFER, OFFICIAL, C, ("extension_approved",), WORKS),
    Row(Action.TRANSFER, OFFICIAL, C, ("extension_denied",), WORKS),
    Row(Action.TRANSFER, OFFICIAL, C, ("reply", "note", "supplement"), WORKS),
    Row(Action.TRANSFER, LEADER_ID, (), ("claim",), WORKS),
    Row(Action.TRANSFER, LEADER_ID, (), ("claim", "extension_approved"), WORKS),
    Row(Action.TRANSFER, OFFICIAL, C, ("away_and_back",), STALE),
    Row(Action.TRANSFER, LEADER_ID, (), ("away",), STALE),
    Row(Action.TRANSFER, OFFICIAL, C, ("close",), STALE),
    Row(Action.TRANSFER, OFFICIAL, C, ("closed_and_reopened",), STALE),
    Row(Action.TRANSFER, OFFICIAL, C, ("withdraw",), STALE),
    # 办结
    Row(Action.CLOSE, OFFICIAL, C, ("extension_approved",), WORKS),
    Row(Action.CLOSE, OFFICIAL, C, ("extension_denied", "reply"), WORKS),
    Row(Action.CLOSE, HEAD, C, ("extension_approved",), WORKS),
    Row(Action.CLOSE, OFFICIAL, C, ("closed_and_reopened",), STALE),
    Row(Action.CLOSE, OFFICIAL, C, ("away_and_back",), STALE),
    Row(Action.CLOSE, OFFICIAL, C, ("close",), STALE),
    Row(Action.CLOSE, OFFICIAL, C, ("withdraw",), STALE),
    # 回复 / 备注 / 延期 / 补充 carry no version: the state alone decides
    Row(Action.REPLY, OFFICIAL, C, ("extension_approved", "closed_and_reopened"), WORKS),
    Row(Action.REPLY, OFFICIAL, C, ("close",), STATE),
    Row(Action.NOTE, HEAD, C, ("extension_approved", "handled_again"), WORKS),
    Row(Action.EXTEND, OFFICIAL, C, ("extension_approved",), WORKS),
    Row(Action.EXTEND, OFFICIAL, C, ("close",), STATE),
    Row(Action.SUPPLEMENT, CONTACT, (), ("claim", "extension_approved"), WORKS),
    Row(Action.SUPPLEMENT, CONTACT, (), ("claim", "close"), STATE),
    # 撤回: the enterprise's own appeal, as long as it is open
    Row(Action.WITHDRAW, CONTACT, (), ("claim", "extension_approved"), WORKS),
    Row(Action.WITHDRAW, CONTACT, (), ("away",), WORKS),
    Row(Action.WITHDRAW, CONTACT, (), ("claim", "closed_and_reopened"), WORKS),
    Row(Action.WITHDRAW, CONTACT, (), ("claim", "close"), STALE),
    # a rating answers one closing
    Row(Action.RATE, CONTACT, ("claim", "close"), (), WORKS),
    Row(Action.RATE, CONTACT, ("claim", "close"), ("reopen", "close"), STALE),
    Row(Action.RATE, CONTACT, ("claim", "close"), ("reopen",), STALE),
    Row(Action.REOPEN, CONTACT, ("claim", "close"), ("reopen", "close"), STALE),
    Row(Action.REOPEN, CONTACT, ("claim", "close"), (), WORKS),
    # an extension decision answers one request against one deadline
    Row("extok", HEAD, C, (), WORKS),
    Row("extno", HEAD, C, ("reply", "note"), WORKS),
    Row("extok", HEAD, C, ("decided",), STALE),
    Row("extno", HEAD, C, ("closed_and_reopened",), STALE),
    Row("extok", LEADER_ID, C, ("away_and_back",), STALE),
    Row("extok", HEAD, C, ("close",), STALE),
]


async def _happen(story: Story, steps: tuple[str, ...]) -> None:
    for change in steps:
        if change == "decided":
            async with story.env.db.reading() as uow:
                pending = await uow.extensions.pending_for(story.appeal_id)
            await appeals.decide_extension(
                story.env, await story.actor(LEADER_ID), pending.id, False, story.key()
            )
            continue
        await getattr(story, change)()


async def _version_invariant(env, appeal_id: int) -> None:
    async with env.db.reading() as uow:
        appeal = await uow.appeals.get(appeal_id)
        events = [e.action for e in await uow.audit.of_appeal(appeal_id)]
    assert appeal.version == 1 + sum(e in APPEAL_VERSION_EVENTS for e in events)


def _label(row: Row) -> str:
    return (
        f"{row.button}-{'+'.join(row.made_after) or 'new'}-then-{'+'.join(row.then) or 'nothing'}"
    )


@pytest.mark.parametrize("row", APPEAL_ROWS, ids=_label)
async def test_an_old_appeal_button(env, row: Row):
    story = Story(env)
    await story.file()
    await _happen(story, row.made_after)
    decision = row.button in ("extok", "extno")
    extension_id = await story.ask_extension() if decision else None
    made = (await story.current()).version
    await _happen(story, row.then)
    before = await story.current()
    try:
        if extension_id is not None:
            await appeals.decide_extension(
                env, await story.actor(row.holder), extension_id, row.button == "extok", "press"
            )
        else:
            given = dict(GIVEN.get(row.button, {}))
            if row.holder == LEADER_ID and row.button is Action.TRANSFER:
                given["department_code"] = "zxqy"
            await story.do(row.holder, row.button, version=made, **given)
        outcome = WORKS
    except StaleAction:
        outcome = STALE
    except InvalidTransition:
        outcome = STATE
    assert outcome == row.expected
    after = await story.current()
    async with env.db.reading() as uow:
        last = (await uow.audit.of_appeal(story.appeal_id))[-1].action
    if outcome != WORKS:  # a refused press changes nothing
        assert after == before
    elif extension_id is not None:
        assert last == ("extension_approved" if row.button == "extok" else "extension_denied")
    else:  # the press did what it said
        assert last == str(row.button)
    await _version_invariant(env, story.appeal_id)


def test_every_versioned_action_has_rows_that_work_and_rows_that_do_not():
    """The table covers every button that carries a version, both ways."""
    seen: dict[object, set[str]] = {}
    for row in APPEAL_ROWS:
        seen.setdefault(row.button, set()).add(row.expected)
    for action, step in APPEAL_FLOW.items():
        if step.versioned:
            assert {WORKS, STALE} <= seen[action], action
    assert {WORKS, STALE} <= seen["extok"] | seen["extno"]
    for row in TASK_ROWS:
        seen.setdefault(row.button, set()).add(row.expected)
    for action, step in TASK_FLOW.items():
        assert WORKS in seen[action], action
        if step.void_after:
            assert STALE in seen[action], action


def test_the_rule_counts_changes_from_the_version_a_button_carries():
    events = ["file", "claim", "reply", "extension_approved", "note", "transfer"]
    assert changes_since(events, 1, 4, APPEAL_VERSION_EVENTS) == [
        "claim",
        "extension_approved",
        "transfer",
    ]
    assert changes_since(events, 3, 4, APPEAL_VERSION_EVENTS) == ["transfer"]
    assert changes_since(events, 4, 4, APPEAL_VERSION_EVENTS) == []
    assert changes_since(events, 5, 4, APPEAL_VERSION_EVENTS) is None  # never sent
    # a version step the history does not account for: refused as before
    assert changes_since(events, 3, 5, APPEAL_VERSION_EVENTS) is None
    row = APPEAL_FLOW[Action.TRANSFER]
    assert not stale(row, True, 2, 3, ["extension_approved"])
    assert stale(row, True, 2, 3, ["transfer"])
    assert stale(row, False, 2, 3, ["extension_approved"])  # the state no longer allows it
    assert stale(row, True, 2, 3, None)  # changes not known: refused


# tasks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskRow:
    button: TaskAction
    holder: int
    made_after: tuple[str, ...]
    then: tuple[str, ...]
    expected: str


TASK_ROWS = [
    # 申请销号 again after a 退回: exactly the next step
    TaskRow(TaskAction.REQUEST_CLOSE, OFFICIAL, (), ("request", "send_back"), WORKS),
    TaskRow(TaskAction.REQUEST_CLOSE, OFFICIAL, (), ("assign",), WORKS),
    TaskRow(TaskAction.REQUEST_CLOSE, OFFICIAL, (), ("request",), STALE),
    TaskRow(TaskAction.REQUEST_CLOSE, OFFICIAL, (), ("request", "approve"), STALE),
    TaskRow(TaskAction.REPORT, OFFICIAL, (), ("request", "deem"), WORKS),
    TaskRow(TaskAction.REPORT, OFFICIAL, (), ("request", "send_back", "report"), WORKS),
    TaskRow(TaskAction.REPORT, OFFICIAL, (), ("request", "approve"), STATE),
    # a leader's decision answers one request
    TaskRow(TaskAction.APPROVE, LEADER_ID, ("request",), (), WORKS),
    TaskRow(TaskAction.APPROVE, LEADER_ID, ("request",), ("assign",), WORKS),
    TaskRow(TaskAction.APPROVE, LEADER_ID, ("request",), ("send_back", "request"), STALE),
    TaskRow(TaskAction.APPROVE, LEADER_ID, ("request",), ("deem",), STALE),
    TaskRow(TaskAction.APPROVE, LEADER_ID, ("request", "deem"), ("report",), WORKS),
    TaskRow(TaskAction.DEEM, LEADER_ID, ("request",), ("assign",), WORKS),
    TaskRow(TaskAction.DEEM, LEADER_ID, ("request",), ("send_back", "request"), STALE),
    TaskRow(TaskAction.SEND_BACK, LEADER_ID, ("request",), ("assign",), WORKS),
    TaskRow(TaskAction.SEND_BACK, LEADER_ID, ("request",), ("approve",), STALE),
    TaskRow(TaskAction.SEND_BACK, LEADER_ID, ("request",), ("send_back", "request"), STALE),
]


class TaskStory:
    def __init__(self, env) -> None:
        self.env = env
        self.task_id = 0

    async def load(self):
        async with self.env.db.reading() as uow:
            return await uow.tasks.get(self.task_id)

    async def act(self, who: int, action: TaskAction, version: int | None = None) -> None:
        task = await self.load()
        text = None if action in (TaskAction.APPROVE, TaskAction.DEEM) else "已建立台账。"
        actor = await people.actor_for(self.env, who)
        await tasks.act(self.env, actor, task.id, action, version or task.version, text)

    async def imported(self) -> None:
        headers = {c: t(f"task_column.{c}") for c in COLUMNS}
        labels = {name("task_state", s): s for s in TaskState}
        row = ["1", "服务企业", "诉求响应慢", "建立台账", "王局长", "市人社局", "李明",
               "2026-06-30", name("task_state", TaskState.IN_PROGRESS)]  # fmt: skip
        leader = await people.actor_for(self.env, LEADER_ID)
        await tasks.import_table(
            self.env, leader, [[headers[c] for c in COLUMNS], row], headers, labels
        )
        async with self.env.db.reading() as uow:
            self.task_id = (await uow.tasks.all())[0].id

    async def happen(self, steps: tuple[str, ...]) -> None:
        leader = await people.actor_for(self.env, LEADER_ID)
        for change in steps:
            if change == "request":
                await self.act(OFFICIAL, TaskAction.REQUEST_CLOSE)
            elif change == "report":
                await self.act(OFFICIAL, TaskAction.REPORT)
            elif change == "assign":  # the same 责任人 chosen again: the version moves
                task = await self.load()
                await tasks.assign_owner(self.env, leader, task.id, task.version, OFFICIAL)
            else:
                await self.act(LEADER_ID, TaskAction(change))


@pytest.mark.parametrize(
    "row",
    TASK_ROWS,
    ids=lambda r: f"{r.button}-{'+'.join(r.made_after) or 'new'}-then-{'+'.join(r.then)}",
)
async def test_an_old_task_button(env, row: TaskRow):
    story = TaskStory(env)
    await story.imported()
    await story.happen(row.made_after)
    made = (await story.load()).version
    await story.happen(row.then)
    before = await story.load()
    try:
        await story.act(row.holder, row.button, version=made)
        outcome = WORKS
    except TaskStale:
        outcome = STALE
    except TaskWrongState:
        outcome = STATE
    assert outcome == row.expected
    async with env.db.reading() as uow:
        last = (await uow.audit.of_subject(f"task:{story.task_id}"))[-1].action
    if outcome != WORKS:
        assert await story.load() == before
    else:
        assert last == f"task_{row.button}"
    async with env.db.reading() as uow:
        events = [e.action for e in await uow.audit.of_subject(f"task:{story.task_id}")]
    assert (await story.load()).version == 1 + sum(e in TASK_VERSION_EVENTS for e in events)


async def test_the_issue_story_in_chat(sandbox, people, db):
    """转办 on the message that carried the request, after the head approved the extension."""
    from tests.conftest import file_appeal

    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await p.official.press("延期", containing=number)
    await p.official.send("2026-03-31")
    await p.official.send("需等待银行授信审批结果。")
    await p.head.press("同意延期")
    # the message that carried the request: the claim's confirmation with 转办
    message, data = p.official.find_button("转办", containing=f"您已签收诉求 {number}")
    answer = await p.official.press_data(message, data, "转办")
    assert answer[-1].startswith(f"请选择诉求 {number} 要转办的部门"), answer
    answer = await p.official.press("中小企业科")
    assert "请输入转办原因" in answer[-1], answer
    await p.official.send("属中小企业服务范围。")
    assert db.appeal(number).state == "pending"
    assert db.appeal(number).due_date == date(2026, 3, 31)  # the approved deadline stays


@pytest.mark.parametrize(
    ("then", "expected"),
    [
        ((), WORKS),
        (("request",), WORKS),  # a 销号 request does not change who should hold it
        (("request", "send_back", "report"), WORKS),
        (("assign",), STALE),  # somebody already chose the 责任人
        (("request", "assign"), STALE),
    ],
)
async def test_an_old_choice_of_the_owner(env, then, expected):
    """指定责任人: the list of officials works until somebody chose one."""
    story = TaskStory(env)
    await story.imported()
    made = (await story.load()).version
    await story.happen(then)
    leader = await people.actor_for(env, LEADER_ID)
    try:
        assigned = await tasks.assign_owner(env, leader, story.task_id, made, HEAD)
        task, official = assigned.task, assigned.official
        outcome = WORKS
        assert (task.owner_id, official.tg_id) == (HEAD, HEAD)
    except TaskStale:
        outcome = STALE
        assert (await story.load()).owner_id == OFFICIAL
    assert outcome == expected
