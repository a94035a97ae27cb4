"""The `appealdesk` command: run, demo, check, backup, migrate, copy-db, export, digest,
tasks, enterprises."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from bot.config import ENV_FILE_VARIABLE, ConfigError, Settings, load_org, load_settings
from bot.logs import configure as configure_logging
from bot.rules.digest import Week
from bot.rules.org import OrgConfig
from bot.rules.refusals import InvalidInput, TaskImportError
from storage import DatabaseUnusable
from storage.factory import secrets_of

log = logging.getLogger(__name__)


def _configure(args: argparse.Namespace) -> tuple[Settings, OrgConfig]:
    settings = load_settings(getattr(args, "env_file", None))
    org = load_org(settings.org_config)
    return settings, org


# Updates handled at once in `appealdesk run` (each person's still in order).
CONCURRENT_UPDATES = 32
# A pause between getUpdates calls: at busy times the updates that arrive meanwhile come in
# one call instead of one call each (measured in docs/performance.md); nobody notices 50 ms.
POLL_INTERVAL = 0.05


def cmd_run(args: argparse.Namespace) -> int:
    """Long-poll Telegram. A database it cannot use stops it before Telegram is contacted,
    with one line naming it (the file, or the URL without its password) and the problem
    (status 1: a supervisor may retry)."""
    settings, org = _configure(args)
    if settings.bot_token is None:
        raise ConfigError(
            "setting BOT_TOKEN: required for `appealdesk run` "
            "(try `appealdesk demo` for the offline sandbox)"
        )
    webhook = getattr(args, "webhook", False)
    if webhook:
        _require_webhook_settings(settings)
    from telegram import Update

    from bot.app import build_application
    from bot.serving import poll_as_one, serve_webhook
    from bot.sheets import stop_worker
    from handlers.courier import SEND_IN_BACKGROUND
    from handlers.limits import FloodLimits
    from handlers.ordering import PerUserOrder
    from storage.factory import database_errors, ready

    # Flood limits (30/s overall, 20/min per group, 1/s per chat) and RetryAfter retries.
    app = build_application(
        settings,
        org,
        rate_limiter=FloodLimits(max_retries=3),
        update_processor=PerUserOrder(CONCURRENT_UPDATES),
        serving=True,
    )
    app.bot_data[SEND_IN_BACKGROUND] = True  # answer the actor, then notify others
    try:
        # Every page read, the schema brought up to date, the write lock taken once; then
        # start-up (post_init) opens it again. A storage error met during start-up is
        # said the same way (post_init's errors come out of run_polling).
        asyncio.run(ready(settings.database_url))
        with database_errors(settings.database_url), bot_api_errors(settings):
            if webhook:
                asyncio.run(serve_webhook(app, settings))
            else:
                poll_as_one(app, _say, getattr(args, "replace_webhook", False))
                app.run_polling(allowed_updates=Update.ALL_TYPES, poll_interval=POLL_INTERVAL)
    except DatabaseUnusable as exc:
        _say(str(exc))
        return exit_status(exc)
    finally:
        # However start-up or shutdown failed (post_shutdown, which closes it, does not run
        # when PTB's own shutdown fails), the database is closed: each open connection has a
        # thread that would keep the process alive after the error.
        asyncio.run(app.bot_data["env"].db.close())
        stop_worker()  # a weekly pack half built is not waited for (the next start makes it)
    return 0


def _require_webhook_settings(settings: Settings) -> None:
    """--webhook needs where Telegram posts, the secret it sends back, and aiohttp."""
    if settings.webhook_url is None:
        raise ConfigError(
            "setting WEBHOOK_URL: required for `appealdesk run --webhook` (the public https"
            " URL Telegram posts updates to, e.g. https://bot.example.gov.cn/telegram)"
        )
    if settings.webhook_secret is None:
        raise ConfigError(
            "setting WEBHOOK_SECRET: required for `appealdesk run --webhook` (1–256 of"
            " A–Z a–z 0–9 _ -; Telegram sends it with every update, others are refused)"
        )
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        raise ConfigError(
            "`appealdesk run --webhook` needs the server extra: pip install 'appealdesk[server]'"
        ) from None


def exit_status(exc: Exception) -> int:
    """2 for what stays wrong until somebody changes a setting or a file (a supervisor should
    not restart in a loop), 1 for what may clear by itself (a lock, a full disk, the
    network)."""
    return 2 if isinstance(exc, DatabaseUnusable) and exc.lasting else 1


class BotApiUnreachable(Exception):
    """The Bot API did not answer: one line, status 1 (unlike a bad setting, it may clear,
    so a supervisor restarts the bot)."""


@contextmanager
def bot_api_errors(settings: Settings) -> Iterator[None]:
    """Telegram refusing the token, or a Bot API out of reach, is one line naming the setting."""
    from telegram.error import InvalidToken, NetworkError

    try:
        yield
    except InvalidToken:
        raise ConfigError(
            "setting BOT_TOKEN: Telegram rejected the token (check it with @BotFather)"
        ) from None
    except NetworkError as exc:  # status 1, not 2: the network may come back, so restart
        route = " through the proxy" if settings.telegram_proxy else ""
        raise BotApiUnreachable(
            f"cannot reach the Bot API at {api_host(settings)}{route} ({exc.message})"
        ) from None


def api_host(settings: Settings) -> str:
    """Where the Bot API is, without the token-bearing path."""
    parts = urlsplit(settings.telegram_base_url)
    return f"{parts.scheme}://{parts.netloc}"


def cmd_demo(args: argparse.Namespace) -> int:
    settings, org = _configure(args)
    from bot.sandbox.demo import run_demo

    folder = asyncio.run(run_demo(settings, org, print))
    print(f"\n演示结束。数据库保存在 {folder}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """SQLite: an online backup to a new file. PostgreSQL: the pg_dump / pg_restore recipe
    for the configured database, and status 2 — nothing was copied, and a script must not
    take it for a backup."""
    settings, _ = _configure(args)
    from storage.factory import BackupByPgDump, BackupRefused, DatabaseMissing, backup

    target = Path(args.target)
    if settings.on_sqlite:
        folder = target.parent.resolve()
        if not folder.is_dir():
            raise ConfigError(f"backup: folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise ConfigError(f"backup: cannot write to {folder}")
        if target.exists():
            raise ConfigError(f"backup: {target} already exists (choose a new file name)")
    try:
        print(backup(settings.database_url, target))
    except BackupByPgDump as exc:
        print(str(exc))
        return 2
    except BackupRefused as exc:
        raise ConfigError(f"backup: {exc}") from None
    except DatabaseMissing as exc:
        raise ConfigError(missing_database(exc, "backup")) from None
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """`status`: the versions applied and pending, status 1 when some are pending (a script
    can wait for it); `apply`: applies them (SQLite keeps a copy first) and says which."""
    settings, _ = _configure(args)
    from storage.factory import migrate, schema_state

    where = settings.database_shown
    if args.action == "status":
        state = schema_state(settings.database_url)
        missing = settings.database_path is not None and not settings.database_path.exists()
        yet = " does not exist yet (`migrate apply` or `run` creates it)" if missing else ""
        print(f"database: {where}{server_of(state.server)}{yet}")
        print(f"applied: {versions(state.applied)}")
        print(f"pending: {versions(state.pending)}")
        if state.newer:
            raise ConfigError(
                f"migrate status: {where} has schema {max(state.newer)}, made by a newer"
                f" AppealDesk (this one knows up to {state.known[-1]})"
            )
        return 1 if state.pending else 0
    before, after = migrate(settings.database_url)
    done = [v for v in after.applied if v not in before.applied]
    if done:
        print(f"applied {versions(done)} to {where}; schema {max(after.applied)} (current)")
    else:
        print(f"nothing to apply: {where} is at schema {max(after.applied)} (current)")
    return 0


def versions(numbers: list[int]) -> str:
    return ", ".join(str(v) for v in numbers) if numbers else "none"


def server_of(server: str) -> str:
    return f" (PostgreSQL {server})" if server else ""


def cmd_copy_db(args: argparse.Namespace) -> int:
    """Every row of --from into --to (new, empty, same schema) in one transaction, then
    per table the row counts and checksums of both sides; status 1 and the tables named
    when any differ."""
    from storage.copy import CopyRefused, copy_database
    from storage.factory import BadDatabaseUrl, parse_database_url

    for option, url in (("--from", args.source), ("--to", args.target)):
        try:
            parse_database_url(url)
        except BadDatabaseUrl as exc:
            raise ConfigError(f"copy-db {option}: {exc}") from None
    try:
        report = copy_database(args.source, args.target, progress=print)
    except CopyRefused as exc:
        raise ConfigError(f"copy-db: {exc}") from None
    width = max(len(row.table) for row in report.tables)
    print(f"{'table':<{width}}  {'source':>9}  {'target':>9}  checksum")
    for row in report.tables:
        mark = "" if row.same else "  DIFFERS"
        print(
            f"{row.table:<{width}}  {row.source_rows:>9}  {row.target_rows:>9}"
            f"  {row.source_sum[:16]}{mark}"
        )
    if report.differing:
        names = ", ".join(report.differing)
        _say(f"copy-db: the copy differs from the source in {names}")
        return 1
    print(f"copied {report.total} rows in {len(report.tables)} tables; every table matches")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Each check prints one line; the exit status is 1 when any failed (warnings pass)."""
    from bot.checks import FAIL, run_checks

    failed = 0
    for status, line in run_checks(getattr(args, "env_file", None)):
        print(f"{status:<5} {line}")
        failed += status == FAIL
    return 1 if failed else 0


