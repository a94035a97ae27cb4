"""Appeals, tasks and notices worded for chat: catalog texts filled in, with their buttons."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.digest_text import capped
from bot.rules import audiences, checks, delivery
from bot.rules.model import (
    Action,
    Appeal,
    AppealView,
    MessageKind,
    Notice,
    Rating,
    Role,
    Task,
    TaskState,
)
from bot.telegram_limits import cut
from bot.texts import has, name, t
from bot.texts.events import event_detail, person_name
from bot.usecases.env import Env
from bot.usecases.ladder import PendingNotice
from handlers.buttons import (
    APPEAL_FILES,
    EXT_NO,
    EXT_OK,
    RATING_CODES,
    VIEW,
    action_button,
    appeal_button,
    encode,
    task_view_button,
)
from handlers.common import esc, keyboard, local_time

SNIPPET = 300
# The latest messages, notices and history lines a card shows (the ledger has them all).
CARD_LATEST = 10
# Room for the person's own text quoted in a notice (a reply, a reason, a summary): with
# the notice's other fields it stays within one message; the rest is on the card.
QUOTE_ROOM = 2500


def snippet(text: str, length: int = SNIPPET) -> str:
    """The start of a user's text, at most `length` characters as Telegram counts, escaped."""
    return esc(cut(text, length))


def latest(header: str, lines: list[str], total: int) -> str:
    """A card's section: its header and latest lines, saying how many are not shown."""
    return "\n".join([header, *capped(lines, total, "card_more")])


def view_button(appeal: Appeal) -> tuple[str, str]:
    return t("button.view"), appeal_button(VIEW, appeal.id, appeal.version)


def rating_row(appeal: Appeal) -> list[tuple[str, str]]:
    row = [
        (name("rating", r), action_button(Action.RATE, appeal.id, appeal.version, RATING_CODES[r]))
        for r in (Rating.SATISFIED, Rating.BASIC)
    ]
    row.append(
        (
            name("rating", Rating.DISSATISFIED),
            action_button(Action.REOPEN, appeal.id, appeal.version),
        )
    )
    return row


