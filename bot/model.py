"""Plain data of the domain: roles, states, actions, the actor and the appeal."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    GUEST = "guest"
    ENTERPRISE = "enterprise"
    OFFICIAL = "official"
    HEAD = "head"
    ADMIN = "admin"


STAFF_ROLES = frozenset({Role.OFFICIAL, Role.HEAD})


class State(StrEnum):
    PENDING = "pending"  # 待签收
    IN_PROGRESS = "in_progress"  # 办理中
    CLOSED = "closed"  # 已办结，待评价
    RATED = "rated"  # 已评价
    WITHDRAWN = "withdrawn"  # 已撤回


class Action(StrEnum):
    CLAIM = "claim"
    REPLY = "reply"
    NOTE = "note"
    TRANSFER = "transfer"
    CLOSE = "close"
    EXTEND = "extend"  # 延期 request; a head decides
    RATE = "rate"
    REOPEN = "reopen"  # a 不满意 rating
    SUPPLEMENT = "supplement"
    WITHDRAW = "withdraw"


class Rating(StrEnum):
    SATISFIED = "satisfied"  # 满意
    BASIC = "basic"  # 基本满意
    DISSATISFIED = "dissatisfied"  # 不满意


@dataclass(frozen=True)
class Actor:
    tg_id: int
    role: Role
    name: str
    department_id: int | None = None
    enterprise_id: int | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


@dataclass(frozen=True)
class Appeal:
    id: int
    number: str
    enterprise_id: int
    enterprise_name: str
    category: str
    description: str
    state: State
    department_id: int
    department_name: str
    assignee_id: int | None
    owner_id: int | None
    owner_name: str | None
    claim_due_date: str
    due_date: str
    created_at: str
    resolution: str | None
    rating: Rating | None
    rating_due_date: str | None
    reopen_count: int
    version: int

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Appeal:
        return cls(
            id=row["id"],
            number=row["number"],
            enterprise_id=row["enterprise_id"],
            enterprise_name=row["enterprise_name"],
            category=row["category"],
            description=row["description"],
            state=State(row["state"]),
            department_id=row["department_id"],
            department_name=row["department_name"],
            assignee_id=row["assignee_id"],
            owner_id=row["owner_id"],
            owner_name=row["owner_name"],
            claim_due_date=row["claim_due_date"],
            due_date=row["due_date"],
            created_at=row["created_at"],
            resolution=row["resolution"],
            rating=Rating(row["rating"]) if row["rating"] else None,
            rating_due_date=row["rating_due_date"],
            reopen_count=row["reopen_count"],
            version=row["version"],
        )


@dataclass(frozen=True)
class Attachment:
    kind: str  # "photo" | "document"
    file_id: str
    file_unique_id: str
    file_name: str | None = None


@dataclass(frozen=True)
class Notice:
    """Somebody must be told something about an appeal; the handlers word and send it."""

    chat_id: int
    kind: str
    appeal: Appeal
    text: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    appeal: Appeal
    notices: list[Notice] = field(default_factory=list)
    replayed: bool = False


@dataclass(frozen=True)
class AppealView:
    appeal: Appeal
    messages: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    events: list[dict[str, Any]]
    actions: list[Action]
    notices: list[dict[str, Any]] = field(default_factory=list)


def notice_serial(row: dict[str, Any]) -> str:
    """The 文号 of a stored notice, e.g. 督办〔2026〕12号."""
    return f"{row['family']}〔{row['serial_year']}〕{row['serial_no']}号"
