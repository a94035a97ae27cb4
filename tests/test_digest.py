"""The weekly 督察通报 on a seeded database with known figures (the bureau's 159 appeals)."""

from __future__ import annotations

import asyncio
import io
import warnings
from datetime import date, datetime, timedelta

import pytest
from matplotlib import font_manager
from openpyxl import load_workbook

from bot.chart import ChartFontMissing, find_cjk_font, missing_glyphs, render_chart
from bot.clock import ManualClock
from bot.digest_text import split_message
from bot.ledger_sheet import columns as ledger_columns
from bot.rules.digest import Week
from bot.sandbox.chat import Sandbox
from bot.texts import t
from bot.usecases import reports
from handlers.digest import send_weekly_digests
from handlers.jobs import run_sweep
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

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)  # digest of 2026-W47 (11-16..11-22)


def stamp(day: date, hour: int = 10) -> str:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI).astimezone().isoformat()


# category → (department code, count, spec). Spec: how many appeals were claimed late,
# are still open (of which overdue), closed late, and their ratings.
SEED = {
    "用工(引才)": ("rsj", 40, dict(claim_late=4, close_late=2, satisfied=30, basic=4, bad=6)),
    "融资": ("jrj", 36, dict(open=6, overdue=2, satisfied=30)),
    "综合服务": ("zxqy", 50, dict(new_last_week=10, close_late=5, satisfied=28, basic=2, bad=6, unrated=4)),
    "法务": ("sfj", 13, dict(satisfied=13, closed_last_week=13)),
    "政策宣贯": ("cyzc", 18, dict(satisfied=10, unrated=8)),
    "营商环境": ("ysb", 2, dict(close_late=1, satisfied=1, bad=1)),
}  # fmt: skip


def seed(db: Db, enterprise_id: int, filed_by: int, owner_id: int) -> None:
    """A year of appeals in every state, written as stored rows (a history no use case can
    replay: dates in the past, ratings given): portable SQL through the neutral Db."""
    departments = {r["code"]: r["id"] for r in db.rows("SELECT code, id FROM departments")}
    columns = (
        "number, enterprise_id, filed_by, category, state, department_id, owner_id,"
        " claim_due_date, due_date, created_at, claimed_at, closed_at, rating, rating_due_date"
    )
    rows = []
    seq = 0
    for category, (code, count, spec) in SEED.items():
        ratings = (
            ["satisfied"] * spec.get("satisfied", 0)
            + ["basic"] * spec.get("basic", 0)
            + ["dissatisfied"] * spec.get("bad", 0)
        )
        for i in range(count):
            seq += 1
            created = date(2026, 3, 2) + timedelta(days=seq)
            if i < spec.get("new_last_week", 0):
                created = date(2026, 11, 17)
            if spec.get("closed_last_week"):
                created = date(2026, 11, 5)
            row = {
                "number": f"SQ-2026-{seq:06d}",
                "category": category,
                "department_id": departments[code],
                "created_at": stamp(created),
                "claim_due_date": (created + timedelta(days=1)).isoformat(),
                "due_date": (created + timedelta(days=14)).isoformat(),
                "state": "rated",
                "owner_id": owner_id,
                "claimed_at": stamp(
                    created + timedelta(days=3 if i < spec.get("claim_late", 0) else 0)
                ),
                "closed_at": None,
                "rating": None,
                "rating_due_date": (created + timedelta(days=20)).isoformat(),
            }
            if i < spec.get("new_last_week", 0):
                row.update(state="pending", owner_id=None, claimed_at=None)
            elif i < spec.get("open", 0):
                overdue = i < spec.get("overdue", 0)
                row.update(
                    state="in_progress",
                    due_date=("2026-11-18" if i == 0 else "2026-11-19")
                    if overdue
                    else "2026-11-27",
                )
            else:
                closed_index = i - spec.get("new_last_week", 0) - spec.get("open", 0)
                late = closed_index < spec.get("close_late", 0)
                row["closed_at"] = stamp(created + timedelta(days=20 if late else 10))
                if spec.get("closed_last_week"):
                    row["closed_at"] = stamp(date(2026, 11, 18))
                if closed_index < len(ratings):
                    row["rating"] = ratings[closed_index]
                else:
                    row["state"] = "closed"
            row.update(enterprise_id=enterprise_id, filed_by=filed_by)
            rows.append(tuple(row[c.strip()] for c in columns.split(",")))
    db.executemany(
        f"INSERT INTO appeals (description, {columns})"  # noqa: S608 - our column names
        f" VALUES ('诉求内容', {', '.join('?' * len(rows[0]))})",
        rows,
    )


