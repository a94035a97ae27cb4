"""A person is always shown by a name or a role, never as nothing or as a number.

A leader is not stored (no name to look up later), and a Telegram name may be nothing but
invisible characters (zero-width spaces, Hangul fillers). Wherever a person is named — the
appeal card and its history, the task card and the task ledger, the appeal ledger's 备注,
the digest, the stale-button answer — a name with nothing visible reads the person's role;
and a name with nothing visible is refused where a person gives one (registration, a
colleague, an invite opened with such a Telegram name), the link left usable."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from bot.rules import checks
from bot.rules.model import Department, Person, Role
from bot.rules.names import visible_name
from bot.rules.refusals import InvalidInput
from bot.texts import t
from bot.texts.events import person_name
from tests.conftest import COMPANY_USCC, LEADER_ID, SHANGHAI, file_appeal, join, register
from tests.test_tasks import csv_bytes, import_file, task_row

# What people's Telegram names and typed names are made of when they look empty.
BLANKS = [
    "\u200b",  # zero-width space
    "\u200b\u200c\u200d",  # zero-width space, non-joiner, joiner
    "\u3164",  # Hangul filler, the usual "invisible name"
    "\u3164\u3164\u3164",
    "\u115f\u1160",  # Hangul choseong and jungseong fillers
    "\uffa0",  # half-width Hangul filler
    "\u2800\u2800",  # blank Braille pattern
    "\u3000\u3000",  # ideographic spaces
    " \t ",
    "\ufeff\u2060",  # byte-order mark, word joiner
    "\u202e\u202d",  # bidi overrides
]
ROLE = {
    None: "局领导/督办员",
    "official": "承办人",
    "head": "科室负责人",
    "enterprise": "企业联络员",
}


@pytest.mark.parametrize("blank", [*BLANKS, "", None, "900001", " 20002 "])
@pytest.mark.parametrize("role", list(ROLE))
def test_a_name_with_nothing_visible_reads_the_role(blank, role):
    """Nothing visible, nothing at all, or only digits (an id kept for a name): the role;
    no role known (a leader is not stored): 局领导/督办员."""
    assert visible_name(blank) == ""
    assert person_name(blank, role) == ROLE[role]


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("李明", "李明"),
        (" 李明\u200b ", "李明"),
        ("\u3164王局长", "王局长"),
        ("Li Ming", "Li Ming"),
    ],
)
def test_a_visible_name_is_shown_as_it_can_be_seen(name, shown):
    for role in ROLE:
        assert person_name(name, role) == shown


@given(st.text(alphabet=st.sampled_from("".join(BLANKS)), min_size=1))
def test_a_typed_name_of_nothing_visible_is_refused_as_such(text):
    """Spaces alone are empty (不能为空); anything else that shows nothing is named so."""
    for check in (checks.contact_name, checks.enterprise_name):
        with pytest.raises(InvalidInput) as err:
            check(text)
        assert err.value.params["reason"] == ("invisible" if text.strip() else "empty")


async def test_registration_refuses_an_invisible_contact_name_and_stores_nothing(sandbox, db):
    company = sandbox.person(30001, "陈经理")
    await company.send("/start")
    await company.send("鄂州市泛亚食品有限公司")
    await company.send("91350100M000100Y43")
    for blank in ("\u3164\u3164", "\u200b\u200b", "\u2800 \u2800"):
        answer = await company.send(blank)
        assert answer == ["联系人姓名只有看不见的字符或空白，请输入能看到的文字。"]
    assert db.count("users") == 0 and db.count("enterprises") == 0
    await company.send("陈经理")  # the same step goes on
    summary = await company.send("13907110000")
    assert "联系人：陈经理" in summary[-1]


async def test_an_invite_opened_with_an_invisible_telegram_name_is_refused_and_kept(
    sandbox, leader, db
):
    await leader.send("/invite jrj")
    code = leader.last.split("?start=")[1].split()[0]
    for blank in ("\u3164", "\u200b", "900002"):
        nameless = sandbox.person(20002, blank)
        answer = await nameless.send(f"/start {code}")
        assert answer == [
            "您的 Telegram 名称没有能看到的文字，加入后同事无从认出您。请在 Telegram 的设置中"
            "填写您的姓名，再重新打开此邀请链接（链接仍然有效）。"
        ]
    assert db.count("users") == 0
    assert db.one("SELECT used_by FROM invites WHERE code = ?", code)["used_by"] is None
    named = sandbox.person(20002, "\u3164李明\u200b")  # the name set: the same link works
    assert "欢迎加入" in (await named.send(f"/start {code}"))[-1]
    assert db.one("SELECT full_name FROM users WHERE tg_id = 20002")["full_name"] == "李明"


async def test_a_leader_without_a_visible_name_is_named_by_role_everywhere(sandbox, people, db):
    """The leader's Telegram name is a Hangul filler: their 退回 on the task card and in the
    task ledger, their 备注 on the appeal card, in the appeal ledger's 内部备注 and history,
    and a stale button's answer all read 局领导/督办员 — never nothing, never their id."""
    p = people
    nameless = sandbox.person(LEADER_ID, "\u3164")
    assert await nameless.send("/start") == ["您好，局领导/督办员。发送 /help 查看可用功能。"]
    await import_file(nameless, "t.csv", csv_bytes([task_row(30)]))
    await p.official.send("/tasks")
    await p.official.press("第30项")
    await p.official.press("申请销号")
    await p.official.send("抽查机制已建立并运行。")
    await nameless.press("第30项 查看")
    await nameless.press("退回")
    await nameless.send("缺少通报文件。")
    await p.official.send("/tasks 30")
    card = p.official.inbox[-1].plain
    assert " 局领导/督办员 退回：缺少通报文件。" in card, card
    await nameless.send("/tasks export")
    book = load_workbook(io.BytesIO(sandbox.api.documents[-1][2]))
    ledger = "\n".join(str(c.value) for row in book.active.iter_rows() for c in row if c.value)
    assert "局领导/督办员 退回：缺少通报文件。" in ledger
    assert " ：" not in ledger and str(LEADER_ID) not in ledger

    number = await file_appeal(p.company)
    await nameless.send(f"/view {number}")
    await nameless.press("备注")
    await nameless.send("请金融局三日内对接担保公司。")
    await nameless.send(f"/view {number}")
    card = nameless.inbox[-1].plain
    assert (
        card.count("备注（局领导/督办员）（企业不可见）：请金融局三日内对接担保公司。") == 1
    )  # 往来
    assert card.count("备注（局领导/督办员）：请金融局三日内对接担保公司。") == 1  # 办理记录
    await nameless.send("/export")
    book = load_workbook(io.BytesIO(sandbox.api.documents[-1][2]))
    full = book[t("ledger.sheet_full")]
    row = dict(zip([c.value for c in full[1]], [c.value for c in full[2]], strict=True))
    assert "备注 局领导/督办员：请金融局三日内对接担保公司。" in row[t("ledger.header.notes")]
    history = row[t("ledger.header.history")]
    assert str(LEADER_ID) not in history and "\u3164" not in history
    assert db.count("users") == 5  # the leader is still not stored


