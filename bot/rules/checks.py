"""Input checks: what a user typed, made clean or refused with a named reason."""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, timedelta
from typing import TypeVar

from bot.rules import uscc
from bot.rules.digest import Week
from bot.rules.org import Limits
from bot.rules.refusals import InvalidInput

NUMBER_RE = re.compile(r"^SQ-(\d{4})-(\d{6})$")
# A date as people and systems write it: 2026-03-31, 2026-3-31, 2026/3/31, 2026.3.31,
# 2026年3月31日, or a month and day (3月31日, 3/31, 3-31); any of them may carry a time of day
# (`2026/3/31 0:00`, `2026-03-31 00:00:00`, `2026-03-31T08:00:00+08:00`), which is dropped.
FULL_DATE_RE = re.compile(
    r"^(?P<year>\d{4})\s*(?P<sep>[-/.])\s*(?P<month>\d{1,2})\s*(?P=sep)\s*(?P<day>\d{1,2})"
    r"|^(?P<cn_year>\d{4})\s*年\s*(?P<cn_month>\d{1,2})\s*月\s*(?P<cn_day>\d{1,2})\s*[日号]?"
    r"|^(?P<packed_year>\d{4})(?P<packed_month>\d{2})(?P<packed_day>\d{2})(?!\d)"  # 20260331
)
# The weekday Excel's long Chinese date and people add: 2026年3月31日星期二, （周二）.
WEEKDAY_RE = re.compile(r"\s*[(（]?\s*(?:星期|礼拜|周)(?P<weekday>[一二三四五六日天])[)）]?")
# The weekday's character by date.weekday() (Monday 0); 天 is 日.
WEEKDAY_NAMES = "一二三四五六日"
# Years a date of the bureau's may have: a typing slip such as 9999 or 0026 is refused.
YEARS = range(1900, 3000)


class YearOutOfRange(ValueError):
    """A well-written date (or week) in a year no record of the bureau's can have."""


class WrongWeekday(ValueError):
    """A date written with a weekday it does not fall on (2026-12-01 周五: a Tuesday)."""

    def __init__(self, text: str, day: date, typed: str) -> None:
        super().__init__(text)
        self.day = day
        self.typed = typed  # the weekday as written: 一 … 日
        self.real = WEEKDAY_NAMES[day.weekday()]


MONTH_DAY_RE = re.compile(
    r"^(?P<month>\d{1,2})\s*(?P<sep>[/-])\s*(?P<day>\d{1,2})(?!\s*(?P=sep))"
    r"|^(?P<cn_month>\d{1,2})\s*月\s*(?P<cn_day>\d{1,2})\s*[日号]?"
)
# The end of a month or year, as rectification ledgers set deadlines: 2026年3月底, 3月末,
# 2026年底 (the last day of it).
PERIOD_END_RE = re.compile(
    r"^(?:(?P<year>\d{4})\s*年\s*)?(?P<month>\d{1,2})\s*月\s*[底末]$"
    r"|^(?P<only_year>\d{4})\s*年\s*[底末]$"
)
# 2026年3月31日前, 3月底之前: a deadline says "by", which is the same day.
BY_SUFFIX_RE = re.compile(r"\s*(?:之前|以前|前)$")
TIME_OF_DAY_RE = re.compile(
    r"(?:[T\s]\s*|(?<=[日号])\s*)(?P<half>上午|下午|凌晨|早上|中午|晚上)?\s*(?P<hour>\d{1,2})"
    r"(?:(?::(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,]\d+)?)?)"
    r"|(?:[时点](?:(?P<cn_minute>\d{1,2})分(?:(?P<cn_second>\d{1,2})秒)?)?))"
    r"\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?\s*(?:Z|[+-]\d{2}:?\d{2})?"
)
# An ISO week: 2026-W47 (also 2026W47, 2026-w47, 2026-W47-1, 2026年第47周).
WEEK_RE = re.compile(
    r"^(?P<year>\d{4})\s*-?\s*W\s*(?P<number>\d{1,3})(?:-[1-7])?$"
    r"|^(?P<cn_year>\d{4})\s*年\s*第?\s*(?P<cn_number>\d{1,3})\s*周$",
    re.IGNORECASE,
)
# A week number without its year (11, W11, 第11周): refused with the year filled in.
WEEK_NUMBER_RE = re.compile(
    r"^W?\s*(?P<number>\d{1,3})$|^第?\s*(?P<cn_number>\d{1,3})\s*周$", re.IGNORECASE
)
SAMPLE_WEEK = "2026-W47"
ENTERPRISE_NAME = (2, 60)
CONTACT_NAME = (2, 20)
# Characters that print nothing or reorder text (zero-width, bidi overrides, controls).
INVISIBLE = {"Cf", "Cc", "Cs", "Co"}
# Letters that print as blank, used for names that look empty: the Hangul fillers, the
# blank Braille pattern, Khmer's invisible vowels.
FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5")
KEPT_CONTROLS = {"\n", "\t"}
T = TypeVar("T")


