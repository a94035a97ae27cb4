"""A message goes only to someone still entitled to it when it is sent.

A table: every kind of lost entitlement (a removed contact, an official who changed
department or was removed, an appeal transferred away, a leader no longer in ADMIN_IDS, a
task given to someone else) × every way a stored message goes out (the courier, a list of
notices, re-owed after /start, the weekly digest). Each cell: the messages were owed while
Telegram refused them; the entitlement is lost; then nothing reaches the person, and the
database holds the messages as withheld (never sent, never owed again, not unreachable).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from bot.rules.digest import Week
from bot.rules.model import Actor, Role
from bot.usecases import appeals, outbox, tasks
from bot.usecases import people as people_cases
from handlers import courier
from handlers.digest import send_weekly_digests
from handlers.jobs import run_sweep
from tests.conftest import LEADER_ID, SHANGHAI, file_appeal
from tests.test_tasks import csv_bytes, import_file, task_row

REFUSED = {
    "later": (502, "Bad Gateway"),  # the courier and lists put it back
    "blocked": (403, "Forbidden: bot was blocked by the user"),  # owed again after /start
}
LEADER = Actor(LEADER_ID, Role.ADMIN, "王局长")
TEXTS = [
    f"第{n}件：申请融资担保对接，流动资金{n}00万元，近两年营收与负债情况见附件。" for n in range(3)
]


@dataclasses.dataclass
class Case:
    target: object  # the sandbox Person who loses the entitlement
    markers: list[str]  # what must not reach them


async def _appeals(p, count: int, category: str = "融资") -> list[str]:
    return [await file_appeal(p.company, category, TEXTS[n]) for n in range(count)]


async def _contact_removed(sandbox, p, count, refuse):
    colleague = sandbox.person(30011, "陈会计")
    [made] = await p.company.send("/colleague")
    await colleague.send("/start " + made.split("?start=")[1].split()[0])
    await colleague.send("陈会计")
    await colleague.send("13907110002")
    numbers = await _appeals(p, count)
    sandbox.api.fail_chat(colleague.id, *refuse)
    for number in numbers:  # a claim and a reply quoting the enterprise's finances
        await p.official.press("签收", containing=number)
        await p.official.press("回复", containing=number)
        await p.official.send(f"{number}：已阅近两年营收与负债情况，银行授信审批中。")

    async def lose():
        await p.company.send("/contacts")
        await p.company.press("移除 陈会计")

    return Case(colleague, numbers), lose


async def _official_moved(sandbox, p, count, refuse):
    sandbox.api.fail_chat(p.official.id, *refuse)
    numbers = await _appeals(p, count)

    async def lose():
        invite = await people_cases.create_invite(sandbox.env, LEADER, "zxqy", False)
        await people_cases.accept_invite(sandbox.env, p.official.id, "李明", invite.code)

    return Case(p.official, numbers), lose


async def _official_removed(sandbox, p, count, refuse):
    sandbox.api.fail_chat(p.official.id, *refuse)
    numbers = await _appeals(p, count)

    async def lose():
        async with sandbox.env.db.unit_of_work() as uow:
            await uow.people.remove_contact(p.official.id, sandbox.env.now())
            await uow.commit()

    return Case(p.official, numbers), lose


async def _transferred(sandbox, p, count, refuse):
    sandbox.api.fail_chat(p.official.id, *refuse)
    numbers = await _appeals(p, count)

    async def lose():
        head = await people_cases.actor_for(sandbox.env, p.head.id)
        for number in numbers:
            async with sandbox.env.db.reading() as uow:
                appeal = await uow.appeals.by_number(number)
            request = appeals.ActionRequest(
                appeal.id, appeal.version, text="属于中小企业科职责。", department_code="zxqy"
            )
            await appeals.transfer(sandbox.env, head, request)

    return Case(p.official, numbers), lose


async def _leader_removed(sandbox, p, count, refuse):
    sandbox.api.fail_chat(LEADER_ID, *refuse)
    numbers = await _appeals(p, count, "营商环境")  # nobody joined: the leaders are told

    async def lose():
        env = sandbox.app.bot_data["env"]
        sandbox.app.bot_data["env"] = dataclasses.replace(env, leaders=frozenset())

    return Case(p.leader, numbers), lose


async def _task_reassigned(sandbox, p, count, refuse, clock):
    rows = [task_row(40 + n, deadline="2026-03-16") for n in range(count)]
    await import_file(p.leader, "t.csv", csv_bytes(rows))
    sandbox.api.fail_chat(p.official.id, *refuse)
    await run_sweep(sandbox.app)  # 整改提示: one notice, or one list of them, to 李明

    async def lose():
        for task in await tasks.export(sandbox.env, None):
            await tasks.assign_owner(sandbox.env, LEADER, task[0].id, task[0].version, p.head.id)

    return Case(p.official, [f"第{40 + n}项" for n in range(count)]), lose


LOSSES = {
    "contact removed": _contact_removed,
    "official changed department": _official_moved,
    "official removed": _official_removed,
    "appeal transferred away": _transferred,
    "leader no longer in ADMIN_IDS": _leader_removed,
    "task given to another": _task_reassigned,
}


async def _owe(name, sandbox, p, clock, count, refuse):
    make = LOSSES[name]
    if make is _task_reassigned:
        return await make(sandbox, p, count, refuse, clock)
    return await make(sandbox, p, count, refuse)


def _rows(db, chat: int) -> list[dict]:
    return db.rows(
        "SELECT kind, status, error FROM outbox WHERE chat_id = ? AND kind != 'ack'"
        " AND kind NOT LIKE 'unreachable%'",
        chat,
    )


def _nothing_arrived(case: Case, mark: int) -> None:
    got = "\n".join(case.target.since(mark))
    assert not any(marker in got for marker in case.markers), got


@pytest.fixture(autouse=True)
def monday_morning(clock):
    """Before task reminders are due and before the digest's week ends, whatever the cell."""
    clock.set(datetime(2026, 3, 9, 10, 0, tzinfo=SHANGHAI))


