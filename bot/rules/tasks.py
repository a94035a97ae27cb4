"""Rectification ledger rules: checking an imported table row by row, all or nothing.

Column names and state labels are wording; the caller passes them from the catalog so that
this module stays free of text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.rules.checks import parse_date, without_invisible
from bot.rules.model import TaskState
from bot.rules.refusals import TaskImportError

# Column keys in ledger order; the catalog gives each its header (序号, 方面, …).
COLUMNS = (
    "seq",
    "aspect",
    "problem",
    "measures",
    "leader_name",
    "department_name",
    "owner_name",
    "deadline",
    "state",
)
FIELD_LIMITS = {
    "aspect": 60,
    "problem": 1000,
    "measures": 2000,
    "leader_name": 40,
    "department_name": 40,
    "owner_name": 40,
}


@dataclass(frozen=True)
class TaskRow:
    """One valid row of an imported ledger."""

    row: int
    seq: int
    aspect: str
    problem: str
    measures: str
    leader_name: str
    department_name: str
    owner_name: str
    deadline: date
    state: TaskState


def validate_table(
    rows: list[list[str]],
    existing_seqs: set[int],
    headers: dict[str, str],
    states_by_label: dict[str, TaskState],
    today: date,
) -> list[TaskRow]:
    """Every row checked; any problem rejects the whole file, each named by its row number."""
    if not rows:
        raise TaskImportError([(1, "import_empty_file", {})])
    header = [without_invisible(h).strip() for h in rows[0]]
    missing = [headers[c] for c in COLUMNS if headers[c] not in header]
    if missing:
        raise TaskImportError([(1, "import_missing_columns", {"columns": "、".join(missing)})])
    index = {c: header.index(headers[c]) for c in COLUMNS}
    problems: list[tuple[int, str, dict[str, object]]] = []
    tasks: list[TaskRow] = []
    seen: set[int] = set()
    for number, raw in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in raw):
            continue  # blank lines at the end of a sheet
        cells = {
            c: (without_invisible(raw[i]).strip() if i < len(raw) else "") for c, i in index.items()
        }
        found: list[tuple[str, dict[str, object]]] = []
        try:
            seq = int(cells["seq"])
            if seq <= 0:
                raise ValueError
        except ValueError:
            found.append(("import_bad_seq", {"value": cells["seq"]}))
            seq = 0
        if seq and (seq in seen or seq in existing_seqs):
            found.append(("import_duplicate_seq", {"seq": seq}))
        seen.add(seq)
        for column, limit in FIELD_LIMITS.items():
            if not cells[column]:
                found.append(("import_empty_field", {"column": headers[column]}))
            elif len(cells[column]) > limit:
                found.append(("import_long_field", {"column": headers[column], "limit": limit}))
        try:
            deadline = parse_date(cells["deadline"], today)
        except ValueError:
            found.append(("import_bad_date", {"value": cells["deadline"]}))
            deadline = None
        state = states_by_label.get(cells["state"]) if cells["state"] else TaskState.IN_PROGRESS
        if state is None:
            found.append(("import_bad_state", {"value": cells["state"]}))
        if found:
            problems.extend((number, key, params) for key, params in found)
            continue
        tasks.append(
            TaskRow(
                number,
                seq,
                cells["aspect"],
                cells["problem"],
                cells["measures"],
                cells["leader_name"],
                cells["department_name"],
                cells["owner_name"],
                deadline,
                state,
            )
        )
    if problems:
        raise TaskImportError(problems)
    if not tasks:
        raise TaskImportError([(2, "import_no_rows", {})])
    return tasks


def resolve_owner(name: str, staff_named: list[int]) -> int | None:
    """A 责任人 maps to an official only when exactly one has that name."""
    return staff_named[0] if len(staff_named) == 1 else None
