"""Exports of a run: the distilled set in three formats and the generator that makes more.

Every export is written atomically (a temporary file or folder beside the target, renamed
into place) and refuses to replace an existing target unless ``overwrite`` is given, so an
export never leaves a half-written file and never destroys one by surprise.

- ``.pt``: ``torch.load(path, weights_only=True)`` gives a dict with ``images`` (float32
  N x C x H x W in [0, 1]), ``labels`` (int64 N) and the metadata to use them (classes,
  dataset, IPC, normalization mean/std, the run's config).
- ``.npz``: ``images`` (uint8 N x H x W x C) and ``labels`` (int64 N), the keys of the
  embedded MNIST sample, plus ``classes``.
- PNG folder: ``<class>/<index>.png`` (torchvision's ``ImageFolder`` layout). Class folders
  sort in label order, so ImageFolder's labels are the run's labels.
- tensors folder: ``images_best.pt`` (float32 N x C x H x W, *normalized* with the dataset's
  mean/std, as MTT/DATM store their sets and DD-Ranking reads them), ``labels_best.pt``
  (int64 N) and ``meta.json`` (normalization, classes, selection); plain tensors, so
  ``torch.load(path, weights_only=True)`` reads them.

Every set export records the selection rule that chose its images.
- generator: a ``.pt`` dict with the state dict and everything needed to rebuild and
  sample it (``load_generator_file``), again readable with ``weights_only=True``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__, storage
from ..config import SamplingConfig, validate_sampling
from ..engine.sampling import sample_images
from ..engine.sets import synthetic_set
from ..errors import NO_SPACE, DiskFullError, GddError, no_space_message
from ..models.gan import Generator
from ..paths import normal_mode
from ..rundir.artifacts import (
    RunRef,
    dataset_info,
    load_run_generator,
    open_run,
    require_generator,
)
from ..rundir.folder import RunFolder, require_inside

SET_FORMATS = ("pt", "npz", "png", "tensors")
FORMATS = (*SET_FORMATS, "generator")
GENERATOR_FORMAT = "gdd-studio-generator/1"


class ExportError(GddError):
    """An export that cannot be written as asked (exists already, bad format, ...)."""


# What a folder export writes, by format: --force replaces a folder only when it holds
# nothing else (an earlier export of the same format), never a folder of other things.
FOLDER_EXPORTS = {
    "png": "PNG folder",
    "tensors": "tensors folder",
}
TENSOR_FILES = frozenset({"images_best.pt", "labels_best.pt", "meta.json"})
PNG_INDEX = "classes.json"


def check_target(path: Path, overwrite: bool, folder: str | None = None) -> Path:
    """The export's target, checked before anything is made: its folder exists, and an
    existing target is replaced only with ``overwrite`` and only when it is what this
    export writes: a file for a file export; for ``folder`` (a key of FOLDER_EXPORTS), a
    folder holding nothing but an earlier export of that format. Never a run folder or a
    file inside one, whatever ``overwrite`` says."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ExportError(f"folder {path.parent} does not exist")
    if not (path.exists() or path.is_symlink()):
        return path
    if not overwrite:
        raise ExportError(f"{path} exists already: choose another name, or replace it (--force)")
    run = enclosing_run(path)
    if run is not None:
        what = "is the run folder" if run == path.resolve() else f"is inside the run folder {run}"
        raise ExportError(f"{path} {what}: an export never replaces a run's files; "
                          "choose a path outside it")  # fmt: skip
    if folder is None:
        if path.is_dir():
            raise ExportError(f"{path} is a folder: give the export a file name inside it")
        return path
    label = FOLDER_EXPORTS[folder]
    if not path.is_dir():
        raise ExportError(f"{path} is a file, not a {label}: choose another name")
    others = _not_written_by(path, folder)
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise ExportError(
            f"{path} holds files a {label} export does not write ({shown}): --force replaces "
            f"only an earlier {label} export; choose a new folder name"
        )
    return path


def enclosing_run(path: Path) -> Path | None:
    """The run folder that ``path`` is, or lies in (through links too); else None."""
    real = Path(path).resolve()
    for folder in (real, *real.parents):
        if RunFolder(folder).info.is_file():
            return folder
    return None


