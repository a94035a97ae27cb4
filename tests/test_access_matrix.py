"""The full role × action × state matrix of the pure access rules (no database, no Telegram)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.rules import access
from bot.rules.model import Action, Actor, Appeal, Role, State, Task, TaskAction, TaskState
from bot.rules.refusals import (
    AppealNotFound,
    ContactNotFound,
    DomainError,
    InvalidTransition,
    NotAllowed,
    NotYourAppeal,
    UnknownButton,
)
from bot.rules.task_ledger import TaskFilter, Turn
from bot.rules.uscc import check_char
from bot.rules.workflow import APPEAL_FLOW, TASK_FLOW
from bot.texts import t
from handlers.buttons import (
    APPEAL_ACTION_CODES,
    APPEAL_FILES,
    CODE,
    EXT_NO,
    EXT_OK,
    GROUP_KINDS,
    ID,
    KINDS,
    LEDGER,
    MENU_CHOICES,
    TASK,
    TASK_FILES,
    VIEW,
    BadCallback,
    Button,
    decode,
    encode,
    pressed,
    pressed_or_none,
)
from handlers.common import refusal_text

TODAY = date(2026, 3, 10)
DEPT, OTHER_DEPT, ENT, OTHER_ENT = 1, 2, 10, 11
PEOPLE = {
    "stranger": Actor(1, Role.GUEST, "路人"),
    "enterprise A": Actor(2, Role.ENTERPRISE, "陈经理", enterprise_id=ENT),
    "enterprise B": Actor(3, Role.ENTERPRISE, "周总", enterprise_id=OTHER_ENT),
    "owner": Actor(4, Role.OFFICIAL, "李明", department_id=DEPT),
    "colleague": Actor(5, Role.OFFICIAL, "王芳", department_id=DEPT),
    "wrong department": Actor(6, Role.OFFICIAL, "赵敏", department_id=OTHER_DEPT),
    "head": Actor(7, Role.HEAD, "张科长", department_id=DEPT),
    "leader": Actor(8, Role.ADMIN, "王局长"),
}
# Who may take each action on a claimed appeal (owner 李明) in a state that allows it.
EXPECTED = {
    Action.CLAIM: {"owner", "colleague", "head"},  # only while pending (owner not set then)
    Action.REPLY: {"owner", "head"},
    Action.NOTE: {"owner", "colleague", "head", "leader"},
    Action.TRANSFER: {"owner", "colleague", "head", "leader"},
    Action.CLOSE: {"owner", "head"},
    Action.EXTEND: {"owner", "head"},
    Action.SUPPLEMENT: {"enterprise A"},
    Action.WITHDRAW: {"enterprise A"},
    Action.RATE: {"enterprise A"},
    Action.REOPEN: {"enterprise A"},
}


def appeal(state: State, owner: int | None = 4) -> Appeal:
    moment = datetime(2026, 3, 9, tzinfo=UTC)
    return Appeal(
        1, "SQ-2026-000001", ENT, "企业", "融资", "描述", state, DEPT, "jrj", "金融局",
        None, owner, None, TODAY, date(2026, 3, 20), moment, None, None, None, None, None, 0, 3,
    )  # fmt: skip


def outcome(actor: Actor, item: Appeal, action: Action) -> str:
    try:
        access.authorize(actor, item, action, item.version, TODAY)
    except DomainError as exc:
        return type(exc).__name__
    return "ok"


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("state", list(State))
def test_every_role_action_and_state(action, state):
    row = APPEAL_FLOW[action]
    owner = None if state is State.PENDING else 4
    item = appeal(state, owner)
    for who, actor in PEOPLE.items():
        result = outcome(actor, item, action)
        if state not in row.from_states:
            if access.may_see(actor, item):
                assert result == "InvalidTransition", (who, action, state)
            else:
                assert result == "AppealNotFound" or result == "InvalidTransition"
            continue
        if who in EXPECTED[action]:
            assert result == "ok", (who, action, state, result)
        else:
            assert result in ("NotAllowed", "NotYourAppeal"), (who, action, state, result)


def test_strangers_and_other_enterprises_see_nothing():
    item = appeal(State.IN_PROGRESS)
    for who in ("stranger", "enterprise B", "wrong department"):
        assert not access.may_see(PEOPLE[who], item)
        assert access.parties(PEOPLE[who], item) == frozenset()
    with pytest.raises(DomainError):
        access.visible_or_not_found(PEOPLE["enterprise B"], item)


def test_refusals_say_not_yours_to_staff_and_not_allowed_to_others():
    item = appeal(State.IN_PROGRESS)
    with pytest.raises(NotYourAppeal):
        access.authorize(PEOPLE["colleague"], item, Action.REPLY, None, TODAY)
    with pytest.raises(NotAllowed):
        access.authorize(PEOPLE["leader"], item, Action.REPLY, None, TODAY)
    with pytest.raises(InvalidTransition):
        access.authorize(PEOPLE["owner"], appeal(State.WITHDRAWN), Action.REPLY, None, TODAY)


def test_a_routed_appeal_is_claimed_only_by_its_official_or_the_head():
    item = replace(appeal(State.PENDING, owner=None), assignee_id=4)
    assert outcome(PEOPLE["owner"], item, Action.CLAIM) == "ok"
    assert outcome(PEOPLE["colleague"], item, Action.CLAIM) == "NotYourAppeal"
    assert outcome(PEOPLE["head"], item, Action.CLAIM) == "ok"


def test_no_extension_after_the_deadline():
    item = appeal(State.IN_PROGRESS)
    late = date(2026, 3, 21)
    assert Action.EXTEND not in access.allowed_actions(PEOPLE["owner"], item, late)
    with pytest.raises(DomainError):
        access.authorize(PEOPLE["owner"], item, Action.EXTEND, None, late)


def task(state: TaskState, owner_id: int | None = 4) -> Task:
    moment = datetime(2026, 3, 9, tzinfo=UTC)
    return Task(1, 1, "方面", "问题", "措施", "王局长", "金融局", "李明", owner_id,
                date(2026, 3, 20), state, 2, moment)  # fmt: skip


@pytest.mark.parametrize("action", list(TaskAction))
@pytest.mark.parametrize("state", list(TaskState))
def test_task_matrix_by_user_id_not_by_name(action, state):
    row = TASK_FLOW[action]
    namesake = Actor(9, Role.OFFICIAL, "李明", department_id=OTHER_DEPT)  # same name, not owner
    for who, actor in {**PEOPLE, "namesake": namesake}.items():
        item = task(state)
        try:
            access.authorize_task(actor, item, action, item.version)
            result = "ok"
        except DomainError as exc:
            result = type(exc).__name__
        holder = who == "owner"
        allowed = state in row.from_states and (
            (holder and action in (TaskAction.REPORT, TaskAction.REQUEST_CLOSE))
            or (who == "leader" and action not in (TaskAction.REPORT, TaskAction.REQUEST_CLOSE))
        )
        assert (result == "ok") == allowed, (who, action, state, result)


def test_an_unmapped_task_is_held_by_its_stand_ins():
    item = task(TaskState.IN_PROGRESS, owner_id=None)
    head = PEOPLE["head"]
    assert access.allowed_task_actions(head, item, frozenset({head.tg_id})) == [
        TaskAction.REPORT,
        TaskAction.REQUEST_CLOSE,
    ]
    assert access.allowed_task_actions(PEOPLE["owner"], item, frozenset({head.tg_id})) == []


# Every button the codec knows, pressed by every role -------------------------------------
#
# Each kind of callback data (handlers/buttons.py KINDS) has a row in MATRIX: buttons with
# real ids of appeals, extensions, tasks, contacts and departments, each with the roles in
# whose scope it is. Everybody else — and every role with an unknown id, and with data the
# bot could not have sent — must get the answer the kind gives for an unknown id, and the
# database must not change. A kind added to the codec without a row here fails the test.

GROUP_ID = -100999
TASK_CSV_HEADER = "序号,方面,问题,整改措施,责任领导,责任科室,责任人,整改时限,状态"
UNKNOWN_ID = str(2**53 - 1)  # the largest id the codec accepts; no row has it
ROLES = (
    "guest",
    "A first",
    "A colleague",
    "B first",
    "B colleague",
    "official X",
    "official Y",
    "head X",
    "leader",
    "group",
)
EVERYONE = frozenset(ROLES)


async def _colleague(sandbox, first, tg_id: int, name: str, phone: str):
    [made] = await first.send("/colleague")
    code = made.split("?start=")[1].split()[0]
    person = sandbox.person(tg_id, name)
    await person.send(f"/start {code}")
    await person.send(name)
    joined = await person.send(phone)
    assert joined[-1].startswith("已加入"), joined
    return person


async def _extension(official, number: str) -> None:
    await official.press("签收", containing=number)
    await official.press("延期", containing=number)
    await official.send("2026-03-31")
    answer = await official.send("需等待银行授信审批结果。")
    assert answer[0].startswith("延期申请已提交"), answer


class World:
    """Two enterprises (A, B) with a first contact and a colleague each; departments X
    (金融局, head and official) and Y (中小企业科, official); an appeal of each enterprise in
    its department, claimed, with an extension request pending; a task held in each
    department; a department group chat."""

    def __init__(self, sandbox, people, db) -> None:
        self.sandbox, self.api, self.db, self.p = sandbox, sandbox.api, db, people

    async def build(self) -> World:
        from tests.conftest import file_appeal

        p, db = self.p, self.db
        self.a_colleague = await _colleague(self.sandbox, p.company, 30011, "陈会计", "13907110002")
        self.b_colleague = await _colleague(self.sandbox, p.rival, 30021, "周会计", "13907110003")
        self.guest = self.sandbox.person(40404, "路人")
        await self.guest.send("/help")
        a_number = await file_appeal(p.company, "融资")
        b_number = await file_appeal(p.rival, "综合服务")
        await _extension(p.official, a_number)
        await _extension(p.outsider, b_number)
        rows = [
            f"1,作风建设,问题1,措施1,王局长,市地方金融管理局,{p.official.name},2026-06-30,整改中",
            f"2,作风建设,问题2,措施2,王局长,中小企业科,{p.outsider.name},2026-06-30,整改中",
        ]
        await p.leader.send("/tasks import")
        content = "\n".join([TASK_CSV_HEADER, *rows]).encode("utf-8-sig")
        imported = await p.leader.send_document("t.csv", content=content)
        assert "已导入 2 项" in "\n".join(imported), imported
        self.api.handle("sendMessage", {"chat_id": GROUP_ID, "text": "金融局工作群"})
        self.group_message = self.api.messages_to(GROUP_ID)[-1]
        self.a = db.appeal(a_number)
        self.b = db.appeal(b_number)
        self.ext_a = db.one("SELECT id FROM extensions WHERE appeal_id = ?", self.a.id)["id"]
        self.ext_b = db.one("SELECT id FROM extensions WHERE appeal_id = ?", self.b.id)["id"]
        self.task_x = db.one("SELECT id, version FROM tasks WHERE seq = 1")
        self.task_y = db.one("SELECT id, version FROM tasks WHERE seq = 2")
        ents = {e["uscc"]: e["id"] for e in db.rows("SELECT id, uscc FROM enterprises")}
        from tests.conftest import COMPANY_USCC, OTHER_USCC

        self.ent_a, self.ent_b = ents[COMPANY_USCC], ents[OTHER_USCC]
        entries = {e["uscc"]: e["id"] for e in db.rows("SELECT id, uscc FROM directory")}
        self.entry_a, self.entry_b = entries[COMPANY_USCC], entries[OTHER_USCC]
        # a 政策宣贯 from the leader to enterprise A's contacts (queued, not yet sent)
        from bot.rules.broadcasts import Audience, AudienceKind
        from bot.usecases import broadcasts
        from bot.usecases.people import Caller

        created = await broadcasts.create(
            self.sandbox.env,
            Caller(p.leader.id, "王局长"),
            broadcasts.Draft(
                "关于申报2026年度数据中心建设补助的通知",
                "请符合条件的企业于12月20日前提交申报材料。",
                "industry",
                Audience(AudienceKind.USCC, (COMPANY_USCC,)),
            ),
            None,
            None,
        )
        self.broadcast = created.broadcast.id
        # a 月报 asked of enterprise A for last month (its notices queued)
        from bot.rules.monthly import parse_definition_toml
        from bot.usecases import monthly

        form = (Path(__file__).parent.parent / "examples" / "monthly_datacenter.toml").read_text()
        definition = parse_definition_toml(form)
        created = await monthly.create(
            self.sandbox.env,
            Caller(p.leader.id, "王局长"),
            definition,
            Audience(AudienceKind.USCC, (COMPANY_USCC,)),
            monthly.first_month(self.sandbox.env, definition),
        )
        await monthly.sweep(self.sandbox.env)
        self.campaign = created.campaign.id
        self.period = int(created.campaign.first_period.label.replace("-", ""))
        assert db.rows("SELECT * FROM conversations") == []  # nobody is in the middle of a step
        return self

    def person(self, role: str):
        p = self.p
        return {
            "guest": self.guest,
            "A first": p.company,
            "A colleague": self.a_colleague,
            "B first": p.rival,
            "B colleague": self.b_colleague,
            "official X": p.official,
            "official Y": p.outsider,
            "head X": p.head,
            "leader": p.leader,
            "group": p.official,  # a member of the department's group, pressing there
        }[role]


def _in(*roles: str) -> frozenset[str]:
    return frozenset(roles)


APPEAL_A = _in("A first", "A colleague", "official X", "head X", "leader", "group")
APPEAL_B = _in("B first", "B colleague", "official Y", "leader")


def _appeal_rows(w: World, kind: str, *arg: str) -> list[tuple[str, frozenset[str]]]:
    return [
        (encode(kind, w.a.id, w.a.version, *arg), APPEAL_A),
        (encode(kind, w.b.id, w.b.version, *arg), APPEAL_B),
    ]


def _task_rows(w: World) -> list[tuple[str, frozenset[str]]]:
    ops = sorted(next(p for p in KINDS[TASK].shapes[0] if isinstance(p, frozenset)))
    rows = []
    for task, scope in (
        (w.task_x, _in("official X", "leader")),
        (w.task_y, _in("official Y", "leader")),
    ):
        rows += [(encode(TASK, task["id"], task["version"], op), scope) for op in ops]
    return rows


def matrix(w: World) -> dict[str, list[tuple[str, frozenset[str]]]]:
    """Per kind: buttons with real ids, and the roles for whom each is in scope (they may
    get another answer than an unknown id: acting, or a finer refusal). The prompts' own
    buttons (dept, cat, reg) are pressed with no prompt open: everybody is answered alike.
    Buttons without ids (new, menu, tasks) are answered by role, never by id."""
    p = w.p
    ids = {
        "A first": p.company.id,
        "A colleague": w.a_colleague.id,
        "B colleague": w.b_colleague.id,
        "official X": p.official.id,
        "official Y": p.outsider.id,
        "head X": p.head.id,
    }
    rows: dict[str, list[tuple[str, frozenset[str]]]] = {
        code: _appeal_rows(w, code) for code in APPEAL_ACTION_CODES if code != "rate"
    }
    rows["rate"] = _appeal_rows(w, "rate", "s") + _appeal_rows(w, "rate", "u")
    rows[VIEW] = _appeal_rows(w, VIEW)
    # 查看附件 reaches whoever may see the appeal (its contacts too) or the task
    rows[APPEAL_FILES] = [
        (encode(APPEAL_FILES, w.a.id), APPEAL_A),
        (encode(APPEAL_FILES, w.b.id), APPEAL_B),
    ]
    rows[TASK_FILES] = [
        (encode(TASK_FILES, w.task_x["id"]), _in("official X", "leader")),
        (encode(TASK_FILES, w.task_y["id"]), _in("official Y", "leader")),
    ]
    for kind in (EXT_OK, EXT_NO):
        rows[kind] = [
            (encode(kind, w.ext_a), _in("official X", "head X", "leader")),
            (encode(kind, w.ext_b), _in("official Y", "leader")),
        ]
    rows[TASK] = _task_rows(w)
    x, y = w.task_x, w.task_y
    rows["tasko"] = [
        (encode("tasko", x["id"], x["version"], ids["official Y"]), _in("leader")),
        (encode("tasko", y["id"], y["version"], ids["head X"]), _in("leader")),
        (encode("tasko", x["id"], x["version"], ids["A first"]), _in()),  # not an official
    ]
    rows["contact"] = [
        (encode("contact", "rm", w.ent_a, ids["A colleague"]), _in("A first", "leader")),
        (encode("contact", "rm", w.ent_b, ids["B colleague"]), _in("B first", "leader")),
        (encode("contact", "rm", w.ent_a, ids["A first"]), _in("A first", "leader")),
        (encode("contact", "rm", w.ent_b, ids["A colleague"]), _in()),  # not B's contact
        (encode("contact", "rm", w.ent_a, ids["B colleague"]), _in()),
        (encode("contact", "rm", w.ent_a, ids["official X"]), _in()),
    ]
    rows["bb"] = [
        (encode("bb", w.ent_a, ids["official X"]), _in("leader")),
        (encode("bb", w.ent_b, ids["official Y"]), _in("leader")),
        (encode("bb", w.ent_a, ids["A colleague"]), _in()),  # not an official
    ]
    dept = {d["code"]: d["id"] for d in w.db.rows("SELECT id, code FROM departments")}
    rows["bbd"] = [
        (encode("bbd", w.ent_a, dept["jrj"]), _in("leader")),
        (encode("bbd", w.ent_b, dept["zxqy"]), _in("leader")),
        (encode("bbd", w.ent_a, UNKNOWN_ID), _in()),  # no such department
    ]
    rows["taskd"] = [
        (encode("taskd", x["id"], x["version"], dept["zxqy"]), _in("leader")),
        (encode("taskd", y["id"], y["version"], dept["jrj"]), _in("leader")),
        (encode("taskd", x["id"], x["version"], UNKNOWN_ID), _in()),
    ]
    rows["inv"] = [(encode("inv", "jrj"), _in("leader")), (encode("inv", "zxqy"), _in("leader"))]
    rows["invr"] = [(encode("invr", "jrj", r), _in("leader")) for r in ("o", "h")]
    rows["dept"] = [(encode("dept", "zxqy"), _in())]
    # the directory is the leaders'; a broadcast is its contacts' (已阅, 咨询, mute) and its
    # sender's (progress, cancel, report); the composer's buttons act only under its prompts
    rows["ent"] = [
        (encode("ent", w.entry_a, "open"), _in("leader")),
        (encode("ent", w.entry_b, "industry"), _in("leader")),
        (encode("ent", w.entry_a, "above"), _in("leader")),
    ]
    received = _in("A first", "A colleague")
    rows["bc"] = [(encode("bc", w.broadcast, a), received) for a in ("read", "ask", "mute")]
    rows["bcs"] = [
        (encode("bcs", w.broadcast, a), _in("leader")) for a in ("status", "report", "cancel")
    ]
    contacts = _in("A first", "A colleague", "B first", "B colleague")
    rows["bcu"] = [(encode("bcu", topic), contacts) for topic in ("industry", "talent")]
    rows["bct"] = [(encode("bct", "industry"), _in())]
    rows["bca"] = [(encode("bca", "tag"), _in())]
    rows["bcv"] = [(encode("bcv", 1), _in())]
    rows["bcc"] = [(encode("bcc", c), _in()) for c in ("send", "files_done", "cancel")]
    # 月报: 填报 is the contacts' of an enterprise asked; a period and a chart the leaders'
    rows["mr"] = [(encode("mr", w.campaign, w.period, "fill"), _in("A first", "A colleague"))]
    rows["cp"] = [
        (encode("cp", w.campaign, w.period, v), _in("leader")) for v in ("view", "table", "stop")
    ]
    rows["cpc"] = [(encode("cpc", w.campaign, 1), _in("leader"))]
    rows["cpf"] = [(encode("cpf", w.period), _in())]
    rows["cpa"] = [(encode("cpa", w.campaign, w.period, w.ent_a), _in("leader"))]
    rows["mra"] = [(encode("mra", a), _in()) for a in ("submit", "skip", "cancel")]
    rows["mrc"] = [(encode("mrc", 1), _in())]
    rows["mre"] = [(encode("mre", 2), _in())]
    rows["cat"] = [(encode("cat", "rongzi"), _in())]
    rows["reg"] = [(encode("reg", "ok"), _in()), (encode("reg", "edit", "name"), _in())]
    rows["new"] = [(encode("new", w), EVERYONE) for w in ("submit", "again", "cancel")]
    rows["menu"] = [(encode("menu", m), EVERYONE) for m in MENU_CHOICES]
    # the ledger's pages list the presser's own scope (a leader's, everything): by role
    rows[LEDGER] = [
        (encode(LEDGER, TaskFilter.ALL, Turn.NEXT, 1), EVERYONE),
        (encode(LEDGER, TaskFilter.IN_PROGRESS), EVERYONE),
        (encode(LEDGER, "export"), EVERYONE),
    ] + [(encode(LEDGER, kind, Turn.PREVIOUS, 2), EVERYONE) for kind in TaskFilter]
    return rows


def unknown_data(kind: str) -> str:
    """The kind's button with ids nobody has (codes nobody configured); a kind of words
    alone has no ids, so a word it does not know stands for one."""
    shape = KINDS[kind].shapes[0]
    if not any(part in (ID, CODE) for part in shape):
        return f"{kind}:zz"
    parts = [UNKNOWN_ID if p == ID else "zz" if p == CODE else sorted(p)[0] for p in shape]
    return ":".join([kind, *parts])


ID_FORGERIES = (
    lambda x: "0" + x,  # a leading zero
    lambda x: x.translate(str.maketrans("0123456789", "０１２３４５６７８９")),  # full width
    lambda x: x.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),  # Arabic-Indic
    lambda x: x + "²",
    lambda x: "-" + x,
    lambda x: "+" + x,
    lambda x: " " + x,
    lambda x: x + "\n",
    lambda x: x + ".0",
    lambda x: "9" * 30,
    lambda x: str(2**53),
    lambda x: "",
    lambda x: "\ud800" + x,  # a lone surrogate: JSON's "\ud800" escape carries one
)
WORD_FORGERIES = (
    str.upper,
    lambda x: x + " ",
    lambda x: x + "\u200b",
    lambda x: "",
    lambda x: x + "\udcff",
)


def forgeries(data: str) -> list[str]:
    """Data the bot could not have sent, made from a real button: every part bent in every
    way a lenient parser would still read (int() takes '０１', ' 1' and '+1'), parts added
    and missing, and over 64 bytes."""
    kind, *parts = data.split(":")
    shape = next(s for s in KINDS[kind].shapes if len(s) == len(parts))
    out = []
    for i, part in enumerate(shape):
        bends = ID_FORGERIES if part == ID else WORD_FORGERIES
        for bend in bends:
            bent = bend(parts[i])
            if bent != parts[i]:
                out.append(":".join([kind, *parts[:i], bent, *parts[i + 1 :]]))
    out += [
        data + ":1",
        ":".join([kind, *parts[:-1]]),
        kind,
        data + ":",
        data + "x" * (65 - len(data.encode())),
    ]
    return [f for f in out if f != data]


def dump(db) -> dict[str, list[dict]]:
    """Every table, whole. Nothing is left out: a refused press writes nothing at all (the
    idempotency records and confirmations are written only with a change)."""
    return {t: sorted(db.rows(f"SELECT * FROM {t}"), key=repr) for t in sorted(db.tables())}


async def press(w: World, role: str, data: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What the presser is shown (messages, pop-ups); nobody else is sent anything."""
    person = w.person(role)
    message = w.group_message if role == "group" else person.inbox[-1]
    sent, calls = len(w.api.sent), len(w.api.calls)
    await w.sandbox.deliver(w.api.callback_update(person.user, message, data))
    new = w.api.sent[sent:]
    assert all(m.chat_id == message.chat_id for m in new), (role, data, new)
    popups = tuple(
        str(params.get("text"))
        for method, params in w.api.calls[calls:]
        if method == "answerCallbackQuery" and params.get("text")
    )
    return tuple(m.plain for m in new), popups


