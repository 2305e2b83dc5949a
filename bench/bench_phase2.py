"""Phase-2 variants from one phase-1 checkpoint: measure phase 2 without re-running phase 1.

Makes a new run folder beside RUN_DIR whose config is RUN_DIR's with the --set changes
(phase-2 and phase-3 settings only), starts it from RUN_DIR's ``checkpoints/phase1.pt``
and runs phase 2 and phase 3 to the end. The GAN-only baseline of the new folder is the
same phase-1 generator, so variants compare at equal footing.

    OMP_NUM_THREADS=1 python bench/bench_phase2.py RUN_DIR --name ep10 \\
        --set distill.epochs=10
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gdd_studio.config import set_value, validate  # noqa: E402
from gdd_studio.engine.run import Run  # noqa: E402
from gdd_studio.rundir.artifacts import run_config  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--name", required=True, help="suffix of the new run folder")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    src = Path(args.run_dir)
    cfg = run_config(src)
    for item in args.set:
        key, value = item.split("=", 1)
        if not key.startswith(("distill.", "sampling.", "evaluation.")):
            raise SystemExit(f"{key}: only phase-2/3 settings can change after phase 1")
        set_value(cfg, key, value)
    validate(cfg)
    dst = src.parent / f"{src.name}-{args.name}"
    if dst.exists():
        raise SystemExit(f"{dst} exists")
    dst.mkdir(parents=True)
    shutil.copy(src / "dataset.json", dst / "dataset.json")
    cfg.save(dst / "config.json")
    run = Run.open(dst)
    if not run.take_phase1(src):  # as a sweep's members share one phase 1
        raise SystemExit(f"{src} has no phase-1 checkpoint with these phase-1 settings")
    t0 = time.perf_counter()
    status = run.execute(lambda e: None)
    print(f"{dst}: {status} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
