"""转办 of an appeal somebody has claimed: the prompt says who claimed it and when, and the
official who had claimed it is told it left them (only 查看: it is no longer theirs); a
transfer nobody had claimed, or one by the claimer themself, says neither."""

from __future__ import annotations

import pytest

from tests.conftest import file_appeal

CLAIMED_LINE = "该诉求已由 李明 于 "
AWAY = "您签收的诉求"


def _who(p, name: str):
    return {"head": p.head, "leader": p.leader, "official": p.official}[name]


@pytest.mark.parametrize(
    ("transferrer", "claimed"),
    [("head", True), ("leader", True), ("official", True), ("leader", False)],
)
async def test_the_transfer_prompt_and_the_claimer_know(sandbox, people, db, transferrer, claimed):
    p = people
    number = await file_appeal(p.company)
    if claimed:
        await p.official.press("签收", containing=number)
    by = _who(p, transferrer)
    await by.send(f"/view {number}")
    asked = await by.press("转办", containing=number)
    claimed_at = db.one("SELECT claimed_at FROM appeals WHERE number = ?", number)["claimed_at"]
    if claimed and transferrer != "official":
        assert CLAIMED_LINE in asked[-1] and "签收办理" in asked[-1], asked
        assert claimed_at[:10] in asked[-1]  # the day it was claimed, in the bureau's zone
    else:  # nobody claimed it, or the claimer transfers it: nothing to warn of
        assert "签收" not in asked[-1], asked
    mark = p.official.mark()
    await by.send("中小企业科")
    done = await by.send("属中小企业服务事项。")
    assert done[-1].startswith(f"诉求 {number} 已转办至 中小企业科"), done
    told = [m for m in p.official.inbox[mark:] if AWAY in m.plain]
    if claimed and transferrer != "official":
        [notice] = told
        assert f"{AWAY} {number}" in notice.plain and "中小企业科" in notice.plain
        assert "属中小企业服务事项。" in notice.plain and "无需再办理" in notice.plain
        assert [label for label, _ in notice.buttons] == ["查看"]
    else:
        assert told == []
    row = db.one("SELECT owner_id, state FROM appeals WHERE number = ?", number)
    assert row == {"owner_id": None, "state": "pending"}
