"""The 督察通报 worded from the catalog in the bureau's own style, and split for Telegram."""

from __future__ import annotations

import html
from datetime import date

from bot.ledger_size import ledger_fits
from bot.rules.digest import (
    DepartmentDigest,
    DepartmentFigures,
    LeaderDigest,
    PeriodFigures,
    Week,
)
from bot.rules.model import Role, TaskState
from bot.telegram_limits import TEXT_LIMIT, cut, split_html
from bot.texts import name, t
from bot.texts.events import person_name

TELEGRAM_LIMIT = TEXT_LIMIT
# A withdrawal's reason in the digest's list (the ledger has it whole).
REASON_SHOWN = 100


def esc(value: object) -> str:
    return html.escape(str(value), quote=False)


def pct(rate: float | None) -> str:
    return t("digest.pct_none") if rate is None else f"{rate * 100:.1f}%"


def categories_line(figures: PeriodFigures) -> str:
    """“用工(引才)类40件，融资类36件，…”, as the bureau writes it."""
    parts = [
        t("digest.category_part", name=esc(cat), count=count) for cat, count in figures.by_category
    ]
    if not parts:
        return t("digest.by_category", parts=t("digest.none"))
    joined = t("digest.category_sep").join(parts) + t("digest.category_end")
    return t("digest.by_category", parts=joined)


def span(start: date, end: date) -> str:
    """A period's dates: “2026-11-16 至 2026-11-22”, or the one day."""
    return (
        t("digest.span_day", day=start) if start == end else t("digest.span", start=start, end=end)
    )


def period_line(label: str, figures: PeriodFigures) -> str:
    return t(
        "digest.period_line",
        label=label,
        span=span(figures.start, figures.end),
        new=figures.new,
        closed=figures.closed,
        on_time=figures.closed_on_time,
        rate=pct(figures.on_time_rate),
    )


def department_line(rank: int, dept: DepartmentFigures) -> str:
    return t(
        "digest.department_line",
        rank=rank,
        name=esc(dept.name),
        received=dept.received,
        response=pct(dept.response_rate),
        resolution=pct(dept.resolution_rate),
        on_time=pct(dept.on_time_rate),
        satisfaction=pct(dept.satisfaction_rate),
        rated=dept.rated,
        unrated=dept.unrated,
    )


def withdrawn_note(figures: PeriodFigures) -> list[str]:
    """Where the departments' total is smaller than the period's new appeals (withdrawn ones
    count by category but not for a department), a line that says so with both totals."""
    if not figures.withdrawn_received:
        return []
    return [
        t(
            "digest.departments_withdrawn",
            counted=figures.departments_received,
            withdrawn=figures.withdrawn_received,
            total=figures.new,
        )
    ]


def week_name(week: Week) -> str:
    """The one way a week is named to people: 2026年第47周."""
    return t("week.name", year=week.year, number=week.number)


def period_name(week: Week, today: date | None) -> str:
    """How the digest calls its week on the day `today` it is made: 上周 the week after,
    本周 while it runs, else by its name. A plain name, never bracketed: it stands inside
    titles that carry brackets of their own (the dates are in the period line)."""
    if today is not None and week == Week.before(today):
        return t("week.last")
    if today is not None and week.start <= today <= week.end:
        return t("week.current")
    return week_name(week)


def title(digest: LeaderDigest) -> str:
    """The digest's title: the week and its dates, or while it runs, the day it is as of."""
    week, as_of = digest.week, digest.as_of
    if as_of is not None and as_of < week.end:
        return t("digest.title_current", week=week_name(week), today=as_of)
    return t("digest.title", week=week_name(week), start=week.start, end=week.end)