def cmd_tasks(args: argparse.Namespace) -> int:
    settings, org = _configure(args)
    from bot.sandbox.fake_api import plain
    from bot.task_sheet import write_task_ledger
    from bot.usecases import tasks
    from handlers.tasks import column_headers, import_report, states_by_label

    if args.action == "export":
        target = output_file(args.file, "tasks export")
        existing_database(settings, "tasks export")

        async def export(env: object) -> int:
            rows = await tasks.export(env, None)
            with writing(target, "tasks export"):
                total = write_task_ledger(rows, target, env.zone, env.today())
            print(f"exported {total} rectification tasks to {target}")
            return 0

        return _with_env(settings, org, export)

    # The file is read and the database found before anything is written.
    path = Path(args.file)
    rows = table_of(path, "tasks import")
    # A ledger imported into a database the bot does not use would be lost from sight, so a
    # missing database is refused here too (`appealdesk run` creates it).
    existing_database(settings, "tasks import")

    async def work(env: object) -> int:
        try:
            result = await tasks.import_table(env, None, rows, column_headers(), states_by_label())
        except TaskImportError as exc:
            return nothing_imported(path, exc)
        print(f"imported {result.count} rectification tasks from {path}")
        for line in import_report(result):
            print(f"  {plain(line)}")
        return 0

    return _with_env(settings, org, work)


