"""The `appealdesk` command: run, demo, check, backup, export, digest, tasks."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from bot.config import ENV_FILE_VARIABLE, ConfigError, Settings, load_org, load_settings
from bot.logs import configure as configure_logging
from bot.rules.org import OrgConfig


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
    with one line naming the file and the problem (status 1: a supervisor may retry)."""
    settings, org = _configure(args)
    if settings.bot_token is None:
        raise ConfigError(
            "setting BOT_TOKEN: required for `appealdesk run` "
            "(try `appealdesk demo` for the offline sandbox)"
        )
    from telegram import Update
    from telegram.error import InvalidToken, NetworkError

    from bot.app import build_application
    from handlers.courier import SEND_IN_BACKGROUND
    from handlers.limits import FloodLimits
    from handlers.ordering import PerUserOrder
    from storage.db import DatabaseUnusable, database_errors, ready

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
        asyncio.run(ready(settings.database_path))
        with database_errors(settings.database_path):
            app.run_polling(allowed_updates=Update.ALL_TYPES, poll_interval=POLL_INTERVAL)
    except DatabaseUnusable as exc:
        print(f"appealdesk: {exc}", file=sys.stderr)
        return 1
    except InvalidToken:
        raise ConfigError(
            "setting BOT_TOKEN: Telegram rejected the token (check it with @BotFather)"
        ) from None
    except NetworkError as exc:
        raise ConfigError(
            f"setting TELEGRAM_BASE_URL: cannot reach the Bot API at {api_host(settings)}"
            f" ({exc.message})"
        ) from None
    finally:
        # However start-up or shutdown failed (post_shutdown, which closes it, does not run
        # when PTB's own shutdown fails), the database is closed: each open connection has a
        # thread that would keep the process alive after the error.
        asyncio.run(app.bot_data["env"].db.close())
    return 0


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
    settings, _ = _configure(args)
    from storage.db import Database

    source, target = settings.database_path, Path(args.target)
    if not source.is_file():
        raise ConfigError(
            f"backup: no database at {source.resolve()} (set DATABASE_PATH, or give the bot's"
            " env file with --env-file)"
        )
    folder = target.parent.resolve()
    if not folder.is_dir():
        raise ConfigError(f"backup: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"backup: cannot write to {folder}")
    if target.exists():
        raise ConfigError(f"backup: {target} already exists (choose a new file name)")

    async def backup() -> None:
        db = Database(source)
        await db.open(migrate=False)
        try:
            await db.backup(target)
        finally:
            await db.close()

    asyncio.run(backup())
    print(f"backup of {source.resolve()} written to {target}")
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
    from bot.rules.refusals import TaskImportError
    from bot.task_files import UnreadableFile, read_table
    from bot.task_sheet import write_task_ledger
    from bot.texts import t
    from bot.usecases import tasks
    from handlers.tasks import column_headers, import_report, states_by_label

    async def work(env: object) -> int:
        path = Path(args.file)
        if args.action == "import":
            try:
                rows = read_table(path.read_bytes(), path.name)
                result = await tasks.import_table(
                    env, None, rows, column_headers(), states_by_label()
                )
            except OSError as exc:
                print(f"appealdesk: cannot read {path}: {exc}", file=sys.stderr)
                return 2
            except UnreadableFile as exc:
                print(
                    f"appealdesk: cannot read {path}: {t(exc.key, **exc.params)}", file=sys.stderr
                )
                return 2
            except TaskImportError as exc:
                print(f"appealdesk: {path}: nothing imported, {len(exc.problems)} problem(s):")
                for row, key, params in exc.problems:
                    print(f"  row {row}: {t(key, **params)}")
                return 1
            print(f"imported {result.count} rectification tasks from {path}")
            for line in import_report(result):
                print(f"  {line}")
        else:
            total = write_task_ledger(await tasks.export(env, None), path, env.zone)
            print(f"exported {total} rectification tasks to {path}")
        return 0

    return _with_env(settings, org, work)


def _with_env(settings: Settings, org: OrgConfig, work: object) -> int:
    """Open the database, run `work(env)`, close it."""
    from bot.app import make_env
    from bot.usecases.people import sync_departments

    async def run() -> int:
        env = make_env(settings, org)
        await env.db.open()
        try:
            await sync_departments(env)
            return await work(env)
        finally:
            await env.db.close()

    return asyncio.run(run())


def cmd_digest(args: argparse.Namespace) -> int:
    settings, org = _configure(args)
    from bot.digest_files import write_digest_files
    from bot.digest_text import department_text, leaders_text, week_name
    from bot.rules.digest import Week
    from bot.sandbox.fake_api import plain
    from bot.usecases import reports

    if args.send:
        return _send_digest(settings, org, args.week)

    async def work(env: object) -> int:
        week = Week.parse(args.week) if args.week else Week.before(env.today())
        digest = await reports.leaders_digest(env, None, week)
        print(plain(leaders_text(digest)))
        for dept in await reports.department_digests(env, Week.of(env.today())):
            print("\n" + plain(department_text(dept, week_name(Week.of(env.today())))))
        if args.out:
            chart, ledger, count = await write_digest_files(env, week, Path(args.out))
            print(f"chart: {chart}\nledger ({count} appeals): {ledger}")
        return 0

    return _with_env(settings, org, work)


def _send_digest(settings: Settings, org: OrgConfig, week_text: str | None) -> int:
    if settings.bot_token is None:
        raise ConfigError("setting BOT_TOKEN: required for `appealdesk digest --send`")
    from bot.app import build_application
    from bot.rules.digest import Week
    from handlers.digest import send_weekly_digests

    async def run() -> int:
        app = build_application(settings, org)
        await app.initialize()
        env = app.bot_data["env"]
        await env.db.open()
        try:
            week = Week.parse(week_text) if week_text else Week.before(env.today())
            served = await send_weekly_digests(app.bot, env, week)
            print(f"digest {week.label} sent to {served} chat(s) (already served ones skipped)")
            return 0
        finally:
            await env.db.close()
            await app.shutdown()

    return asyncio.run(run())


def cmd_export(args: argparse.Namespace) -> int:
    settings, org = _configure(args)
    from datetime import date

    from bot.digest_files import export_ledger

    async def work(env: object) -> int:
        today = env.today()
        start = date.fromisoformat(args.start) if args.start else date(today.year, 1, 1)
        end = date.fromisoformat(args.end) if args.end else today
        count = await export_ledger(env, None, start, end, Path(args.file))
        print(f"exported {count} appeals ({start} to {end}) to {args.file}")
        return 0

    return _with_env(settings, org, work)


def parser() -> argparse.ArgumentParser:
    # The global flags are accepted before or after the subcommand.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
        help="log at DEBUG level",
    )  # fmt: skip
    common.add_argument(
        "--env-file", default=argparse.SUPPRESS, metavar="PATH",
        help=f"settings file to read instead of ./.env (or set {ENV_FILE_VARIABLE})",
    )  # fmt: skip
    p = argparse.ArgumentParser(
        prog="appealdesk", description="涉企诉求直通车 AppealDesk", parents=[common]
    )
    sub = p.add_subparsers(dest="command")

    def command(name: str, help_text: str, func: object) -> argparse.ArgumentParser:
        one = sub.add_parser(name, help=help_text, parents=[common])
        one.set_defaults(func=func)
        return one

    command("run", "long-poll Telegram (needs BOT_TOKEN)", cmd_run)
    command("demo", "play the offline sandbox story", cmd_demo)
    command("check", "check settings, org config, calendar, token and database", cmd_check)
    tasks = command("tasks", "import or export the rectification task ledger", cmd_tasks)
    tasks.add_argument("action", choices=["import", "export"])
    tasks.add_argument("file", help="CSV or XLSX to import; XLSX to export to")
    digest = command("digest", "print (or --send) the weekly 督察通报", cmd_digest)
    digest.add_argument("--week", help="ISO week such as 2026-W47 (default: last week)")
    digest.add_argument("--send", action="store_true", help="send it with the bot (once)")
    digest.add_argument("--out", help="folder for the chart PNG and the ledger XLSX")
    export = command("export", "the appeal ledger (台账) as XLSX", cmd_export)
    export.add_argument("file")
    export.add_argument("--from", dest="start", help="YYYY-MM-DD (default: 1 January)")
    export.add_argument("--to", dest="end", help="YYYY-MM-DD (default: today)")
    backup = command("backup", "SQLite online backup to a new file", cmd_backup)
    backup.add_argument("target", help="file to write (must not exist yet)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    env_file = getattr(args, "env_file", None)
    try:
        token = load_settings(env_file).bot_token
    except ConfigError:
        token = None  # reported below by the command itself, in one line
    configure_logging(getattr(args, "verbose", False), [token.get_secret_value()] if token else [])
    if args.command is None:
        # With a token the bot runs; without one the offline sandbox shows what it does.
        args.func = cmd_run if token else cmd_demo
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"appealdesk: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
