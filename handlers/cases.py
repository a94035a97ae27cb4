"""Working on appeals: lists, the appeal card and every action button, driven by the table.

A button's code names a workflow action; the row in APPEAL_FLOW says what to ask for;
the use case registered for the action does the work; `done.<action>` confirms it.
"""

from __future__ import annotations

from telegram import Update

from bot.rules import checks
from bot.rules.checks import DATE, bare_value
from bot.rules.model import Action, Appeal, Conversation, Extension, Outcome, Rating, Role
from bot.rules.parts import added
from bot.rules.refusals import InvalidInput
from bot.rules.workflow import APPEAL_FLOW, Needs
from bot.texts import has, name, t
from bot.texts.events import person_name
from bot.usecases import appeals, people
from bot.usecases.appeals import USE_CASES, ActionRequest
from bot.usecases.people import Caller
from handlers import flow
from handlers.buttons import (
    APPEAL_ACTION_CODES,
    EXT_NO,
    EXT_OK,
    RATING_CODES,
    RATINGS,
    VIEW,
    action_button,
    encode,
    pressed,
)
from handlers.common import (
    Context,
    actor_name,
    again,
    attachment_of,
    env_of,
    esc,
    local_time,
    message_text,
    offered,
    refusals,
    refuse,
    request_key,
    say,
)
from handlers.courier import confirm
from handlers.render import action_markup, card, list_text, reopen_how

FLOW = "action"
LISTS = {"my": appeals.my_appeals, "inbox": appeals.inbox, "overdue": appeals.overdue}


def _caller(update: Update) -> Caller:
    """Who acts: the use case loads them in its own unit of work."""
    user = update.effective_user
    assert user is not None
    return Caller(user.id, user.full_name)


async def _list(update: Update, context: Context, kind: str) -> None:
    found = await LISTS[kind](env_of(context), _caller(update))
    if not found.items:
        await say(update, context, t(f"{kind}_empty"))
        return
    text, markup = list_text(
        t(f"{kind}_header", count=found.total),
        found.items,
        staff=found.actor.role is not Role.ENTERPRISE,
        total=found.total,
        more_key=f"list_more.{kind}",
    )
    await say(update, context, text, markup)


@refusals
async def my(update: Update, context: Context) -> None:
    """/my: the enterprise's own appeals."""
    await _list(update, context, "my")


@refusals
async def inbox(update: Update, context: Context) -> None:
    """/inbox: open appeals of the official's department (all of them for leaders)."""
    await _list(update, context, "inbox")


@refusals
async def overdue(update: Update, context: Context) -> None:
    """/overdue: open appeals past their due date."""
    await _list(update, context, "overdue")


async def show(update: Update, context: Context, ref: int | str) -> None:
    env = env_of(context)
    view = await appeals.view(env, _caller(update), ref)
    assert view.actor is not None
    text, markup = card(view, env, view.actor.role, view.departments)
    await say(update, context, text, markup)


@refusals
async def view_command(update: Update, context: Context) -> None:
    """/view SQ-YYYY-NNNNNN."""
    if not context.args:
        await say(update, context, t("view_usage"))
        return
    await show(update, context, context.args[0])


@refusals
async def view_pressed(update: Update, context: Context) -> None:
    """查看 button."""
    await show(update, context, pressed(update.callback_query.data, VIEW).item_id)


async def _done(update: Update, context: Context, key: str, outcome: Outcome, **extra: str) -> None:
    """Confirm to the actor, with the buttons for their next step, then tell the others
    (all of it from the outcome: who acted and what they may do next)."""
    appeal, actor = outcome.appeal, outcome.actor
    assert actor is not None, "the use case names who acted"
    fields = dict(
        number=appeal.number,
        due=appeal.due_date.isoformat(),
        department=esc(appeal.department_name),
        actor=esc(actor_name(actor)),
        **extra,
    )
    if update.effective_chat.type != "private":
        # In a department group everybody reads it: name who acted, offer no personal buttons.
        group_key = key.replace("done.", "done_group.", 1)
        text = t(group_key, **fields) if has(group_key) else t("acted_in_group", **fields)
        if outcome.replayed:  # a second tap: the group read it once; the presser alone again
            await refuse(update, context, text)
            return
        await confirm(update, context, text, None, outcome.ack_id, outcome.queued)
        return
    if outcome.replayed and await again(update, key.removeprefix("done.")):
        return  # the same button tapped again: done once, said once
    markup = action_markup(appeal, outcome.actions)
    text = t(key, **fields)
    if outcome.unheard:
        text += "\n" + t("filed_unheard")
    await confirm(update, context, text, markup, outcome.ack_id, outcome.queued)


