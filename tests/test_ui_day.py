"""A new user's day in the window (issue 13): each test is one thing that confused, hid or
broke, driven as the user would, offscreen, on tiny runs of a 36-image NPZ."""

import json
import shutil

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from gdd_studio.engine.events import Progress
from gdd_studio.engine.run import Run
from gdd_studio.evaluation.compare import short_names
from gdd_studio.ui.eval_panel import FolderTargetDialog, spread_labels
from gdd_studio.ui.main_window import dataset_text
from tests.helpers import tiny_config, write_tiny_npz

TIMEOUT = 90_000
USER = Qt.ItemDataRole.UserRole


@pytest.fixture(scope="module")
def made_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("dayui")
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


def select(window, *run_dirs):
    window.runs.clearSelection()
    for k, run_dir in enumerate(run_dirs):
        for row in range(window.runs.count()):
            item = window.runs.item(row)
            if item.data(USER) == str(run_dir):
                if k == 0:
                    window.runs.setCurrentItem(item)
                item.setSelected(True)


def test_a_second_run_is_selected_alone_and_comparing_is_chosen(make_window, qtbot, tiny):
    w = make_window()
    w.set_config(tiny_config(f"npz:{tiny}"))
    w.start_button.click()
    qtbot.waitUntil(lambda: not w.running, timeout=TIMEOUT)
    first = w.selected_paths()
    assert len(first) == 1
    w.start_button.click()
    qtbot.waitUntil(lambda: not w.running, timeout=TIMEOUT)
    second = w.selected_paths()
    assert len(second) == 1 and second != first  # the new run alone
    ev = w.evaluation
    assert ev.run_dirs == second and "Comparing" not in ev.title.text()
    assert ev.eval_button.text() == "Evaluate"
    # Comparing both is what the user asks for (Ctrl-click), and the tab says so plainly.
    select(w, second[0], first[0])
    assert len(ev.run_dirs) == 2
    assert "Comparing 2 runs" in ev.title.text() and "click one run" in ev.title.text()
    assert ev.eval_button.text() == "Evaluate 2 runs"


def test_dataset_list_follows_the_data_folder_and_the_message_names_the_window(
    make_window, tmp_path
):
    w = make_window()
    combo = w.setup.dataset

    def label(ds_id):
        return combo.itemText(combo.findData(ds_id))

    assert label("cifar10").endswith("(not found)")
    tip = combo.itemData(combo.findData("cifar10"), Qt.ItemDataRole.ToolTipRole)
    assert tip.count("not found offline") == 1 and "Data folder" in tip
    # Start without it: the message names the window's controls, not CLI flags.
    w.setup.select_dataset("cifar10")
    lam = w.setup.lam.value()
    w.start_run()
    assert not w.running and w.last_message[0] == "error"
    assert "Advanced > Data folder" in w.last_message[1] and "--" not in w.last_message[1]
    # A folder holding CIFAR-10's batches: the list says it is there.
    batches = tmp_path / "data" / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (batches / name).write_bytes(b"x")
    w.setup.advanced_toggle.setChecked(True)
    w.setup.data_dir.setText(str(tmp_path / "data"))
    w.setup.data_dir.editingFinished.emit()
    assert label("cifar10") == "CIFAR-10" or "(not found)" not in label("cifar10")
    assert combo.currentData() == "cifar10" and w.setup.lam.value() == lam  # kept
    assert w.setup.missing_dataset_message(w.setup.config()) is None


def test_save_config_adds_json_and_asks_before_replacing(make_window, tmp_path):
    w = make_window()
    w.setup_area.ask_save_path = lambda title, suggested, filters: str(tmp_path / "my-run")
    assert w.setup_area.save_config() == tmp_path / "my-run.json"
    assert json.loads((tmp_path / "my-run.json").read_text())["preset"] == "cpu"
    assert not (tmp_path / "my-run").exists()
    asked = []
    w.setup_area.confirm_replace = lambda path: asked.append(path) or False
    (tmp_path / "my-run.json").write_text("{}")
    assert w.setup_area.save_config() is None and asked == [tmp_path / "my-run.json"]
    assert (tmp_path / "my-run.json").read_text() == "{}"


