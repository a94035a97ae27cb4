"""What SQLite's one writer gave for free, on PostgreSQL where nothing serialises writes:
two processes' worth of the application (two PostgresDatabase instances on one database)
acting at once still send each owed message once, act once on a request delivered twice,
keep task 序号 unique and let a link be used once."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.app import make_env
from bot.rules.delivery import FILES
from bot.rules.model import TaskState
from bot.rules.refusals import InviteInvalid
from bot.rules.tasks import COLUMNS, TaskImportError
from bot.texts import name, t
from bot.usecases import outbox, people, tasks
from handlers import courier
from tests.conftest import COMPANY_USCC, LEADER_ID, open_database, settings_for, url_of
from tests.test_pg_concurrency_appeals import blocked_on_a_lock


@pytest.fixture
def postgresql_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("about PostgreSQL's concurrency (SQLite has one writer)")


@pytest.fixture
async def second(postgresql_only, settings):
    """Another database object on the same database: what a second process would hold."""
    db = open_database(url_of(settings))
    await db.open(migrate=False)
    yield db
    await db.close()


@pytest.fixture
async def envs(postgresql_only, settings, org, clock, second):
    env = make_env(settings, org, clock)
    await env.db.open()
    await people.sync_departments(env)
    yield env, replace(env, db=second)
    await env.db.close()


LEADERS = [LEADER_ID, 900002, 900003]


@pytest.fixture
def settings(database_url: str):
    """Three leaders: the operator notices below go to three chats (a chat's messages go
    one at a time; three let the two couriers' sends interleave)."""
    return settings_for(database_url, admin_ids=LEADERS)


async def test_two_couriers_draining_one_outbox_send_each_message_once(
    postgresql_only, sandbox, second, db
):
    async with sandbox.env.db.unit_of_work() as uow:
        for n in range(30):
            detail = {"year": 3000 + n}  # an operator notice naming a year: told apart
            await uow.outbox.add(
                LEADERS[n % 3], "calendar_fallback", None, None, detail, 2, sandbox.env.now()
            )
        await uow.commit()
    other = replace(sandbox.env, db=second)
    mark = len(sandbox.api.sent)

    sent = await asyncio.gather(
        courier.drain(sandbox.app.bot, sandbox.env), courier.drain(sandbox.app.bot, other)
    )

    assert sum(sent) == 30
    got = sandbox.api.sent[mark:]
    years = [(m.chat_id, *{int(y) for y in re.findall(r"3\d{3}", m.plain)}) for m in got]
    assert sorted(years, key=lambda p: p[1]) == [(LEADERS[n % 3], 3000 + n) for n in range(30)]
    rows = db.rows("SELECT status, attempts FROM outbox WHERE kind = 'calendar_fallback'")
    assert rows == [{"status": "sent", "attempts": 1}] * 30  # nobody took one twice


async def test_one_request_delivered_twice_at_once_acts_once(envs, db):
    """The same registration (one Telegram update, one key) handled by two processes at
    once: one enterprise, one contact, one audit event; both answer with it."""
    env, other = envs
    results = await asyncio.gather(
        *(
            people.register_enterprise(
                e, 30001, "鄂州华瑞机械有限公司", COMPANY_USCC, "陈经理", "13800000001", "u:1"
            )
            for e in (env, other)
        )
    )
    assert results[0] == results[1]
    assert db.count("enterprises") == 1
    assert db.rows("SELECT tg_id FROM users WHERE enterprise_id IS NOT NULL") == [{"tg_id": 30001}]
    assert db.one("SELECT COUNT(*) AS n FROM processed_requests WHERE request_key = 'u:1'") == {
        "n": 1
    }


async def test_an_invite_used_by_two_people_at_once_lets_one_join(envs, db):
    env, other = envs
    leader = await people.actor_for(env, LEADER_ID)
    for round_ in range(3):  # a staff link, then a colleague link; a few times
        invite = await people.create_invite(env, leader, "rsj", False)
        a, b = 40001 + 10 * round_, 40002 + 10 * round_
        outcomes = await asyncio.gather(
            people.accept_invite(env, a, "甲", invite.code),
            people.accept_invite(other, b, "乙", invite.code),
            return_exceptions=True,
        )
        refused = [o for o in outcomes if isinstance(o, InviteInvalid)]
        assert len(refused) == 1 and refused[0].params["reason"] == "used", outcomes
        joined = db.rows("SELECT tg_id FROM users WHERE tg_id IN (?, ?)", a, b)
        assert len(joined) == 1
        assert db.one("SELECT used_by FROM invites WHERE code = ?", invite.code) == {
            "used_by": joined[0]["tg_id"]
        }

    await people.register_enterprise(
        env, 30001, "鄂州华瑞机械有限公司", COMPANY_USCC, "陈经理", "13800000001", "r1"
    )
    for round_ in range(3):
        contact = await people.actor_for(env, 30001)
        link, _ = await people.invite_colleague(env, contact)
        a, b = 50001 + 10 * round_, 50002 + 10 * round_
        outcomes = await asyncio.gather(
            people.join_as_colleague(env, a, link.code, "赵六", "13800000011", None),
            people.join_as_colleague(other, b, link.code, "钱七", "13800000012", None),
            return_exceptions=True,
        )
        refused = [o for o in outcomes if isinstance(o, InviteInvalid)]
        assert len(refused) == 1 and refused[0].params["reason"] == "used", outcomes
        assert len(db.rows("SELECT tg_id FROM users WHERE tg_id IN (?, ?)", a, b)) == 1


def table(seqs: list[int], owner: str) -> tuple[list[list[str]], dict, dict]:
    headers = {c: t(f"task_column.{c}") for c in COLUMNS}
    labels = {name("task_state", s): s for s in TaskState}
    rows = [
        [str(seq), "服务企业", f"问题{seq}", "建立台账", "王局长", "市人社局", owner,
         "2026-06-30", name("task_state", TaskState.IN_PROGRESS)]
        for seq in seqs
    ]  # fmt: skip
    return [[headers[c] for c in COLUMNS], *rows], headers, labels


async def test_task_imports_at_once_keep_seq_unique(envs, db):
    """Two leaders import overlapping tables at once: one table goes in whole, the other is
    refused naming the 序号 the ledger has (not a database error), nothing of it stored."""
    env, other = envs
    first, headers, labels = table([1, 2, 3], "李明")
    again, _, _ = table([3, 4], "周七")
    outcomes = await asyncio.gather(
        tasks.import_table(env, None, first, headers, labels),
        tasks.import_table(other, None, again, headers, labels),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, TaskImportError)]
    imported = [o for o in outcomes if isinstance(o, tasks.ImportResult)]
    assert len(refused) == 1 and len(imported) == 1, outcomes
    seqs = [r["seq"] for r in db.rows("SELECT seq FROM tasks ORDER BY seq")]
    assert seqs in ([1, 2, 3], [3, 4])  # one table, whole
    assert len(seqs) == imported[0].count


