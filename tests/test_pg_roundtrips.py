"""Round trips to the PostgreSQL server per unit of work, counted on a real server
(tests/pg_cluster.py): a block costs its own statements and nothing more — the pool does not
ask the server about a connection it handed back moments ago — and a session the server
ended (a restart, a failover, `pg_terminate_backend`) is still replaced before a step uses
it, or under its first statement, never failing in a person's face.

A round trip is one `AsyncConnection.wait` of psycopg: a request sent and its answer read
(no pipeline is used). Statements are the adapter's own (`Connection.execute*`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from tests import pg_cluster
from tests.conftest import file_appeal

REASON = pg_cluster.unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


class Traffic:
    """What went to the server meanwhile: round trips and the adapter's statements."""

    def __init__(self) -> None:
        self.round_trips = 0
        self.leases = 0  # connections taken from a pool
        self.statements: Counter[str] = Counter()

    @property
    def statement_count(self) -> int:
        return sum(self.statements.values())


@contextmanager
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[Traffic]:
    import psycopg
    from psycopg_pool import AsyncConnectionPool

    from storage.postgres import connection

    traffic = Traffic()
    wait = psycopg.AsyncConnection.wait
    getconn = AsyncConnectionPool.getconn

    async def counting_getconn(self, *args, **kwargs):
        traffic.leases += 1
        return await getconn(self, *args, **kwargs)

    async def counting_wait(self, gen, *args, **kwargs):
        traffic.round_trips += 1
        return await wait(self, gen, *args, **kwargs)

    def counting(method):
        async def run(self, query, args):
            traffic.statements[" ".join(query.split()[:2])] += 1
            return await method(self, query, args)

        return run

    with monkeypatch.context() as patch:
        patch.setattr(psycopg.AsyncConnection, "wait", counting_wait)
        patch.setattr(AsyncConnectionPool, "getconn", counting_getconn)
        patch.setattr(connection.Connection, "_execute", counting(connection.Connection._execute))
        patch.setattr(connection.Connection, "_fetchall", counting(connection.Connection._fetchall))
        yield traffic


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A migrated, empty database on the test cluster (made outside the test's loop: the
    template is migrated on a loop of its own)."""
    if why := pg_cluster.skip_reason():
        pytest.skip(why)
    url = pg_cluster.fresh_database()
    yield url
    pg_cluster.drop_database(url)


async def opened(url: str, **options: object):  # noqa: ANN201
    from storage.postgres import PostgresDatabase

    db = PostgresDatabase(url, **{"min_size": 1, "max_size": 2, **options})
    await db.open()
    return db


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator:
    db = await opened(pg_url)
    yield db
    await db.close()


async def note(db, key: str) -> bool:  # noqa: ANN001
    async with db.unit_of_work() as uow:
        made = await uow.operator_notes.first_time(key, T0)
        await uow.commit()
    return made


# -- what each kind of block costs ---------------------------------------------------------


async def committed(db) -> None:  # noqa: ANN001
    async with db.unit_of_work() as uow:
        await uow.operator_notes.first_time("committed", T0)
        await uow.commit()


async def rolled_back(db) -> None:  # noqa: ANN001
    async with db.unit_of_work() as uow:
        await uow.operator_notes.first_time("rolled back", T0)


async def failed(db) -> None:  # noqa: ANN001
    with pytest.raises(ZeroDivisionError):
        async with db.unit_of_work() as uow:
            await uow.operator_notes.first_time("failed", T0)
            1 / 0  # noqa: B018


async def two_writes(db) -> None:  # noqa: ANN001
    async with db.unit_of_work() as uow:
        await uow.operator_notes.first_time("first of two", T0)
        await uow.operator_notes.first_time("second of two", T0)
        await uow.commit()


async def one_statement(db) -> None:  # noqa: ANN001
    async with db.one_statement() as uow:
        await uow.operator_notes.first_time("one statement", T0)


async def one_read(db) -> None:  # noqa: ANN001
    async with db.reading() as uow:
        await uow.operator_notes.latest("committed")


async def two_reads(db) -> None:  # noqa: ANN001
    async with db.reading() as uow:
        await uow.operator_notes.latest("committed")
        await uow.operator_notes.latest("one statement")


# (block, its statements: BEGIN … COMMIT / ROLLBACK included)
BLOCKS = [
    (committed, 3),
    (rolled_back, 3),
    (failed, 3),
    (two_writes, 4),
    (one_statement, 1),
    (one_read, 1),
    (two_reads, 2),
]


@pytest.mark.parametrize(("block", "statements"), BLOCKS, ids=[b.__name__ for b, _ in BLOCKS])
async def test_a_block_costs_its_statements_and_no_check(pg, monkeypatch, block, statements):
    """A connection given back moments ago is handed out again without asking the server
    (the socket is looked at instead): every round trip is one of the block's statements."""
    await note(pg, "warm")  # both pools' connections used and given back
    await one_read(pg)
    with counted(monkeypatch) as traffic:
        await block(pg)
    assert traffic.statement_count == statements, traffic.statements
    assert traffic.round_trips == statements