def declared_answer(kind: str, role: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The answer the codec declares for an unknown id of this kind (None: the prompt's)."""
    if role == "group":
        if kind not in GROUP_KINDS:
            return (), (t("private_only"),)
        return (), (refusal_text(KINDS[kind].unknown()),)
    unknown = KINDS[kind].unknown
    return None if unknown is None else ((refusal_text(unknown()),), ())


def test_every_kind_the_codec_knows_is_routed_to_its_own_handler():
    """Each kind reaches one handler before the catch-all for buttons nobody knows."""
    from telegram.ext import CallbackQueryHandler

    from bot.app import handler_list

    routed = [
        h for h in handler_list() if isinstance(h, CallbackQueryHandler) and h.pattern is not None
    ]
    for kind in KINDS:
        assert len([h for h in routed if h.pattern.match(unknown_data(kind))]) == 1, kind


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_every_button_by_every_role_out_of_scope_reads_like_an_unknown_id(
    sandbox, people, db, kind
):
    w = await World(sandbox, people, db).build()
    rows = matrix(w)
    assert kind in rows, f"no matrix row for the callback kind {kind!r}"
    before = dump(db)
    failures = []
    for role in ROLES:
        expected = await press(w, role, unknown_data(kind))
        declared = declared_answer(kind, role)
        if declared is not None and expected != declared:
            failures.append((role, unknown_data(kind), expected, declared))
        assert expected != ((), ()), (kind, role)
        assert t("error_internal") not in "".join(expected[0] + expected[1])
        tried = [data for data, scope in rows[kind] if role not in scope]
        for base, _ in rows[kind][:2]:
            tried += forgeries(base)
        for data in tried:
            got = await press(w, role, data)
            if got != expected:
                failures.append((role, data, got, expected))
        assert dump(db) == before, (kind, role)
    assert failures == [], "\n".join(map(repr, failures[:20]))


# The decoder on anything at all -------------------------------------------------------------

DIGITS = "0123456789０１２٣²¹₃߀१" + "-+ .\n\t\u200b"
near_codes = st.builds(
    lambda kind, parts: ":".join([kind, *parts]),
    st.sampled_from(sorted(KINDS)),
    st.lists(
        st.one_of(
            st.text(alphabet=DIGITS, max_size=20),
            st.sampled_from(["rm", "s", "u", "view", "assign", "jrj", "ok", "edit", "name"]),
            st.text(max_size=8),
        ),
        max_size=4,
    ),
)


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.none(),
        st.text(max_size=80),
        st.text(st.characters(blacklist_categories=()), max_size=80),  # surrogates too
        near_codes,
    )
)
@example("contact:rm:1:" + "9" * 30)
@example("claim:\ud800:1")
@example("contact:rm:1:\udcff1")
@example("claim:１２:1")
@example("claim:٣:1")
@example("claim:²:1")
@example("claim:01:1")
@example("claim:9007199254740992:1")
@example("claim:9007199254740991:1")
def test_the_decoder_refuses_anything_it_could_not_have_sent(data):
    """It raises nothing but BadCallback; what it accepts re-encodes to the same string,
    with every id ASCII digits below 2^53."""
    try:
        button = decode(data)
    except BadCallback:
        return
    assert button.data == data
    assert encode(button.kind, *button.parts) == data
    assert len(data.encode()) <= 64
    for part in button.parts:
        if isinstance(part, int):
            assert 0 < part < 2**53 and str(part).isascii()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(KINDS)), st.data())
