"""A run that starts from another run's phase-1 end (Run.take_phase1, as a sweep's members
do): the source's config with --set changes to phase 2 or later, so that a variant of
phase 2 needs no phase 1 of its own. The changes must leave phase 1's settings alone.

    python bench/run_from_phase1.py SOURCE_RUN RUNS_DIR --set distill.tau=2 [--set ...]

Prints the new run's folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gdd_studio.config import RunConfig, set_value
from gdd_studio.engine.run import Run


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("source", type=Path)
    ap.add_argument("runs_dir", type=Path)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    cfg = RunConfig.from_json((args.source / "config.json").read_text(encoding="utf-8"))
    for item in args.set:
        key, _, value = item.partition("=")
        set_value(cfg, key, value)
    run = Run.create(cfg, args.runs_dir)
    if not run.take_phase1(args.source):
        print(f"{args.source} has no phase-1 end with these phase-1 settings", file=sys.stderr)
        return 1
    print(run.dir, flush=True)
    return 0 if run.execute() == "finished" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
