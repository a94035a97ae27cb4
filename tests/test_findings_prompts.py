"""Telegram fails the bot's answer three times (502) after a step was kept: the person
still reads the next prompt, never "操作未完成"."""

from __future__ import annotations

from bot.texts import t
from tests.conftest import file_appeal

INTERNAL = t("error_internal")


async def test_transfer_department_chosen_under_502(sandbox, people, db):
    number = await file_appeal(people.company)
    head = people.head
    await head.send(f"/view {number}")
    await head.press("转办", containing=number)
    sandbox.api.fail("sendMessage", 502, "Bad Gateway", times=3)
    answer = await head.press("中小企业科")
    assert not any(INTERNAL in a for a in answer), answer
    assert any("请输入<b>转办原因</b>".replace("<b>", "").replace("</b>", "") in a for a in answer), answer
