"""The command line never prints a traceback: every command given bad input, a bad setting or
a missing or unusable database answers with one line on stderr and a non-zero status, and
creates nothing (no database file appears). Dates and weeks are read as the chat reads them."""

from __future__ import annotations

import asyncio
import logging
import re
import shlex
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest

from bot import cli
from bot.cli import main
from bot.task_files import HEADERS
from storage.db import Database
from storage.factory import pg_dump_recipe
from storage.migrations import MIGRATIONS

NAMES = (
    "BOT_TOKEN", "ADMIN_IDS", "TIMEZONE", "ORG_CONFIG", "DATABASE_PATH", "TELEGRAM_BASE_URL",
    "TELEGRAM_PROXY", "APPEALDESK_ENV_FILE", "DATABASE_URL",
)  # fmt: skip
GOOD_CSV = (
    ",".join(HEADERS)
    + "\n1,作风建设,回复雷同,抽查通报,王局长,市地方金融管理局,李明,2026-03-31,整改中\n"
)


@pytest.fixture
def folder(monkeypatch, tmp_path) -> Path:
    """An empty working folder with the ledger to import and an ordinary file in it."""
    monkeypatch.chdir(tmp_path)
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "ledger.csv").write_text(GOOD_CSV, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    (tmp_path / "empty.sqlite3").write_bytes(b"")  # what a start that failed may leave
    with sqlite3.connect(tmp_path / "places.sqlite") as conn:  # another program's database
        conn.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
    (tmp_path / "sub").mkdir()
    return tmp_path


def one_line_refusal(args: list[str], capsys) -> str:
    code = main(args)
    out, err = capsys.readouterr()
    assert code != 0, out
    assert "Traceback" not in err + out
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("appealdesk: ")
    return err.strip()


# Command × bad input, run where no database exists: (argv, what the line says).
NO_DATABASE = [
    (["export", "l.xlsx"], "export: no database at"),
    (["export", "l.xlsx", "--from", "2026-3-5"], "export: no database at"),
    (["export", "l.xlsx", "--from", "3月5日"], "export: no database at"),
    (["export", "l.xlsx", "--from", "3月32日"], "--from '3月32日' is not a date"),
    (["export", "l.xlsx", "--from", "2026-02-30"], "--from '2026-02-30' is not a date"),
    (["export", "l.xlsx", "--to", "soon"], "--to 'soon' is not a date"),
    (["export", "l.xlsx", "--to", "9999-12-31"], "--to '9999-12-31': the year must be from 1900"),
    (["export", "l.xlsx", "--from", "0001-01-01"], "--from '0001-01-01': the year must be from"),
    (["digest", "--week", "0001-W01"], "--week '0001-W01': the year must be from 1900 to 2999"),
    (["digest", "--week", "1899-W52"], "--week '1899-W52': the year must be from 1900 to 2999"),
    (
        ["export", "l.xlsx", "--from", "2026-03-31", "--to", "2026-01-01"],
        "--from 2026-03-31 is after --to 2026-01-01 (the earlier date goes first: "
        "--from 2026-01-01 --to 2026-03-31)",
    ),
    (
        ["export", "l.xlsx", "--from", "2025-12", "--to", "2025-11"],
        "--from 2025-12-01 is after --to 2025-11-30",
    ),
    (["export", "l.xlsx", "--from", "2999-01-01"], "--from 2999-01-01 has not come yet"),
    (["export", "l.xlsx", "--from", "2999年"], "--from 2999-01-01 has not come yet"),
    (["export", "l.xlsx", "--from", "2025-11", "--to", "2025-12"], "export: no database at"),
    (["export", "l.xlsx", "--from", "2025年11月", "--to", "2026年"], "export: no database at"),
    (["export", "l.xlsx", "--from", "11月"], "export: no database at"),
    (["export", "l.xlsx", "--from", "2025"], "export: no database at"),
    (["export", "l.xlsx", "--from", "2025-13"], "--from '2025-13' is not a date"),
    (["export", "l.xlsx", "--to", "1899年"], "--to '1899年': the year must be from 1900"),
    (
        ["export", "l.xlsx", "--from", "2026-12-01 周五"],
        "--from '2026-12-01 周五': 2026-12-01 is a Tuesday, not a Friday",
    ),
    (["export", "l.xlsx", "--from", "2025-12-02 周二"], "export: no database at"),
    (["export"], "the following arguments are required: file"),
    (["export", "missing/l.xlsx"], "export: folder"),
    (["export", "sub"], "export: sub is a folder"),
    (["export", ""], "export: the output file name is empty"),
    (["export", "ledger.csv"], "export: ledger.csv must end in .xlsx"),
    (["export", "l.xls"], "export: l.xls must end in .xlsx"),
    (["digest"], "digest: no database at"),
    (["digest", "--week", "11"], "--week '11': a week needs its year, e.g. "),
    (["digest", "--week", "2026-W60"], "--week '2026-W60': 2026 has 53 ISO weeks"),
    (["digest", "--week", "W60"], "--week 'W60': a week needs its year"),
    (["digest", "--week", "last"], "--week 'last': not a week; write it like "),
    (["digest", "--week", "2999-W01"], "--week '2999-W01': 2999-W01 has not begun yet"),
    (["digest", "--send", "--week", "2026-W60"], "2026 has 53 ISO weeks"),
    (["digest", "--out", "notes.txt"], "digest: notes.txt is a file, not a folder"),
    (["digest", "--out", "notes.txt/charts"], "is a file, not a folder"),
    (["digest", "--send"], "digest: no database at"),
    (["tasks", "import", "ledger.csv"], "tasks import: no database at"),
    (["tasks", "import", "nothere.csv"], "tasks import: cannot read nothere.csv"),
    (["tasks", "import", "sub"], "tasks import: cannot read sub"),
    (["tasks", "import", "notes.docx"], "tasks import: cannot read notes.docx: 不支持的文件类型"),
    (["tasks", "export", "t.xlsx"], "tasks export: no database at"),
    (["tasks", "export", "sub"], "tasks export: sub is a folder"),
    (["tasks", "export", "missing/t.xlsx"], "tasks export: folder"),
    (["tasks", "export", "t.csv"], "tasks export: t.csv must end in .xlsx"),
    (["tasks", "merge", "t.xlsx"], "invalid choice: 'merge'"),
    (["backup", "copy.sqlite3"], "backup: no database at"),
    (["bogus"], "invalid choice: 'bogus'"),
    (["--env-file", "nowhere.env", "export", "l.xlsx"], "env file not found: nowhere.env"),
]


@pytest.mark.parametrize(("args", "says"), NO_DATABASE, ids=[" ".join(a) for a, _ in NO_DATABASE])
def test_a_command_given_bad_input_answers_in_one_line_and_creates_nothing(
    folder, capsys, args, says
):
    before = sorted(p.name for p in folder.rglob("*"))
    line = one_line_refusal(args, capsys)
    assert says in line
    assert sorted(p.name for p in folder.rglob("*")) == before  # no database, no output


COMMANDS = [
    ["export", "l.xlsx"],
    ["digest"],
    ["tasks", "import", "ledger.csv"],
    ["tasks", "export", "t.xlsx"],
    ["backup", "copy.sqlite3"],
]
# (setting, value, what the line says); "{folder}" is the working folder.
SETTINGS = [
    ("DATABASE_PATH", "", "setting DATABASE_PATH: Value error, is empty"),
    ("DATABASE_PATH", "   ", "setting DATABASE_PATH: Value error, is empty"),
    ("DATABASE_PATH", "{folder}", "is a folder, not a database file"),
    ("DATABASE_PATH", "notes.txt", "is not a SQLite database"),
    ("DATABASE_PATH", "empty.sqlite3", "is empty: no AppealDesk data"),
    ("DATABASE_PATH", "places.sqlite", "holds another application's tables"),
    ("ORG_CONFIG", "", "setting ORG_CONFIG: Value error, is empty"),
    ("ORG_CONFIG", "{folder}", "setting ORG_CONFIG: cannot read"),
    ("TIMEZONE", "Mars/Base", "setting TIMEZONE:"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
@pytest.mark.parametrize(
    ("name", "value", "says"), SETTINGS, ids=[f"{n}={v!r}" for n, v, _ in SETTINGS]
)
def test_an_empty_or_unusable_setting_is_one_line(
    folder, monkeypatch, capsys, args, name, value, says
):
    monkeypatch.setenv(name, value.format(folder=folder))
    before = sorted(p.name for p in folder.rglob("*"))
    assert says in one_line_refusal(args, capsys)
    assert sorted(p.name for p in folder.rglob("*")) == before


@pytest.fixture
async def database(folder) -> Path:
    db = Database(folder / "appealdesk.sqlite3")
    await db.open()
    await db.close()
    return folder / "appealdesk.sqlite3"


# With a database: outputs the system refuses, and the dates the chat accepts.
WITH_DATABASE = [
    (["export", "/proc/l.xlsx"], "export: cannot write /proc/l.xlsx"),
    (["tasks", "export", "/proc/t.xlsx"], "tasks export: cannot write /proc/t.xlsx"),
    (["backup", "/proc/copy.sqlite3"], "backup: cannot write /proc/copy.sqlite3"),
    (["backup", "notes.txt"], "backup: notes.txt already exists"),
    (["digest", "--send"], "setting BOT_TOKEN: required"),
]


@pytest.mark.parametrize(
    ("args", "says"), WITH_DATABASE, ids=[" ".join(a) for a, _ in WITH_DATABASE]
)
async def test_an_output_the_system_refuses_is_one_line(database, capsys, args, says):
    line = await asyncio.to_thread(one_line_refusal, args, capsys)
    assert says in line


@pytest.mark.parametrize(
    ("args", "period"),
    [
        (["--from", "2026-3-5", "--to", "2026/6/30 0:00"], "(2026-03-05 to 2026-06-30)"),
        (["--from", "2026年1月1日", "--to", "2026.1.31"], "(2026-01-01 to 2026-01-31)"),
        (["--from", "2026-01-01"], "(2026-01-01 to "),
    ],
)
async def test_export_reads_dates_as_the_chat_does(database, folder, capsys, args, period):
    assert await asyncio.to_thread(main, ["export", "l.xlsx", *args]) == 0
    assert period in capsys.readouterr().out
    assert (folder / "l.xlsx").stat().st_size > 0


async def test_a_week_written_as_in_chat_is_taken(database, capsys):
    assert await asyncio.to_thread(main, ["digest", "--week", "2026年第10周"]) == 0
    assert capsys.readouterr().out.startswith("督察通报（2026年第10周：2026-03-02 至 2026-03-08）")


def test_an_unexpected_fault_is_one_line_with_a_pointer_to_v(folder, monkeypatch, capsys):
    def broken(args):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(cli, "cmd_export", broken)
    line = one_line_refusal(["export", "l.xlsx"], capsys)
    assert line == (
        "appealdesk: unexpected error: RuntimeError: disk on fire second line"
        " (run again with -v for details)"
    )
    # with -v the traceback is logged for the operator, and the last line is the same kind
    assert main(["export", "l.xlsx", "-v"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: disk on fire" in err
    assert err.splitlines()[-1].startswith("appealdesk: unexpected error: RuntimeError:")


def test_the_installed_command_prints_no_traceback(folder):
    """The real entry point, in a child process: the issue's own reproductions."""
    for args in (
        ["export", "l.xlsx", "--from", "2026-3-5"],
        ["export", "l.xlsx", "--from", "2026-12-31", "--to", "2026-01-01"],
        ["digest", "--week", "2026-W60"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "DATABASE_PATH": ""},
        )
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not (folder / "appealdesk.sqlite3").exists()


def test_a_database_that_is_not_sqlite_is_left_as_it_was(folder, monkeypatch, capsys):
    (folder / "bad.sqlite3").write_bytes(b"not a database, " * 512)
    monkeypatch.setenv("DATABASE_PATH", "bad.sqlite3")
    for args in COMMANDS:
        assert "is not a SQLite database" in one_line_refusal(args, capsys)
    assert (folder / "bad.sqlite3").read_bytes() == b"not a database, " * 512
    assert sorted(p.name for p in folder.iterdir()) == [
        "bad.sqlite3",
        "empty.sqlite3",
        "ledger.csv",
        "notes.docx",
        "notes.txt",
        "places.sqlite",
        "sub",
    ]
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(folder / "bad.sqlite3").execute("PRAGMA schema_version").fetchone()


# `digest --send` -------------------------------------------------------------------------------


@pytest.fixture
async def bot_api(monkeypatch):
    """A fake Bot API over HTTP, and the settings that point the command at it."""
    from bot.sandbox.fake_api import FakeBotApi
    from bot.sandbox.http_server import serve

    api = FakeBotApi()
    runner, port = await serve(api)
    # the server's access log shares this process's stderr with the command's one line
    monkeypatch.setattr(logging.getLogger("aiohttp.access"), "disabled", True)
    monkeypatch.setenv("BOT_TOKEN", "4242:digest-send")
    monkeypatch.setenv("TELEGRAM_BASE_URL", f"http://127.0.0.1:{port}/bot")
    monkeypatch.setenv("ADMIN_IDS", "900001")
    yield api
    await runner.cleanup()


async def test_digest_send_refuses_a_missing_database(folder, bot_api, capsys):
    line = await asyncio.to_thread(one_line_refusal, ["digest", "--send"], capsys)
    assert line.startswith("appealdesk: digest: no database at")
    assert not (folder / "appealdesk.sqlite3").exists()
    assert bot_api.calls == []  # refused before Telegram is asked anything


@pytest.mark.parametrize(
    ("error", "code", "says"),
    [
        ("database is locked", sqlite3.SQLITE_BUSY, "is locked by another process"),
        ("database or disk is full", sqlite3.SQLITE_FULL, "cannot be written: the disk"),
        ("database disk image is malformed", sqlite3.SQLITE_CORRUPT, "is damaged"),
    ],
)
async def test_a_storage_fault_while_sending_the_digest_is_the_one_line(
    database, bot_api, monkeypatch, capsys, error, code, says
):
    """A SQLite fault met while the digest is queued and sent reads as every command's
    (`database: <file> <problem>`), not as an unexpected error."""

    async def failing(bot, env, week):
        fault = (sqlite3.DatabaseError if "malformed" in error else sqlite3.OperationalError)(error)
        fault.sqlite_errorcode = code
        raise fault

    monkeypatch.setattr("handlers.digest.send_weekly_digests", failing)
    line = await asyncio.to_thread(one_line_refusal, ["digest", "--send"], capsys)
    assert line.startswith(f"appealdesk: database: {database.resolve()} {says}"), line
    assert "unexpected error" not in line


async def test_digest_send_sends_the_week_once(database, bot_api, capsys):
    assert await asyncio.to_thread(main, ["digest", "--send", "--week", "2026-W10"]) == 0
    assert "digest 2026-W10 sent to 1 chat(s)" in capsys.readouterr().out
    [text] = [m.plain for m in bot_api.messages_to(900001) if "督察通报" in m.plain][:1]
    assert text.startswith("督察通报（2026年第10周")
    assert await asyncio.to_thread(main, ["digest", "--send", "--week", "2026-W10"]) == 0
    assert "sent to 0 chat(s)" in capsys.readouterr().out


async def test_digest_send_with_a_rejected_token_is_one_line(database, bot_api, capsys):
    bot_api.fail("getMe", 401, "Unauthorized")
    line = await asyncio.to_thread(one_line_refusal, ["digest", "--send"], capsys)
    assert line == (
        "appealdesk: setting BOT_TOKEN: Telegram rejected the token (check it with @BotFather)"
    )


# The departments' views printed with a week's digest ------------------------------------------


async def test_digest_prints_the_departments_views_that_go_with_the_asked_week(
    sandbox, people, settings, monkeypatch, capsys, tmp_path
):
    """`--week W` prints each department's view of the week W's digest is sent in (本周到期:
    due in it), as Monday's run sends it — not of the week the command happens to run in."""
    from tests.conftest import file_appeal

    number = await file_appeal(people.company, "融资")  # 2026-03-10: due 2026-03-24 (W13)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_PATH", raising=False)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setattr(cli, "local_today", lambda settings: date(2026, 3, 31))  # in W14

    async def departments_part(week: str) -> str:
        assert await asyncio.to_thread(main, ["digest", "--week", week]) == 0
        out = capsys.readouterr().out
        return out[out.index("市地方金融管理局 诉求周报") :]

    due = await departments_part("2026-W12")  # sent in W13, when the appeal falls due
    assert due.startswith("市地方金融管理局 诉求周报（2026年第13周）")
    assert "本周到期 1 件" in due and f"{number}｜融资｜期限 2026-03-24" in due
    later = await departments_part("2026-W13")
    assert later.startswith("市地方金融管理局 诉求周报（2026年第14周）")
    assert "本周到期 0 件" in later and "期限 2026-03-24" not in later
    # without --week: last week's digest, with this week's views (what Monday's run sends)
    assert await asyncio.to_thread(main, ["digest"]) == 0
    assert "市地方金融管理局 诉求周报（2026年第14周）" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["{folder}", "notes.txt", "empty.sqlite3", "places.sqlite"])
@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_a_wrong_database_file_is_status_2_as_a_bad_setting_is(
    folder, monkeypatch, capsys, args, value
):
    """Waiting will not mend these (a supervisor must not restart in a loop): status 2."""
    monkeypatch.setenv("DATABASE_PATH", value.format(folder=folder))
    assert main(args) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_a_link_to_a_missing_database_is_one_line(folder, monkeypatch, capsys, args):
    (folder / "link.sqlite3").symlink_to(folder / "gone.sqlite3")
    monkeypatch.setenv("DATABASE_PATH", "link.sqlite3")
    assert "which does not exist" in one_line_refusal(args, capsys)
    assert not (folder / "gone.sqlite3").exists()


async def test_a_database_reached_through_a_link_is_used(folder, monkeypatch, capsys):
    """SQLite keeps -wal and -shm beside the link's target: that folder is the one that
    must take files, not the link's."""
    from storage.db import Database

    (folder / "data").mkdir()
    made = Database(folder / "data" / "appealdesk.sqlite3")
    await made.open()
    await made.close()
    (folder / "link.sqlite3").symlink_to(folder / "data" / "appealdesk.sqlite3")
    monkeypatch.setenv("DATABASE_PATH", "link.sqlite3")
    assert await asyncio.to_thread(main, ["export", "l.xlsx"]) == 0
    assert "exported 0 appeals" in capsys.readouterr().out


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_a_damaged_database_is_named_by_every_command_and_never_backed_up(
    folder, monkeypatch, capsys, args
):
    """Every page is read first: a command never meets the damage halfway (blaming its
    output), and a backup never copies a damaged file as if it were fine."""
    from tests.test_startup_storage import damaged_page

    case = damaged_page("middle")(folder)
    capsys.readouterr()  # what making it logged
    monkeypatch.setenv("DATABASE_PATH", str(case.path))
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(r"is damaged|is not a SQLite database", err), err
    assert not (folder / "copy.sqlite3").exists()


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_a_database_in_a_missing_folder_is_said_as_run_says_it(folder, monkeypatch, capsys, args):
    monkeypatch.setenv("DATABASE_PATH", str(folder / "not-mounted" / "appealdesk.sqlite3"))
    assert main(args) == 1
    assert (
        "folder" in capsys.readouterr().err
        and "does not exist" in capsys.readouterr().err + "does not exist"
    )


# The schema and the backend: migrate, backup and check per backend -------------------------


def test_migrate_status_and_apply_on_a_new_sqlite_file(folder, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///bureau.sqlite3")
    known = ", ".join(str(v) for v, _ in MIGRATIONS)
    assert main(["migrate", "status"]) == 1  # pending: a script can wait for 0
    out = capsys.readouterr().out
    assert "database: bureau.sqlite3 does not exist yet" in out
    assert "applied: none" in out and f"pending: {known}" in out
    assert not (folder / "bureau.sqlite3").exists()  # status writes nothing
    assert main(["migrate", "apply"]) == 0
    assert f"applied {known} to bureau.sqlite3; schema {MIGRATIONS[-1][0]}" in (
        capsys.readouterr().out
    )
    assert main(["migrate", "status"]) == 0
    out = capsys.readouterr().out
    assert f"applied: {known}" in out and "pending: none" in out
    assert main(["migrate", "apply"]) == 0
    assert "nothing to apply: bureau.sqlite3 is at schema" in capsys.readouterr().out


def test_migrate_apply_upgrades_an_older_database_and_keeps_a_copy(folder, monkeypatch, capsys):
    """A database one migration behind: status names it, apply applies only it, after a copy."""
    last = MIGRATIONS[-1][0]
    with sqlite3.connect(folder / "old.sqlite3") as conn:
        conn.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        for version, sql in MIGRATIONS[:-1]:
            conn.executescript(sql)
            conn.execute("INSERT INTO schema_migrations VALUES (?, 'then')", (version,))
    conn.close()
    monkeypatch.setenv("DATABASE_PATH", "old.sqlite3")  # the old spelling still works
    assert main(["migrate", "status"]) == 1
    assert f"pending: {last}\n" in capsys.readouterr().out
    assert main(["migrate", "apply"]) == 0
    out, err = capsys.readouterr()
    assert f"applied {last} to old.sqlite3; schema {last} (current)" in out
    assert f"database copied to old.sqlite3.before-v{last}-" in err
    assert len(list(folder.glob(f"old.sqlite3.before-v{last}-*.bak"))) == 1


@pytest.mark.parametrize(
    ("value", "said", "status"),
    [
        ("places.sqlite", "holds another application's tables", 2),
        ("notes.txt", "is not a SQLite database", 2),
        ("{folder}/gone/a.sqlite3", "does not exist", 1),
    ],
)
def test_migrate_status_names_a_file_it_cannot_read(
    folder, monkeypatch, capsys, value, said, status
):
    monkeypatch.setenv("DATABASE_URL", value.format(folder=folder))
    assert main(["migrate", "status"]) == status
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err


def test_migrate_status_refuses_a_schema_from_a_newer_version(folder, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "bureau.sqlite3")
    assert main(["migrate", "apply"]) == 0
    with sqlite3.connect(folder / "bureau.sqlite3") as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'later')")
    conn.close()
    capsys.readouterr()
    assert main(["migrate", "status"]) == 2
    assert "has schema 999, made by a newer AppealDesk" in capsys.readouterr().err


def test_backup_of_postgresql_prints_the_pg_dump_recipe_without_the_password(
    folder, monkeypatch, capsys
):
    """Nothing is copied (status 2, so a script does not take it for a backup); the recipe
    names the URL's parts and never its password."""
    secret = "n0t-Shown"
    monkeypatch.setenv(
        "DATABASE_URL",
        f"postgresql://desk:{secret}@db.example:5433/appealdesk?sslmode=verify-full"
        "&sslrootcert=/etc/ca.crt",
    )
    assert main(["backup", "appealdesk.dump"]) == 2
    out, err = capsys.readouterr()
    assert secret not in out + err
    assert "postgresql://desk:***@db.example:5433/appealdesk?sslmode=verify-full" in out
    # the bot's URL without its password: sslmode and sslrootcert hold for the tools too
    assert (
        "pg_dump -Fc -d 'postgresql://desk@db.example:5433/appealdesk?sslmode=verify-full"
        "&sslrootcert=%2Fetc%2Fca.crt' -f appealdesk.dump"
    ) in out
    # the bot's role may not create databases: the superuser makes the one to restore into
    assert (
        "sudo -u postgres createdb -h db.example -p 5433 --owner desk --encoding UTF8"
        " --locale C.UTF-8 --template template0 appealdesk_restored"
    ) in out
    assert (
        "pg_restore --no-owner -d 'postgresql://desk@db.example:5433/appealdesk_restored"
        "?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.crt' appealdesk.dump"
    ) in out
    assert not (folder / "appealdesk.dump").exists()


@pytest.mark.parametrize(
    ("url", "server"),
    [
        ("postgresql://desk@db.example:5433/appealdesk", ["-h", "db.example", "-p", "5433"]),
        ("postgresql://desk@/appealdesk?host=/srv/pg&port=5433", ["-h", "/srv/pg", "-p", "5433"]),
        ("postgresql://desk@/appealdesk", []),
    ],
)
def test_the_recipe_makes_the_database_on_the_bots_server(url, server):
    """createdb reaches the server the URL names, in its address or as a socket folder."""
    line = next(x for x in pg_dump_recipe(url, Path("a.dump")).splitlines() if "createdb" in x)
    words = shlex.split(line)
    named = words[words.index("createdb") + 1 : words.index("--owner")]
    assert named == server


@pytest.mark.parametrize(
    ("database", "owner", "target"),
    [
        ("appealdesk", "desk", "back up/appeal desk.dump"),
        ("o'brien", "d$esk", "x;rm -rf ~.dump"),
        ("台账 2026", "desk`id`", "$(touch pwned).dump"),
    ],
)
def test_the_pg_dump_recipe_is_safe_to_paste_into_a_shell(database, owner, target):
    """Whatever the names hold (spaces, quotes, `$`, `;`, backticks), each line of the recipe
    splits back into exactly the arguments meant: nothing in it runs by itself."""
    url = f"postgresql://{quote(owner)}:pw@db.example/{quote(database)}"
    lines = [line.strip() for line in pg_dump_recipe(url, Path(target)).splitlines()]
    dump, create, restore = (
        shlex.split(line) for line in lines if line.startswith(("pg_", "sudo"))
    )
    assert dump[:3] == ["pg_dump", "-Fc", "-d"] and dump[-2:] == ["-f", target]
    assert unquote(urlsplit(dump[3]).path.strip("/")) == database
    assert create[-1] == f"{database}_restored" and create[create.index("--owner") + 1] == owner
    assert restore[-1] == target
    assert unquote(urlsplit(restore[-2]).path.strip("/")) == f"{database}_restored"


def test_an_unreachable_postgresql_server_is_one_line_everywhere(folder, monkeypatch, capsys):
    secret = "n0t-Shown"
    monkeypatch.setenv("DATABASE_URL", f"postgresql://desk:{secret}@127.0.0.1:1/appealdesk")
    for args in (["migrate", "status"], ["export", "l.xlsx"], ["digest"]):
        assert main(args) == 1, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and secret not in err
        assert err.startswith("appealdesk: database: postgresql://desk:***@127.0.0.1:1/appealdesk")
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  database: postgresql://desk:***@127.0.0.1:1/appealdesk cannot be used" in out
    assert secret not in out


def test_migrate_and_check_on_postgresql(folder, monkeypatch, capsys, pg_url):
    monkeypatch.setenv("DATABASE_URL", pg_url)
    assert main(["migrate", "status"]) == 1
    assert "applied: none" in capsys.readouterr().out
    assert main(["migrate", "apply"]) == 0
    assert "(current)" in capsys.readouterr().out
    assert main(["migrate", "status"]) == 0
    assert "pending: none" in capsys.readouterr().out
    assert main(["check"]) == 1  # no token; the database line is ok
    out = capsys.readouterr().out
    assert re.search(r"ok    database: postgresql://.* reachable \(PostgreSQL 1\d", out), out
    assert f"schema {MIGRATIONS[-1][0]} (current)" in out
