"""Plain data of the domain: roles, states, actions, people, appeals, tasks and notices.

Dates are `date`, moments are timezone-aware `datetime` in UTC; storage converts at its
boundary and the chat layer shows them in the bureau's zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
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


OPEN_STATES = frozenset({State.PENDING, State.IN_PROGRESS})
CLOSED_STATES = frozenset({State.CLOSED, State.RATED})


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


class MessageKind(StrEnum):
    """The words stored with an appeal (`messages.kind`, CHECKed by the schema); each has
    its name `message_kind.<kind>` in the catalog. The enterprise never sees INTERNAL ones."""

    REPLY = "reply"
    NOTE = "note"  # 备注: internal
    SUPPLEMENT = "supplement"
    RATING_COMMENT = "rating_comment"


INTERNAL_MESSAGE_KINDS = frozenset({MessageKind.NOTE})


class Rating(StrEnum):
    SATISFIED = "satisfied"  # 满意
    BASIC = "basic"  # 基本满意
    DISSATISFIED = "dissatisfied"  # 不满意


SATISFIED_RATINGS = frozenset({Rating.SATISFIED, Rating.BASIC})


class TaskState(StrEnum):
    IN_PROGRESS = "in_progress"
    CLOSE_REQUESTED = "close_requested"
    DONE = "done"
    DEEMED_DONE = "deemed_done"


class TaskAction(StrEnum):
    REPORT = "report"
    REQUEST_CLOSE = "request_close"
    APPROVE = "approve"
    DEEM = "deem"
    SEND_BACK = "send_back"


class Party(StrEnum):
    """How an actor stands to an appeal or a task; the workflow table names parties."""

    CONTACT = "contact"  # a contact of the appeal's enterprise
    CLAIMANT = "claimant"  # an official who may claim: the routed official, else the dept's
    OWNER = "owner"  # the official who claimed the appeal
    HEAD = "head"  # the head of the appeal's department
    STAFF = "staff"  # any official who sees the appeal
    LEADER = "leader"  # a leader / admin
    TASK_HOLDER = "task_holder"  # the task's 责任人, or its stand-in until one is mapped


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
class Department:
    id: int
    code: str
    name: str
    chat_id: int | None = None


@dataclass(frozen=True)
class Person:
    """A registered user: an enterprise contact or an official."""

    tg_id: int
    role: Role
    full_name: str
    department_id: int | None
    enterprise_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class Enterprise:
    id: int
    name: str
    uscc: str
    contact_name: str
    phone: str
    baobao_user_id: int | None
    created_at: datetime
    primary_contact_id: int | None = None  # who registered it; invites colleagues


@dataclass(frozen=True)
class ContactInvite:
    """A link for a colleague to join an enterprise as another contact (single use)."""

    code: str
    enterprise_id: int
    created_by: int
    expires_at: datetime
    used_by: int | None
    used_at: datetime | None = None


@dataclass(frozen=True)
class Invite:
    code: str
    department_id: int
    is_head: bool
    created_by: int
    expires_at: datetime
    used_by: int | None = None
    used_at: datetime | None = None

    @property
    def role(self) -> Role:
        return Role.HEAD if self.is_head else Role.OFFICIAL


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
    department_code: str
    department_name: str
    assignee_id: int | None
    owner_id: int | None
    owner_name: str | None
    claim_due_date: date
    due_date: date
    created_at: datetime
    claimed_at: datetime | None
    closed_at: datetime | None
    resolution: str | None
    rating: Rating | None
    rating_due_date: date | None
    reopen_count: int
    version: int
    rated_at: datetime | None = None  # when it was last rated (不满意 included)

    @property
    def handler_id(self) -> int | None:
        """Who works on it now: the owner, else the official it was routed to."""
        return self.owner_id or self.assignee_id

    @property
    def round_resolution(self) -> str | None:
        """The 办结情况 of the current round: only once it is closed. A reopened appeal (不满意)
        keeps its earlier one stored, which belongs to the round before (`earlier_round`)."""
        return self.resolution if self.state in CLOSED_STATES else None

    @property
    def round_rating(self) -> Rating | None:
        """The 评价 of the current round: only once rated (不满意 reopens: a new round)."""
        return self.rating if self.state is State.RATED else None

    @property
    def earlier_round(self) -> tuple[str | None, Rating | None] | None:
        """What the round before ended with (its 办结情况 and 评价), while a reopened appeal
        has no outcome of its own yet: open again, or withdrawn after reopening."""
        if self.reopen_count and self.state not in CLOSED_STATES:
            return self.resolution, self.rating
        return None


@dataclass(frozen=True)
class Attachment:
    kind: str  # "photo" | "document"
    file_id: str
    file_unique_id: str
    file_name: str | None = None


@dataclass(frozen=True)
class Message:
    id: int
    appeal_id: int
    author_id: int
    author_name: str | None
    kind: str  # a MessageKind
    text: str
    created_at: datetime
    author_role: str | None = None  # None: not a stored person (a leader)


@dataclass(frozen=True)
class Event:
    """One audit event; `detail` holds codes and values, never sentences."""

    id: int
    subject: str
    appeal_id: int | None
    actor_id: int | None
    actor_name: str | None
    action: str
    from_state: str | None
    to_state: str | None
    detail: dict[str, Any]
    created_at: datetime
    actor_role: str | None = None  # None: not a stored person (a leader, or nobody)


class ExtensionState(StrEnum):
    """Where a request for a later due date (延期) stands."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


