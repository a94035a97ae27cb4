"""The leaders' weekly pack at scale: which ledger is built is decided before building it,
from the number of appeals it would hold; the chart and the ledger are made in a worker
process, so a person's step is answered while a pack is being built (the slow writers
below wait for a file the test makes once a person was answered: no clock involved)."""

from __future__ import annotations

import asyncio
import functools
import os
import pickle
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot import digest_files, ledger_sheet, ledger_size, pack_worker
from bot.digest_files import build_leaders_pack
from bot.digest_text import leaders_text
from bot.ledger_size import (
    LEDGER_MARGIN,
    LEDGER_OVERHEAD,
    LEDGER_ROW_BYTES,
    UPLOAD_LIMIT,
    estimated_ledger_bytes,
    ledger_fits,
)
from bot.rules.digest import OverdueItem, Reply, Week
from bot.sheets import BATCH, QUEUED_BATCHES, Column, SheetSpec, write_sheets_elsewhere
from bot.usecases import reports
from storage.reports import ReportRepo
from tests.conftest import file_appeal

# The most appeals whose ledger is expected to fit one upload.
MOST = (UPLOAD_LIMIT - LEDGER_OVERHEAD) // int(LEDGER_ROW_BYTES * LEDGER_MARGIN)
# Long enough for any machine; only reached when the loop is blocked (a failure).
DEADLOCK_GUARD = 30


@pytest.mark.parametrize(
    ("appeals", "fits"),
    [
        (0, True),
        (1, True),
        (13_982, True),  # a busy week of a province (the measurement at 1M a year)
        (100_000, True),
        (MOST - 1, True),
        (MOST, True),
        (MOST + 1, False),
        (MOST + 1_000, False),
        (1_000_000, False),  # the year: 197 MB written, then thrown away
    ],
)
def test_the_year_is_expected_to_fit_up_to_a_row_count(appeals, fits):
    assert ledger_fits(appeals) is fits
    assert (estimated_ledger_bytes(appeals) <= UPLOAD_LIMIT) is fits


@pytest.mark.parametrize(
    ("room", "built", "week_only"),
    [
        (-1, ["week"], True),  # estimated one byte over: the week's straight away
        (0, ["year"], False),  # estimated exactly at the limit: the year's
        (10**6, ["year"], False),
    ],
)
async def test_the_ledger_to_build_is_chosen_before_building_it(
    sandbox, people, monkeypatch, room, built, week_only
):
    for n in range(3):
        await file_appeal(people.company, text=f"扩建冷链仓库需流动资金约{n + 1}00万元，申请对接。")
    env = sandbox.env
    week = Week.of(env.today())
    digest = await reports.leaders_digest(env, None, week)
    assert digest.year.new == 3
    monkeypatch.setattr(ledger_size, "UPLOAD_LIMIT", estimated_ledger_bytes(3) + room)
    calls = spy_exports(monkeypatch)
    pack = await build_leaders_pack(env, digest, "")
    year_start = digest.year.start
    assert [("year" if start == year_start else "week") for start, _ in calls] == built
    assert pack.year_too_large is week_only and pack.ledger_count == 3
    assert pack.ledger_start == (week.start if week_only else year_start)


async def test_a_year_estimated_to_fit_but_too_large_is_replaced_by_the_week(
    sandbox, people, monkeypatch
):
    await file_appeal(people.company)
    env = sandbox.env
    digest = await reports.leaders_digest(env, None, Week.of(env.today()))
    monkeypatch.setattr(ledger_size, "LEDGER_ROW_BYTES", 0)  # an estimate far too low
    monkeypatch.setattr(ledger_size, "LEDGER_OVERHEAD", 0)
    monkeypatch.setattr(ledger_size, "UPLOAD_LIMIT", 100)  # any real ledger is larger
    calls = spy_exports(monkeypatch)
    pack = await build_leaders_pack(env, digest, "")
    assert [start for start, _ in calls] == [digest.year.start, digest.week.start]
    assert pack.year_too_large and pack.ledger_start == digest.week.start