def cmd_enterprises(args: argparse.Namespace) -> int:
    """The roster imported all or nothing (each bad row named), or the directory exported."""
    settings, org = _configure(args)
    from bot.directory_sheet import write_directory
    from bot.rules.directory import OPTIONAL_COLUMNS
    from bot.rules.refusals import RosterImportError
    from bot.sandbox.fake_api import plain
    from bot.usecases import directory
    from handlers.directory import import_report, roster_headers, scales_by_label

    if args.action == "export":
        target = output_file(args.file, "enterprises export")
        existing_database(settings, "enterprises export")

        async def export(env: object) -> int:
            entries = await directory.export(env, None)
            with writing(target, "enterprises export"):
                total = write_directory(entries, target)
            print(f"exported {total} enterprises to {target}")
            return 0

        return _with_env(settings, org, export)

    path = Path(args.file)
    rows = table_of(path, "enterprises import", roster_headers(), OPTIONAL_COLUMNS)
    existing_database(settings, "enterprises import")

    async def work(env: object) -> int:
        try:
            result = await directory.import_roster(
                env, None, rows, roster_headers(), scales_by_label()
            )
        except RosterImportError as exc:
            return nothing_imported(path, exc)
        for line in import_report(result):
            print(plain(line))
        return 0

    return _with_env(settings, org, work)


