"""The repositories' parameters (`?` and `:name`, as SQLite takes them) in psycopg's
spelling (`%s` and `%(name)s`), so that one SQL text serves both backends.

Left as they are: string literals ('it''s ? :x'), quoted names, comments, dollar-quoted
bodies, `::` casts. Every literal `%` (in a string too: psycopg reads the whole text)
becomes `%%`.
"""

from __future__ import annotations

import re
from functools import lru_cache

_TOKEN = re.compile(
    r"""
      (?P<string>'(?:[^']|'')*'?)                # 'text', '' inside; an unclosed one to the end
    | (?P<quoted>"(?:[^"]|"")*"?)                # "a name"
    | (?P<line>--[^\n]*)                         # -- a comment
    | (?P<block>/\*.*?(?:\*/|\Z))                # /* a comment */
    | (?P<dollar>\$\$.*?(?:\$\$|\Z))               # $$ a body $$
    | (?P<tagged>\$(?P<tag>[A-Za-z_]\w*)\$.*?(?:\$(?P=tag)\$|\Z))  # $f$ a body $f$
    | (?P<cast>::)                               # a cast, not a parameter
    | :(?P<name>[A-Za-z_]\w*)                    # :name
    | (?P<qmark>\?)                              # ?
    """,
    re.VERBOSE | re.DOTALL,
)


class MixedParameters(ValueError):
    """A statement with both `?` and `:name` parameters (neither backend takes that)."""


@lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """`sql` with `?` → `%s`, `:name` → `%(name)s`, `%` → `%%`; the rest unchanged."""
    out: list[str] = []
    kinds: set[str] = set()
    end = 0
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup
        if kind in ("name", "qmark"):
            out.append(sql[end : match.start()].replace("%", "%%"))
            if kind == "name":
                out.append(f"%({match.group('name')})s")
                kinds.add("named")
            else:
                out.append("%s")
                kinds.add("positional")
            end = match.end()
    if len(kinds) > 1:
        raise MixedParameters(f"both ? and :name parameters in: {sql[:80]}")
    out.append(sql[end:].replace("%", "%%"))
    return "".join(out)
