"""Several contacts per enterprise: /colleague makes a link for a colleague, who joins with
their own name and phone; /contacts lists them and lets the first contact (or a leader)
remove one. Every change is audited by the use cases."""

from __future__ import annotations

from telegram import Update

from bot.digest_text import capped
from bot.rules import checks
from bot.rules.model import Conversation, Enterprise, Role
from bot.texts import t
from bot.texts.events import person_name
from bot.usecases import people
from handlers import flow
from handlers.buttons import encode, pressed
from handlers.common import (
    Context,
    caller,
    env_of,
    esc,
    local_time,
    message_text,
    offered,
    refusals,
    request_key,
    say,
)
from handlers.courier import confirm
from handlers.menus import set_menu

CONTACTS_LISTED = 50  # contacts named in /contacts; the count says how many there are

FLOW = "colleague"


@refusals
async def invite(update: Update, context: Context) -> None:
    """/colleague — the first contact's link for a colleague (a leader: /colleague 代码)."""
    env = env_of(context)
    uscc = context.args[0] if context.args else None
    made, enterprise = await people.invite_colleague(env, caller(update), uscc)
    link = f"https://t.me/{context.bot.username}?start={made.code}"
    await say(
        update,
        context,
        t(
            "colleague.link",
            enterprise=esc(enterprise.name),
            link=link,
            expires=local_time(env, made.expires_at),
        ),
    )


async def start_joining(
    update: Update, context: Context, code: str, enterprise: Enterprise
) -> None:
    """/start c_… — the colleague's link was opened (`people.colleague_invite` found it
    usable, for `enterprise`): ask their name, then their phone."""
    await flow.begin(update, context, FLOW, "contact", code=code, enterprise=enterprise.name)
    await say(update, context, t("colleague.welcome", enterprise=esc(enterprise.name)))


@flow.step(FLOW, "contact")
@refusals
async def got_contact(update: Update, context: Context, conversation: Conversation) -> None:
    contact = checks.contact_name(message_text(update))
    await flow.advance(context, conversation, "phone", contact=contact)
    await say(update, context, t("colleague.ask_phone"))


@flow.step(FLOW, "phone")
@refusals
async def got_phone(update: Update, context: Context, conversation: Conversation) -> None:
    draft = conversation.data
    joined = await people.join_as_colleague(
        env_of(context),
        update.effective_user.id,
        draft["code"],
        draft["contact"],
        message_text(update),
        request_key(update),
    )
    await flow.finish(context, conversation)
    await set_menu(context.bot, update.effective_user.id, Role.ENTERPRISE)
    text = t("colleague.joined", enterprise=esc(joined.enterprise.name))
    await confirm(update, context, text, None, None, joined.queued)  # the first contact told


@refusals
async def list_contacts(update: Update, context: Context) -> None:
    """/contacts — the enterprise's contacts, each but the first with a 移除 button."""
    listing = await people.contacts(
        env_of(context), caller(update), context.args[0] if context.args else None
    )
    enterprise = listing.enterprise
    lines, buttons = [], []
    for person, phone in listing.people:
        first = person.tg_id == enterprise.primary_contact_id
        lines.append(
            t(
                "colleague.list_line",
                name=esc(person_name(person.full_name, person.role)),
                phone=esc(checks.shown_phone(phone or "")),
                first=t("colleague.first") if first else "",
            )
        )
        if not first:
            label = t("colleague.remove", name=person_name(person.full_name, person.role))
            buttons.append((label, encode("contact", "rm", enterprise.id, person.tg_id)))
    text = "\n".join(
        [
            t("colleague.list_title", enterprise=esc(enterprise.name)),
            *capped(lines[:CONTACTS_LISTED], len(lines), "colleague.list_more"),
            t("colleague.list_hint"),
        ]
    )
    if not buttons:
        await say(update, context, text)
        return
    await say(update, context, *offered(text, buttons, "colleague.remove_more"))


@refusals
async def remove_pressed(update: Update, context: Context) -> None:
    """移除 under /contacts."""
    _, enterprise_id, contact_id = pressed(update.callback_query.data, "contact").parts
    removed = await people.remove_contact(
        env_of(context), caller(update), enterprise_id, contact_id
    )
    text = t("colleague.removed", name=esc(person_name(removed.person.full_name, Role.ENTERPRISE)))
    await confirm(update, context, text, None, None, removed.queued)
