"""The storage contract: what use cases, handlers and the environment may ask of a
database, as `typing.Protocol`s. Each backend (SQLite in storage/db.py and its repositories;
PostgreSQL in storage/postgres/) meets these structurally, without inheriting from them.

Values crossing this line are the model's dataclasses and enums (bot/rules), `date`, aware
UTC `datetime`, `ZoneInfo`, and ints and strs that are identifiers or text a person wrote:
never column names, ISO strings, SQL fragments or raw JSON rows. tests/test_contract.py holds
every backend to these signatures.

`OutboxRepo`'s `detail` and `AuditRepo`'s `detail` are payloads of codes and values (the
model's `Outgoing.detail`, `Event.detail`), not columns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from bot.rules.deadlines import SweepDates
from bot.rules.digest import DigestRow, ReceivedGroup, Reply, StoredDigest, Week, Withdrawal
from bot.rules.ledger import LedgerEntry
from bot.rules.model import (
    Appeal,
    Attachment,
    ContactInvite,
    Conversation,
    Courier,
    Department,
    Enterprise,
    Event,
    Extension,
    ExtensionState,
    Invite,
    Message,
    MessageKind,
    Outgoing,
    Person,
    Role,
    State,
    StoredNotice,
    Task,
    TaskReport,
    TaskState,
)
from bot.rules.tasks import TaskRow


@runtime_checkable
class DepartmentRepo(Protocol):
    """The departments (委办局) and their group chats."""

    async def upsert(self, code: str, name: str, chat_id: int | None) -> None: ...
    async def all(self) -> list[Department]: ...
    async def get(self, department_id: int) -> Department | None: ...
    async def by_code(self, code: str) -> Department | None: ...
    async def by_chat(self, chat_id: int) -> Department | None: ...
    async def by_name(self, name: str) -> Department | None: ...
    async def move_chat(self, old_chat_id: int, new_chat_id: int, now: datetime) -> bool: ...
    async def configured_for(self, chat_id: int) -> Department | None: ...


@runtime_checkable
class PeopleRepo(Protocol):
    """Stored people: staff and enterprise contacts, by Telegram id."""

    async def get(self, tg_id: int) -> Person | None: ...
    async def names(self, tg_ids: set[int]) -> dict[int, str]: ...
    async def add(
        self,
        tg_id: int,
        role: Role,
        full_name: str,
        now: datetime,
        *,
        department_id: int | None = None,
        enterprise_id: int | None = None,
    ) -> None: ...
    async def set_staff_role(self, tg_id: int, role: Role, department_id: int) -> None: ...
    async def staff_of(self, department_id: int) -> list[Person]: ...
    async def all_staff(self) -> list[Person]: ...
    async def staff_named(self, full_name: str) -> list[int]: ...
    async def contact_people(self, enterprise_id: int) -> list[tuple[Person, str | None]]: ...
    async def set_phone(self, tg_id: int, phone: str) -> None: ...
    async def remove_contact(self, tg_id: int, now: datetime) -> None: ...
    async def removed(self, tg_id: int) -> tuple[Person, datetime] | None: ...
    async def name_of(self, tg_id: int) -> str | None: ...
    async def contacts_of(self, enterprise_id: int) -> list[int]: ...


@runtime_checkable
class EnterpriseRepo(Protocol):
    """Enterprises, their contacts and the invitations for more contacts."""

    async def add(
        self, name: str, uscc: str, contact_name: str, phone: str, now: datetime
    ) -> int: ...
    async def get(self, enterprise_id: int) -> Enterprise | None: ...
    async def by_uscc(self, uscc: str) -> Enterprise | None: ...
    async def set_primary(self, enterprise_id: int, tg_id: int) -> None: ...
    async def add_invite(
        self, code: str, enterprise_id: int, created_by: int, now: datetime, expires: datetime
    ) -> None: ...
    async def invite(self, code: str) -> ContactInvite | None: ...
    async def use_invite(self, code: str, tg_id: int, now: datetime) -> bool: ...
    async def set_baobao(self, enterprise_id: int, official_id: int) -> None: ...


@runtime_checkable
class InviteRepo(Protocol):
    """Staff invitations (one code, used once)."""

    async def add(
        self,
        code: str,
        department_id: int,
        is_head: bool,
        created_by: int,
        now: datetime,
        expires_at: datetime,
    ) -> None: ...
    async def get(self, code: str) -> Invite | None: ...
    async def use(self, code: str, tg_id: int, now: datetime) -> bool: ...


@runtime_checkable
class RequestRepo(Protocol):
    """What a request (e.g. a Telegram update) already did, so that it never happens twice."""

    async def claim(
        self, key: str, actor_id: int, since: datetime, now: datetime
    ) -> tuple[str, int | None] | None: ...
    async def done(
        self, key: str, actor_id: int, since: datetime
    ) -> tuple[str, int | None] | None: ...
    async def record(
        self, key: str, actor_id: int, action: str, ref: int | None, now: datetime
    ) -> None: ...


@runtime_checkable
class AppealRepo(Protocol):
    """Appeals (诉求): numbers, filing, reading, versioned updates, lists."""

    async def next_seq(self, year: int) -> int: ...
    async def add(
        self,
        *,
        number: str,
        enterprise_id: int,
        filed_by: int,
        category: str,
        description: str,
        state: State,
        department_id: int,
        assignee_id: int | None,
        claim_due_date: date,
        due_date: date,
        created_at: datetime,
    ) -> int: ...
    async def get(self, appeal_id: int) -> Appeal | None: ...
    async def by_number(self, number: str) -> Appeal | None: ...
    async def same_text_since(
        self, enterprise_id: int, description: str, since: datetime
    ) -> Appeal | None: ...
    async def save(self, new: Appeal, expected_version: int) -> bool: ...
    async def of_enterprise(self, enterprise_id: int, limit: int) -> list[Appeal]: ...
    async def count_of_enterprise(self, enterprise_id: int) -> int: ...
    async def open_count(
        self, department_id: int | None, person_id: int | None, overdue_on: date | None = None
    ) -> int: ...
    async def open_list(
        self, department_id: int | None, person_id: int | None, limit: int
    ) -> list[Appeal]: ...
    async def overdue_list(
        self, today: date, department_id: int | None, person_id: int | None, limit: int
    ) -> list[Appeal]: ...


@runtime_checkable
class MessageRepo(Protocol):
    """What is written on an appeal (replies, 补充, notes) and its files."""

    async def add(
        self, appeal_id: int, author_id: int, kind: MessageKind, text: str, now: datetime
    ) -> int: ...
    async def of_appeal(self, appeal_id: int, kinds: tuple[MessageKind, ...]) -> list[Message]: ...
    async def latest_of(self, appeal_id: int, author_id: int, kind: MessageKind) -> int | None: ...
    async def add_attachment(
        self, appeal_id: int, message_id: int | None, attachment: Attachment, now: datetime
    ) -> int: ...
    async def file_ids_of(self, appeal_id: int, message_id: int | None) -> set[int]: ...
    async def files(
        self,
        appeal_id: int,
        ids: list[int] | None = None,
        kinds: tuple[MessageKind, ...] | None = None,
    ) -> list[Attachment]: ...
    async def file_ids(self, appeal_id: int) -> list[int]: ...


@runtime_checkable
class AuditRepo(Protocol):
    """The append-only audit trail of appeals and other subjects."""

    async def add(
        self,
        subject: str,
        actor_id: int | None,
        action: str,
        now: datetime,
        *,
        appeal_id: int | None = None,
        from_state: str | None = None,
        to_state: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None: ...
    async def of_appeal(self, appeal_id: int) -> list[Event]: ...
    async def of_subject(self, subject: str) -> list[Event]: ...
    async def of_subjects(self, kind: str) -> dict[str, list[Event]]: ...


@runtime_checkable
class ExtensionRepo(Protocol):
    """Requests to extend an appeal's due date and their decisions."""

    async def add(
        self,
        appeal_id: int,
        requested_by: int,
        old_due: date,
        new_due: date,
        reason: str,
        now: datetime,
    ) -> int: ...
    async def get(self, extension_id: int) -> Extension | None: ...
    async def pending_for(self, appeal_id: int) -> Extension | None: ...
    async def decide(
        self, extension_id: int, state: ExtensionState, by: int, now: datetime
    ) -> bool: ...


