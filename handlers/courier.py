"""The courier: sends what the outbox holds, within Telegram's limits, and retries.

Transient faults (timeouts, 5xx, 429) put a message back with a backoff (429: Telegram's
`retry_after`); permanent ones (blocked, chat not found) are recorded once and the person
is listed to the leaders in the daily report; a message Telegram refuses as such (any
other 400) is final at once and logged as an error. Every part of a message in several is
recorded as it is accepted, so a crash repeats at most the part in flight. The global
30 msg/s and 20/min per group are kept by python-telegram-bot's AIORateLimiter in
`appealdesk run`, with about one message a second per private chat added by
`handlers/limits.py`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import date
from functools import partial

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from bot.digest_files import LeadersPack
from bot.digest_text import TELEGRAM_LIMIT, capped, split_message, week_name
from bot.pack_worker import leaders_pack
from bot.rules import checks, delivery
from bot.rules.model import (
    Actor,
    Attachment,
    Courier,
    Notice,
    Outgoing,
    Rating,
    Role,
)
from bot.telegram_limits import visible_length
from bot.texts import has, name, t
from bot.texts.events import person_name
from bot.usecases import broadcasts, ladder, monthly, outbox, people, reports
from bot.usecases.env import Env
from handlers import broadcast_text, limits, monthly_text
from handlers.common import (
    Context,
    env_of,
    esc,
    fitted,
    keyboard,
    removed_text,
    retrying,
    say,
)
from handlers.instances import renewing
from handlers.ordering import KeyedLocks
from handlers.render import (
    action_markup,
    appeal_fields,
    ladder_notice,
    notice,
    reopen_how,
    task_button_row,
    task_notice,
)

log = logging.getLogger(__name__)

# bot_data flag set by `appealdesk run`: an action's notices are sent by a task of their own.
SEND_IN_BACKGROUND = "send_notices_in_background"

# Stored acknowledgements whose live wording asks for more input: the stored copy only reports.
STORED_ACK_KEYS = {
    "done.rate": "ack.rated",
    "done.reopen": "ack.reopened",
    "done_task.report": "ack.task_report",
}


# People named in the leaders' daily list of those the bot cannot reach (most missed first).
UNREACHABLE_LISTED = 50


class Gone(Exception):
    """What a message was about no longer exists."""


async def _appeal_message(env: Env, item: Outgoing) -> tuple[str, InlineKeyboardMarkup | None]:
    subject = await outbox.subject_of(env, item)
    if subject is None or subject.appeal is None:
        raise Gone()
    appeal = subject.appeal
    if item.kind != "ack":
        note = Notice(item.chat_id, item.kind, appeal, item.detail)
        return notice(note, env, subject.actions, extension_pending=subject.extension_pending)
    key = STORED_ACK_KEYS.get(item.detail["key"], item.detail["key"])
    params = dict(item.detail.get("params") or {})
    category = env.org.category_by_name(appeal.category)
    fields = appeal_fields(appeal, env)
    fields.update(
        days=category.time_limit_days if category else "",
        rating=name("rating", appeal.rating or Rating.DISSATISFIED),
        new_due=str(params.get("new_due", fields["due"])),
        how=reopen_how(params, appeal),
    )
    text = t(key, **fields)
    if params.get(delivery.UNHEARD):  # as the first answer said it (handlers/filing.py)
        text += "\n" + t("filed_unheard")
    return text, action_markup(appeal, subject.actions or [])


async def _recipient(env: Env, chat_id: int) -> Actor | None:
    """Who a notice goes to, looked up once per message: None for a group."""
    return None if delivery.is_group(chat_id) else await people.actor_for(env, chat_id)


async def _task_message(env: Env, item: Outgoing) -> tuple[str, InlineKeyboardMarkup | None]:
    subject = await outbox.subject_of(env, item)
    if subject is None or subject.task is None:
        raise Gone()
    task = subject.task
    if item.kind == "ack":
        key = STORED_ACK_KEYS.get(item.detail["key"], item.detail["key"])
        return t(key, seq=task.seq), keyboard([task_button_row(task)])
    kind, text = item.kind.removeprefix("task_"), item.detail.get("text", "")
    return task_notice(task, kind, text, leader=item.chat_id in env.leaders)


# One thing to send: ("text", text, markup), ("photo", image, caption),
# ("document", content, (file name, caption)) or ("file", file_id, (kind, caption)).
Part = tuple[str, object, object]
# The leaders' chart and ledger of a week, prepared once however many leaders get them
# (being built, or built: leaders' sends at the same moment wait for the same pack).
_PACKS: dict[str, asyncio.Future[LeadersPack]] = {}


async def _digest_parts(env: Env, item: Outgoing) -> list[Part]:
    label, audience = item.detail["week"], item.detail["audience"]
    archived = await reports.stored(env, label, audience)
    if archived is None:
        raise Gone()
    if item.kind == "digest":
        return [("text", piece, None) for piece in split_message(archived.text)]
    building = _PACKS.get(label)
    if (
        building is None
        or building.get_loop() is not asyncio.get_running_loop()  # a previous run's
        or building.done()
        and building.exception() is not None
    ):
        _PACKS.clear()  # one week's pack at a time; a failed one is built again
        week = checks.parse_week(label)
        building = _PACKS[label] = asyncio.ensure_future(leaders_pack(env, week, archived.text))
    # shielded: a leader's send called off does not call off the pack the others wait for
    return pack_parts(await asyncio.shield(building))


def pack_parts(pack: LeadersPack) -> list[Part]:
    """The leaders' chart (or why it is missing) and the year's ledger."""
    parts: list[Part] = []
    if pack.chart is not None:
        parts.append(("photo", pack.chart, t("digest_chart_caption", week=week_name(pack.week))))
    else:
        parts.append(("text", t("digest_chart_failed", reason=esc(pack.chart_error)), None))
    caption = t(
        "digest_ledger_caption",
        start=pack.ledger_start or date(pack.week.end.year, 1, 1),
        end=pack.ledger_end or pack.week.end,
        count=pack.ledger_count,
    )
    if pack.year_too_large:
        caption += "\n" + t("digest_ledger_week_only")
    parts.append(("document", pack.ledger, (pack.ledger_name, caption)))
    return parts


def file_parts(files: list[Attachment], label: str) -> list[Part]:
    """Stored files sent again by their Telegram file_id, each captioned with what it
    belongs to (`label`: 诉求 SQ-… or 第N项整改任务), its place among them and its name."""
    return [
        (
            "file",
            item.file_id,
            (
                item.kind,
                t(
                    "file_caption",
                    what=label,
                    n=n,
                    count=len(files),
                    name=esc(f"：{item.file_name}") if item.file_name else "",
                ),
            ),
        )
        for n, item in enumerate(files, start=1)
    ]


async def _announced_files(env: Env, item: Outgoing) -> list[Part]:
    """The files a notice announces, to follow its text (none when it names none)."""
    found = await outbox.announced(env, item)
    if not found.files:
        return []
    if found.task is not None:
        label = t("file_of.task", seq=found.task.seq)
    elif found.appeal is not None:
        label = t("file_of.appeal", number=found.appeal.number)
    else:
        label = ""
    return file_parts(found.files, label)


async def send_part(bot: Bot, chat_id: int, part: Part) -> None:
    kind, body, extra = part
    if kind == "file":  # a stored file, by the file_id Telegram gave it
        file_kind, caption = extra
        if file_kind == "photo":
            await bot.send_photo(chat_id, body, caption=caption)
        else:
            await bot.send_document(chat_id, body, caption=caption)
    elif kind == "photo":
        await bot.send_photo(chat_id, body, caption=extra)
    elif kind == "document":
        name_, caption = extra
        await bot.send_document(chat_id, body, filename=name_, caption=caption)
    else:
        await bot.send_message(chat_id, body, reply_markup=extra)


async def send_files(bot: Bot, chat_id: int, parts: list[Part]) -> int:
    """Stored files sent at once to the person who asked for them (查看附件), each on its own
    and tried again on a transient fault as any answer is; one Telegram refuses (a file_id
    it no longer takes) is logged and skipped, as the courier skips it after a notice, and
    the rest still go. Returns how many were refused."""
    refused = 0
    for n, part in enumerate(parts, start=1):
        try:
            await retrying(lambda part=part: send_part(bot, chat_id, part))
        except TelegramError as exc:
            if fault_of(exc) is not delivery.Fault.REFUSED:
                raise
            log.error(
                "file %s of %s to %s refused by Telegram, skipped: %s", n, len(parts), chat_id, exc
            )
            refused += 1
    return refused


# Notices listed in one message at most; a longer list follows in further messages.
LIST_CHUNK = 8
# Notices a sweep's list names (the most urgent), in three messages; it gives the count of
# the rest, which /overdue, /inbox and /tasks list.
LADDER_LISTED = 3 * LIST_CHUNK
# Room for a list's items in one message (its header and marks take the rest).
LIST_TEXT_ROOM = TELEGRAM_LIMIT - 200
# Circled numbers mark a list's items and their buttons (which otherwise read alike).
_MARKS = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


def item_mark(n: int) -> str:
    return _MARKS[n - 1] if 1 <= n <= len(_MARKS) else f"({n})"


Worded = tuple[str, InlineKeyboardMarkup | None]


def listed(
    numbered: list[tuple[int, Worded]], header: Callable[[int, int], str]
) -> list[tuple[list[int], Part]]:
    """Several messages to one person as a list — each item carries its number, and so do
    its buttons — in as few messages as the length limit and LIST_CHUNK allow; with each
    part, the numbers of the items it carries. Cut greedily from the first item, so the
    rest of a list cut at a part's end is cut as it was the first time."""
    groups: list[list[int]] = [[]]
    length = 0
    for at, (_, (text, _)) in enumerate(numbered):
        if groups[-1] and (
            len(groups[-1]) == LIST_CHUNK or length + visible_length(text) + 8 > LIST_TEXT_ROOM
        ):
            groups.append([])
            length = 0
        groups[-1].append(at)
        length += visible_length(text) + 8
    parts = []
    for group in groups:
        numbers = [numbered[at][0] for at in group]
        texts, rows = [header(numbers[0], numbers[-1])], []
        for n, (text, markup) in (numbered[at] for at in group):
            mark = item_mark(n)
            texts.append(f"{mark} {text}")
            for row in markup.inline_keyboard if markup else ():
                rows.append([button_marked(button, mark) for button in row])
        markup = InlineKeyboardMarkup(rows) if rows else None
        parts.append((numbers, ("text", "\n\n".join(texts), markup)))
    return parts


