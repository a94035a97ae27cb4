"""Property-based probes of every way text reaches the bot: typed steps, free text, button
data, command arguments and file names. Whatever arrives: no unhandled error, no message
Telegram would refuse as bad HTML, no database change on a refusal, no control or
direction characters forwarded."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.texts import t
from tests.conftest import file_appeal

EXAMPLES = 60
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NASTY = st.sampled_from(
    [
        "",
        " ",
        "\u200b\u200c\u200d\ufeff\u2060",
        "\x00\x07\x1b[31m",
        "\u202e\u202d\u2066\u2069",
        "<b>",
        "</i>",
        "<script>alert(1)</script>",
        "&amp;&lt;",
        "'; DROP TABLE appeals; --",
        '" OR 1=1 --',
        "😀👨‍👩‍👧" * 5,
        "长" * 4100,
        "SQ-2026-000001",
        "SQ-2026-9999999999999999999999",
        "/view",
        "<a href='javascript:x'>点我</a>",
        "\r\n\t",
        "９１３５０１００Ｍ０００１００Ｙ４３",
    ]
)
TEXTS = st.one_of(
    st.text(max_size=200),
    NASTY,
    st.lists(st.one_of(NASTY, st.text(max_size=12)), min_size=1, max_size=5).map("".join),
)
INTERNAL = t("error_internal")
TABLES = ("appeals", "appeal_messages", "audit_events", "users", "enterprises", "tasks")


def counts(db) -> dict[str, int]:
    return {table: db.count(table) for table in TABLES}


def healthy(sandbox) -> None:
    assert sandbox.api.malformed == [], sandbox.api.malformed[-1]
    assert not any(m.plain == INTERNAL for m in sandbox.api.sent)


def forwardable(text: str) -> bool:
    """No control characters (but newlines and tabs) and no bidirectional overrides."""
    return not any(unicodedata.category(c) in ("Cc", "Cf") and c not in "\n\t" for c in text)


@FUZZ
@given(text=TEXTS)
async def test_typed_text_at_every_registration_step(sandbox, db, text):
    guest = sandbox.person(80001, "访客")
    await guest.send("/start")
    for _ in range(4):
        mark = guest.mark()
        await guest.send(text or " ")
        assert guest.since(mark), "every message gets an answer"
    healthy(sandbox)
    for row in db.rows("SELECT name, contact_name FROM enterprises"):
        assert forwardable(row["name"]) and forwardable(row["contact_name"])
    await guest.send("/cancel")


@FUZZ
@given(text=TEXTS)
async def test_a_reply_forwards_only_clean_text_and_refusals_change_nothing(
    sandbox, people, db, text
):
    if not db.count("appeals"):
        number = await file_appeal(people.company)
        await people.official.press("签收", containing=number)
    before = counts(db)
    await people.official.press("回复")
    mark = people.company.mark()
    answer = await people.official.send(text or " ")
    healthy(sandbox)
    if db.count("appeal_messages") == before["appeal_messages"]:
        assert people.company.since(mark) == []  # refused: nothing stored, nothing sent
        assert counts(db) == before
        await people.official.send("/cancel")
    else:
        stored = db.rows("SELECT text FROM appeal_messages ORDER BY id DESC LIMIT 1")[0]["text"]
        assert stored.strip() and forwardable(stored)
        assert len(people.company.since(mark)) == 1 and answer


@FUZZ
@given(text=TEXTS)
async def test_free_text_from_everyone(sandbox, people, db, text):
    before = counts(db)
    for person in (people.company, people.official, people.leader):
        mark = person.mark()
        await person.send(text or " ")
        assert person.since(mark)
    healthy(sandbox)
    assert counts(db) == before


@FUZZ
@given(
    data=st.one_of(
        st.text(max_size=64),
        st.builds(
            lambda code, a, b: f"{code}:{a}:{b}",
            st.sampled_from(["cl", "rp", "tr", "cs", "rt", "ro", "view", "task", "extok", "dept",
                             "cat", "new", "bb", "bbd", "inv", "invr", "tasko", "taskd", "menu", "zz"]),
            st.one_of(st.integers(), st.text(max_size=8)),
            st.one_of(st.integers(), st.text(max_size=8)),
        ),
    )
)  # fmt: skip
async def test_forged_button_data_changes_nothing(sandbox, people, db, data):
    if not db.count("appeals"):
        await file_appeal(people.company)
    before = counts(db)
    message = people.rival.inbox[-1]
    await people.rival.press_data(message, data)
    healthy(sandbox)
    assert counts(db) == before


@FUZZ
@given(
    command=st.sampled_from(
        ["/view", "/start", "/invite", "/baobao", "/digest", "/export", "/tasks", "/skip"]
    ),
    argument=TEXTS,
)
async def test_command_arguments(sandbox, people, db, command, argument):
    before = counts(db)
    argument = " ".join(argument.split())[:200]
    for person in (people.leader, people.rival):
        mark = person.mark()
        await person.send(f"{command} {argument}".strip())
        assert person.since(mark) or command == "/export"
    healthy(sandbox)
    assert counts(db)["appeals"] == before["appeals"]


@FUZZ
@given(file_name=TEXTS)
async def test_file_names_of_supplements(sandbox, people, db, file_name):
    if not db.count("appeals"):
        await file_appeal(people.company)
    await people.company.send("/view SQ-2026-000001")
    await people.company.press("补充")
    await people.company.send_document((file_name or "x")[:255])
    healthy(sandbox)
    await people.company.send("/cancel")


# Invisible characters in what a person passes to a command or names a file: the bot reads
# what can be seen — the same answer on every backend (PostgreSQL keeps no NUL in text).
MARKS = ("\x00", "\u200b", "\u202e", "\x1b", "\ufeff")


@pytest.mark.parametrize("mark", MARKS)
async def test_a_command_argument_with_invisible_marks_finds_what_it_names(
    sandbox, people, db, mark
):
    number = await file_appeal(people.company)
    card = await people.company.send(f"/view {mark}{number}{mark}")
    assert number in card[-1] and "诉求" in card[-1], card
    invite = await people.leader.send(f"/invite zx{mark}qy")
    assert "?start=" in invite[-1], invite
    healthy(sandbox)


@pytest.mark.parametrize("mark", MARKS)
async def test_a_file_name_is_kept_as_shown(sandbox, people, db, mark):
    number = await file_appeal(people.company)
    await people.company.send(f"/view {number}")
    await people.company.press("补充")
    await people.company.send_document(f"营业{mark}执照.pdf")
    await people.company.send_document(f"{mark}")  # nothing visible: kept without a name
    healthy(sandbox)
    names = [r["file_name"] for r in db.rows("SELECT file_name FROM attachments ORDER BY id")]
    assert names == ["营业执照.pdf", None]
