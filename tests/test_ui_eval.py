"""The evaluation tab, the distilled-set viewer and the exports, offscreen, on tiny runs.

Two finished tiny runs (the SKD loss and DiM's MSE, the paper's ablation) are made once
per module and copied for each test; evaluations train width-4 ConvNets for a few epochs.
File dialogs are stubbed here (and only here) through ``EvalPanel.ask_save_path``.
"""

import csv
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import Qt
from torchvision.datasets import ImageFolder

from gdd_studio.config import EvalConfig
from gdd_studio.engine.run import Run
from gdd_studio.evaluation.protocol import Evaluation, load_results
from gdd_studio.export.sets import load_generator_file, sample_from_file
from gdd_studio.ui.eval_panel import parse_ipcs
from tests.helpers import tiny_config, write_tiny_npz

TIMEOUT = 90_000
USER = Qt.ItemDataRole.UserRole


@pytest.fixture(scope="module")
def made_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("evalui")
    data = write_tiny_npz(root / "tiny.npz", classes=3, per_class=12)
    dirs = []
    for loss in ("skd", "mse"):
        run = Run.create(tiny_config(f"npz:{data}", distill__loss=loss), root / "runs")
        assert run.execute() == "finished"
        dirs.append(run.dir.name)
    return root, dirs


@pytest.fixture
def runs(made_runs, tmp_path):
    root, names = made_runs
    shutil.copytree(root / "runs", tmp_path / "runs")
    return [tmp_path / "runs" / n for n in names]


@pytest.fixture
def window(make_window, runs):
    return make_window()


def select(window, *run_dirs):
    """Select these runs in the runs list, the first one current."""
    window.runs.clearSelection()
    for k, run_dir in enumerate(run_dirs):
        for row in range(window.runs.count()):
            item = window.runs.item(row)
            if item.data(USER) == str(run_dir):
                if k == 0:
                    window.runs.setCurrentItem(item)
                item.setSelected(True)
    assert window.selected_paths() == list(run_dirs)


def tiny_eval(panel, ipcs="1, 2", epochs=2, repeats=2, archs=("convnet3",)):
    panel.archs.set_checked(list(archs))
    panel.ipcs.setText(ipcs)
    panel.epochs.setValue(epochs)
    panel.repeats.setValue(repeats)
    panel.width.setValue(4)
    panel.batch.setValue(16)
    panel.gan_only.setChecked(True)


def evaluate_directly(run_dir, ipcs=(2,)):
    # batch 16, as tiny_eval sets in the window: rows of one protocol share a table
    s = EvalConfig(archs=["convnet3"], ipcs=list(ipcs), epochs=2, repeats=1, width=4, batch_size=16)
    Evaluation(run_dir, s, device="cpu").execute()


def start_long_evaluation(window, qtbot, run_dir, repeats):
    """Evaluate ``run_dir`` for 2,000 epochs from the window; return once it is training."""
    select(window, run_dir)
    ev = window.evaluation
    tiny_eval(ev, ipcs="2", epochs=2000, repeats=repeats)
    ev.eval_button.click()
    qtbot.waitUntil(lambda: "epoch" in ev.status.text(), timeout=TIMEOUT)
    return ev


def column(table, j):
    return [table.item(i, j).text() for i in range(table.rowCount())]


def test_parse_ipcs():
    assert parse_ipcs(" 10, 1 50,10") == [1, 10, 50]
    for bad in ("", "0", "1, x", "-3"):
        with pytest.raises(ValueError):
            parse_ipcs(bad)


