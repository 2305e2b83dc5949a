"""What the window shows, without Qt: gdd_studio.view's models, tested with no display.

A run folder is written here by hand (a fake writer holding the run's lock, row by row) and
by the real engine; the Training tab's model follows it, sees each new metrics row once,
fixes the phase boundary, and tells a run being written elsewhere from a finished one and
from the run trained here, whose queued events it drains in order. The runs list's model
groups a sweep's members and says what each row and the queue say. The last test runs all
of these again in a fresh interpreter where any import of Qt fails.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from queue import SimpleQueue

import numpy as np

from gdd_studio.engine.events import (
    GridImage,
    LogMessage,
    PhaseStarted,
    Progress,
    StateChanged,
    StepMetrics,
)
from gdd_studio.rundir.folder import RunFolder, write_run_info
from gdd_studio.rundir.lock import RunLock
from gdd_studio.rundir.records import list_grids
from gdd_studio.rundir.sweeps import write_sweep
from gdd_studio.view import Here, TrainingModel, WindowModel, run_ending, sweep_ending
from tests.helpers import tiny_config, write_tiny_npz

ROOT = Path(__file__).resolve().parent.parent
HEADER = "phase,step,epoch,time,d_loss,match\n"


class FakeRun:
    """A run folder written the way the trainer writes it, a few rows at a time."""

    def __init__(self, runs_dir: Path, name: str, created: float = 1_700_000_000.0) -> None:
        self.dir = Path(runs_dir) / name
        self.folder = RunFolder(self.dir)
        self.folder.grids.mkdir(parents=True)
        tiny_config("npz:/data/tiny.npz").save(self.folder.config)
        self.info = {
            "id": name, "status": "created", "created": created, "dataset": "npz:/data/tiny.npz",
            "ipc": 2, "tau": 2.0, "seed": 0, "preset": "smoke", "host": socket.gethostname(),
            "pid": os.getpid(), "step": 0, "total_steps": 12,
        }  # fmt: skip
        write_run_info(self.dir, self.info)
        self.lock = RunLock(self.dir)

    def start(self) -> None:
        assert self.lock.acquire()
        self.set(status="running")
        self.folder.metrics.write_text(HEADER)
        self.folder.dataset_info.write_text(json.dumps({"classes": ["zero", "one", "two"]}))

    def set(self, **changes) -> None:
        self.info.update(changes)
        write_run_info(self.dir, self.info)

    def rows(self, phase: int, steps, partial: str = "") -> None:
        """Append complete rows for ``steps`` (and the first half of another one)."""
        with open(self.folder.metrics, "a", encoding="utf-8") as fh:
            for step in steps:
                loss = "" if phase == 2 else f"{1 / step:.4f}"
                fh.write(f"{phase},{step},0,0.0,{loss},{0.5 if phase == 2 else ''}\n")
            fh.write(partial)
        self.set(step=max(steps))

    def grid(self, phase: int, step: int) -> None:
        self.folder.grid(phase, step).write_bytes(b"not decoded by the model")

    def log(self, line: str) -> None:
        with open(self.folder.log, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def finish(self, status: str = "finished") -> None:
        self.set(status=status)
        self.lock.release()


def steps_of(update, key: str = "d_loss") -> list[int]:
    return [step for step, values in update.rows if key in values]


def test_following_a_run_another_process_writes(tmp_path):
    run = FakeRun(tmp_path / "runs", "run-a")
    model = TrainingModel(Here())  # nothing trained here
    first = model.follow(run.dir)
    assert model.view_dir == run.dir and model.following
    assert first.rows == [] and first.grids == [] and first.log == []
    assert model.source == "folder"  # created, nobody writing it yet
    run.start()
    assert model.source == "followed"  # its lock is held, run.json says running
    run.rows(1, [1, 2, 3], partial="1,4,0,0.0,0.2")  # row 4 is half written
    run.grid(1, 2)
    run.log("phase 1: GAN pretraining")
    up = model.poll()
    assert steps_of(up) == [1, 2, 3] and up.boundary is None and model.phase2_start is None
    assert [(s, p) for s, p, _ in up.grids] == [(2, 1)]
    assert up.classes == ["zero", "one", "two"] and model.classes == up.classes
    assert up.log == ["phase 1: GAN pretraining"] and not up.clear_curves
    progress = model.folder_progress()
    assert progress.step == 3 and progress.total == 12 and "running, step 3 / 12" in progress.text
    # The rest of row 4, two more, a grid: only what is new comes back, each row once.
    with open(run.folder.metrics, "a", encoding="utf-8") as fh:
        fh.write("0,\n")
    run.rows(1, [5, 6])
    run.grid(1, 4)
    up = model.poll()
    assert steps_of(up) == [4, 5, 6] and [s for s, _, _ in up.grids] == [4]
    assert up.classes is None  # known already
    assert model.poll().rows == []  # nothing new
    # Phase 2: the boundary stands after the last phase-1 step, found once.
    run.rows(2, [7, 8, 9])
    up = model.poll()
    assert up.boundary == 6 == model.phase2_start and steps_of(up, "match") == [7, 8, 9]
    run.rows(2, [10, 11, 12])
    assert model.poll().boundary is None and model.phase2_start == 6
    # It finishes: nobody writes it any more, and its progress is whole.
    run.finish()
    assert model.source == "folder"
    done = model.folder_progress()
    assert done.step == done.total == 12 and "finished" in done.text and "Resume" not in done.text
    assert model.grid_count == 2


def test_a_rewritten_folder_starts_the_view_over(tmp_path):
    """A resume rewrites metrics.csv up to its checkpoint and removes later grids."""
    run = FakeRun(tmp_path / "runs", "run-b")
    run.start()
    run.rows(1, range(1, 7))
    run.rows(2, [7, 8])
    for step in (2, 4, 6, 8):
        run.grid(1 if step <= 6 else 2, step)
    model = TrainingModel(Here())
    up = model.follow(run.dir)
    assert len(up.rows) == 8 and up.boundary == 6 and model.grid_count == 4
    run.finish("stopped")
    run.folder.metrics.unlink()
    run.start()  # resumed at step 4: the rows up to it again, the grids after it gone
    run.rows(1, [1, 2, 3, 4])
    for step in (6, 8):
        run.folder.grid(1 if step <= 6 else 2, step).unlink()
    up = model.poll()
    assert up.clear_curves and up.clear_grids and steps_of(up) == [1, 2, 3, 4]
    assert [s for s, _, _ in up.grids] == [2, 4] and model.phase2_start is None
    assert up.classes == ["zero", "one", "two"]  # the cleared grid is named again


def test_events_of_the_run_trained_here_are_drained_in_order(tmp_path):
    here = Here(running=True)
    model = TrainingModel(here)
    image = np.zeros((4, 4, 1), np.uint8)
    # Before the run folder exists, the log comes from the events.
    model.queue(LogMessage("info", "loading dataset tiny", time=0.0))
    model.queue(LogMessage("warning", "slow disk", time=0.0))
    up = model.drain()
    assert [line.split(" ", 1)[1] for line in up.log] == ["loading dataset tiny",
                                                          "warning: slow disk"]  # fmt: skip
    run = FakeRun(tmp_path / "runs", "run-c")
    run.start()
    here.run_dir = run.dir
    model.follow(run.dir)
    assert model.live and model.source == "here"
    events = [
        StepMetrics(1, 1, 0, {"d_loss": 1.0}), Progress(1, 1, 12, 1, 6, 2.0, 5.5, 0.5),
        StepMetrics(1, 2, 0, {"d_loss": 0.9}), GridImage(1, 2, image),
        Progress(1, 2, 12, 2, 6, 0.0, 4.0, 1.0), StateChanged("paused"),
        PhaseStarted(2, "SKD distillation", 6, 6), StepMetrics(2, 7, 0, {"match": 0.5}),
        PhaseStarted(2, "SKD distillation", 6, 9),  # a resumed phase: the boundary stays
        Progress(2, 7, 12, 1, 6, 2.5, None, 3.0), LogMessage("info", "from events"),
    ]  # fmt: skip
    for e in events:
        model.queue(e)
    assert model.pending == events  # kept until the timer drains them
    run.log("phase 1: GAN pretraining")
    up = model.drain()
    assert model.pending == []
    assert up.rows == [(1, {"d_loss": 1.0}), (2, {"d_loss": 0.9}), (7, {"match": 0.5})]
    assert up.progress == events[9]  # the latest only
    assert up.boundary == 6 == model.phase2_start and up.state == "paused"
    assert [(s, p) for s, p, _ in up.grids] == [(2, 1)] and up.grids[0][2] is image
    assert up.classes == ["zero", "one", "two"]
    assert up.log == ["phase 1: GAN pretraining"]  # log.txt, not the event, once it exists
    assert here.step == (7, 12) and here.rate == 2.5
    assert model.drain() == type(up)()  # nothing new: an empty update
    # Another run shown while this one trains: its events no longer draw, the bar still
    # follows this run.
    other = FakeRun(tmp_path / "runs", "run-d")
    model.follow(other.dir)
    assert not model.live and model.source == "folder"
    model.queue(StepMetrics(2, 8, 0, {"match": 0.4}))
    model.queue(Progress(2, 8, 12, 2, 6, 0.0, 2.0, 3.5))
    up = model.drain()
    assert up.rows == [] and up.progress is not None and here.step == (8, 12)
    assert here.rate == 2.5  # a zero rate (a pause) keeps the last one measured
    assert model.poll() is not None  # the other run is read from its folder
    model.follow(run.dir)
    assert model.poll() is None  # the run trained here is never polled


def test_progress_status_line():
    p = Progress(2, 7, 12, 1, 6, 1.25, 4.0, 65.0, 3 * 2**20)
    text = TrainingModel.progress_text(p, paused=True)
    assert text.startswith("<b>Phase 2: SKD distillation</b> (paused)")
    assert "step 7 / 12 (phase 1 / 6)" in text and "1.25 steps/s" in text
    assert "ETA 00:04" in text and "elapsed 01:05" in text and "3 MiB" in text
    assert "n/a on CPU" in TrainingModel.progress_text(Progress(1, 1, 2, 1, 1, 1, None, 0), False)


def test_a_real_run_followed_and_live_agree(tmp_path):
    """The engine writes a run on a thread; one model follows its folder, another is fed
    its events as the window's own run. Both see every step once and the same boundary."""
    from gdd_studio.engine.run import Run

    data = write_tiny_npz(tmp_path / "tiny.npz")
    run = Run.create(tiny_config(f"npz:{data}"), tmp_path / "runs")
    follower = TrainingModel(Here())
    follower.follow(run.dir)
    here = Here(running=True, run_dir=run.dir)
    live = TrainingModel(here)
    live.follow(run.dir)
    seen_while_running = []
    inbox: SimpleQueue = SimpleQueue()  # what the worker's queued signal does in the window

    def on_event(e):
        inbox.put(e)
        if isinstance(e, Progress) and e.step == 3:
            seen_while_running.append(follower.source)

    writer = threading.Thread(target=run.execute, args=(on_event,))
    writer.start()
    followed, drained = [], []

    def look():
        followed.append(follower.poll())
        while not inbox.empty():
            live.queue(inbox.get())
        drained.append(live.drain())

    while writer.is_alive():
        look()
        time.sleep(0.02)
    writer.join()
    look()
    assert seen_while_running == ["followed"] and follower.source == "folder"
    grid_steps = [step for step, _, _ in list_grids(run.dir)]
    assert len(grid_steps) >= 4
    for updates, boundary in ((followed, follower.phase2_start), (drained, live.phase2_start)):
        gan = [s for up in updates for s in steps_of(up)]
        skd = [s for up in updates for s in steps_of(up, "match")]
        assert gan == list(range(1, 13)) and skd == list(range(7, 13))
        assert boundary == 6 and [u.boundary for u in updates if u.boundary] == [6]
        assert [s for up in updates for s, _, _ in up.grids] == grid_steps
    assert "finished, step 12 / 12" in follower.folder_progress().text
    assert here.step == (12, 12) and here.rate > 0


