"""Conversations that cannot misdeliver: one stored flow per user, with an expiry, left by
any other command or button, kept across a restart; edits, groups, free text, double taps."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.sandbox.chat import Sandbox
from handlers.flow import lapse_job
from tests.conftest import file_appeal

REPLY = "请您下周一携带营业执照到窗口办理担保手续。"


def edited(update: dict[str, Any], text: str) -> dict[str, Any]:
    """The same message, edited by its author (Telegram sends `edited_message`)."""
    message = dict(update["message"], text=text, edit_date=update["message"]["date"] + 60)
    return {"update_id": update["update_id"] + 1000, "edited_message": message}


async def claimed(people) -> str:
    number = await file_appeal(people.company)
    await people.official.press("签收", containing=number)
    return number


async def test_a_command_ends_a_reply_prompt_and_later_text_reaches_nobody(sandbox, people, db):
    number = await claimed(people)
    assert (await people.official.press("回复"))[-1].startswith(f"请输入对诉求 {number} 的回复")
    answer = await people.official.send("/inbox")
    assert answer[0] == f"已退出对 {number} 的回复，未发送。"
    await people.official.send("/tasks")
    mark = people.company.mark()
    answer = await people.official.send("提醒自己：周五前给陈经理回电话")
    assert "您好" in answer[0]  # understood as free text, not as a reply
    assert people.company.since(mark) == []
    assert db.count("appeal_messages") == 0
    assert db.count("conversations") == 0


async def test_a_prompt_lapses_and_says_so(sandbox, people, clock, db):
    number = await claimed(people)
    await people.official.press("回复")
    clock.advance(timedelta(hours=20))
    mark = people.company.mark()
    answer = await people.official.send("提醒自己：周五前回电话")
    assert answer[0] == f"已退出对 {number} 的回复，未发送。（长时间未输入，已自动退出）"
    assert people.company.since(mark) == []
    assert db.count("appeal_messages") == 0


async def test_the_lapse_job_tells_people_without_waiting_for_them(sandbox, people, clock, db):
    number = await claimed(people)
    await people.official.press("回复")
    clock.advance(timedelta(minutes=29))
    context = type("Ctx", (), {"application": sandbox.app, "bot": sandbox.app.bot})()
    await lapse_job(context)
    assert db.count("conversations") == 1  # not yet
    clock.advance(timedelta(minutes=2))
    await lapse_job(context)
    assert people.official.last == f"已退出对 {number} 的回复，未发送。（长时间未输入，已自动退出）"
    assert db.count("conversations") == 0
    await lapse_job(context)  # told once
    assert people.official.last.startswith("已退出")
    assert sum("已退出" in text for text in people.official.since(0)) == 1


async def test_a_rating_prompt_days_later_does_not_store_a_new_question(sandbox, people, clock, db):
    number = await claimed(people)
    await people.official.press("办结", containing=number)
    await people.official.send("已完成担保对接，放款到位。")
    await people.company.press("满意")
    clock.advance(timedelta(days=5))
    await people.company.send("我们还有一个新问题想咨询")
    kinds = [r["kind"] for r in db.rows("SELECT kind FROM appeal_messages")]
    assert "rating_comment" not in kinds


async def test_starting_another_flow_switches_explicitly_and_never_merges(sandbox, people, db):
    number = await file_appeal(people.company)
    await people.company.send(f"/view {number}")  # the card with 补充 stays in the chat
    await people.company.send("/new")
    await people.company.press("融资")
    answer = await people.company.press("补充", containing=number)
    assert answer[0] == "已退出提交新诉求，草稿未提交。"
    await people.company.send("补充：已备齐近三年财务报表。")
    supplements = db.rows("SELECT text FROM appeal_messages WHERE kind = 'supplement'")
    assert [s["text"] for s in supplements] == ["补充：已备齐近三年财务报表。"]
    assert db.count("appeals") == 1


async def test_a_restart_keeps_a_half_filled_draft(settings, org, clock, db):
    box = await Sandbox.start(settings, org, clock)
    company = box.person(30001, "陈经理")
    await company.send("/start")
    await company.send("鄂州市泛亚食品有限公司")
    await box.stop()

    box = await Sandbox.start(settings, org, clock)  # the bot restarted mid-registration
    company = box.person(30001, "陈经理")
    await company.send("91350100M000100Y43")
    await company.send("陈经理")
    assert "请核对登记信息" in (await company.send("13907110000"))[-1]
    assert "登记成功" in (await company.press("确认登记"))[-1]
    await company.send("/new")
    await company.press("融资")
    await box.stop()

    box = await Sandbox.start(settings, org, clock)  # and again mid-filing
    company = box.person(30001, "陈经理")
    await company.send("扩建冷链仓库需流动资金约800万元，申请融资担保对接。")
    filed = await company.press("提交")
    assert filed[-1].startswith("诉求已提交")
    await box.stop()
    assert db.count("appeals") == 1


async def test_editing_the_description_updates_the_draft(sandbox, people, db):
    await people.company.send("/new")
    await people.company.press("融资")
    update = sandbox.api.message_update(
        people.company.user, "扩建仓库需流动资金800万元，申请对接。"
    )
    await sandbox.deliver(update)
    await sandbox.deliver(edited(update, "扩建冷链仓库需流动资金约900万元，申请融资担保对接。"))
    assert "已按修改后的内容更新" in people.company.since(0)[-2]
    await people.company.press("提交")
    assert db.one("SELECT description FROM appeals")["description"].startswith("扩建冷链仓库需")


async def test_edits_elsewhere_are_answered_and_change_nothing(sandbox, people, db):
    number = await claimed(people)
    await people.official.press("回复")
    update = sandbox.api.message_update(people.official.user, REPLY)
    await sandbox.deliver(update)
    await sandbox.deliver(edited(update, "改口：不用来了"))
    assert people.official.last == "修改已发送的消息不会生效。如需更正，请重新发送。"
    assert [r["text"] for r in db.rows("SELECT text FROM appeal_messages")] == [REPLY]
    assert number in people.company.since(0)[-1]
    # an edit in a group is not for the bot at all
    group = sandbox.api.message_update(people.official.user, "大家好", chat_id=-100555)
    await sandbox.deliver(edited(group, "大家好！"))
    assert sandbox.api.messages_to(-100555) == []


async def test_personal_commands_in_a_group_show_nothing(sandbox, people, db):
    number = await file_appeal(people.company)
    for command in ("/my", f"/view {number}", "/new", "/inbox", "/digest"):
        update = sandbox.api.message_update(people.company.user, command, chat_id=-100555)
        await sandbox.deliver(update)
        said = sandbox.api.messages_to(-100555)[-1].plain
        assert said.startswith("请在私聊中使用"), (command, said)
    assert all(number not in m.plain for m in sandbox.api.messages_to(-100555))


async def test_a_second_tap_repeats_the_first_result(sandbox, people, db):
    number = await claimed(people)
    await people.official.press("办结", containing=number)
    await people.official.send("已完成担保对接，放款到位。")
    first = await people.company.press("满意")
    second = await people.company.press("满意")  # said on the button, not again in the chat
    assert first[-1].startswith("已记录评价“满意”") and second == []
    popup = [c for m, c in sandbox.api.calls if m == "answerCallbackQuery"][-1]
    assert popup["text"] == "已评价，无需重复操作。"
    assert await people.company.send("/skip") == ["好的。"]
    ratings = db.rows("SELECT action FROM audit_events WHERE action = 'rate'")
    assert len(ratings) == 1


async def test_free_text_is_understood(sandbox, people, db):
    number = await file_appeal(people.company)
    answer = await people.company.send("我的诉求办得怎么样了？")
    assert answer == ["您好！这条消息未发送给任何人（当前没有进行中的操作）。请问您想："]
    labels = [label for label, _ in people.company.inbox[-1].buttons]
    assert labels == ["查看我的诉求", "提交新诉求"]
    listing = await people.company.press("查看我的诉求")
    assert number in listing[-1]
    card = await people.company.send(number.lower())
    assert card[-1].startswith(f"诉求 {number}")
    # somebody else's number is not shown
    other = await people.rival.send(f"请问 {number} 进展如何")
    assert other == ["未找到该诉求，或您无权查看。"]


async def test_media_at_the_wrong_step_and_other_messages_get_hints(sandbox, people, db):
    await people.company.send("/new")
    answer = await people.company.send_photo()
    assert answer == [
        "这个照片或文件（连同其说明文字）未保存。"
        "请点击上方按钮选择诉求类别，或直接输入类别名称；发送 /cancel 取消。"
    ]
    await people.company.send("/cancel")
    answer = await people.company.send_document("报表.pdf")
    assert "补充" in answer[0]
    sticker = sandbox.api.message_update(people.company.user)
    sticker["message"]["sticker"] = {
        "file_id": "s1",
        "file_unique_id": "s1u",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "type": "regular",
    }
    mark = people.company.mark()
    await sandbox.deliver(sticker)
    assert people.company.since(mark) == [
        "暂不支持语音、贴纸、视频等消息，请发送文字。发送 /help 查看可用功能。"
    ]


async def test_the_same_text_again_asks_before_a_second_appeal(sandbox, people, db):
    number = await file_appeal(people.company)
    await people.company.send("/new")
    await people.company.press("融资")
    await people.company.send("扩建冷链仓库需流动资金约800万元，申请融资担保对接。")
    warning = await people.company.press("提交")
    assert warning == [
        f"您在 24 小时内已提交过内容相同的诉求 {number}。如确需再提交一件，"
        "请点击“仍然提交”；否则可查看已提交的诉求。"
    ]
    assert db.count("appeals") == 1
    labels = [label for label, _ in people.company.inbox[-1].buttons]
    assert labels == ["仍然提交", f"查看 {number}", "取消"]
    second = await people.company.press("仍然提交")
    assert second[-1].startswith("诉求已提交") and number not in second[-1]
    assert db.count("appeals") == 2


async def test_registration_is_confirmed_and_any_field_can_be_corrected(sandbox, db):
    """A summary with 确认登记 / 修改… comes before anything is saved; a corrected field
    returns to the summary; /start again mid-way carries on instead of starting over."""
    person = sandbox.person(50003, "周总")
    await person.send("/start")
    await person.send("鄂州市周氏机械有限公司")
    again = await person.send("/start")
    assert again[0] == "您正在登记企业信息，接着上次的步骤继续（发送 /cancel 可取消）。"
    assert again[-1].startswith("第 2 步")
    assert await person.send("你好") == [
        "统一社会信用代码应为 18 位，您输入了 2 位，请核对后重新输入。"
    ]
    await person.send("91350100M000100Y43")
    await person.send("周经理")
    summary = await person.send("13907110001")
    assert summary[-1].startswith("请核对登记信息：\n企业名称：鄂州市周氏机械有限公司")
    assert db.count("enterprises") == 0
    assert await person.press("修改联系人") == ["请输入正确的联系人姓名（当前：周经理）。"]
    corrected = await person.send("周建国")
    assert "联系人：周建国" in corrected[-1] and "请核对登记信息" in corrected[-1]
    assert await person.send("好的") == [
        "请点击登记信息下方的按钮：确认登记，或修改某一项。",
        corrected[-1],
    ]
    done = await person.press("确认登记")
    assert done[-1].startswith("登记成功。")
    row = db.one("SELECT name, contact_name, phone FROM enterprises")
    assert (row["name"], row["contact_name"], row["phone"]) == (
        "鄂州市周氏机械有限公司",
        "周建国",
        "13907110001",
    )
    # the older summary pressed once registered: it says so, not "register again"
    assert await person.press("确认登记") == ["您已登记，无需重复登记。发送 /help 查看可用功能。"]
    assert db.count("enterprises") == 1
