"""The design notes name every module: a module added without a place on the map fails."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def named_paths(text: str) -> set[str]:
    """Every `path.py` named in backticks, with `bot/usecases/{a,b}.py` expanded."""
    found = set()
    for quoted in re.findall(r"`([^`]+\.py)`", text):
        group = re.fullmatch(r"(.*)\{([^}]+)\}(.*)", quoted)
        if group:
            head, names, tail = group.groups()
            found.update(f"{head}{n.strip()}{tail}" for n in names.split(","))
        else:
            found.add(quoted)
    return found


def test_the_map_names_every_module():
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    map_part = text.split("## Map: where each thing lives")[1].split("\n## ")[0]
    named = named_paths(map_part)
    # a bare file name in a row names it beside the row's first path (`env.py`)
    folders = {str(Path(p).parent) for p in named if "/" in p}
    modules = {
        str(p.relative_to(ROOT))
        for folder in ("bot", "handlers", "storage")
        for p in (ROOT / folder).rglob("*.py")
        if p.name != "__init__.py" or p.parent.name == "texts"
    }
    missing = {
        m
        for m in modules
        if m not in named and not (Path(m).name in named and str(Path(m).parent) in folders)
    }
    assert not missing, f"modules not on the map in docs/design.md: {sorted(missing)}"
