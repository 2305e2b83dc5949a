"""Evaluate a run until one row is saved, then stop the evaluation (SIGTERM: the rows it
finished stay in eval/results.json). For lever measurements whose baselines (random real,
GAN only) are already measured once: the random-real row, which the product always adds,
would otherwise cost each lever another 3 networks x 300 epochs.

    python bench/evaluate_until.py RUN SOURCE [IPC] -- EVALUATE_FLAGS...
    python bench/evaluate_until.py runs/x distilled 10 -- --ipc 10 --archs convnet3 \
        --repeats 3 --epochs 300 --no-gan-only

Prints the row's mean +- std and exits 0 once it is saved; 1 if the evaluation ended
without it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from gdd_studio.evaluation.results import load_results


def _row(run: str, source: str, ipc: int | None) -> dict | None:
    doc = load_results(run) or {"results": []}
    for row in doc["results"]:
        if row.get("source") == source and (ipc is None or row.get("ipc") == ipc):
            return row
    return None


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print(__doc__.strip().splitlines()[3], file=sys.stderr)
        return 2
    head, flags = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    run, source = head[0], head[1]
    ipc = int(head[2]) if len(head) > 2 else None
    proc = subprocess.Popen(["gdd-studio-cli", "evaluate", run, *flags])
    row = None
    while proc.poll() is None:
        row = _row(run, source, ipc)
        if row is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
            break
        time.sleep(5)
    row = row or _row(run, source, ipc)
    if row is None:
        print(f"no {source} row was saved in {run}", file=sys.stderr)
        return 1
    mean, std = 100 * row["mean"], 100 * row["std"]
    print(f"{run}: {source} IPC {row['ipc']} {row['arch']}: {mean:.2f} +- {std:.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
