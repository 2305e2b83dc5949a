"""The window, offscreen, driving tiny runs through the real engine on its worker thread.

Every window made here is shut down in teardown (its run stopped, its thread joined),
whatever the test did. The runs are the helpers' tiny config on a 36-image NPZ: a few
seconds each on two CPU cores.
"""

import json
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
)

from gdd_studio.config import RunConfig, resolve_defaults
from gdd_studio.engine.events import RunControl, StepMetrics
from gdd_studio.engine.run import Run, read_run_info
from tests.helpers import long_config, tiny_config

TIMEOUT = 90_000  # ms; generous, the machine is shared
USER = Qt.ItemDataRole.UserRole


def wait_idle(qtbot, w):
    qtbot.waitUntil(lambda: not w.running, timeout=TIMEOUT)


def only_run(tmp_path):
    (run_dir,) = (tmp_path / "runs").iterdir()
    return run_dir


def test_window_opens_on_the_embedded_sample_with_named_widgets(window):
    assert window.setup.dataset.currentData() == "mnist-sample"
    assert window.setup.preset.currentData() == "cpu"
    assert window.setup.config().model.width == 32  # the cpu preset's, so Start works offline
    for name, cls in [
        ("startButton", QPushButton), ("pauseButton", QPushButton), ("stopButton", QPushButton),
        ("runsList", QListWidget), ("lossPlot", pg.PlotWidget), ("sampleView", QLabel),
        ("logView", QPlainTextEdit),
    ]:  # fmt: skip
        assert window.findChild(cls, name) is not None, name
    for name in ("datasetCombo", "presetCombo", "ipcSpin", "tauSpin", "lambdaSpin",
                 "deviceCombo", "progressBar"):  # fmt: skip
        assert window.findChild(object, name) is not None, name
    assert window.findChild(QPushButton, "pauseButton").isCheckable()
    presets = window.setup.preset
    assert [presets.itemData(i) for i in range(presets.count())] == ["paper", "cpu", "smoke"]
    datasets = [window.setup.dataset.itemData(i) for i in range(window.setup.dataset.count())]
    assert {"mnist-sample", "mnist", "fashion-mnist", "cifar10"} <= set(datasets)
    devices = [window.setup.device.itemData(i) for i in range(window.setup.device.count())]
    assert "cpu" in devices and "auto" in devices
    assert not window.pause_button.isEnabled() and not window.stop_button.isEnabled()


def test_settings_round_trip_through_the_widgets(window, tiny):
    cfg = tiny_config(f"npz:{tiny}")
    cfg.distill.tau, cfg.distill.loss, cfg.distill.standardize = 3.5, "mse", False
    cfg.distill.pool = ["convnet3", "resnet10"]
    cfg.gan.beta2, cfg.gan.lr, cfg.distill.lr = 0.85, 3e-4, 7e-6  # advanced settings
    cfg.data_dir, cfg.monitor.grid_cols = "/data/somewhere", 7
    cfg.evaluation.repeats = 4  # no widget here: survives through the base config
    resolve_defaults(cfg)  # lambda: the dataset's default, as the panel shows it
    window.set_config(cfg)
    back = window.setup.config()
    assert back.to_dict() == cfg.to_dict()
    window.setup.preset.setCurrentIndex(window.setup.preset.findData("paper"))
    paper = window.setup.config()
    assert paper.model.width == 196 and paper.dataset == f"npz:{tiny}" and paper.distill.tau == 3.5
    window.setup.findChild(QPushButton, "ipc50Button").click()
    assert window.setup.config().ipc == 50


def test_mse_weight_and_pool_batchnorm_have_controls_that_round_trip(window, tiny):
    from gdd_studio.config import POOL_BN_MODES

    setup = window.setup
    mse = setup.findChild(QDoubleSpinBox, "mseWeightSpin")
    pool_bn = setup.findChild(QComboBox, "poolBnCombo")
    assert mse is not None and pool_bn is not None
    assert mse.isVisibleTo(setup.advanced) and pool_bn.isVisibleTo(setup.advanced)
    assert "lambda" in mse.toolTip() and "DiM" in pool_bn.toolTip()
    assert [pool_bn.itemData(i) for i in range(pool_bn.count())] == list(POOL_BN_MODES)
    # a config's values are shown ...
    cfg = tiny_config(f"npz:{tiny}")
    cfg.distill.loss, cfg.distill.mse_weight, cfg.distill.pool_bn = "mse", 0.25, "train"
    resolve_defaults(cfg)
    window.set_config(cfg)
    assert mse.value() == 0.25 and pool_bn.currentData() == "train"
    assert setup.config().to_dict() == cfg.to_dict()
    # ... and what the user sets is what runs
    mse.setValue(0.003)
    pool_bn.setCurrentIndex(pool_bn.findData("eval"))
    back = setup.config()
    assert back.distill.mse_weight == pytest.approx(0.003) and back.distill.pool_bn == "eval"
    assert RunConfig.from_json(back.to_json()).distill.pool_bn == "eval"


