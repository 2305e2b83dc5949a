"""Evaluation charts as PNG or SVG files, drawn without a display (matplotlib's Agg/SVG).

Two charts answer the two questions a user asks of a distilled set: how does it do on each
architecture against the baselines (grouped bars with +-1 std error bars, one panel per
IPC), and how does accuracy grow with the budget (accuracy against IPC, one panel per
architecture). Rows are the evaluation's result rows; a row with a ``label`` (a run's
name, when runs are compared) is plotted under that label instead of its source's title.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import storage
from ..evaluation.protocol import SOURCES, results_csv, source_title
from ..models.nets import arch_order, arch_title
from .sets import ExportError, check_target

CHART_KINDS = ("arch", "ipc")
CHART_SUFFIXES = (".png", ".svg", ".csv")
COLOURS = ["#3b6fb6", "#e08a2c", "#5aa055", "#9a9a9a", "#b5497a", "#6a51a3", "#2aa3a3"]


def series_name(row: dict[str, Any]) -> str:
    if row.get("label"):
        return str(row["label"])
    return source_title(row)


def ordered_series(rows: Sequence[dict[str, Any]]) -> list[str]:
    def key(row):
        source = row.get("source")
        return (str(row.get("label") or ""), SOURCES.index(source) if source in SOURCES else 9)

    names: list[str] = []
    for row in sorted(rows, key=key):
        if series_name(row) not in names:
            names.append(series_name(row))
    return names


def _figure(panels: int, max_cols: int, panel_width: float = 4.4):
    from matplotlib.figure import Figure

    cols = min(panels, max_cols)
    rows = -(-panels // cols)
    fig = Figure(figsize=(max(5.5, panel_width * cols), 0.6 + 3.8 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).flatten()
    for ax in axes[panels:]:
        ax.set_visible(False)
    return fig, axes[:panels]


def zoomed_range(lows: Sequence[float], highs: Sequence[float]) -> tuple[float, float]:
    """A y range (in %) around the points and their error bars, at least 4 points tall:
    a 1-point difference takes a quarter of it. Bars from 0 % drew 93.0 and 94.4 equal."""
    lo, hi = min(lows), max(highs)
    pad = 0.25 * max(hi - lo, 4.0)
    return max(0.0, math.floor(lo - pad)), min(102.0, math.ceil(hi + 1.6 * pad))


def zoomed_label(lo: float, widths: Sequence[int] = ()) -> str:
    """The accuracy axis' title, saying so when it does not start at 0, and naming the
    networks' width where the rows were trained narrower than the literature's."""
    text = "test accuracy (%)" if lo <= 0 else f"test accuracy (%), axis from {lo:g} %"
    return text + width_note(widths)


def narrowed_widths(rows: Sequence[dict[str, Any]]) -> list[int]:
    """The network widths of rows evaluated narrower than the literature's (none: [])."""
    return sorted({int(r["width"]) for r in rows if r.get("width") is not None})


def width_note(widths: Sequence[int]) -> str:
    """", networks of width 16" for rows trained narrowed; "" for the literature's."""
    if not widths:
        return ""
    return f", networks of width {', '.join(map(str, widths))}"


def _points(ax, xs, ys, es, name: str, colour: str, decimals: int) -> None:
    """Points with +-1 std error bars and their values: differences of a point show."""
    ax.errorbar(xs, ys, yerr=es, fmt="o", capsize=3, label=name, color=colour, markersize=5)
    for x, y, e in zip(xs, ys, es, strict=True):
        ax.annotate(f"{y:.{decimals}f}", (x, y + e), textcoords="offset points", xytext=(0, 3),
                    ha="center", va="bottom", fontsize=7, rotation=90)  # fmt: skip


