"""What a finished run leaves behind, read back: its generators and the sets they make.

Evaluation and exports both start here. The generator can make any IPC after the run, so
a set that is asked for and not yet stored is sampled (with the run's phase-3 seed, so the
run's own IPC gives exactly the stored ``distilled/ipc<N>.npz``) and kept for next time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import RunConfig
from ..data import ImageDataset, load_dataset
from ..errors import CheckpointError, GddError
from ..models.gan import Generator
from . import storage
from .sampling import SEED_SAMPLE, sample_images

CHECKPOINT_FORMAT = 1

SOURCES_WITH_GENERATOR = ("distilled", "gan-only")


def run_config(run_dir: Path) -> RunConfig:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{run_dir} is not a run folder (no config.json in it)")
    return RunConfig.load(path)


def write_dataset_info(run_dir: Path, dataset_id: str, data: ImageDataset) -> dict[str, Any]:
    """Record what exports and evaluations need to know of the data without loading it."""
    info = {
        "id": dataset_id, "name": data.name, "source": data.source,
        "classes": list(data.classes), "channels": data.channels,
        "image_size": data.image_size, "mean": list(data.mean), "std": list(data.std),
        "train_images": len(data.x_train), "test_images": len(data.x_test),
    }  # fmt: skip
    storage.atomic_write_text(Path(run_dir) / "dataset.json", json.dumps(info, indent=2) + "\n")
    return info


def dataset_info(run_dir: Path) -> dict[str, Any]:
    """The dataset facts a run recorded when it started (classes, shape, normalization).

    A run folder without them (written before they were recorded) gets them from loading
    its dataset once.
    """
    path = Path(run_dir) / "dataset.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        cfg = run_config(run_dir)
        data = load_dataset(cfg.dataset, data_dir=cfg.data_dir, download=False)
        return write_dataset_info(run_dir, cfg.dataset, data)
    except ValueError:
        raise GddError(f"{path} is corrupt: it is not JSON") from None


def require_generator(run_dir: Path) -> Path:
    """The path of the run's final generator, or one message saying it has none yet."""
    path = Path(run_dir) / "generator.pt"
    if not path.is_file():
        raise GddError(
            f"run {run_dir} has no generator yet ({path.name} is missing): "
            "finish or resume the run first"
        )
    return path


def load_run_generator(run_dir: Path, which: str = "distilled") -> Generator:
    """The run's final generator (``"distilled"``) or its phase-1 one (``"gan-only"``)."""
    run_dir = Path(run_dir)
    cfg, info = run_config(run_dir), dataset_info(run_dir)
    if which == "distilled":
        path = require_generator(run_dir)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
            raise GddError(f"{path} is corrupt or unreadable ({type(exc).__name__})") from None
    elif which == "gan-only":
        path = run_dir / "checkpoints" / "phase1.pt"
        if not path.is_file():
            raise GddError(f"run {run_dir} has no phase-1 checkpoint ({path} is missing)")
        state = load_checkpoint(path)["G"]
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


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint safely (weights_only) or explain in one line why not."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"checkpoint {path} is corrupt or unreadable ({reason})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"checkpoint {path} is not a GDD Studio run checkpoint")
    return state


def synthetic_set_path(run_dir: Path, ipc: int, source: str = "distilled") -> Path:
    if source == "distilled":
        return Path(run_dir) / "distilled" / f"ipc{ipc}.npz"
    return Path(run_dir) / "eval" / f"{source}-ipc{ipc}.npz"


def synthetic_set(
    run_dir: Path,
    ipc: int,
    source: str = "distilled",
    device: torch.device | str = "cpu",
    generator: Generator | None = None,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """(uint8 N x H x W x C images, int64 labels, newly sampled?) of a generator's set."""
    if source not in SOURCES_WITH_GENERATOR:
        raise ValueError(f"no generator makes the {source!r} set")
    if ipc < 1:
        raise GddError(f"IPC must be at least 1, got {ipc}")
    path = synthetic_set_path(run_dir, ipc, source)
    if path.is_file():
        try:
            with np.load(path) as f:
                return f["images"], f["labels"].astype(np.int64), False
        except (OSError, ValueError, KeyError) as exc:
            raise GddError(
                f"{path} is corrupt ({type(exc).__name__}); delete it to resample"
            ) from None
    g = generator if generator is not None else load_run_generator(run_dir, source)
    cfg = run_config(run_dir)
    images, labels = sample_images(
        g.to(device), g.num_classes, ipc, cfg.model.nz, cfg.seed * 1000 + SEED_SAMPLE, device
    )
    storage.atomic_save_npz(path, images=images, labels=labels)
    return images, labels, True
