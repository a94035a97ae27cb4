"""查看附件: the files of an appeal or a task, sent to whoever presses the button and may
see them (the use case checks; an appeal's contacts get only what is theirs to read)."""

from __future__ import annotations

from telegram import Update

from bot.texts import t
from bot.usecases import appeals
from bot.usecases import tasks as ledger
from handlers.buttons import APPEAL_FILES, TASK_FILES, pressed
from handlers.common import Context, answer_button, caller, env_of, refusals, say
from handlers.courier import Part, file_parts, send_files


async def _send(update: Update, context: Context, parts: list[Part], what: str) -> None:
    """The files to the presser (a card is pressed in a private chat: in a group only 签收
    may be pressed), the press answered first; a file Telegram no longer takes does not
    stop the others, and the presser is told how many could not be sent."""
    if not parts:
        await say(update, context, t("files_none", what=what))
        return
    await answer_button(update.callback_query)  # an old press: the files still go
    refused = await send_files(context.bot, update.effective_chat.id, parts)
    if refused == len(parts):
        await say(update, context, t("files_refused_all", what=what, count=refused), answer=False)
    elif refused:
        await say(update, context, t("files_refused", count=refused), answer=False)


@refusals
async def appeal_files_pressed(update: Update, context: Context) -> None:
    """查看附件 on an appeal's card."""
    button = pressed(update.callback_query.data, APPEAL_FILES)
    appeal, files = await appeals.files(env_of(context), caller(update), button.item_id)
    what = t("file_of.appeal", number=appeal.number)
    await _send(update, context, file_parts(files, what), what)


@refusals
async def task_files_pressed(update: Update, context: Context) -> None:
    """查看附件 on a task's card."""
    button = pressed(update.callback_query.data, TASK_FILES)
    task, files = await ledger.files(env_of(context), caller(update), button.item_id)
    what = t("file_of.task", seq=task.seq)
    await _send(update, context, file_parts(files, what), what)
