"""Writing appeals and numbering notices through the storage contract, without Telegram:
an appeal is saved whole from its dataclass, only at the version it was read at; two sweeps
at once number every notice exactly once, without gaps."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.app import make_env
from bot.rules import access
from bot.rules.model import Action, Rating, Role, State
from bot.usecases import appeals, ladder, people
from bot.usecases.appeals import ActionRequest
from bot.usecases.people import Caller
from tests.conftest import COMPANY_USCC, LEADER_ID, SHANGHAI

CONTACT, OFFICIAL, HEAD = 2001, 1001, 1002
DESCRIPTION = "企业新招技术工人30名，申请落实稳岗补贴政策，请协助对接人社部门。"


@pytest.fixture
async def env(settings, org, clock):
    environment = make_env(settings, org, clock)
    await environment.db.open()
    await people.sync_departments(environment)
    yield environment
    await environment.db.close()


@pytest.fixture
async def cast(env):
    """An enterprise's contact, and the 人社局's official and head."""
    await people.register_enterprise(
        env, CONTACT, "鄂州华瑞机械有限公司", COMPANY_USCC, "陈经理", "13800000001", "r1"
    )
    leader = await people.actor_for(env, LEADER_ID)
    for tg_id, full_name, head in ((OFFICIAL, "李明", False), (HEAD, "张科长", True)):
        invite = await people.create_invite(env, leader, "rsj", head)
        await people.accept_invite(env, tg_id, full_name, invite.code)
    return {
        "contact": await people.actor_for(env, CONTACT),
        "official": await people.actor_for(env, OFFICIAL),
    }


async def filed(env, cast, n: int = 0):
    text = DESCRIPTION + (f"（第{n}项）" if n else "")
    return await appeals.file_appeal(env, cast["contact"], "yonggong", text, (), f"f{n}")


async def save(env, new, version: int) -> bool:
    """AppealRepo.save in a unit of work; a write is recorded as a step that changes the
    version would record it (every version is accounted for by the history)."""
    async with env.db.unit_of_work() as uow:
        saved = await uow.appeals.save(new, version)
        if saved:
            await uow.audit.add(
                f"appeal:{new.id}", OFFICIAL, Action.CLAIM, env.now(), appeal_id=new.id
            )
        await uow.commit()
    return saved


MOMENT = datetime(2026, 3, 11, 2, 30, tzinfo=UTC)

# Every column a workflow step may change, with a value no appeal has when filed.
UPDATABLE = {
    "state": State.CLOSED,
    "assignee_id": OFFICIAL,
    "owner_id": OFFICIAL,
    "claim_due_date": date(2026, 4, 1),
    "due_date": date(2026, 4, 30),
    "claimed_at": MOMENT,
    "closed_at": MOMENT + timedelta(hours=1),
    "resolution": "已协调人社部门落实稳岗补贴",
    "rating": Rating.BASIC,
    "rating_due_date": date(2026, 5, 8),
    "rated_at": MOMENT + timedelta(days=1),
    "reopen_count": 2,
}
# What the appeal says about itself, which no workflow step changes.
FIXED = {
    "number": "SQ-2026-999999",
    "description": "改过的诉求内容",
    "category": "其他",
    "created_at": MOMENT - timedelta(days=30),
}


async def stored(env, appeal_id: int):
    async with env.db.reading() as uow:
        return await uow.appeals.get(appeal_id)


@pytest.mark.parametrize("column", sorted(UPDATABLE))
async def test_save_writes_each_updatable_column_from_the_appeal(env, cast, column):
    appeal = (await filed(env, cast)).appeal
    assert await save(env, replace(appeal, **{column: UPDATABLE[column]}), 1)
    after = await stored(env, appeal.id)
    assert getattr(after, column) == UPDATABLE[column]
    assert after.version == appeal.version + 1
    if column == "owner_id":  # read back with the owner's name
        assert after.owner_name == "李明"
    # nothing else moved
    back = {column: getattr(appeal, column), "owner_name": appeal.owner_name}
    assert replace(after, **back, version=appeal.version) == appeal


async def test_save_never_writes_what_a_step_does_not_change(env, cast):
    appeal = (await filed(env, cast)).appeal
    assert await save(env, replace(appeal, **FIXED), appeal.version)
    after = await stored(env, appeal.id)
    assert replace(after, version=appeal.version) == appeal


async def test_a_department_saved_is_read_back_with_its_code_and_name(env, cast):
    appeal = (await filed(env, cast)).appeal
    async with env.db.reading() as uow:
        other = await uow.departments.by_code("jrj")
    assert await save(env, replace(appeal, department_id=other.id), appeal.version)
    after = await stored(env, appeal.id)
    assert (after.department_id, after.department_code) == (other.id, "jrj")
    assert after.department_name == other.name


@pytest.mark.parametrize("behind", [1, 2])
async def test_save_at_a_stale_version_changes_nothing(env, cast, behind):
    appeal = (await filed(env, cast)).appeal
    current = appeal
    for step in range(behind):  # others changed it since `appeal` was read
        assert await save(env, replace(current, reopen_count=step + 1), current.version)
        current = await stored(env, appeal.id)
    everything = replace(appeal, **UPDATABLE)
    assert await save(env, everything, appeal.version) is False
    assert await stored(env, appeal.id) == current
    # and a version from the future is no better
    assert await save(env, everything, current.version + 1) is False
    assert await stored(env, appeal.id) == current


async def test_an_action_for_a_caller_loads_them_in_its_unit_of_work(env, cast):
    """The chat passes who pressed (a Caller); the outcome names the actor as stored and
    the buttons of their next step, so the handler answers from it alone."""
    appeal = (await filed(env, cast)).appeal
    req = ActionRequest(appeal.id, version=appeal.version, key="claim-by-caller")
    outcome = await appeals.USE_CASES[Action.CLAIM](env, Caller(OFFICIAL, "Telegram 名"), req)
    assert outcome.actor == cast["official"]  # the stored name, not Telegram's
    assert outcome.actor.role is Role.OFFICIAL
    assert outcome.appeal.owner_id == OFFICIAL and outcome.appeal.state is State.IN_PROGRESS
    assert outcome.actions == access.allowed_actions(cast["official"], outcome.appeal, env.today())
    again = await appeals.USE_CASES[Action.CLAIM](env, Caller(OFFICIAL), req)  # a second tap
    assert again.replayed and again.actor == cast["official"]
    assert again.actions == outcome.actions


# the ladder's 文号 --------------------------------------------------------------------------


async def serials_by_family(env) -> dict[str, list[tuple[int, str, int]]]:
    """Every stored notice's number, by family: (number, kind, appeal)."""
    found: dict[str, list[tuple[int, str, int]]] = {}
    async with env.db.reading() as uow:
        for notice in await uow.notices.undelivered(10_000):
            found.setdefault(notice.family, []).append(
                (notice.serial_no, notice.kind, notice.subject_id)
            )
    return {family: sorted(items) for family, items in found.items()}