def span(kind: str, first: int, last: int) -> str:
    """Which items a part of a list holds: 第 9–12 件, or 第 9 件 for one."""
    key = f"{kind}.list_span_one" if first == last else f"{kind}.list_span"
    return t(key, first=first, last=last)


def button_marked(button: InlineKeyboardButton, mark: str) -> InlineKeyboardButton:
    # The label first (签收 ①): it is what people look for; the mark tells them apart.
    return InlineKeyboardButton(f"{button.text} {mark}", callback_data=button.callback_data)


async def _list_parts(env: Env, item: Outgoing) -> list[Step]:
    """Several notices owed to one person by a sweep: a list of the first LADDER_LISTED
    (the sweep keeps the most urgent first), each with its buttons, the rest counted; the
    items Telegram already accepted (`progress`) are not listed again, nor those no longer
    the recipient's (`withheld`); every item keeps its number."""
    ids = item.detail["notices"]
    named = ids[:LADDER_LISTED]
    total = len(ids) + int(item.detail.get("more", 0))
    withheld = set(item.detail.get("withheld", ()))
    recipient = await _recipient(env, item.chat_id)
    numbered = []
    for n, notice_id in enumerate(named, start=1):
        owed = None
        if n > item.progress and notice_id not in withheld:
            owed = await ladder.item(env, notice_id)
        if owed is not None:
            allowed = outbox.may_do(env, recipient, owed.appeal) if owed.appeal else None
            numbered.append((n, ladder_notice(owed, env, item.chat_id, allowed)))
    if not numbered:
        if item.progress:
            return []  # what had not gone no longer exists
        raise Gone()
    parts = listed(
        numbered,
        lambda first, last: t("ladder.list_header", count=total, span=span("ladder", first, last)),
    )
    steps = [(numbers[-1], part) for numbers, part in parts]
    if total > len(named):
        went, (kind, text, markup) = steps[-1]
        more = t("ladder.list_more", shown=len(named), total=total)
        steps[-1] = (went, (kind, f"{text}\n\n{more}", markup))
    return steps


