"""Command menus per role, registered with set_my_commands (optional: failures only warn)."""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from bot.model import Role

log = logging.getLogger(__name__)

ENTERPRISE_COMMANDS = [
    BotCommand("start", "开始 / 登记企业"),
    BotCommand("new", "提交诉求"),
    BotCommand("my", "我的诉求"),
    BotCommand("view", "查看诉求详情"),
    BotCommand("cancel", "取消当前操作"),
    BotCommand("help", "帮助"),
]
STAFF_COMMANDS = [
    BotCommand("inbox", "待办诉求"),
    BotCommand("overdue", "超期诉求"),
    BotCommand("view", "查看诉求详情"),
    BotCommand("tasks", "我的整改任务"),
    BotCommand("digest", "本部门周报"),
    BotCommand("cancel", "取消当前操作"),
    BotCommand("help", "帮助"),
]
ADMIN_COMMANDS = [
    BotCommand("inbox", "全部在办诉求"),
    BotCommand("overdue", "超期诉求"),
    BotCommand("view", "查看诉求详情"),
    BotCommand("tasks", "整改任务台账"),
    BotCommand("digest", "督察通报"),
    BotCommand("stats", "实时数据"),
    BotCommand("export", "导出诉求台账"),
    BotCommand("invite", "邀请承办人"),
    BotCommand("baobao", "设置包保责任人"),
    BotCommand("cancel", "取消当前操作"),
    BotCommand("help", "帮助"),
]
MENUS = {
    Role.GUEST: ENTERPRISE_COMMANDS,
    Role.ENTERPRISE: ENTERPRISE_COMMANDS,
    Role.OFFICIAL: STAFF_COMMANDS,
    Role.HEAD: STAFF_COMMANDS,
    Role.ADMIN: ADMIN_COMMANDS,
}


async def set_default_menu(bot: Bot) -> None:
    try:
        await bot.set_my_commands(ENTERPRISE_COMMANDS, scope=BotCommandScopeDefault())
    except TelegramError as exc:
        log.warning("set_my_commands (default) failed, menus stay as they were: %s", exc)


async def set_menu(bot: Bot, chat_id: int, role: Role) -> None:
    try:
        await bot.set_my_commands(MENUS[role], scope=BotCommandScopeChat(chat_id))
    except TelegramError as exc:
        log.warning("set_my_commands for chat %s failed: %s", chat_id, exc)
