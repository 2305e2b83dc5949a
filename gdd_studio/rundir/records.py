"""Reading a run folder for display, while another process may still be writing it.

The window follows its own runs through events, and every other run (one the CLI is
writing here, or one on a server whose runs folder is shared or synced) through these
readers: they pick up what was appended since the last look, ignore a half-written last
line, and start over when a file was replaced (a resume rewrites ``metrics.csv`` up to its
checkpoint). No Qt here, so the same readers serve scripts and tests.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .folder import ACTIVE, RunFolder, read_run_info

RUN_INFO = "run.json"  # RunFolder.info's name: stat'ed by name for thousands of runs

GRID_NAME = re.compile(r"phase(\d+)_(\d+)\.png$")
_ROW_KEYS = ("phase", "step", "epoch", "time")


class _AppendReader:
    """Bytes appended to a file since the last call, up to the last complete line.

    A writer may be in the middle of a line (we see its first half) or may have replaced
    the file (``os.replace`` gives it a new inode; a truncation makes it shorter). The
    first case waits for the newline; the second restarts from the top and says so.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._offset = 0
        self._identity: tuple[int, int] | None = None
        self._size = 0

    def read_lines(self) -> tuple[str, bool]:
        """(complete new text, restarted?); restarted means what was read before is void."""
        try:
            st = os.stat(self.path)
        except OSError:
            restarted = self._offset > 0
            self._offset, self._identity, self._size = 0, None, 0
            return "", restarted
        identity = (st.st_dev, st.st_ino)
        restarted = (self._identity is not None and identity != self._identity) or (
            st.st_size < self._size
        )
        if restarted:
            self._offset = 0
        self._identity, self._size = identity, st.st_size
        if st.st_size <= self._offset:
            return "", restarted
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read(st.st_size - self._offset)
        except OSError:
            return "", restarted
        end = chunk.rfind(b"\n")
        if end < 0:
            return "", restarted
        self._offset += end + 1
        return chunk[: end + 1].decode("utf-8", errors="replace"), restarted


class MetricsReader:
    """Incremental reader of ``metrics.csv``: each call returns only the new complete rows."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._reader = _AppendReader(self.path)
        self._header: list[str] | None = None

    def read_new(self) -> tuple[list[dict[str, Any]], bool]:
        """(new rows, restarted?) where restarted means earlier rows are void (file rewritten)."""
        text, restarted = self._reader.read_lines()
        if restarted:
            self._header = None
        if not text:
            return [], restarted
        rows = []
        for line in text.splitlines():
            try:
                rows.extend(csv.reader([line]))
            except csv.Error:
                continue  # not CSV (a damaged file); resume keeps such a file aside
        if self._header is None and rows:
            self._header, rows = rows[0], rows[1:]
        out = []
        for r in rows:
            if not r:
                continue
            try:
                out.append(parse_metrics_row(self._header or [], r))
            except ValueError:
                continue  # a damaged row (a crash mid-write long ago): skip it, keep going
        return out, restarted


class LogReader:
    """Incremental reader of ``log.txt``: new complete lines since the last call."""

    def __init__(self, path: Path) -> None:
        self._reader = _AppendReader(Path(path))

    def read_new(self) -> tuple[list[str], bool]:
        text, restarted = self._reader.read_lines()
        return text.splitlines(), restarted


def parse_metrics_row(header: list[str], row: list[str]) -> dict[str, Any]:
    """A metrics.csv row as {"phase", "step", "epoch", "values": {loss: float}}.

    Empty cells (a loss the phase does not have) are left out rather than read as zero, so
    a curve shows only where its loss exists.
    """
    cells = dict(zip(header, row, strict=False))
    values = {}
    for key, text in cells.items():
        if key in _ROW_KEYS or text == "":
            continue
        try:
            values[key] = float(text)
        except ValueError:
            continue
    return {
        "phase": int(cells.get("phase", 0) or 0),
        "step": int(cells.get("step", 0) or 0),
        "epoch": int(cells.get("epoch", 0) or 0),
        "values": values,
    }


def list_grids(run_dir: Path) -> list[tuple[int, int, Path]]:
    """(step, phase, path) of every grid the run recorded, in step order.

    Only finished files count: the engine writes a grid to a hidden temporary name and
    renames it, so a half-written PNG never matches ``phase*_*.png``.
    """
    out = []
    folder = RunFolder(run_dir).grids
    try:
        paths = list(folder.glob("phase*_*.png"))
    except OSError:
        return []
    for path in paths:
        m = GRID_NAME.search(path.name)
        if m and not path.name.startswith("."):
            out.append((int(m.group(2)), int(m.group(1)), path))
    return sorted(out)


def read_dataset_facts(run_dir: Path) -> dict[str, Any]:
    """What the run recorded of its dataset (``dataset.json``), or {} before it exists or
    when it is unreadable. Unlike ``artifacts.dataset_info`` this never loads the dataset:
    the window asks it on its GUI thread."""
    import json

    try:
        facts = json.loads((RunFolder(run_dir).dataset_info).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return facts if isinstance(facts, dict) else {}


def read_classes(run_dir: Path) -> list[str] | None:
    """The class names the run recorded (``dataset.json``), or None before it exists."""
    classes = read_dataset_facts(run_dir).get("classes")
    return [str(c) for c in classes] if isinstance(classes, list) else None


def read_train_images(run_dir: Path) -> int | None:
    """The size of the training split the run recorded, or None."""
    n = read_dataset_facts(run_dir).get("train_images")
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None


def read_log_tail(run_dir: Path, max_lines: int = 500) -> list[str]:
    """The last lines of a run's log.txt (empty when there is none yet)."""
    try:
        text = (RunFolder(run_dir).log).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return text.splitlines()[-max_lines:]


