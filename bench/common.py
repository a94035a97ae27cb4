"""What both benchmarks need: a fresh AppealDesk database with one department, enterprise
and contact to hang the seeded appeals on."""

from __future__ import annotations

import json
import resource
import sqlite3
import subprocess
import sys
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


def contact_name(n: int) -> str:
    """联络员一二 for 12: a person's name has no digits."""
    return "联络员" + "".join("零一二三四五六七八九"[int(d)] for d in str(n))


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM). Unlike ru_maxrss, which a child inherits
    from the parent that forked it, VmHWM starts afresh at exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_measurement(seconds: float) -> None:
    """What a variant run by `in_own_process` prints last: its seconds and peak RSS."""
    print(json.dumps({"seconds": seconds, "rss_mib": peak_rss_mib()}))


def in_own_process(module: str, *args: str) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of one variant, run as `python -m module args…`."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, check=True
    )
    got = json.loads(done.stdout.strip().splitlines()[-1])
    return got["seconds"], got["rss_mib"]


def summary(what: str, size: str, ours: str, baseline: str, ratio: str) -> None:
    """One row of `python -m bench`'s closing table (printed as a marked JSON line)."""
    print("@@" + json.dumps([what, size, ours, baseline, ratio], ensure_ascii=False), flush=True)
