"""SVHN and CIFAR-100 (issue 29): read from tiny files in their real formats (SVHN's
MATLAB ``*_32x32.mat``, CIFAR-100's ``cifar-100-python`` pickles), listed offline, and a
smoke run of each end to end."""

import pickle

import numpy as np
import pytest

from gdd_studio.cli import main
from gdd_studio.config import preset_config
from gdd_studio.data import load_dataset
from gdd_studio.data.registry import list_datasets
from gdd_studio.errors import DatasetError


def write_svhn(folder, per_class=2, test_per_class=1):
    from scipy.io import savemat

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, n in (("train_32x32.mat", per_class), ("test_32x32.mat", test_per_class)):
        y = np.repeat(np.arange(1, 11), n).reshape(-1, 1)  # 10 is the digit 0
        x = rng.integers(0, 256, (32, 32, 3, len(y)), dtype=np.uint8)
        savemat(folder / name, {"X": x, "y": y.astype(np.uint8)})
    return folder


def write_cifar100(folder, per_class=2, test_per_class=1):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for name, n in (("train", per_class), ("test", test_per_class)):
        labels = list(np.repeat(np.arange(100), n))
        data = rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8)
        split = {b"data": data, b"fine_labels": labels, b"coarse_labels": [0] * len(labels)}
        (folder / name).write_bytes(pickle.dumps(split, protocol=2))
    meta = {b"fine_label_names": [f"class{i}".encode() for i in range(100)]}
    (folder / "meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder


def test_svhn_reads_its_mat_files_with_ten_as_zero(tmp_path):
    write_svhn(tmp_path / "svhn")
    data = load_dataset("svhn", data_dir=tmp_path)
    assert data.x_train.shape == (20, 3, 32, 32) and data.num_classes == 10
    assert data.y_train.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 0, 0]
    from scipy.io import loadmat

    x = loadmat(tmp_path / "svhn" / "train_32x32.mat")["X"]
    assert np.array_equal(data.x_train[3].numpy(), x[:, :, :, 3].transpose(2, 0, 1))
    status = {s.id: s for s in list_datasets(str(tmp_path))}
    assert status["svhn"].available and status["cifar100"].available is False


def test_cifar100_reads_its_pickles_and_fine_labels(tmp_path):
    write_cifar100(tmp_path / "cifar-100-python")
    data = load_dataset("cifar100", data_dir=tmp_path)
    assert data.x_train.shape == (200, 3, 32, 32) and data.num_classes == 100
    assert data.classes[7] == "class7" and data.y_test.tolist() == list(range(100))


def test_a_damaged_file_is_one_line(tmp_path):
    (tmp_path / "svhn").mkdir()
    for name in ("train_32x32.mat", "test_32x32.mat"):
        (tmp_path / "svhn" / name).write_bytes(b"not a mat file")
    with pytest.raises(DatasetError, match="not a readable SVHN .mat file"):
        load_dataset("svhn", data_dir=tmp_path)


@pytest.mark.parametrize("dataset, write", [("svhn", write_svhn), ("cifar100", write_cifar100)])
def test_a_smoke_run_of_each_ends_to_end(tmp_path, capsys, dataset, write):
    folder = "svhn" if dataset == "svhn" else "cifar-100-python"
    write(tmp_path / "data" / folder)
    # 100 classes: a grid of one image per class and the first draws keep the test short
    light = ["--set", "monitor.grid_cols=1", "--set", "sampling.selection=random"]
    rc = main(["run", "--preset", "smoke", "--dataset", dataset, "--data-dir",
               str(tmp_path / "data"), "--ipc", "1", "--runs-dir", str(tmp_path / "runs"),
               "--quiet", *(light if dataset == "cifar100" else [])])  # fmt: skip
    out, err = capsys.readouterr()
    assert rc == 0, err
    (run,) = (tmp_path / "runs").iterdir()
    sets = np.load(run / "distilled" / "ipc1.npz")
    classes = 10 if dataset == "svhn" else 100
    assert sets["images"].shape == (classes, 32, 32, 3)


def test_cifar100_gets_noise_beside_its_hundred_class_label():
    """The one-hot of 100 classes fills the default 100 noise entries: presets widen it,
    and a config that does not is refused in one line."""
    from gdd_studio.config.validation import validate_for_dataset
    from gdd_studio.errors import ConfigError

    for preset in ("paper", "cpu", "smoke"):
        assert preset_config(preset, "cifar100").model.nz == 200
    cfg = preset_config("smoke")
    cfg.dataset = "cifar100"
    with pytest.raises(ConfigError, match=r"model.nz \(100\) must be more than"):
        validate_for_dataset(cfg, 100, [30] * 100)
