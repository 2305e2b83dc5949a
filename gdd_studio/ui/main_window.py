"""GDD Studio's main window: set up a run, watch it, steer it, and browse every run.

A thin layer over ``gdd_studio.view.WindowModel``: the engine does all the work on a
worker thread (``RunWorker``); this class turns widgets into a ``RunConfig``, starts,
pauses and stops the work, and wires its parts: the set-up column (``SetupArea``, left),
the Training tab (``TrainingView``: curves, grid, progress, log), the Evaluation and
Distilled set tabs, and the runs list (``RunsPanel``, right). The worker's events are
queued and drawn on a timer (about 25 Hz), never once per training step; runs that another
process writes (the CLI here, or a server whose runs folder is shared) are followed by
re-reading their folders as they grow, on a slower timer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTabWidget,
)

from ..config import RunConfig, resolve_defaults, validate
from ..errors import GddError, user_message
from ..paths import runs_dir as default_runs_dir
from ..rundir.folder import RunFolder
from ..view import WindowModel, dataset_text, run_ending, sweep_ending
from .eval_panel import EvalPanel
from .jobs import Job, collect_garbage_on_gui_thread, wait_for_jobs
from .questions import ask_close, ask_restart, damaged_checkpoint
from .runs_panel import KIND_ROLE, RunsPanel
from .set_viewer import SetViewer
from .setup_area import SetupArea
from .sweep_dialog import SweepDialog
from .training_view import TrainingView
from .window_state import restore_window_state, save_window_state
from .window_state import window_settings as _settings  # noqa: F401 - tests read it
from .worker import RunWorker, SweepWorker

REDRAW_MS = 40  # 25 Hz: smooth enough to watch, cheap enough to leave the run its CPU
POLL_MS = 1000  # re-reading run folders (another process's run, the runs list)

__all__ = ["KIND_ROLE", "MainWindow", "app_icon", "dataset_text"]


def app_icon() -> QIcon:
    """The window icon, from the PNG renderings shipped with the package."""
    from ..resources import resource_path

    icon = QIcon()
    for size in (16, 32, 48, 64, 128, 256, 512):
        path = resource_path(f"icons/gdd-studio-{size}.png")
        if path.is_file():
            icon.addFile(str(path))
    return icon


def _part(path: str) -> Any:
    """A read-only attribute that is one of a part's: ``_part("training.loss")``."""
    names = path.split(".")

    def get(self: Any) -> Any:
        for name in names:
            self = getattr(self, name)
        return self

    return property(get)


