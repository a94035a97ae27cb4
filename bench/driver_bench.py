"""The PostgreSQL driver, measured: psycopg 3 (async, `psycopg_pool.AsyncConnectionPool`,
rows as dicts — what the adapter uses) against asyncpg (its own pool, `Record` rows), with
aiosqlite (the embedded backend, one connection as the bot uses it) as the baseline, in
the same run on the same table:

  select — N `SELECT … WHERE id = $1` by primary key (random ids of the seeded rows);
  insert — N small `INSERT … RETURNING id`, each committed;
  step   — N/5 "typical steps": a transaction of 5 statements (read the appeal, read its
           latest message, update it with a version check, add a message, add an audit
           event), as a person's button press makes.

Each with 1 and with 8 concurrent tasks (8 pool connections; SQLite's one connection
serves the 8 tasks, its transactions one at a time as the bot's unit of work does). Both
PostgreSQL drivers talk to one throwaway server (bench/pgserver.py) on 127.0.0.1, with
commits not flushed one by one (PG_SETTINGS), as SQLite in WAL with synchronous = NORMAL
(how the bot opens it). Each measurement is made by the three in turn, `--rounds` times;
the median is kept. Printed: operations per second, each driver's ratio to the baseline,
and psycopg's to asyncpg's. asyncpg is not a dependency: `pip install asyncpg` to include
it.

    python -m bench.driver_bench --ops 10000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiosqlite

from bench.common import summary
from bench.pgserver import PgUnavailable, pg_server

SEEDED = 10_000
MESSAGE = "已联系企业了解用工需求，将于下周组织专场招聘会对接。"
TABLES = [
    "CREATE TABLE appeals (id {serial} PRIMARY KEY, number TEXT NOT NULL, state TEXT NOT NULL,"
    " description TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL)",
    "CREATE TABLE messages (id {serial} PRIMARY KEY, appeal_id INTEGER NOT NULL,"
    " kind TEXT NOT NULL, text TEXT NOT NULL, created_at TEXT NOT NULL)",
    "CREATE INDEX messages_appeal ON messages (appeal_id, id)",
    "CREATE TABLE events (id {serial} PRIMARY KEY, appeal_id INTEGER NOT NULL,"
    " action TEXT NOT NULL, created_at TEXT NOT NULL)",
]
# The statements in SQLite's placeholders; `pg` gives psycopg's (%s) and asyncpg's ($n).
SELECT = "SELECT id, number, state, description, version, created_at FROM appeals WHERE id = ?"
INSERT = "INSERT INTO messages (appeal_id, kind, text, created_at) VALUES (?, ?, ?, ?) RETURNING id"
LATEST = "SELECT id, text FROM messages WHERE appeal_id = ? ORDER BY id DESC LIMIT 1"
UPDATE = "UPDATE appeals SET state = ?, version = version + 1 WHERE id = ? AND version = ?"
EVENT = "INSERT INTO events (appeal_id, action, created_at) VALUES (?, ?, ?) RETURNING id"
NOW = "2026-11-30T02:00:00+00:00"
# SQLite in WAL with synchronous = NORMAL does not flush to disk at every commit (a crash
# may lose the last commits, never the file's consistency); PostgreSQL's equivalent is
# synchronous_commit = off. Both then measure the drivers and engines, not the shared disk.
PG_SETTINGS = {"synchronous_commit": "off"}


def dollar(sql: str) -> str:
    """? → $1, $2 … (asyncpg)."""
    parts = sql.split("?")
    return "".join(p + (f"${n}" if n < len(parts) else "") for n, p in enumerate(parts, 1))


def percent_s(sql: str) -> str:
    """? → %s (psycopg)."""
    return sql.replace("?", "%s")


def seed_rows() -> list[tuple[str, str, str, str]]:
    return [(f"SQ-2026-{i:06d}", "in_progress", "诉求内容" * 10, NOW) for i in range(SEEDED)]


# One driver: (select(id), insert(appeal), step(appeal)) for one task, each an awaitable.
Ops = tuple[Callable[[int], Awaitable[object]], ...]


class Sqlite:
    name = "aiosqlite (baseline)"

    async def open(self, folder: Path) -> None:
        self.conn = await aiosqlite.connect(folder / "driver.sqlite3", isolation_level=None)
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
            await self.conn.execute(f"PRAGMA {pragma}")
        for sql in TABLES:
            await self.conn.execute(sql.format(serial="INTEGER"))
        await self.conn.execute("BEGIN")
        await self.conn.executemany(
            "INSERT INTO appeals (number, state, description, created_at) VALUES (?, ?, ?, ?)",
            seed_rows(),
        )
        await self.conn.execute("COMMIT")
        self.lock = asyncio.Lock()  # one transaction at a time, as the bot's unit of work

    async def close(self) -> None:
        await self.conn.close()

    async def select(self, key: int) -> object:
        async with self.conn.execute(SELECT, (key,)) as cursor:
            return await cursor.fetchone()

    async def insert(self, key: int) -> object:
        async with self.conn.execute(INSERT, (key, "reply", MESSAGE, NOW)) as cursor:
            return (await cursor.fetchone())[0]

    async def step(self, key: int) -> None:
        async with self.lock:
            conn = self.conn
            await conn.execute("BEGIN IMMEDIATE")
            try:
                async with conn.execute(SELECT, (key,)) as cursor:
                    row = await cursor.fetchone()
                async with conn.execute(LATEST, (key,)) as cursor:
                    await cursor.fetchone()
                await conn.execute(UPDATE, ("replied", key, row[4]))
                async with conn.execute(INSERT, (key, "reply", MESSAGE, NOW)) as cursor:
                    await cursor.fetchone()
                async with conn.execute(EVENT, (key, "reply", NOW)) as cursor:
                    await cursor.fetchone()
                await conn.execute("COMMIT")
            except BaseException:
                await conn.execute("ROLLBACK")
                raise


class Psycopg:
    name = "psycopg 3 + psycopg_pool"

    def __init__(self, url: str) -> None:
        self.url = url

    async def open(self, folder: Path) -> None:
        import psycopg
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            for sql in ("DROP TABLE IF EXISTS appeals, messages, events", *TABLES):
                await conn.execute(sql.format(serial="BIGINT GENERATED ALWAYS AS IDENTITY"))
            async with (
                conn.cursor() as cursor,
                cursor.copy(
                    "COPY appeals (number, state, description, created_at) FROM STDIN"
                ) as copy,
            ):
                for row in seed_rows():
                    await copy.write_row(row)
            await conn.execute("ANALYZE")
        self.pool = AsyncConnectionPool(
            self.url, min_size=8, max_size=8, open=False,
            kwargs={"autocommit": True, "row_factory": dict_row},
        )  # fmt: skip
        await self.pool.open(wait=True)

    async def close(self) -> None:
        await self.pool.close()

    async def select(self, key: int) -> object:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(percent_s(SELECT), (key,))
            return await cursor.fetchone()

    async def insert(self, key: int) -> object:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(percent_s(INSERT), (key, "reply", MESSAGE, NOW))
            return (await cursor.fetchone())["id"]

    async def step(self, key: int) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            row = await (await conn.execute(percent_s(SELECT), (key,))).fetchone()
            await (await conn.execute(percent_s(LATEST), (key,))).fetchone()
            await conn.execute(percent_s(UPDATE), ("replied", key, row["version"]))
            await (await conn.execute(percent_s(INSERT), (key, "reply", MESSAGE, NOW))).fetchone()
            await (await conn.execute(percent_s(EVENT), (key, "reply", NOW))).fetchone()


async def no_reset(conn: object) -> None:
    """asyncpg's pool: nothing to reset when a connection comes back."""


