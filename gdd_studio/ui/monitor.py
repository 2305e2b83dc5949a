"""What a run looks like while it goes: loss curves and the evolving image grid.

Both widgets only store what they are given and redraw when the window's timer says so.
The curves keep every raw value; smoothing (an exponential moving average) is applied to
the raw series at draw time, so moving the slider never loses data. Plot items are
created once per loss and updated with ``setData`` (clearing and re-plotting leaks).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from pyqtgraph.graphicsItems.LabelItem import LabelItem
from pyqtgraph.graphicsItems.LegendItem import ItemSample
from PySide6.QtCore import QSize, Qt, QTimer, Slot
from PySide6.QtGui import QColor, QFontMetrics, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

LOSS_TITLES = {  # legend labels, short so that several fit on a row under the plot
    "g_adv": "G adversarial",
    "d_loss": "D loss",
    "wasserstein": "Wasserstein",
    "gp": "grad. penalty",
    "g_cls": "G class.",
    "d_cls": "D class.",
    "match": "SKD match",
    "pool_loss": "pool loss",
    "pool_acc": "pool accuracy",
    "g_loss": "G total",
    "dm_loss": "DM (set)",
    "g_dm": "DM (draws)",
}
_PENS = [
    "#3b6fb6", "#e08a2c", "#5aa055", "#b5497a", "#9a9a9a", "#6a51a3", "#2aa3a3", "#c4a000",
    "#d62728", "#8c564b",
]  # fmt: skip


def smooth(values: np.ndarray, weight: float, acc: float | None = None) -> np.ndarray:
    """Exponential moving average (TensorBoard's smoothing); weight 0 = raw.

    ``acc`` continues an earlier stretch of the same series (its last smoothed value), so
    a growing curve is smoothed only where it grew, not from the start at every redraw.
    """
    values = np.asarray(values, dtype=np.float64)
    if weight <= 0 or len(values) == 0:
        return values.copy()
    out = np.empty_like(values)
    a = float(values[0]) if acc is None else acc
    for i, v in enumerate(values.tolist()):
        a = weight * a + (1 - weight) * v
        out[i] = a
    return out


class LossPanel(QWidget):
    """Curves of every loss the run reports, the phase boundary, smoothing and log scale."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setObjectName("lossPlot")
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "loss")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        # The legend sits in its own row under the axis, so it never hides a curve or the
        # phase line; clicking an entry hides or shows its curve.
        self.legend = _Legend(colCount=3, labelTextSize="8pt", verSpacing=-6)
        self.plot.getPlotItem().layout.addItem(self.legend, 4, 1)
        self.plot.setClipToView(True)
        self.plot.setDownsampling(auto=True, mode="peak")
        self.plot.setToolTip("Click a legend entry to hide or show its curve")
        layout.addWidget(self.plot, 1)
        self._empty = QLabel("Loss curves appear here as the run goes", self.plot)
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setStyleSheet("color: #888; background: transparent;")
        self._empty.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        row = QHBoxLayout()
        row.addWidget(QLabel("Smoothing"))
        self.smoothing = QSlider(Qt.Orientation.Horizontal, objectName="smoothingSlider")
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(60)
        self.smoothing.setToolTip("Exponential moving average of the raw values (0 = raw)")
        self.smoothing.valueChanged.connect(lambda _: self.redraw())
        row.addWidget(self.smoothing, 1)
        self.log_scale = QCheckBox("log scale", objectName="logScaleCheck")
        self.log_scale.toggled.connect(lambda on: self.plot.setLogMode(y=on))
        row.addWidget(self.log_scale)
        layout.addLayout(row)
        self._steps: dict[str, list[int]] = {}
        self._values: dict[str, list[float]] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}  # every loss's, made ahead
        self._entries: dict[str, tuple[ItemSample, LabelItem]] = {}  # their legend rows
        self._shown: set[str] = set()  # losses in the legend (once drawn, until replaced)
        self._smoothed: dict[str, np.ndarray] = {}  # smoothed so far, at self._weight
        self._weight = -1.0
        self._dirty: set[str] = set()
        self._boundary: pg.InfiniteLine | None = None
        # A curve and its legend row cost 5-15 ms each to make (pyqtgraph lays the label
        # out): made one at a time while the window is idle after it opens, not all at
        # once when a phase starts and reports four to seven new losses.
        self._prepare = QTimer(self, interval=0)
        self._prepare.timeout.connect(self._prepare_one)
        self._prepare.start()

    def clear(self) -> None:
        for curve in self._curves.values():
            curve.setData([], [])
        self._steps.clear()
        self._values.clear()
        self._smoothed.clear()
        self._dirty = set(self._curves)
        if self._boundary is not None:
            self._boundary.setVisible(False)
        self._empty.setVisible(True)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._empty.setGeometry(self.plot.rect())
        # As many legend columns as fit: a legend wider than the plot would push the
        # plot's right edge out of the widget.
        columns = max(1, min(5, (self.plot.width() - 70) // 105))
        if columns != self.legend.columnCount:
            self.legend.setColumnCount(columns)

    def add(self, step: int, values: dict[str, float]) -> None:
        for key, value in values.items():
            if key not in LOSS_TITLES or not np.isfinite(value):
                continue
            steps = self._steps.setdefault(key, [])
            if steps and step <= steps[-1]:
                continue  # already shown (a folder read overlapping the event stream)
            steps.append(step)
            self._values.setdefault(key, []).append(value)
            self._dirty.add(key)

    def mark_phase_boundary(self, step: int) -> None:
        if self._boundary is None:
            self._boundary = pg.InfiniteLine(
                angle=90, movable=False, label="SKD starts",
                pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine),
                labelOpts={"position": 0.95, "color": "#555"},
            )  # fmt: skip
            self.plot.addItem(self._boundary)
        self._boundary.setValue(step)
        self._boundary.setVisible(True)

    def points(self, key: str) -> int:
        """How many raw values of a loss are held (what a test or a status line counts)."""
        return len(self._steps.get(key, []))

    def curve(self, key: str) -> pg.PlotDataItem | None:
        return self._curves.get(key)

    @property
    def boundary_step(self) -> float | None:
        """Where the phase-boundary line stands, or None when it is not shown."""
        if self._boundary is None or not self._boundary.isVisible():
            return None
        return self._boundary.value()

    @Slot()
    def _prepare_one(self) -> None:
        """Make the next loss's curve and legend row ahead of its first value."""
        missing = [key for key in LOSS_TITLES if key not in self._curves]
        if missing:
            self._curve(missing[0])
        if len(missing) <= 1:
            self._prepare.stop()

    def _curve(self, key: str) -> pg.PlotDataItem:
        """A loss's curve (empty until it has values) and its legend row, made once."""
        curve = self._curves.get(key)
        if curve is None:
            order = list(LOSS_TITLES)
            pen = pg.mkPen(_PENS[order.index(key) % len(_PENS)], width=1.5)
            curve = self.plot.plot([], [], pen=pen)
            self._curves[key] = curve
            self._entries[key] = self.legend.make_entry(curve, LOSS_TITLES[key])
        return curve

    def redraw(self) -> None:
        """Draw what changed since the last redraw (the window's timer calls this)."""
        weight = self.smoothing.value() / 100
        if weight != self._weight:
            self._weight = weight
            self._smoothed.clear()
            self._dirty = set(self._steps)
        order = list(LOSS_TITLES)
        for key in sorted(self._dirty, key=order.index):
            curve = self._curve(key)
            raw = self._values.get(key, [])
            done = self._smoothed.get(key, np.empty(0))
            if len(done) < len(raw):
                more = smooth(raw[len(done) :], weight, float(done[-1]) if len(done) else None)
                done = np.concatenate([done, more])
                self._smoothed[key] = done
            curve.setData(np.asarray(self._steps.get(key, []), dtype=np.float64), done)
        if not self._shown.issuperset(self._steps):
            # Entries in the fixed order of LOSS_TITLES, whatever order the losses first
            # came in; laid out once, however many losses a phase start brought.
            self._shown.update(self._steps)
            self.legend.show_entries([self._entries[k] for k in order if k in self._shown])
        self._dirty.clear()
        self._empty.setVisible(not self._steps)


class _Legend(pg.LegendItem):
    """A legend whose rows are made ahead (:meth:`make_entry`) and laid out when shown."""

    def make_entry(self, item: pg.PlotDataItem, name: str) -> tuple[ItemSample, LabelItem]:
        """A row for ``item`` as :meth:`addItem` makes it, not yet in the legend."""
        label = LabelItem(
            name, color=self.opts["labelTextColor"], justify="left",
            size=self.opts["labelTextSize"],
        )  # fmt: skip
        sample = self.sampleType(item)
        sample.sigClicked.connect(self.sigSampleClicked)
        return sample, label

    def show_entries(self, entries: list[tuple[ItemSample, LabelItem]]) -> None:
        """Show exactly these rows, in this order (laid out as :meth:`setColumnCount`
        lays out the rows it has)."""
        for sample, label in self.items:
            if (sample, label) not in entries:
                sample.hide()
                label.hide()
        for i in range(self.layout.count() - 1, -1, -1):
            self.layout.removeAt(i)
        self.items = list(entries)
        self.rowCount = max(1, math.ceil(len(self.items) / self.columnCount))
        for sample, label in self.items:
            self._addItemToLayout(sample, label)
            sample.show()
            label.show()
        self.updateSize()


class GridPanel(QWidget):
    """The synthetic-image grid (one row per class) with a slider over every recorded grid."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.view = QLabel(objectName="sampleView", alignment=Qt.AlignmentFlag.AlignCenter)
        self.view.setMinimumSize(240, 240)
        self.view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.view.setStyleSheet("background: #111; color: #aaa;")
        self.view.setText("samples appear here as the run goes")
        layout.addWidget(self.view, 1)
        row = QHBoxLayout()
        self.slider = QSlider(Qt.Orientation.Horizontal, objectName="gridSlider")
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self._show)
        row.addWidget(self.slider, 1)
        self.caption = QLabel("no grid yet", objectName="gridCaption")
        self.caption.setMinimumWidth(150)
        row.addWidget(self.caption)
        layout.addLayout(row)
        self._grids: list[tuple[int, int, object]] = []  # (step, phase, ndarray | Path)
        self._follow = True
        self._pixmap: QPixmap | None = None
        self._dirty = False
        self.classes: list[str] = []  # one per grid row, drawn at the left of each row
        self.label_rects: list[tuple[str, int, int]] = []  # (name, top, height) drawn

    def set_classes(self, classes: list[str] | None) -> None:
        """Name the grid's rows (row k shows class k); None or [] draws no names."""
        classes = list(classes or [])
        if classes != self.classes:
            self.classes = classes
            self._fit()

    def clear(self) -> None:
        self._grids.clear()
        self._pixmap = None
        self.classes, self.label_rects = [], []
        self.slider.setRange(0, 0)
        self.view.clear()
        self.view.setText("samples appear here as the run goes")
        self.caption.setText("no grid yet")
        self._follow = True

    def add(self, step: int, phase: int, image: object) -> None:
        if self._grids and step <= self._grids[-1][0]:
            if step == self._grids[-1][0]:
                self._grids[-1] = (step, phase, image)
                self._dirty = True
            return
        self._grids.append((step, phase, image))
        self._dirty = True

    @property
    def count(self) -> int:
        return len(self._grids)

    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        at_end = self.slider.value() >= self.slider.maximum()
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, len(self._grids) - 1))
        if at_end or self._follow:
            self.slider.setValue(self.slider.maximum())
        self.slider.blockSignals(False)
        self._show(self.slider.value())

    def _show(self, index: int) -> None:
        if not self._grids:
            return
        self._follow = index >= len(self._grids) - 1
        step, phase, image = self._grids[min(index, len(self._grids) - 1)]
        if isinstance(image, np.ndarray):
            self._pixmap = QPixmap.fromImage(_qimage(image))
        else:
            self._pixmap = QPixmap(str(Path(image)))
        self._fit()
        self.caption.setText(f"phase {phase}, step {step} ({index + 1}/{len(self._grids)})")

    def _fit(self) -> None:
        if self._pixmap is None or self._pixmap.isNull():
            return
        size, w, h = self.view.size(), self._pixmap.width(), self._pixmap.height()
        margin = self._label_margin()
        size = QSize(max(1, size.width() - margin), size.height())
        factor = min(size.width() / w, size.height() / h)
        if factor >= 2:
            # Whole pixels: every generated pixel becomes an equal square block.
            k = int(factor)
            scaled = self._pixmap.scaled(
                w * k, h * k, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.FastTransformation,
            )  # fmt: skip
        else:
            scaled = self._pixmap.scaled(
                size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        self.view.setPixmap(self._with_labels(scaled, margin))

    def _label_margin(self) -> int:
        if not self.classes:
            return 0
        metrics = QFontMetrics(self.view.font())
        return min(140, max(metrics.horizontalAdvance(c) for c in self.classes) + 10)

    def _with_labels(self, scaled: QPixmap, margin: int) -> QPixmap:
        """The grid with each row's class name at its left (rows are classes, in order)."""
        self.label_rects = []
        rows = len(self.classes)
        if not margin or not rows:
            return scaled
        out = QPixmap(scaled.width() + margin, scaled.height())
        out.fill(QColor(17, 17, 17))
        painter = QPainter(out)
        painter.drawPixmap(margin, 0, scaled)
        painter.setPen(QColor(200, 200, 200))
        metrics = QFontMetrics(self.view.font())
        row_h = scaled.height() / rows
        for k, name in enumerate(self.classes):
            top = int(k * row_h)
            text = metrics.elidedText(name, Qt.TextElideMode.ElideRight, margin - 8)
            painter.drawText(
                0, top, margin - 6, max(1, int(row_h)),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, text,
            )  # fmt: skip
            self.label_rects.append((name, top, int(row_h)))
        painter.end()
        return out

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit()


def _qimage(image: np.ndarray) -> QImage:
    """uint8 (H, W, C) with C 1 or 3 -> a QImage that owns a copy of the pixels."""
    arr = np.ascontiguousarray(image)
    h, w = arr.shape[:2]
    if arr.ndim == 2 or arr.shape[2] == 1:
        arr = np.ascontiguousarray(arr.reshape(h, w))
        return QImage(arr.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
