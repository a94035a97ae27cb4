"""The deadline ladder: who receives which 提示 / 督办 / 提级, exactly once, over real calendars."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from bot.clock import ManualClock
from bot.sandbox.chat import Sandbox
from bot.sandbox.fake_api import FakeBotApi
from handlers.jobs import run_sweep
from tests.conftest import LEADER_ID, SHANGHAI, file_appeal, join, register


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=SHANGHAI)


def serials(texts: list[str]) -> list[str]:
    """The 文号 of each notice."""
    return [text[1 : text.index("】")] for text in texts]


def notices(person, mark: int = 0) -> list[str]:
    """The 提示/督办 notices a person received since `mark`, as read."""
    return [text for text in person.since(mark) if text.startswith("【")]


class Bureau:
    """A 融资 department with a head and an official, a leader and one enterprise."""

    def __init__(self, box: Sandbox) -> None:
        self.box = box
        self.leader = box.person(LEADER_ID, "王局长")
        self.head = box.person(20001, "张科长")
        self.official = box.person(20002, "李明")
        self.company = box.person(30001, "陈经理")

    async def staff_up(self) -> None:
        await join(self.head, self.leader, "jrj", head=True)
        await join(self.official, self.leader, "jrj")
        await register(self.company)

    def marks(self) -> dict[str, int]:
        return {name: getattr(self, name).mark() for name in ("leader", "head", "official")}

    def received(self, marks: dict[str, int]) -> dict[str, list[str]]:
        return {name: notices(getattr(self, name), mark) for name, mark in marks.items()}


@pytest.fixture
async def spring(settings, org):
    """2026-02-12, the Thursday before the Spring Festival holiday (02-15..23)."""
    clock = ManualClock(at("2026-02-12"))
    box = await Sandbox.start(settings, org, clock)
    bureau = Bureau(box)
    await bureau.staff_up()
    yield bureau, clock
    await bureau.box.stop()


async def sweep_on(bureau: Bureau, clock: ManualClock, day: str) -> dict[str, list[str]]:
    clock.set(at(day))
    marks = bureau.marks()
    await run_sweep(bureau.box.app)
    return bureau.received(marks)


async def test_appeal_ladder_across_the_spring_festival(spring, db):
    bureau, clock = spring
    number = await file_appeal(bureau.company)
    assert db.appeal(number).due_date == date(2026, 3, 4)
    assert db.appeal(number).claim_due_date == date(2026, 2, 13)
    nothing = {"leader": [], "head": [], "official": []}

    assert await sweep_on(bureau, clock, "2026-02-13") == nothing  # still within the claim limit
    got = await sweep_on(bureau, clock, "2026-02-14")  # 补班 Saturday: a working day
    assert got["head"] == [
        f"【提示〔2026〕1号】签收提示：诉求 {number}（鄂州市泛亚食品有限公司，融资）"
        "已超过签收时限 2026-02-13，仍未签收，请督促签收。"
    ]
    assert got["official"] == [] and got["leader"] == []
    for holiday in ("2026-02-15", "2026-02-18", "2026-02-23"):
        assert await sweep_on(bureau, clock, holiday) == nothing
    got = await sweep_on(bureau, clock, "2026-02-24")
    assert serials(got["head"]) == ["提示〔2026〕2号"]

    await bureau.official.press("签收", containing=number)
    assert await sweep_on(bureau, clock, "2026-03-02") == nothing
    got = await sweep_on(bureau, clock, "2026-03-03")
    assert got == {
        "leader": [],
        "head": [],
        "official": [
            f"【提示〔2026〕3号】到期提示：诉求 {number}（鄂州市泛亚食品有限公司，融资）"
            "将于 2026-03-04 到期，请抓紧办理。"
        ],
    }
    got = await sweep_on(bureau, clock, "2026-03-04")
    assert got["official"] == [
        f"【提示〔2026〕4号】到期提示：诉求 {number}（鄂州市泛亚食品有限公司，融资）"
        "今日（2026-03-04）到期，请于今日办结。"
    ]
    got = await sweep_on(bureau, clock, "2026-03-05")
    expected = (
        f"【督办〔2026〕1号】督办：诉求 {number}（鄂州市泛亚食品有限公司，融资）已超期 1 个工作日"
        "（办结期限 2026-03-04，承办：市地方金融管理局，承办人 李明），请立即办理并反馈。"
    )
    assert got == {"leader": [], "head": [expected], "official": [expected]}
    got = await sweep_on(bureau, clock, "2026-03-06")
    assert (
        serials(got["official"]) == ["督办〔2026〕2号"] and "超期 2 个工作日" in got["official"][0]
    )
    assert got["leader"] == []
    assert await sweep_on(bureau, clock, "2026-03-07") == nothing  # Saturday off
    got = await sweep_on(bureau, clock, "2026-03-09")
    assert got["leader"] == [
        f"【督办〔2026〕3号】提级督办·挂牌督办：诉求 {number}（鄂州市泛亚食品有限公司，融资）"
        "已超期 3 个工作日。承办单位：市地方金融管理局；承办人：李明；办结期限 2026-03-04。"
    ]
    assert serials(got["official"]) == ["督办〔2026〕4号"]
    got = await sweep_on(bureau, clock, "2026-03-10")
    assert got["leader"] == []  # raised once, not every day
    assert serials(got["official"]) == ["督办〔2026〕5号"]

    kinds = db.rows("SELECT kind, period FROM notices ORDER BY id")
    assert [k["kind"] for k in kinds] == [
        "unclaimed", "unclaimed", "due_soon", "due_today", "overdue", "overdue",
        "raise", "overdue", "overdue",
    ]  # fmt: skip
    # the appeal's history shows every notice with its 文号
    [card] = await bureau.head.send(f"/view {number}")
    assert (
        "提示〔2026〕1号 超时未签收提示" in card and "督办〔2026〕3号 提级督办（挂牌督办）" in card
    )


async def test_two_sweeps_and_a_restart_send_nothing_twice(spring, settings, org, db):
    bureau, clock = spring
    number = await file_appeal(bureau.company)
    await bureau.official.press("签收", containing=number)
    clock.set(at("2026-03-05"))
    marks = bureau.marks()
    await run_sweep(bureau.box.app)
    await run_sweep(bureau.box.app)  # a second instance of the sweep, the same day
    assert [len(v) for v in bureau.received(marks).values()] == [0, 1, 1]
    await bureau.box.stop()

    # a restart later the same day: a new Application on the same database file
    box = await Sandbox.start(settings, org, clock, api=FakeBotApi(first_update_id=5000))
    try:
        restarted = Bureau(box)
        await run_sweep(box.app)
        assert notices(restarted.official) == [] and notices(restarted.head) == []
        clock.set(at("2026-03-06"))
        await run_sweep(box.app)
        assert serials(notices(restarted.official)) == ["督办〔2026〕2号"]
    finally:
        await box.stop()
    assert db.one("SELECT COUNT(*) AS n FROM notices")["n"] == 2


async def test_a_crash_during_delivery_neither_repeats_nor_skips(spring, db):
    bureau, clock = spring
    number = await file_appeal(bureau.company)
    await bureau.official.press("签收", containing=number)
    clock.set(at("2026-03-05"))
    bureau.box.api.fail("sendMessage", 502, "Bad Gateway", times=1)  # the first recipient
    marks = bureau.marks()
    await run_sweep(bureau.box.app)
    first = bureau.received(marks)
    assert first["official"] == [] and len(first["head"]) == 1
    # The notice is in the outbox: sent to the head, owed to the official with a backoff.
    owed = db.rows("SELECT chat_id, status, attempts, error FROM outbox WHERE kind = 'ladder'")
    assert sorted((r["chat_id"], r["status"], r["attempts"]) for r in owed) == sorted(
        [(bureau.official.id, "pending", 1), (bureau.head.id, "sent", 1)]
    )

    marks = bureau.marks()
    await run_sweep(bureau.box.app)  # too early: the backoff has not passed
    assert bureau.received(marks)["official"] == []
    clock.advance(timedelta(seconds=6))
    await run_sweep(bureau.box.app)  # the retry (the delivery job does the same)
    second = bureau.received(marks)
    assert len(second["official"]) == 1 and second["head"] == []
    assert db.one("SELECT delivered_at FROM notices")["delivered_at"] is not None
    sent = db.rows("SELECT status FROM outbox WHERE kind = 'ladder'")
    assert [r["status"] for r in sent] == ["sent", "sent"]


async def test_national_day_holiday_and_its_make_up_saturday(settings, org, db):
    clock = ManualClock(at("2026-09-29"))  # Tuesday before the holiday
    box = await Sandbox.start(settings, org, clock)
    try:
        bureau = Bureau(box)
        await bureau.staff_up()
        outsider = box.person(20003, "赵敏")
        await join(outsider, bureau.leader, "zxqy")
        number = await file_appeal(
            bureau.company, "综合服务", "申请协调园区道路维修，影响货车进出。"
        )
        # 5 working days: 09-30, 10-08, 10-09, 10-10 (补班 Saturday), 10-12
        assert db.appeal(number).due_date == date(2026, 10, 12)
        await outsider.press("签收", containing=number)
        for day in ("2026-10-01", "2026-10-05", "2026-10-07"):
            clock.set(at(day))
            assert await run_sweep(box.app) is None
        assert notices(outsider) == []
        clock.set(at("2026-10-10"))
        await run_sweep(box.app)
        assert [n.split("：")[0] for n in notices(outsider)] == ["【提示〔2026〕1号】到期提示"]
        assert "将于 2026-10-12 到期" in notices(outsider)[0]
    finally:
        await box.stop()


async def test_the_sweep_is_scheduled_daily_and_at_start_up(sandbox):
    jobs = {job.name: job for job in sandbox.app.job_queue.jobs()}
    assert {"ladder-sweep", "ladder-sweep-at-start", "delivery"} <= set(jobs)
    trigger = str(jobs["ladder-sweep"].trigger)
    assert "hour='9'" in trigger and "minute='0'" in trigger
    assert "Asia/Shanghai" in str(jobs["ladder-sweep"].trigger.timezone)
