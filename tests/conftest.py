"""Fixtures: a sandbox with the real Application on a fake Telegram, and the people in it."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import ManualClock
from bot.config import BUNDLED_ORG_CONFIG, Settings, load_org
from bot.rules.workflow import APPEAL_VERSION_EVENTS, TASK_VERSION_EVENTS, changes_since
from bot.sandbox.chat import Person, Sandbox

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


@pytest.fixture
def settings(tmp_path: Path):
    return Settings(
        _env_file=None,
        database_path=tmp_path / "appealdesk.sqlite3",
        admin_ids=[LEADER_ID],
    )


@pytest.fixture
async def sandbox(settings, org, clock):
    box = await Sandbox.start(settings, org, clock)
    yield box
    await box.stop()


class Db:
    """Read-only look into the sandbox's database, for assertions."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self, sql: str, *params: object) -> list[dict]:
        with sqlite3.connect(self.path) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(sql, params)]

    def one(self, sql: str, *params: object) -> dict:
        rows = self.rows(sql, *params)
        assert len(rows) == 1, rows
        return rows[0]

    def count(self, table: str) -> int:
        return self.rows(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]

    def appeal(self, number: str) -> dict:
        return self.one("SELECT * FROM appeals WHERE number = ?", number)

    def events(self, number: str) -> list[tuple]:
        return [
            (e["action"], e["from_state"], e["to_state"], e["actor_id"])
            for e in self.rows(
                "SELECT e.* FROM audit_events e JOIN appeals a ON a.id = e.appeal_id"
                " WHERE a.number = ? ORDER BY e.id",
                number,
            )
        ]


@pytest.fixture
def db(settings):
    return Db(settings.database_path)


def unaccounted_versions(path: Path) -> list[str]:
    """Appeals and tasks whose version their history does not account for: an action that
    changed it is missing from workflow.APPEAL_VERSION_EVENTS / TASK_VERSION_EVENTS (then
    every older button of them would be refused)."""
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"appeals", "tasks", "audit_events"} <= tables:
            return []
        items = [("appeal", *r) for r in conn.execute("SELECT id, version FROM appeals")]
        items += [("task", *r) for r in conn.execute("SELECT id, version FROM tasks")]
        wrong = []
        for subject, item_id, version in items:
            events = [
                r[0]
                for r in conn.execute(
                    "SELECT action FROM audit_events WHERE subject = ? ORDER BY id",
                    (f"{subject}:{item_id}",),
                )
            ]
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
    if settings is None or not Path(settings.database_path).exists():
        return
    assert unaccounted_versions(settings.database_path) == []


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
