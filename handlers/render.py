"""Appeals and notices worded for chat: the catalog texts filled in, with their buttons."""

from __future__ import annotations

from datetime import date

from telegram import InlineKeyboardMarkup

from bot.desk import Desk
from bot.ladder import PendingNotice
from bot.model import Action, Appeal, AppealView, Notice, Rating, Role
from bot.texts import (
    BUTTONS,
    EVENT_NAMES,
    MESSAGE_KIND_NAMES,
    NOTICE_KIND_NAMES,
    RATING_NAMES,
    ROLE_NAMES,
    STATE_NAMES,
    t,
)
from handlers.callback_data import appeal_button, encode
from handlers.common import esc, keyboard

RATING_CODES = {Rating.SATISFIED: "s", Rating.BASIC: "b", Rating.DISSATISFIED: "u"}
RATINGS_BY_CODE = {code: rating for rating, code in RATING_CODES.items()}
ACTION_CODES = {
    Action.CLAIM: "claim",
    Action.REPLY: "reply",
    Action.NOTE: "note",
    Action.TRANSFER: "xfer",
    Action.CLOSE: "close",
    Action.EXTEND: "extd",
    Action.SUPPLEMENT: "supp",
    Action.WITHDRAW: "wd",
}
ACTIONS_BY_CODE = {code: action for action, code in ACTION_CODES.items()}
SNIPPET = 300


def snippet(text: str, length: int = SNIPPET) -> str:
    return esc(text if len(text) <= length else text[: length - 1] + "…")


def rating_row(appeal: Appeal) -> list[tuple[str, str]]:
    return [
        (RATING_NAMES[r], appeal_button("rate", appeal.id, appeal.version, RATING_CODES[r]))
        for r in Rating
    ]


