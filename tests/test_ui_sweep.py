"""The window's sweeps, offscreen: the Sweep... dialog, a sweep trained from the window with
its queue, stop and resume, the runs list's grouping, the comparison, and a sweep that
another process trains followed through the runs folder. Tiny runs on a 36-image NPZ.
"""

import threading

import pytest
from PySide6.QtCore import Qt

from gdd_studio.engine.events import RunControl
from gdd_studio.rundir.folder import read_run_info
from gdd_studio.rundir.records import RunSummary
from gdd_studio.rundir.sweeps import list_sweeps, read_sweep
from gdd_studio.sweep.sweep import Sweep
from gdd_studio.ui.main_window import KIND_ROLE
from tests.helpers import long_config, tiny_config

TIMEOUT = 90_000  # ms; generous, the machine is shared
USER = Qt.ItemDataRole.UserRole


def kinds(window):
    return [window.runs.item(i).data(KIND_ROLE) for i in range(window.runs.count())]


def the_sweep(tmp_path):
    (sweep_dir,) = list_sweeps(tmp_path / "runs")
    return sweep_dir, read_sweep(sweep_dir)


def member_dirs(tmp_path, doc):
    return [tmp_path / "runs" / m["run"] for m in doc["members"]]


def test_dialog_counts_the_runs_and_estimates_the_time(window, tiny):
    window.set_config(tiny_config(f"npz:{tiny}"))
    window.here.rate = 4.0  # as if a run in this window had measured 4 steps/s
    window.sweep_button.click()
    dialog = window.sweep_dialog
    assert dialog is not None and dialog.isVisible()
    assert window.last_message is None and dialog.message.text() == ""  # nothing typed yet
    dialog.set_axis(0, "distill.tau", "1, 2")
    dialog.set_axis(1, "seed", "0,1,2")
    assert dialog.summary.text().startswith("6 runs: tau=1, seed=0;")
    # 12 steps each (6 + 6: the tiny preset's capped epochs); the runs of one seed share
    # phase 1: 3 x 6 + 6 x 6 steps at 4 steps/s, 13.5 s (shown as 00:13).
    estimate = dialog.estimate.text()
    assert estimate.startswith("Estimate: about 00:13") and "12 steps each" in estimate
    assert "the 6 runs train 3 phase 1s" in estimate and "4.00 steps/s" in estimate
    assert dialog.plan is None  # nothing started yet
    dialog.ablation.setChecked(True)
    dialog.set_axis(0, "distill.tau", "")
    assert dialog.summary.text().startswith("12 runs: SKD + standardization, seed=0;")
    dialog.set_axis(1, "", "")
    dialog.ablation.setChecked(False)
    dialog.set_axis(0, "distill.tau", "2, 4")
    dialog.start_button.click()
    assert dialog.plan is not None and dialog.plan.axes == [("distill.tau", ["2", "4"])]
    assert len(dialog.plan.members) == 2 and window.running  # the sweep started
    window.stop_run()


@pytest.mark.parametrize(
    "key, values, ablation, expected",
    [
        ("distill.tau", "", False, "give one or more values for tau"),
        ("distill.tau", "1, abc", False, "tau must be a number, got 'abc'"),
        ("distill.tau", "1, 1", False, "tau names a value twice"),
        ("distill.loss", "skd, mse", True, "the ablation set varies the matching loss"),
    ],
)
def test_bad_input_in_the_dialog_gets_one_message(window, tiny, key, values, ablation, expected):
    window.set_config(tiny_config(f"npz:{tiny}"))
    dialog = window.open_sweep_dialog()
    dialog.ablation.setChecked(ablation)
    dialog.set_axis(0, key, values)
    dialog.start_button.click()
    assert dialog.isVisible() and dialog.plan is None and not window.running
    text = dialog.message.text()
    assert text.startswith(expected) and "\n" not in text
    assert list_sweeps(window.runs_dir) == []  # nothing was written


