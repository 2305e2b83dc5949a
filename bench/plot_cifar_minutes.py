"""Accuracy against CPU-minutes on CIFAR-10 (IPC 10): where a run's time goes, what it buys.

    python bench/plot_cifar_minutes.py [--data FILE.json] [--out FILE.png]

The points are measurements recorded in bench/RESULTS.md ("CIFAR-10 in a CPU hour"), kept
in a JSON file so the chart is redrawn from the record, not typed into it: each series is
a list of ``[minutes, mean, std, label]``, optionally with ``[dx, dy]``, the label's
offset in points (ConvNet-3, 300 epochs, mean +- std over the
networks evaluated), minutes being the CPU-minutes of making the set on the 2-core VM.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {
    "the run, herding among draws only": ("tab:blue", "o", ""),
    "the run, herding among draws and real images": ("tab:purple", "^", ""),
    "DM from real images (dm-real)": ("tab:orange", "s", ""),
    "random real images": ("tab:gray", "D", ""),
    "the run on the AMD bf16 VM": ("tab:purple", "^", "hollow"),
    "dm-real on the AMD bf16 VM": ("tab:orange", "s", "hollow"),
}


def main() -> None:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(here / "cifar_minutes.json"))
    ap.add_argument("--out", default=str(here.parent / "docs" / "cifar-minutes.png"))
    a = ap.parse_args()
    doc = json.loads(Path(a.data).read_text())
    fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=110)
    for name, points in doc["series"].items():
        color, marker, line = STYLE.get(name, (None, "o", "-"))
        pts = sorted(points, key=lambda p: p[0])
        xs, ys, es = [p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts]
        hollow = line == "hollow"  # another machine's points: same colour, open marker
        ax.errorbar(xs, ys, yerr=es, color=color, marker=marker,
                    linestyle="none" if hollow or not line else line, capsize=3, label=name,
                    markerfacecolor="white" if hollow else color)  # fmt: skip
        for x, y, _, label, *offset in pts:  # an optional [dx, dy] moves a crowded label
            if label:
                ax.annotate(label, (x, y), textcoords="offset points",
                            xytext=tuple(offset[0]) if offset else (6, -11), fontsize=7.5,
                            color=color)  # fmt: skip
    for y, label in doc.get("references", []):
        ax.axhline(y, color="tab:green", linewidth=0.8, linestyle=":")
        ax.annotate(label, (0.5, y), textcoords="offset points", xytext=(0, 3), fontsize=7.5,
                    color="tab:green")  # fmt: skip
    ax.set_xlim(-1, max(p[0] for v in doc["series"].values() for p in v) * 1.6)
    ax.set_xlabel("CPU-minutes making the set (2-core VM)")
    ax.set_ylabel("ConvNet-3 test accuracy, % (300 epochs)")
    ax.set_title(doc.get("title", "CIFAR-10, IPC 10"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center right")
    fig.text(0.01, 0.01, "each point a separate measurement (mean +- std over networks); "
             "bench/RESULTS.md", fontsize=7, color="gray")  # fmt: skip
    fig.tight_layout()
    fig.savefig(a.out)
    print(a.out)


if __name__ == "__main__":
    main()
