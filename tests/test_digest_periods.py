"""The 督察通报 names its periods plainly and ends each on the day it is as of; a past
week's digest is computed as that week stood at its end, whenever it is asked for."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.clock import ManualClock
from bot.digest_text import department_text, leaders_text, week_name
from bot.rules import digest as rules
from bot.rules.digest import (
    DepartmentDigest,
    DepartmentFigures,
    DigestRow,
    LeaderDigest,
    OverdueItem,
    PeriodFigures,
    QualityFlag,
    Week,
    Withdrawal,
)
from bot.rules.model import Event, State, TaskState
from bot.sandbox.chat import Sandbox
from bot.usecases import reports
from handlers.digest import send_weekly_digests
from tests.conftest import (
    LEADER_ID,
    SHANGHAI,
    Db,
    database_env,
    file_appeal,
    join,
    open_database,
    register,
)

OPENING, CLOSING = "（(【〔", "）)】〕"


def bracket_depth(line: str) -> int:
    """The deepest bracket nesting of a line (full-width and ASCII alike); -1 if a bracket
    closes that was never opened."""
    depth = deepest = 0
    for ch in line:
        if ch in OPENING:
            depth += 1
            deepest = max(deepest, depth)
        elif ch in CLOSING:
            depth -= 1
            if depth < 0:
                return -1
    return deepest


def test_bracket_depth_sees_nesting_of_either_width():
    assert bracket_depth("八、回复质量（本周（截至 2026-11-30））") == 2
    assert bracket_depth("本周（截至 2026-11-30）（2026-11-30 至 2026-12-06）") == 1
    assert bracket_depth("按类别：用工(引才)类3件") == 1
    assert bracket_depth("（雷同（用工(引才)））") == 3


def spans(text: str) -> list[tuple[date, date]]:
    """Every period a text names: （X 至 Y） or a one-day （X）."""
    found = [
        (date.fromisoformat(a), date.fromisoformat(b))
        for a, b in re.findall(r"(\d{4}-\d{2}-\d{2}) 至 (\d{4}-\d{2}-\d{2})", text)
    ]
    found += [
        (date.fromisoformat(a), date.fromisoformat(a))
        for a in re.findall(r"（(\d{4}-\d{2}-\d{2})）", text)
    ]
    return found


# (today, week asked for, its title, its period line's label and dates, the year's dates)
CASES = [
    # the week under way, on its first day (the case) and in its middle
    (date(2026, 11, 30), "2026-W49", "督察通报（2026年第49周，截至 2026-11-30）",
     "本周（2026-11-30）", "年度累计（2026-01-01 至 2026-11-30）"),
    (date(2026, 12, 2), "2026-W49", "督察通报（2026年第49周，截至 2026-12-02）",
     "本周（2026-11-30 至 2026-12-02）", "年度累计（2026-01-01 至 2026-12-02）"),
    # the week before, and a week long past
    (date(2026, 11, 30), "2026-W48", "督察通报（2026年第48周：2026-11-23 至 2026-11-29）",
     "上周（2026-11-23 至 2026-11-29）", "年度累计（2026-01-01 至 2026-11-29）"),
    (date(2026, 11, 30), "2026-W11", "督察通报（2026年第11周：2026-03-09 至 2026-03-15）",
     "2026年第11周（2026-03-09 至 2026-03-15）", "年度累计（2026-01-01 至 2026-03-15）"),
    # a week across New Year: under way in December, under way in January, then past
    (date(2025, 12, 30), "2026-W01", "督察通报（2026年第1周，截至 2025-12-30）",
     "本周（2025-12-29 至 2025-12-30）", "年度累计（2025-01-01 至 2025-12-30）"),
    (date(2026, 1, 2), "2026-W01", "督察通报（2026年第1周，截至 2026-01-02）",
     "本周（2025-12-29 至 2026-01-02）", "年度累计（2026-01-01 至 2026-01-02）"),
    (date(2026, 1, 5), "2026-W01", "督察通报（2026年第1周：2025-12-29 至 2026-01-04）",
     "上周（2025-12-29 至 2026-01-04）", "年度累计（2026-01-01 至 2026-01-04）"),
    (date(2021, 1, 4), "2020-W53", "督察通报（2020年第53周：2020-12-28 至 2021-01-03）",
     "上周（2020-12-28 至 2021-01-03）", "年度累计（2021-01-01 至 2021-01-03）"),
    # New Year's Day itself: the year to date is one day
    (date(2027, 1, 1), "2026-W53", "督察通报（2026年第53周，截至 2027-01-01）",
     "本周（2026-12-28 至 2027-01-01）", "年度累计（2027-01-01）"),
]  # fmt: skip


@pytest.fixture
async def bureau(settings, org):
    clock = ManualClock(datetime(2026, 11, 30, 10, tzinfo=SHANGHAI))
    box = await Sandbox.start(settings, org, clock)
    leader = box.person(LEADER_ID, "王局长")
    official = box.person(20002, "李明")
    company = box.person(30001, "陈经理")
    await join(official, leader, "jrj")
    await register(company)
    yield box, clock, leader, official, company
    await box.stop()


@pytest.mark.parametrize(("today", "label", "title", "week_line", "year_line"), CASES)
async def test_every_title_and_period_label_is_plain_and_ends_on_the_day_it_is_as_of(
    bureau, today, label, title, week_line, year_line
):
    """Past, current and New Year weeks: no bracket inside a bracket anywhere in the digest
    or a department's view, and every period it names ends on or before its as-of day."""
    box, clock, leader, official, company = bureau
    clock.set(datetime(today.year, today.month, today.day, 10, tzinfo=SHANGHAI))
    number = await file_appeal(company)  # something to list in every section that lists
    await official.press("签收", containing=number)
    await official.press("回复", containing=number)
    await official.send("好的")  # a reply too short: 八、回复质量 lists it
    other = await file_appeal(company, text="申请对接政府性融资担保。")
    await company.send(f"/view {other}")
    await company.press("撤回")
    await company.send("已自行解决（银行已放款）")
    week = Week(int(label[:4]), int(label[-2:]))
    as_of = min(today, week.end)

    digest = await reports.leaders_digest(box.env, None, week)
    text = leaders_text(digest)
    views = [
        department_text(d, week_name(week.sent_in))
        for d in await reports.department_digests(box.env, week.sent_in, as_of)
    ]
    lines = [line for t in (text, *views) for line in t.split("\n")]
    assert [line for line in lines if bracket_depth(line) not in (0, 1)] == []
    assert lines[0] == f"<b>{title}</b>"
    assert f"{week_line}：新增诉求" in text and f"{year_line}：新增诉求" in text
    assert digest.as_of == as_of and digest.year.end == digest.last_week.end == as_of
    named = spans(text)
    assert named and all(start <= end <= max(as_of, week.end) for start, end in named)
    assert [end for _, end in named[1:]] == [as_of] * (len(named) - 1)  # all but the title
    # and what the leader reads in chat is the same
    mark = leader.mark()
    await leader.send(f"/digest {label}")
    said = "\n".join(m.plain for m in leader.inbox[mark:])  # the captions too
    assert said.startswith(title) and f"{week_line}：新增诉求" in said
    assert f"诉求台账（{date(as_of.year, 1, 1)} 至 {as_of}，" in said  # the ledger's caption
    assert all(end <= as_of for _, end in spans(said)[1:])
    assert [line for line in said.split("\n") if bracket_depth(line) not in (0, 1)] == []