async def test_a_real_ledger_is_within_its_estimate(sandbox, people, tmp_path):
    """Appeals with a history, replies and a rating: the file is no larger than estimated."""
    numbers = [
        await file_appeal(people.company, text=f"第{n}件：厂区道路积水，请协调。") for n in range(5)
    ]
    for number in numbers:
        await people.official.send(f"/view {number}")
    env = sandbox.env
    target = tmp_path / "ledger.xlsx"
    count = await digest_files.export_ledger(
        env, None, env.today().replace(month=1, day=1), env.today(), target
    )
    assert count == 5
    assert target.stat().st_size <= estimated_ledger_bytes(count)


def _wait_for(flag: Path) -> None:
    """In the worker process: wait until the test lets it go (a file appears)."""
    for _ in range(DEADLOCK_GUARD * 100):
        if flag.exists():
            return
        time.sleep(0.01)
    raise AssertionError("nobody was answered while the pack was being built")


def slow_cells(flags: str, entry, zone, departments):
    """The ledger's rows, the first held back until the test says go."""
    (Path(flags) / "writing").touch()
    _wait_for(Path(flags) / "go")
    return ledger_sheet.cells(entry, zone, departments)


def slow_chart(flags: str, digest) -> bytes:
    (Path(flags) / "writing").touch()
    _wait_for(Path(flags) / "go")
    return b"\x89PNG drawn"


async def appears(flag: Path) -> None:
    for _ in range(DEADLOCK_GUARD * 100):
        if flag.exists():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{flag.name} never appeared")


async def test_a_persons_step_is_answered_while_the_ledger_is_written(
    sandbox, people, monkeypatch, tmp_path
):
    """The writer (in its process) stops at its first row until a person has filed an
    appeal through the bot: were it on the event loop, the person would never be answered."""
    for n in range(3):
        await file_appeal(people.company, text=f"第{n}件：园区道路施工影响货车进出，请协调。")
    env = sandbox.env
    digest = await reports.leaders_digest(env, None, Week.of(env.today()))
    monkeypatch.setattr(ledger_sheet, "cells", functools.partial(slow_cells, str(tmp_path)))
    building = asyncio.create_task(build_leaders_pack(env, digest, ""))
    await appears(tmp_path / "writing")
    number = await file_appeal(people.rival, "用工(引才)", "招聘电工十名，请帮助对接。")
    assert number in people.rival.last and not building.done()  # answered meanwhile
    (tmp_path / "go").touch()
    pack = await building
    assert pack.ledger_count >= 3 and pack.ledger.startswith(b"PK")


async def test_a_persons_step_is_answered_while_the_chart_is_drawn(
    sandbox, people, monkeypatch, tmp_path
):
    await file_appeal(people.company)
    env = sandbox.env
    digest = await reports.leaders_digest(env, None, Week.of(env.today()))
    monkeypatch.setattr(digest_files, "RENDERER", functools.partial(slow_chart, str(tmp_path)))
    building = asyncio.create_task(build_leaders_pack(env, digest, ""))
    await appears(tmp_path / "writing")
    answer = await people.company.send("/my")
    assert answer and not building.done()
    (tmp_path / "go").touch()
    pack = await building
    assert pack.chart == b"\x89PNG drawn"


class Endless:
    """Items for a digest's work in Python, without end until a person has been answered
    (an iterable that never waits: only turns the digest itself gives let the person's step
    run); after DEADLOCK_GUARD seconds it stops anyway and says so (a failure)."""

    def __init__(self, make) -> None:
        self.make, self.answered, self.given = make, asyncio.Event(), 0
        self.stopped_by_guard = False

    def __iter__(self):
        guard = time.monotonic() + DEADLOCK_GUARD
        while not self.answered.is_set():
            if time.monotonic() > guard:
                self.stopped_by_guard = True
                return
            self.given += 1
            yield self.make(self.given)

    async def __aiter__(self):
        for item in self:
            yield item


