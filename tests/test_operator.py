"""The operator's kit: env files, flags anywhere, `appealdesk check`, careful backups, a
copy before migrations, the numeric id on /start, and Telegram through a proxy."""

from __future__ import annotations

import asyncio
import sqlite3
from urllib.parse import urlsplit

import pytest

from bot.checks import FAIL, OK, WARN, run_checks, token_check
from bot.cli import main, parser
from bot.config import BUNDLED_ORG_CONFIG, ConfigError, load_org, load_settings
from bot.sandbox.fake_api import FakeBotApi
from bot.sandbox.http_server import serve
from storage.migrations import MIGRATIONS
from tests.conftest import Db, open_database

NAMES = (
    "BOT_TOKEN", "ADMIN_IDS", "TIMEZONE", "ORG_CONFIG", "DATABASE_PATH", "TELEGRAM_BASE_URL",
    "TELEGRAM_PROXY", "APPEALDESK_ENV_FILE",
)  # fmt: skip


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_global_flags_are_taken_before_or_after_the_subcommand():
    late = parser().parse_args(["backup", "copy.sqlite3", "-v", "--env-file", "bot.env"])
    early = parser().parse_args(["-v", "--env-file", "bot.env", "backup", "copy.sqlite3"])
    for args in (late, early):
        assert (args.verbose, args.env_file, args.target) == (True, "bot.env", "copy.sqlite3")
    assert not hasattr(parser().parse_args(["demo"]), "verbose")  # absent means off


def test_an_env_file_elsewhere_is_read_and_its_relative_paths_are_its_own(clean_env, tmp_path):
    folder = tmp_path / "etc"
    folder.mkdir()
    env_file = folder / "bot.env"
    env_file.write_text("ADMIN_IDS=7,8\nDATABASE_PATH=data/bot.sqlite3\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    clean_env.chdir(elsewhere)
    settings = load_settings(env_file)
    assert settings.admin_ids == [7, 8]
    assert settings.database_path == folder / "data" / "bot.sqlite3"
    clean_env.setenv("APPEALDESK_ENV_FILE", str(env_file))
    assert load_settings().database_path == folder / "data" / "bot.sqlite3"
    with pytest.raises(ConfigError, match="env file not found: nowhere.env"):
        load_settings("nowhere.env")


@pytest.mark.parametrize("proxy", ["ftp://proxy:21", "proxy:8080", "socks4://proxy:1080"])
def test_a_proxy_setting_must_be_a_proxy_url(clean_env, proxy):
    clean_env.setenv("TELEGRAM_PROXY", proxy)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value).startswith("setting TELEGRAM_PROXY:") and "\n" not in str(err.value)


