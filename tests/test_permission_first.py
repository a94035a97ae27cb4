"""A command someone may not use is refused as such, whatever they typed after it: the
permission is checked before the arguments are read."""

from __future__ import annotations

import pytest

from bot.texts import t


@pytest.mark.parametrize("typed", ["/digest 2026-W99", "/digest 下周", "/digest"])
async def test_who_may_not_read_the_digest_is_told_so_whatever_week_is_typed(people, typed):
    """The permission is checked before the week is read: an enterprise's contact learns it
    may not, not how to type a week."""
    mark = people.company.mark()
    await people.company.send(typed)
    assert people.company.since(mark) == [t("error_not_allowed")]