@pytest.fixture
async def bureau(settings, org):
    clock = ManualClock(MONDAY)
    box = await Sandbox.start(settings, org, clock)
    leader = box.person(LEADER_ID, "王局长")
    official = box.person(20002, "李明")
    head = box.person(20001, "张科长")
    company = box.person(30001, "陈经理")
    await join(head, leader, "jrj", head=True)
    await join(official, leader, "jrj")
    await register(company)
    yield box, clock, leader, head, official, company
    await box.stop()


@pytest.fixture
async def seeded(bureau, db):
    box, clock, leader, head, official, company = bureau
    seed(db, 1, company.id, official.id)
    return bureau


def texts_since(person, mark: int) -> list[str]:
    return [m.plain for m in person.inbox[mark:] if "document" not in m.raw]


async def test_leaders_digest_figures_ranking_and_floor(seeded):
    box, clock, leader, *_ = seeded
    mark = leader.mark()
    await leader.send("/digest 2026-W47")
    messages = leader.inbox[mark:]
    text = "\n".join(m.plain for m in messages if "photo" not in m.raw and "document" not in m.raw)
    assert text.startswith("督察通报（2026年第47周：2026-11-16 至 2026-11-22）")
    assert (
        "上周（2026-11-16 至 2026-11-22）：新增诉求 10 件，办结 13 件，其中按时办结 13 件"
        "（按时办结率 100.0%）。" in text
    )
    assert (
        "按类别：用工(引才)类0件，融资类0件，综合服务类10件，法务类0件，政策宣贯类0件，营商环境类0件。"
        in text
    )
    assert (
        "年度累计（2026-01-01 至 2026-11-22）：新增诉求 159 件，办结 143 件，其中按时办结 135 件"
        "（按时办结率 94.4%）。" in text
    )
    assert (
        "按类别：用工(引才)类40件，融资类36件，综合服务类50件，法务类13件，政策宣贯类18件，营商环境类2件。"
        in text
    )
    ranking = [line for line in text.split("\n") if line[:2] in {f"{i}." for i in range(1, 8)}]
    assert ranking == [
        "1. 产业政策科：受理 18 件｜响应率 100.0%｜解决率 100.0%｜按时办结率 100.0%｜满意率 100.0%（已评价 10 件，未评价 8 件）",
        "2. 市司法局：受理 13 件｜响应率 100.0%｜解决率 100.0%｜按时办结率 100.0%｜满意率 100.0%（已评价 13 件，未评价 0 件）",
        "3. 市地方金融管理局：受理 36 件｜响应率 100.0%｜解决率 83.3%｜按时办结率 100.0%｜满意率 100.0%（已评价 30 件，未评价 0 件）",
        "4. 市人社局：受理 40 件｜响应率 90.0%｜解决率 100.0%｜按时办结率 95.0%｜满意率 85.0%（已评价 40 件，未评价 0 件）",
        "5. 中小企业科：受理 50 件｜响应率 80.0%｜解决率 80.0%｜按时办结率 87.5%｜满意率 83.3%（已评价 36 件，未评价 4 件）",
        "6. 市营商办：受理 2 件｜响应率 100.0%｜解决率 100.0%｜按时办结率 50.0%｜满意率 50.0%（已评价 2 件，未评价 0 件）",
    ]  # fmt: skip
    assert "满意率低于 85% 的单位：中小企业科（83.3%）、市营商办（50.0%）。" in text
    assert "四、超期未办结（2 件）" in text
    # as of the week's last day (Sunday 11-22): 11-19 and 11-20 were working days since
    assert (
        "SQ-2026-000041｜市地方金融管理局｜承办人 李明｜超期 2 个工作日（期限 2026-11-18）" in text
    )
    assert (
        "SQ-2026-000042｜市地方金融管理局｜承办人 李明｜超期 1 个工作日（期限 2026-11-19）" in text
    )
    # the chart and the ledger come with it
    assert any("photo" in m.raw for m in messages)
    assert box.api.photos[-1][1].startswith(b"\x89PNG")
    [(chat, name, content)] = box.api.documents
    assert chat == leader.id and name == "诉求台账-2026-W47.xlsx"
    rows = list(
        load_workbook(io.BytesIO(content), read_only=True)[t("ledger.sheet_full")].iter_rows(
            values_only=True
        )
    )
    assert list(rows[0]) == [c.header for c in ledger_columns()] and len(rows) == 160
    first = dict(zip([c.header for c in ledger_columns()], rows[1], strict=True))
    assert (first["编号"], first["类别"], first["承办单位"], first["评价"]) == (
        "SQ-2026-000001",
        "用工(引才)",
        "市人社局",
        "满意",
    )
    assert first["是否按时办结"] == "否"  # the first two of 用工 closed late


