"""What the appeal ledger (台账) shows of one appeal: the appeal with its whole history, as
plain values. Each backend reads these; bot/ledger_sheet.py words them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.rules.model import Appeal


@dataclass(frozen=True)
class LedgerEvent:
    """One audit event as the ledger lists it: who (name and role, None for a leader or
    nobody), what, and its detail (codes and values)."""

    at: datetime
    action: str
    actor: str | None = None
    actor_role: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LedgerMessage:
    """One message on the appeal, with how many files came with it."""

    at: datetime
    kind: str
    text: str | None
    author: str | None = None
    author_role: str | None = None
    files: int = 0


@dataclass(frozen=True)
class LedgerNotice:
    """One 文号 issued about the appeal: family (提示/督办), year and number."""

    family: str
    year: int
    no: int


@dataclass(frozen=True)
class LedgerEntry:
    """One appeal with its history, messages and notices, each in the order they happened
    (notices by family, year and number)."""

    appeal: Appeal
    uscc: str
    history: list[LedgerEvent]
    messages: list[LedgerMessage]
    notices: list[LedgerNotice]
