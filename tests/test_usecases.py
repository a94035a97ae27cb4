"""Use-case stories without Telegram: each use case's outcome and what the database holds."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.app import make_env
from bot.digest_files import export_ledger
from bot.rules.digest import Week
from bot.rules.ledger import LedgerNotice
from bot.rules.model import Action, Attachment, Rating, Role, State, TaskAction, TaskState
from bot.rules.refusals import (
    AppealNotFound,
    BaobaoNotFound,
    DepartmentNotFound,
    EnterpriseTaken,
    InvalidInput,
    NotAllowed,
    StaleAction,
)
from bot.rules.tasks import COLUMNS
from bot.texts import name, t
from bot.usecases import appeals, conversations, ladder, people, reports, tasks
from bot.usecases.appeals import ActionRequest
from tests.conftest import COMPANY_USCC, LEADER_ID, OTHER_USCC, settings_for

OFFICIAL, HEAD, OUTSIDER, CONTACT, OTHER_CONTACT = 1001, 1002, 1003, 2001, 2002
DESCRIPTION = "企业新招技术工人30名，申请落实稳岗补贴政策，请协助对接人社部门。"


@pytest.fixture
async def env(settings, org, clock):
    environment = make_env(settings, org, clock)
    await environment.db.open()
    await people.sync_departments(environment)
    yield environment
    await environment.db.close()


async def join(env, tg_id: int, full_name: str, department: str, head: bool = False):
    leader = await people.actor_for(env, LEADER_ID)
    invite = await people.create_invite(env, leader, department, head)
    return await people.accept_invite(env, tg_id, full_name, invite.code)


@pytest.fixture
async def cast(env):
    """The people of one appeal: two enterprises, the 人社局's official and head, an outsider."""
    await people.register_enterprise(
        env, CONTACT, "鄂州华瑞机械有限公司", COMPANY_USCC, "陈经理", "13800000001", "r1"
    )
    await people.register_enterprise(
        env, OTHER_CONTACT, "鄂州远航物流有限公司", OTHER_USCC, "赵经理", "13800000002", "r2"
    )
    await join(env, OFFICIAL, "李明", "rsj")
    await join(env, HEAD, "张科长", "rsj", head=True)
    await join(env, OUTSIDER, "王芳", "jrj")
    return {
        name: await people.actor_for(env, tg_id)
        for name, tg_id in {
            "contact": CONTACT,
            "other": OTHER_CONTACT,
            "official": OFFICIAL,
            "head": HEAD,
            "outsider": OUTSIDER,
            "leader": LEADER_ID,
        }.items()
    }


async def filed(env, cast, key: str = "f1"):
    return await appeals.file_appeal(env, cast["contact"], "yonggong", DESCRIPTION, (), key)


async def act(env, actor, action: Action, appeal, key: str, **given):
    use_case = appeals.USE_CASES[action]
    return await use_case(
        env, actor, ActionRequest(appeal.id, version=appeal.version, key=key, **given)
    )


# people --------------------------------------------------------------------------------------


async def test_registration_stores_enterprise_and_contact_and_refuses_a_taken_code(env, db):
    enterprise = await people.register_enterprise(
        env, CONTACT, "鄂州华瑞机械有限公司", COMPANY_USCC, "陈经理", "138 0000 0001", "k"
    )
    assert enterprise.name == "鄂州华瑞机械有限公司"
    assert db.one("SELECT role, enterprise_id FROM users WHERE tg_id = ?", CONTACT) == {
        "role": Role.ENTERPRISE,
        "enterprise_id": enterprise.id,
    }
    assert (await people.actor_for(env, CONTACT)).role is Role.ENTERPRISE
    again = await people.register_enterprise(
        env, CONTACT, "鄂州华瑞机械有限公司", COMPANY_USCC, "陈经理", "13800000001", "k"
    )
    assert again.id == enterprise.id  # the same request delivered twice
    with pytest.raises(EnterpriseTaken):
        await people.register_enterprise(
            env, 3001, "另一家公司", COMPANY_USCC, "孙女士", "13800000003", "k2"
        )
    assert db.count("enterprises") == 1
    assert db.count("users") == 1


