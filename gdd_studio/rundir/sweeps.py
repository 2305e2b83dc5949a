"""The sweep folder: ``<runs>/sweeps/<sweep-id>/sweep.json``, read and written.

A sweep is a base config plus the settings each member changes. Its members are ordinary
run folders beside every other run (``<runs>/<run-id>/``), so resume, evaluation, export,
following and the runs list treat them as any run; ``sweep.json`` names them by run id
(relative to the runs folder, so a runs folder moved or mounted elsewhere still works).
Only the process that coordinates the sweep writes ``sweep.json``; each member's own
``run.json`` stays the truth about that member while it trains.

    {"id", "created", "base": {config}, "axes": [{"key", "values"}], "ablation": bool,
     "evaluate": [evaluate flags] | null, "share_phase1": bool (absent: true),
     "members": [{"run", "label", "settings": {key: value}, "status", "message",
                  "evaluated": bool}]}
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import storage
from ..errors import GddError
from .folder import read_run_info

SWEEPS = "sweeps"
SWEEP_FILE = "sweep.json"


@dataclass(frozen=True)
class SweepFolder:
    """Where each file of one sweep lives."""

    dir: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "dir", Path(self.dir))

    @property
    def file(self) -> Path:
        return self.dir / SWEEP_FILE

    @property
    def runs_dir(self) -> Path:
        """The runs folder its members live in (two levels up: <runs>/sweeps/<id>)."""
        return self.dir.parent.parent

    def member_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def stop_flag(self) -> Path:
        """The file whose existence asks every member, on any worker, to stop (one per
        coordinating process, so two coordinators never stop each other)."""
        return self.dir / f".stop-{socket.gethostname()}-{os.getpid()}"


def eval_stop_flag(eval_dir: Path) -> Path:
    """The stop request of a distributed evaluation writing into ``eval_dir``."""
    return Path(eval_dir) / f".stop-{socket.gethostname()}-{os.getpid()}"


def new_sweep_dir(runs_dir: Path, name: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    root = Path(runs_dir) / SWEEPS
    try:
        root.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise GddError(f"cannot make {root}: a file is in the way") from None
    except PermissionError:
        raise GddError(f"cannot create {root}: permission denied") from None
    for i in range(1, 1000):
        path = root / (f"{stamp}-{name}" if i == 1 else f"{stamp}-{name}-{i}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise GddError(f"cannot create a sweep folder in {root}")  # pragma: no cover


def read_sweep(sweep_dir: str | Path) -> dict[str, Any]:
    """sweep.json, or one line saying why the folder is not a sweep."""
    path = SweepFolder(Path(sweep_dir)).file
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GddError(f"{sweep_dir} is not a sweep folder (no {SWEEP_FILE} in it)") from None
    except (OSError, ValueError) as exc:
        raise GddError(f"{path} is unreadable or corrupt ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("members"), list):
        raise GddError(f"{path} is not a GDD Studio sweep file")
    return doc


def write_sweep(sweep_dir: str | Path, doc: dict[str, Any]) -> None:
    storage.atomic_write_text(SweepFolder(Path(sweep_dir)).file, json.dumps(doc, indent=2) + "\n")


def is_sweep_dir(path: str | Path) -> bool:
    return SweepFolder(Path(path)).file.is_file()


def member_status(sweep_dir: str | Path, member: dict[str, Any]) -> str:
    """A member's status now: its run.json while it trains or after; sweep.json's word
    for a member that never started or whose folder is gone."""
    run_dir = SweepFolder(Path(sweep_dir)).member_dir(str(member.get("run", "")))
    info = read_run_info(run_dir) if run_dir.is_dir() else {"status": "missing"}
    status = str(info.get("status", "unknown"))
    if status in ("created", "unknown") and member.get("status") == "failed":
        return "failed"  # it failed before it could write its own run.json
    return status


def list_sweeps(runs_dir: Path) -> list[Path]:
    """Every sweep folder under ``runs_dir``, newest first."""
    root = Path(runs_dir) / SWEEPS
    try:
        found = [p for p in root.iterdir() if is_sweep_dir(p)]
    except OSError:
        return []
    return sorted(found, key=lambda p: p.name, reverse=True)


__all__ = [
    "SweepFolder", "eval_stop_flag", "is_sweep_dir", "list_sweeps", "member_status",
    "new_sweep_dir", "read_sweep", "write_sweep",
]  # fmt: skip