def test_panel_has_the_named_widgets_and_the_runs_defaults(window, runs):
    ev = window.evaluation
    assert window.findChild(type(ev.archs), "evalArchList") is ev.archs
    for name in ("evalEpochsSpin", "evalRepeatsSpin", "evalButton", "evalTable", "exportButton"):
        assert window.findChild(object, name) is not None, name
    assert window.findChild(object, "evalChart") is ev.chart
    titles = [ev.archs.item(r).text() for r in range(ev.archs.count())]
    assert titles == ["ConvNet-3", "ResNet-18", "ResNet-18 (BatchNorm)", "AlexNet", "VGG-11"]
    assert all(ev.archs.item(r).flags() & Qt.ItemFlag.ItemIsUserCheckable for r in range(5))
    assert not ev.eval_button.isEnabled()  # nothing selected yet
    select(window, runs[0])
    assert ev.eval_button.isEnabled() and ev.export_button.isEnabled()
    s = ev.settings()  # the smoke preset's evaluation section, the run's IPC
    assert s.ipcs == [2] and s.archs == ["convnet3"] and ev.export_ipc.value() == 2
    assert "no results yet" in ev.chart._empty.textItem.toPlainText()


def test_evaluate_from_the_window_fills_table_and_chart(window, make_window, qtbot, runs):
    select(window, runs[0])
    window.tabs.setCurrentWidget(window.evaluation)
    ev = window.evaluation
    tiny_eval(ev)
    ev.eval_button.click()
    assert ev.evaluating and not ev.eval_button.isEnabled() and ev.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not ev.evaluating, timeout=TIMEOUT)
    assert ev.last_status == "finished"
    assert ev.progress.value() == ev.progress.maximum()
    # 2 IPCs x (distilled, GAN only, random real), one network architecture.
    assert ev.table.rowCount() == 6 and ev.table.isColumnHidden(0)
    assert sorted(set(column(ev.table, 3))) == [
        "GAN only (phase 1)", "distilled (GAN + SKD)", "random real subset",
    ]  # fmt: skip
    # Generator-made sets name the rule that chose them; the real subset has none.
    assert sorted(set(column(ev.table, 4))) == ["", "herding"]
    # The generator made every image of its sets (IPC 1 and 2 of 3 classes); none of the
    # real subset's.
    assert sorted(set(column(ev.table, 5))) == ["0", "3/3", "6/6"]
    assert all("±" in text for text in column(ev.table, 6))
    assert set(column(ev.table, 7)) == {"2"}
    kinds = [ev.chart_kind.itemText(i) for i in range(ev.chart_kind.count())]
    assert kinds == ["by network, IPC 1", "by network, IPC 2", "against IPC, ConvNet-3"]
    assert len(ev.chart.drawn) == 3 and {d[1] for d in ev.chart.drawn} == {"ConvNet-3"}
    doc = load_results(runs[0])
    first = next(r for r in doc["results"] if r["ipc"] == 1 and r["source"] == "distilled")
    drawn = next(d for d in ev.chart.drawn if d[0] == "distilled (GAN + SKD)")
    assert drawn[2] == pytest.approx(100 * first["mean"])
    ev.chart_kind.setCurrentIndex(2)  # accuracy against IPC
    assert len(ev.chart.drawn) == 6 and {d[1] for d in ev.chart.drawn} == {"1", "2"}
    # Results another process saves (the CLI's evaluate) appear without reselecting.
    evaluate_directly(runs[0], ipcs=(3,))
    qtbot.waitUntil(lambda: ev.table.rowCount() == 9, timeout=5000)
    # Saved with the run: a new window shows them again.
    again = make_window()
    select(again, runs[0])
    assert again.evaluation.table.rowCount() == 9


def test_stopping_an_evaluation_keeps_the_window_working(window, qtbot, runs):
    ev = start_long_evaluation(window, qtbot, runs[0], repeats=2)
    assert 0 <= ev.progress.value() < ev.progress.maximum()
    ev.stop_button.click()
    qtbot.waitUntil(lambda: not ev.evaluating, timeout=TIMEOUT)
    assert ev.last_status == "stopped" and "Stopped" in ev.status.text()
    assert load_results(runs[0]) is None  # no row was complete
    assert ev.eval_button.isEnabled()
    window.tabs.setCurrentIndex(0)  # the window still answers
    assert window.tabs.currentIndex() == 0