async def test_quality_withdrawals_and_notice_counts_from_chat(bureau, db):
    box, clock, leader, head, official, company = bureau
    clock.set(datetime(2026, 11, 16, 10, tzinfo=SHANGHAI))  # Monday of W47
    numbers = [await file_appeal(company) for _ in range(5)]
    same = "请贵司按照通知要求准备申报材料，于本周五前到政务服务中心三楼窗口办理相关手续。"
    for number, reply in zip(
        numbers[:3], [same, same.replace("本周五", "下周一"), "已处理。"], strict=True
    ):
        await official.press("签收", containing=number)
        await official.press("回复", containing=number)
        await official.send(reply)
    await company.send(f"/view {numbers[3]}")
    await company.press("撤回")
    await company.send("<b>已自行解决</b>")
    for day in (18, 19):  # the fifth appeal stays unclaimed: a 签收提示 each day
        clock.set(datetime(2026, 11, day, 9, tzinfo=SHANGHAI))
        await run_sweep(box.app)
    clock.set(MONDAY + timedelta(days=14))
    mark = leader.mark()
    await leader.send("/digest 2026-W47")
    text = "\n".join(texts_since(leader, mark))
    assert f"雷同回复：{numbers[1]} 与 {numbers[0]} 回复相似度 95%｜市地方金融管理局" in text
    assert f"过短回复：{numbers[2]}，4 字｜市地方金融管理局" in text
    # asked two weeks later, the week is named, not called 上周
    assert "六、撤回诉求（撤单质检，2026年第47周 1 件，年度 1 件）" in text
    assert f"{numbers[3]}｜鄂州市泛亚食品有限公司｜原因：<b>已自行解决</b>" in text
    assert (
        "2026年第47周发出提示 2 件、督办 0 件、提级督办 0 件；"
        "年度累计提示 2 件、督办 0 件、提级督办 0 件。" in text
    )


async def test_weekly_send_is_recorded_and_never_repeated(seeded, db):
    box, clock, leader, head, official, company = seeded
    env = box.env
    marks = {p.id: p.mark() for p in (leader, head, official)}
    served = await send_weekly_digests(box.app.bot, env, Week(2026, 47))
    assert served == 3  # the leader, and the 融资 department's two members
    assert await send_weekly_digests(box.app.bot, env, Week(2026, 47)) == 0
    [dept] = [m for m in head.since(marks[head.id])]
    assert dept.startswith("市地方金融管理局 诉求周报（2026年第48周）")
    assert "在办诉求 6 件，其中待签收 0 件；本周到期 4 件；已超期 2 件。" in dept
    assert db.rows("SELECT week, audience FROM digests ORDER BY audience")[0]["week"] == "2026-W47"
    assert db.one("SELECT COUNT(*) AS n FROM digest_deliveries")["n"] == 3
    # a leader may ask for the archived digest again: the stored text is re-sent
    mark = leader.mark()
    await leader.send("/digest 2026-W47")
    assert "（2026年第47周 督察通报存档，生成于 2026-11-23 09:00）" in "\n".join(
        texts_since(leader, mark)
    )


