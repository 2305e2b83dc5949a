"""The ``dm-real`` baseline: distribution matching from real images, at the run's budget.

Researchers compare a distilled set against DM anyway; this makes the comparison part of
every evaluation that asks for it. DM (models/matching.py) starts from the random real
baseline's first subset (the same IPC and the same images) and runs for as long as the
run itself trained (``elapsed_s`` in run.json), or for the minutes asked.

The matching runs on the clock: it stops when the budget is spent, so the baseline gets
the run's minutes, no more and no fewer. An iteration count fixed in advance from a few
timed iterations missed by 14 to 20 % either way (the pace of the first iterations is not
the pace of the hour, and the machine's other work changes it), which is larger than the
differences the baseline is there to judge. The count the budget reached is recorded, so
the set is still reproducible: it is stored in the run's ``eval/`` folder with that count,
the minutes asked and the minutes taken, a later evaluation with the same budget reuses
it, and a set made again with the recorded count (``iterations``) is the same set.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .. import storage
from ..config import RefineConfig
from ..data import ImageDataset
from ..engine.events import StepRate
from ..errors import ConfigError
from ..models.augment import DSA
from ..models.matching import DistributionMatcher
from ..models.runtime import FP32_EAGER, Runtime
from ..rundir.folder import RunFolder, read_run_info

DM_REAL = "dm-real"
PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True)
class DmProgress:
    """The dm-real set of ``ipc`` is at ``iteration`` of ``iterations``: on a budget, the
    count the pace so far will reach (the last report gives the count reached); None
    while unknown. ``eta_s`` is the budget's time left."""

    ipc: int
    iteration: int
    iterations: int | None
    elapsed_s: float
    eta_s: float | None


@dataclass
class DmSet:
    images: Tensor  # uint8 (N, C, H, W), on the evaluation's device
    labels: Tensor  # int64 (N,)
    meta: dict[str, Any]  # how it was made (what the row records)
    new: bool  # made by this call (not read from eval/)


def run_minutes(run_dir: str | Path) -> float | None:
    """Minutes the run trained (phases 1 to 3, pauses excluded), or None if not recorded."""
    elapsed = read_run_info(Path(run_dir)).get("elapsed_s")
    if not isinstance(elapsed, int | float) or elapsed <= 0:
        return None
    return float(elapsed) / 60


def budget_minutes(run_dir: str | Path, asked: float | None) -> tuple[float, str]:
    """(minutes, where they come from): the minutes asked, or the run's training time."""
    if asked is not None:
        return float(asked), "asked"
    minutes = run_minutes(run_dir)
    if minutes is None:
        raise ConfigError(
            f"run {Path(run_dir).name} has no recorded training time (elapsed_s in run.json), "
            "so the dm-real baseline cannot be given the same time: choose the minutes "
            "(--dm-minutes M, evaluation.dm_minutes)"
        )
    return minutes, "the run's training time"


def dm_set_path(run_dir: str | Path, ipc: int, seed: int, minutes: float) -> Path:
    return RunFolder(Path(run_dir)).eval / f"dm-real-ipc{ipc}-seed{seed}-{minutes:.6g}min.npz"


@dataclass(frozen=True)
class DmSettings:
    """DM's own settings for the baseline. A run that refines with DM gives its own
    (``from_refine``), so that the baseline differs from the run's last phase only in where
    it starts (real images) and in having the whole time: the generator's worth, measured.
    Otherwise the refinement's defaults (DM's: 128 real images per class, width 128, SGD
    lr 1, momentum 0.5), taken from ``RefineConfig`` so the two cannot drift apart."""

    real_per_class: int = RefineConfig.real_per_class
    width: int = RefineConfig.width
    lr: float = RefineConfig.lr
    momentum: float = RefineConfig.momentum

    @classmethod
    def from_refine(cls, refine: RefineConfig) -> DmSettings:
        if refine.method != "dm":
            return cls()
        return cls(refine.real_per_class, refine.width, refine.lr, refine.momentum)


def _recipe(
    ipc: int, seed: int, minutes: float, strategy: str, subset_seed: int, runtime: Runtime,
    dm: DmSettings,
) -> dict:  # fmt: skip
    """What decides the set apart from the data: a stored set with another recipe is not
    reused. The runtime is part of it: compiled DM runs about twice the iterations in the
    same minutes, and the baseline gets what the run's own refinement gets."""
    return {
        "ipc": ipc, "seed": seed, "minutes_asked": round(minutes, 6), "strategy": strategy,
        "subset_seed": subset_seed, "real_per_class": dm.real_per_class, "width": dm.width,
        "lr": dm.lr, "momentum": dm.momentum, "init": "random real subset",
        **runtime.describe(),
    }  # fmt: skip


