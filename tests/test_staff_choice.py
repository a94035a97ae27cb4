"""Choosing an official among many: 包保 (/baobao) and a task's 责任人 (指定责任人).

A keyboard shows at most 40 choices. With more officials the leader chooses a department
first (the task's own 责任科室 first), then one of its officials, or types the name
(`/baobao <代码> <姓名>`, or at the task's prompt); a name that is not exactly one official
is refused, naming whom it may mean. Every official can be reached, the 50th of 60 too."""

from __future__ import annotations

import pytest

from bot.texts import t
from handlers.common import CHOICES_MAX
from tests.conftest import COMPANY_USCC, join, register
from tests.test_access_matrix import dump
from tests.test_tasks import csv_bytes, import_file, task_row

ENTERPRISE = "鄂州市泛亚食品有限公司"
# 60 officials: 承办人01–20 in 中小企业科, 21–40 in 产业政策科, 41–60 in 市地方金融管理局; the
# flat order (by department, then id) puts the 50th beyond the first 40.
SPREAD = {"zxqy": range(1, 21), "cyzc": range(21, 41), "jrj": range(41, 61)}
BAOBAO_PROMPT = f"请选择 {ENTERPRISE} 的包保责任人："
BAOBAO_HOW = f"发送 /baobao {COMPANY_USCC} 姓名"


async def staff_in(sandbox, leader, spread: dict[str, range]) -> dict[int, object]:
    officials = {}
    for code, numbers in spread.items():
        for n in numbers:
            officials[n] = sandbox.person(60000 + n, f"承办人{n:02d}")
            await join(officials[n], leader, code)
    return officials


@pytest.fixture
async def bureau(sandbox, leader):
    company = sandbox.person(30001, "陈经理")
    await register(company)
    officials = await staff_in(sandbox, leader, SPREAD)
    return leader, company, officials


def labels(message) -> list[str]:
    return [label for label, _ in message.buttons]


def baobao_of(db) -> int | None:
    return db.one("SELECT baobao_user_id FROM enterprises WHERE uscc = ?", COMPANY_USCC)[
        "baobao_user_id"
    ]


async def test_baobao_among_sixty_goes_by_department_and_reaches_the_50th(bureau, db):
    leader, _, officials = bureau
    await leader.send(f"/baobao {COMPANY_USCC}")
    prompt = leader.inbox[-1]
    assert prompt.plain == (
        f"{BAOBAO_PROMPT}\n共 60 位承办人，请先选择部门，再选择其中的承办人；也可{BAOBAO_HOW}。"
    )
    assert labels(prompt) == [
        "中小企业科（20 人）",
        "产业政策科（20 人）",
        "市地方金融管理局（20 人）",
    ]
    [members] = await leader.press("市地方金融管理局（20 人）")
    assert members == (f"{BAOBAO_PROMPT}\n市地方金融管理局：20 位承办人\n（也可{BAOBAO_HOW}。）")
    assert labels(leader.inbox[-1]) == [f"承办人{n}（市地方金融管理局）" for n in range(41, 61)]
    assert baobao_of(db) is None
    done = await leader.press("承办人50（市地方金融管理局）")
    assert done == [f"已将 承办人50 设为 {ENTERPRISE} 的包保责任人，此后该企业的诉求直接派给 TA。"]
    assert baobao_of(db) == officials[50].id


@pytest.mark.parametrize(
    "typed",
    ["承办人50", " 承办人50 ", "承办人５０", "承办人50（市地方金融管理局）", "承办人50(jrj)"],
)
async def test_baobao_with_a_typed_name_assigns_that_official(bureau, db, typed):
    leader, _, officials = bureau
    done = await leader.send(f"/baobao {COMPANY_USCC} {typed}")
    assert done == [f"已将 承办人50 设为 {ENTERPRISE} 的包保责任人，此后该企业的诉求直接派给 TA。"]
    assert baobao_of(db) == officials[50].id


