"""Phase 3 after the fact: a generator's set at any IPC, made once and kept.

The generator can make any IPC after the run, so a set that is asked for and not yet
stored is made (drawn with the run's phase-3 seed and chosen by its selection rule, so the
run's own IPC gives exactly the stored ``distilled/ipc<N>.npz``) and kept for next time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..config import RunConfig, SamplingConfig
from ..data import ImageDataset, load_dataset
from ..errors import GddError
from ..models.fit import normalizer
from ..models.gan import Generator
from ..rundir.artifacts import (
    SOURCES_WITH_GENERATOR,
    OpenedRun,
    RunRef,
    StoredSet,
    load_run_generator,
    open_run,
    read_stored_set,
    synthetic_set_path,
    write_stored_set,
)
from ..rundir.folder import keep_aside
from .events import fmt_duration, fmt_eta
from .refine import Refiner, refine_at, refine_runtime, set_spec
from .sampling import SEED_OBSERVER, SEED_SAMPLE
from .selection import Selection, load_or_train_observer, real_pool, select_set


def choose_set(
    run_dir: Path,
    cfg: RunConfig,
    ipc: int,
    g: Generator,
    device: torch.device | str,
    sampling: SamplingConfig,
    data: ImageDataset | None,
    log: Callable[[str], None] = lambda m: None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[Selection, ImageDataset | None]:
    """Draw from ``g`` and keep IPC per class by ``sampling`` (nothing written but the
    observer, kept under ``selection/``); also the dataset, loaded when herding needed it.
    Raises GddError("stopped") when ``should_stop`` interrupts the observer's training."""
    g = g.to(device)
    observer = targets = norm = real = None
    if sampling.selection != "random":
        if data is None:
            data = load_dataset(cfg.dataset, data_dir=cfg.data_dir, download=False)
        observer = load_or_train_observer(
            Path(run_dir), data, sampling, cfg.seed * 1000 + SEED_OBSERVER, device, log,
            should_stop, cfg.runtime,
        )  # fmt: skip
        if observer is None:
            raise GddError("stopped while training the selection observer")
        pool = real_pool(observer, data, device)
        targets = pool.class_means(data.num_classes)
        norm = normalizer(data.mean, data.std, device)
        if sampling.choose_from != "generator":
            real = pool
    chosen = select_set(
        g, ipc, cfg.model.nz, cfg.seed * 1000 + SEED_SAMPLE, device, sampling, observer,
        targets, norm, real,
    )  # fmt: skip
    if chosen.origin is not None:
        drawn = int((chosen.origin[chosen.kept] < 0).sum())
        real = len(chosen.kept) - drawn
        log(
            f"herding kept {drawn} generator draw{'s' * (drawn != 1)} and {real} real "
            f"training image{'s' * (real != 1)} (choosing from '{sampling.choose_from}')"
        )
    return chosen, data


def selection_extra(sampling: SamplingConfig, chosen: Selection) -> dict[str, Any]:
    """What a stored set keeps beside its images: the candidates herding chose from."""
    if sampling.selection == "random":
        return {}
    extra = {
        "candidates": chosen.candidates, "candidate_labels": chosen.candidate_labels,
        "kept": chosen.kept, "confidence": chosen.confidence,
    }  # fmt: skip
    if chosen.origin is not None:
        extra["origin"] = chosen.origin
    return extra


def _stored_or_aside(path: Path, log: Callable[[str], None]) -> StoredSet | None:
    """The set stored at ``path``; None when there is none, or when what is there cannot
    be read (truncated, or a folder in its place): that is kept aside, named in the log,
    and the set is made again from the generator."""
    if not (path.exists() or path.is_symlink()):
        return None
    try:
        if not path.is_file():
            raise GddError(f"{path} is not a file")
        return read_stored_set(path)
    except GddError as exc:
        aside = keep_aside(path, "damaged")
        log(f"{exc}: kept aside as {aside.name}; the set is made again")
        return None


