"""Every message built from inputs within the configured limits fits Telegram's limits.

The fake Bot API refuses what Telegram refuses (text over 4096 UTF-16 units after HTML
parsing, captions over 1024, callback data over 64 bytes, over 100 buttons or 8 to a row);
every render function and every notice, ladder and digest kind is rendered here with the
largest inputs the org config allows; the stories below play them through the real handlers.
"""

from __future__ import annotations

import inspect
import logging
import re
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import InlineKeyboardMarkup

from bot.clock import ManualClock
from bot.digest_text import capped, department_text, leaders_text, split_message
from bot.rules import audiences, checks
from bot.rules.digest import (
    DepartmentDigest,
    DepartmentFigures,
    DigestRow,
    LeaderDigest,
    OverdueItem,
    PeriodFigures,
    QualityFlag,
    Week,
    Withdrawal,
)
from bot.rules.model import (
    Action,
    Appeal,
    AppealView,
    Event,
    Message,
    Notice,
    Rating,
    Role,
    State,
    StoredNotice,
    Task,
    TaskState,
)
from bot.rules.workcal import WorkingCalendar
from bot.sandbox.chat import Sandbox
from bot.sandbox.fake_api import FakeBotApi, html_problem
from bot.telegram_limits import (
    BUTTONS_MAX,
    CALLBACK_DATA_BYTES,
    ROW_MAX,
    TEXT_LIMIT,
    markup_problem,
    split_html,
    units,
    visible,
    visible_length,
)
from bot.texts import keys, t
from bot.texts.zh import CATALOG
from bot.usecases import ladder
from bot.usecases.env import Env
from bot.usecases.ladder import PendingNotice
from handlers import render
from handlers.buttons import APPEAL_FILES
from handlers.common import CHOICES_MAX, fitted, html_free, offered
from handlers.courier import LADDER_LISTED, LIST_CHUNK, listed, pack_parts
from handlers.jobs import run_sweep
from tests.conftest import LEADER_ID, SHANGHAI, Db, file_appeal, join, register

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)

# Characters that make a text long as Telegram counts it: an emoji is two UTF-16 units, an
# escaped "&" or "<" is five characters of HTML but one on screen; CJK and line ends.
HEAVY = "😀𠀀"
ALPHABET = HEAVY + "&<>\"'诉求融资担保ab \n"


# -- checks ---------------------------------------------------------------------------------
def markup_dict(markup: InlineKeyboardMarkup | None) -> dict | None:
    return markup.to_dict() if markup is not None else None