async def test_an_official_stored_under_an_id_is_shown_by_role(sandbox, people, db):
    """A name stored before names were checked (an id, or nothing visible): the card, the
    ledger and the owner's place read 承办人."""
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    # stored before names were checked: no use case or repository writes such a name now
    db.execute("UPDATE users SET full_name = '20002' WHERE tg_id = 20002")
    await p.leader.send(f"/view {number}")
    card = p.leader.inbox[-1].plain
    assert "20002" not in card and "承办人" in card
    await p.leader.send("/export")
    book = load_workbook(io.BytesIO(sandbox.api.documents[-1][2]))
    paper = book[t("ledger.sheet")]
    row = dict(zip([c.value for c in paper[1]], [c.value for c in paper[2]], strict=True))
    assert row[t("ledger.header.owner")] == "承办人"


async def test_namesakes_get_different_buttons_and_each_chooses_its_own(sandbox, leader, clock, db):
    """Three 李明 in one department: each button says when that one joined (the minute when
    they joined the same day); a 李明 of another department keeps 姓名（部门）."""
    first, second, third = (sandbox.person(20011 + n, "李明") for n in range(3))
    await join(first, leader, "jrj")
    clock.advance(timedelta(days=1))
    await join(second, leader, "jrj")
    clock.advance(timedelta(hours=2))
    await join(third, leader, "jrj")
    await join(sandbox.person(20014, "李明"), leader, "zxqy")
    await register(sandbox.person(30001, "陈经理"))
    await leader.send(f"/baobao {COMPANY_USCC}")
    assert [label for label, _ in leader.inbox[-1].buttons] == [
        "李明（中小企业科）",
        "李明（市地方金融管理局，2026-03-10 加入）",
        "李明（市地方金融管理局，2026-03-11 10:00 加入）",
        "李明（市地方金融管理局，2026-03-11 12:00 加入）",
    ]
    await leader.press("李明（市地方金融管理局，2026-03-11 10:00 加入）")
    chosen = db.one("SELECT baobao_user_id FROM enterprises WHERE uscc = ?", COMPANY_USCC)
    assert chosen["baobao_user_id"] == 20012
    # typed, the name is not one official: whom it may mean, told apart the same way
    answer = await leader.send(f"/baobao {COMPANY_USCC} 李明（市地方金融管理局）")
    assert "李明（市地方金融管理局，2026-03-10 加入）" in answer[-1]
    assert len({label for label, _ in leader.inbox[-1].buttons}) == 3


