"""A sweep's evaluation against its swept settings: one table, one chart.

The x axis is the first swept setting other than the seed (the variant, for the ablation
set); the seed, when it is swept beside another setting, is what the mean and std are
taken over (each member's mean accuracy is one sample). A sweep of one seed reports the
mean and std over the member's own networks instead, and says so in the ``over`` column.
Further swept settings become separate series, as do the sources (distilled, GAN only,
random real).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import storage
from ..errors import GddError
from ..evaluation.compare import _fmt
from ..evaluation.protocol import SOURCES, source_title
from ..evaluation.rows import accuracy_text
from ..export.charts import CHART_SUFFIXES, figure_bytes, sweep_figure
from ..export.sets import ExportError, check_target
from ..rundir.sweeps import read_sweep
from .sweep import sweep_results

POOLED = "seed"


@dataclass
class SweepTable:
    x_key: str
    numeric: bool
    rows: list[dict[str, Any]] = field(default_factory=list)  # one per point of a series

    @property
    def x_title(self) -> str:
        return self.x_key


LOSS_KEYS = {"variant", "distill.loss"}  # axes along which phase 2 is not always SKD


def sweep_table(sweep_dir: str | Path) -> SweepTable:
    doc = read_sweep(sweep_dir)
    keys = [a["key"] for a in doc.get("axes", [])]
    pooled = POOLED if POOLED in keys and len(keys) > 1 else None
    free = [k for k in keys if k != pooled]
    x_key = free[0] if free else "run"
    series_keys = free[1:]
    values = next((a["values"] for a in doc.get("axes", []) if a["key"] == x_key), [])
    numeric = bool(values) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )
    groups: dict[tuple, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for member, rows in sweep_results(sweep_dir):
        settings = member.get("settings", {})
        x = settings.get(x_key, member.get("run"))
        extra = tuple((k, settings.get(k)) for k in series_keys)
        for r in rows:
            key = (repr(x), extra, r.get("arch"), r.get("ipc"), r.get("source"),
                   r.get("selection"))  # fmt: skip
            groups.setdefault(key, []).append((member, dict(r, _x=x)))
    if not groups:
        raise GddError(
            f"no member of sweep {sweep_dir} has evaluation results yet: run gdd-studio-cli "
            "evaluate on its members, or the sweep with --evaluate"
        )
    table = SweepTable(x_key, numeric)
    for (_, extra, arch, ipc, source, _sel), items in groups.items():
        first = items[0][1]
        if len(items) > 1:
            samples, over = [r["mean"] for _, r in items], "seeds"
        else:
            samples, over = list(first.get("accuracies") or [first["mean"]]), "networks"
        acc = np.asarray(samples, dtype=np.float64)
        label = source_title(first)
        if source == "distilled" and LOSS_KEYS & set(keys):
            # Members without SKD (the ablation's MSE and no-matching variants) are
            # distilled all the same: by their phase 2, whatever its matching term.
            label = label.replace("(GAN + SKD)", "(GAN + phase 2)")
        if extra:
            label += ", " + ", ".join(f"{k.rsplit('.', 1)[-1]}={_fmt(v)}" for k, v in extra)
        table.rows.append({
            "x": first["_x"], "series": label, "arch": arch, "ipc": ipc, "source": source,
            "n": len(acc), "over": over, "mean": float(acc.mean()), "std": float(acc.std()),
            "runs": [m["run"] for m, _ in items],
        })  # fmt: skip
    order = {repr(v): i for i, v in enumerate(values)}
    table.rows.sort(key=lambda r: (
        str(r["arch"]), r["ipc"] if r["ipc"] is not None else 1e9,
        SOURCES.index(r["source"]) if r["source"] in SOURCES else 9, r["series"],
        order.get(repr(r["x"]), 1e9),
    ))  # fmt: skip
    return table


def table_text(table: SweepTable) -> str:
    head = (f"{table.x_key:<24} {'network':<10} {'IPC':>4}  {'series':<34} "
            f"{'accuracy (%)':>16}  n over")  # fmt: skip
    lines = [head]
    for r in table.rows:
        ipc = "all" if r["ipc"] is None else str(r["ipc"])
        acc = accuracy_text(r)
        lines.append(f"{_fmt(r['x']):<24} {r['arch']:<10} {ipc:>4}  {r['series']:<34} "
                     f"{acc:>16}  {r['n']} {r['over']}")  # fmt: skip
    return "\n".join(lines)


def table_csv(table: SweepTable) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([table.x_key, "arch", "ipc", "series", "source", "mean", "std", "n", "over",
                     "runs"])  # fmt: skip
    for r in table.rows:
        writer.writerow([
            _fmt(r["x"]), r["arch"], "all" if r["ipc"] is None else r["ipc"], r["series"],
            r["source"], f"{100 * r['mean']:.2f}", f"{100 * r['std']:.2f}", r["n"], r["over"],
            " ".join(r["runs"]),
        ])  # fmt: skip
    return buf.getvalue()


def write_sweep_chart(
    table: SweepTable, out: Path, overwrite: bool = False, title: str | None = None
) -> Path:
    """The chart (``.png``/``.svg``) or the table (``.csv``), written atomically."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in CHART_SUFFIXES:
        raise ExportError(f"cannot tell the format of {out.name}: name it .png, .svg or .csv")
    out = check_target(out, overwrite)
    if suffix == ".csv":
        storage.atomic_write_text(out, table_csv(table))
        return out
    fig = sweep_figure(table.rows, table.x_key, table.numeric, title)
    storage.atomic_write_bytes(out, figure_bytes(fig, suffix[1:]))
    return out


__all__ = ["SweepTable", "sweep_table", "table_csv", "table_text", "write_sweep_chart"]
