"""The window's DM-from-real baseline (a box under Baselines), offscreen, on a tiny run."""

import json
import shutil
import threading

import pytest
from PySide6.QtCore import Qt

from gdd_studio.evaluation.dm_real import dm_set_path
from gdd_studio.models import matching
from tests.helpers import finished_tiny_run, torch_threads

TIMEOUT = 90_000
USER = Qt.ItemDataRole.UserRole


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def made_run(tmp_path_factory):
    return finished_tiny_run(tmp_path_factory.mktemp("dmui"))


@pytest.fixture
def run_dir(made_run, tmp_path):
    target = tmp_path / "runs" / made_run.name
    shutil.copytree(made_run, target)
    return target


def evaluate_with_dm(window, run_dir, minutes):
    window.refresh_runs(force=True)
    for row in range(window.runs.count()):
        item = window.runs.item(row)
        if item.data(USER) == str(run_dir):
            window.runs.setCurrentItem(item)
            item.setSelected(True)
    ev = window.evaluation
    ev.archs.set_checked(["convnet3"])
    ev.ipcs.setText("2")
    ev.epochs.setValue(2)
    ev.repeats.setValue(1)
    ev.width.setValue(4)
    ev.batch.setValue(16)
    ev.gan_only.setChecked(False)
    ev.dm_real.setChecked(True)
    ev.dm_minutes.setValue(minutes)
    assert ev.settings().dm_real and ev.settings().dm_minutes == (minutes or None)
    ev.eval_button.click()
    return ev


def test_dm_real_box_adds_the_row_made_off_the_gui_thread(window, qtbot, run_dir, monkeypatch):
    threads = []
    step = matching.DistributionMatcher.step

    def spy(self):
        threads.append(threading.current_thread())
        return step(self)

    monkeypatch.setattr(matching.DistributionMatcher, "step", spy)
    ev = evaluate_with_dm(window, run_dir, 0.01)
    assert ev.evaluating
    qtbot.waitUntil(lambda: not ev.evaluating, timeout=TIMEOUT)
    assert ev.last_status == "finished", ev.status.text()
    assert threads and threading.main_thread() not in threads
    sources = [ev.table.item(i, 3).text() for i in range(ev.table.rowCount())]
    assert "DM from real" in sources
    assert dm_set_path(run_dir, 2, 0, 0.01).is_file()


def test_stop_is_obeyed_while_the_dm_set_is_made(window, qtbot, run_dir):
    ev = evaluate_with_dm(window, run_dir, 5.0)
    qtbot.waitUntil(lambda: "making DM from real" in ev.status.text(), timeout=TIMEOUT)
    ev.stop_button.click()
    qtbot.waitUntil(lambda: not ev.evaluating, timeout=TIMEOUT)
    assert ev.last_status == "stopped"
    assert not dm_set_path(run_dir, 2, 0, 5.0).exists()


def test_a_run_without_its_time_asks_for_the_minutes(window, run_dir):
    info = json.loads((run_dir / "run.json").read_text())
    del info["elapsed_s"]
    (run_dir / "run.json").write_text(json.dumps(info))
    ev = evaluate_with_dm(window, run_dir, 0.0)  # 0: the run's training time
    assert not ev.evaluating
    assert "no recorded training time" in window.last_message[1]
