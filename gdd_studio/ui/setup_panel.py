"""The set-up panel: every run setting by point and click, mapped to and from a RunConfig.

Each widget is bound to one dotted config key (``distill.tau``), so showing a config and
reading it back are one loop each and cannot drift apart. The panel keeps a base config
(the preset's, or the one loaded from a file) and writes its widgets over it, so settings
without a widget here (the evaluation protocol, which has its own panel) survive a save
and load unchanged.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..config import (
    CLASSIFIERS,
    DISCRIMINATOR_MODES,
    GAN_SELECT,
    LAMBDA_DEFAULTS,
    LOSSES,
    POOL_MODES,
    PRESETS,
    TAU_MODES,
    RunConfig,
    available_devices,
    preset_config,
    resolve_defaults,
)
from ..models.nets import ARCH_TITLES
from ..models.runtime import native_bf16

LOSS_TITLES = {"skd": "SKD (KL divergence)", "mse": "MSE (DiM)", "none": "none (GAN only)"}
SELECTION_TITLES = {
    "herding": "herding toward real (best)",
    "random": "first draws (the paper's)",
}
REFINE_TITLES = {
    "none": "none (the chosen draws)",
    "dm": "distribution matching (DM)",
}
POOL_BN_TITLES = {
    "eval": "eval: real-data statistics (ours)",
    "train": "train: the batch's own (DiM)",
}
CUSTOM = "__custom__"  # item data prefix of the "Image folder..." / "NPZ file..." entries


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


def _spin(lo: int, hi: int, name: str, tip: str = "", none_text: str = "") -> QSpinBox:
    """An int box; with ``none_text`` its lowest value (0) stands for the setting's None."""
    box = QSpinBox(objectName=name)
    box.setRange(lo, hi)
    box.setToolTip(tip)
    if none_text:
        box.setSpecialValueText(none_text)
    return box


def _dspin(lo: float, hi: float, decimals: int, step: float, name: str, tip: str = ""):
    box = QDoubleSpinBox(objectName=name)
    box.setRange(lo, hi)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setToolTip(tip)
    return box


def _combo(name: str, options: tuple[str, ...] | dict[str, str], tip: str = "") -> QComboBox:
    box = QComboBox(objectName=name)
    items = options.items() if isinstance(options, dict) else ((o, o) for o in options)
    for value, text in items:
        box.addItem(text, value)
    box.setToolTip(tip)
    return box


def _get(cfg: Any, key: str) -> Any:
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg


def _put(cfg: Any, key: str, value: Any) -> None:
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