@runtime_checkable
class NoticeRepo(Protocol):
    """The 提示/督办 notices with gap-free 文号 and their deliveries."""

    async def create(self, kind: str, dates: SweepDates, now: datetime) -> int: ...
    async def create_many(
        self, kinds: Sequence[str], dates: SweepDates, now: datetime
    ) -> dict[str, int]: ...
    async def get(self, notice_id: int) -> StoredNotice | None: ...
    async def undelivered(self, limit: int) -> list[StoredNotice]: ...
    async def delivered_chats(self, notice_id: int) -> set[int]: ...
    async def record_delivery(
        self, notice_id: int, chat_id: int, now: datetime, error: str | None
    ) -> None: ...
    async def mark_delivered(self, notice_id: int, now: datetime) -> None: ...
    async def of_subject(self, subject: str, subject_id: int) -> list[StoredNotice]: ...


@runtime_checkable
class TaskRepo(Protocol):
    """Supervised tasks (督办任务), their reports and files."""

    async def existing_seqs(self) -> set[int]: ...
    async def add(self, row: TaskRow, owner_id: int | None, now: datetime) -> int: ...
    async def all(self) -> list[Task]: ...
    async def get(self, task_id: int) -> Task | None: ...
    async def by_seq(self, seq: int) -> Task | None: ...
    async def held_by(self, owner_id: int, department_name: str | None) -> list[Task]: ...
    async def counts_by_state(self) -> dict[TaskState, int]: ...
    async def counts_by_state_at(self, end: datetime) -> dict[TaskState, int]: ...
    async def all_at(self, end: datetime) -> list[Task]: ...
    async def set_state(self, task_id: int, version: int, state: str, now: datetime) -> bool: ...
    async def set_owner(self, task_id: int, version: int, owner_id: int, now: datetime) -> bool: ...
    async def add_report(
        self, task_id: int, author_id: int, kind: str, text: str, now: datetime
    ) -> int: ...
    async def set_report_text(self, report_id: int, text: str) -> None: ...
    async def add_attachment(
        self, task_id: int, report_id: int | None, attachment: Attachment, now: datetime
    ) -> int: ...
    async def file_ids_of(self, task_id: int, report_id: int | None) -> set[int]: ...
    async def files(self, task_id: int, ids: list[int] | None = None) -> list[Attachment]: ...
    async def reports(self, task_id: int) -> list[TaskReport]: ...
    async def all_reports(self) -> dict[int, list[TaskReport]]: ...


