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
from .eval_panel import EvalPanel
from .jobs import Job, wait_for_jobs
from .monitor import GridPanel, LossPanel
from .set_viewer import SetViewer
from .setup_panel import SetupPanel
from .worker import RunWorker

REDRAW_MS = 40  # 25 Hz: smooth enough to watch, cheap enough to leave the run its CPU
POLL_MS = 1000  # re-reading run folders (another process's run, the runs list)
LOG_LINES = 5000
STEPS_FORMAT = "%p%  (step %v of %m)"


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
        for b in (self.start_button, self.pause_button, self.stop_button):
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

    def _launch(self, worker: RunWorker) -> None:
        self._clear_view()
        self._view_dir = None
        self._live_step = None
        self._pending.clear()
        job = Job(worker, self)
        worker.event.connect(self._on_event)
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
    def _on_done(self, result: tuple[str, str]) -> None:
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

    @Slot()
    def _on_thread_finished(self) -> None:
        self._job = None
        finished_dir = self._active_dir
        self._active_dir = None
        self._live_step = None
        self._set_running(False)
        self.refresh_runs(force=True)
        if finished_dir is not None and self._view_dir == finished_dir and self._metrics:
            self._read_folder(finished_dir)  # keep showing it, now from its folder
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
        self._update_active_item()
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
        """Re-read the runs folder; rebuild the list only when something changed."""
        summaries = list_runs(self.runs_dir)
        self._summaries = {str(s.path): s for s in summaries}
        key = tuple(
            (str(s.path), s.status, s.info.get("step"), s.path == self._active_dir)
            for s in summaries
        )
        self.runs_label.setText(
            f"in {self.runs_dir}" if summaries else f"None yet in {self.runs_dir}"
        )
        if key == self._runs_key and not force:
            self._update_resume_button()
            return
        self._runs_key = key
        selected = self._selected_path()
        chosen = set(self.selected_paths())
        self.runs.blockSignals(True)
        self.runs.clear()
        for s in summaries:
            item = QListWidgetItem(self._run_text(s))
            item.setData(Qt.ItemDataRole.UserRole, str(s.path))
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
            self.runs.addItem(item)
            if selected is not None and selected == str(s.path):
                self.runs.setCurrentItem(item)
            item.setSelected(s.path in chosen)
        self.runs.blockSignals(False)
        self._update_resume_button()

    def _run_text(self, s: RunSummary) -> str:
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
        return f"{dataset}   IPC {ipc}   tau {tau}{seed}\n{status} · {when}"

    def _update_active_item(self) -> None:
        """This window's run in the list shows the live percentage, not run.json's."""
        summary = self._summaries.get(str(self._active_dir))
        if summary is None:
            return
        for row in range(self.runs.count()):
            item = self.runs.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == str(self._active_dir):
                text = self._run_text(summary)
                if item.text() != text:
                    item.setText(text)
                return

    def _selected_path(self) -> str | None:
        item = self.runs.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def selected_paths(self) -> list[Path]:
        """Every selected run, the current one first (exports and defaults use it)."""
        current = self._selected_path()
        paths = [Path(i.data(Qt.ItemDataRole.UserRole)) for i in self.runs.selectedItems()]
        paths.sort(key=lambda p: str(p) != current)
        return paths

    @Slot()
    def _selection_changed(self) -> None:
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
        summary = self._selected_summary()
        self.resume_button.setEnabled(
            not self.running
            and summary is not None
            and (summary.resumable or summary.lost_checkpoint)
        )

    @Slot(object, object)
    def _run_selected(self, current: QListWidgetItem | None, _previous: Any = None) -> None:
        self._update_resume_button()
        if current is not None:
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