def test_every_shape_round_trips(kind, data):
    """Whatever the bot can encode (ids up to 2^53 - 1) decodes to the same parts."""
    shape = data.draw(st.sampled_from(KINDS[kind].shapes))
    parts = []
    for part in shape:
        if part == ID:
            parts.append(data.draw(st.integers(1, 2**53 - 1)))
        elif part == CODE:
            parts.append(data.draw(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)))
        else:
            parts.append(data.draw(st.sampled_from(sorted(part))))
    try:
        encoded = encode(kind, *parts)
    except ValueError:  # over 64 bytes: the bot refuses to make it
        assert len(":".join([kind, *map(str, parts)]).encode()) > 64
        return
    assert decode(encoded) == Button(kind, tuple(parts))
    assert pressed(encoded, kind) == Button(kind, tuple(parts))


def test_unreadable_data_of_a_kind_is_refused_as_its_unknown_id():
    with pytest.raises(AppealNotFound):
        pressed("claim:１:1", "claim")
    with pytest.raises(ContactNotFound):
        pressed("contact:rm:1:" + "9" * 30, "contact")
    with pytest.raises(UnknownButton):
        pressed("nonsense:1", "claim")
    assert pressed_or_none("cat:ＲＯＮＧＺＩ", "cat") is None


# Ids typed in commands ------------------------------------------------------------------------

