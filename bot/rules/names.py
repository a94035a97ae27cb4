"""Which joined official a leader means by a name typed in chat (包保, a task's 责任人)."""

from __future__ import annotations

import re
import unicodedata

from bot.rules.checks import without_invisible
from bot.rules.model import Department, Person
from bot.rules.refusals import OfficialNameAmbiguous, OfficialNameUnknown

Staff = list[tuple[Person, Department]]
# 姓名（部门）, as the buttons show a person (brackets already made ASCII by NFKC)
_QUALIFIED = re.compile(r"(.+?)\((.+)\)")


def visible_name(name: str | None) -> str:
    """A person's name as it can be seen: without invisible characters, blank fillers and
    the spaces around; "" when nothing is left, or only digits (an id kept for a name)."""
    value = without_invisible(name or "").strip()
    return "" if value.isdigit() else value


def comparable(text: str) -> str:
    """A name as compared: NFKC (full-width letters and brackets), without spaces or
    invisible characters, case-folded."""
    text = unicodedata.normalize("NFKC", text)
    kept = (c for c in text if not c.isspace() and unicodedata.category(c) not in ("Cf", "Cc"))
    return "".join(kept).casefold()


def named_official(staff: Staff, typed: str) -> tuple[Person, Department]:
    """The one official `typed` names — by name, or as 姓名（部门） (the department's name or
    code). Several of that name: OfficialNameAmbiguous with them; nobody: OfficialNameUnknown
    with those whose name holds the typed one or is held in it (maybe none)."""
    key = comparable(typed)
    if not key:
        raise OfficialNameUnknown(typed, [])
    exact = [(p, d) for p, d in staff if comparable(p.full_name) == key]
    qualified = _QUALIFIED.fullmatch(key)
    if not exact and qualified:
        name, department = qualified.groups()
        exact = [
            (p, d)
            for p, d in staff
            if comparable(p.full_name) == name
            and department in (comparable(d.name), comparable(d.code))
        ]
    if len(exact) == 1:
        return exact[0]
    if exact:
        raise OfficialNameAmbiguous(typed, exact)
    close = [(p, d) for p, d in staff if _close(comparable(p.full_name), key)]
    raise OfficialNameUnknown(typed, close)


def _close(name: str, key: str) -> bool:
    return bool(name) and (key in name or name in key)