def _read(path: Path, recipe: dict, device: torch.device) -> DmSet | None:
    try:
        with np.load(path, allow_pickle=False) as f:
            images, labels, meta = f["images"], f["labels"], json.loads(str(f["meta"]))
    except (OSError, ValueError, KeyError):
        return None
    if any(meta.get(k) != v for k, v in recipe.items()):
        return None
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous().to(device)
    return DmSet(x, torch.from_numpy(labels).to(device), meta, new=False)


def dm_real_set(
    run_dir: str | Path,
    data: ImageDataset,
    ipc: int,
    minutes: float,
    init: Tensor,
    strategy: str,
    *,
    seed: int = 0,
    subset_seed: int = 0,
    iterations: int | None = None,
    runtime: Runtime = FP32_EAGER,
    dm: DmSettings = DmSettings(),
    on_progress: Callable[[DmProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    log: Callable[[str], None] = lambda m: None,
) -> DmSet | None:
    """The stored dm-real set of this budget, or a new one made and stored; None if stopped.

    ``init``: indices (into ``data``'s training split) of the starting images, chosen with
    ``subset_seed``. ``iterations``, when given, replaces the timing (to make a recorded
    set again). Nothing is stored when the making is stopped.
    """
    device = data.x_train.device
    path = dm_set_path(run_dir, ipc, seed, minutes)
    recipe = _recipe(ipc, seed, minutes, strategy, subset_seed, runtime, dm)
    if iterations is None:
        stored = _read(path, recipe, device)
        if stored is not None:
            log(
                f"DM from real, IPC {ipc}: the set of {stored.meta['iterations']} iterations "
                f"({minutes:.2f} min) from {path.parent.name}/{path.name}"
            )
            return stored
    init = init.to(device)
    matcher = DistributionMatcher(
        data.x_train, data.y_train, data.y_train[init], data.mean, data.std,
        images=data.x_train[init], num_classes=data.num_classes,
        real_per_class=dm.real_per_class, width=dm.width, lr=dm.lr, momentum=dm.momentum,
        dsa=DSA(strategy), seed=seed,
        autocast=runtime.bf16, wrap=runtime.wrap if runtime.compiled else None,
    )  # fmt: skip
    budget_s = minutes * 60
    log(
        f"DM from real, IPC {ipc}: "
        + (f"{iterations} iterations" if iterations else f"{minutes:.2f} min of matching")
    )
    start = last_report = time.perf_counter()
    pace = StepRate()  # an iteration count's ETA: 'estimating' until the warm-up is behind
    while True:
        if should_stop is not None and should_stop():
            log(f"DM from real, IPC {ipc}: stopped at iteration {matcher.iteration}")
            return None
        if iterations is not None and matcher.iteration >= iterations:
            break
        if iterations is None and time.perf_counter() - start >= budget_s:
            break  # the budget is spent: the count reached is the set's recipe
        matcher.step()
        pace.tick()
        now = time.perf_counter()
        done, spent = matcher.iteration, now - start
        if on_progress is not None and (now - last_report > PROGRESS_EVERY_S or done == 1):
            last_report = now
            if iterations is not None:
                total, eta = iterations, pace.eta(iterations - done)
            else:  # the count the budget will reach at the pace so far
                total = max(done, round(budget_s * done / spent))
                eta = max(0.0, budget_s - spent)
            on_progress(DmProgress(ipc, done, total, spent, eta))
    if on_progress is not None:
        done = matcher.iteration
        on_progress(DmProgress(ipc, done, done, time.perf_counter() - start, 0.0))
    taken = (time.perf_counter() - start) / 60
    meta = dict(recipe, iterations=matcher.iteration, minutes_taken=round(taken, 2),
                device=str(device))  # fmt: skip
    images = matcher.uint8_images()
    labels = data.y_train[init]
    storage.atomic_save_npz(
        path,
        images=images.permute(0, 2, 3, 1).cpu().numpy(),
        labels=labels.cpu().numpy().astype(np.int64),
        meta=np.array(json.dumps(meta)),
    )
    log(f"DM from real, IPC {ipc}: {matcher.iteration} iterations in {taken:.2f} min, "
        f"kept as {path.parent.name}/{path.name}")  # fmt: skip
    return DmSet(images, labels, meta, new=True)


__all__ = [
    "DM_REAL", "DmProgress", "DmSet", "DmSettings", "budget_minutes", "dm_real_set", "dm_set_path",
    "run_minutes",
]  # fmt: skip
