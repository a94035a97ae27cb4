"""The enterprise directory (企业名录): a roster's rows checked all or nothing, and the
attributes a leader edits (行业, 所在区, 规模, 标签).

Column names and scale labels are wording: the caller passes them from the catalog.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.rules import uscc as uscc_rules
from bot.rules.checks import without_invisible
from bot.rules.refusals import InvalidInput, RosterImportError, TaskImportError
from bot.rules.tasks import find_header, header_key, is_note


class Scale(StrEnum):
    ABOVE = "above"  # 规上: above the statistical size threshold
    BELOW = "below"  # 规下


class Attribute(StrEnum):
    """What a leader may change of an entry in chat."""

    INDUSTRY = "industry"
    DISTRICT = "district"
    SCALE = "scale"
    TAGS = "tags"


# Roster columns in order; the catalog names each (企业名称, 统一社会信用代码, …).
ROSTER_COLUMNS = ("name", "uscc", "industry", "district", "scale", "tags", "baobao")
OPTIONAL_COLUMNS = frozenset({"industry", "district", "scale", "tags", "baobao"})
LIMITS = {"name": 60, "industry": 30, "district": 30, "baobao": 40}
TAG_LIMIT = 20  # characters of one tag
TAGS_MAX = 10  # tags of one enterprise
ROSTER_ROWS_MAX = 50_000  # a province's roster; more is a wrong file
# Tags are written 数据中心、专精特新 or 数据中心,5G工厂 or #数据中心 #专精特新.
_TAG_SEPARATORS = re.compile(r"[、,，;；/|\s]+")


@dataclass(frozen=True)
class RosterRow:
    """One valid row of a roster. An empty attribute is "not given": a re-import leaves the
    stored value as it is."""

    row: int
    name: str
    uscc: str
    industry: str
    district: str
    scale: Scale | None
    tags: tuple[str, ...] | None  # None: the column is missing or the cell empty
    baobao_name: str


def folded(text: str) -> str:
    """A value as compared (full-width forms folded, no invisible characters, no spaces
    around): 数据中心 and ＃数据中心 are one tag."""
    return unicodedata.normalize("NFKC", without_invisible(text)).strip()


def _cell(text: str) -> str:
    """A roster cell as stored: its invisible characters and surrounding spaces dropped; a
    name keeps its full-width brackets (悦科（湖北）), unlike a tag or a scale compared."""
    return without_invisible(text).strip()


def split_tags(text: str) -> tuple[str, ...]:
    """The tags written in one cell or message, each once, in the order written."""
    tags: list[str] = []
    for piece in _TAG_SEPARATORS.split(folded(text)):
        tag = piece.strip("#＃")
        if tag and tag not in tags:
            tags.append(tag)
    return tuple(tags)


def tags_problem(tags: tuple[str, ...]) -> tuple[str, dict[str, object]] | None:
    too_long = [tag for tag in tags if len(tag) > TAG_LIMIT]
    if too_long:
        return "roster_tag_long", {"tag": too_long[0], "limit": TAG_LIMIT}
    if len(tags) > TAGS_MAX:
        return "roster_tags_many", {"count": len(tags), "limit": TAGS_MAX}
    return None


def scale_of(text: str, scales_by_label: dict[str, Scale]) -> Scale | None:
    """规上 / 规模以上 / 规上企业 → ABOVE, …; None when not a scale."""
    return scales_by_label.get(header_key(text))


def validate_roster(
    rows: list[list[str]], headers: dict[str, str], scales_by_label: dict[str, Scale]
) -> list[RosterRow]:
    """Every row checked; any problem rejects the whole file, each named by its row number."""
    try:
        header_row, index = find_header(rows, headers, OPTIONAL_COLUMNS)
    except TaskImportError as exc:
        raise RosterImportError(exc.problems) from None
    names = {c: header_key(headers[c]) for c in index}
    problems: list[tuple[int, str, dict[str, object]]] = []
    found_rows: list[RosterRow] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(rows[header_row:], start=header_row + 1):
        if not any(cell.strip() for cell in raw) or is_note(raw):
            continue
        if all(i < len(raw) and header_key(raw[i]) == names[c] for c, i in index.items()):
            continue  # the header again, on a later page
        cells = {c: (_cell(raw[i]) if i < len(raw) else "") for c, i in index.items()}
        cells = {c: cells.get(c, "") for c in ROSTER_COLUMNS}
        found: list[tuple[str, dict[str, object]]] = []
        for column, limit in LIMITS.items():
            if column in ("name",) and not cells[column]:
                found.append(("import_empty_field", {"column": headers[column]}))
            elif len(cells[column]) > limit:
                found.append(("import_long_field", {"column": headers[column], "limit": limit}))
        code = uscc_rules.normalize(cells["uscc"])
        if not code:
            found.append(("import_empty_field", {"column": headers["uscc"]}))
        elif not uscc_rules.is_valid(code):
            found.append(("roster_bad_uscc", {"value": cells["uscc"]}))
        elif code in seen:
            found.append(("roster_duplicate_uscc", {"value": code, "first": seen[code]}))
        else:
            seen[code] = number
        scale = None
        if cells["scale"]:
            scale = scale_of(cells["scale"], scales_by_label)
            if scale is None:
                found.append(("roster_bad_scale", {"value": cells["scale"]}))
        tags = split_tags(cells["tags"]) if cells["tags"] else None
        problem = tags_problem(tags or ())
        if problem is not None:
            found.append(problem)
        if found:
            problems.extend((number, key, params) for key, params in found)
            continue
        found_rows.append(
            RosterRow(
                number,
                cells["name"],
                code,
                cells["industry"],
                cells["district"],
                scale,
                tags,
                cells["baobao"],
            )
        )
        if len(found_rows) > ROSTER_ROWS_MAX:
            raise RosterImportError([(number, "roster_too_many", {"limit": ROSTER_ROWS_MAX})])
    if problems:
        raise RosterImportError(problems)
    if not found_rows:
        raise RosterImportError([(header_row + 1, "roster_no_rows", {})])
    return found_rows


def attribute_value(
    attribute: Attribute, text: str | None, scales_by_label: dict[str, Scale]
) -> str | Scale | tuple[str, ...] | None:
    """A value typed for an attribute, checked: refused with InvalidInput naming the field.
    "无" (or "-") clears an attribute."""
    typed = _cell(text or "")
    if not typed:
        raise InvalidInput(field=f"directory_{attribute}", reason="empty")
    if folded(typed) in CLEAR_WORDS:
        return () if attribute is Attribute.TAGS else None
    if attribute is Attribute.SCALE:
        scale = scale_of(typed, scales_by_label)
        if scale is None:
            raise InvalidInput(field="directory_scale", reason="unknown")
        return scale
    if attribute is Attribute.TAGS:
        tags = split_tags(typed)
        problem = tags_problem(tags)
        if problem is not None:
            raise InvalidInput(field="directory_tags", reason=problem[0], **problem[1])
        return tags
    limit = LIMITS[str(attribute)]
    if len(typed) > limit:
        raise InvalidInput(field=f"directory_{attribute}", reason="too_long", limit=limit)
    return typed


CLEAR_WORDS = frozenset({"无", "-", "—", "清空"})


@dataclass(frozen=True)
class DirectoryEntry:
    """An enterprise the bureau knows: from a roster, or registered in the bot and edited
    since. `enterprise_id`: its registration, once matched by USCC."""

    id: int
    uscc: str
    name: str
    industry: str
    district: str
    scale: Scale | None
    tags: tuple[str, ...]
    baobao_name: str
    baobao_user_id: int | None
    enterprise_id: int | None
    created_at: datetime
    updated_at: datetime

    def value(self, attribute: Attribute) -> str | Scale | tuple[str, ...] | None:
        return getattr(self, str(attribute))


@dataclass(frozen=True)
class DirectoryCounts:
    """The directory at a glance: how many, how many registered, by each attribute."""

    total: int
    registered: int
    by_scale: dict[str, int]
    by_industry: dict[str, int]
    by_district: dict[str, int]
    by_tag: dict[str, int]
