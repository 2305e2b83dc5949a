"""The field's scores beside accuracy (issue 29), from the rows an evaluation saved.

For each distilled set (the ``distilled`` row of an architecture and IPC):

- **gain over random real** (DD-Ranking's "improvement over random", IOR): the set's
  accuracy minus that of random real images of the same IPC, same networks and protocol;
- **hard-label recovery gap** (DD-Ranking's "hard label recovery", HLR): the accuracy of
  the full real training set (``--full-real``) minus the set's: how much of the full data's
  accuracy the set leaves unrecovered, on the same networks with hard labels;
- **label-robust score** (DD-Ranking's LRS, hard labels): with accuracies as fractions,
  ``alpha = lam * IOR - (1 - lam) * HLR`` and ``LRS = (e^alpha - e^-1) / (e - e^-1)``,
  ``lam = 0.5``: 0 when the set is no better than random and the full data is far ahead,
  1 at the other end. DD-Ranking (NUS-HPC-AI-Lab, ``ddranking/metrics/hard_label.py``)
  averages it over evaluation rounds; here it is computed from the rows' means.

The gain needs the random-real row (every evaluation has one), the gap and the LRS the
full-real row; a score whose row is missing is None. DD-Ranking's augmentation-robust
score (ARS) needs the set and random images trained with and without augmentation: it is
not computed (one evaluation here trains with DSA, or with ``--no-dsa``, not both).
"""

from __future__ import annotations

import math
from typing import Any

LRS_LAMBDA = 0.5  # DD-Ranking's default weighting of IOR against HLR


def label_robust_score(ior: float, hlr: float, lam: float = LRS_LAMBDA) -> float:
    """DD-Ranking's LRS from IOR and HLR given as fractions (0.047 for 4.7 points)."""
    alpha = lam * ior - (1 - lam) * hlr
    return (math.exp(alpha) - math.exp(-1)) / (math.exp(1) - math.exp(-1))


def field_scores(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per distilled row: arch, ipc, run (when rows compare runs), and ``ior``,
    ``hlr`` (fractions) and ``lrs``, each None where its baseline row is missing."""

    def run_of(r: dict[str, Any]) -> Any:
        return r.get("run")

    out = []
    for r in rows:
        if r.get("source") != "distilled" or r.get("mean") is None:
            continue
        random = _find(rows, r["arch"], r["ipc"], "random-real", run_of(r))
        full = _find(rows, r["arch"], None, "full-real", run_of(r))
        ior = r["mean"] - random["mean"] if random else None
        hlr = full["mean"] - r["mean"] if full else None
        lrs = label_robust_score(ior, hlr) if ior is not None and hlr is not None else None
        out.append({"arch": r["arch"], "ipc": r["ipc"], "run": run_of(r), "ior": ior,
                    "hlr": hlr, "lrs": lrs})  # fmt: skip
    return out


def _find(rows, arch, ipc, source, run) -> dict[str, Any] | None:
    for x in rows:
        if (x.get("arch"), x.get("ipc"), x.get("source")) == (arch, ipc, source):
            # A comparison's shared baseline rows carry no run; a run's own, its name.
            if x.get("run") in (run, None) and x.get("mean") is not None:
                return x
    return None


def scores_text(rows: list[dict[str, Any]]) -> str:
    """The scores as lines under the results table ("" when there is no distilled row)."""
    lines = []
    for s in field_scores(rows):
        who = f"{s['run']}: " if s["run"] else ""
        parts = [
            "gain over random real "
            + ("?" if s["ior"] is None else f"{100 * s['ior']:+.2f} points"),
            "hard-label recovery gap "
            + ("? (evaluate --full-real)" if s["hlr"] is None else f"{100 * s['hlr']:.2f} points"),
        ]
        if s["lrs"] is not None:
            parts.append(f"LRS {100 * s['lrs']:.2f} (DD-Ranking's, lambda {LRS_LAMBDA})")
        lines.append(f"{who}{s['arch']} IPC {s['ipc']}: " + "; ".join(parts))
    return "\n".join(lines)


__all__ = ["LRS_LAMBDA", "field_scores", "label_robust_score", "scores_text"]
