"""What a run records as it goes, besides its checkpoints: ``metrics.csv`` (written in
bunches, cut back to the checkpoint on a resume), the image grids, ``run.json`` (what a
runs list shows), ``run.log`` and, on a failure, ``error.log``.

``RunRecords`` is a part of ``Run`` (engine/run.py), which owns the state it reads; the
folder's paths and file shapes are rundir/'s.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import socket
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from .. import storage
from ..config import RunConfig
from ..errors import GddError
from ..rundir.folder import RunFolder, keep_aside, write_run_info
from .events import GridImage, LogMessage, RunFinished, StepMetrics
from .sampling import make_grid, to_uint8

if TYPE_CHECKING:
    from .trainer import Trainer

METRIC_COLUMNS = [
    "g_loss", "g_adv", "g_cls", "match", "d_loss", "wasserstein", "gp", "d_cls",
    "pool_loss", "pool_acc", "dm_loss", "g_dm",
]  # fmt: skip


class RunRecords:
    """The records of a run: metrics in bunches, grids, run.json, the log and failures."""

    dir: Path
    cfg: RunConfig
    folder: RunFolder
    _info: dict[str, Any]
    _sink: Callable[[Any], None]
    _pending: list[tuple[int, int, int, dict[str, Tensor]]]
    _columns: list[str] | None

    def _write_info(self, **changes: Any) -> None:
        self._info.update(changes)
        self._info.setdefault("id", self.dir.name)
        self._info.update(
            dataset=self.cfg.dataset, ipc=self.cfg.ipc, tau=self.cfg.distill.tau,
            seed=self.cfg.seed, preset=self.cfg.preset, updated=time.time(), pid=os.getpid(),
            host=socket.gethostname(),
        )  # fmt: skip
        write_run_info(self.dir, self._info)

    def _emit(self, event: Any) -> None:
        self._sink(event)

    def _log(self, message: str, level: str = "info") -> None:
        line = f"{datetime.now().strftime('%Y-%m-%d %H:%M:%S')} {level}: {message}\n"
        with open(self.folder.log, "a", encoding="utf-8") as fh:
            fh.write(line)
        self._emit(LogMessage(level, message))

    def _error_log(self, exc: BaseException) -> None:
        text = "".join(traceback.format_exception(exc))
        try:
            with open(self.folder.error_log, "a", encoding="utf-8") as fh:
                fh.write(text)
        except OSError:
            pass  # a full disk: run.json below still says why

    def _fail(self, message: str) -> None:
        """Record the failure. On a full disk each write may fail in turn; the status
        must still stop saying "running", so run.json is rewritten in place as a last
        resort (a short file rewritten needs no new space)."""
        try:
            try:
                self._log(message, "error")
            except OSError:
                pass
            try:
                self._write_info(status="failed", message=message)
            except OSError:
                self._info.update(status="failed", message=message)
                try:
                    with open(self.folder.info, "r+", encoding="utf-8") as fh:
                        fh.write(json.dumps(self._info) + "\n")
                        fh.truncate()
                except OSError:
                    pass
        finally:
            self._emit(RunFinished("failed", str(self.dir), message))

    def _copy_phase1_records(self, src: RunFolder, step: int) -> None:
        kept = _metrics_upto(src.metrics, step) if src.metrics.is_file() else None
        if kept is not None:
            storage.atomic_write_text(self.metrics_path, kept)
        if src.grids.is_dir():
            for png in sorted(src.grids.glob("phase1_*.png")):
                storage.atomic_write_bytes(self.folder.grids / png.name, png.read_bytes())

    def _clear_records(self) -> None:
        """Before a restart from step 0: nothing of the earlier attempt may mix in (its
        metrics are kept aside, not lost)."""
        kept = self._keep_metrics_aside()
        for pattern in ("grids/*.png", "checkpoints/phase*.pt"):
            for path in self.dir.glob(pattern):
                path.unlink(missing_ok=True)
        self._info.pop("step", None)
        self._write_info()
        self._log(f"restarting from step 0: the earlier grids and checkpoints removed{kept}")

    def _keep_metrics_aside(self) -> str:
        """The metrics of an attempt that starts over, kept beside the run as
        ``metrics.before-start-over-<time>.csv`` (never wiped); what to tell the user of
        them, '' when there were no rows."""
        path = self.metrics_path
        # Its rows, less the header.
        rows = max(0, path.read_bytes().count(b"\n") - 1) if path.is_file() else 0
        if not rows:
            path.unlink(missing_ok=True)
            return ""
        aside = keep_aside(path, "before-start-over")
        return f"; the {rows} earlier metric rows are kept as {aside.name}"

    def _truncate_records(self, step: int) -> None:
        """Forget metrics and grids written after the checkpoint we resume from.

        A kill can cut the last row anywhere (even inside a multi-byte character) and an
        old crash may have left a damaged row: only rows whose step reads as a number at
        or before the checkpoint are kept.
        """
        if self.metrics_path.exists():
            kept = _metrics_upto(self.metrics_path, step)
            if kept is not None:
                storage.atomic_write_text(self.metrics_path, kept)
            elif b"\n" not in self.metrics_path.read_bytes():  # not even a whole header
                self.metrics_path.unlink()
            else:  # not a metrics table: a log, so the run goes on; the file is kept
                aside = keep_aside(self.metrics_path, "damaged")
                self._log(
                    f"metrics.csv is damaged (not a metrics table): kept aside as {aside.name}; "
                    f"the metrics start again after step {step}",
                    "warning",
                )
        grids = self.folder.grids
        if grids.is_dir():
            for png in grids.glob("*.png"):
                try:
                    if int(png.stem.split("_")[-1]) > step:
                        png.unlink()
                except ValueError:
                    continue

    def _flush_metrics(self) -> None:
        if not self._pending:
            return
        # One host sync for the whole bunch instead of one per loss per step.
        flat: list[Tensor] = []
        for _, _, _, values in self._pending:
            flat.extend(v.detach().float().reshape(()) for v in values.values())
        numbers = torch.stack(flat).tolist() if flat else []
        if not all(math.isfinite(x) for x in numbers):
            phase, step = self._pending[0][:2]
            self._pending.clear()
            raise GddError(
                f"the losses became non-finite (NaN or infinite) in phase {phase} by step "
                f"{step}: the run is stopped; lower the learning rate or check the data "
                "(the last checkpoint is kept)"
            )
        new_file = not self.metrics_path.exists()
        if new_file or self._columns is None:
            self._columns = METRIC_COLUMNS if new_file else self._metrics_columns()
        columns = self._columns
        i = 0
        with open(self.metrics_path, "a", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            if new_file:
                writer.writerow(["phase", "step", "epoch", "time", *columns])
            now = round(time.time(), 3)
            for phase, step, epoch, values in self._pending:
                row = {}
                for key in values:
                    row[key] = numbers[i]
                    i += 1
                writer.writerow(
                    [phase, step, epoch, now]
                    + [f"{row[c]:.6g}" if c in row else "" for c in columns]
                )
                self._emit(StepMetrics(phase, step, epoch, row))
        self._pending.clear()

    def _metrics_columns(self) -> list[str]:
        """The loss columns of an existing metrics.csv: a run written before a column was
        added keeps its own header, so its rows keep their width."""
        with open(self.metrics_path, encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh), [])
        return header[4:] if header[:2] == ["phase", "step"] else METRIC_COLUMNS

    def _save_grid(self, t: Trainer, phase: int) -> None:
        g = t.sampler  # the moving average when gan.ema is on: what the sets come from
        was_training = g.training
        g.eval()
        with torch.no_grad():
            images = to_uint8(g(self._grid_z.to(t.device)))
        g.train(was_training)
        grid = make_grid(images, t.data.num_classes, self.cfg.monitor.grid_cols)
        path = self.folder.grid(phase, t.step)
        storage.atomic_save_png(path, grid)
        self._emit(GridImage(phase, t.step, grid, str(path)))

    def _save_set_grid(self, t: Trainer) -> None:
        """The refined set as it stands: one row per class, up to grid_cols images."""
        images, labels = t.refiner.images(), t.refiner.labels
        cols = self.cfg.monitor.grid_cols
        k = t.data.num_classes
        rows = np.zeros((k * cols, *images.shape[1:]), dtype=np.uint8)
        for c in range(k):
            members = images[labels == c][:cols]
            rows[c * cols : c * cols + len(members)] = members
        grid = make_grid(rows, k, cols)
        path = self.folder.grid(3, t.step)
        storage.atomic_save_png(path, grid)
        self._emit(GridImage(3, t.step, grid, str(path)))


def _metrics_upto(path: Path, step: int) -> str | None:
    """``metrics.csv`` with only its complete rows at or before ``step``; None when the
    file has no header. A last line without its newline is cut (a kill mid-write), and a
    damaged row is dropped."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    try:
        rows = list(csv.reader(io.StringIO(text[: text.rfind("\n") + 1])))
    except csv.Error:  # not CSV at all (a stray carriage return, a NUL byte)
        return None
    if not rows or rows[0][:2] != ["phase", "step"]:
        return None
    kept = [rows[0]] + [r for r in rows[1:] if _row_step(r, len(rows[0])) <= step]
    buf = io.StringIO()
    csv.writer(buf).writerows(kept)
    return buf.getvalue()


def _row_step(row: list[str], width: int) -> float:
    """The step of a metrics row, or infinity for a damaged one (dropped on resume)."""
    if len(row) != width:
        return math.inf
    try:
        return int(row[1])
    except ValueError:
        return math.inf