def without_invisible(text: str) -> str:
    return "".join(
        ch
        for ch in text
        if ch in KEPT_CONTROLS or (unicodedata.category(ch) not in INVISIBLE and ch not in FILLERS)
    )


# Around a button's label typed as words: spaces, quotes and a closing stop or exclamation
# are set aside ("  满意！", "“同意”"); anything else makes it a sentence, not a choice.
CHOICE_TRIM = " \t\n\"'“”‘’「」『』《》.。!！~～"


def typed_choice(text: str | None, choices: Mapping[str, T]) -> T | None:
    """What a person typed where buttons wait, read as one of `choices` (a label, or a
    listed variant of it, → what it stands for): the same words after invisible
    characters, full-width forms (NFKC), spaces inside and the marks of CHOICE_TRIM around
    are set aside; None for anything else (free text is never read as a choice)."""
    typed = _choice_form(text or "")
    if not typed:
        return None
    return next((v for label, v in choices.items() if _choice_form(label) == typed), None)


def _choice_form(text: str) -> str:
    plain = unicodedata.normalize("NFKC", without_invisible(text)).strip(CHOICE_TRIM)
    return re.sub(r"\s+", "", plain).lower()


def clean_text(text: str | None, field: str, minimum: int, maximum: int) -> str:
    """Trimmed visible text within limits, or InvalidInput naming the field and the limit
    (text of nothing but invisible characters and spaces: reason `invisible`)."""
    value = without_invisible(text or "").strip()
    if not value and (text or "").strip():
        raise InvalidInput(field=field, reason="invisible")
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


# What people put between a phone number's digits: spaces, hyphens, dots, brackets.
PHONE_SEPARATORS = re.compile(r"[\s\-.()]+")
MOBILE_RE = re.compile(r"1[3-9]\d{9}", re.ASCII)
# A landline: its area code (010 and 02x have three digits, every other one four: 0371,
# 0716 …), then 7 or 8 digits.
LANDLINE_RE = re.compile(r"(0(?:[12]\d|[3-9]\d\d))(\d{7,8})", re.ASCII)
# A company's switchboard extension, written after the number: 转8001, 分机 8001, ext. 8001.
EXTENSION_RE = re.compile(r"\s*(?:转|分机|ext\.?|x)\s*(\d{1,6})\s*$", re.ASCII | re.IGNORECASE)
# A nationwide service number (400 / 800 and 7 digits), often all a company publishes.
SERVICE_RE = re.compile(r"([48]00)(\d{3})(\d{4})", re.ASCII)


def phone(text: str | None) -> str:
    """A mobile number (11 digits, maybe after +86), a landline with its area code (maybe
    with an extension: 转8001) or a 400/800 service number, as people type them
    (138-0013-8000, 138 0013 8000, (027) 8888-6666, ０２７－８８８８６６６６, +86 27 8888 6666,
    027-88886666 分机 8001, 400 800 8888); one number has one stored form however it was
    typed: 13800138000, 027-88886666, 027-88886666转8001, 400-800-8888 (the area code read
    from the digits, not from where a space fell)."""
    typed = without_invisible(text or "").strip()
    value = unicodedata.normalize("NFKC", typed)
    extension = EXTENSION_RE.search(value)
    if extension:
        value = value[: extension.start()]
    number = _phone_number(value, typed)
    if extension is None:
        return number
    if MOBILE_RE.fullmatch(number):  # a mobile has no switchboard
        raise InvalidInput(field="phone", reason="phone_format", value=typed[:40])
    return f"{number}转{extension[1]}"


def _phone_number(value: str, typed: str) -> str:
    digits = PHONE_SEPARATORS.sub("", value)
    service = SERVICE_RE.fullmatch(digits)
    if service:
        return "-".join(service.groups())
    digits = re.sub(r"^(?:\+|00)?86(?=1[3-9]\d{9}$)", "", digits)  # the country code: a mobile
    digits = re.sub(r"^(?:\+|00)860?", "0", digits)  # … a landline (+86 27 …: 027 …)
    if MOBILE_RE.fullmatch(digits):
        return digits
    landline = LANDLINE_RE.fullmatch(digits)
    if not landline:
        raise InvalidInput(field="phone", reason="phone_format", value=typed[:40])
    return "-".join(landline.groups())


