"""The run folder's files of substance, read and written: its config, dataset facts,
checkpoints, generators and stored sets.

Evaluation, exports and the trainer all start here; nothing here trains (making a set
that is not stored yet is ``engine.sets.synthetic_set``). Every stored set records the
selection that made it; asking for another selection makes a new set, never reuses the
old one.
"""

from __future__ import annotations

import copy
import json
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import storage
from ..config import RunConfig, SamplingConfig, pool_at
from ..data import ImageDataset, load_dataset
from ..errors import CheckpointError, GddError
from ..models.gan import Generator
from .folder import RunFolder

CHECKPOINT_FORMAT = 1

SOURCES_WITH_GENERATOR = ("distilled", "gan-only")


@dataclass(frozen=True)
class OpenedRun:
    """A run folder opened once, at the edge (a CLI verb, the window's selection, a sweep
    member, a worker), and passed down instead of its path.

    ``config`` is the run's config.json as written, with the defaults of older files
    applied once (``run_config``): every reader below sees these settings, not whatever
    the disk holds by the time it looks. Treat it as read-only (copy what you change).
    What changes while a run is held (its status, results, new sets) is read from the
    folder where it is needed, by name (``rundir.folder.read_run_info``, ...).
    """

    dir: Path
    config: RunConfig

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.dir)


RunRef = Path | str | OpenedRun  # what the readers below accept: a path, or a run opened


def open_run(run: RunRef) -> OpenedRun:
    """Open a run folder (its config read once), or return a run opened already."""
    if isinstance(run, OpenedRun):
        return run
    run_dir = Path(run)
    path = RunFolder(run_dir).config
    if not path.is_file():
        raise CheckpointError(f"{run_dir} is not a run folder (no config.json in it)")
    cfg, written = RunConfig.load_with_dict(path)
    if "sampling" not in written:
        # Written before selection rules existed: its sets were the first draws.
        cfg.sampling = SamplingConfig(selection="random")
    return OpenedRun(run_dir, cfg)


def run_config(run: RunRef) -> RunConfig:
    """The run's config, a copy the caller may change (read from disk for a path)."""
    opened = open_run(run)
    return copy.deepcopy(opened.config) if opened is run else opened.config


def write_dataset_info(run_dir: Path, dataset_id: str, data: ImageDataset) -> dict[str, Any]:
    """Record what exports and evaluations need to know of the data without loading it."""
    info = {
        "id": dataset_id, "name": data.name, "source": data.source,
        "classes": list(data.classes), "channels": data.channels,
        "image_size": data.image_size, "mean": list(data.mean), "std": list(data.std),
        "train_images": len(data.x_train), "test_images": len(data.x_test),
    }  # fmt: skip
    storage.atomic_write_text(RunFolder(run_dir).dataset_info, json.dumps(info, indent=2) + "\n")
    return info


def dataset_info(run_dir: Path, run: OpenedRun | None = None) -> dict[str, Any]:
    """The dataset facts a run recorded when it started (classes, shape, normalization).

    A run folder without them (written before they were recorded) gets them from loading
    its dataset once.
    """
    path = RunFolder(run_dir).dataset_info
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        cfg = (run or open_run(run_dir)).config
        data = load_dataset(cfg.dataset, data_dir=cfg.data_dir, download=False)
        return write_dataset_info(run_dir, cfg.dataset, data)
    except ValueError:
        raise GddError(f"{path} is corrupt: it is not JSON") from None
    except OSError as exc:  # a folder in its place, no permission, ...
        raise GddError(f"{path} cannot be read ({exc.strerror or exc})") from None
    if not (isinstance(info, dict) and _DATASET_KEYS <= set(info)):
        raise GddError(
            f"{path} is damaged: it does not hold the dataset's "
            f"{', '.join(sorted(_DATASET_KEYS))}; delete it and the run rereads its dataset"
        )
    return info


_DATASET_KEYS = frozenset({"classes", "channels", "image_size", "mean", "std"})