@pytest.mark.parametrize("way", ["courier", "list"])
@pytest.mark.parametrize("loss", list(LOSSES))
async def test_the_courier_withholds_what_is_no_longer_theirs(
    sandbox, people, db, clock, loss, way
):
    case, lose = await _owe(
        loss, sandbox, people, clock, 1 if way == "courier" else 3, REFUSED["later"]
    )
    owed = [r for r in _rows(db, case.target.id) if r["status"] == "pending"]
    assert len(owed) >= 1, _rows(db, case.target.id)
    await lose()
    sandbox.api.chat_failures.clear()
    mark = case.target.mark()
    clock.advance(timedelta(minutes=5))
    await courier.drain(sandbox.app.bot, sandbox.env)
    _nothing_arrived(case, mark)
    statuses = {(r["status"], r["error"]) for r in _rows(db, case.target.id)} - {("sent", None)}
    assert statuses == {("withheld", "not_entitled")}


@pytest.mark.parametrize("loss", list(LOSSES))
async def test_start_does_not_owe_again_what_is_no_longer_theirs(sandbox, people, db, clock, loss):
    case, lose = await _owe(loss, sandbox, people, clock, 2, REFUSED["blocked"])
    assert any(r["status"] == "failed" for r in _rows(db, case.target.id))
    await lose()
    sandbox.api.chat_failures.clear()
    mark = case.target.mark()
    answer = await case.target.send("/start")
    assert not any("未能送达" in text for text in answer), answer
    clock.advance(timedelta(minutes=5))
    await courier.drain(sandbox.app.bot, sandbox.env)
    _nothing_arrived(case, mark)
    # a removed contact's notice that they were removed is said by /start itself
    said = ("withheld", "said_at_start")
    failed = {(r["status"], r["error"]) for r in _rows(db, case.target.id)} - {("sent", None), said}
    assert failed == {("withheld", "not_entitled")}
    async with sandbox.env.db.reading() as uow:  # not listed to the leaders as unreachable
        unreachable = await uow.outbox.unreachable_why(sandbox.env.now() - timedelta(days=1))
    assert case.target.id not in [chat for chat, _, _ in unreachable]
    assert await outbox.owe_again(sandbox.env, case.target.id) == []


