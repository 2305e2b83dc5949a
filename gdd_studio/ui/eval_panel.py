"""The evaluation tab: judge the selected runs' distilled sets, compare runs, export.

The engine's ``Evaluation`` does the work on a worker thread (``EvalWorker``); this panel
turns its widgets into an ``EvalConfig``, shows progress from the buffered events when the
window's redraw timer drains them, and reads the results back from the run folders
(``eval/results.json``), so what it shows is what was saved. Several runs selected in the
runs list are compared in one table and chart, each labelled by the settings where it
differs from the others.

File dialogs go through :meth:`EvalPanel.ask_save_path` and overwrites through
:attr:`EvalPanel.confirm_overwrite`, which tests and scripts replace.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..config import EVAL_ARCHS, EvalConfig, available_devices
from ..engine.events import EvalProgress, EvalResult, EvalStarted, LogMessage, fmt_duration
from ..errors import GddError, user_message
from ..evaluation.dm_real import DmProgress
from ..evaluation.eta import fmt_eta
from ..evaluation.protocol import SOURCE_TITLES
from ..models.nets import ARCH_TITLES
from .jobs import Job, wait_for_jobs
from .results_chart import ResultsChart, spread_labels
from .set_viewer import SetViewer
from .setup_panel import NetworkList
from .worker import EvalWorker

Message = Callable[[str, str, str], None]  # (kind, title, text)

SET_FORMATS = {
    "pt": ("PyTorch file (.pt)", ".pt", "PyTorch (*.pt)"),
    "npz": ("NumPy file (.npz)", ".npz", "NumPy (*.npz)"),
    "png": ("PNG folder (class/index.png)", "", "Folder name (*)"),
    "generator": ("Generator (.pt), samples any IPC", ".pt", "PyTorch (*.pt)"),
}
TABLE_COLUMNS = [
    "Run", "Network", "IPC", "Source", "Selection", "Accuracy (%)", "n", "Epochs", "Protocol",
]  # fmt: skip
PROGRESS_SCALE = 1000
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def parse_ipcs(text: str) -> list[int]:
    """'1, 10 50' -> [1, 10, 50]; a ValueError names what is wrong."""
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    if not parts:
        raise ValueError("give at least one IPC, for example 1, 10")
    values = []
    for p in parts:
        if not p.isdigit() or int(p) < 1:
            raise ValueError(f"IPC '{p}' is not a whole number of at least 1")
        values.append(int(p))
    return sorted(set(values))


def _ipc_text(ipc: Any) -> str:
    return "all" if ipc is None else str(ipc)


class FolderTargetDialog(QFileDialog):
    """A save dialog whose target may be an existing folder (the PNG-folder export).

    Qt's save dialog opens a folder that is typed or picked instead of returning it, and
    greys out Save inside it, so the export could never ask "Replace?" as a file export
    does. Here Export on an existing folder returns that folder (double-click still opens
    it); the panel then asks before replacing it.
    """

    def __init__(self, parent: QWidget | None, title: str, suggested: Path) -> None:
        super().__init__(parent, title, str(suggested.parent))
        self.setOption(QFileDialog.Option.DontUseNativeDialog, True)  # accept() is ours
        self.setOption(QFileDialog.Option.DontConfirmOverwrite, True)
        self.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        self.setFileMode(QFileDialog.FileMode.AnyFile)
        self.setLabelText(QFileDialog.DialogLabel.Accept, "Export")
        self.setLabelText(QFileDialog.DialogLabel.FileName, "Folder name")
        self.selectFile(suggested.name)
        self.chosen = ""

    def accept(self) -> None:
        files = self.selectedFiles()
        if files:
            target = Path(files[0])
            here = Path(self.directory().absolutePath())
            if target.is_dir() and target != here:
                self.chosen = str(target)
                self.done(QDialog.DialogCode.Accepted)
                return
            self.chosen = str(target)
        super().accept()


def _last_settings(run_dir: Path, default: EvalConfig) -> EvalConfig:
    """The settings of the run's last evaluation (what its results show), else its config's."""
    import dataclasses

    from ..evaluation.protocol import load_results

    doc = load_results(run_dir)
    protocol = doc.get("protocol") if doc else None
    if not isinstance(protocol, dict):
        return default
    names = {f.name for f in dataclasses.fields(EvalConfig)}
    s = copy.deepcopy(default)
    for key, value in protocol.items():
        if key in names and value is not None or key == "width":
            setattr(s, key, value)
    return s


class EvalPanel(QWidget):
    """Settings, progress, results (table and chart) and exports of the selected runs."""

    finished = Signal()  # the evaluation thread has ended

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

        box = QGroupBox("Evaluate")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.archs = NetworkList(EVAL_ARCHS, "evalArchList")
        self.archs.setToolTip("Networks trained from scratch on the set (cross-architecture)")
        form.addRow("Networks", self.archs)
        self.ipcs = QLineEdit(objectName="evalIpcEdit")
        self.ipcs.setToolTip(
            "One or more budgets, e.g. 1, 10, 50: the generator makes any IPC without retraining"
        )
        form.addRow("IPCs", self.ipcs)
        self.repeats = QSpinBox(objectName="evalRepeatsSpin", minimum=1, maximum=100)
        self.repeats.setToolTip("Networks per row; the table shows mean +- std over them")
        form.addRow("Repeats", self.repeats)
        self.epochs = QSpinBox(objectName="evalEpochsSpin", minimum=1, maximum=100_000)
        self.epochs.setToolTip("Training epochs of each network (the literature uses 1000)")
        form.addRow("Epochs", self.epochs)
        base = QVBoxLayout()
        base.setSpacing(2)
        always = QCheckBox("random real subset (always)", checked=True, enabled=False)
        always.setToolTip("The same number of real images per class, the same protocol")
        base.addWidget(always)
        self.gan_only = QCheckBox("GAN only (phase 1)", objectName="evalGanOnlyCheck")
        self.gan_only.setToolTip(
            "The phase-1 generator, before SKD, to see what distillation added"
        )
        base.addWidget(self.gan_only)
        self.full_real = QCheckBox("full real training set", objectName="evalFullRealCheck")
        self.full_real.setToolTip("The upper bound: a network trained on every real image")
        base.addWidget(self.full_real)
        dm = QHBoxLayout()
        self.dm_real = QCheckBox("DM from real, min", objectName="evalDmRealCheck")
        self.dm_real.setToolTip(
            "Distribution matching started from the random real subset, given the run's "
            "own training time (or the minutes set here): the peer to beat"
        )
        self.dm_minutes = QDoubleSpinBox(
            objectName="evalDmMinutesSpin", minimum=0.0, maximum=10_000.0, decimals=2
        )
        self.dm_minutes.setSpecialValueText("run's time")
        self.dm_minutes.setToolTip("Minutes of DM; the lowest value: the run's training time")
        dm.addWidget(self.dm_real)
        dm.addWidget(self.dm_minutes, 1)
        base.addLayout(dm)
        form.addRow("Baselines", base)
        self.device = QComboBox(objectName="evalDeviceCombo")
        self.device.addItem("the run's device", None)
        for dev, text in available_devices():
            self.device.addItem(f"{dev}: {text}", dev)
        form.addRow("Device", self.device)
        lv.addWidget(box)

        adv = QGroupBox("Protocol")
        af = QFormLayout(adv)
        self.width = QSpinBox(objectName="evalWidthSpin", minimum=0, maximum=1024)
        self.width.setSpecialValueText("literature (128)")
        self.width.setToolTip("Width of the evaluated networks; 0 = the literature's")
        af.addRow("Width", self.width)
        self.batch = QSpinBox(objectName="evalBatchSpin", minimum=1, maximum=65_536)
        af.addRow("Batch size", self.batch)
        self.protocol = QComboBox(objectName="evalProtocolCombo")
        self.protocol.addItem("fixed set (standard)", "fixed")
        self.protocol.addItem("new samples every epoch (DiM)", "on-the-fly")
        self.protocol.setToolTip(
            "What the networks train on: the fixed set of the literature, or DiM's fresh "
            "samples from the generator every epoch (labelled as such in the results)"
        )
        af.addRow("Samples", self.protocol)
        self.report = QComboBox(objectName="evalReportCombo")
        self.report.addItem("final accuracy (standard)", "final")
        self.report.addItem("best of checks (DiM, peeks at test)", "best-of-checks")
        self.report.setToolTip(
            "Final accuracy is the standard; best of checks reports the best of 5 test-set "
            "checks, as DiM does (optimistic: it selects on the test set)"
        )
        af.addRow("Report", self.report)
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
        lv.addStretch(1)

        exp = QGroupBox("Export")
        ef = QFormLayout(exp)
        self.export_format = QComboBox(objectName="exportFormatCombo")
        for fmt, (text, _suffix, _filter) in SET_FORMATS.items():
            self.export_format.addItem(text, fmt)
        self.export_format.currentIndexChanged.connect(self._format_changed)
        self.export_format.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.export_format.setMinimumContentsLength(12)  # the list opens full width
        ef.addRow("Format", self.export_format)
        self.export_ipc = QSpinBox(objectName="exportIpcSpin", minimum=1, maximum=100_000)
        self.export_ipc.setToolTip("Images per class of the exported set")
        ef.addRow("IPC", self.export_ipc)
        self.export_button = QPushButton("Export set...", objectName="exportButton")
        self.export_button.setToolTip("Write the distilled set (or the generator) to a file")
        self.export_button.clicked.connect(self.export_set)
        ef.addRow(self.export_button)
        row = QHBoxLayout()
        self.chart_button = QPushButton("Save chart...", objectName="saveChartButton")
        self.chart_button.setToolTip("The chart shown, as PNG or SVG")
        self.chart_button.clicked.connect(self.save_chart)
        self.table_button = QPushButton("Save table...", objectName="saveTableButton")
        self.table_button.setToolTip("Every result row as CSV")
        self.table_button.clicked.connect(self.save_table)
        row.addWidget(self.chart_button)
        row.addWidget(self.table_button)
        ef.addRow(row)
        lv.addWidget(exp)
        outer.addWidget(left)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        self.title = QLabel(objectName="evalTitle", wordWrap=True)
        head.addWidget(self.title, 1)
        head.addWidget(QLabel("Chart"))
        self.chart_kind = QComboBox(objectName="evalChartKind")
        self.chart_kind.setMinimumContentsLength(22)
        self.chart_kind.currentIndexChanged.connect(self._draw_chart)
        head.addWidget(self.chart_kind)
        rv.addLayout(head)
        split = QSplitter(Qt.Orientation.Vertical, objectName="evalVSplitter")
        self.chart = ResultsChart()
        split.addWidget(self.chart)
        self.table = QTableWidget(0, len(TABLE_COLUMNS), objectName="evalTable")
        self.table.setHorizontalHeaderLabels(TABLE_COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # The longest column (the source's title) takes the width left over and is elided
        # when there is little, so Epochs and Protocol stay in view at 1280 px; the full
        # title is the cell's tooltip.
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(False)
        split.addWidget(self.table)
        # A sweep's evaluation against its swept settings (sweep/table.py: mean +- std over
        # the seeds), shown when the sweep itself is selected in the runs list.
        self.sweep_table = QPlainTextEdit(objectName="sweepTable", readOnly=True)
        self.sweep_table.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.sweep_table.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.sweep_table.setVisible(False)
        self.sweep_table.setMaximumHeight(150)
        split.setSizes([420, 260])
        rv.addWidget(split, 1)
        rv.addWidget(self.sweep_table)
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

    def _fill_settings(self, run_dir: Path) -> None:
        from ..rundir.artifacts import run_config

        try:
            cfg = run_config(run_dir)
        except GddError:
            return
        self._filled_from = run_dir
        self.set_settings(_last_settings(run_dir, cfg.evaluation), default_ipc=cfg.ipc)
        self.export_ipc.setValue(cfg.ipc)

    def set_settings(self, s: EvalConfig, default_ipc: int | None = None) -> None:
        """Show an evaluation config in the widgets (what Evaluate will run)."""
        self._base = copy.deepcopy(s)
        self.archs.set_checked(s.archs)
        ipcs = s.ipcs or ([default_ipc] if default_ipc else [])
        self.ipcs.setText(", ".join(str(i) for i in ipcs))
        self.repeats.setValue(s.repeats)
        self.epochs.setValue(s.epochs)
        self.gan_only.setChecked(s.gan_only)
        self.full_real.setChecked(s.full_real)
        self.dm_real.setChecked(s.dm_real)
        self.dm_minutes.setValue(s.dm_minutes or 0.0)
        self.width.setValue(s.width or 0)
        self.batch.setValue(s.batch_size)
        self.protocol.setCurrentIndex(max(0, self.protocol.findData(s.protocol)))
        self.report.setCurrentIndex(max(0, self.report.findData(s.report)))

    def settings(self) -> EvalConfig:
        """The evaluation the widgets describe; ValueError with one message if it is not one."""
        s = copy.deepcopy(self._base)
        s.archs = self.archs.checked()
        if not s.archs:
            raise ValueError("tick at least one network to evaluate")
        s.ipcs = parse_ipcs(self.ipcs.text())
        s.repeats, s.epochs = self.repeats.value(), self.epochs.value()
        s.gan_only, s.full_real = self.gan_only.isChecked(), self.full_real.isChecked()
        s.dm_real, s.dm_minutes = self.dm_real.isChecked(), self.dm_minutes.value() or None
        s.width = self.width.value() or None
        s.batch_size = self.batch.value()
        s.protocol, s.report = self.protocol.currentData(), self.report.currentData()
        return s

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
            f"IPC {_ipc_text(p.ipc)}, {source}, repeat {p.repeat + 1}), epoch {p.epoch} of "
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
            f"{p.iterations}, ETA {fmt_duration(p.eta_s)}"
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

    # ---- results ---------------------------------------------------------------------
    def _results_stamp(self) -> tuple:
        from ..evaluation.protocol import results_path

        stamps = []
        for d in self.run_dirs:
            try:
                stamps.append(results_path(d).stat().st_mtime_ns)
            except OSError:
                stamps.append(None)
        return tuple(stamps)

    def poll(self) -> None:
        """Show results another process (the CLI's evaluate) saved since the last read."""
        if self._results_stamp() != self._stamp:
            self.refresh_results()

    def refresh_results(self) -> None:
        """Re-read the results of the shown runs from their folders."""
        from ..evaluation.compare import comparison_rows, run_labels

        self._stamp = self._results_stamp()
        self.rows = comparison_rows(self.run_dirs) if self.run_dirs else []
        comparing = len(self.run_dirs) > 1
        if not self.run_dirs:
            self.title.setText("Select a run in the runs list (several to compare them).")
        elif comparing:
            labels = run_labels(self.run_dirs)
            self.title.setText(
                f"<b>Comparing {len(self.run_dirs)} runs</b> (selected together in the runs "
                "list; click one run to see it alone): "
                + "; ".join(labels[d] for d in self.run_dirs)
            )
        else:
            self.title.setText(f"<b>{self.run_dirs[0].name}</b>")
        self._fill_sweep_table()
        self._fill_table(comparing)
        self._fill_chart_kinds()
        self.chart_button.setEnabled(bool(self.rows))
        self.table_button.setEnabled(bool(self.rows))

    def _fill_sweep_table(self) -> None:
        self.sweep_table.setVisible(self.sweep_dir is not None)
        self._sweep = None
        if self.sweep_dir is None:
            return
        from ..sweep.table import sweep_table, table_text

        n = len(self.run_dirs)
        self.title.setText(
            f"<b>Sweep {self.sweep_dir.name}</b>: comparing its {n} members (evaluate them "
            "all with Evaluate; the table below pools the seeds)"
        )
        try:
            self._sweep = sweep_table(self.sweep_dir)
            text = table_text(self._sweep)
        except GddError:
            self._sweep = None
            text = (
                "No member has evaluation results yet: press "
                f"{'Evaluate' if n == 1 else f'Evaluate {n} runs'} to evaluate them all."
            )
        if self.sweep_table.toPlainText() != text:
            self.sweep_table.setPlainText(text)

    def _fill_table(self, comparing: bool) -> None:
        from ..export.charts import series_name

        t = self.table
        t.setSortingEnabled(False)
        t.setRowCount(len(self.rows))
        for i, r in enumerate(self.rows):
            source = SOURCE_TITLES.get(r.get("source"), r.get("source"))
            selection = ""
            if r.get("source") in ("distilled", "gan-only"):
                selection = r.get("selection") or "random"
            protocol = r.get("protocol", "fixed")
            if r.get("report") == "best-of-checks":
                protocol += ", best of checks"
            mean, std = r.get("mean"), r.get("std")
            acc = f"{100 * mean:.2f} ± {100 * std:.2f}" if mean is not None else "-"
            values = [
                r.get("run_label", ""), ARCH_TITLES.get(r.get("arch"), r.get("arch")),
                _ipc_text(r.get("ipc")), source, selection, acc, str(r.get("n", "")),
                str(r.get("epochs", "")), protocol,
            ]  # fmt: skip
            for j, value in enumerate(values):
                item = QTableWidgetItem(str(value))
                if j in (2, 5, 6, 7):
                    item.setTextAlignment(RIGHT)
                if j == 3:
                    item.setToolTip(str(source))  # the column may elide it
                if j == 5:
                    each = ", ".join(f"{100 * a:.2f}" for a in r.get("accuracies", []))
                    item.setToolTip(f"{series_name(r)}: each network {each}")
                t.setItem(i, j, item)
        t.setColumnHidden(0, not comparing)
        t.setSortingEnabled(True)

    def _fill_chart_kinds(self) -> None:
        current = self.chart_kind.currentData()
        ipcs = sorted({r["ipc"] for r in self.rows if r.get("ipc") is not None})
        archs = [a for a in ARCH_TITLES if any(r.get("arch") == a for r in self.rows)]
        self.chart_kind.blockSignals(True)
        self.chart_kind.clear()
        if self._sweep is not None:  # the sweep's own chart first: against its setting
            panels = sorted({(str(r["arch"]), r["ipc"]) for r in self._sweep.rows},
                            key=lambda p: (p[0], math.inf if p[1] is None else p[1]))  # fmt: skip
            for arch, ipc in panels:
                budget = "full set" if ipc is None else f"IPC {ipc}"
                title = f"against {self._sweep.x_key}, {ARCH_TITLES.get(arch, arch)} {budget}"
                self.chart_kind.addItem(title, ("sweep", (arch, ipc)))
        for ipc in ipcs:
            self.chart_kind.addItem(f"by network, IPC {ipc}", ("arch", ipc))
        if len(ipcs) > 1:
            for arch in archs:
                self.chart_kind.addItem(f"against IPC, {ARCH_TITLES[arch]}", ("ipc", arch))
        index = self.chart_kind.findData(current) if current is not None else -1
        self.chart_kind.setCurrentIndex(index if index >= 0 else 0)
        self.chart_kind.blockSignals(False)
        self._draw_chart()

    @Slot()
    def _draw_chart(self) -> None:
        kind = self.chart_kind.currentData()
        if not self.rows or kind is None:
            self.chart.clear_chart(
                "no results yet: press Evaluate" if self.run_dirs else "no run selected"
            )
            return
        if kind[0] == "sweep" and self._sweep is not None:
            arch, ipc = kind[1]
            rows = [r for r in self._sweep.rows if str(r["arch"]) == arch and r["ipc"] == ipc]
            self.chart.show_sweep(rows, self._sweep.x_key, self._sweep.numeric)
            return
        self.chart.show_rows(self.rows, *kind)

    # ---- exports ---------------------------------------------------------------------
    def ask_save_path(self, title: str, suggested: str, filters: str) -> tuple[str, str]:
        """(path, chosen filter) from a save dialog; ('', '') when cancelled."""
        if filters == SET_FORMATS["png"][2]:  # a folder is the target
            dialog = FolderTargetDialog(self, title, self._last_dir / suggested)
            if dialog.exec() != QDialog.DialogCode.Accepted or not dialog.chosen:
                return "", ""
            return dialog.chosen, filters
        return QFileDialog.getSaveFileName(
            self, title, str(self._last_dir / suggested), filters,
            options=QFileDialog.Option.DontConfirmOverwrite,
        )  # fmt: skip

    def _ask_overwrite(self, path: Path) -> bool:
        answer = QMessageBox.question(
            self, "Replace?", f"{path} exists. Replace it?\nThe old one is kept until the new "
            "one is completely written.",
        )  # fmt: skip
        return answer == QMessageBox.StandardButton.Yes

    def _target(self, title: str, suggested: str, filters: str, suffixes: dict[str, str]):
        """Ask for a path; add the chosen filter's suffix; confirm replacing. None = cancel."""
        path, chosen = self.ask_save_path(title, suggested, filters)
        if not path:
            return None, False
        out = Path(path)
        if suffixes and out.suffix.lower() not in suffixes.values():
            out = out.with_name(out.name + suffixes.get(chosen, next(iter(suffixes.values()))))
        self._last_dir = out.parent
        overwrite = out.exists()
        if overwrite and not self.confirm_overwrite(out):
            return None, False
        return out, overwrite

    def _format_changed(self) -> None:
        fmt = self.export_format.currentData()
        self.export_ipc.setEnabled(bool(self.run_dirs) and fmt != "generator")

    @Slot()
    def export_set(self) -> Path | None:
        """Export the first selected run's set (or generator) through a save dialog."""
        from ..export.sets import export_generator
        from ..export.sets import export_set as write_set

        if not self.run_dirs:
            return None
        run_dir = self.run_dirs[0]
        fmt = self.export_format.currentData()
        text, suffix, filters = SET_FORMATS[fmt]
        ipc = self.export_ipc.value()
        name = f"{run_dir.name}-generator" if fmt == "generator" else f"{run_dir.name}-ipc{ipc}"
        out, overwrite = self._target(
            f"Export {text}", name + suffix, filters, {filters: suffix} if suffix else {}
        )
        if out is None:
            return None
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            if fmt == "generator":
                written = export_generator(run_dir, out, overwrite=overwrite)
            else:
                written = write_set(run_dir, fmt, ipc, out, overwrite=overwrite)
        except (GddError, OSError) as exc:
            self._message("error", "Export failed", str(exc))
            return None
        finally:
            QApplication.restoreOverrideCursor()
        what = "the generator" if fmt == "generator" else f"the IPC-{ipc} set ({fmt})"
        self.status.setText(f"Exported {what} to {written}")
        self._message("info", "Exported", f"{what[0].upper()}{what[1:]} is in\n{written}")
        return written

    def _chart_title(self) -> str:
        from ..rundir.artifacts import run_config

        try:
            dataset = run_config(self.run_dirs[0]).dataset
        except (GddError, IndexError):
            dataset = ""
        what = "runs compared" if len(self.run_dirs) > 1 else "distilled set against baselines"
        if self._sweep is not None:
            what = f"accuracy against {self._sweep.x_key}"  # as `chart SWEEP_DIR` titles it
        return f"{dataset}: {what}" if dataset else what

    @Slot()
    def save_chart(self) -> Path | None:
        """The chart shown (kind and IPC or network) as PNG or SVG, drawn by matplotlib."""
        from ..export.charts import write_chart

        kind = self.chart_kind.currentData()
        if not self.rows or kind is None:
            return None
        png, svg = "PNG image (*.png)", "SVG image (*.svg)"
        name = self.run_dirs[0].name + ("-compare" if len(self.run_dirs) > 1 else "")
        out, overwrite = self._target(
            "Save chart", f"{name}-{kind[0]}.png", f"{png};;{svg}", {png: ".png", svg: ".svg"}
        )
        if out is None:
            return None
        chart_kind, key = kind
        rows = [r for r in self.rows if r.get("ipc") in (key, None)] if chart_kind == "arch" else (
            self.rows
        )  # fmt: skip
        try:
            if chart_kind == "sweep" and self._sweep is not None:
                from ..sweep.table import write_sweep_chart

                # Every network and IPC of the sweep, as `gdd-studio-cli chart SWEEP_DIR`.
                written = write_sweep_chart(self._sweep, out, overwrite=overwrite,
                                            title=self._chart_title())  # fmt: skip
            else:
                written = write_chart(rows, out, chart_kind, overwrite=overwrite,
                                      title=self._chart_title())  # fmt: skip
        except (GddError, OSError) as exc:
            self._message("error", "Cannot save the chart", str(exc))
            return None
        self.status.setText(f"Chart saved to {written}")
        return written

    @Slot()
    def save_table(self) -> Path | None:
        """Every result row shown, as CSV (accuracies in percent)."""
        from ..export.charts import write_chart

        if not self.rows:
            return None
        csv_filter = "CSV (*.csv)"
        name = self.run_dirs[0].name + ("-compare" if len(self.run_dirs) > 1 else "")
        out, overwrite = self._target(
            "Save table", f"{name}-results.csv", csv_filter, {csv_filter: ".csv"}
        )
        if out is None:
            return None
        try:
            written = write_chart(self.rows, out, overwrite=overwrite)
        except (GddError, OSError) as exc:
            self._message("error", "Cannot save the table", str(exc))
            return None
        self.status.setText(f"Table saved to {written}")
        return written


__all__ = [
    "EvalPanel",
    "FolderTargetDialog",
    "ResultsChart",
    "SetViewer",
    "parse_ipcs",
    "spread_labels",
]