@pytest.mark.parametrize("part", ["replay", "near_duplicates"])
async def test_a_persons_step_is_answered_while_the_digest_is_computed(
    sandbox, people, monkeypatch, part
):
    """The digest's replay of changed appeals and its near-duplicate check run as long as
    nobody is answered; a person files an appeal meanwhile and is answered, and the digest
    then ends with every item it was given counted, as a digest without the race counts."""
    for n in range(3):
        await file_appeal(people.company, text=f"第{n}件：园区道路施工影响货车进出，请协调。")
    env = sandbox.env
    async with env.db.reading() as uow:
        [row, *_] = await uow.reports.open_rows()
        events = await uow.audit.of_appeal(row.id)
    reply = "已协调施工单位，本周内恢复货车通行。"
    if part == "replay":  # a past week: the appeals changed since are replayed
        week = Week.of(env.today() - timedelta(days=7))
        endless = Endless(lambda n: (row, events))
        monkeypatch.setattr(ReportRepo, "changed_since", lambda self, end: _value(endless))
    else:  # this week's replies, each compared with the department's latest
        week = Week.of(env.today())
        endless = Endless(lambda n: Reply(n, reply, f"SQ-X-{n}", 1, "金融科", env.now()))
        monkeypatch.setattr(ReportRepo, "replies_between", lambda self, start, end: endless)

    async def person() -> str:
        number = await file_appeal(people.rival, "用工(引才)", "招聘电工十名，请帮助对接。")
        endless.answered.set()
        return number

    digesting = asyncio.create_task(reports.leaders_digest(env, None, week))
    number = await person()
    digest = await digesting
    assert number in people.rival.last
    assert not endless.stopped_by_guard and endless.given > 0
    monkeypatch.undo()
    alone = await reports.leaders_digest(env, None, week)
    if part == "near_duplicates":  # every reply but the first is the one before it again
        assert digest.duplicates_total == endless.given - 1
        short = len(reply) < env.org.digest.min_reply_chars
        assert digest.short_total == (endless.given if short else 0)
    else:  # replayed: filed after that week, so as then it counts nowhere
        assert (digest.last_week, digest.year) == (alone.last_week, alone.year)
        assert digest.overdue == alone.overdue


async def _value(value):
    return value


SPECS = [SheetSpec("一", [Column("编号", 10)]), SheetSpec("二", [Column("编号", 10)])]


def held_rows(flags: str, n: int) -> list[list[str]]:
    if n == 0:
        (Path(flags) / "writing").touch()
        _wait_for(Path(flags) / "go")
    return [[f"SQ-{n}"], [f"SQ-{n}"]]


def broken_rows(n: int) -> list[list[str]]:
    if n == BATCH + 5:
        raise ValueError("broken row")
    return [[str(n)], [str(n)]]


def plain_rows(n: int) -> list[list[str]]:
    return [[str(n)], [str(n)]]


async def test_the_reader_stays_a_bounded_distance_ahead_of_the_writer(tmp_path):
    total, read = 10 * BATCH * QUEUED_BATCHES, 0

    async def items():
        nonlocal read
        for n in range(total):
            read += 1
            yield n

    target = tmp_path / "book.xlsx"
    rows = functools.partial(held_rows, str(tmp_path))
    writing = asyncio.create_task(write_sheets_elsewhere(items(), rows, target, SPECS))
    await appears(tmp_path / "writing")
    while read < QUEUED_BATCHES * BATCH:
        await asyncio.sleep(0)  # let the reader run as far as it may
    for _ in range(100):
        await asyncio.sleep(0)
    assert read == QUEUED_BATCHES * BATCH  # and there it waits for the writer
    (tmp_path / "go").touch()
    assert await writing == total and read == total
    book = load_workbook(target, read_only=True)
    for sheet in book.worksheets:
        values = [row[0] for row in sheet.iter_rows(values_only=True)]
        assert values == ["编号", *(f"SQ-{n}" for n in range(total))]


async def test_a_writer_failure_stops_the_reading_and_is_raised(tmp_path):
    read = 0

    async def items():
        nonlocal read
        for n in range(100 * BATCH):
            read += 1
            yield n

    with pytest.raises(ValueError, match="broken row"):
        await write_sheets_elsewhere(items(), broken_rows, tmp_path / "book.xlsx", SPECS)
    assert read <= (QUEUED_BATCHES + 2) * BATCH


async def test_a_reading_failure_is_raised_and_the_worker_drops_the_book(tmp_path):
    async def items():
        yield 1
        raise OSError("database gone")

    target = tmp_path / "book.xlsx"
    with pytest.raises(OSError, match="database gone"):
        await write_sheets_elsewhere(items(), plain_rows, target, SPECS)
    await appears(target)  # closed by the worker, which is free for the next
    assert await write_sheets_elsewhere(aiter_of(range(3)), plain_rows, target, SPECS) == 3