def nothing_imported(path: Path, exc: TaskImportError) -> int:
    """A table refused as a whole (a ledger, a roster): each problem by row, then one line."""
    from bot.sandbox.fake_api import plain
    from bot.texts import t

    for row, key, params in exc.problems:
        print(f"  row {row}: {plain(t(key, **params))}")
    print(
        f"appealdesk: {path}: nothing imported, {len(exc.problems)} problem(s) (listed above)",
        file=sys.stderr,
    )
    return 1


def table_of(
    path: Path,
    command: str,
    headers: dict[str, str] | None = None,
    optional: frozenset[str] = frozenset(),
) -> list[list[str]]:
    """A CSV/XLSX to import, as rows; one that cannot be read stops the command with one
    line naming it and why (before the database is touched)."""
    from bot.task_files import TASK_HEADERS, UnreadableFile, read_table
    from bot.texts import t

    try:
        return read_table(path.read_bytes(), path.name, headers or TASK_HEADERS, optional)
    except OSError as exc:
        raise ConfigError(f"{command}: cannot read {path}: {exc.strerror or exc}") from None
    except UnreadableFile as exc:
        raise ConfigError(f"{command}: cannot read {path}: {t(exc.key, **exc.params)}") from None


def existing_database(settings: Settings, command: str) -> None:
    """The database a command reads. One that is missing is refused, never created: a
    command run from the wrong folder or with a mistyped DATABASE_URL says so; one the
    bot could not use either is refused in the words `appealdesk check` uses."""
    from storage.factory import DatabaseMissing, require_existing

    try:
        require_existing(settings.database_url)
    except DatabaseMissing as exc:
        raise ConfigError(missing_database(exc, command)) from None


def missing_database(exc: Exception, command: str) -> str:
    return (
        f"{command}: {exc} (set DATABASE_URL, or give the bot's env file with --env-file;"
        " `appealdesk run` creates it)"
    )


def output_file(text: str, command: str) -> Path:
    """A spreadsheet a command is to write: a name ending in .xlsx (what it holds; a .csv
    name would not open) in a folder that exists and takes files."""
    path = Path(text)
    if not text.strip():
        raise ConfigError(f"{command}: the output file name is empty")
    if path.suffix.lower() != ".xlsx" and not path.is_dir():
        raise ConfigError(f"{command}: {text} must end in .xlsx (the ledger is an Excel file)")
    if path.is_dir():
        raise ConfigError(
            f"{command}: {path} is a folder; give a file name such as {path / 'ledger.xlsx'}"
        )
    _writable_folder(path.parent, command)
    return path


def output_folder(text: str, command: str) -> Path:
    """A folder a command writes files into (created if missing, as long as it can be)."""
    path = Path(text)
    if not text.strip():
        raise ConfigError(f"{command}: the output folder name is empty")
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{command}: {path} is a file, not a folder")
    existing = path.absolute()
    while not existing.exists():  # the first part that exists must take new entries
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{command}: {existing} is a file, not a folder")
    _writable_folder(existing, command)
    return path


