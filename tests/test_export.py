"""Exports read back by independent loaders, charts without a display, and the CLI verbs."""

import csv
import json
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch
from PIL import Image

from gdd_studio.cli import main
from gdd_studio.engine.run import Run
from gdd_studio.evaluation.protocol import results_path
from gdd_studio.export import (
    ExportError,
    export_generator,
    export_set,
    load_generator_file,
    sample_from_file,
    write_chart,
)
from gdd_studio.export.sets import class_folder_names
from tests.helpers import tiny_config, write_tiny_npz


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("exportrun")
    data = write_tiny_npz(root / "tiny.npz", classes=3, per_class=12)
    run = Run.create(tiny_config(f"npz:{data}"), root / "runs")
    assert run.execute() == "finished"
    return run.dir


ROWS = [
    {"arch": "convnet3", "ipc": 1, "source": "distilled", "mean": 0.8, "std": 0.02, "n": 3},
    {"arch": "convnet3", "ipc": 1, "source": "random-real", "mean": 0.6, "std": 0.05, "n": 3},
    {"arch": "convnet3", "ipc": 10, "source": "distilled", "mean": 0.93, "std": 0.01, "n": 3},
    {"arch": "convnet3", "ipc": 10, "source": "random-real", "mean": 0.9, "std": 0.01, "n": 3},
    {"arch": "resnet18", "ipc": 10, "source": "distilled", "mean": 0.9, "std": 0.01, "n": 3},
    {"arch": "convnet3", "ipc": None, "source": "full-real", "mean": 0.99, "std": 0.0, "n": 3},
]


def test_pt_export_loads_with_weights_only(finished_run, tmp_path):
    out = export_set(finished_run, "pt", 2, tmp_path / "set.pt")
    payload = torch.load(out, weights_only=True)
    images, labels = payload["images"], payload["labels"]
    assert images.dtype == torch.float32 and images.shape == (6, 1, 28, 28)
    assert 0 <= images.min() and images.max() <= 1
    assert labels.dtype == torch.int64 and labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert payload["ipc"] == 2 and len(payload["mean"]) == 1 and payload["classes"]
    # The set says how many of its images the generator made: all of them here.
    assert payload["selection"]["generator_images"] == 6
    # The same pixels as the run's stored set.
    with np.load(finished_run / "distilled" / "ipc2.npz") as f:
        stored = f["images"]
    assert np.array_equal((images * 255).round().byte().permute(0, 2, 3, 1).numpy(), stored)


def test_npz_export_loads_with_numpy(finished_run, tmp_path):
    out = export_set(finished_run, "npz", 3, tmp_path / "set.npz")
    with np.load(out) as f:
        assert f["images"].dtype == np.uint8 and f["images"].shape == (9, 28, 28, 1)
        assert f["labels"].dtype == np.int64 and np.bincount(f["labels"]).tolist() == [3, 3, 3]
        assert json.loads(str(f["selection"]))["generator_images"] == 9
    # A new IPC was made by the generator without retraining, and kept.
    assert (finished_run / "distilled" / "ipc3.npz").is_file()


def test_png_folder_loads_with_pil_and_imagefolder(finished_run, tmp_path):
    from torchvision.datasets import ImageFolder

    out = export_set(finished_run, "png", 2, tmp_path / "pngs")
    ds = ImageFolder(str(out))
    assert len(ds) == 6 and sorted(ds.targets) == [0, 0, 1, 1, 2, 2]
    with np.load(finished_run / "distilled" / "ipc2.npz") as f:
        stored, labels = f["images"], f["labels"]
    path, target = ds.samples[0]
    pixels = np.asarray(Image.open(path))
    assert pixels.shape == (28, 28) and target == 0
    assert any(np.array_equal(pixels, img[..., 0]) for img in stored[labels == 0])
    assert json.loads((out / "classes.json").read_text())["folders"] == ds.classes


def test_class_folders_sort_in_label_order():
    assert class_folder_names(["0", "1", "2"]) == ["0", "1", "2"]
    names = class_folder_names(["T-shirt/top", "Trouser", "Bag"] + [f"c{i}" for i in range(8)])
    assert sorted(names) == names and names[0] == "00_T-shirt-top"


def test_exports_never_overwrite_unless_told(finished_run, tmp_path):
    target = tmp_path / "set.npz"
    target.write_bytes(b"precious")
    with pytest.raises(ExportError, match="exists already"):
        export_set(finished_run, "npz", 2, target)
    assert target.read_bytes() == b"precious"
    export_set(finished_run, "npz", 2, target, overwrite=True)
    assert np.load(target)["images"].shape[0] == 6
    folder = tmp_path / "pngs"
    export_set(finished_run, "png", 1, folder)
    with pytest.raises(ExportError, match="exists already"):
        export_set(finished_run, "png", 2, folder)
    export_set(finished_run, "png", 2, folder, overwrite=True)
    assert len(list(folder.rglob("*.png"))) == 6
    assert not list(tmp_path.glob(".*"))  # no temporary leftovers


@pytest.fixture
def umask_027():
    import os

    old = os.umask(0o027)
    yield
    os.umask(old)


