"""Input checks: what a user typed, made clean or refused with a named reason."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from bot.rules import uscc
from bot.rules.org import Limits
from bot.rules.refusals import InvalidInput

NUMBER_RE = re.compile(r"^SQ-(\d{4})-(\d{6})$")
PHONE_RE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
FULL_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
MONTH_DAY_RE = re.compile(r"^(\d{1,2})\s*[月/-]\s*(\d{1,2})\s*日?$")
ENTERPRISE_NAME = (2, 60)
CONTACT_NAME = (2, 20)
# Characters that print nothing or reorder text (zero-width, bidi overrides, controls).
INVISIBLE = {"Cf", "Cc", "Cs", "Co"}
KEPT_CONTROLS = {"\n", "\t"}


def without_invisible(text: str) -> str:
    return "".join(
        ch for ch in text if ch in KEPT_CONTROLS or unicodedata.category(ch) not in INVISIBLE
    )


def clean_text(text: str | None, field: str, minimum: int, maximum: int) -> str:
    """Trimmed visible text within limits, or InvalidInput naming the field and the limit."""
    value = without_invisible(text or "").strip()
    if not value:
        raise InvalidInput(field=field, reason="empty")
    if len(value) < minimum:
        raise InvalidInput(field=field, reason="too_short", limit=minimum)
    if len(value) > maximum:
        raise InvalidInput(field=field, reason="too_long", limit=maximum)
    return value


# What people type when the bot asks for a name and they think it is chatting.
GREETINGS = frozenset(
    {"你好", "您好", "你好啊", "在吗", "在么", "哈喽", "嗨", "谢谢", "hi", "hello", "ok", "好的"}
)


def enterprise_name(text: str | None) -> str:
    name = clean_text(text, "enterprise_name", *ENTERPRISE_NAME)
    if name.lower().strip("!！。. ") in GREETINGS:
        raise InvalidInput(field="enterprise_name", reason="greeting")
    return name


def contact_name(text: str | None) -> str:
    """A person's name: no digits (a code or a phone number typed at the wrong step)."""
    name = clean_text(text, "contact_name", *CONTACT_NAME)
    if any(ch.isdigit() for ch in name):
        raise InvalidInput(field="contact_name", reason="contact_digits")
    return name


def uscc_code(text: str | None) -> str:
    """A valid 统一社会信用代码, or InvalidInput saying what is wrong with it."""
    code = uscc.normalize(without_invisible(text or ""))
    if len(code) != 18:
        raise InvalidInput(field="uscc", reason="uscc_length", limit=len(code))
    if any(ch not in uscc.ALPHABET for ch in code):
        raise InvalidInput(field="uscc", reason="uscc_chars")
    if code[0] not in uscc.FIRST_CHARS:
        raise InvalidInput(field="uscc", reason="uscc_first")
    if not uscc.is_valid(code):
        raise InvalidInput(field="uscc", reason="uscc_check")
    return code


def phone(text: str | None) -> str:
    value = without_invisible(text or "").strip().replace(" ", "")
    if not PHONE_RE.match(value):
        raise InvalidInput(field="phone", reason="invalid")
    return value


def description(text: str | None, limits: Limits) -> str:
    return clean_text(text, "description", limits.description_min, limits.description_max)


def free_text(text: str | None, field: str, limits: Limits) -> str:
    """A reply, note, reason, summary, supplement, comment or report."""
    return clean_text(text, field, 1, limits.text_max)


def appeal_number(text: str | None) -> str | None:
    """`SQ-YYYY-NNNNNN` in canonical form, or None when the text is not one."""
    value = without_invisible(text or "").strip().upper()
    return value if NUMBER_RE.match(value) else None


def parse_date(text: str | None, today: date) -> date:
    """`2026-03-20`, `2026-3-20`, `2026/3/20`, `2026年3月20日`, or `3月20日` (the next one)."""
    raw = without_invisible(text or "").strip()
    try:
        match = FULL_DATE_RE.match(raw)
        if match:
            return date(int(match[1]), int(match[2]), int(match[3]))
        match = MONTH_DAY_RE.match(raw)
        if match:
            day = date(today.year, int(match[1]), int(match[2]))
            return day if day >= today else date(today.year + 1, day.month, day.day)
    except ValueError:
        pass
    raise ValueError(raw)


def date_field(text: str | None, field: str, today: date) -> date:
    try:
        return parse_date(text, today)
    except ValueError:
        raise InvalidInput(field=field, reason="invalid") from None
