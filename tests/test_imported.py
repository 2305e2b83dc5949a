"""Sets made elsewhere, imported beside the runs and judged by the same protocol (issue 29).

The product's own exports come back byte for byte and score the run's own row; random
real images written in the MTT/DATM layout score the random-real row; every bad input is
one line with exit status 2 and leaves no folder behind.
"""

import json

import numpy as np
import pytest
import torch

from gdd_studio.cli import main
from gdd_studio.config import EvalConfig
from gdd_studio.data import load_dataset
from gdd_studio.evaluation.inputs import random_real_indices
from gdd_studio.evaluation.protocol import Evaluation, load_results
from gdd_studio.rundir.artifacts import run_config
from gdd_studio.rundir.folder import RunFolder, read_run_info

EVAL = dict(ipcs=[2], repeats=1, epochs=2, width=8, gan_only=False, archs=["convnet3"])


def _import(path, dataset, runs, capsys):
    capsys.readouterr()  # what came before (an export's own line)
    rc = main(["import", str(path), "--dataset", dataset, "--runs-dir", str(runs), "--quiet"])
    out, err = capsys.readouterr()
    return rc, out.strip(), err


def _rows(run_dir):
    return {r["source"]: r for r in load_results(run_dir)["results"]}


@pytest.fixture(scope="module")
def evaluated_template(tiny_run_template, tmp_path_factory):
    """The session's tiny run, copied and evaluated once: its rows to be matched."""
    import shutil

    run = tmp_path_factory.mktemp("evaluated") / tiny_run_template.name
    shutil.copytree(tiny_run_template, run)
    Evaluation(run, EvalConfig(**EVAL), device="cpu").execute()
    return run


@pytest.mark.parametrize("fmt, name", [("npz", "set.npz"), ("pt", "set.pt"),
                                       ("tensors", "mtt"), ("png", "pngs")])  # fmt: skip
def test_an_exported_set_comes_back_byte_for_byte(tiny_run_template, tmp_path, capsys, fmt,
                                                  name):  # fmt: skip
    out = tmp_path / name
    assert main(["export", str(tiny_run_template), "--format", fmt, "--out", str(out)]) == 0
    dataset = run_config(tiny_run_template).dataset
    rc, folder, err = _import(out, dataset, tmp_path / "runs", capsys)
    assert rc == 0, err
    folder = RunFolder(folder)
    ours = np.load(RunFolder(tiny_run_template).distilled(2))
    theirs = np.load(folder.distilled(2))
    assert np.array_equal(ours["images"], theirs["images"])
    assert np.array_equal(ours["labels"], theirs["labels"])
    info = read_run_info(folder.dir)
    assert info["status"] == "imported" and info["ipc"] == 2
    assert json.loads(str(theirs["selection"]))["selection"] == "imported"


def test_an_imported_export_scores_the_runs_own_row(evaluated_template, tmp_path, capsys):
    """Issue 29's done line: the same set, the same protocol and seeds, the same accuracy."""
    out = tmp_path / "set.npz"
    assert main(["export", str(evaluated_template), "--format", "npz", "--out", str(out)]) == 0
    rc, folder, err = _import(out, run_config(evaluated_template).dataset, tmp_path / "r", capsys)
    assert rc == 0, err
    doc = Evaluation(folder, EvalConfig(**EVAL), device="cpu").execute()
    assert doc["status"] == "finished"
    theirs, ours = _rows(folder), _rows(evaluated_template)
    assert theirs["distilled"]["accuracies"] == ours["distilled"]["accuracies"]
    assert theirs["random-real"]["accuracies"] == ours["random-real"]["accuracies"]
    assert theirs["distilled"]["selection"] == "imported"
    # Who made an imported set's images is not known: not counted, not claimed.
    assert theirs["distilled"]["generator_images"] is None
    assert ours["distilled"]["generator_images"] == ours["distilled"]["images"]


def test_random_real_images_in_the_mtt_layout_score_the_random_real_row(
    evaluated_template, tmp_path, capsys
):
    dataset = run_config(evaluated_template).dataset
    data = load_dataset(dataset)
    idx = random_real_indices(data.y_train, 2, data.num_classes, 0 * 1000 + 0 + 2)
    x = data.x_train[idx].float() / 255
    mean = torch.tensor(data.mean).view(1, -1, 1, 1)
    std = torch.tensor(data.std).view(1, -1, 1, 1)
    folder = tmp_path / "mtt"
    folder.mkdir()
    torch.save((x - mean) / std, folder / "images_best.pt")
    torch.save(data.y_train[idx].clone(), folder / "labels_best.pt")
    rc, run, err = _import(folder, dataset, tmp_path / "runs", capsys)
    assert rc == 0, err
    Evaluation(run, EvalConfig(**EVAL), device="cpu").execute()
    rows = _rows(run)
    assert rows["distilled"]["accuracies"] == rows["random-real"]["accuracies"]
    assert rows["random-real"]["accuracies"] == _rows(evaluated_template)["random-real"][
        "accuracies"
    ]


