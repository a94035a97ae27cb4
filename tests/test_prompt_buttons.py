"""Buttons that name nothing of what they act on (a department of a transfer, a category of a
draft, 提交 / 取消 under a draft, 确认登记 under a registration summary) act only on the flow
whose prompt they are under. Every such kind, pressed under the flow's own prompt, acts;
pressed under an older prompt of another appeal, draft or registration, it is answered
plainly, changes nothing and leaves the open flow as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers import flow
from tests.conftest import file_appeal

DESCRIPTION = "扩建冷链仓库需流动资金约800万元，申请融资担保对接。"
OTHER_PROMPT = "此按钮属于之前的另一条提示，未作任何更改"
NEW_USCC = "91420700MA4F0A1G22"


def _department(db, number: str) -> str:
    return db.one(
        "SELECT d.code FROM appeals a JOIN departments d ON d.id = a.department_id"
        " WHERE a.number = ?",
        number,
    )["code"]


def _open_flow(db, user_id: int) -> dict | None:
    rows = db.rows("SELECT flow, step FROM conversations WHERE user_id = ?", user_id)
    return rows[0] if rows else None


async def _transfer(p, db, own: bool) -> None:
    """转办 of one appeal at the reason step; a department button pressed under this
    transfer's prompt (own) or under the prompt of an earlier transfer of another appeal."""
    first = await file_appeal(p.company)
    second = await file_appeal(p.rival, text="厂区道路施工影响货车进出，请求协调临时通行。")
    for number in (first, second):
        await p.official.press("签收", containing=number)
    await p.official.press("转办", containing=first)
    old = p.official.find_button("市人社局", containing=first)
    await p.official.send("/cancel")
    await p.official.press("转办", containing=second)
    await p.official.send("中小企业科")  # typed: the reason is asked now
    message, data = p.official.find_button("市人社局", containing=second) if own else old
    answer = await p.official.press_data(message, data, "市人社局")
    if own:
        assert "转办至 市人社局" in answer[-1], answer
    else:
        assert OTHER_PROMPT in answer[-1] and len(answer) == 1, answer
    await p.official.send("属其他部门职责。")
    assert _department(db, second) == ("rsj" if own else "zxqy")
    assert _department(db, first) == "jrj"  # the other appeal is untouched either way


async def _category(p, db, own: bool) -> None:
    """A draft at its description step; a category button of this draft's prompt or of an
    earlier, cancelled draft's."""
    company = p.company
    await company.send("/new")
    old = company.find_button("融资")
    await company.send("/cancel")
    await company.send("/new")
    await company.press("法务")
    message, data = company.find_button("融资") if own else old
    answer = await company.press_data(message, data, "融资")
    if own:
        assert answer[-1].startswith("类别：融资"), answer
    else:
        assert OTHER_PROMPT in answer[-1] and len(answer) == 1, answer
    await company.send(DESCRIPTION)
    await company.press("提交")
    assert db.one("SELECT category FROM appeals")["category"] == ("融资" if own else "法务")


async def _submit(p, db, own: bool) -> None:
    """A draft at its summary; 提交 under this draft's summary or an earlier draft's."""
    company = p.company
    await company.send("/new")
    await company.press("融资")
    await company.send("第一份草稿：申请融资担保对接，需流动资金。")
    old = company.find_button("提交")
    await company.send("/cancel")
    await company.send("/new")
    await company.press("法务")
    await company.send(DESCRIPTION)
    message, data = company.find_button("提交") if own else old
    answer = await company.press_data(message, data, "提交")
    if own:
        assert answer[-1].startswith("诉求已提交"), answer
        assert db.one("SELECT category FROM appeals")["category"] == "法务"
    else:
        assert OTHER_PROMPT in answer[-1] and len(answer) == 1, answer
        assert db.count("appeals") == 0
        assert _open_flow(db, company.user["id"]) == {"flow": "filing", "step": "attachments"}


