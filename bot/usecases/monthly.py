"""Use cases of 月报 campaigns: a leader defines one; the daily sweep asks the enterprises,
reminds them and escalates (文号 like the appeals' ladder); a contact fills the report step by
step and may correct it until the due day (each version kept); leaders see who reported,
the consolidated table and a figure over the months."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as default
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from bot.rules import delivery
from bot.rules.broadcasts import Audience, AudienceCount, AudienceKind
from bot.rules.campaigns import (
    FAMILIES,
    ONCE,
    Campaign,
    MonthlyNoticeRecord,
    Submission,
    Target,
    may_manage,
    notice_day,
)
from bot.rules.model import Actor, Role
from bot.rules.monthly import (
    AUDIENCE,
    Answer,
    AnswerRefused,
    AttachedFile,
    FieldKind,
    MonthlyDefinition,
    MonthlyNotice,
    Period,
    ReportForm,
    answer_from_json,
    answers_from_data,
    answers_to_data,
    ask_day,
    definition_to_data,
    due_day,
    is_late,
    ladder_steps,
    may_correct,
    missing_required,
    parse_answer,
)
from bot.rules.monthly import Audience as Told
from bot.rules.refusals import (
    CampaignNotFound,
    InvalidInput,
    ReportClosed,
    ReportIncomplete,
)
from bot.usecases.env import Env, already_done, remember
from bot.usecases.people import Who, actor_in
from storage.contract import UnitOfWork

NOTICE = "monthly_notice"  # the outbox kind of a notice to a contact or a 包保 official
LEADERS = "monthly_leaders"  # the leaders' list of the enterprises raised to them that day
SUBJECT = "monthly"


def subject(campaign_id: int) -> str:
    return f"campaign:{campaign_id}"


# --- a leader defines a campaign -------------------------------------------------------------


async def may_define(env: Env, who: Who, definition: MonthlyDefinition | None = None) -> None:
    """A leader may define a campaign (and this definition's code is free)."""
    async with env.db.reading() as uow:
        may_manage(await actor_in(uow, env, who))
        code = definition.form.code if definition else None
        if code is not None and await uow.monthly.by_code(code) is not None:
            raise InvalidInput(field="campaign_code", reason="campaign_taken", value=code)


@dataclass(frozen=True)
class Created:
    campaign: Campaign
    counted: AudienceCount  # the enterprises its audience names now (registered or not)


async def create(
    env: Env,
    who: Who | None,
    definition: MonthlyDefinition,
    audience: Audience,
    first: Period,
    key: str | None = None,
) -> Created:
    """A campaign from its definition, for a segment, reported from `first` on (not a
    month before the last one: nobody is asked for the past)."""
    now, today = env.now(), env.today()
    if due_day(first, env.calendar, definition.schedule) < today:
        raise InvalidInput(
            field="first_period",
            reason="first_period_past",
            value=first_month(env, definition).label,
        )
    if audience.kind is not AudienceKind.ALL and not audience.values:
        raise InvalidInput(field="broadcast_audience", reason="empty")
    async with env.db.unit_of_work() as uow:
        actor = None if who is None else await actor_in(uow, env, who)
        may_manage(actor)
        actor_id = actor.tg_id if actor else 0
        done = await already_done(uow, env, actor_id, key, "campaign") if actor else None
        if done is not None:
            found = await uow.monthly.campaign(done)
            assert found is not None
            return Created(found, await uow.broadcasts.audience_count(found.audience, ""))
        if await uow.monthly.by_code(definition.form.code) is not None:
            raise InvalidInput(
                field="campaign_code", reason="campaign_taken", value=definition.form.code
            )
        campaign_id = await uow.monthly.add_campaign(
            definition.form.code,
            definition.form.title,
            definition_to_data(definition),
            audience,
            first,
            actor_id,
            now,
        )
        await uow.audit.add(
            subject(campaign_id),
            actor.tg_id if actor else None,
            "campaign_create",
            now,
            detail={"first": first.label, "audience": audience.as_data()},
        )
        if actor is not None:
            await remember(uow, env, actor_id, key, "campaign", campaign_id)
        campaign = await uow.monthly.campaign(campaign_id)
        counted = await uow.broadcasts.audience_count(audience, "")
        await uow.commit()
    assert campaign is not None
    return Created(campaign, counted)


def first_month(env: Env, definition: MonthlyDefinition) -> Period:
    """The first month a new campaign may ask for: last month while its due day is to come,
    else this month."""
    today = env.today()
    last = Period.previous(today)
    if due_day(last, env.calendar, definition.schedule) >= today:
        return last
    return Period.of(today)


# --- the daily sweep ---------------------------------------------------------------------------


def open_periods(campaign: Campaign, today: date, env: Env) -> list[Period]:
    """The periods whose ladder runs today: asked already, and the next not asked yet (once
    the next month is asked, a report still missing is listed, no longer chased daily)."""
    periods = []
    period = campaign.first_period
    while period <= Period.previous(today):
        if ask_day(period, env.calendar) <= today < ask_day(period.next(), env.calendar):
            periods.append(period)
        period = period.next()
    return periods


async def sweep(env: Env) -> int:
    """Ask, remind and escalate every active campaign's enterprises that have not reported
    (each notice once: a second sweep the same day finds them recorded). Returns how many
    notices were made."""
    today = env.today()
    made = 0
    async with env.db.reading() as uow:
        campaigns = [c for c in await uow.monthly.campaigns() if c.active]
    for campaign in campaigns:
        async with env.db.unit_of_work() as uow:
            await uow.monthly.hold(campaign.id)
            fresh = await uow.monthly.campaign(campaign.id)
            assert fresh is not None
            for period in open_periods(fresh, today, env):
                made += await _sweep_period(uow, env, fresh, period, today)
            await uow.monthly.set_swept(campaign.id, today)
            await uow.commit()
    return made


async def _sweep_period(
    uow: UnitOfWork, env: Env, campaign: Campaign, period: Period, today: date
) -> int:
    now = env.now()
    first_time = not await uow.monthly.asked(campaign.id, period)
    if first_time:
        await uow.monthly.choose_targets(campaign.id, period, campaign.audience, now)
    schedule = campaign.definition.schedule
    start = ask_day(period, env.calendar) - timedelta(days=1)
    after = max(campaign.swept_on or start, start)
    if first_time:  # asked late (created after its ask day): no catching up on past days
        after = max(after, today - timedelta(days=1))
    raised: list[int] = []
    made = 0
    for target in await uow.monthly.targets(campaign.id, period):
        if target.latest is not None:
            continue
        sent = await uow.monthly.notices_sent(campaign.id, period, target.enterprise_id)
        todo: list[tuple[MonthlyNotice, date, int]] = []
        if MonthlyNotice.ASK not in sent:  # the first they hear is always the 填报通知
            todo.append((MonthlyNotice.ASK, today, 0))
        for step in ladder_steps(period, after, today, env.calendar, schedule, False, sent & ONCE):
            for kind in step.notices:
                told_today = todo and todo[0][0] is MonthlyNotice.ASK
                if told_today and AUDIENCE[kind] is Told.CONTACTS:
                    continue  # one message to the contacts a day
                todo.append((kind, step.day, step.overdue_days))
        for kind, day, overdue in todo:
            record = await uow.monthly.add_notice(
                campaign.id,
                period,
                target.enterprise_id,
                kind,
                notice_day(kind, day),
                FAMILIES[kind],
                day.year,
                overdue,
                now,
            )
            if record is None:
                continue
            made += 1
            nobody = kind is MonthlyNotice.BAOBAO and target.baobao_user_id is None
            if AUDIENCE[kind] is Told.LEADERS or nobody:
                raised.append(record.id)  # the leaders' one list of the day
            else:
                await _queue(uow, env, record, target)
    if raised:
        for leader in sorted(env.leaders):
            await uow.outbox.add(
                leader,
                LEADERS,
                SUBJECT,
                campaign.id,
                {"notices": raised, "period": period.label},
                delivery.NOTICE,
                now,
            )
    return made


async def _queue(uow: UnitOfWork, env: Env, record: MonthlyNoticeRecord, target: Target) -> None:
    """A notice to the enterprise's contacts, or to its 包保 official."""
    now = env.now()
    if AUDIENCE[record.kind] is Told.CONTACTS:
        chats = await uow.people.contacts_of(target.enterprise_id)
    else:
        chats = [target.baobao_user_id] if target.baobao_user_id is not None else []
    for chat in chats:
        await uow.outbox.add(chat, NOTICE, SUBJECT, record.id, {}, delivery.NOTICE, now)


# --- what a notice says ------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeView:
    record: MonthlyNoticeRecord
    campaign: Campaign
    enterprise: str
    due: date
    reported: bool


async def notice_view(env: Env, notice_id: int) -> NoticeView | None:
    async with env.db.reading() as uow:
        return await _notice_view(uow, env, notice_id)


async def _notice_view(uow: UnitOfWork, env: Env, notice_id: int) -> NoticeView | None:
    record = await uow.monthly.notice(notice_id)
    if record is None:
        return None
    campaign = await uow.monthly.campaign(record.campaign_id)
    if campaign is None:
        return None
    entry = await uow.directory.of_enterprise(record.enterprise_id)
    enterprise = await uow.enterprises.get(record.enterprise_id)
    name = entry.name if entry else (enterprise.name if enterprise else "")
    latest = await uow.monthly.latest(campaign.id, record.period, record.enterprise_id)
    due = due_day(record.period, env.calendar, campaign.definition.schedule)
    return NoticeView(record, campaign, name, due, latest is not None)


async def leaders_view(env: Env, notice_ids: list[int]) -> list[NoticeView]:
    async with env.db.reading() as uow:
        found = [await _notice_view(uow, env, n) for n in notice_ids]
    return [v for v in found if v is not None]


# --- a contact fills the report ----------------------------------------------------------------


@dataclass(frozen=True)
class Filling:
    campaign: Campaign
    period: Period
    due: date
    data: dict[str, Any]  # the latest version's answers, or {}
    version: int  # 0: not submitted yet
    enterprise: str


async def _target_of(uow: UnitOfWork, actor: Actor, campaign_id: int, period: Period) -> Campaign:
    """The campaign, when the actor is a contact of an enterprise asked for the period."""
    if actor.role is not Role.ENTERPRISE or actor.enterprise_id is None:
        raise CampaignNotFound()
    campaign = await uow.monthly.campaign(campaign_id)
    if campaign is None or not await uow.monthly.is_target(
        campaign_id, period, actor.enterprise_id
    ):
        raise CampaignNotFound()
    return campaign


async def start_filling(env: Env, who: Who, campaign_id: int, period: Period) -> Filling:
    """填报 pressed: the form, with what was submitted before (a correction, until the due
    day; after it a submitted report is closed)."""
    async with env.db.reading() as uow:
        actor = await actor_in(uow, env, who)
        campaign = await _target_of(uow, actor, campaign_id, period)
        assert actor.enterprise_id is not None
        latest = await uow.monthly.latest(campaign_id, period, actor.enterprise_id)
        entry = await uow.directory.of_enterprise(actor.enterprise_id)
    due = due_day(period, env.calendar, campaign.definition.schedule)
    if latest is not None and not may_correct(env.today(), due):
        raise _closed(env, period, due, latest)
    return Filling(
        campaign,
        period,
        due,
        dict(latest.data) if latest else {},
        latest.version if latest else 0,
        entry.name if entry else "",
    )


def _closed(env: Env, period: Period, due: date, latest: Submission) -> ReportClosed:
    """A correction after the due day, refused saying when it was reported."""
    return ReportClosed(
        year=period.year,
        month=period.month,
        due=due.isoformat(),
        submitted=latest.submitted_at.astimezone(env.zone).date().isoformat(),
        late=int(latest.late),
    )


def checked_answers(form: ReportForm, data: dict[str, Any], today: date) -> dict[str, Answer]:
    """Stored answers checked again against the form (they came from a client's flow):
    each as its field would take it typed; a required one missing refuses 提交."""
    answers: dict[str, Answer] = {}
    for field in form.fields:
        stored = data.get(field.key)
        if stored is None:
            continue
        value = answer_from_json(field, stored)
        if field.kind is not FieldKind.FILE:
            text = value.isoformat() if isinstance(value, date) else str(value)
            value = parse_answer(field, text, today)
        answers[field.key] = value
    missing = missing_required(form, answers)
    if missing:
        raise ReportIncomplete(fields="、".join(f.label for f in missing))
    return answers


@dataclass(frozen=True)
class Submitted:
    campaign: Campaign
    period: Period
    version: int
    late: bool
    due: date
    replayed: bool = False


async def submit(
    env: Env, who: Who, campaign_id: int, period: Period, data: dict[str, Any], key: str | None
) -> Submitted:
    """提交: a new version of the enterprise's report (the first, or a correction until the
    due day); late when after it."""
    now, today = env.now(), env.today()
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        campaign = await _target_of(uow, actor, campaign_id, period)
        enterprise_id = actor.enterprise_id
        assert enterprise_id is not None
        due = due_day(period, env.calendar, campaign.definition.schedule)
        done = await already_done(uow, env, actor.tg_id, key, "monthly")
        if done is not None:
            latest = await uow.monthly.latest(campaign_id, period, enterprise_id)
            version = latest.version if latest else done
            return Submitted(campaign, period, version, bool(latest and latest.late), due, True)
        try:
            answers = checked_answers(campaign.definition.form, data, today)
        except AnswerRefused as exc:
            raise InvalidInput(
                field="monthly_answer", reason="monthly_stale", label=exc.params.get("label", "")
            ) from None
        await uow.monthly.hold(campaign_id)
        latest = await uow.monthly.latest(campaign_id, period, enterprise_id)
        if latest is not None and not may_correct(today, due):
            raise _closed(env, period, due, latest)
        late = is_late(today, due) if latest is None else latest.late
        stored = answers_to_data(campaign.definition.form, answers)
        version = await uow.monthly.submit(
            campaign_id, period, enterprise_id, stored, actor.tg_id, now, late
        )
        await uow.audit.add(
            subject(campaign_id),
            actor.tg_id,
            "monthly_submit",
            now,
            detail={"period": period.label, "enterprise": enterprise_id, "version": version},
        )
        await remember(uow, env, actor.tg_id, key, "monthly", version)
        await uow.commit()
    return Submitted(campaign, period, version, late, due)


async def set_active(env: Env, who: Who, campaign_id: int, active: bool) -> PeriodStatus:
    """停止 / 恢复: a stopped campaign asks and chases nobody; what was reported stays."""
    now = env.now()
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        may_manage(actor, pressed=True)
        campaign = await uow.monthly.campaign(campaign_id)
        if campaign is None:
            raise CampaignNotFound()
        if await uow.monthly.set_active(campaign_id, active):
            if active:  # from today on: the days it stood still are not caught up
                await uow.monthly.set_swept(campaign_id, env.today() - timedelta(days=1))
            await uow.audit.add(
                subject(campaign_id),
                actor.tg_id,
                "campaign_resume" if active else "campaign_stop",
                now,
            )
        periods = await uow.monthly.periods(campaign_id)
        fresh = await uow.monthly.campaign(campaign_id)
        assert fresh is not None
        period = periods[-1] if periods else fresh.first_period
        found = await _status(uow, env, fresh, period, periods)
        await uow.commit()
    return found


# --- leaders see it ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodStatus:
    campaign: Campaign
    period: Period
    due: date
    targets: list[Target]
    periods: list[Period]  # every period asked so far
    asked_on: date | None = None  # its ask day
    today: date | None = None
    counted: AudienceCount | None = None  # the audience as the directory names it now

    @property
    def reported(self) -> list[Target]:
        return [t for t in self.targets if t.latest is not None]

    @property
    def missing(self) -> list[Target]:
        return [t for t in self.targets if t.latest is None]

    @property
    def late(self) -> list[Target]:
        return [t for t in self.targets if t.latest is not None and t.latest.late]


async def campaigns(env: Env, who: Who) -> list[PeriodStatus]:
    """Every campaign with its latest period asked (or its first, not asked yet)."""
    async with env.db.reading() as uow:
        may_manage(await actor_in(uow, env, who))
        found = []
        for campaign in await uow.monthly.campaigns():
            periods = await uow.monthly.periods(campaign.id)
            period = periods[-1] if periods else campaign.first_period
            found.append(await _status(uow, env, campaign, period, periods))
        return found


async def _status(
    uow: UnitOfWork, env: Env, campaign: Campaign, period: Period, periods: list[Period]
) -> PeriodStatus:
    due = due_day(period, env.calendar, campaign.definition.schedule)
    return PeriodStatus(
        campaign,
        period,
        due,
        await uow.monthly.targets(campaign.id, period),
        periods,
        ask_day(period, env.calendar),
        env.today(),
        await uow.broadcasts.audience_count(campaign.audience, ""),
    )


async def _managed(uow: UnitOfWork, env: Env, who: Who | None, campaign_id: int) -> Campaign:
    """A campaign a leader's button names (who None: the command line, the demo's files);
    anyone else, and an unknown id, read as unknown."""
    if who is not None:
        may_manage(await actor_in(uow, env, who), pressed=True)
    campaign = await uow.monthly.campaign(campaign_id)
    if campaign is None:
        raise CampaignNotFound()
    return campaign


async def status(
    env: Env, who: Who | None, campaign_id: int, period: Period | None
) -> PeriodStatus:
    """One period of a campaign (None: its latest asked), for a leader's button: anyone
    else reads it as unknown."""
    async with env.db.reading() as uow:
        campaign = await _managed(uow, env, who, campaign_id)
        periods = await uow.monthly.periods(campaign_id)
        chosen = period or (periods[-1] if periods else campaign.first_period)
        return await _status(uow, env, campaign, chosen, periods)


@dataclass(frozen=True)
class ReportFiles:
    """The files an enterprise's latest report of a period gave (field label, file)."""

    campaign: Campaign
    period: Period
    enterprise: str
    files: list[tuple[str, AttachedFile]]


def file_answers(form: ReportForm, data: dict[str, Any]) -> list[tuple[str, AttachedFile]]:
    answers = answers_from_data(form, data)
    return [
        (field.label, file)
        for field in form.fields
        if field.kind is FieldKind.FILE
        for file in (answers.get(field.key) or ())
        if isinstance(file, AttachedFile)
    ]


async def report_files(
    env: Env, who: Who, campaign_id: int, period: Period, enterprise_id: int
) -> ReportFiles:
    """A leader's 查看附件 of one enterprise's report (anyone else: unknown)."""
    async with env.db.reading() as uow:
        campaign = await _managed(uow, env, who, campaign_id)
        latest = await uow.monthly.latest(campaign_id, period, enterprise_id)
        if latest is None:
            raise CampaignNotFound()
        entry = await uow.directory.of_enterprise(enterprise_id)
    files = file_answers(campaign.definition.form, latest.data)
    return ReportFiles(campaign, period, entry.name if entry else "", files)


@dataclass(frozen=True)
class History:
    """Every enterprise's latest version of every period, by enterprise name, and the
    periods each asked enterprise did not report."""

    campaign: Campaign
    names: dict[int, str]
    submissions: list[Submission]
    missing: list[tuple[Period, int]] = default(default_factory=list)


async def history(env: Env, who: Who | None, campaign_id: int) -> History:
    async with env.db.reading() as uow:
        campaign = await _managed(uow, env, who, campaign_id)
        submissions = await uow.monthly.all_latest(campaign_id)
        names: dict[int, str] = {}
        missing: list[tuple[Period, int]] = []
        for period in await uow.monthly.periods(campaign_id):
            for target in await uow.monthly.targets(campaign_id, period):
                names[target.enterprise_id] = target.name
                if target.latest is None:
                    missing.append((period, target.enterprise_id))
    return History(campaign, names, submissions, missing)


def series(found: History, field_key: str) -> dict[str, dict[Period, Decimal]]:
    """A numeric field over the months, per enterprise (name → period → value)."""
    field = found.campaign.definition.form.field(field_key)
    lines: dict[str, dict[Period, Decimal]] = {}
    for submission in found.submissions:
        answers = answers_from_data(found.campaign.definition.form, submission.data)
        value = answers.get(field.key)
        if isinstance(value, Decimal):
            lines.setdefault(found.names[submission.enterprise_id], {})[submission.period] = value
    return lines