UNKNOWN_USCC = (lambda first17: first17 + check_char(first17))("91420700MA4A1B2C3")
STAFF_X = ("official X", "head X", "leader")


def command_matrix(w: World) -> list[tuple[str, str, frozenset[str]]]:
    """(command with a real id, the same command with an unknown id, roles in scope)."""
    from tests.conftest import COMPANY_USCC, OTHER_USCC

    unknown_number = "SQ-2026-999999"
    return [
        (f"/view {w.a.number}", f"/view {unknown_number}", APPEAL_A),
        (f"/view {w.b.number}", f"/view {unknown_number}", APPEAL_B),
        (f"/view {w.a.number.lower()}", f"/view {unknown_number}", APPEAL_A),
        (f"/baobao {COMPANY_USCC}", f"/baobao {UNKNOWN_USCC}", _in("leader")),
        (f"/contacts {COMPANY_USCC}", f"/contacts {UNKNOWN_USCC}", _in("A first", "leader")),
        (f"/contacts {OTHER_USCC}", f"/contacts {UNKNOWN_USCC}", _in("B first", "leader")),
        (f"/colleague {COMPANY_USCC}", f"/colleague {UNKNOWN_USCC}", _in("A first", "leader")),
        ("/tasks 1", "/tasks 99", _in("official X", "leader")),
        ("/tasks 第2项", "/tasks 99", _in("official Y", "leader")),
    ]


