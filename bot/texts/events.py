"""Audit details (codes and values) worded at read time, for cards and the ledger."""

from __future__ import annotations

from typing import Any

from bot.rules.names import visible_name
from bot.texts import has, name, t


def person_name(full_name: str | None, role: object = None) -> str:
    """How a person is named wherever they are shown: their visible name; with none (a
    leader is not stored; a name of nothing visible, or only an id) their role —
    局领导/督办员 when no role is known (leaders), else 承办人, 企业联络员…"""
    shown = visible_name(full_name)
    if shown:
        return shown
    if role is None:
        return t("leader_actor")
    return name("role", role, default=t("leader_actor"))


def event_detail(action: str, detail: dict[str, Any], departments: dict[str, str]) -> str:
    """e.g. {"department": "jrj", "reason": "…"} → "→ 市地方金融管理局：…"."""
    if not detail:
        return ""
    values = {k: str(v) for k, v in detail.items() if v is not None}
    if "department" in values:
        values["department"] = departments.get(values["department"], values["department"])
    if "route" in values:
        values["route"] = name("route", values["route"], default=values["route"])
    if "rating" in values:
        values["rating"] = name("rating", values["rating"], default=values["rating"])
    key = f"event_detail.{action}"
    if values.get("old_due") and values.get("old_due") == values.get("new_due"):
        key = f"{key}_same" if has(f"{key}_same") else key  # "A → A" reads as a change
    if values.get("reason") and has(f"{key}_reason"):
        key = f"{key}_reason"  # a decision that gave its reason (不同意延期)
    if has(key):
        try:
            return t(key, **values)
        except KeyError:
            pass  # a row written before details were data: fall back to its main text
    for main in ("text", "reason", "rating"):
        if values.get(main):
            return values[main]
    return ""