# A part to send, with how far its message has gone once Telegram accepted it.
Step = tuple[int, Part]


async def parts_of(env: Env, item: Outgoing) -> list[Step]:
    """What of a stored message is still to send, part by part: a part Telegram accepted
    before a crash is not sent again."""
    if item.kind == ladder.LIST:
        return await _list_parts(env, item)
    if item.subject == "digest":
        parts = await _digest_parts(env, item)
    elif item.subject == "broadcast" and item.kind == broadcasts.MESSAGE:
        return await _broadcast_parts(env, item)
    else:
        text, markup = await render(env, item)
        # a text over Telegram's limit goes in pieces, the buttons under the last
        parts = [("text", piece, buttons) for piece, buttons in fitted(text, markup)]
        files = await _announced_files(env, item)
        if files:
            return with_files(item, parts, files)
    return list(enumerate(parts, start=1))[item.progress :]


def with_files(item: Outgoing, text: list[Part], files: list[Part]) -> list[Step]:
    """A notice's text, then the files it announces, what is still to send of them. The
    files are counted from the number of pieces the text was cut into when it first went
    (kept in the row, `delivery.PIECES`), so that after a crash the same file comes next
    even if the text now reads differently, in more or fewer pieces; a text cut short by
    the crash goes on with the pieces after those that went."""
    pieces = int(item.detail.get(delivery.PIECES) or len(text))
    steps = [(min(n, pieces), part) for n, part in enumerate(text, start=1) if n > item.progress]
    if item.progress >= pieces:
        steps = []
    steps += [(pieces + n, part) for n, part in enumerate(files, start=1)]
    return [(went, part) for went, part in steps if part[0] == "text" or went > item.progress]