@dataclass
class RunSummary:
    """What a runs list shows of one run folder."""

    path: Path
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return str(self.info.get("status", "unknown"))

    @property
    def resumable(self) -> bool:
        """A run nobody is writing that has a checkpoint can go on; one that never wrote
        a checkpoint (never started, or stopped before its first) can start over."""
        if self.status == "created":
            return True
        if self.status not in ("stopped", "interrupted", "failed"):
            return False
        return RunFolder(self.path).last_checkpoint.is_file() or not self.lost_checkpoint

    @property
    def starts_over(self) -> bool:
        """Resuming it starts from step 0: it never reached a checkpoint."""
        return self.resumable and not RunFolder(self.path).last_checkpoint.is_file()

    @property
    def lost_checkpoint(self) -> bool:
        """It had written a checkpoint (run.json counts the steps) that is gone: it can
        only start over from step 0, which the user must be asked for."""
        step = self.info.get("step")
        return (
            self.status in ("stopped", "interrupted", "failed")
            and isinstance(step, int)
            and step > 0
            and not (RunFolder(self.path).last_checkpoint).is_file()
        )


class RunsCache:
    """What :func:`list_runs` read last time, so that a runs folder of thousands of runs
    costs a stat per run on the next look, not a JSON parse: a run's summary is read again
    only when its ``run.json`` changed (its mtime, size or inode: writers replace it), or
    when the run is active (whether its writer still lives is asked each time).
    ``changed`` says whether the last call found anything new, changed or gone."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[tuple[int, int, int], RunSummary]] = {}
        self.changed = True


def _stamp(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def list_runs(runs_dir: Path, cache: RunsCache | None = None) -> list[RunSummary]:
    """Every run folder under ``runs_dir``, newest first (``cache``: reuse what is
    unchanged since the last call with it; the same summary objects, in the same order,
    when nothing changed)."""
    root = Path(runs_dir)
    try:
        with os.scandir(root) as it:
            candidates = [e.path for e in it if e.is_dir()]
    except OSError:
        return []
    runs = []
    kept_all = cache is not None
    seen: dict[str, tuple[tuple[int, int, int], RunSummary]] = {}
    for path in candidates:
        stamp = _stamp(os.path.join(path, RUN_INFO))
        kept = cache.entries.get(path) if cache is not None else None
        if kept is not None and stamp is not None and kept[0] == stamp:
            summary = kept[1]
            if summary.status in ACTIVE:  # its writer may have died since: ask again
                summary = RunSummary(summary.path, read_run_info(summary.path))
                kept_all = False
        else:
            kept_all = False
            p = Path(path)
            if not RunFolder(p).config.is_file():
                continue
            summary = RunSummary(p, read_run_info(p))
        if stamp is not None:
            seen[path] = (stamp, summary)
        runs.append(summary)
    if cache is not None:
        cache.changed = not kept_all or len(seen) != len(cache.entries)
        cache.entries = seen
    return sorted(runs, key=lambda r: float(r.info.get("created", 0) or 0), reverse=True)


__all__ = [
    "LogReader",
    "MetricsReader",
    "RunSummary",
    "RunsCache",
    "list_grids",
    "list_runs",
    "parse_metrics_row",
    "read_log_tail",
]
