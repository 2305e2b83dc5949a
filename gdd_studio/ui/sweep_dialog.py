"""The Sweep... dialog: one or two settings to vary and their values, or the ablation set.

It builds nothing of its own: the members are ``sweep.member_configs`` of the base config
and the axes (the CLI's ``--axis`` and ``--ablation``), so the dialog and the CLI agree on
what a sweep is and refuse the same mistakes. Before the sweep starts it shows the number
of runs and an estimate of the time: the steps of each phase (the preset's, or on the
training split of a recorded run of the same dataset and preset) at a recorded step rate,
counting once a phase 1 that members share.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ..config import RunConfig, phase_steps
from ..engine.events import fmt_duration
from ..errors import GddError
from ..rundir.records import RunSummary, read_train_images
from ..sweep.sweep import ABLATION, member_configs, phase1_groups, split_values

# (title, config key, example values)
SETTINGS: list[tuple[str, str, str]] = [
    ("tau", "distill.tau", "1, 2, 4"),
    ("lambda", "distill.lam", "0.5, 1, 2"),
    ("matching loss", "distill.loss", "skd, mse, none"),
    ("standardization", "distill.standardize", "true, false"),
    ("pool", "distill.pool", "[convnet3], [convnet3, resnet10]"),
    ("seed", "seed", "0, 1, 2"),
]
TITLES = {key: title for title, key, _ in SETTINGS}


@dataclass
class SweepPlan:
    """What the dialog asks for: the CLI's ``--axis`` list and ``--ablation``."""

    axes: list[tuple[str, list[str]]] = field(default_factory=list)
    ablation: bool = False
    members: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    phase1s: int = 0  # phase 1s the members train (those that agree on it share one)


def plan_sweep(base: RunConfig, rows: Iterable[tuple[str, str]], ablation: bool) -> SweepPlan:
    """The sweep of ``(key, values text)`` rows (an empty key: an unused row), or a
    GddError with one line saying what to change."""
    axes: list[tuple[str, list[str]]] = []
    for key, text in rows:
        if not key:
            continue
        title = TITLES.get(key, key)
        values = split_values(text) if text.strip() else []
        if not values or any(v == "" for v in values):
            raise GddError(f"give one or more values for {title}, separated by commas")
        if len(set(values)) < len(values):
            raise GddError(f"{title} names a value twice")
        if any(k == key for k, _ in axes):
            raise GddError(f"{title} is chosen twice: choose two different settings")
        axes.append((key, values))
    if not axes and not ablation:
        raise GddError("choose a setting to vary and its values, or the ablation set")
    if ablation and any(k in ("distill.loss", "distill.standardize") for k, _ in axes):
        raise GddError("the ablation set varies the matching loss and standardization itself")
    try:
        configs = member_configs(copy.deepcopy(base), axes, ablation)
    except GddError as exc:
        raise GddError(_window_words(str(exc), axes)) from None
    members = [(label, settings) for label, settings, _ in configs]
    return SweepPlan(axes, ablation, members, phase1_groups([c for _, _, c in configs]))


def _window_words(message: str, axes: list[tuple[str, list[str]]]) -> str:
    """The config's message names keys (distill.tau); the dialog names settings (tau)."""
    for key, _ in axes:
        if key in message:
            return message.replace(f"'{key}'", TITLES.get(key, key)).replace(
                key, TITLES.get(key, key)
            )
    return message


def run_steps(base: RunConfig, recorded: list[RunSummary]) -> tuple[int, int] | None:
    """Steps of phase 1 and phase 2 of one member: the preset's when its epochs are
    capped, else on the training split a recorded run of the same dataset and preset
    noted (they depend on the dataset's size)."""
    g, d = base.gan, base.distill
    if g.steps_per_epoch and d.steps_per_epoch:
        return phase_steps(base, 2**62)
    for s in recorded:
        info = s.info
        if info.get("dataset") != base.dataset or info.get("preset") != base.preset:
            continue
        n = read_train_images(s.path)
        if n:
            return phase_steps(base, n)
    return None


def recorded_rate(base: RunConfig, recorded: list[RunSummary]) -> tuple[float, str] | None:
    """Steps per second of the newest run here of the same dataset and preset that
    recorded its time (whole runs, pauses excluded), and which run it was."""
    for s in recorded:
        info = s.info
        if info.get("dataset") != base.dataset or info.get("preset") != base.preset:
            continue
        step, elapsed = info.get("step"), info.get("elapsed_s")
        if isinstance(step, int) and step > 0 and isinstance(elapsed, int | float) and elapsed > 0:
            return step / elapsed, s.path.name
    return None


def estimate_text(
    runs: int,
    steps: tuple[int, int] | None,
    rate: tuple[float, str] | None,
    measured: float | None,
    phase1s: int | None = None,
) -> str:
    """'about 12:00 in all' with how it was reckoned; it is an estimate and says so.

    ``phase1s``: how many phase 1s the runs train (runs that agree on phase 1 share it).
    """
    if rate is None and measured:
        rate = (measured, "the last run in this window")
    if steps is None:
        return "Time: no estimate yet (run one run of this dataset and preset first)"
    p1, p2 = steps
    if rate is None or rate[0] <= 0:
        return f"{p1 + p2:,} steps each; time: no estimate yet (no recorded step rate)"
    phase1s = runs if phase1s is None else phase1s
    seconds = (phase1s * p1 + runs * p2) / rate[0]
    shared = f"; the {runs} runs train {phase1s} phase 1s" if phase1s < runs else ""
    return (
        f"Estimate: about {fmt_duration(seconds)} in all ({p1 + p2:,} steps each{shared}; "
        f"{rate[0]:.2f} steps/s, recorded by {rate[1]}; evaluation not included)"
    )


