"""One flow per user, kept in the database: what typed text means depends on it alone.

A flow (registration, filing, an appeal action's prompt, a task report, a ledger import)
starts with `begin`, moves with `advance` and ends with `finish`. The guard runs before
every other handler: it ends a flow that has lapsed, or that the user left by a command or
by a button of something else, and says so, so that text never reaches an enterprise after
the prompt that asked for it is gone. `route` hands typed text and files to the step that
waits for them (`handlers.understand.typed` answers what comes with no flow).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import ApplicationHandlerStop

from bot.rules import parts
from bot.rules.model import Conversation
from bot.texts import has, name, t
from bot.usecases import conversations
from handlers import buttons
from handlers.buttons import Button, pressed_or_none
from handlers.common import FLOW_CACHE, Context, env_of, esc, say

log = logging.getLogger(__name__)

StepHandler = Callable[[Update, Context, Conversation], Awaitable[None]]

TEXT, FILE = "text", "file"


@dataclass(frozen=True)
class Step:
    handler: StepHandler
    accepts: frozenset[str]
    commands: frozenset[str] = frozenset()  # commands that belong to this step (/skip, /done)
    buttons: frozenset[str] = frozenset()  # callback-data prefixes that belong to it


STEPS: dict[tuple[str, str], Step] = {}
# Buttons that stay on screen after their step: pressed at a later step of the same flow
# (when `when` says the flow came through the step that offered them), they continue it.
KEPT: dict[str, list[tuple[frozenset[str], Callable[[Conversation], bool]]]] = {}


def step(
    flow: str,
    name_: str,
    accepts: tuple[str, ...] = (TEXT,),
    commands: tuple[str, ...] = (),
    buttons: tuple[str, ...] = (),
) -> Callable[[StepHandler], StepHandler]:
    """Register the handler of one step of a flow."""

    def register(handler: StepHandler) -> StepHandler:
        STEPS[(flow, name_)] = Step(
            handler, frozenset(accepts), frozenset(commands), frozenset(buttons)
        )
        return handler

    return register


# Kinds whose buttons name nothing of what they act on (a department, a category, 提交, 确认登记):
# such a button acts only on the flow whose prompt it is under. `offer` sends a prompt and
# keeps its message id in the flow's data (PROMPTS); a press from any other message (the
# prompt of another appeal's transfer, of an earlier draft) is answered and changes nothing.
PROMPTED: dict[str, frozenset[str]] = {}
PROMPTS = "prompts"
PROMPTS_MAX = 20  # the newest prompts a flow remembers (a summary shown again and again)
OFFERING = "offering"  # a prompt is being sent: the newest message id known before it


def prompted(flow: str, *kinds: str) -> None:
    """Declare buttons of `flow` that carry no id of their item: only those on the flow's own
    prompts (sent with `offer`) act on it."""
    PROMPTED[flow] = PROMPTED.get(flow, frozenset()) | frozenset(kinds)


def from_prompt(conversation: Conversation, update: Update) -> bool:
    """Whether the button pressed may act on this flow: it names its item, or it is under
    one of the flow's own prompts."""
    query = update.callback_query
    if query is None or buttons.kind_of(query.data) not in PROMPTED.get(conversation.flow, ()):
        return True
    shown = conversation.data.get(PROMPTS)
    offering = conversation.data.get(OFFERING)
    if shown is None and offering is None:  # a flow stored before its prompts were kept
        return True
    if query.message is None:
        return False
    pressed_on = query.message.message_id
    # a prompt sent but not recorded (see `offer`) is newer than what was known before it
    return pressed_on in (shown or ()) or (offering is not None and pressed_on > offering)


def kept(flow: str, *kinds: str, when: Callable[[Conversation], bool]) -> None:
    """Declare buttons of `flow` that continue it from any later step (a category button
    still visible while the description is asked): they are not a way out of the flow."""
    KEPT.setdefault(flow, []).append((frozenset(kinds), when))


def continues(conversation: Conversation, kind: str) -> bool:
    """Whether a button of `kind` continues this flow at the step it is at."""
    own = STEPS.get((conversation.flow, conversation.step))
    if own is not None and kind in own.buttons:
        return True
    return any(
        kind in kinds and when(conversation) for kinds, when in KEPT.get(conversation.flow, ())
    )


# starting, moving, ending ------------------------------------------------------------------


async def current(context: Context, user_id: int) -> Conversation | None:
    """The user's flow (lapsed or not), read from the database once per update."""
    cached = context.__dict__.get(FLOW_CACHE)
    if cached is not None and cached[0] == user_id:
        return cached[1]
    conversation = await conversations.current(env_of(context), user_id)
    context.__dict__[FLOW_CACHE] = (user_id, conversation)
    return conversation


def _remember(context: Context, conversation: Conversation) -> Conversation:
    context.__dict__[FLOW_CACHE] = (conversation.user_id, conversation)
    return conversation


