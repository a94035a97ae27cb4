"""月报 campaigns, pure: a form's definition (TOML, or table rows read from XLSX/CSV), one
chat answer checked against its field, the months reported and the working-day ladder of
who is asked, reminded and told when.

Refusals carry catalog keys (`monthly.*`) and params; the chat layer words them. The words
read here (column names, type names, 是/否, skip words) are what people type, like the
greetings of `checks.py`; nothing here is said to anyone.

A definition in TOML (examples/monthly_datacenter.toml):

    code = "dc_construction"          # [a-z][a-z0-9_]*, at most 32
    title = "大数据中心建设月报"
    topic = "数据中心建设"            # optional
    period = "month"                  # the only period so far

    [schedule]                        # optional; these are the defaults
    due_working_day = 5               # due on the 5th working day of the month after
    remind_before = 2                 # 提示 this many working days before the due day
    baobao_after = 1                  # the 包保 official told at this many days overdue
    leaders_after = 3                 # the leaders told (提级) at this many

    [[fields]]
    key = "invest_month"              # optional: f1, f2 … by position when not given
    label = "本月完成投资额"
    kind = "number"                   # number text date choice file (or 数字 文本 日期 选项 附件)
    unit = "万元"
    min = 0                           # min / max: numbers only; decimals: 0 = integers
    decimals = 2
    required = true                   # the default
    hint = "…"                        # optional; max_length for text (default 500)
    # choices = ["土建施工", "机电安装"]  for a choice

As table rows: a header row (among the first 10) with 字段名称 and 类型, optionally 代码,
单位, 最小值, 最大值, 小数位数, 选项 (separated by 、 / , ，or ；), 必填 (是/否, empty: 是),
说明, 长度; a row above it `表名：大数据中心建设月报` (or 表名 | 大数据中心建设月报 in two
cells, or a title alone in its row, as a merged title cell reads) names the form, else the
`title` given (say the file's name). A field's key is its 代码 when the column
has one, else f1, f2 … by its place among the fields: reordering the rows of a definition
without 代码 changes the keys, so a form's answers are stored against the definition they
were given under.

Answers: a number is a `Decimal` (trailing zeros dropped, never in exponent form), text a
`str`, a date a `date`, a choice the option's label, files a tuple of `AttachedFile`; a
skipped optional field is None. `answer_to_json` / `answer_from_json` store them as JSON
(a number as its decimal string, a date as ISO text).
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from bot.rules.checks import (
    WrongWeekday,
    YearOutOfRange,
    parse_date,
    typed_choice,
    without_invisible,
)
from bot.rules.refusals import DomainError
from bot.rules.tasks import header_key, is_note
from bot.rules.workcal import WorkingCalendar

MAX_FIELDS = 30
LABEL_MAX = 30
TITLE_MAX = 60
CODE_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
HINT_MAX = 200
UNIT_MAX = 10
MAX_OPTIONS = 20
OPTION_MAX = 30
TEXT_MAX = 500  # a text answer's default limit
TEXT_CAP = 2000  # the longest limit a definition may set
DECIMALS_DEFAULT = 2
DECIMALS_MAX = 6
NUMBER_DIGITS = 15  # digits before the point: more is a slip, not a figure
HEADER_SEARCH_ROWS = 10


class FieldKind(StrEnum):
    NUMBER = "number"
    TEXT = "text"
    DATE = "date"
    CHOICE = "choice"
    FILE = "file"


# A kind as a definition may name it (TOML or the 类型 column).
KIND_WORDS: dict[str, FieldKind] = {
    **{kind.value: kind for kind in FieldKind},
    "数字": FieldKind.NUMBER,
    "数值": FieldKind.NUMBER,
    "文本": FieldKind.TEXT,
    "文字": FieldKind.TEXT,
    "日期": FieldKind.DATE,
    "选项": FieldKind.CHOICE,
    "单选": FieldKind.CHOICE,
    "附件": FieldKind.FILE,
    "文件": FieldKind.FILE,
    "图片": FieldKind.FILE,
    "照片": FieldKind.FILE,
}
# Each kind's name as shown (the 类型 a leader writes).
KIND_KEYS: dict[FieldKind, str] = {
    FieldKind.NUMBER: "monthly.kind.number",
    FieldKind.TEXT: "monthly.kind.text",
    FieldKind.DATE: "monthly.kind.date",
    FieldKind.CHOICE: "monthly.kind.choice",
    FieldKind.FILE: "monthly.kind.file",
}
YES_WORDS = frozenset({"是", "必填", "y", "yes", "true", "1", "√", "✓"})
NO_WORDS = frozenset({"否", "选填", "n", "no", "false", "0", "×", "✗"})
# What a contact types to leave an optional field empty.
SKIP_WORDS = frozenset({"跳过", "无", "没有", "-", "—", "——", "/", "skip"})
# Words that skip a number, a date or a choice, but answer a text field (存在问题：无).
TEXT_ANSWERS = frozenset({"无", "没有", "暂无", "无问题"})
OPTION_SEPARATORS = re.compile(r"\s*[、/,，;；\n]\s*")
TITLE_ROW_RE = re.compile(r"^(?:表名|表单名称|报表名称)\s*[:：]?\s*(?P<title>.*)$")

# The columns of a definition table: column → its header as typed (compared by header_key).
COLUMNS: dict[str, tuple[str, ...]] = {
    "label": ("字段名称", "字段", "名称"),
    "kind": ("类型", "字段类型"),
    "key": ("代码", "字段代码"),
    "unit": ("单位",),
    "minimum": ("最小值",),
    "maximum": ("最大值",),
    "decimals": ("小数位数", "小数位"),
    "choices": ("选项",),
    "required": ("必填", "是否必填"),
    "hint": ("说明", "填写说明", "备注"),
    "max_length": ("长度", "最大长度"),
}
REQUIRED_COLUMNS = ("label", "kind")

# Where a problem of a definition is: the prefix its line takes (0: the whole definition).
AT_FIELD_KEY = "monthly.problem_at_field"
AT_ROW_KEY = "monthly.problem_at_row"
SKIPPED_KEY = "monthly.skipped"  # an optional field left empty, as shown
PERIOD_KEY = "monthly.period"  # a period as shown: {year}年{month}月

Problem = tuple[int, str, dict[str, object]]


class FormDefinitionError(DomainError):
    """A definition that cannot be used as a whole; each problem is (where, catalog key,
    params): `where` is the field's number (TOML, `at_key` AT_FIELD_KEY) or the row's
    (table rows, AT_ROW_KEY); 0 for the definition as a whole (title, code, schedule)."""

    key = "monthly.error_definition"

    def __init__(self, problems: list[Problem], at_key: str = AT_FIELD_KEY) -> None:
        super().__init__(count=len(problems))
        self.problems = problems
        self.at_key = at_key


class AnswerRefused(DomainError):
    """A chat answer its field does not take; `key` names why (monthly.answer.*), params
    carry the field's `label` (and the bounds, the options, the value typed …): the
    caller escapes them."""

    key = "monthly.answer.invalid"

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(**params)
        self.key = key


# The form ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormField:
    key: str
    label: str
    kind: FieldKind
    required: bool = True
    unit: str = ""
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    decimals: int = DECIMALS_DEFAULT  # places a number may have; 0: whole numbers
    choices: tuple[str, ...] = ()
    max_length: int = TEXT_MAX
    hint: str = ""


@dataclass(frozen=True)
class ReportForm:
    code: str
    title: str
    fields: tuple[FormField, ...]
    topic: str = ""
    period: str = "month"

    def field(self, key: str) -> FormField:
        return next(f for f in self.fields if f.key == key)


@dataclass(frozen=True)
class ReportSchedule:
    """When a period is due and who is told after: all counted in working days."""

    due_working_day: int = 5  # the Nth working day of the month after the period
    remind_before: int = 2  # 提示 so many working days before the due day (0: none)
    baobao_after: int = 1  # the 包保 official told at so many working days overdue
    leaders_after: int = 3  # the leaders told (提级)


SCHEDULE_RANGES: dict[str, tuple[int, int]] = {
    "due_working_day": (1, 20),
    "remind_before": (0, 10),
    "baobao_after": (1, 20),
    "leaders_after": (1, 30),
}


@dataclass(frozen=True)
class MonthlyDefinition:
    form: ReportForm
    schedule: ReportSchedule


def _plain(value: object) -> str:
    return unicodedata.normalize("NFKC", without_invisible(str(value))).strip()


def _decimal(value: object) -> Decimal | None:
    """A bound as written (TOML number or cell text), or None when it is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        value = repr(value)
    text = _plain(value).replace(",", "")
    if not re.fullmatch(r"[+-]?\d+(?:\.\d+)?", text):
        return None
    return _trimmed(Decimal(text))


