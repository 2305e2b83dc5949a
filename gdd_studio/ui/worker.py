"""The window's background work: training, evaluation, making a set (``ui/jobs.py`` runs
each on a QThread of its own).

A worker never touches a widget. It forwards the engine's events (plain CPU data) as
one queued ``Signal(object)`` each; the window buffers them and redraws on a timer. Its
``RunControl`` is thread-safe, so the window pauses, resumes and stops it directly,
without a round trip through the worker's (busy) thread. An exception that escapes
``work()`` arrives as ``errored``; the owner shows it as one line (``user_message``).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal

from ..config import RunConfig
from ..engine.events import LogMessage
from ..sweep.executors import LocalExecutor
from .jobs import Worker, freeze_after

if TYPE_CHECKING:  # the data package imports torch: the worker's thread loads it
    from ..data import ImageDataset


def warm_up_engine() -> threading.Thread:
    """Make torch's one-time imports and set-up now, on a thread of their own.

    The first optimizer a process makes imports ``torch._dynamo`` (about 850 modules,
    1.3 s on a 2-core CPU) and the first convolution sets up its kernels. Done by the first
    run's worker, that import holds Python's GIL in stretches of 100-200 ms and stalls the
    window just as the run starts; done right after launch, it is over before a user has
    chosen the settings, and every run starts warm. The engine's own modules are imported
    here too (a run's thread would import them at its start).

    Once it has ended, the window's garbage collector freezes everything alive (torch,
    Qt, the engine: ``jobs.GuiCollector``), so no later collection on the GUI thread walks
    those objects again.
    """

    def work() -> None:
        import torch

        from ..engine import run  # noqa: F401 - imported for a run's thread

        net = torch.nn.Conv2d(1, 2, 3)
        opt = torch.optim.Adam(net.parameters())
        net(torch.zeros(1, 1, 8, 8)).sum().backward()
        opt.step()

    thread = threading.Thread(target=work, name="gdd-warm-up", daemon=True)
    thread.start()
    freeze_after(thread)
    return thread


def load_data(worker: RunWorker | SweepWorker, cfg: RunConfig) -> ImageDataset | None:
    """The dataset of a new run or sweep, loaded on the worker's thread (saying so in its
    log); None when a stop came meanwhile, so nothing is written."""
    from ..data import load_dataset

    worker.event.emit(LogMessage("info", f"loading dataset {cfg.dataset}"))
    data = load_dataset(cfg.dataset, data_dir=cfg.data_dir, download=cfg.download)
    return None if worker.control.stop_requested else data


class RunWorker(Worker):
    """Creates (or reopens) a run and executes it; returns (status, message), status
    "finished" | "stopped" | "failed".

    The dataset is loaded here, on the worker's thread, so a 60,000-image dataset never
    freezes the window; it is also what lets a wrong IPC be refused before any run folder
    is made.
    """

    event = Signal(object)  # an engine event dataclass
    created = Signal(object)  # the run folder (str), once it exists

    def __init__(
        self,
        cfg: RunConfig | None = None,
        runs_dir: Path | None = None,
        resume: Path | None = None,
        restart: bool = False,
    ) -> None:
        super().__init__()
        self.cfg, self.runs_dir, self.resume_dir = cfg, runs_dir, resume
        self.restart = restart  # resume a run whose checkpoint is lost from step 0
        self.run_dir: Path | None = None

    def work(self) -> tuple[str, str]:
        from ..engine.run import Run

        if self.resume_dir is not None:
            run = Run.open(self.resume_dir, restart=self.restart)
        else:
            assert self.cfg is not None and self.runs_dir is not None
            data = load_data(self, self.cfg)
            if data is None:
                return "stopped", "stopped before the run began"
            run = Run.create(self.cfg, self.runs_dir, data)  # checks the IPC first
        self.run_dir = run.dir
        self.created.emit(str(run.dir))
        return run.execute(self.event.emit, self.control), ""


class SweepWorker(Worker):
    """Makes a sweep (or reopens one to continue it) and trains its members one at a
    time in this process: ``sweep.Sweep.execute`` with the local executor, obeying the
    worker's control (pause and stop act on the member being trained; a stop leaves the
    rest pending). Returns the count of members by status.
    """

    event = Signal(object)  # the member's engine events, and the sweep's log lines
    created = Signal(object)  # the sweep folder (str), once it exists
    member_started = Signal(object)  # the run folder (str) of the member starting now

    def __init__(
        self,
        cfg: RunConfig | None = None,
        axes: list[tuple[str, list[str]]] | None = None,
        ablation: bool = False,
        runs_dir: Path | None = None,
        resume: Path | None = None,
    ) -> None:
        super().__init__()
        self.cfg, self.axes, self.ablation = cfg, list(axes or []), ablation
        self.runs_dir, self.resume_dir = runs_dir, resume

    def work(self) -> dict[str, int]:
        from ..sweep.sweep import Sweep

        if self.resume_dir is not None:
            sweep = Sweep.open(self.resume_dir)
        else:
            assert self.cfg is not None and self.runs_dir is not None
            data = load_data(self, self.cfg)
            if data is None:
                return {}
            # Every member's config is checked against the data before anything is written.
            sweep = Sweep.create(self.cfg, self.axes, self.runs_dir, self.ablation, data=data)
        self.created.emit(str(sweep.dir))

        def say(line: str) -> None:
            self.event.emit(LogMessage("info", line))

        executor = _AnnouncingExecutor(self.member_started.emit)
        return sweep.execute(executor, self.control, say=say, on_event=self.event.emit)


class _AnnouncingExecutor(LocalExecutor):
    """The local executor, saying which member starts (the window follows it)."""

    def __init__(self, announce) -> None:
        super().__init__()
        self.announce = announce

    def map_unordered(self, fn, jobs, control, flag=None):
        def announced(job, worker):
            self.announce(job.run_dir)
            return fn(job, worker)

        return super().map_unordered(announced, jobs, control, flag)


class EvalWorker(Worker):
    """Evaluates one or more run folders in turn (the same settings for each).

    ``event`` carries the engine's evaluation events; ``run_started`` says which run the
    next ones belong to; it returns ("finished" | "stopped", ""). A run that fails (no
    generator yet, data missing) ends the whole call (``errored``): what was already
    evaluated stays saved in its run folder.
    """

    event = Signal(object)
    run_started = Signal(object)  # (index, count, run folder as str)

    def __init__(self, run_dirs: list[Path], settings, device: str | None = None) -> None:
        super().__init__()
        self.run_dirs, self.settings, self.device = list(run_dirs), settings, device

    def work(self) -> tuple[str, str]:
        from ..evaluation.protocol import Evaluation

        for k, run_dir in enumerate(self.run_dirs):
            if self.control.stop_requested:
                return "stopped", ""
            self.run_started.emit((k, len(self.run_dirs), str(run_dir)))
            doc = Evaluation(run_dir, self.settings, self.device).execute(
                self.event.emit, self.control
            )
            if doc.get("status") == "stopped":
                return "stopped", ""
        return "finished", ""


class SetWorker(Worker):
    """Makes (or reads back) a run's set off the GUI thread.

    A set chosen by herding may train the run's observer first (seconds to a minute on a
    CPU) and a wide generator at a large IPC samples for a while: none of it may freeze
    the window. It returns (run_dir, ipc, StoredSet, classes).
    """

    def __init__(self, run_dir: Path, ipc: int, sampling=None) -> None:
        super().__init__()
        self.run_dir, self.ipc, self.sampling = Path(run_dir), ipc, sampling

    def work(self) -> tuple[Path, int, object, list[str]]:
        from ..engine.sets import synthetic_set
        from ..rundir.artifacts import dataset_info, require_generator

        require_generator(self.run_dir)
        stored = synthetic_set(
            self.run_dir, self.ipc, "distilled", "cpu", sampling=self.sampling,
            should_stop=lambda: self.control.stop_requested,
        )  # fmt: skip
        classes = [str(c) for c in dataset_info(self.run_dir)["classes"]]
        return self.run_dir, self.ipc, stored, classes