class Asyncpg:
    name = "asyncpg"

    def __init__(self, url: str) -> None:
        self.url = url

    async def open(self, folder: Path) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.url)
        if await conn.fetchval("SELECT to_regclass('appeals')") is None:  # alone: seed
            for sql in TABLES:
                await conn.execute(sql.format(serial="BIGINT GENERATED ALWAYS AS IDENTITY"))
            await conn.copy_records_to_table(
                "appeals",
                records=seed_rows(),
                columns=["number", "state", "description", "created_at"],
            )
            await conn.execute("ANALYZE")
        await conn.close()
        # Its pool resets every connection it takes back (a round trip: UNLISTEN, RESET
        # ALL …); psycopg_pool does not unless asked, so neither does this one.
        self.pool = await asyncpg.create_pool(self.url, min_size=8, max_size=8, reset=no_reset)

    async def close(self) -> None:
        await self.pool.close()

    async def select(self, key: int) -> object:
        async with self.pool.acquire() as conn:
            return await conn.fetchrow(dollar(SELECT), key)

    async def insert(self, key: int) -> object:
        async with self.pool.acquire() as conn:
            return await conn.fetchval(dollar(INSERT), key, "reply", MESSAGE, NOW)

    async def step(self, key: int) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(dollar(SELECT), key)
            await conn.fetchrow(dollar(LATEST), key)
            await conn.execute(dollar(UPDATE), "replied", key, row["version"])
            await conn.fetchval(dollar(INSERT), key, "reply", MESSAGE, NOW)
            await conn.fetchval(dollar(EVENT), key, "reply", NOW)


