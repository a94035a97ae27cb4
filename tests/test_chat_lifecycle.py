"""Telegram's chat lifecycle: a department's group upgraded to a supergroup, a group that
removed the bot or no longer exists, and an enterprise contact who blocked the bot."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from bot.sandbox.chat import Sandbox
from bot.texts import t
from bot.usecases import outbox
from handlers import courier
from handlers.jobs import run_sweep
from tests.conftest import LEADER_ID, file_appeal, join, register

OLD, NEW = -100777, -1001777
MOVED = "升级为超级群组"


async def group_box(settings, org, clock, group_id: int = OLD, api=None) -> Sandbox:
    """市地方金融管理局 (jrj) with `group_id` as its group in the org config."""
    departments = [
        d.model_copy(update={"chat_id": group_id}) if d.code == "jrj" else d
        for d in org.departments
    ]
    return await Sandbox.start(
        settings, org.model_copy(update={"departments": departments}), clock, api=api
    )


@pytest.fixture
async def box(settings, org, clock):
    box = await group_box(settings, org, clock)
    yield box
    await box.stop()


async def _people(box: Sandbox):
    leader, official, company = (
        box.person(LEADER_ID, "王局长"),
        box.person(20002, "李明"),
        box.person(30001, "陈经理"),
    )
    await join(official, leader, "jrj")
    await register(company)
    return leader, official, company


def _tries(box: Sandbox, chat: int) -> int:
    return sum(1 for method, p in box.api.calls if method == "sendMessage" and p["chat_id"] == chat)


def _told_moved(leader) -> list[str]:
    return [m.plain for m in leader.inbox if MOVED in m.plain]


async def test_a_group_upgraded_to_a_supergroup_is_followed_from_the_refusal(box, db, clock):
    leader, official, company = await _people(box)
    box.api.migrate_chat(OLD, NEW, official.user)  # the service messages are not seen
    first = await file_appeal(company)
    # Telegram refused the old id with migrate_to_chat_id: the notice went to the new one
    assert [m.plain.split("（")[0] for m in box.api.messages_to(NEW)] == [f"新诉求 {first}"]
    assert box.api.messages_to(OLD) == [] and _tries(box, OLD) == 1
    [told] = _told_moved(leader)
    assert str(OLD) in told and f"chat_id 改为 {NEW}" in told and "市地方金融管理局" in told
    assert db.one("SELECT new_chat_id FROM chat_moves WHERE old_chat_id = ?", OLD) == {
        "new_chat_id": NEW
    }

    second = await file_appeal(company, "融资", "申请技改贴息贷款对接，项目总投资1200万元。")
    assert _tries(box, OLD) == 1  # from then on straight to the new id
    assert [m.plain.split("（")[0] for m in box.api.messages_to(NEW)][-1] == f"新诉求 {second}"
    clock.advance(timedelta(minutes=30))
    await courier.drain(box.app.bot, box.env)
    assert len(box.api.messages_to(NEW)) == 2 and len(_told_moved(leader)) == 1  # once each
    rows = db.rows("SELECT chat_id, status FROM outbox WHERE kind = 'new_appeal' AND chat_id < 0")
    assert rows == [{"chat_id": NEW, "status": "sent"}] * 2

    # members claim from the supergroup as before
    notice = box.api.messages_to(NEW)[0]
    await box.deliver(box.api.callback_update(official.user, notice, dict(notice.buttons)["签收"]))
    assert db.appeal(first).owner_id == official.id


async def test_a_group_upgraded_to_a_supergroup_is_followed_from_the_service_message(
    box, db, clock
):
    leader, official, company = await _people(box)
    box.api.fail_chat(OLD, 502, "Bad Gateway")
    owed = await file_appeal(company)  # owed to the group, to be retried
    assert box.api.messages_to(OLD) == []
    box.api.chat_failures.clear()
    for update in box.api.migrate_chat(OLD, NEW, official.user):
        await box.deliver(update)  # the old group's and the new supergroup's
    assert [m.plain.split("（")[0] for m in box.api.messages_to(NEW)] == [f"新诉求 {owed}"]
    assert len(_told_moved(leader)) == 1

    tried = _tries(box, OLD)
    fresh = await file_appeal(company, "融资", "申请技改贴息贷款对接，项目总投资1200万元。")
    assert _tries(box, OLD) == tried  # the old id is not tried any more
    clock.advance(timedelta(minutes=30))
    await courier.drain(box.app.bot, box.env)
    assert [m.plain.split("（")[0] for m in box.api.messages_to(NEW)] == [
        f"新诉求 {owed}",
        f"新诉求 {fresh}",
    ]
    assert box.api.messages_to(OLD) == [] and len(_told_moved(leader)) == 1


@pytest.mark.parametrize("written", [NEW, -100999])
async def test_the_org_configs_chat_id_wins_once_the_operator_writes_one(
    box, settings, org, clock, db, written
):
    leader, official, company = await _people(box)
    for update in box.api.migrate_chat(OLD, NEW, official.user):
        await box.deliver(update)
    await box.stop()
    box.app = (await group_box(settings, org, clock, written, api=box.api)).app  # restart
    number = await file_appeal(company)
    assert [m.plain.split("（")[0] for m in box.api.messages_to(written)] == [f"新诉求 {number}"]
    others = {NEW, -100999} - {written}
    assert all(box.api.messages_to(chat) == [] for chat in others | {OLD})
    assert len(_told_moved(leader)) == 1  # told once, not again on the restart


GROUP_REFUSALS = {
    "kicked": (403, "Forbidden: bot was kicked from the group chat", "请将机器人重新加入该群组"),
    "not a member": (403, "Forbidden: bot is not a member of the group chat", "重新加入该群组"),
    "chat not found": (400, "Bad Request: chat not found", "更正该部门的 chat_id"),
}


@pytest.mark.parametrize("refusal", list(GROUP_REFUSALS))
async def test_a_group_that_cannot_be_reached_is_reported_with_a_groups_remedy(
    box, db, clock, refusal
):
    status, description, remedy = GROUP_REFUSALS[refusal]
    leader, official, company = await _people(box)
    box.api.fail_chat(OLD, status, description)
    blocked = box.person(20003, "赵敏")
    await join(blocked, leader, "jrj")
    box.api.fail_chat(blocked.id, 403, "Forbidden: bot was blocked by the user")
    await file_appeal(company)
    clock.advance(timedelta(days=1))
    mark = leader.mark()
    await run_sweep(box.app)
    [report] = [text for text in leader.since(mark) if "无法接收" in text]
    group_part = report.split("以下群组")[1]
    assert f"市地方金融管理局（群组 {OLD}，1 条未送达）" in group_part and remedy in group_part
    assert "/start" not in group_part
    people_part = report.split("以下群组")[0]
    assert "赵敏（1 条未送达）" in people_part and "/start" in people_part
    assert str(OLD) not in people_part


async def test_an_enterprise_that_blocked_the_bot_the_official_who_acted_is_told(box, db, clock):
    leader, official, company = await _people(box)
    number = await file_appeal(company)
    box.api.fail_chat(company.id, 403, "Forbidden: bot was blocked by the user")
    notice = box.api.messages_to(OLD)[0]
    await box.deliver(box.api.callback_update(official.user, notice, dict(notice.buttons)["签收"]))
    await official.send(f"/view {number}")
    await official.press("回复")
    await official.send("已联系合作银行，请准备近两年财务报表。")
    await official.press("办结")
    await official.send("已完成银企对接，担保公司同意提供800万元担保。")
    told = [m.plain for m in official.inbox if "未能送达企业联系人" in m.plain]
    assert [text.split("的")[1].split("未能")[0] for text in told] == [
        "签收通知",
        "回复",
        "办结通知",
    ]
    assert all(f"诉求 {number}" in text and "陈经理（电话 13907110000）" in text for text in told)

    clock.advance(timedelta(minutes=30))
    await courier.drain(box.app.bot, box.env)
    answer = await company.send("/start")  # still blocked: what is owed fails again
    assert answer == []
    await courier.drain(box.app.bot, box.env)
    assert len([m for m in official.inbox if "未能送达企业联系人" in m.plain]) == 3  # once each

    clock.advance(timedelta(days=1))
    mark = leader.mark()
    await run_sweep(box.app)
    [report] = [text for text in leader.since(mark) if "无法接收" in text]
    assert "陈经理（3 条未送达）" in report


# Department names from the org config that HTML would misread (Telegram refuses the
# message with 400 "can't parse entities" when they are not escaped).
MARKUP_NAMES = ["R&D<部>", "<b>财&税</b>", "A & B > C"]


@pytest.mark.parametrize("name", MARKUP_NAMES)
async def test_operator_notices_name_departments_as_written(settings, org, clock, db, name):
    """The notice at start of departments nobody joined and a group's new id reach the
    leaders through the strict fake Telegram, with the names as the org config writes them;
    the daily list names the group so too."""
    renamed = {  # 市地方金融管理局 has a group; 中小企业科 nobody, it is named at start
        "jrj": {"chat_id": OLD, "name": name},
        "zxqy": {"name": f"{name}二"},
    }
    departments = [d.model_copy(update=renamed.get(d.code, {})) for d in org.departments]
    box = await Sandbox.start(settings, org.model_copy(update={"departments": departments}), clock)
    try:
        leader, official, company = await _people(box)
        [started] = [m.plain for m in leader.inbox if m.plain.startswith("⚠️ 机器人已启动")]
        assert f"{name}二" in started
        box.api.migrate_chat(OLD, NEW, official.user)
        await file_appeal(company)
        [moved] = _told_moved(leader)
        assert name in moved and f"chat_id 改为 {NEW}" in moved
        box.api.fail_chat(NEW, 403, "Forbidden: bot was kicked from the group chat")
        await file_appeal(company, "融资", "申请技改贴息贷款对接，项目总投资1200万元。")
        clock.advance(timedelta(days=1))
        mark = leader.mark()
        await run_sweep(box.app)
        [report] = [text for text in leader.since(mark) if "无法接收" in text]
        assert f"{name}（群组 {NEW}，1 条未送达）" in report
        to_leader = db.rows("SELECT kind, status FROM outbox WHERE chat_id = ?", LEADER_ID)
        assert {r["status"] for r in to_leader} == {"sent"}, to_leader
    finally:
        await box.stop()


def _operator_notice_kinds() -> set[str]:
    """Every kind the code queues with `tell_once` (its third argument, after the key)."""
    root = Path(__file__).parent.parent
    found = set()
    for path in [*root.glob("bot/**/*.py"), *root.glob("handlers/*.py")]:
        source = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'tell_once\(\s*env,\s*[^,]+,\s*"(\w+)"', source))
    return found


# Every operator notice with words in it at their worst; numbers as they are stored.
OPERATOR_NOTICES = {
    "chat_moved": {"department": "R&D<部>", "old": OLD, "new": NEW},
    "unstaffed_start": {"names": "R&D<部>、<b>财&税</b>、A & B > C"},
    "calendar_fallback": {"year": 2031},
}


def test_the_table_holds_every_operator_notice():
    assert _operator_notice_kinds() == set(OPERATOR_NOTICES)


@pytest.mark.parametrize("kind", list(OPERATOR_NOTICES))
async def test_every_operator_notice_reaches_the_leaders_as_written(box, db, kind):
    detail = OPERATOR_NOTICES[kind]
    leader = box.person(LEADER_ID, "王局长")
    mark = leader.mark()
    queued = await outbox.tell_once(box.env, f"test:{kind}", kind, detail, [LEADER_ID])
    assert await courier.flush(box.app.bot, box.env, queued) == 1
    [got] = leader.since(mark)
    assert got == t(kind, **detail)  # the words as stored, none lost to markup
    assert db.one("SELECT status FROM outbox WHERE id = ?", queued[0]) == {"status": "sent"}