DIGEST_LOSSES = ["official changed department", "official removed", "leader no longer in ADMIN_IDS"]


@pytest.mark.parametrize("loss", DIGEST_LOSSES)
async def test_a_digest_goes_only_to_its_audience_as_it_is_when_sent(
    sandbox, people, db, clock, loss
):
    case, lose = await _owe(loss, sandbox, people, clock, 1, REFUSED["later"])
    await send_weekly_digests(sandbox.app.bot, sandbox.env, Week.of(sandbox.env.today()))
    digests = db.rows(
        "SELECT status FROM outbox WHERE chat_id = ? AND subject = 'digest'", case.target.id
    )
    assert digests and {r["status"] for r in digests} == {"pending"}
    await lose()
    sandbox.api.chat_failures.clear()
    mark = case.target.mark()
    clock.advance(timedelta(minutes=20))
    await courier.drain(sandbox.app.bot, sandbox.env)
    got = case.target.since(mark)
    assert not any("督察通报" in text or "本周" in text for text in got), got
    assert [c for c, _ in sandbox.api.photos if c == case.target.id] == []
    digests = db.rows(
        "SELECT status, error FROM outbox WHERE chat_id = ? AND subject = 'digest'",
        case.target.id,
    )
    assert {(r["status"], r["error"]) for r in digests} == {("withheld", "not_entitled")}
    # the department's other people still get theirs
    if loss != "leader no longer in ADMIN_IDS":
        assert any(r["status"] == "sent" for r in db.rows(
            "SELECT status FROM outbox WHERE chat_id = ? AND subject = 'digest'", people.head.id
        ))  # fmt: skip


async def test_the_removed_colleague_is_refused_on_the_used_link_and_gets_nothing(
    sandbox, people, db
):
    """The reported case: a colleague who blocked the bot misses a claim and a reply that
    quotes the enterprise's finances, is removed, unblocks and opens their old link."""
    p = people
    colleague = sandbox.person(30011, "陈会计")
    [made] = await p.company.send("/colleague")
    code = made.split("?start=")[1].split()[0]
    await colleague.send(f"/start {code}")
    await colleague.send("陈会计")
    await colleague.send("13907110002")
    number = await file_appeal(p.company)
    sandbox.api.fail_chat(colleague.id, *REFUSED["blocked"])
    await p.official.press("签收", containing=number)
    await p.official.press("回复", containing=number)
    await p.official.send("经审核，贵司资产负债率62%，可申请800万元担保贷款。")
    await p.company.send("/contacts")
    await p.company.press("移除 陈会计")
    sandbox.api.chat_failures.clear()

    mark = colleague.mark()
    answer = await colleague.send(f"/start {code}")
    assert answer == [
        "邀请链接无效：该链接已于 2026-03-09 10:00 由 陈会计 使用。请向管理员索取新的邀请链接。"
    ]
    answer = await colleague.send("/start")
    assert not any("未能送达" in text or "资产负债率" in text for text in answer), answer
    assert not any(number in text for text in colleague.since(mark))
    assert {r["status"] for r in _rows(db, colleague.id)} == {"withheld"}
    assert db.one("SELECT removed_at FROM users WHERE tg_id = ?", colleague.id)["removed_at"]


@pytest.mark.parametrize("expired", [False, True])
async def test_a_used_or_expired_staff_link_is_refused_before_anything_else(
    sandbox, people, db, clock, expired
):
    """/start with a link that can no longer be used: the refusal and nothing else (no
    messages owed again, no welcome), and nobody joins."""
    invite = await people_cases.create_invite(sandbox.env, LEADER, "zxqy", False)
    if expired:
        clock.advance(sandbox.env.invite_ttl + timedelta(minutes=1))
    else:
        await people_cases.accept_invite(sandbox.env, 20099, "孙丽", invite.code)
    sandbox.api.fail_chat(people.official.id, *REFUSED["blocked"])
    await file_appeal(people.company)
    sandbox.api.chat_failures.clear()
    reason = "该链接已过期。" if expired else "该链接已于 2026-03-09 10:00 由 孙丽 使用。"
    answer = await people.official.send(f"/start {invite.code}")
    assert answer == [f"邀请链接无效：{reason}请向管理员索取新的邀请链接。"]
    assert {r["status"] for r in _rows(db, people.official.id)} == {"failed"}  # still owed
    person = db.one("SELECT department_id FROM users WHERE tg_id = ?", people.official.id)
    assert person["department_id"] == db.one("SELECT id FROM departments WHERE code = 'jrj'")["id"]