def test_events_are_drawn_by_the_timer_not_on_arrival(window):
    window._on_event(StepMetrics(1, 1, 0, {"d_loss": 1.0}))
    assert window.loss.points("d_loss") == 0  # queued only
    window._drain()
    assert window.loss.points("d_loss") == 1


def test_smoke_run_updates_curves_grid_progress_and_runs_list(window, qtbot, tiny):
    window.set_config(tiny_config(f"npz:{tiny}"))
    window.start_button.click()
    assert window.running and not window.setup.isEnabled()  # settings locked
    assert not window.start_button.isEnabled() and window.stop_button.isEnabled()
    wait_idle(qtbot, window)
    assert window.progress.value() == window.progress.maximum() > 1
    assert window.loss.points("d_loss") == 12 and window.loss.points("match") == 6
    assert window.loss.boundary_step == 6  # phase 2 starts after the 6 GAN steps
    assert window.grid.count >= 4 and not window.grid.view.pixmap().isNull()
    assert window.grid.slider.maximum() == window.grid.count - 1
    assert window.setup.isEnabled() and window.last_message[0] == "info"
    assert "finished" in window.log.toPlainText()
    qtbot.waitUntil(lambda: window.runs.count() == 1, timeout=5000)
    run_dir = window.runs.item(0).data(USER)
    assert read_run_info(run_dir)["status"] == "finished"
    assert "finished" in window.runs.item(0).text() and "IPC 2" in window.runs.item(0).text()
    assert "seed 0" in window.runs.item(0).text()  # runs that differ only by seed tell apart
    window.grid.slider.setValue(0)  # scrub back to the first grid
    assert "step 0" in window.grid.caption.text()


def test_pause_holds_progress_and_resume_finishes(window, qtbot, tiny, tmp_path):
    window.set_config(long_config(tiny))
    window.start_button.click()
    qtbot.waitUntil(lambda: window.progress.value() >= 3, timeout=TIMEOUT)
    status = window.status.text()
    assert "Phase 1" in status and "steps/s" in status and "ETA" in status
    assert window.shortcuts["pause"].shortcut().toString() == "Ctrl+P"
    window.shortcuts["pause"].trigger()  # the keyboard shortcut's action
    assert window.pause_button.isChecked() and window.pause_button.text() == "Resume"
    qtbot.waitUntil(lambda: "paused at step" in window.log.toPlainText(), timeout=TIMEOUT)
    held = window.progress.value()
    assert held < window.progress.maximum()
    assert read_run_info(only_run(tmp_path))["status"] == "paused"
    qtbot.wait(600)
    assert window.progress.value() == held and window.running
    window.pause_button.click()
    assert not window.pause_button.isChecked()
    wait_idle(qtbot, window)
    assert window.progress.value() == window.progress.maximum()
    assert "resumed" in window.log.toPlainText()
    assert read_run_info(only_run(tmp_path))["status"] == "finished"


def test_stop_releases_a_pause(window, qtbot, tiny, tmp_path):
    window.set_config(long_config(tiny))
    window.start_button.click()
    window.pause_button.click()  # pauses at the first step boundary
    qtbot.waitUntil(lambda: "paused at step" in window.log.toPlainText(), timeout=TIMEOUT)
    window.stop_button.click()
    wait_idle(qtbot, window)
    assert read_run_info(only_run(tmp_path))["status"] == "stopped"


def test_stop_then_resume_from_the_runs_list(window, qtbot, tiny, tmp_path):
    window.set_config(long_config(tiny))
    window.start_button.click()
    qtbot.waitUntil(lambda: window.progress.value() >= 12, timeout=TIMEOUT)
    window.stop_button.click()
    wait_idle(qtbot, window)
    run_dir = only_run(tmp_path)
    info = read_run_info(run_dir)
    assert info["status"] == "stopped" and 12 <= info["step"] < info["total_steps"]
    qtbot.waitUntil(lambda: "stopped" in window.runs.item(0).text(), timeout=5000)
    window.runs.setCurrentRow(0)
    assert window.resume_button.isEnabled()
    window.resume_button.click()
    assert window.running and not window.resume_button.isEnabled()
    wait_idle(qtbot, window)
    assert read_run_info(run_dir)["status"] == "finished"
    assert window.progress.value() == window.progress.maximum()
    # The curves hold the steps before the stop (read from the folder) and after it.
    assert window.loss.points("d_loss") == 66 and window.loss.points("match") == 6
    assert f"resumed from step {info['step']}" in window.log.toPlainText()