async def test_a_typed_name_that_is_not_one_official_is_refused_naming_the_candidates(
    bureau, sandbox, db
):
    leader, _, officials = bureau
    namesakes = [sandbox.person(61001, "李明"), sandbox.person(61002, "李明")]
    await join(namesakes[0], leader, "zxqy")
    await join(namesakes[1], leader, "jrj")
    before = dump(db)
    # nobody of that name, nobody close to it
    assert await leader.send(f"/baobao {COMPANY_USCC} 无此人") == [
        "未找到名为“无此人”的承办人，请核对姓名（以其加入时的名称为准）。"
    ]
    # two of that name: both named, both offered
    [ambiguous] = await leader.send(f"/baobao {COMPANY_USCC} 李明")
    assert ambiguous == (
        "名为“李明”的承办人有 2 位：李明（中小企业科）、李明（市地方金融管理局）。"
        "请点选其中一位，或输入“姓名（部门）”。"
    )
    assert labels(leader.inbox[-1]) == ["李明（中小企业科）", "李明（市地方金融管理局）"]
    # a part of a name: those whose name holds it
    [close] = await leader.send(f"/baobao {COMPANY_USCC} 承办人5")
    assert close.startswith(
        "未找到名为“承办人5”的承办人。姓名相近的有 10 位：承办人50（市地方金融管理局）、"
    )
    assert close.endswith("承办人59（市地方金融管理局）。请点选，或输入全名。")
    assert len(leader.inbox[-1].buttons) == 10
    # very many close names: ten named, forty buttons, and how to narrow it down
    [many] = await leader.send(f"/baobao {COMPANY_USCC} 承办人")
    assert "姓名相近的有 62 位" not in many and "姓名相近的有 60 位" in many
    assert "承办人10（中小企业科）等 60 位" in many
    assert many.endswith("（按钮列出前 40 位，共 60 位；请输入更完整的姓名。）")
    assert len(leader.inbox[-1].buttons) == CHOICES_MAX
    # user text is escaped, never markup
    [escaped] = await leader.send(f"/baobao {COMPANY_USCC} <b>王</b>")
    assert escaped == "未找到名为“<b>王</b>”的承办人，请核对姓名（以其加入时的名称为准）。"
    # a long paste is quoted back short, in one message
    [long] = await leader.send(f"/baobao {COMPANY_USCC} " + "长" * 3000)
    assert long == f"未找到名为“{'长' * 39}…”的承办人，请核对姓名（以其加入时的名称为准）。"
    opened = dump(db).pop("conversations")  # only the prompt its buttons belong to
    assert [(c["flow"], c["step"]) for c in opened] == [("baobao", "official")]
    assert {**dump(db), "conversations": []} == before  # nothing assigned, nothing written
    # the button of one candidate, or the name with its department, settles it
    await leader.press("李明（市地方金融管理局）")
    assert baobao_of(db) == namesakes[1].id
    await leader.send(f"/baobao {COMPANY_USCC} 李明（中小企业科）")
    assert baobao_of(db) == namesakes[0].id


async def test_only_a_leader_names_a_baobao(bureau, db):
    _, company, officials = bureau
    before = dump(db)
    for person in (officials[50], company):
        assert await person.send(f"/baobao {COMPANY_USCC} 承办人50") == ["您没有权限执行此操作。"]
    assert dump(db) == before


async def import_unmapped_task(leader, department: str = "产业政策科") -> None:
    row = task_row(1, owner="无此人")
    row[5] = department
    answer = await import_file(leader, "t.csv", csv_bytes([row]))
    assert "已导入 1 项" in answer[0], answer


async def open_assign_prompt(leader) -> None:
    await leader.send("/tasks")
    await leader.press("第1项 查看")
    await leader.press("指定责任人")


TASK_PROMPT = "请选择第1项整改任务（责任人“无此人”）的承办人："


