"""The runs list (right of the window) and a sweep's queue of members.

Thin views over ``view.RunsModel``: the model re-reads the runs folder and says which
rows there are and what they say; these widgets keep the user's selection across a
rebuild and tell the window what was chosen, by signals. The queue stands in the Training
tab (the window places it there) but is filled from the same model as the list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QThreadPool, Signal, Slot
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
from ..view.runs import RunsSnapshot

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


class _Scanner(QObject):
    """Reads the runs folder on a thread of the panel's own pool (``RunsModel.scan``): a
    folder of thousands of runs never holds the GUI thread. Its signal reaches the panel
    queued, on the GUI thread (the pool waits for a read under way when it is deleted)."""

    scanned = Signal(object)  # a RunsSnapshot, or None when the read failed

    def __init__(self, model: RunsModel) -> None:
        super().__init__()
        self.model = model

    @Slot()
    def scan(self) -> None:
        try:
            snap: RunsSnapshot | None = self.model.scan()
        except Exception:  # noqa: BLE001 - a folder gone or unreadable: the next poll retries
            snap = None
        self.scanned.emit(snap)


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
        self.runs.setUniformItemSizes(True)  # every row two lines: no per-row measuring
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
        # What the list shows (the model's rows when last drawn) and each path's row.
        self._entries: list[Entry] = []
        self._paths: list[str] = []
        self._rows: dict[str, int] = {}
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._scanner = _Scanner(model)
        self._scanner.scanned.connect(self._on_scanned)
        self._scanning = self._closed = False

    # ---- the list -----------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """Re-read the runs folder now (on this thread); redraw only what changed,
        keeping the current and the selected rows (``force``: rebuild the list)."""
        self._show(self.model.refresh(), force)

    def poll(self) -> None:
        """Re-read the runs folder on the scanner's thread; the list follows when the
        read is done (a read still going is not asked again)."""
        if not self._scanning and not self._closed:
            self._scanning = True
            self._pool.start(self._scanner.scan)

    @Slot(object)
    def _on_scanned(self, snap: RunsSnapshot | None) -> None:
        self._scanning = False
        if snap is not None:
            self._show(self.model.apply(snap))

    def shutdown(self) -> None:
        """No more reads; wait for one under way (the window closes)."""
        self._closed = True
        self._pool.waitForDone()

    def _show(self, changed: bool, force: bool = False) -> None:
        self.runs_label.setText(self.model.label_text())
        self.fill_queue()
        if changed or force:
            self._render(force)
        self.update_resume_button()

    def _render(self, force: bool) -> None:
        """Redraw the list from the model's rows: the texts of the rows that changed
        when the rows are the same runs in the same order; new runs at the top inserted
        there; anything else (a run gone, a sweep regrouped) rebuilt, keeping the current
        and the selected rows."""
        entries = self.model.rows
        paths = [e.path for e in entries]
        added = len(paths) - len(self._paths)
        if not force and paths == self._paths:
            for row, (new, old) in enumerate(zip(entries, self._entries, strict=True)):
                if new is not old and new != old:
                    self._update_item(self.runs.item(row), new)
        elif not force and added > 0 and paths[added:] == self._paths:
            self.runs.blockSignals(True)
            for row, entry in enumerate(entries[:added]):
                self.runs.insertItem(row, self._item(entry))
            for row, (new, old) in enumerate(zip(entries[added:], self._entries, strict=True)):
                if new is not old and new != old:
                    self._update_item(self.runs.item(added + row), new)
            self.runs.blockSignals(False)
        else:
            current = self.current_path()
            chosen = {str(p) for p in self.selected_paths()} | set(self.selected_sweeps())
            self.runs.blockSignals(True)
            self.runs.setUpdatesEnabled(False)
            self.runs.clear()
            for entry in entries:
                item = self._item(entry)
                self.runs.addItem(item)
                if current is not None and current == entry.path:
                    self.runs.setCurrentItem(item)
                item.setSelected(entry.path in chosen)
            self.runs.setUpdatesEnabled(True)
            self.runs.blockSignals(False)
        self._entries, self._paths = entries, paths
        self._rows = {p: i for i, p in enumerate(paths)}

    @staticmethod
    def _update_item(item: QListWidgetItem, entry: Entry) -> None:
        item.setText(entry.text)
        item.setToolTip(entry.tooltip)
        item.setData(KIND_ROLE, entry.kind)

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
        row = self._rows.get(str(run_dir))
        item = self.runs.item(row) if row is not None else None
        if item is not None and item.data(PATH_ROLE) == str(run_dir):
            text = self.model.run_text(summary, item.data(KIND_ROLE) == "member")
            if item.text() != text:
                item.setText(text)

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
        row = self._rows.get(str(run_dir))
        item = self.runs.item(row) if row is not None else None
        if item is None or Path(item.data(PATH_ROLE)) != Path(run_dir):
            return
        self.runs.blockSignals(not notify)
        if exclusive:
            self.runs.clearSelection()
        self.runs.setCurrentItem(item)
        item.setSelected(True)
        self.runs.blockSignals(False)
        self.update_resume_button()

    def add_to_selection(self, run_dir: Path) -> None:
        """Select ``run_dir`` as well (the current row stays the current one)."""
        row = self._rows.get(str(run_dir))
        item = self.runs.item(row) if row is not None else None
        if item is not None:
            item.setSelected(True)

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
