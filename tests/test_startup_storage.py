"""`appealdesk run` on a database it cannot use: every storage failure at start-up ends with
one line naming the file and the problem and a non-zero exit, never a hang or a traceback.

Each case runs the real command as a subprocess against the sandbox Bot API over HTTP. As
root (CI in a container) the bot runs without the capabilities that let root write
read-only files (as a service user would); a full disk is a file size limit (RLIMIT_FSIZE)
on the process."""

from __future__ import annotations

import asyncio
import ctypes
import os
import random
import re
import resource
import sqlite3
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.sandbox.fake_api import FakeBotApi
from bot.sandbox.http_server import serve
from storage.db import Database, DatabaseUnusable, database_errors
from storage.migrations import MIGRATIONS
from tests.test_http_run import appealdesk_command

# About SQLite itself: a file that is missing, read-only, damaged, locked or on a full disk.
pytestmark = pytest.mark.sqlite_only

# The problems that stay until somebody changes the file or the setting.
LASTING = r"is a folder|is not a SQLite database|another application's|newer AppealDesk|is damaged"
PATIENCE = 60.0  # a bound against a hang, not a speed assertion (a lock waits 5 s)
PAGE = 4096
AS_ROOT = os.geteuid() == 0
# Capabilities that let root ignore file modes: CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
# CAP_FOWNER; dropped from the bounding set, they are gone after exec.
ROOT_OVERRIDES = (1, 2, 3)
PR_CAPBSET_DROP = 24
SETTINGS = ("BOT_TOKEN", "ADMIN_IDS", "TIMEZONE", "ORG_CONFIG", "DATABASE_PATH",
            "TELEGRAM_BASE_URL", "TELEGRAM_PROXY", "APPEALDESK_ENV_FILE")  # fmt: skip


@dataclass
class Case:
    path: Path  # DATABASE_PATH
    expect: str  # a regular expression the line must match after the file's name
    file_size_limit: int | None = None
    holder: str | None = None  # Python run in another process that holds a lock
    same_as_check: bool = True  # `appealdesk check` reports this file with the same words
    after: list[Callable[[], None]] = field(default_factory=list)


def make_database(path: Path, rows: int = 1500) -> Path:
    """A database at the current schema holding some data (many pages)."""

    async def build() -> None:
        db = Database(path)
        await db.open()
        async with db.unit_of_work() as uow:
            await uow.conn.executemany(
                "INSERT INTO audit_events (subject, action, detail, created_at)"
                " VALUES ('appeal', 'note', ?, '2026-03-01T00:00:00+00:00')",
                [(f"{n:05d} " + "说明" * 60,) for n in range(rows)],
            )
            await uow.commit()
        await db.close()

    asyncio.run(build())
    return path


def overwrite(path: Path, offset: int, size: int, seed: int) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(random.Random(seed).randbytes(size))


def read_only_file(folder: Path) -> Case:
    path = make_database(folder / "appealdesk.sqlite3")
    path.chmod(0o444)
    return Case(path, r"cannot be written: the file is read-only")


def read_only_side_files(folder: Path) -> Case:
    """-wal and -shm files another user made (and the bot's user cannot write)."""
    path = make_database(folder / "appealdesk.sqlite3")
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        side.write_bytes(b"")
        side.chmod(0o444)
    return Case(path, r"cannot be written: appealdesk.sqlite3-wal beside it is read-only")


def read_only_folder(folder: Path) -> Case:
    (folder / "db").mkdir()
    path = make_database(folder / "db" / "appealdesk.sqlite3")
    path.parent.chmod(0o555)
    return Case(path, r"cannot be written: folder .* is read-only")


def read_only_folder_new(folder: Path) -> Case:
    (folder / "db").mkdir(mode=0o555)
    return Case(folder / "db" / "appealdesk.sqlite3", r"cannot be written: folder .* read-only")


def damaged_header(folder: Path) -> Case:
    path = make_database(folder / "appealdesk.sqlite3")
    overwrite(path, 0, 100, seed=1)
    return Case(path, r"is not a SQLite database")


def short_text_file(folder: Path) -> Case:
    """A few bytes that are not SQLite's (a mistyped DATABASE_PATH naming a note): SQLite
    itself would write a new database over them."""
    path = folder / "notes.txt"
    path.write_text("x")
    return Case(path, r"is not a SQLite database")


