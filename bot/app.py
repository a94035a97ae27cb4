"""Wiring: builds the Application and registers every handler in one visible list."""

from __future__ import annotations

import gc
import logging
from collections import OrderedDict
from datetime import timedelta

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.environment import environment
from bot.logs import update_ids
from bot.rules.model import Role
from bot.rules.org import OrgConfig
from bot.texts import t
from bot.usecases import outbox, reports
from bot.usecases.env import Env
from bot.usecases.people import sync_departments, unstaffed
from handlers import (
    admin,
    audience,
    broadcast,
    campaigns,
    cases,
    chats,
    colleagues,
    courier,
    digest,
    directory,
    files,
    filing,
    flow,
    monthly,
    start,
    tasks,
    understand,
)
from handlers.broadcast_text import RECEIVED, SENT, UNMUTE
from handlers.buttons import (
    APPEAL_ACTION_CODES,
    APPEAL_FILES,
    EXT_NO,
    EXT_OK,
    TASK,
    TASK_FILES,
    VIEW,
    routed,
)
from handlers.common import OWED_SENDER, Context, esc, say
from handlers.jobs import schedule
from handlers.menus import set_default_menu, set_menu
from handlers.monthly_text import FILL

log = logging.getLogger(__name__)

SANDBOX_TOKEN = "123456789:SANDBOX-offline-token"
TEXT = filters.TEXT & ~filters.COMMAND
FILES = filters.PHOTO | filters.Document.ALL
PRIVATE = filters.ChatType.PRIVATE


def handler_list() -> list:
    """Everything the bot reacts to, in the order it is tried (first match wins).

    Which step typed text belongs to is decided by the user's one stored flow
    (`handlers.flow`), not by the order here; the guards in `guards()` run first."""
    return [
        CommandHandler("start", start.start),
        CommandHandler("cancel", start.cancel),
        CommandHandler("colleague", colleagues.invite),
        CommandHandler("contacts", colleagues.list_contacts),
        CommandHandler("help", start.help_command),
        CommandHandler("new", filing.new),
        CommandHandler("my", cases.my),
        CommandHandler("inbox", cases.inbox),
        CommandHandler("overdue", cases.overdue),
        CommandHandler("view", cases.view_command),
        CommandHandler("skip", cases.skip),
        CommandHandler("tasks", tasks.tasks_command),
        CommandHandler("done", tasks.task_done),
        CommandHandler("digest", digest.digest_command),
        CommandHandler("stats", digest.stats_command),
        CommandHandler("export", digest.export_command),
        CommandHandler("invite", admin.invite),
        CommandHandler("baobao", admin.baobao),
        CommandHandler("enterprises", directory.enterprises_command),
        CommandHandler("broadcast", broadcast.broadcast_command),
        CommandHandler("campaigns", campaigns.campaigns_command),
        # Buttons are routed by kind; each handler decodes its data with the one codec
        # (handlers/buttons.py), which answers data it cannot read as an unknown id.
        # Every appeal action button, whatever it needs; the workflow table decides.
        CallbackQueryHandler(cases.action_pressed, pattern=routed(*APPEAL_ACTION_CODES)),
        CallbackQueryHandler(filing.category_pressed, pattern=routed("cat")),
        CallbackQueryHandler(start.registration_pressed, pattern=routed("reg")),
        CallbackQueryHandler(colleagues.remove_pressed, pattern=routed("contact")),
        CallbackQueryHandler(filing.draft_pressed, pattern=routed("new")),
        CallbackQueryHandler(cases.department_pressed, pattern=routed("dept")),
        CallbackQueryHandler(cases.view_pressed, pattern=routed(VIEW)),
        CallbackQueryHandler(files.appeal_files_pressed, pattern=routed(APPEAL_FILES)),
        CallbackQueryHandler(files.task_files_pressed, pattern=routed(TASK_FILES)),
        CallbackQueryHandler(tasks.task_pressed, pattern=routed(TASK)),
        CallbackQueryHandler(admin.invite_department_pressed, pattern=routed("inv")),
        CallbackQueryHandler(admin.invite_role_pressed, pattern=routed("invr")),
        CallbackQueryHandler(admin.baobao_pressed, pattern=routed("bb")),
        CallbackQueryHandler(admin.baobao_department_pressed, pattern=routed("bbd")),
        CallbackQueryHandler(cases.extension_decided, pattern=routed(EXT_OK, EXT_NO)),
        CallbackQueryHandler(tasks.ledger_pressed, pattern=routed("tasks")),
        CallbackQueryHandler(tasks.owner_pressed, pattern=routed("tasko")),
        CallbackQueryHandler(tasks.owner_department_pressed, pattern=routed("taskd")),
        CallbackQueryHandler(understand.menu_pressed, pattern=routed(understand.MENU)),
        CallbackQueryHandler(directory.entry_pressed, pattern=routed(directory.ENTRY)),
        CallbackQueryHandler(broadcast.topic_pressed, pattern=routed(broadcast.TOPIC)),
        CallbackQueryHandler(audience.kind_pressed, pattern=routed(audience.KIND)),
        CallbackQueryHandler(audience.value_pressed, pattern=routed(audience.VALUE)),
        CallbackQueryHandler(broadcast.choice_pressed, pattern=routed(broadcast.CHOICE)),
        CallbackQueryHandler(broadcast.received_pressed, pattern=routed(RECEIVED)),
        CallbackQueryHandler(broadcast.sent_pressed, pattern=routed(SENT)),
        CallbackQueryHandler(broadcast.unmute_pressed, pattern=routed(UNMUTE)),
        CallbackQueryHandler(monthly.fill_pressed, pattern=routed(FILL)),
        CallbackQueryHandler(monthly.act_pressed, pattern=routed(monthly.ACT)),
        CallbackQueryHandler(monthly.choice_pressed, pattern=routed(monthly.CHOICE)),
        CallbackQueryHandler(monthly.edit_pressed, pattern=routed(monthly.EDIT)),
        CallbackQueryHandler(campaigns.view_pressed, pattern=routed(campaigns.VIEW)),
        CallbackQueryHandler(campaigns.chart_pressed, pattern=routed(campaigns.CHART)),
        CallbackQueryHandler(campaigns.first_pressed, pattern=routed(campaigns.FIRST)),
        CallbackQueryHandler(campaigns.files_pressed, pattern=routed(campaigns.FILES)),
        # Anything not matched above: an unknown command, typed input, an old or forged button.
        MessageHandler(filters.COMMAND, unknown_command),
        MessageHandler(PRIVATE & (TEXT | FILES), understand.typed),
        MessageHandler(PRIVATE & ~filters.StatusUpdate.ALL, understand.other_update),
        CallbackQueryHandler(stale_button),
    ]


