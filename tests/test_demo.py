"""`appealdesk demo` plays the whole story offline."""

from __future__ import annotations

import pytest

from bot.sandbox.demo import run_demo
from tests.conftest import Db

# The demo keeps its own SQLite file in its folder, whatever the settings name: it runs once.
pytestmark = pytest.mark.sqlite_only


async def test_demo_plays_the_lifecycle_and_prints_the_transcript(settings, org):
    lines: list[str] = []
    folder = await run_demo(settings, org, lines.append)
    transcript = "\n".join(lines)
    for expected in (
        "登记成功",
        "编号：SQ-2026-000001",
        "应于 2026-03-04 前办结",  # filed 2026-02-12: the Spring Festival does not count
        "您已签收诉求 SQ-2026-000001",
        "有新回复",
        "已办结",
        "企业评价：满意",
        "已转办至 市人社局",
        "已重办",
        "已撤回",
        "未找到该诉求，或您无权查看。",
        "已导入 29 项整改任务。",
        "29 个问题：22 个“已完成，同意销号”，7 个“视同完成，持续整改”",
        "【提示〔2026〕2号】签收提示：诉求 SQ-2026-000004",
        "延期申请：诉求 SQ-2026-000004",
        "督办：诉求 SQ-2026-000004（鄂州市泛亚食品有限公司，融资）已超期 1 个工作日",
        "提级督办·挂牌督办：诉求 SQ-2026-000004",
        "整改提示：第30项整改任务将于 2026-03-11 到期（还有 7 天）",
        "30 个问题：23 个“已完成，同意销号”，7 个“视同完成，持续整改”",
        "第 4 行：统一社会信用代码“91420700MA49E5F6G0”不正确",
        "企业名录已导入：新增 6 家，更新 0 家，未变 0 家；其中 0 家已在本平台注册。",
        "已识别：贵企业已在市经信局企业名录中",
        "共 4 家企业，其中已注册 4 家、已屏蔽此类宣贯 0 家；将发给 4 位联络员。",
        "【政策宣贯】关于申报2026年度数据中心建设专项补助的通知",
        "【咨询政策宣贯《关于申报2026年度数据中心建设专项补助的通知》】",
        "已发送 4 / 4：送达 3，无法送达 1，失败 0",
        "月报填报通知",
        "【提示〔2025〕",
        "您包保的银商云数据科技（鄂州）有限公司《大数据中心建设月报》2025年9月数据已逾期 1 个工作日",
        "月报逾期未报：《大数据中心建设月报》2025年9月（截止 2025-10-14）共 1 家企业",
        "记为逾期",
        "—— 2025-06：已报 3/4（逾期 0）",
        "—— 2025-09：已报 4/4（逾期 1）",
        "已阅 2，咨询 1（形成诉求 1 件）",
    ):
        assert expected in transcript, expected
    demo = Db(f"sqlite:///{folder / 'demo.sqlite3'}")
    states = {r["number"]: r["state"] for r in demo.rows("SELECT number, state FROM appeals")}
    assert states == {
        "SQ-2026-000001": "rated",
        "SQ-2026-000002": "pending",
        "SQ-2026-000003": "withdrawn",
        "SQ-2026-000004": "in_progress",
        "SQ-2026-000005": "pending",  # a 咨询 on the 政策宣贯
    }


async def test_the_demo_names_every_person_it_shows(settings, org):
    """Every line of the transcript says who speaks or is spoken to by name — the leader's
    start-up notice included, the first line the bot says — never by a Telegram id."""
    import re

    lines: list[str] = []
    await run_demo(settings, org, lines.append)
    addressed = [line for line in lines if line.startswith(("🤖 → ", "👤 "))]
    assert addressed[0].startswith("🤖 → 王局长：⚠️ 机器人已启动")
    who = {re.match(r"(?:🤖 → |👤 )([^：]+)：", line).group(1) for line in addressed}
    assert who == {"王局长", "张科长", "李明", "赵敏", "陈经理", "刘工", "孙经理", "周主任", "吴总"}
    # the only id shown is the one a newcomer is told is theirs
    rows = [row for line in lines for row in line.split("\n")]
    ids = [
        row for row in rows if re.search(r"(?<![\d-])(10001|2000[1-3]|30001|3100[1-4])(?!\d)", row)
    ]
    assert ids == [
        f"    您的 Telegram 数字 ID：{i}（局领导请将它告知管理员，配置到 ADMIN_IDS；部门工作人员请向领导索取邀请链接。）"
        for i in (31001, 31002, 31003, 31004, 30001)
    ]


async def test_a_leaders_note_names_its_author_in_the_card(sandbox, people):
    """The bot keeps no name for a leader: their 备注 reads 局领导/督办员 in the appeal's card,
    as their actions do in its history — never an empty author."""
    from tests.conftest import file_appeal

    number = await file_appeal(people.company)
    await people.leader.send(f"/view {number}")
    await people.leader.press("备注", containing=number)
    await people.leader.send("请金融局本周内联系企业。")
    [card] = await people.official.send(f"/view {number}")
    assert "备注（局领导/督办员）：请金融局本周内联系企业。" in card
    assert "（）" not in card


async def test_the_demo_bureau_moves_to_postgresql_and_back_unchanged(settings, org, tmp_path):
    """The demo's bureau (appeals in every state, their history, notices, extensions, the
    task ledger and its reports) copied SQLite → PostgreSQL → SQLite: every table's rows and
    checksum match at each step, and the demo's appeals read the same through the contract."""
    import asyncio

    from storage.copy import copy_database
    from storage.factory import migrate
    from tests import pg_cluster

    if why := pg_cluster.skip_reason():
        pytest.skip(why)
    folder = await run_demo(settings, org, lambda line: None)
    source = f"sqlite:///{folder / 'demo.sqlite3'}"
    server = pg_cluster.new_database_url()
    back = f"sqlite:///{tmp_path / 'back.sqlite3'}"
    try:
        await asyncio.to_thread(migrate, server)
        await asyncio.to_thread(migrate, back)
        there = await asyncio.to_thread(copy_database, source, server)
        again = await asyncio.to_thread(copy_database, server, back)
        for report in (there, again):
            assert report.differing == [], report
        counts = {t.table: t.target_rows for t in again.tables}
        assert counts == {t.table: t.source_rows for t in there.tables}
        assert counts["appeals"] == 5 and counts["tasks"] >= 30 and counts["audit_events"] > 20
        demo, copied = Db(source), Db(server)
        for number in ("SQ-2026-000001", "SQ-2026-000002", "SQ-2026-000003", "SQ-2026-000004"):
            assert copied.appeal(number) == demo.appeal(number)
            assert copied.events(number) == demo.events(number)
    finally:
        pg_cluster.drop_database(server)
