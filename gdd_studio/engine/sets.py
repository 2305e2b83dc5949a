"""Phase 3 after the fact: a generator's set at any IPC, made once and kept.

The generator can make any IPC after the run, so a set that is asked for and not yet
stored is made (drawn with the run's phase-3 seed and chosen by its selection rule, so the
run's own IPC gives exactly the stored ``distilled/ipc<N>.npz``) and kept for next time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..config import SamplingConfig
from ..data import ImageDataset, load_dataset
from ..errors import GddError
from ..models.fit import normalizer
from ..models.gan import Generator
from ..rundir.artifacts import (
    SOURCES_WITH_GENERATOR,
    StoredSet,
    load_run_generator,
    read_stored_set,
    run_config,
    synthetic_set_path,
    write_stored_set,
)
from .sampling import SEED_OBSERVER, SEED_SAMPLE
from .selection import load_or_train_observer, real_class_means, select_set, selection_spec


def synthetic_set(
    run_dir: Path,
    ipc: int,
    source: str = "distilled",
    device: torch.device | str = "cpu",
    generator: Generator | None = None,
    sampling: SamplingConfig | None = None,
    data: ImageDataset | None = None,
    log: Callable[[str], None] = lambda m: None,
    should_stop: Callable[[], bool] | None = None,
) -> StoredSet:
    """A generator's set at ``ipc``, chosen by ``sampling`` (default: the run's own rule).

    Read back when stored with the same selection; otherwise drawn, chosen and stored.
    Herding needs the real training split (``data``, loaded when not given) and the
    run's observer (trained once, kept under ``selection/``). Raises GddError("stopped")
    when ``should_stop`` interrupts the observer's training.
    """
    if source not in SOURCES_WITH_GENERATOR:
        raise ValueError(f"no generator makes the {source!r} set")
    if ipc < 1:
        raise GddError(f"IPC must be at least 1, got {ipc}")
    cfg = run_config(run_dir)
    sampling = sampling or cfg.sampling
    spec = selection_spec(sampling)
    path = synthetic_set_path(run_dir, ipc, source, sampling.selection)
    if path.is_file():
        stored = read_stored_set(path)
        if stored.spec == spec:
            return stored
        log(
            f"{path.name} was chosen by '{stored.selection}' selection; "
            f"making the '{spec['selection']}' set in its place"
        )
    g = generator if generator is not None else load_run_generator(run_dir, source)
    g = g.to(device)
    observer = targets = norm = None
    if sampling.selection != "random":
        if data is None:
            data = load_dataset(cfg.dataset, data_dir=cfg.data_dir, download=False)
        observer = load_or_train_observer(
            Path(run_dir), data, sampling, cfg.seed * 1000 + SEED_OBSERVER, device, log,
            should_stop, cfg.runtime,
        )  # fmt: skip
        if observer is None:
            raise GddError("stopped while training the selection observer")
        targets = real_class_means(observer, data, device)
        norm = normalizer(data.mean, data.std, device)
    chosen = select_set(
        g, ipc, cfg.model.nz, cfg.seed * 1000 + SEED_SAMPLE, device, sampling, observer,
        targets, norm,
    )  # fmt: skip
    extra: dict[str, Any] = {}
    if sampling.selection != "random":
        extra = {
            "candidates": chosen.candidates, "candidate_labels": chosen.candidate_labels,
            "kept": chosen.kept, "confidence": chosen.confidence,
        }  # fmt: skip
    write_stored_set(path, chosen.images, chosen.labels, spec, **extra)
    return StoredSet(chosen.images, chosen.labels, spec, True, **extra)