async def test_digest_scheduled_for_monday(seeded):
    box = seeded[0]
    job = next(j for j in box.app.job_queue.jobs() if j.name == "weekly-digest")
    trigger = str(job.trigger)
    assert "day_of_week='mon'" in trigger and "hour='9'" in trigger


async def test_a_long_overdue_list_is_capped_with_its_count(seeded, db):
    box, clock, leader, *_ = seeded
    db.execute(
        "UPDATE appeals SET state = 'in_progress', due_date = '2026-11-02', closed_at = NULL"
        " WHERE category IN ('用工(引才)', '综合服务', '政策宣贯')"
    )
    mark = leader.mark()
    await leader.send("/digest")
    pieces = [
        m.text for m in leader.inbox[mark:] if "photo" not in m.raw and "document" not in m.raw
    ]
    assert all(len(p) <= 4096 for p in pieces)
    joined = "\n".join(pieces)
    overdue = db.one(
        "SELECT COUNT(*) AS n FROM appeals WHERE state = 'in_progress' AND due_date < ?",
        date(2026, 11, 24),
    )["n"]
    assert overdue > 30
    assert f"四、超期未办结（{overdue} 件）" in joined
    assert joined.count("｜承办人") == 30  # the 30 longest overdue, then the pointer
    assert f"（以上为超期最久的 30 件，共 {overdue} 件；完整清单见随附诉求台账。）" in joined
    assert "SQ-2026-000001｜市人社局" in joined


def test_split_message_keeps_lines_whole():
    text = "\n".join(f"第{i}行：" + "字" * (i % 50) for i in range(2000))
    pieces = split_message(text)
    assert all(len(p) <= 4096 for p in pieces)
    assert "\n".join(pieces) == text
    assert split_message("短") == ["短"]
    assert split_message("长" * 9000) == ["长" * 4096, "长" * 4096, "长" * 808]


async def test_chart_renders_chinese_without_missing_glyphs(seeded):
    box, *_ = seeded
    digest = await reports.leaders_digest(box.env, None, Week(2026, 47))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font"
        png = render_chart(digest)
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    font = find_cjk_font()
    labels = [name for name, _ in digest.year.by_category] + [
        d.name for d in digest.year.departments
    ]
    assert missing_glyphs(font, labels) == set()
    latin_only = font_manager.findfont("DejaVu Sans")
    assert missing_glyphs(latin_only, ["融资"]) == {"融", "资"}
    with pytest.raises(ChartFontMissing, match="lacks"):
        render_chart(digest, font_path=type(font)(latin_only))


def test_a_rate_without_a_denominator_is_drawn_as_no_data_not_zero():
    from bot.chart import rate_label
    from bot.rules.digest import DepartmentFigures

    quiet = DepartmentFigures("经济运行科")  # nothing received, nothing rated
    assert [rate_label(quiet.response_rate), rate_label(quiet.satisfaction_rate)] == [
        "无数据",
        "无数据",
    ]
    assert rate_label(0.0) == "0%" and rate_label(0.955) == "96%"


async def test_stats_and_export_for_leaders_only(seeded):
    box, clock, leader, head, official, company = seeded
    [stats] = await leader.send("/stats")
    assert "在办 16 件（待签收 10，已超期 2）" in stats
    assert "年度新增 159 件，办结 143 件，按时办结率 94.4%" in stats
    await leader.send("/export 2026-11-01 2026-11-30")
    chat, name, content = box.api.documents[-1]
    rows = list(
        load_workbook(io.BytesIO(content), read_only=True).worksheets[0].iter_rows(values_only=True)
    )
    # a period ends today at the latest (2026-11-23 here): nothing later is recorded yet
    assert name == "诉求台账-2026-11-01-2026-11-23.xlsx" and len(rows) == 1 + 10 + 13
    await leader.send("/export 11月")  # a month alone is that month, up to today
    assert box.api.documents[-1][1] == "诉求台账-2026-11-01-2026-11-23.xlsx"
    for person in (official, company):
        assert await person.send("/stats") == ["您没有权限执行此操作。"]
        assert await person.send("/export") == ["您没有权限执行此操作。"]
    assert await company.send("/digest") == ["您没有权限执行此操作。"]
    # an official gets the department's own weekly view
    [own] = await official.send("/digest")
    assert own.startswith("市地方金融管理局 诉求周报（2026年第48周）")
    assert await leader.send("/digest 2026-W99") == [
        "2026 年只有 53 周，周次应在 2026-W01 至 2026-W53 之间。"
    ]


