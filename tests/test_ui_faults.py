"""The window meets a run whose checkpoint was lost: it asks before starting over."""

import csv

import pytest

from gdd_studio.engine.events import Progress, RunControl
from gdd_studio.engine.run import Run
from gdd_studio.rundir.folder import read_run_info
from tests.helpers import tiny_config, write_tiny_npz

TIMEOUT = 90_000


def test_lost_checkpoint_asks_and_restarts_only_when_told(make_window, qtbot, tmp_path):
    data = write_tiny_npz(tmp_path / "tiny.npz")
    control = RunControl()

    def stop_at_7(e):
        if isinstance(e, Progress) and e.step == 7:
            control.stop()

    run = Run.create(tiny_config(f"npz:{data}"), tmp_path / "runs")
    assert run.execute(stop_at_7, control) == "stopped"
    run.checkpoint_path.unlink()

    window = make_window()
    asked = []
    window.confirm_restart = lambda path: asked.append(path) or False
    qtbot.waitUntil(lambda: window.runs.count() == 1, timeout=10_000)
    window.runs.setCurrentRow(0)
    assert window.resume_button.isEnabled()
    window.resume_button.click()
    assert asked == [run.dir] and not window.running
    assert read_run_info(run.dir)["status"] == "stopped"  # nothing touched

    window.confirm_restart = lambda path: True
    window.resume_button.click()
    qtbot.waitUntil(lambda: not window.running, timeout=TIMEOUT)
    assert read_run_info(run.dir)["status"] == "finished"
    steps = [int(r["step"]) for r in csv.DictReader(open(run.metrics_path, encoding="utf-8"))]
    assert steps == list(range(1, 13))  # the earlier attempt's rows are gone, not mixed in


def test_damaged_checkpoint_asks_and_goes_on_from_phase1(make_window, qtbot, tmp_path):
    data = write_tiny_npz(tmp_path / "tiny.npz")
    control = RunControl()

    def stop_at_8(e):
        if isinstance(e, Progress) and e.step == 8:
            control.stop()

    run = Run.create(tiny_config(f"npz:{data}"), tmp_path / "runs")
    assert run.execute(stop_at_8, control) == "stopped"
    run.checkpoint_path.write_bytes(b"not a checkpoint")

    window = make_window()
    asked = []
    window.confirm_restart = lambda path: asked.append(path) or False
    qtbot.waitUntil(lambda: window.runs.count() == 1, timeout=10_000)
    window.runs.setCurrentRow(0)
    window.resume_button.click()
    assert asked == [run.dir] and not window.running
    assert run.checkpoint_path.read_bytes() == b"not a checkpoint"  # nothing touched

    window.confirm_restart = lambda path: True
    window.resume_button.click()
    qtbot.waitUntil(lambda: not window.running, timeout=TIMEOUT)
    assert read_run_info(run.dir)["status"] == "finished"
    assert len(list(run.folder.checkpoints.glob("last.damaged-*.pt"))) == 1
    assert "going on from phase1.pt (step 6)" in run.folder.log.read_text()


def test_a_corrupt_config_is_named_once(window, tmp_path):
    """Issue 31, item 7: the message repeated the path ('PATH: PATH: config is not ...')."""
    bad = tmp_path / "corrupt.json"
    bad.write_text("{ not json")
    window.setup_area.load_config_file(bad)
    kind, text = window.last_message
    assert kind == "error" and text.count(str(bad)) == 1 and "\n" not in text


@pytest.mark.parametrize("doc", ['{"results": [1, "x"]}', "not json"])
def test_a_run_with_a_damaged_results_file_is_shown_and_named(make_window, run_copy, doc):
    """Issue 31's audit: selecting such a run in the window gave a traceback."""
    from gdd_studio.rundir.folder import RunFolder

    results = RunFolder(run_copy).results
    results.parent.mkdir(exist_ok=True)
    results.write_text(doc)
    window = make_window()
    window.runs_panel.select(run_copy)
    window.tabs.setCurrentWidget(window.evaluation)
    title = window.evaluation.title.text()
    assert "eval/results.json" in title and "damaged" in title
    assert window.evaluation.rows == [] and window.evaluation.table.rowCount() == 0
    assert results.read_text() == doc  # nothing moved by looking