def _trimmed(value: Decimal) -> Decimal:
    """The value without trailing zeros after the point, never in exponent form."""
    places = _places(value)
    return value.quantize(Decimal(1).scaleb(-places))


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@dataclass
class _Draft:
    """One field as read, before its checks."""

    where: int
    label: str
    kind: str
    key: str = ""
    unit: str = ""
    minimum: str = ""
    maximum: str = ""
    decimals: str = ""
    choices: tuple[str, ...] = ()
    required: str = ""
    hint: str = ""
    max_length: str = ""
    unknown: tuple[str, ...] = ()


def _position_key(number: int) -> str:
    """A field's key without 代码: f1, f2 … by its place."""
    return "f" + str(number)


def _check_field(draft: _Draft, number: int, problems: list[Problem]) -> FormField | None:
    """One field made, its problems added (each with the draft's place)."""
    found: list[tuple[str, dict[str, object]]] = []
    label = draft.label
    shown = label or str(number)
    for name in draft.unknown:
        found.append(("monthly.problem.unknown_setting", {"name": name}))
    if not label:
        found.append(("monthly.problem.empty_label", {}))
    elif len(label) > LABEL_MAX:
        found.append(("monthly.problem.long_label", {"label": label, "limit": LABEL_MAX}))
    kind = KIND_WORDS.get(draft.kind.lower())
    if kind is None:
        found.append(("monthly.problem.unknown_kind", {"label": shown, "value": draft.kind}))
    key = draft.key or _position_key(number)
    if not CODE_RE.fullmatch(key):
        found.append(("monthly.problem.bad_key", {"label": shown, "value": key}))
    required = True
    flag = draft.required.lower()
    if flag in NO_WORDS:
        required = False
    elif flag and flag not in YES_WORDS:
        found.append(("monthly.problem.bad_required", {"label": shown, "value": draft.required}))
    if len(draft.hint) > HINT_MAX:
        found.append(("monthly.problem.long_hint", {"label": shown, "limit": HINT_MAX}))
    bounds: dict[str, Decimal | None] = {}
    for name in ("minimum", "maximum"):
        text = getattr(draft, name)
        bounds[name] = _decimal(text) if text else None
        if text and bounds[name] is None:
            found.append(("monthly.problem.bad_bound", {"label": shown, "value": text}))
    low, high = bounds["minimum"], bounds["maximum"]
    if low is not None and high is not None and low > high:
        found.append(
            ("monthly.problem.min_above_max", {"label": shown, "minimum": low, "maximum": high})
        )
    decimals = DECIMALS_DEFAULT
    if draft.decimals:
        if draft.decimals.isdigit() and int(draft.decimals) <= DECIMALS_MAX:
            decimals = int(draft.decimals)
        else:
            found.append(
                (
                    "monthly.problem.bad_decimals",
                    {"label": shown, "value": draft.decimals, "limit": DECIMALS_MAX},
                )
            )
    max_length = TEXT_MAX
    if draft.max_length:
        if draft.max_length.isdigit() and 1 <= int(draft.max_length) <= TEXT_CAP:
            max_length = int(draft.max_length)
        else:
            found.append(
                (
                    "monthly.problem.bad_length",
                    {"label": shown, "value": draft.max_length, "limit": TEXT_CAP},
                )
            )
    if len(draft.unit) > UNIT_MAX:
        found.append(("monthly.problem.long_unit", {"label": shown, "limit": UNIT_MAX}))
    if kind is not FieldKind.NUMBER and kind is not None:
        if draft.unit or draft.minimum or draft.maximum or draft.decimals:
            found.append(("monthly.problem.number_only", {"label": shown}))
    if kind is not FieldKind.CHOICE and kind is not None and draft.choices:
        found.append(("monthly.problem.choices_not_choice", {"label": shown}))
    if kind is FieldKind.CHOICE:
        found.extend(_choice_problems(shown, draft.choices))
    problems.extend((draft.where, k, p) for k, p in found)
    if found or kind is None:
        return None
    return FormField(
        key=key,
        label=label,
        kind=kind,
        required=required,
        unit=draft.unit,
        minimum=low,
        maximum=high,
        decimals=decimals if kind is FieldKind.NUMBER else 0,
        choices=draft.choices,
        max_length=max_length,
        hint=draft.hint,
    )