class MainWindow(QMainWindow):
    """Set-up panel (left); tabs for training (curves, grid, progress, log), evaluation
    and the distilled set (centre); runs list (right).

    ``runs_dir`` defaults to the per-user runs folder (``GDD_STUDIO_HOME`` overrides it).
    Dialogs go through :meth:`show_message` and :attr:`confirm_close`, which tests and
    scripts replace; message boxes are opened non-blocking so the window keeps working.
    """

    def __init__(self, runs_dir: Path | None = None) -> None:
        super().__init__()
        collect_garbage_on_gui_thread()  # never on a job's thread
        self.setWindowTitle("GDD Studio")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.model = WindowModel(Path(runs_dir) if runs_dir else default_runs_dir())
        self.here = self.model.here  # what this window trains
        self._job: Job | None = None  # the training job (ui/jobs.py)
        self._closing = False  # the window closes once the run has stopped
        self._quiet = False  # no dialogs (closing, or shut down by a script)
        self.last_message: tuple[str, str] | None = None  # (kind, text), for tests and users
        self.confirm_close = self._ask_close  # replaceable in tests and scripts
        self.confirm_restart = self._ask_restart  # (run folder) -> start over from step 0?
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
        self.setup_area = SetupArea(self.show_message)
        self.setup = self.setup_area.setup
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

        # The runs list; its sweep queue stands in the Training tab, under the status line.
        self.runs_panel = RunsPanel(self.model.runs)
        self.runs_panel.runSelected.connect(self.show_run)
        self.runs_panel.sweepSelected.connect(self._sweep_selected)
        self.runs_panel.selectionChanged.connect(self._selection_changed)
        self.runs_panel.resume_button.clicked.connect(self.resume_selected)
        self.runs_panel.open_runs_button.clicked.connect(self._choose_runs_dir)
        self.training = TrainingView(self.model.training, self.runs_panel.queue)
        self.training.start_button.clicked.connect(self.start_run)
        self.training.sweep_button.clicked.connect(self.open_sweep_dialog)
        self.training.pause_button.toggled.connect(self._pause_toggled)
        self.training.stop_button.clicked.connect(self.stop_run)
        self.evaluation = EvalPanel(self.show_message)
        self.evaluation.finished.connect(self._on_eval_finished)
        self.evaluation.runs_dir = lambda: self.model.runs.runs_dir
        self.evaluation.setImported.connect(self._on_set_imported)
        self.viewer = SetViewer(self.show_message)
        self.setup_area.said.connect(self.training.status.setText)
        self.tabs = QTabWidget(objectName="centreTabs")
        self.tabs.addTab(self.training, "Training")
        self.tabs.addTab(self.evaluation, "Evaluation")
        self.tabs.addTab(self.viewer, "Distilled set")
        self.tabs.setTabToolTip(1, "Judge the selected runs' sets; select several to compare")
        self.tabs.setTabToolTip(2, "The selected run's whole distilled set, by class")
        # The set-up is for the next run: it stands beside the Training tab and steps aside
        # for results (the Evaluation and Distilled set tabs), or when collapsed.
        self.tabs.setCornerWidget(self.setup_area.toggle, Qt.Corner.TopLeftCorner)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.setup_area.show_training.connect(lambda: self.tabs.setCurrentIndex(0))

        main = QSplitter(Qt.Orientation.Horizontal, objectName="mainSplitter")
        main.addWidget(self.setup_area)
        main.addWidget(self.tabs)
        main.addWidget(self.runs_panel)
        main.setStretchFactor(1, 1)
        main.setCollapsible(1, False)
        main.setSizes([self.setup_area.sizeHint().width(), 840, 260])
        self.setCentralWidget(main)
        self.main_split = main
        self.splitters = [main, *self.training.splitters, *self.evaluation.splitters]
        self._tab_changed()
        self._set_running(False)

    # The parts' widgets, by the names the window has always had (tests, scripts).
    loss, grid = _part("training.loss"), _part("training.grid")
    progress, status = _part("training.progress"), _part("training.status")
    log = _part("training.log")
    start_button, sweep_button = _part("training.start_button"), _part("training.sweep_button")
    pause_button, stop_button = _part("training.pause_button"), _part("training.stop_button")
    runs, queue = _part("runs_panel.runs"), _part("runs_panel.queue")
    resume_button = _part("runs_panel.resume_button")
    runs_dir = _part("model.runs.runs_dir")
    save_button, load_button = _part("setup_area.save_button"), _part("setup_area.load_button")
    setup_toggle = _part("setup_area.toggle")

    @Slot(int)
    def _tab_changed(self, _index: int = 0) -> None:
        self.setup_area.place(beside_training=self.tabs.currentIndex() == 0)

    # ---- starting, pausing, stopping -------------------------------------------------
    @property
    def running(self) -> bool:
        """True from Start until the worker's thread has ended."""
        return self._job is not None

    def set_config(self, cfg: RunConfig) -> None:
        """Show ``cfg`` in the set-up panel (what Start will run)."""
        self.setup.set_config(cfg)

    def _checked_config(self, what: str) -> RunConfig | None:
        """The set-up panel's settings, or None after saying why they cannot run."""
        cfg = self.setup.config()
        try:
            resolve_defaults(cfg)
            validate(cfg)
        except GddError as exc:
            self.show_message("error", f"Cannot {what}", str(exc))
            return None
        missing = self.setup.missing_dataset_message(cfg)
        if missing:
            self.show_message("error", f"Cannot {what}", missing)
            return None
        return cfg

    @Slot()
    def start_run(self) -> None:
        """Check the settings here (instant), then load data and train on the worker."""
        if self.running:
            return
        cfg = self._checked_config("start")
        if cfg is not None:
            self._launch(RunWorker(cfg, self.runs_dir))

    @Slot()
    def resume_selected(self) -> None:
        """Continue the selected run (stopped, interrupted or failed) from its checkpoint."""
        sweep = self.runs_panel.current_sweep()
        if sweep is not None and not self.running:
            if self.model.runs.sweep_resumable(sweep):
                self.resume_sweep(sweep)
            return
        summary = self.runs_panel.current_summary()
        if self.running or summary is None:
            return
        restart = False
        if summary.lost_checkpoint or self._damaged_checkpoint(summary):
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
        cfg = self._checked_config("sweep")
        if cfg is None:
            return None
        dialog = SweepDialog(cfg, self.model.runs.recorded(), self.here.rate, self)
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

    @Slot(object)
    def _sweep_selected(self, _sweep_dir: Path) -> None:
        self._follow_sweep()
        self.tabs.setCurrentWidget(self.evaluation)  # the comparison of its members

    def _follow_sweep(self) -> None:
        """With a sweep selected, the Training tab follows the member being trained
        (by this window, the CLI or a cluster), else its last started one."""
        target = self.model.runs.follow_target(self.runs_panel.current_sweep())
        if target is not None and target != self.model.training.view_dir:
            self.show_run(target)

    @Slot(object)
    def _on_sweep_created(self, sweep_dir: str) -> None:
        self.here.sweep_dir = Path(sweep_dir)
        self.refresh_runs(force=True)

    @Slot(object)
    def _on_member_started(self, run_dir: str) -> None:
        """The next member trains: the curves, grids and progress follow it."""
        self._drain()  # the last member's events belong to its view
        self.here.step = None
        self._on_created(run_dir)
        self.runs_panel.fill_queue()

    def _launch(self, worker: RunWorker | SweepWorker) -> None:
        self.training.clear()
        self.here.step, self.here.ending = None, None
        self.model.training.pending.clear()
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
        self.here.running = running
        self.setup_area.set_locked(running)
        self.training.set_running(running)
        self.runs_panel.update_resume_button()

    # ---- worker signals --------------------------------------------------------------
    @Slot(object)
    def _on_event(self, event: Any) -> None:
        self.training.on_event(event)  # drawn by the timer, not now

    @Slot(object)
    def _on_created(self, run_dir: str) -> None:
        self.here.run_dir = Path(run_dir)
        self.refresh_runs(force=True)
        # The new run alone: comparing is what the user chooses with Ctrl/Shift-click, never
        # a leftover of the previous selection.
        self.runs_panel.select(self.here.run_dir, notify=False, exclusive=True)
        self.show_run(self.here.run_dir)
        self._selection_changed()

    @Slot(object)
    def _on_error(self, exc: Exception) -> None:
        self._on_done(("failed", user_message(exc)))  # details are in the run's error.log

    @Slot(object)
    def _on_done(self, result: tuple[str, str] | dict[str, int]) -> None:
        """The work's returned value: a run's (status, message), a sweep's counts."""
        self._drain()
        if isinstance(result, dict):
            stopped = self._job is not None and self._job.worker.control.stop_requested
            ending = sweep_ending(result, stopped, self.here.sweep_dir)
        else:
            ending = run_ending(*result, self.here.run_dir)
        self.here.ending = ending.status
        self.training.show_ending(ending)
        if ending.message is not None:
            self.show_message(*ending.message)

    @Slot()
    def _on_thread_finished(self) -> None:
        self._job = None
        sweep_line = None
        here = self.here
        if here.sweep_dir is not None:
            self.model.runs.queue_sweep, here.sweep_dir = here.sweep_dir, None
            # How the sweep ended, not its last member (whose folder may be shown since).
            sweep_line = here.ending or self.status.text()
        finished_dir, here.run_dir, here.step = here.run_dir, None, None
        self._set_running(False)
        self.refresh_runs(force=True)
        if finished_dir is not None:
            self.training.reread(finished_dir)  # keep showing it, now from its folder
        if sweep_line is not None:
            self.status.setText(sweep_line)
            self.runs_panel.fill_queue()
        self._selection_changed()  # a finished run can now be evaluated and exported
        if self._closing:
            self.close()

    @Slot()
    def _on_eval_finished(self) -> None:
        if self._closing:
            self.close()

    # ---- drawing and following -------------------------------------------------------
    @Slot()
    def _drain(self) -> None:
        """The timer's redraw: the Training tab applies every queued event and draws once;
        the runs list and the queue show the run's new progress."""
        paused = self._job is not None and self._job.worker.control.paused
        if self.training.drain(paused).progress is not None:
            self.runs_panel.update_active_item()
            if self.here.sweep_dir is not None:
                self.runs_panel.fill_queue()
        self.evaluation.drain()

    def show_run(self, path: Path) -> None:
        """Show a run's curves, grids and log: this window's run live, any other from its
        folder, re-read every second so a run another process writes is followed."""
        self.training.show_run(Path(path))

    def refresh_runs(self, force: bool = False) -> None:
        """Re-read the runs folder; the list is rebuilt only when something changed."""
        self.runs_panel.refresh(force)

    def selected_paths(self) -> list[Path]:
        """Every selected run, the current one first (exports and defaults use it)."""
        return self.runs_panel.selected_paths()

    @Slot()
    def _selection_changed(self) -> None:
        sweep = self.runs_panel.current_sweep()
        if sweep is not None:  # the comparison of its members
            members = self.model.runs.sweep_members(sweep)
            self.evaluation.set_runs(members, sweep=sweep)
            self.viewer.set_run(members[0] if members else None)
            return
        paths = self.selected_paths()
        self.evaluation.set_runs(paths)
        self.viewer.set_run(paths[0] if paths else None)

    @Slot(object)
    def _on_set_imported(self, folder: Path) -> None:
        """A set just added: listed, and compared with the runs shown (selected with them)."""
        shown = list(self.evaluation.run_dirs)
        self.refresh_runs(force=True)
        self.runs_panel.select(Path(folder), exclusive=True)
        for run_dir in shown:
            self.runs_panel.add_to_selection(run_dir)

    @Slot()
    def _poll(self) -> None:
        self.runs_panel.poll()  # read off this thread; the list follows when it is read
        self.evaluation.poll()
        self._follow_sweep()
        self.training.poll()

    @Slot()
    def _choose_runs_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Runs folder", str(self.runs_dir))
        if folder:
            self.set_runs_dir(Path(folder))

    def set_runs_dir(self, folder: Path) -> None:
        """List the runs of another folder; new runs from this window are made there too."""
        self.model.runs.runs_dir = Path(folder)
        self.refresh_runs(force=True)

    # ---- dropped files ---------------------------------------------------------------
    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        on_eval = self.tabs.currentWidget() is self.evaluation  # a set to add, even mid-run
        if event.mimeData().hasUrls() and (on_eval or not self.running):
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        """On the Evaluation tab a dropped file or folder is a set to add (import);
        elsewhere a dropped folder or .npz becomes the dataset, a .json config is loaded."""
        urls = event.mimeData().urls()
        if self.tabs.currentWidget() is self.evaluation and urls:
            event.acceptProposedAction()
            self.evaluation.add_set(Path(urls[0].toLocalFile()))
            return
        if self.running:
            return  # the settings are locked while a run goes
        for url in urls:
            if self.setup_area.use_path(Path(url.toLocalFile())):
                event.acceptProposedAction()
                return

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

    _damaged_checkpoint = staticmethod(damaged_checkpoint)

    def _ask_restart(self, run_dir: Path) -> bool:
        return ask_restart(self, run_dir)

    def _ask_close(self) -> bool:
        return ask_close(self, self.running)

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
        self.runs_panel.shutdown()
        self.save_state()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the run, wait for its thread, and stop the timers (tests, scripts, exit)."""
        self._quiet = True
        wait_for_jobs(self)  # training, evaluation and the set viewer's
        self._redraw_timer.stop()
        self._poll_timer.stop()
        self.runs_panel.shutdown()

    def save_state(self) -> None:
        """What the next launch reopens with: size, splitters, dataset, preset, runs folder."""
        save_window_state(self)

    def restore_state(self, runs_dir: bool = True) -> None:
        """Reopen as the user left the window last time (what :meth:`save_state` kept).

        ``runs_dir=False`` keeps the runs folder this window was opened on.
        """
        restore_window_state(self, runs_dir)
