"""Every message a person sends into an open prompt of several messages is kept — or they are
told plainly that it was not: progress reports, 销号 requests, 补充, /new; /done says what
was stored; a step waiting for a button is left by /cancel, which says what it cancelled."""

from __future__ import annotations

from typing import Any

from tests.conftest import file_appeal
from tests.test_tasks import csv_bytes, import_file, task_row


def edited(person, message_update: dict[str, Any], text: str) -> dict[str, Any]:
    """The same message, edited by its author (Telegram sends `edited_message`)."""
    message = dict(message_update["message"])
    key = "caption" if "caption" in message else "text"
    message[key] = text
    message["edit_date"] = message["date"] + 60
    return {"update_id": message_update["update_id"] + 5000, "edited_message": message}


async def open_task_prompt(p, button: str = "报告进展") -> None:
    await import_file(p.leader, "t.csv", csv_bytes([task_row(1)]))
    await p.official.send("/tasks")
    await p.official.press("第1项")
    await p.official.press(button)


async def test_the_issues_case_caption_text_photo_done_keeps_every_text(sandbox, people, db):
    p = people
    await open_task_prompt(p)
    await p.official.send_photo(caption="现场照片")
    answer = await p.official.send("已建立抽查机制，本月抽查20件。")
    assert answer == [
        "已加入第1项整改任务的进展报告（已保存文字 2 段，附件 1 个）。可继续发送，发送 /done 结束。"
    ]
    await p.official.send_photo()
    answer = await p.official.send("/done")
    assert answer == ["第1项整改任务的进展报告已保存：文字 2 段，附件 2 个。"]
    report = db.one("SELECT * FROM task_reports")
    assert report["text"] == "现场照片\n已建立抽查机制，本月抽查20件。"
    assert db.count("task_attachments") == 2
    assert db.count("conversations") == 0


async def test_a_supplement_keeps_every_part_and_reaches_the_department(sandbox, people, db):
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await p.company.send(f"/view {number}")
    await p.company.press("补充")
    mark = p.official.mark()
    await p.company.send_photo(caption="仓库现场照片")
    await p.company.send_photo()
    answer = await p.company.send("另：担保公司已出具意向函。")
    assert answer == [
        f"已送达承办单位（诉求 {number}，本次补充共文字 2 段，附件 2 个）。可继续发送，发送 /done 结束。"
    ]
    assert await p.company.send("/done") == [
        f"对诉求 {number} 的补充已送达承办单位：文字 2 段，附件 2 个。"
    ]
    texts = [
        r["text"] for r in db.rows("SELECT text FROM appeal_messages WHERE kind = 'supplement'")
    ]
    assert texts == ["仓库现场照片", "", "另：担保公司已出具意向函。"]
    assert db.count("attachments") == 2
    told = "\n".join(p.official.since(mark))
    assert "仓库现场照片" in told and "另：担保公司已出具意向函。" in told
