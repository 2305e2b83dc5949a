"""Sets made elsewhere, imported to be judged beside the runs (issue 29).

A set distilled by another method or program (MTT, DATM, DM, D4M, RDED, a set this product
exported) becomes a folder in the runs folder that looks like a finished run without a
generator: ``config.json`` (the dataset the set stands for, its IPC), ``run.json`` (status
``imported``, where it came from), ``dataset.json``, ``imported.json`` (what was read and
how) and the set itself as ``distilled/ipc<N>.npz``. ``evaluate``, the comparison, ``chart``
and ``export`` then work on it as on a run; only what needs a generator (another IPC, the
GAN-only baseline, the on-the-fly protocol, exporting a generator) is refused in one line.

Formats read (``read_set``):

- a folder holding ``images_best.pt`` and ``labels_best.pt``: the MTT / DATM layout (and
  this product's ``tensors`` export), images normalised with the dataset's mean and std;
- a folder with one subfolder of images per class (torchvision's ``ImageFolder``, this
  product's ``png`` export): subfolders named by the dataset's class names or by the
  class indices;
- an ``.npz`` with ``x`` and ``y`` (or ``images`` and ``labels``: this product's ``npz``);
- a ``.pt`` / ``.pth`` file holding a dict with ``images`` (or ``x``, ``data``) and
  ``labels`` (or ``y``, ``targets``), or an (images, labels) pair: DD-Ranking's tensors
  and this product's ``pt`` export.

Images are taken as uint8 (0 to 255) or floats in [0, 1], channels first or last, except in
the MTT layout, where they are normalised and the normalisation is undone. Every check is
made before anything is written, each failure is one line naming the file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import storage
from ..config import RunConfig, preset_config
from ..data import ImageDataset
from ..errors import GddError
from ..rundir.artifacts import write_dataset_info, write_stored_set
from ..rundir.folder import RunFolder, new_run_dir, write_run_info

IMPORTED = "imported"  # run.json's status, and the stored set's selection
MTT_FILES = ("images_best.pt", "labels_best.pt")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
IMAGE_KEYS = ("images", "x", "data", "image_syn")
LABEL_KEYS = ("labels", "y", "targets", "label_syn")
# After undoing a normalisation, a set of images lies in [0, 1] but for rounding; a
# ZCA-whitened set (MTT's --zca) does not, since whitening is not undone by mean and std.
OUTSIDE_TOLERANCE = 0.05  # how far outside [0, 1] a value may lie and count as inside
OUTSIDE_SHARE = 0.01  # the share of values allowed beyond that before the set is refused


class ImportError_(GddError):
    """A set that cannot be imported: one line naming the file and what is wrong."""


def _fail(path: Path, why: str) -> ImportError_:
    return ImportError_(f"cannot import {path}: {why}")


# ---- reading -----------------------------------------------------------------------------


def read_set(path: Path, classes: list[str]) -> tuple[np.ndarray, np.ndarray, bool, str]:
    """(images, labels, normalised, format) as the file holds them: images an array of
    any layout and type, labels (N,) or (N, K); ``normalised``: the MTT layout's
    images, normalised with the dataset's mean and std."""
    if path.is_dir():
        if all((path / name).is_file() for name in MTT_FILES):
            images = _tensor(path / MTT_FILES[0])
            labels = _tensor(path / MTT_FILES[1])
            return images, labels, True, "MTT/DATM tensors (images_best.pt, labels_best.pt)"
        return (*_read_image_folder(path, classes), False, "image folder")
    if not path.is_file():
        raise _fail(path, "no such file or folder")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as f:
                keys = set(f.files)
                images = _pick(path, f, keys, IMAGE_KEYS, "images")
                labels = _pick(path, f, keys, LABEL_KEYS, "labels")
        except (OSError, ValueError) as exc:
            raise _fail(path, f"not a readable .npz ({exc})") from None
        return np.asarray(images), np.asarray(labels), False, "npz"
    if suffix in (".pt", ".pth"):
        obj = _load_torch(path)
        if isinstance(obj, dict):
            keys = {str(k) for k in obj}
            images = _pick(path, obj, keys, IMAGE_KEYS, "images")
            labels = _pick(path, obj, keys, LABEL_KEYS, "labels")
        elif isinstance(obj, (list, tuple)) and len(obj) == 2:
            images, labels = obj
        else:
            raise _fail(path, "a .pt set holds a dict with images and labels, or an "
                        "(images, labels) pair")  # fmt: skip
        return _numpy(path, images), _numpy(path, labels), False, "torch tensors"
    raise _fail(
        path, "not a set this app reads: an .npz, a .pt, a folder with images_best.pt and "
        "labels_best.pt, or a folder of class folders of images",
    )  # fmt: skip