def guards() -> list:
    """Run before everything else: a group's move to a supergroup, text that is not
    characters, edits, groups, and leaving or lapsing flows."""
    return [
        MessageHandler(filters.StatusUpdate.MIGRATE, chats.migrated),
        TypeHandler(Update, understand.unreadable_guard),
        TypeHandler(Update, understand.group_guard),
        TypeHandler(Update, flow.guard),
    ]


async def unknown_command(update: Update, context: Context) -> None:
    """A command this bot does not know."""
    await say(update, context, t("unknown_command"))


async def stale_button(update: Update, context: Context) -> None:
    """A button from a finished conversation, or data this bot never sent."""
    await say(update, context, t("stale_button"))


async def announce_calendar_gaps(update: object, context: Context) -> None:
    """Tell each admin once per year (ever, not per start) that the statutory calendar is
    missing for a year, so the operator upgrades chinesecalendar or fills [calendar]."""
    env: Env = context.application.bot_data["env"]
    seen: set[int] = context.application.bot_data.setdefault("calendar_years_seen", set())
    for year in sorted(env.calendar.fallback_years - seen):
        seen.add(year)
        queued = await outbox.tell_once(
            env, f"calendar:{year}", "calendar_fallback", {"year": year}, sorted(env.leaders)
        )
        await courier.flush(context.bot, env, queued)


async def warn_unstaffed(context: Context) -> None:
    """At start-up (at most once a day), admins learn which departments nobody has joined."""
    env: Env = context.application.bot_data["env"]
    empty = await unstaffed(env)
    if not empty:
        return
    names = [d.name for d in empty]
    log.warning("departments without members (their appeals go to the leaders): %s", names)
    queued = await outbox.tell_once(
        env,
        f"unstaffed:{env.today()}",
        "unstaffed_start",
        {"names": "、".join(names)},
        sorted(env.leaders),
    )
    await courier.flush(context.bot, env, queued)