async def _broadcast_parts(env: Env, item: Outgoing) -> list[Step]:
    """A 政策宣贯: its text with 已阅 / 咨询, then its files (resumed part by part)."""
    found = await broadcasts.stored(env, item.subject_id or 0)
    if found is None:
        raise Gone()
    day = found.broadcast.send_at.astimezone(env.zone).date().isoformat()
    text, markup = broadcast_text.message(found.broadcast, day)
    parts: list[Part] = [("text", piece, buttons) for piece, buttons in fitted(text, markup)]
    label = t("file_of.broadcast", title=esc(found.broadcast.title))
    return with_files(item, parts, file_parts(found.files, label))


async def render(env: Env, item: Outgoing) -> tuple[str, InlineKeyboardMarkup | None]:
    """The message as it reads now: wording from the catalog, data from the database."""
    if item.kind == delivery.ANSWER:  # an answer owed to the person who acted, as worded
        rows = [[tuple(b) for b in row] for row in item.detail.get("buttons") or []]
        return str(item.detail["text"]), keyboard(rows) if rows else None
    if item.subject == "appeal":
        return await _appeal_message(env, item)
    if item.subject == "task":
        return await _task_message(env, item)
    if item.subject == "notice":
        owed = await ladder.item(env, item.subject_id)
        if owed is None:
            raise Gone()
        recipient = await _recipient(env, item.chat_id)
        allowed = outbox.may_do(env, recipient, owed.appeal) if owed.appeal else None
        return ladder_notice(owed, env, item.chat_id, allowed)
    if item.kind == "unreachable_report":
        return await _unreachable_report(env, item), None
    if item.subject == "enterprise" and item.kind == people.CONTACT_REMOVED:
        removed = await removed_text(env, item.chat_id)  # None: joined again since
        if removed is None:
            raise Gone()
        return removed, None
    if item.subject == "enterprise" and item.kind == people.CONTACT_JOINED:
        return await _joined_text(env, item), None
    if item.subject == monthly.SUBJECT and item.kind == monthly.NOTICE:
        view = await monthly.notice_view(env, item.subject_id or 0)
        if view is None:
            raise Gone()
        return monthly_text.notice(view)
    if item.subject == monthly.SUBJECT and item.kind == monthly.LEADERS:
        views = await monthly.leaders_view(env, [int(n) for n in item.detail.get("notices", [])])
        text = monthly_text.leaders_list(views)
        if text is None:  # every one of them reported since
            raise Gone()
        return text, None
    if item.subject == "broadcast" and item.kind == broadcasts.DONE:
        found = await broadcasts.stored(env, item.subject_id or 0, with_reach=True)
        if found is None or found.reach is None:
            raise Gone()
        b = found.broadcast
        text = t("broadcast_done", title=esc(b.title), reach=broadcast_text.reach_text(found.reach))
        return text, broadcast_text.status_markup(b, False)
    if item.subject is None and has(item.kind):
        return operator_notice(item.kind, item.detail), None
    raise Gone()


