"""The storage contract is code (storage/contract.py), and every backend is held to it: each
repository Protocol's methods exist on the backend's class with the same parameters (names,
kinds, defaults, annotations) and the same kind of call (a coroutine, or an async iterator);
the backend has no public method the contract lacks (a use case could not reach it through
the contract); its unit of work carries every repository; and nothing under bot/ or
handlers/ reaches past the contract into a backend's modules."""

from __future__ import annotations

import ast
import inspect
from datetime import date
from pathlib import Path
from typing import Protocol

import pytest

from storage import contract
from storage import db as sqlite_backend

ROOT = Path(__file__).resolve().parent.parent

# The SQLite backend's repository classes, by the unit of work's attribute.
SQLITE_REPOS = {name: vars(sqlite_backend.UnitOfWork)[name].repo for name in contract.REPOSITORIES}


def public_methods(cls: type) -> dict[str, object]:
    """The methods a caller may use: every public function defined on `cls` or its bases
    (not object's, not Protocol machinery)."""
    found = {}
    for klass in reversed(cls.__mro__):
        if klass is object or klass.__module__ in ("typing", "typing_extensions"):
            continue
        for name, value in vars(klass).items():
            if not name.startswith("_") and inspect.isfunction(value):
                found[name] = value
    return found


def is_context_manager(function: object) -> bool:
    """An `@asynccontextmanager` method (its wrapper is plain, what it wraps a generator)."""
    wrapped = getattr(function, "__wrapped__", None)
    return wrapped is not None and inspect.isasyncgenfunction(wrapped)


def call_kind(function: object) -> str:
    """How a method is called: awaited, iterated with `async for`, entered with `async with`
    or plainly. A Protocol writes an async iterator as `def …() -> AsyncIterator[…]` and a
    context manager as `def …() -> AbstractAsyncContextManager[…]`."""
    if is_context_manager(function):
        return "async with"
    if inspect.iscoroutinefunction(function):
        return "await"
    if inspect.isasyncgenfunction(function):
        return "async for"
    annotation = str(inspect.signature(function).return_annotation)
    if annotation.startswith("AbstractAsyncContextManager["):
        return "async with"
    return "async for" if annotation.startswith("AsyncIterator[") else "plain"


def returns(function: object) -> str:
    """The return annotation as a caller sees it (what an `@asynccontextmanager` generator
    yields is what the context manager gives)."""
    annotation = str(inspect.signature(function).return_annotation)
    if is_context_manager(function):
        return annotation.replace("AsyncIterator[", "AbstractAsyncContextManager[", 1)
    return annotation


def parameters(function: object) -> list[tuple[str, object, object, str]]:
    return [
        (p.name, p.kind, p.default, str(p.annotation))
        for p in inspect.signature(function).parameters.values()
    ]


def mismatches(protocol: type, implementation: type) -> list[str]:
    """Where `implementation` departs from `protocol`, one line each (none: it meets it)."""
    wanted, given = public_methods(protocol), public_methods(implementation)
    problems = [f"{name}: missing" for name in wanted if name not in given]
    problems += [f"{name}: not in the contract" for name in given if name not in wanted]
    for name in wanted.keys() & given.keys():
        if parameters(wanted[name]) != parameters(given[name]):
            problems.append(
                f"{name}: parameters {parameters(given[name])} != {parameters(wanted[name])}"
            )
        if call_kind(wanted[name]) != call_kind(given[name]):
            problems.append(f"{name}: {call_kind(given[name])} != {call_kind(wanted[name])}")
        if returns(given[name]) != returns(wanted[name]):
            problems.append(f"{name}: returns {returns(given[name])} != {returns(wanted[name])}")
    return sorted(problems)


def test_the_unit_of_work_carries_every_repository_of_the_contract():
    assert set(contract.REPOSITORIES) == set(contract.UnitOfWork.__annotations__)
    for name, protocol in contract.REPOSITORIES.items():
        assert contract.UnitOfWork.__annotations__[name] == protocol.__name__, name
    assert set(SQLITE_REPOS) == set(contract.REPOSITORIES)
    assert "commit" in public_methods(sqlite_backend.UnitOfWork)
    assert not mismatches(
        type("Commit", (), {"commit": contract.UnitOfWork.commit}),
        type("Commit", (), {"commit": sqlite_backend.UnitOfWork.commit}),
    )


@pytest.mark.parametrize("name", sorted(contract.REPOSITORIES))
def test_each_sqlite_repository_meets_its_protocol(name):
    assert mismatches(contract.REPOSITORIES[name], SQLITE_REPOS[name]) == []


