"""The Evaluation tab's settings form: the networks, IPCs, repeats and epochs, the baselines
beside the distilled set, the device and the protocol, shown from and read into an
``EvalConfig``. A run's form starts from its last evaluation's settings, else its config's.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
)

from ..config import EVAL_ARCHS, EvalConfig, available_devices, is_custom_arch
from ..errors import GddError
from .setup_widgets import NetworkList


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


def ipc_text(ipc: Any) -> str:
    return "all" if ipc is None else str(ipc)


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


class EvalSettingsForm:
    """The "Evaluate" and "Protocol" boxes of the Evaluation tab: a part of
    :class:`~gdd_studio.ui.eval_panel.EvalPanel`, whose attributes its widgets are."""

    _base: EvalConfig
    _filled_from: Path | None

    def _build_settings(self) -> tuple[QGroupBox, QGroupBox]:
        """The two boxes, for the panel to place."""
        box = QGroupBox("Evaluate")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.archs = NetworkList(EVAL_ARCHS, "evalArchList")
        self.archs.setToolTip("Networks trained from scratch on the set (cross-architecture)")
        form.addRow("Networks", self.archs)
        self.own_arch = QLineEdit(objectName="evalOwnArchEdit")
        self.own_arch.setPlaceholderText("your own: file.py:function")
        self.own_arch.setToolTip(
            "Your own network, also trained on the set: a Python file and a function in it "
            "that returns a torch.nn.Module for (channels, classes, image size), e.g. "
            "/home/me/nets.py:wide_resnet; checked on the data before anything trains"
        )
        form.addRow("", self.own_arch)
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
        return box, adv

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
        self.archs.set_checked([a for a in s.archs if ":" not in a])
        self.own_arch.setText(", ".join(a for a in s.archs if ":" in a))
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
        own = [a.strip() for a in self.own_arch.text().split(",") if a.strip()]
        for spec in own:
            if not is_custom_arch(spec):
                raise ValueError(
                    f"'{spec}' is not file.py:function (a Python file and the function in it "
                    "that returns your network)"
                )
            path, _, factory = spec.rpartition(":")
            s.archs.append(f"{Path(path).expanduser().resolve()}:{factory}")
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
