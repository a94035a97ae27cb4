"""The organisation: departments, appeal categories with time limits, calendar overrides.

Every number a rule needs (claim and rating windows, text limits, the raise threshold,
the digest's floors) comes from here, never from a constant in the code.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field, model_validator


class Department(BaseModel):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    name: str = Field(min_length=1, max_length=40)
    chat_id: int | None = None


class Category(BaseModel):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    name: str = Field(min_length=1, max_length=20)
    department: str
    time_limit_days: int = Field(ge=1, le=60)


class CalendarOverrides(BaseModel):
    holidays: list[date] = Field(default_factory=list)
    workdays: list[date] = Field(default_factory=list)


class Limits(BaseModel):
    claim_days: int = Field(default=1, ge=1, le=10)
    rating_days: int = Field(default=3, ge=1, le=30)
    description_min: int = Field(default=10, ge=1)
    description_max: int = Field(default=2000, le=3500)
    text_max: int = Field(default=2000, le=3500)
    attachments_max: int = Field(default=10, ge=0, le=50)
    # 提级·挂牌督办 after this many working days overdue
    raise_after_days: int = Field(default=3, ge=1, le=30)
    # a reopened appeal whose category left the config gets this time limit
    default_time_limit_days: int = Field(default=5, ge=1, le=60)
    # 整改提示: calendar days before a task's deadline (the far, the near and the last one)
    task_notice_days: tuple[int, int] = (7, 3)
    list_max: int = Field(default=30, ge=1, le=100)


class DigestSettings(BaseModel):
    satisfaction_floor: float = Field(default=0.85, gt=0, le=1)
    similarity_threshold: float = Field(default=0.9, gt=0, le=1)
    min_reply_chars: int = Field(default=15, ge=1, le=500)
    # Replies are compared with the same department's replies of this many days before.
    similarity_window_days: int = Field(default=28, ge=1, le=366)
    similarity_compared: int = Field(default=200, ge=1, le=5000)
    # The digest lists the longest overdue appeals; the full list is in the ledger.
    overdue_listed: int = Field(default=30, ge=1, le=500)
    # …and the most similar / shortest replies; the totals are given.
    quality_listed: int = Field(default=20, ge=1, le=500)


class Routing(BaseModel):
    baobao_first: bool = True
    # Who hears of a new or transferred appeal not yet claimed: every member and the
    # department's group ("members_and_group"); the heads (科长, who assign it) and the
    # group ("heads"; every member where there is no head); or only the group when it has
    # one ("group"). The last two send one or two messages instead of one per member.
    department_notices: Literal["members_and_group", "heads", "group"] = "members_and_group"


class OrgConfig(BaseModel):
    name: str
    departments: list[Department]
    categories: list[Category]
    calendar: CalendarOverrides = Field(default_factory=CalendarOverrides)
    limits: Limits = Field(default_factory=Limits)
    routing: Routing = Field(default_factory=Routing)
    digest: DigestSettings = Field(default_factory=DigestSettings)

    @model_validator(mode="after")
    def _consistent(self) -> OrgConfig:
        codes = [d.code for d in self.departments]
        if len(set(codes)) != len(codes):
            raise ValueError("department codes must be unique")
        if not self.categories:
            raise ValueError("at least one category is needed")
        for cat in self.categories:
            if cat.department not in codes:
                raise ValueError(f"category {cat.code} names unknown department {cat.department}")
        if len({c.code for c in self.categories}) != len(self.categories):
            raise ValueError("category codes must be unique")
        if self.limits.description_min > self.limits.description_max:
            raise ValueError("limits.description_min exceeds description_max")
        return self

    def category(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)

    def category_by_name(self, name: str) -> Category | None:
        return next((c for c in self.categories if c.name == name), None)