@pytest.mark.parametrize(("block", "statements"), BLOCKS, ids=[b.__name__ for b, _ in BLOCKS])
async def test_a_connection_idle_too_long_is_asked_first(pg_url, monkeypatch, block, statements):
    """Idle longer than `idle_check` seconds (here: any time at all), a connection is
    asked a round trip before use, as a peer may be gone without a word."""
    db = await opened(pg_url, idle_check=-1)
    try:
        await note(db, "warm")
        await one_read(db)
        with counted(monkeypatch) as traffic:
            await block(db)
        assert traffic.statement_count == statements, traffic.statements
        assert traffic.round_trips == statements + 1
    finally:
        await db.close()


# -- sessions the server ended -------------------------------------------------------------


def end_sessions(url: str, pids: list[int] | None = None) -> None:
    """End the database's sessions (or those of `pids`) as a restart does, and wait until
    the server has ended them (polled: no clock)."""
    server = pg_cluster.shared_cluster()
    name = url.rsplit("/", 1)[1].split("?")[0]
    which = f"pid IN ({', '.join(map(str, pids))})" if pids else f"datname = '{name}'"
    ended = server.execute(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {which}"
        " AND pid <> pg_backend_pid()"
    )
    assert ended and all(done for (done,) in ended)
    while server.execute(f"SELECT 1 FROM pg_stat_activity WHERE {which}"):
        pass


BLOCKS_AFTER = [committed, one_statement, one_read]


@pytest.mark.parametrize("block", BLOCKS_AFTER, ids=[b.__name__ for b in BLOCKS_AFTER])
async def test_after_the_server_ended_every_session_the_next_step_works(pg, monkeypatch, block):
    """Before use, the ended connection's socket shows the server's goodbye: the pool
    replaces it and the step runs once, on a new session (its first statement is not
    sent to the ended one and run again: the look saw it)."""
    await note(pg, "before")
    await one_read(pg)
    end_sessions(pg.url)
    with counted(monkeypatch) as traffic:
        await block(pg)
    assert traffic.statement_count == dict(BLOCKS)[block], traffic.statements
    await block(pg)  # the second finds a working pool too
    async with pg.reading() as uow:
        assert await uow.operator_notes.latest("before") == T0
        if block is not one_read:
            assert await uow.operator_notes.latest(block.__name__.replace("_", " ")) == T0


RENEWED = [committed, one_read]


@pytest.mark.parametrize("block", RENEWED, ids=[b.__name__ for b in RENEWED])
async def test_a_session_ended_unseen_is_renewed_under_the_first_statement(pg, monkeypatch, block):
    """Ended where the pool's look does not see it (the goodbye not arrived yet), the
    block's first statement (BEGIN, the first read) fails on the old session — nothing had
    run there — and runs again, once, on another."""
    from storage.postgres import database

    await note(pg, "before")
    await one_read(pg)
    end_sessions(pg.url)
    monkeypatch.setattr(database, "_has_input", lambda conn: False)  # the look sees nothing
    await block(pg)
    async with pg.reading() as uow:
        assert await uow.operator_notes.latest("before") == T0
    if block is not one_read:  # written, and once: a second write of the key changes nothing
        assert not await note(pg, block.__name__.replace("_", " "))