def test_bad_settings_and_engine_errors_give_a_message(window, qtbot, tiny, tmp_path):
    window.setup.pool.item(0).setCheckState(Qt.CheckState.Unchecked)  # the cpu pool: convnet3
    window.start_button.click()  # an empty pool is caught before any thread starts
    assert not window.running and "pool is empty" in window.last_message[1]
    cfg = tiny_config(f"npz:{tiny}")
    cfg.ipc = 50  # the tiny dataset has 12 images per class
    window.set_config(cfg)
    window.start_button.click()
    wait_idle(qtbot, window)
    kind, text = window.last_message
    assert kind == "error" and "IPC 50 is more than the 12" in text
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    window.set_config(tiny_config(f"npz:{tmp_path / 'missing.npz'}"))
    window.start_button.click()
    wait_idle(qtbot, window)
    assert window.last_message[0] == "error" and "missing.npz" in window.last_message[1]
    assert window.start_button.isEnabled() and window.setup.isEnabled()  # still working
    assert "missing.npz" in window.log.toPlainText()


def test_closing_during_a_run_leaves_a_resumable_run(make_window, qtbot, tmp_path, tiny):
    w = make_window()
    w.set_config(long_config(tiny))
    w.start_button.click()
    qtbot.waitUntil(lambda: w.progress.value() >= 5, timeout=TIMEOUT)
    asked = []
    w.confirm_close = lambda: asked.append(1) or True
    assert not w.close()  # asks, stops with a checkpoint, closes once the thread has ended
    assert asked
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=TIMEOUT)
    assert not w.running
    run_dir = only_run(tmp_path)
    info = read_run_info(run_dir)
    assert info["status"] == "stopped" and info["step"] >= 5
    assert (run_dir / "checkpoints" / "last.pt").is_file()
    # Reopen: the run is listed as resumable and one click finishes it.
    again = make_window()
    assert again.runs.count() == 1 and "stopped" in again.runs.item(0).text()
    again.runs.setCurrentRow(0)
    again.resume_button.click()
    wait_idle(qtbot, again)
    assert read_run_info(run_dir)["status"] == "finished"


def test_closing_can_be_cancelled(window, qtbot, tiny):
    window.set_config(long_config(tiny))
    window.start_button.click()
    window.confirm_close = lambda: False
    assert not window.close() and window.running and window.isVisible()
    window.stop_button.click()
    wait_idle(qtbot, window)


def test_follows_a_run_written_by_another_process(window, qtbot, tmp_path, tiny):
    run = Run.create(long_config(tiny, steps=90), tmp_path / "runs")
    control = RunControl()
    writer = threading.Thread(target=run.execute, kwargs={"control": control})
    writer.start()
    try:
        qtbot.waitUntil(lambda: window.runs.count() == 1, timeout=10_000)
        window.runs.setCurrentRow(0)
        qtbot.waitUntil(lambda: window.loss.points("d_loss") > 0, timeout=TIMEOUT)
        first = window.loss.points("d_loss")
        qtbot.waitUntil(lambda: window.loss.points("d_loss") > first, timeout=TIMEOUT)
        qtbot.waitUntil(lambda: window.grid.count >= 2, timeout=TIMEOUT)
        assert "phase 1" in window.log.toPlainText()
    finally:
        control.stop()
        writer.join()
    qtbot.waitUntil(lambda: "stopped" in window.runs.item(0).text(), timeout=10_000)
    assert window.resume_button.isEnabled()


def test_config_file_round_trip_and_dropping_a_folder(window, tmp_path, tiny, monkeypatch):
    cfg = tiny_config(f"npz:{tiny}")
    cfg.distill.tau = 4.25
    window.set_config(cfg)
    target = tmp_path / "saved.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    window.save_button.click()
    assert json.loads(target.read_text())["distill"]["tau"] == 4.25
    window.setup.tau.setValue(1.0)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(target), ""))
    window.load_button.click()
    assert window.setup.tau.value() == 4.25
    target.write_text("{ not json")
    window.load_button.click()
    assert window.last_message[0] == "error" and "saved.json" in window.last_message[1]
    # Dropping a folder on the window makes it the dataset.
    folder = tmp_path / "my_images"
    folder.mkdir()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    drop = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime,
        Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    window.dropEvent(drop)
    assert window.setup.config().dataset == f"folder:{folder}"
    # And the NPZ picker of the dataset list.
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tiny), ""))
    window.setup.customDatasetRequested.emit("npz")
    assert window.setup.config().dataset == f"npz:{tiny}"