@pytest.mark.sqlite_only  # a SQLite file: missing, half made, a target taken
def test_backup_refuses_what_it_cannot_do_in_one_line(clean_env, tmp_path, capsys):
    assert main(["backup", "copy.sqlite3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("appealdesk: backup: no database at ") and "\n" not in err
    assert not (tmp_path / "appealdesk.sqlite3").exists()  # nothing created by the attempt

    with sqlite3.connect(
        tmp_path / "appealdesk.sqlite3"
    ) as conn:  # ours, not yet migrated (a file)
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at)")
    assert main(["backup", str(tmp_path / "missing" / "copy.sqlite3")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "taken.sqlite3").write_bytes(b"")
    assert main(["backup", "taken.sqlite3"]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.sqlite_only  # SQLite's online backup into a file (PostgreSQL: pg_dump)
async def test_backup_copies_the_database(clean_env, tmp_path, capsys):
    db = open_database(f"sqlite:///{tmp_path / 'appealdesk.sqlite3'}")
    await db.open()
    await db.close()
    assert await asyncio.to_thread(main, ["backup", "copy.sqlite3"]) == 0
    assert "written to copy.sqlite3" in capsys.readouterr().out
    copy = Db(f"sqlite:///{tmp_path / 'copy.sqlite3'}")
    assert copy.one("SELECT MAX(version) AS v FROM schema_migrations")["v"] == MIGRATIONS[-1][0]


@pytest.mark.sqlite_only  # the file copied before migrating (PostgreSQL: pg_dump first)
async def test_an_upgrade_keeps_a_copy_of_the_database_first(tmp_path):
    path = tmp_path / "appealdesk.sqlite3"
    conn = sqlite3.connect(path)  # a file as the previous version left it
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
    for version, sql in MIGRATIONS[:-1]:
        conn.executescript(sql)
        conn.execute("INSERT INTO schema_migrations VALUES (?, 'x')", (version,))
    conn.commit()
    conn.close()
    db = open_database(f"sqlite:///{path}")
    await db.open()
    await db.close()
    [copy] = list(tmp_path.glob(f"appealdesk.sqlite3.before-v{MIGRATIONS[-1][0]}-*.bak"))
    kept = Db(f"sqlite:///{copy}").one("SELECT MAX(version) AS v FROM schema_migrations")
    assert kept["v"] == MIGRATIONS[-2][0]
    await db.open()  # nothing pending: no second copy
    await db.close()
    assert len(list(tmp_path.glob("*.bak"))) == 1


@pytest.mark.sqlite_only  # the database check finds a damaged file
async def test_check_names_each_problem_in_one_line(clean_env, tmp_path):
    api = FakeBotApi()
    runner, port = await serve(api)
    try:
        clean_env.setenv("TELEGRAM_BASE_URL", f"http://127.0.0.1:{port}/bot")
        clean_env.setenv("BOT_TOKEN", "4242:check")
        clean_env.setenv("ADMIN_IDS", "9001")
        got = await asyncio.to_thread(lambda: list(run_checks()))
        status = {line.split(":")[0]: s for s, line in got}
        assert status == {
            "settings": OK,
            "org config": OK,
            "calendar": status["calendar"],  # depends on today's date and chinesecalendar
            "database": OK,
            "token": OK,
        }
        assert status["calendar"] in (OK, WARN)
        assert any(line.startswith("token: the bot is @") for _, line in got)

        (tmp_path / "appealdesk.sqlite3").write_bytes(b"not a database" * 100)
        got = await asyncio.to_thread(lambda: list(run_checks()))
        [database] = [(s, line) for s, line in got if line.startswith("database:")]
        assert database[0] == FAIL and "\n" not in database[1]
    finally:
        await runner.cleanup()
    clean_env.setenv("BOT_TOKEN", "4242:check")
    clean_env.setenv("TELEGRAM_BASE_URL", "http://127.0.0.1:9/bot")  # nothing listens
    settings = load_settings()
    status, line = await token_check(settings)
    assert status == FAIL and line.startswith("token: cannot reach the Bot API")


async def forward_proxy(seen: list[str]) -> tuple[asyncio.Server, int]:
    """A minimal HTTP forward proxy on 127.0.0.1 that records each request's target."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        first, rest = head.split(b"\r\n", 1)
        method, url, version = first.decode("latin-1").split(" ")
        seen.append(url)
        target = urlsplit(url)
        up_reader, up_writer = await asyncio.open_connection(target.hostname, target.port)
        path = target.path + (f"?{target.query}" if target.query else "")
        up_writer.write(f"{method} {path} {version}\r\n".encode("latin-1") + rest)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_telegram_is_reached_through_the_configured_proxy(clean_env, tmp_path):
    from bot.app import build_application

    api = FakeBotApi()
    runner, port = await serve(api)
    seen: list[str] = []
    proxy, proxy_port = await forward_proxy(seen)
    try:
        clean_env.setenv("TELEGRAM_BASE_URL", f"http://127.0.0.1:{port}/bot")
        clean_env.setenv("BOT_TOKEN", "4242:proxy")
        clean_env.setenv("TELEGRAM_PROXY", f"http://127.0.0.1:{proxy_port}")
        settings = load_settings()
        status, line = await token_check(settings)
        assert status == OK and line.endswith("through the proxy")
        assert seen == [f"http://127.0.0.1:{port}/bot4242:proxy/getMe"]

        app = build_application(settings, load_org(BUNDLED_ORG_CONFIG))
        await app.bot.initialize()
        await app.bot.send_message(30001, "经代理发送")
        await app.bot.shutdown()
        # the bot's own connection went through the proxy (its later requests reuse it)
        assert seen == [f"http://127.0.0.1:{port}/bot4242:proxy/getMe"] * 2
        assert [m.text for m in api.messages_to(30001)] == ["经代理发送"]
    finally:
        proxy.close()
        await runner.cleanup()


async def test_start_from_a_stranger_shows_their_numeric_id(sandbox):
    stranger = sandbox.person(30077, "刘局长")
    answer = await stranger.send("/start")
    assert "您的 Telegram 数字 ID：30077" in answer[-1]
    assert "ADMIN_IDS" in answer[-1]


def test_the_service_unit_and_the_image_run_commands_that_exist():
    """deploy/appealdesk.service and the Dockerfile call `appealdesk` subcommands this
    version has, with the env file the unit names."""
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    unit = (root / "deploy" / "appealdesk.service").read_text(encoding="utf-8")
    commands = [
        line.split("=", 1)[1].split()
        for line in unit.splitlines()
        if line.startswith(("ExecStart=", "ExecStartPre="))
    ]
    # `run` checks the database and the token itself; status 2 (a rejected token, a bad
    # setting) is not restarted, any other failure is
    assert [c[1:] for c in commands] == [["run"]]
    assert "RestartPreventExitStatus=2" in unit and "Restart=on-failure" in unit
    assert "Environment=APPEALDESK_ENV_FILE=/etc/appealdesk/appealdesk.env" in unit
    dockerfile = (root / "Dockerfile").read_text(encoding="utf-8")
    entry = next(json.loads(line.split(" ", 1)[1]) for line in dockerfile.splitlines()
                 if line.startswith("ENTRYPOINT"))  # fmt: skip
    cmd = next(json.loads(line.split(" ", 1)[1]) for line in dockerfile.splitlines()
               if line.startswith("CMD"))  # fmt: skip
    assert entry == ["appealdesk"] and cmd == ["run"]
    for args in ([*c[1:]] for c in commands):
        assert parser().parse_args(args).func is not None
    assert "USER appealdesk" in dockerfile and 'VOLUME ["/data"]' in dockerfile