@pytest.mark.parametrize("sweeps", [2, 3])
async def test_sweeps_at_once_number_every_notice_once_without_gaps(env, cast, clock, sweeps):
    filings = [(await filed(env, cast, n)).appeal for n in range(5)]
    numbers = [appeal.id for appeal in filings]
    clock.advance(timedelta(days=2))  # Thursday: the claims were due yesterday

    results = await asyncio.gather(*(ladder.sweep(env) for _ in range(sweeps)))
    made = sum(sum(r.values()) for r in results if r)
    by_family = await serials_by_family(env)
    assert made == sum(len(items) for items in by_family.values()) == len(numbers)
    reminders = by_family["提示"]
    assert [n for n, _, _ in reminders] == list(range(1, len(numbers) + 1))  # 1..N, no gap
    assert sorted(appeal for _, _, appeal in reminders) == sorted(numbers)  # each once
    assert {kind for _, kind, _ in reminders} == {"unclaimed"}

    # past the due date, overdue: sweeps at once again; 督办 numbers start at 1, 提示 go on
    first_round = sum(len(items) for items in by_family.values())
    due = max(appeal.due_date for appeal in filings)
    late = env.calendar.add_working_days(due, 2)
    clock.set(datetime.combine(late, time(10), tzinfo=SHANGHAI))
    results = await asyncio.gather(*(ladder.sweep(env) for _ in range(sweeps)))
    by_family = await serials_by_family(env)
    urged = by_family["督办"]
    assert [n for n, _, _ in urged] == list(range(1, len(urged) + 1))
    assert len({(kind, appeal) for _, kind, appeal in urged}) == len(urged)
    assert {appeal for _, kind, appeal in urged if kind == "overdue"} == set(numbers)
    reminders = by_family["提示"]
    assert [n for n, _, _ in reminders] == list(range(1, len(reminders) + 1))
    made = sum(sum(r.values()) for r in results if r)
    assert made == len(urged) + len(reminders) - first_round


async def test_a_sweep_repeated_adds_no_notice_and_no_number(env, cast, clock):
    await filed(env, cast)
    clock.advance(timedelta(days=2))
    first = await ladder.sweep(env)
    before = await serials_by_family(env)
    second, third = await asyncio.gather(ladder.sweep(env), ladder.sweep(env))
    assert sum(first.values()) == 1
    assert second == third == {kind: 0 for kind in first}
    assert await serials_by_family(env) == before
    async with env.db.unit_of_work() as uow:  # the counter did not move either
        sweep = env.deadlines.sweep_dates(env.today())
        assert await uow.notices.create("unclaimed", sweep, env.now()) == 0
        await uow.commit()
    assert await serials_by_family(env) == before


async def test_sweep_dates_are_days_of_the_calendar(env):
    """The ladder's dates as a typed value (no parameter names cross into storage)."""
    thursday = date(2026, 2, 12)  # before the Spring Festival holiday (02-15..23)
    sweep = env.deadlines.sweep_dates(thursday)
    assert sweep.today == thursday and sweep.year == 2026
    assert sweep.next_working_day == date(2026, 2, 13)
    assert sweep.month_start == date(2026, 2, 1)
    assert sweep.plus_near > thursday and sweep.plus_far > sweep.plus_near
    assert sweep.raise_due < thursday