async def test_a_task_owner_among_sixty_by_its_own_department_first_or_by_name(bureau, db):
    leader, _, officials = bureau
    await import_unmapped_task(leader)  # 责任科室 产业政策科
    await open_assign_prompt(leader)
    prompt = leader.inbox[-1]
    assert prompt.plain == (
        f"{TASK_PROMPT}\n共 60 位承办人，请先选择部门，再选择其中的承办人；也可直接输入姓名。"
    )
    # the task's own 责任科室 first
    assert labels(prompt) == [
        "产业政策科（20 人）",
        "中小企业科（20 人）",
        "市地方金融管理局（20 人）",
    ]
    # a name not known: refused, the prompt stays open
    assert await leader.send("无此人") == [
        "未找到名为“无此人”的承办人，请核对姓名（以其加入时的名称为准）。"
    ]
    assert db.one("SELECT owner_id FROM tasks WHERE seq = 1")["owner_id"] is None
    assert db.one("SELECT flow, step FROM conversations") == {"flow": "task", "step": "owner"}
    # the 50th, typed
    mark = officials[50].mark()
    assert await leader.send("承办人50") == ["已将第1项整改任务的责任人指定为 承办人50。"]
    assert db.one("SELECT owner_id FROM tasks WHERE seq = 1")["owner_id"] == officials[50].id
    assert officials[50].since(mark)[0].startswith("您已被指定为第1项整改任务的责任人。")
    assert db.rows("SELECT * FROM conversations") == []
    # and again by department, then by button (the imported name stays as it was written)
    await open_assign_prompt(leader)
    [members] = await leader.press("市地方金融管理局（20 人）")
    assert members == f"{TASK_PROMPT}\n市地方金融管理局：20 位承办人\n（也可直接输入姓名。）"
    assert await leader.press("承办人49（市地方金融管理局）") == [
        "已将第1项整改任务的责任人指定为 承办人49。"
    ]
    assert db.one("SELECT owner_id FROM tasks WHERE seq = 1")["owner_id"] == officials[49].id
    assert db.rows("SELECT * FROM conversations") == []


async def test_an_ambiguous_name_at_the_task_prompt_offers_both(bureau, sandbox, db):
    leader, _, _ = bureau
    namesakes = [sandbox.person(61001, "李明"), sandbox.person(61002, "李明")]
    await join(namesakes[0], leader, "zxqy")
    await join(namesakes[1], leader, "jrj")
    await import_unmapped_task(leader)
    await open_assign_prompt(leader)
    [ambiguous] = await leader.send("李明")
    assert ambiguous.startswith(
        "名为“李明”的承办人有 2 位：李明（中小企业科）、李明（市地方金融管理局）。"
    )
    assert db.one("SELECT owner_id FROM tasks WHERE seq = 1")["owner_id"] is None
    assert await leader.press("李明（中小企业科）") == ["已将第1项整改任务的责任人指定为 李明。"]
    assert db.one("SELECT owner_id FROM tasks WHERE seq = 1")["owner_id"] == namesakes[0].id
    assert db.rows("SELECT * FROM conversations") == []
    # left by another command: said, and the typed text no longer names anybody
    await open_assign_prompt(leader)
    left = await leader.send("/help")
    assert left[0] == "已退出为第1项整改任务指定责任人，未指定。"
    assert db.rows("SELECT * FROM conversations") == []


async def test_a_department_of_more_than_forty_says_how_to_reach_the_rest(sandbox, leader, db):
    company = sandbox.person(30001, "陈经理")
    await register(company)
    officials = await staff_in(sandbox, leader, {"zxqy": range(46, 47), "jrj": range(1, 46)})
    await leader.send(f"/baobao {COMPANY_USCC}")
    assert labels(leader.inbox[-1]) == ["中小企业科（1 人）", "市地方金融管理局（45 人）"]
    [members] = await leader.press("市地方金融管理局（45 人）")
    assert members == (
        f"{BAOBAO_PROMPT}\n市地方金融管理局：45 位承办人\n"
        f"（共 45 位，按钮列出前 40 位；其他人请{BAOBAO_HOW}。）"
    )
    assert len(leader.inbox[-1].buttons) == CHOICES_MAX
    await leader.send(f"/baobao {COMPANY_USCC} 承办人45")
    assert baobao_of(db) == officials[45].id
    # a task's 责任人 the same way: the 45th is typed at the prompt
    await import_unmapped_task(leader, "市地方金融管理局")
    await open_assign_prompt(leader)
    [members] = await leader.press("市地方金融管理局（45 人）")
    assert members.endswith("（共 45 位，按钮列出前 40 位；其他人请直接输入姓名。）")
    assert await leader.send("承办人45") == ["已将第1项整改任务的责任人指定为 承办人45。"]
    assert db.one("SELECT owner_id FROM tasks WHERE seq = 1")["owner_id"] == officials[45].id


