"""Messages in several parts survive a crash: every part (a list's part, a piece of a long
text, the digest's chart and ledger) is recorded the moment Telegram accepted it, so a crash
repeats at most the one part in flight and the rest goes on as it was. And a message
Telegram refuses as such (a permanent 400) is final at once, never tried again.

A "crash" here stops the courier right after the fake Telegram accepted a message, before
anything else runs (the worst moment); the restarted courier finds the leases lapsed.
tests/test_crash.py does the same with kill -9 against `appealdesk run`."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta

import pytest
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.digest_text import leaders_text, split_message
from bot.rules import delivery
from bot.rules.delivery import Fault
from bot.rules.digest import Week
from bot.sandbox.chat import Sandbox
from bot.sandbox.fake_api import FakeBotApi, SentMessage
from bot.usecases import reports
from handlers import courier
from handlers.digest import catch_up, queue_weekly_digests
from handlers.jobs import run_sweep
from tests.conftest import LEADER_ID, SHANGHAI, Db, file_appeal, join, settings_for, url_of
from tests.test_tasks import csv_bytes, import_file, task_row

BLOCKED = "Forbidden: bot was blocked by the user"


class Killed(BaseException):
    """The process died: nothing the courier would do next happens."""


def kill_after(api: FakeBotApi, chats: set[int], kill_at: set[int], counts: Callable) -> None:
    """Kill the bot right after Telegram accepted the n-th counted message (repeats count
    too) to `chats`, for every n in `kill_at`."""
    seen = [0]

    def listener(message: SentMessage) -> None:
        if message.chat_id in chats and counts(message):
            seen[0] += 1
            if seen[0] in kill_at:
                raise Killed()

    api.listeners.append(listener)


async def through_kills(box: Sandbox, clock, first: Callable[[], Awaitable[object]]) -> int:
    """Run `first`; after each kill, restart: the leases lapse, the courier drains."""
    kills = 0
    step = first
    while True:
        try:
            await step()
        except Killed:
            kills += 1
            clock.advance(delivery.LEASE + timedelta(seconds=1))
            step = lambda: courier.drain(box.app.bot, box.env)  # noqa: E731
            continue
        return kills


def content(message: SentMessage) -> tuple:
    """A message as its reader sees it: text or caption, buttons, and what is attached."""
    document = message.raw.get("document", {}).get("file_name")
    buttons = json.dumps(message.reply_markup, ensure_ascii=False, sort_keys=True)
    return message.chat_id, message.text, buttons, "photo" in message.raw, document


def repeats(messages: list[SentMessage]) -> int:
    return len(messages) - len({content(m) for m in messages})


async def test_a_list_owed_after_start_goes_on_after_each_kill_and_repeats_one_part(
    sandbox, people, clock, db
):
    """30 notices owed to an official who had blocked the bot; /start sends them as lists;
    the bot dies five times right after Telegram accepted a list's part. Nothing is lost,
    each kill repeats one message (that part, as it was), and no item comes again in a
    message of its own or in another list."""
    sandbox.api.fail_chat(people.official.id, 403, BLOCKED)
    numbers = [
        await file_appeal(people.company, "融资", f"第{n}件：申请技改贴息贷款对接，投资{n}00万元。")
        for n in range(1, 31)
    ]
    failed = db.rows("SELECT status FROM outbox WHERE chat_id = ?", people.official.id)
    assert [r["status"] for r in failed] == ["failed"] * 30
    sandbox.api.chat_failures.clear()

    def is_notice(message: SentMessage) -> bool:
        return "新诉求" in message.plain

    kill_after(sandbox.api, {people.official.id}, {1, 2, 4, 6, 8}, is_notice)
    mark = people.official.mark()
    kills = await through_kills(sandbox, clock, lambda: people.official.send("/start"))
    assert kills == 5

    got = [m for m in people.official.inbox[mark:] if is_notice(m)]
    assert all(m.plain.startswith("新通知 ") for m in got)  # lists only, never single notices
    assert repeats(got) <= kills
    carried = {number: {content(m) for m in got if number in m.plain} for number in numbers}
    assert all(len(messages) == 1 for messages in carried.values())  # in one message each
    rows = db.rows(
        "SELECT status, list_id FROM outbox WHERE chat_id = ? ORDER BY id", people.official.id
    )
    assert {r["status"] for r in rows} == {"sent"}
    lists = Counter(r["list_id"] for r in rows)
    assert sorted(lists.values()) == [6, 8, 8, 8] and None not in lists
    # Each list is numbered from ① and counts its own items, whatever the kills did.
    firsts = sorted({m.plain.split("\n")[0] for m in got})
    assert firsts == [
        "新通知 6 条（第 1–6 条），按编号对应下方按钮：",
        "新通知 8 条（第 1–8 条），按编号对应下方按钮：",
    ]


async def test_a_ladder_list_in_several_parts_resumes_with_the_parts_not_sent(
    sandbox, people, clock, db
):
    """Twenty overdue tasks held by the leader: one 督办 list in three parts. Killed right
    after the first part and after the last, the leader still gets each part once, plus
    at most one repeat per kill, and the list's progress is kept as each part goes."""
    rows = []
    for seq in range(11, 31):
        row = task_row(seq, owner=f"无此人{seq}")
        row[5] = "机关党委"  # not a department: the leaders hold these tasks
        rows.append(row)
    await import_file(people.leader, "t.csv", csv_bytes(rows))
    clock.set(datetime(2026, 3, 12, 9, tzinfo=SHANGHAI))

    def is_list(message: SentMessage) -> bool:
        return message.plain.startswith("今日提示督办共 20 件")

    kill_after(sandbox.api, {LEADER_ID}, {1, 4}, is_list)
    mark = people.leader.mark()
    kills = await through_kills(sandbox, clock, lambda: run_sweep(sandbox.app))
    assert kills == 2
    got = [m for m in people.leader.inbox[mark:] if is_list(m)]
    heads = [m.plain.split("\n")[0] for m in got]
    assert heads == [
        "今日提示督办共 20 件（第 1–8 件）：",  # killed: its record was lost
        "今日提示督办共 20 件（第 1–8 件）：",  # the same part again, then the rest
        "今日提示督办共 20 件（第 9–16 件）：",
        "今日提示督办共 20 件（第 17–20 件）：",  # killed
        "今日提示督办共 20 件（第 17–20 件）：",
    ]
    assert repeats(got) == kills
    for seq in range(11, 31):
        assert len({content(m) for m in got if f"：第{seq}项" in m.plain}) == 1
    [row] = db.rows("SELECT status, progress FROM outbox WHERE kind = 'ladder_list'")
    assert row == {"status": "sent", "progress": 16}  # the last part marks it sent


