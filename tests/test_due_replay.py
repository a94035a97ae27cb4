"""A past day's dates, replayed: the 签收期限, 办结期限 and 评价期限 in force at the end of a
day are the ones the events recorded (filing, a transfer, an approved extension, a 不满意
whether it counted the time limit again or kept a later deadline, 办结), never counted
again on today's calendar; only an event stored before it recorded its date is counted
from its day. Every event kind that sets a date, with the day replayed before and after it."""

from __future__ import annotations

import ast
import inspect
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from bot.rules import digest as rules
from bot.rules import workflow
from bot.rules.digest import DigestRow, Week
from bot.rules.model import Action, Event, State
from bot.usecases import reports
from handlers.digest import queue_weekly_digests
from tests.conftest import SHANGHAI, file_appeal

END = datetime(2026, 3, 16, tzinfo=SHANGHAI)  # the end of Sunday 03-15
DEPARTMENTS = {"jrj": (1, "市地方金融管理局"), "zxqy": (2, "中小企业科")}


class _Limits:
    """Today's calendar, which is not the one the events were stored under: claim +1 day,
    due +10 days, rating +3 days (the recorded dates all differ from these)."""

    def claim_due(self, today: date) -> date:
        return today + timedelta(days=1)

    def due(self, today: date, category: object) -> date:
        return today + timedelta(days=10)

    def rating_due(self, today: date) -> date:
        return today + timedelta(days=3)


def _e(action: str, day: int, was: str | None, now: str | None, **detail: str) -> Event:
    moment = datetime(2026, 3, day, 10, tzinfo=SHANGHAI)
    return Event(0, "appeal:1", 1, 7, "李明", action, was, now, detail, moment)


P, W, C = "pending", "in_progress", "closed"
FILED = _e("file", 2, None, P, department="jrj", due="2026-03-13", claim_due="2026-03-04")
FILED_BARE = _e("file", 2, None, P, department="jrj")  # stored before it recorded dates
CLAIMED = _e("claim", 2, P, W)


def closed(day: int, rating_due: str | None = None) -> Event:
    return _e("close", day, W, C, **({"rating_due": rating_due} if rating_due else {}))


def reopened(day: int, basis: str | None = None, old: str = "", new: str = "") -> Event:
    """A 不满意; without `basis` one stored before it recorded its dates."""
    if basis is None:
        return _e("reopen", day, C, W, rating="dissatisfied")
    return _e("reopen", day, C, W, rating="dissatisfied", due_basis=basis, old_due=old, new_due=new)


def extended(day: int, old: str, new: str) -> Event:
    return _e("extension_approved", day, W, W, old_due=old, new_due=new)


def transferred(day: int, claim_due: str | None = None) -> Event:
    detail = {"claim_due": claim_due} if claim_due else {}
    return _e("transfer", day, W, P, department="zxqy", **detail)