def architecture_figure(rows: Sequence[dict[str, Any]], title: str | None = None):
    """Grouped points: x = architecture, one point (+-1 std) per source (or run), a panel
    per IPC, on an axis zoomed to the points (its title says where it starts)."""
    rows = [r for r in rows if r.get("mean") is not None]
    if not rows:
        raise ExportError("there are no evaluation results to chart: evaluate the run first")
    ipcs = sorted({r["ipc"] for r in rows if r.get("ipc") is not None})
    full = [r for r in rows if r.get("ipc") is None]
    archs = arch_order(r["arch"] for r in rows)
    names = ordered_series(rows)
    fig, axes = _figure(max(1, len(ipcs)), 3, panel_width=1.6 + 1.1 * len(archs))
    for ax, ipc in zip(axes, ipcs or [None], strict=False):
        panel = [r for r in rows if r.get("ipc") == ipc] + (full if ipc is not None else [])
        present = [n for n in names if any(series_name(r) == n for r in panel)]
        width = 0.8 / max(1, len(present))
        lows, highs = [], []
        for j, name in enumerate(present):
            xs, ys, es = [], [], []
            for i, arch in enumerate(archs):
                match = [r for r in panel if r["arch"] == arch and series_name(r) == name]
                if match:
                    xs.append(i - 0.4 + width * (j + 0.5))
                    ys.append(100 * match[0]["mean"])
                    es.append(100 * match[0]["std"])
            colour = COLOURS[names.index(name) % len(COLOURS)]
            _points(ax, xs, ys, es, name, colour, 1)
            lows += [y - e for y, e in zip(ys, es, strict=True)]
            highs += [y + e for y, e in zip(ys, es, strict=True)]
        ax.set_xticks(range(len(archs)), [arch_title(a) for a in archs])
        ax.set_xlim(-0.6, len(archs) - 0.4)
        lo, hi = zoomed_range(lows, highs) if lows else (0.0, 105.0)
        ax.set_ylim(lo, hi)
        ax.set_ylabel(zoomed_label(lo, narrowed_widths(rows)))
        ax.set_title(f"IPC {ipc}" if ipc is not None else "full training set")
        ax.grid(axis="y", alpha=0.3)
    _legend(fig, axes)
    if title:
        fig.suptitle(title)
    return fig


def ipc_figure(rows: Sequence[dict[str, Any]], title: str | None = None):
    """Accuracy against IPC, one line per source (or run), a panel per architecture."""
    rows = [r for r in rows if r.get("mean") is not None and r.get("ipc") is not None]
    ipcs = sorted({r["ipc"] for r in rows})
    if len(ipcs) < 2:
        raise ExportError("accuracy against IPC needs results at two or more IPCs")
    archs = arch_order(r["arch"] for r in rows)
    names = ordered_series(rows)
    fig, axes = _figure(len(archs), 2)
    for ax, arch in zip(axes, archs, strict=True):
        for name in names:
            pts = sorted(
                (r["ipc"], 100 * r["mean"], 100 * r["std"])
                for r in rows
                if r["arch"] == arch and series_name(r) == name
            )
            if not pts:
                continue
            x, y, e = zip(*pts, strict=True)
            colour = COLOURS[names.index(name) % len(COLOURS)]
            ax.errorbar(x, y, yerr=e, marker="o", capsize=3, label=name, color=colour)
        ax.set_xscale("log")
        ax.set_xticks(ipcs, [str(i) for i in ipcs])
        ax.minorticks_off()
        ax.set_xlabel("images per class (IPC)")
        ax.set_ylabel("test accuracy (%)" + width_note(narrowed_widths(rows)))
        ax.set_title(arch_title(arch))
        ax.grid(alpha=0.3)
    _legend(fig, axes)
    if title:
        fig.suptitle(title)
    return fig