LEDGER_SCOPE = {  # the 序号 each role's ledger pages list (None: refused by role)
    "guest": None,
    "A first": None,
    "A colleague": None,
    "B first": None,
    "B colleague": None,
    "official X": [1],
    "official Y": [2],
    "head X": [],  # task 1 is 李明's own: the head holds nothing
    "leader": [1, 2],
}


async def test_ledger_pages_list_only_the_pressers_scope(sandbox, people, db):
    """Every page button of the ledger (each state, each turn), pressed by every role,
    lists exactly the tasks that role may see, and changes nothing."""
    w = await World(sandbox, people, db).build()
    before = dump(db)
    buttons = [encode(LEDGER, kind) for kind in TaskFilter]
    buttons += [
        encode(LEDGER, kind, turn, seq) for kind in TaskFilter for turn in Turn for seq in (1, 2)
    ]
    for role, scope in LEDGER_SCOPE.items():
        for data in buttons:
            shown, popups = await press(w, role, data)
            if scope is None:
                assert shown == ("您没有权限执行此操作。",), (role, data, shown)
                continue
            [text] = shown
            listed = [seq for seq in (1, 2) if f"第{seq}项｜" in text]
            assert set(listed) <= set(scope), (role, data, text)
            kind, *cursor = data.split(":")[1:]
            if kind == "all" and not cursor:
                assert listed == scope, (role, data, text)
    assert await press(w, "group", buttons[0]) == ((), (t("private_only"),))
    assert dump(db) == before