def _writable_folder(folder: Path, command: str) -> None:
    resolved = folder.resolve()
    if not resolved.is_dir():
        raise ConfigError(f"{command}: folder {resolved} does not exist")
    if not os.access(resolved, os.W_OK | os.X_OK):
        raise ConfigError(f"{command}: cannot write to {resolved}")


@contextmanager
def writing(target: Path, command: str) -> Iterator[None]:
    """A write that the system refuses (no such folder, read-only or full disk) is one line."""
    from xlsxwriter.exceptions import FileCreateError

    try:
        yield
    except (OSError, FileCreateError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"{command}: cannot write {target}: {reason}") from None


def _with_env(settings: Settings, org: OrgConfig, work: object) -> int:
    """Open the database, run `work(env)`, close it."""
    from bot.app import make_env
    from bot.usecases.people import sync_departments
    from storage.factory import database_errors

    async def run() -> int:
        env = make_env(settings, org)
        # every page read first: a damaged file is named as such, never met halfway through
        await env.db.open(check=True)  # DatabaseUnusable: one line naming the file and problem
        try:
            with database_errors(settings.database_url):
                await sync_departments(env)
                return await work(env)
        finally:
            await env.db.close()

    return asyncio.run(run())


def cmd_digest(args: argparse.Namespace) -> int:
    settings, org = _configure(args)
    from bot.digest_files import write_digest_files
    from bot.digest_text import department_text, leaders_text, week_name
    from bot.rules import digest as rules
    from bot.sandbox.fake_api import plain
    from bot.usecases import reports

    week = chosen_week(args.week, local_today(settings))
    folder = output_folder(args.out, "digest") if args.out is not None else None
    existing_database(settings, "digest")
    if args.send:
        today = local_today(settings)
        if week.end >= today:
            # Sent and archived now, it would stand for the whole week: the Monday run
            # would find it and send nobody the finished one.
            raise ConfigError(
                f"--send: {week.label} is not over yet (it ends {week.end}); its digest is"
                " sent on the digest day after it (print it without --send to see it so far)"
            )
        return _send_digest(settings, org, week)

    async def work(env: object) -> int:
        as_of = rules.as_of(week, env.today())  # what the Monday run saw, for a past week
        replay = await reports.replay(env, as_of)  # once, for every view below
        digest = await reports.leaders_digest(env, None, week, replay)
        print(plain(leaders_text(digest)))
        # Each department's view of the week this digest is sent in, as Monday's run sends it.
        departments_week = week.sent_in
        for dept in await reports.department_digests(env, departments_week, as_of, replay):
            print("\n" + plain(department_text(dept, week_name(departments_week))))
        if folder is not None:
            with writing(folder, "digest"):
                chart, ledger, count = await write_digest_files(env, week, folder, digest)
            print(f"chart: {chart}\nledger ({count} appeals): {ledger}")
        return 0

    return _with_env(settings, org, work)


def _send_digest(settings: Settings, org: OrgConfig, week: Week) -> int:
    if settings.bot_token is None:
        raise ConfigError("setting BOT_TOKEN: required for `appealdesk digest --send`")
    from bot.app import build_application
    from handlers.digest import send_weekly_digests
    from storage.factory import database_errors

    async def run() -> int:
        app = build_application(settings, org)
        with bot_api_errors(settings):
            await app.initialize()
        env = app.bot_data["env"]
        try:
            await env.db.open(check=True)  # a damaged file is named before anything is sent
            with database_errors(settings.database_url):
                served = await send_weekly_digests(app.bot, env, week)
            print(f"digest {week.label} sent to {served} chat(s) (already served ones skipped)")
            return 0
        finally:
            await env.db.close()
            await app.shutdown()

    return asyncio.run(run())


def local_today(settings: Settings) -> date:
    return datetime.now(settings.zone).date()