def leaders_text(digest: LeaderDigest) -> str:
    week, last, year = digest.week, digest.last_week, digest.year
    period = period_name(week, digest.made_on)
    none = t("digest.none")
    lines = [
        title(digest),
        "",
        t("digest.section_last_week", period=period),
        period_line(period, last),
        categories_line(last),
        "",
        t("digest.section_year"),
        period_line(t("digest.year"), year),
        categories_line(year),
        "",
        t("digest.section_departments"),
    ]
    lines += [department_line(i, d) for i, d in enumerate(year.departments, start=1)] or [none]
    lines += withdrawn_note(year)
    floor = f"{digest.floor * 100:.0f}%"
    if not any(d.rated for d in year.departments):
        lines.append(t("digest.floor_no_ratings"))
    elif digest.below_floor:
        named = "、".join(
            t("digest.below_floor_part", name=esc(n), rate=pct(r)) for n, r in digest.below_floor
        )
        lines.append(t("digest.below_floor", floor=floor, named=named))
    else:
        lines.append(t("digest.floor_ok", floor=floor))
    total = max(digest.overdue_total, len(digest.overdue))
    lines += ["", t("digest.section_overdue", count=total)]
    overdue = [
        t(
            "digest.overdue_line",
            number=o.number,
            department=esc(o.department),
            owner=esc(owner_name(o.owner)),
            days=o.days,
            due=o.due_date,
        )
        for o in digest.overdue
    ]
    # the full lists are in the year's ledger, when it is the one attached (bot/digest_files)
    year_attached = ledger_fits(digest.year.new)
    overdue_more = "digest.overdue_more" if year_attached else "digest.overdue_more_export"
    lines += capped(overdue, total, overdue_more) or [none]
    lines += [
        "",
        t("digest.section_notices"),
        t(
            "digest.notices_line",
            period=period,
            w_tip=last.notices.get("提示", 0),
            w_push=last.notices.get("督办", 0),
            w_raise=last.notices.get("提级", 0),
            y_tip=year.notices.get("提示", 0),
            y_push=year.notices.get("督办", 0),
            y_raise=year.notices.get("提级", 0),
        ),
        "",
        t(
            "digest.section_withdrawn",
            period=period,
            week=len(last.withdrawn),
            year=len(year.withdrawn),
        ),
    ]
    withdrawn = [
        t(
            "digest.withdrawn_line",
            number=w.number,
            enterprise=esc(w.enterprise_name),
            reason=esc(cut(w.reason, REASON_SHOWN)),
        )
        for w in last.withdrawn[-digest.listed :]
    ]
    withdrawn_more = "digest.withdrawn_more" if year_attached else "digest.withdrawn_more_export"
    lines += capped(withdrawn, len(last.withdrawn), withdrawn_more) or [
        t("digest.withdrawn_none", period=period)
    ]
    total = sum(digest.tasks.values())
    lines += ["", t("digest.section_tasks")]
    if total:
        parts = "，".join(
            t("digest.tasks_part", count=digest.tasks[state], label=name("task_state", state))
            for state in TaskState
            if digest.tasks.get(state)
        )
        lines.append(t("digest.tasks_line", total=total, parts=parts))
        lines.append(t("digest.tasks_overdue", count=digest.overdue_tasks_total))
        late = [
            t(
                "digest.task_overdue_line",
                seq=task.seq,
                department=esc(task.department_name),
                owner=esc(task.owner_name),
                days=days,
                deadline=task.deadline.isoformat(),
            )
            for task, days in digest.overdue_tasks
        ]
        lines += capped(late, digest.overdue_tasks_total, "digest.tasks_overdue_more")
    else:
        lines.append(none)
    lines += ["", t("digest.section_quality", period=period)]
    duplicates = [
        t(
            "digest.duplicate_line",
            number=q.number,
            earlier=q.earlier_number,
            similarity=f"{q.similarity * 100:.0f}%",
            department=esc(q.department),
        )
        for q in digest.duplicates
    ]
    lines += capped(duplicates, digest.duplicates_total, "digest.duplicates_more")
    short = [
        t("digest.short_line", number=q.number, length=q.length, department=esc(q.department))
        for q in digest.short_replies
    ]
    lines += capped(short, digest.short_total, "digest.short_more")
    if not digest.duplicates and not digest.short_replies:
        lines.append(t("digest.quality_ok"))
    return "\n".join(lines)


def owner_name(owner: str | None) -> str:
    """Who works on an appeal: their name (承办人 when they have none to show), or 未签收."""
    return t("digest.unclaimed") if owner is None else person_name(owner, Role.OFFICIAL)


def department_text(digest: DepartmentDigest, week_label: str) -> str:
    """A department's weekly view; each list names its most urgent items and its count."""
    shown = digest.listed
    lines = [
        t("digest.dept_title", name=esc(digest.name), week=week_label),
        t(
            "digest.dept_summary",
            open=len(digest.open_items),
            unclaimed=len(digest.unclaimed),
            due=len(digest.due_this_week),
            overdue=len(digest.overdue),
        ),
    ]
    due = sorted(digest.due_this_week, key=lambda r: (r.due_date, r.number))[:shown]
    lines += _section(
        "digest.dept_due",
        [
            t(
                "digest.dept_due_line",
                number=r.number,
                category=esc(r.category),
                due=r.due_date,
                owner=esc(owner_name(r.owner_name)),
            )
            for r in due
        ],
        len(digest.due_this_week),
    )
    lines += _section(
        "digest.dept_overdue",
        [
            t(
                "digest.dept_overdue_line",
                number=o.number,
                days=o.days,
                owner=esc(owner_name(o.owner)),
            )
            for o in digest.overdue[:shown]  # the longest overdue first
        ],
        len(digest.overdue),
    )
    waiting = sorted(digest.unclaimed, key=lambda r: (r.claim_due_date, r.number))[:shown]
    lines += _section(
        "digest.dept_unclaimed",
        [
            t(
                "digest.dept_unclaimed_line",
                number=r.number,
                category=esc(r.category),
                claim_due=r.claim_due_date,
            )
            for r in waiting
        ],
        len(digest.unclaimed),
    )
    return "\n".join(lines)


def _section(title_key: str, lines: list[str], total: int) -> list[str]:
    """A department view's list under its title, with its count when not all are named."""
    return ["", t(title_key), *capped(lines, total, "digest.dept_more")] if lines else []


def capped(lines: list[str], total: int, more_key: str, **params: object) -> list[str]:
    """A list as a person receives it: the lines of the most urgent items (the caller
    chose them) and, when `total` is larger, a last line saying how many were shown of how
    many and where the full list is (catalog `more_key`, given `shown` and `total`)."""
    if total <= len(lines):
        return lines
    return [*lines, t(more_key, shown=len(lines), total=total, **params)]


def split_message(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters as Telegram counts them, cut at line ends (a
    longer line is cut hard)."""
    return split_html(text, limit)
