"""Fixtures: a sandbox with the real Application on a fake Telegram, and the people in it.

Every test that uses `settings` (directly, or through `sandbox`/`db`/`env`) runs once per
database backend: `sqlite` and `postgresql`. `--backends=sqlite` or
`APPEALDESK_TEST_BACKENDS=sqlite` runs one half; tests about SQLite itself carry the
`sqlite_only` mark and run once. The run ends with a line naming the backends that ran and,
when PostgreSQL was skipped, why.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest

import storage
from bot.clock import ManualClock
from bot.config import BUNDLED_ORG_CONFIG, Settings, load_org
from bot.rules.model import Appeal
from bot.rules.workflow import APPEAL_VERSION_EVENTS, TASK_VERSION_EVENTS, changes_since
from bot.sandbox.chat import Person, Sandbox
from storage.records import stamp

SHANGHAI = ZoneInfo("Asia/Shanghai")
LEADER_ID = 900001
COMPANY_USCC = "91350100M000100Y43"
OTHER_USCC = "A1110000MB1234567A"


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch):
    """Answers are retried at once: tests never wait on the wall clock."""
    monkeypatch.setattr("handlers.common.RETRY_DELAYS", (0, 0))
    monkeypatch.setattr("handlers.common.LONGEST_WAIT", 0)


@pytest.fixture
def org():
    return load_org(BUNDLED_ORG_CONFIG)


@pytest.fixture
def clock():
    # A Tuesday in an ordinary working week of 2026.
    return ManualClock(datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI))


# --- backends --------------------------------------------------------------------------

BACKENDS = ("sqlite", "postgresql")
BACKENDS_ENV = "APPEALDESK_TEST_BACKENDS"
ran_on: pytest.StashKey[Counter[str]] = pytest.StashKey()
skipped_why: pytest.StashKey[dict[str, str]] = pytest.StashKey()
RAN_ON, SKIPPED_ON = "backend", "backend skipped"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backends",
        default=None,
        help=f"database backends to run, comma-separated ({','.join(BACKENDS)});"
        f" default: ${BACKENDS_ENV}, else both",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: about SQLite itself (files, pragmas, query plans); runs once"
    )
    config.stash[ran_on] = Counter()
    config.stash[skipped_why] = {}
    config.pluginmanager.register(BackendTally(config), "appealdesk-backend-tally")


def chosen_backends(config: pytest.Config) -> tuple[str, ...]:
    raw = config.getoption("--backends") or os.environ.get(BACKENDS_ENV) or ",".join(BACKENDS)
    names = tuple(dict.fromkeys(n.strip().lower() for n in raw.split(",") if n.strip()))
    if unknown := [n for n in names if n not in BACKENDS]:
        raise pytest.UsageError(f"unknown backend(s) {unknown}; choose from {BACKENDS}")
    return names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each test reaching `settings` runs once per chosen backend; `sqlite_only` ones once."""
    if "backend" not in metafunc.fixturenames:
        return
    names = chosen_backends(metafunc.config)
    if metafunc.definition.get_closest_marker("sqlite_only"):
        names = ("sqlite",)
    metafunc.parametrize("backend", names, indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "sqlite" in chosen_backends(config):
        return
    skip = pytest.mark.skip(reason="sqlite_only, and SQLite is not among the chosen backends")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)


def postgres_unavailable() -> str | None:
    """Why the PostgreSQL half cannot run here, or None: the driver not installed (the
    `postgresql` extra), or no server binaries for tests/pg_cluster.py's throwaway cluster."""
    try:
        import storage.postgres  # noqa: F401, PLC0415 - psycopg comes with an extra
    except ImportError:
        return "PostgreSQL: the storage.postgres adapter is not available (pip install psycopg)"
    import pg_cluster  # noqa: PLC0415 - imports the driver's pool too

    return pg_cluster.skip_reason()


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    name = getattr(request, "param", "sqlite")
    if name not in chosen_backends(request.config):
        pytest.skip(f"{name}: not among the chosen backends")
    if name == "postgresql" and (why := postgres_unavailable()):
        request.node.user_properties.append((SKIPPED_ON, why))
        pytest.skip(why)
    request.node.user_properties.append((RAN_ON, name))
    return name


class BackendTally:
    """Counts what ran on which backend from the tests' reports: with `-n` the tests run in
    worker processes, and only their reports reach the process that prints the summary."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "setup":
            return
        for key, value in report.user_properties:
            if key == RAN_ON and report.passed:
                self.config.stash[ran_on][value] += 1
            elif key == SKIPPED_ON and report.skipped:
                self.config.stash[skipped_why]["postgresql"] = value


@pytest.fixture
def another_database(backend: str, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Makes the URL of a new, empty database on the test's backend (`name`: the SQLite file's
    stem; PostgreSQL gives each a fresh database)."""

    made: list[str] = []

    def make(name: str) -> str:
        if backend == "postgresql":
            import pg_cluster  # noqa: PLC0415 - the backend is not skipped: its driver is here

            made.append(pg_cluster.fresh_database())
            return made[-1]
        return f"sqlite:///{tmp_path / f'{name}.sqlite3'}"

    yield make
    if made:
        import pg_cluster  # noqa: PLC0415

        for url in made:  # a copy of the template each: dropped, or the disk fills
            pg_cluster.drop_database(url)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database (no schema) on the test cluster, for the commands
    that make or fill one (migrate, copy-db)."""
    pytest.importorskip("storage.postgres", reason="the PostgreSQL adapter is not installed")
    pg_cluster = pytest.importorskip("tests.pg_cluster", reason="no PostgreSQL test cluster")
    if why := pg_cluster.skip_reason():  # no server binaries here: skipped, with the reason
        pytest.skip(why)
    url = pg_cluster.new_database_url()
    yield url
    pg_cluster.drop_database(url)


@pytest.fixture
def database_url(another_database: Callable[[str], str]) -> str:
    return another_database("appealdesk")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    ran = config.stash.get(ran_on, Counter())
    why = config.stash.get(skipped_why, {})
    parts = [f"{name} ({ran[name]} test{'s' * (ran[name] != 1)})" for name in BACKENDS if ran[name]]
    line = "database backends run: " + (", ".join(parts) or "none")
    if "postgresql" not in chosen_backends(config):
        line += f"; PostgreSQL not chosen (--backends / {BACKENDS_ENV})"
    elif not ran["postgresql"] and why.get("postgresql"):
        reason = why["postgresql"].removeprefix("PostgreSQL tests skipped: ")
        reason = reason.removeprefix("PostgreSQL: ")
        line += f"; skipped PostgreSQL: {reason}"
        # and in the run's last line: those tests are counted as "… skipped on PostgreSQL
        # (why)" instead of among the other skips
        skips = terminalreporter.stats.get("skipped", [])
        gone = [r for r in skips if why["postgresql"] in str(getattr(r, "longrepr", ""))]
        if gone:
            terminalreporter.stats["skipped"] = [r for r in skips if r not in gone]
            terminalreporter.stats[f"skipped on PostgreSQL ({reason})"] = gone
    terminalreporter.write_line(line)


def sqlite_file(url: str) -> Path:
    """The file of a SQLite URL (`sqlite:///relative`, `sqlite:////absolute`) or plain path."""
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:") else Path(url)


def settings_for(url: str, **values: Any) -> Settings:
    """Settings for a database URL: the one place that knows how Settings names it."""
    values.setdefault("admin_ids", [LEADER_ID])
    return Settings(_env_file=None, database_url=url, **values)


def database_env(url: str) -> dict[str, str]:
    """The environment that points an `appealdesk` process at a database URL."""
    return {"DATABASE_URL": url}


def url_of(settings: Settings) -> str:
    return str(settings.database_url)


def open_database(url: str, **options: Any) -> Any:
    """The application's Database for a URL, as the bot would build it (not yet opened)."""
    return storage.open_database(url, **options)


def looking(url: str) -> Any:
    """A Database for one look from a test (Db.read / Db.write): on PostgreSQL its pools
    connect only when used (a connection costs ~20 ms, and a look uses one of two pools)."""
    pg = url.startswith(("postgresql:", "postgres:"))
    return open_database(url, **({"min_size": 0} if pg else {}))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url)


@pytest.fixture
async def sandbox(settings, org, clock):
    box = await Sandbox.start(settings, org, clock)
    yield box
    await box.stop()


T = TypeVar("T")


def plain(value: object) -> object:
    """A value as SQLite keeps it (read back from PostgreSQL, or bound on SQLite), so one
    assertion holds on both backends: moments as UTC ISO text, days as YYYY-MM-DD, JSON as
    its text, whole numbers as int."""
    if isinstance(value, datetime):
        return stamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


class Db:
    """Read-only look into the sandbox's database, for assertions. Plain portable SQL with `?`
    parameters runs on either backend (sqlite3, or psycopg for PostgreSQL), values as
    `plain` gives them; appeals and their events are read through the contract."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.backend = "postgresql" if url.startswith(("postgresql:", "postgres:")) else "sqlite"
        self._conn: Any = None  # PostgreSQL: one connection kept (a new one costs ~20 ms)

    def _server(self) -> Any:
        """The kept psycopg connection (autocommit: each statement sees what is committed)."""
        import psycopg  # noqa: PLC0415 - only the PostgreSQL half needs it

        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self.url, autocommit=True)
            _kept_connections.append(self._conn)
        return self._conn

    @property
    def path(self) -> Path:
        """The SQLite file (for tests about SQLite itself)."""
        assert self.backend == "sqlite", "a file exists only on SQLite"
        return sqlite_file(self.url)

    @property
    def error(self) -> type[Exception]:
        """What the driver raises when the database refuses a statement."""
        if self.backend == "sqlite":
            return sqlite3.DatabaseError
        import psycopg  # noqa: PLC0415

        return psycopg.DatabaseError

    def exists(self) -> bool:
        return self.backend == "postgresql" or self.path.exists()

    def rows(self, sql: str, *params: object) -> list[dict]:
        if self.backend == "sqlite":
            with sqlite3.connect(self.path) as conn:
                conn.row_factory = sqlite3.Row
                return [dict(r) for r in conn.execute(sql, [plain(p) for p in params])]
        from psycopg.rows import dict_row  # noqa: PLC0415

        with self._server().cursor(row_factory=dict_row) as cursor:
            cursor.execute(sql.replace("%", "%%").replace("?", "%s"), params)
            return [{k: plain(v) for k, v in r.items()} for r in cursor.fetchall()]

    def execute(self, sql: str, *params: object) -> None:
        """One portable statement that stores what no use case or repository writes (a value
        in an earlier version's form, a history seeded in bulk); committed at once."""
        self.executemany(sql, [params])

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        """The statement once per row of parameters, in one transaction."""
        if self.backend == "sqlite":
            with sqlite3.connect(self.path) as conn:
                conn.executemany(sql, ([plain(p) for p in row] for row in rows))
            return
        conn = self._server()
        with conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(sql.replace("%", "%%").replace("?", "%s"), list(rows))

    def one(self, sql: str, *params: object) -> dict:
        rows = self.rows(sql, *params)
        assert len(rows) == 1, rows
        return rows[0]

    def count(self, table: str) -> int:
        return self.rows(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]  # noqa: S608

    def tables(self) -> set[str]:
        if self.backend == "sqlite":
            found = self.rows("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            found = self.rows(
                "SELECT table_name AS name FROM information_schema.tables"
                " WHERE table_schema = current_schema()"
            )
        return {r["name"] for r in found}

    def read(self, what: Callable[[Any], Awaitable[T]]) -> T:
        """`what(uow)` on the contract's read path of a Database of its own (on a thread of
        its own, since the test's event loop is busy running the test)."""

        async def go() -> T:
            database = looking(self.url)
            await database.open(migrate=False)
            try:
                async with database.reading() as uow:
                    return await what(uow)
            finally:
                await database.close()

        with ThreadPoolExecutor(1) as thread:
            return thread.submit(asyncio.run, go()).result()

    def write(self, what: Callable[[Any], Awaitable[T]]) -> T:
        """`what(uow)` in a unit of work of the contract, committed: a state set up through the
        repositories, as the bot would store it."""

        async def go() -> T:
            database = looking(self.url)
            await database.open(migrate=False)
            try:
                async with database.unit_of_work() as uow:
                    result = await what(uow)
                    await uow.commit()
                    return result
            finally:
                await database.close()

        with ThreadPoolExecutor(1) as thread:
            return thread.submit(asyncio.run, go()).result()

    def appeal(self, number: str) -> Appeal:
        async def by_number(uow: Any) -> Appeal:
            appeal = await uow.appeals.by_number(number)
            assert appeal is not None, f"no appeal {number}"
            return appeal

        return self.read(by_number)

    def events(self, number: str) -> list[tuple]:
        """(action, from_state, to_state, actor_id) of the appeal's audit events, in order."""

        async def of_appeal(uow: Any) -> list[tuple]:
            appeal = await uow.appeals.by_number(number)
            assert appeal is not None, f"no appeal {number}"
            events = await uow.audit.of_appeal(appeal.id)
            return [(e.action, e.from_state, e.to_state, e.actor_id) for e in events]

        return self.read(of_appeal)


_kept_connections: list[Any] = []  # Db's PostgreSQL connections, closed after each test


@pytest.fixture
def db(settings):
    return Db(url_of(settings))


def unaccounted_versions(db: Db) -> list[str]:
    """Appeals and tasks whose version their history does not account for: an action that
    changed it is missing from workflow.APPEAL_VERSION_EVENTS / TASK_VERSION_EVENTS (then
    every older button of them would be refused)."""
    if not {"appeals", "tasks", "audit_events"} <= db.tables():
        return []
    items = [("appeal", r["id"], r["version"]) for r in db.rows("SELECT id, version FROM appeals")]
    items += [("task", r["id"], r["version"]) for r in db.rows("SELECT id, version FROM tasks")]
    history: dict[str, list[str]] = {}  # every subject's actions in order, read at once
    for r in db.rows("SELECT subject, action FROM audit_events ORDER BY id"):
        history.setdefault(r["subject"], []).append(r["action"])
    wrong = []
    for subject, item_id, version in items:
        events = history.get(f"{subject}:{item_id}", [])
        counted = APPEAL_VERSION_EVENTS if subject == "appeal" else TASK_VERSION_EVENTS
        if changes_since(events, 1, version, counted) is None:
            wrong.append(f"{subject} {item_id} at version {version} after {events}")
    return wrong


@pytest.fixture(autouse=True)
def versions_accounted(request):
    """After every story told through the sandbox: each appeal's and task's version is
    accounted for by the events listed as changing it, so a test that takes an action
    which changes a version without being listed fails."""
    yield
    settings = request.node.funcargs.get("settings") if hasattr(request.node, "funcargs") else None
    try:
        if settings is not None and (db := Db(url_of(settings))).exists():
            assert unaccounted_versions(db) == []
    finally:
        while _kept_connections:
            _kept_connections.pop().close()


@pytest.fixture
def leader(sandbox) -> Person:
    return sandbox.person(LEADER_ID, "王局长")


async def join(person: Person, leader: Person, department: str, head: bool = False) -> None:
    """The leader invites `person` to `department`; they open the link."""
    await leader.send(f"/invite {department}{' head' if head else ''}")
    code = leader.last.split("?start=")[1].split()[0]
    answer = await person.send(f"/start {code}")
    assert "欢迎加入" in answer[-1], answer


async def register(person: Person, name: str = "鄂州市泛亚食品有限公司", uscc: str = COMPANY_USCC):
    await person.send("/start")
    await person.send(name)
    await person.send(uscc)
    await person.send("陈经理")
    summary = await person.send("13907110000")
    assert "请核对登记信息" in summary[-1], summary
    answer = await person.press("确认登记")
    assert "登记成功" in answer[-1], answer


async def file_appeal(
    person: Person,
    category: str = "融资",
    text: str = "扩建冷链仓库需流动资金约800万元，申请融资担保对接。",
) -> str:
    """Files an appeal through /new; returns its number."""
    await person.send("/new")
    await person.press(category)
    await person.send(text)
    answer = await person.press("提交")
    if answer and "内容相同的诉求" in answer[-1]:  # the same text again: the person confirms
        answer = await person.press("仍然提交")
    filed = next(a for a in answer if a.startswith("诉求已提交"))
    return filed.split("编号：")[1].split()[0]


@pytest.fixture
async def people(sandbox, leader):
    """A bureau with a 融资 head and official, a 中小企业科 official and two enterprises."""
    head = sandbox.person(20001, "张科长")
    official = sandbox.person(20002, "李明")
    outsider = sandbox.person(20003, "赵敏")
    company = sandbox.person(30001, "陈经理")
    rival = sandbox.person(30002, "周总")
    await join(head, leader, "jrj", head=True)
    await join(official, leader, "jrj")
    await join(outsider, leader, "zxqy")
    await register(company)
    await register(rival, "鄂州市三和管桩有限公司", OTHER_USCC)
    return type(
        "People",
        (),
        dict(
            leader=leader,
            head=head,
            official=official,
            outsider=outsider,
            company=company,
            rival=rival,
        ),
    )