def chosen_week(text: str | None, today: date) -> Week:
    """--week read as the chat's /digest reads it (default: last week), or one line."""
    from bot.rules.checks import parse_week
    from bot.rules.digest import require_past_or_current

    if text is None:
        return Week.before(today)
    try:
        week = parse_week(text, today)
        require_past_or_current(week, today)
    except InvalidInput as exc:
        raise ConfigError(f"--week {text!r}: {_problem(exc)}") from None
    return week


def chosen_period(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """--from and --to read as the chat's /export reads them, or one line."""
    from bot.rules.checks import parse_period

    try:
        return parse_period(start, end, today)
    except InvalidInput as exc:
        raise ConfigError(_problem(exc)) from None


WEEKDAYS = dict(
    zip(
        "一二三四五六日",
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        strict=True,
    )
)


def _problem(exc: InvalidInput) -> str:
    """The problem a date or week check found, worded for the command line."""
    p = exc.params
    reason = p.get("reason")
    option = {"period_start": "--from", "period_end": "--to"}.get(str(p.get("field")), "")
    if reason == "date_format":
        return f"{option} {p['value']!r} is not a date (write 2026-03-05, 2026/3/5 or 2026年3月5日)"
    if reason == "date_years":
        return f"{option} {p['value']!r}: the year must be from 1900 to 2999"
    if reason == "week_years":
        return f"the year must be from 1900 to 2999 (e.g. {p['example']})"
    if reason == "date_weekday":
        return (
            f"{option} {p['value']!r}: {p['day']} is a {WEEKDAYS[p['real']]},"
            f" not a {WEEKDAYS[p['typed']]}"
        )
    if reason == "period_future":
        return f"--from {p['start']} has not come yet (today is {p['today']})"
    if reason == "period_order":
        return (
            f"--from {p['start']} is after --to {p['end']}"
            f" (the earlier date goes first: --from {p['end']} --to {p['start']})"
        )
    if reason == "week_range":
        return (
            f"{p['year']} has {p['weeks']} ISO weeks ({p['year']}-W01 to {p['year']}-W{p['weeks']})"
        )
    if reason == "week_no_year":
        return f"a week needs its year, e.g. {p['example']}"
    if reason == "week_future":
        return f"{p['week']} has not begun yet (e.g. {p['example']}, last week)"
    return f"not a week; write it like {p.get('example', '2026-W47')}"


def cmd_export(args: argparse.Namespace) -> int:
    settings, org = _configure(args)
    from bot.digest_files import export_ledger

    start, end = chosen_period(args.start, args.end, local_today(settings))
    target = output_file(args.file, "export")
    existing_database(settings, "export")

    async def work(env: object) -> int:
        with writing(target, "export"):
            count = await export_ledger(env, None, start, end, target)
        print(f"exported {count} appeals ({start} to {end}) to {target}")
        return 0

    return _with_env(settings, org, work)


class OneLineParser(argparse.ArgumentParser):
    """A usage mistake is one line on stderr (status 2), as every other error here."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"appealdesk: {message} (see `{self.prog} --help`)\n")


def parser() -> argparse.ArgumentParser:
    # The global flags are accepted before or after the subcommand.
    common = OneLineParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
        help="log at DEBUG level",
    )  # fmt: skip
    common.add_argument(
        "--env-file", default=argparse.SUPPRESS, metavar="PATH",
        help=f"settings file to read instead of ./.env (or set {ENV_FILE_VARIABLE})",
    )  # fmt: skip
    p = OneLineParser(prog="appealdesk", description="涉企诉求直通车 AppealDesk", parents=[common])
    sub = p.add_subparsers(dest="command")

    def command(name: str, help_text: str, func: object) -> argparse.ArgumentParser:
        one = sub.add_parser(name, help=help_text, parents=[common])
        one.set_defaults(func=func)
        return one

    run = command("run", "serve Telegram: long polling, or --webhook (needs BOT_TOKEN)", cmd_run)
    run.add_argument(
        "--webhook",
        action="store_true",
        help="serve updates posted to WEBHOOK_URL (listening on WEBHOOK_LISTEN, checked"
        " against WEBHOOK_SECRET): several instances on one database",
    )
    run.add_argument(
        "--replace-webhook",
        action="store_true",
        help="poll although a webhook is set (its instances stopped): it is deleted",
    )
    command("demo", "play the offline sandbox story", cmd_demo)
    command("check", "check settings, org config, calendar, token and database", cmd_check)
    tasks = command("tasks", "import or export the rectification task ledger", cmd_tasks)
    tasks.add_argument("action", choices=["import", "export"])
    tasks.add_argument("file", help="CSV or XLSX to import; XLSX to export to")
    roster = command(
        "enterprises", "import or export the enterprise directory (企业名录)", cmd_enterprises
    )
    roster.add_argument("action", choices=["import", "export"])
    roster.add_argument("file", help="CSV or XLSX roster to import; XLSX to export to")
    digest = command("digest", "print (or --send) the weekly 督察通报", cmd_digest)
    digest.add_argument(
        "--week", help="ISO week such as 2026-W47 or 2026年第47周 (default: last week)"
    )
    digest.add_argument("--send", action="store_true", help="send it with the bot (once)")
    digest.add_argument("--out", help="folder for the chart PNG and the ledger XLSX")
    export = command("export", "the appeal ledger (台账) as XLSX", cmd_export)
    export.add_argument("file")
    export.add_argument(
        "--from",
        dest="start",
        help="first day: 2026-03-05, 2026/3/5, 2026年3月5日 (default: 1 January)",
    )
    export.add_argument("--to", dest="end", help="last day, written the same ways (default: today)")
    backup = command(
        "backup", "SQLite: online backup to a new file; PostgreSQL: the pg_dump recipe", cmd_backup
    )
    backup.add_argument("target", help="file to write (must not exist yet)")
    migrate = command("migrate", "the schema: status, or apply what is pending", cmd_migrate)
    migrate.add_argument("action", choices=["status", "apply"])
    copy = command("copy-db", "copy every row of one database into a new, empty one", cmd_copy_db)
    copy.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="URL",
        help="e.g. sqlite:///appealdesk.sqlite3",
    )
    copy.add_argument(
        "--to",
        dest="target",
        required=True,
        metavar="URL",
        help="e.g. postgresql://appealdesk@db.example/appealdesk",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Every failure ends as one line on stderr and a non-zero status, never a traceback
    (with -v an unexpected one is also logged with its traceback)."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage mistake already said in one line
        return exc.code if isinstance(exc.code, int) else 2
    verbose = getattr(args, "verbose", False)
    env_file = getattr(args, "env_file", None)
    secrets: list[str] = []
    try:
        settings = load_settings(env_file)
        token = settings.bot_token
        secrets = secrets_of(settings.database_url or "")
    except ConfigError:
        token = None  # reported below by the command itself, in one line
    if token:
        secrets.append(token.get_secret_value())
    configure_logging(verbose, secrets)  # masked in every log line
    if args.command is None:
        # With a token the bot runs; without one the offline sandbox shows what it does.
        args.func = cmd_run if token else cmd_demo
    try:
        return args.func(args)
    except ConfigError as exc:
        _say(str(exc))
        return 2
    except (DatabaseUnusable, BotApiUnreachable) as exc:
        _say(str(exc))
        return exit_status(exc)
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except Exception as exc:  # the last resort: a fault nobody foresaw is still one line
        log.debug("unexpected failure", exc_info=True)
        detail = _one_line(str(exc)) or "no details"
        hint = "see the traceback logged above" if verbose else "run again with -v for details"
        _say(f"unexpected error: {type(exc).__name__}: {detail} ({hint})")
        return 1


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _say(text: str) -> None:
    print(f"appealdesk: {_one_line(text)}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
