"""Wiring: builds the Application and registers every handler in one visible list."""

from __future__ import annotations

import logging
import warnings
from datetime import timedelta

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest
from telegram.warnings import PTBUserWarning

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.rules.model import Role
from bot.rules.org import OrgConfig
from bot.rules.workcal import WorkingCalendar
from bot.texts import t
from bot.usecases.env import Env
from bot.usecases.people import sync_departments
from handlers import admin, cases, digest, filing, start, tasks
from handlers.buttons import APPEAL_ACTION_CODES
from handlers.common import Context, say
from handlers.jobs import schedule
from handlers.menus import set_default_menu, set_menu
from storage.db import Database

log = logging.getLogger(__name__)
# Our conversations mix buttons and typed text on purpose, so per_message stays False.
warnings.filterwarnings("ignore", message=r".*per_message=False", category=PTBUserWarning)

SANDBOX_TOKEN = "123456789:SANDBOX-offline-token"
TEXT = filters.TEXT & ~filters.COMMAND
FILES = filters.PHOTO | filters.Document.ALL


def handler_list() -> list:
    """Everything the bot reacts to, in the order it is tried (first match wins)."""
    cancel = CommandHandler("cancel", start.cancel)
    registration = ConversationHandler(
        entry_points=[CommandHandler("start", start.start)],
        states={
            start.NAME: [MessageHandler(TEXT, start.got_name)],
            start.USCC: [MessageHandler(TEXT, start.got_uscc)],
            start.CONTACT: [MessageHandler(TEXT, start.got_contact)],
            start.PHONE: [MessageHandler(TEXT, start.got_phone)],
        },
        fallbacks=[cancel],
        allow_reentry=True,
        name="registration",
    )
    filing_conversation = ConversationHandler(
        entry_points=[CommandHandler("new", filing.new)],
        states={
            filing.CATEGORY: [
                CallbackQueryHandler(filing.category_pressed, pattern=r"^cat:"),
                MessageHandler(TEXT, filing.category_typed),
            ],
            filing.DESCRIPTION: [MessageHandler(TEXT, filing.description)],
            filing.ATTACHMENTS: [
                MessageHandler(FILES, filing.attachment),
                CallbackQueryHandler(filing.submit, pattern=r"^new:submit$"),
                CallbackQueryHandler(filing.cancel_pressed, pattern=r"^new:cancel$"),
                MessageHandler(TEXT, filing.waiting_for_submit),
            ],
        },
        fallbacks=[cancel],
        allow_reentry=True,
        name="filing",
    )
    action_codes = "|".join(APPEAL_ACTION_CODES)
    action_conversation = ConversationHandler(
        entry_points=[
            # Every appeal action button, whatever it needs; the workflow table decides.
            CallbackQueryHandler(cases.action_pressed, pattern=rf"^({action_codes}):"),
        ],
        states={
            cases.AWAIT_DEPARTMENT: [
                CallbackQueryHandler(cases.department_pressed, pattern=r"^dept:"),
                MessageHandler(TEXT, cases.department_typed),
            ],
            cases.AWAIT_DATE: [MessageHandler(TEXT, cases.date_given)],
            cases.AWAIT_TEXT: [MessageHandler(TEXT | FILES, cases.text_given)],
            cases.AWAIT_COMMENT: [
                MessageHandler(TEXT, cases.comment_given),
                CommandHandler("skip", cases.skip),
            ],
        },
        fallbacks=[cancel],
        allow_reentry=True,
        name="appeal_action",
    )
    task_conversation = ConversationHandler(
        entry_points=[
            CommandHandler("tasks", tasks.tasks_command),
            CallbackQueryHandler(tasks.task_pressed, pattern=r"^task:"),
        ],
        states={
            tasks.TASK_TEXT: [MessageHandler(TEXT | FILES, tasks.task_text)],
            tasks.TASK_ATTACH: [
                MessageHandler(FILES, tasks.task_attachment),
                CommandHandler("done", tasks.task_done),
                MessageHandler(TEXT, tasks.task_text),
            ],
            tasks.TASK_FILE: [
                MessageHandler(filters.Document.ALL, tasks.file_received),
                MessageHandler(TEXT, tasks.file_expected),
            ],
        },
        fallbacks=[cancel, CommandHandler("done", tasks.task_done)],
        allow_reentry=True,
        name="tasks",
    )
    return [
        # Conversations first: while one is waiting for text, that text belongs to it.
        registration,
        filing_conversation,
        action_conversation,
        task_conversation,
        CommandHandler("help", start.help_command),
        CommandHandler("cancel", start.cancel_outside),
        CommandHandler("my", cases.my),
        CommandHandler("inbox", cases.inbox),
        CommandHandler("overdue", cases.overdue),
        CommandHandler("view", cases.view_command),
        CommandHandler("digest", digest.digest_command),
        CommandHandler("stats", digest.stats_command),
        CommandHandler("export", digest.export_command),
        CommandHandler("invite", admin.invite),
        CommandHandler("baobao", admin.baobao),
        CallbackQueryHandler(cases.view_pressed, pattern=r"^view:"),
        CallbackQueryHandler(admin.invite_department_pressed, pattern=r"^inv:"),
        CallbackQueryHandler(admin.invite_role_pressed, pattern=r"^invr:"),
        CallbackQueryHandler(admin.baobao_pressed, pattern=r"^bb:"),
        CallbackQueryHandler(cases.extension_decided, pattern=r"^ext(ok|no):"),
        CallbackQueryHandler(tasks.export_pressed, pattern=r"^tasks:export$"),
        CallbackQueryHandler(tasks.owner_pressed, pattern=r"^tasko:"),
        CallbackQueryHandler(filing.stale_submit, pattern=r"^new:submit$"),
        # Anything not matched above: an unknown command, stray text, an old or forged button.
        MessageHandler(filters.COMMAND, unknown_command),
        MessageHandler(filters.ChatType.PRIVATE & (TEXT | FILES), stray_message),
        CallbackQueryHandler(stale_button),
    ]