async def begin(
    update: Update, context: Context, flow: str, step_: str, **data: object
) -> Conversation:
    """Start a flow; another one the user was in ends, and they are told which (not when
    it is this very prompt asked again, nothing given yet: a button tapped twice)."""
    env = env_of(context)
    user, chat = update.effective_user, update.effective_chat
    previous = await current(context, user.id)
    given = {
        k: v for k, v in (previous.data if previous else {}).items() if k not in (PROMPTS, OFFERING)
    }
    same = previous is not None and (previous.flow, previous.step, given) == (
        flow,
        step_,
        dict(data),
    )
    if previous is not None and await conversations.end(env, previous) and not same:
        await say(update, context, left_text(previous, lapsed=previous.expired(env.now())))
    if same and PROMPTS in previous.data:  # asked again: the first prompt's buttons still act
        data = {**data, PROMPTS: previous.data[PROMPTS]}
    return _remember(
        context, await conversations.begin(env, user.id, chat.id, flow, step_, dict(data))
    )


async def offer(
    update: Update,
    context: Context,
    conversation: Conversation,
    text: str,
    markup: InlineKeyboardMarkup | None,
) -> Conversation:
    """Send a prompt whose buttons act on this flow (PROMPTED), remembering its message.
    The flow first notes that a prompt is on its way (OFFERING: the newest message id known
    before it): should anything fail between Telegram showing the prompt and its id being
    kept, the buttons of a message newer than that still act on the flow."""
    message = update.effective_message
    newest = message.message_id if message is not None else 0
    conversation = await advance(context, conversation, conversation.step, **{OFFERING: newest})
    sent = await say(update, context, text, markup)
    if sent is None:
        return conversation
    shown = [*conversation.data.get(PROMPTS, []), sent.message_id][-PROMPTS_MAX:]
    return await advance(
        context, conversation, conversation.step, **{PROMPTS: shown, OFFERING: None}
    )


async def advance(
    context: Context, conversation: Conversation, step_: str, **data: object
) -> Conversation:
    return _remember(
        context, await conversations.advance(env_of(context), conversation, step_, **data)
    )


async def finish(context: Context, conversation: Conversation | None) -> None:
    if conversation is not None:
        await conversations.end(env_of(context), conversation)
        context.__dict__[FLOW_CACHE] = (conversation.user_id, None)


async def active(
    update: Update, context: Context, flow: str | None = None, *steps: str
) -> Conversation | None:
    """The user's flow that has not lapsed; only when it is `flow` (at one of `steps`), if
    those are given."""
    env = env_of(context)
    user = update.effective_user
    conversation = await current(context, user.id) if user else None
    if conversation is None or conversation.expired(env.now()):
        return None
    if flow is not None and conversation.flow != flow:
        return None
    if steps and conversation.step not in steps:
        return None
    return conversation


async def pressed(
    update: Update, context: Context, flow: str, step_: str | None, gone_key: str
) -> tuple[Conversation, Button | None] | None:
    """A button that belongs to one step of a flow (`step_`; None: a kept button, at any
    step it continues): the flow and the decoded button (None if it cannot be read: the
    step answers it as an unknown choice), or None once the person has been told
    (`gone_key`) that the prompt is no longer open, or that the button is under another
    prompt than this flow's (it changes nothing; the flow stays as it was)."""
    data = update.callback_query.data
    conversation = await active(update, context, flow, *([step_] if step_ else []))
    if conversation is not None and step_ is None:
        conversation = conversation if continues(conversation, buttons.kind_of(data)) else None
    if conversation is None:
        await say(update, context, t(gone_key))
        return None
    if not from_prompt(conversation, update):
        await say(update, context, t("button_of_other_prompt"))
        return None
    return conversation, pressed_or_none(data, buttons.kind_of(data))


async def close_step(
    update: Update, context: Context, where: tuple[str, str], done_key: str, none_key: str
) -> None:
    """A command that completes an optional step (/skip): it ends the flow if the user is at
    that step, and says there is nothing to complete otherwise."""
    conversation = await active(update, context, *where)
    if conversation is None:
        await say(update, context, t(none_key))
        return
    await finish(context, conversation)
    await say(update, context, t(done_key))


# /done at a step that takes several messages: what each such step does with it.
DONE: dict[tuple[str, str], StepHandler] = {}
# Steps where every message is stored as it comes (a report, a 补充): lapsing loses nothing,
# so it is not announced out of the blue (a message sent later is told it reached nobody).
LAPSE_UNSAID: set[tuple[str, str]] = set()


def on_done(
    flow: str, name_: str, lapse_unsaid: bool = False
) -> Callable[[StepHandler], StepHandler]:
    """Register what /done does at one step of a flow (the step then keeps /done);
    `lapse_unsaid`: the step is one of LAPSE_UNSAID (every part stored as it comes)."""

    def register(handler: StepHandler) -> StepHandler:
        DONE[(flow, name_)] = handler
        if lapse_unsaid:
            LAPSE_UNSAID.add((flow, name_))
        return handler

    return register


async def done(update: Update, context: Context, none_key: str) -> None:
    """/done: the step the user is at completes (and says what it kept), or nothing to end."""
    conversation = await active(update, context)
    handler = DONE.get((conversation.flow, conversation.step)) if conversation else None
    if handler is None:
        await say(update, context, t(none_key))
        return
    await handler(update, context, conversation)