def action_markup(appeal: Appeal, actions: list[Action]) -> InlineKeyboardMarkup | None:
    buttons = [
        (BUTTONS[a], appeal_button(ACTION_CODES[a], appeal.id, appeal.version))
        for a in actions
        if a in ACTION_CODES
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    if Action.RATE in actions:
        rows.append(rating_row(appeal))
    return keyboard(rows) if rows else None


def appeal_fields(appeal: Appeal, desk: Desk) -> dict[str, str]:
    return {
        "number": appeal.number,
        "enterprise": esc(appeal.enterprise_name),
        "category": esc(appeal.category),
        "state": STATE_NAMES[appeal.state],
        "department": esc(appeal.department_name),
        "owner": esc(appeal.owner_name or ""),
        "due": appeal.due_date,
        "claim_due": appeal.claim_due_date,
        "rating_due": appeal.rating_due_date or "",
        "created": desk.local_time(appeal.created_at),
        "description": snippet(appeal.description),
    }


def card(view: AppealView, desk: Desk, role: Role) -> tuple[str, InlineKeyboardMarkup | None]:
    """The full appeal as one message, with the buttons this viewer may press."""
    appeal = view.appeal
    fields = appeal_fields(appeal, desk)
    fields["owner"] = t("card_owner", name=fields["owner"]) if appeal.owner_name else ""
    fields["description"] = esc(appeal.description)
    parts = [t("card", **fields)]
    if view.attachments:
        parts.append(t("card_attachments", count=len(view.attachments)))
    if appeal.resolution:
        parts.append(t("card_resolution", resolution=esc(appeal.resolution)))
    if appeal.rating:
        parts.append(t("card_rating", rating=RATING_NAMES[appeal.rating]))
    if view.messages:
        lines = [
            t(
                "card_message_line",
                time=desk.local_time(m["created_at"]),
                kind=MESSAGE_KIND_NAMES[m["kind"]],
                author=esc(m["author_name"] or ""),
                text=snippet(m["text"], 200),
            )
            for m in view.messages[-10:]
        ]
        parts.append(t("card_messages") + "\n" + "\n".join(lines))
    if view.notices:
        lines = [
            t(
                "card_notice_line",
                time=desk.local_time(n["created_at"]),
                serial=n["serial"],
                name=NOTICE_KIND_NAMES.get(n["kind"], n["kind"]),
            )
            for n in view.notices[-10:]
        ]
        parts.append(t("card_notices") + "\n" + "\n".join(lines))
    if view.events and role is not Role.ENTERPRISE:
        lines = [
            t(
                "card_event_line",
                time=desk.local_time(e["created_at"]),
                action=EVENT_NAMES.get(e["action"], e["action"]),
                actor=esc(e["actor_name"] or ROLE_NAMES[Role.ADMIN]),
                detail=("：" + snippet(e["detail"], 100)) if e["detail"] else "",
            )
            for e in view.events[-10:]
        ]
        parts.append(t("card_history") + "\n" + "\n".join(lines))
    return "\n\n".join(parts), action_markup(appeal, view.actions)


def list_text(header: str, appeals: list[Appeal], staff: bool) -> tuple[str, InlineKeyboardMarkup]:
    lines = [header]
    for a in appeals:
        key = "list_line_staff" if staff else "list_line"
        lines.append(
            t(
                key,
                number=a.number,
                enterprise=esc(a.enterprise_name),
                category=esc(a.category),
                state=STATE_NAMES[a.state],
                due=a.due_date,
            )
        )
    rows = [
        [(f"{BUTTONS['view']} {a.number}", appeal_button("view", a.id, a.version))]
        for a in appeals[:10]
    ]
    return "\n".join(lines), keyboard(rows)


def notice(note: Notice, desk: Desk) -> tuple[str, InlineKeyboardMarkup | None]:
    """A notice worded for its recipient, with the buttons it needs."""
    appeal = note.appeal
    fields = appeal_fields(appeal, desk)
    fields["text"] = esc(note.text or "")
    fields.update({k: esc(v) for k, v in note.extra.items()})
    if note.kind in ("rated",):
        fields["rating"] = RATING_NAMES.get(appeal.rating, "") if appeal.rating else ""
    text = t(f"notice_{note.kind}", **fields)
    view_button = (BUTTONS["view"], appeal_button("view", appeal.id, appeal.version))
    if note.kind in ("new_appeal", "transferred"):
        claim = (BUTTONS[Action.CLAIM], appeal_button("claim", appeal.id, appeal.version))
        return text, keyboard([[claim, view_button]])
    if note.kind in ("reopened", "supplement") and appeal.owner_id:
        work = [Action.REPLY, Action.CLOSE]
        buttons = [
            (BUTTONS[a], appeal_button(ACTION_CODES[a], appeal.id, appeal.version)) for a in work
        ]
        return text, keyboard([[*buttons, view_button]])
    if note.kind == "extension_request":
        extension_id = note.extra["extension_id"]
        return text, keyboard(
            [
                [
                    (BUTTONS["approve_extension"], encode("extok", extension_id)),
                    (BUTTONS["deny_extension"], encode("extno", extension_id)),
                ],
                [view_button],
            ]
        )
    if note.kind == "closed":
        return text, keyboard([rating_row(appeal)])
    return text, keyboard([[view_button]])


def ladder_notice(item: PendingNotice, desk: Desk) -> tuple[str, InlineKeyboardMarkup | None]:
    """A 提示 / 督办 / 提级 notice with its 文号."""
    if item.appeal is not None:
        appeal = item.appeal
        fields = appeal_fields(appeal, desk)
        owner = esc(appeal.owner_name) if appeal.owner_name else ""
        fields["owner"] = f"，承办人 {owner}" if owner else t("nobody")
        fields["owner_or_none"] = owner or t("nobody")
        text = t(f"ladder_{item.kind}", serial=item.serial, days=item.overdue_days, **fields)
        view_button = (BUTTONS["view"], appeal_button("view", appeal.id, appeal.version))
        if appeal.state == "pending" and item.kind in ("unclaimed", "due_soon", "due_today"):
            claim = (BUTTONS[Action.CLAIM], appeal_button("claim", appeal.id, appeal.version))
            return text, keyboard([[claim, view_button]])
        return text, keyboard([[view_button]])
    task = item.task or {}
    key = (
        "ladder_task_soon"
        if item.kind in ("task_d7", "task_d3", "task_d1")
        else f"ladder_{item.kind}"
    )
    left = (date.fromisoformat(task["deadline"]) - desk.today()).days if task else 0
    text = t(
        key,
        serial=item.serial,
        seq=task.get("seq", ""),
        deadline=task.get("deadline", ""),
        left=left,
        problem=snippet(task.get("problem", ""), 120),
    )
    if not task:
        return text, None
    # The card offers what the reader may do: report for the owner, decisions for leaders.
    view = (
        f"第{task['seq']}项 {BUTTONS['view']}",
        encode("task", task["id"], task["version"], "view"),
    )
    return text, keyboard([[view]])