@runtime_checkable
class ReportRepo(Protocol):
    """The digest's and the ledger's reads, the day tallies, stored digests."""

    async def appeals_touching(self, start: datetime, end: datetime) -> list[DigestRow]: ...
    async def refresh_tallies(self, zone: ZoneInfo, now: datetime) -> None: ...
    async def received_counts(self, start: date, end: date, today: date) -> list[ReceivedGroup]: ...
    async def closed_counts(self, start: date, end: date) -> tuple[int, int]: ...
    async def overdue(
        self, today: date, limit: int, unchanged_since: datetime | None = None
    ) -> tuple[list[DigestRow], int]: ...
    async def open_rows(self, unchanged_since: datetime | None = None) -> list[DigestRow]: ...
    async def changed_since(self, end: datetime) -> list[tuple[DigestRow, list[Event]]]: ...
    async def open_counts(self, today: date) -> tuple[int, int, int]: ...
    async def withdrawals(self, start: datetime, end: datetime) -> list[Withdrawal]: ...
    async def notice_counts(self, start: datetime, end: datetime) -> list[tuple[str, str, int]]: ...
    async def latest_replies_before(
        self, before: datetime, since: datetime, per_department: int
    ) -> list[Reply]: ...
    def replies_between(
        self, start: datetime, end: datetime, batch: int = 2000
    ) -> AsyncIterator[Reply]: ...
    def ledger(
        self, start: datetime, end: datetime, batch: int = 1000
    ) -> AsyncIterator[LedgerEntry]: ...
    async def digest_delivered(self, week: Week, audience: str, chat_id: int) -> bool: ...
    async def record_digest(self, week: Week, audience: str, text: str, now: datetime) -> None: ...
    async def digest(self, week: Week, audience: str) -> StoredDigest | None: ...
    async def record_digest_delivery(
        self, week: Week, audience: str, chat_id: int, now: datetime
    ) -> None: ...


@runtime_checkable
class ConversationRepo(Protocol):
    """A person's conversation in progress, kept across restarts."""

    async def get(self, user_id: int) -> Conversation | None: ...
    async def put(self, conversation: Conversation) -> None: ...
    async def drop(self, user_id: int, started_at: datetime | None = None) -> bool: ...
    async def expired(self, now: datetime, limit: int) -> list[Conversation]: ...


