"""`appealdesk check`: what an operator verifies before starting the bot, one line each.

Settings and the org config, the statutory calendar for the next 90 days, the database's
integrity and schema (PostgreSQL: reachable, its version, the schema), the token (getMe,
through the proxy if one is set)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from bot.config import ConfigError, Settings, load_org, load_settings
from bot.rules.org import OrgConfig
from bot.rules.workcal import WorkingCalendar

CALENDAR_DAYS = 90
OK, WARN, FAIL = "ok", "warn", "FAIL"
# (status, line): a warning is printed but does not fail the check (the bot runs, and says
# so to the admins too); a failure means it cannot run as configured.
Check = tuple[str, str]


def run_checks(env_file: str | Path | None = None) -> Iterator[Check]:
    try:
        settings = load_settings(env_file)
    except ConfigError as exc:
        yield FAIL, f"settings: {exc}"
        return
    yield OK, settings_line(settings)
    if not settings.admin_ids:
        yield (
            WARN,
            (
                "settings: ADMIN_IDS is empty — leaders receive the digest and invite staff; a"
                " person's numeric id is shown when they send /start to the bot"
            ),
        )
    try:
        org = load_org(settings.org_config)
    except ConfigError as exc:
        yield FAIL, f"org config: {exc}"
        return
    departments, categories = len(org.departments), len(org.categories)
    yield (
        OK,
        f"org config: {settings.org_config} ({departments} departments, {categories} categories)",
    )
    yield calendar_check(org, settings)
    yield database_check(settings.database_url)
    yield asyncio.run(token_check(settings))


def settings_line(settings: Settings) -> str:
    proxy = f", proxy {settings.telegram_proxy.split('@')[-1]}" if settings.telegram_proxy else ""
    path = settings.database_path
    database = path.resolve() if path is not None else settings.database_shown
    return (
        f"settings: database {database}, time zone {settings.timezone},"
        f" {len(settings.admin_ids)} admin(s){proxy}"
    )


def calendar_check(org: OrgConfig, settings: Settings) -> Check:
    """Every day of the next 90 is known to the statutory calendar (or the org's overrides)."""
    calendar = WorkingCalendar(org.calendar.holidays, org.calendar.workdays, lambda _: None)
    today = datetime.now(settings.zone).date()
    last = today + timedelta(days=CALENDAR_DAYS)
    declared = {d.year for d in (*org.calendar.holidays, *org.calendar.workdays)}
    missing = [
        year
        for year in range(today.year, last.year + 1)
        if not calendar.covers(year) and year not in declared
    ]
    if missing:
        years = "、".join(str(y) for y in missing)
        return WARN, (
            f"calendar: the statutory holidays of {years} are unknown (needed by {last});"
            " upgrade chinesecalendar or add [calendar] holidays/workdays to the org config"
            " (until then Monday to Friday count as working days)"
        )
    return OK, f"calendar: statutory holidays known up to {last} and beyond"


def database_check(url: str) -> Check:
    """SQLite: the file's integrity and schema, in the words of the bot's own start;
    PostgreSQL: the server reachable, its version, the schema current, the collation."""
    from storage.factory import check_database

    ok, line, caution = check_database(url)
    if ok and caution:
        return WARN, f"{line}; {caution}"
    return (OK if ok else FAIL), line


async def token_check(settings: Settings) -> Check:
    if settings.bot_token is None:
        return FAIL, "token: BOT_TOKEN is not set (only `appealdesk demo` runs without it)"
    from telegram import Bot
    from telegram.error import InvalidToken, NetworkError, TelegramError
    from telegram.request import HTTPXRequest

    request = HTTPXRequest(proxy=settings.telegram_proxy, connect_timeout=10, read_timeout=10)
    bot = Bot(
        settings.bot_token.get_secret_value(), base_url=settings.telegram_base_url, request=request
    )
    route = " through the proxy" if settings.telegram_proxy else ""
    try:
        async with bot:
            me = await bot.get_me()
    except InvalidToken:
        return FAIL, "token: Telegram rejected BOT_TOKEN (check it with @BotFather)"
    except NetworkError as exc:
        return FAIL, f"token: cannot reach the Bot API{route}: {exc.message}"
    except TelegramError as exc:
        return FAIL, f"token: {exc.message}"
    return OK, f"token: the bot is @{me.username}{route}"
