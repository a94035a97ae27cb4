"""The benchmarks still run against today's code (docs/performance.md is written from
them): each at a tiny size, in its own process, ends well and prints its summary rows.

The database benchmarks (sweep, digest, pack, intake) run with `--backend both` where a
PostgreSQL server can be started here (tests/pg_cluster.py's `unavailable()` is None), else
with `--backend sqlite`, and then say that their PostgreSQL half was skipped and why.
`copy_bench` needs PostgreSQL on one side: without it, it reports a skipped row itself.
Intake runs only without the rate limiter (`--only unlimited`): the limited run paces real
seconds by design."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg_cluster import unavailable

ROOT = Path(__file__).resolve().parent.parent
TINY = {
    "export": ["--items", "50"],
    "digest": ["--items", "50"],
    "sweep": ["--items", "200", "--due", "20"],
    "fanout": ["--messages", "30"],
    "driver": ["--ops", "50", "--rounds", "1"],
    "pack": ["--items", "50", "--steps", "8", "--people", "2"],
    "intake": ["--enterprises", "2", "--notices", "heads", "--pairs", "1", "--only", "unlimited"],
    "copy": ["--items", "50"],
    "broadcast": ["--only", "memory", "--memory", "30", "60"],
}
ON_BACKENDS = ("digest", "sweep", "pack", "intake")  # take --backend


def bench(name: str, *args: str) -> list[list[str]]:
    """Run one benchmark; it ends well and prints summary rows of five cells, none failed."""
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}_bench", *TINY[name], *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line[2:]) for line in done.stdout.splitlines() if line.startswith("@@")]
    assert rows and all(len(row) == 5 and "failed" not in row for row in rows), done.stdout
    return rows


@pytest.mark.parametrize("name", [n for n in TINY if n not in ON_BACKENDS and n != "copy"])
def test_a_benchmark_runs_and_reports(name):
    bench(name)


@pytest.mark.parametrize("name", ON_BACKENDS)
def test_a_database_benchmark_runs_on_both_backends_where_it_can(name):
    why = unavailable()
    rows = bench(name, "--backend", "sqlite" if why else "both")
    on_postgresql = [row for row in rows if "postgresql" in row[0]]
    if why:
        assert not on_postgresql, rows
        pytest.skip(f"{name}_bench ran on SQLite only; its PostgreSQL half: {why}")
    assert on_postgresql, rows  # PostgreSQL's figures, each against SQLite's of the same run


def test_copy_db_is_timed_or_skipped_with_the_reason():
    (row,) = bench("copy")
    if why := unavailable():
        assert row[2] == "skipped", row
        pytest.skip(f"copy_bench needs PostgreSQL: {why}")
    assert row[1] == "50 appeals" and "rows" in row[2] and row[4].endswith("x"), row
