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

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..config import (
    AUTO_DRAWS_UP_TO_IPC,
    CLASSIFIERS,
    LAMBDA_DEFAULTS,
    LOSSES,
    PRESETS,
    TAU_MODES,
    RunConfig,
    available_devices,
    preset_config,
    resolve_defaults,
)
from .setup_advanced import AdvancedSettings
from .setup_widgets import (
    CHOOSE_FROM_TITLES,
    LOSS_TITLES,
    POOL_BN_TITLES,
    REFINE_TITLES,
    SELECTION_TITLES,
    NetworkList,
    SciSpinBox,
    combo,
    config_value,
    dspin,
    read_value,
    set_config_value,
    show_value,
    spin,
)

CUSTOM = "__custom__"  # item data prefix of the "Image folder..." / "NPZ file..." entries


def preset_note(preset: str, dataset: str) -> str:
    """What the preset does on this dataset, in a line."""
    from ..data.registry import TITLES

    full = preset_config(preset, dataset) if preset in PRESETS else None
    if full is None or full == preset_config(preset):
        return f"Preset {preset}: {PRESETS.get(preset, '')}"
    among = {
        "mixed": "the draws and the real images", "real": "the real images",
        "auto": f"the draws (IPC {AUTO_DRAWS_UP_TO_IPC}) or the draws and the real images (above)",
    }  # fmt: skip
    epochs = f"{full.gan.epochs} GAN epoch{'s' if full.gan.epochs != 1 else ''}"
    return (
        f"Preset {preset} on {TITLES.get(dataset, dataset)}, under an hour on 2 cores: "
        f"{epochs}, {full.distill.steps_per_epoch} SKD steps, herding among "
        f"{among.get(full.sampling.choose_from, 'the draws')}, then "
        f"{full.refine.iterations} DM iterations on the chosen set"
    )