plain_words = st.sampled_from(["市人社局", "中小企业科", "融资", "鄂州市泛亚食品有限公司"])
# names as a bureau writes them: plain, or with one bracket of their own (never nested)
names = (
    plain_words
    | st.just("用工(引才)")
    | st.builds(lambda a, b: f"{a}（{b}）", plain_words, plain_words)
)
days = st.dates(date(2020, 1, 1), date(2030, 12, 31))


def _row(number: str, name: str, due: date) -> DigestRow:
    moment = datetime(due.year, due.month, due.day, tzinfo=SHANGHAI)
    return DigestRow(
        1, number, name, State.PENDING, 1, name, None, moment, None, None, due, due, None, None
    )


@settings(max_examples=200, deadline=None)
@given(today=days, back=st.integers(0, 60), name=names, reason=names, count=st.integers(0, 3))
def test_no_name_or_period_puts_a_bracket_inside_a_bracket(today, back, name, reason, count):
    """Whatever the week (past, current, across New Year) and whatever brackets the
    bureau's names carry, no line of the digest nests brackets."""
    week = Week.of(today - timedelta(days=back))
    as_of = rules.as_of(week, today)

    def figures(start: date) -> PeriodFigures:
        dept = DepartmentFigures(name, 3, 2, 2, 1, 2, 1, 1)
        return PeriodFigures(
            start,
            as_of,
            3,
            2,
            1,
            [(name, 3)],
            [dept] * count,
            {"提示": 1, "督办": 1, "提级": 1},
            [Withdrawal("SQ-2026-000001", name, reason, datetime(2026, 1, 1))] * count,
        )

    flags = [QualityFlag("SQ-2026-000002", name, "SQ-2026-000001", 0.95)] * count
    short = [QualityFlag("SQ-2026-000003", name, length=3)] * count
    overdue = [OverdueItem("SQ-2026-000004", name, name, 3, as_of)] * count
    digest = LeaderDigest(
        week,
        figures(week.start),
        figures(date(as_of.year, 1, 1)),
        overdue,
        [(name, 0.5)] * count,
        0.85,
        {TaskState.IN_PROGRESS: count},
        flags,
        short,
        count + 1,
        count + 1,
        count + 1,
        as_of,
        30,
        today,
    )
    rows = [_row("SQ-2026-000005", name, as_of)] * count
    view = DepartmentDigest(1, name, [], rows, rows, overdue, rows, 1)
    for text in (leaders_text(digest), department_text(view, week_name(week.sent_in))):
        assert [line for line in text.split("\n") if bracket_depth(line) not in (0, 1)] == []


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


