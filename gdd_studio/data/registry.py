"""Dataset ids and specs, where each dataset is looked for, and loading into tensors.

Everything works offline by default: the embedded MNIST sample always loads, and the full
datasets are found in a user-given folder, in GDD Studio's own datasets folder, or (for
Fashion-MNIST) where Debian's ``dataset-fashion-mnist`` package puts it. Downloading is
opt-in (``download=True``) because the app must never touch the network behind the
user's back, and downloads go through torchvision but are read back with this package's
own checked readers so both paths give identical tensors.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..errors import DatasetError
from ..paths import datasets_dir
from . import formats

BUILTIN_DATASETS: tuple[str, ...] = (
    "mnist-sample", "mnist", "fashion-mnist", "cifar10", "svhn", "cifar100",
)  # fmt: skip

TITLES: dict[str, str] = {
    "mnist-sample": "MNIST (embedded 5,000-image sample)",
    "mnist": "MNIST (60,000 + 10,000 images)",
    "fashion-mnist": "Fashion-MNIST (60,000 + 10,000 images)",
    "cifar10": "CIFAR-10 (50,000 + 10,000 images)",
    "svhn": "SVHN (73,257 + 26,032 digits)",
    "cifar100": "CIFAR-100 (50,000 + 10,000 images, 100 classes)",
}

# Folders outside GDD Studio's control that distributions install datasets into. A tuple
# at module level so tests (and packagers) can replace it.
FASHION_MNIST_SYSTEM_DIRS: tuple[str, ...] = ("/usr/share/datasets/fashion-mnist",)

MNIST_CLASSES = [str(i) for i in range(10)]
FASHION_MNIST_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]

# The customary per-channel constants, so results are comparable with published numbers.
NORMALIZATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion-mnist": ((0.2861,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    "svhn": ((0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970)),
    "cifar100": ((0.5071, 0.4866, 0.4409), (0.2673, 0.2564, 0.2762)),
}

SAMPLE_RESOURCE = "mnist_sample.npz"

# Folder names torchvision uses under its root, i.e. where a download lands.
_TORCHVISION_FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
_ALIASES = {
    "mnist_sample": "mnist-sample",
    "mnistsample": "mnist-sample",
    "sample": "mnist-sample",
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
    "cifar-100": "cifar100",
    "cifar_100": "cifar100",
}
_SPEC_FORMS = "folder:PATH (PATH/train/<class>/, PATH/test/<class>/) or npz:PATH"


# ---- public types ----------------------------------------------------------------------


@dataclass
class ImageDataset:
    """A labelled image dataset held in memory as uint8, ready for the engine.

    Images stay uint8 (4x smaller than float) and are scaled/normalized batch by batch with
    ``mean``/``std``, which are for images already scaled to [0, 1].
    """

    name: str
    classes: list[str]
    x_train: torch.Tensor = field(repr=False)
    y_train: torch.Tensor = field(repr=False)
    x_test: torch.Tensor = field(repr=False)
    y_test: torch.Tensor = field(repr=False)
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str
    # What loading left out or changed that the user should hear of (one line each); a
    # run logs them as warnings.
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Cheap shape/dtype checks (no pass over the data, so to(device) stays cheap).
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] not in (1, 3):
                raise DatasetError(
                    f"{self.name}: x_{split} must be uint8 (N, C, H, W) with C 1 or 3, "
                    f"got {x.dtype} {tuple(x.shape)}"
                )
            if x.shape[2] != x.shape[3] or x.shape[2] not in (28, 32):
                raise DatasetError(
                    f"{self.name}: x_{split} images must be 28x28 or 32x32, "
                    f"got {x.shape[2]}x{x.shape[3]}"
                )
            if y.dtype != torch.int64 or y.shape != (x.shape[0],):
                raise DatasetError(
                    f"{self.name}: y_{split} must be int64 ({x.shape[0]},), "
                    f"got {y.dtype} {tuple(y.shape)}"
                )
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise DatasetError(f"{self.name}: train and test images differ in shape")
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise DatasetError(f"{self.name}: mean/std need one value per channel")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.x_train.shape[2])

    def per_class_counts(self) -> list[int]:
        """Training images per class, e.g. to show imbalance or cap images-per-class."""
        counts = torch.bincount(self.y_train.cpu(), minlength=self.num_classes)
        return [int(c) for c in counts.tolist()]

    def to(self, device: torch.device | str) -> ImageDataset:
        """A copy with all four tensors on ``device``; the original stays where it was."""
        return replace(
            self,
            classes=list(self.classes),
            x_train=self.x_train.to(device),
            y_train=self.y_train.to(device),
            x_test=self.x_test.to(device),
            y_test=self.y_test.to(device),
        )


@dataclass(frozen=True)
class DatasetStatus:
    """Whether a built-in dataset can be loaded offline right now, for pickers and the CLI."""

    id: str
    title: str
    available: bool
    location: str | None
    note: str


# ---- specs -----------------------------------------------------------------------------


def _parse_spec(spec: str) -> tuple[str, Path | None]:
    """``(kind, path)``: kind is a built-in id, ``"folder"`` or ``"npz"``."""
    if not isinstance(spec, str) or not spec.strip():
        raise DatasetError(
            f"no dataset given; use one of {', '.join(BUILTIN_DATASETS)} or {_SPEC_FORMS}"
        )
    text = spec.strip()
    prefix, sep, rest = text.partition(":")
    if sep and prefix.lower() in ("folder", "npz"):
        if not rest.strip():
            raise DatasetError(f"dataset spec '{spec}' has no path after '{prefix}:'")
        path = Path(os.path.abspath(Path(rest.strip()).expanduser()))
        return prefix.lower(), path
    key = text.lower()
    key = _ALIASES.get(key, key)
    if key in BUILTIN_DATASETS:
        return key, None
    raise DatasetError(
        f"unknown dataset '{spec}'; use one of {', '.join(BUILTIN_DATASETS)} or {_SPEC_FORMS}"
    )


def check_dataset_spec(spec: str) -> None:
    """Raise :class:`DatasetError` for an unknown id or malformed spec.

    Only the syntax is checked (nothing is read, not even whether a path exists), so a
    config can be validated on a machine that does not hold the data.
    """
    _parse_spec(spec)


def dataset_family(spec: str) -> str:
    """The family that picks per-dataset defaults: mnist, fashion-mnist, cifar10 or custom."""
    kind, _ = _parse_spec(spec)
    if kind in ("folder", "npz"):
        return "custom"
    return "mnist" if kind == "mnist-sample" else kind


# ---- where things are looked for -------------------------------------------------------


def _idx_candidates(ds_id: str, data_dir: Path | None) -> list[Path]:
    """Folders that may hold the four IDX files, in search order.

    In the user's ``data_dir`` the files may lie directly or in torchvision's layout. In
    GDD Studio's own folder only per-dataset subfolders count (torchvision's layout, which
    is where a download lands, or ``<id>/``), because MNIST and Fashion-MNIST use the
    same file names and loose files there could be either.
    """
    raw = Path(_TORCHVISION_FOLDERS[ds_id]) / "raw"
    out: list[Path] = []
    if data_dir is not None:
        out += [data_dir, data_dir / raw]
    home = datasets_dir()
    out += [home / raw, home / ds_id]
    if ds_id == "fashion-mnist":
        out += [Path(p) for p in FASHION_MNIST_SYSTEM_DIRS]
    return out


def _idx_paths(folder: Path) -> dict[str, Path] | None:
    found = {k: formats.find_idx_file(folder, stem) for k, stem in formats.IDX_FILES.items()}
    if any(p is None for p in found.values()):
        return None
    return {k: p for k, p in found.items() if p is not None}


def _find_idx(ds_id: str, data_dir: Path | None) -> tuple[Path | None, list[Path]]:
    candidates = _idx_candidates(ds_id, data_dir)
    for folder in candidates:
        if _idx_paths(folder) is not None:
            return folder, candidates
    return None, candidates


def _cifar_candidates(data_dir: Path | None) -> list[Path]:
    return ([data_dir] if data_dir is not None else []) + [datasets_dir()]


def _find_cifar(data_dir: Path | None) -> tuple[Path | None, list[Path]]:
    """A folder with the batches, or an archive to extract; plus the folders searched."""
    bases = _cifar_candidates(data_dir)
    for base in bases:
        for folder in (base / formats.CIFAR_FOLDER, base):
            if formats.cifar_folder_complete(folder):
                return folder, bases
        archive = base / formats.CIFAR_ARCHIVE
        if archive.is_file():
            return archive, bases
    return None, bases


def _dir_arg(data_dir: str | os.PathLike[str] | None) -> Path | None:
    if data_dir is None or str(data_dir).strip() == "":
        return None
    return Path(os.path.abspath(Path(data_dir).expanduser()))


def _looked_for(ds_id: str) -> str:
    if ds_id == "cifar10":
        return f"{formats.CIFAR_FOLDER}/ (data_batch_1..5, test_batch) or {formats.CIFAR_ARCHIVE}"
    if ds_id == "svhn":
        return f"svhn/{' and '.join(formats.SVHN_FILES)}"
    if ds_id == "cifar100":
        return f"{formats.CIFAR100_FOLDER}/ (train, test, meta)"
    return ", ".join(f"{s}[.gz]" for s in formats.IDX_FILES.values())


def _joined(paths: list[Path]) -> str:
    return ", ".join(str(p) for p in paths)


# ---- listing ---------------------------------------------------------------------------


def list_datasets(data_dir: str | None = None) -> list[DatasetStatus]:
    """The four built-ins and whether each is loadable offline, checking only that files exist.

    Nothing is parsed, so this is cheap enough to call whenever a picker opens.
    """
    base = _dir_arg(data_dir)
    out: list[DatasetStatus] = []
    for ds_id in BUILTIN_DATASETS:
        title = TITLES[ds_id]
        if ds_id == "mnist-sample":
            path = _sample_path()
            if path.is_file():
                out.append(DatasetStatus(ds_id, title, True, str(path), "embedded, always there"))
            else:
                out.append(
                    DatasetStatus(ds_id, title, False, None, f"embedded file {path} is missing")
                )
            continue
        found, searched = _find(ds_id, base)
        if found is not None:
            note = f"found in {found}"
            if found.name == formats.CIFAR_ARCHIVE:
                note = f"archive found at {found}; unpacked on first load"
            out.append(DatasetStatus(ds_id, title, True, str(found), note))
        else:
            note = f"not found offline; looked in {_joined(searched)}"
            out.append(DatasetStatus(ds_id, title, False, None, note))
    return out


# ---- loading ---------------------------------------------------------------------------


def _sample_path() -> Path:
    from gdd_studio.resources import resource_path

    return resource_path(SAMPLE_RESOURCE)


def _channel_stats(x: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 NCHW images scaled to [0, 1].

    Accumulated in float64 over chunks so a 50,000-image RGB set does not need a float
    copy of itself. A constant channel gets std 1 so normalizing never divides by zero.
    """
    c = x.shape[1]
    total = np.zeros(c)
    total_sq = np.zeros(c)
    count = 0
    for start in range(0, len(x), 4096):
        chunk = x[start : start + 4096].astype(np.float64) / 255.0
        total += chunk.sum(axis=(0, 2, 3))
        total_sq += (chunk * chunk).sum(axis=(0, 2, 3))
        count += chunk.shape[0] * chunk.shape[2] * chunk.shape[3]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean * mean, 0.0))
    std = np.where(std < 1e-6, 1.0, std)
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def _make(
    name: str,
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]],
    source: str,
    norm: tuple[tuple[float, ...], tuple[float, ...]] | None,
) -> ImageDataset:
    x_train, y_train, x_test, y_test, classes = arrays
    k = len(classes)
    for split, y in (("train", y_train), ("test", y_test)):
        if len(y) and (y.min() < 0 or y.max() >= k):
            raise DatasetError(f"{source}: {split} labels must lie in 0..{k - 1}")
    mean, std = norm if norm is not None else _channel_stats(x_train)

    def tensor(a: np.ndarray, dtype: np.dtype) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=dtype))

    return ImageDataset(
        name=name,
        classes=list(classes),
        x_train=tensor(x_train, np.uint8),
        y_train=tensor(y_train, np.int64),
        x_test=tensor(x_test, np.uint8),
        y_test=tensor(y_test, np.int64),
        mean=tuple(mean),
        std=tuple(std),
        source=source,
    )