def test_bad_evaluation_settings_give_one_message(window, qtbot, runs, tmp_path):
    select(window, runs[0])
    ev = window.evaluation
    ev.ipcs.setText("0")
    ev.eval_button.click()
    assert not ev.evaluating and window.last_message == (
        "error", "IPC '0' is not a whole number of at least 1"
    )  # fmt: skip
    ev.ipcs.setText("2")
    for row in range(ev.archs.count()):
        ev.archs.item(row).setCheckState(Qt.CheckState.Unchecked)
    ev.eval_button.click()
    assert window.last_message == ("error", "tick at least one network to evaluate")
    # A run with no generator yet (created, never trained).
    data = tmp_path / "other.npz"
    write_tiny_npz(data)
    fresh = Run.create(tiny_config(f"npz:{data}"), tmp_path / "runs").dir
    window.refresh_runs(force=True)
    select(window, fresh)
    tiny_eval(ev)
    ev.eval_button.click()
    assert not ev.evaluating and "no generator yet" in window.last_message[1]
    with qtbot.waitSignal(window.viewer.loaded, timeout=TIMEOUT):
        window.tabs.setCurrentWidget(window.viewer)
    assert "no generator yet" in window.viewer.view.text()


def test_comparing_two_runs_side_by_side(window, qtbot, runs):
    select(window, *runs)
    ev = window.evaluation
    tiny_eval(ev, ipcs="2", repeats=1)
    ev.eval_button.click()  # evaluates both selected runs, one after the other
    qtbot.waitUntil(lambda: not ev.evaluating, timeout=TIMEOUT)
    assert ev.last_status == "finished"
    assert all(load_results(d) for d in runs)
    assert "Comparing 2 runs" in ev.title.text() and "loss=mse" in ev.title.text()
    assert not ev.table.isColumnHidden(0)
    # Each run's distilled and GAN-only rows; the random real baseline (the same seeds on
    # the same data gave the same accuracies) once.
    assert ev.table.rowCount() == 5
    assert sorted(column(ev.table, 0)) == [
        "every run", "loss=mse", "loss=mse", "loss=skd", "loss=skd",
    ]  # fmt: skip
    series = {d[0] for d in ev.chart.drawn}
    assert series == {
        "loss=skd: distilled (GAN + SKD)", "loss=skd: GAN only (phase 1)",
        "loss=mse: distilled (GAN + SKD)", "loss=mse: GAN only (phase 1)",
        "random real subset",
    }  # fmt: skip
    select(window, runs[1])  # back to one run: its own rows only
    assert ev.table.rowCount() == 3 and ev.table.isColumnHidden(0)


def test_exports_from_the_window_read_back(window, qtbot, runs, tmp_path):
    evaluate_directly(runs[0])
    select(window, runs[0])
    ev = window.evaluation
    answers = []
    ev.ask_save_path = lambda title, suggested, filters: answers.pop(0)
    out = tmp_path / "out"
    out.mkdir()

    def export(fmt, ipc, path, chosen=""):
        ev.export_format.setCurrentIndex(ev.export_format.findData(fmt))
        ev.export_ipc.setValue(ipc)
        answers.append((str(path), chosen))
        return ev.export_set()

    written = export("pt", 3, out / "set.pt")
    payload = torch.load(written, weights_only=True)
    assert payload["images"].shape == (9, 1, 28, 28) and payload["labels"].tolist().count(2) == 3
    assert payload["images"].dtype == torch.float32 and float(payload["images"].max()) <= 1
    assert window.last_message[0] == "info" and str(written) in window.last_message[1]
    written = export("npz", 3, out / "set", "NumPy (*.npz)")  # the suffix is added
    assert written == out / "set.npz"
    with np.load(written) as f:
        assert f["images"].shape == (9, 28, 28, 1) and f["images"].dtype == np.uint8
    written = export("png", 2, out / "pngset")
    folder = ImageFolder(str(written))
    assert len(folder) == 6 and len(folder.classes) == 3
    written = export("generator", 1, out / "generator.pt")
    assert not ev.export_ipc.isEnabled()
    g, meta = load_generator_file(written)
    images, labels = sample_from_file(written, ipc=4)
    assert len(images) == 12 and sorted(set(labels.tolist())) == [0, 1, 2]

    # Never overwrite without asking; a refusal leaves the file as it was.
    before = (out / "set.npz").read_bytes()
    ev.confirm_overwrite = lambda path: False
    assert export("npz", 5, out / "set.npz") is None
    assert (out / "set.npz").read_bytes() == before
    ev.confirm_overwrite = lambda path: True
    assert export("npz", 5, out / "set.npz") == out / "set.npz"
    with np.load(out / "set.npz") as f:
        assert len(f["labels"]) == 15

    # The chart as SVG and PNG (suffix from the chosen filter), the table as CSV.
    answers.append((str(out / "chart"), "SVG image (*.svg)"))
    svg = ev.save_chart()
    assert svg == out / "chart.svg" and "<svg" in svg.read_text()
    answers.append((str(out / "chart.png"), "PNG image (*.png)"))
    with Image.open(ev.save_chart()) as im:
        assert im.format == "PNG" and im.width > 300
    answers.append((str(out / "table.csv"), "CSV (*.csv)"))
    with open(ev.save_table(), newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["source"] for r in rows} == {"distilled", "gan-only", "random-real"}
    # A cancelled dialog writes nothing.
    answers.append(("", ""))
    assert ev.save_table() is None