async def test_ids_typed_in_commands_out_of_scope_read_like_unknown_ids(sandbox, people, db):
    """Another enterprise's appeal number or credit code, typed by anyone it does not
    concern, is answered as a number or code that does not exist, and changes nothing."""
    w = await World(sandbox, people, db).build()
    before = dump(db)
    failures = []
    for role in ROLES[:-1]:  # commands are refused in groups before any id is read
        person = w.person(role)
        for command, unknown, scope in command_matrix(w):
            if role in scope:
                continue
            expected = await person.send(unknown)
            got = await person.send(command)
            if got != expected or len(got) != 1:
                failures.append((role, command, got, expected))
        assert dump(db) == before, role
    assert failures == [], "\n".join(map(repr, failures))
    # what the unknown ids read like, by role
    assert await w.p.rival.send(f"/view {w.a.number}") == ["未找到该诉求，或您无权查看。"]
    assert await w.guest.send(f"/view {w.a.number}") == ["未找到该诉求，或您无权查看。"]
    from tests.conftest import COMPANY_USCC

    assert await w.p.rival.send(f"/colleague {COMPANY_USCC}") == [
        "未找到该企业，请核对后重新输入。"
    ]
    assert await w.p.official.send(f"/baobao {COMPANY_USCC}") == ["您没有权限执行此操作。"]
    assert await w.b_colleague.send(f"/contacts {COMPANY_USCC}") == [
        "只有企业的首位联系人（登记人）或局领导可以管理联系人。"
    ]
    assert dump(db) == before