# The rule itself, as a table: who may still receive which kind of message about an
# appeal of department 1, enterprise 7 (pure: no database, no Telegram).
def _appeal():
    from datetime import UTC, date

    from bot.rules.model import Appeal, State

    moment = datetime(2026, 3, 9, tzinfo=UTC)
    return Appeal(
        1, "SQ-2026-000001", 7, "企业", "融资", "描述", State.IN_PROGRESS, 1, "jrj", "金融局",
        None, 4, "李明", date(2026, 3, 10), date(2026, 3, 20), moment, None, None, None, None,
        None, 0, 3,
    )  # fmt: skip


def _recipients():
    from bot.rules.delivery import Recipient

    return {
        "leader": Recipient(Actor(1, Role.ADMIN, "")),
        "former leader (a guest now)": Recipient(Actor(1, Role.GUEST, "")),
        "official of the department": Recipient(Actor(4, Role.OFFICIAL, "", 1)),
        "owner moved to another department": Recipient(Actor(4, Role.OFFICIAL, "", 2)),
        "head of another department": Recipient(Actor(5, Role.HEAD, "", 2)),
        "removed person (a guest now)": Recipient(Actor(6, Role.GUEST, "")),
        "contact of the enterprise": Recipient(Actor(8, Role.ENTERPRISE, "", None, 7)),
        "contact of another enterprise": Recipient(Actor(9, Role.ENTERPRISE, "", None, 3)),
        "the department's group": Recipient(Actor(-10, Role.GUEST, ""), group_of=1),
        "another department's group": Recipient(Actor(-11, Role.GUEST, ""), group_of=2),
    }


# (staff notice "new_appeal", contact notice "reply", the person's own "ack")
RULE_TABLE = {
    "leader": (True, True, True),
    "former leader (a guest now)": (False, False, True),
    "official of the department": (True, True, True),
    "owner moved to another department": (False, False, True),
    "head of another department": (False, False, True),
    "removed person (a guest now)": (False, False, True),
    "contact of the enterprise": (False, True, True),
    "contact of another enterprise": (False, False, True),
    "the department's group": (True, True, True),
    "another department's group": (False, False, True),
}


@pytest.mark.parametrize("who", list(RULE_TABLE))
def test_the_rule_who_may_hear_of_an_appeal(who):
    from bot.rules import delivery

    recipient = _recipients()[who]
    got = tuple(
        delivery.may_hear_of_appeal(recipient, _appeal(), kind)
        for kind in ("new_appeal", "reply", "ack")
    )
    assert got == RULE_TABLE[who]
    leaders_digest = delivery.may_read_digest(recipient, "leaders")
    department_digest = delivery.may_read_digest(recipient, "department:1")
    assert leaders_digest == (who == "leader")
    assert department_digest == (who in ("official of the department", "the department's group"))
    assert delivery.may_hear_of_task(recipient, [4], "task_d7") == (
        who in ("leader", "official of the department", "owner moved to another department")
    )
    assert delivery.may_hear(recipient, "unreachable_report") == (who == "leader")


async def test_an_expired_colleague_link_is_refused_and_starts_nothing(sandbox, people, db, clock):
    [made] = await people.company.send("/colleague")
    code = made.split("?start=")[1].split()[0]
    clock.advance(sandbox.env.invite_ttl + timedelta(minutes=1))
    newcomer = sandbox.person(30077, "孙丽")
    answer = await newcomer.send(f"/start {code}")
    assert answer == ["邀请链接无效：该链接已过期。请向管理员索取新的邀请链接。"]
    assert db.rows("SELECT * FROM conversations WHERE user_id = ?", newcomer.id) == []
    assert db.rows("SELECT * FROM users WHERE tg_id = ?", newcomer.id) == []


