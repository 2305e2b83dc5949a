"""The store of an evaluation's results: ``eval/results.json`` of a run folder.

Results accumulate in ``eval/results.json`` (and the same rows in ``eval/results.csv``):
a new evaluation replaces the rows it recomputes and keeps the others measured the same
way. Every row records how it was measured (epochs, DSA, report, width, lr, batch); rows
of another protocol never share the file with new ones: they are moved, whole, to
``eval/results-<time>.json``, so one table, chart or CSV never mixes protocols.

The file has a ``"version"`` (``RESULTS_VERSION``); files without one were written before
version 2, when "resnet18" named the BatchNorm net: ``load_results`` reads their rows as
"resnet18bn", the name that net has now (config/versions.py, models/nets.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import storage
from ..config import ARCH_RENAMES_V1, EvalConfig
from ..rundir.folder import RunFolder
from ..rundir.lock import waiting_lock
from .rows import (
    _row_key,
    _sort_key,
    protocol_tag,
    protocols_differ,
    row_protocol,
    settings_protocol,
)
from .scores import results_csv

RESULTS_VERSION = 2  # of eval/results.json; absent = 1 (see the module's docstring)


def results_path(run_dir: str | Path) -> Path:
    return RunFolder(run_dir).results


def load_results(run_dir: str | Path) -> dict[str, Any] | None:
    """The run's saved evaluation, or None when it has none (or an unreadable one).

    Rows of a file from before version 2 come with today's network names.
    """
    path = results_path(run_dir)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (isinstance(doc, dict) and isinstance(doc.get("results"), list)):
        return None
    if not all(_is_row(r) for r in doc["results"]):
        return None  # damaged, or not ours: the writer keeps it aside, readers skip it
    return upgrade_results(doc)


def aside_rows(run_dir: str | Path) -> list[dict[str, Any]]:
    """The rows of the results files moved aside (another protocol's), newest file first;
    unreadable files are skipped."""
    folder = results_path(run_dir).parent
    out: list[dict[str, Any]] = []
    for path in sorted(folder.glob("results-*.json"), reverse=True):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        rows = doc.get("results") if isinstance(doc, dict) else None
        if isinstance(rows, list) and all(_is_row(r) for r in rows):
            out += upgrade_results(doc)["results"]
    return out


def results_unreadable(run_dir: str | Path) -> bool:
    """The run has a results file that readers skip (not JSON, or not rows of ours): the
    next save keeps it aside; until then a reader shows the run as unevaluated."""
    path = results_path(run_dir)
    return path.is_file() and load_results(run_dir) is None


def _is_row(row: Any) -> bool:
    """A result row as this program writes it: what every reader takes for granted."""
    return (
        isinstance(row, dict)
        and isinstance(row.get("arch"), str)
        and isinstance(row.get("source"), str)
        and isinstance(row.get("mean"), int | float)
        and isinstance(row.get("std", 0.0), int | float)
        and (row.get("ipc") is None or isinstance(row.get("ipc"), int))
    )


def upgrade_results(doc: dict[str, Any]) -> dict[str, Any]:
    """A results document in the current version's names (a copy when anything changes)."""
    if doc.get("version", 1) != 1:
        return doc
    rows = [
        {**r, "arch": ARCH_RENAMES_V1.get(r.get("arch"), r.get("arch"))}
        if isinstance(r, dict)
        else r
        for r in doc["results"]
    ]
    return {**doc, "version": RESULTS_VERSION, "results": rows}


def save_results(
    run_dir: str | Path,
    new_rows: list[dict[str, Any]],
    settings: EvalConfig,
    protocol: dict[str, Any],
    log: Callable[[str, str], None],
) -> dict[str, Any]:
    """Merge ``new_rows`` into eval/results.json (and .csv), replacing same-key rows of the
    same protocol; rows measured otherwise than by ``settings`` are moved aside whole,
    those a new row stands for included. ``protocol``: how the file's rows were measured,
    as the file records it.

    The read, merge and write happen under ``eval/.results.lock``, so two evaluations of
    one run that save at once both keep their rows (the later moves the earlier's aside
    when they measure differently)."""
    folder = RunFolder(run_dir)
    path = folder.results
    path.parent.mkdir(parents=True, exist_ok=True)
    with waiting_lock(folder.results_lock):
        old = load_results(run_dir) or {"results": []}
        keys = {_row_key(r) for r in new_rows}
        ours = settings_protocol(settings)
        kept, other = [], []
        for r in old["results"]:
            if protocols_differ(row_protocol(r), ours):
                other.append(r)
            elif _row_key(r) not in keys:
                kept.append(r)
        if other:
            move_aside(run_dir, old, other, log)
        rows = sorted(kept + new_rows, key=_sort_key)
        doc = {"version": RESULTS_VERSION, "protocol": protocol, "results": rows}
        storage.atomic_write_text(path, json.dumps(doc, indent=2) + "\n")
        storage.atomic_write_text(path.with_suffix(".csv"), results_csv(rows))
    return doc


def move_aside(
    run_dir: str | Path,
    old: dict[str, Any],
    rows: list[dict[str, Any]],
    log: Callable[[str, str], None],
) -> None:
    """Keep rows of another protocol whole, in a file of their own."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = results_path(run_dir).with_name(f"results-{stamp}.json")
    n = 2
    while path.exists():
        path = results_path(run_dir).with_name(f"results-{stamp}-{n}.json")
        n += 1
    doc = {"version": RESULTS_VERSION, "protocol": old.get("protocol"), "results": rows}
    storage.atomic_write_text(path, json.dumps(doc, indent=2) + "\n")
    log(
        f"{len(rows)} earlier result rows were measured another way "
        f"({protocol_tag(rows[0])}); moved to {path.name} so that one table never mixes "
        "protocols",
        "warning",
    )
