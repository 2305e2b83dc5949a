"""The set-up panel's widgets and the helpers that make them: a spin box for small numbers
(``SciSpinBox``), a checkable list of networks (``NetworkList``, the Evaluation tab's
too), int, float and choice boxes with their tooltips, the titles the choices show, and
the two loops that show a config value in a widget and read it back by its dotted key.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QWidget,
)

from ..config import AUTO_DRAWS_UP_TO_IPC
from ..models.nets import ARCH_TITLES

LOSS_TITLES = {"skd": "SKD (KL divergence)", "mse": "MSE (DiM)", "none": "none (GAN only)"}
SELECTION_TITLES = {
    "herding": "herding toward real (best)",
    "random": "first draws (the paper's)",
}
CHOOSE_FROM_TITLES = {
    "generator": "the generator's draws",
    "real": "real training images",
    "mixed": "both (draws compete with real)",
    "auto": f"by IPC (draws at IPC {AUTO_DRAWS_UP_TO_IPC}, both above)",
}
REFINE_TITLES = {
    "none": "none (the chosen draws)",
    "dm": "distribution matching (DM)",
}
POOL_BN_TITLES = {
    "eval": "eval: real-data statistics (ours)",
    "train": "train: the batch's own (DiM)",
}


class SciSpinBox(QDoubleSpinBox):
    """A spin box for learning rates and other small numbers: shows 5e-06, not 0.000005.

    Arrows multiply or divide by 10 because a learning rate is searched in decades.
    """

    def __init__(self, lo: float, hi: float) -> None:
        super().__init__()
        self.setDecimals(12)
        self.setRange(lo, hi)
        self.setKeyboardTracking(False)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt's name
        return f"{value:.4g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt's name
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        try:
            float(text)
            state = QValidator.State.Acceptable
        except ValueError:
            ok = all(c in "0123456789.eE-+" for c in text)
            state = QValidator.State.Intermediate if ok else QValidator.State.Invalid
        return state, text, pos

    def stepBy(self, steps: int) -> None:  # noqa: N802 - Qt's name
        value = self.value() * (10.0**steps)
        self.setValue(min(max(value, self.minimum()), self.maximum()))

    def stepEnabled(self) -> QAbstractSpinBox.StepEnabledFlag:  # noqa: N802 - Qt's name
        return QAbstractSpinBox.StepEnabledFlag.StepUpEnabled | (
            QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
        )


def spin(lo: int, hi: int, name: str, tip: str = "", none_text: str = "") -> QSpinBox:
    """An int box; with ``none_text`` its lowest value (0) stands for the setting's None."""
    box = QSpinBox(objectName=name)
    box.setRange(lo, hi)
    box.setToolTip(tip)
    if none_text:
        box.setSpecialValueText(none_text)
    return box


def dspin(lo: float, hi: float, decimals: int, step: float, name: str, tip: str = ""):
    box = QDoubleSpinBox(objectName=name)
    box.setRange(lo, hi)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setToolTip(tip)
    return box


def combo(name: str, options: tuple[str, ...] | dict[str, str], tip: str = "") -> QComboBox:
    box = QComboBox(objectName=name)
    items = options.items() if isinstance(options, dict) else ((o, o) for o in options)
    for value, text in items:
        box.addItem(text, value)
    box.setToolTip(tip)
    return box


def config_value(cfg: Any, key: str) -> Any:
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg


def set_config_value(cfg: Any, key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        cfg = getattr(cfg, part)
    setattr(cfg, last, value)


ARCH_TIPS = {
    "resnet18": "resnet18: the DC/DSA literature's ResNet18, with instance norm",
    "resnet18bn": "resnet18bn: the literature's ResNet18BN, with BatchNorm "
    "(called resnet18 in files written before version 2)",
    "resnet10": "resnet10: a BatchNorm ResNet-10, as in DiM's pool",
}


class NetworkList(QListWidget):
    """A checkable list of networks (items carry the architecture id), all rows visible."""

    def __init__(self, archs: tuple[str, ...], name: str) -> None:
        super().__init__(objectName=name)
        for arch in archs:
            item = QListWidgetItem(ARCH_TITLES[arch])
            item.setData(Qt.ItemDataRole.UserRole, arch)
            item.setToolTip(ARCH_TIPS.get(arch, arch))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.addItem(item)
        self.setFixedHeight(self.sizeHintForRow(0) * len(archs) + 2 * self.frameWidth() + 2)

    def checked(self) -> list[str]:
        return [
            self.item(r).data(Qt.ItemDataRole.UserRole)
            for r in range(self.count())
            if self.item(r).checkState() == Qt.CheckState.Checked
        ]

    def set_checked(self, archs: list[str]) -> None:
        for r in range(self.count()):
            item = self.item(r)
            on = item.data(Qt.ItemDataRole.UserRole) in archs
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)


def show_value(widget: QWidget, value: Any) -> None:
    if isinstance(widget, QComboBox):
        if widget.findData(value) < 0 and widget.property("keepsOthers"):
            widget.addItem(str(value), value)  # a config file's own choice is kept, not lost
        widget.setCurrentIndex(max(0, widget.findData(value)))
    elif isinstance(widget, QCheckBox):
        widget.setChecked(bool(value))
    elif isinstance(widget, QLineEdit):
        widget.setText("" if value is None else str(value))
    elif isinstance(widget, QSpinBox):
        widget.setValue(0 if value is None else int(value))
    elif isinstance(widget, QDoubleSpinBox):
        widget.setValue(0.01 if value is None else float(value))


def read_value(widget: QWidget) -> Any:
    if isinstance(widget, QComboBox):
        return widget.currentData()
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    if isinstance(widget, QLineEdit):
        return widget.text().strip() or None
    if isinstance(widget, QSpinBox):
        value = widget.value()
        # A box with a special text stands for None at its minimum (0).
        return None if widget.specialValueText() and value == widget.minimum() else value
    if isinstance(widget, QDoubleSpinBox):
        return widget.value()
    raise TypeError(f"no reader for {type(widget).__name__}")  # pragma: no cover
