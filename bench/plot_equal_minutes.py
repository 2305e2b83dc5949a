"""Accuracy against CPU-minutes, one panel per IPC: the runs of ``bench/equal_minutes_*.sh``
against DM from real images given the same minutes, drawn from what the runs recorded.

    python bench/plot_equal_minutes.py RUN_DIR... [--title T] [--out FILE.png]

Each run folder gives its distilled set's point (the run's own training minutes,
``elapsed_s`` in run.json), its ``dm-real`` row's point (the minutes DM took) and its
random real row (at 0 minutes), from eval/results.json: mean +- std over the networks
(ConvNet-3 in these runs). Nothing is typed in: run the script again on the same folders
and the same chart comes out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SERIES = {  # source -> (legend, colour, marker)
    "distilled": ("the recipe: draws refined by DM (every image by G)", "tab:blue", "o"),
    "dm-real": ("DM from random real images, same minutes", "tab:orange", "s"),
    "random-real": ("random real images", "tab:gray", "D"),
}


def points(run_dir: Path) -> list[tuple[int, str, float, float, float, str]]:
    """(ipc, source, minutes, mean %, std %, label) of a run's rows."""
    info = json.loads((run_dir / "run.json").read_text())
    doc = json.loads((run_dir / "eval" / "results.json").read_text())
    out = []
    for r in doc["results"]:
        if r.get("source") not in SERIES or r.get("arch") != "convnet3":
            continue
        if r["source"] == "distilled":
            minutes = info["elapsed_s"] / 60
        elif r["source"] == "dm-real":
            minutes = r.get("dm_minutes_taken") or r["dm_minutes"]
        else:
            minutes = 0.0
        label = f"seed {info['seed']}"
        out.append((r["ipc"], r["source"], minutes, 100 * r["mean"], 100 * r["std"], label))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--title", default="Fashion-MNIST")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs"
                                         / "fmnist-equal-minutes.png"))  # fmt: skip
    a = ap.parse_args()
    rows = [p for run in a.runs for p in points(run)]
    ipcs = sorted({p[0] for p in rows})
    fig, axes = plt.subplots(1, len(ipcs), figsize=(5.2 * len(ipcs), 4.4), dpi=110,
                             squeeze=False)  # fmt: skip
    for ax, ipc in zip(axes[0], ipcs, strict=True):
        for source, (name, color, marker) in SERIES.items():
            pts = sorted((p for p in rows if p[0] == ipc and p[1] == source), key=lambda p: p[2])
            if not pts:
                continue
            ax.errorbar([p[2] for p in pts], [p[3] for p in pts], yerr=[p[4] for p in pts],
                        color=color, marker=marker, linestyle="none", capsize=3,
                        label=name)  # fmt: skip
            if source != "random-real":  # labels stacked by height, so close points' part
                for j, (_, _, x, y, _, label) in enumerate(sorted(pts, key=lambda p: p[3])):
                    ax.annotate(label, (x, y), textcoords="offset points",
                                xytext=(8, -9 + 10 * j), fontsize=7.5, color=color)  # fmt: skip
        ax.set_title(f"{a.title}, IPC {ipc}")
        ax.set_xlabel("CPU-minutes making the set")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("ConvNet-3 test accuracy, % (300 epochs)")
    axes[0][-1].legend(fontsize=7.5, loc="lower right")
    fig.text(0.01, 0.01, "mean +- std over 3 networks; each point one run folder's record; "
             "bench/RESULTS.md", fontsize=7, color="gray")  # fmt: skip
    fig.tight_layout()
    fig.savefig(a.out)
    print(a.out)


if __name__ == "__main__":
    main()