def test_written_files_get_the_umask_modes_not_0600(finished_run, tmp_path, umask_027):
    """Atomic writes go through mkstemp/mkdtemp (0600/0700); what lands must be 0640/0750
    under umask 027, like any file a program makes, so shared runs and exports stay readable."""
    import stat

    def mode(p):
        return stat.S_IMODE(p.stat().st_mode)

    data = write_tiny_npz(tmp_path / "tiny.npz", classes=3, per_class=12)
    run = Run.create(tiny_config(f"npz:{data}"), tmp_path / "runs")
    assert mode(run.dir / "config.json") == 0o640 and mode(run.dir / "run.json") == 0o640
    for fmt, name in (("pt", "s.pt"), ("npz", "s.npz")):
        assert mode(export_set(finished_run, fmt, 1, tmp_path / name)) == 0o640
    assert mode(export_generator(finished_run, tmp_path / "g.pt")) == 0o640
    folder = export_set(finished_run, "png", 1, tmp_path / "pngs")
    assert mode(folder) == 0o750
    assert {mode(p) for p in folder.rglob("*.png")} == {0o640}
    folder = export_set(finished_run, "png", 1, folder, overwrite=True)  # replaced: the same
    assert mode(folder) == 0o750
    chart = write_chart(ROWS, tmp_path / "c.svg")
    assert mode(chart) == 0o640


def test_generator_export_rebuilds_and_samples_any_ipc(finished_run, tmp_path):
    out = export_generator(finished_run, tmp_path / "g.pt")
    g, meta = load_generator_file(out)
    assert meta["num_classes"] == 3 and meta["image_size"] == 28
    images, labels = sample_from_file(out, ipc=4, seed=1)
    assert images.shape == (12, 28, 28, 1) and np.bincount(labels).tolist() == [4, 4, 4]
    with pytest.raises(ExportError, match="not a GDD Studio generator"):
        torch.save({"x": 1}, tmp_path / "other.pt")
        load_generator_file(tmp_path / "other.pt")


@pytest.mark.parametrize("kind", ["arch", "ipc"])
def test_charts_as_png_and_svg(tmp_path, kind):
    png = write_chart(ROWS, tmp_path / f"{kind}.png", kind)
    svg = write_chart(ROWS, tmp_path / f"{kind}.svg", kind)
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] > 500
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    text = svg.read_text()
    assert "ConvNet-3" in text or "ConvNet" in text


def test_chart_refuses_unknown_suffix_and_empty_results(tmp_path):
    with pytest.raises(ExportError, match="name it .png, .svg or .csv"):
        write_chart(ROWS, tmp_path / "chart.jpg")
    with pytest.raises(ExportError, match="no evaluation results"):
        write_chart([], tmp_path / "chart.png")
    with pytest.raises(ExportError, match="two or more IPCs"):
        write_chart(ROWS[4:5], tmp_path / "chart.svg", "ipc")


def test_cli_evaluate_export_chart(finished_run, tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    code = main([
        "evaluate", str(run_dir), "--ipc", "1,2", "--archs", "convnet3", "--repeats", "1",
        "--epochs", "2", "--width", "4", "--device", "cpu", "--quiet",
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "random-real" in out and "gan-only" in out
    rows = json.loads(results_path(run_dir).read_text())["results"]
    assert {(r["ipc"], r["source"]) for r in rows} >= {(1, "distilled"), (2, "random-real")}
    assert main(["chart", str(run_dir), "--out", str(tmp_path / "c.svg")]) == 0
    assert main(["chart", str(run_dir), "--out", str(tmp_path / "c.png"), "--kind", "ipc"]) == 0
    assert main(["chart", str(run_dir), "--out", str(tmp_path / "c.csv")]) == 0
    assert (tmp_path / "c.csv").read_text().startswith("arch,ipc,source")
    assert main(["export", str(run_dir), "--format", "png", "--out", str(tmp_path / "p")]) == 0
    assert len(list((tmp_path / "p").rglob("*.png"))) == 6  # the run's IPC 2
    assert (
        main(["export", str(run_dir), "--format", "generator", "--out", str(tmp_path / "g")]) == 0
    )
    # Several runs: one chart and table, each row naming its run.
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    assert main(["chart", str(run_dir), str(other), "--out", str(tmp_path / "both.csv")]) == 0
    with open(tmp_path / "both.csv", newline="") as f:
        runs = {r["run"] for r in csv.DictReader(f)}
    assert runs >= {run_dir.name, other.name}
    assert main(["chart", str(run_dir), str(other), "--out", str(tmp_path / "both.svg")]) == 0
    results_path(other).unlink()
    assert main(["chart", str(run_dir), str(other), "--out", str(tmp_path / "x.svg")]) == 2
    assert f"run {other} has no evaluation results yet" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["evaluate", "{run}", "--archs", "lenet"], "unknown evaluation network 'lenet'"),
        (["evaluate", "{run}", "--ipc", "0"], "evaluation IPC must be at least 1"),
        (["evaluate", "{run}", "--ipc", "a,b"], "--ipc must be comma-separated whole numbers"),
        (["evaluate", "{unfinished}"], "has no generator yet"),
        (["evaluate", "{nothing}"], "is not a run folder"),
        (["export", "{run}", "--format", "npz", "--ipc", "0", "--out", "{tmp}/x.npz"],
         "IPC must be at least 1"),
        (["export", "{run}", "--format", "npz", "--out", "{tmp}/missing/x.npz"], "does not exist"),
        (["chart", "{run}", "--out", "{tmp}/c.svg"], "has no evaluation results yet"),
    ],
)  # fmt: skip
def test_cli_bad_input_is_one_line(finished_run, tmp_path, capsys, argv, message):
    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    results_path(run_dir).unlink(missing_ok=True)
    data = write_tiny_npz(tmp_path / "tiny.npz")
    unfinished = Run.create(tiny_config(f"npz:{data}"), tmp_path / "runs").dir
    names = {"run": run_dir, "unfinished": unfinished, "nothing": tmp_path, "tmp": tmp_path}
    code = main([a.format(**names) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