def _choice_problems(label: str, choices: tuple[str, ...]) -> Iterator[tuple[str, dict]]:
    if not choices:
        yield "monthly.problem.no_choices", {"label": label}
        return
    if len(choices) > MAX_OPTIONS:
        yield "monthly.problem.too_many_choices", {"label": label, "limit": MAX_OPTIONS}
    seen: set[str] = set()
    for option in choices:
        if len(option) > OPTION_MAX:
            yield "monthly.problem.long_choice", {"label": label, "limit": OPTION_MAX}
        if option in seen:
            yield "monthly.problem.duplicate_choice", {"label": label, "value": option}
        seen.add(option)


def _fields(drafts: list[_Draft], problems: list[Problem], whole: int) -> tuple[FormField, ...]:
    """Every draft checked, then the form's own problems: none, too many, the same label
    or key twice (each named where it comes again)."""
    made = [_check_field(d, n, problems) for n, d in enumerate(drafts, start=1)]
    if not drafts:
        problems.append((whole, "monthly.problem.no_fields", {}))
    if len(drafts) > MAX_FIELDS:
        problems.append(
            (whole, "monthly.problem.too_many_fields", {"count": len(drafts), "limit": MAX_FIELDS})
        )
    labels: set[str] = set()
    field_keys: set[str] = set()
    for number, draft in enumerate(drafts, start=1):
        if draft.label and draft.label in labels:
            problems.append(
                (draft.where, "monthly.problem.duplicate_label", {"label": draft.label})
            )
        labels.add(draft.label)
        key = draft.key or _position_key(number)
        if key in field_keys:
            problems.append((draft.where, "monthly.problem.duplicate_key", {"value": key}))
        field_keys.add(key)
    return tuple(f for f in made if f is not None)