def require_generator(run_dir: Path) -> Path:
    """The path of the run's final generator, or one message saying it has none yet; for
    an imported set (no generator, its set stored), the path of its record."""
    folder = RunFolder(run_dir)
    if folder.is_imported:
        return folder.imported
    path = folder.generator
    if not path.is_file():
        raise GddError(
            f"run {run_dir} has no generator yet ({path.name} is missing): "
            "finish or resume the run first"
        )
    return path


def load_run_generator(run: RunRef, which: str = "distilled") -> Generator:
    """The run's final generator (``"distilled"``) or its phase-1 one (``"gan-only"``)."""
    opened = open_run(run)
    run_dir, cfg = opened.dir, opened.config
    if opened.folder.is_imported:
        raise GddError(f"{run_dir} is a set imported from elsewhere: it has no generator")
    info = dataset_info(run_dir, opened)
    if which == "distilled":
        path = require_generator(run_dir)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
            raise GddError(f"{path} is corrupt or unreadable ({type(exc).__name__})") from None
        if not isinstance(state, dict):
            raise GddError(f"{path} is damaged: it holds no generator's weights")
    elif which == "gan-only":
        path = RunFolder(run_dir).phase_checkpoint(1)
        if not path.is_file():
            raise GddError(f"run {run_dir} has no phase-1 checkpoint ({path} is missing)")
        ckpt = load_checkpoint(path)
        # with gan.ema on, the moving average: the generator every set of the run is drawn from
        state = ckpt.get("G_ema", ckpt["G"])
    else:
        raise ValueError(f"unknown generator {which!r}")
    g = Generator(
        len(info["classes"]), cfg.model.nz, cfg.model.width, info["channels"], info["image_size"]
    )
    try:
        g.load_state_dict(state)
    except RuntimeError:
        raise GddError(f"the generator in {path} does not match {run_dir}/config.json") from None
    return g.eval()


def run_generator(run: RunRef, which: str = "distilled") -> Generator | None:
    """As ``load_run_generator``, but None for an imported set, whose stored set is all
    there is (``engine.sets.synthetic_set`` serves it without a generator)."""
    opened = open_run(run)
    return None if opened.folder.is_imported else load_run_generator(opened, which)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint safely (weights_only) or explain in one line why not."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        # PyTorch's own text advises loading with weights_only=False, which runs whatever
        # code the file holds: never pass that on.
        kind = (
            "refused by the safe loader"
            if isinstance(exc, pickle.UnpicklingError)
            else (type(exc).__name__)
        )
        raise CheckpointError(
            f"checkpoint {path} is damaged or was not written by GDD Studio ({kind})"
        ) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"checkpoint {path} is not a GDD Studio run checkpoint")
    return state


@dataclass(frozen=True)
class CheckpointCheck:
    """What a run can resume from: its ``last.pt``, or where that is missing or damaged,
    the latest whole phase checkpoint (``phase2.pt``, ``phase1.pt``) of the same config."""

    damaged: str | None  # last.pt's one-line load error, when it is there but unreadable
    missing: bool  # last.pt is not there
    fallback: Path | None  # the latest whole phase checkpoint, or None (then: step 0)
    fallback_step: int = 0

    def plan(self) -> str:
        """What a restart does, in words the CLI prints and the window asks with."""
        if self.fallback is not None:
            return (
                f"goes on from {self.fallback.name} (step {self.fallback_step}, the end of "
                f"phase {self.fallback.stem[-1]})"
            )
        return "starts over from step 0 (its metrics and grids are cleared)"