@dataclass(frozen=True)
class Extension:
    id: int
    appeal_id: int
    requested_by: int
    old_due_date: date
    new_due_date: date
    reason: str
    state: ExtensionState


@dataclass(frozen=True)
class StoredNotice:
    """A 提示 / 督办 notice as stored, with its 文号."""

    id: int
    subject: str  # appeal | task
    subject_id: int
    kind: str
    family: str
    serial_year: int
    serial_no: int
    created_at: datetime

    @property
    def serial(self) -> str:
        return f"{self.family}〔{self.serial_year}〕{self.serial_no}号"


@dataclass(frozen=True)
class Task:
    id: int
    seq: int
    aspect: str
    problem: str
    measures: str
    leader_name: str
    department_name: str
    owner_name: str  # the 责任人 as written in the ledger
    owner_id: int | None  # the official that name was mapped to
    deadline: date
    state: TaskState
    version: int
    updated_at: datetime


@dataclass(frozen=True)
class TaskReport:
    id: int
    task_id: int
    author_id: int
    author_name: str | None
    kind: str  # progress | decision
    text: str
    files: int
    created_at: datetime
    author_role: str | None = None  # None: not a stored person (a leader)


@dataclass(frozen=True)
class Notice:
    """Somebody must be told something about an appeal; the chat layer words and sends it."""

    chat_id: int
    kind: str
    appeal: Appeal
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    appeal: Appeal
    notices: list[Notice] = field(default_factory=list)
    replayed: bool = False
    detail: dict[str, Any] = field(default_factory=dict)
    queued: tuple[int, ...] = ()  # the notices, stored in the outbox with the change
    ack_id: int | None = None  # the actor's confirmation, stored in case the answer fails
    unheard: bool = False  # its department has nobody yet: the leaders were told instead
    # Who acted, as loaded in the action's unit of work, and what they may do next with
    # the appeal (the buttons of their answer).
    actor: Actor | None = None
    actions: list[Action] = field(default_factory=list)


@dataclass(frozen=True)
class AppealView:
    appeal: Appeal
    messages: list[Message]
    attachments: int
    events: list[Event]
    actions: list[Action]
    notices: list[StoredNotice] = field(default_factory=list)
    actor: Actor | None = None  # who reads it, as loaded with it
    departments: dict[str, str] = field(default_factory=dict)  # code → name, for its history


def format_number(year: int, seq: int) -> str:
    return f"SQ-{year:04d}-{seq:06d}"


@dataclass(frozen=True)
class Conversation:
    """The one flow a user is in, waiting for their next input (a prompt, a draft)."""

    user_id: int
    chat_id: int
    flow: str  # registration | filing | action | task
    step: str
    data: dict[str, Any]
    started_at: datetime
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now


class Courier(StrEnum):
    """Where one stored outgoing message stands."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # permanently: blocked, chat not found
    WITHHELD = "withheld"  # the recipient is no longer entitled to it: never sent
    REFUSED = "refused"  # Telegram refused the message itself (a 400): never tried again
    GONE = "gone"  # what it was about no longer exists: never sent, owed again or listed


@dataclass(frozen=True)
class Outgoing:
    """One message owed to somebody, stored with the change that caused it.

    `kind` is a notice kind (rendered with the appeal or task as it is when sent) or
    `ack` (the acting user's confirmation, `detail["key"]` naming its wording)."""

    id: int
    chat_id: int
    kind: str
    subject: str | None  # appeal | task | None
    subject_id: int | None
    detail: dict[str, Any]
    priority: int
    created_at: datetime
    attempts: int = 0
    status: Courier = Courier.PENDING
    error: str | None = None
    # A message sent in several parts (a digest, a ladder list) records each part Telegram
    # accepted: how many parts (a list: how many of its items) have gone.
    progress: int = 0
    # Notices sent together as one numbered list share its number.
    list_id: int | None = None
    # When it fell due (a retry's, or an answer's held for its grace, later than created_at).
    due_at: datetime | None = None
