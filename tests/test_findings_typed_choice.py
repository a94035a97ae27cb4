"""A card waits for a tap (a rating, an extension decision) and the person types the
button's label instead: the words act exactly as the button would, through the same
checks; other text at such a card is answered with a hint naming the buttons; nobody
else's typing decides anything."""

from __future__ import annotations

import pytest

from bot.rules.checks import typed_choice
from bot.texts import t
from handlers.cases import DECISION_WORDS, RATING_WORDS
from tests.conftest import file_appeal

CLOSING = "已完成银企对接，担保公司同意提供800万元担保。"


async def closed(p, text: str = "扩建冷链仓库需流动资金约800万元，申请融资担保对接。") -> str:
    number = await file_appeal(p.company, text=text)
    await p.official.press("签收", containing=number)
    await p.official.press("办结", containing=number)
    await p.official.send(CLOSING)
    return number


async def extension_asked(p) -> str:
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await p.official.press("延期", containing=number)
    await p.official.send("2026-03-31")
    await p.official.send("需等待银行授信审批结果。")
    return number


# typed words → the choice they stand for (None: free text, never a choice)
WORDS = [
    ("满意", RATING_WORDS, "satisfied"),
    ("  满意！", RATING_WORDS, "satisfied"),
    ("“基本满意”", RATING_WORDS, "basic"),
    ("基本 满意。", RATING_WORDS, "basic"),
    ("不满意", RATING_WORDS, "dissatisfied"),
    ("不满意!", RATING_WORDS, "dissatisfied"),
    ("很满意", RATING_WORDS, None),
    ("满意，谢谢", RATING_WORDS, None),
    ("不太满意", RATING_WORDS, None),
    ("同意", DECISION_WORDS, True),
    ("同意延期", DECISION_WORDS, True),
    ("同意！", DECISION_WORDS, True),
    ("不同意", DECISION_WORDS, False),
    ("不同意延期", DECISION_WORDS, False),
    ("同意，但请尽快", DECISION_WORDS, None),
    ("原则同意", DECISION_WORDS, None),
]


@pytest.mark.parametrize(("typed", "words", "meant"), WORDS)
def test_typed_words_read_as_a_button_only_when_they_are_its_label(typed, words, meant):
    found = typed_choice(typed, words)
    assert (found if found is None or isinstance(found, bool) else str(found)) == meant


RATED = {
    "满意": ("satisfied", "rate", "已记录评价“满意”。"),
    "基本满意。": ("basic", "rate", "已记录评价“基本满意”。"),
    " 不满意 ": ("dissatisfied", "reopen", "已记录评价“不满意”"),
}


@pytest.mark.parametrize("typed", list(RATED))
async def test_a_rating_typed_at_the_rating_card_rates_as_the_button(sandbox, people, db, typed):
    p = people
    number = await closed(p)
    rating, event, answer = RATED[typed]
    mark = p.official.mark()
    said = await p.company.send(typed)
    assert said[0].startswith(answer), said
    appeal = db.appeal(number)
    assert str(appeal.rating) == rating
    assert db.events(number)[-1][0] == event and db.events(number)[-1][3] == p.company.id
    assert any(number in m for m in p.official.since(mark))  # the owner is told, as by the button
    # the optional comment follows, as after the button
    await p.company.send("办理及时。")
    assert p.company.last == t("done.comment", number=number)


async def test_other_text_at_the_rating_card_names_the_buttons_and_changes_nothing(
    sandbox, people, db
):
    p = people
    number = await closed(p)
    events = db.events(number)
    for text in ("很满意", "满意，谢谢"):
        said = await p.company.send(text)
        assert said == [t("waiting.rating", number=number)], said
    assert db.events(number) == events and db.appeal(number).rating is None


async def test_a_rating_typed_with_two_cards_waiting_says_which_and_changes_nothing(
    sandbox, people, db
):
    p = people
    first = await closed(p)
    second = await closed(p, "申请对接技改贴息贷款，项目投资约1200万元，请协调银行。")
    said = await p.company.send("满意")
    assert said == [t("waiting.rating_many", count=2, numbers=f"{second}、{first}")], said
    assert db.appeal(first).rating is None and db.appeal(second).rating is None


async def test_a_rating_typed_by_someone_no_card_waits_for_decides_nothing(sandbox, people, db):
    p = people
    number = await closed(p)
    events = db.events(number)
    said = await p.rival.send("满意")  # another enterprise: not theirs to rate
    assert said == [t("waiting.rating_none")], said
    said = await p.official.send("满意")  # staff: a rating is not theirs either
    assert said[0] == t("free_text.staff"), said
    assert db.events(number) == events
    await p.company.send("满意")
    await p.company.send("/skip")  # no comment
    again = await p.company.send("满意")  # rated already: nothing waits any more
    assert again == [t("waiting.rating_none")], again
    assert [e[0] for e in db.events(number)].count("rate") == 1


