"""Files people send reach the people who read of them.

Every stored file — a new appeal's, a 补充's, a task report's, a 销号 request's — is sent
again by its Telegram file_id: right after the notice that announces it (through the
outbox: entitled at send time, recorded part by part), and to whoever presses 查看附件（N）
on the appeal's or the task's card and may see it. Nobody else gets any of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from bot.rules import delivery
from bot.rules.model import Action, MessageKind
from bot.usecases import appeals, outbox, people
from bot.usecases.appeals import ActionRequest
from handlers import courier
from handlers.buttons import APPEAL_FILES, TASK_FILES, encode
from tests.conftest import file_appeal
from tests.test_parts import Killed, kill_after, through_kills
from tests.test_tasks import csv_bytes, import_file, task_row

TEXT = "扩建冷链仓库需流动资金约800万元，申请融资担保对接。"
REPORT = "可研报告.pdf"


def with_files(rows: list[dict]) -> list[dict]:
    """The outbox rows of notices that announce files (their detail names them)."""
    return [r for r in rows if json.loads(r["detail"] or "{}").get(delivery.FILES) is not None]


async def file_with_files(person) -> str:
    """/new with a document and a photo; returns the appeal's number."""
    await person.send("/new")
    await person.press("融资")
    await person.send(TEXT)
    await person.send_document("扩建项目可研报告.pdf")
    await person.send_photo()
    answer = await person.press("提交")
    filed = next(a for a in answer if a.startswith("诉求已提交"))
    return filed.split("编号：")[1].split()[0]


@dataclass
class Case:
    """One place files are stored: what was stored, who was told of it, and its card."""

    files: list[dict[str, Any]]  # the stored rows (kind, file_id, file_name), in order
    told: list[Any]  # the people a notice announced the files to
    label: str  # what the captions name: 诉求 SQ-… or 第1项整改任务
    button: str  # the card's 查看附件 callback data
    open_card: Any  # (person) → opens the card in their chat
    readers: list[Any]  # who may press 查看附件
    strangers: list[Any]  # who may not


async def new_appeal(p, db) -> Case:
    number = await file_with_files(p.company)
    appeal = db.appeal(number)
    return Case(
        db.rows("SELECT * FROM attachments ORDER BY id"),
        [p.head, p.official],
        f"诉求 {number}",
        encode(APPEAL_FILES, appeal.id),
        lambda who: who.send(f"/view {number}"),
        [p.company, p.official, p.head, p.leader],
        [p.rival, p.outsider],
    )


async def supplement(p, db) -> Case:
    number = await file_appeal(p.company)
    await p.company.send(f"/view {number}")
    await p.company.press("补充")
    await p.company.send_photo(caption="现场照片")
    await p.company.send("/done")
    appeal = db.appeal(number)
    return Case(
        db.rows("SELECT * FROM attachments ORDER BY id"),
        [p.head, p.official],
        f"诉求 {number}",
        encode(APPEAL_FILES, appeal.id),
        lambda who: who.send(f"/view {number}"),
        [p.company, p.official, p.head, p.leader],
        [p.rival, p.outsider],
    )


async def _task(p, db, button: str) -> Case:
    await import_file(p.leader, "t.csv", csv_bytes([task_row(1)]))
    await p.official.send("/tasks")
    await p.official.press("第1项")
    await p.official.press(button)
    await p.official.send_document("抽查通报.pdf", caption="本月抽查20件")
    await p.official.send_photo()
    await p.official.send("/done")
    task = db.one("SELECT id FROM tasks WHERE seq = 1")
    return Case(
        db.rows("SELECT * FROM task_attachments ORDER BY id"),
        [],
        "第1项整改任务",
        encode(TASK_FILES, task["id"]),
        lambda who: who.send("/tasks 1"),
        [p.official, p.leader],
        [p.outsider, p.company],
    )


async def task_report(p, db) -> Case:
    return await _task(p, db, "报告进展")  # a progress report is announced to nobody


async def close_request(p, db) -> Case:
    case = await _task(p, db, "申请销号")
    # the request (with its first file) goes to the leaders; the photo joined it later
    case.told = [p.leader]
    return case


CASES = {
    "new appeal": new_appeal,
    "补充": supplement,
    "task report": task_report,
    "销号 request": close_request,
}


def resent_to(api, chat_id: int) -> list[tuple[str, str, str]]:
    return [(kind, fid, caption) for chat, kind, fid, caption in api.resent if chat == chat_id]


def captions(case: Case, rows: list[dict]) -> list[tuple[str, str, str]]:
    """What a reader of these files gets: each by its file_id, captioned."""
    return [
        (
            row["kind"],
            row["file_id"],
            f"{case.label} 附件 {n}/{len(rows)}"
            + (f"：{row['file_name']}" if row["file_name"] else ""),
        )
        for n, row in enumerate(rows, start=1)
    ]


