"""A notice offers only buttons that work for its recipient when it goes: 同意延期 / 不同意
only while the request still waits for its decision; somebody not registered, or removed
since, gets 查看 only (a department group keeps its first step, 签收); a list of notices
looks its recipient up once."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from handlers import courier
from handlers.jobs import run_sweep
from tests.conftest import SHANGHAI, file_appeal


async def _stored(sandbox, db, kind: str, chat_id: int):
    [row] = db.rows("SELECT id FROM outbox WHERE kind = ? AND chat_id = ?", kind, chat_id)
    async with sandbox.env.db.reading() as uow:
        [item] = await uow.outbox.of_ids([row["id"]])
    return item


def _labels(markup) -> list[str]:
    return [b.text for row in (markup.inline_keyboard if markup else ()) for b in row]


@pytest.mark.parametrize("decided", [None, "同意延期", "不同意"])
async def test_extension_buttons_only_while_the_request_waits(sandbox, people, db, decided):
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await p.official.press("延期", containing=number)
    await p.official.send("2026-03-31")
    await p.official.send("需等待银行授信审批结果。")
    assert {"同意延期", "不同意"} <= set(dict(p.head.inbox[-1].buttons))  # live: it waits
    if decided:
        await p.head.press(decided)
    if decided == "不同意":
        await p.head.send("/skip")  # the reason is asked; none given
    item = await _stored(sandbox, db, "extension_request", p.head.id)
    _, markup = await courier.render(sandbox.env, item)  # the notice as it would go now
    labels = _labels(markup)
    if decided is None:
        assert labels[:2] == ["同意延期", "不同意"] and labels[-1] == "查看", labels
    else:
        assert "同意延期" not in labels and "不同意" not in labels, labels
        assert labels[-1] == "查看"


def _remove(db, tg_id: int) -> None:
    removed_at = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # what removing a person stores
    db.write(lambda uow: uow.people.remove_contact(tg_id, removed_at))


GROUP = -100123456  # a department group that is told of new appeals


@pytest.mark.parametrize(
    ("recipient", "labels"),
    [
        ("official", ["签收", "查看"]),
        ("group", ["签收", "查看"]),
        ("removed", ["查看"]),
        ("stranger", ["查看"]),
    ],
)
async def test_who_is_not_registered_is_offered_only_view(sandbox, people, db, recipient, labels):
    p = people
    await file_appeal(p.company)
    item = await _stored(sandbox, db, "new_appeal", p.official.id)
    chat = {"official": p.official.id, "group": GROUP, "removed": p.official.id}.get(
        recipient, 99_000_001
    )
    if recipient == "removed":
        _remove(db, p.official.id)
    _, markup = await courier.render(sandbox.env, dataclasses.replace(item, chat_id=chat))
    assert _labels(markup) == labels


async def test_a_list_looks_its_recipient_up_once(sandbox, people, db, clock, monkeypatch):
    numbers = [
        await file_appeal(people.company, "融资", f"第{n}件：申请技改贴息贷款对接，投资{n}00万元。")
        for n in range(1, 5)
    ]
    for number in numbers:
        await people.official.press("签收", containing=number)
    clock.set(datetime(2026, 3, 25, 9, tzinfo=SHANGHAI))  # one working day past 03-24
    looked_up = []
    real = courier.people.actor_for

    async def counting(env, tg_id, *args):
        looked_up.append(tg_id)
        return await real(env, tg_id, *args)

    monkeypatch.setattr(courier.people, "actor_for", counting)
    mark = people.official.mark()
    await run_sweep(sandbox.app)
    listed = [m for m in people.official.inbox[mark:] if "今日提示督办共 4 件" in m.plain]
    assert len(listed) == 1 and listed[0].plain.count("督办") >= 4, listed
    assert looked_up.count(people.official.id) == 1, looked_up