async def _run(update: Update, context: Context, action: Action, req: ActionRequest) -> Outcome:
    return await USE_CASES[action](env_of(context), _caller(update), req)


@refusals
async def action_pressed(update: Update, context: Context) -> None:
    """Any appeal action button: act at once, or check and ask for what the action needs."""
    data = update.callback_query.data
    button = pressed(data, *APPEAL_ACTION_CODES)
    action = button.action
    assert isinstance(action, Action)
    row = APPEAL_FLOW[action]
    key = request_key(update)
    if row.needs is Needs.NOTHING:
        req = ActionRequest(button.item_id, button.version, key)
        outcome = await _run(update, context, action, req)
        if action is Action.REOPEN:
            await _ask_comment(update, context, action, outcome, data)
            return
        await _done(update, context, f"done.{action}", outcome)
        return
    if row.needs is Needs.RATING:
        rating = RATINGS[button.arg]  # the codec accepts only these
        req = ActionRequest(button.item_id, button.version, key, rating=rating)
        outcome = await _run(update, context, action, req)
        done = Action.REOPEN if rating is Rating.DISSATISFIED else action
        await _ask_comment(update, context, done, outcome, data)
        return
    env = env_of(context)
    prompt = await appeals.preflight(env, _caller(update), button.item_id, action, button.version)
    actor, appeal = prompt.actor, prompt.appeal
    pending = {
        "action": str(action),
        "appeal_id": appeal.id,
        "number": appeal.number,
        "version": appeal.version,
        "button": data,
    }
    if row.needs is Needs.DEPARTMENT_AND_TEXT:
        pending["from_department"] = appeal.department_id
        begun = await flow.begin(update, context, FLOW, "department", **pending)
        buttons = [(d.name, encode("dept", d.code)) for d in prompt.departments]
        prompt = t(f"ask.{action}", number=appeal.number)
        claimer = appeal.owner_id not in (None, actor.tg_id)
        if claimer and appeal.claimed_at:  # another's claimed appeal: say whose it is
            owner = person_name(appeal.owner_name, Role.OFFICIAL)
            at = local_time(env, appeal.claimed_at)
            prompt += "\n" + t("ask.transfer_claimed", owner=esc(owner), at=at)
        await flow.offer(update, context, begun, *offered(prompt, buttons, "dept_more"))
        return
    step = "date" if row.needs is Needs.DATE_AND_TEXT else "text"
    await flow.begin(update, context, FLOW, step, **pending)
    await say(
        update,
        context,
        t(f"ask.{action}", number=appeal.number, due=appeal.due_date.isoformat()),
    )


def _transferring(conversation: Conversation) -> bool:
    return conversation.data.get("action") == Action.TRANSFER and conversation.step == "text"


# The department buttons stay on screen while the reason is asked: another one changes it.
# They name no appeal: only those under this transfer's own prompt act on it.
flow.kept(FLOW, "dept", when=_transferring)
flow.prompted(FLOW, "dept")


@refusals
async def department_pressed(update: Update, context: Context) -> None:
    """Target department of a transfer, by button (while that transfer's prompt is open,
    also when the reason is being asked: the department changes)."""
    found = await flow.pressed(update, context, FLOW, None, "stale_button")
    if found is not None:
        conversation, button = found
        code = str(button.parts[0]) if button else ""  # unreadable: answered as unknown
        await _department_chosen(update, context, conversation, code)


@flow.step(FLOW, "department", buttons=("dept",))
async def department_typed(update: Update, context: Context, conversation: Conversation) -> None:
    """Target department of a transfer, typed by name."""
    text = message_text(update).strip()
    await _department_chosen(update, context, conversation, text, by_name=True)


async def _department_chosen(
    update: Update,
    context: Context,
    conversation: Conversation,
    key: str,
    by_name: bool = False,
    again: bool = False,
) -> None:
    departments = await people.departments(env_of(context))
    chosen = next((d for d in departments if (d.name if by_name else d.code) == key), None)
    if chosen is None:
        await say(update, context, t("dept_unknown"))
        return
    if chosen.id == conversation.data.get("from_department"):  # typed: the one it is in
        await say(update, context, t("input.same", field=t("field.department")))
        return
    await flow.advance(context, conversation, "text", department=chosen.code)
    ask = "ask.transfer_reason_again" if again else "ask.transfer_reason"
    await say(update, context, t(ask, department=esc(chosen.name)))