async def error_handler(update: object, context: Context) -> None:
    """Log the fault (ids only, never the user's text); tell the user it did not go through.
    A request Telegram refused (400) fails the same way every time: it is logged once, in
    one line, and the user learns what happened instead of being asked to try again."""
    refused = isinstance(context.error, BadRequest)
    if refused:
        log.error("Telegram refused a request (%s): %s", update_ids(update), context.error)
    else:
        log.error("unhandled error (%s)", update_ids(update), exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        if not first_fault_of(context.application.bot_data, update.update_id):
            return  # another handler group failed on the same update: the person was told
        text = refused_text(context.error) if refused else t("error_internal")
        try:
            await context.bot.send_message(update.effective_chat.id, text)
        except Exception:  # noqa: BLE001 - nothing more to do
            log.warning("could not report the error to the user")


FAULTS_REMEMBERED = 1000


def first_fault_of(bot_data: dict, update_id: int) -> bool:
    """True the first time an update fails: an update runs through several handler groups,
    and when the database is down each fails — the person hears of it once."""
    told: OrderedDict[int, None] = bot_data.setdefault("updates_failed", OrderedDict())
    if update_id in told:
        return False
    told[update_id] = None
    if len(told) > FAULTS_REMEMBERED:
        told.popitem(last=False)
    return True


def refused_text(error: BadRequest) -> str:
    """What a refusal by Telegram means for the person, in terms they can act on."""
    reason = error.message.lower()
    if "too long" in reason or "reply_markup" in reason or "button_data" in reason:
        return t("error_refused.too_long")
    if "file is too big" in reason:
        return t("error_refused.file_too_big")
    return t("error_refused.other", reason=esc(error.message[:100]))


async def on_start(app: Application) -> None:
    """Open the database, sync departments, check the calendar, register menus."""
    env: Env = app.bot_data["env"]
    await env.db.open()
    await sync_departments(env)
    # Before serving: after an upgrade (or a change of zone) every appeal is counted once,
    # seconds at a province's size, during which SQLite's writer would make people's steps
    # wait had the first digest done it; later refreshes count only the changed days.
    await reports.refresh_tallies(env)
    today = env.today()
    for year in sorted({today.year, (today + timedelta(days=90)).year}):
        if not env.calendar.covers(year):
            env.calendar.note_fallback(year)
    await set_default_menu(app.bot)
    for admin_id in sorted(env.leaders):
        await set_menu(app.bot, admin_id, Role.ADMIN)
    context = Context(application=app)
    await announce_calendar_gaps(None, context)
    await warn_unstaffed(context)
    settings: Settings = app.bot_data["settings"]
    schedule(app, settings.sweep_at)
    digest.schedule_digest(app, settings.digest_at, settings.digest_weekday)


async def on_start_to_serve(app: Application) -> None:
    """`on_start` for a long-running bot: then the heap is settled (see settle_heap)."""
    await on_start(app)
    settle_heap()


def settle_heap() -> None:
    """After start-up: what exists now lives as long as the process, so the cycle collector
    stops walking it. A full collection walked it all and held every update up for about
    100 ms in a Monday burst (15 ms after this; docs/performance.md)."""
    gc.collect()
    gc.freeze()


async def on_stop(app: Application) -> None:
    await app.bot_data["env"].db.close()


def make_env(settings: Settings, org: OrgConfig, clock: Clock | None = None) -> Env:
    """The use cases' environment on the configured database (not opened yet)."""
    return environment(
        settings.database_url,
        org,
        clock or SystemClock(),
        frozenset(settings.admin_ids),
        settings.zone,
        invite_ttl=timedelta(hours=settings.invite_ttl_hours),
        prompt_ttl=timedelta(minutes=settings.prompt_ttl_minutes),
    )


def file_base_url(base_url: str) -> str:
    """Telegram serves files under /file/bot<token>/ next to /bot<token>/."""
    root, _, tail = base_url.rstrip("/").rpartition("/")
    return f"{root}/file/{tail}" if tail.startswith("bot") else base_url.rstrip("/") + "/file/bot"


def build_application(
    settings: Settings,
    org: OrgConfig,
    *,
    clock: Clock | None = None,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
    rate_limiter: BaseRateLimiter | None = None,
    update_processor: BaseUpdateProcessor | None = None,
    serving: bool = False,
) -> Application:
    """The Application with its environment; `request` replaces HTTP (the offline sandbox);
    `serving`: a long-running bot (`appealdesk run`), whose heap is settled after start-up."""
    token = settings.bot_token.get_secret_value() if settings.bot_token else SANDBOX_TOKEN
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram_base_url)
        .base_file_url(file_base_url(settings.telegram_base_url))
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=settings.zone))
        .post_init(on_start_to_serve if serving else on_start)
        .post_shutdown(on_stop)
    )
    if rate_limiter is not None:
        builder = builder.rate_limiter(rate_limiter)
    if update_processor is not None:
        builder = builder.concurrent_updates(update_processor)
    if request is not None:
        builder = builder.request(request).get_updates_request(updates_request or request)
    elif settings.telegram_proxy:
        builder = builder.proxy(settings.telegram_proxy).get_updates_proxy(settings.telegram_proxy)
    app = builder.build()
    app.bot_data["settings"] = settings
    app.bot_data["env"] = make_env(settings, org, clock)
    app.bot_data[OWED_SENDER] = courier.send_soon  # answers Telegram refused, sent again
    for handler in handler_list():
        app.add_handler(handler)
    for number, handler in enumerate(guards()):
        # Each guard in its own group before 0, so each runs; a guard may stop the update.
        app.add_handler(handler, group=number - len(guards()))
    # Group 1 runs after whatever handled the update in group 0.
    app.add_handler(TypeHandler(Update, announce_calendar_gaps), group=1)
    app.add_error_handler(error_handler)
    return app