def _npz(path, x, y):
    np.savez(path, x=x, y=y)
    return path


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: _npz(p / "a.npz", np.zeros((6, 3, 32, 32), np.uint8), np.arange(6) % 3),
         "mnist-sample is 1 x 28 x 28"),
        (lambda p: _npz(p / "a.npz", np.zeros((6, 28, 28), np.uint8), np.arange(6) % 3 + 9),
         "labels from 9 to 11"),
        (lambda p: _npz(p / "a.npz", np.full((6, 28, 28), np.nan, np.float32),
                        np.arange(6) % 3), "NaN"),
        (lambda p: _npz(p / "a.npz", np.zeros((6, 28, 28), np.float32), np.eye(6, 3)),
         "soft labels"),
        (lambda p: _npz(p / "a.npz", np.zeros((6, 28, 28), np.uint8), np.array([0] * 6)),
         "no images of class 1"),
        (lambda p: _npz(p / "a.npz", np.zeros((6, 28, 28), np.float32) + 7.5,
                        np.arange(6) % 10), "image values from 7.5 to 7.5"),
        (lambda p: _npz(p / "a.npz", np.zeros((5, 28, 28), np.uint8), np.arange(5) % 10),
         "no images of class 5"),
        (lambda p: (p / "a.txt").write_text("x") and p / "a.txt", "not a set this app reads"),
        (lambda p: (p / "b.pt").write_bytes(b"garbage") and p / "b.pt", "safe loader"),
    ],
)
def test_a_bad_set_is_one_line_and_leaves_no_folder(tmp_path, capsys, make, words):
    path = make(tmp_path)
    runs = tmp_path / "runs"
    rc, out, err = _import(path, "mnist-sample", runs, capsys)
    assert rc == 2 and out == "" and err.count("\n") == 1 and words in err, err
    assert str(path) in err
    assert not runs.exists() or not any(runs.iterdir())


def test_a_zca_whitened_set_is_refused_in_one_line(tmp_path, capsys):
    folder = tmp_path / "zca"
    folder.mkdir()
    g = torch.Generator().manual_seed(0)
    torch.save(torch.randn(20, 1, 28, 28, generator=g) * 4, folder / "images_best.pt")
    torch.save(torch.arange(20) % 10, folder / "labels_best.pt")
    rc, _, err = _import(folder, "mnist-sample", tmp_path / "runs", capsys)
    assert rc == 2 and "ZCA-whitened" in err and err.count("\n") == 1, err


def test_an_image_folder_with_an_unknown_class_is_named(tmp_path, capsys):
    from PIL import Image

    for name in ("0", "sandals"):
        (tmp_path / "set" / name).mkdir(parents=True)
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "set" / name / "a.png")
    rc, _, err = _import(tmp_path / "set", "mnist-sample", tmp_path / "runs", capsys)
    assert rc == 2 and "'sandals' is neither a class" in err, err


def test_what_needs_a_generator_is_refused_for_an_imported_set(tiny_run_template, tmp_path,
                                                               capsys):  # fmt: skip
    out = tmp_path / "set.npz"
    assert main(["export", str(tiny_run_template), "--format", "npz", "--out", str(out)]) == 0
    rc, folder, _ = _import(out, run_config(tiny_run_template).dataset, tmp_path / "r", capsys)
    assert rc == 0
    cases = [
        (["evaluate", folder, "--ipc", "1"], "it has no generator to make IPC 1"),
        (["evaluate", folder, "--protocol", "on-the-fly"], "on-the-fly protocol"),
        (["export", folder, "--format", "generator", "--out", str(tmp_path / "g.pt")],
         "it has no generator"),
    ]  # fmt: skip
    for args, words in cases:
        assert main(args) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1, err
    assert main(["export", folder, "--format", "png", "--out", str(tmp_path / "png")]) == 0


def test_the_runs_list_says_an_imported_set_is_one(tiny_run_template, tmp_path, capsys):
    from gdd_studio.view import Here
    from gdd_studio.view.runs import RunsModel

    out = tmp_path / "set.npz"
    assert main(["export", str(tiny_run_template), "--format", "npz", "--out", str(out)]) == 0
    rc, folder, _ = _import(out, run_config(tiny_run_template).dataset, tmp_path / "runs",
                            capsys)  # fmt: skip
    model = RunsModel(tmp_path / "runs", Here())
    model.refresh()
    (entry,) = model.rows
    assert "set imported (npz)" in entry.text and "from set.npz" in entry.text
    assert not model.summary(__import__("pathlib").Path(folder)).resumable