async def _joined_text(env: Env, item: Outgoing) -> str:
    """The first contact told that a colleague joined (the colleague as they gave it)."""
    enterprise = await people.enterprise(env, item.subject_id)
    if enterprise is None:
        raise Gone()
    detail = item.detail
    return t(
        "colleague.joined_notice",
        enterprise=esc(enterprise.name),
        name=esc(person_name(str(detail.get("name", "")), Role.ENTERPRISE)),
        phone=esc(detail.get("phone", "")),
    )


def operator_notice(kind: str, detail: dict[str, object]) -> str:
    """A notice to the operators (a group's new id, departments nobody joined, a calendar
    year missing): its stored words — department names from the org config — reach the
    HTML escaped; numbers stay as they are."""
    return t(kind, **{key: esc(v) if isinstance(v, str) else v for key, v in detail.items()})


def person_label(found: str | None, chat: int, env: Env) -> str:
    """A person in the unreachable list: their name; their role when they have none to show
    (`outbox.names_of` gives the role then); a leader (not stored) by role."""
    if found is None:
        return t("leader_actor") if chat in env.leaders else str(chat)
    return name("role", found) if found in frozenset(Role) else found


async def _unreachable_report(env: Env, item: Outgoing) -> str:
    """The leaders' daily list: people are asked to /start the bot; a group is added the
    bot back, or its chat_id is corrected in the org config. Those with the most missed
    messages are named, the rest counted."""
    lost = [(int(chat), int(n)) for chat, n in item.detail.get("people", [])]
    groups = [(int(chat), int(n), str(why)) for chat, n, why in item.detail.get("groups", [])]
    people_named = sorted(lost, key=lambda p: -p[1])[:UNREACHABLE_LISTED]
    groups_named = sorted(groups, key=lambda g: -g[1])[:UNREACHABLE_LISTED]
    names = await outbox.names_of(
        env, [chat for chat, _ in people_named] + [g[0] for g in groups_named]
    )
    parts = []
    if lost:
        lines = [
            t("unreachable_line", who=esc(person_label(names.get(chat), chat, env)), messages=n)
            for chat, n in people_named
        ]
        lines = capped(lines, len(lost), "unreachable_more")
        parts.append(t("unreachable_report", count=len(lost), lines="\n".join(lines)))
    if groups:
        lines = [
            t(f"unreachable_group.{why}", who=esc(names.get(chat, "")), chat=chat, messages=n)
            for chat, n, why in groups_named
        ]
        lines = capped(lines, len(groups), "unreachable_groups_more")
        parts.append(t("unreachable_groups", count=len(groups), lines="\n".join(lines)))
    return "\n\n".join(parts)


