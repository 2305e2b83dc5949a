"""Dataset loading: tiny files in the real formats, written to tmp_path; all offline, no Qt."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import subprocess
import sys
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gdd_studio.data.formats as formats
import gdd_studio.data.registry as registry
from gdd_studio.data import (
    BUILTIN_DATASETS,
    ImageDataset,
    check_dataset_spec,
    dataset_family,
    list_datasets,
    load_dataset,
)
from gdd_studio.errors import DatasetError

IDX_STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point GDD_STUDIO_HOME and the system folders at empty places, so no test sees real data."""
    home = tmp_path / "home"
    monkeypatch.setenv("GDD_STUDIO_HOME", str(home))
    monkeypatch.setattr(registry, "FASHION_MNIST_SYSTEM_DIRS", (str(tmp_path / "no-system"),))
    return home


# ---- writers for the real formats ------------------------------------------------------


def idx_bytes(arr: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def write_file(path: Path, data: bytes, gz: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def write_idx_dataset(
    folder: Path, gz: bool = False, n_train: int = 6, n_test: int = 4, seed: int = 0
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for key, arr in arrays.items():
        magic = 2051 if key.endswith("images") else 2049
        write_file(folder / IDX_STEMS[key], idx_bytes(arr, magic), gz)
    return arrays


def cifar_batch(n: int, seed: int) -> dict[bytes, object]:
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"training batch",
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{seed}_{i}.png".encode() for i in range(n)],
    }


CIFAR_NAMES = [b"airplane", b"car", b"bird", b"cat", b"deer"] + [
    b"dog",
    b"frog",
    b"horse",
    b"ship",
    b"truck",
]


def write_cifar(folder: Path, n: int = 4, meta: bool = True) -> dict[str, dict]:
    """5 train batches + test batch (+ batches.meta), protocol 2 and bytes keys like the real."""
    folder.mkdir(parents=True, exist_ok=True)
    batches = {f"data_batch_{i}": cifar_batch(n, i) for i in range(1, 6)}
    batches["test_batch"] = cifar_batch(n, 99)
    for name, batch in batches.items():
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    if meta:
        m = {b"label_names": CIFAR_NAMES, b"num_cases_per_batch": n, b"num_vis": 3072}
        (folder / "batches.meta").write_bytes(pickle.dumps(m, protocol=2))
    return batches


def cifar_expected(batches: dict[str, dict]) -> tuple[np.ndarray, np.ndarray]:
    names = [f"data_batch_{i}" for i in range(1, 6)]
    x = np.concatenate([batches[n][b"data"] for n in names]).reshape(-1, 3, 32, 32)
    y = np.concatenate([batches[n][b"labels"] for n in names])
    return x, y


def save_png(path: Path, arr: np.ndarray, mode: str | None = None, fmt: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode=mode).save(path, format=fmt)


# ---- specs -----------------------------------------------------------------------------


def test_specs_and_families() -> None:
    for ds in BUILTIN_DATASETS:
        check_dataset_spec(ds)
    check_dataset_spec("folder:/some/where")
    check_dataset_spec("npz:relative.npz")
    check_dataset_spec("Fashion_MNIST")
    assert dataset_family("mnist") == "mnist"
    assert dataset_family("mnist-sample") == "mnist"
    assert dataset_family("fashion-mnist") == "fashion-mnist"
    assert dataset_family("cifar10") == "cifar10"
    assert dataset_family("folder:/x") == "custom"
    assert dataset_family("npz:/x.npz") == "custom"


@pytest.mark.parametrize("spec", ["imagenet", "", "folder:", "npz:  ", "cifar1000"])
def test_bad_spec(spec: str) -> None:
    with pytest.raises(DatasetError) as err:
        check_dataset_spec(spec)
    msg = str(err.value)
    assert "\n" not in msg
    if spec.strip() and ":" not in spec:
        assert spec in msg
        for ds in BUILTIN_DATASETS:
            assert ds in msg
        assert "folder:" in msg and "npz:" in msg
    with pytest.raises(DatasetError):
        dataset_family(spec)


# ---- embedded sample -------------------------------------------------------------------


def test_embedded_sample() -> None:
    ds = load_dataset("mnist-sample")
    assert ds.name == "mnist-sample"
    assert ds.x_train.shape == (4000, 1, 28, 28) and ds.x_train.dtype == torch.uint8
    assert ds.x_test.shape == (1000, 1, 28, 28) and ds.x_test.dtype == torch.uint8
    assert ds.y_train.dtype == torch.int64 and ds.y_test.dtype == torch.int64
    assert ds.classes == [str(i) for i in range(10)]
    assert ds.per_class_counts() == [400] * 10
    assert torch.bincount(ds.y_test, minlength=10).tolist() == [100] * 10
    assert (ds.num_classes, ds.channels, ds.image_size) == (10, 1, 28)
    assert ds.mean == (0.1307,) and ds.std == (0.3081,)
    assert ds.x_train.device.type == "cpu"
    assert int(ds.x_train.max()) == 255


def test_to_returns_new_object() -> None:
    ds = load_dataset("mnist-sample")
    moved = ds.to("cpu")
    assert moved is not ds
    assert moved.x_train.shape == ds.x_train.shape
    assert moved.classes == ds.classes and moved.classes is not ds.classes
    meta = ds.to("meta")
    assert meta.x_train.device.type == "meta" and ds.x_train.device.type == "cpu"
    assert "x_train" not in repr(ds)  # tensors are kept out of the repr


# ---- IDX: MNIST / Fashion-MNIST --------------------------------------------------------


@pytest.mark.parametrize("ds_id", ["mnist", "fashion-mnist"])
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("layout", ["direct", "torchvision"])
def test_idx_load(tmp_path: Path, ds_id: str, gz: bool, layout: str) -> None:
    data_dir = tmp_path / "data"
    folder = data_dir
    if layout == "torchvision":
        folder = data_dir / {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}[ds_id] / "raw"
    arrays = write_idx_dataset(folder, gz=gz)
    ds = load_dataset(ds_id, data_dir=str(data_dir))
    assert ds.name == ds_id
    assert ds.x_train.shape == (6, 1, 28, 28) and ds.x_test.shape == (4, 1, 28, 28)
    assert ds.x_train.dtype == torch.uint8 and ds.y_train.dtype == torch.int64
    assert np.array_equal(ds.x_train[:, 0].numpy(), arrays["train_images"])
    assert np.array_equal(ds.x_test[:, 0].numpy(), arrays["test_images"])
    assert ds.y_train.tolist() == arrays["train_labels"].tolist()
    assert ds.y_test.tolist() == arrays["test_labels"].tolist()
    assert str(folder) in ds.source
    if ds_id == "mnist":
        assert ds.classes == [str(i) for i in range(10)]
        assert ds.mean == (0.1307,) and ds.std == (0.3081,)
    else:
        assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"
        assert len(ds.classes) == 10
        assert ds.mean == (0.2861,) and ds.std == (0.3530,)


def test_idx_found_in_home_torchvision_layout(isolated_home: Path) -> None:
    arrays = write_idx_dataset(isolated_home / "datasets" / "MNIST" / "raw", gz=True)
    ds = load_dataset("mnist")
    assert ds.y_train.tolist() == arrays["train_labels"].tolist()
    # The same loose file names must not be mistaken for Fashion-MNIST.
    with pytest.raises(DatasetError):
        load_dataset("fashion-mnist")


def test_fashion_system_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system = tmp_path / "usr-share-fashion"
    arrays = write_idx_dataset(system, gz=True, seed=3)
    monkeypatch.setattr(registry, "FASHION_MNIST_SYSTEM_DIRS", (str(system),))
    ds = load_dataset("fashion-mnist")
    assert np.array_equal(ds.x_test[:, 0].numpy(), arrays["test_images"])
    status = {s.id: s for s in list_datasets()}["fashion-mnist"]
    assert status.available and status.location == str(system)
    assert str(system) in status.note


def test_idx_bad_magic(tmp_path: Path) -> None:
    write_idx_dataset(tmp_path)
    bad = tmp_path / IDX_STEMS["train_images"]
    data = bytearray(bad.read_bytes())
    data[2:4] = b"\x08\x01"  # label magic in an image file
    bad.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="magic number 2049") as err:
        load_dataset("mnist", data_dir=str(tmp_path))
    assert str(bad) in str(err.value)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_truncated(tmp_path: Path, gz: bool) -> None:
    arrays = write_idx_dataset(tmp_path, gz=gz)
    path = tmp_path / (IDX_STEMS["test_images"] + (".gz" if gz else ""))
    raw = idx_bytes(arrays["test_images"], 2051)[:-100]
    path.write_bytes(gzip.compress(raw) if gz else raw)
    with pytest.raises(DatasetError, match="truncated") as err:
        load_dataset("mnist", data_dir=str(tmp_path))
    assert str(path) in str(err.value)


def test_idx_corrupt_gzip(tmp_path: Path) -> None:
    write_idx_dataset(tmp_path, gz=True)
    path = tmp_path / (IDX_STEMS["train_labels"] + ".gz")
    path.write_bytes(path.read_bytes()[:15])  # gzip stream cut short
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", data_dir=str(tmp_path))
    assert str(path) in str(err.value)


def test_idx_count_mismatch(tmp_path: Path) -> None:
    write_idx_dataset(tmp_path)
    labels = tmp_path / IDX_STEMS["train_labels"]
    labels.write_bytes(idx_bytes(np.zeros(5, np.uint8), 2049))  # 6 images, 5 labels
    with pytest.raises(DatasetError, match="6 images") as err:
        load_dataset("mnist", data_dir=str(tmp_path))
    assert str(labels) in str(err.value)
    assert str(tmp_path / IDX_STEMS["train_images"]) in str(err.value)


def test_idx_label_out_of_range(tmp_path: Path) -> None:
    write_idx_dataset(tmp_path)
    labels = tmp_path / IDX_STEMS["test_labels"]
    labels.write_bytes(idx_bytes(np.array([0, 1, 10, 2], np.uint8), 2049))
    with pytest.raises(DatasetError, match="0..9") as err:
        load_dataset("mnist", data_dir=str(tmp_path))
    assert str(labels) in str(err.value)


def test_idx_trailing_bytes(tmp_path: Path) -> None:
    write_idx_dataset(tmp_path)
    path = tmp_path / IDX_STEMS["train_images"]
    path.write_bytes(path.read_bytes() + b"extra")
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", data_dir=str(tmp_path))
    assert str(path) in str(err.value)


# ---- not found / download --------------------------------------------------------------


@pytest.mark.parametrize("ds_id", ["mnist", "fashion-mnist", "cifar10"])
def test_not_found_offline_mentions_download(
    tmp_path: Path, isolated_home: Path, ds_id: str
) -> None:
    data_dir = tmp_path / "empty"
    data_dir.mkdir()
    with pytest.raises(DatasetError) as err:
        load_dataset(ds_id, data_dir=str(data_dir))
    msg = str(err.value)
    assert "not found offline" in msg and "--download" in msg and "\n" not in msg
    assert str(data_dir) in msg and str(isolated_home / "datasets") in msg


def test_missing_data_dir(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist") as err:
        load_dataset("mnist", data_dir=str(tmp_path / "nope"))
    assert str(tmp_path / "nope") in str(err.value)


def test_download_failure_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets

    calls = []

    class Offline:
        def __init__(self, root: str, train: bool = True, download: bool = False) -> None:
            calls.append((root, download))
            raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", Offline)
    with pytest.raises(DatasetError) as err:
        load_dataset("fashion-mnist", download=True)
    msg = str(err.value)
    assert msg.startswith("could not download Fashion-MNIST")
    assert "no route to host" in msg and "pass a data folder" in msg
    assert calls and calls[0][1] is True


def test_download_success_is_read_with_own_loader(
    monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    import torchvision.datasets

    written: dict[str, np.ndarray] = {}

    class FakeMNIST:
        def __init__(self, root: str, train: bool = True, download: bool = False) -> None:
            assert Path(root) == isolated_home / "datasets" and download
            written.update(write_idx_dataset(Path(root) / "MNIST" / "raw", gz=True, seed=7))

    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    ds = load_dataset("mnist", download=True)
    assert np.array_equal(ds.x_train[:, 0].numpy(), written["train_images"])
    assert str(isolated_home / "datasets" / "MNIST" / "raw") in ds.source


def test_no_download_when_found_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets

    class MustNotRun:
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("download attempted although files were present")

    monkeypatch.setattr(torchvision.datasets, "MNIST", MustNotRun)
    write_idx_dataset(tmp_path)
    load_dataset("mnist", data_dir=str(tmp_path), download=True)


# ---- CIFAR-10 --------------------------------------------------------------------------


@pytest.mark.parametrize("inner", [True, False])
def test_cifar_folder(tmp_path: Path, inner: bool) -> None:
    folder = tmp_path / "cifar-10-batches-py" if inner else tmp_path
    batches = write_cifar(folder)
    ds = load_dataset("cifar10", data_dir=str(tmp_path))
    x, y = cifar_expected(batches)
    assert ds.x_train.shape == (20, 3, 32, 32) and ds.x_test.shape == (4, 3, 32, 32)
    assert ds.x_train.dtype == torch.uint8 and ds.y_train.dtype == torch.int64
    assert np.array_equal(ds.x_train.numpy(), x)
    assert ds.y_train.tolist() == y.tolist()
    test = batches["test_batch"]
    assert np.array_equal(ds.x_test.numpy(), test[b"data"].reshape(-1, 3, 32, 32))
    assert ds.y_test.tolist() == test[b"labels"]
    assert ds.classes == [n.decode() for n in CIFAR_NAMES]
    assert ds.mean == (0.4914, 0.4822, 0.4465) and ds.std == (0.2023, 0.1994, 0.2010)
    # CHW order: channel 0 is the first 1024 bytes of a row
    assert np.array_equal(ds.x_train[0, 0].numpy().ravel(), x.reshape(20, -1)[0, :1024])


def test_cifar_without_meta_uses_standard_names(tmp_path: Path) -> None:
    write_cifar(tmp_path, meta=False)
    ds = load_dataset("cifar10", data_dir=str(tmp_path))
    assert ds.classes[1] == "automobile" and len(ds.classes) == 10


def test_cifar_python2_module_names(tmp_path: Path) -> None:
    """Pickles from python 2 numpy name numpy.core.multiarray, not numpy._core."""
    batches = write_cifar(tmp_path)
    for name in batches:
        p = tmp_path / name
        p.write_bytes(p.read_bytes().replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    assert b"numpy.core.multiarray" in (tmp_path / "test_batch").read_bytes()
    ds = load_dataset("cifar10", data_dir=str(tmp_path))
    assert ds.x_train.shape == (20, 3, 32, 32)


def make_archive(folder: Path) -> tuple[Path, dict[str, dict]]:
    src = folder / "src"
    batches = write_cifar(src / "cifar-10-batches-py")
    archive = folder / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return archive, batches


def test_cifar_archive_extracted_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    archive, batches = make_archive(tmp_path)
    archive.rename(data / archive.name)
    status = {s.id: s for s in list_datasets(str(data))}["cifar10"]
    assert status.available and "archive" in status.note
    ds = load_dataset("cifar10", data_dir=str(data))
    assert np.array_equal(ds.x_train.numpy(), cifar_expected(batches)[0])
    assert formats.cifar_folder_complete(data / "cifar-10-batches-py")
    assert [p.name for p in data.iterdir() if p.name.startswith(".")] == []  # no temp left
    (data / "cifar-10-python.tar.gz").unlink()  # second load uses the extracted folder
    assert load_dataset("cifar10", data_dir=str(data)).x_test.shape == (4, 3, 32, 32)


def test_cifar_archive_read_only_dir_goes_home(
    tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    archive, _ = make_archive(tmp_path)
    archive = archive.rename(data / archive.name)
    real = formats.extract_cifar_archive

    def read_only(arch: Path, dest: Path) -> Path:
        if dest == data:
            raise PermissionError(13, "Permission denied", str(dest))
        return real(arch, dest)

    monkeypatch.setattr(formats, "extract_cifar_archive", read_only)
    ds = load_dataset("cifar10", data_dir=str(data))
    home_folder = isolated_home / "datasets" / "cifar-10-batches-py"
    assert formats.cifar_folder_complete(home_folder)
    assert str(home_folder) in ds.source
    assert not (data / "cifar-10-batches-py").exists()


def test_cifar_archive_without_batches(tmp_path: Path) -> None:
    (tmp_path / "junk.txt").write_text("hello")
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "junk.txt", arcname="../../junk.txt")
    with pytest.raises(DatasetError, match="cifar-10-python.tar.gz"):
        load_dataset("cifar10", data_dir=str(tmp_path))
    assert not (tmp_path.parent.parent / "junk.txt").exists()


def test_cifar_wrong_shape(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    bad = cifar_batch(4, 3)
    bad[b"data"] = np.zeros((4, 1024), np.uint8)
    path = tmp_path / "data_batch_3"
    path.write_bytes(pickle.dumps(bad, protocol=2))
    with pytest.raises(DatasetError, match="3072") as err:
        load_dataset("cifar10", data_dir=str(tmp_path))
    assert str(path) in str(err.value)


def test_cifar_missing_key(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    bad = cifar_batch(4, 99)
    del bad[b"labels"]
    path = tmp_path / "test_batch"
    path.write_bytes(pickle.dumps(bad, protocol=2))
    with pytest.raises(DatasetError, match="'labels'") as err:
        load_dataset("cifar10", data_dir=str(tmp_path))
    assert str(path) in str(err.value)


def test_cifar_not_a_pickle(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    path = tmp_path / "data_batch_2"
    path.write_bytes(b"this is not a pickle")
    with pytest.raises(DatasetError) as err:
        load_dataset("cifar10", data_dir=str(tmp_path))
    assert str(path) in str(err.value)


class Evil:
    """Unpickling this would run a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [0, 2, 4, pickle.HIGHEST_PROTOCOL])
def test_malicious_pickle_refused(tmp_path: Path, protocol: int) -> None:
    data = tmp_path / "data"
    write_cifar(data)
    marker = tmp_path / "pwned"
    batch = cifar_batch(4, 1)
    batch[b"data"] = Evil(marker)
    path = data / "data_batch_1"
    path.write_bytes(pickle.dumps(batch, protocol=protocol))
    with pytest.raises(DatasetError, match="refused") as err:
        load_dataset("cifar10", data_dir=str(data))
    assert str(path) in str(err.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "module,name", [("builtins", "eval"), ("numpy", "load"), ("subprocess", "Popen")]
)
def test_restricted_unpickler_refuses_other_globals(module: str, name: str) -> None:
    payload = f"c{module}\n{name}\n(S'1'\ntR.".encode()
    with pytest.raises(pickle.UnpicklingError, match="refused"):
        formats.RestrictedUnpickler(io.BytesIO(payload), encoding="bytes").load()


# ---- image folders ---------------------------------------------------------------------


def test_folder_grayscale_one_channel(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    imgs = {}
    for split, n in (("train", 3), ("test", 2)):
        for cls in ("b_cls", "a_cls"):
            for i in range(n):
                arr = rng.integers(0, 256, (32, 32), dtype=np.uint8)
                imgs[(split, cls, i)] = arr
                save_png(tmp_path / split / cls / f"{i}.png", arr, mode="L")
    # a smaller grayscale image that must be resized
    save_png(tmp_path / "train" / "a_cls" / "z_small.png", np.full((20, 20), 77, np.uint8), "L")
    (tmp_path / "train" / "a_cls" / "notes.txt").write_text("ignored")
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.name == f"folder:{tmp_path}"
    assert ds.classes == ["a_cls", "b_cls"]
    assert ds.channels == 1 and ds.image_size == 32
    assert ds.x_train.shape == (7, 1, 32, 32) and ds.x_test.shape == (4, 1, 32, 32)
    assert ds.y_train.tolist() == [0, 0, 0, 0, 1, 1, 1]
    assert ds.per_class_counts() == [4, 3]
    assert np.array_equal(ds.x_train[0, 0].numpy(), imgs[("train", "a_cls", 0)])
    assert np.array_equal(ds.x_test[3, 0].numpy(), imgs[("test", "b_cls", 1)])
    assert (ds.x_train[3, 0] == 77).all()  # resized constant image stays constant
    x = ds.x_train.double() / 255
    assert ds.mean[0] == pytest.approx(float(x.mean()), abs=1e-9)
    assert ds.std[0] == pytest.approx(float(x.std(unbiased=False)), abs=1e-9)
    assert dataset_family(ds.name) == "custom"


def test_folder_rgb_makes_three_channels(tmp_path: Path) -> None:
    gray = np.arange(32 * 32, dtype=np.uint8).reshape(32, 32)
    save_png(tmp_path / "train" / "cat" / "g.png", gray, "L")
    rgb = np.zeros((48, 40, 3), np.uint8)
    rgb[..., 0] = 200
    save_png(tmp_path / "train" / "dog" / "c.jpg", rgb, fmt="JPEG")
    save_png(tmp_path / "test" / "dog" / "c.JPEG", rgb, fmt="JPEG")
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.channels == 3
    assert ds.x_train.shape == (2, 3, 32, 32) and ds.x_test.shape == (1, 3, 32, 32)
    for c in range(3):  # the gray image is replicated into each channel unchanged
        assert np.array_equal(ds.x_train[0, c].numpy(), gray)
    red = ds.x_train[1].double().mean(dim=(1, 2))
    assert red[0] > 150 and red[1] < 60 and red[2] < 60
    assert len(ds.mean) == 3 and len(ds.std) == 3
    assert ds.y_test.tolist() == [1]


def test_folder_errors(tmp_path: Path) -> None:
    def expect(root: Path, needle: str | Path) -> None:
        with pytest.raises(DatasetError) as err:
            load_dataset(f"folder:{root}")
        assert str(needle) in str(err.value), str(err.value)
        assert "\n" not in str(err.value)

    expect(tmp_path / "missing", tmp_path / "missing")
    root = tmp_path / "ds"
    (root / "train").mkdir(parents=True)
    expect(root, "test/")
    (root / "test").mkdir()
    expect(root, root / "train")  # no class folders
    (root / "train" / "a").mkdir()
    expect(root, root / "train" / "a")  # empty class
    save_png(root / "train" / "a" / "0.png", np.zeros((8, 8), np.uint8), "L")
    expect(root, root / "test")  # test has no class folders
    save_png(root / "test" / "zebra" / "0.png", np.zeros((8, 8), np.uint8), "L")
    expect(root, root / "test" / "zebra")  # not among the train classes
    (root / "test" / "zebra").rename(root / "test" / "a")
    (root / "train" / "a" / "broken.png").write_bytes(b"\x89PNG not really")
    expect(root, root / "train" / "a" / "broken.png")
    (root / "train" / "a" / "broken.png").unlink()
    assert load_dataset(f"folder:{root}").x_train.shape == (1, 1, 32, 32)


# ---- npz -------------------------------------------------------------------------------


def test_npz_gray_28_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    arrays = {
        "x_train": rng.integers(0, 256, (8, 28, 28), dtype=np.uint8),
        "y_train": np.array([0, 1, 2, 0, 1, 2, 0, 1], np.uint8),
        "x_test": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "y_test": np.array([2, 1, 0], np.int32),
    }
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    ds = load_dataset(f"npz:{path}")
    assert ds.name == f"npz:{path}"
    assert ds.x_train.shape == (8, 1, 28, 28) and ds.channels == 1
    assert np.array_equal(ds.x_train[:, 0].numpy(), arrays["x_train"])
    assert ds.y_train.dtype == torch.int64 and ds.y_test.tolist() == [2, 1, 0]
    assert ds.classes == ["0", "1", "2"]
    x = arrays["x_train"].astype(np.float64) / 255
    assert ds.mean[0] == pytest.approx(x.mean()) and ds.std[0] == pytest.approx(x.std())


def test_npz_rgb_nhwc_and_classes(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    x_train = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    x_test = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    path = tmp_path / "rgb.npz"
    np.savez_compressed(
        path,
        x_train=x_train,
        y_train=np.array([0, 1, 2, 3]),
        x_test=x_test,
        y_test=np.array([3, 3]),
        classes=np.array(["w", "x", "y", "z"]),
    )
    ds = load_dataset(f"npz:{path}")
    assert ds.x_train.shape == (4, 3, 32, 32)
    assert np.array_equal(ds.x_train.numpy(), x_train.transpose(0, 3, 1, 2))
    assert ds.classes == ["w", "x", "y", "z"]


def test_npz_float_and_resize(tmp_path: Path) -> None:
    x_train = np.linspace(0, 1, 5 * 20 * 20, dtype=np.float32).reshape(5, 20, 20, 1)
    x_test = np.full((2, 20, 20, 1), 0.5, np.float32)
    path = tmp_path / "f.npz"
    np.savez(path, x_train=x_train, y_train=np.zeros(5, int), x_test=x_test, y_test=[0, 0])
    ds = load_dataset(f"npz:{path}")
    assert ds.x_train.shape == (5, 1, 32, 32) and ds.x_train.dtype == torch.uint8
    assert (ds.x_test == 128).all()  # round(0.5 * 255) = 128, constant survives resizing
    assert ds.classes == ["0"]


@pytest.mark.parametrize(
    "change,needle",
    [
        ({"x_test": None}, "x_test"),
        ({"y_train": None}, "y_train"),
        ({"x_train": np.zeros((4, 28, 28, 2), np.uint8)}, "x_train"),
        ({"y_train": np.array([0, 1, 2])}, "y_train"),
        ({"y_test": np.array([0, 5])}, "y_test"),
        ({"y_test": np.array([0, -1])}, "y_test"),
        ({"x_test": np.full((2, 28, 28), 2.0)}, "x_test"),
        ({"x_train": np.zeros((4, 28, 28), np.int16) - 1}, "x_train"),
        ({"x_train": np.zeros((0, 28, 28), np.uint8), "y_train": np.zeros(0, int)}, "x_train"),
    ],
)
def test_npz_errors(tmp_path: Path, change: dict, needle: str) -> None:
    arrays: dict[str, np.ndarray | None] = {
        "x_train": np.zeros((4, 28, 28), np.uint8),
        "y_train": np.array([0, 1, 0, 1]),
        "x_test": np.zeros((2, 28, 28), np.uint8),
        "y_test": np.array([0, 1]),
        "classes": np.array(["a", "b"]),
    }
    arrays.update(change)
    path = tmp_path / "bad.npz"
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    with pytest.raises(DatasetError) as err:
        load_dataset(f"npz:{path}")
    assert needle in str(err.value) and str(path) in str(err.value)


def test_npz_object_array_refused(tmp_path: Path) -> None:
    path = tmp_path / "obj.npz"
    obj = np.empty(2, dtype=object)
    np.savez(
        path,
        x_train=np.zeros((2, 28, 28), np.uint8),
        y_train=obj,
        x_test=np.zeros((2, 28, 28), np.uint8),
        y_test=np.zeros(2, int),
    )
    with pytest.raises(DatasetError) as err:
        load_dataset(f"npz:{path}")
    assert str(path) in str(err.value)


def test_npz_missing_file_and_not_npz(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(f"npz:{tmp_path / 'nope.npz'}")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(DatasetError) as err:
        load_dataset(f"npz:{junk}")
    assert str(junk) in str(err.value)


@pytest.mark.parametrize("kind", ["text", "npy", "objects"])
def test_npz_that_is_not_one_says_so_and_never_suggests_unsafe_loading(tmp_path, kind):
    """numpy's own message for a text file is to load it 'unsafely using allow_pickle'."""
    path = tmp_path / "data.npz"
    if kind == "text":
        path.write_text("x_train,y_train\n1,2\n")
    elif kind == "npy":
        with open(path, "wb") as fh:
            np.save(fh, np.zeros(3))
    else:
        obj = np.empty(2, dtype=object)
        np.savez(path, x_train=obj, y_train=obj, x_test=obj, y_test=obj)
    with pytest.raises(DatasetError) as err:
        load_dataset(f"npz:{path}")
    msg = str(err.value)
    assert f"{path} is not a valid .npz dataset" in msg
    assert "pickle" not in msg.lower() and "unsafe" not in msg.lower()


# ---- listing ---------------------------------------------------------------------------


def test_list_datasets_empty_home(isolated_home: Path, tmp_path: Path) -> None:
    statuses = list_datasets()
    assert [s.id for s in statuses] == list(BUILTIN_DATASETS)
    by_id = {s.id: s for s in statuses}
    assert by_id["mnist-sample"].available and by_id["mnist-sample"].location
    assert by_id["mnist-sample"].title == "MNIST (embedded 5,000-image sample)"
    for ds in ("mnist", "fashion-mnist", "cifar10"):
        st = by_id[ds]
        assert not st.available and st.location is None
        # Neutral: each front end adds its own way to fix it (flags, or the window's controls).
        assert "not found offline; looked in" in st.note and "--" not in st.note
        assert str(isolated_home / "datasets") in st.note
    assert str(tmp_path / "no-system") in by_id["fashion-mnist"].note


def test_list_datasets_finds_files(isolated_home: Path, tmp_path: Path) -> None:
    home = isolated_home / "datasets"
    write_idx_dataset(home / "FashionMNIST" / "raw", gz=True)
    write_cifar(home / "cifar-10-batches-py")
    data_dir = tmp_path / "mine"
    write_idx_dataset(data_dir)
    by_id = {s.id: s for s in list_datasets()}
    assert not by_id["mnist"].available
    assert by_id["fashion-mnist"].available
    assert by_id["fashion-mnist"].location == str(home / "FashionMNIST" / "raw")
    assert by_id["cifar10"].available
    assert by_id["cifar10"].location == str(home / "cifar-10-batches-py")
    by_id = {s.id: s for s in list_datasets(str(data_dir))}
    assert by_id["mnist"].available and by_id["mnist"].location == str(data_dir)
    # data_dir comes first, even for fashion-mnist whose files also lie in the home folder
    assert by_id["fashion-mnist"].location == str(data_dir)


def test_list_datasets_incomplete_idx(isolated_home: Path) -> None:
    folder = isolated_home / "datasets" / "MNIST" / "raw"
    write_idx_dataset(folder)
    (folder / IDX_STEMS["test_labels"]).unlink()
    assert not {s.id: s for s in list_datasets()}["mnist"].available


# ---- misc ------------------------------------------------------------------------------


def test_image_dataset_validates_shapes() -> None:
    good = dict(
        name="t",
        classes=["a", "b"],
        x_train=torch.zeros(2, 1, 28, 28, dtype=torch.uint8),
        y_train=torch.zeros(2, dtype=torch.int64),
        x_test=torch.zeros(1, 1, 28, 28, dtype=torch.uint8),
        y_test=torch.zeros(1, dtype=torch.int64),
        mean=(0.5,),
        std=(0.5,),
        source="test",
    )
    ds = ImageDataset(**good)
    assert ds.per_class_counts() == [2, 0]
    with pytest.raises(DatasetError):
        ImageDataset(**{**good, "x_train": torch.zeros(2, 1, 20, 20, dtype=torch.uint8)})
    with pytest.raises(DatasetError):
        ImageDataset(**{**good, "y_train": torch.zeros(2, dtype=torch.int32)})
    with pytest.raises(DatasetError):
        ImageDataset(**{**good, "mean": (0.5, 0.5, 0.5)})


def test_data_package_does_not_import_qt() -> None:
    code = (
        "import sys, gdd_studio.data as d; d.load_dataset('mnist-sample'); "
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'PyQt', 'shiboken'))]; "
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