class SweepDialog(QDialog):
    """Choose the sweep; ``plan`` holds it once the user accepts (Start sweep)."""

    def __init__(
        self,
        base: RunConfig,
        recorded: list[RunSummary] | None = None,
        measured_rate: float | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("sweepDialog")
        self.setWindowTitle("Sweep")
        self.base = base
        self.plan: SweepPlan | None = None
        recorded = recorded or []
        self._steps = run_steps(base, recorded)
        self._rate = recorded_rate(base, recorded)
        self._measured = measured_rate
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Train one run for each combination of the values below, one after another, with "
            "the set-up panel's other settings. Each run is an ordinary run in the runs list, "
            "grouped under the sweep.",
            wordWrap=True,
        )
        layout.addWidget(intro)
        self.ablation = QCheckBox("The ablation set", objectName="sweepAblation")
        variants = ", ".join(name for name, _ in ABLATION)
        self.ablation.setToolTip(
            f"The paper's ablation at this budget: {variants} (4 runs for each value below)"
        )
        layout.addWidget(self.ablation)
        detail = QLabel(f"{variants}: four runs, times each value below", wordWrap=True)
        detail.setStyleSheet("color: palette(placeholder-text); margin-left: 22px;")
        layout.addWidget(detail)
        form = QFormLayout()
        self.keys: list[QComboBox] = []
        self.values: list[QLineEdit] = []
        for i in range(2):
            combo = QComboBox(objectName=f"sweepKey{i + 1}")
            if i:
                combo.addItem("(none)", "")
            for title, key, _ in SETTINGS:
                combo.addItem(title, key)
            edit = QLineEdit(objectName=f"sweepValues{i + 1}")
            edit.setToolTip("Values separated by commas; a pool is a list in brackets")
            row = QHBoxLayout()
            row.addWidget(combo)
            row.addWidget(edit, 1)
            form.addRow(f"Vary {'first' if i == 0 else 'then'}", row)
            combo.currentIndexChanged.connect(self._update)
            edit.textChanged.connect(self._update)
            self.keys.append(combo)
            self.values.append(edit)
        layout.addLayout(form)
        self.ablation.toggled.connect(self._update)
        self.summary = QLabel(objectName="sweepSummary", wordWrap=True)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(self.summary)
        self.estimate = QLabel(objectName="sweepEstimate", wordWrap=True)
        layout.addWidget(self.estimate)
        self.message = QLabel(objectName="sweepMessage", wordWrap=True)
        self.message.setStyleSheet("color: #c0392b;")
        layout.addWidget(self.message)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.start_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.start_button.setText("Start sweep")
        self.start_button.setObjectName("sweepStartButton")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(600)
        self.set_axis(0, "distill.tau", "")
        self._update()
        self.adjustSize()

    def set_axis(self, row: int, key: str, values: str) -> None:
        """Choose row ``row``'s setting (a config key; "" for none) and its values."""
        self.keys[row].setCurrentIndex(max(0, self.keys[row].findData(key)))
        self.values[row].setText(values)

    def rows(self) -> list[tuple[str, str]]:
        return [(k.currentData(), v.text()) for k, v in zip(self.keys, self.values, strict=True)]

    def _rows_in_use(self) -> list[tuple[str, str]]:
        """Row 1 counts when values are typed in it, or when it is all there is (no
        ablation); row 2 when a setting is chosen in it."""
        rows = self.rows()
        first = rows[0] if rows[0][1].strip() or not self.ablation.isChecked() else ("", "")
        return [first, rows[1]]

    def _try_plan(self) -> SweepPlan:
        return plan_sweep(self.base, self._rows_in_use(), self.ablation.isChecked())

    @Slot()
    def _update(self, *_: Any) -> None:
        for combo, edit in zip(self.keys, self.values, strict=True):
            example = next((ex for _, key, ex in SETTINGS if key == combo.currentData()), "")
            edit.setPlaceholderText(f"e.g. {example}" if example else "")
            edit.setEnabled(bool(combo.currentData()))
        if not self.ablation.isChecked() and not any(t.strip() for _, t in self.rows()):
            self.summary.setText("Runs: type the values to try, or tick the ablation set")
            self.estimate.setText("")
            self.message.setText("")
            return
        try:
            plan = self._try_plan()
        except GddError as exc:
            self.summary.setText("Runs: -")
            self.estimate.setText("")
            self.message.setText(str(exc))
            return
        self.message.setText("")
        n = len(plan.members)
        names = "; ".join(label for label, _ in plan.members[:6])
        more = f"; ... ({n - 6} more)" if n > 6 else ""
        self.summary.setText(f"{n} runs: {names}{more}")
        self.estimate.setText(
            estimate_text(n, self._steps, self._rate, self._measured, plan.phase1s)
        )

    def accept(self) -> None:
        """Start only a sweep that can be made; otherwise say once what to change."""
        try:
            self.plan = self._try_plan()
        except GddError as exc:
            self.plan = None
            self.message.setText(str(exc))
            return
        super().accept()


__all__ = ["SETTINGS", "SweepDialog", "SweepPlan", "estimate_text", "plan_sweep"]