async def test_a_few_officials_are_all_buttons_the_tasks_department_first(people, db):
    """Up to 40: every official is a button (as before), and typing works too."""
    await import_unmapped_task(people.leader, "中小企业科")
    await open_assign_prompt(people.leader)
    prompt = people.leader.inbox[-1]
    assert prompt.plain == f"{TASK_PROMPT}\n（也可直接输入姓名。）"
    assert labels(prompt) == [
        "赵敏（中小企业科）",
        "张科长（市地方金融管理局）",
        "李明（市地方金融管理局）",
    ]
    await people.leader.send(f"/baobao {COMPANY_USCC}")
    assert people.leader.last == f"{BAOBAO_PROMPT}\n（也可{BAOBAO_HOW}。）"
    assert t("staff_how.task") in prompt.plain


# The rule alone (no Telegram, no database) ------------------------------------------------------


def _staff():
    from datetime import UTC, datetime

    from bot.rules.model import Department, Person, Role

    moment = datetime(2026, 3, 9, tzinfo=UTC)
    jrj, zxqy = Department(4, "jrj", "市地方金融管理局"), Department(1, "zxqy", "中小企业科")
    people = [
        (Person(1, Role.OFFICIAL, "李明", 4, None, moment), jrj),
        (Person(2, Role.OFFICIAL, "李明", 1, None, moment), zxqy),
        (Person(3, Role.HEAD, "张 科长", 4, None, moment), jrj),
        (Person(4, Role.OFFICIAL, "Wang Fang", 1, None, moment), zxqy),
        (Person(5, Role.OFFICIAL, "赵敏", 1, None, moment), zxqy),
    ]
    return people


@pytest.mark.parametrize(
    ("typed", "found", "refused", "candidates"),
    [
        ("赵敏", 5, None, []),
        ("  赵\u200b敏 ", 5, None, []),  # spaces and invisible characters are not part of a name
        ("张科长", 3, None, []),
        ("wang fang", 4, None, []),
        ("ＷＡＮＧ ＦＡＮＧ", 4, None, []),  # full width, any case
        ("李明（市地方金融管理局）", 1, None, []),
        ("李明(zxqy)", 2, None, []),
        ("李明", None, "OfficialNameAmbiguous", [1, 2]),
        ("李明（市人社局）", None, "OfficialNameUnknown", [1, 2]),  # no 李明 there: both others
        ("李", None, "OfficialNameUnknown", [1, 2]),
        ("赵敏敏", None, "OfficialNameUnknown", [5]),
        ("无此人", None, "OfficialNameUnknown", []),
        ("", None, "OfficialNameUnknown", []),
        ("\u200b", None, "OfficialNameUnknown", []),
    ],
)
def test_which_official_a_typed_name_means(typed, found, refused, candidates):
    from bot.rules.names import named_official
    from bot.rules.refusals import OfficialNameUnclear

    try:
        person, _ = named_official(_staff(), typed)
    except OfficialNameUnclear as exc:
        assert (type(exc).__name__, [p.tg_id for p, _ in exc.candidates]) == (refused, candidates)
        key = "error_official_similar" if candidates and refused.endswith("Unknown") else None
        assert key is None or exc.key == key
        return
    assert refused is None and person.tg_id == found


def test_only_a_leader_chooses_in_a_department_and_only_a_known_one():
    from datetime import UTC, date, datetime

    from bot.rules import access
    from bot.rules.model import Actor, Department, Enterprise, Role, Task, TaskState
    from bot.rules.refusals import BaobaoNotFound, TaskNotFound

    moment = datetime(2026, 3, 9, tzinfo=UTC)
    leader, head = Actor(8, Role.ADMIN, "王局长"), Actor(7, Role.HEAD, "张科长", department_id=4)
    ent = Enterprise(10, "甲", "A", "陈经理", "139", None, moment, primary_contact_id=2)
    dept = Department(4, "jrj", "市地方金融管理局")
    task = Task(1, 1, "方面", "问题", "措施", "王局长", "金融局", "李明", None,
                date(2026, 3, 20), TaskState.IN_PROGRESS, 2, moment)  # fmt: skip
    assert access.baobao_department(leader, ent, dept) == (ent, dept)
    assert access.task_department(leader, task, dept) == (task, dept)
    for actor, enterprise, department in [
        (head, ent, dept),
        (leader, None, dept),
        (leader, ent, None),
    ]:
        with pytest.raises(BaobaoNotFound):
            access.baobao_department(actor, enterprise, department)
    for actor, found, department in [
        (head, task, dept),
        (leader, None, dept),
        (leader, task, None),
    ]:
        with pytest.raises(TaskNotFound):
            access.task_department(actor, found, department)
