"""统一社会信用代码 (USCC) validation after GB 32100-2015."""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [pow(3, i, 31) for i in range(17)]
FIRST_CHARS = set("123456789ANY")


def check_char(first17: str) -> str:
    """The check character for the first 17 characters of a code."""
    total = sum(ALPHABET.index(ch) * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalize(code: str) -> str:
    return code.strip().upper().replace(" ", "")


def is_valid(code: str) -> bool:
    """True for an 18-character code whose first character and check digit are right."""
    code = normalize(code)
    if len(code) != 18 or code[0] not in FIRST_CHARS:
        return False
    if any(ch not in ALPHABET for ch in code):
        return False
    return check_char(code[:17]) == code[17]
