"""Readers for the on-disk dataset formats: IDX, CIFAR-10 pickles, image folders and npz.

Each reader returns plain numpy arrays (images uint8 ``(N, C, H, W)``, labels int64) and
raises :class:`~gdd_studio.errors.DatasetError` naming the offending file, so that a
corrupt download or a hand-made folder gives the user one line to act on instead of a
traceback from deep inside numpy or pickle. The readers never fetch anything; finding the
files and downloading them is :mod:`gdd_studio.data.registry`'s job.
"""

from __future__ import annotations

import gzip
import math
import os
import pickle
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import DatasetError
from ..paths import normal_mode

# ---- IDX (MNIST, Fashion-MNIST) --------------------------------------------------------

IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned byte, 3 dimensions
IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned byte, 1 dimension

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

_GZIP_MAGIC = b"\x1f\x8b"


def find_idx_file(folder: Path, stem: str) -> Path | None:
    """The IDX file ``stem`` in ``folder``, plain or ``.gz``; plain first as it reads faster."""
    for name in (stem, stem + ".gz"):
        path = folder / name
        if path.is_file():
            return path
    return None


def _read_maybe_gzip(path: Path) -> bytes:
    """Whole file contents, gunzipped when the file starts with the gzip magic.

    Sniffing the content instead of trusting the ``.gz`` suffix copes with files that were
    decompressed or renamed by hand.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(0)
            if head == _GZIP_MAGIC:
                with gzip.GzipFile(fileobj=f) as g:
                    return g.read()
            return f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from None


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Parse one IDX file of unsigned bytes and check it is complete.

    The header is big-endian: a 4-byte magic (two zero bytes, a type byte 0x08 and the
    number of dimensions), then one 4-byte size per dimension. The payload must be exactly
    the product of the sizes, which catches truncated downloads.
    """
    data = _read_maybe_gzip(path)
    kind = "image" if magic == IDX_IMAGES_MAGIC else "label"
    if len(data) < 4:
        raise DatasetError(f"{path} is not an IDX {kind} file: only {len(data)} bytes")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DatasetError(
            f"{path} is not an IDX {kind} file: magic number {found}, expected {magic}"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{path} is truncated: header needs {header} bytes, has {len(data)}")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + math.prod(dims)  # python ints: no overflow on a forged header
    if len(data) < expected:
        raise DatasetError(
            f"{path} is truncated: header says {dims} ({expected} bytes), file has {len(data)}"
        )
    if len(data) > expected:
        raise DatasetError(
            f"{path} is corrupt: header says {dims} ({expected} bytes), file has {len(data)}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def read_idx_split(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 1, H, W)`` uint8 and labels ``(N,)`` int64 from a pair of IDX files."""
    images = read_idx(images_path, IDX_IMAGES_MAGIC)
    labels = read_idx(labels_path, IDX_LABELS_MAGIC)
    if images.ndim != 3:
        raise DatasetError(f"{images_path}: expected 3 dimensions, found {images.ndim}")
    if labels.ndim != 1:
        raise DatasetError(f"{labels_path}: expected 1 dimension, found {labels.ndim}")
    n, h, w = images.shape
    if h != w or h not in (28, 32):
        raise DatasetError(f"{images_path}: images are {h}x{w}, expected 28x28 or 32x32")
    if len(labels) != n:
        raise DatasetError(
            f"{images_path} holds {n} images but {labels_path} holds {len(labels)} labels"
        )
    if n == 0:
        raise DatasetError(f"{images_path} holds no images")
    return images[:, None, :, :], labels.astype(np.int64)


# ---- CIFAR-10 python pickles -----------------------------------------------------------

CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_BATCH = "test_batch"
CIFAR_META = "batches.meta"
CIFAR_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

try:  # numpy >= 2 moved the implementation; numpy.core still works but warns
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]

# The only callables a CIFAR batch needs: rebuilding ndarrays and dtypes (python 2 and 3
# numpy spell the module differently) and, for python 3 protocol-2 pickles, the codec
# python uses to store bytes. None of them can run arbitrary code.
_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): __import__("codecs").encode,
}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _SAFE_GLOBALS[(_module, "_reconstruct")] = _multiarray._reconstruct
    _SAFE_GLOBALS[(_module, "scalar")] = _multiarray.scalar


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that can only rebuild numpy arrays, dtypes and scalars.

    A pickle can call any importable function while loading; a tampered ``data_batch_1``
    could otherwise run ``os.system``. Only the handful of numpy constructors a real CIFAR
    batch uses are resolvable, everything else is refused before it is looked up.
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}") from None


