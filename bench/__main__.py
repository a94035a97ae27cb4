"""`python -m bench`: every benchmark of the project, each against its baseline measured in
the same run, then one table of the results. `--quick` uses small sizes (a few minutes);
the default sizes are those reported in docs/performance.md (about half an hour).

`--backend sqlite|postgresql|both` (default: both where PostgreSQL's server binaries are
installed, else sqlite) runs the database benchmarks (sweep, digest, pack, intake) on each
backend with the same seed, the PostgreSQL figures as ratios to SQLite's of the same run,
and times `copy-db` from SQLite to PostgreSQL.

    python -m bench --quick
    python -m bench --quick --backend sqlite
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import subprocess
import sys
import time

from bench.common import available_backends

SIZES = {
    "quick": {"intake": ["--enterprises", "20", "--notices", "heads", "--pairs", "1"],
              "sweep": ["--items", "10000", "50000", "--due", "500"],
              "export": ["--items", "2000"], "digest": ["--items", "2000", "5000"],
              "fanout": ["--messages", "300"], "driver": ["--ops", "2000"],
              "pack": ["--items", "5000", "--steps", "100"], "copy": ["--items", "2000"],
              "failover": ["--kills", "1"],
              "broadcast": ["--contacts", "300", "--enterprises", "10", "--rounds", "1",
                            "--kills", "1", "--memory", "300", "3000"]},
    "full": {"intake": ["--enterprises", "200", "--notices", "heads"],
             "sweep": ["--items", "10000", "100000", "1000000", "--due", "2000"],
             "export": ["--items", "10000", "100000", "1000000"],
             "digest": ["--items", "10000", "100000", "1000000"],
             "fanout": ["--messages", "2000"], "driver": ["--ops", "10000"],
             "pack": ["--items", "5000", "1000000"], "copy": ["--items", "100000"],
             "failover": ["--kills", "4"],
             "broadcast": ["--contacts", "2000", "--enterprises", "30", "--rounds", "2",
                           "--kills", "2", "--memory", "2000", "20000"]},
}  # fmt: skip
ORDER = (
    "intake", "sweep", "export", "digest", "fanout", "broadcast", "driver", "pack", "copy",
    "failover",
)  # fmt: skip
ON_BACKENDS = ("intake", "sweep", "digest", "pack")  # take --backend
NEEDS_POSTGRESQL = ("copy", "failover")


def run(name: str, args: list[str]) -> list[list[str]]:
    """Run one benchmark, showing its own output; returns its summary rows."""
    rows = []
    with subprocess.Popen(
        [sys.executable, "-m", f"bench.{name}_bench", *args],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("@@"):
                rows.append(json.loads(line[2:]))
            else:
                print(line, end="", flush=True)
    if process.returncode:
        rows.append([name, "–", "failed", f"exit {process.returncode}", "–"])
    return rows


def table(rows: list[list[str]]) -> str:
    header = ["what", "size", "AppealDesk", "baseline (same run)", "ratio"]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, a few minutes")
    parser.add_argument("--only", choices=ORDER, nargs="+", help="run only these")
    default = "both" if "postgresql" in available_backends() else "sqlite"
    parser.add_argument(
        "--backend",
        choices=["sqlite", "postgresql", "both"],
        default=default,
        help=f"the database benchmarks' backends (default here: {default})",
    )
    args = parser.parse_args()
    sizes = SIZES["quick" if args.quick else "full"]
    began = time.perf_counter()
    rows: list[list[str]] = []
    for name in args.only or ORDER:
        if name in NEEDS_POSTGRESQL and args.backend == "sqlite":
            continue
        extra = ["--backend", args.backend] if name in ON_BACKENDS else []
        if name == "intake" and args.backend == "both" and not args.quick:
            extra += ["--pairs", "3"]
        print(f"\n== {name} ==", flush=True)
        rows += run(name, [*sizes[name], *extra])
    print(f"\n== summary ({time.perf_counter() - began:.0f} s) ==")
    print(f"machine: {platform.machine()}, {_cores()} cores, Python {platform.python_version()},"
          f" SQLite {sqlite3.sqlite_version}")  # fmt: skip
    print(table(rows))


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


if __name__ == "__main__":
    main()
