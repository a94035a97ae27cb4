"""Start-up: settings, org config, migrations, menus and the calendar warning."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from bot.cli import main
from bot.clock import ManualClock
from bot.config import BUNDLED_ORG_CONFIG, ConfigError, load_org, load_settings
from bot.sandbox.chat import Sandbox
from bot.sandbox.fake_api import FakeBotApi
from storage.migrations import MIGRATIONS
from tests.conftest import LEADER_ID, SHANGHAI, file_appeal, join, open_database, register

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("BOT_TOKEN", "ADMIN_IDS", "TIMEZONE", "ORG_CONFIG", "DATABASE_PATH"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_settings_from_environment(clean_env):
    clean_env.setenv("ADMIN_IDS", "1001, 1002")
    clean_env.setenv("TELEGRAM_BASE_URL", "http://127.0.0.1:8081/bot")
    settings = load_settings()
    assert settings.admin_ids == [1001, 1002]
    assert settings.telegram_base_url == "http://127.0.0.1:8081/bot"
    assert settings.timezone == "Asia/Shanghai" and settings.bot_token is None


@pytest.mark.parametrize(
    ("name", "value"),
    [("ADMIN_IDS", "12,abc"), ("TIMEZONE", "Mars/Olympus"), ("TELEGRAM_BASE_URL", "ftp://x")],
)
def test_bad_setting_is_one_clear_line(clean_env, name, value):
    clean_env.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value).startswith(f"setting {name}:")
    assert "\n" not in str(err.value)


def test_bad_org_config_is_one_clear_line(tmp_path):
    bad = tmp_path / "org.toml"
    bad.write_text(
        BUNDLED_ORG_CONFIG.read_text(encoding="utf-8").replace(
            'department = "rsj"', 'department = "nope"'
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_org(bad)
    assert "unknown department nope" in str(err.value) and "\n" not in str(err.value)
    broken = tmp_path / "broken.toml"
    broken.write_text("name = ", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_org(broken)
    with pytest.raises(ConfigError, match="file not found"):
        load_org(tmp_path / "missing.toml")


def test_cli_stops_with_one_line(clean_env, capsys):
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "appealdesk: setting BOT_TOKEN: required for `appealdesk run` "
        "(try `appealdesk demo` for the offline sandbox)"
    ]
    clean_env.setenv("ORG_CONFIG", "missing.toml")
    assert main(["demo"]) == 2
    assert capsys.readouterr().err.startswith("appealdesk: setting ORG_CONFIG: file not found")


async def test_migrations_apply_once_and_audit_is_append_only(database_url, db):
    for _ in range(2):
        database = open_database(database_url)
        await database.open()
        await database.close()
    assert db.count("schema_migrations") == len(MIGRATIONS)
    db.execute("INSERT INTO audit_events (subject, action, created_at) VALUES ('x', 'y', ?)", NOW)
    for sql in ("UPDATE audit_events SET action = 'changed'", "DELETE FROM audit_events"):
        with pytest.raises(db.error, match="append-only"):
            db.execute(sql)
    assert db.count("audit_events") == 1


@pytest.mark.sqlite_only  # the journal mode of the file
async def test_a_new_database_file_is_in_wal_mode(tmp_path):
    path = tmp_path / "db.sqlite3"
    database = open_database(f"sqlite:///{path}")
    await database.open()
    await database.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_failed_set_my_commands_only_warns_and_menus_follow_roles(
    settings, org, clock, caplog
):
    api = FakeBotApi()
    api.fail("setMyCommands", 400, "Bad Request: commands are not allowed")
    box = await Sandbox.start(settings, org, clock, api=api)
    try:
        leader = box.person(LEADER_ID, "王局长")
        assert "局领导/督办员" in (await leader.send("/help"))[0]
        assert "set_my_commands" in caplog.text
        del api.failures["setMyCommands"]
        official = box.person(20002, "李明")
        await join(official, leader, "jrj")
        scoped = [
            [c["command"] for c in params["commands"]]
            for method, params in api.calls
            if method == "setMyCommands" and params.get("scope", {}).get("chat_id") == official.id
        ]
        assert scoped[-1] == ["inbox", "overdue", "view", "tasks", "digest", "cancel", "help"]
    finally:
        await box.stop()


async def test_admins_are_warned_when_the_calendar_lacks_a_year(settings, org):
    clock = ManualClock(datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI))
    box = await Sandbox.start(settings, org, clock)
    try:
        leader = box.person(LEADER_ID, "王局长")
        warnings = [m for m in leader.since(0) if "2027" in m]
        assert len(warnings) == 1
        assert "按周一至周五计算工作日" in warnings[0]
        await leader.send("/help")
        assert len([m for m in leader.since(0) if "2027" in m]) == 1  # said once
    finally:
        await box.stop()


async def test_a_restart_keeps_everything(settings, org, clock):
    box = await Sandbox.start(settings, org, clock)
    company = box.person(30001, "陈经理")
    await register(company)
    number = await file_appeal(company)
    await box.stop()
    # Telegram goes on counting update ids after a restart.
    box = await Sandbox.start(settings, org, clock, api=FakeBotApi(first_update_id=1000))
    try:
        company = box.person(30001, "陈经理")
        [card] = await company.send(f"/view {number}")
        assert card.startswith(f"诉求 {number}") and "待签收" in card
        assert await file_appeal(company) == "SQ-2026-000002"
    finally:
        await box.stop()