# (case, events, the row now: 办结期限, 签收期限; at END: 办结期限, 签收期限, 评价期限)
CASES = [
    # filing
    ("filed after the day", [_e("file", 17, None, P, department="jrj", due="2026-03-27",
        claim_due="2026-03-18")], ("2026-03-27", "2026-03-18"), None),
    ("filing's 办结期限, a bare 不满意 after", [FILED, CLAIMED, closed(5, "2026-03-11"),
        reopened(17)], ("2026-03-27", "2026-03-04"), ("2026-03-13", "2026-03-04", "2026-03-11")),
    ("bare filing's 办结期限, a bare 不满意 after", [FILED_BARE, CLAIMED, closed(5),
        reopened(17)], ("2026-03-27", "2026-03-03"), ("2026-03-12", "2026-03-03", "2026-03-08")),
    ("filing's 签收期限, transferred after", [FILED, transferred(17, "2026-03-19")],
     ("2026-03-13", "2026-03-19"), ("2026-03-13", "2026-03-04", None)),
    ("bare filing's 签收期限, transferred after", [FILED_BARE, transferred(17, "2026-03-19")],
     ("2026-03-12", "2026-03-19"), ("2026-03-12", "2026-03-03", None)),
    # an approved extension
    ("extension approved after", [FILED, CLAIMED, extended(17, "2026-03-13", "2026-03-31")],
     ("2026-03-31", "2026-03-04"), ("2026-03-13", "2026-03-04", None)),
    ("extension approved before, a bare 不满意 after", [FILED, CLAIMED,
        extended(4, "2026-03-13", "2026-03-31"), closed(5, "2026-03-11"), reopened(17)],
     ("2026-03-27", "2026-03-04"), ("2026-03-31", "2026-03-04", "2026-03-11")),
    # a 不满意 that counted the time limit again
    ("不满意 counted again after", [FILED, CLAIMED, closed(5, "2026-03-11"),
        reopened(17, "time_limit", "2026-03-13", "2026-03-31")],
     ("2026-03-31", "2026-03-04"), ("2026-03-13", "2026-03-04", "2026-03-11")),
    ("不满意 counted again before, a bare one after", [FILED, CLAIMED, closed(3, "2026-03-09"),
        reopened(4, "time_limit", "2026-03-13", "2026-03-17"), closed(6, "2026-03-12"),
        reopened(17)], ("2026-03-27", "2026-03-04"), ("2026-03-17", "2026-03-04", "2026-03-12")),
    # a 不满意 that kept the deadline in force
    ("不满意 kept the deadline after", [FILED, CLAIMED, closed(5, "2026-03-11"),
        reopened(17, "kept", "2026-03-13", "2026-03-13")],
     ("2026-03-13", "2026-03-04"), ("2026-03-13", "2026-03-04", "2026-03-11")),
    ("不满意 kept the deadline before, a bare one after", [FILED, CLAIMED, closed(3),
        reopened(4, "kept", "2026-03-13", "2026-03-13"), closed(6, "2026-03-12"), reopened(17)],
     ("2026-03-27", "2026-03-04"), ("2026-03-13", "2026-03-04", "2026-03-12")),
    # …an approved extension's (the Monday digest's case: closed again, refused after Sunday)
    ("不满意 kept an extension before, another after", [FILED, CLAIMED,
        extended(3, "2026-03-13", "2026-03-31"), closed(3, "2026-03-06"),
        reopened(4, "kept_extension", "2026-03-31", "2026-03-31"), closed(6, "2026-03-12"),
        reopened(17, "kept_extension", "2026-03-31", "2026-03-31")],
     ("2026-03-31", "2026-03-04"), ("2026-03-31", "2026-03-04", "2026-03-12")),
    ("不满意 kept an extension before, a bare one after", [FILED, CLAIMED,
        extended(3, "2026-03-13", "2026-03-31"), closed(3, "2026-03-06"),
        reopened(4, "kept_extension", "2026-03-31", "2026-03-31"), closed(6, "2026-03-12"),
        reopened(17)], ("2026-03-27", "2026-03-04"), ("2026-03-31", "2026-03-04", "2026-03-12")),
    ("不满意 kept an extension after", [FILED, CLAIMED, extended(3, "2026-03-13", "2026-03-31"),
        closed(6, "2026-03-12"), reopened(17, "kept_extension", "2026-03-31", "2026-03-31")],
     ("2026-03-31", "2026-03-04"), ("2026-03-31", "2026-03-04", "2026-03-12")),
    # a 不满意 stored before it recorded its dates: counted from its day
    ("bare 不满意 before, a bare one after", [FILED, CLAIMED, closed(3), reopened(4),
        closed(6, "2026-03-12"), reopened(17)],
     ("2026-03-27", "2026-03-04"), ("2026-03-14", "2026-03-04", "2026-03-12")),
    # a transfer
    ("transferred before and after", [FILED, transferred(9, "2026-03-11"),
        transferred(17, "2026-03-19")],
     ("2026-03-13", "2026-03-19"), ("2026-03-13", "2026-03-11", None)),
    ("bare transfer before, transferred after", [FILED, transferred(9),
        transferred(17, "2026-03-19")],
     ("2026-03-13", "2026-03-19"), ("2026-03-13", "2026-03-10", None)),
    # 办结 (the 评价期限), before the day; and after it: open then, so none
    ("closed after", [FILED, CLAIMED, closed(17, "2026-03-20")],
     ("2026-03-13", "2026-03-04"), ("2026-03-13", "2026-03-04", None)),
    ("bare close before, a 不满意 after", [FILED, CLAIMED, closed(5),
        reopened(17, "time_limit", "2026-03-13", "2026-03-27")],
     ("2026-03-27", "2026-03-04"), ("2026-03-13", "2026-03-04", "2026-03-08")),
]  # fmt: skip


