"""Every message a person sends into an open prompt of several messages is kept — or they are
told plainly that it was not: progress reports, 销号 requests, 补充, /new; /done says what
was stored; a step waiting for a button is left by /cancel, which says what it cancelled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.rules.model import Attachment, TaskAction, TaskState
from bot.rules.refusals import InvalidInput, NotAllowed, TaskNotFound
from bot.rules.tasks import COLUMNS
from bot.texts import name, t
from bot.usecases import tasks
from handlers.flow import lapse_job
from tests.conftest import COMPANY_USCC, file_appeal
from tests.test_tasks import csv_bytes, import_file, task_row
from tests.test_usecases import cast, env  # noqa: F401 - fixtures


def edited(message_update: dict[str, Any], text: str) -> dict[str, Any]:
    """The same message, edited by its author (Telegram sends `edited_message`)."""
    message = dict(message_update["message"])
    key = "caption" if "caption" in message else "text"
    message[key] = text
    message["edit_date"] = message["date"] + 60
    return {"update_id": message_update["update_id"] + 5000, "edited_message": message}


async def open_task_prompt(p, button: str = "报告进展") -> None:
    await import_file(p.leader, "t.csv", csv_bytes([task_row(1)]))
    await p.official.send("/tasks")
    await p.official.press("第1项")
    await p.official.press(button)


async def test_the_issues_case_caption_text_photo_done_keeps_every_text(sandbox, people, db):
    p = people
    await open_task_prompt(p)
    await p.official.send_photo(caption="现场照片")
    answer = await p.official.send("已建立抽查机制，本月抽查20件。")
    assert answer == [
        "已加入第1项整改任务的进展报告（已保存文字 2 段，附件 1 个）。可继续发送，发送 /done 结束。"
    ]
    await p.official.send_photo()
    answer = await p.official.send("/done")
    assert answer == ["第1项整改任务的进展报告已保存：文字 2 段，附件 2 个。"]
    report = db.one("SELECT * FROM task_reports")
    assert report["text"] == "现场照片\n已建立抽查机制，本月抽查20件。"
    assert db.count("task_attachments") == 2
    assert db.count("conversations") == 0


async def test_a_supplement_keeps_every_part_and_reaches_the_department(sandbox, people, db):
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await p.company.send(f"/view {number}")
    await p.company.press("补充")
    mark = p.official.mark()
    await p.company.send_photo(caption="仓库现场照片")
    await p.company.send_photo()
    answer = await p.company.send("另：担保公司已出具意向函。")
    assert answer == [
        f"已送达承办单位（诉求 {number}，本次补充共文字 2 段，附件 2 个）。可继续发送，发送 /done 结束。"
    ]
    assert await p.company.send("/done") == [
        f"对诉求 {number} 的补充已送达承办单位：文字 2 段，附件 2 个。"
    ]
    texts = [
        r["text"] for r in db.rows("SELECT text FROM appeal_messages WHERE kind = 'supplement'")
    ]
    assert texts == ["仓库现场照片", "", "另：担保公司已出具意向函。"]
    assert db.count("attachments") == 2
    told = "\n".join(p.official.since(mark))
    assert "仓库现场照片" in told and "另：担保公司已出具意向函。" in told


# Every prompt of several messages × orders of parts -----------------------------------------

T1, T2, T3 = (
    "已建立抽查机制，本月抽查20件。",
    "通报已印发至各科室，限期整改。",
    "担保公司已出具意向函，请尽快对接。",
)
FIXED = "已建立抽查机制，本月抽查25件并通报。"  # what an edit makes of a part

# A part: ("text", t) typed; ("caption", t) a photo with a caption; ("photo",) a photo alone;
# ("doc", t | None) a file, maybe with a caption; ("edit", i, t) the i-th message edited.
ORDERS = {
    "caption-text-photo (the issue's)": [("caption", T1), ("text", T2), ("photo",)],
    "text-photo-text": [("text", T1), ("photo",), ("text", T2)],
    "photo-caption-doc": [("photo",), ("caption", T1), ("doc", T2)],
    "doc-text-doc": [("doc", None), ("text", T1), ("doc", None)],
    "album then text": [("caption", T1), ("photo",), ("photo",), ("text", T2)],
    "text-text-edit first": [("text", T1), ("text", T2), ("edit", 0, FIXED)],
    "caption-edit caption-text": [("caption", T1), ("edit", 0, FIXED), ("text", T3)],
    "text-doc-edit last text": [("text", T1), ("doc", T3), ("edit", 1, FIXED)],
}


def expected(order: list[tuple], edits_apply: bool) -> tuple[list[str], int]:
    """The texts that must be kept, in order, and the number of files."""
    texts: list[tuple[int, str]] = []
    files = 0
    for i, part in enumerate(order):
        if part[0] in ("caption", "doc", "photo"):
            files += 1
        if part[0] in ("text", "caption", "doc") and part[1]:
            texts.append((i, part[1]))
        if part[0] == "edit" and edits_apply:
            texts = [(j, part[2] if j == part[1] else text) for j, text in texts]
    return [text for _, text in texts], files


async def send_parts(sandbox, person, order: list[tuple]) -> list[str]:
    """Send the parts; returns every answer. An edit of a message no prompt can take any
    more is answered plainly."""
    api, sent, mark = sandbox.api, [], person.mark()
    for part in order:
        if part[0] == "edit":
            await sandbox.deliver(edited(sent[part[1]], part[2]))
            continue
        if part[0] == "text":
            update = api.message_update(person.user, part[1])
        elif part[0] in ("caption", "photo"):
            caption = part[1] if part[0] == "caption" else None
            update = api.message_update(person.user, photo=True, caption=caption)
        else:
            update = api.message_update(person.user, document="抽查通报.pdf", caption=part[1])
        sent.append(update)
        await sandbox.deliver(update)
    return person.since(mark)


async def task_prompt(p, db, button: str) -> tuple[Any, Any]:
    await open_task_prompt(p, button)

    async def stored() -> tuple[list[str], int]:
        report = db.rows("SELECT * FROM task_reports ORDER BY id")[-1]
        files = db.one(
            "SELECT COUNT(*) AS n FROM task_attachments WHERE report_id = ?", report["id"]
        )["n"]
        return [line for line in report["text"].split("\n") if line != "（附件）"], files

    return p.official, stored


async def supplement_prompt(p, db) -> tuple[Any, Any]:
    number = await file_appeal(p.company)
    await p.company.send(f"/view {number}")
    await p.company.press("补充")

    async def stored() -> tuple[list[str], int]:
        rows = db.rows("SELECT text FROM appeal_messages WHERE kind = 'supplement' ORDER BY id")
        return [r["text"] for r in rows if r["text"]], db.count("attachments")

    return p.company, stored


async def draft_prompt(p, db) -> tuple[Any, Any]:
    await p.company.send("/new")
    await p.company.press("融资")

    async def stored() -> tuple[list[str], int]:
        return db.one("SELECT description FROM appeals")["description"].split("\n"), db.count(
            "attachments"
        )

    return p.company, stored


PROMPTS = {
    "progress report": (lambda p, db: task_prompt(p, db, "报告进展"), True, "/done"),
    "销号 request": (lambda p, db: task_prompt(p, db, "申请销号"), True, "/done"),
    "补充": (supplement_prompt, False, "/done"),  # already delivered: an edit is refused
    "/new draft": (draft_prompt, True, "提交"),
}


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
@pytest.mark.parametrize("prompt", PROMPTS.keys())
async def test_every_part_of_every_prompt_is_kept_or_refused_plainly(
    sandbox, people, db, prompt, order
):
    opening, edits_apply, finish = PROMPTS[prompt]
    person, stored = await opening(people, db)
    answers = await send_parts(sandbox, person, order)
    texts, files = expected(order, edits_apply)
    if finish == "提交":
        done = await person.press("提交")
        assert done[-1].startswith("诉求已提交"), done
    else:
        done = await person.send("/done")
        assert done[-1].endswith(f"：文字 {len(texts)} 段，附件 {files} 个。"), done
    assert await stored() == (texts, files)
    if any(part[0] == "edit" for part in order):
        told = "修改已发送的消息不会生效" in "".join(answers)
        assert told is not edits_apply, answers
    assert db.count("conversations") == 0
    assert not any("未保存" in a or "未加入" in a for a in answers), answers


# /cancel at every step that waits for a button ------------------------------------------------


async def at_invite_department(p, db) -> tuple[Any, str]:
    await p.leader.send("/invite")
    return p.leader, "已退出生成邀请链接，未生成链接。"


async def at_invite_role(p, db) -> tuple[Any, str]:
    await p.leader.send("/invite")
    await p.leader.press("市地方金融管理局")
    return p.leader, "已退出生成邀请链接，未生成链接。"


async def at_baobao(p, db) -> tuple[Any, str]:
    await p.leader.send(f"/baobao {COMPANY_USCC}")
    return p.leader, "已退出为 鄂州市泛亚食品有限公司 指定包保责任人，未指定。"


async def at_baobao_namesakes(p, db) -> tuple[Any, str]:
    await p.leader.send(f"/baobao {COMPANY_USCC} 张")  # not exactly one: candidates offered
    return p.leader, "已退出为 鄂州市泛亚食品有限公司 指定包保责任人，未指定。"


async def at_category(p, db) -> tuple[Any, str]:
    await p.company.send("/new")
    return p.company, "已退出提交新诉求，草稿未提交。"


async def at_submit(p, db) -> tuple[Any, str]:
    await p.company.send("/new")
    await p.company.press("融资")
    await p.company.send(T3)
    return p.company, "已退出提交新诉求，草稿未提交。"


async def at_transfer_department(p, db) -> tuple[Any, str]:
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await p.official.press("转办")
    return p.official, f"已退出对 {number} 的转办，未发送。"


async def at_registration_confirm(p, db) -> tuple[Any, str]:
    newcomer = p.company.sandbox.person(30009, "刘会计")
    await newcomer.send("/start")
    for answer in ("鄂州市新港物流有限公司", "91420700MA4F0KYH9E", "刘会计", "13907110009"):
        await newcomer.send(answer)
    return newcomer, "已退出企业登记，未保存。"


async def at_task_owner(p, db) -> tuple[Any, str]:
    await import_file(p.leader, "t.csv", csv_bytes([task_row(1, owner="无此人")]))
    await p.leader.send("/tasks")
    await p.leader.press("第1项 查看")
    await p.leader.press("指定责任人")
    return p.leader, "已退出为第1项整改任务指定责任人，未指定。"


BUTTON_STEPS = {
    "整改任务: the 责任人": at_task_owner,
    "/invite: the department": at_invite_department,
    "/invite: the role (the issue's)": at_invite_role,
    "/baobao: the official": at_baobao,
    "/baobao: whom a name may mean": at_baobao_namesakes,
    "/new: the category": at_category,
    "/new: 提交 or 取消": at_submit,
    "转办: the department": at_transfer_department,
    "registration: 确认登记": at_registration_confirm,
}


@pytest.mark.parametrize("opening", BUTTON_STEPS.values(), ids=BUTTON_STEPS.keys())
async def test_cancel_ends_every_step_that_waits_for_a_button_and_says_which(
    sandbox, people, db, opening
):
    person, said = await opening(people, db)
    waiting = person.inbox[-1]
    assert waiting.buttons, waiting.plain  # the step shows its buttons
    assert db.count("conversations") == 1
    before = {table: db.count(table) for table in ("invites", "appeals", "enterprises")}
    assert await person.send("/cancel") == [said]
    assert db.count("conversations") == 0
    assert await person.send("/cancel") == ["当前没有进行中的操作。"]
    assert {table: db.count(table) for table in before} == before


async def test_the_issues_case_and_an_invite_prompt_that_takes_typed_answers(sandbox, people, db):
    leader = people.leader
    await leader.send("/invite")
    await leader.press("市地方金融管理局")
    assert await leader.send("/cancel") == ["已退出生成邀请链接，未生成链接。"]
    invites = db.count("invites")
    # typed instead of pressed: the department by name, the role by its label
    await leader.send("/invite")
    assert (await leader.send("中小企业科"))[-1] == "邀请加入 中小企业科 的身份："
    assert (await leader.send("处长"))[-1].startswith("请点击上方按钮选择“承办人”或“科室负责人”")
    link = await leader.send("科室负责人")
    assert link[-1].startswith("邀请链接已生成（中小企业科，科室负责人")
    assert db.count("invites") == invites + 1
    assert db.count("conversations") == 0
    # a photo at the prompt is said plainly not to be kept
    await leader.send("/invite")
    assert (await leader.send_photo(caption="部门"))[-1].startswith(
        "这个照片或文件（连同其说明文字）未保存。"
    )


async def test_text_after_a_prompt_closed_is_said_plainly_to_reach_nobody(sandbox, people, db):
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await p.official.press("回复")
    await p.official.send("请携带营业执照到窗口办理。")  # a reply is one message
    mark = p.company.mark()
    answer = await p.official.send("另外，请带上近三个月的财务报表。")
    assert answer[0].startswith("您好！这条消息未发送给任何人（当前没有进行中的操作）。")
    assert await p.official.send_photo() == [
        "这个照片或文件未保存：当前没有进行中的操作（诉求的回复、备注只收文字）。"
        "如是整改任务的材料，请在 /tasks 中打开该项、点击“报告进展”或“申请销号”后发送。"
    ]
    assert p.company.since(mark) == []
    assert [r["text"] for r in db.rows("SELECT text FROM appeal_messages")] == [
        "请携带营业执照到窗口办理。"
    ]
    assert await p.official.send("/done") == [
        "当前没有需要用 /done 结束的操作（进展报告、销号申请或补充）。"
    ]


async def test_a_prompt_whose_parts_are_all_stored_lapses_quietly(sandbox, people, db, clock):
    p = people
    await open_task_prompt(p)
    await p.official.send("已建立抽查机制，本月抽查20件。")
    number = await file_appeal(p.company)
    await p.company.send(f"/view {number}")
    await p.company.press("补充")
    await p.company.send("财务报表已准备好。")
    await p.leader.send("/invite")  # nothing stored yet: its lapse is told
    marks = {person: person.mark() for person in (p.official, p.company, p.leader)}
    clock.advance(timedelta(minutes=31))
    context = type("Ctx", (), {"application": sandbox.app, "bot": sandbox.app.bot})()
    await lapse_job(context)
    assert db.count("conversations") == 0
    assert p.official.since(marks[p.official]) == []
    assert p.company.since(marks[p.company]) == []
    assert p.leader.since(marks[p.leader]) == [
        "已退出生成邀请链接，未生成链接。（长时间未输入，已自动退出）"
    ]
    # what is sent afterwards is told plainly that it joined nothing
    answer = await p.official.send("补充：已通报全局。")
    assert answer[0].startswith("您好！这条消息未发送给任何人")
    assert db.one("SELECT text FROM task_reports")["text"] == "已建立抽查机制，本月抽查20件。"


@pytest.mark.parametrize("step", ["category", "description", "attachments"])
async def test_done_in_a_draft_drops_nothing(sandbox, people, db, step):
    company = people.company
    await company.send("/new")
    if step != "category":
        await company.press("融资")
        await company.send_photo()
    if step == "attachments":
        await company.send(T3)
    answer = await company.send("/done")
    assert answer[0].startswith("草稿尚未"), answer
    assert db.one("SELECT step FROM conversations")["step"] == step
    if step != "category":
        assert len(db.one("SELECT data FROM conversations")["data"].split("photo-")) == 2


# The use case without Telegram ----------------------------------------------------------------


async def test_amend_report_keeps_parts_only_in_the_authors_report(env, cast, db):  # noqa: F811
    """More of a report joins the author's own report; a text too long, another person or
    a report id of someone else changes nothing."""
    official, head = cast["official"], cast["head"]
    headers = {c: t(f"task_column.{c}") for c in COLUMNS}
    labels = {name("task_state", s): s for s in TaskState}
    row = [
        "1",
        "作风建设",
        "回复雷同",
        "抽查",
        "王局长",
        "市人社局",
        "李明",
        "2026-06-30",
        "整改中",
    ]
    await tasks.import_table(env, cast["leader"], [list(headers.values()), row], headers, labels)
    [task] = await tasks.tasks_for(env, official)
    report = await tasks.act(env, official, task.id, TaskAction.REPORT, task.version, "第一段")
    photo = Attachment("photo", "f1", "u1")
    await tasks.amend_report(env, official, task.id, report.report_id, "第一段\n第二段", (photo,))
    with pytest.raises(InvalidInput):
        await tasks.amend_report(env, official, task.id, report.report_id, "长" * 5000, (photo,))
    with pytest.raises(TaskNotFound):  # not theirs: as if it did not exist
        await tasks.amend_report(env, head, task.id, report.report_id, "他人代写", (photo,))
    with pytest.raises(NotAllowed):  # a report id that is not the author's own
        await tasks.amend_report(env, official, task.id, report.report_id + 99, "改写", (photo,))
    await tasks.amend_report(env, official, task.id, None, None, (photo,))  # an older prompt
    assert db.one("SELECT text FROM task_reports") == {"text": "第一段\n第二段"}
    assert db.count("task_attachments") == 2


async def test_a_prompts_button_tapped_twice_asks_once_more_without_a_leaving_notice(
    sandbox, people, db
):
    p = people
    await open_task_prompt(p)
    assert await p.official.press("报告进展") == [
        "请发送第1项整改任务的进展情况（文字，可附照片或文件）："
    ]
    await p.official.send(T1)
    # once something is stored, the same button starts a new report and says the old one ended
    assert await p.official.press("报告进展") == [
        "第1项整改任务的进展报告已保存（文字 1 段，附件 0 个），补充已结束。",
        "请发送第1项整改任务的进展情况（文字，可附照片或文件）：",
    ]
    # a photo with a too-short caption as a /new description: the photo is kept, the caption
    # is refused as the description, plainly
    c = p.company
    await c.send("/new")
    await c.press("融资")
    assert await c.send_photo(caption="现场照") == [
        "附件已保存（共 1 个），其说明文字未作为诉求描述：",
        "诉求内容至少需要 10 个字，请补充后重新发送。",
    ]
    await c.send(T3)
    assert "附件：1 个" in c.last


# An album (photos sent together: Telegram delivers each as a message of its own, one
# media_group_id, the caption on the first) is one 补充: one message, one notice, one answer.
@pytest.mark.parametrize(
    "before", [[], ["另：担保公司已出具意向函。"]], ids=["first", "after-text"]
)
async def test_an_album_is_one_supplement_one_notice_and_one_answer(sandbox, people, db, before):
    p = people
    number = await file_appeal(p.company)
    await p.official.press("签收", containing=number)
    await p.company.send(f"/view {number}")
    await p.company.press("补充")
    for text in before:
        await p.company.send(text)
    mark = p.official.mark()
    answers = await p.company.send_album(3, caption="仓库现场照片三张")
    assert len(answers) == 1  # one answer for the album, as for one message
    assert number in answers[0] and "已送达承办单位" in answers[0]
    notices = [m for m in p.official.since(mark) if "企业补充说明" in m]
    assert len(notices) == 1 and "仓库现场照片三张" in notices[0]
    album = db.one(
        "SELECT m.id, m.text, COUNT(a.id) AS files FROM appeal_messages m"
        " JOIN attachments a ON a.message_id = m.id GROUP BY m.id"
    )
    assert (album["text"], album["files"]) == ("仓库现场照片三张", 3)
    texts = [r["text"] for r in db.rows("SELECT text FROM appeal_messages ORDER BY id")]
    assert texts == [*before, "仓库现场照片三张"]
    events = db.rows("SELECT action FROM audit_events WHERE action = 'supplement'")
    assert len(events) == 1 + len(before)
    await p.company.send_album(2)  # a second album: a 补充 of its own, its files alone
    assert len([m for m in p.official.since(mark) if "企业补充说明" in m]) == 2
    assert db.count("attachments") == 5
    assert await p.company.send("/done") == [
        f"对诉求 {number} 的补充已送达承办单位：文字 {1 + len(before)} 段，附件 5 个。"
    ]
    outside = await p.company.send_album(3, caption="流程外的照片")  # no prompt open
    assert len(outside) == 1 and outside[0].startswith("这个照片或文件未保存")  # said once
    assert db.count("attachments") == 5