async def queue_long_digest(env) -> list[str]:
    """Last week's digests queued, the leaders' archived in three parts (the archived
    document is what every leader gets); returns those parts."""
    week = Week.before(env.today())
    digest = await reports.leaders_digest(env, None, week)
    appendix = (f"附：第{n}条 督察意见与整改要求（略）" + "。" * 60 for n in range(120))
    text = leaders_text(digest) + "\n" + "\n".join(appendix)
    await reports.record_digest(env, week, "leaders", text)
    await queue_weekly_digests(env, week)
    texts = split_message(text)
    assert len(texts) == 3
    return texts


@pytest.fixture
async def bureau(database_url, org, clock):
    """Three leaders and a staffed department, for the weekly digest."""
    leaders = [LEADER_ID, 900002, 900003]
    settings = settings_for(database_url, admin_ids=leaders)
    box = await Sandbox.start(settings, org, clock)
    leader = box.person(LEADER_ID, "王局长")
    await join(box.person(20001, "张科长"), leader, "jrj", head=True)
    yield box, leaders
    await box.stop()


async def test_a_weekly_digest_killed_at_its_parts_repeats_at_most_one_part_per_kill(
    bureau, clock, monkeypatch
):
    """The leaders' digest in three text parts, its chart and its ledger, to three leaders;
    the bot dies right after the last text part, after a ledger and after a chart. Each
    leader gets every part, and at most one part again per kill (never the chart twice
    because of a later part)."""
    box, leaders = bureau
    monkeypatch.setattr(courier, "_PACKS", {})
    texts = await queue_long_digest(box.env)

    def is_part(message: SentMessage) -> bool:
        return message.chat_id in leaders

    # The parts go leader by leader: three texts, the chart, the ledger. Counting the
    # repeats: 3 = the first leader's last text (4 = it again, 5 its chart), 6 = its
    # ledger (7 = again), 8–10 the second leader's texts, 11 = its chart (12 = again).
    before = {chat: len(box.api.messages_to(chat)) for chat in leaders}
    kill_after(box.api, set(leaders), {3, 6, 11}, is_part)
    kills = await through_kills(box, clock, lambda: courier.drain(box.app.bot, box.env))
    assert kills == 3
    total = 0
    for chat in leaders:
        got = box.api.messages_to(chat)[before[chat] :]
        pieces = [m.text for m in got if "photo" not in m.raw and "document" not in m.raw]
        assert set(pieces) == set(texts)
        assert 1 <= len([m for m in got if "photo" in m.raw]) <= 2
        assert 1 <= len([m for m in got if "document" in m.raw]) <= 2
        total += repeats(got)
    assert total <= kills
    charts = Counter(chat for chat, _ in box.api.photos)
    ledgers = Counter(chat for chat, _, _ in box.api.documents)
    assert charts == {LEADER_ID: 1, 900002: 2, 900003: 1}  # killed after the second's chart
    assert ledgers == {LEADER_ID: 2, 900002: 1, 900003: 1}  # killed after the first's ledger