def shown_phone(stored: str) -> str:
    """A stored phone as it is shown: in its one form (a number stored before there was one,
    e.g. 02788886666, reads 027-88886666); what does not read as a phone, as stored."""
    try:
        return phone(stored)
    except InvalidInput:
        return stored


def masked_phone(stored: str) -> str:
    """A phone shown to someone outside the enterprise's circle (a removed contact, a
    stranger naming its code): 139****0000, 027-****6666 — enough to recognise, not to
    harvest; every form of one number masks alike."""
    shown = shown_phone(stored)
    shown = shown.partition("转")[0]  # the extension says nothing once the number is hidden
    area, dash, local = shown.rpartition("-")
    if not dash:
        area, local = shown[:3], shown[3:]
    if len(local) <= 4:
        return shown
    return f"{area}{dash}{'*' * (len(local) - 4)}{local[-4:]}"


def description(text: str | None, limits: Limits) -> str:
    return clean_text(text, "description", limits.description_min, limits.description_max)


def free_text(text: str | None, field: str, limits: Limits) -> str:
    """A reply, note, reason, summary, supplement, comment or report."""
    return clean_text(text, field, 1, limits.text_max)


def appeal_number(text: str | None) -> str | None:
    """`SQ-YYYY-NNNNNN` in canonical form, or None when the text is not one."""
    value = without_invisible(text or "").strip().upper()
    return value if NUMBER_RE.match(value) else None


def _rest(text: str, start: int) -> tuple[bool, str | None]:
    """Whether what follows a date in `text` (from `start`) is nothing or a time of day,
    maybe after the date's weekday (星期二, （周二）); and that weekday (一 … 日) if written."""
    weekday = WEEKDAY_RE.match(text, start)
    written = weekday["weekday"].replace("天", "日") if weekday else None
    start = weekday.end() if weekday else start
    if not text[start:].strip():
        return True, written
    match = TIME_OF_DAY_RE.fullmatch(text, start)
    if not match:
        return False, written
    hour = int(match["hour"])
    minute = int(match["minute"] or match["cn_minute"] or 0)
    second = int(match["second"] or match["cn_second"] or 0)
    limit = 12 if (match["ampm"] or match["half"]) else 23
    return hour <= limit and minute <= 59 and second <= 59, written


def _on_weekday(found: date, written: str | None, text: str) -> date:
    """`found`, unless the weekday written with it is another day's: WrongWeekday."""
    if written is not None and WEEKDAY_NAMES[found.weekday()] != written:
        raise WrongWeekday(text, found, written)
    return found


def _period_end(match: re.Match[str], today: date, upcoming: bool) -> date:
    year = int(match["only_year"] or match["year"] or today.year)
    if year not in YEARS:
        raise YearOutOfRange(match.string)
    if match["only_year"]:
        return date(year, 12, 31)
    month = int(match["month"])
    if not 1 <= month <= 12:
        raise ValueError(match.string)
    if not match["year"]:
        year = _year_of_month(month, today, upcoming)
    return date(year, month, calendar.monthrange(year, month)[1])


def _year_of_month(month: int, today: date, upcoming: bool) -> int:
    """The year of a month written without one: the next such month that has not ended for
    a deadline (`upcoming`), else the latest one already begun (in January, 12月 is last
    year's December: a period lies in the past)."""
    if upcoming:
        ended = date(today.year, month, calendar.monthrange(today.year, month)[1]) < today
        return today.year + 1 if ended else today.year
    return today.year if date(today.year, month, 1) <= today else today.year - 1