def make_sweep(runs_dir: Path) -> tuple[Path, list[FakeRun]]:
    members = [FakeRun(runs_dir, f"member-{k}", created=1_700_000_100.0 + k) for k in range(3)]
    sweep_dir = runs_dir / "sweeps" / "20240101-000000-seed"
    sweep_dir.mkdir(parents=True)
    write_sweep(sweep_dir, {
        "id": sweep_dir.name, "created": 1_700_000_050.0, "axes": [{"key": "seed"}],
        "members": [{"run": m.dir.name, "label": f"seed={k}", "status": "pending"}
                    for k, m in enumerate(members)],
    })  # fmt: skip
    return sweep_dir, members


def test_runs_list_groups_a_sweep_and_says_what_runs_where(tmp_path):
    runs_dir = tmp_path / "runs"
    model = WindowModel(runs_dir)
    assert model.runs.refresh() is False  # nothing, as before
    assert model.runs.label_text() == f"None yet in {runs_dir}" and model.runs.entries() == []
    old = FakeRun(runs_dir, "old", created=1_700_000_000.0)
    sweep_dir, (a, b, c) = make_sweep(runs_dir)
    new = FakeRun(runs_dir, "new", created=1_700_000_900.0)
    new.info["dataset"] = "folder:/data/cifar10-png/images"
    new.finish()
    assert model.runs.refresh() is True and model.runs.refresh() is False
    entries = model.runs.entries()
    assert [(e.kind, Path(e.path).name) for e in entries] == [
        ("run", "new"), ("sweep", sweep_dir.name), ("member", "member-0"),
        ("member", "member-1"), ("member", "member-2"), ("run", "old"),
    ]  # fmt: skip
    assert entries[0].text.startswith(
        "cifar10-png/images (folder)   IPC 2   tau 2.0   seed 0   smoke preset\n"
    )  # the preset tells a smoke run from a cpu run of the same settings
    assert "\nfinished · " in entries[0].text and "host" in entries[0].tooltip
    assert entries[1].text == "Sweep of seed: 3 runs\n3 created"
    member = entries[2].text
    # A member is named by what it varies, as the sweep names it.
    assert member.startswith("      seed=0\n      created (0 %) · ")
    # Member 0 finished, member 1 trains in another process: the sweep is followed there.
    a.start()
    a.rows(1, range(1, 13))
    a.finish()
    assert model.runs.follow_target(sweep_dir) == a.dir  # the last one started
    b.start()
    b.set(step=3)
    assert model.runs.refresh() is True
    assert model.runs.follow_target(sweep_dir) == b.dir  # the one being trained
    assert not model.runs.sweep_resumable(sweep_dir)  # it runs somewhere
    model.runs.queue_sweep = sweep_dir
    # The members agree on phase 1 (one config): the one not begun waits for the one
    # training it, and says so.
    assert [r.texts for r in model.runs.queue_rows()] == [
        ("1. seed=0", "finished", "100 %"), ("2. seed=1", "running", "25 %"),
        ("3. seed=2", "waits for phase 1 of seed=1", "0 %"),
    ]  # fmt: skip
    (b.folder.checkpoints).mkdir(exist_ok=True)
    b.folder.phase_checkpoint(1).write_bytes(b"")  # its phase 1 is done: nothing to wait for
    assert model.runs.queue_rows()[2].texts == ("3. seed=2", "created", "0 %")
    b.finish("stopped")
    model.runs.refresh()
    assert model.runs.sweep_resumable(sweep_dir)
    assert model.runs.sweep_of(c.dir) == sweep_dir and model.runs.sweep_of(old.dir) is None
    assert model.runs.sweep_members(sweep_dir) == [a.dir, b.dir, c.dir]
    assert [s.path for s in model.runs.recorded()] == [new.dir, a.dir]
    # This process trains member 2: the list and the queue show the live figure.
    model.here.sweep_dir, model.here.run_dir, model.here.step = sweep_dir, c.dir, (6, 12)
    assert model.runs.refresh() is True  # "here" changed what the rows say
    texts = {Path(e.path).name: e.text for e in model.runs.entries()}
    assert "running here · " in texts[sweep_dir.name] and "running here (50 %)" in texts["member-2"]
    assert model.runs.queue_rows()[2].texts == ("3. seed=2", "training here", "50 %")
    assert model.runs.follow_target(sweep_dir) is None  # the window follows it by its events
    assert not model.runs.sweep_resumable(sweep_dir)
    assert model.training.summary_of(c.dir) is model.runs.summary(c.dir)


