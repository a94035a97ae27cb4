"""What both benchmarks need: a fresh AppealDesk database with one department, enterprise
and contact to hang the seeded appeals on."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, time
from pathlib import Path

from bot.app import make_env
from bot.clock import ManualClock
from bot.config import BUNDLED_ORG_CONFIG, Settings, load_org
from bot.usecases.env import Env


async def fresh_database(path: Path, today: date | None = None) -> Env:
    """An environment on a new database file with the schema applied (closed again); with
    `today`, its clock stands at 10:00 that day."""
    clock = ManualClock(datetime.combine(today, time(2), UTC)) if today else None
    settings = Settings(_env_file=None, database_path=path)
    env = make_env(settings, load_org(BUNDLED_ORG_CONFIG), clock)
    await env.db.open()
    await env.db.close()
    return env


def seed_owners(conn: sqlite3.Connection) -> None:
    """Department 1, enterprise 1 and its contact, user 1."""
    conn.execute("INSERT INTO departments (code, name) VALUES ('d', '部门')")
    conn.execute(
        "INSERT INTO enterprises (name, uscc, contact_name, phone, created_at)"
        " VALUES ('企业', '91350100M000100Y43', '联系人', '13900000000', 'x')"
    )
    conn.execute(
        "INSERT INTO users (tg_id, role, full_name, enterprise_id, created_at)"
        " VALUES (1, 'enterprise', '联系人', 1, 'x')"
    )