class SetupPanel(QWidget):
    """Dataset, budget, method and training settings; ``config()`` reads them all."""

    customDatasetRequested = Signal(object)  # "folder" | "npz": the window opens a picker

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._base = preset_config("cpu")
        self._filling = False
        self._bindings: list[tuple[str, QWidget]] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 4, 0)

        # ---- data and budget ----
        box = QGroupBox("Data and budget")
        form = self._form(box)
        self.dataset = QComboBox(objectName="datasetCombo")
        self.dataset.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.dataset.setMinimumContentsLength(24)  # "Fashion-MNIST (not found)" whole
        self.dataset.setToolTip(
            "The dataset to distil. Image folder / NPZ file pick your own data; "
            "a folder dropped on the window is used too."
        )
        self.refresh_datasets()
        self.dataset.activated.connect(self._dataset_activated)
        self.dataset.currentIndexChanged.connect(self._dataset_changed)
        form.addRow("Dataset", self.dataset)
        self.ipc = _spin(1, 100_000, "ipcSpin", "images per class of the distilled set")
        ipc_row = QHBoxLayout()
        ipc_row.setSpacing(2)
        ipc_row.addWidget(self.ipc, 1)
        for value in (1, 10, 50):
            b = QPushButton(str(value), objectName=f"ipc{value}Button")
            b.setFixedWidth(34)
            b.setToolTip(f"IPC {value}, one of the literature's budgets")
            b.clicked.connect(lambda _=False, v=value: self.ipc.setValue(v))
            ipc_row.addWidget(b)
        form.addRow("IPC", ipc_row)
        self._bind("ipc", self.ipc)
        self.preset = QComboBox(objectName="presetCombo")
        for name, text in PRESETS.items():
            self.preset.addItem(name, name)
            self.preset.setItemData(self.preset.count() - 1, text, Qt.ItemDataRole.ToolTipRole)
        self.preset.setToolTip("Budgets and widths to start from; every setting stays editable")
        self.preset.currentIndexChanged.connect(self._preset_changed)
        form.addRow("Preset", self.preset)
        self.device = QComboBox(objectName="deviceCombo")
        self.device.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.device.setMinimumContentsLength(16)
        self.device.addItem("auto (best here)", "auto")
        for dev, text in available_devices():
            self.device.addItem(f"{dev}: {text}", dev)
            self.device.setItemData(self.device.count() - 1, text, Qt.ItemDataRole.ToolTipRole)
        form.addRow("Device", self.device)
        self._bind("device", self.device)
        self.seed = _spin(0, 2**31 - 1, "seedSpin", "one seed for every random stream of the run")
        form.addRow("Seed", self.seed)
        self._bind("seed", self.seed)
        layout.addWidget(box)

        # ---- method ----
        box = QGroupBox("Method")
        form = self._form(box)
        self.tau = _dspin(0.01, 100.0, 2, 0.5, "tauSpin", "temperature of the soft labels")
        form.addRow("tau", self.tau)
        self._bind("distill.tau", self.tau)
        self.lam = _dspin(0.0, 100.0, 4, 0.001, "lambdaSpin", "weight of the matching term")
        form.addRow("lambda", self.lam)
        self._bind("distill.lam", self.lam)
        losses = {name: LOSS_TITLES.get(name, name) for name in LOSSES}
        self.loss = _combo("lossCombo", losses, "the matching loss (an ablation)")
        form.addRow("Matching loss", self.loss)
        self._bind("distill.loss", self.loss)
        self.standardize = QCheckBox("standardize logits", objectName="standardizeCheck")
        self.standardize.setToolTip("logit standardization before the softmax (an ablation)")
        form.addRow("", self.standardize)
        self._bind("distill.standardize", self.standardize)
        self.tau_mode = _combo("tauModeCombo", TAU_MODES, "logits divided or multiplied by tau")
        form.addRow("tau mode", self.tau_mode)
        self._bind("distill.tau_mode", self.tau_mode)
        self.pool = NetworkList(CLASSIFIERS, "poolList")
        self.pool.setToolTip("networks that judge the generator in the SKD phase")
        form.addRow("Model pool", self.pool)
        layout.addWidget(box)

        # ---- training ----
        box = QGroupBox("Training")
        form = self._form(box)
        for key, label, widget in (
            (
                "gan.epochs",
                "GAN epochs",
                _spin(
                    0,
                    100_000,
                    "ganEpochsSpin",
                    "Phase 1: passes over the training images while the conditional GAN "
                    "learns to draw each class",
                ),
            ),
            (
                "distill.epochs",
                "SKD epochs",
                _spin(
                    0,
                    100_000,
                    "distillEpochsSpin",
                    "Phase 2: passes of self-knowledge distillation, where pool networks "
                    "make the generator's images carry the real images' class knowledge",
                ),
            ),
            (
                "gan.batch_size",
                "GAN batch size",
                _spin(
                    1,
                    65_536,
                    "batchSpin",
                    "Real images per phase-1 step (and as many generated ones)",
                ),
            ),
            (
                "distill.batch_size",
                "SKD batch size",
                _spin(1, 65_536, "distillBatchSpin", "Real and generated images per phase-2 step"),
            ),
            (
                "model.width",
                "Model width",
                _spin(1, 4096, "widthSpin", "channels of the generator and discriminator"),
            ),
        ):
            form.addRow(label, widget)
            self._bind(key, widget)
        self.selection = _combo(
            "selectionCombo", SELECTION_TITLES,
            "how the generator's draws become the distilled set: herding draws many "
            "candidates per class and keeps those whose mean feature tracks the real class "
            "mean (an observer network's features); random keeps the first draws (the paper's)",
        )  # fmt: skip
        form.addRow("Set selection", self.selection)
        self._bind("sampling.selection", self.selection)
        self.refine = _combo(
            "refineCombo", REFINE_TITLES,
            "after selection, move the chosen images toward the real data: DM matches the "
            "mean features of freshly initialised ConvNets on real and chosen images, class "
            "by class (one iteration a step of phase 3; Advanced sets how many). none keeps "
            "the chosen draws, as the paper does",
        )  # fmt: skip
        form.addRow("Refinement", self.refine)
        self._bind("refine.method", self.refine)
        layout.addWidget(box)

        # ---- advanced ----
        self.advanced_toggle = QToolButton(objectName="advancedToggle", text="Advanced")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setAutoRaise(True)
        layout.addWidget(self.advanced_toggle)
        self.advanced = QWidget(objectName="advancedBox")
        adv = QVBoxLayout(self.advanced)
        adv.setContentsMargins(0, 0, 0, 0)
        self.advanced_toggle.toggled.connect(self._toggle_advanced)
        self.advanced.setVisible(False)
        layout.addWidget(self.advanced)

        box = QGroupBox("Data")
        form = self._form(box)
        self.data_dir = QLineEdit(objectName="dataDirEdit")
        self.data_dir.setPlaceholderText("the default data folder")
        self.data_dir.setToolTip(
            "a folder that holds the dataset's files (MNIST's IDX files, "
            "cifar-10-batches-py/ or its .tar.gz); the dataset list follows it"
        )
        self.data_dir.editingFinished.connect(self.refresh_datasets)
        browse = QToolButton(text="...", objectName="dataDirButton")
        browse.clicked.connect(self._browse_data_dir)
        row = QHBoxLayout()
        row.addWidget(self.data_dir, 1)
        row.addWidget(browse)
        form.addRow("Data folder", row)
        self._bind("data_dir", self.data_dir)
        self.download = QCheckBox("download when not found", objectName="downloadCheck")
        form.addRow("", self.download)
        self._bind("download", self.download)
        adv.addWidget(box)

        box = QGroupBox("Speed")
        form = self._form(box)
        here = "native on this CPU" if native_bf16("cpu") else "not native on this CPU: fp32"
        self._rows(
            form,
            (
                "runtime.precision",
                "Precision",
                _combo(
                    "precisionCombo",
                    {"auto": f"auto (bf16 where native; {here})", "fp32": "fp32",
                     "bf16": "bf16 autocast"},
                    "the arithmetic of every network the run and its evaluation train. auto: "
                    "bf16 autocast where the device computes it natively (a CPU with AVX-512 "
                    "BF16 or AMX, a recent GPU), except the GAN, which stays fp32",
                ),  # fmt: skip
            ),
            (
                "runtime.compile",
                "Compile",
                _combo(
                    "compileCombo",
                    {"auto": "auto (parts long enough to repay it)", "on": "on", "off": "off"},
                    "torch.compile the networks: faster steps after some seconds of "
                    "compilation, which runs on the worker, never in the window. auto: each "
                    "part that trains at least a few hundred steps",
                ),
            ),
        )
        adv.addWidget(box)

        box = QGroupBox("Phase 1: GAN pretraining")
        form = self._form(box)
        self._rows(
            form,
            ("gan.lr", "Learning rate", SciSpinBox(1e-9, 1.0)),
            ("gan.beta1", "Adam beta1", _dspin(0.0, 0.999, 3, 0.1, "beta1Spin")),
            ("gan.beta2", "Adam beta2", _dspin(0.0, 0.999, 3, 0.01, "beta2Spin")),
            ("gan.gp_weight", "Gradient penalty", _dspin(0.0, 1000.0, 2, 1.0, "gpSpin")),
            (
                "gan.steps_per_epoch",
                "Steps / epoch",
                _spin(0, 10**7, "ganStepsSpin", "0 = one full pass", "full pass"),
            ),
            ("gan.select", "Generator kept", _combo("selectCombo", GAN_SELECT)),
            ("gan.select_every", "Select every (epochs)", _spin(1, 10**5, "selectEverySpin")),
            ("gan.select_ipc", "Selection IPC", _spin(1, 10**4, "selectIpcSpin")),
            ("gan.select_epochs", "Selection epochs", _spin(1, 10**5, "selectEpochsSpin")),
            ("model.nz", "Noise size", _spin(1, 4096, "nzSpin")),
        )
        adv.addWidget(box)

        box = QGroupBox("Phase 2: SKD")
        form = self._form(box)
        self._rows(
            form,
            ("distill.lr", "Generator lr", SciSpinBox(1e-12, 1.0)),
            (
                "distill.steps_per_epoch",
                "Steps / epoch",
                _spin(0, 10**7, "distillStepsSpin", "0 = one full pass", "full pass"),
            ),
            ("distill.mse_weight", "MSE weight", self._mse_weight_box()),
            ("distill.pool_mode", "Pool mode", _combo("poolModeCombo", POOL_MODES)),
            (
                "distill.pool_bn",
                "Pool BatchNorm",
                _combo(
                    "poolBnCombo",
                    POOL_BN_TITLES,
                    "how a pool network's BatchNorm layers normalize while the generator is "
                    "matched: eval = with the statistics of the real data they trained on "
                    "(ours); train = with the matched batch's own, as DiM does. Networks "
                    "without BatchNorm (ConvNet-3, ResNet-18) are the same either way.",
                ),
            ),
            ("distill.pool_batches", "Pool batches / step", _spin(1, 10**4, "poolBatchesSpin")),
            (
                "distill.pool_width",
                "Pool width",
                _spin(0, 4096, "poolWidthSpin", "0 = the literature's width", "literature"),
            ),
            ("distill.pool_lr", "Pool lr", SciSpinBox(1e-9, 10.0)),
            ("distill.pool_momentum", "Pool momentum", _dspin(0, 0.999, 3, 0.1, "momentumSpin")),
            ("distill.pool_weight_decay", "Pool weight decay", SciSpinBox(0.0, 1.0)),
            (
                "distill.pool_pretrain_epochs",
                "Pretraining epochs",
                _spin(1, 10**4, "poolPretrainSpin", "pretrained pool mode only"),
            ),
            (
                "distill.discriminator",
                "Discriminator",
                _combo("discriminatorCombo", DISCRIMINATOR_MODES),
            ),
            ("distill.augment", "", QCheckBox("DSA augmentation", objectName="augmentCheck")),
        )
        adv.addWidget(box)

        box = QGroupBox("Phase 3: the distilled set")
        form = self._form(box)
        self._rows(
            form,
            (
                "sampling.candidates",
                "Candidates / image",
                _spin(
                    1,
                    1000,
                    "candidatesSpin",
                    "herding chooses from IPC x this draws per class (at least 50)",
                ),
            ),
            (
                "sampling.observer_width",
                "Observer width",
                _spin(1, 1024, "observerWidthSpin", "channels of the ConvNet-3 observer"),
            ),
            (
                "sampling.observer_epochs",
                "Observer epochs",
                _spin(1, 10**4, "observerEpochsSpin", "its passes over the real training split"),
            ),
            (
                "refine.iterations",
                "DM iterations",
                _spin(1, 10**7, "refineIterationsSpin", "refinement steps (DM only)"),
            ),
            ("refine.lr", "DM lr", SciSpinBox(1e-6, 1e4)),
            (
                "refine.real_per_class",
                "DM real / class",
                _spin(1, 10**5, "refineRealSpin", "real images embedded per class and step"),
            ),
            (
                "refine.width",
                "DM embedder width",
                _spin(1, 4096, "refineWidthSpin", "channels of the random ConvNet-3"),
            ),
        )
        adv.addWidget(box)

        box = QGroupBox("Monitoring")
        form = self._form(box)
        self._rows(
            form,
            ("monitor.grid_every", "Grid every (steps)", _spin(1, 10**7, "gridEverySpin")),
            ("monitor.grid_cols", "Grid columns", _spin(1, 100, "gridColsSpin")),
            (
                "monitor.checkpoint_every",
                "Checkpoint every",
                _spin(1, 10**8, "checkpointEverySpin"),
            ),
            ("monitor.log_every", "Metrics every", _spin(1, 10**6, "logEverySpin")),
        )
        adv.addWidget(box)

        self.note = QLabel(wordWrap=True, objectName="presetNote")
        self.note.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(self.note)
        layout.addStretch(1)
        self.set_config(self._base)

    # ---- building helpers ----
    @staticmethod
    def _mse_weight_box() -> SciSpinBox:
        box = SciSpinBox(0.0, 1e6)
        box.setObjectName("mseWeightSpin")
        box.setToolTip(
            "weight of DiM's MSE matching term (matching loss 'mse' only), independent of "
            "lambda; DiM's is 0.01"
        )
        return box

    @staticmethod
    def _form(box: QGroupBox) -> QFormLayout:
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setContentsMargins(6, 6, 6, 6)
        return form

    def _bind(self, key: str, widget: QWidget) -> None:
        self._bindings.append((key, widget))

    def _rows(self, form: QFormLayout, *rows: tuple[str, str, QWidget]) -> None:
        for key, label, widget in rows:
            if not widget.objectName():
                widget.setObjectName(key.replace(".", "_"))
            form.addRow(label, widget)
            self._bind(key, widget)

    def _toggle_advanced(self, on: bool) -> None:
        self.advanced.setVisible(on)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    def _browse_data_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Data folder", self.data_dir.text())
        if folder:
            self.data_dir.setText(folder)
            self.refresh_datasets()

    # ---- datasets ----
    def _data_dir_text(self) -> str | None:
        box = getattr(self, "data_dir", None)  # the list is first filled before the box exists
        return (box.text().strip() or None) if box is not None else None

    def missing_dataset_message(self, cfg: RunConfig) -> str | None:
        """Why ``cfg``'s built-in dataset cannot load here, in this panel's words; else None."""
        from ..data import list_datasets

        if cfg.download:
            return None
        for st in list_datasets(cfg.data_dir):
            if st.id == cfg.dataset and not st.available:
                return (
                    f"{st.title} is not on this computer ({st.note}). Point Advanced > Data "
                    "folder at the folder that holds its files, or tick Advanced > "
                    "'download when not found'."
                )
        return None

    @Slot()
    def refresh_datasets(self) -> None:
        """List every dataset id with whether it is here (in the Data folder too), then the
        two pickers."""
        from ..data import list_datasets

        current = self.dataset.currentData()
        custom = [
            self.dataset.itemData(i)
            for i in range(self.dataset.count())
            if str(self.dataset.itemData(i)).startswith(("folder:", "npz:"))
        ]
        self.dataset.blockSignals(True)
        self.dataset.clear()
        for st in list_datasets(self._data_dir_text()):
            label = st.title if st.available else f"{st.title} (not found)"
            self.dataset.addItem(label, st.id)
            tip = st.note
            if not st.available:
                tip += "; set Advanced > Data folder, or tick 'download when not found'"
            self.dataset.setItemData(self.dataset.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.dataset.insertSeparator(self.dataset.count())
        self.dataset.addItem("Image folder...", f"{CUSTOM}folder")
        self.dataset.addItem("NPZ file...", f"{CUSTOM}npz")
        for spec in custom:
            self._add_custom(spec)
        self.dataset.blockSignals(False)
        if current:
            filling, self._filling = self._filling, True  # the same dataset: keep lambda
            try:
                self.select_dataset(current)
            finally:
                self._filling = filling

    def _add_custom(self, spec: str) -> int:
        kind, _, path = spec.partition(":")
        i = self.dataset.count() - 3  # before the separator
        self.dataset.insertItem(i, f"{kind}: {Path(path).name}", spec)
        self.dataset.setItemData(i, path, Qt.ItemDataRole.ToolTipRole)
        return i

    def select_dataset(self, spec: str) -> None:
        """Show ``spec`` (an id, ``folder:PATH`` or ``npz:PATH``), adding it when new."""
        i = self.dataset.findData(spec)
        if i < 0:
            i = self._add_custom(spec)
        self.dataset.setCurrentIndex(i)

    def _dataset_activated(self, index: int) -> None:
        data = self.dataset.itemData(index)
        if isinstance(data, str) and data.startswith(CUSTOM):
            self.select_dataset(self._base.dataset)  # until a path was picked
            self.customDatasetRequested.emit(data[len(CUSTOM) :])

    def _dataset_changed(self, _index: int) -> None:
        spec = self.dataset.currentData()
        if self._filling or not isinstance(spec, str) or spec.startswith(CUSTOM):
            return
        from ..data import dataset_family

        try:
            self.lam.setValue(LAMBDA_DEFAULTS[dataset_family(spec)])  # per-dataset default
        except Exception:  # noqa: BLE001 - a bad spec is reported when the run starts
            pass
        self._base.dataset = spec

    # ---- presets and configs ----
    def _preset_changed(self, _index: int) -> None:
        if self._filling:
            return
        keep = self.config()
        cfg = preset_config(self.preset.currentData())
        cfg.dataset, cfg.ipc, cfg.device, cfg.seed = keep.dataset, keep.ipc, keep.device, keep.seed
        cfg.data_dir, cfg.download = keep.data_dir, keep.download
        cfg.distill.tau, cfg.distill.lam = keep.distill.tau, keep.distill.lam
        self.set_config(cfg)

    def set_config(self, cfg: RunConfig) -> None:
        """Show a config (a preset's or a loaded file's); it becomes the panel's base."""
        cfg = copy.deepcopy(cfg)
        try:
            resolve_defaults(cfg)
        except Exception:  # noqa: BLE001 - an unknown dataset keeps lambda as it is
            pass
        self._base = cfg
        self._filling = True
        try:
            self.select_dataset(cfg.dataset)
            self.preset.setCurrentIndex(max(0, self.preset.findData(cfg.preset)))
            if self.device.findData(cfg.device) < 0:
                self.device.addItem(f"{cfg.device} (not on this machine)", cfg.device)
            for key, widget in self._bindings:
                _show(widget, _get(cfg, key))
            self.pool.set_checked(cfg.distill.pool)
            self.refresh_datasets()  # availability in the config's data folder
        finally:
            self._filling = False
        self.note.setText(f"Preset {cfg.preset}: {PRESETS.get(cfg.preset, '')}")

    def config(self) -> RunConfig:
        """The config the widgets describe (over the base, for settings without a widget)."""
        cfg = copy.deepcopy(self._base)
        spec = self.dataset.currentData()
        if isinstance(spec, str) and not spec.startswith(CUSTOM):
            cfg.dataset = spec
        cfg.preset = self.preset.currentData()
        for key, widget in self._bindings:
            _put(cfg, key, _read(widget))
        cfg.distill.pool = self.pool.checked()
        return cfg


def _show(widget: QWidget, value: Any) -> None:
    if isinstance(widget, QComboBox):
        widget.setCurrentIndex(max(0, widget.findData(value)))
    elif isinstance(widget, QCheckBox):
        widget.setChecked(bool(value))
    elif isinstance(widget, QLineEdit):
        widget.setText("" if value is None else str(value))
    elif isinstance(widget, QSpinBox):
        widget.setValue(0 if value is None else int(value))
    elif isinstance(widget, QDoubleSpinBox):
        widget.setValue(0.01 if value is None else float(value))


def _read(widget: QWidget) -> Any:
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