def stored(data: dict) -> str:
    """ "文字 2 段，附件 3 个": what a prompt of several messages has kept so far."""
    return t("stored_parts", texts=len(data.get("parts") or []), files=data.get("files", 0))


def left_text(conversation: Conversation, lapsed: bool = False) -> str:
    """'已退出对 SQ-… 的回复，未发送' and the like, for the flow that ended."""
    data = conversation.data
    key = f"flow_left.{conversation.flow}.{conversation.step}"
    if not has(key):
        key = f"flow_left.{conversation.flow}"
    family = "button.task" if conversation.flow == "task" else "button"
    text = t(
        key,
        number=data.get("number", ""),
        action=name(family, data.get("action"), default=""),
        seq=data.get("seq", ""),
        what=name("task_part_what", data.get("action"), default=""),
        stored=stored(data),
        subject=esc(str(data.get("subject", ""))),
    )
    return t("flow_lapsed", left=text) if lapsed else text


# the guard: before every other handler ---------------------------------------------------------


def _command_of(update: Update) -> str | None:
    message = update.message
    if message is None or not message.text or not message.text.startswith("/"):
        return None
    return message.text.split()[0][1:].split("@")[0].lower()


def _belongs(conversation: Conversation, update: Update) -> bool:
    """Whether this command or button is part of the user's flow rather than a way out."""
    own = STEPS.get((conversation.flow, conversation.step))
    command = _command_of(update)
    if command is not None:
        if command == "done" and (conversation.flow, conversation.step) in DONE:
            return True
        return command == "cancel" or (own is not None and command in own.commands)
    query = update.callback_query
    if query is not None:
        data = query.data or ""
        if data == conversation.data.get("button"):
            return True  # the button that started this flow, tapped again
        return continues(conversation, buttons.kind_of(data))
    return True


async def guard(update: Update, context: Context) -> None:
    """Lapsed flows end (the user is told); a command or another button leaves the flow."""
    if update.edited_message is not None:
        await edited(update, context)
        raise ApplicationHandlerStop
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or chat.type != "private":
        return
    env = env_of(context)
    conversation = await current(context, user.id)
    if conversation is None:
        return
    if conversation.expired(env.now()):
        if await conversations.end(env, conversation):
            context.__dict__[FLOW_CACHE] = (user.id, None)
            await say(update, context, left_text(conversation, lapsed=True), answer=False)
        return
    if not _belongs(conversation, update) and await conversations.end(env, conversation):
        context.__dict__[FLOW_CACHE] = (user.id, None)
        await say(update, context, left_text(conversation), answer=False)


async def lapse_job(context: Context) -> None:
    """JobQueue: tell people whose prompt lapsed, without waiting for their next message."""
    env = env_of(context)
    for conversation in await conversations.lapse_expired(env):
        if (conversation.flow, conversation.step) in LAPSE_UNSAID:
            continue
        try:
            await context.bot.send_message(
                conversation.chat_id, left_text(conversation, lapsed=True)
            )
        except Exception as exc:  # noqa: BLE001 - one unreachable user must not stop the rest
            log.warning("lapse notice to %s failed: %s", conversation.user_id, type(exc).__name__)


# typed input -------------------------------------------------------------------------------------


def kind_of(update: Update) -> str | None:
    message = update.effective_message
    if message is None:
        return None
    if message.photo or message.document:
        return FILE
    if message.text or message.caption:
        return TEXT
    return None


async def route(update: Update, context: Context, conversation: Conversation) -> None:
    """Typed text, a photo or a file in a private chat: to the step waiting for it."""
    own = STEPS.get((conversation.flow, conversation.step))
    if own is None:  # a step this version no longer has (stored before an upgrade)
        await finish(context, conversation)
        await say(update, context, left_text(conversation))
        return
    kind = kind_of(update)
    if kind not in own.accepts:  # said plainly: nothing of this message was kept
        key = f"hint.{conversation.flow}.{conversation.step}"
        hint = t(key) if has(key) else t(f"hint.needs_{sorted(own.accepts)[-1]}")
        await say(
            update,
            context,
            t("not_kept", kind=name("not_kept", kind, default=t("not_kept.file")), hint=hint),
        )
        return
    await own.handler(update, context, conversation)


async def edited(update: Update, context: Context) -> None:
    """An edited message: taken where it can be (a part of a draft's description, of a report
    still open), else the user is told plainly that the edit changed nothing."""
    message = update.edited_message
    if message.chat.type != "private" or message.from_user is None:
        return
    conversation = await active(update, context)
    if conversation is not None:
        edit = STEPS.get((conversation.flow, "edit"))
        data = conversation.data
        ours = data.get("edit_message_id") == message.message_id or parts.holds(
            data.get("parts") or [], message.message_id
        )
        if edit is not None and ours:
            await edit.handler(update, context, conversation)
            return
    await say(update, context, t("edit_not_applied"))