async def test_invite_is_single_use_and_makes_a_head(env, db):
    leader = await people.actor_for(env, LEADER_ID)
    invite = await people.create_invite(env, leader, "rsj", True)
    membership = await people.accept_invite(env, HEAD, "张科长", invite.code)
    assert membership.role is Role.HEAD and membership.department.code == "rsj"
    assert db.one("SELECT role, full_name FROM users WHERE tg_id = ?", HEAD) == {
        "role": Role.HEAD,
        "full_name": "张科长",
    }
    with pytest.raises(Exception, match="used"):
        await people.accept_invite(env, OFFICIAL, "李明", invite.code)
    official = await people.actor_for(env, HEAD)
    with pytest.raises(DepartmentNotFound):  # for anyone but a leader no department exists
        await people.create_invite(env, official, "rsj", False)


async def test_baobao_routes_the_next_appeal_to_that_official(env, cast, db):
    enterprise_id = db.one("SELECT id FROM enterprises WHERE uscc = ?", COMPANY_USCC)["id"]
    assigned = await people.assign_baobao(env, cast["leader"], enterprise_id, OUTSIDER)
    assert assigned.official.full_name == "王芳"
    outcome = await filed(env, cast)
    assert outcome.appeal.assignee_id == OUTSIDER
    assert outcome.appeal.department_code == "jrj"
    with pytest.raises(BaobaoNotFound):  # as for unknown ids: nothing to probe
        await people.assign_baobao(env, cast["head"], enterprise_id, OFFICIAL)


# filing and the workflow -----------------------------------------------------------------------


async def test_filing_numbers_routes_dates_and_tells_the_department(env, cast, db):
    outcome = await filed(env, cast)
    appeal = outcome.appeal
    assert appeal.number == "SQ-2026-000001"
    assert appeal.state is State.PENDING and appeal.department_code == "rsj"
    # Tuesday 2026-03-10: one working day to claim, ten to close.
    assert appeal.claim_due_date == date(2026, 3, 11)
    assert appeal.due_date == date(2026, 3, 24)
    assert sorted(n.chat_id for n in outcome.notices) == [OFFICIAL, HEAD]
    assert {n.kind for n in outcome.notices} == {"new_appeal"}
    stored = db.appeal("SQ-2026-000001")
    assert (stored.state, stored.due_date) == ("pending", date(2026, 3, 24))
    assert db.events("SQ-2026-000001") == [("file", None, "pending", CONTACT)]

    again = await filed(env, cast)  # the same update delivered twice
    assert again.replayed and again.appeal.id == appeal.id
    assert db.count("appeals") == 1


async def test_filing_refuses_bad_input_and_non_enterprises(env, cast, db):
    with pytest.raises(InvalidInput):
        await appeals.file_appeal(env, cast["contact"], "yonggong", "太短", (), "a")
    with pytest.raises(InvalidInput):
        await appeals.file_appeal(env, cast["contact"], "nosuch", DESCRIPTION, (), "b")
    with pytest.raises(NotAllowed):
        await appeals.file_appeal(env, cast["official"], "yonggong", DESCRIPTION, (), "c")
    assert db.count("appeals") == 0


