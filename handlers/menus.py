"""Command menus per role, registered with set_my_commands (optional: failures only warn)."""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from bot.rules.model import Role
from bot.texts import t

log = logging.getLogger(__name__)

# (command, catalog key of its description) per menu
ENTERPRISE = [
    ("start", "menu.start"),
    ("new", "menu.new"),
    ("my", "menu.my"),
    ("view", "menu.view"),
    ("cancel", "menu.cancel"),
    ("help", "menu.help"),
]
STAFF = [
    ("inbox", "menu.inbox"),
    ("overdue", "menu.overdue"),
    ("view", "menu.view"),
    ("tasks", "menu.tasks"),
    ("digest", "menu.digest"),
    ("cancel", "menu.cancel"),
    ("help", "menu.help"),
]
ADMIN = [
    ("inbox", "menu.inbox_all"),
    ("overdue", "menu.overdue"),
    ("view", "menu.view"),
    ("tasks", "menu.tasks_all"),
    ("digest", "menu.digest_all"),
    ("stats", "menu.stats"),
    ("export", "menu.export"),
    ("invite", "menu.invite"),
    ("baobao", "menu.baobao"),
    ("enterprises", "menu.enterprises"),
    ("broadcast", "menu.broadcast"),
    ("campaigns", "menu.campaigns"),
    ("cancel", "menu.cancel"),
    ("help", "menu.help"),
]
# Heads also compose 政策宣贯 (and follow their own).
HEAD = [*STAFF[:-2], ("broadcast", "menu.broadcast_own"), *STAFF[-2:]]
MENUS = {
    Role.GUEST: ENTERPRISE,
    Role.ENTERPRISE: ENTERPRISE,
    Role.OFFICIAL: STAFF,
    Role.HEAD: HEAD,
    Role.ADMIN: ADMIN,
}


def commands(role: Role) -> list[BotCommand]:
    return [BotCommand(command, t(key)) for command, key in MENUS[role]]


async def set_default_menu(bot: Bot) -> None:
    try:
        await bot.set_my_commands(commands(Role.GUEST), scope=BotCommandScopeDefault())
    except TelegramError as exc:
        log.warning("set_my_commands (default) failed, menus stay as they were: %s", exc)


async def set_menu(bot: Bot, chat_id: int, role: Role) -> None:
    try:
        await bot.set_my_commands(commands(role), scope=BotCommandScopeChat(chat_id))
    except TelegramError as exc:
        log.warning("set_my_commands for chat %s failed: %s", chat_id, exc)