def _pick(path: Path, holder: Any, keys: set[str], names: tuple[str, ...], what: str) -> Any:
    for name in names:
        if name in keys:
            return holder[name]
    raise _fail(path, f"no {what} in it (looked for {', '.join(names)}; it holds "
                f"{', '.join(sorted(keys)) or 'nothing'})")  # fmt: skip


def _load_torch(path: Path) -> Any:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise _fail(
            path, f"not a tensor file the safe loader reads ({type(exc).__name__})"
        ) from None


def _tensor(path: Path) -> np.ndarray:
    return _numpy(path, _load_torch(path))


def _numpy(path: Path, value: Any) -> np.ndarray:
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu().float().numpy() if value.is_floating_point() else (
            value.detach().cpu().numpy()
        )  # fmt: skip
    if isinstance(value, np.ndarray):
        return value
    raise _fail(path, f"holds a {type(value).__name__} where a tensor was expected")


def _read_image_folder(path: Path, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image, UnidentifiedImageError

    folders = sorted(p for p in path.iterdir() if p.is_dir())
    if not folders:
        raise _fail(path, "a set folder holds images_best.pt and labels_best.pt, or one "
                    "folder of images per class")  # fmt: skip
    names = {str(c): i for i, c in enumerate(classes)}
    images, labels = [], []
    for folder in folders:
        if folder.name in names:
            label = names[folder.name]
        elif folder.name.isdigit() and int(folder.name) < len(classes):
            label = int(folder.name)
        else:
            raise _fail(folder, f"'{folder.name}' is neither a class of the dataset "
                        f"({', '.join(map(str, classes))}) nor a class index")  # fmt: skip
        for f in sorted(folder.iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with Image.open(f) as im:
                    images.append(np.asarray(im.convert("RGB" if im.mode not in ("L", "I;16")
                                                        else "L")))  # fmt: skip
            except (OSError, UnidentifiedImageError):
                raise _fail(f, "not a readable image") from None
            labels.append(label)
    if not images:
        raise _fail(path, "its class folders hold no images")
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise _fail(path, f"its images differ in size ({', '.join(map(str, sorted(shapes)))})")
    return np.stack(images), np.asarray(labels, dtype=np.int64)


# ---- checking ----------------------------------------------------------------------------


def to_set(
    path: Path, images: np.ndarray, labels: np.ndarray, normalised: bool, data: ImageDataset
) -> tuple[np.ndarray, np.ndarray, int]:
    """The set as every stored set is (uint8 (N, H, W, C), int64 labels grouped by class)
    and its IPC, checked against the dataset; one line on the first thing that is wrong."""
    c, s, k = data.channels, data.image_size, data.num_classes
    x = np.asarray(images)
    if x.ndim == 3:  # (N, H, W): one channel
        x = x[:, :, :, None] if x.shape[1:] == (s, s) else x
    if x.ndim != 4:
        raise _fail(path, f"images of shape {tuple(x.shape)}; expected (N, {c}, {s}, {s}) or "
                    f"(N, {s}, {s}, {c}) for {data.name}")  # fmt: skip
    if x.shape[1:] == (c, s, s):
        x = x.transpose(0, 2, 3, 1)
    if x.shape[1:] != (s, s, c):
        raise _fail(path, f"images of shape {tuple(x.shape)}; {data.name} is {c} x {s} x {s} "
                    f"(channels x height x width)")  # fmt: skip
    if x.dtype == np.uint8:
        u8 = x
    else:
        if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
            raise _fail(path, f"images of type {x.dtype}")
        xf = x.astype(np.float64)
        if not np.isfinite(xf).all():
            raise _fail(path, "its images hold NaN or infinite values")
        if normalised:
            mean = np.asarray(data.mean, dtype=np.float64).reshape(1, 1, 1, -1)
            std = np.asarray(data.std, dtype=np.float64).reshape(1, 1, 1, -1)
            xf = xf * std + mean
            outside = float(np.mean((xf < -OUTSIDE_TOLERANCE) | (xf > 1 + OUTSIDE_TOLERANCE)))
            if outside > OUTSIDE_SHARE:
                raise _fail(path, f"{100 * outside:.0f} % of its values lie outside [0, 1] "
                            f"once {data.name}'s mean and std are undone: a ZCA-whitened set "
                            "(MTT's --zca) cannot be read without its whitening statistics; "
                            "save it unwhitened")  # fmt: skip
        elif xf.min() >= -1e-6 and xf.max() <= 1 + 1e-6:
            pass  # floats in [0, 1]
        elif xf.min() >= 0 and xf.max() <= 255 and np.all(xf == np.round(xf)):
            xf = xf / 255
        else:
            raise _fail(path, f"image values from {xf.min():.3g} to {xf.max():.3g}: expected "
                        "floats in [0, 1] or 0 to 255 (a set normalised with the dataset's "
                        "mean and std is read from the MTT layout: images_best.pt and "
                        "labels_best.pt in a folder)")  # fmt: skip
        u8 = (np.clip(xf, 0, 1) * 255).round().astype(np.uint8)
    y = np.asarray(labels)
    if y.ndim == 2:
        raise _fail(path, f"soft labels ({y.shape[0]} x {y.shape[1]}): the protocol trains on "
                    "hard labels, one class per image; save the class indices")  # fmt: skip
    if y.ndim != 1 or len(y) != len(u8):
        raise _fail(path, f"{len(u8)} images but labels of shape {tuple(y.shape)}")
    if not np.issubdtype(y.dtype, np.integer):
        if not (np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y))
                and np.all(y == np.round(y))):  # fmt: skip
            raise _fail(path, f"labels of type {y.dtype} that are not class indices")
        y = y.astype(np.int64)
    y = y.astype(np.int64)
    if len(y) == 0:
        raise _fail(path, "it holds no images")
    if y.min() < 0 or y.max() >= k:
        raise _fail(path, f"labels from {y.min()} to {y.max()}; {data.name} has {k} classes "
                    f"(0 to {k - 1})")  # fmt: skip
    counts = np.bincount(y, minlength=k)
    if counts.min() == 0:
        missing = ", ".join(str(i) for i in np.flatnonzero(counts == 0)[:5])
        raise _fail(path, f"no images of class {missing}: a distilled set holds every class")
    if counts.min() != counts.max():
        raise _fail(path, f"from {counts.min()} to {counts.max()} images per class: a set of "
                    "an IPC holds as many of each class")  # fmt: skip
    order = np.argsort(y, kind="stable")  # grouped by class, each class in its own order
    return np.ascontiguousarray(u8[order]), y[order], int(counts[0])


