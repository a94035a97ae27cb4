"""The wording catalog: every key the code uses exists, with the placeholders it is given;
every workflow action has its button code, its use case and its texts."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.rules.model import Action, Rating, Role, State, TaskAction, TaskState
from bot.rules.workflow import APPEAL_FLOW, TASK_FLOW, Needs
from bot.texts import CATALOGS, has, placeholders
from bot.usecases.appeals import USE_CASES
from bot.usecases.ladder import APPEAL_KINDS, TASK_KINDS
from handlers.buttons import CODES

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