async def test_claim_reply_close_rate_story(env, cast, db):
    appeal = (await filed(env, cast)).appeal
    claimed = await act(env, cast["official"], Action.CLAIM, appeal, "c")
    assert claimed.appeal.state is State.IN_PROGRESS and claimed.appeal.owner_id == OFFICIAL

    replied = await act(
        env, cast["official"], Action.REPLY, claimed.appeal, "r", text="已联系人社局，下周对接。"
    )
    assert [(n.chat_id, n.kind) for n in replied.notices] == [(CONTACT, "reply")]
    assert replied.appeal.state is State.IN_PROGRESS

    noted = await act(env, cast["official"], Action.NOTE, replied.appeal, "n", text="内部：待复核")
    assert all(n.chat_id != CONTACT for n in noted.notices)  # notes never reach enterprises

    closed = await act(
        env, cast["official"], Action.CLOSE, noted.appeal, "x", text="补贴已于3月16日拨付。"
    )
    assert closed.appeal.state is State.CLOSED
    assert closed.appeal.rating_due_date == date(2026, 3, 13)

    rated = await act(
        env, cast["contact"], Action.RATE, closed.appeal, "s", rating=Rating.SATISFIED
    )
    assert rated.appeal.state is State.RATED and rated.appeal.rating is Rating.SATISFIED
    comment = await appeals.comment_rating(env, cast["contact"], appeal.id, "办得很快，谢谢", "m")
    assert comment.notices and comment.notices[0].chat_id == OFFICIAL

    assert [e[0] for e in db.events(appeal.number)] == [
        "file",
        "claim",
        "reply",
        "note",
        "close",
        "rate",
        "rating_comment",
    ]
    kinds = [r["kind"] for r in db.rows("SELECT kind FROM appeal_messages ORDER BY id")]
    assert kinds == ["reply", "note", "rating_comment"]

    # The enterprise's view has no note and no history; the official's has both.
    public = await appeals.view(env, cast["contact"], appeal.number)
    assert [m.kind for m in public.messages] == ["reply", "rating_comment"]
    assert public.events == []
    internal = await appeals.view(env, cast["official"], appeal.number)
    assert "note" in [m.kind for m in internal.messages] and len(internal.events) == 7


async def test_dissatisfied_reopens_with_a_new_deadline(env, cast, db):
    appeal = (await filed(env, cast)).appeal
    appeal = (await act(env, cast["official"], Action.CLAIM, appeal, "c")).appeal
    appeal = (await act(env, cast["official"], Action.CLOSE, appeal, "x", text="已处理完毕")).appeal
    reopened = await act(env, cast["contact"], Action.RATE, appeal, "u", rating=Rating.DISSATISFIED)
    assert reopened.appeal.state is State.IN_PROGRESS
    assert reopened.appeal.reopen_count == 1 and reopened.appeal.closed_at is None
    assert db.events(appeal.number)[-1][0] == "reopen"


async def test_transfer_moves_the_appeal_and_keeps_the_reason_in_the_audit(env, cast, db):
    appeal = (await filed(env, cast)).appeal
    moved = await act(
        env, cast["head"], Action.TRANSFER, appeal, "t", text="属融资事项", department_code="jrj"
    )
    assert moved.appeal.department_code == "jrj" and moved.appeal.owner_id is None
    assert [n.chat_id for n in moved.notices if n.kind == "transferred"] == [OUTSIDER]
    event = db.rows("SELECT detail FROM audit_events WHERE action = 'transfer'")[0]
    assert "属融资事项" in event["detail"] and "jrj" in event["detail"]
    assert db.count("appeal_messages") == 0  # the reason is data, not a stored sentence
    with pytest.raises(InvalidInput):
        await act(
            env,
            cast["outsider"],
            Action.TRANSFER,
            moved.appeal,
            "t2",
            department_code="jrj",
            text="x理由",
        )


async def test_supplement_and_withdraw_by_the_enterprise(env, cast, db):
    appeal = (await filed(env, cast)).appeal
    file = Attachment("photo", "file-1", "unique-1", "现场.jpg")
    added = await act(
        env, cast["contact"], Action.SUPPLEMENT, appeal, "s", text="", attachments=(file,)
    )
    assert db.count("attachments") == 1
    withdrawn = await act(
        env, cast["contact"], Action.WITHDRAW, added.appeal, "w", text="问题已自行解决"
    )
    assert withdrawn.appeal.state is State.WITHDRAWN
    assert db.appeal(appeal.number).state == "withdrawn"