async def test_a_past_week_reads_as_it_was_sent_whatever_happened_since(sandbox, people, clock):
    """2026-W13's digest went out on Monday 03-30 09:00. Asked for again in June — after an
    extension was approved, appeals were closed, rated, transferred, claimed and withdrawn —
    it gives the very figures that went out: overdue days, owners and departments of then,
    the year to 03-29, the departments' rates, the department's own view."""
    p = people
    numbers = {}
    for key in ("extended", "closed", "transferred", "claimed_late", "withdrawn", "open"):
        numbers[key] = await file_appeal(p.company, text=f"融资对接诉求（{key}），请协助办理。")
        if key != "claimed_late":
            await p.official.press("签收", containing=numbers[key])  # Tuesday 03-10, due 03-24
    rated = await file_appeal(p.company, text="申请对接政府性融资担保。")
    await p.official.press("签收", containing=rated)
    clock.set(at(date(2026, 3, 24)))
    await p.official.press("延期", containing=numbers["extended"])
    await p.official.send("2026-03-31")
    await p.official.send("需等待银行授信审批结果。")
    clock.set(at(date(2026, 3, 26)))
    await p.official.press("办结", containing=rated)  # late: due 03-24
    await p.official.send("已完成银企对接。")

    # the Monday run: the digest of W13 as it stood at the end of Sunday 03-29
    clock.set(at(date(2026, 3, 30), 9))
    env = sandbox.env
    await send_weekly_digests(sandbox.app.bot, env, Week(2026, 13))
    sent = await reports.stored(env, "2026-W13", "leaders")
    department_id = await _department_id(env, "jrj")
    sent_view = await reports.stored(env, "2026-W13", f"department:{department_id}")

    # the same Monday and after: everything moves on
    clock.set(at(date(2026, 3, 30)))
    await p.head.press("同意延期")
    await p.official.press("办结", containing=numbers["closed"])
    await p.official.send("已放款。")
    await p.official.press("转办", containing=numbers["transferred"])
    await p.official.press("中小企业科")
    await p.official.send("属于综合服务类诉求。")
    await p.official.press("签收", containing=numbers["claimed_late"])
    await p.company.send(f"/view {numbers['withdrawn']}")
    await p.company.press("撤回")
    await p.company.send("已自行解决")
    await p.company.press("满意", containing=rated)
    clock.set(at(date(2026, 6, 1)))

    again = leaders_text(await reports.leaders_digest(env, None, Week(2026, 13)))
    assert again == sent.text.replace("上周", "2026年第13周")
    # what it says: all six were overdue by 3 working days (03-25..27) at the end of W13,
    # under 市地方金融管理局, the one not yet claimed without an owner
    for key, number in numbers.items():
        owner = "未签收" if key == "claimed_late" else "李明"
        line = f"{number}｜市地方金融管理局｜承办人 {owner}｜超期 3 个工作日（期限 2026-03-24）"
        assert line in again, key
    assert "四、超期未办结（6 件）" in again
    assert (
        "年度累计（2026-01-01 至 2026-03-29）：新增诉求 7 件，办结 1 件，其中按时办结 0 件" in again
    )
    assert "满意率 —（已评价 0 件，未评价 0 件）" in again
    assert "六、撤回诉求（撤单质检，2026年第13周 0 件，年度 0 件）" in again
    # today's own digest is another matter: the figures of June
    now = leaders_text(await reports.leaders_digest(env, None, Week(2026, 22)))
    # the withdrawal (after W13) leaves June's departments one short of the year's new
    assert "注：各单位受理合计 6 件，不含已撤回的 1 件；年度新增 7 件及按类别件数含撤回。" in now
    assert "不含撤回" not in again
    overdue_now = now.split("四、")[1].split("五、")[0]
    assert (
        f"{numbers['extended']}｜市地方金融管理局｜承办人 李明｜超期 40 个工作日（期限 2026-03-31）"
        in overdue_now
    )
    assert f"{numbers['transferred']}｜中小企业科｜承办人 未签收｜超期 45 个工作日" in overdue_now
    assert numbers["closed"] not in overdue_now and numbers["withdrawn"] not in overdue_now

    # an official asking for the week that digest was sent in gets the view it carried
    mark = p.official.mark()
    await p.official.send("/digest 2026-W14")
    assert p.official.since(mark) == [sent_view.text.replace("<b>", "").replace("</b>", "")]
    assert "在办诉求 6 件，其中待签收 1 件；本周到期 0 件；已超期 6 件。" in sent_view.text
    [current] = await p.official.send("/digest")
    assert current.startswith("市地方金融管理局 诉求周报（2026年第23周）")
    assert "已超期 3 件" in current  # extended, claimed late, open: the others left
    assert await p.official.send("/digest 2026-W30") == [
        "2026-W30 尚未开始，请选择本周或之前的周次，如 2026-W22。"
    ]


