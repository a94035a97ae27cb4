"""The benchmarks still run against today's code (docs/performance.md is written from
them): each at a tiny size, in its own process, ends well and prints its summary row.
The intake benchmark is left out: it paces real seconds by design."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TINY = {
    "export": ["--items", "50"],
    "digest": ["--items", "50"],
    "sweep": ["--items", "200", "--due", "20"],
    "fanout": ["--messages", "30"],
    "driver": ["--ops", "50", "--rounds", "1"],
    "pack": ["--items", "50", "--steps", "8", "--people", "2"],
}


@pytest.mark.parametrize("name", TINY)
def test_a_benchmark_runs_and_reports(name):
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}_bench", *TINY[name]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line[2:]) for line in done.stdout.splitlines() if line.startswith("@@")]
    assert rows and all(len(row) == 5 and "failed" not in row for row in rows), done.stdout