def _not_written_by(folder: Path, fmt: str) -> list[str]:
    """What in ``folder`` an export of ``fmt`` would not have written, sorted."""
    others = []
    for entry in sorted(folder.iterdir()):
        if fmt == "tensors":
            ours = entry.name in TENSOR_FILES and entry.is_file() and not entry.is_symlink()
        elif entry.name == PNG_INDEX:
            ours = entry.is_file() and not entry.is_symlink()
        else:  # a class folder holds its PNG images and nothing else
            ours = (entry.is_dir() and not entry.is_symlink()) and all(
                f.suffix == ".png" and f.is_file() and not f.is_symlink() for f in entry.iterdir()
            )
        if not ours:
            others.append(entry.name + ("/" if entry.is_dir() else ""))
    return others


@contextmanager
def _writing(out: Path):
    """A write the file system refuses (read-only, no permission) as one line naming the
    path the user gave; a full disk as a DiskFullError naming its folder, as storage's
    own writes say it (the folder exports write through tempfile, not storage)."""
    try:
        yield
    except OSError as exc:
        if exc.errno in NO_SPACE:
            raise DiskFullError(no_space_message(out.parent)) from None
        raise ExportError(f"cannot write {out}: {exc.strerror or exc}") from None


def class_folder_names(classes: list[str]) -> list[str]:
    """Folder names that sort in label order (ImageFolder assigns labels alphabetically)."""
    safe = [re.sub(r"[^A-Za-z0-9._-]+", "-", str(c)).strip("-.") or "class" for c in classes]
    if len(set(safe)) == len(safe) and sorted(safe) == safe:
        return safe
    digits = len(str(len(classes) - 1))
    return [f"{k:0{digits}d}_{name}" for k, name in enumerate(safe)]


def export_set(
    run_dir: RunRef,
    fmt: str,
    ipc: int,
    out: Path,
    overwrite: bool = False,
    device: str = "cpu",
    sampling: SamplingConfig | None = None,
) -> Path:
    """Write the run's distilled set at ``ipc`` (made from its generator if not stored).

    ``sampling`` chooses the selection rule (default: the run's own).
    """
    if fmt not in SET_FORMATS:
        raise ExportError(f"unknown set format '{fmt}' (choose from: {', '.join(SET_FORMATS)})")
    out = check_target(Path(out), overwrite, fmt if fmt in FOLDER_EXPORTS else None)
    run = open_run(run_dir)
    info, cfg = dataset_info(run.dir, run), run.config
    if sampling is not None:
        validate_sampling(sampling)
    folder = RunFolder(run.dir)  # a set made now is kept there: never through a link out
    require_inside(run.dir, folder.distilled(ipc).parent, folder.selection)
    stored = synthetic_set(run, ipc, "distilled", device, sampling=sampling)
    classes = list(info["classes"])
    with _writing(out):
        _write_set(fmt, out, stored, classes, info, cfg, ipc)
    return out


def _written_spec(stored) -> dict:
    """What an exported set says of how it was made: the selection, and how many of its
    images the generator made (the rest are real training images herding kept)."""
    return {**stored.spec, "generator_images": stored.generator_images}


def _write_set(fmt, out, stored, classes, info, cfg, ipc) -> None:
    images, labels = stored.images, stored.labels
    spec = _written_spec(stored)
    selection = json.dumps(spec)
    if fmt == "npz":
        storage.atomic_save_npz(
            out, images=images, labels=labels, classes=np.array(classes),
            selection=np.array(selection),
        )  # fmt: skip
    elif fmt == "tensors":
        _write_tensor_folder(out, images, labels, classes, info, cfg, ipc, spec)
    elif fmt == "pt":
        payload = {
            "images": torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255).contiguous(),
            "labels": torch.from_numpy(labels.astype(np.int64)),
            "classes": classes,
            "dataset": cfg.dataset,
            "ipc": ipc,
            "mean": list(info["mean"]),
            "std": list(info["std"]),
            "normalization": "images are in [0, 1]; normalize with (x - mean) / std per channel",
            "selection": spec,
            "config": cfg.to_dict(),
            "gdd_studio": __version__,
        }
        storage.atomic_torch_save(out, payload)
    else:
        _write_png_folder(out, images, labels, classes)


