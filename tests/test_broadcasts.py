"""政策宣贯 broadcasts, driven through the chat: a leader composes one for a segment of the
directory, sees a preview with its count, sends or schedules it; contacts get it with 已阅
and 咨询 (which opens a 政策宣贯 appeal quoting it), may mute its topic; the sender follows
its progress, cancels it, and gets the reach report — on both backends."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from openpyxl import load_workbook

from bot.rules.broadcasts import Audience, AudienceKind, Reach, reach_of, send_moment
from bot.rules.refusals import InvalidInput
from handlers.jobs import deliver_notices
from tests.conftest import SHANGHAI, join, register
from tests.test_directory import DATA_CENTRES, csv_of

TITLE = "关于申报2026年度数据中心建设补助资金的通知"
BODY = "各数据中心企业：请于2026年3月20日前通过平台提交补助申报材料，逾期不予受理。"


@pytest.fixture
async def bureau(sandbox, leader):
    """The directory's four data centres (three registered, one contact each; the fourth not
    registered yet), another enterprise, a 融资 head and official."""
    head = sandbox.person(20001, "张科长")
    official = sandbox.person(20002, "李明")
    await join(head, leader, "jrj", head=True)
    await join(official, leader, "jrj")
    await leader.send("/enterprises import")
    await leader.send_document("名录.csv", content=csv_of(DATA_CENTRES))
    centres = []
    for n, (name, code, *_rest) in enumerate(DATA_CENTRES[:3]):
        person = sandbox.person(31001 + n, f"联络员{n + 1}")
        await register(person, name, code)
        centres.append(person)
    other = sandbox.person(30001, "陈经理")
    await register(other)
    return type(
        "Bureau",
        (),
        dict(
            leader=leader, head=head, official=official, centres=centres, other=other, box=sandbox
        ),
    )


async def compose(sender, audience: str, value: str | None = None) -> list[str]:
    """Title, topic, body, no files, the audience: returns the preview."""
    await sender.send("/broadcast")
    await sender.send(TITLE)
    await sender.press("产业政策")
    await sender.send(BODY)
    await sender.press("无附件")
    answer = await sender.press(audience)
    if value is not None:
        answer = await sender.press(value)
    return answer


async def drain(box) -> None:
    await deliver_notices(box.app.bot, box.env)


async def test_a_segmented_broadcast_reaches_exactly_its_contacts(bureau, db):
    preview = await compose(bureau.leader, "按标签", "数据中心（3）")
    assert "共 3 家企业，其中已注册 3 家、已屏蔽此类宣贯 0 家；将发给 3 位联络员" in preview[-1]
    started = await bureau.leader.press("立即发送")
    assert f"《{TITLE}》已开始发送，共 3 位联络员" in started[-1]
    await drain(bureau.box)
    for person in bureau.centres:
        got = [m for m in person.inbox if "【政策宣贯】" in m.plain]
        assert len(got) == 1 and BODY in got[0].plain
        assert [label for label, _ in got[0].buttons] == [
            "已阅",
            "咨询",
            "不再接收“产业政策”类宣贯",
        ]
    assert not any("政策宣贯" in m.plain for m in bureau.other.inbox)
    assert not any("政策宣贯】" in m.plain for m in bureau.official.inbox)
    row = db.one("SELECT state, recipients FROM broadcasts")
    assert (row["state"], row["recipients"]) == ("sending", 3)
    # the next round of the delivery job finds it done and tells the sender
    await drain(bureau.box)
    assert db.one("SELECT state FROM broadcasts")["state"] == "sent"
    done = bureau.leader.last
    assert f"《{TITLE}》已发送完毕" in done and "已发送 3 / 3：送达 3" in done
    # the same press again (a second tap) sends nothing twice
    await bureau.leader.press("立即发送")
    assert db.count("broadcasts") == 1
    assert db.one("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'broadcast'")["n"] == 3


async def test_blocked_read_asked_and_the_reach_report(bureau, db):
    blocked = bureau.centres[2]
    bureau.box.api.fail_chat(blocked.id, 403, "Forbidden: bot was blocked by the user")
    await compose(bureau.leader, "全部企业")
    await bureau.leader.press("立即发送")
    await drain(bureau.box)
    reader, asker = bureau.centres[0], bureau.centres[1]
    await reader.press("已阅")
    await reader.press("已阅")  # again: still once
    asked = await asker.press("咨询")
    assert f"咨询《{TITLE}》：请描述您的问题" in asked[-1]
    await asker.send("我司2025年新建机房是否属于补助范围？需提供哪些证明材料？")
    filed = await asker.press("提交")
    assert any(a.startswith("诉求已提交") for a in filed)
    appeal = db.one("SELECT number, category, description FROM appeals ORDER BY id DESC")
    assert appeal["category"] == "政策宣贯"
    assert appeal["description"].startswith(f"【咨询政策宣贯《{TITLE}》】")
    status = await bureau.leader.press("刷新进度")
    assert "已发送 4 / 4：送达 3，无法送达 1，失败 0" in status[-1]
    assert "已阅 2，咨询 1（形成诉求 1 件）" in status[-1]
    await bureau.leader.press("送达报告（XLSX）")
    _, name, content = bureau.box.api.documents[-1]
    assert name.startswith("宣贯送达报告-") and name.endswith(".xlsx")
    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames == ["汇总", "送达明细"]
    rows = [[c.value for c in r] for r in book["送达明细"].iter_rows()]
    assert rows[0][:4] == ["企业名称", "统一社会信用代码", "联络员", "送达情况"]
    by_name = {r[0]: r for r in rows[1:]}
    assert (
        len(rows) == 5 and by_name[DATA_CENTRES[2][0]][3] == "无法送达（已屏蔽机器人或账号不存在）"
    )
    assert by_name[DATA_CENTRES[1][0]][7] == appeal["number"]
    assert by_name[DATA_CENTRES[1][0]][6] is not None
    assert by_name[DATA_CENTRES[0][0]][5] is not None
    assert by_name[DATA_CENTRES[0][0]][3] == "已送达"
    summary = {r[0].value: r[1].value for r in book["汇总"].iter_rows(min_row=2)}
    assert summary["已阅"] == 2 and summary["咨询形成诉求"] == 1


async def test_a_cancel_drops_what_is_queued_and_keeps_what_went(bureau, db):
    await compose(bureau.leader, "全部企业")
    await bureau.leader.press("立即发送")
    first = db.rows("SELECT id FROM outbox WHERE kind = 'broadcast' ORDER BY id")[0]["id"]
    db.execute("UPDATE outbox SET status = 'sent' WHERE id = ?", first)  # one went already
    cancelled = await bureau.leader.press("取消发送")
    assert "状态：已取消" in cancelled[-1]
    assert "已发送 1 / 4：送达 1" in cancelled[-1] and "已取消 3" in cancelled[-1]
    await drain(bureau.box)
    assert (
        sum("【政策宣贯】" in m.plain for p in bureau.centres + [bureau.other] for m in p.inbox)
        == 0
    )
    again = await bureau.leader.press("取消发送")
    assert "状态：已取消" in again[-1]
    assert (
        db.one("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'broadcast_cancel'")["n"] == 1
    )


async def test_a_muted_topic_is_honoured_and_appeals_still_flow(bureau, db):
    await compose(bureau.leader, "按标签", "数据中心（3）")
    await bureau.leader.press("立即发送")
    await drain(bureau.box)
    muter = bureau.centres[0]
    answer = await muter.press("不再接收“产业政策”类宣贯")
    assert "贵企业不再接收“产业政策”类政策宣贯" in answer[-1]
    preview = await compose(bureau.leader, "按标签", "数据中心（3）")
    assert "已屏蔽此类宣贯 1 家；将发给 2 位联络员" in preview[-1]
    await bureau.leader.press("立即发送")
    await drain(bureau.box)
    assert sum("【政策宣贯】" in m.plain for m in muter.inbox) == 1  # only the first
    await bureau.leader.send("/broadcast list")
    status = await bureau.leader.press("第1条 查看进度")  # the newest
    assert "屏蔽此类 1" in status[-1]
    # appeals are never muted: the muted enterprise still files and is answered
    await muter.send("/new")
    await muter.press("融资")
    await muter.send("数据中心二期扩建需融资约5000万元，申请对接银行。")
    filed = await muter.press("提交")
    assert any(a.startswith("诉求已提交") for a in filed)
    resumed = await muter.press("恢复接收“产业政策”类宣贯")
    assert "已恢复接收“产业政策”类政策宣贯" in resumed[-1]
    assert db.count("topic_mutes") == 0


async def test_a_scheduled_broadcast_goes_at_its_moment(bureau, db, clock):
    await compose(bureau.leader, "按所在区", "华容区（1）")
    await bureau.leader.press("定时发送")
    for typed, says in [
        ("明天早上", "无法识别"),
        ("2026-03-14 09:00", "2026-03-14 不是工作日"),  # a Saturday
        ("2026-03-11 22:30", "不在 08:00 至 20:00 之间"),
        ("2026-03-09 09:00", "已过"),
    ]:
        answer = await bureau.leader.send(typed)
        assert says in answer[-1], (typed, answer)
        assert db.count("broadcasts") == 0
    answer = await bureau.leader.send("2026-03-11 09:30")
    assert "已定于 2026-03-11 09:30 发送" in answer[-1]
    await drain(bureau.box)
    assert db.one("SELECT state FROM broadcasts")["state"] == "scheduled"
    assert not any("【政策宣贯】" in m.plain for m in bureau.centres[0].inbox)
    clock.set(datetime(2026, 3, 11, 9, 31, tzinfo=SHANGHAI))
    await drain(bureau.box)
    assert sum("【政策宣贯】" in m.plain for m in bureau.centres[0].inbox) == 1
    assert not any("【政策宣贯】" in m.plain for m in bureau.centres[1].inbox)


async def test_who_may_compose_and_follow(bureau, db):
    answer = await bureau.official.send("/broadcast")
    assert "无权" in answer[-1] or "权限" in answer[-1], answer
    answer = await bureau.centres[0].send("/broadcast")
    assert "无权" in answer[-1] or "权限" in answer[-1], answer
    preview = await compose(bureau.head, "按包保人", "李明（1）")  # the roster named 李明
    assert "将发给" in preview[-1]
    await bureau.head.press("立即发送")
    listed = await bureau.head.send("/broadcast list")
    assert "最近 1 条政策宣贯" in listed[-1]
    # the leader sees it; another head would not; an enterprise pressing its buttons: unknown
    _, data = bureau.head.find_button("刷新进度")
    forged = await bureau.centres[0].press_data(bureau.centres[0].inbox[-1], data)
    assert "未找到该政策宣贯" in forged[-1]
    assert db.count("broadcasts") == 1


async def test_free_text_and_commands_in_the_middle_of_composing(bureau, db):
    await bureau.leader.send("/broadcast")
    refused = await bureau.leader.send("通")
    assert "宣贯标题" in refused[-1] and db.count("broadcasts") == 0
    await bureau.leader.send(TITLE)
    hint = await bureau.leader.send("随便打的字")
    assert "请点击按钮选择宣贯类别" in hint[-1]
    left = await bureau.leader.send("/inbox")
    assert any("已退出政策宣贯编写，未发送" in a for a in left)
    stale = await bureau.leader.press("产业政策")
    assert "该宣贯编写已结束" in stale[-1]
    assert db.count("broadcasts") == 0


# --- rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("muted", "status", "error", "reach"),
    [
        (True, None, None, Reach.MUTED),
        (False, "pending", None, Reach.QUEUED),
        (False, "sending", None, Reach.QUEUED),
        (False, "sent", None, Reach.DELIVERED),
        (False, "failed", "403", Reach.BLOCKED),
        (False, "refused", "400", Reach.FAILED),
        (False, "gone", None, Reach.FAILED),
        (False, "withheld", "cancelled", Reach.CANCELLED),
        (False, "withheld", "not_entitled", Reach.WITHHELD),
    ],
)
def test_every_outcome_of_a_message_is_one_reach(muted, status, error, reach):
    assert reach_of(muted, status, error) is reach


def test_send_moments_as_people_type_them(env_calendar):
    now = datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)
    for typed, local in [
        ("2026-03-11 09:30", (2026, 3, 11, 9, 30)),
        ("2026年3月11日 9点", (2026, 3, 11, 9, 0)),
        ("3月12日 14:05", (2026, 3, 12, 14, 5)),
        ("15:00", (2026, 3, 10, 15, 0)),
    ]:
        got = send_moment(typed, now, SHANGHAI, env_calendar)
        assert got.astimezone(SHANGHAI).timetuple()[:5] == local, typed
    for typed, reason in [
        ("", "empty"),
        ("soon", "send_at_format"),
        ("2026-03-11 25:00", "send_at_format"),
        ("2026-03-14 09:00", "send_at_holiday"),
        ("2026-03-11 07:30", "send_at_hours"),
        ("2030-12-02 10:00", "send_at_far"),  # far, whatever its calendar
        ("2026-03-10 09:00", "send_at_past"),
        ("2026-06-10 09:00", "send_at_far"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            send_moment(typed, now, SHANGHAI, env_calendar)
        assert refused.value.params["reason"] == reason, typed


def test_an_audience_keeps_its_labels():
    audience = Audience(AudienceKind.BAOBAO, ("20002",), ("李明",))
    assert Audience.from_data(audience.as_data()) == audience


@pytest.fixture
def env_calendar():
    from bot.rules.workcal import WorkingCalendar

    return WorkingCalendar()


async def test_the_reach_report_reads_its_recipients_a_page_at_a_time(bureau, db, monkeypatch):
    """Pages of two: every recipient once, in the order of their enterprises' names."""
    from bot.usecases import broadcasts

    monkeypatch.setattr(broadcasts, "REPORT_PAGE", 2)
    await compose(bureau.leader, "全部企业")
    await bureau.leader.press("立即发送")
    await drain(bureau.box)
    report = await broadcasts.report(bureau.box.env, None, 1)
    rows = [row async for row in report.rows()]
    assert len(rows) == 4 and len({r.chat for r in rows}) == 4
    assert [(r.enterprise, r.uscc) for r in rows] == sorted((r.enterprise, r.uscc) for r in rows)
    await bureau.leader.press("送达报告（XLSX）")
    _, _, content = bureau.box.api.documents[-1]
    sheet = load_workbook(io.BytesIO(content))["送达明细"]
    assert sheet.max_row == 5


