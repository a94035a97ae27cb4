"""`python -m bench`: every benchmark of the project, each against its baseline in the same
run. `--quick` uses small sizes (about a minute); the default sizes are those reported in
docs/performance.md.

    python -m bench --quick
"""

from __future__ import annotations

import argparse
import runpy
import sys

SIZES = {
    "quick": {"sweep": ["--items", "20000"], "export": ["--items", "3000"],
              "digest": ["--items", "2000", "5000"], "fanout": ["--messages", "300"],
              "intake": ["--enterprises", "20"]},
    "full": {"sweep": ["--items", "1000000"], "export": ["--items", "100000"],
             "digest": ["--items", "10000", "100000"], "fanout": ["--messages", "2000"],
             "intake": ["--enterprises", "200"]},
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    args = parser.parse_args()
    sizes = SIZES["quick" if args.quick else "full"]
    for name in ("intake", "sweep", "export", "digest", "fanout"):
        print(f"\n== {name} ==", flush=True)
        sys.argv = [f"bench.{name}_bench", *sizes[name]]
        runpy.run_module(f"bench.{name}_bench", run_name="__main__")


if __name__ == "__main__":
    main()