def newer_schema(folder: Path) -> Case:
    """A database a newer version migrated (an older version put back without the copy)."""
    path = make_database(folder / "appealdesk.sqlite3", rows=10)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (999, '2027-01-01T00:00:00+00:00')")
    return Case(path, r"was made by a newer AppealDesk \(schema 999; this version knows")


def another_applications(folder: Path) -> Case:
    """Another program's SQLite file: nothing of AppealDesk's is written into it."""
    path = folder / "places.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")

    def untouched() -> None:
        with sqlite3.connect(path) as conn:
            names = {n for (n,) in conn.execute("SELECT name FROM sqlite_master")}
        assert names == {"moz_places"}

    return Case(path, r"holds another application's tables", after=[untouched])


def another_tools_migrations(shape: str) -> Callable[[Path], Case]:
    """Other programs keep a `schema_migrations` too (Rails: text versions; golang-migrate:
    integer versions and a dirty flag; ours with a foreign table beside it)."""
    tables = {
        "rails": "CREATE TABLE schema_migrations (version varchar PRIMARY KEY);"
        " INSERT INTO schema_migrations VALUES ('20240101120000');"
        " CREATE TABLE users (id INTEGER PRIMARY KEY);",
        "golang-migrate": "CREATE TABLE schema_migrations (version uint64, dirty bool);"
        " INSERT INTO schema_migrations VALUES (3, 0); CREATE TABLE orders (id INTEGER);",
        "ours beside others": "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
        " applied_at TEXT NOT NULL); INSERT INTO schema_migrations VALUES (1, 'x');"
        " CREATE TABLE other (id INTEGER);",
    }[shape]

    def prepare(folder: Path) -> Case:
        path = folder / "app.sqlite3"
        with sqlite3.connect(path) as conn:
            conn.executescript(tables)
        before = path.read_bytes()

        def untouched() -> None:
            assert path.read_bytes() == before

        return Case(path, r"holds another application's tables", after=[untouched])

    return prepare


def a_folder(folder: Path) -> Case:
    path = folder / "appealdesk.sqlite3"
    path.mkdir()
    return Case(path, r"is a folder, not a database file")


def a_link_to_nowhere(folder: Path) -> Case:
    path = folder / "appealdesk.sqlite3"
    path.symlink_to(folder / "not-mounted" / "appealdesk.sqlite3")
    return Case(path, r"cannot be opened: it links to .*, whose folder does not exist")


