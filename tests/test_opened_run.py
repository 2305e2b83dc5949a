"""A run opened once: one evaluate reads its config.json once, and the value is passed down."""

import sys
from pathlib import Path

import pytest

from gdd_studio.cli import main
from gdd_studio.engine.run import Run
from gdd_studio.rundir.artifacts import OpenedRun, open_run, run_config
from tests.helpers import tiny_config, write_tiny_npz


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("opened")
    dataset = "npz:" + str(write_tiny_npz(tmp / "tiny.npz"))
    run = Run.create(tiny_config(dataset), tmp / "runs")
    assert run.execute() == "finished"
    return run.dir


_COUNTING: list[list[str]] = []  # the open counter of the test under way, if any


def _hook(event, args):
    if event == "open" and _COUNTING and str(args[0]).endswith("config.json"):
        _COUNTING[-1].append(str(args[0]))


sys.addaudithook(_hook)  # an audit hook cannot be removed: it counts only while asked


def _count_config_opens(fn) -> int:
    _COUNTING.append([])
    try:
        fn()
    finally:
        opened = _COUNTING.pop()
    return len(opened)


def test_one_evaluate_reads_the_run_config_once(finished, capsys):
    def evaluate():
        code = main([
            "evaluate", str(finished), "--ipc", "1", "--archs", "convnet3", "--repeats", "1",
            "--epochs", "1", "--quiet",
        ])  # fmt: skip
        assert code == 0

    assert _count_config_opens(evaluate) == 1


def test_an_opened_run_is_passed_through_and_copies_are_the_callers(finished):
    run = open_run(finished)
    assert isinstance(run, OpenedRun) and run.dir == Path(finished)
    assert open_run(run) is run  # no second read
    mine = run_config(run)
    mine.ipc = 99
    assert run.config.ipc != 99  # a caller's changes stay its own
    assert run_config(finished).ipc == run.config.ipc