def _load_idx_folder(ds_id: str, folder: Path) -> ImageDataset:
    paths = _idx_paths(folder)
    if paths is None:  # vanished between finding and loading
        raise DatasetError(f"{TITLES[ds_id]}: IDX files no longer complete in {folder}")
    x_train, y_train = formats.read_idx_split(paths["train_images"], paths["train_labels"])
    x_test, y_test = formats.read_idx_split(paths["test_images"], paths["test_labels"])
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DatasetError(f"{folder}: train and test images differ in size")
    classes = MNIST_CLASSES if ds_id == "mnist" else FASHION_MNIST_CLASSES
    for name, y in ((paths["train_labels"], y_train), (paths["test_labels"], y_test)):
        if y.max() >= len(classes):
            raise DatasetError(f"{name}: labels must lie in 0..{len(classes) - 1}")
    return _make(
        ds_id,
        (x_train, y_train, x_test, y_test, list(classes)),
        f"IDX files in {folder}",
        NORMALIZATION[ds_id],
    )


def _load_cifar(found: Path) -> ImageDataset:
    if found.name == formats.CIFAR_ARCHIVE:
        found = _unpack_cifar(found)
    arrays = formats.read_cifar_folder(found)
    return _make("cifar10", arrays, f"CIFAR-10 batches in {found}", NORMALIZATION["cifar10"])