def test_curves_smoothing_and_log_scale(window):
    from gdd_studio.ui.monitor import smooth

    raw = np.array([0.0, 10.0, 0.0, 10.0])
    assert np.array_equal(smooth(raw, 0.0), raw)
    smoothed = smooth(raw, 0.5)
    assert smoothed[0] == 0.0 and smoothed[1] == 5.0 and smoothed.std() < raw.std()
    for step in range(1, 5):
        window.loss.add(step, {"d_loss": raw[step - 1] + 1})
    window.loss.smoothing.setValue(0)
    window.loss.redraw()
    _, y = window.loss.curve("d_loss").getData()
    assert list(y) == [1.0, 11.0, 1.0, 11.0]
    window.loss.smoothing.setValue(90)  # redrawn from the raw series, nothing lost
    window.loss.smoothing.setValue(0)
    _, y = window.loss.curve("d_loss").getData()
    assert list(y) == [1.0, 11.0, 1.0, 11.0]
    window.loss.log_scale.setChecked(True)
    assert window.loss.plot.getPlotItem().ctrl.logYCheck.isChecked()


def test_window_survives_100k_signals_from_a_worker_thread():
    """PySide6 6.12.0 crashes here (a reference to True dropped per emit)."""
    code = textwrap.dedent(
        """
        import os
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtCore import QObject, QThread, Signal, Slot
        from PySide6.QtWidgets import QApplication
        from gdd_studio.engine.events import Progress, StepMetrics
        from gdd_studio.ui import MainWindow

        app = QApplication([])
        w = MainWindow()
        N = 100_000

        class Emitter(QObject):
            event = Signal(object)
            done = Signal()

            @Slot()
            def run(self):
                for i in range(N):
                    self.event.emit(Progress(1, i + 1, N, i + 1, N, 1.0, None, 0.0))
                    if i % 10 == 0:
                        self.event.emit(StepMetrics(1, i + 1, 0, {"d_loss": 1.0, "flag": True}))
                self.done.emit()

        class Quitter(QObject):  # a receiver in the main thread: the quit is queued there
            @Slot()
            def quit(self):
                app.quit()

        thread = QThread()
        emitter = Emitter()
        emitter.moveToThread(thread)
        quitter = Quitter()
        emitter.event.connect(w._on_event)
        emitter.done.connect(quitter.quit)
        thread.started.connect(emitter.run)
        thread.start()
        app.exec()
        thread.quit(); thread.wait()
        w._drain()
        assert w.progress.value() == N, w.progress.value()
        assert w.loss.points("d_loss") == N // 10, w.loss.points("d_loss")
        w.shutdown()
        print("survived")
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "survived" in proc.stdout


def test_a_run_killed_before_its_first_checkpoint_starts_over_from_the_window(
    window, qtbot, tiny, tmp_path
):
    """Issue 31: killed at step 8, long before checkpoint_every (here 1000, as the cpu
    preset's 500), the run was listed as 'cannot resume' and resume wiped its metrics."""
    cfg = long_config(tiny, steps=30)
    cfg.monitor.checkpoint_every, cfg.monitor.log_every = 1000, 1
    run = Run.create(cfg, tmp_path / "runs")

    def killed_at_step_8(event):  # what the folder holds after kill -9 there
        if isinstance(event, StepMetrics) and event.step == 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run.execute(killed_at_step_8)
    assert read_run_info(run.dir)["status"] == "interrupted"
    assert not (run.dir / "checkpoints" / "last.pt").exists()
    earlier = (run.dir / "metrics.csv").read_text()
    assert earlier.count("\n") >= 8
    window.refresh_runs(force=True)
    qtbot.waitUntil(lambda: "interrupted" in window.runs.item(0).text(), timeout=5000)
    window.runs.setCurrentRow(0)
    assert window.resume_button.isEnabled() and "start it over" in window.status.text()
    window.resume_button.click()
    wait_idle(qtbot, window)
    assert read_run_info(run.dir)["status"] == "finished"
    (kept,) = run.dir.glob("metrics.before-start-over-*.csv")
    assert kept.read_text() == earlier
    assert "starts over from step 0" in window.log.toPlainText()


def test_the_first_checkpoint_comes_early_whatever_checkpoint_every_says(tiny, tmp_path):
    from gdd_studio.engine.run import FIRST_CHECKPOINT_STEPS
    from gdd_studio.rundir.artifacts import load_checkpoint

    cfg = long_config(tiny, steps=60)
    cfg.monitor.checkpoint_every = 1000
    run = Run.create(cfg, tmp_path / "runs")

    def killed_after_the_first(event):
        if isinstance(event, StepMetrics) and event.step == FIRST_CHECKPOINT_STEPS + 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run.execute(killed_after_the_first)
    last = load_checkpoint(run.dir / "checkpoints" / "last.pt")
    assert last["step"] == FIRST_CHECKPOINT_STEPS
    assert Run.open(run.dir).execute() == "finished"
    assert f"resumed from step {FIRST_CHECKPOINT_STEPS}" in (run.dir / "log.txt").read_text()
