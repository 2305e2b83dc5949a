"""The Training tab without Qt: which run it shows, where that run's data comes from, and
what to draw next.

A run is shown one of two ways. The run this process trains (``Here.run_dir``) is *live*:
its engine events arrive on a worker thread, wait in :attr:`TrainingModel.pending`, and
are drained in order on the window's timer, the progress coalesced to the latest. Any other
run is *followed* through its folder: each read picks up the metrics rows, grids and log
lines written since the last one, whether another process is still writing them (it
holds the run's lock) or the run is over. Either way the model answers with an
:class:`Update` that a view applies to its widgets; the first phase-2 step fixes the phase
boundary where the curves change phase.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine.events import (
    PHASE_NAMES,
    GridImage,
    LogMessage,
    PhaseStarted,
    Progress,
    StateChanged,
    StepMetrics,
    fmt_duration,
    fmt_eta,
)
from ..rundir.folder import RunFolder, read_run_info
from ..rundir.records import LogReader, MetricsReader, RunSummary, list_grids, read_classes

TRAINING = ("running", "paused")


@dataclass
class Here:
    """What this process trains: the window's own job, shared by the models."""

    running: bool = False  # from Start until the job's thread has ended
    run_dir: Path | None = None  # the run trained here, once its folder exists
    sweep_dir: Path | None = None  # the sweep trained here, once its folder exists
    step: tuple[int, int] | None = None  # (step, total) of its latest Progress
    rate: float | None = None  # steps/s last measured here (the Sweep dialog's estimate)
    ending: str | None = None  # the status line the job ended with, once it has


@dataclass
class Update:
    """What changed, for a view to apply in this order: a cleared series before its news."""

    clear_curves: bool = False  # the metrics were rewritten (a resume): earlier rows are void
    boundary: int | None = None  # the phase boundary, when it was found by this update
    rows: list[tuple[int, dict[str, float]]] = field(default_factory=list)  # (step, losses)
    clear_grids: bool = False
    classes: list[str] | None = None  # the grid's row names, when they became known
    grids: list[tuple[int, int, Any]] = field(default_factory=list)  # (step, phase, image)
    clear_log: bool = False
    log: list[str] = field(default_factory=list)
    state: str | None = None  # the latest StateChanged ("running" | "paused")
    progress: Progress | None = None  # the latest Progress; older ones are superseded


@dataclass(frozen=True)
class FolderProgress:
    """A run's progress as its run.json tells it (a run not trained here)."""

    step: int
    total: int  # 0 while unknown
    text: str  # the status line


@dataclass(frozen=True)
class Ending:
    """How a job of this window ended, as the window says it."""

    status: str  # the status line
    message: tuple[str, str, str] | None = None  # (kind, title, text) of a message box
    complete: bool = False  # the progress bar fills
    error: str = ""  # for the log, unless it already says it


def run_ending(status: str, message: str, run_dir: Path | None) -> Ending:
    """A run's end: "finished", "stopped" or "failed" (with its one-line reason)."""
    if status == "finished":
        where = f"The generator and the distilled set are in\n{run_dir}"
        text = f"Finished: the generator and the distilled set are in {run_dir}"
        return Ending(text, ("info", "Run finished", where), complete=True)
    if status == "stopped":
        return Ending("Stopped with a checkpoint: select the run and press Resume.")
    reason = ("error", "The run failed", message or "unknown error")
    return Ending(f"Failed: {message}", reason, error=message)


def sweep_ending(counts: dict[str, int], stopped: bool, sweep_dir: Path | None) -> Ending:
    """A sweep's end, from the count of its members by status."""
    text = ", ".join(f"{n} {state}" for state, n in counts.items()) or "nothing trained"
    if counts and set(counts) == {"finished"}:
        line = f"Sweep finished ({text}): select the sweep in the runs list to compare its members"
        return Ending(line, ("info", "Sweep finished", f"{text}\n{sweep_dir}"), complete=True)
    if stopped:
        return Ending(f"Sweep stopped ({text}): select the sweep and press Resume to continue it.")
    line = f"Sweep ended ({text}): select the sweep and press Resume to retry what did not finish."
    return Ending(line, ("error", "Sweep ended", f"{text}\n{sweep_dir}"))


