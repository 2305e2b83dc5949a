"""The runs list (right of the window) and a sweep's queue of members.

Thin views over ``view.RunsModel``: the model re-reads the runs folder and says which
rows there are and what they say; these widgets keep the user's selection across a
rebuild and tell the window what was chosen, by signals. The queue stands in the Training
tab (the window places it there) but is filled from the same model as the list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..rundir.records import RunSummary
from ..view import Entry, QueueRow, RunsModel

PATH_ROLE = Qt.ItemDataRole.UserRole  # runs list and queue: the run or sweep folder (str)
KIND_ROLE = Qt.ItemDataRole.UserRole + 1  # runs list: "run", "sweep" or "member" (of a sweep)


class SweepQueue(QTreeWidget):
    """A sweep's members: each one's label, state and progress (hidden without a sweep)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="sweepQueue")
        self.setHeaderLabels(["Sweep member", "State", "Progress"])
        self.setRootIsDecorated(False)
        self.setAlternatingRowColors(True)
        self.setMaximumHeight(130)
        self.setColumnWidth(0, 320)
        self.setColumnWidth(1, 110)
        self.setVisible(False)

    def show_rows(self, rows: list[QueueRow] | None) -> None:
        self.setVisible(rows is not None)
        if rows is None:
            return
        while self.topLevelItemCount() > len(rows):
            self.takeTopLevelItem(self.topLevelItemCount() - 1)
        for i, row in enumerate(rows):
            item = self.topLevelItem(i)
            if item is None:
                item = QTreeWidgetItem(self)
            for col, text in enumerate(row.texts):
                if item.text(col) != text:
                    item.setText(col, text)
            item.setData(0, PATH_ROLE, str(row.run_dir))

    def rows(self) -> list[tuple[str, str, str]]:
        """What the queue shows, row by row (tests, scripts)."""
        return [
            tuple(self.topLevelItem(i).text(c) for c in range(3))  # type: ignore[misc]
            for i in range(self.topLevelItemCount())
        ]