# The scope rules themselves (no database, no Telegram) ----------------------------------------


def test_scope_rules_answer_out_of_scope_ids_as_unknown():
    from bot.rules.model import Department, Enterprise, Extension, Person
    from bot.rules.refusals import (
        BaobaoNotFound,
        DepartmentNotFound,
        PrimaryContactStays,
        TaskNotFound,
    )

    moment = datetime(2026, 3, 9, tzinfo=UTC)
    ent_a = Enterprise(ENT, "甲", "A", "陈经理", "139", None, moment, primary_contact_id=2)
    first_b = Actor(3, Role.ENTERPRISE, "周总", enterprise_id=OTHER_ENT)
    ent_b = Enterprise(OTHER_ENT, "乙", "B", "周总", "139", None, moment, primary_contact_id=3)
    colleague_a = Person(12, Role.ENTERPRISE, "陈会计", None, ENT, moment)
    colleague_actor = Actor(12, Role.ENTERPRISE, "陈会计", enterprise_id=ENT)
    official = Person(4, Role.OFFICIAL, "李明", DEPT, None, moment)
    leader, first_a = PEOPLE["leader"], PEOPLE["enterprise A"]

    # removing a contact: only the first contact of that enterprise, or a leader
    assert access.removable_contact(first_a, ent_a, colleague_a) == colleague_a
    assert access.removable_contact(leader, ent_a, colleague_a) == colleague_a
    for actor, enterprise, person in [
        (first_b, ent_a, colleague_a),  # the issue's case: B's first contact, A's colleague
        (first_b, ent_b, colleague_a),  # B's own enterprise id, A's colleague
        (colleague_actor, ent_a, colleague_a),  # a colleague is not the first contact
        (PEOPLE["owner"], ent_a, colleague_a),
        (PEOPLE["stranger"], ent_a, colleague_a),
        (leader, ent_a, official),  # not a contact at all
        (leader, None, colleague_a),
        (leader, ent_a, None),
    ]:
        with pytest.raises(ContactNotFound):
            access.removable_contact(actor, enterprise, person)
    with pytest.raises(PrimaryContactStays):
        access.removable_contact(
            leader, ent_a, Person(2, Role.ENTERPRISE, "陈经理", None, ENT, moment)
        )

    # 包保, 责任人 and invites: leaders only, joined officials only, known departments only
    assert access.baobao_pair(leader, ent_a, official) == (ent_a, official)
    for actor, enterprise, person in [
        (PEOPLE["head"], ent_a, official),
        (first_a, ent_a, official),
        (leader, ent_a, colleague_a),
        (leader, None, official),
        (leader, ent_a, None),
    ]:
        with pytest.raises(BaobaoNotFound):
            access.baobao_pair(actor, enterprise, person)
    item = task(TaskState.IN_PROGRESS)
    assert access.assignable_task(leader, item, official) == (item, official)
    for actor, found, person in [
        (PEOPLE["owner"], item, official),
        (leader, None, official),
        (leader, item, colleague_a),
    ]:
        with pytest.raises(TaskNotFound):
            access.assignable_task(actor, found, person)
    dept = Department(DEPT, "jrj", "金融局")
    assert access.invitable_department(leader, dept) == dept
    for actor, found in [(PEOPLE["head"], dept), (leader, None)]:
        with pytest.raises(DepartmentNotFound):
            access.invitable_department(actor, found)

    # an extension request exists only for the staff who see its appeal and the leaders
    claimed = appeal(State.IN_PROGRESS)
    pending = Extension(1, claimed.id, 4, TODAY, date(2026, 3, 31), "理由", "pending")
    for who in ("owner", "colleague", "head", "leader"):
        assert access.visible_extension(PEOPLE[who], pending, claimed) == claimed
    for who in ("stranger", "enterprise A", "enterprise B", "wrong department"):
        with pytest.raises(AppealNotFound):
            access.visible_extension(PEOPLE[who], pending, claimed)
    with pytest.raises(AppealNotFound):
        access.visible_extension(PEOPLE["leader"], None, None)