async def test_refusals_change_nothing(env, cast, db):
    appeal = (await filed(env, cast)).appeal
    with pytest.raises(AppealNotFound):  # another enterprise's appeal does not exist for B
        await appeals.view(env, cast["other"], appeal.number)
    with pytest.raises(AppealNotFound):  # nor for a wrong department
        await act(env, cast["outsider"], Action.CLAIM, appeal, "o")
    with pytest.raises(NotAllowed):
        await act(env, cast["contact"], Action.CLAIM, appeal, "e")
    await act(env, cast["official"], Action.CLAIM, appeal, "c")
    with pytest.raises(StaleAction):  # a button from before the claim
        await act(env, cast["head"], Action.CLAIM, appeal, "h")
    assert db.events(appeal.number) == [
        ("file", None, "pending", CONTACT),
        ("claim", "pending", "in_progress", OFFICIAL),
    ]


async def test_extension_request_and_decision(env, cast, db):
    appeal = (await filed(env, cast)).appeal
    appeal = (await act(env, cast["official"], Action.CLAIM, appeal, "c")).appeal
    asked = await act(
        env,
        cast["official"],
        Action.EXTEND,
        appeal,
        "e",
        text="需协调省厅",
        new_due="2026/3/31",
    )
    assert [n.chat_id for n in asked.notices] == [HEAD]
    extension = db.one("SELECT id, new_due_date, state FROM extensions")
    assert extension["new_due_date"] == "2026-03-31" and extension["state"] == "pending"
    with pytest.raises(NotAllowed):
        await appeals.decide_extension(env, cast["official"], extension["id"], True, "d0")
    decided = await appeals.decide_extension(env, cast["head"], extension["id"], True, "d1")
    assert decided.appeal.due_date == date(2026, 3, 31)
    assert db.appeal(appeal.number).due_date == date(2026, 3, 31)
    assert db.events(appeal.number)[-1][0] == "extension_approved"


# ladder, reports, tasks ------------------------------------------------------------------------


async def test_sweep_creates_a_claim_reminder_once(env, cast, clock, db):
    appeal = (await filed(env, cast)).appeal
    clock.advance(timedelta(days=2))  # Thursday: the claim was due yesterday
    first = await ladder.sweep(env)
    assert first is not None and sum(first.values()) >= 1
    assert await ladder.sweep(env) == {k: 0 for k in first}  # a second sweep adds nothing
    due = await ladder.pending(env)
    assert [(p.kind, p.appeal.id) for p in due] == [("unclaimed", appeal.id)]
    assert due[0].chats == [HEAD]  # an unclaimed appeal goes to the head
    await ladder.enqueue_due(env)  # handed to the outbox, one row per recipient
    assert await ladder.pending(env) == []


async def test_leaders_digest_counts_the_week(env, cast, clock):
    appeal = (await filed(env, cast)).appeal
    appeal = (await act(env, cast["official"], Action.CLAIM, appeal, "c")).appeal
    await act(env, cast["official"], Action.CLOSE, appeal, "x", text="已处理完毕，补贴到位")
    digest = await reports.leaders_digest(env, cast["leader"], Week.of(date(2026, 3, 10)))
    assert (digest.last_week.new, digest.last_week.closed) == (1, 1)
    assert digest.last_week.on_time_rate == 1.0
    with pytest.raises(NotAllowed):
        await reports.leaders_digest(env, cast["head"], Week.of(date(2026, 3, 10)))


async def test_ledger_history_is_local_time_and_chinese(env, cast, clock, tmp_path: Path):
    clock.set(clock.now().replace(hour=1, minute=30))  # 09:30 in 鄂州
    appeal = (await filed(env, cast)).appeal
    appeal = (await act(env, cast["official"], Action.CLAIM, appeal, "c")).appeal
    await act(env, cast["contact"], Action.SUPPLEMENT, appeal, "s", text="补充：工人名单已备齐")
    target = tmp_path / "ledger.xlsx"
    count = await export_ledger(env, cast["leader"], date(2026, 1, 1), date(2026, 3, 31), target)
    assert count == 1
    sheet = load_workbook(target)[t("ledger.sheet_full")]
    header = [c.value for c in sheet[1]]
    row = dict(zip(header, [c.value for c in sheet[2]], strict=True))
    history = row[t("ledger.header.history")]
    assert "2026-03-10 09:30" in history
    assert name("event", "claim") in history and "李明" in history
    assert "T01:30" not in history and "claim" not in history
    messages = row[t("ledger.header.messages")]
    assert "2026-03-10 09:30" in messages and name("message_kind", "supplement") in messages
    assert row[t("ledger.header.state")] == name("state", "in_progress")


async def test_the_ledger_is_a_sheet_a_clerk_can_filter_sort_and_print(
    env, cast, clock, tmp_path: Path
):
    """Real dates and times (local) in date formats, wrapped long texts, a frozen header
    with filters, landscape A4 with the header on every page (the print setup of every
    sheet: tests/test_paper.py), and the 文号 in order: 提示 before 督办, each by number."""
    from datetime import datetime

    from bot.ledger_sheet import notice_serials

    clock.set(clock.now().replace(hour=1, minute=30))  # 09:30 in 鄂州
    appeal = (await filed(env, cast)).appeal
    await act(env, cast["official"], Action.CLAIM, appeal, "c")
    target = tmp_path / "ledger.xlsx"
    await export_ledger(env, cast["leader"], date(2026, 1, 1), date(2026, 3, 31), target)
    sheet = load_workbook(target)[t("ledger.sheet_full")]
    header = [c.value for c in sheet[1]]
    cells = dict(zip(header, sheet[2], strict=True))
    created = cells[t("ledger.header.created")]
    assert created.value == datetime(2026, 3, 10, 9, 30)
    assert created.number_format == "yyyy-mm-dd hh:mm"
    due = cells[t("ledger.header.due")]
    assert due.value == datetime.combine(appeal.due_date, datetime.min.time())
    assert due.number_format == "yyyy-mm-dd"
    assert cells[t("ledger.header.history")].alignment.wrap_text
    assert cells[t("ledger.header.description")].alignment.wrap_text
    assert sheet.freeze_panes == "B2"
    assert sheet.auto_filter.ref == "A1:U2"
    assert sheet.print_title_rows == "$1:$1"
    setup = sheet.page_setup
    assert (setup.orientation, int(setup.paperSize)) == ("landscape", 9)
    assert round(sheet.column_dimensions["S"].width) in (36, 37)  # 办理记录, 36 characters
    assert sheet.row_dimensions[2].height >= 2 * 14  # tall enough for its wrapped lines

    class Entry:
        notices = [
            LedgerNotice("提示", 2026, 15), LedgerNotice("督办", 2026, 5),
            LedgerNotice("提示", 2026, 6), LedgerNotice("提示", 2026, 2),
        ]  # fmt: skip

    assert (
        notice_serials(Entry)
        == "提示〔2026〕2号、提示〔2026〕6号、提示〔2026〕15号、督办〔2026〕5号"
    )


async def test_task_import_maps_owners_and_a_report_moves_the_task(
    env, cast, db, settings, tmp_path, another_database
):
    headers = {c: t(f"task_column.{c}") for c in COLUMNS}
    labels = {name("task_state", s): s for s in TaskState}
    table = [
        [headers[c] for c in COLUMNS],
        [
            "1",
            "服务企业",
            "诉求响应慢",
            "建立台账",
            "王局长",
            "市人社局",
            "李明",
            "2026-06-30",
            name("task_state", TaskState.IN_PROGRESS),
        ],
        [
            "2",
            "服务企业",
            "回访不及时",
            "建立回访制度",
            "王局长",
            "市人社局",
            "周七",
            "2026-06-30",
            name("task_state", TaskState.IN_PROGRESS),
        ],
    ]
    result = await tasks.import_table(env, cast["leader"], table, headers, labels)
    assert result.count == 2
    assert [(u.row, u.name) for u in result.unmapped] == [(3, "周七")]
    owners = db.rows("SELECT seq, owner_id FROM tasks ORDER BY seq")
    assert owners == [{"seq": 1, "owner_id": OFFICIAL}, {"seq": 2, "owner_id": None}]

    mine = await tasks.tasks_for(env, cast["official"])
    assert [task.seq for task in mine] == [1]
    head_sees = await tasks.tasks_for(env, cast["head"])  # stands in for the unmapped 周七
    assert [task.seq for task in head_sees] == [2]

    first = mine[0]
    done = await tasks.act(
        env, cast["official"], first.id, TaskAction.REQUEST_CLOSE, first.version, "台账已建立"
    )
    assert done.task.state is TaskState.CLOSE_REQUESTED
    assert done.notify == [LEADER_ID]
    # the official's confirmation is stored with the change, for the outbox if need be
    ack = db.one("SELECT chat_id, detail FROM outbox WHERE id = ?", done.ack_id)
    assert ack["chat_id"] == OFFICIAL and "done_task.request_close" in ack["detail"]
    assert db.one("SELECT kind, text FROM task_reports") == {
        "kind": "progress",
        "text": "台账已建立",
    }
    with pytest.raises(NotAllowed):
        await tasks.import_table(env, cast["head"], table, headers, labels)
    assert db.count("tasks") == 2

    # the leader sends it back with a reason: the ledger carries report and decision
    back = await tasks.act(
        env, cast["leader"], first.id, TaskAction.SEND_BACK, done.task.version, "请补充制度文件"
    )
    assert back.task.state is TaskState.IN_PROGRESS
    await ledger_then_reimport(env, cast, tmp_path, another_database("again"), headers, labels)