def test_cli_digest_and_export(tmp_path, database_url, monkeypatch, capsys):
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    for name, value in database_env(database_url).items():
        monkeypatch.setenv(name, value)
    made = open_database(database_url)  # the bot made it; the CLI only reads

    async def make() -> None:
        await made.open()
        await made.close()

    asyncio.run(make())
    assert main(["digest", "--week", "2026-W47", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("督察通报（2026年第47周：2026-11-16 至 2026-11-22）")
    assert (tmp_path / "out" / "督察通报-2026-W47.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "out" / "诉求台账-2026-W47.xlsx").exists()
    assert main(["export", str(tmp_path / "l.xlsx"), "--from", "2026-01-01"]) == 0
    assert "exported 0 appeals (2026-01-01 to" in capsys.readouterr().out
    assert main(["digest", "--send"]) == 2
    assert capsys.readouterr().err.startswith("appealdesk: setting BOT_TOKEN: required")


def assert_same_figures(counted, reference) -> None:
    assert (counted.new, counted.closed, counted.closed_on_time) == (
        reference.new,
        reference.closed,
        reference.closed_on_time,
    )
    assert counted.by_category == reference.by_category
    assert counted.departments == reference.departments


async def _counted_and_reference(env, start, end):
    from bot.rules import digest as rules
    from bot.usecases.reports import _period, bounds, refresh_tallies

    await refresh_tallies(env)
    async with env.db.reading() as uow:
        rows = await uow.reports.appeals_touching(*bounds(env, start, end))
        counted = await _period(uow, env, start, end)
    reference = rules.period_figures(
        rows, start, end, [c.name for c in env.org.categories], env.today(), env.zone
    )
    return counted, reference


async def test_counts_follow_every_change_after_they_were_tallied(seeded, db):
    """The per-day tallies are counted again for the days whose appeals changed, whatever
    wrote them (here plain SQL, outside the bot): closing, rating, withdrawing and a new
    appeal."""
    env = seeded[0].env
    start, end = date(2026, 1, 1), date(2026, 11, 22)
    before, _ = await _counted_and_reference(env, start, end)
    db.execute(
        "UPDATE appeals SET state = 'closed', closed_at = created_at,"
        " rating_due_date = '2026-11-01' WHERE id IN"
        " (SELECT id FROM appeals WHERE state IN ('pending', 'in_progress') LIMIT 3)"
    )
    db.execute(
        "UPDATE appeals SET rating = 'dissatisfied', state = 'rated'"
        " WHERE id = (SELECT MIN(id) FROM appeals WHERE state = 'closed')"
    )
    db.execute(
        "UPDATE appeals SET state = 'withdrawn'"
        " WHERE id = (SELECT MAX(id) FROM appeals WHERE state = 'pending')"
    )
    db.execute(
        "INSERT INTO appeals (number, enterprise_id, filed_by, category, description,"
        " state, department_id, claim_due_date, due_date, created_at)"
        " SELECT 'SQ-2026-999999', enterprise_id, filed_by, category, 'x', 'pending',"
        " department_id, '2026-03-03', '2026-03-20', '2026-03-02T02:00:00+00:00'"
        " FROM appeals LIMIT 1"
    )
    assert db.count("appeal_changes") >= 5
    counted, reference = await _counted_and_reference(env, start, end)
    assert_same_figures(counted, reference)
    assert counted.new == before.new + 1
    assert sum(d.rated for d in counted.departments) == sum(d.rated for d in before.departments) + 1
    assert db.count("appeal_changes") == 0


@pytest.mark.parametrize(
    ("start", "end"),
    [(date(2026, 11, 16), date(2026, 11, 22)), (date(2026, 1, 1), date(2026, 11, 22))],
)
async def test_counts_from_the_database_equal_counting_every_row(seeded, start, end):
    """The figures summed from the tallies match the row-by-row reference."""
    env = seeded[0].env
    counted, reference = await _counted_and_reference(env, start, end)
    assert_same_figures(counted, reference)
    assert counted.new > 0 and counted.departments


async def test_quality_lists_the_most_similar_and_shortest_with_totals(bureau, db):
    """A week with many alike replies lists the most similar (highest first) and the
    shortest, each with how many there were in all — the digest stays one message."""
    from bot.digest_text import leaders_text

    box, clock, leader, head, official, company = bureau
    env = box.env
    env.org.digest.quality_listed = 2
    base = "已协调合作银行开展融资对接，企业提交材料后5个工作日内反馈授信意见。"
    replies = [
        base,
        base,  # identical: 100%
        base.replace("5个", "7个"),  # one character apart
        base.replace("合作银行", "本地银行"),
        base.replace("授信意见", "审批结果"),
        "好的",
        "已办",
        "收到，已转交",
    ]
    dept = db.one("SELECT id FROM departments WHERE code = 'jrj'")["id"]
    for n, text in enumerate(replies, start=1):  # a week's replies, as stored rows
        moment = f"2026-11-17T0{n}:00:00+00:00"
        db.execute(
            "INSERT INTO appeals (number, enterprise_id, filed_by, category, description,"
            " state, department_id, owner_id, claim_due_date, due_date, created_at)"
            " SELECT ?, e.id, ?, '融资', '贷款', 'in_progress', ?, ?, '2026-11-18',"
            " '2026-12-04', ? FROM enterprises e",
            f"SQ-2026-{n:06d}",
            company.id,
            dept,
            official.id,
            moment,
        )
        db.execute(
            "INSERT INTO appeal_messages (appeal_id, author_id, kind, text, created_at)"
            " SELECT id, ?, 'reply', ?, ? FROM appeals WHERE number = ?",
            official.id,
            text,
            moment,
            f"SQ-2026-{n:06d}",
        )

    digest = await reports.leaders_digest(env, None, Week(2026, 47))
    assert [(q.number, q.earlier_number, q.similarity) for q in digest.duplicates] == [
        ("SQ-2026-000002", "SQ-2026-000001", 1.0),
        ("SQ-2026-000003", "SQ-2026-000002", pytest.approx(1 - 1 / len(base))),
    ]
    assert digest.duplicates_total == 3  # four characters apart is below 90%
    assert [q.number for q in digest.short_replies] == ["SQ-2026-000006", "SQ-2026-000007"]
    assert digest.short_total == 3
    text = leaders_text(digest)
    assert "雷同答复共 3 件，以上列出相似度最高的 2 件。" in text
    assert "过短答复共 3 件，以上列出最短的 2 件。" in text


async def test_the_current_week_is_called_this_week_and_no_ratings_claim_nothing(bureau):
    """/digest for the week under way says 本周, never 上周, and every period ends today;
    with nothing rated the digest does not claim every 满意率 is above the floor."""
    box, clock, leader, head, official, company = bureau
    clock.set(datetime(2026, 11, 18, 10, tzinfo=SHANGHAI))  # Wednesday of W47
    await file_appeal(company)
    mark = leader.mark()
    await leader.send("/digest 2026-W47")
    text = "\n".join(texts_since(leader, mark))
    assert text.startswith("督察通报（2026年第47周，截至 2026-11-18）")
    assert "一、本周情况\n本周（2026-11-16 至 2026-11-18）：新增诉求 1 件" in text
    assert "年度累计（2026-01-01 至 2026-11-18）" in text
    assert "上周" not in text
    assert "年度尚无企业评价，满意率暂无数据。" in text and "均不低于" not in text
    assert "2026年第47周 督察通报图表（年度累计）" in text