async def _cancel(p, db, own: bool) -> None:
    """取消 under this draft's summary or an earlier draft's."""
    company = p.company
    await company.send("/new")
    await company.press("融资")
    await company.send("第一份草稿：申请融资担保对接，需流动资金。")
    await company.press("提交")  # filed: its summary stays on screen
    old = company.find_button("取消")
    await company.send("/new")
    await company.press("法务")
    await company.send(DESCRIPTION)
    message, data = company.find_button("取消") if own else old
    answer = await company.press_data(message, data, "取消")
    if own:
        assert _open_flow(db, company.user["id"]) is None
    else:
        assert OTHER_PROMPT in answer[-1] and len(answer) == 1, answer
        assert _open_flow(db, company.user["id"]) == {"flow": "filing", "step": "attachments"}


async def _registration(p, db, own: bool) -> None:
    """A registration at its summary; 确认登记 under it or under a cancelled one's."""
    newcomer = p.sandbox.person(30009, "孙会计")
    await newcomer.send("/start")
    for field in ("鄂州市新港物流有限公司", NEW_USCC, "孙会计", "13907110009"):
        await newcomer.send(field)
    old = newcomer.find_button("确认登记")
    await newcomer.press("取消")
    await newcomer.send("/start")
    for field in ("鄂州市长江冷链有限公司", NEW_USCC, "孙晓", "13907110010"):
        await newcomer.send(field)
    await newcomer.press("修改联系人")  # the summary's buttons stay while a field is typed
    message, data = newcomer.find_button("确认登记") if own else old
    answer = await newcomer.press_data(message, data, "确认登记")
    names = [r["name"] for r in db.rows("SELECT name FROM enterprises WHERE uscc = ?", NEW_USCC)]
    if own:
        assert answer[-1].startswith("登记成功"), answer
        assert names == ["鄂州市长江冷链有限公司"]
    else:
        assert OTHER_PROMPT in answer[-1] and len(answer) == 1, answer
        assert names == []
        assert _open_flow(db, newcomer.user["id"]) == {"flow": "registration", "step": "contact"}


CASES = {
    ("action", "dept"): _transfer,
    ("filing", "cat"): _category,
    ("filing", "new"): _submit,
    ("filing", "new:cancel"): _cancel,
    ("registration", "reg"): _registration,
}


# 政策宣贯, 月报: the composer's, a campaign's and a report's buttons, pressed under this
# flow's prompt or under the same prompt of an earlier one (cancelled, begun again).

TOML = (Path(__file__).parent.parent / "examples" / "monthly_datacenter.toml").read_bytes()


async def _broadcast_to(leader, step: str) -> None:
    """A 政策宣贯 composed up to `step` (the prompt whose button is pressed)."""
    await leader.send("/broadcast")
    await leader.send("关于申报2026年度专项补助的通知")
    if step == "topic":
        return
    await leader.press("产业政策")
    await leader.send("请符合条件的企业于3月31日前提交申报材料，逾期不予受理。")
    if step == "files":
        return
    await leader.press("无附件")
    if step == "audience":
        return
    await leader.press("按诉求类别")


async def _campaign_to(leader, step: str) -> None:
    await leader.send("/campaigns new")
    await leader.send_document("monthly_datacenter.toml", content=TOML)
    if step == "audience":
        return
    if step == "value":
        await leader.press("按诉求类别")
        return
    await leader.press("全部企业")


async def _report_to(company, step: str) -> None:
    await company.press("填报")
    if step == "choice":
        await company.send("1200")
        await company.send("3500")
        return
    await company.send("1200")
    await company.send("3500")
    await company.press("机电安装")
    await company.send("120")
    if step == "skip":
        return
    await company.press("跳过")
    await company.press("跳过")  # the review


def _pressed_again(flows: dict, step: str):
    """A case: `begin(p, step)` opens the flow at its step in the person's chat; the button
    `label` acts under it and not under the same prompt of an earlier one."""

    async def case(p, db, own: bool) -> None:
        person, begin, label, acted = (
            flows["who"](p),
            flows["begin"],
            flows["label"],
            flows["acted"],
        )
        await flows["before"](p, db)
        await begin(person, step)
        old = person.find_button(label)
        await person.send("/cancel")
        await begin(person, step)
        here = _open_flow(db, person.user["id"])
        message, data = person.find_button(label) if own else old
        answer = await person.press_data(message, data, label)
        if own:
            assert acted(answer, _open_flow(db, person.user["id"])), answer
        else:
            assert OTHER_PROMPT in answer[-1] and len(answer) == 1, answer
            assert _open_flow(db, person.user["id"]) == here

    return case