def test_the_window_adds_a_set_beside_the_run_shown(make_window, run_copy, tmp_path):
    """The Evaluation tab's "Add a set...", and a drop on that tab: the set joins the runs
    list, marked as imported, selected with the run shown so that they compare."""
    from types import SimpleNamespace

    from PySide6.QtCore import QUrl

    out = tmp_path / "elsewhere.npz"
    assert main(["export", str(run_copy), "--format", "npz", "--out", str(out)]) == 0
    window = make_window()
    window.runs_panel.select(run_copy)
    window.tabs.setCurrentWidget(window.evaluation)
    folder = window.evaluation.add_set(out, run_config(run_copy).dataset)
    assert folder is not None and folder.parent == run_copy.parent
    assert {p.name for p in window.evaluation.run_dirs} == {folder.name, run_copy.name}
    assert window.evaluation.run_dirs[0] == folder  # the new set is the current row
    item = window.runs_panel.runs.item(window.runs_panel._rows[str(folder)])
    assert "set imported (npz)" in item.text()
    # Dropped on the Evaluation tab: added too (the dataset asked, here answered).
    window.evaluation.ask_set_dataset = lambda default: default
    urls = [QUrl.fromLocalFile(str(out))]
    event = SimpleNamespace(mimeData=lambda: SimpleNamespace(urls=lambda: urls),
                            acceptProposedAction=lambda: None)  # fmt: skip
    window.dropEvent(event)
    assert len([p for p in run_copy.parent.iterdir() if (p / "imported.json").exists()]) == 2
    # A bad set is one dialog, and nothing is added.
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros((3, 5, 5), np.uint8), y=np.arange(3))
    assert window.evaluation.add_set(bad, run_config(run_copy).dataset) is None
    kind, text = window.last_message
    assert kind == "error" and str(bad) in text and "\n" not in text


def test_the_fields_scores_match_figures_worked_by_hand():
    """DD-Ranking's hard-label scores (ddranking/metrics/hard_label.py), worked by hand:
    set 80 %, random real 75 %, full data 90 %: IOR 0.05, HLR 0.10,
    alpha = 0.5 x 0.05 - 0.5 x 0.10 = -0.025,
    LRS = (e^-0.025 - e^-1) / (e - e^-1) = (0.975310 - 0.367879) / 2.350402 = 0.258437."""
    import csv
    import io

    from gdd_studio.evaluation.scores import field_scores, results_csv, scores_text

    rows = [
        {"arch": "convnet3", "ipc": 10, "source": "distilled", "mean": 0.80, "std": 0.01, "n": 3},
        {"arch": "convnet3", "ipc": 10, "source": "random-real", "mean": 0.75, "std": 0.01,
         "n": 3},
        {"arch": "convnet3", "ipc": None, "source": "full-real", "mean": 0.90, "std": 0.0,
         "n": 1},
    ]  # fmt: skip
    (s,) = field_scores(rows)
    assert s["ior"] == pytest.approx(0.05) and s["hlr"] == pytest.approx(0.10)
    assert s["lrs"] == pytest.approx(0.258437, abs=1e-6)
    text = scores_text(rows)
    assert "gain over random real +5.00 points" in text and "LRS 25.84" in text
    assert "recovery gap 10.00 points" in text
    table = list(csv.DictReader(io.StringIO(results_csv(rows))))
    assert table[0]["gain_over_random_real"] == "5.00"
    assert table[0]["hard_label_recovery_gap"] == "10.00"
    assert table[0]["label_robust_score"] == "25.84"
    assert table[1]["label_robust_score"] == ""  # a baseline row has none
    # Without the full-data row: the gain alone, and the flag that adds the bound.
    (s,) = field_scores(rows[:2])
    assert s["hlr"] is None and s["lrs"] is None
    assert "? (evaluate --full-real)" in scores_text(rows[:2])


NETS = '''
from torch import nn

def tiny(channels, classes, size):
    return nn.Sequential(nn.Flatten(), nn.Linear(channels * size * size, classes))

def wrong_input(channels, classes, size):
    return nn.Sequential(nn.Flatten(), nn.Linear(7, classes))

def wrong_output(channels, classes, size):
    return nn.Sequential(nn.Flatten(), nn.Linear(channels * size * size, classes + 1))

def not_a_module(channels, classes, size):
    return 3
'''


