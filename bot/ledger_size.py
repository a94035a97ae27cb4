"""How large a ledger may be, and how large one of so many appeals is expected to be: which
ledger the leaders' pack carries (the year's, or the week's when the year would not fit one
upload) is decided from this, and the digest's text says where its full lists are by it."""

from __future__ import annotations

import math
from dataclasses import dataclass

# Telegram bots may upload files of up to 50 MB; keep a margin for the multipart envelope.
UPLOAD_LIMIT = 48 * 2**20
# What one appeal adds to a ledger file (its row on both sheets, compressed), measured on
# the benchmarks' years (docs/performance.md: 160–200 bytes), and what any ledger costs
# (styles, headers); the estimate allows twice the row size, as
# appeals with long histories and many messages make larger rows. An appeal count whose
# estimate is over the limit gets the week's ledger straight away; a year estimated to fit
# that still comes out too large is replaced by the week's after all.
LEDGER_ROW_BYTES = 200
LEDGER_MARGIN = 2.0
LEDGER_OVERHEAD = 16 * 2**10


@dataclass(frozen=True)
class LedgerSizing:
    """The upload limit and the estimate of a ledger's size (the module's constants as they
    are when a pack is asked for: the worker builds with what the bot uses)."""

    upload_limit: int
    row_bytes: int
    margin: float
    overhead: int


def current_sizing() -> LedgerSizing:
    return LedgerSizing(UPLOAD_LIMIT, LEDGER_ROW_BYTES, LEDGER_MARGIN, LEDGER_OVERHEAD)


def estimated_ledger_bytes(appeals: int, sizing: LedgerSizing | None = None) -> int:
    """The size a ledger of `appeals` rows is expected not to exceed."""
    sizing = sizing or current_sizing()
    return sizing.overhead + math.ceil(appeals * sizing.row_bytes * sizing.margin)


def ledger_fits(appeals: int, sizing: LedgerSizing | None = None) -> bool:
    """Whether a ledger of `appeals` rows is expected to fit one upload (UPLOAD_LIMIT)."""
    sizing = sizing or current_sizing()
    return estimated_ledger_bytes(appeals, sizing) <= sizing.upload_limit
