"""A check a later write relies on (no extension pending, the USCC not registered, the same
text not filed today), on PostgreSQL where two transactions really run at once: the second
waits for the first (`hold`), then sees what it wrote and is refused as a person would be
told — never a database error, never both written. The first is stopped right after its
check until the second is seen waiting on the lock; without the hold the second would not
wait and the test would fail. (SQLite has one writer: the same refusals are in
test_usecases.)"""

from __future__ import annotations

import asyncio

import pytest

from bot.rules.model import Action
from bot.rules.refusals import DuplicateAppeal, EnterpriseTaken, ExtensionPending
from bot.usecases import people
from storage.appeals import AppealRepo, ExtensionRepo
from storage.people import EnterpriseRepo
from tests.test_pg_concurrency_appeals import blocked_on_a_lock
from tests.test_usecases import DESCRIPTION, act, cast, env, filed

__all__ = ["cast", "env"]  # the fixtures, as test_usecases makes them
NEW_USCC = "91420700MA4F0A1G22"


@pytest.fixture(autouse=True)
def postgresql_only(request):
    if request.node.callspec.params.get("backend") != "postgresql":
        pytest.skip("a PostgreSQL concurrency proof (SQLite has a single writer)")


class Stop:
    """The first call of `repo.method` sets `checked` and returns only once `go` is set."""

    def __init__(self, monkeypatch, repo: type, method: str) -> None:
        self.checked, self.go, calls = asyncio.Event(), asyncio.Event(), []
        original = getattr(repo, method)

        async def checked(repo_self, *args, **kwargs):
            result = await original(repo_self, *args, **kwargs)
            calls.append(1)
            if len(calls) == 1:
                self.checked.set()
                await self.go.wait()
            return result

        monkeypatch.setattr(repo, method, checked)


async def race(env, stop: Stop, first, second) -> list[object]:
    """`first` stops after its check; `second` starts and must wait on the hold; then both
    finish. Their results or refusals, in that order."""
    one = asyncio.create_task(first())
    await stop.checked.wait()
    two = asyncio.create_task(second())
    try:
        await blocked_on_a_lock(env)
    finally:
        stop.go.set()
    return list(await asyncio.gather(one, two, return_exceptions=True))


def count(db, sql: str, *params: object) -> int:
    return db.rows(f"SELECT COUNT(*) AS n FROM {sql}", *params)[0]["n"]  # noqa: S608


async def test_one_uscc_registered_twice_at_once_is_one_enterprise(env, monkeypatch, db):
    stop = Stop(monkeypatch, EnterpriseRepo, "by_uscc")
    results = await race(
        env,
        stop,
        lambda: people.register_enterprise(
            env, 4001, "鄂州新材料有限公司", NEW_USCC, "周经理", "13800000011", "a"
        ),
        lambda: people.register_enterprise(
            env, 4002, "鄂州新材料有限公司", NEW_USCC, "吴经理", "13800000012", "b"
        ),
    )
    assert not isinstance(results[0], BaseException)
    assert isinstance(results[1], EnterpriseTaken)
    assert count(db, "enterprises WHERE uscc = ?", NEW_USCC) == 1


async def test_an_extension_asked_twice_at_once_is_one_request(env, cast, monkeypatch, db):
    appeal = (await filed(env, cast)).appeal
    appeal = (await act(env, cast["official"], Action.CLAIM, appeal, "c")).appeal
    stop = Stop(monkeypatch, ExtensionRepo, "pending_for")

    def ask(key: str):
        return lambda: act(
            env,
            cast["official"],
            Action.EXTEND,
            appeal,
            key,
            text="需协调省厅",
            new_due="2026/3/31",
        )

    results = await race(env, stop, ask("e1"), ask("e2"))
    assert not isinstance(results[0], BaseException)
    assert isinstance(results[1], ExtensionPending)
    assert count(db, "extensions") == 1


async def test_the_same_text_filed_twice_at_once_is_one_appeal(env, cast, monkeypatch, db):
    stop = Stop(monkeypatch, AppealRepo, "same_text_since")
    results = await race(env, stop, lambda: filed(env, cast, "f1"), lambda: filed(env, cast, "f2"))
    assert not isinstance(results[0], BaseException)
    assert isinstance(results[1], DuplicateAppeal)
    assert count(db, "appeals WHERE description = ?", DESCRIPTION) == 1
