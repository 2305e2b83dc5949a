"""The run folder: every path in it, new run ids, and run.json read and written.

A run folder is written by one process (the trainer, holding ``.lock``) and read by many
(the runs list, the window's follower, evaluation, export, resume, another machine). This
module is the one that knows its layout; the README's "Where things live" lists the same
files. Nothing here imports the trainer.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import storage
from ..errors import GddError
from ..storage import fcntl
from .lock import LOCK_NAME, RunLock, is_locked

ACTIVE = ("running", "paused")


@dataclass(frozen=True)
class RunFolder:
    """Where each file of one run lives (see the README's "Where things live")."""

    dir: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "dir", Path(self.dir))

    @property
    def config(self) -> Path:
        return self.dir / "config.json"

    @property
    def info(self) -> Path:
        return self.dir / "run.json"

    @property
    def metrics(self) -> Path:
        return self.dir / "metrics.csv"

    @property
    def log(self) -> Path:
        return self.dir / "log.txt"

    @property
    def error_log(self) -> Path:
        return self.dir / "error.log"

    @property
    def grids(self) -> Path:
        return self.dir / "grids"

    def grid(self, phase: int, step: int) -> Path:
        return self.grids / f"phase{phase}_{step:07d}.png"

    @property
    def checkpoints(self) -> Path:
        return self.dir / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.pt"

    def phase_checkpoint(self, phase: int) -> Path:
        return self.checkpoints / f"phase{phase}.pt"

    @property
    def imported(self) -> Path:
        """Present in a folder holding a set made elsewhere (``export/imported.py``): it has
        a stored set and no generator."""
        return self.dir / "imported.json"

    @property
    def is_imported(self) -> bool:
        return self.imported.is_file()

    @property
    def generator(self) -> Path:
        return self.dir / "generator.pt"

    @property
    def dataset_info(self) -> Path:
        return self.dir / "dataset.json"

    def distilled(self, ipc: int, suffix: str = "") -> Path:
        return self.dir / "distilled" / f"ipc{ipc}{suffix}.npz"

    @property
    def selection(self) -> Path:
        return self.dir / "selection"

    @property
    def eval(self) -> Path:
        return self.dir / "eval"

    @property
    def results(self) -> Path:
        return self.eval / "results.json"

    @property
    def results_lock(self) -> Path:
        """Held while an evaluation merges its rows into results.json (two may at once)."""
        return self.eval / ".results.lock"

    def written(self) -> list[Path]:
        """Every file and folder a training process writes in the run (none of them may
        be a link out of the run folder: what it writes would land elsewhere)."""
        return [
            self.dir / LOCK_NAME, self.info, self.config, self.metrics, self.log,
            self.error_log, self.grids, self.checkpoints, self.distilled(0).parent,
            self.selection, self.eval,
        ]  # fmt: skip

    def lock(self) -> RunLock:
        return RunLock(self.dir)


# ---- writing safely into a folder others may have touched -----------------------------

# Sub-folders whose temporary files a process that opens the run to write may clear.
WRITTEN_FOLDERS = ("", "checkpoints", "grids", "distilled", "eval", "selection")
_GRACE_S = 2.0  # an empty temporary file younger than this may not be locked by its writer yet
_UNLOCKED_AGE_S = 3600.0  # without file locks, an old one is taken for a dead writer's


def clear_stale_temporaries(
    run_dir: Path, folders: tuple[str, ...] = WRITTEN_FOLDERS
) -> list[Path]:
    """Remove the hidden ``.<name>.<random>.tmp`` files that a killed write left (the first
    half of ``storage.atomic_write``); returns those removed.

    A writer holds a lock on its temporary file while it writes, so a file whose lock can
    be taken has no writer: another process writing the same folder (an evaluation next
    to a training) keeps its file. Where locks are not available, only old files go.
    """
    removed = []
    now = time.time()
    for sub in folders:
        folder = Path(run_dir) / sub
        try:
            found = [p for p in folder.glob(".*.tmp") if p.is_file() and not p.is_symlink()]
        except OSError:
            continue
        for tmp in found:
            try:
                st = tmp.stat()
                # An empty one may be in the instant between its creation and its lock.
                young = st.st_size == 0 and now - st.st_mtime < _GRACE_S
                if young or not _writer_gone(tmp, now):
                    continue
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                continue
    return removed