def restricted_load(path: Path) -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler` (bytes keys, as in the originals)."""
    try:
        with open(path, "rb") as f:
            return RestrictedUnpickler(f, encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        raise DatasetError(f"{path} is not a safe CIFAR-10 pickle: {exc}") from None
    except Exception as exc:  # untrusted bytes can fail in any way; all mean "bad file"
        raise DatasetError(f"{path} is not a readable CIFAR-10 pickle: {exc}") from None


def _get(batch: dict, key: str, path: Path) -> Any:
    """``batch[key]`` whether the pickle used bytes keys (originals) or str keys."""
    for k in (key.encode(), key):
        if k in batch:
            return batch[k]
    raise DatasetError(f"{path} has no '{key}' entry")


def read_cifar_batch(
    path: Path, label_key: str = "labels", num_classes: int = len(CIFAR_CLASSES),
    what: str = "CIFAR-10 batch",
) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 3, 32, 32)`` uint8 and labels ``(N,)`` int64 from one CIFAR-10 batch
    (or, with ``label_key="fine_labels"`` and 100 classes, a CIFAR-100 split)."""
    batch = restricted_load(path)
    if not isinstance(batch, dict):
        raise DatasetError(f"{path} is not a {what}: holds {type(batch).__name__}")
    data = _get(batch, "data", path)
    labels = _get(batch, label_key, path)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        raise DatasetError(f"{path}: 'data' must be a uint8 array")
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DatasetError(f"{path}: 'data' has shape {data.shape}, expected (N, 3072)")
    try:
        labels_arr = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError):
        raise DatasetError(f"{path}: '{label_key}' is not a list of integers") from None
    if labels_arr.shape != (len(data),):
        raise DatasetError(
            f"{path}: {len(data)} images but '{label_key}' has shape {labels_arr.shape}"
        )
    if len(labels_arr) and (labels_arr.min() < 0 or labels_arr.max() >= num_classes):
        raise DatasetError(f"{path}: '{label_key}' must lie in 0..{num_classes - 1}")
    return data.reshape(-1, 3, 32, 32).copy(), labels_arr


def read_cifar_meta(path: Path) -> list[str]:
    """The ten class names from ``batches.meta``."""
    meta = restricted_load(path)
    if not isinstance(meta, dict):
        raise DatasetError(f"{path} is not CIFAR-10 metadata: holds {type(meta).__name__}")
    names = _get(meta, "label_names", path)
    if not isinstance(names, list | tuple) or len(names) != len(CIFAR_CLASSES):
        raise DatasetError(f"{path}: 'label_names' must list 10 names")
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names]


def cifar_folder_complete(folder: Path) -> bool:
    """Whether ``folder`` holds all six batches (``batches.meta`` is optional)."""
    return all((folder / n).is_file() for n in (*CIFAR_TRAIN_BATCHES, CIFAR_TEST_BATCH))


def read_cifar_folder(
    folder: Path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Train and test splits plus class names from a ``cifar-10-batches-py`` folder.

    Without ``batches.meta`` the standard CIFAR-10 names are used, since they never change.
    """
    parts = [read_cifar_batch(folder / n) for n in CIFAR_TRAIN_BATCHES]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    x_test, y_test = read_cifar_batch(folder / CIFAR_TEST_BATCH)
    meta = folder / CIFAR_META
    classes = read_cifar_meta(meta) if meta.is_file() else list(CIFAR_CLASSES)
    return x_train, y_train, x_test, y_test, classes


# ---- CIFAR-100 python pickles and SVHN's MATLAB files (issue 29) ----------------------

CIFAR100_FOLDER = "cifar-100-python"
CIFAR100_FILES = ("train", "test")  # and "meta", optional: the 100 fine class names
SVHN_FILES = ("train_32x32.mat", "test_32x32.mat")


def cifar100_folder_complete(folder: Path) -> bool:
    return all((folder / n).is_file() for n in CIFAR100_FILES)


def read_cifar100_folder(
    folder: Path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Train and test splits and the 100 fine class names of a ``cifar-100-python``
    folder (class indices as names when ``meta`` is absent)."""
    def split(name: str) -> tuple[np.ndarray, np.ndarray]:
        return read_cifar_batch(folder / name, "fine_labels", 100, "CIFAR-100 split")

    x_train, y_train = split("train")
    x_test, y_test = split("test")
    classes = [str(i) for i in range(100)]
    meta = folder / "meta"
    if meta.is_file():
        names = _get(restricted_load(meta), "fine_label_names", meta)
        if not isinstance(names, list | tuple) or len(names) != 100:
            raise DatasetError(f"{meta}: 'fine_label_names' must list 100 names")
        classes = [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n)
                   for n in names]  # fmt: skip
    return x_train, y_train, x_test, y_test, classes


def _read_svhn_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) 0..9 from SVHN's ``*_32x32.mat``
    (``X`` is 32 x 32 x 3 x N; ``y`` counts the digit 0 as 10, as the original does)."""
    try:
        from scipy.io import loadmat
    except ImportError:
        raise DatasetError(
            f"reading SVHN's {path.name} needs scipy (MATLAB files): pip install scipy"
        ) from None
    try:
        mat = loadmat(path)
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file, in any way
        raise DatasetError(f"{path} is not a readable SVHN .mat file ({exc})") from None
    x, y = mat.get("X"), mat.get("y")
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 4 or (
        x.shape[:3] != (32, 32, 3)
    ):  # fmt: skip
        raise DatasetError(f"{path}: 'X' must be uint8 of shape (32, 32, 3, N)")
    if not isinstance(y, np.ndarray) or y.size != x.shape[3]:
        raise DatasetError(f"{path}: 'y' must give one label per image")
    y = y.reshape(-1).astype(np.int64)
    if len(y) and (y.min() < 1 or y.max() > 10):
        raise DatasetError(f"{path}: 'y' must lie in 1..10 (10 for the digit 0)")
    return np.ascontiguousarray(x.transpose(3, 2, 0, 1)), y % 10


def read_svhn_folder(
    folder: Path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    x_train, y_train = _read_svhn_mat(folder / SVHN_FILES[0])
    x_test, y_test = _read_svhn_mat(folder / SVHN_FILES[1])
    return x_train, y_train, x_test, y_test, [str(i) for i in range(10)]


def extract_cifar_archive(archive: Path, dest: Path) -> Path:
    """Unpack the batches from ``cifar-10-python.tar.gz`` into ``dest/cifar-10-batches-py``.

    Only the known member names are written, so a crafted archive cannot place files
    elsewhere. Extraction goes to a temporary folder that is renamed at the end, so an
    interrupted run never leaves a half-written folder that looks complete. Raises
    ``OSError`` when ``dest`` is not writable (the caller then tries another place).
    """
    target = dest / CIFAR_FOLDER
    if cifar_folder_complete(target):
        return target
    wanted = {f"{CIFAR_FOLDER}/{n}": n for n in (*CIFAR_TRAIN_BATCHES, CIFAR_TEST_BATCH)}
    wanted[f"{CIFAR_FOLDER}/{CIFAR_META}"] = CIFAR_META
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".cifar-extract-", dir=dest))
    os.chmod(tmp, normal_mode(directory=True))  # mkdtemp makes it 0700
    try:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar:
                    name = member.name.removeprefix("./")
                    if name not in wanted or not member.isfile():
                        continue
                    src = tar.extractfile(member)
                    if src is None:
                        continue
                    with src, open(tmp / wanted[name], "wb") as out:
                        shutil.copyfileobj(src, out)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise DatasetError(f"cannot read archive {archive}: {exc}") from None
        if not cifar_folder_complete(tmp):
            raise DatasetError(f"archive {archive} does not hold the CIFAR-10 python batches")
        try:
            os.replace(tmp, target)
        except OSError:
            if not cifar_folder_complete(target):  # not a race with another process
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# ---- image folders ---------------------------------------------------------------------

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
FOLDER_IMAGE_SIZE = 32
_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}


def _class_folders(split_dir: Path) -> list[Path]:
    return sorted(
        (p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.name,
    )


def hidden_folder_notes(root: Path) -> list[str]:
    """One line for each folder under ``train/`` or ``test/`` whose name starts with '.':
    it is not read as a class (``.ipynb_checkpoints`` and the like are not classes), and a
    user who named a class so must hear that it was left out."""
    notes = []
    for split in ("train", "test"):
        try:
            hidden = sorted(
                p for p in (root / split).iterdir() if p.is_dir() and p.name.startswith(".")
            )
        except OSError:
            continue
        for p in hidden:
            notes.append(
                f"folder {p} is left out: a name starting with '.' is a hidden folder, not "
                "a class (rename it to use it as one)"
            )
    return notes


def _image_files(class_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in class_dir.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
    )


def _to_8bit_gray(img: Image.Image) -> Image.Image:
    """Grayscale image in mode L; 16/32-bit modes are scaled instead of clipped."""
    if img.mode in ("1", "L"):
        return img.convert("L")
    if img.mode in ("LA", "La"):
        return img.getchannel(0)
    arr = np.asarray(img, dtype=np.float64)
    if img.mode != "F":  # integer modes come from 16-bit files
        arr = arr / 257.0
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), mode="L")


def _read_image(path: Path, size: int) -> tuple[np.ndarray, bool]:
    """One image as uint8 ``(size, size)`` (gray) or ``(size, size, 3)`` and its gray flag."""
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in _GRAY_MODES:
                out, gray = _to_8bit_gray(img), True
            else:
                out, gray = img.convert("RGB"), False
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DatasetError(f"cannot read image {path}: {exc}") from None
    if out.size != (size, size):
        out = out.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(out, dtype=np.uint8), gray


def _read_split(
    split_dir: Path, class_index: dict[str, int], size: int
) -> tuple[list[np.ndarray], list[int], bool]:
    classes = _class_folders(split_dir)
    if not classes:
        raise DatasetError(f"no class folders in {split_dir} (expected {split_dir}/<class>/)")
    images: list[np.ndarray] = []
    labels: list[int] = []
    all_gray = True
    for class_dir in classes:
        if class_dir.name not in class_index:
            raise DatasetError(
                f"class folder {class_dir} has no counterpart in the train split "
                f"(train classes: {', '.join(class_index)})"
            )
        files = _image_files(class_dir)
        if not files:
            raise DatasetError(
                f"class folder {class_dir} holds no images ({', '.join(IMAGE_EXTENSIONS)})"
            )
        for path in files:
            arr, gray = _read_image(path, size)
            images.append(arr)
            labels.append(class_index[class_dir.name])
            all_gray &= gray
    return images, labels, all_gray


def _stack(images: Sequence[np.ndarray], channels: int) -> np.ndarray:
    out = []
    for arr in images:
        if arr.ndim == 2:
            arr = np.repeat(arr[None], channels, axis=0)
        else:
            arr = arr.transpose(2, 0, 1)
        out.append(arr)
    return np.ascontiguousarray(np.stack(out))


def read_image_folder(
    root: Path, size: int = FOLDER_IMAGE_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Train/test splits from ``root/train/<class>/*`` and ``root/test/<class>/*``.

    Classes are the sorted train subfolder names. The dataset has one channel when every
    image (both splits) has a grayscale PIL mode, otherwise three, so a single colour
    image makes everything RGB and nothing is silently discarded. All images are resized
    to ``size`` x ``size`` so they can be stacked and fed to the fixed-size models.
    """
    if not root.is_dir():
        raise DatasetError(f"image folder {root} does not exist")
    for split in ("train", "test"):
        if not (root / split).is_dir():
            raise DatasetError(
                f"image folder {root} has no {split}/ subfolder "
                f"(expected {root}/train/<class>/ and {root}/test/<class>/)"
            )
    classes = [p.name for p in _class_folders(root / "train")]
    class_index = {name: i for i, name in enumerate(classes)}
    tr_imgs, tr_labels, tr_gray = _read_split(root / "train", class_index, size)
    te_imgs, te_labels, te_gray = _read_split(root / "test", class_index, size)
    channels = 1 if tr_gray and te_gray else 3
    return (
        _stack(tr_imgs, channels),
        np.asarray(tr_labels, dtype=np.int64),
        _stack(te_imgs, channels),
        np.asarray(te_labels, dtype=np.int64),
        classes,
    )


# ---- npz -------------------------------------------------------------------------------

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
NPZ_SIZES = (28, 32)


def _npz_images(x: np.ndarray, key: str, path: Path) -> np.ndarray:
    """``x`` as uint8 ``(N, C, H, W)``; accepts ``(N, H, W)``, ``(N, H, W, C)`` and NCHW."""
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[3] in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    elif not (x.ndim == 4 and x.shape[1] in (1, 3)):
        raise DatasetError(
            f"{path}: '{key}' has shape {x.shape}, expected (N, H, W) or (N, H, W, C) "
            "with C = 1 or 3"
        )
    if len(x) == 0:
        raise DatasetError(f"{path}: '{key}' holds no images")
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x)
    if np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all() or x.min() < -1e-6 or x.max() > 1 + 1e-6:
            raise DatasetError(f"{path}: '{key}' is float but not within [0, 1]")
        return np.ascontiguousarray(np.rint(np.clip(x, 0, 1) * 255).astype(np.uint8))
    if np.issubdtype(x.dtype, np.integer) and x.min() >= 0 and x.max() <= 255:
        return np.ascontiguousarray(x.astype(np.uint8))
    raise DatasetError(f"{path}: '{key}' must be uint8 0..255 or float in [0, 1], found {x.dtype}")


def _resize_stack(x: np.ndarray, size: int) -> np.ndarray:
    """Resize every image of a uint8 NCHW stack with PIL (bilinear, antialiased)."""
    n, c = x.shape[:2]
    out = np.empty((n, c, size, size), dtype=np.uint8)
    for i in range(n):
        for ch in range(c):
            img = Image.fromarray(x[i, ch], mode="L")
            out[i, ch] = np.asarray(img.resize((size, size), Image.Resampling.BILINEAR))
    return out


def _npz_labels(y: np.ndarray, key: str, n: int, path: Path) -> np.ndarray:
    if y.ndim != 1 or len(y) != n or not np.issubdtype(y.dtype, np.integer):
        raise DatasetError(f"{path}: '{key}' must be {n} integer labels, found {y.dtype} {y.shape}")
    return y.astype(np.int64)


def read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Train/test splits and class names from an ``.npz`` with keys x/y_train, x/y_test.

    Images of 28 or 32 square pixels keep their size (so MNIST-like data round-trips);
    any other size is resized to 32. Object arrays are refused (``allow_pickle=False``)
    for the same reason the CIFAR unpickler is restricted.
    """
    if not path.is_file():
        raise DatasetError(f"npz file {path} does not exist")
    needs = f"an .npz holds the arrays {', '.join(NPZ_KEYS)}"
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise DatasetError(f"cannot read npz file {path}: {exc.strerror}") from None
    if magic[:2] != b"PK":  # an .npz is a zip archive; numpy would blame pickling instead
        raise DatasetError(f"{path} is not a valid .npz dataset ({needs})")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in NPZ_KEYS if k not in npz.files]
            if missing:
                raise DatasetError(
                    f"{path} lacks the key(s) {', '.join(missing)} "
                    f"(needs {', '.join(NPZ_KEYS)}, optional classes)"
                )
            arrays = {k: npz[k] for k in (*NPZ_KEYS, "classes") if k in npz.files}
    except DatasetError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):  # never pass on numpy's advice to load it unsafely
            raise DatasetError(
                f"{path} is not a valid .npz dataset: it holds Python objects, which are "
                f"never loaded because loading them can run code ({needs})"
            ) from None
        raise DatasetError(f"{path} is not a valid .npz dataset: {exc}") from None
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        # A truncated archive: zipfile's own text does not name the file.
        raise DatasetError(
            f"{path} is not a valid .npz dataset (damaged or cut short: {exc})"
        ) from None

    x_train = _npz_images(arrays["x_train"], "x_train", path)
    x_test = _npz_images(arrays["x_test"], "x_test", path)
    if x_train.shape[1] != x_test.shape[1]:
        raise DatasetError(
            f"{path}: 'x_train' has {x_train.shape[1]} channel(s), 'x_test' {x_test.shape[1]}"
        )
    h, w = x_train.shape[2:]
    size = h if h == w and h in NPZ_SIZES else 32
    if x_train.shape[2:] != (size, size):
        x_train = _resize_stack(x_train, size)
    if x_test.shape[2:] != (size, size):
        x_test = _resize_stack(x_test, size)

    y_train = _npz_labels(arrays["y_train"], "y_train", len(x_train), path)
    y_test = _npz_labels(arrays["y_test"], "y_test", len(x_test), path)
    if "classes" in arrays:
        names = arrays["classes"]
        if names.ndim != 1 or names.dtype.kind not in "US" or len(names) == 0:
            raise DatasetError(f"{path}: 'classes' must be a 1-D array of class names")
        classes = [n.decode() if isinstance(n, bytes) else str(n) for n in names.tolist()]
    else:
        k = int(max(y_train.max(), y_test.max())) + 1
        classes = [str(i) for i in range(k)]
    for key, y in (("y_train", y_train), ("y_test", y_test)):
        if y.min() < 0 or y.max() >= len(classes):
            raise DatasetError(
                f"{path}: '{key}' has labels outside 0..{len(classes) - 1} ({len(classes)} classes)"
            )
    empty = np.flatnonzero(np.bincount(y_train, minlength=len(classes)) == 0)
    if len(empty):
        raise DatasetError(
            f"{path}: 'y_train' has no images of class {int(empty[0])} (labels run 0.."
            f"{len(classes) - 1}, {len(classes) - len(empty)} of them used): number the "
            "classes 0..K-1 without gaps"
        )
    return x_train, y_train, x_test, y_test, classes


__all__ = [
    "CIFAR_ARCHIVE",
    "CIFAR_CLASSES",
    "CIFAR_FOLDER",
    "IDX_FILES",
    "IMAGE_EXTENSIONS",
    "RestrictedUnpickler",
    "cifar_folder_complete",
    "extract_cifar_archive",
    "find_idx_file",
    "read_cifar_batch",
    "read_cifar_folder",
    "read_cifar_meta",
    "read_idx",
    "read_idx_split",
    "read_image_folder",
    "read_npz",
    "restricted_load",
]