# ---- the folder ----------------------------------------------------------------------------


def import_set(
    source: Path, dataset: str, data: ImageDataset, runs_dir: Path
) -> Path:
    """Read, check and store a set made elsewhere as a folder in ``runs_dir``; its path."""
    source = Path(source)
    images, labels, normalised, fmt = read_set(source, list(data.classes))
    x, y, ipc = to_set(source, images, labels, normalised, data)
    cfg: RunConfig = preset_config("cpu")  # its evaluation section: the CPU protocol
    cfg.dataset, cfg.ipc, cfg.preset = dataset, ipc, IMPORTED
    cfg.evaluation.gan_only = False  # no generator, no phase 1
    run_dir = new_run_dir(Path(runs_dir), dataset, ipc)
    folder = RunFolder(run_dir)
    cfg.save(folder.config)
    write_dataset_info(run_dir, dataset, data)
    folder.distilled(ipc).parent.mkdir(exist_ok=True)
    spec = {"selection": IMPORTED, "format": fmt, "from": str(source.resolve())}
    write_stored_set(folder.distilled(ipc), x, y, spec)
    record = {"from": str(source.resolve()), "format": fmt, "images": len(y), "ipc": ipc,
              "normalisation_undone": normalised, "imported": time.time()}  # fmt: skip
    storage.atomic_write_text(folder.imported, json.dumps(record, indent=2) + "\n")
    write_run_info(run_dir, {
        "id": run_dir.name, "status": IMPORTED, "created": time.time(), "dataset": dataset,
        "ipc": ipc, "preset": IMPORTED, "format": fmt, "imported_from": str(source.resolve()),
        "message": f"{len(y)} images imported from {source.name} ({fmt})",
    })  # fmt: skip
    return run_dir


__all__ = ["IMPORTED", "ImportError_", "import_set", "read_set", "to_set"]