def damaged_page(where: str) -> Callable[[Path], Case]:
    def prepare(folder: Path) -> Case:
        path = make_database(folder / "appealdesk.sqlite3")
        pages = path.stat().st_size // PAGE
        page = {"second": 2, "middle": pages // 2, "last": pages}[where]
        overwrite(path, (page - 1) * PAGE, PAGE, seed=page)
        return Case(path, r"is damaged|is not a SQLite database")

    return prepare


def missing_folder(folder: Path) -> Case:
    return Case(folder / "not-mounted" / "appealdesk.sqlite3", r"folder .* does not exist")


HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode = {mode}")
conn.execute("BEGIN EXCLUSIVE")
conn.execute("INSERT INTO operator_notes (key, created_at) VALUES ('lock', 'now')")
print("locked", flush=True)
sys.stdin.read()
"""


def locked(mode: str) -> Callable[[Path], Case]:
    """Another process holds the write lock (WAL: the bot's own mode) or, in a rollback
    journal, an exclusive lock that stops even readers."""

    def prepare(folder: Path) -> Case:
        path = make_database(folder / "appealdesk.sqlite3")
        # check reads a WAL database beside a writer: only the bot needs the lock
        return Case(path, r"is locked by another process", holder=HOLD_LOCK.format(mode=mode),
                    same_as_check=False)  # fmt: skip

    return prepare


# SQLite says "disk I/O error" or "database or disk is full"; the line adds the room left.
FULL = r"(full|I/O error).* files are limited to \d+ bytes for this process \(ulimit -f\)"


def disk_full_new(folder: Path) -> Case:
    return Case(folder / "appealdesk.sqlite3", FULL,
                file_size_limit=64 * 1024, same_as_check=False)  # fmt: skip


def disk_full_before_migration(folder: Path) -> Case:
    """An upgrade: the copy kept before migrating does not fit."""
    path = make_database(folder / "appealdesk.sqlite3")
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = ?", (MIGRATIONS[-1][0],))
    conn.close()
    size = path.stat().st_size

    def no_partial_copy_left() -> None:
        assert [p.name for p in folder.iterdir() if p.suffix == ".bak"] == []

    return Case(path, FULL, file_size_limit=size - 2 * PAGE, same_as_check=False,
                after=[no_partial_copy_left])  # fmt: skip


def disk_full_no_room_for_shm(folder: Path) -> Case:
    path = make_database(folder / "appealdesk.sqlite3")
    return Case(path, FULL, file_size_limit=16 * 1024, same_as_check=False)


CASES = {
    "read-only file": read_only_file,
    "read-only -wal and -shm": read_only_side_files,
    "read-only folder": read_only_folder,
    "read-only folder, new database": read_only_folder_new,
    "damaged header": damaged_header,
    "a short file that is not a database": short_text_file,
    "made by a newer version": newer_schema,
    "another application's database": another_applications,
    "another tool's schema_migrations (Rails)": another_tools_migrations("rails"),
    "another tool's schema_migrations (golang-migrate)": another_tools_migrations("golang-migrate"),
    "ours beside another application's table": another_tools_migrations("ours beside others"),
    "a folder": a_folder,
    "a link to a missing folder": a_link_to_nowhere,
    "damaged second page": damaged_page("second"),
    "damaged middle page": damaged_page("middle"),
    "damaged last page": damaged_page("last"),
    "missing folder": missing_folder,
    "locked by a writer (WAL)": locked("WAL"),
    "locked exclusively (rollback journal)": locked("DELETE"),
    "disk full, new database": disk_full_new,
    "disk full, copy before a migration": disk_full_before_migration,
    "disk full, no room for the -shm file": disk_full_no_room_for_shm,
}


@pytest.fixture
def folder(tmp_path):
    yield tmp_path / "case"
    for sub in tmp_path.rglob("*"):
        if sub.is_dir():
            sub.chmod(0o755)  # so that pytest can remove it


def child_limits(file_size: int | None = None) -> Callable[[], None]:
    """Run in the child before exec: as root, without root's power over file modes; the
    file size limit (a full disk) when given."""

    def limit() -> None:
        if AS_ROOT:
            libc = ctypes.CDLL(None, use_errno=True)
            for cap in ROOT_OVERRIDES:
                if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
        if file_size is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

    return limit


@pytest.fixture
async def bot_api():
    api = FakeBotApi()
    runner, port = await serve(api)
    yield api, port
    await runner.cleanup()


@pytest.mark.parametrize("name", CASES)
async def test_a_database_it_cannot_use_stops_the_bot_with_one_line(name, folder, bot_api):
    api, port = bot_api
    folder.mkdir()
    case = await asyncio.to_thread(CASES[name], folder)
    home = folder.parent / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    env.update(
        BOT_TOKEN="4242:start-up",
        TELEGRAM_BASE_URL=f"http://127.0.0.1:{port}/bot",
        DATABASE_PATH=str(case.path),
        HOME=str(home),
        MPLCONFIGDIR=str(home),
    )
    holder = None
    if case.holder:
        holder = await asyncio.create_subprocess_exec(
            sys.executable, "-c", case.holder, str(case.path),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert (await asyncio.wait_for(holder.stdout.readline(), PATIENCE)) == b"locked\n"
    try:
        process = await asyncio.create_subprocess_exec(
            *appealdesk_command(), "run",
            env=env, cwd=home, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            preexec_fn=child_limits(case.file_size_limit),
        )  # fmt: skip
        try:
            out, err = await asyncio.wait_for(process.communicate(), PATIENCE)
        except TimeoutError:
            process.kill()
            out, err = await process.communicate()
            pytest.fail(f"{name}: still running after {PATIENCE} s: {err.decode()[-2000:]}")
    finally:
        if holder is not None:
            holder.kill()
            await holder.wait()
    stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
    assert "Traceback" not in stdout + stderr, stderr
    # 2 (not restarted by the unit) for a wrong file, 1 (restarted) for what may clear
    lasting = re.search(LASTING, stderr) is not None
    assert process.returncode == (2 if lasting else 1), stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    [line] = lines
    prefix = f"appealdesk: database: {os.path.abspath(case.path)} "
    assert line.startswith(prefix), line
    assert re.search(case.expect, line[len(prefix) :]), line
    assert not any(m == "getUpdates" for m, _ in api.calls)  # it never served
    for then in case.after:
        then()
    if case.same_as_check:  # `appealdesk check` says the same about the file
        check = await asyncio.create_subprocess_exec(
            *appealdesk_command(), "check",
            env=env, cwd=home, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            preexec_fn=child_limits(case.file_size_limit),
        )  # fmt: skip
        out, _ = await asyncio.wait_for(check.communicate(), PATIENCE)
        assert check.returncode == 1
        assert f"FAIL  {line.removeprefix('appealdesk: ')}" in out.decode().splitlines()


@pytest.mark.parametrize("name", [n for n in CASES if "locked" not in n and "disk" not in n])
async def test_a_failed_open_leaves_no_connection_behind(name, folder):
    """An unclosed aiosqlite connection keeps a thread that keeps the process alive after
    the error: the start-up that logged a traceback and then neither exited nor polled."""
    if AS_ROOT and "read-only" in name:
        pytest.skip("root writes read-only files (covered by the subprocess test)")
    folder.mkdir()
    case = await asyncio.to_thread(CASES[name], folder)

    before = set(threading.enumerate())
    db = Database(case.path)
    with pytest.raises(DatabaseUnusable) as raised:
        # without the check (as other commands open it) the failure comes from SQLite's first
        # statements; a damaged page only from the check
        await db.open(check="page" in name)
    assert "\n" not in str(raised.value) and str(case.path.resolve()) in str(raised.value)
    for thread in set(threading.enumerate()) - before:
        if "_connection_worker_thread" not in thread.name:  # aiosqlite's, per connection
            continue
        await asyncio.to_thread(thread.join, 5.0)
        assert not thread.is_alive(), thread.name


@pytest.mark.parametrize(
    ("error", "problem"),
    [
        (sqlite3.OperationalError("database is locked"), "is locked by another process"),
        (sqlite3.OperationalError("database or disk is full"), "cannot be written: the disk"),
        (sqlite3.DatabaseError("database disk image is malformed"), "is damaged"),
        (sqlite3.OperationalError("disk I/O error"), "cannot be read or written (I/O error)"),
    ],
)
def test_a_storage_error_met_after_the_open_is_one_line_too(tmp_path, error, problem):
    """What start-up (after the open) or a command meets from SQLite reads as the open's."""
    path = make_database(tmp_path / "appealdesk.sqlite3", rows=1)
    codes = {"locked": sqlite3.SQLITE_BUSY, "full": sqlite3.SQLITE_FULL,
             "malformed": sqlite3.SQLITE_CORRUPT, "I/O": sqlite3.SQLITE_IOERR}  # fmt: skip
    error.sqlite_errorcode = next(c for word, c in codes.items() if word in str(error))
    with pytest.raises(DatabaseUnusable) as raised, database_errors(path):
        raise error
    assert str(raised.value).startswith(f"database: {path.resolve()} {problem}")
    assert "\n" not in str(raised.value) and str(error) in str(raised.value)


FAILING_START = """
import sys
from telegram.ext import Application
import bot.app

async def fail(*args, **kwargs):
    raise RuntimeError("a fault during start-up")

bot.app.sync_departments = fail  # fails after the database is open (post_init)
Application.shutdown = fail  # and PTB's own shutdown too: post_shutdown never closes it
from bot.cli import main
sys.exit(main(["run"]))
"""


async def test_any_fault_during_start_up_ends_the_process(bot_api, tmp_path):
    """Not only storage errors: whatever fails while starting, the process exits."""
    api, port = bot_api
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    env.update(BOT_TOKEN="4242:start-up", TELEGRAM_BASE_URL=f"http://127.0.0.1:{port}/bot",
               DATABASE_PATH=str(tmp_path / "appealdesk.sqlite3"))  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", FAILING_START, env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        _, err = await asyncio.wait_for(process.communicate(), PATIENCE)
    except TimeoutError:
        process.kill()
        pytest.fail(f"still running {PATIENCE} s after a fault during start-up")
    assert process.returncode != 0
    assert "a fault during start-up" in err.decode()
    assert any(m == "getMe" for m, _ in api.calls)  # it got as far as Telegram
    assert not any(m == "getUpdates" for m, _ in api.calls)
