"""GDD Studio's main window: set up a run, watch it, steer it, and browse every run.

A thin layer: the engine does all the work on a worker thread (``RunWorker``); this class
turns widgets into a ``RunConfig``, buffers the worker's events, and redraws from them on
a timer (about 30 Hz), never once per training step. Runs that another process writes
(the CLI here, or a server whose runs folder is shared) are followed by re-reading their
folders as they grow, on a slower timer.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..config import RunConfig, resolve_defaults, validate
from ..engine.events import (
    PHASE_NAMES,
    GridImage,
    LogMessage,
    PhaseStarted,
    Progress,
    StateChanged,
    StepMetrics,
    fmt_duration,
)
from ..errors import GddError, user_message
from ..paths import runs_dir as default_runs_dir
from ..rundir.folder import RunFolder
from ..rundir.records import (
    LogReader,
    MetricsReader,
    RunSummary,
    list_grids,
    list_runs,
    read_classes,
)
from ..rundir.sweeps import SweepFolder, list_sweeps, member_status, read_sweep
from .eval_panel import EvalPanel
from .jobs import Job, wait_for_jobs
from .monitor import GridPanel, LossPanel
from .set_viewer import SetViewer
from .setup_panel import SetupPanel
from .sweep_dialog import SweepDialog
from .worker import RunWorker, SweepWorker

REDRAW_MS = 40  # 25 Hz: smooth enough to watch, cheap enough to leave the run its CPU
POLL_MS = 1000  # re-reading run folders (another process's run, the runs list)
LOG_LINES = 5000
STEPS_FORMAT = "%p%  (step %v of %m)"
KIND_ROLE = Qt.ItemDataRole.UserRole + 1  # runs list: "run", "sweep" or "member" (of a sweep)
TRAINING = ("running", "paused")


def app_icon() -> QIcon:
    """The window icon, from the PNG renderings shipped with the package."""
    from ..resources import resource_path

    icon = QIcon()
    for size in (16, 32, 48, 64, 128, 256, 512):
        path = resource_path(f"icons/gdd-studio-{size}.png")
        if path.is_file():
            icon.addFile(str(path))
    return icon


def dataset_text(spec: str) -> str:
    """A dataset as a runs list shows it: 'cifar10-png (folder)', 'tiny.npz', 'mnist'."""
    kind, sep, path = spec.partition(":")
    if not sep or kind not in ("folder", "npz"):
        return spec
    p = Path(path)
    if kind == "npz":
        return p.name
    # A folder's own name is often generic ('images', 'data'): its parent tells more.
    name = f"{p.parent.name}/{p.name}" if p.parent.name else p.name
    return f"{name} (folder)"


def _settings() -> QSettings:
    """Window state lives in the per-user data folder too, so GDD_STUDIO_HOME moves it."""
    from ..paths import home_dir

    return QSettings(str(home_dir() / "window.ini"), QSettings.Format.IniFormat)


class MainWindow(QMainWindow):
    """Set-up panel (left); tabs for training (curves, grid, progress, log), evaluation
    and the distilled set (centre); runs list (right).

    ``runs_dir`` defaults to the per-user runs folder (``GDD_STUDIO_HOME`` overrides it).
    Dialogs go through :meth:`show_message` and :attr:`confirm_close`, which tests and
    scripts replace; message boxes are opened non-blocking so the window keeps working.
    """

    def __init__(self, runs_dir: Path | None = None) -> None:
        super().__init__()
        self.setWindowTitle("GDD Studio")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.runs_dir = Path(runs_dir) if runs_dir else default_runs_dir()
        self._job: Job | None = None  # the training job (ui/jobs.py)
        self._active_dir: Path | None = None  # the run this window is running
        self._view_dir: Path | None = None  # the run the curves, grid and log show
        self._pending: list[Any] = []  # events that arrived since the last redraw
        self._metrics: MetricsReader | None = None
        self._log_reader: LogReader | None = None
        self._phase2_start: int | None = None
        self._runs_key: tuple = ()
        self._summaries: dict[str, RunSummary] = {}
        self._closing = False  # the window closes once the run has stopped
        self._quiet = False  # no dialogs (closing, or shut down by a script)
        self.last_message: tuple[str, str] | None = None  # (kind, text), for tests and users
        self.confirm_close = self._ask_close  # replaceable in tests and scripts
        self.ask_save_path = self._ask_save_path  # (title, suggested, filters) -> path or ""
        self.confirm_replace = self._ask_replace
        self.confirm_restart = self._ask_restart  # (run folder) -> start over from step 0?
        self._live_step: tuple[int, int] | None = None  # (step, total) of this window's run
        self._sweeps: dict[str, dict[str, Any]] = {}  # sweep folder -> sweep.json
        self._sweep_dir: Path | None = None  # the sweep this window runs
        self._queue_sweep: Path | None = None  # the sweep the queue shows
        self._last_rate: float | None = None  # steps/s this window last measured
        self.sweep_dialog: SweepDialog | None = None
        self._build()
        self._redraw_timer = QTimer(self, interval=REDRAW_MS)
        self._redraw_timer.timeout.connect(self._drain)
        self._redraw_timer.start()
        self._poll_timer = QTimer(self, interval=POLL_MS)
        self._poll_timer.timeout.connect(self._poll)
        self._poll_timer.start()
        self.refresh_runs()
        self.resize(1440, 900)

    # ---- layout ----------------------------------------------------------------------
    def _build(self) -> None:
        self.setup = SetupPanel()
        self.setup.customDatasetRequested.connect(self._pick_dataset)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(6, 6, 0, 6)
        self.setup_scroll = QScrollArea(widgetResizable=True)
        self.setup_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setup_scroll.setWidget(self.setup)
        self.setup_scroll.setMinimumWidth(self.setup.sizeHint().width() + 20)
        lv.addWidget(self.setup_scroll, 1)
        files = QHBoxLayout()
        self.save_button = QPushButton("Save config...", objectName="saveConfigButton")
        self.save_button.setToolTip("Write these settings to a JSON file (the CLI reads it too)")
        self.save_button.clicked.connect(self._save_config)
        self.load_button = QPushButton("Load config...", objectName="loadConfigButton")
        self.load_button.setToolTip("Show the settings of a JSON config file")
        self.load_button.clicked.connect(self._load_config)
        files.addWidget(self.save_button)
        files.addWidget(self.load_button)
        lv.addLayout(files)
        controls = QHBoxLayout()
        self.start_button = QPushButton("Start", objectName="startButton")
        self.start_button.setToolTip("Start a new run with these settings (Ctrl+R)")
        self.start_button.setStyleSheet("font-weight: bold;")
        self.start_button.clicked.connect(self.start_run)
        self.pause_button = QPushButton("Pause", objectName="pauseButton", checkable=True)
        self.pause_button.setToolTip("Pause at the next step, or resume (Ctrl+P)")
        self.pause_button.toggled.connect(self._pause_toggled)
        self.stop_button = QPushButton("Stop", objectName="stopButton")
        self.stop_button.setToolTip("Stop with a checkpoint; Resume continues it (Ctrl+.)")
        self.stop_button.clicked.connect(self.stop_run)
        self.sweep_button = QPushButton("Sweep...", objectName="sweepButton")
        self.sweep_button.setToolTip(
            "Train several runs from these settings, varying one or two of them (or the "
            "ablation set), one after another; Pause and Stop act on the sweep"
        )
        self.sweep_button.clicked.connect(self.open_sweep_dialog)
        for b in (self.start_button, self.sweep_button, self.pause_button, self.stop_button):
            controls.addWidget(b)
        # Start / Pause / Stop sit with the progress bar in the Training tab, so they stay at
        # hand when the set-up panel is collapsed.
        self.shortcuts: dict[str, QAction] = {}
        for name, key, slot in (
            ("start", "Ctrl+R", self.start_run),
            ("pause", "Ctrl+P", self._toggle_pause),
            ("stop", "Ctrl+.", self.stop_run),
        ):
            action = QAction(name, self, shortcut=QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(slot)
            self.addAction(action)
            self.shortcuts[name] = action

        self.loss = LossPanel()
        self.grid = GridPanel()
        top = QSplitter(Qt.Orientation.Horizontal, objectName="trainingSplitter")
        top.addWidget(self.loss)
        top.addWidget(self.grid)
        top.setStretchFactor(0, 1)
        top.setStretchFactor(1, 1)
        top.setSizes([520, 480])
        bottom = QWidget()
        bv = QVBoxLayout(bottom)
        bv.setContentsMargins(0, 0, 0, 6)
        self.progress = QProgressBar(objectName="progressBar")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        controls.addWidget(self.progress, 1)
        bv.addLayout(controls)
        self.status = QLabel("Ready: choose settings and press Start.", objectName="statusLabel")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bv.addWidget(self.status)
        # A sweep's queue: each member's state and progress (the sweep running here, or
        # the one selected in the runs list, whoever trains it).
        self.queue = QTreeWidget(objectName="sweepQueue")
        self.queue.setHeaderLabels(["Sweep member", "State", "Progress"])
        self.queue.setRootIsDecorated(False)
        self.queue.setAlternatingRowColors(True)
        self.queue.setMaximumHeight(130)
        self.queue.setColumnWidth(0, 320)
        self.queue.setColumnWidth(1, 110)
        self.queue.setVisible(False)
        bv.addWidget(self.queue)
        self.log = QPlainTextEdit(objectName="logView", readOnly=True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setPlaceholderText("The run's log appears here.")
        bv.addWidget(self.log, 1)
        centre = QSplitter(Qt.Orientation.Vertical, objectName="trainingVSplitter")
        centre.setContentsMargins(0, 6, 0, 0)
        centre.addWidget(top)
        centre.addWidget(bottom)
        centre.setStretchFactor(0, 3)
        centre.setStretchFactor(1, 1)
        centre.setSizes([600, 240])
        self.evaluation = EvalPanel(self.show_message)
        self.evaluation.finished.connect(self._on_eval_finished)
        self.viewer = SetViewer(self.show_message)
        self.tabs = QTabWidget(objectName="centreTabs")
        self.tabs.addTab(centre, "Training")
        self.tabs.addTab(self.evaluation, "Evaluation")
        self.tabs.addTab(self.viewer, "Distilled set")
        self.tabs.setTabToolTip(1, "Judge the selected runs' sets; select several to compare")
        self.tabs.setTabToolTip(2, "The selected run's whole distilled set, by class")
        # The set-up is for the next run: it stands beside the Training tab and steps aside
        # for results (the Evaluation and Distilled set tabs), or when collapsed.
        self.setup_toggle = QToolButton(objectName="setupToggle", checkable=True, checked=True)
        self.setup_toggle.setAutoRaise(True)
        self.setup_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setup_toggle.toggled.connect(self._update_setup_visibility)
        self.tabs.setCornerWidget(self.setup_toggle, Qt.Corner.TopLeftCorner)
        self.tabs.currentChanged.connect(self._update_setup_visibility)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 6, 6, 6)
        title = QLabel("<b>Runs</b>")
        rv.addWidget(title)
        self.runs_label = QLabel(objectName="runsLabel", wordWrap=True)
        self.runs_label.setStyleSheet("color: palette(placeholder-text);")
        rv.addWidget(self.runs_label)
        self.runs = QListWidget(objectName="runsList")
        self.runs.setAlternatingRowColors(True)
        self.runs.setToolTip(
            "Select a run to see its curves, grids and results; Ctrl- or Shift-click several "
            "to compare their evaluations"
        )
        self.runs.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.runs.currentItemChanged.connect(self._run_selected)
        self.runs.itemSelectionChanged.connect(self._selection_changed)
        rv.addWidget(self.runs, 1)
        row = QHBoxLayout()
        self.resume_button = QPushButton("Resume", objectName="resumeButton")
        self.resume_button.setToolTip("Continue the selected run from its last checkpoint")
        self.resume_button.clicked.connect(self.resume_selected)
        self.open_runs_button = QPushButton("Runs folder...", objectName="openRunsButton")
        self.open_runs_button.setToolTip(
            "Show the runs of another folder (a shared or synced one a server writes)"
        )
        self.open_runs_button.clicked.connect(self._choose_runs_dir)
        row.addWidget(self.resume_button)
        row.addWidget(self.open_runs_button)
        rv.addLayout(row)
        right.setMinimumWidth(240)

        main = QSplitter(Qt.Orientation.Horizontal, objectName="mainSplitter")
        main.addWidget(left)
        main.addWidget(self.tabs)
        main.addWidget(right)
        main.setStretchFactor(1, 1)
        main.setCollapsible(1, False)
        main.setSizes([left.sizeHint().width(), 840, 260])
        self.setCentralWidget(main)
        self.setup_area, self.main_split = left, main
        self.splitters = [main, top, centre, *self.evaluation.splitters]
        self._update_setup_visibility()
        self._set_running(False)

    @Slot()
    def _update_setup_visibility(self, *_: Any) -> None:
        on_training = self.tabs.currentIndex() == 0
        wanted = self.setup_toggle.isChecked()
        self.setup_area.setVisible(on_training and wanted)
        self.setup_toggle.setEnabled(on_training)
        self.setup_toggle.setArrowType(
            Qt.ArrowType.LeftArrow if on_training and wanted else Qt.ArrowType.RightArrow
        )
        if not on_training:
            self.setup_toggle.setText("Set-up")
            self.setup_toggle.setToolTip("The set-up panel stands beside the Training tab")
        else:
            self.setup_toggle.setText("Hide set-up" if wanted else "Set-up")
            self.setup_toggle.setToolTip(
                "Hide the set-up panel to give the curves room" if wanted
                else "Show the set-up panel (settings, Start, Pause, Stop)"
            )  # fmt: skip

    # ---- starting, pausing, stopping -------------------------------------------------
    @property
    def running(self) -> bool:
        """True from Start until the worker's thread has ended."""
        return self._job is not None

    def set_config(self, cfg: RunConfig) -> None:
        """Show ``cfg`` in the set-up panel (what Start will run)."""
        self.setup.set_config(cfg)

    @Slot()
    def start_run(self) -> None:
        """Check the settings here (instant), then load data and train on the worker."""
        if self.running:
            return
        cfg = self.setup.config()
        try:
            resolve_defaults(cfg)
            validate(cfg)
        except GddError as exc:
            self.show_message("error", "Cannot start", str(exc))
            return
        missing = self.setup.missing_dataset_message(cfg)
        if missing:
            self.show_message("error", "Cannot start", missing)
            return
        self._launch(RunWorker(cfg, self.runs_dir))

    @Slot()
    def resume_selected(self) -> None:
        """Continue the selected run (stopped, interrupted or failed) from its checkpoint."""
        sweep = self._current_sweep()
        if sweep is not None and not self.running:
            if self._sweep_resumable(sweep):
                self.resume_sweep(sweep)
            return
        summary = self._selected_summary()
        if self.running or summary is None:
            return
        restart = False
        if summary.lost_checkpoint:
            if not self.confirm_restart(summary.path):
                return
            restart = True
        elif not summary.resumable:
            self.show_message(
                "info", "Nothing to resume", f"This run is {summary.status}; it cannot resume."
            )
            return
        try:
            self.setup.set_config(RunConfig.load(RunFolder(summary.path).config))
        except GddError as exc:
            self.show_message("error", "Cannot resume", str(exc))
            return
        self._launch(RunWorker(resume=summary.path, restart=restart))

    # ---- sweeps ----------------------------------------------------------------------
    @Slot()
    def open_sweep_dialog(self) -> SweepDialog | None:
        """The Sweep... dialog over the set-up panel's settings (opened non-blocking)."""
        if self.running:
            return None
        cfg = self.setup.config()
        try:
            resolve_defaults(cfg)
            validate(cfg)
        except GddError as exc:
            self.show_message("error", "Cannot sweep", str(exc))
            return None
        missing = self.setup.missing_dataset_message(cfg)
        if missing:
            self.show_message("error", "Cannot sweep", missing)
            return None
        recorded = [s for s in self._summaries.values() if s.status == "finished"]
        recorded.sort(key=lambda s: float(s.info.get("created", 0) or 0), reverse=True)
        dialog = SweepDialog(cfg, recorded, self._last_rate, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._sweep_accepted(dialog))
        dialog.destroyed.connect(self._sweep_dialog_gone)
        self.sweep_dialog = dialog
        dialog.open()
        return dialog

    @Slot()
    def _sweep_dialog_gone(self) -> None:
        self.sweep_dialog = None

    def _sweep_accepted(self, dialog: SweepDialog) -> None:
        if dialog.plan is not None:
            self.start_sweep(dialog.base, dialog.plan.axes, dialog.plan.ablation)

    def start_sweep(
        self, cfg: RunConfig, axes: list[tuple[str, list[str]]], ablation: bool = False
    ) -> None:
        """Make the sweep and train its members on one background job, one at a time."""
        if self.running:
            return
        self._launch(SweepWorker(cfg, axes, ablation, self.runs_dir))
        self.status.setText("Starting the sweep: loading the dataset...")

    def resume_sweep(self, sweep_dir: Path) -> None:
        """Continue a stopped or killed sweep: finished members are kept."""
        if not self.running:
            self._launch(SweepWorker(resume=Path(sweep_dir)))

    def _sweep_of(self, run_dir: Path) -> Path | None:
        """The sweep a run is a member of, if any."""
        for sweep_dir, doc in self._sweeps.items():
            folder = SweepFolder(Path(sweep_dir))
            if any(folder.member_dir(str(m.get("run", ""))) == run_dir for m in doc["members"]):
                return Path(sweep_dir)
        return None

    def _sweep_resumable(self, sweep_dir: Path) -> bool:
        """Not running anywhere, and some member is not finished."""
        doc = self._sweeps.get(str(sweep_dir))
        if doc is None or sweep_dir == self._sweep_dir:
            return False
        states = self._member_states(sweep_dir, doc)
        return not any(s in TRAINING for s in states) and any(s != "finished" for s in states)

    def _fill_queue(self) -> None:
        """Each member of the queue's sweep: its label, state and progress."""
        sweep_dir = self._sweep_dir or self._queue_sweep
        doc = self._sweeps.get(str(sweep_dir)) if sweep_dir is not None else None
        self.queue.setVisible(doc is not None)
        if doc is None:
            return
        assert sweep_dir is not None
        folder = SweepFolder(sweep_dir)
        members = doc["members"]
        while self.queue.topLevelItemCount() > len(members):
            self.queue.takeTopLevelItem(self.queue.topLevelItemCount() - 1)
        for i, m in enumerate(members):
            run_dir = folder.member_dir(str(m.get("run", "")))
            state = member_status(sweep_dir, m)
            info = self._summaries.get(str(run_dir))
            step, total = (info.info.get("step"), info.info.get("total_steps")) if info else (0, 0)
            if run_dir == self._active_dir:
                state = "training here"
                if self._live_step is not None:
                    step, total = self._live_step
            if state == "finished":
                progress = "100 %"
            elif total:
                progress = f"{100 * int(step or 0) // max(1, int(total))} %"
            else:
                progress = "-"
            if m.get("message") and state == "failed":
                state = f"failed: {m['message']}"
            item = self.queue.topLevelItem(i)
            if item is None:
                item = QTreeWidgetItem(self.queue)
            for col, text in enumerate((f"{i + 1}. {m.get('label', '?')}", state, progress)):
                if item.text(col) != text:
                    item.setText(col, text)
            item.setData(0, Qt.ItemDataRole.UserRole, str(run_dir))

    def queue_rows(self) -> list[tuple[str, str, str]]:
        """What the queue shows, row by row (tests, scripts)."""
        return [
            tuple(self.queue.topLevelItem(i).text(c) for c in range(3))  # type: ignore[misc]
            for i in range(self.queue.topLevelItemCount())
        ]

    def _follow_sweep(self) -> None:
        """With a sweep selected, the Training tab follows the member being trained
        (by this window, the CLI or a cluster), else its last started one."""
        sweep_dir = self._current_sweep()
        doc = self._sweeps.get(str(sweep_dir)) if sweep_dir is not None else None
        if doc is None or sweep_dir == self._sweep_dir:
            return
        assert sweep_dir is not None
        folder = SweepFolder(sweep_dir)
        target = None
        for m in doc["members"]:
            state = member_status(sweep_dir, m)
            if state in TRAINING:
                target = folder.member_dir(str(m["run"]))
                break
            if state not in ("created", "missing", "unknown"):
                target = folder.member_dir(str(m["run"]))
        if target is not None and target != self._view_dir:
            self.show_run(target)

    @Slot(object)
    def _on_sweep_created(self, sweep_dir: str) -> None:
        self._sweep_dir = Path(sweep_dir)
        self.refresh_runs(force=True)

    @Slot(object)
    def _on_member_started(self, run_dir: str) -> None:
        """The next member trains: the curves, grids and progress follow it."""
        self._drain()  # the last member's events belong to its view
        self._live_step = None
        self._on_created(run_dir)
        self._fill_queue()

    def _launch(self, worker: RunWorker | SweepWorker) -> None:
        self._clear_view()
        self._view_dir = None
        self._live_step = None
        self._pending.clear()
        job = Job(worker, self)
        worker.event.connect(self._on_event)
        if isinstance(worker, SweepWorker):
            worker.created.connect(self._on_sweep_created)
            worker.member_started.connect(self._on_member_started)
        else:
            worker.created.connect(self._on_created)
        worker.returned.connect(self._on_done)
        worker.errored.connect(self._on_error)
        job.finished.connect(self._on_thread_finished)
        self._job = job
        self._set_running(True)
        self.status.setText("Starting: loading the dataset...")
        job.start()

    @Slot()
    def _toggle_pause(self) -> None:
        if self.pause_button.isEnabled():
            self.pause_button.toggle()

    @Slot(bool)
    def _pause_toggled(self, paused: bool) -> None:
        if self._job is None:
            if paused:
                self.pause_button.setChecked(False)
            return
        if paused:
            self._job.worker.control.pause()
            self.pause_button.setText("Resume")
            self.status.setText("Pausing at the next step (with a checkpoint)...")
        else:
            self._job.worker.control.resume()
            self.pause_button.setText("Pause")

    @Slot()
    def stop_run(self) -> None:
        """Ask the run to stop at the next step; it checkpoints, and a pause is released."""
        if self._job is not None:
            self._job.stop()
            self.stop_button.setEnabled(False)
            self.pause_button.setEnabled(False)
            self.status.setText("Stopping at the next step (with a checkpoint)...")

    def _set_running(self, running: bool) -> None:
        # What is shown is what runs: no setting changes while a run goes.
        self.setup.setEnabled(not running)
        self.load_button.setEnabled(not running)
        self.start_button.setEnabled(not running)
        self.sweep_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        if not running:
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(False)
            self.pause_button.setText("Pause")
            self.pause_button.blockSignals(False)
        self._update_resume_button()

    # ---- worker signals --------------------------------------------------------------
    @Slot(object)
    def _on_event(self, event: Any) -> None:
        self._pending.append(event)  # drawn by the timer, not now

    @Slot(object)
    def _on_created(self, run_dir: str) -> None:
        self._active_dir = Path(run_dir)
        self.refresh_runs(force=True)
        # The new run alone: comparing is what the user chooses with Ctrl/Shift-click, never
        # a leftover of the previous selection.
        self._select_in_list(self._active_dir, notify=False, exclusive=True)
        self.show_run(self._active_dir)
        self._selection_changed()

    @Slot(object)
    def _on_error(self, exc: Exception) -> None:
        self._on_done(("failed", user_message(exc)))  # details are in the run's error.log

    @Slot(object)
    def _on_done(self, result: tuple[str, str] | dict[str, int]) -> None:
        if isinstance(result, dict):
            self._on_sweep_done(result)
            return
        status, message = result
        self._drain()
        run_dir = self._active_dir
        if status == "finished":
            self.progress.setValue(self.progress.maximum())
            self.status.setText(f"Finished: the generator and the distilled set are in {run_dir}")
            self.show_message(
                "info", "Run finished", f"The generator and the distilled set are in\n{run_dir}"
            )
        elif status == "stopped":
            self.status.setText("Stopped with a checkpoint: select the run and press Resume.")
        else:
            self.status.setText(f"Failed: {message}")
            if message and message not in self.log.toPlainText()[-2000:]:
                self.log.appendPlainText(f"error: {message}")
            self.show_message("error", "The run failed", message or "unknown error")

    def _on_sweep_done(self, counts: dict[str, int]) -> None:
        self._drain()
        sweep_dir = self._sweep_dir
        text = ", ".join(f"{n} {state}" for state, n in counts.items()) or "nothing trained"
        if counts and set(counts) == {"finished"}:
            self.progress.setValue(self.progress.maximum())
            self.status.setText(
                f"Sweep finished ({text}): select the sweep in the runs list to compare its members"
            )
            self.show_message("info", "Sweep finished", f"{text}\n{sweep_dir}")
        elif self._job is not None and self._job.worker.control.stop_requested:
            self.status.setText(
                f"Sweep stopped ({text}): select the sweep and press Resume to continue it."
            )
        else:
            self.status.setText(f"Sweep ended ({text}): select the sweep and press Resume "
                                "to retry what did not finish.")  # fmt: skip
            self.show_message("error", "Sweep ended", f"{text}\n{sweep_dir}")

    @Slot()
    def _on_thread_finished(self) -> None:
        self._job = None
        sweep_line = None
        if self._sweep_dir is not None:
            self._queue_sweep, self._sweep_dir = self._sweep_dir, None
            sweep_line = self.status.text()  # how the sweep ended, not its last member
        finished_dir = self._active_dir
        self._active_dir = None
        self._live_step = None
        self._set_running(False)
        self.refresh_runs(force=True)
        if finished_dir is not None and self._view_dir == finished_dir and self._metrics:
            self._read_folder(finished_dir)  # keep showing it, now from its folder
        if sweep_line is not None:
            self.status.setText(sweep_line)
            self._fill_queue()
        self._selection_changed()  # a finished run can now be evaluated and exported
        if self._closing:
            self.close()

    @Slot()
    def _on_eval_finished(self) -> None:
        if self._closing:
            self.close()

    # ---- drawing ---------------------------------------------------------------------
    def _live(self) -> bool:
        """Events feed the view while it shows this window's run (or nothing else yet)."""
        return self._active_dir is None or self._view_dir == self._active_dir

    @Slot()
    def _drain(self) -> None:
        """The timer's redraw: apply every queued event, then draw once."""
        events, self._pending = self._pending, []
        live = self._live()
        progress: Progress | None = None
        lines: list[str] = []
        for e in events:
            if isinstance(e, StepMetrics):
                if live:
                    self.loss.add(e.step, e.values)
            elif isinstance(e, Progress):
                progress = e  # only the latest matters
            elif isinstance(e, GridImage):
                if live:
                    self.grid.add(e.step, e.phase, Path(e.path) if e.path else e.image)
                    if not self.grid.classes and self._view_dir is not None:
                        self.grid.set_classes(read_classes(self._view_dir))
            elif isinstance(e, PhaseStarted):
                if live and e.phase == 2 and self._phase2_start is None:
                    self._phase2_start = e.step
                    self.loss.mark_phase_boundary(e.step)
            elif isinstance(e, LogMessage):
                # Before the run folder exists (loading data, a refused setting) the log
                # comes from events; after, from log.txt, the one record of every run.
                if self._view_dir is None:
                    prefix = "" if e.level == "info" else f"{e.level}: "
                    stamp = time.strftime("%H:%M:%S", time.localtime(e.time))
                    lines.append(f"{stamp} {prefix}{e.message}")
            elif isinstance(e, StateChanged):
                self.status.setText("Paused." if e.state == "paused" else "Running.")
        if self._log_reader is not None and self._view_dir == self._active_dir:
            new, _ = self._log_reader.read_new()
            lines.extend(new)
        if lines:
            self.log.appendPlainText("\n".join(lines))
        if progress is not None:
            self._show_progress(progress)
        self.loss.redraw()
        self.grid.redraw()
        self.evaluation.drain()

    def _show_progress(self, p: Progress) -> None:
        self._live_step = (p.step, p.total_steps)
        if p.rate > 0:
            self._last_rate = p.rate  # an estimate for the Sweep... dialog
        self._update_active_item()
        if self._sweep_dir is not None:
            self._fill_queue()
        self.progress.setFormat(STEPS_FORMAT)
        self.progress.setRange(0, max(1, p.total_steps))
        self.progress.setValue(p.step)
        if p.memory_bytes:
            memory = f"device memory {p.memory_bytes / 2**20:,.0f} MiB"
        else:
            memory = "memory: n/a on CPU"
        paused = self._job is not None and self._job.worker.control.paused
        self.status.setText(
            f"<b>Phase {p.phase}: {PHASE_NAMES.get(p.phase, '')}</b>"
            f"{' (paused)' if paused else ''} &nbsp; step {p.step:,} / {p.total_steps:,}"
            f" (phase {p.phase_step:,} / {p.phase_total:,}) &nbsp; {p.rate:.2f} steps/s"
            f" &nbsp; ETA {fmt_duration(p.eta_s)} &nbsp; elapsed {fmt_duration(p.elapsed_s)}"
            f" &nbsp; {memory}"
        )

    def _clear_view(self) -> None:
        self.loss.clear()
        self.grid.clear()
        self.log.clear()
        self._metrics = None
        self._log_reader = None
        self._phase2_start = None
        if not self.running:
            self.progress.setFormat("")
            self.progress.setRange(0, 1)
            self.progress.setValue(0)

    # ---- runs list and following run folders -----------------------------------------
    def refresh_runs(self, force: bool = False) -> None:
        """Re-read the runs folder; rebuild the list only when something changed.

        A sweep (``<runs>/sweeps/<id>/sweep.json``, read through rundir/sweeps.py) is one
        entry with its members indented under it, in the sweep's order; other runs follow
        newest first, as before.
        """
        summaries = list_runs(self.runs_dir)
        self._summaries = {str(s.path): s for s in summaries}
        self._sweeps = {}
        for sweep_dir in list_sweeps(self.runs_dir):
            try:
                self._sweeps[str(sweep_dir)] = read_sweep(sweep_dir)
            except GddError:
                continue  # half written by another machine: the next poll shows it
        key = tuple(
            (str(s.path), s.status, s.info.get("step"), s.path == self._active_dir)
            for s in summaries
        ) + tuple(
            (d, tuple(m.get("run") for m in doc["members"]), Path(d) == self._sweep_dir)
            for d, doc in self._sweeps.items()
        )
        self.runs_label.setText(
            f"in {self.runs_dir}" if summaries else f"None yet in {self.runs_dir}"
        )
        self._fill_queue()
        if key == self._runs_key and not force:
            self._update_resume_button()
            return
        self._runs_key = key
        selected = self._selected_path()
        chosen = {str(p) for p in self.selected_paths()} | set(self._selected_sweeps())
        self.runs.blockSignals(True)
        self.runs.clear()
        grouped: set[str] = set()
        entries: list[tuple[str, Any, bool]] = []  # (kind, summary or sweep dir, in a sweep)
        for sweep_dir, doc in self._sweeps.items():
            entries.append(("sweep", sweep_dir, False))
            for m in doc["members"]:
                path = str(SweepFolder(Path(sweep_dir)).member_dir(str(m.get("run", ""))))
                if path in self._summaries and path not in grouped:
                    grouped.add(path)
                    entries.append(("run", self._summaries[path], True))
        # Newest first: a sweep sits where its first member would
        order = [(float(s.info.get("created", 0) or 0), "run", s) for s in summaries
                 if str(s.path) not in grouped]  # fmt: skip
        for sweep_dir, doc in self._sweeps.items():
            order.append((float(doc.get("created", 0) or 0), "sweep", sweep_dir))
        order.sort(key=lambda t: t[0], reverse=True)
        sweep_rows = {}
        i = 0
        while i < len(entries):  # a sweep's block: its entry and its members
            j = i + 1
            while j < len(entries) and entries[j][2]:
                j += 1
            sweep_rows[entries[i][1]] = entries[i:j]
            i = j
        for _, kind, obj in order:
            block = sweep_rows[obj] if kind == "sweep" else [("run", obj, False)]
            for kind_, thing, indented in block:
                if kind_ == "sweep":
                    item = self._sweep_item(Path(thing), self._sweeps[thing])
                else:
                    item = self._run_item(thing, indented)
                self.runs.addItem(item)
                path = item.data(Qt.ItemDataRole.UserRole)
                if selected is not None and selected == path:
                    self.runs.setCurrentItem(item)
                item.setSelected(path in chosen)
        self.runs.blockSignals(False)
        self._update_resume_button()

    def _run_item(self, s: RunSummary, indented: bool) -> QListWidgetItem:
        item = QListWidgetItem(self._run_text(s, indented))
        item.setData(Qt.ItemDataRole.UserRole, str(s.path))
        item.setData(KIND_ROLE, "member" if indented else "run")
        info = s.info
        item.setToolTip(
            "\n".join(
                x
                for x in (
                    str(s.path),
                    f"preset {info.get('preset', '?')}, host {info.get('host', '?')}",
                    str(info.get("message", "")),
                )
                if x
            )
        )
        return item

    def _sweep_item(self, sweep_dir: Path, doc: dict[str, Any]) -> QListWidgetItem:
        item = QListWidgetItem(self._sweep_text(sweep_dir, doc))
        item.setData(Qt.ItemDataRole.UserRole, str(sweep_dir))
        item.setData(KIND_ROLE, "sweep")
        font = item.font()
        font.setBold(True)
        item.setFont(font)
        item.setToolTip(
            f"{sweep_dir}\nSelect the sweep to compare its members in the Evaluation tab "
            "and follow the member being trained"
        )
        return item

    def _member_states(self, sweep_dir: Path, doc: dict[str, Any]) -> list[str]:
        return [member_status(sweep_dir, m) for m in doc["members"]]

    def _sweep_text(self, sweep_dir: Path, doc: dict[str, Any]) -> str:
        states = self._member_states(sweep_dir, doc)
        counts: dict[str, int] = {}
        for state in states:
            counts[state] = counts.get(state, 0) + 1
        parts = ", ".join(f"{n} {state}" for state, n in counts.items())
        axes = " x ".join(str(a.get("key", "?")).rsplit(".", 1)[-1] for a in doc.get("axes", []))
        here = "running here · " if sweep_dir == self._sweep_dir else ""
        return f"Sweep of {axes or '?'}: {len(states)} runs\n{here}{parts}"

    def _selected_sweeps(self) -> list[str]:
        return [
            i.data(Qt.ItemDataRole.UserRole)
            for i in self.runs.selectedItems()
            if i.data(KIND_ROLE) == "sweep"
        ]

    def _current_sweep(self) -> Path | None:
        """The sweep whose entry is the current item of the runs list, if it is one."""
        item = self.runs.currentItem()
        if item is not None and item.data(KIND_ROLE) == "sweep":
            return Path(item.data(Qt.ItemDataRole.UserRole))
        return None

    def sweep_members(self, sweep_dir: Path) -> list[Path]:
        """The run folders of a sweep's members that exist, in the sweep's order."""
        doc = self._sweeps.get(str(sweep_dir))
        if doc is None:
            return []
        folder = SweepFolder(Path(sweep_dir))
        dirs = [folder.member_dir(str(m.get("run", ""))) for m in doc["members"]]
        return [d for d in dirs if str(d) in self._summaries]

    def _run_text(self, s: RunSummary, indented: bool = False) -> str:
        info = s.info
        created = info.get("created")
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(created)) if created else ""
        status = "running here" if s.path == self._active_dir else s.status
        step, total = info.get("step"), info.get("total_steps")
        if s.path == self._active_dir and self._live_step is not None:
            step, total = self._live_step  # the progress bar's figure, not run.json's
        if status != "finished" and step is not None and total:
            status += f" ({100 * int(step) // max(1, int(total))} %)"
        dataset = dataset_text(str(info.get("dataset", "?")))
        ipc, tau = info.get("ipc", "?"), info.get("tau", "?")
        seed = f"   seed {info['seed']}" if "seed" in info else ""  # older run.json: none
        text = f"{dataset}   IPC {ipc}   tau {tau}{seed}\n{status} · {when}"
        if indented:  # a sweep's member, under the sweep's entry
            text = "\n".join(f"      {line}" for line in text.splitlines())
        return text

    def _update_active_item(self) -> None:
        """This window's run in the list shows the live percentage, not run.json's."""
        summary = self._summaries.get(str(self._active_dir))
        if summary is None:
            return
        for row in range(self.runs.count()):
            item = self.runs.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == str(self._active_dir):
                text = self._run_text(summary, item.data(KIND_ROLE) == "member")
                if item.text() != text:
                    item.setText(text)
                return

    def _selected_path(self) -> str | None:
        item = self.runs.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def selected_paths(self) -> list[Path]:
        """Every selected run, the current one first (exports and defaults use it)."""
        current = self._selected_path()
        paths = [
            Path(i.data(Qt.ItemDataRole.UserRole))
            for i in self.runs.selectedItems()
            if i.data(KIND_ROLE) != "sweep"
        ]
        paths.sort(key=lambda p: str(p) != current)
        return paths

    @Slot()
    def _selection_changed(self) -> None:
        sweep = self._current_sweep()
        if sweep is not None:  # the comparison of its members
            members = self.sweep_members(sweep)
            self.evaluation.set_runs(members, sweep=sweep)
            self.viewer.set_run(members[0] if members else None)
            return
        paths = self.selected_paths()
        self.evaluation.set_runs(paths)
        self.viewer.set_run(paths[0] if paths else None)

    def _selected_summary(self) -> RunSummary | None:
        path = self._selected_path()
        return self._summaries.get(path) if path else None

    def _select_in_list(self, run_dir: Path, notify: bool = True, exclusive: bool = False) -> None:
        for row in range(self.runs.count()):
            item = self.runs.item(row)
            if Path(item.data(Qt.ItemDataRole.UserRole)) == run_dir:
                self.runs.blockSignals(not notify)
                if exclusive:
                    self.runs.clearSelection()
                self.runs.setCurrentItem(item)
                item.setSelected(True)
                self.runs.blockSignals(False)
                self._update_resume_button()
                return

    def _update_resume_button(self) -> None:
        sweep = self._current_sweep()
        if sweep is not None:
            self.resume_button.setEnabled(not self.running and self._sweep_resumable(sweep))
            return
        summary = self._selected_summary()
        self.resume_button.setEnabled(
            not self.running
            and summary is not None
            and (summary.resumable or summary.lost_checkpoint)
        )

    @Slot(object, object)
    def _run_selected(self, current: QListWidgetItem | None, _previous: Any = None) -> None:
        self._update_resume_button()
        if current is None:
            return
        if current.data(KIND_ROLE) == "sweep":
            self._queue_sweep = Path(current.data(Qt.ItemDataRole.UserRole))
            self._fill_queue()
            self._follow_sweep()
            self.tabs.setCurrentWidget(self.evaluation)  # the comparison of its members
            return
        if self._sweep_dir is None:
            self._queue_sweep = self._sweep_of(Path(current.data(Qt.ItemDataRole.UserRole)))
            self._fill_queue()
        self.show_run(Path(current.data(Qt.ItemDataRole.UserRole)))

    def show_run(self, path: Path) -> None:
        """Show a run's curves, grids and log: this window's run live, any other from its
        folder, re-read every second so a run another process writes is followed."""
        if path == self._view_dir and self._metrics is not None:
            return
        self._clear_view()
        self._follow(path)

    def _follow(self, path: Path) -> None:
        self._view_dir = path
        self._metrics = MetricsReader(RunFolder(path).metrics)
        self._log_reader = LogReader(path / "log.txt")
        self._read_folder(path)

    def _read_folder(self, path: Path) -> None:
        """Whatever the folder gained since the last read (events fill in the rest)."""
        assert self._metrics is not None and self._log_reader is not None
        rows, restarted = self._metrics.read_new()
        if restarted:
            self.loss.clear()
            self._phase2_start = None
        for row in rows:
            if row["phase"] == 2 and self._phase2_start is None:
                self._phase2_start = row["step"] - 1
                self.loss.mark_phase_boundary(self._phase2_start)
            self.loss.add(row["step"], row["values"])
        grids = list_grids(path)
        if restarted or (self.grid.count and len(grids) < self.grid.count):
            self.grid.clear()  # a resume removed grids past its checkpoint
        if grids and not self.grid.classes:
            self.grid.set_classes(read_classes(path))
        for step, phase, grid_path in grids:
            self.grid.add(step, phase, grid_path)
        lines, log_restarted = self._log_reader.read_new()
        if log_restarted:
            self.log.clear()
        if lines:
            self.log.appendPlainText("\n".join(lines))
        if not self.running:
            self._show_folder_progress(path)
        self.loss.redraw()
        self.grid.redraw()

    def _show_folder_progress(self, path: Path) -> None:
        summary = self._summaries.get(str(path))
        if summary is None:
            return
        info = summary.info
        total = int(info.get("total_steps") or 0)
        step = int(info.get("step") or 0)
        if summary.status == "finished":
            total = max(total, 1)
            step = total
        self.progress.setFormat(STEPS_FORMAT if total else "")
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(min(step, max(1, total)))
        message = info.get("message") or ""
        text = f"<b>{path.name}</b>: {summary.status}, step {step:,} / {total or '?'}"
        if message:
            text += f" — {message}"
        if summary.resumable:
            text += " — press Resume to continue it"
        self.status.setText(text)

    @Slot()
    def _poll(self) -> None:
        self.refresh_runs()
        self.evaluation.poll()
        self._follow_sweep()
        view = self._view_dir
        if view is not None and view != self._active_dir and self._metrics is not None:
            self._read_folder(view)

    @Slot()
    def _choose_runs_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Runs folder", str(self.runs_dir))
        if folder:
            self.set_runs_dir(Path(folder))

    def set_runs_dir(self, folder: Path) -> None:
        """List the runs of another folder; new runs from this window are made there too."""
        self.runs_dir = Path(folder)
        self.refresh_runs(force=True)

    # ---- datasets and config files ---------------------------------------------------
    @Slot(object)
    def _pick_dataset(self, kind: str) -> None:
        if kind == "folder":
            path = QFileDialog.getExistingDirectory(self, "Image folder (with train/ and test/)")
        else:
            path, _ = QFileDialog.getOpenFileName(self, "NPZ dataset", "", "NumPy (*.npz)")
        if path:
            self.setup.select_dataset(f"{kind}:{path}")

    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls() and not self.running:
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        if self.running:
            return  # the settings are locked while a run goes
        for url in event.mimeData().urls():
            if self.use_dropped_path(Path(url.toLocalFile())):
                event.acceptProposedAction()
                return

    def use_dropped_path(self, path: Path) -> bool:
        """A dropped folder or .npz becomes the dataset; a .json config is loaded."""
        if path.is_dir():
            self.setup.select_dataset(f"folder:{path}")
        elif path.suffix.lower() == ".npz":
            self.setup.select_dataset(f"npz:{path}")
        elif path.suffix.lower() == ".json":
            self._load_config_file(path)
        else:
            return False
        return True

    def _ask_save_path(self, title: str, suggested: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(
            self, title, suggested, filters, options=QFileDialog.Option.DontConfirmOverwrite
        )
        return path

    def _ask_replace(self, path: Path) -> bool:
        answer = QMessageBox.question(self, "Replace?", f"{path} exists. Replace it?")
        return answer == QMessageBox.StandardButton.Yes

    @Slot()
    def _save_config(self) -> Path | None:
        """Save the settings as JSON; a name without .json gets it, so Load config finds it."""
        path = self.ask_save_path("Save config", "run.json", "JSON (*.json)")
        if not path:
            return None
        out = Path(path)
        if out.suffix.lower() != ".json":
            out = out.with_name(out.name + ".json")
        if out.exists() and not self.confirm_replace(out):
            return None
        try:
            self.setup.config().save(out)
        except (OSError, GddError) as exc:
            self.show_message("error", "Cannot save the config", f"{out}: {exc}")
            return None
        self.status.setText(f"Config saved to {out}")
        return out

    @Slot()
    def _load_config(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load config", "", "JSON (*.json)")
        if path:
            self._load_config_file(Path(path))

    def _load_config_file(self, path: Path) -> None:
        try:
            self.setup.set_config(RunConfig.load(path))
            self.status.setText(f"Config loaded from {path}")
        except (GddError, OSError, ValueError) as exc:
            self.show_message("error", "Cannot load the config", f"{path}: {exc}")

    # ---- messages and closing ------------------------------------------------------
    def show_message(self, kind: str, title: str, text: str) -> None:
        """A non-blocking message box (the window keeps working behind it)."""
        self.last_message = (kind, text)
        if self._quiet:
            return
        icon = QMessageBox.Icon.Critical if kind == "error" else QMessageBox.Icon.Information
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName(f"{kind}Message")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _ask_restart(self, run_dir: Path) -> bool:
        answer = QMessageBox.question(
            self,
            "Checkpoint missing",
            f"{run_dir.name} has lost its checkpoint (checkpoints/last.pt).\n"
            "Resuming can only start it over from step 0; its metrics and grids are "
            "cleared. Start over?",
        )
        return answer == QMessageBox.StandardButton.Yes

    def _ask_close(self) -> bool:
        if self.running:
            title = "A run is going"
            text = (
                "Stop the run with a checkpoint and close?\nIt can be resumed later from the "
                "runs list."
            )
        else:
            title = "An evaluation is going"
            text = "Stop the evaluation and close?\nThe rows it finished are saved with the run."
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """During a run: ask, stop cooperatively, and close once the thread has ended.

        The window stays responsive while the run saves its checkpoint (a step on a big
        model can take seconds); it closes itself when the worker's thread is done.
        """
        if self.running or self.evaluation.evaluating:
            if self._closing or self.confirm_close():
                self._closing = self._quiet = True
                self.stop_run()
                self.evaluation.stop()
                self.status.setText("Closing: stopping the run with a checkpoint...")
            event.ignore()
            return
        self._redraw_timer.stop()
        self._poll_timer.stop()
        self.save_state()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the run, wait for its thread, and stop the timers (tests, scripts, exit)."""
        self._quiet = True
        wait_for_jobs(self)  # training, evaluation and the set viewer's
        self._redraw_timer.stop()
        self._poll_timer.stop()

    def save_state(self) -> None:
        """What the next launch reopens with: size, splitters, dataset, preset, runs folder."""
        st = _settings()
        st.setValue("geometry", self.saveGeometry())
        for splitter in self.splitters:
            st.setValue(f"splitters/{splitter.objectName()}", splitter.saveState())
        st.setValue("setup/visible", self.setup_toggle.isChecked())
        cfg = self.setup.config()
        st.setValue("setup/dataset", cfg.dataset)
        st.setValue("setup/preset", cfg.preset)
        st.setValue("setup/data_dir", cfg.data_dir or "")
        st.setValue("runs_dir", str(self.runs_dir))
        st.sync()

    def restore_state(self, runs_dir: bool = True) -> None:
        """Reopen as the user left the window last time (what :meth:`save_state` kept).

        ``runs_dir=False`` keeps the runs folder this window was opened on.
        """
        st = _settings()
        value = st.value("geometry")
        if isinstance(value, QByteArray):
            self.restoreGeometry(value)
        for splitter in self.splitters:
            state = st.value(f"splitters/{splitter.objectName()}")
            if isinstance(state, QByteArray):
                splitter.restoreState(state)
        visible = st.value("setup/visible")
        if visible is not None:
            self.setup_toggle.setChecked(str(visible).lower() in ("true", "1"))
        preset = st.value("setup/preset")
        if preset and self.setup.preset.findData(preset) >= 0:
            self.setup.preset.setCurrentIndex(self.setup.preset.findData(preset))
        data_dir = st.value("setup/data_dir")
        if data_dir:
            self.setup.data_dir.setText(str(data_dir))
            self.setup.refresh_datasets()
        dataset = st.value("setup/dataset")
        if dataset:
            self.setup.select_dataset(str(dataset))
        folder = st.value("runs_dir")
        if runs_dir and folder and Path(str(folder)) != self.runs_dir:
            self.set_runs_dir(Path(str(folder)))