# Messages to one chat go one at a time: notices that pile up meanwhile (a Monday burst)
# wait for it and then go together, as one list.
_CHAT_TURNS = KeyedLocks()


async def deliver(bot: Bot, env: Env, item: Outgoing) -> int:
    """Send one stored message unless another sender has it; a notice about an appeal
    takes along the others waiting for the same person. A chat's messages go one at a time
    (a digest's parts in order, and a crash finds at most one part in flight to a chat).
    Returns how many went out now."""
    async with _CHAT_TURNS.hold(item.chat_id):
        # its patience counts from when it fell due, not from its turn for the chat: the
        # notices queued behind one another for a chat would each wait it out again
        due = item.due_at or item.created_at
        await limits.notices_turn(bot, (env.now() - due).total_seconds())
        if not delivery.joins_lists(item.subject, item.priority, item.detail):
            taken = await outbox.take(env, item.id)
            return await _send(bot, env, [taken]) if taken else 0
        return await _send(bot, env, await outbox.take_with_others(env, item, LIST_CHUNK))


# While a claim is being sent its lease is renewed this often (a notice may wait longer than
# a lease for its place in a burst: another sender must not take it meanwhile).
KEEP_SECONDS = delivery.LEASE.total_seconds() / 3


async def _send(bot: Bot, env: Env, batch: list[Outgoing]) -> int:
    """Send what was claimed, part by part. Each part is recorded the moment Telegram has
    accepted it — the messages it completes as sent, else how far its message has gone —
    so a crash repeats at most the part in flight. The claim's lease is renewed while it
    is sent, and each part first checks the claim is still this sender's (fenced by its
    attempt count: see `outbox.still_ours`)."""
    if not batch:
        return 0
    if 1 < len(batch) and not delivery.as_list(len(batch)) and batch[0].list_id is None:
        # one or two notices that waited together stay plain messages, each on its own
        return sum([await _send(bot, env, [item]) for item in batch])
    ids = [item.id for item in batch]
    async with renewing(partial(outbox.still_ours, env, batch), KEEP_SECONDS, f"outbox {ids}"):
        return await _send_claimed(bot, env, batch)


async def _send_claimed(bot: Bot, env: Env, batch: list[Outgoing]) -> int:
    sent = 0
    planned = await _batch_parts(env, batch)
    # what the parts carry (a message found gone was recorded so and is left out)
    unsent = [item for item in batch if any(item in done for done, _, _ in planned)]
    head = batch[0]
    files_follow = len(batch) == 1 and delivery.announces_files(head.detail)
    pieces = None  # the text's pieces, kept with the first part of a notice with files
    if files_follow and not head.progress and delivery.PIECES not in head.detail:
        pieces = sum(1 for _, _, part in planned if part[0] == "text")
    for done, went, part in planned:
        if not await outbox.still_ours(env, unsent):
            # its lease ran out while it waited for a place; another sender has it now
            log.info("outbox %s taken over by another sender", [i.id for i in unsent])
            return sent
        try:
            await send_part(bot, head.chat_id, part)
        except TelegramError as exc:
            refused = fault_of(exc) is delivery.Fault.REFUSED
            if refused and part[0] == "file":
                # one stored file Telegram no longer takes: the operator hears of it, the
                # notice it follows was heard and its other files still go
                log.error(
                    "outbox %s file %s to %s refused by Telegram, skipped: %s",
                    head.id, went, head.chat_id, exc,
                )  # fmt: skip
            elif refused and done and len(done) < len(unsent):
                # the part itself was refused: its items end, the other parts still go
                await _not_sent(bot, env, done, exc)
                unsent = [item for item in unsent if item not in done]
                continue
            elif refused and not done and not files_follow:
                # a part of one message in several (a sweep's list, a long text): the
                # operator hears of it, the message goes on with its other parts
                log.error(
                    "outbox %s part %s to %s refused by Telegram, skipped: %s",
                    head.id, went, head.chat_id, exc,
                )  # fmt: skip
            else:
                # a notice's text refused: not sent, and no file goes without it
                await _not_sent(bot, env, unsent, exc)
                return sent
        if done:
            await outbox.sent(env, *(item.id for item in done))
            unsent = [item for item in unsent if item not in done]
            sent += len(done)
        else:
            await outbox.advanced(env, head.id, went, pieces)
            pieces = None
    return sent