@pytest.mark.parametrize("where", CASES)
async def test_the_notice_announcing_files_is_followed_by_them(sandbox, people, db, where):
    p = people
    case = await CASES[where](p, db)
    assert case.files and all(r["file_id"] in sandbox.api.known_files for r in case.files)
    everybody = [p.leader, p.head, p.official, p.outsider, p.company, p.rival]
    # each notice is followed by the files it announces: a 销号 request's first file after
    # the request, the photo that joined it after the notice of that addition
    notices = [case.files[:1], case.files[1:]] if where == "销号 request" else [case.files]
    for person in everybody:
        got = resent_to(sandbox.api, person.id)
        if person in case.told:
            assert got == [c for files in notices for c in captions(case, files)], person.name
            inbox = person.inbox
            files_at = [i for i, m in enumerate(inbox) if "photo" in m.raw or "document" in m.raw]
            start = files_at[0]
            for files in notices:  # the notice first, then its files, one message each
                assert any(w in inbox[start - 1].plain for w in ("新诉求", "补充", "销号"))
                assert files_at[: len(files)] == list(range(start, start + len(files)))
                files_at = files_at[len(files) :]
                start = files_at[0] if files_at else start
        else:
            assert got == [], person.name
    # the outbox sent every part of each notice with files, recorded as it went
    rows = with_files(db.rows("SELECT * FROM outbox ORDER BY id"))
    assert len(rows) == len(case.told) * len(notices)
    assert [r["progress"] for r in rows] == [len(f) for f in notices for _ in case.told]
    assert all(r["status"] == "sent" for r in rows)


@pytest.mark.parametrize("where", CASES)
async def test_the_cards_button_sends_the_files_to_whoever_may_see_them(sandbox, people, db, where):
    p = people
    case = await CASES[where](p, db)
    label = f"查看附件（{len(case.files)}）"
    for reader in case.readers:
        await case.open_card(reader)
        before = len(resent_to(sandbox.api, reader.id))
        await reader.press(label)
        got = resent_to(sandbox.api, reader.id)[before:]
        assert got == captions(case, case.files), reader.name
    unknown = case.button.split(":")[0] + ":999999"
    for stranger in case.strangers:
        before = len(sandbox.api.resent)
        await stranger.send("/start")
        answer = await stranger.press_data(stranger.inbox[-1], case.button)
        assert sandbox.api.resent[before:] == [], stranger.name
        # out of scope reads like an id nobody has
        assert answer and answer == await stranger.press_data(stranger.inbox[-1], unknown)
    # nothing a press did is stored: the files stay as they were
    table = "task_attachments" if where.startswith(("task", "销号")) else "attachments"
    assert db.rows(f"SELECT * FROM {table} ORDER BY id") == case.files  # noqa: S608


async def test_a_card_without_files_offers_no_button_and_an_old_one_says_so(sandbox, people, db):
    p = people
    number = await file_appeal(p.company)
    answer = await p.company.send(f"/view {number}")
    assert "查看附件" not in str(p.company.inbox[-1].buttons)
    appeal = db.appeal(number)
    answer = await p.company.press_data(p.company.inbox[-1], encode(APPEAL_FILES, appeal.id))
    assert answer == [f"诉求 {number}没有附件。"]
    assert sandbox.api.resent == []


async def test_the_bureaus_own_files_never_reach_the_enterprise(sandbox, people, db):
    """A file kept with an internal message (a 备注) is the bureau's: its staff see it on
    the card, the enterprise neither counts nor gets it."""
    p = people
    number = await file_with_files(p.company)
    appeal = db.appeal(number)
    env = sandbox.env
    async with env.db.unit_of_work() as uow:
        note = await uow.messages.add(
            appeal.id, p.official.id, MessageKind.NOTE, "内部材料", env.now()
        )
        from bot.rules.model import Attachment

        inside = Attachment("document", "doc-internal", "u-internal", "内部.pdf")
        await uow.messages.add_attachment(appeal.id, note, inside, env.now())
        await uow.commit()
    sandbox.api.known_files.add("doc-internal")
    official = await people_actor(env, p.official.id)
    company = await people_actor(env, p.company.id)
    _, seen_inside = await appeals.files(env, official, appeal.id)
    _, seen_outside = await appeals.files(env, company, appeal.id)
    assert [f.file_id for f in seen_inside][-1] == "doc-internal"
    assert "doc-internal" not in [f.file_id for f in seen_outside] and len(seen_outside) == 2
    await p.company.send(f"/view {number}")
    assert "附件：2 个" in p.company.last
    await p.company.press("查看附件（2）")
    assert "doc-internal" not in [fid for _, fid, _ in resent_to(sandbox.api, p.company.id)]
    await p.official.send(f"/view {number}")
    await p.official.press("查看附件（3）")
    assert resent_to(sandbox.api, p.official.id)[-1][1] == "doc-internal"


async def people_actor(env, tg_id: int):
    return await people.actor_for(env, tg_id)


