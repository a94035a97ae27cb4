"""An appeal reopened by 不满意 starts a new round: its ledger row and its card describe the
current round (办结情况 and 评价 only once this round has them); what earlier rounds ended
with stays in the history sheet 全程记录, each line marked with its round."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from bot.texts import name, t
from tests.conftest import file_appeal

FIRST, SECOND, THIRD = "已电话告知。", "已书面提供申报材料清单。", "已上门指导并办结。"


async def close(p, number: str, text: str) -> None:
    await p.official.press("办结", containing=number)
    await p.official.send(text)


async def rate(p, number: str, label: str) -> None:
    await p.company.press(label, containing=number)
    await p.company.send("/cancel")  # no comment this time


async def withdraw(p, number: str) -> None:
    await p.company.send(f"/view {number}")
    await p.company.press("撤回")
    await p.company.send("已通过其他渠道解决。")


# (steps after 签收, then what the row says: state, 办结情况, 评价, 办结时间 set, 撤回时间 set,
# how many history lines are marked 第1轮 and 第2轮)
SEQUENCES = {
    "closed": ([("close", FIRST)], "closed", FIRST, "", True, False, 0, 0),
    "rated": ([("close", FIRST), ("rate", "满意")], "rated", FIRST, "满意", True, False, 0, 0),
    "reopened": (
        [("close", FIRST), ("rate", "不满意")],
        "in_progress",
        "",
        "",
        False,
        False,
        4,  # 提交, 签收, 办结, 不满意 (重办) belong to round 1
        0,
    ),
    "closed again": (
        [("close", FIRST), ("rate", "不满意"), ("close", SECOND)],
        "closed",
        SECOND,
        "",
        True,
        False,
        4,
        0,
    ),
    "rated again": (
        [("close", FIRST), ("rate", "不满意"), ("close", SECOND), ("rate", "基本满意")],
        "rated",
        SECOND,
        "基本满意",
        True,
        False,
        4,
        0,
    ),
    "withdrawn after reopening": (
        [("close", FIRST), ("rate", "不满意"), ("withdraw", "")],
        "withdrawn",
        "",
        "",
        False,
        True,
        4,
        0,
    ),
    "reopened twice": (
        [("close", FIRST), ("rate", "不满意"), ("close", SECOND), ("rate", "不满意")],
        "in_progress",
        "",
        "",
        False,
        False,
        4,
        2,  # 办结, 不满意 of round 2
    ),
    "reopened twice, closed": (
        [
            ("close", FIRST),
            ("rate", "不满意"),
            ("close", SECOND),
            ("rate", "不满意"),
            ("close", THIRD),
        ],
        "closed",
        THIRD,
        "",
        True,
        False,
        4,
        2,
    ),
    "withdrawn while open": ([("withdraw", "")], "withdrawn", "", "", False, True, 0, 0),
}


@pytest.mark.parametrize("case", list(SEQUENCES))
async def test_the_ledger_row_describes_the_current_round(sandbox, people, clock, case):
    steps, state, resolution, rating, closed, withdrawn, round1, round2 = SEQUENCES[case]
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    for step, value in steps:
        if step == "close":
            await close(p, number, value)
        elif step == "rate":
            await rate(p, number, value)
        else:
            await withdraw(p, number)
    await p.leader.send("/export")
    book = load_workbook(io.BytesIO(sandbox.api.documents[-1][2]))
    for sheet, closed_column, withdrawn_column in (
        (t("ledger.sheet"), "closed_day", "withdrawn_day"),
        (t("ledger.sheet_full"), "closed", "withdrawn"),
    ):
        rows = list(book[sheet].iter_rows(values_only=True))
        row = dict(zip(rows[0], rows[1], strict=True))
        assert row[t("ledger.header.state")] == name("state", state), case
        assert (row[t("ledger.header.resolution")] or "") == resolution, case
        assert (row[t("ledger.header.rating")] or "") == rating, case
        assert (row[t(f"ledger.header.{closed_column}")] is not None) == closed, case
        assert (row[t(f"ledger.header.{withdrawn_column}")] is not None) == withdrawn, case
    history = row[t("ledger.header.history")].split("\n")
    reopened = sum(step == ("rate", "不满意") for step in steps)
    assert sum(line.startswith("〔第1轮〕") for line in history) == round1, history
    if reopened > 1:
        assert sum(line.startswith("〔第2轮〕") for line in history) == round2, history
    current = history[round1 + round2 :]
    if reopened:  # once reopened, the current round is marked too
        assert all(line.startswith(f"〔第{reopened + 1}轮〕") for line in current), history
    else:
        assert not any(line.startswith("〔") for line in history), history
    if round1:  # the earlier outcome is kept, in its round
        assert any(line.startswith("〔第1轮〕") and FIRST in line for line in history)


async def test_a_reopened_card_shows_the_earlier_outcome_as_earlier(sandbox, people):
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await close(p, number, FIRST)
    await rate(p, number, "不满意")
    for viewer in (p.official, p.company):
        await viewer.send(f"/view {number}")
        card = viewer.inbox[-1].plain
        assert "上一轮办结情况（已重办）：已电话告知。\n上一轮评价：不满意" in card, card
        assert "\n办结情况：" not in card and "\n评价：" not in card
    await close(p, number, SECOND)
    await p.official.send(f"/view {number}")
    card = p.official.inbox[-1].plain
    assert f"办结情况：{SECOND}" in card and "上一轮" not in card and "\n评价：" not in card
    await rate(p, number, "满意")
    await p.official.send(f"/view {number}")
    assert "评价：满意" in p.official.inbox[-1].plain


async def test_words_of_an_earlier_round_are_marked_with_it(sandbox, people, clock):
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await p.official.press("回复", containing=number)
    await p.official.send("请提供财务报表。")
    await close(p, number, FIRST)
    clock.advance(timedelta(hours=1))
    await rate(p, number, "不满意")
    clock.advance(timedelta(hours=1))
    await p.official.press("回复", containing=number)
    await p.official.send("已约定周五上门。")
    await p.leader.send("/export")
    book = load_workbook(io.BytesIO(sandbox.api.documents[-1][2]))
    rows = list(book[t("ledger.sheet_full")].iter_rows(values_only=True))
    messages = dict(zip(rows[0], rows[1], strict=True))[t("ledger.header.messages")]
    first, second = messages.split("\n")
    assert first.startswith("〔第1轮〕") and "请提供财务报表。" in first
    assert second.startswith("〔第2轮〕") and "已约定周五上门。" in second


async def test_a_supplement_of_files_alone_says_how_many(sandbox, people):
    p = people
    number = await file_appeal(p.company)
    await p.company.send(f"/view {number}")
    await p.company.press("补充")
    await p.company.send_photo()
    await p.company.send_document("报表.pdf")
    await p.company.send("补充说明：见附件。")
    await p.company.send("/done")
    await p.leader.send("/export")
    book = load_workbook(io.BytesIO(sandbox.api.documents[-1][2]))
    rows = list(book[t("ledger.sheet_full")].iter_rows(values_only=True))
    lines = dict(zip(rows[0], rows[1], strict=True))[t("ledger.header.messages")].split("\n")
    supplements = [line.split("：", 1)[1] for line in lines if " 补充 " in line]
    assert supplements == ["（附件 1 个）", "（附件 1 个）", "补充说明：见附件。"], lines