@flow.step(FLOW, "date")
@refusals
async def date_given(update: Update, context: Context, conversation: Conversation) -> None:
    """The new due date of an extension request; then the reason."""
    await _date_chosen(update, context, conversation, "ask.extend_reason")


async def _date_chosen(
    update: Update, context: Context, conversation: Conversation, ask_key: str
) -> None:
    pending = conversation.data
    new_due = await appeals.check_new_due(
        env_of(context),
        _caller(update),
        pending["appeal_id"],
        Action(pending["action"]),
        pending["version"],
        message_text(update),
    )
    await flow.advance(context, conversation, "text", new_due=new_due)
    await say(update, context, t(ask_key, new_due=new_due))


async def _no_reason(update: Update, context: Context, conversation: Conversation) -> bool:
    """At the reason of a two-step prompt (a transfer's department, an extension's date):
    text that is that first value again changes it (the person is told, and asked for the
    reason again); a bare date or number is refused as a reason. True when handled so."""
    pending = conversation.data
    action = Action(pending["action"])
    if action not in (Action.EXTEND, Action.TRANSFER):
        return False
    text = message_text(update)
    if action is Action.TRANSFER:
        departments = await people.departments(env_of(context))
        named = next((d for d in departments if d.name == text.strip()), None)
        if named is not None:
            await _department_chosen(update, context, conversation, named.code, again=True)
            return True
    if action is Action.EXTEND and bare_value(text, env_of(context).today()) == DATE:
        await _date_chosen(update, context, conversation, "ask.extend_reason_again")
        return True
    return False


async def _bare_refused(update: Update, context: Context, pending: dict, exc: InvalidInput) -> None:
    """The use case refused a bare date or number as the reason of a two-step prompt: said
    with the first value, which stays (the reason is asked again)."""
    action = Action(pending["action"])
    departments = await people.departments(env_of(context))
    department = next((d.name for d in departments if d.code == pending.get("department")), "")
    await say(
        update,
        context,
        t(
            f"reason_bare.{action}",
            value=esc(exc.params.get("value", "")),
            what=name("bare_value", exc.params.get("what")),
            new_due=pending.get("new_due", ""),
            department=esc(department),
        ),
    )


@refusals
async def extension_decided(update: Update, context: Context) -> None:
    """同意延期 decides at once; 不同意 first asks for the reason (/skip: none), which the
    requester is told with the refusal."""
    data = update.callback_query.data
    button = pressed(data, EXT_OK, EXT_NO)
    if button.kind == EXT_OK:
        await _decide(update, context, button.item_id, True)
        return
    await _ask_deny_reason(update, context, button.item_id, data)


async def _ask_deny_reason(
    update: Update, context: Context, extension_id: int, button: str
) -> None:
    appeal = await appeals.check_extension_decision(
        env_of(context), _caller(update), extension_id, False
    )
    await flow.begin(
        update, context, FLOW, "deny", extension_id=extension_id, number=appeal.number,
        button=button,
    )  # fmt: skip
    await say(update, context, t("ask.extension_deny_reason", number=appeal.number))


# A waiting card's buttons typed as words (their labels, and the short forms people use).
RATING_WORDS = {name("rating", r): r for r in Rating}
DECISION_WORDS = {
    t("button.approve_extension"): True,
    t("typed_as.approve_extension"): True,
    t("button.deny_extension"): False,
    t("typed_as.deny_extension"): False,
}


async def typed_choice(
    update: Update, context: Context, found: appeals.Waiting | None = None
) -> bool:
    """Text outside any flow from someone a card waits for (a rating, an extension
    decision): a button's label typed acts as that button would, through the same use
    case and checks; other text is answered with a hint naming the buttons. False when
    no card waits for this person and the text is no choice of theirs (the caller answers).
    `found`: what waits for them, when the caller has read it already."""
    text = message_text(update)
    found = found or await appeals.waiting(env_of(context), _caller(update))
    role = found.actor.role
    rating = checks.typed_choice(text, RATING_WORDS) if role is Role.ENTERPRISE else None
    staff = role in (Role.HEAD, Role.ADMIN)
    decision = checks.typed_choice(text, DECISION_WORDS) if staff else None
    if rating is not None:
        await _rating_typed(update, context, found.ratings, rating)
    elif decision is not None:
        await _decision_typed(update, context, found.extensions, decision)
    elif found.ratings:
        await _say_waiting(update, context, RATING_WAITS, found.ratings)
    elif found.extensions:
        appeals_ = [a for _, a in found.extensions]
        await _say_waiting(update, context, EXTENSION_WAITS, appeals_, _requested(found.extensions))
    else:
        return False
    return True