@runtime_checkable
class OutboxRepo(Protocol):
    """Messages owed to chats, sent by the courier with leases and retries."""

    async def add(
        self,
        chat_id: int,
        kind: str,
        subject: str | None,
        subject_id: int | None,
        detail: dict[str, Any],
        priority: int,
        now: datetime,
        due: datetime | None = None,
    ) -> int: ...
    async def pending_detail(self, outgoing_id: int) -> dict[str, Any] | None: ...
    async def set_detail(self, outgoing_id: int, detail: dict[str, Any]) -> None: ...
    async def due(self, now: datetime, limit: int) -> list[Outgoing]: ...
    async def take(
        self, outgoing_id: int, now: datetime, lease_until: datetime
    ) -> Outgoing | None: ...
    async def take_with_others(
        self, item: Outgoing, now: datetime, lease_until: datetime, limit: int, alone: str
    ) -> list[Outgoing]: ...
    async def form_list(self, ids: list[int]) -> None: ...
    async def list_items(self, list_id: int) -> list[int]: ...
    async def advance(
        self, outgoing_id: int, progress: int, key: str, value: int | None = None
    ) -> None: ...
    async def announcing(self, subject: str, subject_id: int) -> list[Outgoing]: ...
    async def add_files(self, outgoing_id: int, file_ids: list[int]) -> bool: ...
    async def of_ids(self, ids: list[int]) -> list[Outgoing]: ...
    async def sent_all(self, ids: list[int], now: datetime) -> None: ...
    async def later(self, outgoing_id: int, due: datetime, error: str) -> None: ...
    async def failed(
        self, outgoing_id: int, error: str, status: Courier = Courier.FAILED
    ) -> None: ...
    async def withheld(self, ids: list[int], reason: str) -> None: ...
    async def gone(self, outgoing_id: int) -> None: ...
    async def heard(
        self, subject: str | None, subject_id: int, kind: str, later: Iterable[str] = ()
    ) -> bool: ...
    async def failed_since(self, chat_id: int, since: datetime) -> list[Outgoing]: ...
    async def owe_again(self, ids: list[int], now: datetime) -> None: ...
    async def unreachable_why(self, since: datetime) -> list[tuple[int, int, str]]: ...
    async def move_chat(
        self, old_chat_id: int, new_chat_id: int, since: datetime, now: datetime
    ) -> list[int]: ...


@runtime_checkable
class OperatorNotes(Protocol):
    """Things told to operators once (e.g. a calendar year missing), remembered across starts."""

    async def first_time(self, key: str, now: datetime) -> bool: ...
    async def latest(self, prefix: str) -> datetime | None: ...


@runtime_checkable
class UnitOfWork(Protocol):
    """The repositories on one connection, in one transaction. On a writer (`unit_of_work`)
    nothing is kept without `commit()`; `one_statement` keeps its single statement at once;
    `reading` only reads committed data."""

    departments: DepartmentRepo
    people: PeopleRepo
    enterprises: EnterpriseRepo
    invites: InviteRepo
    requests: RequestRepo
    appeals: AppealRepo
    messages: MessageRepo
    audit: AuditRepo
    extensions: ExtensionRepo
    notices: NoticeRepo
    tasks: TaskRepo
    reports: ReportRepo
    conversations: ConversationRepo
    outbox: OutboxRepo
    operator_notes: OperatorNotes

    async def commit(self) -> None: ...


# The names of the repositories a unit of work carries (tests/test_contract.py checks each
# backend's unit of work against it).
REPOSITORIES: dict[str, type] = {
    "departments": DepartmentRepo,
    "people": PeopleRepo,
    "enterprises": EnterpriseRepo,
    "invites": InviteRepo,
    "requests": RequestRepo,
    "appeals": AppealRepo,
    "messages": MessageRepo,
    "audit": AuditRepo,
    "extensions": ExtensionRepo,
    "notices": NoticeRepo,
    "tasks": TaskRepo,
    "reports": ReportRepo,
    "conversations": ConversationRepo,
    "outbox": OutboxRepo,
    "operator_notes": OperatorNotes,
}


@runtime_checkable
class Database(Protocol):
    """A database the application runs on, whatever the backend (chosen by URL, see
    `storage.open_database`)."""

    async def open(self, migrate: bool = True, check: bool = False) -> None:
        """Connect, first bringing the schema up to date (`migrate`); `check` first verifies
        what the backend can verify. Raises DatabaseUnusable (one line) when it cannot."""
        ...

    async def close(self) -> None: ...

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """One write transaction: kept only if the block calls `commit()`."""
        ...

    def one_statement(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """A write of a single statement, kept as soon as it has run; a second statement in
        the block raises."""
        ...

    def reading(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """Read committed data, without taking part in writes."""
        ...
