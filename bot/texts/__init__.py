"""The wording catalog: `t(key, lang="zh", **params)`; Chinese is the only language so far."""

from __future__ import annotations

import string
from collections.abc import Iterable

from bot.texts.zh import CATALOG as ZH

CATALOGS: dict[str, dict[str, str]] = {"zh": ZH}
DEFAULT_LANG = "zh"


def t(key: str, lang: str = DEFAULT_LANG, **params: object) -> str:
    """The text for `key`, filled with `params` (user text already escaped by the caller)."""
    return CATALOGS.get(lang, ZH)[key].format(**params)


def has(key: str, lang: str = DEFAULT_LANG) -> bool:
    return key in CATALOGS.get(lang, ZH)


def name(family: str, code: object, lang: str = DEFAULT_LANG, default: str | None = None) -> str:
    """The display name of a code in a family, e.g. name("state", "pending") → 待签收."""
    key = f"{family}.{code}"
    if default is not None and not has(key, lang):
        return default
    return t(key, lang)


def placeholders(key: str, lang: str = DEFAULT_LANG) -> set[str]:
    """The names a template expects, for the catalog test."""
    return {f for _, f, _, _ in string.Formatter().parse(CATALOGS[lang][key]) if f}


def keys(prefix: str, lang: str = DEFAULT_LANG) -> Iterable[str]:
    return [k for k in CATALOGS[lang] if k.startswith(prefix)]
