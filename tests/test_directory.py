"""The enterprise directory (企业名录): a roster imported all or nothing (every bad row named),
enterprises matched by USCC when they register, and attributes edited by leaders in chat
with every change audited — on both backends."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from bot.rules import uscc as uscc_rules
from bot.rules.directory import (
    OPTIONAL_COLUMNS,
    Attribute,
    Scale,
    attribute_value,
    split_tags,
    validate_roster,
)
from bot.rules.refusals import InvalidInput, RosterImportError
from bot.task_files import read_table
from handlers.directory import roster_headers, scales_by_label
from tests.conftest import COMPANY_USCC, join, register

HEADER = "企业名称,统一社会信用代码,行业,所在区,规模,标签,包保人"


def code(n: int, prefix: str = "91420700MA") -> str:
    """A valid USCC (its check character computed) numbered `n`."""
    first17 = f"{prefix}{n:07d}"[:17]
    return first17 + uscc_rules.check_char(first17)


DATA_CENTRES = [
    ("鄂州市云数据中心有限公司", code(1), "信息传输、软件和信息技术服务业", "华容区", "规上", "数据中心、专精特新", "李明"),
    ("鄂州花湖算力科技有限公司", code(2), "信息传输、软件和信息技术服务业", "鄂城区", "规上", "数据中心", ""),
    ("鄂州葛店智算中心有限公司", code(3), "信息传输、软件和信息技术服务业", "葛店开发区", "规下", "数据中心、5G工厂", "张三丰"),
    ("鄂州临空数据港有限公司", code(4), "", "梁子湖区", "", "", ""),
]  # fmt: skip


def csv_of(rows: list[tuple[str, ...]], header: str = HEADER) -> bytes:
    return ("\n".join([header] + [",".join(f'"{c}"' for c in r) for r in rows]) + "\n").encode()


def rows_of(data: bytes, name: str = "roster.csv") -> list[list[str]]:
    return read_table(data, name, roster_headers(), OPTIONAL_COLUMNS)


# --- rules: every kind of bad cell named by its row ------------------------------------

BAD_CELLS = [
    # (column index, value, catalog key of the problem)
    (1, "91420700MA0000001X", "roster_bad_uscc"),  # wrong check character
    (1, "1234", "roster_bad_uscc"),
    (1, "", "import_empty_field"),
    (0, "", "import_empty_field"),
    (0, "企" * 61, "import_long_field"),
    (2, "行" * 31, "import_long_field"),
    (3, "区" * 31, "import_long_field"),
    (4, "中型", "roster_bad_scale"),
    (5, "很长的标签" * 5, "roster_tag_long"),
    (5, "、".join(f"标签{i}" for i in range(11)), "roster_tags_many"),
    (6, "名" * 41, "import_long_field"),
]


@pytest.mark.parametrize(("column", "value", "key"), BAD_CELLS)
def test_every_kind_of_bad_cell_is_named_by_its_row_and_nothing_passes(column, value, key):
    rows = [list(r) for r in DATA_CENTRES]
    rows[2][column] = value
    with pytest.raises(RosterImportError) as refused:
        validate_roster(
            rows_of(csv_of([tuple(r) for r in rows])), roster_headers(), scales_by_label()
        )
    assert [(row, k) for row, k, _ in refused.value.problems] == [(4, key)]


def test_a_usccs_second_row_is_named_with_the_first():
    rows = DATA_CENTRES + [("另一家", code(2), "", "", "", "", "")]
    with pytest.raises(RosterImportError) as refused:
        validate_roster(rows_of(csv_of(rows)), roster_headers(), scales_by_label())
    assert refused.value.problems == [(6, "roster_duplicate_uscc", {"value": code(2), "first": 3})]


def test_optional_columns_may_be_missing_but_not_the_name_or_code():
    only = "企业名称,统一社会信用代码\n" + "\n".join(f"{r[0]},{r[1]}" for r in DATA_CENTRES)
    found = validate_roster(rows_of(only.encode()), roster_headers(), scales_by_label())
    assert [r.uscc for r in found] == [r[1] for r in DATA_CENTRES]
    assert all(r.tags is None and r.scale is None for r in found)
    with pytest.raises(RosterImportError) as refused:
        validate_roster(rows_of(b"name,code\nA,B\n"), roster_headers(), scales_by_label())
    assert refused.value.problems[0][1] == "import_no_header"


def test_scales_and_tags_as_bureaus_write_them():
    labels = scales_by_label()
    assert attribute_value(Attribute.SCALE, "规模以上企业", labels) is Scale.ABOVE
    assert attribute_value(Attribute.SCALE, " 规下 ", labels) is Scale.BELOW
    assert split_tags("#数据中心 ＃专精特新，5G工厂;数据中心") == ("数据中心", "专精特新", "5G工厂")
    assert attribute_value(Attribute.TAGS, "无", labels) == ()
    for attribute, typed, reason in [
        (Attribute.SCALE, "中型", "unknown"),
        (Attribute.INDUSTRY, "行" * 31, "too_long"),
        (Attribute.TAGS, "、".join(f"t{i}" for i in range(11)), "roster_tags_many"),
        (Attribute.DISTRICT, "  ", "empty"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            attribute_value(attribute, typed, labels)
        assert refused.value.params["reason"] == reason


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=18, max_size=18))
def test_a_code_passes_exactly_when_its_check_character_is_right(typed):
    rows = rows_of(csv_of([("某公司", typed, "", "", "", "", "")]))
    valid = uscc_rules.is_valid(typed)
    try:
        found = validate_roster(rows, roster_headers(), scales_by_label())
    except RosterImportError as exc:
        assert not valid
        assert exc.problems[0][1] == "roster_bad_uscc"
    else:
        assert valid and found[0].uscc == typed


# --- in chat, both backends ----------------------------------------------------------------


@pytest.fixture
async def bureau(sandbox, leader):
    official = sandbox.person(20002, "李明")
    await join(official, leader, "jrj")
    return type("Bureau", (), dict(leader=leader, official=official, sandbox=sandbox))


async def import_roster(leader, data: bytes, name: str = "名录.csv") -> list[str]:
    await leader.send("/enterprises import")
    return await leader.send_document(name, content=data)


async def test_a_roster_with_bad_rows_is_refused_whole_and_names_each(bureau, db):
    rows = list(DATA_CENTRES) + [
        ("坏代码公司", "91420700MA0000009X", "", "", "", "", ""),
        ("坏规模公司", code(9), "", "", "中型", "", ""),
    ]
    answer = await import_roster(bureau.leader, csv_of(rows))
    assert "导入失败，共 2 处问题，未导入任何企业" in answer[-1]
    assert "第 6 行：统一社会信用代码“91420700MA0000009X”不正确" in answer[-1]
    assert "第 7 行：规模“中型”无法识别" in answer[-1]
    assert db.count("directory") == 0 and db.count("directory_tags") == 0


async def test_a_roster_is_imported_and_its_baobao_named(bureau, db):
    answer = await import_roster(bureau.leader, csv_of(DATA_CENTRES))
    assert (
        "企业名录已导入：新增 4 家，更新 0 家，未变 0 家；其中 0 家已在本平台注册。名录现有 4 家企业。"
        in answer[-1]
    )
    assert "第 4 行包保人“张三丰”尚未加入" in answer[-1]
    stored = {r["uscc"]: r for r in db.rows("SELECT * FROM directory")}
    first = stored[code(1)]
    assert (first["industry"], first["district"], first["scale"]) == (
        "信息传输、软件和信息技术服务业",
        "华容区",
        "above",
    )
    assert first["baobao_user_id"] == 20002 and first["enterprise_id"] is None
    tags = db.rows("SELECT tag FROM directory_tags WHERE entry_id = ? ORDER BY tag", first["id"])
    assert [t["tag"] for t in tags] == ["专精特新", "数据中心"]
    assert stored[code(4)]["scale"] == "" and stored[code(3)]["baobao_user_id"] is None
    events = db.rows("SELECT action, detail FROM audit_events WHERE subject LIKE 'directory:%'")
    assert len(events) == 4 and {e["action"] for e in events} == {"directory_import"}

    # the same file again changes nothing; a later roster updates only the cells it fills
    again = await import_roster(bureau.leader, csv_of(DATA_CENTRES))
    assert "新增 0 家，更新 0 家，未变 4 家" in again[-1]
    later = await import_roster(
        bureau.leader, csv_of([("鄂州临空数据港有限公司", code(4), "", "", "规上", "数据中心", "")])
    )
    assert "新增 0 家，更新 1 家，未变 0 家" in later[-1]
    row = db.one("SELECT * FROM directory WHERE uscc = ?", code(4))
    assert (row["district"], row["scale"]) == ("梁子湖区", "above")
    details = db.rows(
        "SELECT detail FROM audit_events WHERE subject = ? ORDER BY id", f"directory:{row['id']}"
    )
    detail = details[-1]["detail"]
    detail = json.loads(detail) if isinstance(detail, str) else detail
    assert detail["changes"] == {"scale": ["", "above"], "tags": [[], ["数据中心"]]}


async def test_an_enterprise_on_the_roster_is_recognised_when_it_registers(bureau, db):
    await import_roster(bureau.leader, csv_of(DATA_CENTRES))
    contact = bureau.sandbox.person(30001, "陈经理")
    await contact.send("/start")
    await contact.send("鄂州市云数据中心有限公司")
    await contact.send(code(1))
    await contact.send("陈经理")
    await contact.send("13907110000")
    answer = await contact.press("确认登记")
    assert "登记成功" in answer[-1]
    assert (
        "已识别：贵企业已在市经信局企业名录中（行业：信息传输、软件和信息技术服务业；所在区：华容区）"
        in answer[-1]
    )
    assert "包保联系人：李明" in answer[-1]
    enterprise = db.one("SELECT id, baobao_user_id FROM enterprises WHERE uscc = ?", code(1))
    assert enterprise["baobao_user_id"] == 20002
    entry = db.one("SELECT enterprise_id FROM directory WHERE uscc = ?", code(1))
    assert entry["enterprise_id"] == enterprise["id"]
    # one not on the roster registers as before and gets an entry of its own
    other = bureau.sandbox.person(30002, "周总")
    await register(other)
    assert "已识别" not in other.last
    assert (
        db.one("SELECT enterprise_id FROM directory WHERE uscc = ?", COMPANY_USCC)["enterprise_id"]
        is not None
    )
    assert db.count("directory") == 5


async def test_a_leader_changes_attributes_and_each_change_is_audited(bureau, db):
    await import_roster(bureau.leader, csv_of(DATA_CENTRES))
    leader = bureau.leader
    many = await leader.send("/enterprises 数据")
    assert "找到 2 家企业" in many[-1]
    card = await leader.send(f"/enterprises {code(2)}")
    assert "鄂州花湖算力科技有限公司" in card[-1] and "所在区：鄂城区" in card[-1]
    await leader.press("修改所在区")
    done = await leader.send("临空经济区")
    assert "已修改 鄂州花湖算力科技有限公司 的所在区：鄂城区 → 临空经济区" in done[-1]
    assert "修改记录" in done[-1]
    await leader.press("修改规模")
    done = await leader.press("规下")
    assert "规模：规上 → 规下" in done[-1]
    await leader.press("修改标签")
    refused = await leader.send("、".join(f"标签{i}" for i in range(11)))
    assert "最多 10 个" in refused[-1]
    done = await leader.send("数据中心、算力枢纽")
    assert "标签：数据中心 → 数据中心、算力枢纽" in done[-1]
    await leader.press("修改行业")
    same = await leader.send("信息传输、软件和信息技术服务业")
    assert "已是该值，未作修改" in same[-1]
    row = db.one("SELECT * FROM directory WHERE uscc = ?", code(2))
    assert (row["district"], row["scale"]) == ("临空经济区", "below")
    edits = db.rows(
        "SELECT actor_id FROM audit_events WHERE subject = ? AND action = 'directory_edit'",
        f"directory:{row['id']}",
    )
    assert len(edits) == 3 and {e["actor_id"] for e in edits} == {leader.id}


async def test_only_leaders_see_or_change_the_directory(bureau, db):
    await import_roster(bureau.leader, csv_of(DATA_CENTRES))
    await bureau.leader.send(f"/enterprises {code(1)}")
    card_message, data = bureau.leader.find_button("修改行业")
    before = db.rows("SELECT * FROM directory ORDER BY id")
    for command in ("/enterprises", "/enterprises import", f"/enterprises {code(1)}"):
        answer = await bureau.official.send(command)
        assert "无权" in answer[-1] or "权限" in answer[-1], answer
    forged = await bureau.official.press_data(card_message, data)
    assert not any("数据中心" in said for said in forged), forged
    unknown = await bureau.leader.press_data(card_message, "ent:99999:open")
    assert "企业名录中没有这家企业" in unknown[-1]
    assert db.rows("SELECT * FROM directory ORDER BY id") == before


async def test_an_xlsx_roster_imports_and_the_export_imports_back(bureau, db):
    book = Workbook()
    sheet = book.active
    sheet.append(["鄂州市经济和信息化局 数据中心名录"])
    sheet.append(HEADER.split(","))
    for row in DATA_CENTRES:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    answer = await import_roster(bureau.leader, buffer.getvalue(), "名录.xlsx")
    assert "新增 4 家" in answer[-1]
    await bureau.leader.send("/enterprises export")
    _, name, content = bureau.sandbox.api.documents[-1]
    assert name.startswith("企业名录-") and name.endswith(".xlsx")
    exported = load_workbook(io.BytesIO(content)).active
    values = [[c.value for c in row] for row in exported.iter_rows()]
    header = values[0]
    assert header[:7] == HEADER.split(",")
    first = values[1 + [r[1] for r in values[1:]].index(code(1))]
    # tags come back in the order of their names
    assert first[:7] == list(DATA_CENTRES[0][:5]) + ["专精特新、数据中心", "李明"]
    again = await import_roster(bureau.leader, content, "导出.xlsx")
    assert "未变 4 家" in again[-1]


async def test_a_roster_never_renames_a_registered_enterprise_silently(bureau, db):
    contact = bureau.sandbox.person(30001, "陈经理")
    await register(contact, "鄂州市云数据中心有限公司", code(1))
    typo = [("鄂州市云数据中心有线公司", code(1), "软件业", "华容区", "", "", "")]
    answer = await import_roster(bureau.leader, csv_of(typo))
    assert "更新 1 家" in answer[-1]
    assert (
        "企业名称“鄂州市云数据中心有线公司”与已在本平台登记的“鄂州市云数据中心有限公司”不一致"
        in answer[-1]
    )
    row = db.one("SELECT name, industry FROM directory WHERE uscc = ?", code(1))
    assert (row["name"], row["industry"]) == ("鄂州市云数据中心有限公司", "软件业")