async def _a_filed_appeal(p, db) -> None:
    await file_appeal(p.company)


async def _asked_to_report(p, db) -> None:
    """A campaign for every enterprise; its March asked on 2026-04-01."""
    from datetime import datetime

    from bot.rules.broadcasts import Audience, AudienceKind
    from bot.rules.monthly import Period, parse_definition_toml
    from bot.usecases import monthly
    from bot.usecases.people import Caller
    from handlers.jobs import run_sweep

    env = p.sandbox.env
    await monthly.create(
        env, Caller(p.leader.id, "王局长"), parse_definition_toml(TOML.decode()),
        Audience(AudienceKind.ALL), Period(2026, 3),
    )  # fmt: skip
    env.clock.set(datetime.fromisoformat("2026-04-01T09:00:00+08:00"))
    await run_sweep(p.sandbox.app)


LEADER_FLOW = {"who": lambda p: p.leader, "before": _a_filed_appeal}
BROADCAST = {**LEADER_FLOW, "begin": _broadcast_to}
CAMPAIGN = {**LEADER_FLOW, "begin": _campaign_to}
REPORT = {"who": lambda p: p.company, "before": _asked_to_report, "begin": _report_to}


def _moved(step: str, says: str):
    """Acted: the flow is at `step` and the answer says what that step asks."""
    return lambda answer, open_flow: (
        open_flow is not None and open_flow["step"] == step and says in answer[-1]
    )


CASES.update(
    {
        ("broadcast", "bct"): _pressed_again(
            {**BROADCAST, "label": "产业政策", "acted": _moved("body", "第 3 步")}, "topic"
        ),
        ("broadcast", "bcc"): _pressed_again(
            {**BROADCAST, "label": "无附件", "acted": _moved("audience", "请选择对象范围")}, "files"
        ),
        ("broadcast", "bca"): _pressed_again(
            {**BROADCAST, "label": "全部企业", "acted": _moved("confirm", "宣贯预览")}, "audience"
        ),
        ("broadcast", "bcv"): _pressed_again(
            {**BROADCAST, "label": "融资（1）", "acted": _moved("confirm", "宣贯预览")}, "value"
        ),
        ("campaign", "bca"): _pressed_again(
            {**CAMPAIGN, "label": "全部企业", "acted": _moved("first", "第 3 步")}, "audience"
        ),
        ("campaign", "bcv"): _pressed_again(
            {**CAMPAIGN, "label": "融资（1）", "acted": _moved("first", "第 3 步")}, "value"
        ),
        ("campaign", "cpf"): _pressed_again(
            {
                **CAMPAIGN,
                "label": "2026年3月",
                "acted": lambda answer, open_flow: open_flow is None and "已建立" in answer[-1],
            },
            "first",
        ),
        ("report", "mrc"): _pressed_again(
            {**REPORT, "label": "机电安装", "acted": _moved("field", "第 4/6 项")}, "choice"
        ),
        ("report", "mra"): _pressed_again(
            {**REPORT, "label": "跳过", "acted": _moved("field", "第 6/6 项")}, "skip"
        ),
        ("report", "mre"): _pressed_again(
            {**REPORT, "label": "修改第1项", "acted": _moved("field", "第 1/6 项")}, "review"
        ),
    }
)


def test_every_prompted_kind_is_in_the_table():
    declared = {(f, k) for f, kinds in flow.PROMPTED.items() for k in kinds}
    assert declared == {(f, k.split(":")[0]) for f, k in CASES}


@pytest.mark.parametrize("own", [True, False], ids=["own_prompt", "other_items_prompt"])
@pytest.mark.parametrize("case", list(CASES), ids=[f"{f}-{k}" for f, k in CASES])
async def test_a_button_acts_only_under_its_own_flows_prompt(sandbox, people, db, case, own):
    people.sandbox = sandbox
    await CASES[case](people, db, own)
