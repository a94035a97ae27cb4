"""A notice's files, part by part: which refusal ends what, the order notices with files
go in, and a crash between the parts when the notice reads differently afterwards."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from telegram.error import BadRequest

from bot.rules import delivery
from bot.usecases import outbox
from handlers import courier
from tests.conftest import file_appeal
from tests.test_files import file_with_files, resent_to, with_files
from tests.test_parts import Killed, through_kills


async def _waiting_notice(sandbox, p, db) -> tuple[str, list[str]]:
    """A new appeal with a document and a photo whose notices wait (Telegram was down)."""
    for person in (p.head, p.official):
        sandbox.api.fail_chat(person.id, 502, "Bad Gateway")
    number = await file_with_files(p.company)
    sandbox.api.chat_failures.clear()
    return number, [r["file_id"] for r in db.rows("SELECT file_id FROM attachments ORDER BY id")]


def _rows(db) -> list[dict]:
    return [
        {k: r[k] for k in ("chat_id", "status", "progress")}
        for r in with_files(db.rows("SELECT * FROM outbox ORDER BY id"))
    ]


# Which of the two files Telegram no longer takes: the notice is heard either way.
REFUSED_FILES = {"the first": [0], "the last": [1], "both": [0, 1]}


@pytest.mark.parametrize("which", REFUSED_FILES)
async def test_a_refused_file_is_skipped_and_the_notice_stays_heard(
    sandbox, people, db, clock, which
):
    p = people
    _, ids = await _waiting_notice(sandbox, p, db)
    refused = [ids[i] for i in REFUSED_FILES[which]]
    for file_id in refused:
        sandbox.api.known_files.discard(file_id)
    clock.advance(timedelta(minutes=20))
    await courier.drain(sandbox.app.bot, sandbox.env)
    for person in (p.head, p.official):
        assert sum("新诉求" in m.plain for m in person.inbox) == 1, person.name
        got = [fid for _, fid, _ in resent_to(sandbox.api, person.id)]
        assert got == [f for f in ids if f not in refused], person.name
    rows = _rows(db)
    assert [r["chat_id"] for r in rows] == [p.head.id, p.official.id] or len(rows) == 2
    assert {r["status"] for r in rows} == {"sent"}
    assert not any("新诉求" in m.plain for m in p.leader.inbox)  # nobody escalated to


async def test_a_refused_notice_text_sends_no_file_and_is_escalated(
    sandbox, people, db, clock, monkeypatch
):
    """Its text refused (a 400), a notice with files is not sent at all — its files never
    go alone — and ends refused like any notice, so the leaders hear of the new appeal."""
    p = people
    number, ids = await _waiting_notice(sandbox, p, db)
    real = courier.send_part

    async def text_refused(bot, chat_id, part):
        if part[0] == "text" and chat_id in (p.head.id, p.official.id) and "新诉求" in part[1]:
            raise BadRequest("Can't parse entities: unsupported start tag")
        return await real(bot, chat_id, part)

    monkeypatch.setattr(courier, "send_part", text_refused)
    clock.advance(timedelta(minutes=20))
    await courier.drain(sandbox.app.bot, sandbox.env)
    for person in (p.head, p.official):
        assert not any("新诉求" in m.plain for m in person.inbox), person.name
        assert resent_to(sandbox.api, person.id) == [], person.name
    statuses = {r["chat_id"]: r["status"] for r in _rows(db)}
    assert statuses[p.head.id] == statuses[p.official.id] == "refused"
    assert any("新诉求" in m.plain and number in m.plain for m in p.leader.inbox)
    assert [fid for _, fid, _ in resent_to(sandbox.api, p.leader.id)] == ids


async def test_a_notice_with_files_goes_before_the_reminders_and_alone(sandbox, people, db, clock):
    """Same priority as any notice: a Monday burst of reminders does not hold it back; its
    detail keeps it out of a list of notices waiting for the same person."""
    p = people
    sandbox.api.fail_chat(p.official.id, 502, "Bad Gateway")
    plain = [
        await file_appeal(p.company, text=f"第{n}期厂房租金补贴申请，请协助办理。")
        for n in (1, 2, 3)
    ]
    async with sandbox.env.db.unit_of_work() as uow:
        made_up = [  # reminders stored first: earlier, and due earlier
            await uow.outbox.add(
                p.official.id, "x", None, None, {"n": n}, delivery.LADDER, sandbox.env.now()
            )
            for n in range(5)
        ]
        await uow.commit()
    clock.advance(timedelta(minutes=1))
    number = await file_with_files(p.company)
    sandbox.api.chat_failures.clear()
    clock.advance(timedelta(minutes=20))
    due = await outbox.due(sandbox.env)
    with_files = [i for i, item in enumerate(due) if delivery.announces_files(item.detail)]
    ladder = [i for i, item in enumerate(due) if item.priority == delivery.LADDER]
    assert with_files and max(with_files) < min(ladder)
    assert {due[i].priority for i in with_files} == {delivery.NOTICE}
    async with sandbox.env.db.unit_of_work() as uow:  # the made-up reminders are not ours
        await uow.outbox.withheld(made_up, "made up by the test")
        await uow.commit()
    mark = p.official.mark()
    await courier.drain(sandbox.app.bot, sandbox.env)
    got = p.official.inbox[mark:]
    lists = [m for m in got if "①" in m.plain]
    assert len(lists) == 1 and all(n in lists[0].plain for n in plain)
    assert number not in lists[0].plain
    alone = [m for m in got if "新诉求" in m.plain and number in m.plain and "①" not in m.plain]
    assert len(alone) == 1
    assert len(resent_to(sandbox.api, p.official.id)) == 2


def _longer(real, lines: dict[str, int]):
    """The notice as rendered, with `lines["now"]` long lines added (cut into pieces)."""

    async def render(env, item):
        text, markup = await real(env, item)
        extra = "\n".join("补充说明：" + "很长的一行" * 60 for _ in range(lines["now"]))
        return (f"{text}\n{extra}" if extra else text), markup

    return render


def _pieces(lines: int) -> int:
    """How many messages the notice with this many added lines is cut into."""
    return 1 + (lines > 0) + (lines > 14)


# Lines added before and after the crash: the text is cut into 1, 2 or 3 pieces.
RENDERINGS = [(0, 14), (14, 0), (14, 30), (30, 14)]


@pytest.mark.parametrize(("before", "after"), RENDERINGS)
async def test_a_crash_after_the_first_part_resumes_with_the_files_whatever_the_text(
    sandbox, people, db, clock, monkeypatch, before, after
):
    """Killed once the notice's first part is recorded; meanwhile the notice reads
    differently (cut into more or fewer pieces): after the restart each file comes once,
    the first piece is not repeated, and the row ends sent."""
    p = people
    lines = {"now": before}
    monkeypatch.setattr(courier, "render", _longer(courier.render, lines))
    sandbox.api.fail_chat(p.official.id, 403, "Forbidden: bot was blocked by the user")
    await file_with_files(p.company)
    sandbox.api.chat_failures.clear()
    ids = [r["file_id"] for r in db.rows("SELECT file_id FROM attachments ORDER BY id")]
    advanced = outbox.advanced
    kills = []

    async def first_then_killed(env, outgoing_id, progress, pieces=None):
        await advanced(env, outgoing_id, progress, pieces)
        if not kills:
            kills.append(progress)
            lines["now"] = after  # the restarted bot renders it anew
            raise Killed()

    monkeypatch.setattr(outbox, "advanced", first_then_killed)
    mark = p.official.mark()
    assert await through_kills(sandbox, clock, lambda: p.official.send("/start")) == 1
    got = p.official.inbox[mark:]
    assert sum("新诉求" in m.plain for m in got) == 1  # the first piece, never again
    assert [fid for _, fid, _ in resent_to(sandbox.api, p.official.id)] == ids
    first_pieces = _pieces(before)
    texts = [m for m in got if "photo" not in m.raw and "document" not in m.raw]
    notice_texts = [m for m in texts if "补充说明" in m.plain or "新诉求" in m.plain]
    # a text that had gone whole is not sent again; one cut short goes on with the pieces
    # after the first, as it reads now
    assert len(notice_texts) == (1 if first_pieces == 1 else _pieces(after))
    [row] = with_files(db.rows("SELECT * FROM outbox WHERE chat_id = ?", p.official.id))
    assert row["status"] == "sent"
    assert json.loads(row["detail"])[delivery.PIECES] == first_pieces  # kept at first
    assert row["progress"] == first_pieces + len(ids) - 1
    await courier.drain(sandbox.app.bot, sandbox.env)
    assert p.official.inbox[mark:] == got  # nothing more


# Which files of the card Telegram no longer takes, and what the presser is told.
VIEW_REFUSED = {
    "none": ([], None),
    "the first": ([0], "另有 1 个附件无法发送"),
    "the last": ([1], "另有 1 个附件无法发送"),
    "both": ([0, 1], "的 2 个附件都无法发送"),
}


@pytest.mark.parametrize("which", VIEW_REFUSED)
async def test_view_files_sends_every_file_it_can_and_says_how_many_it_could_not(
    sandbox, people, db, which
):
    p = people
    number = await file_with_files(p.company)
    ids = [r["file_id"] for r in db.rows("SELECT file_id FROM attachments ORDER BY id")]
    refused, said = VIEW_REFUSED[which]
    for i in refused:
        sandbox.api.known_files.discard(ids[i])
    sandbox.api.fail("sendDocument", 502, "Bad Gateway", times=1)  # retried, as answers are
    await p.official.send(f"/view {number}")
    before = len(resent_to(sandbox.api, p.official.id))
    answer = await p.official.press("查看附件（2）")
    got = [fid for _, fid, _ in resent_to(sandbox.api, p.official.id)[before:]]
    assert got == [f for i, f in enumerate(ids) if i not in refused]
    assert not any("拒绝" in a for a in answer), answer
    if said is None:
        assert not any("无法发送" in a for a in answer), answer
    else:
        assert any(said in a for a in answer), answer
        assert db.count("attachments") == 2  # nothing changed
    assert sum("附件" in a and "无法发送" in a for a in answer) == (said is not None)