RATING_WAITS = ("waiting.rating", "waiting.rating_many")
EXTENSION_WAITS = ("waiting.extension", "waiting.extension_many")


async def _say_waiting(
    update: Update,
    context: Context,
    keys: tuple[str, str],
    waiting: list[Appeal],
    new_due: str = "",
) -> None:
    """Which card waits and which buttons answer it (several: which ones, to tap there)."""
    one, many = keys
    if len(waiting) > 1:
        numbers = "、".join(a.number for a in waiting)
        await say(update, context, t(many, count=len(waiting), numbers=numbers))
        return
    await say(update, context, t(one, number=waiting[0].number, new_due=new_due))


def _requested(waiting: list[tuple[Extension, Appeal]]) -> str:
    """The date asked for, when one request waits (the hint names it)."""
    return waiting[0][0].new_due_date.isoformat() if len(waiting) == 1 else ""


async def _rating_typed(
    update: Update, context: Context, waiting: list[Appeal], rating: Rating
) -> None:
    """满意 / 基本满意 / 不满意 typed: the one appeal waiting for it is rated as by its button."""
    if len(waiting) != 1:
        if not waiting:
            await say(update, context, t("waiting.rating_none"))
        else:
            await _say_waiting(update, context, RATING_WAITS, waiting)
        return
    [appeal] = waiting
    key = request_key(update)
    if rating is Rating.DISSATISFIED:  # the card's 不满意 button: a reopening
        action, arg = Action.REOPEN, ""
        req = ActionRequest(appeal.id, appeal.version, key)
    else:
        action, arg = Action.RATE, RATING_CODES[rating]
        req = ActionRequest(appeal.id, appeal.version, key, rating=rating)
    outcome = await _run(update, context, action, req)
    data = action_button(action, appeal.id, appeal.version, arg)
    await _ask_comment(update, context, action, outcome, data)


async def _decision_typed(
    update: Update, context: Context, waiting: list[tuple[Extension, Appeal]], approve: bool
) -> None:
    """同意 / 不同意 typed by whoever may decide: the one request waiting is decided as by
    its button (不同意 asks for the reason)."""
    if len(waiting) != 1:
        if not waiting:
            await say(update, context, t("waiting.extension_none"))
        else:
            await _say_waiting(update, context, EXTENSION_WAITS, [a for _, a in waiting], "")
        return
    [(extension, _)] = waiting
    if approve:
        await _decide(update, context, extension.id, True)
        return
    await _ask_deny_reason(update, context, extension.id, encode(EXT_NO, extension.id))


async def _decide(
    update: Update, context: Context, extension_id: int, approve: bool, reason: str = ""
) -> None:
    outcome = await appeals.decide_extension(
        env_of(context), _caller(update), extension_id, approve, request_key(update), reason
    )
    key = "done.extension_approved" if approve else "done.extension_denied"
    await _done(update, context, key, outcome, new_due=outcome.appeal.due_date.isoformat())


@flow.step(FLOW, "deny", commands=("skip",))
@refusals
async def deny_reason_given(update: Update, context: Context, conversation: Conversation) -> None:
    """The reason of a 不同意 (refused plainly when it is empty; the flow stays). 同意
    typed instead decides the other way, as the 同意延期 button would."""
    if checks.typed_choice(message_text(update), DECISION_WORDS) is True:
        await flow.finish(context, conversation)
        await _decide(update, context, conversation.data["extension_id"], True)
        return
    await _decide(update, context, conversation.data["extension_id"], False, message_text(update))
    await flow.finish(context, conversation)


@flow.step(FLOW, "text", accepts=(flow.TEXT, flow.FILE))
@refusals
async def text_given(update: Update, context: Context, conversation: Conversation) -> None:
    """What the pending action needed: the use case runs, then everyone concerned is told."""
    pending = conversation.data
    action = Action(pending["action"])
    takes_files = APPEAL_FLOW[action].needs is Needs.TEXT_OR_FILE
    found = attachment_of(update)
    attachments = [found] if found else []
    if attachments and not takes_files:
        await say(update, context, t("hint.text_only", action=name("button", action)))
        return
    if await _no_reason(update, context, conversation):
        return
    try:
        outcome = await _run(update, context, action, _request(update, pending, attachments))
    except InvalidInput as exc:
        if exc.params.get("reason") != "bare_value" or action not in (
            Action.EXTEND,
            Action.TRANSFER,
        ):
            raise
        await _bare_refused(update, context, pending, exc)
        return
    if takes_files:  # 补充: what follows joins it, until /done
        message = update.effective_message
        parts = added([], message.message_id, message_text(update))
        await flow.advance(
            context,
            conversation,
            "more",
            parts=parts,
            files=len(attachments),
            album=message.media_group_id,
        )
    else:
        await flow.finish(context, conversation)
    extra = {"new_due": str(outcome.detail["new_due"])} if "new_due" in outcome.detail else {}
    await _done(update, context, f"done.{action}", outcome, **extra)