# A part with the stored messages it completes ([]: one message of several parts, which
# has then gone as far as the number says).
Planned = tuple[list[Outgoing], int, Part]


async def _batch_parts(env: Env, batch: list[Outgoing]) -> list[Planned]:
    """The parts to send; what no longer exists is recorded as gone and left out. Several
    notices become a list, or go on with the list they were sent in before a crash."""
    if len(batch) == 1 and batch[0].list_id is None:
        item = batch[0]
        try:
            steps = await parts_of(env, item)
        except Gone:
            await outbox.gone(env, item)
            return []
        if not steps:  # every part had gone: only the record was missing
            await outbox.sent(env, item.id)
            return []
        planned: list[Planned] = [([], went, part) for went, part in steps[:-1]]
        return [*planned, ([item], steps[-1][0], steps[-1][1])]
    worded: list[Worded] = []
    kept: list[Outgoing] = []
    for item in batch:
        try:
            worded.append(await _appeal_message(env, item))
            kept.append(item)
        except Gone:
            await outbox.gone(env, item)
    list_id = batch[0].list_id
    if not kept:
        return []
    if list_id is None and not delivery.as_list(len(kept)):
        return [
            ([item], 1, ("text", text, markup))
            for item, (text, markup) in zip(kept, worded, strict=True)
        ]
    if list_id is None:
        await outbox.form_list(env, [item.id for item in kept])
        order = [item.id for item in kept]
    else:  # the rest of a list a crash interrupted: numbered as it was
        order = await outbox.list_items(env, list_id)
    number = {outgoing_id: n for n, outgoing_id in enumerate(order, start=1)}
    by_number = {number[item.id]: item for item in kept}
    parts = listed(
        [(number[item.id], w) for item, w in zip(kept, worded, strict=True)],
        lambda first, last: t(
            "notice.list_header", count=len(order), span=span("notice", first, last)
        ),
    )
    return [([by_number[n] for n in numbers], numbers[-1], part) for numbers, part in parts]


def fault_of(exc: TelegramError) -> delivery.Fault:
    """What a refused send means for the message (the rule is `delivery.fault`)."""
    if isinstance(exc, RetryAfter):
        status: int | None = 429
    elif isinstance(exc, Forbidden):
        status = 403
    elif isinstance(exc, BadRequest | ChatMigrated):
        status = 400
    else:  # timeouts, 5xx, the network, and faults of the bot's own setup (token, conflict)
        status = None
    return delivery.fault(status, exc.message)