async def test_a_lone_write_whose_session_ended_unseen_is_not_run_again(pg, monkeypatch):
    """A lone write may have been committed just before its session ended (the answer
    lost): it fails rather than run twice, and the step is the caller's to answer."""
    import psycopg

    from storage.postgres import database

    await note(pg, "before")
    end_sessions(pg.url)
    monkeypatch.setattr(database, "_has_input", lambda conn: False)  # the look sees nothing
    with pytest.raises(psycopg.OperationalError):
        await one_statement(pg)
    await one_statement(pg)  # the next step gets a working session
    async with pg.reading() as uow:
        assert await uow.operator_notes.latest("one statement") == T0


async def test_a_pool_of_one_renews_its_only_connection(pg_url, monkeypatch):
    """The broken connection goes back before another is asked for: a pool of one does not
    wait for itself."""
    from storage.postgres import database

    db = await opened(pg_url, max_size=1, pool_timeout=5)
    try:
        await note(db, "before")
        end_sessions(db.url)
        monkeypatch.setattr(database, "_has_input", lambda conn: False)
        async with db.unit_of_work() as uow:  # the writers' one connection, renewed
            assert await uow.operator_notes.first_time("after", T0)
            await uow.commit()
        async with db.reading() as uow:  # the readers' one
            assert await uow.operator_notes.latest("after") == T0
    finally:
        await db.close()


async def test_a_session_ended_inside_a_block_is_renewed_only_before_its_first_statement(pg):
    """Ended after the hand-out, before the first statement: a read runs on a new session;
    a lone write is the caller's error (it cannot tell whether the server ran it). Ended
    after BEGIN: the transaction is lost and the caller hears of it."""
    import psycopg

    async with pg.one_statement() as uow:
        end_sessions(pg.url, [uow.conn.raw.info.backend_pid])
        with pytest.raises(psycopg.OperationalError):
            await uow.operator_notes.first_time("written once", T0)
    assert await note(pg, "written once")  # it had not run: the next step writes it
    async with pg.reading() as uow:
        end_sessions(pg.url, [uow.conn.raw.info.backend_pid])
        assert await uow.operator_notes.latest("written once") == T0
    async with pg.unit_of_work() as uow:
        end_sessions(pg.url, [uow.conn.raw.info.backend_pid])  # BEGIN has run
        with pytest.raises(psycopg.OperationalError):
            await uow.operator_notes.first_time("in a lost transaction", T0)
    async with pg.reading() as uow:
        assert await uow.operator_notes.latest("in a lost transaction") is None
    assert not await note(pg, "written once")  # the one write happened once
    assert await note(pg, "after")


async def test_a_session_ended_after_the_first_statement_is_the_callers_error(pg):
    """After a block's first statement, a lost connection loses what the block did: the
    error reaches the caller (nothing is run again behind its back)."""
    import psycopg

    with pytest.raises(psycopg.OperationalError):
        async with pg.reading() as uow:
            await uow.operator_notes.latest("x")
            end_sessions(pg.url, [uow.conn.raw.info.backend_pid])
            await uow.operator_notes.latest("y")
    assert await note(pg, "afterwards")


# -- a person's steps in the chat ----------------------------------------------------------


async def test_filing_an_appeal_costs_only_its_statements(backend, sandbox, people, monkeypatch):
    """Through the real handlers: each step of a filing (/new, the category, the text,
    提交) sends the server its statements and nothing else: no check of a connection used
    moments ago, which cost one round trip more per block (some 40% more on this flow)."""
    if backend != "postgresql":
        pytest.skip("round trips to a server: PostgreSQL")
    company = people.company
    await file_appeal(company)  # warm: every statement and connection used once
    text = "第二件：申请技改贷款贴息，年内投产。"
    with counted(monkeypatch) as traffic:
        number = await file_appeal(company, text=text)
    assert traffic.round_trips == traffic.statement_count, traffic.statements
    # the filing's transaction: BEGIN … COMMIT; every other block its statements alone
    assert traffic.statements["BEGIN ISOLATION"] == traffic.statements["COMMIT"] >= 1
    assert traffic.leases >= 10  # the blocks a filing opens, each without a check now
    async with sandbox.env.db.reading() as uow:
        appeal = await uow.appeals.by_number(number)
    assert appeal is not None and appeal.description == text