@pytest.mark.parametrize("typed", ["同意", "同意延期", " 同意！"])
async def test_an_approval_typed_at_the_extension_card_approves_as_the_button(
    sandbox, people, db, typed
):
    p = people
    number = await extension_asked(p)
    said = await p.head.send(typed)
    assert said[0] == f"已同意诉求 {number} 延期至 2026-03-31。", said
    assert db.events(number)[-1] == ("extension_approved", "in_progress", "in_progress", p.head.id)
    assert str(db.appeal(number).due_date) == "2026-03-31"
    assert "新的办结期限为 2026-03-31" in p.official.last


async def test_a_refusal_typed_at_the_extension_card_asks_its_reason_as_the_button(
    sandbox, people, db
):
    p = people
    number = await extension_asked(p)
    said = await p.head.send("不同意")
    assert said == [
        t("ask.extension_deny_reason", number=number).replace("<b>", "").replace("</b>", "")
    ]
    done = await p.head.send("材料不全，请补充后再申请。")
    assert done[0].startswith(f"已不同意诉求 {number} 的延期申请"), done
    assert db.events(number)[-1][0] == "extension_denied"
    assert str(db.appeal(number).due_date) == "2026-03-24"


async def test_an_approval_typed_by_who_may_not_decide_decides_nothing(sandbox, people, db):
    p = people
    number = await extension_asked(p)
    events = db.events(number)
    for person in (p.official, p.outsider):  # the requester; an official of another department
        said = await person.send("同意")
        assert said[0] == t("free_text.staff"), said
    said = await p.company.send("同意")
    assert said[0] == t("free_text.enterprise"), said
    assert db.events(number) == events
    hint = await p.head.send("好的，我看看")
    assert hint == [t("waiting.extension", number=number, new_due="2026-03-31")], hint


# Cards inside a flow that wait for a button: the label typed acts as the button there too.
# (who, how they reach the card, typed, what they read first, what the database then holds)
async def at_registration_summary(p):
    person = p.sandbox.person(39002, "新联系人")
    await person.send("/start")
    await person.send("鄂州市恒达机械制造有限公司")
    await person.send("91420700MA4F0A1B2W")
    await person.send("刘经理")
    await person.send("13907110001")
    return person


def registered(db, person) -> bool:
    found = db.read(lambda uow: uow.people.get(person.id))
    return found is not None and str(found.role) == "enterprise"


async def at_filing_submit(p):
    await p.company.send("/new")
    await p.company.press("融资")
    await p.company.send("扩建冷链仓库需流动资金约800万元，申请融资担保对接。")
    return p.company


FLOW_CARDS = {
    "registration 确认登记": (at_registration_summary, "确认登记", "登记成功", True),
    "registration 确认！": (at_registration_summary, " 确认！", "登记成功", True),
    "registration 取消": (at_registration_summary, "取消", "已退出企业登记，未保存。", False),
    "registration 修改电话": (at_registration_summary, "修改电话", "请输入正确的联系电话", False),
    "registration free text": (at_registration_summary, "好的", t("register.use_buttons"), False),
    "filing 提交": (at_filing_submit, "提交", "诉求已提交", None),
}


@pytest.mark.parametrize("card", list(FLOW_CARDS))
async def test_a_button_label_typed_at_a_flows_card_acts_as_the_button(sandbox, people, db, card):
    p = people
    p.sandbox = sandbox
    reach, typed, first, kept = FLOW_CARDS[card]
    person = await reach(p)
    said = await person.send(typed)
    assert said[0].startswith(first), said
    if kept is not None:  # registration: kept only on 确认登记, by button or by word
        assert registered(db, person) is kept
    else:
        assert db.count("appeals") == 1


async def test_an_approval_typed_at_the_refusals_reason_approves_rather_than_being_the_reason(
    sandbox, people, db
):
    """同意 typed where the reason of a 不同意 is asked is the other button, not a reason."""
    p = people
    number = await extension_asked(p)
    await p.head.press("不同意", containing=number)
    said = await p.head.send("同意")
    assert said[0] == f"已同意诉求 {number} 延期至 2026-03-31。", said
    assert db.events(number)[-1][0] == "extension_approved"
    assert db.read(lambda uow: uow.conversations.get(p.head.id)) is None