def test_how_a_run_or_a_sweep_ended_is_said():
    done = run_ending("finished", "", Path("/runs/r1"))
    assert done.complete and done.message[0] == "info" and "/runs/r1" in done.status
    stopped = run_ending("stopped", "", Path("/runs/r1"))
    assert stopped.message is None and "press Resume" in stopped.status
    failed = run_ending("failed", "out of memory", None)
    assert failed.status == "Failed: out of memory" and failed.error == "out of memory"
    assert failed.message == ("error", "The run failed", "out of memory")
    assert run_ending("failed", "", None).message[2] == "unknown error"
    swept = sweep_ending({"finished": 2}, False, Path("/runs/sweeps/s"))
    assert swept.complete and swept.status.startswith("Sweep finished (2 finished)")
    halted = sweep_ending({"finished": 1, "stopped": 1}, True, None)
    assert halted.message is None and "Sweep stopped (1 finished, 1 stopped)" in halted.status
    broken = sweep_ending({}, False, None)
    assert "nothing trained" in broken.status and broken.message[0] == "error"


def test_these_tests_pass_with_qt_absent(tmp_path):
    """Every test above again, in an interpreter where importing Qt fails."""
    code = textwrap.dedent(
        f"""
        import inspect, pathlib, sys, tempfile
        for name in ("PySide6", "pyqtgraph", "shiboken6"):
            sys.modules[name] = None  # any import of these now raises ImportError
        sys.path.insert(0, {str(ROOT)!r})
        import tests.test_view_model as t
        ran = []
        for name, fn in vars(t).items():
            if name.startswith("test_") and name != "test_these_tests_pass_with_qt_absent":
                with tempfile.TemporaryDirectory() as d:
                    wanted = inspect.signature(fn).parameters
                    fn(**({{"tmp_path": pathlib.Path(d)}} if "tmp_path" in wanted else {{}}))
                ran.append(name)
        qt = [m for m in sys.modules if m.startswith(("PySide6", "pyqtgraph", "shiboken6"))]
        assert all(sys.modules[m] is None for m in qt), qt
        print(len(ran), "passed")
        """
    )
    env = dict(os.environ, GDD_STUDIO_HOME=str(tmp_path), OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "7 passed"