async def unknown_command(update: Update, context: Context) -> None:
    """A command this bot does not know."""
    await say(update, context, t("unknown_command"))


async def stray_message(update: Update, context: Context) -> None:
    """Text outside any conversation."""
    await say(update, context, t("plain_text_hint"))


async def stale_button(update: Update, context: Context) -> None:
    """A button from a finished conversation, or data this bot never sent."""
    await say(update, context, t("stale_button"))


async def announce_calendar_gaps(update: object, context: Context) -> None:
    """Tell admins, once per year, that the statutory calendar is missing for a year."""
    env: Env = context.application.bot_data["env"]
    announced: set[int] = context.application.bot_data.setdefault("calendar_announced", set())
    for year in sorted(env.calendar.fallback_years - announced):
        announced.add(year)
        for admin_id in sorted(env.leaders):
            try:
                await context.bot.send_message(admin_id, t("calendar_fallback", year=year))
            except Exception as exc:  # noqa: BLE001 - an unreachable admin must not stop others
                log.warning("calendar warning to admin %s failed: %s", admin_id, exc)


async def error_handler(update: object, context: Context) -> None:
    """Log the fault; tell the user their action did not go through."""
    log.error("unhandled error while handling %s", update, exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(update.effective_chat.id, t("error_internal"))
        except Exception:  # noqa: BLE001 - nothing more to do
            log.warning("could not report the error to the user")


async def on_start(app: Application) -> None:
    """Open the database, sync departments, check the calendar, register menus."""
    env: Env = app.bot_data["env"]
    await env.db.open()
    await sync_departments(env)
    today = env.today()
    for year in sorted({today.year, (today + timedelta(days=90)).year}):
        if not env.calendar.covers(year):
            env.calendar.note_fallback(year)
    await set_default_menu(app.bot)
    for admin_id in sorted(env.leaders):
        await set_menu(app.bot, admin_id, Role.ADMIN)
    context = Context(application=app)
    await announce_calendar_gaps(None, context)
    settings: Settings = app.bot_data["settings"]
    schedule(app, settings.sweep_at)
    digest.schedule_digest(app, settings.digest_at, settings.digest_weekday)


async def on_stop(app: Application) -> None:
    await app.bot_data["env"].db.close()


def make_env(settings: Settings, org: OrgConfig, clock: Clock | None = None) -> Env:
    """The use cases' environment on the configured database (not opened yet)."""
    return Env(
        db=Database(settings.database_path),
        org=org,
        calendar=WorkingCalendar(org.calendar.holidays, org.calendar.workdays),
        clock=clock or SystemClock(),
        leaders=frozenset(settings.admin_ids),
        zone=settings.zone,
        invite_ttl=timedelta(hours=settings.invite_ttl_hours),
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
) -> Application:
    """The Application with its environment; `request` replaces HTTP (the offline sandbox)."""
    token = settings.bot_token.get_secret_value() if settings.bot_token else SANDBOX_TOKEN
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram_base_url)
        .base_file_url(file_base_url(settings.telegram_base_url))
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=settings.zone))
        .post_init(on_start)
        .post_shutdown(on_stop)
    )
    if rate_limiter is not None:
        builder = builder.rate_limiter(rate_limiter)
    if request is not None:
        builder = builder.request(request).get_updates_request(updates_request or request)
    app = builder.build()
    app.bot_data["settings"] = settings
    app.bot_data["env"] = make_env(settings, org, clock)
    for handler in handler_list():
        app.add_handler(handler)
    # Group 1 runs after whatever handled the update in group 0.
    app.add_handler(TypeHandler(Update, announce_calendar_gaps), group=1)
    app.add_error_handler(error_handler)
    return app