def imported_set(run: OpenedRun, ipc: int, source: str = "distilled") -> StoredSet:
    """The set of a folder imported from elsewhere: only its own IPC, as stored (no
    generator makes another, nor a GAN-only baseline)."""
    if source != "distilled":
        raise GddError(f"{run.dir.name} is an imported set: it has no {source} set")
    if ipc != run.config.ipc:
        raise GddError(
            f"{run.dir.name} is a set imported at IPC {run.config.ipc}: it has no generator "
            f"to make IPC {ipc}"
        )
    path = run.folder.distilled(ipc)
    try:
        if not path.is_file():
            raise GddError(f"{path} is not a file")
        return read_stored_set(path)
    except GddError as exc:
        raise GddError(f"the imported set is damaged or gone ({exc}): import it again") from None


def synthetic_set(
    run_dir: RunRef,
    ipc: int,
    source: str = "distilled",
    device: torch.device | str = "cpu",
    generator: Generator | None = None,
    sampling: SamplingConfig | None = None,
    data: ImageDataset | None = None,
    log: Callable[[str], None] = lambda m: None,
    should_stop: Callable[[], bool] | None = None,
) -> StoredSet:
    """A generator's set at ``ipc``, chosen by ``sampling`` (default: the run's own rule)
    and refined as the run's ``refine`` says.

    Read back when stored with the same selection and refinement; otherwise drawn,
    chosen, refined and stored. Herding needs the real training split (``data``, loaded
    when not given) and the run's observer (trained once, kept under ``selection/``); so
    does the refinement. Raises GddError("stopped") when ``should_stop`` interrupts the
    observer's training or the refinement.
    """
    if source not in SOURCES_WITH_GENERATOR:
        raise ValueError(f"no generator makes the {source!r} set")
    if ipc < 1:
        raise GddError(f"IPC must be at least 1, got {ipc}")
    run = open_run(run_dir)
    cfg = run.config
    if run.folder.is_imported:
        return imported_set(run, ipc, source)
    sampling = (sampling or cfg.sampling).at_ipc(ipc)
    refine = refine_at(cfg.refine, ipc, cfg.ipc)
    spec = set_spec(sampling, refine)
    path = synthetic_set_path(run, ipc, source, sampling.selection, sampling.choose_from)
    stored = _stored_or_aside(path, log)
    if stored is not None:
        if stored.spec == spec:
            return stored
        if stored.spec.get("refine") == spec.get("refine"):
            log(
                f"{path.name} was chosen by '{stored.selection}' selection; "
                f"making the '{spec['selection']}' set in its place"
            )
        else:
            log(f"{path.name} was refined otherwise; making it with this run's refinement")
    g = generator if generator is not None else load_run_generator(run, source)
    chosen, data = choose_set(run.dir, cfg, ipc, g, device, sampling, data, log, should_stop)
    images = chosen.images
    if "refine" in spec:
        if data is None:
            data = load_dataset(cfg.dataset, data_dir=cfg.data_dir, download=False)
        data = data.to(device)
        refiner = Refiner(
            chosen.images, chosen.labels, data, refine, cfg.seed,
            refine_runtime(
                refine, cfg.runtime, device, (data.channels, data.image_size,
                data.image_size), data.num_classes, ipc,
            ),
        )  # fmt: skip
        what = f"refining the {source} IPC-{ipc} set"
        log(f"{what}: {refine.iterations} DM iterations")
        started = time.perf_counter()

        def progress(i: int, n: int) -> None:
            # 'estimating' until the first iterations (torch's warm-up) are behind
            spent = time.perf_counter() - started
            log(f"{what}: {i} / {n}, {fmt_duration(spent)} spent, "
                f"ETA {fmt_eta(refiner.pace.eta(n - i))}")  # fmt: skip

        if not refiner.run(should_stop, progress):
            raise GddError("stopped while refining the set")
        images = refiner.images()
    extra = selection_extra(sampling, chosen)
    write_stored_set(path, images, chosen.labels, spec, **extra)
    return StoredSet(images, chosen.labels, spec, True, **extra)