@pytest.mark.parametrize(("case", "events", "now", "then"), CASES, ids=[c[0] for c in CASES])
def test_the_dates_in_force_on_a_past_day_are_the_recorded_ones(case, events, now, then):
    state = State(next(e.to_state for e in reversed(events) if e.to_state))
    due, claim_due = (date.fromisoformat(d) for d in now)
    dept = 2 if any(e.action == "transfer" for e in events) else 1
    row = DigestRow(1, "SQ-2026-000001", "融资", state, dept, "x", None, events[0].created_at,
                    None, None, claim_due, due, None, None)  # fmt: skip
    was = rules.row_as_of(row, events, END, DEPARTMENTS, _Limits(), None, SHANGHAI)
    if then is None:
        assert was is None
        return
    expected = tuple(date.fromisoformat(d) if d else None for d in then)
    assert (was.due_date, was.claim_due_date, was.rating_due_date) == expected


def test_every_event_that_sets_a_date_is_in_the_table():
    """The table covers each declared date-setting event, before and after the day."""
    seen: dict[str, set[bool]] = {}
    for _, events, _, _ in CASES:
        for e in events:
            seen.setdefault(e.action, set()).add(e.created_at < END)
    for action in {*workflow.DUE_EVENTS, *workflow.CLAIM_DUE_EVENTS, workflow.FILE, Action.CLOSE}:
        assert seen.get(action) == {True, False}, action


