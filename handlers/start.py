"""/start (registration and invite links), /help and /cancel."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot.rules import checks
from bot.rules.model import Conversation, Role
from bot.rules.names import visible_name
from bot.rules.refusals import EnterpriseTaken
from bot.texts import name, t
from bot.usecases import outbox, people
from bot.usecases.conversations import end_any
from handlers import colleagues, flow
from handlers.broadcast_text import UNMUTE, topic_name
from handlers.buttons import REGISTRATION_FIELDS, encode
from handlers.common import (
    Context,
    caller,
    env_of,
    esc,
    forget_flow,
    keyboard,
    message_text,
    refusal_text,
    refusals,
    removal_text,
    request_key,
    say,
)
from handlers.courier import flush
from handlers.menus import set_menu

FLOW = "registration"


@refusals
async def start(update: Update, context: Context) -> None:
    """Join by invite code, greet a known user, or begin enterprise registration."""
    env = env_of(context)
    if update.effective_chat.type != "private":
        await say(update, context, t("private_only"))
        return
    # A link is one use case, which refuses a used or expired one before anything else.
    if context.args and context.args[0].startswith(people.COLLEAGUE_PREFIX):
        code = context.args[0]
        enterprise = await people.colleague_invite(env, update.effective_user.id, code)
        await _send_owed(update, context)
        await colleagues.start_joining(update, context, code, enterprise)
        return
    if context.args:
        user = update.effective_user
        membership = await people.accept_invite(env, user.id, user.full_name, context.args[0])
        await set_menu(context.bot, user.id, membership.role)
        await say(
            update,
            context,
            t(
                "joined",
                department=esc(membership.department.name),
                role=name("role", membership.role),
            ),
        )
        # only now: what is owed is checked against the department they have just joined
        await _send_owed(update, context)
        return
    await _send_owed(update, context)
    known = await people.identify(env, caller(update))
    actor = known.actor
    if actor.role is not Role.GUEST:
        role = name("role", actor.role)
        greeting = t("welcome_back", name=esc(actor.name), role=role)
        if not visible_name(actor.name):  # nothing to call them by but their role
            greeting = t("welcome_back_unnamed", role=role)
        await say(update, context, greeting)
        return
    ongoing = await flow.active(update, context, FLOW)
    if ongoing is not None:  # /start again mid-way: carry on where the person was
        await say(update, context, t("register.resume"))
        await _prompt(update, context, ongoing)
        return
    await flow.begin(update, context, FLOW, "name")
    if known.removal is not None:  # not invited to register the enterprise they were removed from
        removed = removal_text(known.removal)
        await say(update, context, removed + "\n\n" + t("colleague.removed_register"))
        return
    await say(
        update,
        context,
        t("welcome_guest", org=esc(env.org.name), user_id=update.effective_user.id),
    )


async def _send_owed(update: Update, context: Context) -> None:
    """Someone pressed /start again: what could not reach them lately, and is still theirs
    to read, comes now."""
    env = env_of(context)
    owed = await outbox.owe_again(env, update.effective_user.id)
    if owed:
        await say(update, context, t("owed_messages", count=len(owed)))
        await flush(context.bot, env, owed)


# The registration asks four fields in turn, then shows them with 确认 / 修改 before saving.
FIELDS = REGISTRATION_FIELDS


async def _prompt(update: Update, context: Context, conversation: Conversation) -> None:
    """Ask for the step the person is at (or show the summary at the end)."""
    step = conversation.step
    if step == "confirm":
        await _show_summary(update, context, conversation)
    elif conversation.data.get("editing"):
        current = conversation.data.get(step, "")
        await say(update, context, t(f"register.edit_{step}", current=esc(current)))
    else:
        await say(update, context, t(f"register.ask_{step}"))


async def _took(
    update: Update, context: Context, conversation: Conversation, field: str, value: str
) -> None:
    """A field was given: on to the next one, or back to the summary when correcting."""
    last = field == FIELDS[-1] or conversation.data.get("editing")
    following = "confirm" if last else FIELDS[FIELDS.index(field) + 1]
    conversation = await flow.advance(
        context, conversation, following, **{field: value}, editing=False
    )
    await _prompt(update, context, conversation)


def _summary_keyboard() -> InlineKeyboardMarkup:
    return keyboard(
        [
            [(t("button.register_ok"), encode("reg", "ok"))],
            [(t(f"button.register_edit_{f}"), encode("reg", "edit", f)) for f in FIELDS[:2]],
            [(t(f"button.register_edit_{f}"), encode("reg", "edit", f)) for f in FIELDS[2:]],
            [(t("button.cancel"), encode("reg", "cancel"))],
        ]
    )


async def _show_summary(update: Update, context: Context, conversation: Conversation) -> None:
    draft = conversation.data
    await flow.offer(
        update,
        context,
        conversation,
        t(
            "register.summary",
            name=esc(draft["name"]),
            uscc=draft["uscc"],
            contact=esc(draft["contact"]),
            phone=esc(draft["phone"]),
        ),
        _summary_keyboard(),
    )


@flow.step(FLOW, "name", commands=("start",))
@refusals
async def got_name(update: Update, context: Context, conversation: Conversation) -> None:
    """The enterprise name (as on the business licence)."""
    await _took(update, context, conversation, "name", checks.enterprise_name(message_text(update)))


@flow.step(FLOW, "uscc", commands=("start",))
@refusals
async def got_uscc(update: Update, context: Context, conversation: Conversation) -> None:
    """The unified social credit code: checked, and checked not to be registered already,
    right here rather than after the last step."""
    try:
        code = await people.unregistered_uscc(env_of(context), message_text(update))
    except EnterpriseTaken as exc:  # the person may have mistyped: the step stays open
        await say(update, context, refusal_text(exc))
        return
    await _took(update, context, conversation, "uscc", code)


@flow.step(FLOW, "contact", commands=("start",))
@refusals
async def got_contact(update: Update, context: Context, conversation: Conversation) -> None:
    """The contact person's name."""
    contact = checks.contact_name(message_text(update))
    await _took(update, context, conversation, "contact", contact)


