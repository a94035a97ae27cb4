"""The wording catalog: every key the code uses exists, with the placeholders it is given
(keys written out, and keys built at run time such as t(f"notice.{kind}") for every value
they can take); every workflow action has its button code, its use case, its audience row
and its texts."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import bot.app  # noqa: F401  (imports every handler module: fills flow.STEPS)
from bot import ledger_sheet
from bot.rules import audiences, delivery, refusals
from bot.rules.broadcasts import TOPICS, AudienceKind, BroadcastState, Reach
from bot.rules.checks import DATE, NUMBER
from bot.rules.deadlines import REOPEN_KEPT, REOPEN_KEPT_EXTENSION, REOPEN_TIME_LIMIT
from bot.rules.directory import ROSTER_COLUMNS, Attribute, Scale
from bot.rules.model import (
    Action,
    MessageKind,
    Party,
    Rating,
    Role,
    State,
    TaskAction,
    TaskState,
)
from bot.rules.monthly import MonthlyNotice
from bot.rules.task_ledger import HISTORY_COLUMNS
from bot.rules.tasks import COLUMNS as TASK_COLUMNS
from bot.rules.workflow import APPEAL_FLOW, TASK_FLOW, Needs
from bot.texts import CATALOGS, has, placeholders
from bot.usecases.appeals import SUPPLEMENT_FILES, USE_CASES
from bot.usecases.ladder import APPEAL_KINDS, TASK_KINDS
from handlers import cases, flow
from handlers.buttons import CODES, REGISTRATION_FIELDS

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    p
    for folder in ("bot", "handlers")
    for p in (ROOT / folder).rglob("*.py")
    if "sandbox" not in p.parts
]


def literal_calls() -> list[tuple[str, str, set[str] | None]]:
    """(file, key, keyword names or None when **params are passed) of every t("literal", …)."""
    found = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "t"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                names = {k.arg for k in node.keywords if k.arg and k.arg != "lang"}
                spread = any(k.arg is None for k in node.keywords)
                found.append((path.name, node.args[0].value, None if spread else names))
    return found


CALLS = literal_calls()


def test_the_code_uses_the_catalog():
    assert len(CALLS) > 150


@pytest.mark.parametrize(("where", "key", "given"), CALLS, ids=[f"{w}:{k}" for w, k, _ in CALLS])
def test_every_key_used_exists_and_gets_its_placeholders(where, key, given):
    assert has(key), f"{where} uses missing key {key!r}"
    if given is not None:
        missing = placeholders(key) - given
        assert not missing, f"{where}: {key!r} needs {sorted(missing)}"


def test_every_template_is_well_formed():
    for lang, catalog in CATALOGS.items():
        for key in catalog:
            placeholders(key, lang)  # raises on an unbalanced brace


def test_every_appeal_action_has_button_use_case_and_texts():
    assert set(APPEAL_FLOW) == set(Action), "every Action has its row in the workflow"
    assert set(TASK_FLOW) == set(TaskAction), "every TaskAction has its row in the workflow"
    for action, row in APPEAL_FLOW.items():
        assert action in CODES, f"{action}: no button code"
        assert action in USE_CASES, f"{action}: no use case"
        assert has(f"button.{action}") or action in (Action.RATE, Action.REOPEN)
        assert has(f"event.{action}"), f"{action}: no event name"
        assert has(f"done.{action}"), f"{action}: no confirmation"
        if row.needs not in (Needs.NOTHING, Needs.RATING):
            assert has(f"ask.{action}"), f"{action}: no prompt"
    assert len(set(CODES.values())) == len(CODES), "button codes must be unique"


def test_every_task_action_has_button_and_texts():
    for action, row in TASK_FLOW.items():
        assert action in CODES
        assert has(f"button.task.{action}") and has(f"done_task.{action}")
        assert has(f"event.task_{action}")
        if row.needs is not Needs.NOTHING:
            assert has(f"ask_task.{action}")


def test_every_code_has_a_name():
    families = {
        "state": State,
        "task_state": TaskState,
        "role": Role,
        "rating": Rating,
    }
    for family, codes in families.items():
        for code in codes:
            assert has(f"{family}.{code}"), f"{family}.{code}"
    for kind in APPEAL_KINDS:
        assert has(f"ladder.{kind}") and has(f"notice_kind.{kind}")
    for kind in TASK_KINDS:
        assert has(f"ladder.{kind}") or kind in ("task_d7", "task_d3", "task_d1")
    assert all(isinstance(a, (Action, TaskAction)) for a in CODES)


# Keys built at run time ------------------------------------------------------------------
# Every f-string that builds a catalog key, by its pattern ("notice.{}"), with every value
# its parts can take, drawn from the declarations the code itself uses. None: the code asks
# has() first and falls back to a key written out. A new pattern fails the test until it is
# added here.
NOTICE_KINDS = sorted(
    {kind for rows in audiences.AFTER_ACTION.values() for _, kind in rows}
    | {delivery.UNDELIVERED, SUPPLEMENT_FILES}  # files that joined a sent 补充
)
LISTS = sorted(cases.LISTS)
ASKING = [a for a, row in APPEAL_FLOW.items() if row.needs not in (Needs.NOTHING, Needs.RATING)]
BUTTONED = [a for a in Action if a not in (Action.RATE, Action.REOPEN)]  # rating_row instead
TASK_NOTICES = [
    a for a, row in TASK_FLOW.items() if a is TaskAction.REQUEST_CLOSE or Party.LEADER in row.by
]
FLOWS = sorted({f for f, _ in flow.STEPS})
ACCEPTS = sorted({kind for step in flow.STEPS.values() for kind in step.accepts})
RUN_TIME_KEYS: dict[str, list[tuple[object, ...]] | None] = {
    "ask.{}": [(a,) for a in ASKING],
    "ask_task.{}": [(a,) for a, row in TASK_FLOW.items() if row.needs is not Needs.NOTHING],
    "button.{}": [(a,) for a in BUTTONED],
    "button.task.{}": [(a,) for a in TaskAction],
    "button.register_edit_{}": [(f,) for f in REGISTRATION_FIELDS],
    "register.ask_{}": [(f,) for f in REGISTRATION_FIELDS],
    "register.edit_{}": [(f,) for f in REGISTRATION_FIELDS],
    "done.{}": [(a,) for a in Action],
    "done.extension_{}": [("approved",), ("denied",)],
    "done_task.{}": [(a,) for a in TaskAction],
    "draft_done_early.{}": [("category",), ("description",)],
    "task_part_what.{}": [("report",), ("request_close",)],
    "tasks_filter.{}": [("all",), ("open",), ("overdue",), ("unmapped",)],
    "reopen_how.{}": [(b,) for b in (REOPEN_TIME_LIMIT, REOPEN_KEPT, REOPEN_KEPT_EXTENSION)],
    "notice.{}": [(k,) for k in NOTICE_KINDS],
    "notice_task.{}": [(a,) for a in sorted({*TASK_NOTICES, *audiences.TO_LEADERS})],
    "task_{}": None,  # an audit action and outbox kind, worded as event.task_… / notice_task.…
    "ladder.{}": [(k,) for k in (*APPEAL_KINDS, *TASK_KINDS) if not k.startswith("task_d")],
    "ledger.header.{}": [(c,) for c in (*ledger_sheet.COLUMNS, *ledger_sheet.PRINT_COLUMNS)],
    "task_column.{}": [(c,) for c in (*TASK_COLUMNS, *HISTORY_COLUMNS)],
    "list_more.{}": [(k,) for k in LISTS],
    "{}.list_span": [("ladder",), ("notice",)],  # courier.span(kind, …)
    "{}.list_span_one": [("ladder",), ("notice",)],
    "done_group.{}": None,  # "done." → "done_group." in a group, when the catalog has it
    "{}_empty": [(k,) for k in LISTS],
    "{}_header": [(k,) for k in LISTS],
    "flow_left.{}": [(f,) for f in FLOWS],
    "flow_left.{}.{}": None,
    "hint.{}.{}": None,
    "hint.needs_{}": [(k,) for k in ACCEPTS],
    "invite_{}": [(r,) for r in refusals.InviteInvalid.REASONS],
    "unreachable_group.{}": [(delivery.REMEDY_READD,), (delivery.REMEDY_CHAT_ID,)],
    "undelivered_what.{}": None,
    "event_detail.{}": None,
    "{}_same": None,  # event_detail.…_same: an "A → B" whose A and B are equal
    "{}_reason": None,  # event_detail.…_reason: a decision with its reason
    "notice_with_reason.{}": None,
    "reason_bare.{}": [("extend",), ("transfer",)],
    "input.{}": None,
    "roster_column.{}": [(c,) for c in (*ROSTER_COLUMNS, "registered", "contacts")],
    "ask_directory.{}": [(a,) for a in Attribute],
    "monthly.notice.{}": [(k,) for k in MonthlyNotice],
    "button.campaign_{}": [("stop",), ("resume",)],
    "monthly.leaders_why.{}": [("leaders",), ("baobao",)],
    "audience.{}": [(k,) for k in AudienceKind if k not in (AudienceKind.ALL, AudienceKind.USCC)],
    "directory_{}": None,  # an attribute's field name: field.directory_… (via name("field"))
}


def used_keys() -> set[str]:
    """Every catalog key the code can reach: written out as t("…")/has("…") or as any other
    string (a refusal's key, a table of menu keys, a helper's argument); every key of a
    family named by name("family", …) or keys("prefix"); and every key RUN_TIME_KEYS
    declares (the has()-guarded patterns: every key of the catalog they match)."""
    catalog = CATALOGS["zh"]
    used: set[str] = set()
    prefixes: set[str] = set()
    for path in SOURCES:
        if path.parent.name == "texts" and path.stem in CATALOGS:
            continue  # the catalog itself
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in catalog:
                used.add(node.value)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("name", "keys")
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                prefixes.add(node.args[0].value + ("." if node.func.id == "name" else ""))
    for pattern, values in RUN_TIME_KEYS.items():
        if values is None:
            shape = re.compile(re.escape(pattern).replace(r"\{\}", ".+"))
            used |= {k for k in catalog if shape.fullmatch(k)}
        else:
            used |= {pattern.format(*v) for v in values}
    return used | {k for k in catalog if k.startswith(tuple(prefixes))}


def test_every_key_of_the_catalog_is_used():
    used = used_keys()
    for lang, catalog in CATALOGS.items():
        unused = sorted(set(catalog) - used)
        assert not unused, f"{lang}: keys no code uses: {unused}"
    assert "notice.list_span_one" in used and "route.baobao" in used  # the scan sees them


def run_time_patterns() -> tuple[dict[str, list[str]], dict[str, list[set[str]]]]:
    """pattern → where: every f-string in the code that builds a catalog key (one given to
    t() or has() itself, or one that starts like a family of the catalog); and pattern →
    the keyword names each t(f"…") call gives (where no **params are spread)."""
    catalog = CATALOGS["zh"]
    found: dict[str, list[str]] = {}
    given: dict[str, list[set[str]]] = {}
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("t", "has")
            and node.args
            and isinstance(node.args[0], ast.JoinedStr)
        ]
        direct = {id(node.args[0]) for node in calls}
        for node in ast.walk(tree):
            if not isinstance(node, ast.JoinedStr):
                continue
            pattern = _pattern(node)
            head = pattern.split("{}")[0]
            family = bool(head) and " " not in pattern and any(k.startswith(head) for k in catalog)
            if id(node) in direct or family:
                found.setdefault(pattern, []).append(f"{path.name}:{node.lineno}")
        for call in calls:
            if call.func.id == "t" and all(k.arg is not None for k in call.keywords):
                names = {k.arg for k in call.keywords if k.arg != "lang"}
                given.setdefault(_pattern(call.args[0]), []).append(names)
    return found, given


def _pattern(node: ast.JoinedStr) -> str:
    return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)


PATTERNS, GIVEN = run_time_patterns()
# Patterns whose call sites each serve only some values (the transfer prompt asks.transfer
# alone, the rating's answer done.rate/done.reopen alone): their placeholders are met by the
# handler of each action, which the lifecycle tests drive one by one.
BRANCHED = frozenset({"ask.{}", "done.{}"})


def test_every_key_built_at_run_time_is_declared_here():
    undeclared = {p: where for p, where in PATTERNS.items() if p not in RUN_TIME_KEYS}
    assert not undeclared, f"keys built at run time, not in RUN_TIME_KEYS: {undeclared}"
    assert "notice.{}" in PATTERNS and "ledger.header.{}" in PATTERNS  # the scan sees them


@pytest.mark.parametrize("pattern", sorted(RUN_TIME_KEYS))
def test_every_key_built_at_run_time_exists_for_every_value(pattern):
    values = RUN_TIME_KEYS[pattern]
    if values is None:  # guarded by has(): at least the family exists
        head = pattern.split("{}")[0]
        assert head == "task_" or any(k.startswith(head) for k in CATALOGS["zh"]), pattern
        return
    assert values, f"{pattern}: no values"
    keys = [pattern.format(*v) for v in values]
    assert not [k for k in keys if not has(k)], (
        f"{pattern}: missing {[k for k in keys if not has(k)]}"
    )
    # each call that builds the key gives every placeholder of every key it may build
    if pattern in BRANCHED:
        return
    for names in GIVEN.get(pattern, []):
        for key in keys:
            missing = placeholders(key) - names
            assert not missing, (
                f"t(f{pattern!r}) gives {sorted(names)}; {key} needs {sorted(missing)}"
            )


# name(family, code) without a default needs a name for every code of the family.
NAMED_FAMILIES = {
    "state": State,
    "task_state": TaskState,
    "role": Role,
    "rating": Rating,
    "message_kind": MessageKind,
    "button": [a for a in BUTTONED],
    "bare_value": [DATE, NUMBER],
    "scale": list(Scale),
    "topic": list(TOPICS),
    "audience_kind": list(AudienceKind),
    "broadcast_state": list(BroadcastState),
    "reach": list(Reach),
    "button.directory": list(Attribute),
}


def test_every_family_named_without_a_default_names_every_code():
    used = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "name"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and not any(k.arg == "default" for k in node.keywords)
            ):
                used.add(node.args[0].value)
    assert used - set(NAMED_FAMILIES) == set(), "declare the family's codes in NAMED_FAMILIES"
    for family, codes in NAMED_FAMILIES.items():
        for code in codes:
            assert has(f"{family}.{code}"), f"{family}.{code}"


def test_every_refusal_has_its_text():
    def subclasses(cls: type) -> list[type]:
        return [cls, *(s for sub in cls.__subclasses__() for s in subclasses(sub))]

    for refusal in subclasses(refusals.DomainError):
        assert has(refusal.key), f"{refusal.__name__}: no text {refusal.key!r}"


def test_every_action_has_its_audience_row_and_notice_texts():
    """Who is told after each action is a row of audiences.AFTER_ACTION (() for nobody),
    and every notice kind a row names is worded."""
    for action in APPEAL_FLOW:
        assert action in audiences.AFTER_ACTION, f"{action}: no row in audiences.AFTER_ACTION"
    for rows in audiences.AFTER_ACTION.values():
        for who, kind in rows:
            assert who in audiences.WHO, f"{who}: not one of audiences.WHO"
            assert has(f"notice.{kind}"), f"notice.{kind}"


def test_every_message_kind_is_named_and_audited():
    for kind in MessageKind:
        assert has(f"message_kind.{kind}") and has(f"event.{kind}"), kind
