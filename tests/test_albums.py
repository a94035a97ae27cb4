"""An album (photos sent together, one media group) added to a 补充 or to a 销号 request
reaches each recipient as every photo exactly once, after at most two notices: the first
photo's notice carries the later photos while nothing of it has gone, else one
continuation notice carries them (never one notice per photo)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from handlers import courier
from tests.conftest import file_appeal
from tests.test_files import resent_to, with_files
from tests.test_tasks import csv_bytes, import_file, task_row


async def _supplement_album(sandbox, p, photos: int, courier_first: bool) -> str:
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await p.company.send(f"/view {number}")
    await p.company.press("补充")
    if not courier_first:  # Telegram refuses the department for now: the notice waits
        for person in (p.head, p.official):
            sandbox.api.fail_chat(person.id, 502, "Bad Gateway")
    await p.company.send_album(photos, caption="仓库现场照片")
    await p.company.send("/done")
    return number


def _notices(person, words: str) -> list[str]:
    return [m.plain for m in person.inbox if words in m.plain]


@pytest.mark.parametrize("photos", [3, 4])
@pytest.mark.parametrize("courier_first", [True, False], ids=["notice sent", "notice waiting"])
async def test_every_photo_of_a_supplement_album_follows_its_notice(
    sandbox, people, db, clock, photos, courier_first
):
    p = people
    number = await _supplement_album(sandbox, p, photos, courier_first)
    sandbox.api.chat_failures.clear()
    clock.advance(timedelta(minutes=20))
    await courier.drain(sandbox.app.bot, sandbox.env)
    files = [r["file_id"] for r in db.rows("SELECT file_id FROM attachments ORDER BY id")]
    assert len(files) == photos
    got = resent_to(sandbox.api, p.official.id)
    assert sorted(fid for _, fid, _ in got) == sorted(files)  # each exactly once
    assert [c for *_, c in got] == [
        f"诉求 {number} 附件 {n}/{len(got_part)}"
        for got_part in _batches(got)
        for n in range(1, len(got_part) + 1)
    ]
    told = _notices(p.official, "企业补充说明") + _notices(p.official, "补充的附件（续）")
    assert 1 <= len(told) <= (2 if courier_first else 1), told
    rows = with_files(db.rows("SELECT kind, status, detail FROM outbox"))
    assert all(r["status"] == "sent" for r in rows), rows
    events = db.rows(
        "SELECT action, detail FROM audit_events WHERE action LIKE 'supplement%' ORDER BY id"
    )
    assert sum(json.loads(e["detail"]).get("files", 0) for e in events) == photos


def _batches(got: list) -> list[list]:
    """The resent files split where a caption's count starts again at 1."""
    out: list[list] = []
    for item in got:
        if " 附件 1/" in item[2] or not out:
            out.append([])
        out[-1].append(item)
    return out


async def _close_request(p) -> None:
    await import_file(p.leader, "t.csv", csv_bytes([task_row(1)]))
    await p.official.send("/tasks")
    await p.official.press("第1项")
    await p.official.press("申请销号")
    await p.official.send("已全部整改完毕，申请销号。")


@pytest.mark.parametrize("photos", [3, 4])
@pytest.mark.parametrize("courier_first", [True, False], ids=["notice sent", "notice waiting"])
async def test_an_album_added_to_a_close_request_reaches_the_leaders_once(
    sandbox, people, db, clock, photos, courier_first
):
    p = people
    await _close_request(p)
    mark = p.leader.mark()
    if not courier_first:
        sandbox.api.fail_chat(p.leader.id, 502, "Bad Gateway")
    answers = await p.official.send_album(photos)
    sandbox.api.chat_failures.clear()
    assert len([a for a in answers if "第1项" in a]) == 1, answers  # answered once
    await p.official.send("/done")
    clock.advance(timedelta(minutes=20))
    await courier.drain(sandbox.app.bot, sandbox.env)
    files = [r["file_id"] for r in db.rows("SELECT file_id FROM task_attachments ORDER BY id")]
    assert len(files) == photos
    got = resent_to(sandbox.api, p.leader.id)
    assert sorted(fid for _, fid, _ in got) == sorted(files)
    told = [m for m in p.leader.since(mark) if "销号" in m]
    assert 1 <= len(told) <= (2 if courier_first else 1), told


async def test_an_album_added_to_a_new_appeal_is_answered_once(sandbox, people, db):
    p = people
    await p.company.send("/new")
    await p.company.press("融资")
    await p.company.send("扩建冷链仓库需流动资金约800万元，申请融资担保对接。")
    answers = await p.company.send_album(3)
    assert answers == ["已添加附件（共 1 个）。继续发送，或点击“提交”。"]
    await p.company.send_photo()  # a photo of its own is answered again, with the count
    assert p.company.last == "已添加附件（共 4 个）。继续发送，或点击“提交”。"
    await p.company.press("提交")
    assert db.count("attachments") == 4