def test_png_folder_export_onto_an_existing_folder_asks_replace(make_window, qtbot, runs, tmp_path):
    target = tmp_path / "exports" / "my-set"
    target.mkdir(parents=True)
    (target / "keep.txt").write_text("mine")
    # Qt's own save dialog opens an existing folder instead of returning it; ours returns it.
    dialog = FolderTargetDialog(None, "Export", tmp_path / "exports" / "suggested")
    qtbot.addWidget(dialog)
    dialog.selectFile("my-set")
    dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted and dialog.chosen == str(target)
    # A folder of other things is never replaced: the panel says so and does not ask.
    w = make_window()
    select(w, runs[0])
    ev = w.evaluation
    ev.export_format.setCurrentIndex(ev.export_format.findData("png"))
    ev.ask_save_path = lambda title, suggested, filters: (str(target), filters)
    asked, said = [], []
    ev.confirm_overwrite = lambda path: asked.append(path) or False
    ev._message = lambda kind, title, text: said.append((kind, text))
    assert ev.export_set() is None and asked == []
    assert said[0][0] == "error" and "keep.txt" in said[0][1]
    assert (target / "keep.txt").read_text() == "mine"
    # An empty folder, or an earlier export of the format, is: the panel asks first.
    (target / "keep.txt").unlink()
    ev.confirm_overwrite = lambda path: True
    assert ev.export_set() == target
    assert len(list(target.rglob("*.png"))) == 3 * ev.export_ipc.value()
    before = sorted(target.rglob("*"))
    ev.confirm_overwrite = lambda path: asked.append(path) or False
    assert ev.export_set() is None and asked == [target] and sorted(target.rglob("*")) == before


ROWS = [
    {"arch": "convnet3", "ipc": 1, "source": "distilled", "mean": 0.50, "std": 0.01, "n": 2},
    {"arch": "convnet3", "ipc": 1, "source": "gan-only", "mean": 0.505, "std": 0.01, "n": 2},
    {"arch": "convnet3", "ipc": 1, "source": "random-real", "mean": 0.51, "std": 0.01, "n": 2},
    {"arch": "convnet3", "ipc": 10, "source": "distilled", "mean": 0.90, "std": 0.01, "n": 2},
    {"arch": "convnet3", "ipc": 10, "source": "gan-only", "mean": 0.901, "std": 0.01, "n": 2},
    {"arch": "convnet3", "ipc": 10, "source": "random-real", "mean": 0.93, "std": 0.01, "n": 2},
]


def test_chart_axis_has_no_si_prefix_and_ipc_labels_do_not_overlap(make_window):
    w = make_window()
    chart = w.evaluation.chart
    chart.show_rows(ROWS, "arch", 10)  # one network: pyqtgraph's range is -0.6..0.6
    chart.repaint()
    axis = chart.getPlotItem().getAxis("bottom")
    assert axis.autoSIPrefixScale == 1.0 and "x0.001" not in axis.labelString()
    chart.show_rows(ROWS, "ipc", "convnet3")
    labels = chart.value_labels
    assert len(labels) == 6
    low, top = chart.getPlotItem().getViewBox().viewRange()[1]
    gap = 0.045 * (top - low)  # of the zoomed axis
    for x in {lab[0] for lab in labels}:
        ys = sorted(lab[1] for lab in labels if lab[0] == x)
        assert all(b - a >= gap - 1e-9 for a, b in zip(ys, ys[1:], strict=False)), ys
    # The spreading keeps order and leaves labels far apart where they were.
    assert spread_labels([(0, 10.0, "a"), (0, 50.0, "b")], 4.0) == [(0, 10.0, "a"), (0, 50.0, "b")]


def test_legend_wraps_to_the_chart_width(make_window, runs):
    w = make_window()
    w.resize(1280, 800)
    chart = w.evaluation.chart
    long_rows = [dict(r, label=f"loss=skd, standardize=on, tau=2: {r['source']}") for r in ROWS]
    chart.resize(420, 300)
    chart.show_rows(long_rows, "arch", 10)
    narrow = chart.legend.columnCount
    chart.resize(1200, 300)
    assert narrow < chart.legend.columnCount or narrow == 1


def test_long_run_ids_shorten_to_what_differs():
    a, b = "20261129-234126-mnist-sample-ipc10", "20261129-234126-mnist-sample-ipc10-2"
    assert short_names([a, b]) == ["ipc10", "ipc10-2"]
    c = "20261130-101010-mnist-sample-ipc10"
    assert short_names([a, c]) == ["20261129-234126", "20261130-101010"]
    assert short_names([a]) == [a]


