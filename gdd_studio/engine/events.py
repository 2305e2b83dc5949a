"""What a run reports, and how it is steered.

A run never calls a front end; it hands small event objects to one callback and checks a
``RunControl`` between steps. The CLI prints them, the window queues them across a thread
and redraws on a timer. Events carry plain CPU data only (floats, small uint8 arrays).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PHASE_NAMES = {1: "GAN pretraining", 2: "SKD distillation", 3: "the distilled set"}


def fmt_duration(seconds: float | None) -> str:
    """1:02:03 or 02:03 (an ETA or elapsed time); ``--:--`` while it is not known."""
    if seconds is None:
        return "--:--"
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def fmt_eta(seconds: float | None) -> str:
    """'01:23', or 'estimating' while no rate is known yet (warm-up, compilation)."""
    return "estimating" if seconds is None else fmt_duration(seconds)


class StepRate:
    """The pace of a loop of like steps, for an honest ETA: the first WARMUP_STEPS steps
    are not timed (torch's first calls, compilation, the data on its way to the device),
    nor is a step that takes OUTLIER_FACTOR times the steps before it (a compilation, a
    checkpoint, a grid). Until WARMUP_STEPS steps have been timed the rate is 0 and the
    ETA None, which reads "estimating". After that the rate is the inverse of a moving
    average of the seconds a step takes (an average of 1/dt would let one fast step
    inflate it). Call :meth:`tick` after each step."""

    WARMUP_STEPS = 3
    OUTLIER_FACTOR = 10.0

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self._seconds_per_step = 0.0  # moving average over the timed steps
        self._skip = self.WARMUP_STEPS  # steps still to pass untimed
        self._timed = 0

    def tick(self) -> None:
        now = time.perf_counter()
        dt = max(now - self._last, 1e-9)
        self._last = now
        if self._skip > 0:
            self._skip -= 1
            return
        if self._timed and dt > self.OUTLIER_FACTOR * self._seconds_per_step:
            return  # a step that compiled or wrote: not what the next steps will take
        self._timed += 1
        if self._timed == 1:
            self._seconds_per_step = dt
        else:
            self._seconds_per_step = 0.9 * self._seconds_per_step + 0.1 * dt

    def rate(self) -> float:
        """Steps a second once WARMUP_STEPS steps have been timed; 0 before (unknown)."""
        if self._timed < self.WARMUP_STEPS:
            return 0.0
        return 1.0 / self._seconds_per_step

    def eta(self, steps_left: int) -> float | None:
        """Seconds for ``steps_left`` more steps at the pace so far; None while unknown."""
        rate = self.rate()
        return steps_left / rate if rate > 0 else None


def fmt_elapsed(seconds: float) -> str:
    """A finished job's time in words: '4.2 s', '13.3 min' or '2.1 h' (never '0.0 min')."""
    if seconds < 90:
        return f"{seconds:.1f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class PhaseStarted:
    phase: int
    name: str
    total_steps: int  # steps of this phase
    step: int  # global step at which it starts


@dataclass(frozen=True)
class StepMetrics:
    """The losses of one training step (flushed in small bunches, every step kept)."""

    phase: int
    step: int  # global step, 1-based, across phases
    epoch: int
    values: dict[str, float]


@dataclass(frozen=True)
class GridImage:
    """Samples from fixed noise, one row per class: the generator as it evolves."""

    phase: int
    step: int
    image: np.ndarray = field(repr=False)  # (H, W, C) uint8
    path: str = ""


@dataclass(frozen=True)
class Progress:
    phase: int
    step: int
    total_steps: int
    phase_step: int
    phase_total: int
    rate: float  # steps per second, recent, pauses excluded
    eta_s: float | None
    elapsed_s: float
    memory_bytes: int | None = None  # device memory in use, where the device reports it


@dataclass(frozen=True)
class LogMessage:
    level: str  # "info" | "warning" | "error"
    message: str
    time: float = field(default_factory=time.time)


@dataclass(frozen=True)
class StateChanged:
    state: str  # "running" | "paused"


@dataclass(frozen=True)
class CheckpointSaved:
    step: int
    path: str


@dataclass(frozen=True)
class RunFinished:
    status: str  # "finished" | "stopped" | "failed"
    run_dir: str
    message: str = ""


# ---- evaluation (phase 4) ------------------------------------------------------------


@dataclass(frozen=True)
class EvalStarted:
    total_networks: int
    plan: list[str]  # one line per (architecture, IPC, source) row to be trained


@dataclass(frozen=True)
class EvalProgress:
    """Network ``index`` of ``total`` (1-based) is at ``epoch`` of ``epochs``."""

    index: int
    total: int
    arch: str
    ipc: int | None
    source: str
    repeat: int
    epoch: int
    epochs: int
    elapsed_s: float
    eta_s: float | None


@dataclass(frozen=True)
class EvalResult:
    """One finished row: every repeat of one architecture, IPC and source."""

    row: dict


@dataclass(frozen=True)
class EvalFinished:
    status: str  # "finished" | "stopped" | "failed"
    results_path: str
    message: str = ""


Event = PhaseStarted | StepMetrics | GridImage | Progress | LogMessage | StateChanged
Event = Event | CheckpointSaved | RunFinished | EvalStarted | EvalProgress | EvalResult
Event = Event | EvalFinished


class RunControl:
    """Pause, resume and stop, asked from any thread, obeyed at step boundaries.

    Pausing blocks the run on an Event (no busy loop); stopping also releases a pause so a
    paused run can be stopped.
    """

    def __init__(self) -> None:
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()

    def pause(self) -> None:
        if not self._stop.is_set():
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def wait_while_paused(self, timeout: float | None = None) -> bool:
        """Block until resumed or stopped; True when the run may go on."""
        self._running.wait(timeout)
        return self._running.is_set()


# Set when this worker process was asked to end (SIGTERM: a pre-emption, ``kill``):
# every FlagFileControl in it stops its work at the next step, with a checkpoint.
PROCESS_STOP = threading.Event()


class FlagFileControl(RunControl):
    """A control that also stops when a flag file appears.

    Workers of a sweep or of a distributed evaluation may be other processes or other
    machines; the runs folder is the one thing they all share, so a stop request is a file
    in it. The file is looked for at most every ``interval`` seconds (a stat per step would
    cost little, but a network filesystem makes it slower).
    """

    def __init__(self, flag: str | Path | None, interval: float = 0.2) -> None:
        super().__init__()
        self.flag = Path(flag) if flag else None
        self._interval = interval
        self._next_look = 0.0

    @property
    def stop_requested(self) -> bool:
        if super().stop_requested:
            return True
        if PROCESS_STOP.is_set():
            self.stop()
            return True
        now = time.monotonic()
        if self.flag is not None and now >= self._next_look:
            self._next_look = now + self._interval
            if self.flag.exists():
                self.stop()
        return super().stop_requested