@flow.step(FLOW, "phone", commands=("start",))
@refusals
async def got_phone(update: Update, context: Context, conversation: Conversation) -> None:
    """The contact's phone (mobile or landline)."""
    await _took(update, context, conversation, "phone", checks.phone(message_text(update)))


# The summary's buttons stay on screen while a field is corrected: they continue the draft.
flow.kept(FLOW, "reg", when=lambda conversation: all(f in conversation.data for f in FIELDS))
# They name no draft: only those under this registration's own summaries act on it.
flow.prompted(FLOW, "reg")


# The summary's buttons typed as words (their labels; 确认 for 确认登记): parts of `reg:…`.
SUMMARY_WORDS: dict[str, tuple[str, ...]] = {
    t("button.register_ok"): ("ok",),
    t("typed_as.register_ok"): ("ok",),
    t("button.cancel"): ("cancel",),
    **{t(f"button.register_edit_{f}"): ("edit", f) for f in FIELDS},
}


@flow.step(FLOW, "confirm", commands=("start",), buttons=("reg",))
@refusals
async def confirm_typed(update: Update, context: Context, conversation: Conversation) -> None:
    """Text while the summary waits for a button: a button's label typed acts as that
    button; anything else shows the summary again, with the hint."""
    chosen = checks.typed_choice(message_text(update), SUMMARY_WORDS)
    if chosen is not None:
        await _registration_choice(update, context, conversation, chosen)
        return
    await say(update, context, t("register.use_buttons"))
    await _show_summary(update, context, conversation)


@refusals
async def registration_pressed(update: Update, context: Context) -> None:
    """确认登记, 修改… or 取消 under the summary (also while a field is being corrected).
    An older summary pressed once registered says so, rather than "register again"."""
    if await flow.active(update, context, FLOW) is None:
        if (await people.identify(env_of(context), caller(update))).actor.role is not Role.GUEST:
            await say(update, context, t("error_already_registered"))
            return
    found = await flow.pressed(update, context, FLOW, None, "register.expired")
    if found is None:
        return
    conversation, button = found
    parts = button.parts if button else ()  # unreadable: answered as an unknown choice
    await _registration_choice(update, context, conversation, tuple(str(p) for p in parts))


async def _registration_choice(
    update: Update, context: Context, conversation: Conversation, parts: tuple[str, ...]
) -> None:
    """确认登记, 修改… or 取消, pressed or typed."""
    choice = parts[0] if parts else ""
    if choice == "cancel":
        await flow.finish(context, conversation)
        await say(update, context, t("flow_left.registration"))
        return
    if choice == "edit":
        conversation = await flow.advance(context, conversation, str(parts[1]), editing=True)
        await _prompt(update, context, conversation)
        return
    if choice != "ok":
        await say(update, context, t("register.expired"))
        return
    draft = conversation.data
    done = await people.register(
        env_of(context),
        update.effective_user.id,
        draft["name"],
        draft["uscc"],
        draft["contact"],
        draft["phone"],
        request_key(update),
    )
    ent = done.enterprise
    await flow.finish(context, conversation)
    await set_menu(context.bot, update.effective_user.id, Role.ENTERPRISE)
    text = t(
        "registered",
        name=esc(ent.name),
        uscc=ent.uscc,
        contact=esc(ent.contact_name),
        phone=esc(ent.phone),
    )
    if done.known is not None:  # the bureau's roster knew it: its attributes and 包保
        text += "\n\n" + known_text(done)
    await say(update, context, text)


def known_text(done: people.Registered) -> str:
    known = done.known
    assert known is not None
    baobao = t("registered_known_baobao", name=esc(done.baobao)) if done.baobao else ""
    return t(
        "registered_known",
        industry=esc(known.industry) or t("directory_blank"),
        district=esc(known.district) or t("directory_blank"),
        baobao=baobao,
    )


async def help_command(update: Update, context: Context) -> None:
    """What this user can do, by role."""
    known = await people.identify(env_of(context), caller(update))
    actor = known.actor
    if actor.role is Role.ADMIN:
        text = t("help_admin")
    elif actor.is_staff:
        text = t(
            "help_staff",
            role=name("role", actor.role),
            department=esc(known.department.name if known.department else ""),
        )
    elif actor.role is Role.ENTERPRISE:
        text = t("help_enterprise")
        if known.muted:  # what it asked not to receive, and the way back
            topics = sorted(known.muted)
            text += "\n\n" + t("help_muted", topics="、".join(topic_name(c) for c in topics))
            rows = [
                [(t("button.broadcast_unmute", topic=topic_name(c)), encode(UNMUTE, c))]
                for c in topics
            ]
            await say(update, context, text, keyboard(rows))
            return
    else:
        removed = removal_text(known.removal) if known.removal else None
        text = f"{removed}\n\n{t('help_guest')}" if removed else t("help_guest")
    await say(update, context, text)


async def cancel(update: Update, context: Context) -> None:
    """/cancel: leave whatever flow the user is in; nothing is changed."""
    ended = await end_any(env_of(context), update.effective_user.id)
    forget_flow(context)
    if ended is None or ended.expired(env_of(context).now()):
        await say(update, context, t("nothing_to_cancel"))
        return
    await say(update, context, flow.left_text(ended))
