"""What people type, send or press outside any flow: an appeal number opens its card, a
question gets the buttons that answer it, media and stickers get a specific hint, and in a
group nothing personal is shown."""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.rules import checks
from bot.rules.model import Role
from bot.texts import t
from bot.usecases import appeals, people
from handlers import cases, filing, flow
from handlers.buttons import GROUP_KINDS, MENU_CHOICES, kind_of, pressed
from handlers.common import (
    Context,
    answer_button,
    caller,
    env_of,
    keyboard,
    refusals,
    removal_text,
    say,
)

NUMBER_IN_TEXT = re.compile(r"SQ-\d{4}-\d{6}", re.IGNORECASE)
# Commands that make sense in a department group (everything else is personal).
GROUP_COMMANDS = frozenset({"help"})
MENU = "menu"


def readable(value: object) -> bool:
    """Whether every text in a value (a message as Telegram sent it: its text, caption, a
    file's name, a contact's fields…) holds only characters: no lone UTF-16 surrogate,
    which no client types — only a forged update carries one, and nothing could store it."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(readable(k) and readable(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(readable(v) for v in value)
    return True


async def unreadable_guard(update: Update, context: Context) -> None:
    """A message with text that cannot be read as characters anywhere in it is answered (in
    a private chat) and goes no further, whatever it is (a command, a prompt's answer, a
    file). Buttons are read by the codec, which refuses such data itself."""
    message = update.effective_message
    if message is None or update.callback_query is not None:
        return
    if not (readable(message.text) and readable(message.caption)):
        pass  # refused below
    elif message.effective_attachment is None and message.forward_origin is None:
        return  # nothing else in it is text a person sent (a plain message: the usual case)
    elif readable(message.to_dict()):  # a file's name, a contact's fields, a forward's names
        return
    if update.effective_chat is not None and update.effective_chat.type == "private":
        await say(update, context, t("unreadable_text"))
    raise ApplicationHandlerStop


async def typed(update: Update, context: Context) -> None:
    """Typed text, a photo or a file in a private chat: the user's flow takes it, if any."""
    conversation = await flow.active(update, context)
    if conversation is not None:
        await flow.route(update, context, conversation)
    else:
        await understand(update, context)


ALBUM_ANSWERED = "album_answered"  # user_data: the album whose first item was answered


@refusals
async def understand(update: Update, context: Context) -> None:
    """A private message outside any flow. An album (photos sent together) is answered
    once, at its first item."""
    message = update.effective_message
    if message.media_group_id:
        if context.user_data.get(ALBUM_ANSWERED) == message.media_group_id:
            return
        context.user_data[ALBUM_ANSWERED] = message.media_group_id
    text = checks.without_invisible(message.text or message.caption or "")
    found = NUMBER_IN_TEXT.search(text)
    if found:
        await cases.show(update, context, found.group(0))
        return
    env, who = env_of(context), caller(update)
    files = bool(message.photo or message.document)
    waiting = None  # one reading: who they are, and with words what waits for their tap
    if text.strip() and not files:
        waiting = await appeals.waiting(env, who)
        actor, removal = waiting.actor, waiting.removal
    else:
        known = await people.identify(env, who)
        actor, removal = known.actor, known.removal
    if removal is not None:  # a removed contact: whatever they send, say so and whom to ask
        await say(update, context, removal_text(removal))
        return
    if files:
        staff = actor.is_staff or actor.role is Role.ADMIN
        await say(update, context, t("hint.file_outside_flow" + (".staff" if staff else "")))
        return
    if not text.strip():
        await say(update, context, t("hint.unsupported_message"))
        return
    if await cases.typed_choice(update, context, waiting):  # a card waits for this person's tap
        return
    if actor.role is Role.ENTERPRISE:
        rows = [[(t("button.my"), f"{MENU}:my"), (t("button.new"), f"{MENU}:new")]]
        await say(update, context, t("free_text.enterprise"), keyboard(rows))
    elif actor.is_staff or actor.role is Role.ADMIN:
        rows = [[(t("button.inbox"), f"{MENU}:inbox"), (t("button.overdue"), f"{MENU}:overdue")]]
        await say(update, context, t("free_text.staff"), keyboard(rows))
    else:
        await say(update, context, t("free_text.guest"))


MENU_ACTIONS = dict(
    zip(MENU_CHOICES, (cases.my, filing.new, cases.inbox, cases.overdue), strict=True)
)


@refusals
async def menu_pressed(update: Update, context: Context) -> None:
    """The buttons offered for free text."""
    await MENU_ACTIONS[pressed(update.callback_query.data, MENU).arg](update, context)


async def other_update(update: Update, context: Context) -> None:
    """Voice, stickers, video, locations … in a private chat: say what the bot can take."""
    await say(update, context, t("hint.unsupported_message"))


# groups ------------------------------------------------------------------------------------


def _group_may_press(data: str) -> bool:
    """In a department group only what needs no private input and shows nothing: 签收.
    Routed by its kind alone: its ids are read (or refused as unknown) by its handler."""
    return kind_of(data) in GROUP_KINDS


async def group_guard(update: Update, context: Context) -> None:
    """In a group: commands answer "请在私聊中使用"; buttons other than 签收 say so to the
    presser alone; other messages are not for the bot. Nothing personal is ever shown."""
    chat = update.effective_chat
    if chat is None or chat.type == "private":
        return
    message = update.message
    if message is not None and message.text and message.text.startswith("/"):
        command = message.text.split()[0][1:].split("@")[0].lower()
        if command not in GROUP_COMMANDS:
            await say(update, context, t("private_only"))
            raise ApplicationHandlerStop
        return
    query = update.callback_query
    if query is not None:
        if _group_may_press(query.data or ""):
            return
        await answer_button(query, t("private_only"), alert=True)
        raise ApplicationHandlerStop
    raise ApplicationHandlerStop
