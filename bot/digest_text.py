"""The 督察通报 worded in the bureau's own style, and long texts split for Telegram."""

from __future__ import annotations

import html

from bot.digest import DepartmentDigest, DepartmentFigures, LeaderDigest, PeriodFigures
from bot.tasks import STATE_LABELS, TaskState

TELEGRAM_LIMIT = 4096


def esc(value: object) -> str:
    return html.escape(str(value), quote=False)


def pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def categories_line(figures: PeriodFigures) -> str:
    """“用工(引才)类40件，融资类36件，…”, as the bureau writes it."""
    parts = [f"{esc(name)}类{count}件" for name, count in figures.by_category]
    return "，".join(parts) + "。" if parts else "无。"


def period_line(label: str, figures: PeriodFigures) -> str:
    return (
        f"{label}（{figures.start} 至 {figures.end}）：新增诉求 {figures.new} 件，"
        f"办结 {figures.closed} 件，其中按时办结 {figures.closed_on_time} 件"
        f"（按时办结率 {pct(figures.on_time_rate)}）。"
    )


def department_line(rank: int, dept: DepartmentFigures) -> str:
    return (
        f"{rank}. {esc(dept.name)}：受理 {dept.received} 件｜响应率 {pct(dept.response_rate)}"
        f"｜解决率 {pct(dept.resolution_rate)}｜按时办结率 {pct(dept.on_time_rate)}"
        f"｜满意率 {pct(dept.satisfaction_rate)}（已评价 {dept.rated} 件，未评价 {dept.unrated} 件）"
    )


def leaders_text(digest: LeaderDigest) -> str:
    week, last, year = digest.week, digest.last_week, digest.year
    lines = [
        f"<b>督察通报（{week.year}年第{week.number}周：{week.start} 至 {week.end}）</b>",
        "",
        "<b>一、上周情况</b>",
        period_line("上周", last),
        "按类别：" + categories_line(last),
        "",
        "<b>二、年度累计</b>",
        period_line("年度累计", year),
        "按类别：" + categories_line(year),
        "",
        "<b>三、各承办单位（年度累计，按综合得分排名）</b>",
    ]
    lines += [department_line(i, d) for i, d in enumerate(year.departments, start=1)] or ["无。"]
    floor = f"{digest.floor * 100:.0f}%"
    if digest.below_floor:
        named = "、".join(f"{esc(name)}（{pct(rate)}）" for name, rate in digest.below_floor)
        lines.append(f"满意率低于 {floor} 的单位：{named}。")
    else:
        lines.append(f"满意率均不低于 {floor}。")
    lines += ["", f"<b>四、超期未办结（{len(digest.overdue)} 件）</b>"]
    lines += [
        f"{o.number}｜{esc(o.department)}｜承办人 {esc(o.owner or '未签收')}｜"
        f"超期 {o.days} 个工作日（期限 {o.due_date}）"
        for o in digest.overdue
    ] or ["无。"]
    lines += [
        "",
        "<b>五、提示督办</b>",
        f"上周发出提示 {last.notices.get('提示', 0)} 件、督办 {last.notices.get('督办', 0)} 件、"
        f"提级督办 {last.notices.get('提级', 0)} 件；年度累计提示 {year.notices.get('提示', 0)} 件、"
        f"督办 {year.notices.get('督办', 0)} 件、提级督办 {year.notices.get('提级', 0)} 件。",
        "",
        f"<b>六、撤回诉求（撤单质检，上周 {len(last.withdrawn)} 件，年度 {len(year.withdrawn)} 件）</b>",
    ]
    lines += [
        f"{w['number']}｜{esc(w['enterprise_name'])}｜原因：{esc(w['reason'] or '')}"
        for w in last.withdrawn
    ] or ["上周无。"]
    total = sum(digest.tasks.values())
    lines += ["", "<b>七、整改任务</b>"]
    if total:
        parts = "，".join(
            f"{digest.tasks[state]} 个“{STATE_LABELS[state]}”"
            for state in TaskState
            if digest.tasks.get(state)
        )
        lines.append(f"{total} 个问题：{parts}。")
    else:
        lines.append("无。")
    lines += ["", "<b>八、回复质量（上周）</b>"]
    lines += [
        f"雷同回复：{q.number} 与 {q.earlier_number} 回复相似度 {q.similarity * 100:.0f}%"
        f"（{esc(q.department)}）"
        for q in digest.duplicates
    ]
    lines += [
        f"过短回复：{q.number}（{q.length} 字，{esc(q.department)}）" for q in digest.short_replies
    ]
    if not digest.duplicates and not digest.short_replies:
        lines.append("未发现雷同或过短回复。")
    return "\n".join(lines)


def department_text(digest: DepartmentDigest, week_label: str) -> str:
    lines = [
        f"<b>{esc(digest.name)} 诉求周报（{week_label}）</b>",
        f"在办诉求 {len(digest.open_items)} 件，其中待签收 {len(digest.unclaimed)} 件；"
        f"本周到期 {len(digest.due_this_week)} 件；已超期 {len(digest.overdue)} 件。",
    ]
    if digest.due_this_week:
        lines += ["", "<b>本周到期</b>"] + [
            f"{r['number']}｜{esc(r['category'])}｜期限 {r['due_date']}｜{esc(r['owner_name'] or '未签收')}"
            for r in digest.due_this_week
        ]
    if digest.overdue:
        lines += ["", "<b>已超期</b>"] + [
            f"{o.number}｜超期 {o.days} 个工作日｜{esc(o.owner or '未签收')}"
            for o in digest.overdue
        ]
    if digest.unclaimed:
        lines += ["", "<b>待签收</b>"] + [
            f"{r['number']}｜{esc(r['category'])}｜签收期限 {r['claim_due_date']}"
            for r in digest.unclaimed
        ]
    return "\n".join(lines)


def split_message(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Pieces under `limit` characters, cut at line ends (a longer line is cut hard)."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces
