"""A list of notices sent as one takes an id no other list has, on both backends: every item
of a list under the same id, each new list under a new one, also after `copy-db` brought the
lists of another database (PostgreSQL draws list ids from a sequence, set past the copied
ones). Lists formed at once by several couriers: tests/test_pg_concurrency_outbox.py; a
database migrated with lists in it: tests/test_migrations.py."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from bot.usecases import outbox
from storage.copy import copy_database
from storage.factory import migrate
from tests.conftest import open_database, url_of
from tests.test_pg_concurrency_outbox import lists_of, owed


async def form_lists(env, sizes: list[int]) -> list[list[int]]:
    """Lists of notices of the given sizes, each formed as the courier forms one."""
    formed = []
    for size in sizes:
        ids = await owed(env, size)
        await outbox.form_list(env, ids)
        formed.append(ids)
    return formed


async def test_each_list_has_its_own_id_and_every_item_of_it_that_id(sandbox):
    env = sandbox.env
    formed = await form_lists(env, [4, 2, 3])
    loose = await owed(env, 2)  # never listed: no list id

    by_list = await lists_of(env, [i for ids in formed for i in ids])
    assert sorted(by_list.values()) == sorted(formed)
    async with env.db.reading() as uow:
        assert [item.list_id for item in await uow.outbox.of_ids(loose)] == [None, None]


async def test_lists_formed_after_copy_db_to_postgresql_take_new_ids(sandbox, settings, pg_url):
    """A bureau's lists copied into PostgreSQL: the next list formed there does not take
    the id of one copied (its sequence starts past them)."""
    before = await form_lists(sandbox.env, [2, 3])
    async with sandbox.env.db.reading() as uow:
        copied_ids = {item.list_id for item in await uow.outbox.of_ids(sum(before, []))}
    await asyncio.to_thread(migrate, pg_url)
    report = await asyncio.to_thread(copy_database, url_of(settings), pg_url)
    assert report.differing == []

    target = open_database(pg_url)
    await target.open(migrate=False)
    there = replace(sandbox.env, db=target)
    try:
        after = await form_lists(there, [2])
        by_list = await lists_of(there, sum(before + after, []))
        assert sorted(by_list.values()) == sorted(before + after)
        (new_id,) = set(by_list) - copied_ids
        assert new_id > max(copied_ids)
    finally:
        await target.close()


async def test_a_sender_whose_notice_went_in_an_earlier_list_takes_nothing(sandbox):
    """Senders queued for one chat: the first takes every notice due there; one whose own
    notice went along with it takes nothing — not the notices that came since (their own
    senders take those), which it used to send as one more message each time."""
    from datetime import timedelta

    env = sandbox.env
    first, second, third = await owed(env, 3)
    async with env.db.reading() as uow:
        items = {item.id: item for item in await uow.outbox.of_ids([first, second, third])}
    now = env.now()
    lease = now + timedelta(seconds=30)
    async with env.db.one_statement() as uow:
        taken = await uow.outbox.take_with_others(items[first], now, lease, 10, "attachments")
    assert [item.id for item in taken] == [first, second, third]
    await outbox.sent(env, first, second, third)
    (later,) = await owed(env, 1)
    async with env.db.one_statement() as uow:
        assert await uow.outbox.take_with_others(items[second], now, lease, 10, "x") == []
    async with env.db.reading() as uow:
        (still,) = await uow.outbox.of_ids([later])
    assert still.status == "pending"  # left to its own sender
