"""The `appealdesk` command: run, demo, backup."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.org import OrgConfig, load_org


def _configure(args: argparse.Namespace) -> tuple[Settings, OrgConfig]:
    settings = load_settings()
    org = load_org(settings.org_config)
    return settings, org


def cmd_run(args: argparse.Namespace) -> int:
    settings, org = _configure(args)
    if settings.bot_token is None:
        raise ConfigError(
            "setting BOT_TOKEN: required for `appealdesk run` "
            "(try `appealdesk demo` for the offline sandbox)"
        )
    from telegram import Update
    from telegram.ext import AIORateLimiter

    from bot.app import build_application

    # Flood limits (30/s overall, 20/min per group) and RetryAfter retries by PTB's limiter.
    app = build_application(settings, org, rate_limiter=AIORateLimiter(max_retries=3))
    app.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    settings, org = _configure(args)
    from bot.sandbox.demo import run_demo

    folder = asyncio.run(run_demo(settings, org, print))
    print(f"\n演示结束。数据库保存在 {folder}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    settings, _ = _configure(args)
    from storage.db import Database

    async def backup() -> None:
        db = Database(settings.database_path)
        await db.open()
        try:
            await db.backup(Path(args.target))
        finally:
            await db.close()

    asyncio.run(backup())
    print(f"backup written to {args.target}")
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    settings, org = _configure(args)
    from bot.app import make_desk
    from bot.task_files import UnreadableFile, read_table, write_xlsx
    from bot.tasks import TaskImportError, TaskLedger

    async def work() -> int:
        desk = make_desk(settings, org)
        await desk.db.open()
        try:
            ledger = TaskLedger(desk)
            path = Path(args.file)
            if args.action == "import":
                try:
                    rows = read_table(path.read_bytes(), path.name)
                    count = await ledger.import_table(None, rows)
                except (OSError, UnreadableFile) as exc:
                    print(f"appealdesk: cannot read {path}: {exc}", file=sys.stderr)
                    return 2
                except TaskImportError as exc:
                    print(f"appealdesk: {path}: nothing imported, {len(exc.problems)} problem(s):")
                    for row, problem in exc.problems:
                        print(f"  row {row}: {problem}")
                    return 1
                print(f"imported {count} rectification tasks from {path}")
            else:
                rows = await ledger.export_rows(None)
                write_xlsx(rows, path, "整改任务台账")
                print(f"exported {len(rows)} rectification tasks to {path}")
            return 0
        finally:
            await desk.db.close()

    return asyncio.run(work())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="appealdesk", description="涉企诉求直通车 AppealDesk")
    p.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("run", help="long-poll Telegram (needs BOT_TOKEN)").set_defaults(func=cmd_run)
    sub.add_parser("demo", help="play the offline sandbox story").set_defaults(func=cmd_demo)
    tasks = sub.add_parser("tasks", help="import or export the rectification task ledger")
    tasks.add_argument("action", choices=["import", "export"])
    tasks.add_argument("file", help="CSV or XLSX to import; XLSX to export to")
    tasks.set_defaults(func=cmd_tasks)
    backup = sub.add_parser("backup", help="SQLite online backup")
    backup.add_argument("target", help="file to write")
    backup.set_defaults(func=cmd_backup)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.command is None:
        # With a token the bot runs; without one the offline sandbox shows what it does.
        args.func = cmd_run if load_settings().bot_token else cmd_demo
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"appealdesk: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
