"""The Training tab: a run's loss curves, its evolving grid, progress, status line and log.

A thin view over ``view.TrainingModel``: the model decides which run is shown and what is
new (from the worker's queued events for the run trained here, from the run folder for any
other); this widget applies each :class:`~gdd_studio.view.Update` to its widgets and
redraws once. The window's timer calls :meth:`TrainingView.drain` (about 25 Hz) and its
slower poll :meth:`TrainingView.poll`, never once per training step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..engine.events import Progress
from ..view import Ending, TrainingModel, Update
from .monitor import GridPanel, LossPanel

LOG_LINES = 5000
STEPS_FORMAT = "%p%  (step %v of %m)"


class TrainingView(QWidget):
    """Curves and grid side by side above Start, Sweep..., Pause and Stop with the progress
    bar (so they stay at hand when the set-up panel is collapsed; the window connects
    them), the status line, an optional panel below it (a sweep's queue) and the log."""

    def __init__(
        self,
        model: TrainingModel,
        below_status: QWidget | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.start_button = QPushButton("Start", objectName="startButton")
        self.start_button.setToolTip("Start a new run with these settings (Ctrl+R)")
        self.start_button.setStyleSheet("font-weight: bold;")
        self.pause_button = QPushButton("Pause", objectName="pauseButton", checkable=True)
        self.pause_button.setToolTip("Pause at the next step, or resume (Ctrl+P)")
        self.stop_button = QPushButton("Stop", objectName="stopButton")
        self.stop_button.setToolTip("Stop with a checkpoint; Resume continues it (Ctrl+.)")
        self.sweep_button = QPushButton("Sweep...", objectName="sweepButton")
        self.sweep_button.setToolTip(
            "Train several runs from these settings, varying one or two of them (or the "
            "ablation set), one after another; Pause and Stop act on the sweep"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
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
        row = QHBoxLayout()
        for button in (self.start_button, self.sweep_button, self.pause_button, self.stop_button):
            row.addWidget(button)
        self.progress = QProgressBar(objectName="progressBar")
        self.reset_progress()
        row.addWidget(self.progress, 1)
        bv.addLayout(row)
        self.status = QLabel("Ready: choose settings and press Start.", objectName="statusLabel")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bv.addWidget(self.status)
        if below_status is not None:
            bv.addWidget(below_status)
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
        layout.addWidget(centre)
        self.splitters = [top, centre]

    def set_running(self, running: bool) -> None:
        """Start and Sweep... while idle; Pause and Stop while a run goes."""
        self.start_button.setEnabled(not running)
        self.sweep_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        if not running:
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(False)
            self.pause_button.setText("Pause")
            self.pause_button.blockSignals(False)

    # ---- which run ----------------------------------------------------------------------
    def show_run(self, path: Path) -> None:
        """Show a run's curves, grids and log: the run trained here live, any other from
        its folder, re-read on every :meth:`poll` so a run another process writes is
        followed."""
        if self.model.shows(path):
            return
        self.clear()
        self._apply(self.model.follow(path))

    def clear(self) -> None:
        """Show nothing (the progress bar keeps a run trained here)."""
        self.loss.clear()
        self.grid.clear()
        self.log.clear()
        self.model.clear()
        if not self.model.here.running:
            self.reset_progress()

    def reset_progress(self) -> None:
        self.progress.setFormat("")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)

    @Slot()
    def poll(self) -> None:
        """Read what the shown run's folder gained (a run not trained here)."""
        update = self.model.poll()
        if update is not None:
            self._apply(update)

    def reread(self, path: Path) -> None:
        """The run trained here has ended: keep showing it, now from its folder."""
        if self.model.view_dir == path and self.model.following:
            self._apply(self.model.read_folder())

    # ---- events of the run trained here ---------------------------------------------------
    @Slot(object)
    def on_event(self, event: Any) -> None:
        self.model.queue(event)  # drawn by the timer, not now

    def drain(self, paused: bool = False) -> Update:
        """Apply every queued event, then draw once; ``paused`` marks the status line."""
        update = self.model.drain()
        if update.state is not None:
            self.status.setText("Paused." if update.state == "paused" else "Running.")
        if update.log:
            self.log.appendPlainText("\n".join(update.log))
        if update.progress is not None:
            self._show_progress(update.progress, paused)
        self._draw(update)
        return update

    def _show_progress(self, p: Progress, paused: bool) -> None:
        self.progress.setFormat(STEPS_FORMAT)
        self.progress.setRange(0, max(1, p.total_steps))
        self.progress.setValue(p.step)
        self.status.setText(self.model.progress_text(p, paused))

    def show_ending(self, ending: Ending) -> None:
        """How the job ended: the status line, a full bar, the error in the log."""
        if ending.complete:
            self.progress.setValue(self.progress.maximum())
        self.status.setText(ending.status)
        if ending.error and ending.error not in self.log.toPlainText()[-2000:]:
            self.log.appendPlainText(f"error: {ending.error}")

    # ---- drawing ------------------------------------------------------------------------
    def _apply(self, update: Update) -> None:
        """A folder read: everything it found, the progress from run.json."""
        if update.clear_log:
            self.log.clear()
        if update.log:
            self.log.appendPlainText("\n".join(update.log))
        if not self.model.here.running:
            self._show_folder_progress()
        self._draw(update)

    def _draw(self, update: Update) -> None:
        if update.clear_curves:
            self.loss.clear()
        if update.boundary is not None:
            self.loss.mark_phase_boundary(update.boundary)
        for step, values in update.rows:
            self.loss.add(step, values)
        if update.clear_grids:
            self.grid.clear()
        if update.classes:
            self.grid.set_classes(update.classes)
        for step, phase, image in update.grids:
            self.grid.add(step, phase, image)
        self.loss.redraw()
        self.grid.redraw()

    def _show_folder_progress(self) -> None:
        shown = self.model.folder_progress()
        if shown is None:
            return
        self.progress.setFormat(STEPS_FORMAT if shown.total else "")
        self.progress.setRange(0, max(1, shown.total))
        self.progress.setValue(min(shown.step, max(1, shown.total)))
        self.status.setText(shown.text)
