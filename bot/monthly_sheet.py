"""A 月报 period as a spreadsheet: one row per enterprise asked, one column per field, when
and which version it reported, late ones marked and missing ones listed; then every
period's reports (the history)."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.rules.campaigns import Submission
from bot.rules.monthly import FieldKind, ReportForm, answers_from_data, shown_answer
from bot.sheets import DATETIME, NUMBER, TEXT, WRAP, Column, SheetSpec, write_book
from bot.texts import t
from bot.usecases.monthly import History, PeriodStatus


def _columns(form: ReportForm, first: list[Column]) -> list[Column]:
    fields = [
        Column(
            f"{f.label}（{f.unit}）" if f.unit else f.label,
            12 if f.kind is FieldKind.NUMBER else 18,
            NUMBER
            if f.kind is FieldKind.NUMBER and not f.decimals
            else TEXT
            if f.kind is FieldKind.NUMBER
            else WRAP,
        )
        for f in form.fields
    ]
    return (
        first
        + fields
        + [
            Column(t("monthly_sheet.submitted_at"), 17, DATETIME),
            Column(t("monthly_sheet.version"), 8, NUMBER),
            Column(t("monthly_sheet.state"), 10, TEXT),
        ]
    )


def _values(form: ReportForm, submission: Submission | None) -> list[object]:
    if submission is None:
        return [None] * len(form.fields)
    answers = answers_from_data(form, submission.data)
    values: list[object] = []
    for field in form.fields:
        value = answers.get(field.key)
        if value is None:
            values.append(None)
        elif field.kind is FieldKind.NUMBER:
            values.append(_number(value))  # type: ignore[arg-type]
        else:
            values.append(shown_answer(field, value))
    return values


EXCEL_DIGITS = 15  # what a spreadsheet's number keeps exactly


def _number(value: Decimal) -> float | int | str:
    """A number as the sheet holds it: a number while it has at most 15 digits, else its
    exact text (a spreadsheet would round it)."""
    if len(value.as_tuple().digits) > EXCEL_DIGITS:
        return str(value)
    return int(value) if value == value.to_integral_value() else float(value)


def _state(submission: Submission | None) -> str:
    if submission is None:
        return t("monthly_sheet.missing")
    return t("monthly_sheet.late") if submission.late else t("monthly_sheet.on_time")


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    return moment.astimezone(zone) if moment else None


def write_period(
    status: PeriodStatus, history: History, target: Path | io.BytesIO, zone: ZoneInfo
) -> int:
    """The period's table, then the history; returns the enterprises in the period's."""
    form = status.campaign.definition.form
    period_name = t("monthly.period", year=status.period.year, month=status.period.month)
    first = [
        Column(t("monthly_sheet.enterprise"), 30, WRAP),
        Column(t("monthly_sheet.uscc"), 21, TEXT),
    ]
    rows = [
        [target_.name, target_.uscc, *_values(form, target_.latest)]
        + [
            _local(target_.latest.submitted_at, zone) if target_.latest else None,
            target_.latest.version if target_.latest else None,
            _state(target_.latest),
        ]
        for target_ in status.targets
    ]
    period_sheet = SheetSpec(
        period_name,
        _columns(form, first),
        caption=t("monthly_sheet.caption", title=status.campaign.title, period=period_name),
    )
    month = [
        Column(t("monthly_sheet.period"), 10, TEXT),
        Column(t("monthly_sheet.enterprise"), 30, WRAP),
    ]
    reported = [(s.period, history.names.get(s.enterprise_id, ""), s) for s in history.submissions]
    unreported = [(p, history.names.get(e, ""), None) for p, e in history.missing]
    past = [
        [
            period.label,
            name,
            *_values(form, s),
            _local(s.submitted_at, zone) if s else None,
            s.version if s else None,
            _state(s),
        ]
        for period, name, s in sorted(reported + unreported, key=lambda r: (r[0], r[1]))
    ]
    history_sheet = SheetSpec(t("monthly_sheet.history"), _columns(form, month))
    counts = write_book(target, [(period_sheet, rows), (history_sheet, past)])
    return counts[0]