# -- a flow read and ended in one statement (both backends) --------------------------------


@pytest.fixture
async def env(settings, org, clock):
    from bot.app import make_env

    environment = make_env(settings, org, clock)
    await environment.db.open()
    yield environment
    await environment.db.close()


async def flows_of(env) -> dict[int, tuple[str, datetime]]:  # noqa: ANN001
    """Every kept flow: user → (step, expiry)."""
    kept = {}
    async with env.db.reading() as uow:
        for user in (1, 2, 3, 4, 5):
            if (c := await uow.conversations.get(user)) is not None:
                kept[user] = (c.step, c.expires_at)
    return kept


# (flows begun as (user, minutes before now they began), whose flow to end, what it ends)
ENDINGS = [
    ([], 1, None),
    ([(1, 0)], 1, 1),
    ([(1, 45)], 1, 1),  # lapsed (30 minutes), still returned: the caller says so
    ([(2, 0)], 1, None),  # another user's flow is not touched
    ([(1, 5), (2, 5)], 2, 2),
]


@pytest.mark.parametrize(("begun", "user", "ended"), ENDINGS)
async def test_ending_any_flow_returns_it_and_keeps_the_others(env, clock, begun, user, ended):
    from datetime import timedelta

    from bot.usecases import conversations

    now = clock.now()
    for who, ago in begun:
        clock.set(now - timedelta(minutes=ago))
        await conversations.begin(env, who, who, "filing", f"step of {who}", {"n": who})
    clock.set(now)
    before = await flows_of(env)
    got = await conversations.end_any(env, user)
    assert (got.user_id if got else None) == ended
    if got is not None:
        assert got.step == f"step of {ended}" and got.data == {"n": ended}
        assert got.expired(now) == (dict(begun)[ended] >= 30)
    assert await flows_of(env) == {k: v for k, v in before.items() if k != ended}


async def test_lapsing_ends_only_expired_flows_oldest_first_a_page_at_a_time(
    env, clock, monkeypatch
):
    from datetime import timedelta

    from bot.usecases import conversations

    now = clock.now()
    for who, ago in ((1, 40), (2, 90), (3, 10), (4, 31), (5, 60)):
        clock.set(now - timedelta(minutes=ago))
        await conversations.begin(env, who, who, "filing", "desc", {})
    clock.set(now)
    monkeypatch.setattr(conversations, "EXPIRED_PAGE", 2)
    first = await conversations.lapse_expired(env)
    assert [c.user_id for c in first] == [2, 5]  # the longest lapsed first
    assert sorted(await flows_of(env)) == [1, 3, 4]
    second = await conversations.lapse_expired(env)
    assert [c.user_id for c in second] == [1, 4]
    assert await conversations.lapse_expired(env) == []
    assert sorted(await flows_of(env)) == [3]  # 10 minutes old: still running


@pytest.mark.parametrize("ending", ["end_any", "lapse_expired"])
async def test_ending_flows_is_one_round_trip(backend, env, clock, monkeypatch, ending):
    """Read and ended by one statement, outside a transaction: one round trip (it was
    BEGIN, the read, the delete, COMMIT)."""
    from datetime import timedelta

    from bot.usecases import conversations

    if backend != "postgresql":
        pytest.skip("round trips to a server: PostgreSQL")
    clock.set(clock.now() - timedelta(hours=1))
    await conversations.begin(env, 1, 1, "filing", "desc", {})
    await conversations.begin(env, 2, 2, "filing", "desc", {})
    clock.set(clock.now() + timedelta(hours=1))
    with counted(monkeypatch) as traffic:
        if ending == "end_any":
            taken = [await conversations.end_any(env, 1)]
        else:
            taken = await conversations.lapse_expired(env)
    assert traffic.round_trips == traffic.statement_count == 1, traffic.statements
    assert [c.user_id for c in taken] == ([1] if ending == "end_any" else [1, 2])