def parse_date(text: str | None, today: date, upcoming: bool = True) -> date:
    """The one reader of dates typed by people or found in files: `2026-03-20`, `2026-3-20`,
    `2026/3/20`, `2026.3.20`, `2026年3月20日`, `20260320` (full-width digits too, years 1900
    to 2999), each maybe followed by its weekday (星期五: WrongWeekday when the date falls on
    another) and a time of day, dropped; or
    a month and day, `3月20日`: the next one when `upcoming` (a deadline), else the latest
    one not after today (a period); or the end of a month or year (`2026年3月底`,
    `2026年底`); any of them may end in 前 ("by"). ValueError otherwise."""
    raw = unicodedata.normalize("NFKC", without_invisible(text or "")).strip()
    raw = BY_SUFFIX_RE.sub("", raw)
    match = PERIOD_END_RE.match(raw)
    if match:
        return _period_end(match, today, upcoming)
    match = FULL_DATE_RE.match(raw)
    rest = _rest(raw, match.end()) if match else (False, None)
    if match and rest[0]:
        year = int(match["year"] or match["cn_year"] or match["packed_year"])
        month = int(match["month"] or match["cn_month"] or match["packed_month"])
        day = int(match["day"] or match["cn_day"] or match["packed_day"])
        if year not in YEARS:
            raise YearOutOfRange(raw)
        try:
            found = date(year, month, day)
        except ValueError:
            raise ValueError(raw) from None
        return _on_weekday(found, rest[1], raw)
    match = MONTH_DAY_RE.match(raw)
    rest = _rest(raw, match.end()) if match else (False, None)
    if match and rest[0]:
        month = int(match["month"] or match["cn_month"])
        day = int(match["day"] or match["cn_day"])
        # A deadline's is the next such day, a period's the latest one not after today;
        # 2月29日 is in a leap year: look up to eight years ahead or back.
        years = (
            range(today.year, today.year + 9) if upcoming else range(today.year, today.year - 9, -1)
        )
        for year in years:
            try:
                found = date(year, month, day)
            except ValueError:
                continue
            if (found >= today) if upcoming else (found <= today):
                return _on_weekday(found, rest[1], raw)
    raise ValueError(raw)


# Text that is nothing but digits and the marks numbers are written with.
BARE_NUMBER_RE = re.compile(r"[\d\s.,:/+%#\-，。、：]+")
DATE, NUMBER = "date", "number"


def bare_value(text: str | None, today: date) -> str | None:
    """What a reason typed after a value (a date, a department) is when it is no reason at
    all: DATE when it reads as a date (a date mistyped counts: a weekday that does not fit),
    NUMBER when it is only a number; None for words."""
    raw = unicodedata.normalize("NFKC", without_invisible(text or "")).strip()
    if not raw:
        return None
    try:
        parse_date(raw, today)
        return DATE
    except (WrongWeekday, YearOutOfRange):
        return DATE
    except ValueError:
        pass
    return NUMBER if BARE_NUMBER_RE.fullmatch(raw) else None


def reason_text(text: str | None, field: str, limits: Limits, today: date) -> str:
    """A reason (or a summary) in words: free text that is not only a date or a number
    (InvalidInput reason `bare_value`, `what` DATE or NUMBER, `value` as typed)."""
    value = free_text(text, field, limits)
    bare = bare_value(value, today)
    if bare is not None:
        raise InvalidInput(field=field, reason="bare_value", what=bare, value=value[:40])
    return value


def date_field(text: str | None, field: str, today: date) -> date:
    """A date typed in chat (an extension's new due date): InvalidInput shows what was typed."""
    with _refused_as(field, text or ""):
        return parse_date(text, today)


@contextmanager
def _refused_as(field: str, text: str) -> Iterator[None]:
    """Turn a date that cannot be read into the refusal that says why, showing what was
    typed."""
    value = without_invisible(text).strip()
    try:
        yield
    except YearOutOfRange:
        raise InvalidInput(field=field, reason="date_years", value=value) from None
    except WrongWeekday as exc:
        raise wrong_weekday(exc, field, value) from None
    except ValueError:
        raise InvalidInput(field=field, reason="date_format", value=value) from None


def wrong_weekday(exc: WrongWeekday, field: str, value: str) -> InvalidInput:
    """The refusal of a date whose weekday is another day's, naming the real one."""
    return InvalidInput(
        field=field,
        reason="date_weekday",
        value=value,
        day=exc.day.isoformat(),
        real=exc.real,
        typed=exc.typed,
    )


def weeks_in(year: int) -> int:
    """How many ISO weeks a year has (52 or 53)."""
    return date(year, 12, 28).isocalendar()[1]


def parse_week(text: str | None, today: date | None = None) -> Week:
    """The one reader of weeks typed by people: `2026-W47` (also `2026W47`, `2026-w47`,
    `2026-W47-1`, `2026年第47周`). InvalidInput names the problem: no year (`11`), a week
    the year does not have (`2026-W60`), or not a week at all; `example` comes from `today`."""
    raw = unicodedata.normalize("NFKC", without_invisible(text or "")).strip()
    example = Week.before(today).label if today else SAMPLE_WEEK
    match = WEEK_RE.fullmatch(raw)
    if match and int(match["year"] or match["cn_year"]) not in YEARS:
        raise InvalidInput(field="week", reason="week_years", value=raw, example=example)
    if match:
        year = int(match["year"] or match["cn_year"])
        number = int(match["number"] or match["cn_number"])
        weeks = weeks_in(year)
        if not 1 <= number <= weeks:
            raise InvalidInput(field="week", reason="week_range", value=raw, year=year, weeks=weeks)
        return Week(year, number)
    match = WEEK_NUMBER_RE.fullmatch(raw)
    if match:
        number = int(match["number"] or match["cn_number"])
        if today and 1 <= number <= weeks_in(today.year):
            example = f"{today.year}-W{number:02d}"
        raise InvalidInput(field="week", reason="week_no_year", value=raw, example=example)
    raise InvalidInput(field="week", reason="week_format", value=raw, example=example)


