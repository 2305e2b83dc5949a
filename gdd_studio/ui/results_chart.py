"""The Evaluation tab's chart: grouped bars per network at one IPC, or accuracy against IPC."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QWidget,
)

from ..models.nets import arch_order, arch_title


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
        self._cleared: str | None = None  # the text shown alone, until something is drawn

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
        if self._cleared is not None:  # already empty: only the text changes
            if self._cleared != text:
                self._empty.setText(text)
                self._cleared = text
            return  # clearing again re-adds the text item: 20-30 ms a selection
        self._cleared = text
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
        self.item.setLabel("left", "test accuracy (%)")

    def show_rows(self, rows: list[dict[str, Any]], kind: str, key: Any) -> None:
        from ..export.charts import narrowed_widths, ordered_series, series_name

        if kind == "arch":  # one IPC: x = network, a bar per series; full-real always shown
            rows = [r for r in rows if r.get("ipc") in (key, None)]
        else:  # one network: x = IPC
            rows = [r for r in rows if r.get("arch") == key and r.get("ipc") is not None]
        rows = [r for r in rows if r.get("mean") is not None]
        if not rows:
            self.clear_chart()
            return
        if kind == "arch":
            xs_keys: list[Any] = arch_order(r["arch"] for r in rows)
            titles = [arch_title(a) for a in xs_keys]
            field, bottom = "arch", f"network (IPC {key})"
        else:
            xs_keys = sorted({r["ipc"] for r in rows})
            titles = [str(i) for i in xs_keys]
            field, bottom = "ipc", f"images per class ({arch_title(key)})"
        points: dict[str, list[tuple[int, float, float]]] = {}
        for name in ordered_series(rows):
            for i, x_key in enumerate(xs_keys):
                match = [r for r in rows if r[field] == x_key and series_name(r) == name]
                if match:
                    points.setdefault(name, []).append(
                        (i, 100 * match[0]["mean"], 100 * match[0]["std"])
                    )
        self._draw(points, titles, bottom, bars=kind == "arch", decimals=1,
                   widths=narrowed_widths(rows))  # fmt: skip

    def show_sweep(self, rows: list[dict[str, Any]], x_key: str, numeric: bool) -> None:
        """A sweep's points for one network and IPC (``sweep.table`` rows): accuracy against
        the swept setting, grouped bars for a categorical one, lines for a numeric one."""
        from ..evaluation.compare import _fmt

        if not rows:
            self.clear_chart()
            return
        xs: list[Any] = []
        for r in rows:
            if r["x"] not in xs:
                xs.append(r["x"])
        if numeric:
            xs.sort()
        points: dict[str, list[tuple[int, float, float]]] = {}
        for r in rows:
            points.setdefault(r["series"], []).append(
                (xs.index(r["x"]), 100 * r["mean"], 100 * r["std"])
            )
        for pts in points.values():
            pts.sort()
        arch, ipc = rows[0]["arch"], rows[0]["ipc"]
        budget = "full training set" if ipc is None else f"IPC {ipc}"
        bottom = f"{x_key} ({arch_title(arch)}, {budget})"
        # A sweep's points often differ by tenths of a point: two decimals.
        self._draw(points, [_fmt(x) for x in xs], bottom, bars=not numeric, decimals=2)

    def _draw(
        self, points: dict[str, list[tuple[int, float, float]]], titles: list[str],
        bottom: str, bars: bool, decimals: int, widths: list[int] | None = None,
    ) -> None:  # fmt: skip
        """Series of (x index, mean %, std %) as grouped points (``bars``: categories side
        by side) or lines, with error bars and value labels; ``drawn`` records them. The
        accuracy axis is zoomed to the points, and its title says where it starts: bars
        from 0 % drew 93.0 and 94.4 the same height; it names ``widths``, the networks'
        where narrowed."""
        from ..export.charts import COLOURS, zoomed_label, zoomed_range

        self._cleared = None
        self.item.clear()
        self.legend.clear()
        self.drawn, self.value_labels = [], []
        self.series = list(points)
        self._fit_legend()
        self.item.setLabel("bottom", bottom)
        n = len(self.series)
        width = 0.8 / n
        lows: list[float] = []
        highs: list[float] = []
        label_values = sum(len(p) for p in points.values()) <= 16
        for j, name in enumerate(self.series):
            pts = points[name]
            colour = QColor(COLOURS[j % len(COLOURS)])
            x = np.array([p[0] for p in pts], dtype=float)
            y = np.array([p[1] for p in pts])
            e = np.array([p[2] for p in pts])
            if bars:  # points side by side, no line between categories
                x = x + (j - (n - 1) / 2) * width
                item = pg.PlotDataItem(
                    x, y, pen=None, symbol="o", symbolSize=9, symbolBrush=colour,
                    symbolPen=None, name=name,
                )  # fmt: skip
            else:
                item = pg.PlotDataItem(
                    x, y, pen=pg.mkPen(colour, width=2), symbol="o", symbolBrush=colour,
                    symbolPen=None, name=name,
                )  # fmt: skip
            self.item.addItem(item)
            self.legend.addItem(item, name)
            beam = width * 0.3 if bars else 0.08
            self.item.addItem(
                pg.ErrorBarItem(x=x, y=y, top=e, bottom=e, beam=beam, pen=pg.mkPen("#333"))
            )
            if label_values:
                for xi, yi, ei in zip(x, y, e, strict=True):
                    text = f"{yi:.{decimals}f}"
                    if bars:  # above the bar and its error bar
                        self.value_labels.append((float(xi), float(yi + ei), text))
                    else:  # beside the point, so the line's labels can stack
                        self.value_labels.append((float(xi), float(yi), text))
            lows += [float(v) for v in y - e]
            highs += [float(v) for v in y + e]
            self.drawn += [(name, titles[p[0]], p[1], p[2]) for p in pts]
        self.item.getAxis("bottom").setTicks([list(enumerate(titles))])
        self.item.setXRange(-0.6, len(titles) - 0.4, padding=0)
        y_lo, y_top = zoomed_range(lows, highs)
        self.item.setYRange(y_lo, y_top, padding=0)
        self.item.setLabel("left", zoomed_label(y_lo, widths or ()))
        if not bars:
            self.value_labels = spread_labels(self.value_labels, 0.045 * (y_top - y_lo))
        for xi, yi, text in self.value_labels:
            anchor = (0.5, 1.0) if bars else (-0.15, 0.5)
            item = pg.TextItem(text, color="#222", anchor=anchor)
            item.setFont(QFont("", 7))
            item.setPos(xi, yi)
            self.item.addItem(item)