def test_which_events_set_the_due_date_is_declared_once():
    """The rules layer declares it; the digest replay and the 不满意 use case use it, and no
    other module names an extension approval's event again (notice kinds aside)."""
    root = Path(__file__).resolve().parent.parent
    named = []
    for path in [*root.glob("bot/**/*.py"), *root.glob("handlers/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign | ast.Compare | ast.Set):
                named += [
                    path.relative_to(root).as_posix()
                    for c in ast.walk(node)
                    if isinstance(c, ast.Constant) and c.value == "extension_approved"
                ]
    assert named == ["bot/rules/workflow.py"]
    from bot.usecases import appeals

    assert "due_set_by_extension" in inspect.getsource(appeals.reopen)
    assert "DUE_EVENTS" in inspect.getsource(rules._due_as_of)
    assert not hasattr(rules, "EXTENSION_APPROVED")


# through the use cases -----------------------------------------------------------------


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


async def _close(p, number: str) -> None:
    await p.official.press("办结", containing=number)
    await p.official.send("已完成银企对接，担保公司同意提供800万元担保。")


async def test_every_event_records_the_dates_it_sets(sandbox, people, db, clock):
    """Filing, a transfer, 办结, an approved extension and a 不满意 store the dates they set
    with the event, as the appeal holds them."""
    p = people
    number = await file_appeal(p.company)  # Tuesday 03-10
    appeal = db.appeal(number)

    def detail(action: str) -> dict:
        rows = db.rows(
            "SELECT detail FROM audit_events WHERE action = ? AND appeal_id = ? ORDER BY id",
            action,
            appeal.id,
        )
        return json.loads(rows[-1]["detail"])

    filed = detail("file")
    assert (filed["due"], filed["claim_due"]) == (
        appeal.due_date.isoformat(),
        appeal.claim_due_date.isoformat(),
    )
    await p.official.press("签收", containing=number)
    await p.official.press("延期", containing=number)
    await p.official.send("2026-04-30")
    await p.official.send("需等待银行授信审批结果。")
    await p.head.press("同意延期")
    assert (
        detail("extension_approved")["new_due"]
        == db.appeal(number).due_date.isoformat()
        == "2026-04-30"
    )
    await _close(p, number)
    assert detail("close")["rating_due"] == db.appeal(number).rating_due_date.isoformat()
    clock.advance(timedelta(days=1))
    await p.company.press("不满意")
    reopen = detail("reopen")
    assert (reopen["old_due"], reopen["new_due"], reopen["due_basis"]) == (
        "2026-04-30",
        "2026-04-30",
        "kept_extension",
    )
    other = await file_appeal(p.company, text="申请对接政府性融资担保。")
    await p.official.press("签收", containing=other)
    await p.official.press("转办", containing=other)
    await p.official.press("中小企业科")
    await p.official.send("属于综合服务类诉求。")
    moved = db.appeal(other)
    [row] = db.rows(
        "SELECT detail FROM audit_events WHERE action = 'transfer' AND appeal_id = ?", moved.id
    )
    assert json.loads(row["detail"])["claim_due"] == moved.claim_due_date.isoformat()


async def test_the_monday_digest_keeps_the_extended_deadline_a_refusal_kept(
    sandbox, people, db, clock
):
    """Extended to 04-30, closed, 不满意 on 03-11 keeps 04-30; closed and refused again after
    Sunday 04-05: the digest of 2026-W14 (both views, from one replay) shows the appeal in
    handling, due 04-30 — not overdue against a deadline counted from 03-11 (03-25)."""
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await p.official.press("延期", containing=number)
    await p.official.send("2026-04-30")
    await p.official.send("需等待银行授信审批结果。")
    await p.head.press("同意延期")
    await _close(p, number)
    clock.set(at(date(2026, 3, 11)))
    await p.company.press("不满意")
    assert db.appeal(number).due_date == date(2026, 4, 30)
    clock.set(at(date(2026, 4, 7)))  # after the week: closed and refused again
    await _close(p, number)
    await p.company.send("/skip")
    await p.company.press("不满意")
    assert db.appeal(number).reopen_count == 2

    env = sandbox.env
    week = Week(2026, 14)
    as_of = rules.as_of(week, env.today())
    replay = await reports.replay(env, as_of)
    [(now, then)] = [(n, t) for n, t in replay.changes if n.number == number]
    assert then.state is State.IN_PROGRESS and then.due_date == date(2026, 4, 30)

    leaders = await reports.leaders_digest(env, None, week, replay)
    assert number not in [item.number for item in leaders.overdue]
    views = await reports.department_digests(env, week.sent_in, as_of, replay)
    [jrj] = [v for v in views if v.name == "市地方金融管理局"]
    assert [(r.number, r.due_date) for r in jrj.open_items] == [(number, date(2026, 4, 30))]
    assert jrj.overdue == []


async def test_a_digest_run_replays_the_changed_appeals_once(sandbox, people, clock, monkeypatch):
    """The Monday run reads the appeals changed since the week's end once for the leaders'
    and the departments' views alike."""
    p = people
    number = await file_appeal(p.company)
    clock.set(at(date(2026, 3, 17)))  # changed after Sunday 03-15
    await p.official.press("签收", containing=number)
    calls = []
    original = reports._changes

    async def changes(uow, env, as_of):
        calls.append(as_of)
        return await original(uow, env, as_of)

    monkeypatch.setattr(reports, "_changes", changes)
    queued, served = await queue_weekly_digests(sandbox.env, Week(2026, 11))
    assert calls == [date(2026, 3, 15)]
    assert served > 0
    stored = await reports.stored(sandbox.env, "2026-W11", "leaders")
    assert stored is not None and number not in stored.text.split("四、")[1].split("五、")[0]