async def timed(operation: Callable[[int], Awaitable[object]], count: int, tasks: int) -> float:
    """Operations per second: `count` calls with random seeded ids, shared by `tasks`."""
    rng = random.Random(count * 31 + tasks)
    keys = [rng.randint(1, SEEDED) for _ in range(count)]

    async def worker(share: list[int]) -> None:
        for key in share:
            await operation(key)

    start = time.perf_counter()
    await asyncio.gather(*(worker(keys[n::tasks]) for n in range(tasks)))
    return count / (time.perf_counter() - start)


async def measure(
    drivers: dict[str, object], folder: Path, ops: int, rounds: int
) -> dict[str, dict[tuple[str, int], float]]:
    """Each measurement made by every driver in turn, `rounds` times; the median of each."""
    opened = []
    try:
        for driver in drivers.values():
            await driver.open(folder)
            opened.append(driver)
            await timed(driver.select, min(ops, 500), 1)  # warm up: connections, plans
        got: dict[str, dict[tuple[str, int], float]] = {name: {} for name in drivers}
        for tasks in (1, 8):
            for what, count in (("select", ops), ("insert", ops), ("step", ops // 5)):
                runs: dict[str, list[float]] = {name: [] for name in drivers}
                for _ in range(rounds):
                    for name, driver in drivers.items():
                        runs[name].append(await timed(getattr(driver, what), count, tasks))
                for name in drivers:
                    got[name][(what, tasks)] = statistics.median(runs[name])
        return got
    finally:
        for driver in opened:
            await driver.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=10_000, help="statements per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each, the median kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        drivers: dict[str, object] = {"aiosqlite": Sqlite()}
        try:
            with pg_server(PG_SETTINGS, tcp=True) as url:
                drivers["psycopg"] = Psycopg(url)
                try:
                    import asyncpg  # noqa: F401 - not a dependency of the project
                except ImportError:
                    print("asyncpg is not installed: pip install asyncpg to compare it")
                else:
                    drivers["asyncpg"] = Asyncpg(url)
                results = await measure(drivers, Path(folder), args.ops, args.rounds)
        except PgUnavailable as exc:
            print(f"PostgreSQL skipped: {exc}")
            results = await measure(drivers, Path(folder), args.ops, args.rounds)
    report(results, args.ops)


def report(results: dict[str, dict[tuple[str, int], float]], ops: int) -> None:
    base = results["aiosqlite"]
    names = [n for n in ("psycopg", "asyncpg") if n in results]
    header = f"{'what':<24} | {'aiosqlite /s':>12}"
    for name in names:
        header += f" | {name + ' /s':>12} | {'÷ sqlite':>8}"
    if len(names) == 2:
        header += f" | {'psycopg ÷ asyncpg':>17}"
    print(header)
    if not names:
        summary("driver ops/s", f"{ops:,} ops", "PostgreSQL skipped", "–", "–")
    for key in base:
        what = f"{key[0]} ×{ops // 5 if key[0] == 'step' else ops}, {key[1]} task(s)"
        line = f"{what:<24} | {base[key]:>12,.0f}"
        for name in names:
            line += f" | {results[name][key]:>12,.0f} | {results[name][key] / base[key]:>8.2f}"
        if len(names) == 2:
            ratio = results["psycopg"][key] / results["asyncpg"][key]
            line += f" | {ratio:>17.2f}"
        print(line, flush=True)
        for name in names:
            summary(
                f"driver {key[0]} ops/s, {key[1]} task(s): {name}",
                f"{ops:,} ops" if key[0] != "step" else f"{ops // 5:,} steps of 5",
                f"{results[name][key]:,.0f}",
                f"{base[key]:,.0f} (aiosqlite)",
                f"{results[name][key] / base[key]:.2f}",
            )
        if len(names) == 2:
            summary(
                f"driver {key[0]} ops/s, {key[1]} task(s): psycopg vs asyncpg",
                f"{ops:,} ops" if key[0] != "step" else f"{ops // 5:,} steps of 5",
                f"{results['psycopg'][key]:,.0f}",
                f"{results['asyncpg'][key]:,.0f} (asyncpg)",
                f"{results['psycopg'][key] / results['asyncpg'][key]:.2f}",
            )


if __name__ == "__main__":
    asyncio.run(main())