# A whole month as a period: 2026-11, 2026/11, 2026年11月, 11月 (of this year).
MONTH_RE = re.compile(
    r"^(?P<year>\d{4})\s*(?:[-/.]\s*(?P<month>\d{1,2})|年\s*(?P<cn_month>\d{1,2})\s*月份?)"
    r"|^(?P<only_month>\d{1,2})\s*月份?$"
)
# Between the two dates of a period people also write 至, 到 or ~.
PERIOD_SEPARATORS_RE = re.compile(r"\s*(?:至|到|~|～)\s*|\s+")


def period_words(words: list[str]) -> tuple[str | None, str | None]:
    """The from and to dates of `/export 2026-01-01 2026-03-31` (also with 至, 到 or ~
    between them, each maybe with its weekday); None where not given. InvalidInput for a
    third date."""
    found: list[str] = []
    for word in PERIOD_SEPARATORS_RE.split(" ".join(words).strip()):
        if found and WEEKDAY_RE.fullmatch(word):  # 2026-12-01 周二: the date's weekday
            found[-1] += " " + word
        elif word:
            found.append(word)
    if len(found) > 2:
        raise InvalidInput(field="period", reason="period_parts", value=" ".join(found))
    found += [None] * (2 - len(found))
    return found[0], found[1]


# A whole year as a period: 2026, 2026年, 2026年度, 2026全年.
YEAR_RE = re.compile(r"^(?P<year>\d{4})\s*(?:年度?|年?\s*全年)?$")


def _span(text: str, today: date) -> tuple[date, date] | None:
    """The first and last day of a month or year written alone (`2026-11`, `2026年11月`,
    `11月`: the latest one begun, `2026年`, `2026`), or None when `text` is not one."""
    raw = unicodedata.normalize("NFKC", without_invisible(text)).strip()
    year_only = YEAR_RE.fullmatch(raw)
    if year_only:
        year = int(year_only["year"])
        if year not in YEARS:
            raise YearOutOfRange(raw)
        return date(year, 1, 1), date(year, 12, 31)
    month = MONTH_RE.fullmatch(raw)
    if not month:
        return None
    number = int(month["month"] or month["cn_month"] or month["only_month"])
    if not 1 <= number <= 12:
        raise ValueError(raw)
    year = int(month["year"]) if month["year"] else _year_of_month(number, today, upcoming=False)
    if year not in YEARS:
        raise YearOutOfRange(raw)
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


def _bound(text: str, field: str, today: date) -> tuple[date, date]:
    """The days `text` may begin and end a period on: a date is both; a month or a year
    begins on its first day and ends on its last."""
    with _refused_as(field, text):
        span = _span(text, today)
        if span is not None:
            return span
        day = parse_date(text, today, upcoming=False)
    return day, day


def sample_period(today: date) -> tuple[date, date]:
    """A period always in the past to show as an example: last month, first to last day."""
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def parse_period(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """From and to dates of a report (both included): from 1 January and to today when not
    given. Either end may be a date (a month and day is of this year), a month (`2026-11`,
    `2026年11月`, `11月`) or a year (`2026`, `2026年`): as from its first day, as to its
    last; a month or year alone is that whole month or year. A period ends today at the
    latest (nothing later is recorded yet). InvalidInput names the problem: a date that is
    not one (field period_start / period_end, with the value), a from after today, or to
    before from."""
    given_start = start is not None and bool(start.strip())
    given_end = end is not None and bool(end.strip())
    first = _bound(start, "period_start", today)[0] if given_start else date(today.year, 1, 1)
    last = today
    if given_end:
        last = _bound(end, "period_end", today)[1]
    elif given_start:
        whole = _bound(start, "period_start", today)
        last = whole[1] if whole[0] != whole[1] else today  # a month or year alone: all of it
    if first > today:
        raise InvalidInput(
            field="period_start",
            reason="period_future",
            start=first.isoformat(),
            today=today.isoformat(),
        )
    last = min(last, today)
    if first > last:
        raise InvalidInput(
            field="period", reason="period_order", start=first.isoformat(), end=last.isoformat()
        )
    return first, last
