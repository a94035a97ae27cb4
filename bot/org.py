"""The organisation: departments, appeal categories with time limits, calendar overrides."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, model_validator

from bot.config import ConfigError


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


class DigestSettings(BaseModel):
    satisfaction_floor: float = Field(default=0.85, gt=0, le=1)
    similarity_threshold: float = Field(default=0.9, gt=0, le=1)
    min_reply_chars: int = Field(default=15, ge=1, le=500)


class Routing(BaseModel):
    baobao_first: bool = True


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


def load_org(path: Path) -> OrgConfig:
    """Read and validate the org config (TOML); problems become a one-line ConfigError."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"setting ORG_CONFIG: file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"setting ORG_CONFIG: {path} is not valid TOML: {exc}") from None
    try:
        return OrgConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise ConfigError(f"setting ORG_CONFIG: {path}: {where}: {first['msg']}") from None