async def ledger_then_reimport(env, cast, folder, again_url, headers, labels) -> None:
    """The exported task ledger: real date cells, the import's nine columns, then the
    reports and decisions; read back, it imports into a fresh database as it is."""
    from datetime import datetime

    from bot.task_files import read_table
    from bot.task_sheet import write_task_ledger

    target = folder / "tasks.xlsx"
    assert (
        write_task_ledger(await tasks.export(env, cast["leader"]), target, env.zone, env.today())
        == 2
    )
    sheet = load_workbook(target).active
    header = [c.value for c in sheet[1]]
    assert header[:9] == [headers[c] for c in COLUMNS]
    assert header[9:] == ["整改进展", "销号审核", "责任人指定", "逾期天数"]
    first = {h: c for h, c in zip(header, sheet[2], strict=True)}
    assert first["整改时限"].value == datetime(2026, 6, 30)
    assert first["整改时限"].number_format == "yyyy-mm-dd"
    assert first["整改进展"].value is None  # the 销号 request is not progress
    assert first["销号审核"].value == (
        "2026-03-10 10:00 李明 申请销号：台账已建立\n"
        "2026-03-10 10:00 局领导/督办员 退回：请补充制度文件"  # a leader known by id only
    )
    assert first["销号审核"].alignment.wrap_text

    again_settings = settings_for(again_url)
    fresh = make_env(again_settings, env.org, env.clock)
    await fresh.db.open()
    try:
        rows = read_table(target.read_bytes(), "tasks.xlsx")
        assert rows[1][7] == "2026-06-30"  # the date cell reads back as the date
        again = await tasks.import_table(fresh, cast["leader"], rows, headers, labels)
        assert again.count == 2
    finally:
        await fresh.db.close()


@pytest.mark.sqlite_only  # the aiosqlite driver's thread; `uow.conn` is SQLite's connection
async def test_a_transaction_committed_under_a_cancelled_task_is_not_rolled_back(env, db):
    """COMMIT may finish in the driver's thread after the task awaiting it was cancelled;
    leaving the unit of work then must not fail on a ROLLBACK with nothing to undo."""
    async with env.db.unit_of_work() as uow:
        await uow.departments.upsert("tmp", "临时科室", None)
        await uow.conn.execute("COMMIT")  # what the driver finished, unseen by the task
    assert db.one("SELECT name FROM departments WHERE code = 'tmp'") == {"name": "临时科室"}
    async with env.db.unit_of_work() as uow:  # the next one starts cleanly
        await uow.departments.upsert("tmp2", "临时科室二", None)
        await uow.commit()
    assert db.count("departments") == len(env.org.departments) + 2


