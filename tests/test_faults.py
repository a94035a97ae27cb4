"""Telegram misbehaving: a share of sends answer 502, 429 (retry_after) or hang past the
timeout, and one enterprise blocked the bot. People act as people do (they repeat a step
that got no answer); at the end everyone received exactly what they were owed, once."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import timedelta

import pytest

from handlers import courier
from handlers.jobs import run_sweep
from tests.conftest import register

SHARES = {"bad_gateway": 0.12, "flood": 0.06, "hang": 0.05}
TRIES = 10


async def until(step, done, what: str) -> None:
    """Repeat a step, as a person would, until its effect is there."""
    for _ in range(TRIES):
        try:
            await step()
        except LookupError:  # the message with the button never arrived
            pass
        if done():
            return
    raise AssertionError(f"{what} not done after {TRIES} tries")


@pytest.mark.parametrize("seed", [7, 11, 42, 99])
async def test_faults_lose_nothing_and_repeat_nothing(sandbox, people, clock, db, seed):
    api = sandbox.api
    enterprises = [people.company, people.rival]
    for n in range(6):
        person = sandbox.person(31000 + n, f"联络员{n}")
        await register(person, f"鄂州市测试企业{n}有限公司", USCCS[n])
        enterprises.append(person)
    blocked = enterprises[-1]
    description = "扩建冷链仓库需流动资金约800万元，申请融资担保对接。"
    await blocked.send("/new")
    await blocked.press("融资")
    await blocked.send(description)
    await blocked.press("提交")
    api.fail_chat(blocked.id, 403, "Forbidden: bot was blocked by the user")

    api.chaos(random.Random(seed), **SHARES)
    start = len(api.attempts)
    for index, person in enumerate(enterprises[:-1]):
        text = f"{description}（第{index}家）"

        async def file(person=person, text=text) -> None:
            await person.send("/new")
            await person.press("融资")
            await person.send(text)
            await person.press("提交")

        await until(file, lambda text=text: db.rows(
            "SELECT 1 FROM appeals WHERE description = ?", text), "filing")  # fmt: skip

    numbers = [r["number"] for r in db.rows("SELECT number FROM appeals ORDER BY id")]
    official = people.official
    for number in numbers:

        async def claim(number=number) -> None:
            await official.send(f"/view {number}")
            await official.press("签收", containing=number)

        async def reply(number=number) -> None:
            await official.send(f"/view {number}")
            await official.press("回复", containing=number)
            await official.send(f"已受理 {number}，下周对接银行。")

        await until(claim, lambda n=number: db.appeal(n).state == "in_progress", "claim")
        await until(
            reply,
            lambda n=number: db.rows(
                "SELECT 1 FROM appeal_messages m JOIN appeals a ON a.id = m.appeal_id"
                " WHERE a.number = ? AND m.kind = 'reply'", n),
            "reply",
        )  # fmt: skip

    # The courier keeps going (the JobQueue runs it every few seconds in production).
    for _ in range(60):
        clock.advance(timedelta(seconds=30))
        await courier.drain(sandbox.app.bot, sandbox.env)
        if not db.rows("SELECT 1 FROM outbox WHERE status IN ('pending', 'sending')"):
            break
    assert not db.rows("SELECT 1 FROM outbox WHERE status IN ('pending', 'sending')")

    def got(person, starts: str, number: str) -> int:
        """Messages (or items of a list of notices that waited together) about `number`."""
        items = (
            re.sub(r"^[①-⑳] ", "", item)
            for m in person.inbox
            for item in re.split(r"\n\n(?=[①-⑳] )", m.plain)
        )
        return sum(item.startswith(starts) and number in item for item in items)

    owed = received = 0
    by_enterprise = {
        r["number"]: r["filed_by"] for r in db.rows("SELECT number, filed_by FROM appeals")
    }
    people_by_id = {p.id: p for p in enterprises}
    for number, filer in by_enterprise.items():
        person = people_by_id[filer]
        expected = {"ack": 1, "claimed": 1, "reply": 1} if person is not blocked else {}
        counts = {
            "ack": got(person, "诉求已提交", number),
            "claimed": got(person, f"您的诉求 {number} 已由", number),
            "reply": got(person, f"诉求 {number} 有新回复", number),
        }
        if person is blocked:
            counts["ack"] = 0  # filed before blocking the bot
        for kind, n in expected.items():
            owed += n
            received += counts[kind]
            assert counts[kind] == n, (number, kind, counts)
        for staff in (people.official, people.head):
            owed += 1
            received += got(staff, f"新诉求 {number}", number)
            assert got(staff, f"新诉求 {number}", number) == 1, (number, staff.name)
    assert owed == received

    # Every 429 was honoured: the outbox did not send that message again before retry_after
    # passed (a prompt a person asked for again is a new message, not a retry).
    tried = api.attempts[start:]
    owed_kinds = ("诉求已提交", "已由", "新诉求", "有新回复")
    for at, chat, text, status in tried:
        if status == 429 and any(kind in text for kind in owed_kinds):
            later = [a for a, c, x, s in tried if c == chat and x == text and s == 200 and a >= at]
            assert all(a >= at + 1 for a in later), (chat, text[:30])
    faults = Counter(status for _, _, _, status in tried)
    assert faults[502] and faults[429] and faults[0]  # the chaos did happen

    # The blocked enterprise is listed to the leaders the next working day.
    clock.advance(timedelta(days=1))
    api.chaos(random.Random(1), 0, 0, 0)
    await run_sweep(sandbox.app)
    report = [m.plain for m in people.leader.inbox if "无法接收" in m.plain]
    assert len(report) == 1 and "共 1 人" in report[0]
    assert "陈经理（2 条未送达）" in report[0]  # its 签收 and reply notices
    print(f"\nfaults: {dict(faults)} over {len(tried)} sends; owed {owed}, received {received}")


USCCS = [
    "91420700MA4F0A1B2W",
    "91420700MA4F0A1C2X",
    "91420700MA4F0A1D2Y",
    "91420700MA4F0A1E20",
    "91420700MA4F0A1F21",
    "91420700MA4F0A1G22",
]
