"""/digest, /stats, /export and the Monday 督察通报."""

from __future__ import annotations

import logging
import tempfile
from datetime import date, time
from pathlib import Path

from telegram import Bot, Update
from telegram.ext import Application

from bot.digest_files import export_ledger
from bot.digest_text import department_text, leaders_text, pct, split_message, week_name
from bot.pack_worker import leaders_pack
from bot.rules import checks
from bot.rules.digest import Week
from bot.rules.refusals import InvalidInput
from bot.texts import t
from bot.usecases import reports
from bot.usecases.env import Env
from handlers import courier
from handlers.common import (
    Context,
    caller,
    env_of,
    esc,
    local_time,
    refusal_text,
    refusals,
    say,
)
from handlers.instances import leader_only

log = logging.getLogger(__name__)


async def send_text(bot: Bot, chat_id: int, text: str) -> None:
    for piece in split_message(text):
        await bot.send_message(chat_id, piece)


async def send_weekly_digests(bot: Bot, env: Env, week: Week) -> int:
    """Every leader and department gets the week's digest once, through the outbox (so a
    failed send is retried like any notice); returns how many chats it was handed to."""
    queued, served = await queue_weekly_digests(env, week)
    await courier.flush(bot, env, queued)
    return served


# The weekly digests as the catalog words them (a department's view names its week).
WEEKLY_WORDS = reports.WeeklyWords(
    leaders_text, lambda view, week: department_text(view, week_name(week))
)


async def queue_weekly_digests(env: Env, week: Week) -> tuple[list[int], int]:
    """Archive the week's digests and hand them to the outbox, each chat once (a second
    run adds only what the first did not): the outbox ids, and how many chats they serve.
    Each part — a text piece, the chart, the ledger — is then recorded as it goes."""
    done = await reports.queue_weekly(env, week, WEEKLY_WORDS)
    return done.queued, done.served


async def digest_job(context: Context) -> None:
    """JobQueue callback: Monday's digest for last week."""
    env = env_of(context)
    await send_weekly_digests(context.bot, env, Week.before(env.today()))


# After a start on the digest's day past its time (the bot was down, or killed while it
# prepared the digest), what the week's run did not queue is queued this long after start.
CATCH_UP_SECONDS = 15


async def catch_up(bot: Bot, env: Env, at: time, iso_weekday: int) -> int:
    """The digest of the last run that fell due (this week's, once its day and time have
    passed, else last week's) for whoever has not had it — a bot down all Monday, or a
    leader that took over after it, still sends that week's on Tuesday; the run is
    idempotent per chat. Returns how many chats it was handed to now."""
    local = env.now().astimezone(env.zone)
    return await send_weekly_digests(bot, env, Week.last_due(local, at, iso_weekday))


async def digest_catch_up_job(context: Context) -> None:
    """JobQueue callback, once at start-up: see catch_up."""
    at, iso_weekday = context.job.data
    await catch_up(context.bot, env_of(context), at, iso_weekday)


def schedule_digest(app: Application, at: time, iso_weekday: int) -> None:
    if app.job_queue is None:
        return
    # PTB counts days 0-6 from Sunday; ISO counts 1-7 from Monday.
    weekly = leader_only(digest_job)  # several instances: on the leader only
    app.job_queue.run_daily(weekly, time=at, days=(iso_weekday % 7,), name="weekly-digest")
    app.job_queue.run_once(
        leader_only(digest_catch_up_job),
        when=CATCH_UP_SECONDS,
        data=(at, iso_weekday),
        name="weekly-digest-catch-up",
    )


@refusals
async def digest_command(update: Update, context: Context) -> None:
    """/digest [2026-W47]: leaders get the 督察通报, officials their department's."""
    env = env_of(context)
    asked = await reports.digest_for(env, caller(update), context.args[0] if context.args else None)
    week = asked.week
    if asked.actor.is_staff:  # the department's view of this week, or of the week named
        view = asked.department
        text = department_text(view, week_name(week)) if view else t("digest_no_department")
        await say(update, context, split_message(text)[0])
        for piece in split_message(text)[1:]:
            await context.bot.send_message(update.effective_chat.id, piece)
        return
    digest, archived = asked.leaders, asked.archived
    assert digest is not None, "a leader's digest"
    if archived is not None:
        stamp = local_time(env, archived.created_at)
        text = archived.text + "\n\n" + t("digest_archived", week=week_name(week), time=stamp)
    else:
        text = leaders_text(digest)
    pack = await leaders_pack(env, week, text, digest)
    chat_id = update.effective_chat.id
    await send_text(context.bot, chat_id, pack.text)
    for part in courier.pack_parts(pack):
        await courier.send_part(context.bot, chat_id, part)


@refusals
async def stats_command(update: Update, context: Context) -> None:
    """/stats: quick numbers."""
    env = env_of(context)
    asked = await reports.stats(env, caller(update))
    figures = dict(asked.figures)
    now = local_time(env, env.now())
    figures["on_time"] = pct(figures["on_time"])
    figures["satisfaction"] = pct(figures["satisfaction"])
    text = t("stats", now=now, **figures)
    empty = asked.unstaffed
    if empty:
        text += "\n" + t("unstaffed", names="、".join(esc(d.name) for d in empty))
    await say(update, context, text)


def export_usage(today: date) -> str:
    """How /export is written, its examples a period already past (last month)."""
    start, end = checks.sample_period(today)
    return t(
        "export_usage",
        start=start.isoformat(),
        end=end.isoformat(),
        slash=f"{end.year}/{end.month}/{end.day}",
        cn=f"{end.year}年{end.month}月{end.day}日",
        month=f"{end.year}-{end.month:02d}",
        year=f"{today.year - 1}年",
    )


@refusals
async def export_command(update: Update, context: Context) -> None:
    """/export [from] [to]: the appeal ledger as XLSX."""
    env = env_of(context)
    try:
        start, end = checks.parse_period(*checks.period_words(context.args), env.today())
    except InvalidInput as exc:
        if exc.params["reason"] == "period_order":  # the dates are fine, their order is not
            start, end = checks.period_words(context.args)
            example = t("export_order_example", start=end, end=start)  # as typed, swapped
        else:
            example = export_usage(env.today())
        await say(update, context, refusal_text(exc) + "\n" + example)
        return
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / t("ledger.file", label=f"{start}-{end}")
        count = await export_ledger(env, caller(update), start, end, target)
        await context.bot.send_document(
            update.effective_chat.id,
            target.read_bytes(),
            filename=target.name,
            caption=t("digest_ledger_caption", start=start, end=end, count=count),
        )