def test_your_own_network_is_evaluated_beside_the_built_in_ones(run_copy, tmp_path, capsys,
                                                                monkeypatch):  # fmt: skip
    """Issue 29: --archs file.py:factory, relative to where the command runs."""
    (tmp_path / "nets.py").write_text(NETS)
    (tmp_path / "broken.py").write_text("import no_such_module\n")
    monkeypatch.chdir(tmp_path)
    rc = main(["evaluate", str(run_copy), "--archs", "convnet3,nets.py:tiny", "--repeats", "1",
               "--epochs", "1", "--no-gan-only", "--quiet"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    archs = {r["arch"] for r in load_results(run_copy)["results"]}
    assert archs == {"convnet3", f"{tmp_path / 'nets.py'}:tiny"}  # stored with its full path
    from gdd_studio.models.nets import arch_order, arch_title

    assert arch_title(f"{tmp_path / 'nets.py'}:tiny") == "tiny (nets.py)"
    assert arch_order([f"{tmp_path}/nets.py:tiny", "vgg11", "convnet3"])[:2] == [
        "convnet3", "vgg11"
    ]  # fmt: skip
    capsys.readouterr()
    for spec, words in [
        ("nets.py:wrong_input", "does not take 1 x 28 x 28 images"),
        ("nets.py:wrong_output", "expected (2, 3) class logits"),
        ("nets.py:not_a_module", "not a torch.nn.Module"),
        ("nets.py:missing", "has no function missing"),
        ("broken.py:tiny", "broken.py does not import (ModuleNotFoundError"),
        ("gone.py:tiny", "does not exist"),
    ]:
        assert main(["evaluate", str(run_copy), "--archs", spec, "--quiet"]) == 2, spec
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1, err


def test_the_window_takes_your_own_network(make_window, run_copy, tmp_path):
    (tmp_path / "nets.py").write_text(NETS)
    window = make_window()
    window.runs_panel.select(run_copy)
    panel = window.evaluation
    panel.own_arch.setText(f"{tmp_path / 'nets.py'}:tiny")
    assert panel.settings().archs[-1] == f"{tmp_path / 'nets.py'}:tiny"
    panel.own_arch.setText("nets:tiny")
    with pytest.raises(ValueError, match="is not file.py:function"):
        panel.settings()


def test_the_augmentation_robust_score_matches_a_figure_worked_by_hand(run_copy, capsys):
    """DD-Ranking's ARS (ddranking/metrics/aug_robust.py): gains over random of 5 points
    with augmentation and 3 without: beta = 0.5 x 0.05 + 0.5 x 0.03 = 0.04,
    ARS = (e^0.04 - e^-1) / (e - e^-1) = (1.040811 - 0.367879) / 2.350402 = 0.286305.
    From the command line: evaluate, then evaluate --no-dsa, and the ARS is printed."""
    from gdd_studio.evaluation.scores import augmentation_robust_score, field_scores

    assert augmentation_robust_score(0.05, 0.03) == pytest.approx(0.286305, abs=1e-6)

    def row(source, mean, dsa):
        return {"arch": "convnet3", "ipc": 10, "source": source, "mean": mean, "std": 0.0,
                "n": 3, "dsa": dsa, "epochs": 300, "protocol": "fixed"}  # fmt: skip

    plain = [row("distilled", 0.70, False), row("random-real", 0.67, False)]
    aug = [row("distilled", 0.80, True), row("random-real", 0.75, True)]
    (s,) = field_scores(aug, plain)
    assert s["ars"] == pytest.approx(0.286305, abs=1e-6)
    (s,) = field_scores(plain, aug)  # the same from the other side
    assert s["ars"] == pytest.approx(0.286305, abs=1e-6)
    assert field_scores(aug, [dict(r, epochs=5) for r in plain])[0]["ars"] is None
    flags = ["--ipc", "2", "--repeats", "1", "--epochs", "1", "--width", "8", "--no-gan-only"]
    assert main(["evaluate", str(run_copy), *flags, "--quiet"]) == 0
    assert "ARS" not in capsys.readouterr().out
    assert main(["evaluate", str(run_copy), *flags, "--no-dsa", "--quiet"]) == 0
    assert "ARS " in capsys.readouterr().out


def test_the_window_shows_the_scores_under_the_table(make_window, evaluated_template):
    import shutil

    runs = evaluated_template.parent.parent / "w-runs"
    shutil.copytree(evaluated_template, runs / evaluated_template.name)
    window = make_window()
    window.set_runs_dir(runs)
    window.runs_panel.select(runs / evaluated_template.name)
    text = window.evaluation.scores.text()
    assert "gain over random real" in text and not window.evaluation.scores.isHidden()
    assert "(tick 'full real training set')" in text  # the window's words, not the CLI's