async def test_disjoint_task_imports_at_once_both_go_in(envs, db):
    env, other = envs
    first, headers, labels = table([1, 2], "李明")
    again, _, _ = table([3, 4], "周七")
    await asyncio.gather(
        tasks.import_table(env, None, first, headers, labels),
        tasks.import_table(other, None, again, headers, labels),
    )
    assert [r["seq"] for r in db.rows("SELECT seq FROM tasks ORDER BY seq")] == [1, 2, 3, 4]


# ---- lists of notices: each formed under an id of its own ----------------------------------


async def owed(env, count: int) -> list[int]:
    """`count` appeal notices owed to one chat (what a courier forms lists from)."""
    async with env.db.unit_of_work() as uow:
        ids = [
            await uow.outbox.add(LEADER_ID, "appeal_new", "appeal", n, {}, 1, env.now())
            for n in range(count)
        ]
        await uow.commit()
    return ids


async def lists_of(env, ids: list[int]) -> dict[int, list[int]]:
    """The notices `ids` by the list they belong to, read back through the contract, with
    each list's own account of its items (`list_items`) checked against it."""
    async with env.db.reading() as uow:
        by_list: dict[int, list[int]] = {}
        for item in await uow.outbox.of_ids(ids):
            assert item.list_id is not None, f"notice {item.id} in no list"
            by_list.setdefault(item.list_id, []).append(item.id)
        for list_id, items in by_list.items():
            assert await uow.outbox.list_items(list_id) == sorted(items)
    return by_list