def test_a_two_member_sweep_runs_to_the_end_and_groups_in_the_runs_list(window, qtbot, tiny,
                                                                        tmp_path):  # fmt: skip
    window.set_config(tiny_config(f"npz:{tiny}"))
    dialog = window.open_sweep_dialog()
    dialog.set_axis(0, "seed", "0, 1")
    dialog.start_button.click()
    assert window.running and not window.sweep_button.isEnabled()
    qtbot.waitUntil(lambda: window.queue.isVisible(), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not window.running, timeout=TIMEOUT)
    sweep_dir, doc = the_sweep(tmp_path)
    assert [m["status"] for m in doc["members"]] == ["finished", "finished"]
    first, second = member_dirs(tmp_path, doc)
    assert all(read_run_info(d)["status"] == "finished" for d in (first, second))
    assert window.last_message[0] == "info" and "Sweep finished" in window.status.text()
    # The view followed the member being trained: it ends on the second one, live.
    assert window.model.training.view_dir == second and window.loss.points("d_loss") == 12
    assert window.queue.rows() == [
        ("1. seed=0", "finished", "100 %"),
        ("2. seed=1", "finished", "100 %"),
    ]
    # The runs list: the sweep's entry, its two members indented under it.
    qtbot.waitUntil(lambda: window.runs.count() == 3, timeout=5000)
    assert kinds(window) == ["sweep", "member", "member"]
    assert window.runs.item(0).data(USER) == str(sweep_dir)
    assert "2 runs" in window.runs.item(0).text() and "2 finished" in window.runs.item(0).text()
    assert [window.runs.item(i).data(USER) for i in (1, 2)] == [str(first), str(second)]
    assert window.runs.item(1).text().startswith("      ")
    # Selecting the sweep opens the comparison of its members in the Evaluation tab.
    window.runs.setCurrentRow(0)
    assert window.tabs.currentWidget() is window.evaluation
    assert window.evaluation.run_dirs == [first, second]
    assert window.evaluation.sweep_dir == sweep_dir
    assert window.evaluation.eval_button.text() == "Evaluate 2 runs"
    assert "Sweep" in window.evaluation.title.text()
    assert "No member has evaluation results yet" in window.evaluation.sweep_table.toPlainText()
    assert not window.resume_button.isEnabled()  # nothing left to train
    # A member alone is an ordinary run again.
    window.runs.setCurrentRow(2)
    assert window.evaluation.run_dirs == [second] and window.evaluation.sweep_dir is None
    assert not window.evaluation.sweep_table.isVisible()


def test_an_evaluated_sweep_is_charted_against_its_setting(window, tiny, tmp_path):
    from gdd_studio.sweep.executors import LocalExecutor

    evaluate = {"ipcs": [1], "archs": ["convnet3"], "repeats": 1, "epochs": 2, "width": 4,
                "batch_size": 16}  # fmt: skip
    sweep = Sweep.create(tiny_config(f"npz:{tiny}"), [("distill.tau", ["1", "4"])],
                         tmp_path / "runs", evaluate=evaluate)  # fmt: skip
    assert sweep.execute(LocalExecutor()) == {"finished": 2}
    window.refresh_runs(force=True)
    (row,) = [i for i, k in enumerate(kinds(window)) if k == "sweep"]
    window.runs.setCurrentRow(row)
    ev = window.evaluation
    # The sweep's own chart comes first: accuracy against tau, a line per source.
    assert ev.chart_kind.itemText(0) == "against distill.tau, ConvNet-3 IPC 1"
    assert ev.chart_kind.currentIndex() == 0
    drawn = {(name, x) for name, x, _, _ in ev.chart.drawn}
    assert ("distilled (GAN + SKD)", "1") in drawn and ("distilled (GAN + SKD)", "4") in drawn
    assert ("random real subset", "4") in drawn
    assert ev.chart.item.getAxis("bottom").labelText.startswith("distill.tau (ConvNet-3")
    # Saved, it is the CLI's chart of the sweep.
    ev.ask_save_path = lambda title, suggested, filters: (str(tmp_path / "tau.png"), filters)
    written = ev.save_chart()
    assert written == tmp_path / "tau.png" and written.read_bytes()[:4] == b"\x89PNG"
    # The members' own charts are still offered after it.
    assert any(ev.chart_kind.itemText(i) == "by network, IPC 1"
               for i in range(ev.chart_kind.count()))  # fmt: skip


