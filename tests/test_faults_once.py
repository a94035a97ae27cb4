"""When the database is down (a PostgreSQL outage, a SQLite file gone), every step fails
in each handler group the update passes through: the person is told once per update that it
did not go through, not once per group."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest

from bot.texts import t
from tests.conftest import file_appeal

INTERNAL = t("error_internal")


@asynccontextmanager
async def down(*args, **kwargs):
    raise ConnectionError("the database server is not answering")
    yield  # pragma: no cover - an async generator that never gives a unit of work


STEPS = {
    "a command": lambda p: p.company.send("/my"),
    "free text": lambda p: p.company.send("园区道路施工影响货车进出"),
    "a new appeal": lambda p: p.company.send("/new"),
    "an official's list": lambda p: p.official.send("/my"),
}


@pytest.mark.parametrize("step", STEPS)
async def test_a_step_failing_in_every_group_is_told_once(sandbox, people, monkeypatch, step):
    await file_appeal(people.company)
    env = sandbox.env
    for name in ("reading", "unit_of_work", "one_statement"):
        monkeypatch.setattr(env.db, name, down)
    person = people.official if step == "an official's list" else people.company
    mark = person.mark()
    await STEPS[step](people)
    told = [m.plain for m in person.inbox[mark:]]
    assert told == [INTERNAL]