class TrainingModel:
    """The run the Training tab shows, its readers, its phase boundary, its pending events.

    ``summary_of`` gives the runs list's summary of a run folder (None when the list does
    not hold it): the progress of a run not trained here comes from it.
    """

    def __init__(
        self, here: Here, summary_of: Callable[[Path], RunSummary | None] | None = None
    ) -> None:
        self.here = here
        self.summary_of = summary_of or (lambda path: RunSummary(path, read_run_info(path)))
        self.view_dir: Path | None = None  # the run the curves, grid and log show
        self.pending: list[Any] = []  # events queued since the last drain, in order
        self.phase2_start: int | None = None  # the last phase-1 step (the boundary)
        self.classes: list[str] = []  # the grid's row names, once known
        self._metrics: MetricsReader | None = None
        self._log: LogReader | None = None
        self._grid_count = 0  # grids handed to the view, newest at _grid_step
        self._grid_step = -1

    # ---- which run, and where its data comes from -------------------------------------
    @property
    def following(self) -> bool:
        """A run's folder is open for reading (what :meth:`follow` opened)."""
        return self._metrics is not None

    @property
    def live(self) -> bool:
        """Events feed the view: it shows the run trained here, or nothing else yet."""
        return self.here.run_dir is None or self.view_dir == self.here.run_dir

    @property
    def source(self) -> str | None:
        """Where the shown run's news comes from: "here" (this process trains it: events),
        "followed" (another process writes its folder: its lock is held, or a recent
        heartbeat from another machine), "folder" (nobody writes it: what it holds is all)
        or None when nothing is shown."""
        if self.view_dir is None:
            return None
        if self.view_dir == self.here.run_dir:
            return "here"
        status = read_run_info(self.view_dir).get("status")
        return "followed" if status in TRAINING else "folder"

    @property
    def grid_count(self) -> int:
        """How many distinct grids the view holds."""
        return self._grid_count

    def shows(self, path: Path) -> bool:
        return path == self.view_dir and self.following

    def clear(self) -> None:
        """Show nothing: forget the run, its readers and what was drawn of it."""
        self.view_dir = None
        self._metrics = self._log = None
        self.phase2_start = None
        self._forget_grids()

    def follow(self, path: Path) -> Update:
        """Show ``path``: open its folder and read what it holds so far."""
        self.clear()
        self.view_dir = Path(path)
        self._metrics = MetricsReader(RunFolder(self.view_dir).metrics)
        self._log = LogReader(RunFolder(self.view_dir).log)
        return self.read_folder()

    def poll(self) -> Update | None:
        """The timer's look at a run not trained here; None when there is none."""
        if self.view_dir is None or self.view_dir == self.here.run_dir or not self.following:
            return None
        return self.read_folder()

    def read_folder(self) -> Update:
        """Whatever the shown run's folder gained since the last read (events fill in the
        rest while it is trained here)."""
        assert self.view_dir is not None and self._metrics is not None and self._log is not None
        path, up = self.view_dir, Update()
        rows, restarted = self._metrics.read_new()
        if restarted:
            up.clear_curves = True
            self.phase2_start = None
        for row in rows:
            if row["phase"] == 2 and self.phase2_start is None:
                self.phase2_start = up.boundary = row["step"] - 1
            up.rows.append((row["step"], row["values"]))
        grids = list_grids(path)
        if restarted or (self._grid_count and len(grids) < self._grid_count):
            up.clear_grids = True  # a resume removed grids past its checkpoint
            self._forget_grids()
        if grids and not self.classes:
            self._find_classes(up, path)
        for step, phase, grid_path in grids:
            self._add_grid(up, step, phase, grid_path)
        up.log, up.clear_log = self._log.read_new()
        return up

    # ---- events from the run trained here ---------------------------------------------
    def queue(self, event: Any) -> None:
        """An engine event from the worker: kept, in order, until the next drain."""
        self.pending.append(event)

    def drain(self) -> Update:
        """Every queued event, in order, as one update (the timer's redraw)."""
        events, self.pending = self.pending, []
        live, up = self.live, Update()
        for e in events:
            if isinstance(e, StepMetrics):
                if live:
                    up.rows.append((e.step, e.values))
            elif isinstance(e, Progress):
                up.progress = e  # only the latest matters
            elif isinstance(e, GridImage):
                if live:
                    self._add_grid(up, e.step, e.phase, Path(e.path) if e.path else e.image)
                    if not self.classes and self.view_dir is not None:
                        self._find_classes(up, self.view_dir)
            elif isinstance(e, PhaseStarted):
                if live and e.phase == 2 and self.phase2_start is None:
                    self.phase2_start = up.boundary = e.step
            elif isinstance(e, LogMessage):
                # Before the run folder exists (loading data, a refused setting) the log
                # comes from events; after, from log.txt, the one record of every run.
                if self.view_dir is None:
                    prefix = "" if e.level == "info" else f"{e.level}: "
                    stamp = time.strftime("%H:%M:%S", time.localtime(e.time))
                    up.log.append(f"{stamp} {prefix}{e.message}")
            elif isinstance(e, StateChanged):
                up.state = e.state
        if self._log is not None and self.view_dir == self.here.run_dir:
            up.log.extend(self._log.read_new()[0])
        if up.progress is not None:
            p = up.progress
            self.here.step = (p.step, p.total_steps)
            if p.rate > 0:
                self.here.rate = p.rate
        return up

    # ---- progress as text -------------------------------------------------------------
    def folder_progress(self) -> FolderProgress | None:
        """The shown run's progress from its run.json (None when the list lacks it)."""
        path = self.view_dir
        summary = self.summary_of(path) if path is not None else None
        if path is None or summary is None:
            return None
        info = summary.info
        total = int(info.get("total_steps") or 0)
        step = int(info.get("step") or 0)
        if summary.status == "finished":
            total = max(total, 1)
            step = total
        message = info.get("message") or ""
        text = f"<b>{path.name}</b>: {summary.status}, step {step:,} / {total or '?'}"
        if message:
            text += f" — {message}"
        if summary.status != "created" and summary.starts_over:
            text += " — it stopped before its first checkpoint: press Resume to start it over"
        elif summary.resumable:
            text += " — press Resume to continue it"
        return FolderProgress(step, total, text)

    @staticmethod
    def progress_text(p: Progress, paused: bool) -> str:
        """The status line of the run trained here."""
        if p.memory_bytes:
            memory = f"device memory {p.memory_bytes / 2**20:,.0f} MiB"
        else:
            memory = "memory: n/a on CPU"
        return (
            f"<b>Phase {p.phase}: {PHASE_NAMES.get(p.phase, '')}</b>"
            f"{' (paused)' if paused else ''} &nbsp; step {p.step:,} / {p.total_steps:,}"
            f" (phase {p.phase_step:,} / {p.phase_total:,}) &nbsp; {p.rate:.2f} steps/s"
            f" &nbsp; ETA {fmt_eta(p.eta_s)} &nbsp; elapsed {fmt_duration(p.elapsed_s)}"
            f" &nbsp; {memory}"
        )

    # ---- the grid's bookkeeping ---------------------------------------------------------
    def _forget_grids(self) -> None:
        self._grid_count, self._grid_step = 0, -1
        self.classes = []

    def _add_grid(self, up: Update, step: int, phase: int, image: Any) -> None:
        """A grid newer than the last one shown (a folder read overlaps the events)."""
        if step <= self._grid_step:
            return
        self._grid_count += 1
        self._grid_step = step
        up.grids.append((step, phase, image))

    def _find_classes(self, up: Update, path: Path) -> None:
        classes = read_classes(path)
        if classes:
            self.classes = up.classes = classes