class SetupPanel(AdvancedSettings, QWidget):
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
        self.ipc = spin(1, 100_000, "ipcSpin", "images per class of the distilled set")
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
        self.seed = spin(0, 2**31 - 1, "seedSpin", "one seed for every random stream of the run")
        form.addRow("Seed", self.seed)
        self._bind("seed", self.seed)
        layout.addWidget(box)

        # ---- method ----
        box = QGroupBox("Method")
        form = self._form(box)
        self.tau = dspin(
            0.01, 100.0, 2, 0.5, "tauSpin",
            "temperature of the soft labels (standardized logits are divided by tau). "
            "Measured effect: none consistent. Fashion-MNIST, a phase 2 that moves the "
            "generator, herded draws at IPC 10, tau 1 / 2 / 4: seed 11 71.41 / 71.84 / "
            "71.50 % (no order), seed 12 73.04 / 73.73 / 74.48 (rising); random real "
            "images 76.5 (bench/RESULTS.md)",
        )  # fmt: skip
        form.addRow("tau", self.tau)
        self._bind("distill.tau", self.tau)
        self.lam = dspin(0.0, 100.0, 4, 0.001, "lambdaSpin", "weight of the matching term")
        form.addRow("lambda", self.lam)
        self._bind("distill.lam", self.lam)
        losses = {name: LOSS_TITLES.get(name, name) for name in LOSSES}
        self.loss = combo("lossCombo", losses, "the matching loss (an ablation)")
        form.addRow("Matching loss", self.loss)
        self._bind("distill.loss", self.loss)
        self.standardize = QCheckBox("standardize logits", objectName="standardizeCheck")
        self.standardize.setToolTip("logit standardization before the softmax (an ablation)")
        form.addRow("", self.standardize)
        self._bind("distill.standardize", self.standardize)
        self.tau_mode = combo("tauModeCombo", TAU_MODES, "logits divided or multiplied by tau")
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
                spin(
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
                spin(
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
                spin(
                    1,
                    65_536,
                    "batchSpin",
                    "Real images per phase-1 step (and as many generated ones)",
                ),
            ),
            (
                "distill.batch_size",
                "SKD batch size",
                spin(1, 65_536, "distillBatchSpin", "Real and generated images per phase-2 step"),
            ),
            (
                "model.width",
                "Model width",
                spin(
                    1, 4096, "widthSpin",
                    "channels of the generator and discriminator (the paper's 196; the cpu "
                    "preset's 32). Measured on Fashion-MNIST at the cpu recipe's one-epoch "
                    "GAN-minutes (herded draws, IPC 10, one seed): 16 (2.5 times the steps) "
                    "72.34 +- 0.25 %, 32 70.44 +- 0.33, 64 (0.37 times) 69.50 +- 0.41",
                ),  # fmt: skip
            ),
        ):
            form.addRow(label, widget)
            self._bind(key, widget)
        self.selection = combo(
            "selectionCombo", SELECTION_TITLES,
            "how the generator's draws become the distilled set: herding draws many "
            "candidates per class and keeps those whose mean feature tracks the real class "
            "mean (an observer network's features); random keeps the first draws (the paper's)",
        )  # fmt: skip
        self.choose_from = combo(
            "chooseFromCombo", CHOOSE_FROM_TITLES,
            "what herding chooses from: the generator's draws (the paper's source), every "
            "real training image of the class (a coreset), or both at once, where a draw is "
            "kept only when it brings the set's mean closer than any real image would. The "
            "set's record says how many of each it kept",
        )  # fmt: skip
        self.refine = combo(
            "refineCombo", REFINE_TITLES,
            "after selection, move the chosen images toward the real data: DM matches the "
            "mean features of freshly initialised ConvNets on real and chosen images, class "
            "by class (one iteration a step of phase 3; Advanced sets how many). none keeps "
            "the chosen draws, as the paper does",
        )  # fmt: skip
        self._rows(
            form,
            ("sampling.selection", "Set selection", self.selection),
            ("sampling.choose_from", "Chosen from", self.choose_from),
            ("refine.method", "Refinement", self.refine),
        )
        self.selection.currentIndexChanged.connect(self._sync_choose_from)
        self._sync_choose_from()
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

        self._build_advanced(adv)

        self.note = QLabel(wordWrap=True, objectName="presetNote")
        self.note.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(self.note)
        layout.addStretch(1)
        self.set_config(self._base)

    # ---- building helpers ----
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

    def _sync_choose_from(self) -> None:
        """Only herding chooses; the first draws are always the generator's."""
        herding = self.selection.currentData() == "herding"
        self.choose_from.setEnabled(herding)
        if not herding:
            self.choose_from.setCurrentIndex(max(self.choose_from.findData("generator"), 0))

    def _toggle_advanced(self, on: bool) -> None:
        self.advanced.setVisible(on)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

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
        before = self._base.dataset
        self._base.dataset = spec
        preset = self.preset.currentData()
        if preset in PRESETS and preset_config(preset, before) != preset_config(preset, spec):
            # The preset has another recipe for this dataset (the cpu preset on a full
            # dataset): show it, as choosing the preset again would.
            self._preset_changed(self.preset.currentIndex())

    # ---- presets and configs ----
    def _preset_changed(self, _index: int) -> None:
        if self._filling:
            return
        keep = self.config()
        cfg = preset_config(self.preset.currentData(), keep.dataset)
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
                show_value(widget, config_value(cfg, key))
            self.pool.set_checked(cfg.distill.pool)
            self.refresh_datasets()  # availability in the config's data folder
        finally:
            self._filling = False
        self.note.setText(preset_note(cfg.preset, cfg.dataset))

    def config(self) -> RunConfig:
        """The config the widgets describe (over the base, for settings without a widget)."""
        cfg = copy.deepcopy(self._base)
        spec = self.dataset.currentData()
        if isinstance(spec, str) and not spec.startswith(CUSTOM):
            cfg.dataset = spec
        cfg.preset = self.preset.currentData()
        for key, widget in self._bindings:
            set_config_value(cfg, key, read_value(widget))
        cfg.distill.pool = self.pool.checked()
        return cfg


__all__ = [
    "LOSS_TITLES", "POOL_BN_TITLES", "REFINE_TITLES", "SELECTION_TITLES", "NetworkList",
    "SciSpinBox", "SetupPanel",
]  # fmt: skip