def test_the_sqlite_database_meets_the_database_protocol():
    assert mismatches(contract.Database, sqlite_backend.Database) == [
        # the SQLite online backup: a per-backend operation the command line uses
        "backup: not in the contract"
    ]


def test_the_postgresql_database_meets_the_database_protocol():
    postgres = pytest.importorskip("storage.postgres", reason="no PostgreSQL backend here")
    found = getattr(postgres, "PostgresDatabase", None)
    if found is None:
        pytest.skip("storage.postgres has no PostgresDatabase yet")
    assert mismatches(contract.Database, found) == [
        # the server's version: a per-backend operation `appealdesk check` prints
        "server_version: not in the contract"
    ]


def test_the_checker_sees_a_method_that_departs_from_the_contract():
    """The check itself: a renamed parameter, a missing method, an extra one, a sync method
    for an async one and an ISO string for a date are each caught."""

    class Bent:
        async def get(self, appeal: int) -> None: ...  # renamed parameter
        def by_number(self, number: str) -> None: ...  # not awaited
        async def extra(self) -> None: ...

    class Wanted(Protocol):
        async def get(self, appeal_id: int) -> None: ...
        async def by_number(self, number: str) -> None: ...
        async def same(self, today: date) -> None: ...

    class Stringly:
        async def same(self, today: str) -> None: ...

    problems = mismatches(Wanted, Bent)
    assert any(p.startswith("get: parameters") for p in problems)
    assert "by_number: plain != await" in problems
    assert "extra: not in the contract" in problems
    assert "same: missing" in problems
    assert any(p.startswith("same: parameters") for p in mismatches(Wanted, Stringly))


async def test_an_open_database_is_a_contract_database(backend, database_url):
    """On each backend (SQLite, and PostgreSQL on a server of its own): the open database, each
    of its three kinds of unit of work and every repository in them meet their Protocols,
    method by method, and a read through them answers."""
    from storage import open_database

    database = open_database(database_url)
    await database.open()
    try:
        assert isinstance(database, contract.Database)
        # beyond the contract, each backend has its own operations for the command line
        # (SQLite's online backup, PostgreSQL's server version)
        extra = {"sqlite": ["backup: not in the contract"],
                 "postgresql": ["server_version: not in the contract"]}  # fmt: skip
        assert mismatches(contract.Database, type(database)) == extra[backend]
        for block in (database.unit_of_work, database.one_statement, database.reading):
            async with block() as uow:
                assert isinstance(uow, contract.UnitOfWork)
                assert uow.dialect.name == backend
                for name, protocol in contract.REPOSITORIES.items():
                    repo = getattr(uow, name)
                    assert isinstance(repo, protocol), name
                    assert mismatches(protocol, type(repo)) == [], name
                    assert repo.dialect.name == backend, name
        async with database.reading() as uow:
            assert await uow.appeals.get(1) is None
            assert await uow.appeals.by_number("2026-000001") is None
    finally:
        await database.close()


# Modules above storage may import the contract, the factory (`storage`, storage.factory)
# and the backend-neutral copy (storage.copy) only. Known exceptions would be listed here,
# each to go when its file is reworked (a listed import that is gone fails too): none left.
ALLOWED = {"storage", "storage.contract", "storage.factory", "storage.copy"}
KNOWN: dict[str, set[str]] = {}


def storage_imports(path: Path) -> set[str]:
    """The storage modules a file imports (at the top or inside a function)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "storage"}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "storage":
            if node.module == "storage":  # `from storage import db` names a module
                found |= {f"storage.{a.name}" for a in node.names if a.name in MODULES}
                found.add("storage")
            else:
                found.add(node.module)
    return found


MODULES = {p.stem for p in (ROOT / "storage").glob("*.py")} | {
    p.name for p in (ROOT / "storage").iterdir() if p.is_dir() and p.name != "__pycache__"
}


def test_nothing_above_storage_reaches_past_the_contract():
    wrong, stale = {}, {}
    for folder in ("bot", "handlers"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            imported = storage_imports(path) - ALLOWED
            known = KNOWN.get(where, set())
            if imported - known:
                wrong[where] = sorted(imported - known)
            if known - imported:
                stale[where] = sorted(known - imported)
    assert wrong == {}, "import storage.contract (or the factory) instead"
    assert stale == {}, "no longer imported: remove from KNOWN"


def test_the_import_check_sees_every_way_of_importing(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "import storage.db\nfrom storage.reports import X\nfrom storage import records, contract\n"
        "def f():\n    from storage.contract import UnitOfWork\n",
        encoding="utf-8",
    )
    assert storage_imports(source) - ALLOWED == {"storage.db", "storage.reports", "storage.records"}
