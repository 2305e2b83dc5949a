"""What a row of an evaluation's results is: its source and how a legend names it, the key
a newer row replaces it by, how it was measured (its protocol), and the CSV of rows.

Rows of another protocol never share a table with new ones (``results.py`` moves them
aside); ``protocol_tag`` names the difference where rows of several protocols meet.
"""

from __future__ import annotations

import math
from typing import Any

from ..config import EvalConfig, RefineConfig, SamplingConfig
from ..rundir.artifacts import SOURCES_WITH_GENERATOR
from .dm_real import DM_REAL

SOURCES = ("distilled", "gan-only", "random-real", DM_REAL, "full-real")
SOURCE_TITLES = {
    "distilled": "distilled (GAN + SKD)",
    "gan-only": "GAN only (phase 1)",
    "random-real": "random real subset",
    DM_REAL: "DM from real",
    "full-real": "full real training set",
}
RESULT_COLUMNS = [
    "arch", "ipc", "source", "selection", "n", "mean", "std", "accuracies", "images",
    "generator_images", "epochs", "protocol", "report", "width", "dsa", "seconds",
    "dm_iterations", "dm_minutes",
]  # fmt: skip


def accuracy_text(row: dict[str, Any], pm: str = "+-", unit: str = "") -> str:
    """A row's accuracy in percent: ``mean +- std`` over its networks, or the mean alone
    with "(1 network)" where one network gives no spread to show; ``unit`` (" %") after
    the figures."""
    mean = 100 * row["mean"]
    if row.get("n") == 1:
        return f"{mean:.2f}{unit} (1 network)"
    return f"{mean:.2f} {pm} {100 * row['std']:.2f}{unit}"


def generator_share(row: dict[str, Any]) -> str:
    """How many of a row's images the generator made, "k/N" ("0" for real images); ""
    where unknown (a set made elsewhere, or a row saved before it was counted)."""
    made = row.get("generator_images")
    if made is None:
        return ""
    if made == 0:
        return "0"
    return f"{made}/{row.get('images')}"


def networks_text(n: int) -> str:
    return f"{n} network" if n == 1 else f"{n} networks"


def evaluating_line(s: EvalConfig, rows: int, networks: int, where: str) -> str:
    """The line an evaluation starts with, sequential or spread over workers (``where``:
    "on cpu", "with 2 local processes", ...): how it measures, a narrowed width named."""
    narrowed = "" if s.width is None else f", networks of width {s.width}, not the literature's"
    return (
        f"evaluating {rows} rows, {networks} networks {where}: {s.epochs} epochs, "
        f"{s.protocol} protocol, {s.report} accuracy{narrowed}"
    )


def settings_protocol(s: EvalConfig) -> dict[str, Any]:
    """How an evaluation with settings ``s`` measures (what its rows record)."""
    return {
        "epochs": s.epochs, "full_real_epochs": s.full_real_epochs, "dsa": s.dsa,
        "report": s.report, "width": s.width, "lr": s.lr, "batch_size": s.batch_size,
        "protocol": s.protocol,
    }  # fmt: skip


def row_protocol(row: dict[str, Any]) -> dict[str, Any]:
    """How a saved row was measured; keys a row from an older version lacks are None
    (unknown, so they never count as a difference)."""
    source = row.get("source")
    out: dict[str, Any] = {k: row.get(k) for k in ("dsa", "report", "width", "lr", "batch_size")}
    out["full_real_epochs" if source == "full-real" else "epochs"] = row.get("epochs")
    if source in SOURCES_WITH_GENERATOR:
        out["protocol"] = row.get("protocol")
    return out


def protocols_differ(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return any(a[k] is not None and b.get(k) is not None and a[k] != b[k] for k in a)


def protocol_tag(row: dict[str, Any]) -> str:
    """A row's protocol in a few words, for labels where rows of several protocols meet."""
    p = row_protocol(row)
    parts = [f"{row.get('epochs')} epochs"]
    if p.get("dsa") is False:
        parts.append("no DSA")
    if p.get("report") not in (None, "final"):
        parts.append(str(p["report"]))
    if p.get("width") is not None:
        parts.append(f"width {p['width']}")
    if p.get("protocol") not in (None, "fixed"):
        parts.append(str(p["protocol"]))
    return ", ".join(parts)


def _row_key(row: dict[str, Any]) -> tuple:
    """What a row measures: a new row replaces an old one with the same key.

    Sets chosen by different selection rules are different sets, so their rows stand side
    by side (rows written before the selection was recorded were the first draws).
    """
    selection = row.get("selection") or (
        "random" if row.get("source") in SOURCES_WITH_GENERATOR else None
    )
    return (row.get("arch"), row.get("ipc"), row.get("source"), selection, row.get("refine"))


def _sort_key(row: dict[str, Any]) -> tuple:
    ipc = row.get("ipc")
    source = row.get("source")
    order = SOURCES.index(source) if source in SOURCES else len(SOURCES)
    return (
        str(row.get("arch")),
        math.inf if ipc is None else ipc,
        order,
        str(row.get("selection") or ""),
    )


def source_title(row: dict[str, Any]) -> str:
    """The source of a row as a legend names it.

    A generator-made set chosen by another rule than the default (herding) says so, so
    that sets of two rules never share a name (rows written before selections were
    recorded were the first draws: "random").
    """
    source = str(row.get("source"))
    title = SOURCE_TITLES.get(source, source)
    selection = row.get("selection") or "random"
    if selection == "imported":  # a set made elsewhere (export/imported.py)
        return "imported set"
    if source in SOURCES_WITH_GENERATOR and selection != SamplingConfig().selection:
        title += f", {selection} selection"
    if source in SOURCES_WITH_GENERATOR and row.get("refine"):
        title += f", + {row['refine']}"
    return title


def refine_label(r: RefineConfig) -> str | None:
    """How a row's set was refined, short enough for a legend ("DM x 600"); None: not."""
    return None if r.method == "none" else f"{r.method.upper()} x {r.iterations}"


def _row_title(arch: str, ipc: int | None, source: str) -> str:
    from ..models.nets import ARCH_TITLES

    budget = "all images" if ipc is None else f"IPC {ipc}"
    return f"{ARCH_TITLES.get(arch, arch)}, {budget}, {source}"
