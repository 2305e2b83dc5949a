"""Several runs' evaluation results side by side (the paper's ablations, for example).

A comparison labels each run by the settings in which it differs from the others
("loss=mse", "standardize=off"), so a table or chart of standardization on against off,
or SKD against MSE against GAN only, reads without looking up folder names. The
baselines that do not depend on a run's generator (random real, full real) are shown
once when every run measured them identically (same dataset, protocol and seeds give the
same accuracies); otherwise each run keeps its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import GddError
from ..rundir.artifacts import run_config
from ..rundir.folder import RunFolder, read_run_info
from .protocol import load_results, protocol_tag, protocols_differ, row_protocol, source_title

# Settings that do not change what a run's generator learns.
IGNORED_PREFIXES = ("evaluation.", "monitor.")
IGNORED_KEYS = {"device", "data_dir", "download"}
GENERATOR_FREE = ("random-real", "dm-real", "full-real")
MAX_LABEL_KEYS = 3


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = tuple(value) if isinstance(value, list) else value
    return out


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "+".join(str(v) for v in value)
    return str(value)


def _differing_keys(configs: Sequence[dict[str, Any]]) -> list[str]:
    keys = sorted({k for c in configs for k in c})
    keys = [
        k
        for k in keys
        if k not in IGNORED_KEYS
        and not k.startswith(IGNORED_PREFIXES)
        and len({repr(c.get(k)) for c in configs}) > 1
    ]
    # The method's settings first: they are what an ablation varies.
    return sorted(keys, key=lambda k: (not k.startswith("distill."), k == "seed", k))


def short_names(names: Sequence[str]) -> list[str]:
    """Run ids cut to where they differ: '20261129-234126-mnist-sample-ipc10' and
    '...-ipc10-2' become 'ipc10' and 'ipc10-2' (the parts all share are dropped, keeping
    at least the last shared part before the difference)."""
    parts = [n.split("-") for n in names]
    if len(parts) < 2 or len(set(names)) < len(names):
        return list(names)
    head = 0
    while all(len(p) > head for p in parts) and len({p[head] for p in parts}) == 1:
        head += 1
    tail = 0
    while all(len(p) > head + tail for p in parts) and len({p[-1 - tail] for p in parts}) == 1:
        tail += 1
    start = max(0, head - 1) if any(len(p) == head for p in parts) else head
    out = ["-".join(p[start : len(p) - tail]) for p in parts]
    return out if all(out) and len(set(out)) == len(out) else list(names)


def _imported_label(run_dir: Path) -> str | None:
    """'imported: <what it was imported from>' for a set made elsewhere; None for a run."""
    folder = RunFolder(run_dir)
    if not folder.is_imported:
        return None
    info = read_run_info(run_dir)
    return f"imported: {Path(str(info.get('imported_from', run_dir.name))).name}"


def run_labels(run_dirs: Sequence[Path]) -> dict[Path, str]:
    """A short label per run: the settings where it differs from the others.

    One run, or runs with equal settings, are labelled by their folder names.
    """
    dirs = [Path(d) for d in run_dirs]
    imported = {d: _imported_label(d) for d in dirs}
    if any(imported.values()):  # sets made elsewhere are named by their source, runs as ever
        runs = [d for d in dirs if not imported[d]]
        labels = run_labels(runs) if runs else {}
        return {d: imported[d] or labels[d] for d in dirs}
    configs = []
    for d in dirs:
        try:
            configs.append(_flatten(run_config(d).to_dict()))
        except GddError:
            configs.append({})
    keys = _differing_keys(configs) if len(dirs) > 1 else []
    names = dict(zip(dirs, short_names([d.name for d in dirs]), strict=True))
    if not keys:
        return names
    last = [k.rsplit(".", 1)[-1] for k in keys]
    short = {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last, strict=True)}
    labels: dict[Path, str] = {}
    for d, cfg in zip(dirs, configs, strict=True):
        parts = [f"{short[k]}={_fmt(cfg.get(k))}" for k in keys[:MAX_LABEL_KEYS]]
        if len(keys) > MAX_LABEL_KEYS:
            parts.append(f"+{len(keys) - MAX_LABEL_KEYS} more")
        labels[d] = ", ".join(parts)
    if len(set(labels.values())) < len(labels):  # still ambiguous: add the folder name
        labels = {d: f"{names[d]} ({text})" for d, text in labels.items()}
    return labels


def comparison_rows(run_dirs: Sequence[Path]) -> list[dict[str, Any]]:
    """The result rows of every run; with several runs, each row names its run.

    A row of several runs carries ``run`` (the folder name), ``run_label`` and ``label``
    (what a chart's legend shows: the run's label and the source). One run's rows are
    returned as they are saved.
    """
    dirs = [Path(d) for d in run_dirs]
    docs = {d: load_results(d) for d in dirs}
    if len(dirs) == 1:
        doc = docs[dirs[0]]
        return [dict(r) for r in doc["results"]] if doc else []
    labels = run_labels(dirs)
    rows: list[dict[str, Any]] = []
    shared: dict[tuple, list[dict[str, Any]]] = {}
    for d in dirs:
        doc = docs[d]
        for r in doc["results"] if doc else []:
            row = dict(r, run=d.name, run_label=labels[d])
            source = row.get("source")
            if source in GENERATOR_FREE:
                key = (row.get("arch"), row.get("ipc"), source, protocol_tag(row))
                shared.setdefault(key, []).append(row)
                continue
            row["label"] = f"{labels[d]}: {source_title(row)}"
            rows.append(row)
    for group in shared.values():
        same = len({tuple(r.get("accuracies") or ()) for r in group}) == 1
        if same:
            row = dict(group[0], run="", run_label="every run")
            row["label"] = source_title(row)
            rows.append(row)
        else:
            for row in group:
                row["label"] = f"{row['run_label']}: {source_title(row)}"
                rows.append(row)
    # Runs evaluated another way (epochs, DSA, report, width) are never one series: each
    # label carries its protocol, so the table, chart and CSV show them apart.
    measured = [row_protocol(r) for r in rows]
    if any(protocols_differ(a, b) for i, a in enumerate(measured) for b in measured[i + 1 :]):
        for row in rows:
            tag = protocol_tag(row)
            row["label"] = f"{row['label']} [{tag}]"
            row["run_label"] = f"{row['run_label']} [{tag}]"
    return rows


__all__ = ["comparison_rows", "run_labels"]