def test_set_viewer_shows_the_whole_set_by_class(window, qtbot, runs):
    select(window, runs[0])
    v = window.viewer
    with qtbot.waitSignal(v.loaded, timeout=TIMEOUT):  # made on a worker thread
        window.tabs.setCurrentWidget(window.viewer)
    assert v.images is not None and len(v.images) == 6  # the run's IPC 2, 3 classes
    small = v.view.pixmap().width()
    v.zoom.setValue(4)
    assert v.view.pixmap().width() > small
    with qtbot.waitSignal(v.loaded, timeout=TIMEOUT):
        v.ipc.setValue(30)  # more than one line of 25 per class
    assert len(v.images) == 90 and (runs[0] / "distilled" / "ipc30.npz").is_file()
    assert "90 images, 3 classes" in v.caption.text()


def test_set_viewer_shows_candidates_with_the_kept_ones_marked(window, qtbot, runs):
    select(window, runs[0])
    v = window.viewer
    with qtbot.waitSignal(v.loaded, timeout=TIMEOUT):
        window.tabs.setCurrentWidget(window.viewer)
    assert v.selection.currentData() == "herding" and "chosen by herding" in v.caption.text()
    kept_width = v.view.pixmap().width()
    v.show_candidates.setChecked(True)
    st = v.stored
    assert len(st.candidate_labels) > len(st.labels)
    assert v.view.pixmap().width() > kept_width and "framed: kept" in v.caption.text()
    # Hovering a tile names its class, whether it was kept and the observer's confidence.
    top, left, index = v._tiles[0]
    k = v.zoom.value()
    pix = v.view.pixmap()
    x = (v.view.width() - pix.width()) // 2 + v._margin + left * k + 1
    y = (v.view.height() - pix.height()) // 2 + top * k + 1
    assert v.tile_at(x, y) == index
    text = v.describe(index)
    assert ("kept" in text or "rejected" in text) and "confidence" in text
    kept = [i for _, _, i in v._tiles if i in set(st.kept.tolist())]
    assert "kept" in v.describe(kept[0])
    # Another rule: another set, kept beside the run's own; no candidates to show.
    with qtbot.waitSignal(v.loaded, timeout=TIMEOUT):
        v.selection.setCurrentIndex(v.selection.findData("random"))
    assert v.stored.selection == "random" and not v.show_candidates.isEnabled()
    assert (runs[0] / "distilled" / "ipc2-random.npz").is_file()
    assert "first draws" in v.caption.text()


def test_closing_during_an_evaluation_waits_for_it(window, qtbot, runs):
    ev = start_long_evaluation(window, qtbot, runs[0], repeats=1)
    assert window.close() is False  # asks (stubbed yes), stops, closes when done
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=TIMEOUT)
    assert not ev.evaluating and ev.last_status == "stopped"
