"""The one flow each user is in (registration, a draft, a prompt), kept in the database so
a restart loses nothing, and ended by expiry, by another flow or by any other command."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.rules.model import Conversation
from bot.usecases.env import Env

EXPIRED_PAGE = 100


async def current(env: Env, user_id: int) -> Conversation | None:
    """The user's flow, expired or not (the caller tells the user when it lapsed)."""
    async with env.db.reading() as uow:
        return await uow.conversations.get(user_id)


async def begin(
    env: Env, user_id: int, chat_id: int, flow: str, step: str, data: dict[str, Any]
) -> Conversation:
    """Start a flow; it replaces any other (the caller has already told the user so)."""
    now = env.now()
    conversation = Conversation(user_id, chat_id, flow, step, data, now, now + env.prompt_ttl)
    async with env.db.one_statement() as uow:
        await uow.conversations.put(conversation)
    return conversation


async def advance(env: Env, conversation: Conversation, step: str, **data: Any) -> Conversation:
    """Move a flow to its next step; each answer gives the user the full time again."""
    moved = replace(
        conversation,
        step=step,
        data={**conversation.data, **data},
        expires_at=env.now() + env.prompt_ttl,
    )
    async with env.db.one_statement() as uow:
        await uow.conversations.put(moved)
    return moved


async def end(env: Env, conversation: Conversation) -> bool:
    """End this flow (not a newer one); False when it had already ended."""
    async with env.db.one_statement() as uow:
        return await uow.conversations.drop(conversation.user_id, conversation.started_at)


async def end_any(env: Env, user_id: int) -> Conversation | None:
    """End whatever flow the user is in; returns it (one statement: read and ended)."""
    async with env.db.one_statement() as uow:
        return await uow.conversations.take(user_id)


async def lapse_expired(env: Env) -> list[Conversation]:
    """End the flows whose time is up (a page of them); returns them so their users can
    be told (one statement: found and ended)."""
    async with env.db.one_statement() as uow:
        return await uow.conversations.take_expired(env.now(), EXPIRED_PAGE)