def _request(update: Update, pending: dict, attachments: list) -> ActionRequest:
    return ActionRequest(
        pending["appeal_id"],
        pending["version"],
        request_key(update),
        text=message_text(update),
        department_code=pending.get("department"),
        new_due=pending.get("new_due"),
        attachments=tuple(attachments),
    )


@flow.step(FLOW, "more", accepts=(flow.TEXT, flow.FILE))
@refusals
async def more_given(update: Update, context: Context, conversation: Conversation) -> None:
    """One more message of a 补充 (text, a caption, a photo, a file): it reaches the
    department as the first did, each text as its own 补充 (they were told of the first).
    The further photos of an album (sent together, one media group) join the 补充 its first
    item made, without a word: one album is one 补充, one notice and one answer. A caption
    on a later item is text of its own, sent as a 补充 so that it is read."""
    data = conversation.data
    message = update.effective_message
    found = attachment_of(update)
    attachments = [found] if found else []
    album = message.media_group_id
    if album and album == data.get("album") and attachments and not message_text(update):
        request = _request(update, data, attachments)
        await appeals.add_to_supplement(env_of(context), _caller(update), request)
        await flow.advance(context, conversation, "more", files=data["files"] + 1)
        return
    action = Action(data["action"])
    outcome = await _run(update, context, action, _request(update, data, attachments))
    parts = added(data["parts"], message.message_id, message_text(update))
    moved = await flow.advance(
        context,
        conversation,
        "more",
        parts=parts,
        files=data["files"] + len(attachments),
        album=album,
    )
    text = t("done_more", number=data["number"], stored=flow.stored(moved.data))
    await confirm(update, context, text, None, outcome.ack_id, outcome.queued)


@flow.on_done(FLOW, "more", lapse_unsaid=True)
async def more_done(update: Update, context: Context, conversation: Conversation) -> None:
    """/done after a 补充: it is complete; say what reached the department."""
    await flow.finish(context, conversation)
    data = conversation.data
    await say(update, context, t("done_parts", number=data["number"], stored=flow.stored(data)))


async def _ask_comment(
    update: Update, context: Context, action: Action, outcome: Outcome, button: str
) -> None:
    """After a rating: stored at once; an optional comment may follow (again on a second tap)."""
    appeal = outcome.appeal
    open_ = await flow.active(update, context, FLOW, "comment")
    if open_ is None or open_.data.get("appeal_id") != appeal.id:  # a second tap keeps it
        await flow.begin(
            update,
            context,
            FLOW,
            "comment",
            action=str(Action.RATE),
            appeal_id=appeal.id,
            number=appeal.number,
            button=button,
        )
    rating = name("rating", appeal.rating) if appeal.rating else ""
    text = t(
        f"done.{action}",
        number=appeal.number,
        due=appeal.due_date.isoformat(),
        rating=rating,
        how=reopen_how(outcome.detail, appeal),
    )
    if outcome.replayed:  # the same rating tapped again: kept once, the prompt stays open
        if not await again(update, str(action)):
            await say(update, context, text)
        return
    await confirm(update, context, text, None, outcome.ack_id, outcome.queued)


@flow.step(FLOW, "comment", commands=("skip",))
@refusals
async def comment_given(update: Update, context: Context, conversation: Conversation) -> None:
    """Optional comment after a rating."""
    outcome = await appeals.comment_rating(
        env_of(context),
        _caller(update),
        conversation.data["appeal_id"],
        message_text(update),
        request_key(update),
    )
    await flow.finish(context, conversation)
    await _done(update, context, "done.comment", outcome)


@refusals
async def skip(update: Update, context: Context) -> None:
    """/skip the optional comment, or the reason of a 不同意 (the refusal goes without)."""
    deny = await flow.active(update, context, FLOW, "deny")
    if deny is not None:
        await _decide(update, context, deny.data["extension_id"], False)
        await flow.finish(context, deny)
        return
    await flow.close_step(update, context, (FLOW, "comment"), "skipped", "nothing_to_skip")