async def aiter_of(values):
    for value in values:
        yield value


def spy_exports(monkeypatch) -> list[tuple[object, object]]:
    """Records the period of every ledger built."""
    calls: list[tuple[object, object]] = []
    original = digest_files.export_ledger

    async def export(env, actor, start, end, target, here=False):
        calls.append((start, end))
        return await original(env, actor, start, end, target, here)

    monkeypatch.setattr(digest_files, "export_ledger", export)
    return calls


async def test_a_relative_target_is_written_where_this_process_means(tmp_path, monkeypatch):
    """The worker process keeps the working folder it started in."""
    await write_sheets_elsewhere(aiter_of(range(2)), plain_rows, tmp_path / "first.xlsx", SPECS)
    monkeypatch.chdir(tmp_path)
    assert await write_sheets_elsewhere(aiter_of(range(2)), plain_rows, Path("l.xlsx"), SPECS) == 2
    assert (tmp_path / "l.xlsx").stat().st_size > 0


def test_the_worker_ends_when_the_bot_is_killed():
    """A bot killed (-9) cannot stop its worker process: the worker notices and ends."""
    script = (
        "import os, time\n"
        "from bot.sheets import worker_pool\n"
        "print(worker_pool().submit(os.getpid).result(), flush=True)\n"
        "time.sleep(120)\n"
    )
    bot = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(bot.stdout.readline())
        os.kill(worker, 0)  # running
    finally:
        bot.kill()
        bot.wait()
    for _ in range(DEADLOCK_GUARD * 100):
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
    os.kill(worker, signal.SIGKILL)
    raise AssertionError("the worker outlived the bot")


# -- the bot's pack: built whole in the worker, on a connection of its own -------------------


def refuse_the_database_here(monkeypatch, env) -> None:
    """Any reading or writing of the database in this process fails (the worker, a process
    of its own, opens the database itself)."""

    def refused(*args, **kwargs):
        raise AssertionError("the database used in the bot's process")

    for name in ("reading", "unit_of_work", "one_statement"):
        monkeypatch.setattr(type(env.db), name, refused)


def ledger_rows(content: bytes, folder: Path) -> dict[str, list[tuple]]:
    target = folder / "ledger.xlsx"
    target.write_bytes(content)
    book = load_workbook(target, read_only=True)
    return {
        sheet.title: [tuple(row) for row in sheet.iter_rows(values_only=True)] for sheet in book
    }


async def test_the_weekly_pack_is_built_in_the_worker_as_the_bot_would_build_it(
    sandbox, people, monkeypatch, tmp_path, clock
):
    """What the courier sends on Monday for last week: the same digest (its chart drawn from
    it: here its pickle), text and ledger as built in the bot's process — with appeals
    changed after the week ended, replayed as they were — but nothing of it read in the
    bot's process."""
    numbers = [
        await file_appeal(people.company, text=f"第{n}件：厂区道路积水，请协调。") for n in range(3)
    ]
    week = Week.of(sandbox.env.today())
    clock.advance(timedelta(days=7))
    await people.official.send(f"/view {numbers[0]}")
    await people.official.press("签收", containing=numbers[0])  # changed after the week
    env = sandbox.env
    monkeypatch.setattr(digest_files, "RENDERER", pickle.dumps)
    digest = await reports.leaders_digest(env, None, week)
    here = await build_leaders_pack(env, digest, leaders_text(digest))
    refuse_the_database_here(monkeypatch, env)
    elsewhere = await pack_worker.leaders_pack(env, week)
    assert pickle.loads(elsewhere.chart) == digest == pickle.loads(here.chart)
    assert elsewhere.text == leaders_text(digest) and "督察通报" in elsewhere.text
    assert (elsewhere.ledger_count, elsewhere.ledger_start, elsewhere.ledger_end) == (
        here.ledger_count,
        here.ledger_start,
        here.ledger_end,
    )
    assert elsewhere.ledger_count == 3
    assert ledger_rows(elsewhere.ledger, tmp_path) == ledger_rows(here.ledger, tmp_path)
    # a text given (the archived one) is sent as given
    given = await pack_worker.leaders_pack(env, week, "已存档的通报")
    assert given.text == "已存档的通报"


