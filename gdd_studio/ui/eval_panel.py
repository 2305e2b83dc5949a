"""The evaluation tab: judge the selected runs' distilled sets, compare runs, export.

The engine's ``Evaluation`` does the work on a worker thread (``EvalWorker``); this panel
turns its widgets into an ``EvalConfig``, shows progress from the buffered events when the
window's redraw timer drains them, and reads the results back from the run folders
(``eval/results.json``), so what it shows is what was saved. Several runs selected in the
runs list are compared in one table and chart, each labelled by the settings where it
differs from the others.

Its parts live beside it: the settings form (``eval_settings``), the results table and
chart (``eval_results``) and the exports (``eval_exports``). File dialogs go through
:meth:`EvalPanel.ask_save_path` and overwrites through :attr:`EvalPanel.confirm_overwrite`,
which tests and scripts replace.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..config import EvalConfig
from ..engine.events import EvalProgress, EvalResult, EvalStarted, LogMessage
from ..errors import GddError, user_message
from ..evaluation.dm_real import DmProgress
from ..evaluation.eta import fmt_eta
from ..evaluation.protocol import SOURCE_TITLES
from ..models.nets import ARCH_TITLES
from ..paths import runs_dir as default_runs_dir
from .eval_exports import SET_FORMATS, EvalExports, FolderTargetDialog
from .eval_results import TABLE_COLUMNS, EvalResults
from .eval_settings import EvalSettingsForm, ipc_text, parse_ipcs
from .jobs import Job, wait_for_jobs
from .results_chart import ResultsChart, spread_labels
from .set_viewer import SetViewer
from .worker import EvalWorker

Message = Callable[[str, str, str], None]  # (kind, title, text)
PROGRESS_SCALE = 1000


class EvalPanel(EvalSettingsForm, EvalResults, EvalExports, QWidget):
    """Settings, progress, results (table and chart) and exports of the selected runs."""

    finished = Signal()  # the evaluation thread has ended
    setImported = Signal(object)  # the folder of a set just imported (Path)

    def __init__(self, message: Message, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._message = message
        self.run_dirs: list[Path] = []
        self.sweep_dir: Path | None = None  # the sweep whose members run_dirs are
        self._sweep: Any = None  # its table (sweep.table.SweepTable) once it has results
        self.rows: list[dict[str, Any]] = []
        self._filled_from: Path | None = None
        self._job: Job | None = None
        self._pending: list[Any] = []
        self._run_index = (0, 1)
        self._last_dir = Path.home()
        self.last_status: str | None = None  # how the last evaluation ended
        self._stamp: tuple = ()  # results files' times at the last read
        self._base = EvalConfig()  # settings without a widget come from the run's config
        self.confirm_overwrite = self._ask_overwrite  # replaceable in tests and scripts
        # Where an added set's folder is made: the window gives its runs folder.
        self.runs_dir: Callable[[], Path] = default_runs_dir
        self._build()
        from ..config import preset_config

        # What Evaluate would run for a cpu-preset run, not the spin boxes' minimum (1).
        self.set_settings(preset_config("cpu").evaluation)
        self.set_runs([])

    # ---- layout ----------------------------------------------------------------------
    def _build(self) -> None:
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        outer = QSplitter(Qt.Orientation.Horizontal, objectName="evalSplitter")
        layout.addWidget(outer)
        left = QWidget()
        left.setMinimumWidth(250)
        left.setMaximumWidth(360)
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        box, adv = self._build_settings()
        lv.addWidget(box)
        lv.addWidget(adv)

        buttons = QHBoxLayout()
        self.eval_button = QPushButton("Evaluate", objectName="evalButton")
        self.eval_button.setStyleSheet("font-weight: bold;")
        self.eval_button.setToolTip("Evaluate the selected runs with these settings")
        self.eval_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop", objectName="evalStopButton", enabled=False)
        self.stop_button.setToolTip("Stop after the current epoch; finished rows stay saved")
        self.stop_button.clicked.connect(self.stop)
        buttons.addWidget(self.eval_button)
        buttons.addWidget(self.stop_button)
        lv.addLayout(buttons)
        self.progress = QProgressBar(objectName="evalProgress")
        self.progress.setRange(0, PROGRESS_SCALE)
        self.progress.setValue(0)
        self.progress.setFormat("")
        lv.addWidget(self.progress)
        self.status = QLabel(objectName="evalStatus", wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lv.addWidget(self.status)
        self.add_set_button = QPushButton("Add a set...", objectName="addSetButton")
        self.add_set_button.setToolTip(
            "Judge a set made elsewhere beside the runs: MTT/DATM tensors (a folder with "
            "images_best.pt and labels_best.pt), a folder of class folders of images, an "
            ".npz with x and y, or a .pt; it joins the runs list, marked as imported "
            "(dropping it on this tab does the same)"
        )
        self.add_set_button.clicked.connect(lambda: self.add_set())
        lv.addWidget(self.add_set_button)
        lv.addStretch(1)

        lv.addWidget(self._build_exports())
        # The settings scroll when the window is short (a 1366 x 768 laptop, a 1280 x 720
        # screen), as the set-up does, rather than setting the window's minimum height.
        scroll = QScrollArea(widgetResizable=True, objectName="evalSettingsScroll")
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(left)
        scroll.setMinimumWidth(left.minimumWidth() + 12)
        scroll.setMaximumWidth(left.maximumWidth() + 12)
        outer.addWidget(scroll)
        right, split = self._build_results()
        outer.addWidget(right)
        outer.setStretchFactor(1, 1)
        outer.setCollapsible(1, False)
        outer.setSizes([280, 700])
        self.splitters = [outer, split]  # the window keeps their sizes between launches
        self.form_widgets = [box, adv]

    # ---- which runs ------------------------------------------------------------------
    def set_runs(self, run_dirs: list[Path], sweep: Path | None = None) -> None:
        """Show (and evaluate) these runs; the first is the one exports and defaults use.

        ``sweep``: the runs are that sweep's members; its table of the evaluation against
        the swept settings is shown beside theirs.
        """
        changed = [Path(d) for d in run_dirs] != self.run_dirs or sweep != self.sweep_dir
        self.sweep_dir = Path(sweep) if sweep is not None else None
        self.run_dirs = [Path(d) for d in run_dirs]
        primary = self.run_dirs[0] if self.run_dirs else None
        if primary is not None and primary != self._filled_from and not self.evaluating:
            self._fill_settings(primary)
        if changed and not self.evaluating:
            # A finished or failed evaluation's line belongs to the runs it was about.
            self.status.setText("")
            self.progress.setValue(0)
            self.progress.setFormat("")
        self.refresh_results()
        self._update_buttons()

    # ---- running ---------------------------------------------------------------------
    @property
    def evaluating(self) -> bool:
        return self._job is not None

    @Slot()
    def start(self) -> None:
        if self.evaluating or not self.run_dirs:
            return
        try:
            settings = self.settings()
        except ValueError as exc:
            self._message("error", "Cannot evaluate", str(exc))
            return
        from ..config import validate_evaluation
        from ..evaluation.dm_real import budget_minutes
        from ..rundir.artifacts import require_generator

        try:
            validate_evaluation(settings)
            for d in self.run_dirs:
                require_generator(d)
                if settings.dm_real:  # a run without a recorded time needs the minutes
                    budget_minutes(d, settings.dm_minutes)
        except GddError as exc:
            self._message("error", "Cannot evaluate", str(exc))
            return
        worker = EvalWorker(self.run_dirs, settings, self.device.currentData())
        self._job = Job(worker, self)
        worker.event.connect(self._on_event)
        worker.run_started.connect(self._on_event)
        worker.returned.connect(self._on_done)
        worker.errored.connect(self._on_error)
        self._job.finished.connect(self._on_thread_finished)
        self._pending.clear()
        self.progress.setValue(0)
        self.progress.setFormat("%p%")
        self.status.setText("Starting: loading the dataset...")
        self._update_buttons()
        self._job.start()

    @Slot()
    def stop(self) -> None:
        if self._job is not None:
            self._job.stop()
            self.stop_button.setEnabled(False)
            self.status.setText("Stopping after the current epoch...")

    def shutdown(self) -> None:
        """Stop the evaluation and wait for its thread (closing the window, tests)."""
        wait_for_jobs(self)

    @Slot(object)
    def _on_event(self, event: Any) -> None:
        self._pending.append(event)  # drawn when the window's redraw timer drains

    def drain(self) -> None:
        """Apply what arrived since the last redraw (called by the window's timer)."""
        events, self._pending = self._pending, []
        progress, results = None, False
        for e in events:
            if isinstance(e, tuple):  # (index, count, run folder) from run_started
                self._run_index = (e[0], e[1])
            elif isinstance(e, EvalProgress | DmProgress):
                progress = e
            elif isinstance(e, EvalResult):
                results = True
            elif isinstance(e, EvalStarted):
                self.status.setText(f"{e.total_networks} networks to train")
            elif isinstance(e, LogMessage) and e.level != "info":
                self.status.setText(e.message)
        if progress is not None:
            self._show_progress(progress)
        if results:
            self.refresh_results()

    def _show_progress(self, p: EvalProgress | DmProgress) -> None:
        if isinstance(p, DmProgress):
            self._show_dm_progress(p)
            return
        k, runs = self._run_index
        fraction = (k + ((p.index - 1) + p.epoch / max(1, p.epochs)) / max(1, p.total)) / runs
        self.progress.setValue(int(PROGRESS_SCALE * fraction))
        source = SOURCE_TITLES.get(p.source, p.source)
        where = f"run {k + 1} of {runs}: " if runs > 1 else ""
        self.status.setText(
            f"{where}network {p.index} of {p.total} ({ARCH_TITLES.get(p.arch, p.arch)}, "
            f"IPC {ipc_text(p.ipc)}, {source}, repeat {p.repeat + 1}), epoch {p.epoch} of "
            f"{p.epochs}, ETA {fmt_eta(p.eta_s)}"
        )

    def _show_dm_progress(self, p: DmProgress) -> None:
        """The DM-from-real set being made (before its networks train)."""
        k, runs = self._run_index
        where = f"run {k + 1} of {runs}: " if runs > 1 else ""
        if p.iterations is None:
            self.status.setText(f"{where}DM from real, IPC {p.ipc}: timing its iterations...")
            return
        self.progress.setValue(int(PROGRESS_SCALE * p.iteration / max(1, p.iterations)))
        self.status.setText(
            f"{where}making DM from real (IPC {p.ipc}): iteration {p.iteration} of "
            f"{p.iterations}, ETA {fmt_eta(p.eta_s)}"
        )

    @Slot(object)
    def _on_error(self, exc: Exception) -> None:
        self._on_done(("failed", user_message(exc)))

    @Slot(object)
    def _on_done(self, result: tuple[str, str]) -> None:
        status, message = result
        self.drain()  # every saved row arrived as an EvalResult: the results are read there
        if status == "finished":
            self.progress.setValue(PROGRESS_SCALE)
            self.status.setText("Finished: the results are saved with the run (eval/).")
        elif status == "stopped":
            self.status.setText("Stopped: the rows finished before the stop are saved.")
        else:
            self.status.setText(f"Failed: {message}")
            self._message("error", "The evaluation failed", message or "unknown error")
        self.last_status = status

    @Slot()
    def _on_thread_finished(self) -> None:
        self._job = None
        self._update_buttons()
        self.finished.emit()

    def _update_buttons(self) -> None:
        have = bool(self.run_dirs)
        self.eval_button.setEnabled(have and not self.evaluating)
        runs = len(self.run_dirs)
        self.eval_button.setText(f"Evaluate {runs} runs" if runs > 1 else "Evaluate")
        for w in self.form_widgets:
            w.setEnabled(have)
        self.stop_button.setEnabled(self.evaluating)
        for w in (self.export_button, self.export_format, self.export_ipc):
            w.setEnabled(have)
        self.chart_button.setEnabled(bool(self.rows))
        self.table_button.setEnabled(bool(self.rows))
        self._format_changed()


__all__ = [
    "SET_FORMATS",
    "TABLE_COLUMNS",
    "EvalPanel",
    "FolderTargetDialog",
    "ResultsChart",
    "SetViewer",
    "parse_ipcs",
    "spread_labels",
]