def assert_fits(text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """One message Telegram accepts: length, well-formed HTML, buttons."""
    assert visible(text).strip(), "an empty message"
    assert visible_length(text) <= TEXT_LIMIT, visible_length(text)
    assert html_problem({"parse_mode": "HTML", "text": text}) is None
    assert markup_problem(markup_dict(markup)) is None


def assert_answer_fits(text: str, markup: InlineKeyboardMarkup | None = None) -> int:
    """A direct answer: sent as `fitted` sends it; returns how many messages it takes."""
    parts = fitted(text, markup)
    for piece, buttons in parts:
        assert_fits(piece, buttons)
    assert all(buttons is None for _, buttons in parts[:-1])  # buttons under the last part
    assert parts[-1][1] is markup
    return len(parts)


# -- the largest inputs the config allows ------------------------------------------------------
def big_text(size: int, filler: str = "😀&<诉") -> str:
    """A text of `size` characters (what the checks count) that is as long as possible for
    Telegram, with line ends now and then."""
    body = (filler * (size // len(filler) + 1))[:size]
    return "\n".join(body[i : i + 500] for i in range(0, size, 500))[:size]


@pytest.fixture
def big_org(org):
    """The org config with every text limit at its maximum."""
    limits = org.limits.model_copy(
        update={"description_max": 3500, "text_max": 3500, "list_max": 100, "attachments_max": 50}
    )
    digest = org.digest.model_copy(update={"overdue_listed": 500, "quality_listed": 500})
    return org.model_copy(update={"limits": limits, "digest": digest})


@pytest.fixture
def env(big_org) -> Env:
    return Env(
        db=None,  # type: ignore[arg-type] - the render functions read no database
        org=big_org,
        calendar=WorkingCalendar(),
        clock=ManualClock(NOW),
        leaders=frozenset({LEADER_ID}),
        zone=SHANGHAI,
    )


def big_appeal(env: Env, text: str | None = None, state: State = State.IN_PROGRESS) -> Appeal:
    limits = env.org.limits
    return Appeal(
        id=2**52,
        number="SQ-2026-999999",
        enterprise_id=2**52,
        enterprise_name=big_text(checks.ENTERPRISE_NAME[1]),
        category=big_text(20),
        description=text if text is not None else big_text(limits.description_max),
        state=state,
        department_id=2**52,
        department_code="d" * 32,
        department_name=big_text(40),
        assignee_id=2**52,
        owner_id=2**52,
        owner_name=big_text(40),
        claim_due_date=date(2026, 3, 11),
        due_date=date(2026, 3, 24),
        created_at=NOW,
        claimed_at=NOW,
        closed_at=NOW,
        resolution=big_text(limits.text_max),
        rating=Rating.BASIC,
        rating_due_date=date(2026, 3, 27),
        reopen_count=9,
        version=2**31,
    )


def big_task(text: str) -> Task:
    return Task(
        id=2**52,
        seq=9999,
        aspect=big_text(60),
        problem=text,
        measures=text,
        leader_name=big_text(40),
        department_name=big_text(40),
        owner_name=big_text(40),
        owner_id=None,
        deadline=date(2026, 3, 20),
        state=TaskState.IN_PROGRESS,
        version=2**31,
        updated_at=NOW,
    )


def stored_notice(kind: str, subject: str = "appeal") -> StoredNotice:
    return StoredNotice(2**52, subject, 2**52, kind, "督办", 2026, 999999, NOW)


def notice_detail(kind: str, text: str) -> dict:
    return {
        "text": text,
        "reason": text,
        "files": 50,
        "new_due": "2026-04-30",
        "old_due": "2026-03-24",
        "extension_id": 2**52,
        "unheard": True,
        "what": "reply",
        "contact": text[:50],
        "phone": "+86 139 0711 0000 转 1234",
        "due_basis": "kept_extension",  # the longest way a reopened deadline is explained
        "fresh_due": "2026-04-14",
        "days": 10,
    }


NOTICE_KINDS = sorted(
    k.split(".", 1)[1] for k in keys("notice.") if not k.startswith("notice.list_")
)
TASK_NOTICE_KINDS = sorted(k.split(".", 1)[1] for k in keys("notice_task."))
APPEAL_LADDER, TASK_LADDER = ladder.APPEAL_KINDS, ladder.TASK_KINDS

texts = st.text(alphabet=ALPHABET, min_size=0, max_size=40).map(
    lambda s: (s * (3500 // max(len(s), 1) + 1))[:3500] or big_text(3500)
)
FAST = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))


# -- the fake API is as strict as Telegram -----------------------------------------------------
def send(api: FakeBotApi, **params) -> tuple[int, str]:
    status, body = api.handle("sendMessage", {"chat_id": 1, "parse_mode": "HTML", **params})
    return status, body.get("description", "")


def test_fake_api_refuses_what_telegram_refuses():
    api = FakeBotApi()
    assert send(api, text="诉" * 4096)[0] == 200
    assert send(api, text="诉" * 4097) == (400, "Bad Request: message is too long")
    # counted after parsing: tags count nothing, an entity one character
    assert send(api, text="<b>" + "&amp;" * 4096 + "</b>")[0] == 200
    # counted in UTF-16 units: an emoji counts two
    assert send(api, text="😀" * 2048)[0] == 200
    assert send(api, text="😀" * 2049) == (400, "Bad Request: message is too long")
    assert send(api, text=" \n ") == (400, "Bad Request: message text is empty")
    status, body = api.handle("sendPhoto", {"chat_id": 1, "caption": "诉" * 1025})
    assert (status, body["description"]) == (400, "Bad Request: message caption is too long")
    assert api.handle("sendDocument", {"chat_id": 1, "caption": "诉" * 1024})[0] == 200

    def buttons(rows: int, per_row: int, data: str = "view:1:1") -> dict:
        row = [{"text": "查看", "callback_data": data}] * per_row
        return {"inline_keyboard": [row] * rows}

    assert send(api, text="x", reply_markup=buttons(1, 1, "x" * CALLBACK_DATA_BYTES))[0] == 200
    too_long = buttons(1, 1, "x" * (CALLBACK_DATA_BYTES - 1) + "诉")
    assert send(api, text="x", reply_markup=too_long) == (400, "Bad Request: BUTTON_DATA_INVALID")
    assert send(api, text="x", reply_markup=buttons(BUTTONS_MAX // ROW_MAX, ROW_MAX))[0] == 200
    assert send(api, text="x", reply_markup=buttons(1, ROW_MAX + 1))[1].endswith("TOO_LONG")
    assert send(api, text="x", reply_markup=buttons(BUTTONS_MAX + 1, 1))[1].endswith("TOO_LONG")
    assert [why for _, why in api.refused].count("message is too long") == 2
    assert len(api.sent) == 6  # only what Telegram accepts is shown


def test_units_and_visible_length_count_as_telegram():
    assert units("诉求") == 2 and units("😀") == 2 and units("𠀀a") == 3
    assert visible_length("<b>诉&amp;求</b>\n") == 4
    assert visible("a &lt;b&gt; <i>c</i>") == "a <b> c"


@FAST
@given(
    words=st.lists(st.text(alphabet=ALPHABET, max_size=300), min_size=1, max_size=40),
    limit=st.sampled_from([50, 700, TEXT_LIMIT]),
)
def test_split_html_keeps_every_piece_within_the_limit_and_well_formed(words, limit):
    from handlers.common import esc

    text = "\n".join(f"<b>{esc(w)}</b>" if i % 3 == 0 else esc(w) for i, w in enumerate(words))
    if not visible(text).strip():
        return
    pieces = split_html(text, limit)
    for piece in pieces:
        assert visible_length(piece) <= limit
        assert html_problem({"parse_mode": "HTML", "text": piece}) is None
        assert visible(piece).strip()
    # nothing is lost but the line ends at the cuts and the blank lines around them
    assert "".join(visible(p) for p in pieces).replace("\n", "") == visible(text).replace("\n", "")


def test_split_message_cuts_a_line_of_emoji_by_telegrams_count():
    pieces = split_message("😀" * 5000)
    assert [units(p) for p in pieces] == [4096, 4096, 1808]


# -- every render function, with the largest inputs -------------------------------------------
@FAST
@given(text=texts)
def test_every_notice_kind_fits_one_message(env, text):
    appeal = big_appeal(env, text[: env.org.limits.description_max])
    for kind in NOTICE_KINDS:
        for chat in (LEADER_ID, 2**40):
            for allowed in (None, list(Action)):  # a group; somebody who may do anything
                worded, markup = render.notice(
                    Notice(chat, kind, appeal, notice_detail(kind, text)), env, allowed
                )
                assert_fits(worded, markup)


@FAST
@given(text=texts)
def test_every_task_notice_fits_one_message(text):
    for action in TASK_NOTICE_KINDS:
        for leader in (True, False):
            assert_fits(*render.task_notice(big_task(text), action, text, leader))


@FAST
@given(text=texts)
def test_every_ladder_notice_fits_one_message(env, text):
    for state in (State.PENDING, State.IN_PROGRESS):
        appeal = big_appeal(env, text, state)
        for kind in APPEAL_LADDER:
            item = PendingNotice(stored_notice(kind), appeal, None, 9999, [LEADER_ID])
            assert_fits(*render.ladder_notice(item, env, LEADER_ID, list(Action)))
            assert_fits(*render.ladder_notice(item, env, 2**40, list(Action)))
            assert_fits(*render.ladder_notice(item, env, 2**40))
    for kind in TASK_LADDER:
        item = PendingNotice(stored_notice(kind, "task"), None, big_task(text), 0, [LEADER_ID])
        assert_fits(*render.ladder_notice(item, env))
        gone = PendingNotice(stored_notice(kind, "task"), None, None, 0, [LEADER_ID])
        assert_fits(*render.ladder_notice(gone, env))


def test_a_list_of_the_largest_notices_fits_in_each_message(env):
    appeal = big_appeal(env)
    worded = [
        render.notice(Notice(2**40, kind, appeal, notice_detail(kind, big_text(3500))), env)
        for kind in NOTICE_KINDS
    ] * 3
    parts = listed(
        list(enumerate(worded, start=1)),
        lambda first, last: t("notice.list_header", count=99, span=f"第 {first}–{last} 条"),
    )
    assert sum(len(group) for group, _ in parts) == len(worded)
    for group, (kind, text, markup) in parts:
        assert kind == "text" and len(group) <= LIST_CHUNK
        assert_fits(text, markup)


def big_view(env: Env, text: str, count: int) -> AppealView:
    appeal = big_appeal(env, text)
    messages = [
        Message(i, appeal.id, 2**52, big_text(40), kind, text, NOW)
        for i, kind in enumerate(["supplement", "reply", "note", "rating_comment"] * count)
    ]
    events = [
        Event(i, "appeal", appeal.id, 2**52, big_text(40), action, None, None, detail, NOW)
        for i, (action, detail) in enumerate(
            [
                ("transfer", {"from": "d" * 32, "to": "e" * 32, "reason": text}),
                ("extend", {"old_due": "2026-03-24", "new_due": "2026-04-30", "reason": text}),
                ("withdraw", {"reason": text}),
                ("close", {"text": text}),
            ]
            * count
        )
    ]
    notices = [stored_notice(kind) for kind in APPEAL_LADDER * count]
    return AppealView(appeal, messages, 50, events, list(Action), notices)


@FAST
@given(text=texts, count=st.integers(min_value=1, max_value=30))
def test_the_card_of_the_largest_appeal_fits_and_points_to_the_rest(env, text, count):
    view = big_view(env, text, count)
    for role in Role:
        worded, markup = render.card(view, env, role, {"d" * 32: big_text(40)})
        parts = assert_answer_fits(worded, markup)
        # bounded whatever the history's length: the description (two messages of emoji at
        # its maximum, Telegram counting each as two) and the latest CARD_LATEST entries
        assert parts <= 6
        if count * 4 > render.CARD_LATEST:
            assert "完整记录见诉求台账" in visible(worded)


def test_lists_of_appeals_fit_with_their_count(env):
    appeals = [big_appeal(env) for _ in range(env.org.limits.list_max)]
    for staff in (True, False):
        for kind in ("my", "inbox", "overdue"):
            header = t(f"{kind}_header", count=123_456)
            text, markup = render.list_text(header, appeals, staff, 123_456, f"list_more.{kind}")
            assert_answer_fits(text, markup)
            assert "共 123456 件" in visible(text)


def test_buttons_of_every_render_function_fit(env):
    appeal = big_appeal(env)
    markup = render.action_markup(appeal, list(Action))
    assert markup is not None and markup_problem(markup_dict(markup)) is None
    for label, data in [
        render.view_button(appeal),
        render.first_step(appeal, True),
        render.first_step(appeal, False),
        *render.rating_row(appeal),
        *render.task_button_row(big_task("x")),
    ]:
        assert len(data.encode()) <= CALLBACK_DATA_BYTES and label
    assert render.task_state_name(TaskState.DEEMED_DONE)
    fields = render.appeal_fields(appeal, env)
    assert visible_length(fields["description"]) <= render.SNIPPET
    assert visible_length(render.snippet(big_text(3500), 200)) <= 200
    assert visible_length(render.quoted(big_text(3500), "…")) <= render.QUOTE_ROOM + 1
    assert render.latest("h", ["a"], 99).endswith(t("card_more", shown=1, total=99))
    # 查看附件 with the largest ids and counts: one more row, within the limits
    with_files = render.with_files(markup, APPEAL_FILES, 2**53 - 1, 999)
    assert with_files is not None and markup_problem(markup_dict(with_files)) is None
    assert render.with_files(markup, APPEAL_FILES, 1, 0) is markup


# Every public function of handlers/render.py, and the test above that renders it.
RENDER_COVERED = {
    "notice": test_every_notice_kind_fits_one_message,
    "next_step_markup": test_every_notice_kind_fits_one_message,
    "reopen_how": test_every_notice_kind_fits_one_message,
    "task_next_row": test_every_task_notice_fits_one_message,
    "ladder_notice": test_every_ladder_notice_fits_one_message,
    "task_notice": test_every_task_notice_fits_one_message,
    "card": test_the_card_of_the_largest_appeal_fits_and_points_to_the_rest,
    "list_text": test_lists_of_appeals_fit_with_their_count,
    "latest": test_buttons_of_every_render_function_fit,
    "action_markup": test_buttons_of_every_render_function_fit,
    "view_button": test_buttons_of_every_render_function_fit,
    "first_step": test_buttons_of_every_render_function_fit,
    "rating_row": test_buttons_of_every_render_function_fit,
    "task_button_row": test_buttons_of_every_render_function_fit,
    "task_state_name": test_buttons_of_every_render_function_fit,
    "appeal_fields": test_buttons_of_every_render_function_fit,
    "snippet": test_buttons_of_every_render_function_fit,
    "quoted": test_buttons_of_every_render_function_fit,
    "with_files": test_buttons_of_every_render_function_fit,
}


def test_every_render_function_is_rendered_here():
    """A new render function (a new message kind) fails this until a test above renders it
    with the largest inputs."""
    public = {
        name
        for name, fn in inspect.getmembers(render, inspect.isfunction)
        if fn.__module__ == render.__name__ and not name.startswith("_")
    }
    assert public == set(RENDER_COVERED)


def test_every_notice_and_ladder_kind_is_rendered():
    """Notice kinds come from the catalog and ladder kinds from the ladder itself, so a new
    kind is rendered above; every ladder text in the catalog belongs to a kind rendered."""
    assert {"reply", "closed", "supplement", "extension_request", "transferred"} <= set(
        NOTICE_KINDS
    )
    assert {"approve", "deem", "send_back", *audiences.TO_LEADERS} == set(TASK_NOTICE_KINDS)
    lists = ("ladder.list_header", "ladder.list_more", "ladder.list_span", "ladder.list_span_one")
    ladder_texts = {k for k in CATALOG if k.startswith("ladder.") and k not in lists}
    rendered = {f"ladder.{k}" for k in APPEAL_LADDER} | {"ladder.task_soon"}
    rendered |= {f"ladder.{k}" for k in TASK_LADDER if k not in ("task_d1", "task_d3", "task_d7")}
    assert ladder_texts == rendered


# -- digests: bounded whatever the volume ------------------------------------------------------
def digest_row(n: int, due: date, state: State = State.IN_PROGRESS) -> DigestRow:
    return DigestRow(
        n,
        f"SQ-2026-{n:06d}",
        big_text(20),
        state,
        1,
        big_text(40),
        big_text(40) if state is State.IN_PROGRESS else None,
        NOW,
        None,
        None,
        due - timedelta(days=10),
        due,
        None,
        None,
    )


def test_a_department_with_thousands_overdue_gets_a_bounded_digest_of_the_most_urgent():
    rows = [digest_row(n, date(2026, 1, 1) + timedelta(days=n % 60)) for n in range(1, 20_001)]
    pending = [digest_row(n, date(2026, 3, 20), State.PENDING) for n in range(20_001, 33_401)]
    overdue = sorted(
        (OverdueItem(r.number, r.department_name, r.owner_name, 70 - r.id % 60, r.due_date)
         for r in rows),
        key=lambda o: (-o.days, o.number),
    )  # fmt: skip
    digest = DepartmentDigest(1, big_text(40), [1], rows + pending, rows[:20_000], overdue, pending)
    text = department_text(digest, "2026年第11周")
    pieces = split_message(text)
    assert 3 * 30 <= text.count("\n") <= 3 * 31 + 12  # 30 listed in each of three lists
    assert len(pieces) <= 3 and sum(visible_length(p) for p in pieces) < 3 * TEXT_LIMIT
    shown = visible(text)
    assert "在办诉求 33400 件，其中待签收 13400 件；本周到期 20000 件；已超期 20000 件" in shown
    for total in (20_000, 13_400):
        assert f"共 {total} 件；完整清单请发送 /inbox、/overdue 查看" in shown
    # the most urgent: the longest overdue first
    overdue_part = shown.split("已超期\n", 1)[1]
    assert overdue_part.startswith(f"{overdue[0].number}｜超期 70 个工作日")
    assert digest.listed == 30


def test_the_leaders_digest_caps_every_list(env):
    week = Week(2026, 11)
    figures = PeriodFigures(week.start, week.end)
    figures.departments = [DepartmentFigures(big_text(40), 5, 5, 5, 5, 5, 5, 0) for _ in range(40)]
    figures.by_category = [(big_text(20), 99) for _ in range(30)]
    figures.withdrawn = [
        Withdrawal(f"SQ-2026-{n:06d}", big_text(60), big_text(3500), NOW) for n in range(5000)
    ]
    flags = [
        QualityFlag(f"SQ-2026-{n:06d}", big_text(40), f"SQ-2025-{n:06d}", 0.95) for n in range(500)
    ]
    overdue = [OverdueItem(f"SQ-2026-{n:06d}", big_text(40), big_text(40), 99, date(2026, 1, 2)) for n in range(500)]  # fmt: skip
    digest = LeaderDigest(
        week, figures, figures, overdue, [(big_text(40), 0.5)] * 40, 0.85, {}, flags, flags,
        800_000, 9000, 9000, NOW.date(), listed=30,
    )  # fmt: skip
    text = leaders_text(digest)
    for piece in split_message(text):
        assert_fits(piece)
    shown = visible(text)
    assert "共 5000 件；其余及完整撤回原因见随附诉求台账" in shown
    assert "共 800000 件；完整清单见随附诉求台账" in shown
    assert shown.count("｜原因：") == 30


def test_the_leaders_chart_and_ledger_captions_fit():
    from bot.digest_files import LeadersPack

    pack = LeadersPack(
        Week(2026, 11), "", b"png", None, "台账.xlsx", b"xlsx", 10**9, date(2026, 1, 1), True
    )
    for kind, _, extra in pack_parts(pack):
        caption = extra if kind == "photo" else extra[1]
        assert visible_length(caption) <= 1024


def test_capped_names_the_count_only_when_some_are_left_out():
    assert capped(["a", "b"], 2, "digest.overdue_more") == ["a", "b"]
    assert capped(["a"], 7, "digest.overdue_more")[-1] == t("digest.overdue_more", shown=1, total=7)


def test_choices_beyond_the_button_limit_say_how_to_reach_the_rest():
    buttons = [(big_text(40), f"dept:{'d' * 32}") for _ in range(500)]
    text, markup = offered("请选择：", buttons, "dept_more", per_row=3)
    assert_fits(text, markup)
    assert sum(len(row) for row in markup.inline_keyboard) == CHOICES_MAX
    assert "共 500 个部门，按钮列出前 40 个；其他部门请直接输入部门全称" in text
    short, few = offered("请选择：", buttons[:3], "dept_more")
    assert short == "请选择：" and len(few.inline_keyboard) == 3


def test_a_popup_refusal_keeps_telegrams_200_characters():
    assert units(html_free("<b>" + "😀" * 300 + "</b>")) <= 200


# -- the stories: the largest inputs through the real handlers ---------------------------------
@pytest.fixture
async def big_box(settings, big_org, clock):
    box = await Sandbox.start(settings, big_org, clock)
    yield box
    await box.stop()


def refused(box: Sandbox) -> list:
    return box.api.refused + box.api.malformed


async def test_the_reported_card_long_description_and_summary_is_shown(sandbox, leader):
    """The instance reported: 2,000 + 2,000 characters, then /view → a card over 4096."""
    official = sandbox.person(20002, "李明")
    company = sandbox.person(30001, "陈经理")
    await join(official, leader, "jrj")
    await register(company)
    number = await file_appeal(company, text="申" * 2000)
    await official.press("签收")
    await official.press("办结")
    await official.send("结" * 2000)
    mark = company.mark()
    await company.send(f"/view {number}")
    answer = company.inbox[mark:]
    assert refused(sandbox) == []
    assert len(answer) >= 2 and all(visible_length(m.text) <= TEXT_LIMIT for m in answer)
    card = "".join(m.plain for m in answer)
    assert card.count("申") == 2000 and card.count("结") >= 2000
    assert answer[-1].buttons and not any(m.buttons for m in answer[:-1])
    assert not any(t("error_internal") in m.plain for m in answer)


async def test_the_largest_appeal_goes_through_its_whole_life_within_the_limits(big_box, leader):
    box = big_box
    head = box.person(20001, "张" + "科" * 60)
    official = box.person(20002, "李" + "明" * 60)
    company = box.person(30001, "陈经理")
    await join(head, leader, "jrj", head=True)
    await join(official, leader, "jrj")
    await register(company, "鄂州" + "泛" * 54 + "有限公司")
    longest = big_text(3500)
    number = await file_appeal(company, text=longest)
    await official.press("签收")
    for _ in range(12):  # several supplements, each as long as allowed
        await company.send(f"/view {number}")
        await company.press("补充")
        await company.send(big_text(3500, "补&😀"))
    await official.send(f"/view {number}")
    await official.press("回复")
    await official.send(big_text(3500, "复<😀"))
    await official.press("转办")
    await official.press("中小企业科")
    await official.send(big_text(3500, "转&😀"))
    for person in (leader, company, official, head):
        await person.send(f"/view {number}")
        await person.send("/inbox" if person is not company else "/my")
    assert refused(box) == []
    everything = [m.plain for m in box.api.sent]
    assert not any(t("error_internal") in m for m in everything)
    assert any("内容较长，全文请发送 /view" in m for m in everything)  # a notice pointed on
    for message in box.api.sent:
        assert visible_length(message.text) <= TEXT_LIMIT


SEED_SQL = (
    "INSERT INTO appeals (number, enterprise_id, filed_by, category, description, state,"
    " department_id, owner_id, claim_due_date, due_date, created_at) VALUES"
    " (?, ?, ?, '融资', '诉求内容', ?, ?, ?, ?, ?, ?)"
)


def seed_open(db: Db, count: int, enterprise_id: int, filed_by: int, owner_id: int) -> None:
    """`count` open appeals of 融资 (市地方金融管理局): most overdue, the rest unclaimed,
    written as stored rows in bulk (portable SQL through the neutral Db)."""
    dept = db.one("SELECT id FROM departments WHERE code = 'jrj'")["id"]
    rows = []
    for n in range(1, count + 1):
        due = date(2026, 1, 5) + timedelta(days=n % 50)
        pending = n % 4 == 0
        rows.append(
            (
                f"SQ-2026-{100000 + n:06d}",
                enterprise_id,
                filed_by,
                "pending" if pending else "in_progress",
                dept,
                None if pending else owner_id,
                (due - timedelta(days=9)).isoformat(),
                due.isoformat(),
                datetime(2025, 12, 20, 10, tzinfo=SHANGHAI).isoformat(),
            )
        )
    db.executemany(SEED_SQL, rows)


async def test_thousands_open_give_lists_and_digest_of_bounded_size(sandbox, leader, db):
    official = sandbox.person(20002, "李明")
    company = sandbox.person(30001, "陈经理")
    await join(official, leader, "jrj")
    await register(company)
    seed_open(db, 4000, 1, company.id, official.id)
    for person, command in [
        (official, "/digest"),
        (official, "/inbox"),
        (official, "/overdue"),
        (leader, "/inbox"),
        (leader, "/overdue"),
        (company, "/my"),
    ]:
        mark = person.mark()
        await person.send(command)
        answer = person.inbox[mark:]
        assert 1 <= len(answer) <= 3, (command, len(answer))
        joined = "\n".join(m.plain for m in answer)
        assert "共 4000 件" in joined or "共 3000 件" in joined or "共 1000 件" in joined, joined
    assert refused(sandbox) == []
    mark = official.mark()
    await official.send("/digest")
    digest = "\n".join(m.plain for m in official.inbox[mark:])
    assert "已超期 4000 件" in digest and "待签收 1000 件" in digest
    # the longest overdue first: due 2026-01-05 (n = 50, 100, ...), the first not pending
    assert digest.split("已超期\n", 1)[1].startswith("SQ-2026-100050｜超期")


# -- a permanent 400 on an answer ------------------------------------------------------------
async def test_an_answer_telegram_refuses_is_explained_once_and_not_retried(
    sandbox, leader, caplog
):
    company = sandbox.person(30001, "陈经理")
    sandbox.api.fail("sendMessage", 400, "Bad Request: message is too long", times=1)
    caplog.set_level(logging.WARNING)
    answer = await company.send("/help")
    assert answer == [t("error_refused.too_long")]
    tries = [c for c in sandbox.api.calls if c[0] == "sendMessage" and c[1]["chat_id"] == 30001]
    assert len(tries) == 2  # the answer once (not retried), then the explanation
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "message is too long" in errors[0].getMessage().lower()
    assert errors[0].exc_info is None  # one line, no traceback


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("Bad Request: message caption is too long", "error_refused.too_long"),
        ("Bad Request: BUTTON_DATA_INVALID", "error_refused.too_long"),
        ("Bad Request: REPLY_MARKUP_TOO_LONG", "error_refused.too_long"),
        ("Bad Request: file is too big", "error_refused.file_too_big"),
        ("Bad Request: can't parse entities: x", "error_refused.other"),
    ],
)
async def test_every_refusal_is_worded_for_the_person(sandbox, description, expected):
    company = sandbox.person(30001, "陈经理")
    sandbox.api.fail("sendMessage", 400, description, times=1)
    answer = await company.send("/help")
    assert len(answer) == 1 and answer[0].startswith(t(expected, reason="")[:12])
    assert t("error_internal") not in answer[0]


URGENCY = ["提级督办", "督办", "到期提示", "签收提示"]  # as the ladder ranks its kinds


def urgency(item: str) -> tuple[int, int]:
    """Where a listed notice stands: its kind's rank, then the longest overdue first."""
    kind = next(n for n, word in enumerate(URGENCY) if f"】{word}" in item)
    days = re.search(r"已超期 (\d+) 个工作日", item)
    return kind, -int(days[1]) if days else 0


async def test_a_sweep_owing_hundreds_of_notices_sends_the_most_urgent_with_the_count(
    sandbox, leader, db
):
    official = sandbox.person(20002, "李明")
    company = sandbox.person(30001, "陈经理")
    await join(official, leader, "jrj")
    await register(company)
    seed_open(db, 400, 1, company.id, official.id)
    marks = {p: p.mark() for p in (official, leader)}
    await run_sweep(sandbox.app)
    assert refused(sandbox) == []
    for person, mark in marks.items():
        lists = [m for m in person.inbox[mark:] if "今日提示督办共" in m.plain]
        assert 1 <= len(lists) <= 3, (person.name, len(lists))
        last = lists[-1].plain
        total = int(last.split("今日提示督办共 ")[1].split(" 件")[0])
        assert total > LADDER_LISTED and f"共 {total} 件；其余请发送 /overdue" in last
        # the most urgent first: 提级 before 督办 before the rest, the longest overdue first
        text = "\n".join(m.plain for m in lists)
        items = re.findall(r"^(?:[①-⑳]|\(\d+\)) (.+)$", text, re.MULTILINE)
        assert len(items) == LADDER_LISTED
        assert [urgency(i) for i in items] == sorted(urgency(i) for i in items)
        assert "超期" in items[0]


# -- every catalog message, its fields at their largest -----------------------------------------
USER_TEXTS = {"text", "reason", "resolution", "description", "problem", "measures", "detail"}
NAMES = {
    "name", "enterprise", "department", "owner", "owner_or_none", "actor", "author",
    "official", "contact", "who", "leader", "holder", "org", "title", "label", "category",
    "aspect", "current", "value", "state_name", "reason_text", "why", "field", "kind", "role",
}  # fmt: skip
LISTS = {"lines", "parts", "named", "names", "headers", "columns", "rows", "link", "route"}


def largest(field: str) -> str:
    from handlers.common import esc

    if field in USER_TEXTS:
        return esc(big_text(3500))
    if field in NAMES:
        return esc(big_text(60))
    if field in LISTS:
        return "\n".join(esc(big_text(80)) for _ in range(60))
    return "9" * 20


@pytest.mark.parametrize("key", sorted(CATALOG))
def test_every_catalog_message_with_its_largest_fields_is_sent_in_messages_that_fit(key):
    from bot.texts import placeholders

    text = t(key, **{field: largest(field) for field in placeholders(key)})
    if not visible(text).strip():
        return  # a part of other messages (a suffix), never sent alone
    assert assert_answer_fits(text) <= 8


# -- many items: tasks, contacts, officials, departments ----------------------------------------
def seed_people_and_tasks(db: Db, tasks: int, contacts: int, officials: int, owner_id: int):
    """Hundreds of tasks, contacts and officials as stored rows, in bulk (neutral Db)."""
    dept = db.one("SELECT id FROM departments WHERE code = 'jrj'")["id"]
    now = NOW.isoformat()
    db.executemany(
        "INSERT INTO tasks (seq, aspect, problem, measures, leader_name, department_name,"
        " owner_name, owner_id, deadline, state, created_at, updated_at)"
        " VALUES (?, '作风', ?, '整改措施', '王局长', '市地方金融管理局', '李明', ?, ?, ?, ?, ?)",
        [
            (
                n,
                "问题" * 200,
                owner_id,
                (date(2026, 12, 31) - timedelta(days=n)).isoformat(),
                "done" if n % 3 == 0 else "in_progress",
                now,
                now,
            )
            for n in range(1, tasks + 1)
        ],
    )
    db.executemany(
        "INSERT INTO users (tg_id, role, full_name, enterprise_id, created_at, phone)"
        " VALUES (?, 'enterprise', ?, 1, ?, '13907110000')",
        [(40000 + n, "联" * 20, now) for n in range(contacts)],
    )
    db.executemany(
        "INSERT INTO users (tg_id, role, full_name, department_id, created_at)"
        " VALUES (?, 'official', ?, ?, ?)",
        [(50000 + n, "官" * 40, dept, now) for n in range(officials)],
    )


async def test_many_tasks_contacts_and_officials_give_bounded_lists_and_keyboards(
    sandbox, leader, db
):
    from bot.rules.uscc import normalize
    from tests.conftest import COMPANY_USCC

    official = sandbox.person(20002, "李明")
    company = sandbox.person(30001, "陈经理")
    await join(official, leader, "jrj")
    await register(company)
    seed_people_and_tasks(db, 300, 150, 150, official.id)
    mark = official.mark()
    await official.send("/tasks")
    answer = official.inbox[mark:]
    assert len(answer) == 1 and "（300 项）" in answer[0].plain
    # a page at a time, the most urgent first: not yet 销号, the nearest deadline (seq 299
    # is due before 298); every item is reached with 下一页 and the state buttons
    assert "【未销号】第 1/20 页（共 200 项）" in answer[0].plain
    lines = answer[0].plain.split("\n")
    assert lines[lines.index("【未销号】第 1/20 页（共 200 项）：") + 1].startswith("第299项｜")
    assert len(answer[0].buttons) <= 20
    mark = company.mark()
    await company.send("/contacts")
    answer = company.inbox[mark:]
    assert len(answer) == 1 and "共 151 位联系人，以上列出前 50 位" in answer[0].plain
    assert len(answer[0].buttons) == CHOICES_MAX
    mark = leader.mark()
    await leader.send(f"/baobao {normalize(COMPANY_USCC)}")
    answer = leader.inbox[mark:]
    assert len(answer) == 1 and len(answer[0].buttons) == CHOICES_MAX
    # all of one department: its officials at once, and how to name one beyond the buttons
    assert "市地方金融管理局：151 位承办人" in answer[0].plain
    assert (
        f"（共 151 位，按钮列出前 40 位；其他人请发送 /baobao {normalize(COMPANY_USCC)} 姓名。）"
        in answer[0].plain
    )
    assert refused(sandbox) == []


async def test_a_bureau_with_many_departments_offers_a_bounded_transfer_keyboard(
    settings, org, clock
):
    from bot.rules.org import Department

    more = [Department(code=f"d{n}", name=f"第{n}协作单位" + "部" * 30) for n in range(150)]
    box = await Sandbox.start(
        settings, org.model_copy(update={"departments": org.departments + more}), clock
    )
    try:
        leader = box.person(LEADER_ID, "王局长")
        official = box.person(20002, "李明")
        company = box.person(30001, "陈经理")
        await join(official, leader, "jrj")
        await register(company)
        await file_appeal(company)
        await official.press("签收")
        await official.press("转办")
        prompt = official.inbox[-1]
        assert len(prompt.buttons) == CHOICES_MAX
        assert "共 156 个部门，按钮列出前 40 个；其他部门请直接输入部门全称" in prompt.plain
        answer = await official.send(more[-1].name)  # one not on a button, typed
        assert answer == [visible(t("ask.transfer_reason", department=more[-1].name))]
        await leader.send("/invite")
        assert len(leader.inbox[-1].buttons) == CHOICES_MAX
        assert "/invite 部门代码" in leader.inbox[-1].plain
        assert refused(box) == []
    finally:
        await box.stop()


def test_an_import_report_names_a_bounded_number_of_owners_and_rows():
    from bot.usecases.tasks import ImportResult, Unmapped
    from handlers.tasks import ITEMS_NAMED, TASKS_LISTED, import_report

    unmapped = [
        Unmapped(row, row, f"责任人{row % 500}" + "名" * 15, 0, big_text(40), False)
        for row in range(2, 100_002)
    ]
    lines = import_report(ImportResult(100_000, unmapped))
    assert len(lines) == TASKS_LISTED + 1
    assert lines[-1] == t("import_unmapped_more", shown=TASKS_LISTED, total=500)
    assert all(line.count("、") <= ITEMS_NAMED for line in lines)
    assert "等共 200 项" in lines[0]
    assert assert_answer_fits("\n".join(lines)) <= 3


async def test_the_leaders_daily_list_of_people_not_reached_names_the_most_missed(sandbox):
    from bot.rules.model import Outgoing
    from handlers.courier import UNREACHABLE_LISTED, parts_of

    lost = [[70000 + n, n % 97 + 1] for n in range(3000)]
    item = Outgoing(1, LEADER_ID, "unreachable_report", None, None, {"people": lost}, 9, NOW)
    parts = await parts_of(sandbox.env, item)
    assert len(parts) == 1
    went, (kind, text, markup) = parts[0]
    assert_fits(text, markup)
    shown = visible(text)
    assert (
        "共 3000 人" in shown and f"未送达消息最多的 {UNREACHABLE_LISTED} 人，共 3000 人" in shown
    )
    assert shown.count("条未送达") == UNREACHABLE_LISTED
    assert "（97 条未送达）" in shown.split("\n")[1]  # the most missed first


def test_a_sweeps_list_ranks_its_notices_by_urgency():
    """提级 first, then 督办 (the longest overdue first), 到期 today, 到期 soon, 签收, tasks —
    whatever order they were stored in."""
    from bot.usecases.ladder import PendingNotice, most_urgent

    def pending(kind: str, overdue: int, subject: str = "appeal") -> PendingNotice:
        return PendingNotice(stored_notice(kind, subject), None, None, overdue, [LEADER_ID])

    stored = [
        pending("task_overdue", 0, "task"),
        pending("unclaimed", 0),
        pending("due_soon", 0),
        pending("overdue", 2),
        pending("due_today", 0),
        pending("overdue", 9),
        pending("raise", 3),
    ]
    ranked = [(n.kind, n.overdue_days) for n in most_urgent(stored)]
    assert ranked == [
        ("raise", 3),
        ("overdue", 9),
        ("overdue", 2),
        ("due_today", 0),
        ("due_soon", 0),
        ("unclaimed", 0),
        ("task_overdue", 0),
    ]