async def _not_sent(bot: Bot, env: Env, items: list[Outgoing], exc: TelegramError) -> None:
    """A failed send: transient faults put the messages back, permanent ones end them; a
    message Telegram refuses as such (a 400) is logged for the operator and never retried."""
    chat_id, ids = items[0].chat_id, [item.id for item in items]
    fault = fault_of(exc)
    if isinstance(exc, ChatMigrated) and exc.new_chat_id != chat_id:
        log.warning("outbox %s: group %s is now %s", ids, chat_id, exc.new_chat_id)
        await flush(bot, env, await outbox.chat_moved(env, chat_id, exc.new_chat_id))
    elif fault is delivery.Fault.FLOOD:
        assert isinstance(exc, RetryAfter)
        log.warning("outbox %s to %s: flood limit, retry after %s", ids, chat_id, exc)
        for item in items:
            await outbox.postpone(env, item, "429", _seconds(exc.retry_after))
    elif fault is delivery.Fault.RETRY:
        log.warning("outbox %s to %s postponed: %s", ids, chat_id, exc.message)
        for item in items:
            await outbox.postpone(env, item, exc.message[:200])
    else:
        refused = fault is delivery.Fault.REFUSED
        if refused:  # a fault of the message itself: the operator has to see it
            kinds = sorted({item.kind for item in items})
            log.error(
                "outbox %s %s to %s refused by Telegram, not retried: %s", ids, kinds, chat_id, exc
            )
        else:
            log.warning("outbox %s to %s unreachable: %s", ids, chat_id, exc.message)
        status = Courier.REFUSED if refused else Courier.FAILED
        for item in items:
            await flush(bot, env, await outbox.failed(env, item, exc.message[:200], status))


def _seconds(retry_after: object) -> float:
    seconds = getattr(retry_after, "total_seconds", None)
    return float(seconds() if seconds else retry_after)


async def flush(bot: Bot, env: Env, ids: tuple[int, ...] | list[int]) -> int:
    """Send the messages one action stored, right after the actor was answered."""
    sent = 0
    for item in await outbox.stored(env, ids):
        sent += await deliver(bot, env, item)
    return sent


async def drain(bot: Bot, env: Env, page: int = 100) -> int:
    """Send everything due until nothing is (what fails is rescheduled, not looped on)."""
    sent = 0
    tried: set[int] = set()
    while True:
        due = await outbox.due(env, page)
        batch = [item for item in due if item.id not in tried]
        if not batch:
            return sent
        # What was tried and is still due comes first again (the order is by priority and
        # due time): only the ids of this page need remembering, so a drain of 20,000
        # broadcast messages holds a page's ids, not all of them.
        tried = {item.id for item in due}
        for item in batch:
            sent += await deliver(bot, env, item)


async def confirm(
    update: Update,
    context: Context,
    text: str,
    markup: InlineKeyboardMarkup | None,
    ack_id: int | None,
    queued: tuple[int, ...] = (),
) -> None:
    """Answer the actor, then send what their action owes others. A failed answer is not
    an error for the user: the action is done and its stored confirmation follows (after
    the grace, as when the answer is merely slow)."""
    try:
        await say(update, context, text, markup, owed=False)
    except TelegramError as exc:
        log.warning("answer to %s failed, the outbox sends it: %s", _user_id(update), exc)
        ack_id = None
    await send_soon(context, queued, ack_id)


async def send_soon(
    context: Context, ids: tuple[int, ...] | list[int], answered: int | None = None
) -> None:
    """Mark the actor's stored confirmation `answered` as sent and send what the action owes
    others. In `appealdesk run` this is a task of its own, so the handler is done as soon as
    the actor is answered: their next update (typed the moment the answer arrives) need not
    wait for a write behind other people's transactions. The confirmation is due only
    after ACK_GRACE, so the courier does not send it meanwhile. The offline sandbox and the
    tests do it at once, in order. Either way the rows are stored: whatever this does not
    send, the courier job does."""
    if not ids and answered is None:
        return
    env = env_of(context)

    async def settle() -> None:
        if answered is not None:
            await outbox.sent(env, answered)
        if ids:
            await flush(context.bot, env, ids)

    if context.application.bot_data.get(SEND_IN_BACKGROUND):
        context.application.create_task(_as_notices(settle()))
    else:
        await settle()


async def _as_notices(sending: Awaitable[None]) -> None:
    """In a task of its own: what it sends waits for the answers to people in flight."""
    limits.bulk()
    await sending


def _user_id(update: Update) -> int | None:
    return update.effective_user.id if update.effective_user else None