async def test_files_of_an_appeal_transferred_away_before_they_went_are_withheld(
    sandbox, people, db, clock
):
    """Entitlement when sent: the notice and its files wait (Telegram down); meanwhile the
    appeal goes to another department; its old department gets neither."""
    p = people
    for person in (p.head, p.official):
        sandbox.api.fail_chat(person.id, 502, "Bad Gateway")
    number = await file_with_files(p.company)
    sandbox.api.chat_failures.clear()
    appeal = db.appeal(number)
    leader = await people_actor(sandbox.env, p.leader.id)
    request = ActionRequest(
        appeal.id, appeal.version, text="属中小企业科职责", department_code="zxqy"
    )
    await appeals.USE_CASES[Action.TRANSFER](sandbox.env, leader, request)
    clock.advance(timedelta(minutes=20))
    await courier.drain(sandbox.app.bot, sandbox.env)
    assert resent_to(sandbox.api, p.official.id) == []
    assert resent_to(sandbox.api, p.head.id) == []
    assert not any("新诉求" in m.plain for m in p.official.inbox + p.head.inbox)
    rows = with_files(db.rows("SELECT * FROM outbox WHERE kind = 'new_appeal' ORDER BY id"))
    assert sorted(r["chat_id"] for r in rows) == sorted([p.head.id, p.official.id])
    assert {r["error"] for r in rows} == {delivery.WITHHELD}


@pytest.mark.parametrize("after_record", [True, False])
async def test_a_crash_between_the_files_repeats_none_and_loses_none(
    sandbox, people, db, clock, monkeypatch, after_record
):
    """Killed after each part of a notice with two files was accepted: killed once the
    part is recorded, nothing comes twice; killed before it is recorded (the part in
    flight), that part alone may come again."""
    p = people
    sandbox.api.fail_chat(p.official.id, 403, "Forbidden: bot was blocked by the user")
    number = await file_with_files(p.company)
    sandbox.api.chat_failures.clear()
    files = db.rows("SELECT * FROM attachments ORDER BY id")
    if after_record:
        advanced = outbox.advanced

        async def advanced_then_killed(env, outgoing_id, progress, pieces=None):
            await advanced(env, outgoing_id, progress, pieces)
            raise Killed()

        monkeypatch.setattr(outbox, "advanced", advanced_then_killed)
    else:
        kill_after(sandbox.api, {p.official.id}, {1, 2, 4}, lambda m: True)
    mark = p.official.mark()
    kills = await through_kills(sandbox, clock, lambda: p.official.send("/start"))
    got = p.official.inbox[mark:]
    notices = [m for m in got if "新诉求" in m.plain]
    sent_files = [fid for _, fid, _ in resent_to(sandbox.api, p.official.id)]
    if after_record:
        assert kills == 2  # after the notice and after the first file
        assert len(notices) == 1
        assert sent_files == [f["file_id"] for f in files]
    else:
        assert kills == 3
        assert len(notices) + len(sent_files) <= 3 + kills
        assert sorted(set(sent_files)) == sorted(f["file_id"] for f in files)
        assert len(notices) >= 1
    [row] = with_files(db.rows("SELECT * FROM outbox WHERE chat_id = ?", p.official.id))
    assert (row["status"], row["progress"]) == ("sent", 2)
    await courier.drain(sandbox.app.bot, sandbox.env)
    assert p.official.inbox[mark:] == got  # nothing more
    assert number


async def test_a_press_in_a_group_sends_nothing_there(sandbox, people, db):
    """In a department's group only 签收 may be pressed: 查看附件 there sends no file."""
    p = people
    number = await file_with_files(p.company)
    appeal = db.appeal(number)
    group = -100777
    sandbox.api.handle("sendMessage", {"chat_id": group, "text": "金融局工作群"})
    card = sandbox.api.messages_to(group)[-1]
    before = list(sandbox.api.resent)
    await p.official.press_data(card, encode(APPEAL_FILES, appeal.id))
    assert sandbox.api.resent == before
    answered = [params for method, params in sandbox.api.calls if method == "answerCallbackQuery"]
    assert "请在私聊中使用" in answered[-1].get("text", "")


async def test_a_transferred_appeal_brings_its_files_to_the_new_department(sandbox, people, db):
    """The department an appeal is transferred to reads what the enterprise sent: the files
    follow the transfer notice; the enterprise is not sent its own files back."""
    p = people
    newcomer = p.outsider  # of 中小企业科
    number = await file_with_files(p.company)
    stored = db.rows("SELECT * FROM attachments ORDER BY id")
    mark = len(sandbox.api.resent)
    await p.head.send(f"/view {number}")
    await p.head.press("转办", containing=number)
    await p.head.send("中小企业科")
    await p.head.send("属中小企业服务事项。")
    sent = sandbox.api.resent[mark:]
    assert [(chat, fid) for chat, _, fid, _ in sent] == [
        (newcomer.id, row["file_id"]) for row in stored
    ]
    inbox = newcomer.inbox
    notice = next(i for i, m in enumerate(inbox) if "转办" in m.plain and number in m.plain)
    assert all("photo" in m.raw or "document" in m.raw for m in inbox[notice + 1 : notice + 3])