async def test_help_lists_the_topics_an_enterprise_muted_with_the_way_back(bureau, db):
    await compose(bureau.leader, "按标签", "数据中心（3）")
    await bureau.leader.press("立即发送")
    await drain(bureau.box)
    contact = bureau.centres[0]
    await contact.press("不再接收“产业政策”类宣贯")
    helped = await contact.send("/help")
    assert "已设置不再接收这些类别的政策宣贯：产业政策" in helped[-1]
    done = await contact.press("恢复接收“产业政策”类宣贯")
    assert "已恢复接收" in done[-1]
    assert "不再接收" not in (await contact.send("/help"))[-1]


async def test_a_topic_muted_while_a_broadcast_waits_is_counted_as_muted(bureau, db):
    from bot.usecases import broadcasts
    from bot.usecases.people import Caller

    await compose(bureau.leader, "按标签", "数据中心（3）")
    await bureau.leader.press("立即发送")  # queued, not sent yet
    muter = bureau.centres[0]
    await broadcasts.mute(bureau.box.env, Caller(muter.id, ""), "industry", True)
    await drain(bureau.box)
    assert not any("【政策宣贯】" in m.plain for m in muter.inbox)
    status = await bureau.leader.press("刷新进度")
    assert "屏蔽此类 1" in status[-1] and "未发送 0" in status[-1]
    row = db.one("SELECT status, error FROM outbox WHERE chat_id = ?", muter.id)
    assert (row["status"], row["error"]) == ("withheld", "muted")


async def test_a_502_from_telegram_delays_a_broadcast_message_and_loses_nothing(bureau, db, clock):
    from datetime import timedelta

    await compose(bureau.leader, "按标签", "数据中心（3）")
    await bureau.leader.press("立即发送")
    bureau.box.api.fail("sendMessage", 502, "Bad Gateway", times=1)
    await drain(bureau.box)
    got = [sum("【政策宣贯】" in m.plain for m in p.inbox) for p in bureau.centres]
    assert sorted(got) == [0, 1, 1]  # the one that met the 502 waits for its retry
    status = await bureau.leader.press("刷新进度")
    assert "待发送 1" in status[-1]
    clock.advance(timedelta(seconds=30))
    await drain(bureau.box)
    assert [sum("【政策宣贯】" in m.plain for m in p.inbox) for p in bureau.centres] == [1, 1, 1]