async def _department_id(env, code: str) -> int:
    async with env.db.reading() as uow:
        return (await uow.departments.by_code(code)).id


class _Limits:
    """Limits that are easy to read: claim +1 day, due +10 days, rating +3 days."""

    def claim_due(self, today: date) -> date:
        return today + timedelta(days=1)

    def due(self, today: date, category: object) -> date:
        return today + timedelta(days=10)

    def rating_due(self, today: date) -> date:
        return today + timedelta(days=3)


def _event(action: str, day: int, was: str | None, now: str | None, **detail) -> Event:
    moment = datetime(2026, 3, day, 10, tzinfo=SHANGHAI)
    return Event(0, "appeal:1", 1, 7, "李明" if action == "claim" else "张科长", action, was, now,
                 detail, moment)  # fmt: skip


FILED = _event("file", 2, None, "pending", department="jrj")
CLAIMED = _event("claim", 2, "pending", "in_progress")
END = datetime(2026, 3, 16, tzinfo=SHANGHAI)  # the end of Sunday 03-15

# (events, the row now: state, department, due; what it was at END: state, department,
# owner, due — None: not filed yet)
REPLAYS = [
    ("unchanged since", [FILED, CLAIMED], ("in_progress", 1, "2026-03-12"),
     ("in_progress", "市地方金融管理局", None, "2026-03-12")),
    ("extension approved after", [FILED, CLAIMED,
        _event("extension_approved", 17, "in_progress", "in_progress",
               old_due="2026-03-12", new_due="2026-03-20")],
     ("in_progress", 1, "2026-03-20"), ("in_progress", "市地方金融管理局", "李明", "2026-03-12")),
    ("reopened before, closed and reopened after", [FILED, CLAIMED,
        _event("close", 3, "in_progress", "closed"),
        _event("reopen", 4, "closed", "in_progress", rating="dissatisfied"),
        _event("close", 17, "in_progress", "closed"),
        _event("reopen", 18, "closed", "in_progress", rating="dissatisfied")],
     ("in_progress", 1, "2026-03-28"), ("in_progress", "市地方金融管理局", "李明", "2026-03-14")),
    ("transferred after", [FILED, CLAIMED,
        _event("transfer", 17, "in_progress", "pending", department="zxqy")],
     ("pending", 2, "2026-03-12"), ("in_progress", "市地方金融管理局", "李明", "2026-03-12")),
    ("transferred before, claimed and closed after", [FILED, CLAIMED,
        _event("transfer", 9, "in_progress", "pending", department="zxqy"),
        _event("claim", 17, "pending", "in_progress"),
        _event("close", 18, "in_progress", "closed")],
     ("closed", 2, "2026-03-12"), ("pending", "中小企业科", None, "2026-03-12")),
    ("withdrawn after", [FILED, _event("withdraw", 17, "pending", "withdrawn")],
     ("withdrawn", 1, "2026-03-12"), ("pending", "市地方金融管理局", None, "2026-03-12")),
    ("filed after", [_event("file", 17, None, "pending", department="jrj")],
     ("pending", 1, "2026-03-27"), None),
]  # fmt: skip