class RunsPanel(QWidget):
    """Every run and sweep of the runs folder, Resume, and the Runs folder... button.

    Ctrl- or Shift-click selects several runs (their evaluations are compared). The window
    connects the buttons and the signals.
    """

    runSelected = Signal(object)  # the run (Path) made current: the Training tab shows it
    sweepSelected = Signal(object)  # the sweep (Path) made current
    selectionChanged = Signal()  # the selected runs changed

    def __init__(self, model: RunsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.queue = SweepQueue()
        rv = QVBoxLayout(self)
        rv.setContentsMargins(0, 6, 6, 6)
        rv.addWidget(QLabel("<b>Runs</b>"))
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
        self.runs.currentItemChanged.connect(self._current_changed)
        self.runs.itemSelectionChanged.connect(self.selectionChanged)
        rv.addWidget(self.runs, 1)
        row = QHBoxLayout()
        self.resume_button = QPushButton("Resume", objectName="resumeButton")
        self.resume_button.setToolTip("Continue the selected run from its last checkpoint")
        self.open_runs_button = QPushButton("Runs folder...", objectName="openRunsButton")
        self.open_runs_button.setToolTip(
            "Show the runs of another folder (a shared or synced one a server writes)"
        )
        row.addWidget(self.resume_button)
        row.addWidget(self.open_runs_button)
        rv.addLayout(row)
        self.setMinimumWidth(240)

    # ---- the list -----------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """Re-read the runs folder; rebuild the list only when something changed,
        keeping the current and the selected rows."""
        changed = self.model.refresh()
        self.runs_label.setText(self.model.label_text())
        self.fill_queue()
        if not changed and not force:
            self.update_resume_button()
            return
        current = self.current_path()
        chosen = {str(p) for p in self.selected_paths()} | set(self.selected_sweeps())
        self.runs.blockSignals(True)
        self.runs.clear()
        for entry in self.model.entries():
            item = self._item(entry)
            self.runs.addItem(item)
            if current is not None and current == entry.path:
                self.runs.setCurrentItem(item)
            item.setSelected(entry.path in chosen)
        self.runs.blockSignals(False)
        self.update_resume_button()

    @staticmethod
    def _item(entry: Entry) -> QListWidgetItem:
        item = QListWidgetItem(entry.text)
        item.setData(PATH_ROLE, entry.path)
        item.setData(KIND_ROLE, entry.kind)
        item.setToolTip(entry.tooltip)
        if entry.kind == "sweep":
            font = item.font()
            font.setBold(True)
            item.setFont(font)
        return item

    def fill_queue(self) -> None:
        self.queue.show_rows(self.model.queue_rows())

    def update_active_item(self) -> None:
        """The run trained here shows the live percentage, not run.json's."""
        run_dir = self.model.here.run_dir
        summary = self.model.summary(run_dir) if run_dir is not None else None
        if summary is None:
            return
        for row in range(self.runs.count()):
            item = self.runs.item(row)
            if item.data(PATH_ROLE) == str(run_dir):
                text = self.model.run_text(summary, item.data(KIND_ROLE) == "member")
                if item.text() != text:
                    item.setText(text)
                return

    # ---- selection ----------------------------------------------------------------------
    def current_path(self) -> str | None:
        item = self.runs.currentItem()
        return item.data(PATH_ROLE) if item is not None else None

    def selected_paths(self) -> list[Path]:
        """Every selected run, the current one first (exports and defaults use it)."""
        current = self.current_path()
        paths = [
            Path(i.data(PATH_ROLE)) for i in self.runs.selectedItems()
            if i.data(KIND_ROLE) != "sweep"
        ]  # fmt: skip
        paths.sort(key=lambda p: str(p) != current)
        return paths

    def selected_sweeps(self) -> list[str]:
        return [
            i.data(PATH_ROLE) for i in self.runs.selectedItems() if i.data(KIND_ROLE) == "sweep"
        ]

    def current_sweep(self) -> Path | None:
        """The sweep whose entry is the current row, if it is one."""
        item = self.runs.currentItem()
        if item is not None and item.data(KIND_ROLE) == "sweep":
            return Path(item.data(PATH_ROLE))
        return None

    def current_summary(self) -> RunSummary | None:
        path = self.current_path()
        return self.model.summaries.get(path) if path else None

    def select(self, run_dir: Path, notify: bool = True, exclusive: bool = False) -> None:
        """Make ``run_dir`` current (alone, with ``exclusive``); ``notify=False`` tells
        nobody (the window shows it itself)."""
        for row in range(self.runs.count()):
            item = self.runs.item(row)
            if Path(item.data(PATH_ROLE)) == run_dir:
                self.runs.blockSignals(not notify)
                if exclusive:
                    self.runs.clearSelection()
                self.runs.setCurrentItem(item)
                item.setSelected(True)
                self.runs.blockSignals(False)
                self.update_resume_button()
                return

    def update_resume_button(self) -> None:
        busy = self.model.here.running
        sweep = self.current_sweep()
        if sweep is not None:
            self.resume_button.setEnabled(not busy and self.model.sweep_resumable(sweep))
            return
        summary = self.current_summary()
        self.resume_button.setEnabled(
            not busy and summary is not None and (summary.resumable or summary.lost_checkpoint)
        )

    @Slot(object, object)
    def _current_changed(self, current: QListWidgetItem | None, _previous: Any = None) -> None:
        self.update_resume_button()
        if current is None:
            return
        path = Path(current.data(PATH_ROLE))
        if current.data(KIND_ROLE) == "sweep":
            self.model.queue_sweep = path
            self.fill_queue()
            self.sweepSelected.emit(path)
            return
        if self.model.here.sweep_dir is None:
            self.model.queue_sweep = self.model.sweep_of(path)
            self.fill_queue()
        self.runSelected.emit(path)