@pytest.mark.slow
def test_stop_mid_sweep_leaves_members_and_the_sweep_resumable(window, qtbot, tiny, tmp_path):
    window.set_config(long_config(tiny))
    dialog = window.open_sweep_dialog()
    dialog.set_axis(0, "seed", "0, 1")
    dialog.start_button.click()
    qtbot.waitUntil(lambda: window.progress.value() >= 12, timeout=TIMEOUT)
    window.pause_button.click()  # pause acts on the member being trained
    qtbot.waitUntil(lambda: "paused at step" in window.log.toPlainText(), timeout=TIMEOUT)
    window.stop_button.click()  # stop releases the pause and ends the sweep
    qtbot.waitUntil(lambda: not window.running, timeout=TIMEOUT)
    sweep_dir, doc = the_sweep(tmp_path)
    assert [m["status"] for m in doc["members"]] == ["stopped", "pending"]
    first, second = member_dirs(tmp_path, doc)
    stopped = read_run_info(first)
    assert stopped["status"] == "stopped" and 12 <= stopped["step"] < stopped["total_steps"]
    assert RunSummary(first, stopped).resumable
    assert read_run_info(second)["status"] == "created"
    assert "Sweep stopped" in window.status.text()
    assert window.queue.rows()[0][1] == "stopped" and window.queue.rows()[1][1] == "created"
    qtbot.waitUntil(lambda: window.runs.count() == 3, timeout=5000)
    window.runs.setCurrentRow(0)
    assert window.resume_button.isEnabled()  # the sweep goes on from where it stopped
    window.resume_button.click()
    assert window.running
    qtbot.waitUntil(lambda: not window.running, timeout=TIMEOUT)
    _, doc = the_sweep(tmp_path)
    assert [m["status"] for m in doc["members"]] == ["finished", "finished"]
    assert f"resumed from step {stopped['step']}" in (first / "log.txt").read_text()
    assert len(list((tmp_path / "runs").iterdir())) == 3  # 2 members and sweeps/: no others


def test_a_sweep_another_process_trains_appears_and_is_followed(window, qtbot, tiny, tmp_path):
    # Long enough that the first member is still training when it is looked at and
    # stopped (90 steps could finish first on an idle machine); stopped, it never runs out.
    sweep = Sweep.create(long_config(tiny, steps=900), [("seed", ["0", "1"])], tmp_path / "runs")
    control = RunControl()
    writer = threading.Thread(target=sweep.execute, kwargs={"control": control})
    writer.start()
    try:
        qtbot.waitUntil(lambda: window.runs.count() == 3, timeout=10_000)
        assert kinds(window) == ["sweep", "member", "member"]
        window.runs.setCurrentRow(0)
        assert not window.queue.isHidden() and len(window.queue.rows()) == 2
        first = sweep.member_dir(sweep.members[0])
        qtbot.waitUntil(lambda: window.model.training.view_dir == first, timeout=TIMEOUT)
        qtbot.waitUntil(lambda: window.loss.points("d_loss") > 0, timeout=TIMEOUT)
        seen = window.loss.points("d_loss")
        qtbot.waitUntil(lambda: window.loss.points("d_loss") > seen, timeout=TIMEOUT)
        assert window.queue.rows()[0][1] == "running"
    finally:
        control.stop()
        writer.join()
    qtbot.waitUntil(lambda: window.queue.rows()[0][1] == "stopped", timeout=10_000)
    assert window.queue.rows()[1][1] == "created"
    assert window.resume_button.isEnabled()