def _check_title(title: str, problems: list[Problem]) -> None:
    if not title:
        problems.append((0, "monthly.problem.no_title", {}))
    elif len(title) > TITLE_MAX:
        problems.append((0, "monthly.problem.long_title", {"limit": TITLE_MAX}))


def _check_code(code: str, problems: list[Problem]) -> None:
    if not CODE_RE.fullmatch(code):
        problems.append((0, "monthly.problem.bad_code", {"value": code}))


# TOML -------------------------------------------------------------------------------------

TOML_FORM_KEYS = frozenset({"code", "title", "topic", "period", "schedule", "fields"})
TOML_FIELD_KEYS: dict[str, str] = {  # a TOML setting → the draft's attribute
    "key": "key",
    "label": "label",
    "kind": "kind",
    "unit": "unit",
    "min": "minimum",
    "minimum": "minimum",
    "max": "maximum",
    "maximum": "maximum",
    "decimals": "decimals",
    "choices": "choices",
    "required": "required",
    "hint": "hint",
    "max_length": "max_length",
}


def parse_definition_toml(text: str) -> MonthlyDefinition:
    """The form and its schedule, or FormDefinitionError naming every problem (problems of
    a field by its number among [[fields]], of the whole by 0)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FormDefinitionError([(0, "monthly.problem.toml", {"detail": str(exc)})]) from None
    problems: list[Problem] = []
    for name in sorted(set(data) - TOML_FORM_KEYS):
        problems.append((0, "monthly.problem.unknown_setting", {"name": name}))
    code, title, topic = (_plain(data.get(k, "")) for k in ("code", "title", "topic"))
    _check_code(code, problems)
    _check_title(title, problems)
    period = _plain(data.get("period", "month"))
    if period != "month":
        problems.append((0, "monthly.problem.period", {"value": period}))
    raw_schedule = data.get("schedule", {})
    schedule = schedule_from_table(raw_schedule if isinstance(raw_schedule, dict) else {}, problems)
    raw_fields = data.get("fields", [])
    drafts = [
        _toml_draft(number, raw)
        for number, raw in enumerate(raw_fields if isinstance(raw_fields, list) else [], start=1)
    ]
    fields = _fields(drafts, problems, 0)
    if problems:
        raise FormDefinitionError(problems, AT_FIELD_KEY)
    form = ReportForm(code=code, title=title, fields=fields, topic=topic, period=period)
    return MonthlyDefinition(form, schedule)


def parse_form_toml(text: str) -> ReportForm:
    """The form of a TOML definition (its schedule checked too: see parse_definition_toml)."""
    return parse_definition_toml(text).form


def _toml_draft(number: int, raw: object) -> _Draft:
    if not isinstance(raw, dict):
        raw = {}
    values: dict[str, object] = {}
    for name, value in raw.items():
        if name in TOML_FIELD_KEYS:
            values[TOML_FIELD_KEYS[name]] = value
    choices = values.pop("choices", ())
    if isinstance(choices, str):
        choices = OPTION_SEPARATORS.split(choices)
    required = values.pop("required", "")
    if isinstance(required, bool):
        required = "yes" if required else "no"
    plain = {k: ("" if v is None else _plain(v)) for k, v in values.items()}
    return _Draft(
        where=number,
        label=plain.pop("label", ""),
        kind=plain.pop("kind", ""),
        choices=tuple(_plain(c) for c in choices if _plain(c)) if isinstance(choices, list) else (),
        required=_plain(required),
        unknown=tuple(sorted(n for n in raw if n not in TOML_FIELD_KEYS)),
        **plain,
    )


def schedule_from_table(table: Mapping[str, object], problems: list[Problem]) -> ReportSchedule:
    """A [schedule] table (missing settings take the defaults); its problems are added to
    `problems` (place 0) and the defaults stand in for the values refused."""
    values: dict[str, int] = {}
    for name in sorted(set(table) - set(SCHEDULE_RANGES)):
        problems.append((0, "monthly.problem.unknown_setting", {"name": name}))
    for name, (low, high) in SCHEDULE_RANGES.items():
        if name not in table:
            continue
        value = table[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            problems.append(
                (
                    0,
                    "monthly.problem.schedule_range",
                    {"name": name, "value": value, "low": low, "high": high},
                )
            )
            continue
        values[name] = value
    schedule = ReportSchedule(**values)
    if schedule.leaders_after < schedule.baobao_after:
        problems.append(
            (
                0,
                "monthly.problem.schedule_order",
                {"baobao_after": schedule.baobao_after, "leaders_after": schedule.leaders_after},
            )
        )
    return schedule


# Table rows (XLSX / CSV) ----------------------------------------------------------------


def parse_form_rows(rows: list[list[str]], code: str, title: str | None = None) -> ReportForm:
    """A definition read from a sheet (see the module's notes), all or nothing:
    FormDefinitionError names every problem by its row (AT_ROW_KEY); 0 for the form's
    title and code. `title` stands in when no 表名 row is above the header."""
    cells = [[_plain(cell) for cell in row] for row in rows]
    problems: list[Problem] = []
    header_row, index = _find_header(cells)
    found_title = ""
    above = [[c for c in raw if c] for raw in cells[: header_row - 1]]
    for filled in above:
        match = TITLE_ROW_RE.match(filled[0]) if filled else None
        if match:
            found_title = match["title"] or (filled[1] if len(filled) > 1 else "")
            break
    else:  # no 表名 row: a title row alone in its row (a merged title) names the form
        found_title = next((f[0] for f in above if len(f) == 1), "")
    _check_code(code, problems)
    form_title = found_title or _plain(title or "")
    _check_title(form_title, problems)
    drafts: list[_Draft] = []
    for number, raw in enumerate(cells[header_row:], start=header_row + 1):
        if not any(raw) or is_note(raw):
            continue
        values = {c: (raw[i] if i < len(raw) else "") for c, i in index.items()}
        if (
            header_key(values["label"]) in COLUMNS["label"]
            and header_key(values["kind"]) in COLUMNS["kind"]
        ):
            continue  # the header again
        choices = tuple(o for o in OPTION_SEPARATORS.split(values.pop("choices", "")) if o)
        drafts.append(_Draft(where=number, choices=choices, **values))
    fields = _fields(drafts, problems, header_row)
    if problems:
        raise FormDefinitionError(problems, AT_ROW_KEY)
    return ReportForm(code=code, title=form_title, fields=fields)


def _find_header(cells: list[list[str]]) -> tuple[int, dict[str, int]]:
    """(the header's row number, each column's index): the first of the first rows with a
    字段名称 and a 类型 column."""
    if not any(cell for row in cells for cell in row):
        raise FormDefinitionError([(1, "monthly.problem.empty_file", {})], AT_ROW_KEY)
    for number, raw in enumerate(cells[:HEADER_SEARCH_ROWS], start=1):
        names = [header_key(cell) for cell in raw]
        index: dict[str, int] = {}
        for column, headers in COLUMNS.items():
            at = next((i for i, n in enumerate(names) if n in headers), None)
            if at is not None:
                index[column] = at
        if all(c in index for c in REQUIRED_COLUMNS):
            return number, index
    rows = min(len(cells), HEADER_SEARCH_ROWS)
    raise FormDefinitionError([(1, "monthly.problem.no_header", {"rows": rows})], AT_ROW_KEY)


# Answers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachedFile:
    """A file given as a file field's answer: the caller's reference and its name."""

    ref: str
    name: str


Answer = Decimal | str | date | tuple[AttachedFile, ...] | None

NUMBER_RE = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+")
MINUS_SIGNS = ("负", "−", "﹣", "－")


def is_skip(text: str | None) -> bool:
    """Whether a contact's answer means "nothing to report here" (跳过, 无, -)."""
    return _plain(text or "").lower().strip("。.!！ ") in SKIP_WORDS or not _plain(text or "")


def parse_answer(form_field: FormField, text: str | None, today: date) -> Answer:
    """One chat answer, checked: the typed value (see the module's notes), None for an
    optional field skipped; AnswerRefused naming why otherwise. A file field takes its
    files through `file_answer`; typed text there is refused (`monthly.answer.file`)
    unless it skips an optional field."""
    label = form_field.label
    said = _plain(text or "").strip("。.!！ ")
    if form_field.kind is FieldKind.TEXT and said in TEXT_ANSWERS:
        return said  # 存在问题：无 — for a text field, "none" is the answer
    if is_skip(text):
        if form_field.required:
            raise AnswerRefused("monthly.answer.required", label=label)
        return None
    raw = without_invisible(text or "").strip()
    match form_field.kind:
        case FieldKind.NUMBER:
            return _number(form_field, raw)
        case FieldKind.TEXT:
            if len(raw) > form_field.max_length:
                raise AnswerRefused(
                    "monthly.answer.too_long",
                    label=label,
                    limit=form_field.max_length,
                    length=len(raw),
                )
            return raw
        case FieldKind.DATE:
            return _date(label, raw, today)
        case FieldKind.CHOICE:
            choice = typed_choice(raw, _choice_map(form_field))
            if choice is None:
                raise AnswerRefused(
                    "monthly.answer.choice",
                    label=label,
                    value=raw[:40],
                    options=shown_options(form_field),
                )
            return choice
        case FieldKind.FILE:
            raise AnswerRefused("monthly.answer.file", label=label)


def file_answer(form_field: FormField, files: Sequence[AttachedFile]) -> Answer:
    """The files sent for a file field (none: as skipping it)."""
    if not files:
        if form_field.required:
            raise AnswerRefused("monthly.answer.required", label=form_field.label)
        return None
    return tuple(files)


def _choice_map(form_field: FormField) -> dict[str, str]:
    """An option by its label or its number (labels first: an option named 1 is itself)."""
    by_label = {option: option for option in form_field.choices}
    by_number = {str(n): o for n, o in enumerate(form_field.choices, start=1)}
    return {**by_number, **by_label}


def shown_options(form_field: FormField) -> str:
    """The options with their numbers, as offered: `1 土建施工 / 2 机电安装`."""
    return " / ".join(f"{n} {o}" for n, o in enumerate(form_field.choices, start=1))


def _date(label: str, raw: str, today: date) -> date:
    try:
        return parse_date(raw, today, upcoming=False)
    except YearOutOfRange:
        raise AnswerRefused("monthly.answer.date_years", label=label, value=raw[:40]) from None
    except WrongWeekday as exc:
        raise AnswerRefused(
            "monthly.answer.date_weekday",
            label=label,
            value=raw[:40],
            day=exc.day.isoformat(),
            real=exc.real,
            typed=exc.typed,
        ) from None
    except ValueError:
        raise AnswerRefused("monthly.answer.date", label=label, value=raw[:40]) from None


def _number(form_field: FormField, raw: str) -> Decimal:
    """A number as people write it: 1,200 / 1200.5 / full-width digits / with the field's
    unit after it (1200万元) / 负3 (minus); within the field's bounds and places."""
    label = form_field.label
    text = unicodedata.normalize("NFKC", raw).strip()
    for sign in MINUS_SIGNS:
        if text.startswith(sign):
            text = "-" + text[len(sign) :].strip()
    unit = unicodedata.normalize("NFKC", form_field.unit).strip()
    if unit and text.endswith(unit):
        text = text[: -len(unit)].strip()
    text = text.replace(" ", "")
    if not NUMBER_RE.fullmatch(text) or len(text.split(".")[0].strip("+-")) > NUMBER_DIGITS + 5:
        raise AnswerRefused(
            "monthly.answer.number",
            label=label,
            value=raw[:40],
            example=_example(form_field),
        )
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise AnswerRefused(
            "monthly.answer.number", label=label, value=raw[:40], example=_example(form_field)
        ) from None
    if len(str(abs(int(value)))) > NUMBER_DIGITS:
        raise AnswerRefused(
            "monthly.answer.number", label=label, value=raw[:40], example=_example(form_field)
        )
    places = _places(value)
    if places > form_field.decimals:
        if form_field.decimals == 0:
            raise AnswerRefused("monthly.answer.integer", label=label, value=raw[:40])
        raise AnswerRefused(
            "monthly.answer.decimals", label=label, value=raw[:40], limit=form_field.decimals
        )
    value = _trimmed(value)
    low, high = form_field.minimum, form_field.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        params = {"label": label, "value": shown_number(value, form_field.unit)}
        if low is not None and high is not None:
            key = "monthly.answer.range"
            params |= {
                "minimum": shown_number(low, form_field.unit),
                "maximum": shown_number(high, form_field.unit),
            }
        elif low is not None:
            key, params["minimum"] = "monthly.answer.minimum", shown_number(low, form_field.unit)
        else:
            key, params["maximum"] = "monthly.answer.maximum", shown_number(high, form_field.unit)
        raise AnswerRefused(key, **params)
    return value


def _example(form_field: FormField) -> str:
    sample = Decimal("1200.5") if form_field.decimals else Decimal(1200)
    if form_field.maximum is not None and sample > form_field.maximum:
        sample = form_field.maximum
    if form_field.minimum is not None and sample < form_field.minimum:
        sample = form_field.minimum
    return shown_number(sample, form_field.unit)


def shown_number(value: Decimal, unit: str = "") -> str:
    """1200.5 → `1,200.5 万元` (thousands marked, the places as stored, the unit after)."""
    places = _places(value)
    text = f"{_trimmed(value):,.{places}f}"
    return f"{text} {unit}" if unit else text


def shown_answer(form_field: FormField, value: Answer) -> str:
    """An answer as plain text (the caller escapes it); "" for a skipped field (the caller
    shows SKIPPED_KEY's wording)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return shown_number(value, form_field.unit)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return ", ".join(f.name for f in value)
    return value


JsonValue = str | list[dict[str, str]] | None


def answer_to_json(form_field: FormField, value: Answer) -> JsonValue:
    """An answer as JSON stores it: a number as its decimal text, a date as ISO text, files
    as [{"ref", "name"}]."""
    if value is None:
        return None
    if isinstance(value, tuple):
        return [{"ref": f.ref, "name": f.name} for f in value]
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def answer_from_json(form_field: FormField, stored: JsonValue) -> Answer:
    """The typed answer `answer_to_json` stored."""
    if stored is None:
        return None
    match form_field.kind:
        case FieldKind.NUMBER:
            return Decimal(str(stored))
        case FieldKind.DATE:
            return date.fromisoformat(str(stored))
        case FieldKind.FILE:
            return tuple(AttachedFile(f["ref"], f["name"]) for f in stored or [])
        case _:
            return str(stored)


def missing_required(form: ReportForm, answers: Mapping[str, Answer]) -> list[FormField]:
    """The required fields not answered yet (in the form's order): 提交 waits for them."""
    return [f for f in form.fields if f.required and answers.get(f.key) is None]


# Periods and the ladder -------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Period:
    """A reported month."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month {self.month}")

    @classmethod
    def previous(cls, day: date) -> Period:
        """The month before `day`'s: the one reported in `day`'s month."""
        last = day.replace(day=1) - timedelta(days=1)
        return cls(last.year, last.month)

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)

    @classmethod
    def parse(cls, text: str) -> Period:
        """`2026-09` (as `label` writes it); ValueError otherwise."""
        match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
        if not match:
            raise ValueError(text)
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def typed(cls, text: str) -> Period:
        """A month as people type it: 2026-09, 2026/9, 2026年9月, 2026.9; ValueError else."""
        match = re.fullmatch(r"\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?\s*", _plain(text))
        if not match:
            raise ValueError(text)
        return cls(int(match[1]), int(match[2]))

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    @property
    def label(self) -> str:
        """`2026-09`: stored and compared (shown as PERIOD_KEY's wording)."""
        return f"{self.year:04d}-{self.month:02d}"


def ask_day(period: Period, cal: WorkingCalendar) -> date:
    """The first working day of the month after the period: contacts are asked then."""
    return _nth_working_day(period.next(), 1, cal)


def due_day(period: Period, cal: WorkingCalendar, schedule: ReportSchedule) -> date:
    """The schedule's Nth working day of the month after the period (later when the month
    has fewer working days: counting goes on into the next)."""
    return _nth_working_day(period.next(), schedule.due_working_day, cal)


def _nth_working_day(month: Period, n: int, cal: WorkingCalendar) -> date:
    return cal.add_working_days(month.first_day - timedelta(days=1), n)


def remind_day(period: Period, cal: WorkingCalendar, schedule: ReportSchedule) -> date | None:
    """The day of the 提示 before the due day; None when the schedule has none or it would
    fall on or before the ask day."""
    if schedule.remind_before < 1:
        return None
    day = cal.sub_working_days(due_day(period, cal, schedule), schedule.remind_before)
    return day if day > ask_day(period, cal) else None


def is_late(submitted_day: date, due: date) -> bool:
    return submitted_day > due


def may_correct(today: date, due: date) -> bool:
    """A submitted report may be corrected until the due day, inclusive."""
    return today <= due


class MonthlyNotice(StrEnum):
    ASK = "ask"  # 填报通知, to the contacts
    REMIND = "remind"  # 提示 before the due day
    DUE_TODAY = "due_today"  # 提示 on the due day
    OVERDUE = "overdue"  # 督办 to the contacts, each working day overdue
    BAOBAO = "baobao"  # 督办: the enterprise's 包保 official told
    LEADERS = "leaders"  # 提级: the leaders told


class Audience(StrEnum):
    CONTACTS = "contacts"
    BAOBAO = "baobao"
    LEADERS = "leaders"


AUDIENCE: dict[MonthlyNotice, Audience] = {
    MonthlyNotice.ASK: Audience.CONTACTS,
    MonthlyNotice.REMIND: Audience.CONTACTS,
    MonthlyNotice.DUE_TODAY: Audience.CONTACTS,
    MonthlyNotice.OVERDUE: Audience.CONTACTS,
    MonthlyNotice.BAOBAO: Audience.BAOBAO,
    MonthlyNotice.LEADERS: Audience.LEADERS,
}
# Each notice's name (its ladder level: 提示 / 督办 / 提级).
NOTICE_KEYS: dict[MonthlyNotice, str] = {
    MonthlyNotice.ASK: "monthly.notice_kind.ask",
    MonthlyNotice.REMIND: "monthly.notice_kind.remind",
    MonthlyNotice.DUE_TODAY: "monthly.notice_kind.due_today",
    MonthlyNotice.OVERDUE: "monthly.notice_kind.overdue",
    MonthlyNotice.BAOBAO: "monthly.notice_kind.baobao",
    MonthlyNotice.LEADERS: "monthly.notice_kind.leaders",
}


@dataclass(frozen=True)
class MonthlyStep:
    """What is due today for an enterprise that has not reported the period: one notice to
    its contacts and, on the days the ladder reaches them, the 包保's and the leaders'
    (`notices`, in ladder order). The caller sends each at most once a day (OVERDUE) or
    once a period (every other kind)."""

    period: Period
    day: date
    due: date
    notices: tuple[MonthlyNotice, ...]
    overdue_days: int  # working days past the due day; 0 until then

    @property
    def kind(self) -> MonthlyNotice:
        """The highest notice of the day."""
        return self.notices[-1]


def ladder_step(
    period: Period,
    today: date,
    cal: WorkingCalendar,
    schedule: ReportSchedule,
    reported: bool,
) -> MonthlyStep | None:
    """The notices due today for an enterprise asked to report `period`: ASK on the ask
    day; REMIND `remind_before` working days before the due day, DUE_TODAY on it; OVERDUE
    each working day after, with BAOBAO on the day it is `baobao_after` working days
    overdue and LEADERS on the day it is `leaders_after`. None once reported, and on every
    day that is not a working day (a 调休 Saturday is one)."""
    if reported or not cal.is_working_day(today):
        return None
    asked, due = ask_day(period, cal), due_day(period, cal, schedule)
    if today < asked:
        return None
    overdue = max(cal.working_days_between(due, today), 0) if today > due else 0
    notices: list[MonthlyNotice] = []
    if today == asked:
        notices.append(MonthlyNotice.ASK)
    elif today == due:
        notices.append(MonthlyNotice.DUE_TODAY)
    elif today == remind_day(period, cal, schedule):
        notices.append(MonthlyNotice.REMIND)
    elif overdue:
        notices.append(MonthlyNotice.OVERDUE)
    if overdue and overdue == schedule.baobao_after:
        notices.append(MonthlyNotice.BAOBAO)
    if overdue and overdue == schedule.leaders_after:
        notices.append(MonthlyNotice.LEADERS)
    if not notices:
        return None
    return MonthlyStep(period, today, due, tuple(notices), overdue)


def ladder_steps(
    period: Period,
    after: date,
    today: date,
    cal: WorkingCalendar,
    schedule: ReportSchedule,
    reported: bool,
    sent: Collection[MonthlyNotice] = (),
) -> list[MonthlyStep]:
    """Every step due in (after, today]: a sweep catching up the days it missed (the bot
    down on the day the 包保 was to be told). Kinds in `sent` (sent once this period) are
    left out; of the contacts' notices only the latest day's is kept (one reminder, not a
    backlog)."""
    steps: list[MonthlyStep] = []
    day = after + timedelta(days=1)
    while day <= today:
        step = ladder_step(period, day, cal, schedule, reported)
        if step is not None:
            steps.append(step)
        day += timedelta(days=1)
    kept: list[MonthlyStep] = []
    last_contact = max(
        (i for i, s in enumerate(steps) if AUDIENCE[s.notices[0]] is Audience.CONTACTS),
        default=-1,
    )
    for i, step in enumerate(steps):
        notices = tuple(
            n
            for n in step.notices
            if n not in sent and (AUDIENCE[n] is not Audience.CONTACTS or i == last_contact)
        )
        if notices:
            kept.append(MonthlyStep(step.period, step.day, step.due, notices, step.overdue_days))
    return kept


# Stored definitions ----------------------------------------------------------------------


def definition_to_data(definition: MonthlyDefinition) -> dict[str, object]:
    """A definition as JSON data (what a campaign keeps; `definition_from_data` reads it)."""
    form, schedule = definition.form, definition.schedule
    return {
        "code": form.code,
        "title": form.title,
        "topic": form.topic,
        "period": form.period,
        "schedule": {
            "due_working_day": schedule.due_working_day,
            "remind_before": schedule.remind_before,
            "baobao_after": schedule.baobao_after,
            "leaders_after": schedule.leaders_after,
        },
        "fields": [
            {
                "key": f.key,
                "label": f.label,
                "kind": str(f.kind),
                "required": f.required,
                "unit": f.unit,
                "minimum": None if f.minimum is None else str(f.minimum),
                "maximum": None if f.maximum is None else str(f.maximum),
                "decimals": f.decimals,
                "choices": list(f.choices),
                "max_length": f.max_length,
                "hint": f.hint,
            }
            for f in form.fields
        ],
    }


def definition_from_data(data: Mapping[str, object]) -> MonthlyDefinition:
    schedule = data.get("schedule") or {}
    assert isinstance(schedule, Mapping)
    fields = data.get("fields") or []
    assert isinstance(fields, list)
    form = ReportForm(
        str(data["code"]),
        str(data["title"]),
        tuple(
            FormField(
                str(f["key"]),
                str(f["label"]),
                FieldKind(f["kind"]),
                bool(f.get("required", True)),
                str(f.get("unit") or ""),
                None if f.get("minimum") is None else Decimal(str(f["minimum"])),
                None if f.get("maximum") is None else Decimal(str(f["maximum"])),
                int(f.get("decimals", DECIMALS_DEFAULT)),
                tuple(str(c) for c in f.get("choices") or ()),
                int(f.get("max_length", TEXT_MAX)),
                str(f.get("hint") or ""),
            )
            for f in fields
        ),
        str(data.get("topic") or ""),
        str(data.get("period") or "month"),
    )
    return MonthlyDefinition(form, ReportSchedule(**{k: int(v) for k, v in schedule.items()}))


def answers_to_data(form: ReportForm, answers: Mapping[str, Answer]) -> dict[str, JsonValue]:
    return {f.key: answer_to_json(f, answers.get(f.key)) for f in form.fields}


def answers_from_data(form: ReportForm, data: Mapping[str, JsonValue]) -> dict[str, Answer]:
    """Answers as stored, read against the form (a key the form no longer has is left out)."""
    return {f.key: answer_from_json(f, data.get(f.key)) for f in form.fields if f.key in data}