# Every kind of refusal Telegram gives a notice, and what it must come to: (HTTP status,
# description) → (fault, the row's status after the first try, tried again later?).
FAULTS = [
    (502, "Bad Gateway", Fault.RETRY, "pending", True),
    (500, "Internal Server Error", Fault.RETRY, "pending", True),
    (504, "Gateway Timeout", Fault.RETRY, "pending", True),
    (0, "", Fault.RETRY, "pending", True),  # no answer: the client times out
    (429, "Too Many Requests: retry after 1", Fault.FLOOD, "pending", True),
    (401, "Unauthorized", Fault.RETRY, "pending", True),
    (409, "Conflict: terminated by other getUpdates request", Fault.RETRY, "pending", True),
    (403, BLOCKED, Fault.UNREACHABLE, "failed", False),
    (403, "Forbidden: user is deactivated", Fault.UNREACHABLE, "failed", False),
    (400, "Bad Request: chat not found", Fault.UNREACHABLE, "failed", False),
    (400, "Bad Request: PEER_ID_INVALID", Fault.UNREACHABLE, "failed", False),
    (400, "Bad Request: message is too long", Fault.REFUSED, "refused", False),
    (
        400,
        'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 3',
        Fault.REFUSED,
        "refused",
        False,
    ),
    (400, "Bad Request: BUTTON_DATA_INVALID", Fault.REFUSED, "refused", False),
    (400, "Bad Request: reply markup is too long", Fault.REFUSED, "refused", False),
    (400, "Bad Request: wrong file identifier/HTTP URL specified", Fault.REFUSED, "refused", False),
    (400, "Bad Request: message text is empty", Fault.REFUSED, "refused", False),
    (413, "Request Entity Too Large", Fault.REFUSED, "refused", False),
]


@pytest.mark.parametrize(("status", "description", "fault", "after", "again"), FAULTS)
def test_each_refusal_is_classified_by_one_rule(status, description, fault, after, again):
    assert delivery.fault(status or None, description) is fault


@pytest.mark.parametrize(
    ("error", "fault"),
    [
        (RetryAfter(3), Fault.FLOOD),
        (TimedOut(), Fault.RETRY),
        (NetworkError("Bad Gateway"), Fault.RETRY),
        (NetworkError("Request Entity Too Large"), Fault.REFUSED),
        (InvalidToken("Unauthorized"), Fault.RETRY),
        (Conflict("Conflict: terminated by other getUpdates request"), Fault.RETRY),
        (Forbidden("Forbidden: bot was kicked from the group chat"), Fault.UNREACHABLE),
        (BadRequest("Bad Request: chat not found"), Fault.UNREACHABLE),
        (BadRequest("Bad Request: message is too long"), Fault.REFUSED),
        (BadRequest("Bad Request: BUTTON_DATA_INVALID"), Fault.REFUSED),
        (TelegramError("Invalid server response"), Fault.RETRY),
    ],
)
def test_each_exception_python_telegram_bot_raises_is_classified(error, fault):
    assert courier.fault_of(error) is fault