def test_evaluation_form_without_a_run_shows_real_defaults_and_clears_old_status(make_window, runs):
    w = make_window()
    ev = w.evaluation
    assert ev.epochs.value() > 1 and ev.batch.value() > 1 and ev.repeats.value() > 1
    assert not ev.archs.isEnabled()  # nothing to evaluate yet
    select(w, runs[0])
    assert ev.archs.isEnabled()
    ev._on_done(("failed", "the data went away"))
    assert "Failed" in ev.status.text()
    select(w, runs[1])
    assert "Failed" not in ev.status.text()


def test_training_settings_have_tooltips(make_window):
    w = make_window()
    for name in ("ganEpochsSpin", "distillEpochsSpin", "batchSpin", "distillBatchSpin"):
        assert len(w.findChild(object, name).toolTip()) > 20, name


def test_runs_list_names_folders_and_follows_the_live_progress(make_window, qtbot, tiny):
    assert dataset_text("folder:/data/cifar10-png/folder") == "cifar10-png/folder (folder)"
    assert dataset_text("npz:/x/tiny.npz") == "tiny.npz" and dataset_text("mnist") == "mnist"
    w = make_window()
    cfg = tiny_config(f"npz:{tiny}")
    cfg.gan.epochs, cfg.gan.steps_per_epoch = 40, 3  # long enough to look at it running
    w.set_config(cfg)
    w.start_button.click()
    qtbot.waitUntil(lambda: w.progress.value() > 2, timeout=TIMEOUT)
    w.pause_button.click()  # no more progress: the list and the bar can be compared
    qtbot.waitUntil(lambda: w._job.worker.control.paused, timeout=TIMEOUT)
    qtbot.wait(300)
    w._drain()
    w._on_event(Progress(1, 60, 120, 60, 120, 1.0, 5.0, 60.0, 0))  # the run's last word
    w._drain()
    item = w.runs.item(0)
    assert "tiny.npz" in item.text() and "(50 %)" in item.text()  # not run.json's 1 %
    assert w.progress.value() == 60
    w.stop_run()
    qtbot.waitUntil(lambda: not w.running, timeout=TIMEOUT)


def test_training_grid_names_its_rows(make_window, qtbot, runs):
    w = make_window()
    select(w, runs[0])
    qtbot.waitUntil(lambda: w.grid.count > 0, timeout=TIMEOUT)
    assert [name for name, _, _ in w.grid.label_rects] == ["0", "1", "2"]
    tops = [top for _, top, _ in w.grid.label_rects]
    assert tops == sorted(tops) and tops[0] == 0


def test_the_window_remembers_size_splitters_dataset_preset_and_runs_folder(
    make_window, tmp_path, tiny
):
    w = make_window()
    w.resize(1280, 760)
    size = w.size()
    assert size.width() == 1280  # the window fits a 1280 px screen
    w.tabs.setCurrentWidget(w.evaluation)
    w.evaluation.splitters[1].setSizes([200, 400])  # the chart above the table
    sizes = w.evaluation.splitters[1].sizes()
    w.tabs.setCurrentIndex(0)
    w.setup.preset.setCurrentIndex(w.setup.preset.findData("smoke"))
    w.setup.select_dataset(f"npz:{tiny}")
    w.setup_toggle.setChecked(False)
    other = tmp_path / "elsewhere"
    other.mkdir()
    w.set_runs_dir(other)
    w.save_state()
    again = make_window()
    assert again.runs_dir != other
    again.restore_state()
    # The offscreen screen is 800 px wide, so restoreGeometry clamps the size: compare
    # what was kept instead.
    from gdd_studio.ui.main_window import _settings

    assert _settings().value("geometry") == w.saveGeometry()
    again.tabs.setCurrentWidget(again.evaluation)
    chart, table = again.evaluation.splitters[1].sizes()
    assert abs(chart / table - sizes[0] / sizes[1]) < 0.1  # not the default 420 : 260
    assert _settings().value("splitters/mainSplitter") == w.main_split.saveState()
    assert again.setup.preset.currentData() == "smoke"
    assert again.setup.dataset.currentData() == f"npz:{tiny}"
    assert again.runs_dir == other and not again.setup_toggle.isChecked()


def test_setup_panel_steps_aside_for_results(make_window):
    w = make_window()
    assert w.setup_area.isVisible()
    w.tabs.setCurrentWidget(w.evaluation)
    assert not w.setup_area.isVisible()  # the results get the room
    w.tabs.setCurrentIndex(0)
    assert w.setup_area.isVisible()
    w.setup_toggle.setChecked(False)  # collapsed beside the Training tab too
    assert not w.setup_area.isVisible() and w.start_button.isVisible()
