"""A prompt whose buttons act only on their own flow stays usable when anything fails
between Telegram showing it and its id being kept; older prompts still change nothing."""

from __future__ import annotations

from telegram.error import TimedOut

from bot.texts import t
from handlers import flow


async def test_a_prompt_shown_but_not_recorded_keeps_its_buttons(sandbox, people, db, monkeypatch):
    p = people
    await p.company.send("/new")
    first = p.company.find_button("融资")[0]  # the prompt of a draft given up
    await p.company.send("/cancel")
    real = flow.say
    failed = []

    async def shown_then_lost(update, context, text, markup=None, answer=True):
        sent = await real(update, context, text, markup, answer)
        if text.startswith(t("ask_category")[:6]) and not failed:
            failed.append(sent.message_id)
            raise TimedOut()  # Telegram showed it; the answer never came back
        return sent

    monkeypatch.setattr(flow, "say", shown_then_lost)
    await p.company.send("/new")
    assert failed, "the prompt was not sent"
    row = db.one("SELECT data FROM conversations")
    assert str(failed[0]) not in row["data"]  # its id was never recorded
    prompt = p.company.find_button("融资")[0]
    assert prompt.message_id == failed[0]
    # the older prompt of the draft given up is still not this flow's
    _, data = p.company.find_button("融资")
    assert await p.company.press_data(first, data, "融资") == [t("button_of_other_prompt")]
    answer = await p.company.press_data(prompt, data, "融资")
    assert t("button_of_other_prompt") not in answer, answer
    assert db.one("SELECT step FROM conversations")["step"] != "category", answer