@pytest.mark.parametrize(("status", "description", "fault", "after", "again"), FAULTS)
async def test_each_refusal_of_a_notice_ends_as_it_must(
    sandbox, people, clock, db, caplog, status, description, fault, after, again
):
    """A notice to the official meets each refusal: transient ones are tried again until
    it goes; a blocked or vanished chat ends it and /start owes it again; a message
    Telegram refuses as such (a 400) ends it at once, logged once as an error, and is
    never sent again — not by the courier, not after /start."""
    official = people.official.id
    sandbox.api.fail_chat(official, status, description)
    caplog.set_level(logging.WARNING, logger="handlers.courier")
    number = await file_appeal(people.company)
    row = db.one("SELECT id, status, error, attempts FROM outbox WHERE chat_id = ?", official)
    assert row["status"] == after and row["attempts"] == 1
    # (python-telegram-bot drops "Bad Request: " and capitalises what follows)
    said = "429" if status == 429 else description.lower() or "timed out"
    assert row["error"].lower() in said
    errors = courier_errors(caplog)
    if fault is Fault.REFUSED:
        assert len(errors) == 1 and str(row["id"]) in errors[0].getMessage()
        said = errors[0].getMessage()
        assert row["error"] in said and "new_appeal" in said  # what, and why
    else:
        assert errors == []

    for _ in range(3):  # a day of retries
        await courier.drain(sandbox.app.bot, sandbox.env)
        clock.advance(timedelta(minutes=20))
    tried = db.one("SELECT attempts FROM outbox WHERE id = ?", row["id"])["attempts"]
    assert (tried > 1) is again
    sandbox.api.chat_failures.clear()
    mark = people.official.mark()
    await people.official.send("/start")
    await courier.drain(sandbox.app.bot, sandbox.env)
    heard = [text for text in people.official.since(mark) if number in text]
    final = db.one("SELECT status, attempts FROM outbox WHERE id = ?", row["id"])
    if fault is Fault.REFUSED:
        assert heard == [] and final == {"status": "refused", "attempts": 1}
        assert not any("未能送达" in text for text in people.official.since(mark))
    else:  # sent at last: by the courier (transient) or after /start (unreachable)
        assert len(heard) == 1 and final["status"] == "sent"
    assert len(courier_errors(caplog)) == len(errors)  # logged once, however long we wait


def courier_errors(caplog) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "handlers.courier" and r.levelno >= logging.ERROR
    ]


async def test_a_weekly_digest_cut_short_by_a_crash_is_completed_at_the_next_start(bureau, clock):
    """Killed after the leaders' digests were queued and before the department's: the
    next start that day queues what is missing, once; on other days it does nothing (the
    Monday job does its own work)."""
    box, leaders = bureau
    clock.set(datetime(2026, 3, 16, 10, tzinfo=SHANGHAI))  # a Monday, after 09:00
    week = Week.before(box.env.today())
    digest = await reports.leaders_digest(box.env, None, week)
    await reports.record_digest(box.env, week, "leaders", leaders_text(digest))
    await reports.enqueue_digest(box.env, week, "leaders", leaders, ("digest", "digest_files"))

    at, monday = time(9, tzinfo=SHANGHAI), 1
    assert "weekly-digest-catch-up" in {job.name for job in box.app.job_queue.jobs()}
    assert await catch_up(box.app.bot, box.env, at, monday) == 1  # the department's head
    assert await catch_up(box.app.bot, box.env, at, monday) == 0
    await courier.drain(box.app.bot, box.env)  # the leaders' rows queued before the crash
    rows = db_rows(box, "SELECT chat_id, kind, status FROM outbox WHERE subject = 'digest'")
    assert Counter(r["chat_id"] for r in rows) == {LEADER_ID: 2, 900002: 2, 900003: 2, 20001: 1}
    assert {r["status"] for r in rows} == {"sent"}
    assert Counter(chat for chat, _ in box.api.photos) == {c: 1 for c in leaders}

    clock.set(datetime(2026, 3, 17, 10, tzinfo=SHANGHAI))  # Tuesday
    assert await catch_up(box.app.bot, box.env, at, monday) == 0
    clock.set(datetime(2026, 3, 23, 8, 30, tzinfo=SHANGHAI))  # next Monday, before 09:00
    assert await catch_up(box.app.bot, box.env, at, monday) == 0