async def test_the_old_departments_group_gets_nothing_of_an_appeal_transferred_away(
    settings, org, clock, db
):
    from tests.test_chat_lifecycle import OLD, _people, group_box

    box = await group_box(settings, org, clock)
    try:
        leader, official, company = await _people(box)
        box.api.fail_chat(OLD, 502, "Bad Gateway")
        number = await file_appeal(company)
        assert db.one("SELECT status FROM outbox WHERE chat_id = ?", OLD)["status"] == "pending"
        async with box.env.db.reading() as uow:
            appeal = await uow.appeals.by_number(number)
        request = appeals.ActionRequest(
            appeal.id, appeal.version, text="属于中小企业科职责。", department_code="zxqy"
        )
        await appeals.transfer(box.env, LEADER, request)
        box.api.chat_failures.clear()
        clock.advance(timedelta(minutes=5))
        await courier.drain(box.app.bot, box.env)
        assert box.api.messages_to(OLD) == []
        assert db.one("SELECT status, error FROM outbox WHERE chat_id = ?", OLD) == {
            "status": "withheld",
            "error": "not_entitled",
        }
    finally:
        await box.stop()


async def test_an_official_who_joins_another_department_by_link_is_not_owed_the_old_ones(
    sandbox, people, db, clock
):
    """李明 (金融局) had blocked the bot while three 融资 appeals came in; he opens an invite
    to 中小企业科: he is welcomed there and none of the old department's appeals reach him
    (the link is applied before anything owed is sent, and checked against his new place)."""
    sandbox.api.fail_chat(people.official.id, 403, "Forbidden: bot was blocked by the user")
    numbers = [
        await file_appeal(people.company, "融资", f"第{n}件：流动资金{n}00万元，营收负债详情。")
        for n in range(1, 4)
    ]
    sandbox.api.chat_failures.clear()
    await people.leader.send("/invite zxqy")
    code = people.leader.last.split("?start=")[1].split()[0]
    mark = people.official.mark()
    await people.official.send(f"/start {code}")
    clock.advance(timedelta(minutes=5))
    await courier.drain(sandbox.app.bot, sandbox.env)
    got = "\n".join(people.official.since(mark))
    assert "中小企业科" in got and "此前有" not in got
    assert not any(number in got for number in numbers)
    statuses = db.rows(
        "SELECT status FROM outbox WHERE chat_id = ? AND kind = 'new_appeal'", people.official.id
    )
    assert [r["status"] for r in statuses] == ["withheld"] * 3


async def _zxqy_official_removed(sandbox, p):
    async with sandbox.env.db.unit_of_work() as uow:
        await uow.people.remove_contact(p.outsider.id, sandbox.env.now())
        await uow.commit()


async def _zxqy_official_moved(sandbox, p):
    invite = await people_cases.create_invite(sandbox.env, LEADER, "jrj", False)
    await people_cases.accept_invite(sandbox.env, p.outsider.id, "赵敏", invite.code)


async def _new_appeal_to_zxqy(sandbox, p) -> str:
    return await file_appeal(p.company, "综合服务", "申请中小企业专精特新认定辅导，请安排对接。")


async def _transferred_to_zxqy(sandbox, p) -> str:
    number = await file_appeal(p.company)
    head = await people_cases.actor_for(sandbox.env, p.head.id)
    async with sandbox.env.db.reading() as uow:
        appeal = await uow.appeals.by_number(number)
    request = appeals.ActionRequest(
        appeal.id, appeal.version, text="属于中小企业科职责。", department_code="zxqy"
    )
    await appeals.transfer(sandbox.env, head, request)
    return number


UNHEARD = "中小企业科人员均无法接收此消息，请局领导安排办理"
MUST_BE_HEARD = {
    "new_appeal": (_new_appeal_to_zxqy, "新诉求"),
    "transferred": (_transferred_to_zxqy, "转办"),
}