def check_checkpoints(run_dir: Path, same_training: Any = None) -> CheckpointCheck:
    """Load ``last.pt`` (and, when it is missing or damaged, the phase checkpoints) to say
    what a resume can start from. ``same_training(state)`` tells whether a phase
    checkpoint belongs to this run's config (default: any GDD Studio checkpoint)."""
    folder = RunFolder(run_dir)
    damaged = None
    missing = not folder.last_checkpoint.exists()
    if not missing:
        try:
            load_checkpoint(folder.last_checkpoint)
            return CheckpointCheck(None, False, None)
        except CheckpointError as exc:
            damaged = str(exc)
    for phase in (2, 1):
        path = folder.phase_checkpoint(phase)
        if not path.is_file():
            continue
        try:
            state = load_checkpoint(path)
        except CheckpointError:
            continue
        if same_training is None or same_training(state):
            return CheckpointCheck(damaged, missing, path, int(state.get("step", 0)))
    return CheckpointCheck(damaged, missing, None)


def synthetic_set_path(
    run: RunRef, ipc: int, source: str = "distilled", selection: str | None = None,
    choose_from: str | None = None,
) -> Path:  # fmt: skip
    """Where a generator's set is kept: ``distilled/ipc<N>.npz`` for the run's own rule;
    a set chosen by another rule gets the rule's name (``ipc<N>-random.npz``), and one
    chosen from another pool than the run's its name too (``ipc<N>-herding-real.npz``).
    Pools compare as they make a set of this IPC (``"auto"`` as the pool it stands for)."""
    opened = open_run(run)
    own = opened.config.sampling.at_ipc(ipc)
    rule = selection if selection is not None else own.selection
    pool = own.choose_from if choose_from is None else pool_at(choose_from, ipc)
    suffix = ""
    if rule != own.selection or (rule != "random" and pool != own.choose_from):
        suffix = f"-{rule}" + ("" if rule == "random" or pool == "generator" else f"-{pool}")
    if source == "distilled":
        return opened.folder.distilled(ipc, suffix)
    return opened.folder.eval / f"{source}-ipc{ipc}{suffix}.npz"


@dataclass
class StoredSet:
    """A generator's set as stored: the kept images and what they were chosen from."""

    images: np.ndarray  # uint8 (N, H, W, C)
    labels: np.ndarray  # int64 (N,)
    spec: dict[str, Any]  # the selection that made it (selection.selection_spec)
    new: bool  # made by this call (not read back)
    candidates: np.ndarray | None = None  # every draw considered (herding), for the viewer
    candidate_labels: np.ndarray | None = None
    kept: np.ndarray | None = None  # indices of the kept images among the candidates
    confidence: np.ndarray | None = None  # the observer's probability of each draw's label
    # per candidate: its index in the real training split, -1 for a generator draw (only
    # when herding chose among real images too)
    origin: np.ndarray | None = None

    @property
    def selection(self) -> str:
        return str(self.spec.get("selection", "random"))

    @property
    def generator_images(self) -> int | None:
        """How many of the set's images the generator made (draws, refined or not): all
        but the real training images herding kept; None for a set made elsewhere."""
        if self.selection == "imported":
            return None
        if self.origin is None or self.kept is None:
            return len(self.labels)
        return int((self.origin[self.kept] < 0).sum())


def read_stored_set(path: Path) -> StoredSet:
    """A set file as written by ``synthetic_set`` (or before selections were recorded)."""
    try:
        with np.load(path) as f:
            spec = json.loads(str(f["selection"])) if "selection" in f else {"selection": "random"}
            extra = {
                key: f[key]
                for key in ("candidates", "candidate_labels", "kept", "confidence", "origin")
                if key in f
            }  # fmt: skip
            return StoredSet(f["images"], f["labels"].astype(np.int64), spec, False, **extra)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise GddError(f"{path} is corrupt ({type(exc).__name__}); delete it to resample") from None


def write_stored_set(path: Path, images: np.ndarray, labels: np.ndarray, spec: dict[str, Any],
                     **extra: np.ndarray) -> None:  # fmt: skip
    """Store a set with the selection that made it (and, for herding, its candidates)."""
    arrays: dict[str, np.ndarray] = {
        "images": images, "labels": labels, "selection": np.array(json.dumps(spec)), **extra,
    }  # fmt: skip
    storage.atomic_save_npz(path, **arrays)