async def test_a_bot_down_all_monday_sends_the_weekly_digest_when_it_starts(bureau, clock):
    """No run at Monday 09:00 (the bot, or every instance, was down, or the leader changed
    after it): the next start that week, whatever the day, sends that Monday's digest —
    once — and a start before the next Monday's run sends nothing new."""
    box, leaders = bureau
    at, monday = time(9, tzinfo=SHANGHAI), 1
    for day in (
        datetime(2026, 3, 17, 0, 30, tzinfo=SHANGHAI),
        datetime(2026, 3, 22, 23, 0, tzinfo=SHANGHAI),
    ):
        clock.set(day)  # Tuesday just after midnight; Sunday night
        handed = await catch_up(box.app.bot, box.env, at, monday)
        assert handed == (len(leaders) + 1 if day.day == 17 else 0)  # and the department's
    await courier.drain(box.app.bot, box.env)
    rows = db_rows(box, "SELECT chat_id, detail FROM outbox WHERE subject = 'digest'")
    assert {r["chat_id"] for r in rows} == {*leaders, 20001}
    assert Counter(chat for chat, _ in box.api.photos) == {c: 1 for c in leaders}
    texts = [m.plain for m in box.api.sent if m.chat_id == LEADER_ID and "上周情况" in m.plain]
    assert texts and "2026-03-09" in texts[0]  # the week before that Monday (03-09 – 03-15)
    clock.set(datetime(2026, 3, 23, 8, 30, tzinfo=SHANGHAI))  # next Monday, before its run
    assert await catch_up(box.app.bot, box.env, at, monday) == 0


def db_rows(box: Sandbox, sql: str) -> list[dict]:
    return Db(url_of(box.app.bot_data["settings"])).rows(sql)


async def test_a_refused_part_ends_its_own_items_and_the_rest_still_goes(
    sandbox, people, clock, db, monkeypatch
):
    """Eight notices wait for the official as one list in two parts (the room for a part's
    text made small here, as long notices would fill it); Telegram refuses the first part:
    its items end `refused`, and the second part still goes, once."""
    monkeypatch.setattr(courier, "LIST_TEXT_ROOM", 2000)
    sandbox.api.fail_chat(people.official.id, 502, "Bad Gateway")
    numbers = [
        await file_appeal(people.company, "融资", f"第{n}件：研发&技改投入" + "R&D&" * 70)
        for n in range(1, 9)
    ]
    sandbox.api.chat_failures.clear()
    sandbox.api.fail("sendMessage", 400, "Bad Request: message is too long", times=1)
    mark = people.official.mark()
    clock.advance(timedelta(minutes=1))
    await courier.drain(sandbox.app.bot, sandbox.env)
    got = people.official.since(mark)
    assert len(got) == 1 and got[0].startswith("新通知 8 条（第 ")  # the second part
    first = got[0].split("（第 ")[1].split("–")[0]
    went = [number for number in numbers if number in got[0]]
    assert went == numbers[int(first) - 1 :]
    rows = db.rows("SELECT status FROM outbox WHERE chat_id = ? ORDER BY id", people.official.id)
    cut = int(first) - 1
    assert 0 < cut < 8
    assert [r["status"] for r in rows] == ["refused"] * cut + ["sent"] * (8 - cut)
    clock.advance(timedelta(hours=1))
    await courier.drain(sandbox.app.bot, sandbox.env)
    assert people.official.since(mark) == got  # nothing again


async def test_a_text_over_the_limit_goes_in_pieces_and_a_crash_repeats_one_piece(
    sandbox, people, clock, db, monkeypatch
):
    """A stored message longer than Telegram allows (the leaders' list of 400 people and
    400 groups that could not be reached, 200 of each named here) goes in pieces under the
    limit; killed after the first piece was accepted, the leader gets that piece again and
    every other piece once."""
    from bot.usecases import outbox

    monkeypatch.setattr(courier, "UNREACHABLE_LISTED", 200)

    lost = [[50000 + n, 1 + n % 3] for n in range(400)]
    groups = [[-1001000000000 - n, 1 + n % 3, "readd"] for n in range(400)]
    detail = {"people": lost, "groups": groups}
    async with sandbox.env.db.unit_of_work() as uow:
        row_id = await uow.outbox.add(
            LEADER_ID, "unreachable_report", None, None, detail, 1, sandbox.env.now()
        )
        await uow.commit()
    [item] = await outbox.stored(sandbox.env, [row_id])
    text, _ = await courier.render(sandbox.env, item)
    pieces = split_message(text)
    assert len(pieces) >= 2 and all(len(piece) <= 4096 for piece in pieces)
    assert "".join(pieces).count("共 400 个") == 2  # the heading and the closing count

    kill_after(sandbox.api, {LEADER_ID}, {1}, lambda message: True)
    mark = people.leader.mark()
    run = lambda: courier.drain(sandbox.app.bot, sandbox.env)  # noqa: E731
    assert await through_kills(sandbox, clock, run) == 1
    got = [m.text for m in people.leader.inbox[mark:]]
    assert got == [pieces[0], *pieces]
    assert db.one("SELECT status, progress FROM outbox WHERE id = ?", row_id) == {
        "status": "sent",
        "progress": len(pieces) - 1,
    }