def _write_png_folder(out: Path, images: np.ndarray, labels: np.ndarray, classes: list[str]):
    from PIL import Image

    names = class_folder_names(classes)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        counts = [0] * len(classes)
        for image, label in zip(images, labels, strict=True):
            folder = tmp / names[int(label)]
            folder.mkdir(exist_ok=True)
            arr = image[..., 0] if image.shape[-1] == 1 else image
            Image.fromarray(arr).save(folder / f"{counts[int(label)]:05d}.png")
            counts[int(label)] += 1
        (tmp / PNG_INDEX).write_text(
            json.dumps({"folders": names, "classes": classes}, indent=2) + "\n", encoding="utf-8"
        )
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_tensor_folder(out, images, labels, classes, info, cfg, ipc, spec) -> None:
    """MTT/DATM's ``images_best.pt`` + ``labels_best.pt`` (DD-Ranking's tensor input)."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255)
    mean = torch.tensor(info["mean"], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(info["std"], dtype=torch.float32).view(1, -1, 1, 1)
    meta = {
        "images": "images_best.pt: float32 N x C x H x W, normalized: (x - mean) / std with x "
        "in [0, 1]; multiply by std and add mean to get [0, 1] back",
        "labels": "labels_best.pt: int64 N, the class index of every image",
        "mean": list(info["mean"]), "std": list(info["std"]), "classes": classes,
        "dataset": cfg.dataset, "ipc": ipc, "images_count": len(labels), "selection": spec,
        "gdd_studio": __version__,
    }  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        torch.save(((x - mean) / std).contiguous(), tmp / "images_best.pt")
        torch.save(torch.from_numpy(labels.astype(np.int64)), tmp / "labels_best.pt")
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace_dir(new: Path, target: Path) -> None:
    """Put a finished folder in place; an old target is removed only once the new is whole."""
    os.chmod(new, normal_mode(directory=True))  # mkdtemp made it 0700
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old) if target.is_dir() else target.rename(old)
        os.replace(new, target)
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()
    else:
        os.replace(new, target)


def export_generator(run_dir: RunRef, out: Path, overwrite: bool = False) -> Path:
    """The final generator with what rebuilds it: classes, shape, noise size, config."""
    out = check_target(Path(out), overwrite)
    run = open_run(run_dir)
    require_generator(run.dir)
    g = load_run_generator(run, "distilled")
    info, cfg = dataset_info(run.dir, run), run.config
    payload = {
        "format": GENERATOR_FORMAT,
        "state_dict": g.state_dict(),
        "num_classes": g.num_classes,
        "nz": cfg.model.nz,
        "width": cfg.model.width,
        "channels": int(info["channels"]),
        "image_size": int(info["image_size"]),
        "classes": list(info["classes"]),
        "mean": list(info["mean"]),
        "std": list(info["std"]),
        "dataset": cfg.dataset,
        "seed": cfg.seed,
        "config": cfg.to_dict(),
        "gdd_studio": __version__,
    }
    with _writing(out):
        storage.atomic_torch_save(out, payload)
    return out


def load_generator_file(path: Path) -> tuple[Generator, dict[str, Any]]:
    """Rebuild an exported generator: (the network in eval mode, its metadata)."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ExportError(f"generator file {path} does not exist") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise ExportError(f"{path} is corrupt or unreadable ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != GENERATOR_FORMAT:
        raise ExportError(f"{path} is not a GDD Studio generator export")
    g = Generator(
        payload["num_classes"], payload["nz"], payload["width"], payload["channels"],
        payload["image_size"],
    )  # fmt: skip
    g.load_state_dict(payload["state_dict"])
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    return g.eval(), meta


def sample_from_file(path: Path, ipc: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Any IPC from an exported generator: uint8 N x H x W x C images and int64 labels."""
    g, meta = load_generator_file(path)
    return sample_images(g, meta["num_classes"], ipc, meta["nz"], seed, "cpu")
