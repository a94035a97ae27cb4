"""`appealdesk demo` plays the whole story offline."""

from __future__ import annotations

import sqlite3

from bot.sandbox.demo import run_demo


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
    ):
        assert expected in transcript, expected
    with sqlite3.connect(folder / "demo.sqlite3") as conn:
        states = dict(conn.execute("SELECT number, state FROM appeals").fetchall())
    assert states == {
        "SQ-2026-000001": "rated",
        "SQ-2026-000002": "pending",
        "SQ-2026-000003": "withdrawn",
    }