@pytest.mark.parametrize(("case", "events", "now", "then"), REPLAYS, ids=[r[0] for r in REPLAYS])
def test_an_appeal_is_replayed_to_what_it_was_at_a_moment(case, events, now, then):
    state, department_id, due = now
    names = {1: "市地方金融管理局", 2: "中小企业科"}
    row = DigestRow(1, "SQ-2026-000001", "融资", State(state), department_id,
                    names[department_id], "李明" if state != "pending" else None,
                    events[0].created_at, None, None, date(2026, 3, 3), date.fromisoformat(due),
                    None, None)  # fmt: skip
    departments = {"jrj": (1, "市地方金融管理局"), "zxqy": (2, "中小企业科")}
    was = rules.row_as_of(row, events, END, departments, _Limits(), None, SHANGHAI)
    if then is None:
        assert was is None
        return
    state, department, owner, due = then
    if case == "unchanged since":
        assert was is row
        return
    assert (was.state, was.department_name, was.owner_name, was.due_date) == (
        State(state),
        department,
        owner,
        date.fromisoformat(due),
    )


@pytest.mark.sqlite_only  # the demo keeps its own SQLite file, whatever the settings name
def test_the_cli_prints_a_past_week_as_it_was_sent(tmp_path, monkeypatch, capsys, settings, org):
    """`appealdesk digest --week 2026-W11` months later prints what the demo's Monday run
    sent that week — overdue days, year to date, the departments' views — not today's."""
    import asyncio

    from bot.cli import main
    from bot.clock import SystemClock
    from bot.sandbox.demo import run_demo
    from bot.sandbox.fake_api import plain

    folder = asyncio.run(run_demo(settings, org, lambda line: None))
    database = folder / "demo.sqlite3"
    demo = Db(f"sqlite:///{database}")
    sent = {
        r["audience"]: r["text"]
        for r in demo.rows("SELECT audience, text FROM digests WHERE week = '2026-W11'")
    }
    later = datetime(2026, 11, 30, 10, tzinfo=SHANGHAI)
    monkeypatch.setattr(SystemClock, "now", lambda self: later)
    monkeypatch.setattr("bot.cli.local_today", lambda settings: later.date())
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.setenv("DATABASE_PATH", str(database))
    monkeypatch.setenv("ADMIN_IDS", "10001")
    assert main(["digest", "--week", "2026-W11"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(plain(sent.pop("leaders").replace("上周", "2026年第11周")))
    assert "超期 6 个工作日（期限 2026-03-05）" in out
    assert sent and all(plain(text) in out for text in sent.values())


def test_the_cli_does_not_send_a_week_that_is_not_over(tmp_path, database_url, monkeypatch, capsys):
    """Sent mid-week, a digest would be archived as the week's and stop the Monday run
    from sending the finished one: --send refuses a week not over, printing still works."""
    import asyncio

    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_TOKEN", "123:abc")
    for name, value in database_env(database_url).items():
        monkeypatch.setenv(name, value)
    from bot.clock import SystemClock

    wednesday = datetime(2026, 12, 2, 10, tzinfo=SHANGHAI)
    monkeypatch.setattr(SystemClock, "now", lambda self: wednesday)
    monkeypatch.setattr("bot.cli.local_today", lambda settings: wednesday.date())
    made = open_database(database_url)

    async def make() -> None:
        await made.open()
        await made.close()

    asyncio.run(make())
    assert main(["digest", "--send", "--week", "2026-W49"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("appealdesk: --send: 2026-W49 is not over yet (it ends 2026-12-06)")
    assert main(["digest", "--week", "2026-W49"]) == 0
    assert capsys.readouterr().out.startswith("督察通报（2026年第49周，截至 2026-12-02）")