def action_markup(appeal: Appeal, actions: list[Action]) -> InlineKeyboardMarkup | None:
    buttons = [
        (t(f"button.{a}"), action_button(a, appeal.id, appeal.version))
        for a in actions
        if a not in (Action.RATE, Action.REOPEN)
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    if Action.RATE in actions:
        rows.append(rating_row(appeal))
    return keyboard(rows) if rows else None


def _owner_name(appeal: Appeal) -> str:
    """Who has claimed it ("" while nobody has): their name, or 承办人 for one without."""
    return "" if appeal.owner_name is None else person_name(appeal.owner_name, Role.OFFICIAL)


def appeal_fields(appeal: Appeal, env: Env) -> dict[str, str]:
    return {
        "number": appeal.number,
        "enterprise": esc(appeal.enterprise_name),
        "category": esc(appeal.category),
        "state": name("state", appeal.state),
        "department": esc(appeal.department_name),
        "owner": esc(_owner_name(appeal)),
        "due": appeal.due_date.isoformat(),
        "claim_due": appeal.claim_due_date.isoformat(),
        "rating_due": appeal.rating_due_date.isoformat() if appeal.rating_due_date else "",
        "created": local_time(env, appeal.created_at),
        "description": snippet(appeal.description),
    }


def card(
    view: AppealView, env: Env, role: Role, departments: dict[str, str]
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The full appeal as one message, with the buttons this viewer may press."""
    appeal = view.appeal
    fields = appeal_fields(appeal, env)
    fields["owner"] = t("card_owner", name=fields["owner"]) if appeal.owner_name else ""
    fields["description"] = esc(appeal.description)
    parts = [t("card", **fields)]
    if view.attachments:
        parts.append(t("card_attachments", count=view.attachments))
    if appeal.round_resolution:
        parts.append(t("card_resolution", resolution=esc(appeal.round_resolution)))
    if appeal.round_rating:
        parts.append(t("card_rating", rating=name("rating", appeal.round_rating)))
    earlier = appeal.earlier_round
    if earlier and earlier[0]:  # reopened: what the round before ended with, marked so
        rating = name("rating", earlier[1]) if earlier[1] else t("card_earlier_unrated")
        parts.append(t("card_earlier_round", resolution=snippet(earlier[0], 200), rating=rating))
    if view.messages:
        lines = [
            t(
                "card_message_line",
                time=local_time(env, m.created_at),
                kind=name("message_kind", m.kind),
                author=esc(person_name(m.author_name, m.author_role)),
                internal=t("card_internal") if m.kind == MessageKind.NOTE else "",
                text=snippet(m.text or t("attachment_only"), 200),
            )
            for m in view.messages[-CARD_LATEST:]
        ]
        parts.append(latest(t("card_messages"), lines, len(view.messages)))
    if view.notices:
        lines = [
            t(
                "card_notice_line",
                time=local_time(env, n.created_at),
                serial=n.serial,
                name=name("notice_kind", n.kind, default=n.kind),
            )
            for n in view.notices[-CARD_LATEST:]
        ]
        parts.append(latest(t("card_notices"), lines, len(view.notices)))
    if view.events and role is not Role.ENTERPRISE:
        lines = []
        for e in view.events[-CARD_LATEST:]:
            detail = event_detail(e.action, e.detail, departments)
            lines.append(
                t(
                    "card_event_line",
                    time=local_time(env, e.created_at),
                    action=name("event", e.action, default=e.action),
                    actor=esc(person_name(e.actor_name, e.actor_role)),
                    detail=("：" + snippet(detail, 100)) if detail else "",
                )
            )
        parts.append(latest(t("card_history"), lines, len(view.events)))
    return "\n\n".join(parts), with_files(
        action_markup(appeal, view.actions), APPEAL_FILES, appeal.id, view.attachments
    )


def with_files(
    markup: InlineKeyboardMarkup | None, kind: str, item_id: int, count: int
) -> InlineKeyboardMarkup | None:
    """A card's buttons and, when it has files, 查看附件（N） under them."""
    if not count:
        return markup
    row = [
        InlineKeyboardButton(t("button.files", count=count), callback_data=encode(kind, item_id))
    ]
    return InlineKeyboardMarkup([*(markup.inline_keyboard if markup else ()), row])


def list_text(
    header: str, appeals: list[Appeal], staff: bool, total: int, more_key: str
) -> tuple[str, InlineKeyboardMarkup]:
    """A list of appeals: their lines, how many are not shown and where they are, and a
    查看 button for each of the first ones."""
    lines = []
    for a in appeals:
        key = "list_line_staff" if staff else "list_line"
        lines.append(
            t(
                key,
                number=a.number,
                enterprise=esc(a.enterprise_name),
                category=esc(a.category),
                state=name("state", a.state),
                due=a.due_date.isoformat(),
            )
        )
    rows = [
        [(f"{t('button.view')} {a.number}", appeal_button(VIEW, a.id, a.version))]
        for a in appeals[:10]
    ]
    return "\n".join([header, *capped(lines, total, more_key)]), keyboard(rows)


def quoted(text: str, where: str) -> str:
    """A person's text quoted in a notice: whole when it leaves room for the rest of the
    notice, else its start and `where` it can be read whole."""
    shown = cut(text, QUOTE_ROOM)
    return esc(shown) + (where if shown != text else "")


def _notice_text_value(detail: dict) -> str:
    for key in ("text", "reason"):
        if detail.get(key):
            return str(detail[key])
    return t("attachment_only") if detail.get("files") else ""


def reopen_how(detail: dict, appeal: Appeal) -> str:
    """How a reopened appeal's deadline was set, in brackets ('' for a detail without it)."""
    basis = str(detail.get("due_basis", ""))
    if not has(f"reopen_how.{basis}"):
        return ""
    fresh = detail.get("fresh_due", "")
    return t(
        f"reopen_how.{basis}",
        category=esc(appeal.category),
        days=detail.get("days", ""),
        fresh_due=fresh.isoformat() if hasattr(fresh, "isoformat") else str(fresh),
    )


def notice(
    note: Notice,
    env: Env,
    allowed: Sequence[str] | None = None,
    extension_pending: bool = False,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """A notice worded for its recipient, with the buttons of their next step (`allowed`:
    what the recipient may do now; None for a group; `extension_pending`: the extension
    request it is about still waits for its decision)."""
    appeal = note.appeal
    fields = appeal_fields(appeal, env)
    where = t("notice_cut", number=appeal.number)
    fields["text"] = quoted(_notice_text_value(note.detail), where)
    for key in ("new_due", "old_due"):
        if key in note.detail:
            fields[key] = str(note.detail[key])
    fields["how"] = reopen_how(note.detail, appeal)
    if note.kind == "rated":
        fields["rating"] = name("rating", appeal.rating) if appeal.rating else ""
    if note.kind == delivery.UNDELIVERED:
        fields.update(_undelivered_fields(note.detail))
    key = f"notice.{note.kind}"
    if note.detail.get("reason") and has(f"notice_with_reason.{note.kind}"):
        key = f"notice_with_reason.{note.kind}"  # a refusal that gave its reason says it
    text = t(key, **fields)
    if note.detail.get("unheard"):
        text += "\n" + t("notice_unheard", department=fields["department"])
    markup = next_step_markup(
        note.kind, appeal, env, note.chat_id, allowed, note.detail, extension_pending
    )
    return text, markup


def next_step_markup(
    kind: str,
    appeal: Appeal,
    env: Env,
    chat_id: int | None,
    allowed: Sequence[str] | None,
    detail: dict | None = None,
    extension_pending: bool = False,
) -> InlineKeyboardMarkup:
    """The buttons of the recipient's next step (`audiences.NEXT_STEPS`, as far as
    `allowed` — what they may do now; None: a department group — lets), then 查看."""
    leader = chat_id in env.leaders
    steps = audiences.next_steps(kind, appeal, allowed, leader, extension_pending)
    view = view_button(appeal)
    if audiences.DECIDE_EXTENSION in steps and detail and "extension_id" in detail:
        extension_id = detail["extension_id"]
        decide = [
            (t("button.approve_extension"), encode(EXT_OK, extension_id)),
            (t("button.deny_extension"), encode(EXT_NO, extension_id)),
        ]
        return keyboard([decide, [view]])
    if Action.RATE in steps:
        return keyboard([rating_row(appeal)])
    buttons = []
    for action in steps:
        if action == Action.CLAIM:
            buttons.append(first_step(appeal, leader))
        elif isinstance(action, Action) and action is not Action.REOPEN:
            buttons.append(
                (t(f"button.{action}"), action_button(action, appeal.id, appeal.version))
            )
    return keyboard([[*buttons, view]])


def _undelivered_fields(detail: dict) -> dict[str, str]:
    """What of the official's did not reach which contact, and the phone to call instead."""
    what = str(detail.get("what", ""))
    return {
        "what": t(f"undelivered_what.{what}") if has(f"undelivered_what.{what}") else esc(what),
        "contact": esc(person_name(str(detail.get("contact", "")), Role.ENTERPRISE)),
        "phone": esc(checks.shown_phone(str(detail.get("phone", "")))),  # whole: to call
    }


def task_button_row(task: Task) -> list[tuple[str, str]]:
    return [(t("task_view_label", seq=task.seq), task_view_button(task.id, task.version))]


def task_next_row(task: Task, kind: str, leader: bool) -> list[tuple[str, str]]:
    """The buttons of a task notice's next step (`audiences.TASK_NEXT_STEPS`), then 查看."""
    steps = audiences.task_next_steps(kind, task.state, leader)
    buttons = [(t(f"button.task.{a}"), action_button(a, task.id, task.version)) for a in steps]
    return [*buttons, *task_button_row(task)]


def task_notice(
    task: Task, action: str, text: str, leader: bool | None = None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """A leader's decision on a task, a 销号 request, or a 责任人 named (`assign`: told to
    the official), worded for its recipient, with the buttons of their next step (a 销号
    request goes to the leaders, the rest to holders)."""
    if action == "assign":
        worded = t("notice_task_assign", seq=task.seq, problem=snippet(task.problem, 200))
    else:
        worded = t(
            f"notice_task.{action}",
            seq=task.seq,
            owner=esc(task.owner_name),
            problem=snippet(task.problem, 200),
            text=quoted(text, t("notice_cut_task", seq=task.seq)),
        )
    to_leader = action in audiences.TO_LEADERS if leader is None else leader
    return worded, keyboard([task_next_row(task, action, to_leader)])


def first_step(appeal: Appeal, leader: bool) -> tuple[str, str]:
    """签收 for the department; a leader, who does not claim, hands it on with 转办."""
    action = Action.TRANSFER if leader else Action.CLAIM
    return t(f"button.{action}"), action_button(action, appeal.id, appeal.version)


def ladder_notice(
    item: PendingNotice,
    env: Env,
    chat_id: int | None = None,
    allowed: Sequence[str] | None = None,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """A 提示 / 督办 / 提级 notice with its 文号 and the buttons of the recipient's next step
    (`allowed`: what they may do with the appeal now; None for a group)."""
    if item.appeal is not None:
        appeal = item.appeal
        fields = appeal_fields(appeal, env)
        owner = esc(_owner_name(appeal))
        fields["owner"] = t("owner_suffix", name=owner) if owner else t("nobody")
        fields["owner_or_none"] = owner or t("nobody")
        text = t(f"ladder.{item.kind}", serial=item.serial, days=item.overdue_days, **fields)
        return text, next_step_markup(item.kind, appeal, env, chat_id, allowed)
    task = item.task
    key = (
        "ladder.task_soon"
        if item.kind in ("task_d7", "task_d3", "task_d1")
        else f"ladder.{item.kind}"
    )
    if task is None:
        return t(key, serial=item.serial, seq="", deadline="", left=0, days=0, problem=""), None
    text = t(
        key,
        serial=item.serial,
        seq=task.seq,
        deadline=task.deadline.isoformat(),
        left=(task.deadline - env.today()).days,
        days=(env.today() - task.deadline).days,  # task_overdue: calendar days, as /tasks
        problem=snippet(task.problem, 120),
    )
    return text, keyboard([task_next_row(task, item.kind, chat_id in env.leaders)])


def task_state_name(state: TaskState) -> str:
    return name("task_state", state)