async def test_a_list_formed_while_another_is_not_yet_committed_gets_its_own_id(envs):
    """One courier's list is formed in a transaction still open; another courier forms one
    meanwhile (MAX(list_id) + 1 read the same greatest id for both)."""
    env, other = envs
    first, second = await owed(env, 3), await owed(env, 2)
    async with env.db.unit_of_work() as uow:
        await uow.outbox.form_list(first)
        await outbox.form_list(other, second)  # one statement, committed at once
        await uow.commit()

    by_list = await lists_of(env, first + second)
    assert sorted(by_list.values()) == sorted([first, second])


async def test_couriers_forming_lists_at_once_never_share_an_id(envs, settings):
    """Six processes' worth of couriers (a database object each) form five lists of three
    each, all at once: thirty lists, thirty ids, every notice in exactly the list it was
    formed in."""
    env, _ = envs
    databases = [open_database(url_of(settings)) for _ in range(6)]
    for database in databases:
        await database.open(migrate=False)
    couriers = [replace(env, db=database) for database in databases]
    try:
        planned = [[await owed(env, 3) for _ in range(5)] for _ in couriers]

        async def courier_of(env, lists: list[list[int]]) -> None:
            for ids in lists:
                await outbox.form_list(env, ids)

        await asyncio.gather(
            *(courier_of(c, lists) for c, lists in zip(couriers, planned, strict=True))
        )

        formed = [ids for lists in planned for ids in lists]
        by_list = await lists_of(env, [i for ids in formed for i in ids])
        assert len(by_list) == 30
        assert sorted(by_list.values()) == sorted(formed)
    finally:
        for database in databases:
            await database.close()


READ_TO_CHANGE = {
    # what a sweep or an album does to a pending message, in a unit of work held open
    "a later page joins the list": lambda uow, oid: uow.outbox.pending_detail(oid),
    "files join the notice": lambda uow, oid: uow.outbox.add_files(oid, [11]),
}


@pytest.mark.parametrize("change", READ_TO_CHANGE)
async def test_a_sender_claiming_a_message_being_changed_sends_the_change(envs, change):
    """A message read to be changed is held until the change commits: a courier claiming it
    meanwhile waits, then takes the changed message (nothing added is lost)."""
    env, other = envs
    async with env.db.unit_of_work() as uow:
        oid = await uow.outbox.add(LEADER_ID, "claimed", "appeal", 5, {FILES: [10]}, 1, env.now())
        await uow.commit()
    now = env.now()
    async with env.db.unit_of_work() as uow:
        await READ_TO_CHANGE[change](uow, oid)
        claiming = asyncio.create_task(_take(other, oid, now))
        await blocked_on_a_lock(other)  # the claim has reached the server and waits there
        assert not claiming.done()
        if change == "a later page joins the list":
            assert await uow.outbox.set_detail(oid, {FILES: [10, 11]})
        await uow.commit()
    taken = await claiming
    assert taken is not None and taken.detail[FILES] == [10, 11]
    async with env.db.unit_of_work() as uow:  # once taken, nothing more joins it
        assert await uow.outbox.pending_detail(oid) is None
        assert not await uow.outbox.set_detail(oid, {FILES: [12]})
        assert not await uow.outbox.add_files(oid, [12])
        await uow.commit()


async def _take(env, oid: int, now):
    async with env.db.unit_of_work() as uow:
        taken = await uow.outbox.take(oid, now, now + timedelta(minutes=1))
        await uow.commit()
    return taken
