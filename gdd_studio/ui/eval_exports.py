"""The Evaluation tab's exports: the distilled set (or the generator) to a file or a PNG
folder, and the chart and the table shown, each through a save dialog that asks before
replacing anything.

File dialogs go through ``ask_save_path`` and overwrites through ``confirm_overwrite``,
which tests and scripts replace on the panel.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QWidget,
)

from ..errors import GddError

SET_FORMATS = {
    "pt": ("PyTorch file (.pt)", ".pt", "PyTorch (*.pt)"),
    "npz": ("NumPy file (.npz)", ".npz", "NumPy (*.npz)"),
    "png": ("PNG folder (class/index.png)", "", "Folder name (*)"),
    "generator": ("Generator (.pt), samples any IPC", ".pt", "PyTorch (*.pt)"),
}


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


class EvalExports:
    """The Export box of the Evaluation tab and what its buttons do: a part of
    :class:`~gdd_studio.ui.eval_panel.EvalPanel`, whose attributes its widgets are."""

    run_dirs: list[Path]
    rows: list[dict[str, Any]]
    _last_dir: Path
    _message: Callable[[str, str, str], None]

    def _build_exports(self) -> QGroupBox:
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
        return exp

    # ---- sets made elsewhere ------------------------------------------------------------
    def ask_set_path(self) -> Path | None:
        """A set to import: a file, or (the dialog's second button) a folder."""
        box = QMessageBox(
            QMessageBox.Icon.Question, "Add a set",
            "Is the set one file (.npz, .pt) or a folder (MTT/DATM tensors, or one folder "
            "of images per class)?", parent=self,
        )  # fmt: skip
        file_button = box.addButton("A file...", QMessageBox.ButtonRole.AcceptRole)
        folder_button = box.addButton("A folder...", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() is file_button:
            path, _ = QFileDialog.getOpenFileName(
                self, "Add a set", str(self._last_dir), "Sets (*.npz *.pt *.pth);;All files (*)"
            )
        elif box.clickedButton() is folder_button:
            path = QFileDialog.getExistingDirectory(self, "Add a set", str(self._last_dir))
        else:
            return None
        return Path(path) if path else None

    def ask_set_dataset(self, default: str) -> str | None:
        """The dataset the set stands for (its test split, normalisation, classes)."""
        from PySide6.QtWidgets import QInputDialog

        from ..data.registry import BUILTIN_DATASETS

        names = list(dict.fromkeys([default, *BUILTIN_DATASETS]))
        name, ok = QInputDialog.getItem(
            self, "Add a set", "The dataset the set stands for:", names, 0, True
        )
        return name.strip() if ok and name.strip() else None

    def add_set(self, path: Path | None = None, dataset: str | None = None) -> Path | None:
        """Import a set made elsewhere into the runs folder (``runs_dir``), asking for what
        is not given; the dataset defaults to that of the run shown. Returns its folder."""
        from ..data import load_dataset
        from ..export.imported import import_set
        from ..rundir.artifacts import run_config

        path = path if path is not None else self.ask_set_path()
        if path is None:
            return None
        if dataset is None:
            try:
                default = run_config(self.run_dirs[0]).dataset if self.run_dirs else ""
            except GddError:
                default = ""
            dataset = self.ask_set_dataset(default or "mnist-sample")
            if dataset is None:
                return None
        runs_dir = self.runs_dir()
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            data = load_dataset(dataset, download=False)
            folder = import_set(Path(path), dataset, data, runs_dir)
        except (GddError, OSError) as exc:
            self._message("error", "Cannot add the set", str(exc))
            return None
        finally:
            QApplication.restoreOverrideCursor()
        self._last_dir = Path(path).parent
        self.status.setText(f"Added {Path(path).name} as {folder.name} (imported)")
        self.setImported.emit(folder)
        return folder

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

    def _target(
        self, title: str, suggested: str, filters: str, suffixes: dict[str, str],
        folder: str | None = None,
    ):  # fmt: skip
        """Ask for a path; add the chosen filter's suffix; confirm replacing. None = cancel.

        An existing target the export may not replace (a run's file, a folder of other
        things; ``folder`` names a folder format) is refused before the question."""
        from ..export.sets import check_target

        path, chosen = self.ask_save_path(title, suggested, filters)
        if not path:
            return None, False
        out = Path(path)
        if suffixes and out.suffix.lower() not in suffixes.values():
            out = out.with_name(out.name + suffixes.get(chosen, next(iter(suffixes.values()))))
        self._last_dir = out.parent
        overwrite = out.exists()
        if overwrite:
            try:
                check_target(out, True, folder)
            except GddError as exc:
                self._message("error", "Cannot replace it", str(exc))
                return None, False
        if overwrite and not self.confirm_overwrite(out):
            return None, False
        return out, overwrite

    def _format_changed(self) -> None:
        fmt = self.export_format.currentData()
        self.export_ipc.setEnabled(bool(self.run_dirs) and fmt != "generator")

    @Slot()
    def export_set(self) -> Path | None:
        """Export the first selected run's set (or generator) through a save dialog."""
        from ..export.sets import FOLDER_EXPORTS, export_generator
        from ..export.sets import export_set as write_set

        if not self.run_dirs:
            return None
        run_dir = self.run_dirs[0]
        fmt = self.export_format.currentData()
        text, suffix, filters = SET_FORMATS[fmt]
        ipc = self.export_ipc.value()
        name = f"{run_dir.name}-generator" if fmt == "generator" else f"{run_dir.name}-ipc{ipc}"
        out, overwrite = self._target(
            f"Export {text}",
            name + suffix,
            filters,
            {filters: suffix} if suffix else {},
            fmt if fmt in FOLDER_EXPORTS else None,
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
