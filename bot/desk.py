"""Use cases of AppealDesk: one function per user action, with every permission check.

Handlers, the scheduler and the sandbox call these; none of them touch storage directly.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot import uscc
from bot.clock import Clock
from bot.errors import (
    AlreadyRegistered,
    AppealNotFound,
    EnterpriseTaken,
    ExtensionPending,
    ExtensionTooLate,
    InvalidInput,
    InvalidTransition,
    InviteInvalid,
    NotAllowed,
    NotRegistered,
    NotYourAppeal,
    RatingExpired,
    StaleAction,
)
from bot.model import (
    Action,
    Actor,
    Appeal,
    AppealView,
    Attachment,
    Notice,
    Outcome,
    Rating,
    Role,
    State,
    notice_serial,
)
from bot.org import OrgConfig
from bot.workcal import WorkingCalendar
from bot.workflow import OWNER_ONLY, VERSIONED, actions_in, next_state, roles_for
from storage.db import Database
from storage.repo import Repo

NUMBER_RE = re.compile(r"^SQ-(\d{4})-(\d{6})$")
PHONE_RE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
LIST_LIMIT = 30
# Telegram keeps an unconfirmed update for 24 hours; after that an id may come back as new.
REDELIVERY_WINDOW = timedelta(hours=24)
PUBLIC_MESSAGE_KINDS = ("reply", "supplement", "rating_comment")
ALL_MESSAGE_KINDS = ("reply", "note", "supplement", "rating_comment")


@dataclass(frozen=True)
class Invite:
    code: str
    department_name: str
    is_head: bool
    expires_at: datetime


@dataclass(frozen=True)
class Membership:
    role: Role
    department_name: str


def format_number(year: int, seq: int) -> str:
    return f"SQ-{year:04d}-{seq:06d}"


def clean_text(text: str | None, field: str, minimum: int, maximum: int) -> str:
    """Trimmed text within limits, or InvalidInput naming the field and the limit."""
    value = (text or "").strip()
    if not value:
        raise InvalidInput(field=field, reason="empty")
    if len(value) < minimum:
        raise InvalidInput(field=field, reason="too_short", limit=minimum)
    if len(value) > maximum:
        raise InvalidInput(field=field, reason="too_long", limit=maximum)
    return value


class Desk:
    """The application service: database, org config, calendar and clock in one place."""

    def __init__(
        self,
        db: Database,
        org: OrgConfig,
        calendar: WorkingCalendar,
        clock: Clock,
        admin_ids: Iterable[int],
        zone: ZoneInfo,
        invite_ttl: timedelta = timedelta(hours=72),
    ) -> None:
        self.db = db
        self.org = org
        self.calendar = calendar
        self.clock = clock
        self.admin_ids = frozenset(admin_ids)
        self.zone = zone
        self.invite_ttl = invite_ttl

    # time ----------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock.now()

    def _stamp(self) -> str:
        return self.now().isoformat(timespec="seconds")

    def today(self) -> date:
        """Today's date where the bureau is."""
        return self.now().astimezone(self.zone).date()

    def local_time(self, stamp: str) -> str:
        return datetime.fromisoformat(stamp).astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    # set-up ----------------------------------------------------------------------
    async def sync_departments(self) -> None:
        """Make the departments table match the org config (new and renamed ones)."""
        async with self.db.transaction() as repo:
            for dept in self.org.departments:
                await repo.upsert_department(dept.code, dept.name, dept.chat_id)

    async def departments(self) -> list[dict]:
        async with self.db.reading() as repo:
            return await repo.departments()

    # people ------------------------------------------------------------------------
    async def actor(self, tg_id: int, display_name: str = "") -> Actor:
        if tg_id in self.admin_ids:
            return Actor(tg_id, Role.ADMIN, display_name or str(tg_id))
        async with self.db.reading() as repo:
            row = await repo.user(tg_id)
        if row is None:
            return Actor(tg_id, Role.GUEST, display_name or str(tg_id))
        return Actor(
            tg_id,
            Role(row["role"]),
            row["full_name"],
            department_id=row["department_id"],
            enterprise_id=row["enterprise_id"],
        )

    def check_enterprise_name(self, text: str | None) -> str:
        return clean_text(text, "enterprise_name", 2, 60)

    def check_uscc(self, text: str | None) -> str:
        code = uscc.normalize(text or "")
        if not uscc.is_valid(code):
            raise InvalidInput(field="uscc", reason="invalid")
        return code

    def check_contact_name(self, text: str | None) -> str:
        return clean_text(text, "contact_name", 2, 20)

    def check_phone(self, text: str | None) -> str:
        phone = (text or "").strip().replace(" ", "")
        if not PHONE_RE.match(phone):
            raise InvalidInput(field="phone", reason="invalid")
        return phone

    async def register_enterprise(
        self, tg_id: int, name: str, code: str, contact_name: str, phone: str, update_id: int
    ) -> dict:
        """A guest registers an enterprise and becomes its contact."""
        name = self.check_enterprise_name(name)
        code = self.check_uscc(code)
        contact_name = self.check_contact_name(contact_name)
        phone = self.check_phone(phone)
        if tg_id in self.admin_ids:
            raise NotAllowed()
        now = self._stamp()
        async with self.db.transaction() as repo:
            done = await self._already_done(repo, tg_id, update_id, "register")
            if done is not None:
                ent = await repo.enterprise(done)
                assert ent is not None
                return ent
            if await repo.user(tg_id) is not None:
                raise AlreadyRegistered()
            if await repo.enterprise_by_uscc(code) is not None:
                raise EnterpriseTaken()
            ent_id = await repo.insert_enterprise(name, code, contact_name, phone, now)
            await repo.insert_user(tg_id, Role.ENTERPRISE, contact_name, None, ent_id, now)
            await repo.insert_event(
                f"enterprise:{ent_id}", None, tg_id, "register", None, None, f"{name} {code}", now
            )
            await repo.record_update(update_id, tg_id, "register", ent_id, now)
            ent = await repo.enterprise(ent_id)
        assert ent is not None
        return ent

    def require_enterprise(self, actor: Actor) -> None:
        """Only a registered enterprise contact files and lists its own appeals."""
        if actor.role is Role.GUEST:
            raise NotRegistered()
        if actor.role is not Role.ENTERPRISE:
            raise NotAllowed()

    async def create_invite(self, actor: Actor, department_code: str, is_head: bool) -> Invite:
        """An admin makes a single-use, expiring invite for one department."""
        if actor.role is not Role.ADMIN:
            raise NotAllowed()
        now = self.now()
        expires = now + self.invite_ttl
        code = secrets.token_urlsafe(12)
        async with self.db.transaction() as repo:
            dept = await repo.department_by_code(department_code)
            if dept is None:
                raise InvalidInput(field="department", reason="unknown")
            await repo.insert_invite(
                code, dept["id"], is_head, actor.tg_id, now.isoformat(), expires.isoformat()
            )
            await repo.insert_event(
                f"invite:{code}",
                None,
                actor.tg_id,
                "invite",
                None,
                None,
                f"{dept['name']} {'head' if is_head else 'official'}",
                now.isoformat(),
            )
        return Invite(code, dept["name"], is_head, expires)

    async def accept_invite(self, tg_id: int, full_name: str, code: str) -> Membership:
        """Somebody opens an invite link and joins a department."""
        if tg_id in self.admin_ids:
            raise NotAllowed()
        now = self._stamp()
        name = (full_name or "").strip()[:40] or str(tg_id)
        async with self.db.transaction() as repo:
            invite = await repo.invite(code)
            if invite is None:
                raise InviteInvalid(reason="unknown")
            dept = await repo.department(invite["department_id"])
            assert dept is not None
            role = Role.HEAD if invite["is_head"] else Role.OFFICIAL
            if invite["used_by"] == tg_id:
                return Membership(role, dept["name"])  # the same link opened twice
            if invite["used_by"] is not None:
                raise InviteInvalid(reason="used")
            if datetime.fromisoformat(invite["expires_at"]) <= self.now():
                raise InviteInvalid(reason="expired")
            user = await repo.user(tg_id)
            if user is not None and user["role"] == Role.ENTERPRISE:
                raise NotAllowed()
            await repo.use_invite(code, tg_id, now)
            if user is None:
                await repo.insert_user(tg_id, role, name, dept["id"], None, now)
            else:
                await repo.set_staff_role(tg_id, role, dept["id"])
            await repo.insert_event(
                f"user:{tg_id}", None, tg_id, "join", None, role, dept["name"], now
            )
        return Membership(role, dept["name"])

    async def staff(self, actor: Actor) -> list[dict]:
        if actor.role is not Role.ADMIN:
            raise NotAllowed()
        async with self.db.reading() as repo:
            return await repo.all_staff()

    async def find_enterprise(self, actor: Actor, code: str) -> dict:
        if actor.role is not Role.ADMIN:
            raise NotAllowed()
        code = self.check_uscc(code)
        async with self.db.reading() as repo:
            ent = await repo.enterprise_by_uscc(code)
        if ent is None:
            raise InvalidInput(field="uscc", reason="unknown")
        return ent

    async def assign_baobao(self, actor: Actor, enterprise_id: int, official_id: int) -> dict:
        """An admin makes an official the 包保 contact of an enterprise."""
        if actor.role is not Role.ADMIN:
            raise NotAllowed()
        now = self._stamp()
        async with self.db.transaction() as repo:
            ent = await repo.enterprise(enterprise_id)
            official = await repo.user(official_id)
            if ent is None:
                raise InvalidInput(field="enterprise", reason="unknown")
            if official is None or official["role"] not in (Role.OFFICIAL, Role.HEAD):
                raise InvalidInput(field="official", reason="unknown")
            await repo.set_baobao(enterprise_id, official_id)
            await repo.insert_event(
                f"enterprise:{enterprise_id}",
                None,
                actor.tg_id,
                "baobao",
                str(ent["baobao_user_id"] or ""),
                str(official_id),
                official["full_name"],
                now,
            )
        return {"enterprise": ent, "official": official}

    # appeals: reading --------------------------------------------------------------------
    def _may_see(self, actor: Actor, row: dict) -> bool:
        if actor.role is Role.ADMIN:
            return True
        if actor.role is Role.ENTERPRISE:
            return row["enterprise_id"] == actor.enterprise_id
        if actor.is_staff:
            return actor.tg_id in (row["assignee_id"], row["owner_id"]) or (
                row["department_id"] == actor.department_id
            )
        return False

    def _may_do(self, actor: Actor, appeal: Appeal, action: Action) -> bool:
        if actor.role not in roles_for(appeal.state, action):
            return False
        if actor.role is Role.OFFICIAL and action in OWNER_ONLY:
            return appeal.owner_id == actor.tg_id
        if actor.role is Role.OFFICIAL and action is Action.CLAIM and appeal.assignee_id:
            return appeal.assignee_id == actor.tg_id
        if actor.role is Role.HEAD and action in OWNER_ONLY | {Action.CLAIM}:
            return appeal.department_id == actor.department_id or appeal.owner_id == actor.tg_id
        return True

    async def _load_visible(self, repo: Repo, actor: Actor, ref: int | str) -> Appeal:
        if isinstance(ref, str):
            number = ref.strip().upper()
            row = await repo.appeal_by_number(number) if NUMBER_RE.match(number) else None
        else:
            row = await repo.appeal(ref)
        if row is None or not self._may_see(actor, row):
            raise AppealNotFound()
        return Appeal.from_row(row)

    def allowed_actions(self, actor: Actor, appeal: Appeal) -> list[Action]:
        late = self.today().isoformat() > appeal.due_date
        return [
            a
            for a in actions_in(appeal.state)
            if self._may_do(actor, appeal, a) and not (a is Action.EXTEND and late)
        ]

    async def view(self, actor: Actor, ref: int | str) -> AppealView:
        """An appeal with what this actor may read of it: notes and history only for staff."""
        async with self.db.reading() as repo:
            appeal = await self._load_visible(repo, actor, ref)
            staff_view = actor.role is not Role.ENTERPRISE
            kinds = ALL_MESSAGE_KINDS if staff_view else PUBLIC_MESSAGE_KINDS
            messages = await repo.messages(appeal.id, kinds)
            attachments = await repo.attachments(appeal.id)
            events = await repo.events(appeal.id) if staff_view else []
            notices = await repo.notices.of_subject("appeal", appeal.id) if staff_view else []
        return AppealView(
            appeal,
            messages,
            attachments,
            events,
            self.allowed_actions(actor, appeal),
            [{**n, "serial": notice_serial(n)} for n in notices],
        )

    async def replayed_appeal(self, actor: Actor, update_id: int) -> Appeal | None:
        """The appeal an update already filed, when Telegram delivers that update again."""
        async with self.db.reading() as repo:
            done = await self._already_done(repo, actor.tg_id, update_id, "file")
            return None if done is None else await self._load_visible(repo, actor, done)

    async def my_appeals(self, actor: Actor) -> list[Appeal]:
        self.require_enterprise(actor)
        async with self.db.reading() as repo:
            rows = await repo.appeals_of_enterprise(actor.enterprise_id, LIST_LIMIT)
        return [Appeal.from_row(r) for r in rows]

    def _scope(self, actor: Actor) -> tuple[int | None, int | None]:
        if actor.role is Role.ADMIN:
            return None, None
        if actor.is_staff:
            return actor.department_id, actor.tg_id
        raise NotAllowed()

    async def inbox(self, actor: Actor) -> list[Appeal]:
        department_id, person_id = self._scope(actor)
        async with self.db.reading() as repo:
            rows = await repo.open_appeals(department_id, person_id, LIST_LIMIT)
        return [Appeal.from_row(r) for r in rows]

    async def overdue(self, actor: Actor) -> list[Appeal]:
        department_id, person_id = self._scope(actor)
        async with self.db.reading() as repo:
            rows = await repo.overdue_appeals(
                self.today().isoformat(), department_id, person_id, LIST_LIMIT
            )
        return [Appeal.from_row(r) for r in rows]

    async def preflight(self, actor: Actor, appeal_id: int, action: Action, version: int) -> Appeal:
        """Check before asking the user for text that the action would be allowed."""
        async with self.db.reading() as repo:
            appeal = await self._load_visible(repo, actor, appeal_id)
        self._authorize(actor, appeal, action, version)
        return appeal

    def _authorize(self, actor: Actor, appeal: Appeal, action: Action, version: int | None) -> None:
        if action in VERSIONED and version is not None and version != appeal.version:
            raise StaleAction(number=appeal.number)
        if next_state(appeal.state, action) is None:
            raise InvalidTransition(number=appeal.number, state=appeal.state)
        if not self._may_do(actor, appeal, action):
            if actor.role in roles_for(appeal.state, action):
                raise NotYourAppeal(number=appeal.number)
            raise NotAllowed()
        if action is Action.EXTEND and self.today().isoformat() > appeal.due_date:
            raise ExtensionTooLate(number=appeal.number, due=appeal.due_date)

    # appeals: filing -----------------------------------------------------------------------
    def check_description(self, text: str | None) -> str:
        limits = self.org.limits
        return clean_text(text, "description", limits.description_min, limits.description_max)

    def check_text(self, text: str | None, field: str) -> str:
        return clean_text(text, field, 1, self.org.limits.text_max)

    def due_date(self, start: date, working_days: int) -> date:
        return self.calendar.add_working_days(start, working_days)

    async def file_appeal(
        self,
        actor: Actor,
        category_code: str,
        description: str,
        attachments: list[Attachment],
        update_id: int,
    ) -> Outcome:
        """An enterprise files an appeal; it is routed and numbered in one transaction."""
        self.require_enterprise(actor)
        category = self.org.category(category_code)
        if category is None:
            raise InvalidInput(field="category", reason="unknown")
        description = self.check_description(description)
        if len(attachments) > self.org.limits.attachments_max:
            raise InvalidInput(
                field="attachments", reason="too_many", limit=self.org.limits.attachments_max
            )
        today = self.today()
        now = self._stamp()
        async with self.db.transaction() as repo:
            replay = await self._replay(repo, actor, update_id, "file")
            if replay is not None:
                return replay
            ent = await repo.enterprise(actor.enterprise_id)
            assert ent is not None
            dept = await repo.department_by_code(category.department)
            assert dept is not None, "departments are synced from the org config at start-up"
            assignee = None
            if self.org.routing.baobao_first and ent["baobao_user_id"]:
                baobao = await repo.user(ent["baobao_user_id"])
                if baobao is not None and baobao["department_id"] is not None:
                    assignee = baobao["tg_id"]
                    dept = await repo.department(baobao["department_id"])
                    assert dept is not None
            seq = await repo.next_appeal_seq(today.year)
            fields = {
                "number": format_number(today.year, seq),
                "enterprise_id": ent["id"],
                "filed_by": actor.tg_id,
                "category": category.name,
                "description": description,
                "state": State.PENDING,
                "department_id": dept["id"],
                "assignee_id": assignee,
                "claim_due_date": self.due_date(today, self.org.limits.claim_days).isoformat(),
                "due_date": self.due_date(today, category.time_limit_days).isoformat(),
                "created_at": now,
            }
            appeal_id = await repo.insert_appeal(fields)
            for att in attachments:
                await repo.insert_attachment(
                    appeal_id, None, att.kind, att.file_id, att.file_unique_id, att.file_name, now
                )
            route = "包保责任人" if assignee else "类别默认部门"
            await repo.insert_event(
                f"appeal:{appeal_id}",
                appeal_id,
                actor.tg_id,
                "file",
                None,
                State.PENDING,
                f"{category.name} → {dept['name']}（{route}）",
                now,
            )
            await repo.record_update(update_id, actor.tg_id, "file", appeal_id, now)
            appeal = Appeal.from_row(await repo.appeal(appeal_id))
            notices = await self._notify_department(repo, appeal, "new_appeal")
        return Outcome(appeal, notices)

    async def _already_done(
        self, repo: Repo, actor_id: int, update_id: int | None, action: str
    ) -> int | None:
        """What an update already did, if Telegram delivered it before (within its 24 h)."""
        if update_id is None:
            return None
        since = (self.now() - REDELIVERY_WINDOW).isoformat(timespec="seconds")
        done = await repo.processed_update(update_id, actor_id, since)
        if done is None or done["action"] != action or done["ref"] is None:
            return None
        return int(done["ref"])

    async def _replay(
        self, repo: Repo, actor: Actor, update_id: int | None, action: str
    ) -> Outcome | None:
        """The outcome of an update delivered before, so that nothing happens twice."""
        done = await self._already_done(repo, actor.tg_id, update_id, action)
        if done is None:
            return None
        row = await repo.appeal(done)
        assert row is not None
        return Outcome(Appeal.from_row(row), [], replayed=True)

    async def _notify_department(
        self, repo: Repo, appeal: Appeal, kind: str, text: str | None = None
    ) -> list[Notice]:
        """Tell whoever handles the appeal now: its owner, else its assignee, else the dept."""
        person = appeal.owner_id or appeal.assignee_id
        if person:
            return [Notice(person, kind, appeal, text)]
        notices = [
            Notice(u["tg_id"], kind, appeal, text)
            for u in await repo.staff_of_department(appeal.department_id)
        ]
        dept = await repo.department(appeal.department_id)
        if dept and dept["chat_id"]:
            notices.append(Notice(dept["chat_id"], kind, appeal, text))
        return notices

    async def _notify_enterprise(
        self, repo: Repo, appeal: Appeal, kind: str, text: str | None = None
    ) -> list[Notice]:
        return [
            Notice(u["tg_id"], kind, appeal, text)
            for u in await repo.contacts_of_enterprise(appeal.enterprise_id)
        ]

    async def _heads(self, repo: Repo, appeal: Appeal, kind: str, text: str | None) -> list[Notice]:
        return [
            Notice(u["tg_id"], kind, appeal, text)
            for u in await repo.staff_of_department(appeal.department_id)
            if u["role"] == Role.HEAD and u["tg_id"] != appeal.owner_id
        ]

    # appeals: handling -----------------------------------------------------------------------
    async def _apply(
        self,
        actor: Actor,
        appeal_id: int,
        action: Action,
        version: int | None,
        update_id: int | None,
        message: tuple[str, str] | None,
        detail: str | None,
        changes: dict[str, object],
        notify: str,
        attachments: list[Attachment] = (),
    ) -> Outcome:
        """Authorize, change the appeal, store the message and the audit event, commit."""
        now = self._stamp()
        async with self.db.transaction() as repo:
            replay = await self._replay(repo, actor, update_id, action)
            if replay is not None:
                return replay
            before = await self._load_visible(repo, actor, appeal_id)
            self._authorize(actor, before, action, version)
            target = next_state(before.state, action)
            message_id = None
            if message is not None:
                kind, text = message
                message_id = await repo.insert_message(before.id, actor.tg_id, kind, text, now)
            for att in attachments:
                await repo.insert_attachment(
                    before.id,
                    message_id,
                    att.kind,
                    att.file_id,
                    att.file_unique_id,
                    att.file_name,
                    now,
                )
            if target != before.state or changes:
                changed = await repo.update_appeal(
                    before.id, before.version, state=target, **changes
                )
                if not changed:
                    raise StaleAction(number=before.number)
            await repo.insert_event(
                f"appeal:{before.id}",
                before.id,
                actor.tg_id,
                action,
                before.state,
                target,
                detail,
                now,
            )
            if update_id is not None:
                await repo.record_update(update_id, actor.tg_id, action, before.id, now)
            after = Appeal.from_row(await repo.appeal(before.id))
            notices = await self._notices_for(repo, actor, before, after, notify, detail)
        return Outcome(after, notices)

    async def _notices_for(
        self, repo: Repo, actor: Actor, before: Appeal, after: Appeal, kind: str, text: str | None
    ) -> list[Notice]:
        if kind in ("claimed", "reply", "closed", "transferred_public"):
            return await self._notify_enterprise(repo, after, kind, text)
        if kind in ("supplement", "withdrawn", "note"):
            return [
                n
                for n in await self._notify_department(repo, before, kind, text)
                if n.chat_id != actor.tg_id
            ]
        if kind == "transferred":
            notices = await self._notify_department(repo, after, "transferred", text)
            return notices + await self._notify_enterprise(repo, after, "transferred_public")
        if kind in ("rated", "reopened"):
            owner = [Notice(after.owner_id, kind, after, text)] if after.owner_id else []
            return owner + await self._heads(repo, after, kind, text)
        return []

    async def claim(self, actor: Actor, appeal_id: int, version: int, update_id: int) -> Outcome:
        return await self._apply(
            actor,
            appeal_id,
            Action.CLAIM,
            version,
            update_id,
            None,
            None,
            {"owner_id": actor.tg_id, "claimed_at": self._stamp()},
            "claimed",
        )

    async def reply(self, actor: Actor, appeal_id: int, text: str, update_id: int) -> Outcome:
        text = self.check_text(text, "reply")
        return await self._apply(
            actor, appeal_id, Action.REPLY, None, update_id, ("reply", text), text, {}, "reply"
        )

    async def note(self, actor: Actor, appeal_id: int, text: str, update_id: int) -> Outcome:
        text = self.check_text(text, "note")
        return await self._apply(
            actor, appeal_id, Action.NOTE, None, update_id, ("note", text), text, {}, "note"
        )

    async def transfer(
        self,
        actor: Actor,
        appeal_id: int,
        version: int,
        department_code: str,
        reason: str,
        update_id: int,
    ) -> Outcome:
        reason = self.check_text(reason, "reason")
        async with self.db.reading() as repo:
            dept = await repo.department_by_code(department_code)
            current = await self._load_visible(repo, actor, appeal_id)
        if dept is None:
            raise InvalidInput(field="department", reason="unknown")
        if dept["id"] == current.department_id:
            raise InvalidInput(field="department", reason="same")
        today = self.today()
        return await self._apply(
            actor,
            appeal_id,
            Action.TRANSFER,
            version,
            update_id,
            ("note", f"转办至{dept['name']}：{reason}"),
            f"→ {dept['name']}：{reason}",
            {
                "department_id": dept["id"],
                "assignee_id": None,
                "owner_id": None,
                "claimed_at": None,
                "claim_due_date": self.due_date(today, self.org.limits.claim_days).isoformat(),
            },
            "transferred",
        )

    async def close(
        self, actor: Actor, appeal_id: int, version: int, summary: str, update_id: int
    ) -> Outcome:
        summary = self.check_text(summary, "summary")
        rating_due = self.due_date(self.today(), self.org.limits.rating_days)
        return await self._apply(
            actor,
            appeal_id,
            Action.CLOSE,
            version,
            update_id,
            None,
            summary,
            {
                "resolution": summary,
                "closed_at": self._stamp(),
                "rating_due_date": rating_due.isoformat(),
            },
            "closed",
        )

    async def rate(
        self, actor: Actor, appeal_id: int, version: int, rating: Rating, update_id: int
    ) -> Outcome:
        """The enterprise rates a closed appeal; 不满意 reopens it with a new deadline."""
        async with self.db.reading() as repo:
            current = await self._load_visible(repo, actor, appeal_id)
        if current.rating_due_date and self.today().isoformat() > current.rating_due_date:
            if current.state is State.CLOSED and current.version == version:
                raise RatingExpired(number=current.number)
        if rating is Rating.DISSATISFIED:
            category = self.org.category_by_name(current.category)
            limit = category.time_limit_days if category else 5
            return await self._apply(
                actor,
                appeal_id,
                Action.REOPEN,
                version,
                update_id,
                None,
                rating,
                {
                    "rating": rating,
                    "rated_at": self._stamp(),
                    "reopen_count": current.reopen_count + 1,
                    "due_date": self.due_date(self.today(), limit).isoformat(),
                    "closed_at": None,
                },
                "reopened",
            )
        return await self._apply(
            actor,
            appeal_id,
            Action.RATE,
            version,
            update_id,
            None,
            rating,
            {"rating": rating, "rated_at": self._stamp()},
            "rated",
        )

    async def comment_rating(
        self, actor: Actor, appeal_id: int, text: str, update_id: int
    ) -> Outcome:
        """An optional comment after a rating: stored, and passed to the owner."""
        text = self.check_text(text, "comment")
        now = self._stamp()
        async with self.db.transaction() as repo:
            replay = await self._replay(repo, actor, update_id, "rating_comment")
            if replay is not None:
                return replay
            appeal = await self._load_visible(repo, actor, appeal_id)
            if actor.role is not Role.ENTERPRISE or appeal.rating is None:
                raise NotAllowed()
            await repo.insert_message(appeal.id, actor.tg_id, "rating_comment", text, now)
            await repo.insert_event(
                f"appeal:{appeal.id}",
                appeal.id,
                actor.tg_id,
                "rating_comment",
                appeal.state,
                appeal.state,
                text,
                now,
            )
            await repo.record_update(update_id, actor.tg_id, "rating_comment", appeal.id, now)
            notices = [Notice(appeal.owner_id, "rating_comment", appeal, text)]
        return Outcome(appeal, notices if appeal.owner_id else [])

    async def supplement(
        self,
        actor: Actor,
        appeal_id: int,
        text: str,
        attachments: list[Attachment],
        update_id: int,
    ) -> Outcome:
        text = self.check_text(text, "supplement")
        return await self._apply(
            actor,
            appeal_id,
            Action.SUPPLEMENT,
            None,
            update_id,
            ("supplement", text),
            text,
            {},
            "supplement",
            attachments,
        )

    async def withdraw(
        self, actor: Actor, appeal_id: int, version: int, reason: str, update_id: int
    ) -> Outcome:
        reason = self.check_text(reason, "reason")
        return await self._apply(
            actor,
            appeal_id,
            Action.WITHDRAW,
            version,
            update_id,
            None,
            reason,
            {"closed_at": self._stamp()},
            "withdrawn",
        )

    # extensions (延期) ------------------------------------------------------------------
    def check_new_due(self, text: str | None, current_due: str) -> date:
        """A later working day, typed as YYYY-MM-DD."""
        raw = (text or "").strip().replace("/", "-")
        try:
            new_due = date.fromisoformat(raw)
        except ValueError:
            raise InvalidInput(field="new_due", reason="invalid") from None
        if new_due.isoformat() <= current_due:
            raise InvalidInput(field="new_due", reason="not_later", limit=current_due)
        if not self.calendar.is_working_day(new_due):
            raise InvalidInput(field="new_due", reason="not_working_day")
        return new_due

    async def request_extension(
        self, actor: Actor, appeal_id: int, new_due_text: str, reason: str, update_id: int
    ) -> Outcome:
        """The owner asks, before the deadline, for a later due date; heads decide."""
        reason = self.check_text(reason, "reason")
        now = self._stamp()
        async with self.db.transaction() as repo:
            replay = await self._replay(repo, actor, update_id, "extension_request")
            if replay is not None:
                return replay
            appeal = await self._load_visible(repo, actor, appeal_id)
            self._authorize(actor, appeal, Action.EXTEND, None)
            new_due = self.check_new_due(new_due_text, appeal.due_date)
            if await repo.pending_extension(appeal.id) is not None:
                raise ExtensionPending(number=appeal.number)
            extension_id = await repo.insert_extension(
                appeal.id, actor.tg_id, appeal.due_date, new_due.isoformat(), reason, now
            )
            await repo.insert_event(
                f"appeal:{appeal.id}",
                appeal.id,
                actor.tg_id,
                "extension_request",
                appeal.state,
                appeal.state,
                f"{appeal.due_date} → {new_due.isoformat()}：{reason}",
                now,
            )
            await repo.record_update(update_id, actor.tg_id, "extension_request", appeal.id, now)
            extra = {"extension_id": extension_id, "new_due": new_due.isoformat()}
            deciders = [
                Notice(n.chat_id, "extension_request", appeal, reason, extra)
                for n in await self._heads(repo, appeal, "extension_request", reason)
                if n.chat_id != actor.tg_id
            ] or [
                Notice(admin, "extension_request", appeal, reason, extra)
                for admin in sorted(self.admin_ids)
            ]
        return Outcome(appeal, deciders)

    async def decide_extension(
        self, actor: Actor, extension_id: int, approve: bool, update_id: int
    ) -> Outcome:
        """The department head (or a leader) approves or denies; the due date moves on yes."""
        now = self._stamp()
        async with self.db.transaction() as repo:
            replay = await self._replay(repo, actor, update_id, "extension_decision")
            if replay is not None:
                return replay
            extension = await repo.extension(extension_id)
            if extension is None:
                raise AppealNotFound()
            appeal = await self._load_visible(repo, actor, extension["appeal_id"])
            may_decide = actor.role is Role.ADMIN or (
                actor.role is Role.HEAD and actor.department_id == appeal.department_id
            )
            if not may_decide or extension["requested_by"] == actor.tg_id:
                raise NotAllowed()
            if extension["state"] != "pending":
                raise StaleAction(number=appeal.number)
            if approve and appeal.state not in (State.PENDING, State.IN_PROGRESS):
                raise InvalidTransition(number=appeal.number, state=appeal.state)
            state = "approved" if approve else "denied"
            await repo.decide_extension(extension_id, state, actor.tg_id, now)
            if approve:
                changed = await repo.update_appeal(
                    appeal.id, appeal.version, due_date=extension["new_due_date"]
                )
                if not changed:
                    raise StaleAction(number=appeal.number)
            await repo.insert_event(
                f"appeal:{appeal.id}",
                appeal.id,
                actor.tg_id,
                f"extension_{state}",
                appeal.state,
                appeal.state,
                f"{extension['old_due_date']} → {extension['new_due_date']}",
                now,
            )
            await repo.record_update(update_id, actor.tg_id, "extension_decision", appeal.id, now)
            after = Appeal.from_row(await repo.appeal(appeal.id))
            extra = {"new_due": extension["new_due_date"], "old_due": extension["old_due_date"]}
            kind = f"extension_{state}"
            notices = [Notice(extension["requested_by"], kind, after, None, extra)]
            if approve:
                notices += [
                    Notice(n.chat_id, "extension_public", after, None, extra)
                    for n in await self._notify_enterprise(repo, after, "extension_public")
                ]
        return Outcome(after, notices)
