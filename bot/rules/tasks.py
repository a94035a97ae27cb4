"""Rectification ledger rules: checking an imported table row by row, all or nothing.

Column names and state labels are wording; the caller passes them from the catalog so that
this module stays free of text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from bot.rules.checks import WrongWeekday, YearOutOfRange, parse_date, without_invisible
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


# The header row is looked for among the first rows: a bureau's ledger has a title row
# (often merged across the columns), maybe a subtitle, a note or an empty row above it.
HEADER_SEARCH_ROWS = 10
# A row under the table with one cell starting so is a note, not a task.
NOTE_PREFIXES = ("注", "备注", "说明", "填表", "填报", "制表", "审核", "联系人", "附", "*")


def header_key(cell: str) -> str:
    """A column name as compared: full-width forms folded, no spaces or line breaks anywhere
    (整改\n时限), no required-field mark (*序号), no closing colon (整改时限：) and no note in
    brackets (整改时限（完成时间）)."""
    text = "".join(unicodedata.normalize("NFKC", without_invisible(cell)).split())
    text = text.strip("*※").rstrip(":")  # NFKC made a full-width ： a colon
    return re.sub(r"\([^()]*\)$", "", text) or text


def find_header(
    rows: list[list[str]], headers: dict[str, str], optional: frozenset[str] = frozenset()
) -> tuple[int, dict[str, int]]:
    """(the header's row number, each column's index). `headers`: each column's key and
    name, in the table's order; the `optional` columns may be missing (then absent from the
    index). Refused with the row number of the row that comes closest, or of the row where
    the header is expected."""
    if not any(cell.strip() for row in rows for cell in row):
        raise TaskImportError([(1, "import_empty_file", {})])
    wanted = {c: header_key(name) for c, name in headers.items()}
    required = [c for c in headers if c not in optional]
    closest: tuple[int, int, list[str]] | None = None
    for number, raw in enumerate(rows[:HEADER_SEARCH_ROWS], start=1):
        names = [header_key(cell) for cell in raw]
        found = {c: names.index(w) for c, w in wanted.items() if w in names}
        if all(c in found for c in required):
            return number, found
        missing = [headers[c] for c in required if c not in found]
        if len(found) >= 2 and (closest is None or len(found) > closest[0]):
            closest = (len(found), number, missing)
    if closest is not None:
        _, number, missing = closest
        raise TaskImportError([(number, "import_missing_columns", {"columns": "、".join(missing)})])
    everything = "、".join(headers[c] for c in required)
    params = {"rows": min(len(rows), HEADER_SEARCH_ROWS), "columns": everything}
    raise TaskImportError([(_expected_header_row(rows), "import_no_header", params)])


def _expected_header_row(rows: list[list[str]]) -> int:
    """The first row with several different values (a header-like row), else the row after
    the title rows at the top."""
    top = rows[:HEADER_SEARCH_ROWS]
    for number, raw in enumerate(top, start=1):
        if len({cell.strip() for cell in raw if cell.strip()}) >= 2:
            return number
    titles = 0
    for raw in top:
        if not any(cell.strip() for cell in raw):
            break
        titles += 1
    return min(titles + 1, HEADER_SEARCH_ROWS)


def is_note(raw: list[str]) -> bool:
    filled = [cell.strip() for cell in raw if cell.strip()]
    return len(set(filled)) == 1 and filled[0].startswith(NOTE_PREFIXES)


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
    header_row, index = find_header(rows, headers)
    problems: list[tuple[int, str, dict[str, object]]] = []
    tasks: list[TaskRow] = []
    seen: set[int] = set()
    names = {c: header_key(headers[c]) for c in COLUMNS}
    for number, raw in enumerate(rows[header_row:], start=header_row + 1):
        if not any(cell.strip() for cell in raw) or is_note(raw):
            continue  # blank lines, and a note such as 填报单位 under the table
        if all(i < len(raw) and header_key(raw[i]) == names[c] for c, i in index.items()):
            continue  # the header again (a ledger printed over several pages repeats it)
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
        if seq and seq in seen:
            found.append(("import_duplicate_seq", {"seq": seq}))
        elif seq and seq in existing_seqs:  # not a slip in the file: the ledger has it
            found.append(("import_existing_seq", {"seq": seq}))
        seen.add(seq)
        for column, limit in FIELD_LIMITS.items():
            if not cells[column]:
                found.append(("import_empty_field", {"column": headers[column]}))
            elif len(cells[column]) > limit:
                found.append(("import_long_field", {"column": headers[column], "limit": limit}))
        try:
            deadline = parse_date(cells["deadline"], today)
        except YearOutOfRange:
            found.append(("import_date_years", {"value": cells["deadline"]}))
            deadline = None
        except WrongWeekday as exc:
            found.append(
                (
                    "import_date_weekday",
                    {
                        "value": cells["deadline"],
                        "day": exc.day.isoformat(),
                        "real": exc.real,
                        "typed": exc.typed,
                    },
                )
            )
            deadline = None
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
        raise TaskImportError([(header_row + 1, "import_no_rows", {})])
    return tasks


def resolve_owner(name: str, staff_named: list[int]) -> int | None:
    """A 责任人 maps to an official only when exactly one has that name."""
    return staff_named[0] if len(staff_named) == 1 else None