def official(tg_id: int, name: str, joined: datetime) -> Person:
    return Person(tg_id, Role.OFFICIAL, name, 1, None, joined)


JRJ = Department(1, "jrj", "市地方金融管理局")
ZXQY = Department(2, "zxqy", "中小企业科")
DAY = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


@pytest.mark.parametrize(
    ("staff", "expected"),
    [
        ([(official(1, "李明", DAY), JRJ)], ["李明（市地方金融管理局）"]),
        (  # namesakes in two departments: the department tells them apart
            [(official(1, "李明", DAY), JRJ), (official(2, "李明", DAY), ZXQY)],
            ["李明（市地方金融管理局）", "李明（中小企业科）"],
        ),
        (  # different days, in the bureau's zone (17:00 UTC is the next day in Shanghai)
            [
                (official(1, "李明", DAY), JRJ),
                (official(2, " 李明\u200b", DAY.replace(hour=17)), JRJ),
            ],
            [
                "李明（市地方金融管理局，2026-03-10 加入）",
                "李明（市地方金融管理局，2026-03-11 加入）",
            ],
        ),
        (  # the same day: the minute
            [(official(1, "李明", DAY), JRJ), (official(2, "李明", DAY.replace(hour=5)), JRJ)],
            [
                "李明（市地方金融管理局，2026-03-10 09:00 加入）",
                "李明（市地方金融管理局，2026-03-10 13:00 加入）",
            ],
        ),
        (  # the same minute: their order of joining
            [(official(2, "李明", DAY), JRJ), (official(1, "李明", DAY), JRJ)],
            [
                "李明（市地方金融管理局，2026-03-10 09:00 第2位 加入）",
                "李明（市地方金融管理局，2026-03-10 09:00 第1位 加入）",
            ],
        ),
        (  # two with no visible name: their role, told apart likewise
            [(official(1, "\u3164", DAY), JRJ), (official(2, "", DAY.replace(hour=5)), JRJ)],
            [
                "承办人（市地方金融管理局，2026-03-10 09:00 加入）",
                "承办人（市地方金融管理局，2026-03-10 13:00 加入）",
            ],
        ),
    ],
)
def test_every_button_of_a_choice_differs(staff, expected):
    from handlers.staff_choice import labels

    assert labels(staff, SHANGHAI) == expected
    assert len(set(expected)) == len(expected)