def _unpack_cifar(archive: Path) -> Path:
    """Extract next to the archive, or into datasets_dir() when that folder is read-only."""
    errors: list[str] = []
    for dest in (archive.parent, datasets_dir()):
        try:
            return formats.extract_cifar_archive(archive, dest)
        except OSError as exc:
            errors.append(f"{dest}: {exc.strerror or exc}")
    raise DatasetError(f"cannot unpack {archive}: {'; '.join(errors)}")


def _find_folder_of(
    ds_id: str, base: Path | None
) -> tuple[Path | None, list[Path]]:
    """SVHN's two .mat files or CIFAR-100's pickles: in ``base`` itself or its usual
    subfolder, then in GDD Studio's datasets folder."""
    sub, complete = {
        "svhn": ("svhn", lambda f: all((f / n).is_file() for n in formats.SVHN_FILES)),
        "cifar100": (formats.CIFAR100_FOLDER, formats.cifar100_folder_complete),
    }[ds_id]
    bases = ([base] if base is not None else []) + [datasets_dir()]
    for b in bases:
        for folder in (b / sub, b):
            if complete(folder):
                return folder, bases
    return None, bases


def _find(ds_id: str, base: Path | None) -> tuple[Path | None, list[Path]]:
    if ds_id in ("svhn", "cifar100"):
        return _find_folder_of(ds_id, base)
    return _find_cifar(base) if ds_id == "cifar10" else _find_idx(ds_id, base)


