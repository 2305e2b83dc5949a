"""What the window does at the edges of a run (its start, a phase's start, its end) without
holding the GUI thread: bench/bench_ui_latency.py --whole-run measures the gaps; these
tests check the changes that took the long calls out of them, not their timing."""

import gc
import threading

from PySide6.QtCore import Qt

from gdd_studio.ui.monitor import LOSS_TITLES, LossPanel
from gdd_studio.ui.results_chart import ResultsChart

PHASE1 = {"d_loss": 1.0, "wasserstein": 0.5, "gp": 0.1, "d_cls": 2.0, "g_loss": 1.5,
          "g_adv": 0.7, "g_cls": 2.1}  # fmt: skip
PHASE2 = {**PHASE1, "match": 0.3, "pool_loss": 1.2, "pool_acc": 0.4}


def _legend(panel: LossPanel) -> list[str]:
    return [label.text for _, label in panel.legend.items if label.isVisible()]


def test_the_engine_warm_up_ends_with_everything_alive_frozen(qtbot):
    """A full collection on the GUI thread walked torch's and Qt's 370,000 objects (a
    250-450 ms stall at a run's start or end); after the warm-up they are frozen, out of
    every later collection's walk."""
    from gdd_studio.ui.jobs import collect_garbage_on_gui_thread, freeze_after

    collect_garbage_on_gui_thread()
    gc.unfreeze()
    release = threading.Event()
    warm_up = threading.Thread(target=release.wait)
    warm_up.start()
    freeze_after(warm_up)
    alive = ["made before the warm-up ended"]  # a list: the collector tracks it
    try:
        qtbot.wait(300)  # the collector's timer runs while the warm-up goes
        assert gc.get_freeze_count() == 0
        release.set()
        warm_up.join()
        qtbot.waitUntil(lambda: gc.get_freeze_count() > 0, timeout=5000)
        assert alive not in gc.get_objects()  # out of the collector's sight
    finally:
        gc.unfreeze()  # the rest of the session collects as before


def test_loss_curves_and_legend_rows_are_made_before_the_run_reports_them(qtbot):
    """A phase start brings four to seven new losses: their curves and legend rows are
    made while the window is idle, and the redraw that shows them only fills them in."""
    panel = LossPanel()
    qtbot.addWidget(panel)
    plot = panel.plot.getPlotItem()
    qtbot.waitUntil(lambda: len(plot.listDataItems()) == len(LOSS_TITLES), timeout=5000)
    assert _legend(panel) == []  # nothing reported yet: no legend rows

    panel.add(1, PHASE1)
    panel.redraw()
    assert len(plot.listDataItems()) == len(LOSS_TITLES)  # no new item
    assert _legend(panel) == [LOSS_TITLES[k] for k in LOSS_TITLES if k in PHASE1]

    panel.add(2, PHASE2)  # phase 2's losses fall between phase 1's in the fixed order
    panel.redraw()
    assert len(plot.listDataItems()) == len(LOSS_TITLES)
    assert _legend(panel) == [LOSS_TITLES[k] for k in LOSS_TITLES if k in PHASE2]
    assert panel.points("match") == 1 and panel.points("d_loss") == 2


def test_an_empty_chart_keeps_its_items_and_changes_only_its_text(qtbot):
    """Selecting runs without results clears the chart each time; when it is already
    empty only its line changes (re-adding the text item took 20-30 ms a selection)."""
    chart = ResultsChart()
    qtbot.addWidget(chart)
    chart.clear_chart("no run selected")
    items = list(chart.item.items)
    chart.clear_chart("no results yet: press Evaluate")
    assert chart.item.items == items
    assert chart._empty.toPlainText() == "no results yet: press Evaluate"
    rows = [{"arch": "convnet3", "ipc": 1, "source": "distilled", "mean": 0.9, "std": 0.01,
             "accuracies": [0.9], "n": 1}]  # fmt: skip
    chart.show_rows(rows, "arch", 1)
    assert chart.drawn and chart._empty not in chart.item.items
    chart.clear_chart("no results yet")
    assert chart.drawn == [] and chart._empty in chart.item.items
    assert chart._empty.toPlainText() == "no results yet"


def test_the_window_fits_a_1280_x_720_screen(window):
    """Issue 31, item 10: the Evaluation tab's settings set a minimum of 1161 x 744, too
    tall for a 1366 x 768 laptop once a taskbar and title bar are counted; they scroll now."""
    hint = window.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 640, hint.toTuple()


def _finished_folder(root, name, created, step=24):
    import json

    from gdd_studio.config import preset_config

    d = root / name
    d.mkdir(parents=True)
    (d / "config.json").write_text(preset_config("smoke").to_json())
    info = {"id": name, "status": "finished", "created": created, "dataset": "mnist-sample",
            "ipc": 10, "tau": 2.0, "seed": 0, "preset": "smoke", "step": step,
            "total_steps": 24}  # fmt: skip
    (d / "run.json").write_text(json.dumps(info))
    return d


def test_the_runs_list_reads_only_what_changed(tmp_path, monkeypatch):
    """Issue 30: the list re-read every run.json each second on the GUI thread; a folder of
    thousands of runs stalled the window. A summary is read again only when its run.json
    changed."""
    import gdd_studio.rundir.records as records
    from gdd_studio.rundir.records import RunsCache, list_runs

    root = tmp_path / "runs"
    dirs = [_finished_folder(root, f"r{i}", 1000.0 + i) for i in range(5)]
    reads = []
    real = records.read_run_info
    monkeypatch.setattr(records, "read_run_info", lambda p: reads.append(p) or real(p))
    cache = RunsCache()
    assert [r.path for r in list_runs(root, cache)] == dirs[::-1]
    assert len(reads) == 5
    reads.clear()
    list_runs(root, cache)
    assert reads == []  # nothing changed: nothing parsed
    (dirs[2] / "run.json").write_text((dirs[2] / "run.json").read_text().replace("24,", "25,", 1))
    new = _finished_folder(root, "r9", 2000.0)
    runs = list_runs(root, cache)
    assert sorted(map(str, reads)) == sorted([str(dirs[2]), str(new)])
    assert runs[0].path == new and len(runs) == 6


def test_the_runs_list_follows_another_process_off_the_gui_thread(make_window, qtbot, tmp_path):
    """The window's poll reads the folder on the panel's own thread; a changed run's row
    is updated in place, a new run inserted at the top, the selection kept."""
    root = tmp_path / "runs"
    dirs = [_finished_folder(root, f"r{i}", 1000.0 + i) for i in range(3)]
    window = make_window()
    panel = window.runs_panel
    assert panel.runs.count() == 3
    panel.select(dirs[0])
    kept = panel.runs.item(2)
    info = (dirs[0] / "run.json").read_text()
    (dirs[0] / "run.json").write_text(info.replace('"finished"', '"stopped"'))
    new = _finished_folder(root, "r9", 2000.0)
    qtbot.waitUntil(lambda: panel.runs.count() == 4, timeout=5000)
    assert panel.runs.item(0).data(Qt.ItemDataRole.UserRole) == str(new)
    qtbot.waitUntil(lambda: "stopped" in panel.runs.item(3).text(), timeout=5000)
    assert panel.runs.item(3) is kept  # the same row, its text changed in place
    assert panel.current_path() == str(dirs[0])
