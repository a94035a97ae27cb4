"""A year of appeals for the benchmarks, generated once as rows and loaded by one function
per dialect: SQLite through `executemany` in one transaction, PostgreSQL through `COPY`
(psycopg's `cursor.copy`). The rows are the same whichever backend loads them (same seed).

The year: N appeals from 2 January to 22 November 2026 in the reference report's category
proportions, 75% rated, 10% closed unrated, 12% in progress (many overdue), 3% pending, one
reply per handled appeal drawn from six templates (70% with the appeal's number appended —
alike on purpose, the worst case for the near-duplicate check)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

# The bureau's 2024 report: 159 appeals in six categories.
CATEGORIES = [
    ("用工(引才)", "rsj", 58),
    ("融资", "jrj", 31),
    ("综合服务", "zxqy", 27),
    ("法务", "sfj", 17),
    ("政策宣贯", "cyzc", 14),
    ("营商环境", "ysb", 12),
]
REPLIES = [
    "已联系企业了解用工需求，将于下周组织专场招聘会对接。",
    "已协调合作银行开展融资对接，企业提交材料后5个工作日内反馈授信意见。",
    "经核实，企业反映的园区道路维修问题已交由园区管委会限期处理。",
    "已安排法律顾问上门提供合同纠纷咨询服务。",
    "已将最新惠企政策清单发送企业，并安排专人解读申报流程。",
    "已会同市营商办现场办公，问题已纳入督办清单。",
]
APPEAL_COLUMNS = (
    "id", "number", "enterprise_id", "filed_by", "category", "description", "state",
    "department_id", "owner_id", "claim_due_date", "due_date", "created_at", "claimed_at",
    "closed_at", "rating",
)  # fmt: skip
SEEDED_AT = "2026-01-01T00:00:00+00:00"  # when the owners were registered
# Rows by table, in the order they must be loaded: (table, columns, rows).
Table = tuple[str, tuple[str, ...], Iterator[tuple[object, ...]]]


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def owners() -> list[Table]:
    """The six departments with an official each, enterprise 1 and its contact (user 1)."""
    departments = [(n, code, code) for n, (_, code, _) in enumerate(CATEGORIES, start=1)]
    officials = [(1000 + n, "official", f"办事员{n}", n, SEEDED_AT) for n, *_ in departments]
    return [
        ("departments", ("id", "code", "name"), iter(departments)),
        ("users", ("tg_id", "role", "full_name", "department_id", "created_at"), iter(officials)),
        (
            "enterprises",
            ("id", "name", "uscc", "contact_name", "phone", "created_at"),
            iter([(1, "企业", "91350100M000100Y43", "联系人", "13900000000", SEEDED_AT)]),
        ),
        (
            "users",
            ("tg_id", "role", "full_name", "enterprise_id", "created_at"),
            iter([(1, "enterprise", "联系人", 1, SEEDED_AT)]),
        ),
    ]


def year_of_appeals(items: int, seed: int | None = None) -> list[Table]:
    """The owners, then N appeals over the year and their replies (deterministic)."""
    rng = random.Random(items if seed is None else seed)
    appeals: list[tuple[object, ...]] = []
    messages: list[tuple[object, ...]] = []
    weights = [w for _, _, w in CATEGORIES]
    start = datetime(2026, 1, 2, 1, tzinfo=UTC)
    span = (datetime(2026, 11, 22, 12, tzinfo=UTC) - start).total_seconds()
    for i in range(1, items + 1):
        category, code, _ = rng.choices(CATEGORIES, weights)[0]
        created = start + timedelta(seconds=span * i / items)
        due = (created + timedelta(days=14)).date()
        draw = rng.random()
        state, closed, rating = "in_progress", None, None
        if draw < 0.75:
            state, closed = "rated", created + timedelta(days=rng.randint(1, 16))
            rating = rng.choice(["satisfied", "satisfied", "basic", "dissatisfied"])
        elif draw < 0.85:
            state, closed = "closed", created + timedelta(days=rng.randint(1, 16))
        elif draw < 0.88:
            state = "pending"
        dept = 1 + [c for _, c, _ in CATEGORIES].index(code)
        appeals.append(
            (i, f"SQ-2026-{i:06d}", 1, 1, category, "诉求内容" * 10, state, dept, 1000 + dept,
             (created + timedelta(days=1)).date().isoformat(), due.isoformat(), stamp(created),
             stamp(created + timedelta(hours=3)) if state != "pending" else None,
             stamp(closed) if closed else None, rating)
        )  # fmt: skip
        if state != "pending":
            text = rng.choice(REPLIES) + ("" if rng.random() < 0.3 else f"（编号{i}）")
            messages.append((i, 1000 + dept, "reply", text, stamp(created + timedelta(hours=5))))
    return [
        *owners(),
        ("appeals", APPEAL_COLUMNS, iter(appeals)),
        ("appeal_counters", ("year", "last_seq"), iter([(2026, items)])),
        (
            "appeal_messages",
            ("appeal_id", "author_id", "kind", "text", "created_at"),
            iter(messages),
        ),
    ]


def seed_sqlite(target: str | Path, tables: list[Table]) -> None:
    """Load the rows into a SQLite file (its schema applied) in one transaction."""
    import sqlite3

    conn = sqlite3.connect(target)
    try:
        for table, columns, rows in tables:
            marks = ", ".join("?" for _ in columns)
            names = ", ".join(columns)  # this module's own table and column names
            conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608
        conn.commit()
    finally:
        conn.close()


def seed_postgresql(target: str, tables: list[Table]) -> None:
    """Load the rows into a PostgreSQL database (its schema applied) with COPY, then move
    each identity past the ids given and refresh the planner's statistics."""
    import psycopg

    with psycopg.connect(target) as conn:
        for table, columns, rows in tables:
            with conn.cursor() as cursor:
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                if "id" in columns:
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                        f" (SELECT MAX(id) FROM {table}))"
                    )
        conn.execute("ANALYZE")


# One loader per dialect (storage.dialect.Dialect.name): the target is a path or a URL.
SEEDERS: dict[str, Callable[[str, list[Table]], None]] = {
    "sqlite": seed_sqlite,
    "postgresql": seed_postgresql,
}


def seed(url: str, tables: list[Table]) -> None:
    """Load the rows into the database at `url` by its backend's loader."""
    from storage.factory import parse_database_url

    target = parse_database_url(url)
    SEEDERS[target.backend](str(target.path) if target.path else target.url, tables)
