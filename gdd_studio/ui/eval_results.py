"""The Evaluation tab's results: the table of every row saved with the shown runs (read
back from their folders, so what it shows is what was saved), the chart of one IPC or
one network, and a sweep's table against its swept settings.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..errors import GddError
from ..evaluation.protocol import SOURCE_TITLES
from ..evaluation.rows import accuracy_text, generator_share
from ..models.nets import arch_order, arch_title
from .eval_settings import ipc_text
from .results_chart import ResultsChart

TABLE_COLUMNS = [
    "Run", "Network", "IPC", "Source", "Selection", "Made by G", "Accuracy (%)", "n", "Epochs",
    "Protocol",
]  # fmt: skip
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


class EvalResults:
    """The title, chart and table side of the Evaluation tab: a part of
    :class:`~gdd_studio.ui.eval_panel.EvalPanel`, whose attributes its widgets are."""

    run_dirs: list[Path]
    sweep_dir: Path | None
    rows: list[dict[str, Any]]

    def _build_results(self) -> tuple[QWidget, QSplitter]:
        """The right side (title, chart, table, a sweep's table) and its splitter."""
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
        # The field's scores of each distilled set (evaluation/scores.py), as evaluate
        # prints them under its table.
        self.scores = QLabel(objectName="evalScores", wordWrap=True)
        self.scores.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.scores.setToolTip(
            "Gain over random real images of the same IPC; the hard-label recovery gap to "
            "the full training set (tick 'full real training set'); DD-Ranking's "
            "label-robust score, and its augmentation-robust score once the set has been "
            "evaluated with and without DSA (docs/METHOD.md)"
        )
        self.scores.setVisible(False)
        rv.addWidget(self.scores)
        return right, split

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
        from ..evaluation.results import results_unreadable

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
        damaged = [d for d in self.run_dirs if results_unreadable(d)]
        if damaged:  # shown as unevaluated: say why, and what happens to the file
            names = ", ".join(d.name for d in damaged)
            self.title.setText(
                self.title.text() + f"<br>The evaluation results of {names} "
                "(eval/results.json) are damaged and not shown; the next evaluation keeps "
                "the file aside as eval/results.unreadable-&lt;time&gt;.json."
            )
        self._fill_sweep_table()
        self._fill_table(comparing)
        self._fill_scores()
        self._fill_chart_kinds()
        self.chart_button.setEnabled(bool(self.rows))
        self.table_button.setEnabled(bool(self.rows))

    def _fill_scores(self) -> None:
        from ..evaluation.results import aside_rows
        from ..evaluation.scores import scores_text

        other = aside_rows(self.run_dirs[0]) if len(self.run_dirs) == 1 else []
        text = scores_text(self.rows, other) if self.rows else ""
        text = text.replace("(evaluate --full-real)", "(tick 'full real training set')")
        self.scores.setText(text)
        self.scores.setVisible(bool(text))

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
            if r.get("width") is not None:  # narrowed, not the literature's network
                protocol += f", width {r['width']}"
            acc = accuracy_text(r, "±") if r.get("mean") is not None else "-"
            values = [
                r.get("run_label", ""), arch_title(r.get("arch")),
                ipc_text(r.get("ipc")), source, selection, generator_share(r), acc,
                str(r.get("n", "")), str(r.get("epochs", "")), protocol,
            ]  # fmt: skip
            for j, value in enumerate(values):
                item = QTableWidgetItem(str(value))
                if j in (2, 5, 6, 7, 8):
                    item.setTextAlignment(RIGHT)
                if j == 3:
                    item.setToolTip(str(source))  # the column may elide it
                if j == 5:
                    item.setToolTip(
                        "images of the set the generator made (draws, refined or "
                        "not); the rest are real training images herding kept"
                    )
                if j == 6:
                    each = ", ".join(f"{100 * a:.2f}" for a in r.get("accuracies", []))
                    item.setToolTip(f"{series_name(r)}: each network {each}")
                t.setItem(i, j, item)
        t.setColumnHidden(0, not comparing)
        t.setSortingEnabled(True)

    def _fill_chart_kinds(self) -> None:
        current = self.chart_kind.currentData()
        ipcs = sorted({r["ipc"] for r in self.rows if r.get("ipc") is not None})
        archs = arch_order(str(r.get("arch")) for r in self.rows)
        self.chart_kind.blockSignals(True)
        self.chart_kind.clear()
        if self._sweep is not None:  # the sweep's own chart first: against its setting
            panels = sorted({(str(r["arch"]), r["ipc"]) for r in self._sweep.rows},
                            key=lambda p: (p[0], math.inf if p[1] is None else p[1]))  # fmt: skip
            for arch, ipc in panels:
                budget = "full set" if ipc is None else f"IPC {ipc}"
                title = f"against {self._sweep.x_key}, {arch_title(arch)} {budget}"
                self.chart_kind.addItem(title, ("sweep", (arch, ipc)))
        for ipc in ipcs:
            self.chart_kind.addItem(f"by network, IPC {ipc}", ("arch", ipc))
        if len(ipcs) > 1:
            for arch in archs:
                self.chart_kind.addItem(f"against IPC, {arch_title(arch)}", ("ipc", arch))
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