async def test_a_one_statement_write_is_kept_at_once_and_refuses_a_second_statement(env, db):
    """The writes every conversation step makes go without BEGIN and COMMIT; a block that
    tried a second statement would not be atomic, so it is refused before it runs."""
    async with env.db.one_statement() as uow:
        await uow.departments.upsert("tmp", "临时科室", None)
    assert db.one("SELECT name FROM departments WHERE code = 'tmp'") == {"name": "临时科室"}
    with pytest.raises(RuntimeError, match="unit_of_work"):
        async with env.db.one_statement() as uow:
            await uow.departments.upsert("tmp2", "临时科室二", None)
            await uow.departments.upsert("tmp3", "临时科室三", None)
    assert db.rows("SELECT 1 FROM departments WHERE code = 'tmp3'") == []

    # it waits for a transaction under way instead of running inside it
    order: list[str] = []

    async def transaction() -> None:
        async with env.db.unit_of_work() as uow:
            await uow.departments.upsert("tmp4", "临时科室四", None)
            await asyncio.sleep(0)
            order.append("transaction")
            # rolled back: nothing written here may be kept, the other write included

    async def lone_write() -> None:
        async with env.db.one_statement() as uow:
            await uow.departments.upsert("tmp5", "临时科室五", None)
            order.append("one statement")

    await asyncio.gather(transaction(), lone_write())
    assert order == ["transaction", "one statement"]
    assert db.rows("SELECT 1 FROM departments WHERE code = 'tmp4'") == []
    assert db.one("SELECT name FROM departments WHERE code = 'tmp5'") == {"name": "临时科室五"}


async def test_a_read_after_a_write_sees_it_while_others_read_at_the_same_time(env):
    """Many people's steps at once: each reads back what it just wrote, through the shared
    read-only connection, while other queries run on it too (a statement left open between
    its execute and its fetch would hand the reads started meanwhile an old snapshot)."""
    from datetime import timedelta

    from bot.rules.model import Conversation

    async def person(user_id: int) -> list[tuple[str, str]]:
        seen = []
        for n in range(15):
            step = f"step{n}"
            if n % 2:  # a step as the flows make it (one statement), or in a transaction
                await conversations.begin(env, user_id, user_id, "filing", step, {})
            else:
                async with env.db.unit_of_work() as uow:
                    await uow.conversations.put(
                        Conversation(
                            user_id, user_id, "filing", step, {}, env.now(),
                            env.now() + timedelta(minutes=30),
                        )
                    )  # fmt: skip
                    await uow.commit()
            async with env.db.reading() as uow:
                got = await uow.conversations.get(user_id)
            seen.append((step, got.step if got else "none"))
        return seen

    async def browsing() -> None:
        for _ in range(200):
            async with env.db.reading() as uow:
                await uow.conversations.expired(env.now() + timedelta(days=1), 100)

    *results, _ = await asyncio.gather(*(person(900 + u) for u in range(20)), browsing())
    stale = [pair for seen in results for pair in seen if pair[0] != pair[1]]
    assert stale == []


def test_a_streamed_sheet_keeps_no_row_behind_and_a_sheet_in_memory_keeps_its_heights(
    tmp_path: Path,
):
    """Writing a file, nothing is kept per row once written (memory flat in the rows);
    a sheet built in memory (sent as bytes) keeps every row's height for the end."""
    import io

    from bot import sheets

    columns = [sheets.Column("编号", 10), sheets.Column("办理记录", 10, sheets.WRAP)]
    rows = [[f"SQ-2026-{n:06d}", "签收\n回复\n办结"] for n in range(300)]
    book = sheets._Workbook(tmp_path / "s.xlsx", [sheets.SheetSpec("台账", columns)])
    [streamed] = book.sheets
    for row in rows:
        book.add([row])
    assert len(streamed.sheet.row_info) <= 2
    book.close()
    buffer = io.BytesIO()
    sheets.write_sheet(rows, buffer, "台账", columns)
    for path in (tmp_path / "s.xlsx", buffer):
        sheet = load_workbook(path).active
        assert sheet.max_row == 301 and sheet.row_dimensions[300].height >= 3 * 14
