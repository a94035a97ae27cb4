"""Rows to dataclasses and back: the one place where stored text becomes dates and codes.

Moments are stored as UTC ISO-8601 text (`2026-02-12T01:30:00+00:00`), days as
`YYYY-MM-DD`; audit details as JSON objects.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from bot.rules.digest import DigestRow, Withdrawal
from bot.rules.model import (
    Appeal,
    Attachment,
    Department,
    Enterprise,
    Event,
    Extension,
    ExtensionState,
    Invite,
    Message,
    Person,
    Rating,
    Role,
    State,
    StoredNotice,
    Task,
    TaskReport,
    TaskState,
)

Row = dict[str, Any]


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def day(value: date) -> str:
    return value.isoformat()


def to_db(value: object) -> object:
    """A Python value as SQLite stores it."""
    if isinstance(value, datetime):
        return stamp(value)
    if isinstance(value, date):
        return day(value)
    return value


def moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(UTC) if text else None


def a_day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def detail_json(detail: dict[str, Any] | None) -> str | None:
    return json.dumps(detail, ensure_ascii=False, default=to_db) if detail else None


def detail_of(text: str | None) -> dict[str, Any]:
    """A stored detail; rows written before details were data hold a sentence."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"text": text}
    return value if isinstance(value, dict) else {"text": text}


def department(row: Row) -> Department:
    return Department(row["id"], row["code"], row["name"], row["chat_id"])


def person(row: Row) -> Person:
    return Person(
        row["tg_id"],
        Role(row["role"]),
        row["full_name"],
        row["department_id"],
        row["enterprise_id"],
        moment(row["created_at"]),
    )


def enterprise(row: Row) -> Enterprise:
    return Enterprise(
        row["id"],
        row["name"],
        row["uscc"],
        row["contact_name"],
        row["phone"],
        row["baobao_user_id"],
        moment(row["created_at"]),
        row.get("primary_contact_id"),
    )


def invite(row: Row) -> Invite:
    return Invite(
        row["code"],
        row["department_id"],
        bool(row["is_head"]),
        row["created_by"],
        moment(row["expires_at"]),
        row["used_by"],
        moment(row["used_at"]),
    )


def appeal(row: Row) -> Appeal:
    return Appeal(
        id=row["id"],
        number=row["number"],
        enterprise_id=row["enterprise_id"],
        enterprise_name=row["enterprise_name"],
        category=row["category"],
        description=row["description"],
        state=State(row["state"]),
        department_id=row["department_id"],
        department_code=row["department_code"],
        department_name=row["department_name"],
        assignee_id=row["assignee_id"],
        owner_id=row["owner_id"],
        owner_name=row["owner_name"],
        claim_due_date=a_day(row["claim_due_date"]),
        due_date=a_day(row["due_date"]),
        created_at=moment(row["created_at"]),
        claimed_at=moment(row["claimed_at"]),
        closed_at=moment(row["closed_at"]),
        resolution=row["resolution"],
        rating=Rating(row["rating"]) if row["rating"] else None,
        rating_due_date=a_day(row["rating_due_date"]),
        reopen_count=row["reopen_count"],
        version=row["version"],
        rated_at=moment(row.get("rated_at")),
    )


def attachment(row: Row) -> Attachment:
    return Attachment(row["kind"], row["file_id"], row["file_unique_id"], row["file_name"])


def message(row: Row) -> Message:
    return Message(
        row["id"],
        row["appeal_id"],
        row["author_id"],
        row["author_name"],
        row["kind"],
        row["text"],
        moment(row["created_at"]),
        row.get("author_role"),
    )


def event(row: Row) -> Event:
    return Event(
        row["id"],
        row["subject"],
        row["appeal_id"],
        row["actor_id"],
        row.get("actor_name"),
        row["action"],
        row["from_state"],
        row["to_state"],
        detail_of(row["detail"]),
        moment(row["created_at"]),
        row.get("actor_role"),
    )


def extension(row: Row) -> Extension:
    return Extension(
        row["id"],
        row["appeal_id"],
        row["requested_by"],
        a_day(row["old_due_date"]),
        a_day(row["new_due_date"]),
        row["reason"],
        ExtensionState(row["state"]),
    )


def stored_notice(row: Row) -> StoredNotice:
    return StoredNotice(
        row["id"],
        row["subject"],
        row["subject_id"],
        row["kind"],
        row["family"],
        row["serial_year"],
        row["serial_no"],
        moment(row["created_at"]),
    )


def task(row: Row) -> Task:
    return Task(
        row["id"],
        row["seq"],
        row["aspect"],
        row["problem"],
        row["measures"],
        row["leader_name"],
        row["department_name"],
        row["owner_name"],
        row["owner_id"],
        a_day(row["deadline"]),
        TaskState(row["state"]),
        row["version"],
        moment(row["updated_at"]),
    )


def task_report(row: Row) -> TaskReport:
    return TaskReport(
        row["id"],
        row["task_id"],
        row["author_id"],
        row["author_name"],
        row["kind"],
        row["text"],
        row["files"],
        moment(row["created_at"]),
        row.get("author_role"),
    )


def digest_row(row: Row) -> DigestRow:
    return DigestRow(
        row["id"],
        row["number"],
        row["category"],
        State(row["state"]),
        row["department_id"],
        row["department_name"],
        row["owner_name"],
        moment(row["created_at"]),
        moment(row["claimed_at"]),
        moment(row["closed_at"]),
        a_day(row["claim_due_date"]),
        a_day(row["due_date"]),
        Rating(row["rating"]) if row["rating"] else None,
        a_day(row["rating_due_date"]),
    )


def withdrawal(row: Row) -> Withdrawal:
    reason = detail_of(row["detail"])
    return Withdrawal(
        row["number"],
        row["enterprise_name"],
        str(reason.get("reason", reason.get("text", ""))),
        moment(row["created_at"]),
    )