async def test_the_worker_decides_the_ledger_with_the_bots_sizes(sandbox, people, monkeypatch):
    """The upload limit in force in the bot is the one the worker applies."""
    await file_appeal(people.company)
    env = sandbox.env
    week = Week.of(env.today())
    monkeypatch.setattr(ledger_size, "UPLOAD_LIMIT", estimated_ledger_bytes(1) - 1)
    pack = await pack_worker.leaders_pack(env, week)
    assert pack.year_too_large and pack.ledger_start == week.start


async def test_a_persons_step_is_answered_while_the_worker_builds_the_pack(
    sandbox, people, monkeypatch, tmp_path
):
    await file_appeal(people.company)
    env = sandbox.env
    monkeypatch.setattr(digest_files, "RENDERER", functools.partial(slow_chart, str(tmp_path)))
    building = asyncio.create_task(pack_worker.leaders_pack(env, Week.of(env.today())))
    await appears(tmp_path / "writing")
    answer = await people.company.send("/my")
    assert answer and not building.done()
    (tmp_path / "go").touch()
    pack = await building
    assert pack.chart == b"\x89PNG drawn"


async def test_a_pack_the_worker_cannot_build_is_an_error_and_the_next_one_is_built(
    sandbox, people, monkeypatch
):
    """The worker cannot open the database (gone, say): the bot gets one error naming it,
    and the worker builds the next pack."""
    await file_appeal(people.company)
    env = sandbox.env
    week = Week.of(env.today())
    database = type(env.db)
    monkeypatch.setattr(database, "location", lambda self: "sqlite:////nonexistent/ad.sqlite3")
    with pytest.raises(pack_worker.PackFailed, match="DatabaseUnusable"):
        await pack_worker.leaders_pack(env, week)
    monkeypatch.undo()
    pack = await pack_worker.leaders_pack(env, week)
    assert pack.ledger_count == 1


async def test_a_pack_being_built_is_not_waited_for_when_the_bot_stops(
    sandbox, people, monkeypatch, tmp_path
):
    """The bot's stop ends the worker at once (a pack takes minutes at a province's size);
    the next pack starts a new one."""
    from concurrent.futures.process import BrokenProcessPool

    from bot.sheets import stop_worker, worker_pool

    await file_appeal(people.company)
    env = sandbox.env
    week = Week.of(env.today())
    monkeypatch.setattr(digest_files, "RENDERER", functools.partial(slow_chart, str(tmp_path)))
    worker = worker_pool().submit(os.getpid).result()
    building = asyncio.create_task(pack_worker.leaders_pack(env, week))
    await appears(tmp_path / "writing")  # the worker is drawing, and would wait for "go"
    stop_worker()
    with pytest.raises(BrokenProcessPool):
        await asyncio.wait_for(building, DEADLOCK_GUARD)
    for _ in range(DEADLOCK_GUARD * 100):
        if not os.path.exists(f"/proc/{worker}") or "zombie" in _state(worker):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the worker process is still running")
    monkeypatch.setattr(digest_files, "RENDERER", None)
    pack = await pack_worker.leaders_pack(env, week)
    assert pack.ledger_count == 1


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((line.lower() for line in status if line.startswith("State:")), "")
    except FileNotFoundError:
        return ""


@pytest.mark.parametrize(("appeals", "attached"), [(3, True), (MOST, True), (MOST + 1, False)])
def test_the_digest_says_where_the_full_lists_are(appeals, attached):
    """The overdue and withdrawn lists, when cut, point to the attached ledger only when it
    is the year's; when only the week's fits one upload, to `appealdesk export`."""
    from dataclasses import replace

    from tests.test_paper import year_digest

    digest = year_digest([])
    overdue = [
        OverdueItem(f"SQ-2026-{n:06d}", "市人社局", None, 5, date(2026, 3, 1)) for n in range(40)
    ]
    digest = replace(
        digest, year=replace(digest.year, new=appeals), overdue=overdue[:30], overdue_total=40
    )
    text = leaders_text(digest)
    assert ("随附诉求台账" in text) is attached
    assert ("appealdesk export" in text) is not attached


def test_a_count_axis_starts_at_zero_and_reaches_one_at_least():
    from bot.chart import counts_top

    assert counts_top([]) == counts_top([0, 0]) == 1.2
    assert counts_top([7, 3]) == pytest.approx(8.4)