def _download(ds_id: str) -> None:
    """Fetch ``ds_id`` into datasets_dir() with torchvision; failures become DatasetError."""
    root = datasets_dir()
    title = TITLES[ds_id]
    where = _joined(_idx_candidates(ds_id, None) if ds_id in _TORCHVISION_FOLDERS else [root])
    try:
        import torchvision.datasets as tvd

        classes: dict[str, Callable[..., object]] = {
            "mnist": tvd.MNIST,
            "fashion-mnist": tvd.FashionMNIST,
            "cifar10": tvd.CIFAR10,
        }
        root.mkdir(parents=True, exist_ok=True)
        if ds_id == "svhn":  # torchvision puts both .mat files in root/svhn
            for split in ("train", "test"):
                tvd.SVHN(root=str(root / "svhn"), split=split, download=True)
        elif ds_id == "cifar100":
            tvd.CIFAR100(root=str(root), train=True, download=True)
        else:
            classes[ds_id](root=str(root), train=True, download=True)
    except Exception as exc:  # network, disk and checksum errors all end the same way
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise DatasetError(
            f"could not download {title}: {reason}; put the files ({_looked_for(ds_id)}) "
            f"in {where} or pass a data folder"
        ) from None


def load_dataset(
    spec: str, data_dir: str | os.PathLike[str] | None = None, download: bool = False
) -> ImageDataset:
    """Load a dataset by spec into CPU tensors.

    ``data_dir`` is searched first for the built-ins (ignored by the sample and by
    ``folder:``/``npz:`` specs, which carry their own path). ``download`` only matters when
    the files are not found offline.
    """
    kind, path = _parse_spec(spec)
    if kind == "folder":
        assert path is not None
        arrays = formats.read_image_folder(path)
        data = _make(f"folder:{path}", arrays, f"image folder {path}", None)
        data.notes.extend(formats.hidden_folder_notes(path))
        return data
    if kind == "npz":
        assert path is not None
        return _make(f"npz:{path}", formats.read_npz(path), f"npz file {path}", None)
    if kind == "mnist-sample":
        sample = _sample_path()
        arrays = formats.read_npz(sample)
        return _make(kind, arrays, f"embedded sample {sample}", NORMALIZATION["mnist"])

    base = _dir_arg(data_dir)
    if base is not None and not base.is_dir():
        raise DatasetError(f"data folder {base} for {TITLES[kind]} does not exist")
    found, searched = _find(kind, base)
    if found is None:
        if not download:
            raise DatasetError(
                f"{TITLES[kind]} not found offline: looked for {_looked_for(kind)} in "
                f"{_joined(searched)}; pass a data folder (data_dir) or allow downloading "
                "(--download, config key download)"
            )
        _download(kind)
        found, searched = _find(kind, base)
        if found is None:
            raise DatasetError(
                f"downloaded {TITLES[kind]} but found no files in {_joined(searched)}"
            )
    if kind == "cifar10":
        return _load_cifar(found)
    if kind in ("svhn", "cifar100"):
        read = formats.read_svhn_folder if kind == "svhn" else formats.read_cifar100_folder
        return _make(kind, read(found), f"{TITLES[kind]} files in {found}", NORMALIZATION[kind])
    return _load_idx_folder(kind, found)
