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

- **augmentation-robust score** (DD-Ranking's ARS, ``ddranking/metrics/aug_robust.py``):
  the gain over random real with augmentation (DSA) and without, ``beta = lam * gain_aug
  + (1 - lam) * gain_plain``, ``ARS = (e^beta - e^-1) / (e - e^-1)``. An evaluation here
  trains with DSA or without it, and a results file holds one protocol, so the ARS needs
  the set evaluated both ways: ``evaluate``, then ``evaluate --no-dsa`` (the first rows
  are moved aside whole, where they are read back for it).

The gain needs the random-real row (every evaluation has one), the gap and the LRS the
full-real row, the ARS the rows of the other augmentation setting; a score whose rows are
missing is None.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from .rows import RESULT_COLUMNS, row_protocol

LRS_LAMBDA = 0.5  # DD-Ranking's default weighting of IOR against HLR
# issue 29: beside a distilled row, its gain over random real, hard-label recovery gap
# (points) and DD-Ranking's label-robust score (percent); evaluation/scores.py
SCORE_COLUMNS = ["gain_over_random_real", "hard_label_recovery_gap", "label_robust_score"]


def label_robust_score(ior: float, hlr: float, lam: float = LRS_LAMBDA) -> float:
    """DD-Ranking's LRS from IOR and HLR given as fractions (0.047 for 4.7 points)."""
    alpha = lam * ior - (1 - lam) * hlr
    return (math.exp(alpha) - math.exp(-1)) / (math.exp(1) - math.exp(-1))


def augmentation_robust_score(gain_aug: float, gain_plain: float, lam: float = 0.5) -> float:
    """DD-Ranking's ARS from the gains over random with and without augmentation
    (fractions)."""
    beta = lam * gain_aug + (1 - lam) * gain_plain
    return (math.exp(beta) - math.exp(-1)) / (math.exp(1) - math.exp(-1))


def _other_gain(r: dict[str, Any], others: list[dict[str, Any]]) -> float | None:
    """The same set's gain over random real measured with augmentation flipped and every
    other part of the protocol the same (rows moved aside by that evaluation)."""
    want = dict(row_protocol(r), dsa=not r.get("dsa", True))
    def pick(source: str) -> dict[str, Any] | None:
        for x in others:
            if (x.get("arch"), x.get("ipc"), x.get("source")) != (r["arch"], r["ipc"], source):
                continue
            have = row_protocol(x)
            if source == "random-real":  # its protocol lacks the generator's sampling key
                have = dict(have, protocol=want.get("protocol"))
            if have == want and x.get("mean") is not None:
                return x
        return None

    syn, rnd = pick("distilled"), pick("random-real")
    return syn["mean"] - rnd["mean"] if syn and rnd else None


def field_scores(
    rows: list[dict[str, Any]], other_augmentation: list[dict[str, Any]] = ()
) -> list[dict[str, Any]]:
    """One entry per distilled row: arch, ipc, run (when rows compare runs), and ``ior``,
    ``hlr`` (fractions), ``lrs`` and ``ars``, each None where its rows are missing.
    ``other_augmentation``: the run's rows measured with augmentation flipped (for ARS)."""
    others = list(other_augmentation)

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
        ars = None
        other = _other_gain(r, others) if others and ior is not None else None
        if other is not None:
            aug, plain = (ior, other) if r.get("dsa", True) else (other, ior)
            ars = augmentation_robust_score(aug, plain)
        out.append({"arch": r["arch"], "ipc": r["ipc"], "run": run_of(r), "ior": ior,
                    "hlr": hlr, "lrs": lrs, "ars": ars})  # fmt: skip
    return out


def _find(rows, arch, ipc, source, run) -> dict[str, Any] | None:
    for x in rows:
        if (x.get("arch"), x.get("ipc"), x.get("source")) == (arch, ipc, source):
            # A comparison's shared baseline rows carry no run; a run's own, its name.
            if x.get("run") in (run, None) and x.get("mean") is not None:
                return x
    return None


def scores_text(
    rows: list[dict[str, Any]], other_augmentation: list[dict[str, Any]] = ()
) -> str:
    """The scores as lines under the results table ("" when there is no distilled row)."""
    lines = []
    for s in field_scores(rows, other_augmentation):
        who = f"{s['run']}: " if s["run"] else ""
        parts = [
            "gain over random real "
            + ("?" if s["ior"] is None else f"{100 * s['ior']:+.2f} points"),
            "hard-label recovery gap "
            + ("? (evaluate --full-real)" if s["hlr"] is None else f"{100 * s['hlr']:.2f} points"),
        ]
        if s["lrs"] is not None:
            parts.append(f"LRS {100 * s['lrs']:.2f} (DD-Ranking's, lambda {LRS_LAMBDA})")
        if s["ars"] is not None:
            parts.append(f"ARS {100 * s['ars']:.2f} (with and without DSA)")
        lines.append(f"{who}{s['arch']} IPC {s['ipc']}: " + "; ".join(parts))
    return "\n".join(lines)


def results_csv(rows: list[dict[str, Any]]) -> str:
    """The rows as CSV: one line per (architecture, IPC, source), accuracies in percent.

    Rows of a comparison of runs (they carry ``run_label``) get ``run`` and ``run_label``
    columns first.
    """
    buf = io.StringIO()
    writer = csv.writer(buf)
    columns = list(RESULT_COLUMNS)
    if any("run_label" in r for r in rows):
        columns = ["run", "run_label", *columns]
    # The field's scores of a distilled row, in points (LRS in percent), after accuracy's.
    scores = {(s["run"], s["arch"], s["ipc"]): s for s in field_scores(rows)}
    writer.writerow([*columns, *SCORE_COLUMNS])
    for r in rows:
        score = scores.get((r.get("run"), r.get("arch"), r.get("ipc")))
        if r.get("source") != "distilled":
            score = None
        out = []
        for col in columns:
            value = r.get(col)
            if col in ("mean", "std") and value is not None:
                value = f"{100 * value:.2f}"
            elif col == "accuracies":
                value = " ".join(f"{100 * a:.2f}" for a in value or [])
            elif value is None:
                value = "all" if col == "ipc" else ""
            out.append(value)
        for key in ("ior", "hlr", "lrs"):
            value = score.get(key) if score else None
            out.append("" if value is None else f"{100 * value:.2f}")
        writer.writerow(out)
    return buf.getvalue()


__all__ = [
    "LRS_LAMBDA", "SCORE_COLUMNS", "augmentation_robust_score", "field_scores",
    "label_robust_score", "results_csv", "scores_text",
]  # fmt: skip
