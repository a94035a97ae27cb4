"""One user action, one use case, for the handlers of people and reports: contacts and
colleagues, /start (registration, invite links), /help, the leaders' /invite and /baobao,
查看附件, free text, /digest, /stats, /export — and a press refused as stale. Each action
calls one use case that loads the person acting inside its own unit of work (or none,
where the step only moves the person's prompt); nothing reads "who is this" on its own.

The database is watched as in tests/test_one_call_actions.py: every unit of work or reading
opened is named by the use case the handler called. A use case may open more than one
where its work needs it (a leader's digest: the actor, then the tallies counted again in a
unit of work of their own, then the digest's reading); the table says so, step by step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

import pytest

from bot.rules.digest import Week
from bot.rules.refusals import BaobaoNotFound, NotAllowed, OfficialNameUnclear
from bot.usecases import appeals, people, reports
from bot.usecases.people import Caller
from handlers.buttons import APPEAL_FILES, TASK_FILES, encode
from handlers.digest import WEEKLY_WORDS
from tests import test_one_call_actions as proof
from tests.conftest import COMPANY_USCC, LEADER_ID, OTHER_USCC, file_appeal
from tests.test_one_call_actions import REFUSED_STRANGER
from tests.test_tasks import csv_bytes, task_row

Action = Callable[[], Awaitable[list[str]]]
NEW_USCC = "91420700MA4F0A1G22"
FILE_METHODS = ("sendPhoto", "sendDocument", "sendMediaGroup")


@dataclass(frozen=True)
class Step:
    label: str
    do: Action  # the action → what the actor read
    calls: list[str]  # the units of work opened, by the use case that opened them
    reads: str  # what the actor's answer holds


def _entry(frame: FrameType | None) -> str | None:
    """`proof._entry`, and nothing the courier opens while it sends what an action queued
    (its wording of a removed contact's notice reads through `handlers.common`)."""
    seen = frame
    while seen is not None:
        if seen.f_globals.get("__name__", "") in proof.NOT_A_HANDLER:
            return None
        seen = seen.f_back
    return proof._entry(frame)


class Watch(proof.Watch):
    """`proof.Watch`, naming units of work by `_entry`."""

    entry_of = staticmethod(_entry)


def run(watch: Watch) -> Callable[[list[Step]], Awaitable[list[tuple]]]:
    async def steps(table: list[Step]) -> list[tuple]:
        wrong = []
        for step in table:
            try:
                answer = await step.do()
            except LookupError as exc:  # a button the person was not shown
                answer = [f"{type(exc).__name__}: {exc}"]
            opened = watch.take()
            read = "\n".join(answer)
            if opened != step.calls or step.reads not in read:
                wrong.append((step.label, opened, step.calls, read[:160]))
        return wrong

    return steps


def summary(person: Any) -> Any:
    """The registration summary the person was shown last (its buttons gone once used)."""
    shown = [m for m in person.inbox if "请核对登记信息" in m.plain]
    if not shown:
        raise LookupError("no summary")
    return shown[-1]


def link_code(text: str) -> str:
    return text.split("?start=")[1].split()[0]


async def test_each_action_of_people_is_one_use_case_that_loads_the_actor(sandbox, people, db):
    p = people
    leader, company = p.leader, p.company
    watch = Watch(sandbox.env.db)
    steps = run(watch)
    colleague = sandbox.person(30011, "陈会计")
    guest = sandbox.person(30021, "刘老板")
    newcomer = sandbox.person(20011, "孙敏")
    made: dict[str, str] = {}

    async def colleague_link() -> list[str]:
        answer = await company.send("/colleague")
        made["colleague"] = link_code(answer[-1])
        return answer

    async def staff_link() -> list[str]:
        answer = await leader.press("承办人")
        made["staff"] = link_code(answer[-1])
        return answer

    async def baobao_press(official: int) -> list[str]:
        """An official pressed under the department's list (by its data)."""
        enterprise = db.one("SELECT id FROM enterprises WHERE uscc = ?", OTHER_USCC)["id"]
        return await leader.press_data(leader.inbox[-1], encode("bb", enterprise, official))

    async def department_press() -> list[str]:
        enterprise = db.one("SELECT id FROM enterprises WHERE uscc = ?", OTHER_USCC)["id"]
        jrj = db.one("SELECT id FROM departments WHERE code = 'jrj'")["id"]
        return await leader.press_data(leader.inbox[-1], encode("bbd", enterprise, jrj))

    table = [
        # colleagues
        Step("/colleague", colleague_link, ["people.invite_colleague"], "联系人邀请链接"),
        Step(
            "/start c_… (the colleague)",
            lambda: colleague.send(f"/start {made['colleague']}"),
            ["people.colleague_invite"],
            "您受邀成为",
        ),
        Step("the colleague's name", lambda: colleague.send("陈会计"), [], "联系电话"),
        Step(
            "the colleague's phone",
            lambda: colleague.send("13907110002"),
            ["people.join_as_colleague"],
            "已加入 鄂州市泛亚食品有限公司",
        ),
        Step(
            "/start c_… used (a stranger)",
            lambda: guest.send(f"/start {made['colleague']}"),
            ["people.colleague_invite"],
            "由 陈会计 使用",
        ),
        Step("/contacts", lambda: company.send("/contacts"), ["people.contacts"], "陈会计"),
        Step(
            "移除", lambda: company.press("移除 陈会计"), ["people.remove_contact"], "已移除联系人"
        ),
        Step(
            "移除 again (the same list)",
            lambda: company.press("移除 陈会计"),
            ["people.remove_contact"],
            "无需再次操作",
        ),
        Step(
            "/contacts (a leader, by code)",
            lambda: leader.send(f"/contacts {COMPANY_USCC}"),
            ["people.contacts"],
            "陈经理",
        ),
        Step(
            "/colleague (not the first contact)",
            lambda: p.official.send("/colleague"),
            ["people.invite_colleague", REFUSED_STRANGER],
            "没有权限",
        ),
        # the removed colleague, whatever they do: who they are and whom to ask, in one read
        Step("/start (removed)", lambda: colleague.send("/start"), ["people.identify"], "移除"),
        Step("/help (removed)", lambda: colleague.send("/help"), ["people.identify"], "移除"),
        Step("free text (removed)", lambda: colleague.send("你好"), ["appeals.waiting"], "移除"),
        Step("/cancel (nothing open)", lambda: colleague.send("/cancel"), [], "没有"),
        # registration
        Step("/start (a guest)", lambda: guest.send("/start"), ["people.identify"], "欢迎使用"),
        Step("the name", lambda: guest.send("鄂州市恒信机械有限公司"), [], "第 2 步"),
        Step(
            "a code registered already",
            lambda: guest.send(COMPANY_USCC),
            ["people.unregistered_uscc"],
            "鄂州市泛亚食品有限公司",
        ),
        Step(
            "the code",
            lambda: guest.send(NEW_USCC),
            ["people.unregistered_uscc"],
            "第 3 步",
        ),
        Step("the contact", lambda: guest.send("刘老板"), [], "第 4 步"),
        Step("the phone", lambda: guest.send("13907110009"), [], "请核对登记信息"),
        Step(
            "确认登记",
            lambda: guest.press("确认登记"),
            ["people.register"],
            "登记成功",
        ),
        Step(
            "确认登记 again (the old summary)",
            lambda: guest.press_data(summary(guest), encode("reg", "ok")),
            ["people.identify"],
            "您已登记",
        ),
        Step("/start (known)", lambda: guest.send("/start"), ["people.identify"], "您好，刘老板"),
        Step("/help (staff)", lambda: p.official.send("/help"), ["people.identify"], "金融"),
        Step("/help (a leader)", lambda: leader.send("/help"), ["people.identify"], "/invite"),
        # invites
        Step("/invite", lambda: leader.send("/invite"), ["people.invite_command"], "请选择"),
        Step(
            "a department pressed",
            lambda: leader.press("市地方金融管理局"),
            ["people.invite_department"],
            "邀请加入 市地方金融管理局",
        ),
        Step("a role pressed", staff_link, ["people.invite_link"], "邀请链接已生成"),
        Step(
            "/start <code> (the newcomer)",
            lambda: newcomer.send(f"/start {made['staff']}"),
            ["people.accept_invite"],
            "欢迎加入",
        ),
        Step(
            "/start <code> used (a stranger)",
            lambda: sandbox.person(20012, "周平").send(f"/start {made['staff']}"),
            ["people.accept_invite"],
            "由 孙敏 使用",
        ),
        Step("/invite again", lambda: leader.send("/invite"), ["people.invite_command"], "请选择"),
        Step(
            "a department typed",
            lambda: leader.send("市地方金融管理局"),
            ["people.departments"],
            "邀请加入 市地方金融管理局",
        ),
        Step("a role typed", lambda: leader.send("承办人"), ["people.invite_link"], "邀请链接"),
        Step(
            "/invite jrj head",
            lambda: leader.send("/invite jrj head"),
            ["people.invite_command"],
            "科室负责人",
        ),
        Step(
            "/invite jrj (not a leader)",
            lambda: p.official.send("/invite jrj"),
            ["people.invite_command", REFUSED_STRANGER],
            "没有权限",
        ),
        # 包保
        Step("/baobao", lambda: leader.send("/baobao"), ["people.baobao_command"], "用法"),
        Step(
            "/baobao <code>",
            lambda: leader.send(f"/baobao {OTHER_USCC}"),
            ["people.baobao_command"],
            "请选择 鄂州市三和管桩有限公司 的包保责任人",
        ),
        Step(
            "a department's officials",
            department_press,
            ["people.baobao_department"],
            "鄂州市三和管桩有限公司",
        ),
        Step(
            "an official pressed",
            lambda: baobao_press(p.official.id),
            ["people.assign_baobao"],
            "已将 李明 设为 鄂州市三和管桩有限公司 的包保责任人",
        ),
        Step(
            "pressed again",
            lambda: baobao_press(p.official.id),
            ["people.assign_baobao"],
            "未作更改",
        ),
        Step(
            "/baobao <code> <nobody>",
            lambda: leader.send(f"/baobao {COMPANY_USCC} 无此人"),
            ["people.baobao_command"],
            "无此人",
        ),
        Step(
            "/baobao <code> <name>",
            lambda: leader.send(f"/baobao {COMPANY_USCC} 张科长"),
            ["people.baobao_command"],
            "已将 张科长 设为 鄂州市泛亚食品有限公司 的包保责任人",
        ),
        Step(
            "/baobao <code> (the prompt)",
            lambda: leader.send(f"/baobao {COMPANY_USCC}"),
            ["people.baobao_command"],
            "请选择",
        ),
        Step(
            "a name typed at it",
            lambda: leader.send("李明"),
            ["people.assign_baobao_named"],
            "已将 李明 设为 鄂州市泛亚食品有限公司 的包保责任人",
        ),
        Step(
            "/baobao <code> (not a leader)",
            lambda: p.official.send(f"/baobao {COMPANY_USCC}"),
            ["people.baobao_command", REFUSED_STRANGER],
            "没有权限",
        ),
    ]
    wrong = await steps(table)
    assert not wrong, "\n".join(map(repr, wrong))
    # what the steps did, as stored
    assert db.count("invites") == 6  # the fixture's 3; pressed, typed, /invite jrj head
    official = db.one("SELECT baobao_user_id FROM enterprises WHERE uscc = ?", COMPANY_USCC)
    assert official["baobao_user_id"] == p.official.id
    assert db.one("SELECT role FROM users WHERE tg_id = ?", newcomer.id)["role"] == "official"


async def test_files_free_text_and_a_stale_press_are_one_use_case_each(sandbox, people, db):
    p = people
    company, official, head = p.company, p.official, p.head
    await company.send("/new")
    await company.press("融资")
    await company.send("扩建冷链仓库需流动资金约800万元，申请融资担保对接。")
    await company.send_photo()
    filed = await company.press("提交")
    number = next(a for a in filed if a.startswith("诉求已提交")).split("编号：")[1].split()[0]
    appeal = db.one("SELECT id FROM appeals WHERE number = ?", number)["id"]
    await p.leader.send("/tasks import")
    await p.leader.send_document("t.csv", content=csv_bytes([task_row(1)]))
    task = db.one("SELECT id FROM tasks WHERE seq = 1")["id"]
    await official.send(f"/view {number}")
    watch = Watch(sandbox.env.db)

    async def files_sent(person: Any, data: str) -> list[str]:
        """The answer to a press, and the files the person was sent (by method)."""
        calls = len(sandbox.api.calls)
        answer = await person.press_data(person.inbox[-1], data)
        sent = [
            method
            for method, params in sandbox.api.calls[calls:]
            if method in FILE_METHODS and int(params.get("chat_id", 0)) == person.id
        ]
        return [*answer, *sent]

    table = [
        Step(
            "查看附件 (the appeal's)",
            lambda: files_sent(company, encode(APPEAL_FILES, appeal)),
            ["appeals.files"],
            "sendPhoto",
        ),
        Step(
            "查看附件 (another enterprise's)",
            lambda: p.rival.press_data(p.rival.inbox[-1], encode(APPEAL_FILES, appeal)),
            ["appeals.files", REFUSED_STRANGER],
            "未找到该诉求",
        ),
        Step(
            "查看附件 (the task's, none)",
            lambda: official.press_data(official.inbox[-1], encode(TASK_FILES, task)),
            ["tasks.files"],
            "第1项整改任务没有附件",
        ),
        Step("a number typed", lambda: company.send(number), ["appeals.view"], number),
        Step("free text", lambda: company.send("你好"), ["appeals.waiting"], "请问您想"),
        Step("free text (staff)", lambda: official.send("你好"), ["appeals.waiting"], "请通过"),
        Step(
            "free text (a stranger)",
            lambda: sandbox.person(30031, "路人").send("你好"),
            ["appeals.waiting"],
            "请先发送 /start",
        ),
        Step("a photo", lambda: company.send_photo(), ["people.identify"], "未保存"),
        Step("签收", lambda: official.press("签收", containing=number), ["appeals.claim"], "签收"),
        Step(
            "签收 on the head's card (claimed by the official)",
            lambda: head.press("签收", containing=number),
            ["appeals.claim", "appeals.last_change"],
            "李明",
        ),
    ]
    wrong = await run(watch)(table)
    assert not wrong, "\n".join(map(repr, wrong))
    assert db.one("SELECT owner_id FROM appeals WHERE id = ?", appeal)["owner_id"] == official.id


async def test_each_report_is_one_use_case_that_loads_the_actor(sandbox, people, db):
    p = people
    await file_appeal(p.company)
    watch = Watch(sandbox.env.db)
    leader = p.leader

    async def exported() -> list[str]:
        sent = len(sandbox.api.documents)
        answer = await leader.send("/export 2026-03-01 2026-03-31")
        got = [n for chat, n, _ in sandbox.api.documents[sent:] if chat == leader.id]
        return [*answer, *got]

    # a leader's digest: the reading that loads them, the tallies counted again (a unit of
    # work), the digest's reading; its ledger is read in the worker process, on a
    # connection of its own (bot/digest_files.py `leaders_pack`), not here
    leaders = ["reports.digest_for"] * 3
    table = [
        Step("/digest (a leader)", lambda: leader.send("/digest"), leaders, "督察通报"),
        Step(
            "/digest (an official)",
            lambda: p.official.send("/digest"),
            ["reports.digest_for"],
            "市地方金融管理局",
        ),
        Step(
            "/digest 2026-W60 (an official)",
            lambda: p.official.send("/digest 2026-W60"),
            ["reports.digest_for"],
            "只有 53 周",
        ),
        Step(
            "/digest (an enterprise)",
            lambda: p.company.send("/digest"),
            ["reports.digest_for", REFUSED_STRANGER],
            "没有权限",
        ),
        # the tallies counted again in the unit of work that loads the leader, then the figures
        Step("/stats", lambda: leader.send("/stats"), ["reports.stats"] * 2, "实时数据"),
        Step(
            "/stats (an official)",
            lambda: p.official.send("/stats"),
            ["reports.stats", REFUSED_STRANGER],
            "没有权限",
        ),
        Step("/export", exported, ["reports.export_named_ledger"], ".xlsx"),
        Step("/export <bad period>", lambda: leader.send("/export 2026-13-01"), [], "/export"),
        Step(
            "/export (an official)",
            lambda: p.official.send("/export 2026-03-01 2026-03-31"),
            ["reports.export_named_ledger", REFUSED_STRANGER],
            "没有权限",
        ),
    ]
    wrong = await run(watch)(table)
    assert not wrong, "\n".join(map(repr, wrong))


# Use cases without Telegram: the person named by their Telegram id (a Caller), loaded inside.


async def test_identify_reads_what_a_greeting_needs(sandbox, people, db):
    env, p = sandbox.env, people
    staff = await people_cases.identify(env, Caller(p.official.id))
    assert staff.actor.role.value == "official" and staff.department.code == "jrj"
    assert staff.removal is None
    leader = await people_cases.identify(env, Caller(LEADER_ID, "王局长"))
    assert leader.actor.name == "王局长" and leader.department is None
    stranger = await people_cases.identify(env, Caller(30099))
    assert stranger.actor.role.value == "guest" and stranger.removal is None


people_cases = people  # the module, where a test's fixture is also called `people`


async def test_baobao_command_refuses_and_assigns_in_one_unit_of_work(sandbox, people, db):
    env, p = sandbox.env, people
    events = db.count("audit_events")
    with pytest.raises(NotAllowed):  # only a leader, whatever follows
        await people_cases.baobao_command(env, Caller(p.head.id), COMPANY_USCC, "李明")
    asked = await people_cases.baobao_command(env, Caller(LEADER_ID), COMPANY_USCC, "无此人")
    assert isinstance(asked.unclear, OfficialNameUnclear) and asked.assigned is None
    assert db.count("audit_events") == events  # nothing changed
    asked = await people_cases.baobao_command(env, Caller(LEADER_ID), COMPANY_USCC, "李明")
    assert asked.assigned is not None and asked.assigned.official.tg_id == p.official.id
    stored = db.one("SELECT baobao_user_id FROM enterprises WHERE uscc = ?", COMPANY_USCC)
    assert stored["baobao_user_id"] == p.official.id
    with pytest.raises(BaobaoNotFound):  # a forged button by anyone else: nothing exists
        await people_cases.assign_baobao(env, Caller(p.head.id), asked.enterprise.id, p.head.id)


async def test_digest_for_answers_by_role(sandbox, people, db):
    env, p = sandbox.env, people
    await file_appeal(p.company)
    staff = await reports.digest_for(env, Caller(p.official.id))
    assert staff.department is not None and staff.leaders is None
    assert staff.week == Week.of(env.today())
    leader = await reports.digest_for(env, Caller(LEADER_ID))
    assert leader.leaders is not None and leader.week == Week.before(env.today())
    assert leader.archived is None  # no week named: none looked up
    this_week = Week.of(env.today())
    named = await reports.digest_for(env, Caller(LEADER_ID), this_week.label)
    assert named.week == this_week and named.leaders.year.new == 1  # filed today
    with pytest.raises(NotAllowed):
        await reports.digest_for(env, Caller(p.company.id))


async def test_queue_weekly_archives_and_queues_each_chat_once(sandbox, people, db):
    env, p = sandbox.env, people
    await file_appeal(p.company)
    week = Week.before(env.today())
    first = await reports.queue_weekly(env, week, WEEKLY_WORDS)
    # the leader gets the text and the files, each joined official and head the text
    assert first.served == 4 and len(first.queued) == 5
    audiences = {r["audience"] for r in db.rows("SELECT audience FROM digests")}
    assert "leaders" in audiences and any(a.startswith("department:") for a in audiences)
    again = await reports.queue_weekly(env, week, WEEKLY_WORDS)
    assert again.queued == [] and again.served == 0
    assert db.count("outbox") >= 5


async def test_appeals_files_loads_the_caller(sandbox, people, db):
    env, p = sandbox.env, people
    number = await file_appeal(p.company)
    appeal = db.appeal(number)
    seen, files = await appeals.files(env, Caller(p.company.id), appeal.id)
    assert seen.number == number and files == []