def _writer_gone(tmp: Path, now: float) -> bool:
    if fcntl is None:  # pragma: no cover - Windows
        return now - tmp.stat().st_mtime >= _UNLOCKED_AGE_S
    fd = os.open(tmp, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # its writer holds it
    finally:
        os.close(fd)  # drops the lock we may have taken
    return True


def outside_link(run_dir: Path, path: Path) -> Path | None:
    """Where ``path`` (in the run folder) really leads when a symbolic link on the way
    takes it out of the run folder; None when it stays inside (or does not exist yet)."""
    root = Path(run_dir).resolve()
    real = Path(path).resolve()
    return None if real == root or root in real.parents else real


def require_inside(run_dir: Path, *paths: Path) -> None:
    """Refuse to write through a link out of the run folder (``eval/`` pointing at another
    run's or a shared folder): what we write there would replace someone else's files."""
    for path in paths:
        real = outside_link(run_dir, path)
        if real is not None:
            raise GddError(
                f"{path} is a link to {real}, outside the run folder {run_dir}: nothing is "
                "written through it; replace the link with a folder"
            )


def keep_aside(path: Path, why: str) -> Path:
    """Rename a file we will not use or overwrite (damaged, or not ours) to a name beside
    it that says so, ``<stem>.<why>-<time><suffix>``; returns the new path."""
    path = Path(path)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        extra = "" if n == 1 else f"-{n}"
        target = path.with_name(f"{path.stem}.{why}-{stamp}{extra}{path.suffix}")
        if not target.exists():
            os.replace(path, target)
            return target
    raise GddError(f"cannot keep {path} aside")  # pragma: no cover


def write_run_info(run_dir: Path, info: dict[str, Any]) -> None:
    storage.atomic_write_text(RunFolder(run_dir).info, json.dumps(info, indent=2) + "\n")


def _slug(text: str) -> str:
    keep = "".join(ch if ch.isalnum() else "-" for ch in Path(text.split(":")[-1]).name or text)
    return "-".join(filter(None, keep.lower().split("-")))[:32] or "data"


def new_run_dir(runs_dir: Path, dataset: str, ipc: int) -> Path:
    """A new, empty run folder named by the time, the dataset and the IPC."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{_slug(dataset)}-ipc{ipc}"
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise GddError(f"the runs folder {runs_dir} is a file, not a folder") from None
    except PermissionError:
        raise GddError(f"cannot create the runs folder {runs_dir}: permission denied") from None
    for i in range(1, 1000):
        path = runs_dir / (base if i == 1 else f"{base}-{i}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise GddError(f"cannot create a run folder in {runs_dir}")  # pragma: no cover


def read_run_info(run_dir: Path) -> dict[str, Any]:
    """run.json, with a run whose process died marked "interrupted"."""
    path = RunFolder(run_dir).info
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = None
    if not isinstance(info, dict):  # unreadable, or JSON that is not an object ([])
        return {"id": Path(run_dir).name, "status": "unknown"}
    if info.get("status") in ACTIVE and not _writer_alive(run_dir, info):
        info["status"] = "interrupted"
    return info


def busy_message(run_dir: Path, info: dict[str, Any]) -> str:
    """The refusal when another process trains in ``run_dir`` (it holds the lock)."""
    who = f"process {info.get('pid')} on {info.get('host')}" if info.get("pid") else "a process"
    return f"run {run_dir} is being trained by {who}; stop it first"


def _writer_alive(run_dir: Path, info: dict[str, Any]) -> bool:
    """The lock says it on this machine; a folder from before locks falls back on the pid."""
    if info.get("host") == socket.gethostname():
        locked = is_locked(run_dir)
        if locked is not None:
            return locked
    return _process_alive(info)


def _process_alive(info: dict[str, Any]) -> bool:
    if info.get("host") != socket.gethostname():
        # Another machine writes it (a shared runs folder): trust a recent heartbeat.
        return time.time() - float(info.get("updated", 0)) < 3600
    pid = info.get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return pid == os.getpid()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


__all__ = [
    "RunFolder", "RunLock", "busy_message", "clear_stale_temporaries", "is_locked",
    "keep_aside", "new_run_dir", "outside_link", "read_run_info", "require_inside",
    "write_run_info",
]  # fmt: skip