def sweep_figure(
    rows: Sequence[dict[str, Any]], x_key: str, numeric: bool, title: str | None = None
):
    """A sweep's accuracy against its swept setting, a panel per (architecture, IPC): a
    line with +-1 std error bars for a numeric setting (tau, lambda), grouped bars for a
    categorical one (the matching loss, the ablation's variants)."""
    if not rows:
        raise ExportError("there are no evaluation results to chart: evaluate the sweep first")
    panels = sorted({(str(r["arch"]), r["ipc"]) for r in rows},
                    key=lambda p: (p[0], math.inf if p[1] is None else p[1]))  # fmt: skip
    names: list[str] = []
    for r in rows:
        if r["series"] not in names:
            names.append(r["series"])
    xs_all: list[Any] = []
    for r in rows:
        if r["x"] not in xs_all:
            xs_all.append(r["x"])
    fig, axes = _figure(len(panels), 2, panel_width=max(4.4, 1.2 + 0.9 * len(xs_all)))
    width = 0.8 / max(1, len(names))
    for ax, (arch, ipc) in zip(axes, panels, strict=True):
        panel = [r for r in rows if str(r["arch"]) == arch and r["ipc"] == ipc]
        lo, _ = zoomed_range([100 * (r["mean"] - r["std"]) for r in panel],
                             [100 * (r["mean"] + r["std"]) for r in panel])  # fmt: skip
        for j, name in enumerate(names):
            pts = [r for r in panel if r["series"] == name]
            if not pts:
                continue
            colour = COLOURS[j % len(COLOURS)]
            ys = [100 * r["mean"] for r in pts]
            es = [100 * r["std"] for r in pts]
            if numeric:
                order = sorted(range(len(pts)), key=lambda i: pts[i]["x"])
                ax.errorbar([pts[i]["x"] for i in order], [ys[i] for i in order],
                            yerr=[es[i] for i in order], marker="o", capsize=3, label=name,
                            color=colour)  # fmt: skip
            else:
                xs = [xs_all.index(r["x"]) - 0.4 + width * (j + 0.5) for r in pts]
                # A sweep's variants often differ by tenths of a point: points on a
                # zoomed axis, with their values, show it (bars from zero could not).
                _points(ax, xs, ys, es, name, colour, 2)
        if numeric:
            ax.set_xticks(sorted(xs_all), [f"{v:g}" for v in sorted(xs_all)])
        else:
            ax.set_xticks(range(len(xs_all)), [str(v) for v in xs_all], fontsize=8,
                          rotation=15 if len(xs_all) > 3 else 0)  # fmt: skip
        ax.set_xlabel(x_key)
        if not numeric:
            ax.set_xlim(-0.6, len(xs_all) - 0.4)
        ax.set_ylim(*zoomed_range([100 * (r["mean"] - r["std"]) for r in panel],
                                  [100 * (r["mean"] + r["std"]) for r in panel]))  # fmt: skip
        ax.set_ylabel(zoomed_label(lo))
        budget = "full training set" if ipc is None else f"IPC {ipc}"
        ax.set_title(f"{arch_title(arch)}, {budget}")
        ax.grid(axis="y" if not numeric else "both", alpha=0.3)
    _legend(fig, axes)
    if title:
        fig.suptitle(title)
    return fig


def _legend(fig, axes) -> None:
    """One legend for all panels, below them, so that it never covers a bar or a line."""
    handles, labels = {}, []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in handles:
                handles[label] = handle
                labels.append(label)
    fig.legend(
        [handles[label] for label in labels], labels, loc="outside lower center",
        ncols=min(4, len(labels)), fontsize=8, frameon=False,
    )  # fmt: skip


def figure_bytes(fig, fmt: str) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=150)
    return buf.getvalue()


def write_chart(
    rows: Sequence[dict[str, Any]],
    out: Path,
    kind: str = "arch",
    overwrite: bool = False,
    title: str | None = None,
) -> Path:
    """Write a chart (``.png`` / ``.svg``) or the numbers (``.csv``) to ``out``, atomically."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in CHART_SUFFIXES:
        raise ExportError(f"cannot tell the format of {out.name}: name it .png, .svg or .csv")
    if kind not in CHART_KINDS:
        raise ExportError(f"unknown chart '{kind}' (choose from: {', '.join(CHART_KINDS)})")
    out = check_target(out, overwrite)
    if suffix == ".csv":
        if not rows:
            raise ExportError("there are no evaluation results to write: evaluate the run first")
        storage.atomic_write_text(out, results_csv(list(rows)))
        return out
    fig = architecture_figure(rows, title) if kind == "arch" else ipc_figure(rows, title)
    storage.atomic_write_bytes(out, figure_bytes(fig, suffix[1:]))
    return out
