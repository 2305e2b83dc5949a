import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Under pytest-xdist each worker process gets its share of the cores for torch (and the
# processes it starts inherit it): workers that each use every core collapse on 2 cores.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _share = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ["OMP_NUM_THREADS"] = str(_share)
    import torch

    torch.set_num_threads(_share)


def pytest_collection_modifyitems(config, items):
    """The slowest tests first (marked ``slow``; the order otherwise kept): pytest-xdist
    hands tests out in order, so a long test near the end keeps one worker busy alone
    while the other has finished."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """No test writes to the real per-user folder."""
    home = tmp_path_factory.mktemp("gdd_home")
    monkeypatch.setenv("GDD_STUDIO_HOME", str(home))
    return home


@pytest.fixture
def make_window(qtbot, tmp_path):
    """Windows on ``tmp_path/runs``; each is shut down in teardown (its run and its
    evaluation stopped, their threads joined), whatever the test did."""
    from gdd_studio.ui import MainWindow

    made = []

    def make():
        w = MainWindow(runs_dir=tmp_path / "runs")
        w.confirm_close = lambda: True
        qtbot.addWidget(w)
        w.show()
        made.append(w)
        return w

    yield make
    for w in made:
        w.shutdown()
        assert not w.running and not w.evaluation.evaluating


@pytest.fixture
def window(make_window):
    """One window on ``tmp_path/runs`` (a test module may override it)."""
    return make_window()


@pytest.fixture
def tiny(tmp_path):
    """A 3-class NPZ of 12 images a class: runs of a few seconds."""
    from tests.helpers import write_tiny_npz

    return write_tiny_npz(tmp_path / "tiny.npz", classes=3, per_class=12)


@pytest.fixture(scope="session")
def tiny_run_template(tmp_path_factory):
    """One finished ``tiny_config`` run for the whole pytest session, on a 3-class NPZ of
    12 images a class: never written to; tests that change a run take ``run_copy``."""
    from tests.helpers import finished_tiny_run

    return finished_tiny_run(tmp_path_factory.mktemp("tinyrun"))


@pytest.fixture
def run_copy(tiny_run_template, tmp_path):
    """A private copy of the session's finished tiny run, safe to evaluate, export from
    or damage (its config names the template's dataset file, which no test changes)."""
    import shutil

    target = tmp_path / "runs" / tiny_run_template.name
    shutil.copytree(tiny_run_template, target, symlinks=True)
    return target
