"""One or two notices to a person stay plain messages; from three they go as one numbered
list (items and buttons marked ①②…) — for notices about appeals that waited together and
for a sweep's notices alike (`delivery.LIST_FROM`)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.rules import delivery
from handlers import courier
from handlers.jobs import run_sweep
from tests.conftest import SHANGHAI, file_appeal

MARKS = "①②③④⑤⑥⑦⑧⑨"


async def _file(people, count: int) -> list[str]:
    return [
        await file_appeal(people.company, "融资", f"第{n}件：申请技改贴息贷款对接，投资{n}00万元。")
        for n in range(1, count + 1)
    ]


async def piled_up_notices(sandbox, people, clock, count: int) -> tuple[list, list[str]]:
    """New appeals pile up while Telegram refuses the official's messages, then go."""
    sandbox.api.fail_chat(people.official.id, 502, "Bad Gateway")
    numbers = await _file(people, count)
    sandbox.api.chat_failures.clear()
    mark = people.official.mark()
    clock.advance(timedelta(seconds=60))
    await courier.drain(sandbox.app.bot, sandbox.env)
    return people.official.inbox[mark:], numbers


async def sweep_notices(sandbox, people, clock, count: int) -> tuple[list, list[str]]:
    """The official's claimed appeals are all overdue on the day of a sweep: a 督办 each."""
    numbers = await _file(people, count)
    for number in numbers:
        await people.official.press("签收", containing=number)
    clock.set(datetime(2026, 3, 25, 9, tzinfo=SHANGHAI))  # one working day past 03-24
    mark = people.official.mark()
    await run_sweep(sandbox.app)
    return people.official.inbox[mark:], numbers


# kind → (how the official comes to be owed notices, a list's header, its span, a button)
KINDS = {
    "notices that waited together": (piled_up_notices, "新通知 {count} 条", "条", "签收"),
    "a sweep's notices": (sweep_notices, "今日提示督办共 {count} 件", "件", "查看"),
}  # fmt: skip


# A list's part: its header line, the first and last item it holds (numbered within the
# list) and where the list begins among the appeals filed.
Part = tuple[str, int, int, int]


def expected(kind: str, count: int) -> list[int | Part]:
    """What the official receives, message by message: the appeal (1-based) of a plain
    message, or a list's part. Notices that waited are taken one message's worth
    (LIST_CHUNK) at a time, each take a list of its own (or plain, when it holds one or
    two); a sweep's notices are one list in as many parts as it takes."""
    _, header, unit, _ = KINDS[kind]
    chunk = courier.LIST_CHUNK
    if kind == "a sweep's notices":
        takes = [(0, count)]
    else:
        takes = [(at, min(at + chunk, count)) for at in range(0, count, chunk)]
    plan: list[int | Part] = []
    for start, end in takes:
        size = end - start
        if not delivery.as_list(size):
            plan += list(range(start + 1, end + 1))
            continue
        for at in range(0, size, chunk):
            first, last = at + 1, min(at + chunk, size)
            span = f"第 {first} {unit}" if first == last else f"第 {first}–{last} {unit}"
            plan.append((f"{header.format(count=size)}（{span}）", first, last, start))
    return plan


@pytest.mark.parametrize("count", [1, 2, 3, 8, 9, 10])
@pytest.mark.parametrize("kind", list(KINDS))
async def test_one_or_two_stay_plain_and_three_or_more_are_one_list(
    sandbox, people, clock, kind, count
):
    """A table over 1, 2, 3 and more notices for each kind of list: the threshold, the
    header and span of every part (第 9 件 for a part of one), the marks on the buttons."""
    make, header, _, button = KINDS[kind]
    messages, numbers = await make(sandbox, people, clock, count)
    plan = expected(kind, count)
    assert len(messages) == len(plan), [m.plain.split("\n")[0] for m in messages]
    for message, part in zip(messages, plan, strict=True):
        labels = [label for label, _ in message.buttons]
        if isinstance(part, int):  # a plain message: its own appeal, its plain buttons
            assert numbers[part - 1] in message.plain
            assert not message.plain.startswith(header[:3])
            assert not any(mark in message.plain for mark in MARKS) and button in labels
            continue
        head, first, last, start = part
        assert message.plain.startswith(head), message.plain.split("\n")[0]
        for n in range(first, last + 1):
            assert (
                f"{courier.item_mark(n)} " in message.plain
                and numbers[start + n - 1] in message.plain
            )
        assert [label for label in labels if label.startswith(button)] == [
            f"{button} {courier.item_mark(n)}" for n in range(first, last + 1)
        ]
