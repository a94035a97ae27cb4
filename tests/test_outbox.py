"""The outbox: nothing owed to anyone is lost to a fault, a block or an empty department."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.rules import delivery
from bot.sandbox.chat import Sandbox
from bot.usecases import ladder, outbox
from handlers import courier
from handlers.jobs import run_sweep
from tests.conftest import LEADER_ID, Db, file_appeal, open_database

NEW_APPEAL = "新诉求"


async def drain(sandbox, clock, seconds: int = 0) -> int:
    clock.advance(timedelta(seconds=seconds))
    return await courier.drain(sandbox.app.bot, sandbox.env)


async def test_a_department_nobody_joined_is_served_by_the_leaders(sandbox, people, db):
    number = await file_appeal(people.company, "营商环境", "园区周边道路施工影响货车进出，请协调。")
    filed = people.company.last
    assert number in filed and "暂无工作人员" in filed and "局领导" in filed
    told = [m for m in people.leader.inbox if number in m.plain]
    assert told and NEW_APPEAL in told[-1].plain
    assert (
        db.one("SELECT status FROM outbox WHERE chat_id = ? AND kind = 'new_appeal'", LEADER_ID)[
            "status"
        ]
        == "sent"
    )


async def test_a_failed_answer_is_not_an_error_and_arrives_later(sandbox, people, clock, db):
    await people.company.send("/new")
    await people.company.press("融资")
    await people.company.send("扩建冷链仓库需流动资金约800万元，申请融资担保对接。")
    sandbox.api.fail_chat(people.company.id, 502, "Bad Gateway", times=3)  # every retry
    mark = people.company.mark()
    await people.company.press("提交")
    assert people.company.since(mark) == []  # the answer was lost: no "系统繁忙" either
    assert db.count("appeals") == 1
    number = db.rows("SELECT number FROM appeals")[0]["number"]
    assert any(number in m.plain for m in people.official.inbox)  # the department was told
    ack = db.one("SELECT status, kind FROM outbox WHERE chat_id = ? AND kind = 'ack'", 30001)
    assert ack["status"] == "pending"

    assert await drain(sandbox, clock, 5) == 0  # within the grace, the answer may still come
    assert await drain(sandbox, clock, 30) == 1
    got = people.company.since(mark)
    assert len(got) == 1 and got[0].startswith("诉求已提交") and number in got[0]
    assert await drain(sandbox, clock, 60) == 0  # once


async def test_answers_sent_directly_are_not_sent_again(sandbox, people, clock, db):
    number = await file_appeal(people.company)
    await people.official.press("签收", containing=number)
    assert await drain(sandbox, clock, 120) == 0
    statuses = {r["status"] for r in db.rows("SELECT status FROM outbox")}
    assert statuses == {"sent"}


async def test_a_blocked_official_gets_what_was_owed_after_start(sandbox, people, clock, db):
    sandbox.api.fail_chat(people.official.id, 403, "Forbidden: bot was blocked by the user")
    number = await file_appeal(people.company)
    assert not any(number in m.plain for m in people.official.inbox)
    assert any(number in m.plain for m in people.head.inbox)  # the head still heard of it
    failed = db.one("SELECT status, error FROM outbox WHERE chat_id = ?", people.official.id)
    assert failed["status"] == "failed" and "blocked" in failed["error"]
    assert not any(number in m.plain for m in people.leader.inbox)  # somebody did hear

    sandbox.api.chat_failures.clear()
    answer = await people.official.send("/start")
    assert "1 条消息未能送达" in answer[0]
    assert any(number in text and NEW_APPEAL in text for text in answer)
    assert db.one("SELECT status FROM outbox WHERE chat_id = ?", people.official.id) == {
        "status": "sent"
    }


async def test_when_every_member_fails_the_leaders_are_told(sandbox, people, db):
    for person in (people.official, people.head):
        sandbox.api.fail_chat(person.id, 400, "Bad Request: chat not found")
    number = await file_appeal(people.company)
    told = [m.plain for m in people.leader.inbox if number in m.plain]
    assert len(told) == 1 and NEW_APPEAL in told[0]


async def test_leaders_get_one_daily_list_of_people_who_could_not_be_reached(
    sandbox, people, clock
):
    sandbox.api.fail_chat(people.official.id, 403, "Forbidden: bot was blocked by the user")
    await file_appeal(people.company)
    await file_appeal(people.company, "融资", "申请技改贴息贷款对接，项目总投资1200万元。")
    clock.advance(timedelta(days=1))
    mark = people.leader.mark()
    await run_sweep(sandbox.app)
    await run_sweep(sandbox.app)  # a second sweep the same day says nothing more
    reports = [text for text in people.leader.since(mark) if "无法接收" in text]
    assert len(reports) == 1
    assert "李明（2 条未送达）" in reports[0]


async def test_admins_are_warned_of_departments_nobody_joined(
    sandbox, people, settings, org, clock
):
    started = [m.plain for m in people.leader.inbox if m.plain.startswith("⚠️ 机器人已启动")]
    assert len(started) == 1 and "市人社局" in started[0] and "市地方金融管理局" in started[0]
    stats = await people.leader.send("/stats")
    # 融资 (市地方金融管理局) and 中小企业科 have members by now; the others do not
    assert "暂无人员加入的部门：产业政策科、市人社局、市司法局、市营商办、经济运行科" in stats[-1]
    await sandbox.stop()
    again = await Sandbox.start(settings, org, clock, api=sandbox.api)  # a restart that day
    try:
        started = [m.plain for m in people.leader.inbox if m.plain.startswith("⚠️ 机器人已启动")]
        assert len(started) == 1
    finally:
        await again.stop()
        sandbox.app = again.app  # the fixture stops what is running


async def test_a_digest_that_could_not_be_sent_is_retried_and_arrives_once(
    sandbox, people, clock, db
):
    from bot.rules.digest import Week
    from handlers.digest import send_weekly_digests

    await file_appeal(people.company)
    week = Week.of(sandbox.env.today())
    sandbox.api.fail_chat(LEADER_ID, 502, "Bad Gateway")
    assert await send_weekly_digests(sandbox.app.bot, sandbox.env, week) == 4  # leader, 3 staff
    digests = [m for m in people.leader.inbox if "督察通报" in m.plain]
    assert digests == [] and sandbox.api.photos == [] and sandbox.api.documents == []
    owed = db.rows("SELECT kind, status FROM outbox WHERE chat_id = ? AND subject = 'digest'",
                   LEADER_ID)  # fmt: skip
    assert sorted(r["kind"] for r in owed) == ["digest", "digest_files"]
    assert {r["status"] for r in owed} == {"pending"}

    sandbox.api.chat_failures.clear()
    await drain(sandbox, clock, 15 * 60)
    assert len([m for m in people.leader.inbox if "督察通报" in m.plain]) >= 1
    assert [chat for chat, _ in sandbox.api.photos] == [LEADER_ID]
    assert [chat for chat, _, _ in sandbox.api.documents] == [LEADER_ID]
    assert await send_weekly_digests(sandbox.app.bot, sandbox.env, week) == 0
    await drain(sandbox, clock, 15 * 60)
    assert [chat for chat, _ in sandbox.api.photos] == [LEADER_ID]  # once


async def test_a_department_can_be_told_in_its_group_only(settings, org, clock, db):
    from tests.conftest import join, register

    group_id = -100888
    departments = [
        d.model_copy(update={"chat_id": group_id}) if d.code == "jrj" else d
        for d in org.departments
    ]
    routing = org.routing.model_copy(update={"department_notices": "group"})
    quiet = org.model_copy(update={"departments": departments, "routing": routing})
    box = await Sandbox.start(settings, quiet, clock)
    try:
        leader = box.person(LEADER_ID, "王局长")
        official, head = box.person(20002, "李明"), box.person(20001, "张科长")
        company = box.person(30001, "陈经理")
        await join(official, leader, "jrj")
        await join(head, leader, "jrj", head=True)
        await register(company)
        number = await file_appeal(company)
        assert [m.plain.split("（")[0] for m in box.api.messages_to(group_id)] == [
            f"新诉求 {number}"
        ]
        assert not any(number in m.plain for m in official.inbox + head.inbox)
    finally:
        await box.stop()


async def test_a_department_can_be_told_through_its_heads(settings, org, clock, db):
    """department_notices = "heads": the 科长 hears of a new appeal, the members do not (they
    find it in /inbox); a department without a head still tells every member."""
    from tests.conftest import join, register

    routing = org.routing.model_copy(update={"department_notices": "heads"})
    box = await Sandbox.start(settings, org.model_copy(update={"routing": routing}), clock)
    try:
        leader = box.person(LEADER_ID, "王局长")
        official, head = box.person(20002, "李明"), box.person(20001, "张科长")
        hr_official = box.person(20003, "赵敏")
        company = box.person(30001, "陈经理")
        await join(official, leader, "jrj")
        await join(head, leader, "jrj", head=True)
        await join(hr_official, leader, "rsj")
        await register(company)
        number = await file_appeal(company)
        assert any(f"新诉求 {number}" in m.plain for m in head.inbox)
        assert not any(number in m.plain for m in official.inbox)
        mark = official.mark()
        await official.send("/inbox")
        assert any(number in m.plain for m in official.inbox[mark:])
        other = await file_appeal(company, category="用工(引才)")
        assert any(f"新诉求 {other}" in m.plain for m in hr_official.inbox)
    finally:
        await box.stop()


async def test_a_year_ledger_over_the_upload_limit_is_sent_for_the_week(
    sandbox, people, clock, db, monkeypatch
):
    from bot import ledger_size
    from bot.rules.digest import Week
    from handlers.digest import send_weekly_digests

    monkeypatch.setattr(ledger_size, "UPLOAD_LIMIT", 100)  # any real ledger is larger
    monkeypatch.setattr(courier, "_PACKS", {})
    await file_appeal(people.company)
    week = Week.of(sandbox.env.today())
    await send_weekly_digests(sandbox.app.bot, sandbox.env, week)
    [(chat, name, _)] = sandbox.api.documents
    caption = [p for m, p in sandbox.api.calls if m == "sendDocument"][-1]["caption"]
    assert chat == LEADER_ID and week.label in name
    # the week under way: up to today, as the digest is
    assert f"诉求台账（{week.start} 至 {sandbox.env.today()}" in caption
    assert "全年台账超过 Telegram 50MB 的上传限制" in caption


async def started_since(before: set) -> None:
    """Wait for the tasks an action started (not those running before it: a PostgreSQL
    pool's own workers run until it closes)."""
    import asyncio

    await asyncio.gather(*(asyncio.all_tasks() - before - {asyncio.current_task()}))


async def test_in_production_an_actions_notices_are_sent_by_a_task_of_their_own(
    sandbox, people, clock, db
):
    """The handler ends with the actor's answer: marking their stored confirmation sent
    and telling the department happen in a task of its own, and neither is done twice."""
    import asyncio

    from handlers.courier import SEND_IN_BACKGROUND

    sandbox.app.bot_data[SEND_IN_BACKGROUND] = True
    await people.company.send("/new")
    await people.company.press("融资")
    await people.company.send("扩建冷链仓库需流动资金约800万元，申请融资担保对接。")
    before = asyncio.all_tasks()
    answer = await people.company.press("提交")
    assert answer[-1].startswith("诉求已提交")  # the actor is answered by the handler itself
    await started_since(before)
    number = db.rows("SELECT number FROM appeals")[0]["number"]
    for staff in (people.official, people.head):
        assert [m.plain for m in staff.inbox if number in m.plain and "新诉求" in m.plain]
    assert {r["status"] for r in db.rows("SELECT status FROM outbox")} == {"sent"}
    assert await drain(sandbox, clock, 60) == 0
    filed = [m for m in people.company.inbox if m.plain.startswith("诉求已提交")]
    assert len(filed) == 1 and number in filed[0].plain


async def test_in_production_a_lost_answer_is_not_marked_sent_and_a_second_tap_is_told(
    sandbox, people, clock, db
):
    """With the background task: Telegram loses the answer to 提交, so the stored
    confirmation stays due; tapping 提交 again meanwhile files nothing new and is answered
    with that confirmation, marked sent: the courier sends nothing more."""
    import asyncio

    from handlers.courier import SEND_IN_BACKGROUND

    sandbox.app.bot_data[SEND_IN_BACKGROUND] = True
    await people.company.send("/new")
    await people.company.press("融资")
    await people.company.send("扩建冷链仓库需流动资金约800万元，申请融资担保对接。")
    sandbox.api.fail_chat(people.company.id, 502, "Bad Gateway", times=3)
    mark = people.company.mark()
    before = asyncio.all_tasks()
    await people.company.press("提交")
    await started_since(before)
    assert people.company.since(mark) == []
    ack = db.one("SELECT id, status FROM outbox WHERE chat_id = ? AND kind = 'ack'", 30001)
    assert ack["status"] == "pending"
    ack_id = ack["id"]

    before = asyncio.all_tasks()
    again = await people.company.press("提交")
    await started_since(before)
    number = db.one("SELECT number FROM appeals")["number"]
    assert db.count("appeals") == 1 and number in again[-1]
    assert again[-1].startswith("诉求已提交")
    assert db.one("SELECT status FROM outbox WHERE id = ?", ack_id)["status"] == "sent"
    assert await drain(sandbox, clock, 30) == 0
    filed = [m for m in people.company.since(mark) if m.startswith("诉求已提交")]
    assert len(filed) == 1 and number in filed[0]
    assert await drain(sandbox, clock, 60) == 0


async def test_notices_that_waited_together_go_as_one_numbered_list(sandbox, people, clock, db):
    """Telegram refused the official's messages for a while: the three new appeals that
    piled up meanwhile reach them as one list, each item and its buttons numbered alike,
    and each button acts on its own appeal."""
    sandbox.api.fail_chat(people.official.id, 502, "Bad Gateway")
    numbers = [
        await file_appeal(people.company, "融资", f"第{n}件：申请技改贴息贷款对接，投资{n}00万元。")
        for n in (1, 2, 3)
    ]
    assert not any(number in m.plain for m in people.official.inbox for number in numbers)
    assert all(any(number in m.plain for m in people.head.inbox) for number in numbers)

    sandbox.api.chat_failures.clear()
    mark = people.official.mark()
    await drain(sandbox, clock, 60)
    [message] = people.official.inbox[mark:]
    assert message.plain.startswith("新通知 3 条（第 1–3 条），按编号对应下方按钮：")
    for item_mark, number in zip("①②③", numbers, strict=True):
        assert f"{item_mark} 新诉求 {number}" in message.plain
    labels = [label for label, _ in message.buttons]
    assert labels == ["签收 ①", "查看 ①", "签收 ②", "查看 ②", "签收 ③", "查看 ③"]
    rows = db.rows(
        "SELECT status FROM outbox WHERE chat_id = ? AND kind = 'new_appeal'", people.official.id
    )
    assert [r["status"] for r in rows] == ["sent"] * 3

    await people.official.press("签收 ②")
    states = [db.appeal(number).state for number in numbers]
    assert states == ["pending", "in_progress", "pending"]


async def test_a_list_refused_for_a_while_is_sent_once_later(sandbox, people, clock, db):
    """A 429 on a list of notices puts every item back; the next try sends them once."""
    sandbox.api.fail_chat(people.official.id, 502, "Bad Gateway")
    numbers = [
        await file_appeal(people.company, "融资", f"第{n}件：申请设备更新贷款贴息，金额{n}50万元。")
        for n in (1, 2, 3)
    ]
    sandbox.api.fail_chat(people.official.id, 429, "Too Many Requests: retry after 3", times=1)
    mark = people.official.mark()
    await drain(sandbox, clock, 60)
    assert people.official.inbox[mark:] == []
    pending = db.rows("SELECT status, error FROM outbox WHERE chat_id = ?", people.official.id)
    assert {(r["status"], r["error"]) for r in pending} == {("pending", "429")}
    await drain(sandbox, clock, 60)
    [message] = people.official.inbox[mark:]
    assert all(message.plain.count(f"新诉求 {number}") == 1 for number in numbers)
    await drain(sandbox, clock, 60)
    assert len(people.official.inbox[mark:]) == 1


async def test_two_notices_that_waited_together_stay_two_plain_messages(sandbox, people, clock):
    sandbox.api.fail_chat(people.official.id, 502, "Bad Gateway")
    numbers = [
        await file_appeal(people.company, "融资", f"第{n}件：申请研发费用加计扣除辅导，{n}项。")
        for n in (1, 2)
    ]
    sandbox.api.chat_failures.clear()
    mark = people.official.mark()
    await drain(sandbox, clock, 60)
    got = people.official.inbox[mark:]
    assert [m.plain.split("（")[0] for m in got] == [f"新诉求 {number}" for number in numbers]
    assert all([label for label, _ in m.buttons] == ["签收", "查看"] for m in got)


async def _store(sandbox, chat: int, kind: str, subject, subject_id, detail, priority) -> int:
    async with sandbox.env.db.unit_of_work() as uow:
        stored = await uow.outbox.add(
            chat, kind, subject, subject_id, detail, priority, sandbox.env.now()
        )
        await uow.commit()
    return stored


def _jrj_digest(db) -> dict:
    jrj = db.one("SELECT id FROM departments WHERE code = 'jrj'")["id"]
    return {"week": "2026-W01", "audience": f"department:{jrj}"}


# Every message the courier finds about something that no longer exists: (kind, subject,
# subject id, detail, priority); the digest's detail is filled in per database.
GONE_SUBJECTS = {
    "an appeal": ("new_appeal", "appeal", 999999, {}, delivery.NOTICE),
    "an appeal in a list": ("new_appeal", "appeal", 999999, {}, delivery.NOTICE),
    "a task": ("task_approved", "task", 999999, {"text": "已整改"}, delivery.NOTICE),
    "a ladder notice": ("ladder", "notice", 999999, {}, delivery.LADDER),
    "a ladder list": (
        ladder.LIST,
        "notice",
        999998,
        {"notices": [999998, 999999], "more": 0},
        delivery.LADDER,
    ),
    "a digest": ("digest", "digest", None, None, delivery.NOTICE),
}


@pytest.mark.parametrize("case", list(GONE_SUBJECTS))
async def test_a_message_about_what_no_longer_exists_is_gone_not_failed(
    sandbox, people, clock, db, case
):
    """It ends as gone: nobody could not be reached, so it is not owed again after /start,
    not listed to the leaders, and does not count as heard. 张科长, really blocked, is the
    control: he is owed again and listed."""
    kind, subject, subject_id, detail, priority = GONE_SUBJECTS[case]
    sandbox.api.fail_chat(people.head.id, 403, "Forbidden: bot was blocked by the user")
    if case == "an appeal in a list":  # three real notices wait with it and go as a list
        sandbox.api.fail_chat(people.official.id, 502, "Bad Gateway")
        numbers = [
            await file_appeal(people.company, "融资", f"第{n}件：申请设备更新贷款贴息{n}项。")
            for n in (1, 2, 3)
        ]
    else:
        numbers = [await file_appeal(people.company)]
    gone = await _store(
        sandbox, people.official.id, kind, subject, subject_id, detail or _jrj_digest(db), priority
    )
    sandbox.api.chat_failures.pop(people.official.id, None)
    mark = people.official.mark()
    await drain(sandbox, clock, 60)
    got = "\n".join(people.official.since(mark))
    if case == "an appeal in a list":
        assert got.startswith("新通知 3 条") and all(number in got for number in numbers)
    assert db.one("SELECT status FROM outbox WHERE id = ?", gone) == {"status": "gone"}
    if subject_id is not None:
        async with sandbox.env.db.reading() as uow:
            assert not await uow.outbox.heard(subject, subject_id, kind)

    sandbox.api.chat_failures.clear()
    answer = await people.official.send("/start")
    assert not any("未能送达" in text for text in answer), answer
    assert db.one("SELECT status FROM outbox WHERE id = ?", gone) == {"status": "gone"}
    assert await outbox.owe_again(sandbox.env, people.official.id) == []
    clock.advance(timedelta(days=1))
    mark = people.leader.mark()
    await run_sweep(sandbox.app)
    [report] = [text for text in people.leader.since(mark) if "无法接收" in text]
    assert f"张科长（{len(numbers)} 条未送达）" in report and "李明" not in report
    assert f"{len(numbers)} 条消息未能送达" in (await people.head.send("/start"))[0]


async def test_the_daily_list_names_each_chats_latest_error_since_the_last_list(sandbox, db):
    """A group's remedy comes from its errors in the window only, even when an older row
    (created before the window, failed later) has a higher id."""
    group = -100555
    now = sandbox.env.now()
    async with sandbox.env.db.unit_of_work() as uow:
        recent = await uow.outbox.add(group, "chat_moved", None, None, {}, delivery.NOTICE, now)
        old = await uow.outbox.add(
            group, "chat_moved", None, None, {}, delivery.NOTICE, now - timedelta(days=5)
        )
        await uow.outbox.failed(recent, "Bad Request: chat not found")
        await uow.outbox.failed(old, "Forbidden: bot was kicked from the group chat")
        await uow.commit()
    async with sandbox.env.db.reading() as uow:
        window = await uow.outbox.unreachable_why(now - timedelta(days=1))
        everything = await uow.outbox.unreachable_why(now - timedelta(days=10))
    assert window == [(group, 1, "Bad Request: chat not found")]
    assert everything == [(group, 2, "Forbidden: bot was kicked from the group chat")]
    assert delivery.group_remedy(window[0][2]) == delivery.REMEDY_CHAT_ID


@pytest.mark.sqlite_only  # upgrades a file from before the PostgreSQL schema existed
async def test_an_upgrade_turns_failures_recorded_for_what_was_gone_into_gone(tmp_path):
    """Before the `gone` status, a message about what no longer existed was stored as a
    failed delivery (error 'gone'): migration 11 makes it gone, and leaves real failures."""
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    old = Db(url)
    db = open_database(url)
    await db.open()
    await db.close()
    old.executemany(
        "INSERT INTO outbox (chat_id, kind, subject, subject_id, detail, priority, status,"
        " error, due_at, created_at) VALUES (?, 'reply', 'appeal', 1, '{}', 1, 'failed', ?,"
        " '2026-03-01T00:00:00+00:00', '2026-03-01T00:00:00+00:00')",
        [(20002, "gone"), (20003, "Forbidden: bot was blocked by the user")],
    )
    old.execute("DELETE FROM schema_migrations WHERE version = 11")  # as it was at 10
    db = open_database(url)
    await db.open()
    await db.close()
    assert old.rows("SELECT chat_id, status, error FROM outbox ORDER BY chat_id") == [
        {"chat_id": 20002, "status": "gone", "error": None},
        {"chat_id": 20003, "status": "failed", "error": "Forbidden: bot was blocked by the user"},
    ]