@pytest.mark.parametrize("lose", [_zxqy_official_removed, _zxqy_official_moved])
@pytest.mark.parametrize("kind", list(MUST_BE_HEARD))
async def test_a_notice_withheld_from_everyone_of_its_department_goes_to_the_leaders(
    sandbox, people, db, clock, kind, lose
):
    """中小企业科's only official (赵敏) could not be reached for a while; before the notice
    went, she left the department: it is withheld from her, and since nobody of the
    department can hear it, the leaders get it, marked unheard — once."""
    make, title = MUST_BE_HEARD[kind]
    sandbox.api.fail_chat(people.outsider.id, 502, "Bad Gateway")
    number = await make(sandbox, people)
    assert not kind_row(db, kind)  # the department has somebody: the leaders are not told
    await lose(sandbox, people)
    sandbox.api.chat_failures.clear()
    mark, leader_mark = people.outsider.mark(), people.leader.mark()
    clock.advance(timedelta(minutes=5))
    await courier.drain(sandbox.app.bot, sandbox.env)
    assert not any(number in text for text in people.outsider.since(mark))
    told = [text for text in people.leader.since(leader_mark) if number in text]
    assert len(told) == 1 and title in told[0] and UNHEARD in told[0], told
    rows = db.rows("SELECT chat_id, status FROM outbox WHERE kind = ? ORDER BY id", kind)
    assert {"chat_id": people.outsider.id, "status": "withheld"} in rows
    assert {"chat_id": LEADER_ID, "status": "sent"} in rows
    clock.advance(timedelta(minutes=30))
    await courier.drain(sandbox.app.bot, sandbox.env)
    assert len([t for t in people.leader.since(leader_mark) if number in t]) == 1


def kind_row(db, kind: str) -> bool:
    return bool(db.rows("SELECT 1 FROM outbox WHERE kind = ? AND chat_id = ?", kind, LEADER_ID))


async def test_a_notice_withheld_from_one_of_its_department_is_not_escalated(
    sandbox, people, db, clock
):
    """李明 left 市地方金融管理局 before a new appeal reached him; 张科长 got it: the
    leaders are not told."""
    sandbox.api.fail_chat(people.official.id, 502, "Bad Gateway")
    number = await file_appeal(people.company)
    async with sandbox.env.db.unit_of_work() as uow:
        await uow.people.remove_contact(people.official.id, sandbox.env.now())
        await uow.commit()
    sandbox.api.chat_failures.clear()
    mark = people.leader.mark()
    clock.advance(timedelta(minutes=5))
    await courier.drain(sandbox.app.bot, sandbox.env)
    assert db.one(
        "SELECT status FROM outbox WHERE kind = 'new_appeal' AND chat_id = ?", people.official.id
    ) == {"status": "withheld"}
    assert any(number in m.plain for m in people.head.inbox)
    assert not any(number in text for text in people.leader.since(mark))
    assert not kind_row(db, "new_appeal")


async def test_a_new_appeal_withheld_because_it_moved_on_is_not_an_alarm(
    sandbox, people, db, clock
):
    """中小企业科's only official (赵敏) could not be reached when a 综合服务 appeal came;
    a leader transferred it to 市地方金融管理局, whose people got the 转办 notice: 赵敏's
    新诉求 is withheld, and the leaders are not told that nobody heard of it."""
    sandbox.api.fail_chat(people.outsider.id, 502, "Bad Gateway")
    number = await _new_appeal_to_zxqy(sandbox, people)
    async with sandbox.env.db.reading() as uow:
        appeal = await uow.appeals.by_number(number)
    request = appeals.ActionRequest(
        appeal.id, appeal.version, text="涉及融资担保，转金融局办理。", department_code="jrj"
    )
    await appeals.transfer(sandbox.env, LEADER, request)
    sandbox.api.chat_failures.clear()
    leader_mark = people.leader.mark()
    clock.advance(timedelta(minutes=5))
    await courier.drain(sandbox.app.bot, sandbox.env)
    assert db.one(
        "SELECT status FROM outbox WHERE kind = 'new_appeal' AND chat_id = ?", people.outsider.id
    ) == {"status": "withheld"}
    assert any(number in m.plain for m in people.official.inbox)  # 金融局 heard of it
    assert not any(UNHEARD in text for text in people.leader.since(leader_mark))
