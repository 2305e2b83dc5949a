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
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSlider,
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
from ..evaluation.protocol import SOURCE_TITLES
from ..models.nets import ARCH_TITLES
from .jobs import Job, wait_for_jobs
from .setup_panel import SELECTION_TITLES, NetworkList
from .worker import EvalWorker, SetWorker

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


def spread_labels(
    labels: list[tuple[float, float, str]], gap: float
) -> list[tuple[float, float, str]]:
    """Move the value labels at one x apart (by at least ``gap`` in y), keeping their order,
    so the lines of an against-IPC chart never print one number over another."""
    out: list[tuple[float, float, str]] = []
    for x in sorted({lab[0] for lab in labels}):
        column = sorted((lab for lab in labels if lab[0] == x), key=lambda lab: lab[1])
        placed: list[float] = []
        for _, y, _text in column:
            placed.append(max(y, placed[-1] + gap) if placed else y)
        # Centre the shifted stack on the points it labels.
        shift = (sum(lab[1] for lab in column) - sum(placed)) / len(placed)
        out += [(x, y + shift, lab[2]) for y, lab in zip(placed, column, strict=True)]
    return out


class ResultsChart(pg.PlotWidget):
    """Grouped bars with +-1 std error bars per network, or accuracy against IPC.

    ``drawn`` lists what the last :meth:`show_rows` drew: (series, x label, mean %, std %).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        self.setObjectName("evalChart")
        self.setMinimumHeight(220)
        self.item = self.getPlotItem()
        self.item.showGrid(y=True, alpha=0.3)
        self.item.setLabel("left", "test accuracy (%)")
        self.item.setMenuEnabled(False)
        self.item.getViewBox().setMouseEnabled(x=False, y=False)
        # Categories, not quantities: pyqtgraph would label a -0.6..0.6 axis "(x0.001)".
        self.item.getAxis("bottom").enableAutoSIPrefix(False)
        # The legend sits in its own row under the axis, so it never hides a bar.
        self.legend = pg.LegendItem(colCount=2, labelTextSize="8pt", verSpacing=-6)
        self.item.layout.addItem(self.legend, 4, 1)
        self.drawn: list[tuple[str, str, float, float]] = []
        self.series: list[str] = []
        self.value_labels: list[tuple[float, float, str]] = []  # (x, y, text) drawn
        self._empty = pg.TextItem("no results yet", color="#888", anchor=(0.5, 0.5))

    def _fit_legend(self) -> None:
        """As many legend columns as the widest entry allows: the legend wraps into rows
        instead of pushing the plot past the widget's right edge."""
        widest = max((len(name) for name in getattr(self, "series", [])), default=10)
        entry = 34 + 6 * widest  # swatch and text at 8 pt
        columns = max(1, min(4, (self.width() - 60) // max(1, entry)))
        if columns != self.legend.columnCount:
            self.legend.setColumnCount(columns)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if hasattr(self, "legend"):  # the first resize comes from the base class's __init__
            self._fit_legend()

    def clear_chart(self, text: str = "no results yet") -> None:
        self.item.clear()
        self.legend.clear()
        self.drawn, self.series, self.value_labels = [], [], []
        self._empty.setText(text)
        self.item.addItem(self._empty)
        self._empty.setPos(0.5, 50)
        self.item.getAxis("bottom").setTicks([[(0.5, "")]])
        self.item.setXRange(0, 1)
        self.item.setYRange(0, 100)
        self.item.setLabel("bottom", "")

    def show_rows(self, rows: list[dict[str, Any]], kind: str, key: Any) -> None:
        from ..export.charts import COLOURS, ordered_series, series_name

        self.item.clear()
        self.legend.clear()
        self.drawn, self.value_labels = [], []
        if kind == "arch":  # one IPC: x = network, a bar per series; full-real always shown
            rows = [r for r in rows if r.get("ipc") in (key, None)]
        else:  # one network: x = IPC
            rows = [r for r in rows if r.get("arch") == key and r.get("ipc") is not None]
        rows = [r for r in rows if r.get("mean") is not None]
        if not rows:
            self.clear_chart()
            return
        self.series = ordered_series(rows)
        self._fit_legend()
        if kind == "arch":
            xs_keys = [a for a in ARCH_TITLES if any(r["arch"] == a for r in rows)]
            titles = [ARCH_TITLES[a] for a in xs_keys]
            field = "arch"
            self.item.setLabel("bottom", f"network (IPC {key})")
        else:
            xs_keys = sorted({r["ipc"] for r in rows})
            titles = [str(i) for i in xs_keys]
            field = "ipc"
            self.item.setLabel("bottom", f"images per class ({ARCH_TITLES.get(key, key)})")
        n = len(self.series)
        width = 0.8 / n
        top = 0.0
        label_values = len(rows) <= 16
        for j, name in enumerate(self.series):
            colour = QColor(COLOURS[j % len(COLOURS)])
            pts = []
            for i, x_key in enumerate(xs_keys):
                for r in rows:
                    if r[field] == x_key and series_name(r) == name:
                        pts.append((i, 100 * r["mean"], 100 * r["std"], titles[i]))
                        break
            if not pts:
                continue
            x = np.array([p[0] for p in pts], dtype=float)
            y = np.array([p[1] for p in pts])
            e = np.array([p[2] for p in pts])
            if kind == "arch":
                x = x + (j - (n - 1) / 2) * width
                bars = pg.BarGraphItem(
                    x=x, height=y, width=width * 0.9, brush=colour, pen=pg.mkPen(None), name=name
                )
                self.item.addItem(bars)
                self.legend.addItem(bars, name)
            else:
                line = pg.PlotDataItem(
                    x, y, pen=pg.mkPen(colour, width=2), symbol="o", symbolBrush=colour,
                    symbolPen=None, name=name,
                )  # fmt: skip
                self.item.addItem(line)
                self.legend.addItem(line, name)
            beam = width * 0.3 if kind == "arch" else 0.08
            self.item.addItem(
                pg.ErrorBarItem(x=x, y=y, top=e, bottom=e, beam=beam, pen=pg.mkPen("#333"))
            )
            if label_values:
                for xi, yi, ei in zip(x, y, e, strict=True):
                    if kind == "arch":  # above the bar and its error bar
                        self.value_labels.append((float(xi), float(yi + ei), f"{yi:.1f}"))
                    else:  # beside the point, so the line's labels can stack
                        self.value_labels.append((float(xi), float(yi), f"{yi:.1f}"))
            top = max(top, float((y + e).max()))
            self.drawn += [(name, p[3], p[1], p[2]) for p in pts]
        self.item.getAxis("bottom").setTicks([list(enumerate(titles))])
        self.item.setXRange(-0.6, len(xs_keys) - 0.4, padding=0)
        y_top = min(105.0, top * 1.08 + 2)
        self.item.setYRange(0, y_top, padding=0)
        if kind == "ipc":
            self.value_labels = spread_labels(self.value_labels, 0.045 * y_top)
        for xi, yi, text in self.value_labels:
            anchor = (0.5, 1.0) if kind == "arch" else (-0.15, 0.5)
            item = pg.TextItem(text, color="#222", anchor=anchor)
            item.setFont(QFont("", 7))
            item.setPos(xi, yi)
            self.item.addItem(item)


class SetViewer(QWidget):
    """The whole distilled set of a run as a grid by class, at a size the user picks.

    The set is made (or read back) on a worker thread: herding may first train the run's
    observer. With "Show candidates" the viewer shows every draw the rule chose from, the
    kept ones framed and the rejected ones dimmed; hovering an image names its class,
    whether it was kept and the observer's confidence in its label.
    """

    loaded = Signal()  # a set (or a message) is shown

    def __init__(self, message: Message, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("setViewer")
        self._message = message
        self.run_dir: Path | None = None
        self.stored = None  # the StoredSet shown
        self._mosaic: QPixmap | None = None
        self._classes: list[str] = []
        self._rows: list[int] = []  # mosaic row where each class starts
        self._tiles: list[tuple[int, int, int]] = []  # (top, left, index shown) per tile
        self._tile = 0
        self._margin = 110
        self._job: Job | None = None
        self._wanted: tuple | None = None  # what the running worker was asked for
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("IPC"))
        self.ipc = QSpinBox(objectName="viewerIpcSpin", minimum=1, maximum=1000, value=10)
        self.ipc.setToolTip("Images per class to show (made from the generator if needed)")
        self.ipc.setKeyboardTracking(False)
        self.ipc.valueChanged.connect(self.reload)
        row.addWidget(self.ipc)
        row.addSpacing(12)
        row.addWidget(QLabel("Selection"))
        self.selection = QComboBox(objectName="viewerSelectionCombo")
        for value, text in SELECTION_TITLES.items():
            self.selection.addItem(text, value)
        self.selection.setToolTip(
            "How the generator's draws become the set. Another rule makes another set (kept "
            "beside the run's own); evaluations and exports record which rule made theirs."
        )
        self.selection.currentIndexChanged.connect(self.reload)
        self.selection.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.selection.setMinimumContentsLength(19)  # the list opens full width
        row.addWidget(self.selection)
        self.show_candidates = QCheckBox("Show candidates", objectName="viewerCandidatesCheck")
        self.show_candidates.setToolTip(
            "Every draw the rule chose from: kept images framed, rejected ones dimmed"
        )
        self.show_candidates.toggled.connect(self._rebuild)
        row.addWidget(self.show_candidates)
        row.addStretch(1)
        layout.addLayout(row)
        # The size control shares the caption's line, so the first row fits a 1280 px window.
        below = QHBoxLayout()
        self.caption = QLabel("Select a finished run.", objectName="viewerCaption")
        self.caption.setWordWrap(True)
        below.addWidget(self.caption, 1)
        below.addWidget(QLabel("Size"))
        self.zoom = QSlider(Qt.Orientation.Horizontal, objectName="viewerZoomSlider")
        self.zoom.setRange(1, 8)
        self.zoom.setValue(2)
        self.zoom.setFixedWidth(90)
        self.zoom.setToolTip("Each generated pixel as a square of this many screen pixels")
        self.zoom.valueChanged.connect(self._draw)
        below.addWidget(self.zoom)
        self.zoom_label = QLabel()
        below.addWidget(self.zoom_label)
        layout.addLayout(below)
        self.view = QLabel(objectName="setView", alignment=Qt.AlignmentFlag.AlignCenter)
        self.view.setStyleSheet("background: #111; color: #aaa;")
        self.view.setMouseTracking(True)
        self.view.installEventFilter(self)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(self.view)
        layout.addWidget(scroll, 1)
        self.images: np.ndarray | None = None
        self.labels: np.ndarray | None = None

    @property
    def busy(self) -> bool:
        return self._job is not None

    def set_run(self, run_dir: Path | None) -> None:
        if run_dir == self.run_dir and self.images is not None:
            return
        self.run_dir = run_dir
        if run_dir is not None:
            try:
                from ..rundir.artifacts import run_config

                cfg = run_config(run_dir)
                for widget, value in ((self.ipc, cfg.ipc), (self.selection, None)):
                    widget.blockSignals(True)
                    if value is not None:
                        widget.setValue(value)
                    else:
                        i = widget.findData(cfg.sampling.selection)
                        widget.setCurrentIndex(max(i, 0))
                    widget.blockSignals(False)
            except GddError:
                pass
        if self.isVisible():
            self.reload()
        else:
            self.images = None  # loaded when the tab is shown

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self.images is None and self.run_dir is not None and not self.busy:
            self.reload()

    def _request(self) -> tuple | None:
        if self.run_dir is None:
            return None
        return (self.run_dir, self.ipc.value(), self.selection.currentData())

    @Slot()
    def reload(self) -> None:
        """Show the run's set at the chosen IPC and rule (made once and kept, like exports)."""
        self.images = self.labels = self.stored = None
        self._mosaic = None
        wanted = self._request()
        if wanted is None:
            self._blank("Select a finished run in the runs list.")
            self.loaded.emit()
            return
        if self.busy:  # the running worker's answer is dropped; this request follows it
            self._wanted = None
            self._job.stop()
            return
        from ..rundir.artifacts import run_config

        run_dir, ipc, selection = wanted
        try:
            sampling = run_config(run_dir).sampling
        except GddError as exc:
            self._blank(str(exc))
            self.loaded.emit()
            return
        sampling.selection = selection
        what = "choosing" if selection != "random" else "drawing"
        self._blank(f"{what} {ipc} images per class from the generator...")
        self._wanted = wanted
        worker = SetWorker(run_dir, ipc, sampling)
        self._job = Job(worker, self)
        worker.returned.connect(self._on_done)
        worker.errored.connect(self._on_error)
        self._job.finished.connect(self._on_thread_finished)
        self._job.start()

    def _superseded(self) -> bool:
        return self._wanted is None or self._wanted != self._request()

    @Slot(object)
    def _on_error(self, exc: Exception) -> None:
        if self._superseded():
            return  # the next request starts when this thread has ended
        self._blank(user_message(exc))
        self.loaded.emit()

    @Slot(object)
    def _on_done(self, result: tuple[Path, int, Any, list[str]]) -> None:
        if self._superseded():
            return  # the next request starts when this thread has ended
        _, _, stored, classes = result
        self.stored, self._classes = stored, classes
        self.images, self.labels = stored.images, stored.labels
        has = stored.candidates is not None
        self.show_candidates.setEnabled(has)
        self._rebuild()

    @Slot()
    def _on_thread_finished(self) -> None:
        superseded = self._superseded()
        self._job = None
        if superseded and self._request() is not None and self.isVisible():
            self.reload()
        elif superseded:
            self.images = None  # made when the tab is shown again

    def shutdown(self) -> None:
        """Stop making a set and wait for the thread (closing the window, tests)."""
        wait_for_jobs(self)

    def _blank(self, text: str) -> None:
        self.view.clear()
        self.view.setText(text)
        self.caption.setText("")

    @Slot()
    def _rebuild(self) -> None:
        if self.stored is None:
            return
        self._build_mosaic()
        self._draw()
        self.loaded.emit()

    def _showing_candidates(self) -> bool:
        return (
            self.show_candidates.isChecked() and self.stored is not None
            and self.stored.candidates is not None
        )  # fmt: skip

    def _build_mosaic(self) -> None:
        """Rows by class (wrapping after 25 images), 2 px between images, 6 between classes.

        Showing candidates: every draw, kept ones framed in green, rejected ones dimmed.
        """
        st = self.stored
        assert st is not None
        if self._showing_candidates():
            images, labels = st.candidates, st.candidate_labels
            kept = np.zeros(len(labels), dtype=bool)
            kept[st.kept] = True
        else:
            images, labels, kept = st.images, st.labels, None
        n, h, w, c = images.shape
        per_row = 25
        gap, class_gap = 2, 6
        order = np.argsort(labels, kind="stable")
        counts = np.bincount(labels, minlength=len(self._classes))
        lines = [max(1, -(-int(k) // per_row)) for k in counts]
        cols = min(per_row, int(counts.max())) if n else 1
        height = sum(lines) * (h + gap) + (len(lines) - 1) * class_gap
        width = cols * (w + gap) - gap
        canvas = np.full((height, width, 3), 17, dtype=np.uint8)
        self._rows, self._tiles, y, i = [], [], 0, 0
        for k, count in enumerate(counts):
            self._rows.append(y)
            for j in range(int(count)):
                r, col = divmod(j, per_row)
                top, left = y + r * (h + gap), col * (w + gap)
                tile = images[order[i]]
                tile = np.repeat(tile, 3, axis=2) if c == 1 else tile
                if kept is not None and not kept[order[i]]:
                    tile = (tile.astype(np.float32) * 0.35).astype(np.uint8)
                canvas[top : top + h, left : left + w] = tile
                if kept is not None and kept[order[i]]:
                    _frame(canvas, top, left, h, w, (60, 220, 90))
                self._tiles.append((top, left, int(order[i])))
                i += 1
            y += lines[k] * (h + gap) + class_gap
        from .monitor import _qimage

        self._mosaic = QPixmap.fromImage(_qimage(canvas))
        self._tile = h

    @Slot()
    def _draw(self) -> None:
        k = self.zoom.value()
        self.zoom_label.setText(f"{k}x")
        if self._mosaic is None or self.stored is None:
            return
        scaled = self._mosaic.scaled(
            self._mosaic.width() * k, self._mosaic.height() * k,
            Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation,
        )  # fmt: skip
        margin = self._margin
        out = QPixmap(scaled.width() + margin, scaled.height())
        out.fill(QColor(17, 17, 17))
        painter = QPainter(out)
        painter.drawPixmap(margin, 0, scaled)
        painter.setPen(QColor(200, 200, 200))
        for name, y in zip(self._classes, self._rows, strict=False):
            painter.drawText(4, y * k, margin - 8, max(14, self._tile * k),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                             name)  # fmt: skip
        painter.end()
        self.view.setPixmap(out)
        st = self.stored
        n = len(st.labels)
        text = f"{self.run_dir.name}: {n} images, {len(self._classes)} classes, "
        if st.candidates is not None:
            text += (
                f"chosen by herding from {len(st.candidate_labels)} draws "
                f"({len(st.candidate_labels) // max(1, len(self._classes))} per class)"
            )
        else:
            text += "the first draws per class (random selection)"
        if self._showing_candidates():
            text += "; framed: kept, dimmed: rejected"
        self.caption.setText(text)

    def tile_at(self, x: int, y: int) -> int | None:
        """The index (into the shown images) of the tile under a point of the view."""
        pix = self.view.pixmap()
        if self._mosaic is None or pix is None or pix.isNull():
            return None
        k = self.zoom.value()
        ox = (self.view.width() - pix.width()) // 2 + self._margin
        oy = (self.view.height() - pix.height()) // 2
        mx, my = (x - ox) / k, (y - oy) / k
        for top, left, index in self._tiles:
            if top <= my < top + self._tile and left <= mx < left + self._tile:
                return index
        return None

    def describe(self, index: int) -> str:
        """The tooltip of a shown image: class, kept or not, the observer's confidence."""
        st = self.stored
        assert st is not None
        if self._showing_candidates():
            label = int(st.candidate_labels[index])
            kept = index in set(st.kept.tolist())
            state = "kept" if kept else "rejected"
            conf = st.confidence[index] if st.confidence is not None else None
        else:
            label = int(st.labels[index])
            state = "in the set"
            conf = None
            if st.kept is not None and st.confidence is not None:
                conf = st.confidence[int(st.kept[index])]
        text = f"{self._classes[label]}: {state}"
        if conf is not None:
            text += f"; observer's confidence in this class {100 * float(conf):.1f} %"
        return text

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if obj is self.view and event.type() == QEvent.Type.MouseMove and self.stored:
            pos = event.position().toPoint()
            index = self.tile_at(pos.x(), pos.y())
            self.view.setToolTip("" if index is None else self.describe(index))
        return super().eventFilter(obj, event)


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


def _frame(canvas: np.ndarray, top: int, left: int, h: int, w: int, colour) -> None:
    """A one-pixel frame just inside a tile."""
    canvas[top, left : left + w] = colour
    canvas[top + h - 1, left : left + w] = colour
    canvas[top : top + h, left] = colour
    canvas[top : top + h, left + w - 1] = colour


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
        split.setSizes([420, 260])
        rv.addWidget(split, 1)
        outer.addWidget(right)
        outer.setStretchFactor(1, 1)
        outer.setCollapsible(1, False)
        outer.setSizes([280, 700])
        self.splitters = [outer, split]  # the window keeps their sizes between launches
        self.form_widgets = [box, adv]

    # ---- which runs ------------------------------------------------------------------
    def set_runs(self, run_dirs: list[Path]) -> None:
        """Show (and evaluate) these runs; the first is the one exports and defaults use."""
        changed = [Path(d) for d in run_dirs] != self.run_dirs
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
        from ..rundir.artifacts import require_generator

        try:
            validate_evaluation(settings)
            for d in self.run_dirs:
                require_generator(d)
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
            elif isinstance(e, EvalProgress):
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

    def _show_progress(self, p: EvalProgress) -> None:
        k, runs = self._run_index
        fraction = (k + ((p.index - 1) + p.epoch / max(1, p.epochs)) / max(1, p.total)) / runs
        self.progress.setValue(int(PROGRESS_SCALE * fraction))
        source = SOURCE_TITLES.get(p.source, p.source)
        where = f"run {k + 1} of {runs}: " if runs > 1 else ""
        self.status.setText(
            f"{where}network {p.index} of {p.total} ({ARCH_TITLES.get(p.arch, p.arch)}, "
            f"IPC {_ipc_text(p.ipc)}, {source}, repeat {p.repeat + 1}), epoch {p.epoch} of "
            f"{p.epochs}, ETA {fmt_duration(p.eta_s)}"
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
        self._fill_table(comparing)
        self._fill_chart_kinds()
        self.chart_button.setEnabled(bool(self.rows))
        self.table_button.setEnabled(bool(self.rows))

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


__all__ = ["EvalPanel", "ResultsChart", "SetViewer", "parse_ipcs"]