async def twenty_tasks_listed(sandbox, people, clock, after_first: Callable[[], None]) -> list:
    """Twenty overdue tasks of 李明, owed as one sweep list; `after_first` runs once its
    first part has been accepted. Returns the list's parts as 李明 receives them."""
    rows = [task_row(seq, owner="李明") for seq in range(11, 31)]
    await import_file(people.leader, "t.csv", csv_bytes(rows))
    clock.set(datetime(2026, 3, 12, 9, tzinfo=SHANGHAI))
    seen: list[str] = []

    def listener(message) -> None:
        if message.chat_id == people.official.id and message.plain.startswith("今日提示督办共"):
            seen.append(message.plain)
            if len(seen) == 1:
                after_first()

    sandbox.api.listeners.append(listener)
    return seen


async def test_a_list_resumed_after_a_task_changed_hands_keeps_its_numbers_and_loses_nothing(
    sandbox, people, clock, db
):
    """Twenty overdue tasks of 李明 go as one list; the second part meets a 502, so the list
    waits with its first part sent; meanwhile a task of that first part goes to the head.
    When the list goes on, every unsent item comes, under its own number, and the header's
    count stays as it was."""
    official = people.official
    seen = await twenty_tasks_listed(  # the second part meets a 502 (transient)
        sandbox, people, clock, lambda: sandbox.api.fail("sendMessage", 502, "Bad Gateway", times=1)
    )
    await run_sweep(sandbox.app)
    [row] = db.rows(
        "SELECT progress FROM outbox WHERE kind = 'ladder_list' AND chat_id = ?", official.id
    )
    assert len(seen) == 1 and row["progress"] == courier.LIST_CHUNK
    moved = int(re.search(r"第(\d+)项", seen[0].split("\n", 1)[1])[1])
    # a task of the part already sent changes hands (the owner only: no version, no event,
    # as an import or a hand-over outside the bot leaves it)
    db.execute("UPDATE tasks SET owner_id = ? WHERE seq = ?", people.head.id, moved)
    clock.advance(timedelta(minutes=20))
    await courier.drain(sandbox.app.bot, sandbox.env)
    got = [int(x) for text in seen for x in re.findall(r"第(\d+)项", text)]
    assert sorted(got) == list(range(11, 31))  # each once, the moved one only before
    headers = [text.split("\n")[0] for text in seen]
    assert headers == [
        "今日提示督办共 20 件（第 1–8 件）：",
        "今日提示督办共 20 件（第 9–16 件）：",
        "今日提示督办共 20 件（第 17–20 件）：",
    ]


async def test_a_refused_middle_part_of_a_sweeps_list_is_skipped_and_the_rest_goes(
    sandbox, people, clock, db, caplog
):
    """Twenty overdue tasks of 李明 go as one list in three parts; Telegram refuses the
    second as such (a 400): the operator is told once, the third part still goes, the list
    ends sent and nothing is tried again."""
    official = people.official
    seen = await twenty_tasks_listed(
        sandbox,
        people,
        clock,
        lambda: sandbox.api.fail("sendMessage", 400, "Bad Request: message is too long", times=1),
    )
    with caplog.at_level(logging.ERROR, logger="handlers.courier"):
        await run_sweep(sandbox.app)
    headers = [text.split("\n")[0] for text in seen]
    assert headers == [
        "今日提示督办共 20 件（第 1–8 件）：",
        "今日提示督办共 20 件（第 17–20 件）：",
    ]
    assert len([r for r in caplog.records if "refused by Telegram" in r.message]) == 1
    [row] = db.rows(
        "SELECT status FROM outbox WHERE kind = 'ladder_list' AND chat_id = ?", official.id
    )
    assert row["status"] == "sent"
    clock.advance(timedelta(hours=1))
    await courier.drain(sandbox.app.bot, sandbox.env)
    assert len(seen) == 2


def test_a_part_of_a_list_holding_one_item_names_it_alone():
    """（第 9 件）, not （第 9–9 件）."""
    assert courier.span("ladder", 9, 9) == "第 9 件"
    assert courier.span("ladder", 9, 12) == "第 9–12 件"
    assert courier.span("notice", 3, 3) == "第 3 条"