async def test_the_issues_case_another_enterprises_first_contact_removes_nobody(
    sandbox, people, db
):
    """B's first contact sends contact:rm:<A's enterprise>:<A's colleague> from its own
    chat: told what an unknown contact is told; A's colleague stays; no audit row."""
    w = await World(sandbox, people, db).build()
    before = dump(db)
    forged = encode("contact", "rm", w.ent_a, w.a_colleague.id)
    unknown = encode("contact", "rm", w.ent_a, UNKNOWN_ID)
    assert await w.p.rival.press_data(w.p.rival.inbox[-1], forged) == [
        "未找到该联系人，或您无权管理。"
    ]
    assert await w.p.rival.press_data(w.p.rival.inbox[-1], unknown) == [
        "未找到该联系人，或您无权管理。"
    ]
    overflow = "contact:rm:1:" + "9" * 30
    assert await w.p.rival.press_data(w.p.rival.inbox[-1], overflow) == [
        "未找到该联系人，或您无权管理。"
    ]
    assert dump(db) == before
    # A's first contact still removes their own colleague
    assert await w.p.company.press_data(w.p.company.inbox[-1], forged) == [
        "已移除联系人 陈会计，其不能再查看或提交本企业的诉求；本人会收到通知。"
    ]


UNREADABLE = "\ud800"  # a lone UTF-16 surrogate: what a forged update's "\ud800" becomes


@pytest.mark.parametrize(
    "role, text",
    [
        (role, text)
        for role in ("guest", "A first", "official X", "leader")
        for text in (
            f"/start {UNREADABLE}",
            f"/start c_{UNREADABLE}",
            f"/invite {UNREADABLE}",
            f"/view SQ-2026-00000{UNREADABLE}",
            f"/contacts {UNREADABLE}",
            f"/baobao {UNREADABLE}",
            f"/export 2026-01-01 {UNREADABLE}",
            f"/digest {UNREADABLE}",
            f"资金{UNREADABLE}",
        )
    ],
)
async def test_text_that_is_not_characters_is_refused_and_changes_nothing(
    sandbox, people, db, role, text
):
    """Whatever a message is (a command and its argument, free text), a lone surrogate in
    it gets one clear answer, never 系统繁忙, and nothing is written."""
    w = await World(sandbox, people, db).build()
    person = w.person(role)
    before = dump(db)
    mark = person.mark()
    await person.send(text)
    assert person.since(mark) == [t("unreadable_text")]
    assert dump(db) == before


# Data a handler decoded by itself ---------------------------------------------------------------

DECODING_MODULES = (
    "handlers.admin",
    "handlers.cases",
    "handlers.colleagues",
    "handlers.filing",
    "handlers.tasks",
    "handlers.understand",
)


@pytest.mark.parametrize("kind", sorted(k for k, kind in KINDS.items() if kind.unknown))
async def test_unreadable_data_a_handler_decoded_itself_reads_like_an_unknown_id(
    sandbox, people, db, monkeypatch, kind
):
    """Were a handler to decode by itself (`decode`, not `pressed`), the BadCallback that
    reaches the refusal wrapper is answered as the kind answers an unknown id — never with
    another wording, so ids cannot be probed that way either — and changes nothing."""
    for module in DECODING_MODULES:
        monkeypatch.setattr(f"{module}.pressed", lambda data, *kinds: decode(data, *kinds))
    leader = people.leader
    before = dump(db)
    for data in forgeries(unknown_data(kind))[:3]:
        with pytest.raises(BadCallback):
            decode(data, kind)
        answer = await leader.press_data(leader.inbox[-1], data)
        assert answer == [refusal_text(KINDS[kind].unknown())], (data, answer)
    assert dump(db) == before


@pytest.mark.parametrize("in_a_prompt", [False, True])
async def test_a_file_whose_name_is_not_characters_is_refused_and_changes_nothing(
    sandbox, people, db, in_a_prompt
):
    """Not only text and captions: a document named with a lone surrogate (during /new, or
    outside any flow) gets the same clear answer and nothing is stored."""
    w = await World(sandbox, people, db).build()
    company = w.person("A first")
    if in_a_prompt:
        await company.send("/new")
        await company.press("融资")
    before = dump(db)
    mark = company.mark()
    await company.send_document(f"报{UNREADABLE}告.pdf", caption="附件")
    assert company.since(mark) == [t("unreadable_text")]
    assert dump(db) == before
