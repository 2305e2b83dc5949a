"""The set-up panel's Advanced settings: the data folder, speed (precision, compilation),
and every setting of phase 1 (GAN), phase 2 (SKD), phase 3 (the distilled set) and the
monitoring, each bound to its dotted config key like the panel's own rows.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QToolButton,
    QVBoxLayout,
)

from ..config import (
    DISCRIMINATOR_MODES,
    GAN_SELECT,
    POOL_MODES,
)
from ..models.runtime import native_bf16
from .setup_widgets import POOL_BN_TITLES, SciSpinBox, combo, dspin, spin

# [issue 28] What the two draw levers do, and what they measured (bench/RESULTS.md).
EMA_TIP = (
    "decay of a moving average of the generator's weights, sampled instead of the raw "
    "weights (sets, grids, generator.pt); 0 = off (the paper's generator). Measured on "
    "Fashion-MNIST after the cpu recipe's one GAN epoch (herded draws, IPC 10): 0.999 "
    "gave 70.85 +- 0.45 %, the raw weights 71.78 +- 0.28: no gain at that budget"
)
TRUNCATION_TIP = (
    "the truncation trick: noise entries beyond +-this are drawn again (fidelity for "
    "variety); 0 = off (the paper's noise), else 0.1 to 10. Measured on Fashion-MNIST "
    "after the cpu recipe's one GAN epoch (herded draws, IPC 10): 1.0 gave 30.82 +- 0.67 % "
    "against 71.78 +- 0.28 untruncated, as the draws lost their class"
)


GAN_LOSS_TITLES = {"wgan-gp": "WGAN-GP (the paper's)", "minimax": "minimax, no penalty"}
GAN_LOSS_TIP = (
    "the adversarial loss of both phases: WGAN-GP, the paper's critic with a gradient "
    "penalty (a second backward pass every discriminator step), or the non-saturating "
    "conditional minimax loss (binary cross-entropy on the critic's score, no penalty), "
    "whose steps cost a CPU less (1.6 times the steps a minute). Measured on Fashion-MNIST "
    "at WGAN-GP's one-epoch GAN-minutes (herded draws, IPC 10): 62.75 +- 0.35 % against "
    "WGAN-GP's 71.78 +- 0.28: not kept"
)


DIFFAUG_TITLES = {
    "": "off (the paper's)",
    "color_crop_cutout": "color, translation, cutout (DiffAugment's)",
    "crop_cutout": "translation, cutout",
}
DIFFAUG_TIP = (
    "DiffAugment: every image the discriminator sees, real or generated, is augmented "
    "differentiably in both phases, so that a discriminator trained on few steps "
    "overfits less; DSA's transforms, all applied (a config file may name others, "
    "joined by '_'). Measured on Fashion-MNIST at the plain GAN's one-epoch minutes "
    "(herded draws, IPC 10): color, translation, cutout 58.18 +- 0.74 % against 70.44 "
    "+- 0.33 without, as the draws' classes weakened: not kept"
)


def diffaug_combo() -> QComboBox:
    box = combo("diffaugCombo", DIFFAUG_TITLES, DIFFAUG_TIP)
    box.setProperty("keepsOthers", True)
    return box


class AdvancedSettings:
    """The boxes under the panel's Advanced toggle: a part of
    :class:`~gdd_studio.ui.setup_panel.SetupPanel`, whose attributes its widgets are and
    whose ``_form``, ``_bind`` and ``_rows`` bind them."""

    def _build_advanced(self, adv: QVBoxLayout) -> None:
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
                combo(
                    "precisionCombo",
                    {
                        "auto": f"auto (bf16 where native; {here})",
                        "fp32": "fp32",
                        "bf16": "bf16 autocast",
                    },
                    "the arithmetic of every network the run and its evaluation train. auto: "
                    "bf16 autocast where the device computes it natively (a CPU with AVX-512 "
                    "BF16 or AMX, a recent GPU), except the GAN, which stays fp32",
                ),  # fmt: skip
            ),
            (
                "runtime.compile",
                "Compile",
                combo(
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
            ("gan.beta1", "Adam beta1", dspin(0.0, 0.999, 3, 0.1, "beta1Spin")),
            ("gan.beta2", "Adam beta2", dspin(0.0, 0.999, 3, 0.01, "beta2Spin")),
            ("gan.loss", "Adversarial loss", combo("ganLossCombo", GAN_LOSS_TITLES, GAN_LOSS_TIP)),
            ("gan.gp_weight", "Gradient penalty", dspin(0.0, 1000.0, 2, 1.0, "gpSpin")),
            ("gan.diffaug", "DiffAugment", diffaug_combo()),
            (
                "gan.steps_per_epoch",
                "Steps / epoch",
                spin(0, 10**7, "ganStepsSpin", "0 = one full pass", "full pass"),
            ),
            ("gan.select", "Generator kept", combo("selectCombo", GAN_SELECT)),
            ("gan.select_every", "Select every (epochs)", spin(1, 10**5, "selectEverySpin")),
            ("gan.select_ipc", "Selection IPC", spin(1, 10**4, "selectIpcSpin")),
            ("gan.select_epochs", "Selection epochs", spin(1, 10**5, "selectEpochsSpin")),
            ("model.nz", "Noise size", spin(1, 4096, "nzSpin")),
            ("gan.ema", "Weight average (EMA)", dspin(0.0, 0.9999, 4, 0.001, "emaSpin", EMA_TIP)),
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
                spin(0, 10**7, "distillStepsSpin", "0 = one full pass", "full pass"),
            ),
            ("distill.mse_weight", "MSE weight", self._mse_weight_box()),
            ("distill.dm_weight", "DM of the draws", self._dm_weight_box()),
            ("distill.pool_mode", "Pool mode", combo("poolModeCombo", POOL_MODES)),
            (
                "distill.pool_bn",
                "Pool BatchNorm",
                combo(
                    "poolBnCombo",
                    POOL_BN_TITLES,
                    "how a pool network's BatchNorm layers normalize while the generator is "
                    "matched: eval = with the statistics of the real data they trained on "
                    "(ours); train = with the matched batch's own, as DiM does. Networks "
                    "without BatchNorm (ConvNet-3, ResNet-18) are the same either way.",
                ),
            ),
            ("distill.pool_batches", "Pool batches / step", spin(1, 10**4, "poolBatchesSpin")),
            (
                "distill.pool_width",
                "Pool width",
                spin(0, 4096, "poolWidthSpin", "0 = the literature's width", "literature"),
            ),
            ("distill.pool_lr", "Pool lr", SciSpinBox(1e-9, 10.0)),
            ("distill.pool_momentum", "Pool momentum", dspin(0, 0.999, 3, 0.1, "momentumSpin")),
            ("distill.pool_weight_decay", "Pool weight decay", SciSpinBox(0.0, 1.0)),
            (
                "distill.pool_pretrain_epochs",
                "Pretraining epochs",
                spin(1, 10**4, "poolPretrainSpin", "pretrained pool mode only"),
            ),
            (
                "distill.discriminator",
                "Discriminator",
                combo("discriminatorCombo", DISCRIMINATOR_MODES),
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
                spin(
                    1,
                    1000,
                    "candidatesSpin",
                    "herding chooses from IPC x this draws per class (at least 50)",
                ),
            ),
            (
                "sampling.truncation",
                "Noise truncation",
                dspin(0.0, 10.0, 2, 0.1, "truncationSpin", TRUNCATION_TIP),
            ),
            (
                "sampling.observer_width",
                "Observer width",
                spin(1, 1024, "observerWidthSpin", "channels of the ConvNet-3 observer"),
            ),
            (
                "sampling.observer_epochs",
                "Observer epochs",
                spin(1, 10**4, "observerEpochsSpin", "its passes over the real training split"),
            ),
            (
                "refine.iterations",
                "DM iterations",
                spin(1, 10**7, "refineIterationsSpin", "refinement steps (DM only)"),
            ),
            (
                "refine.later_iterations",
                "DM iterations, other IPC",
                spin(
                    0,
                    10**7,
                    "refineLaterSpin",
                    "DM iterations for a set made after the run at another IPC (evaluating "
                    "or exporting it), counted at the run's IPC: a larger IPC gets "
                    "proportionally fewer, a smaller one more, so its making takes as long",
                    none_text="as the run's",
                ),
            ),
            ("refine.lr", "DM lr", SciSpinBox(1e-6, 1e4)),
            (
                "refine.real_per_class",
                "DM real / class",
                spin(1, 10**5, "refineRealSpin", "real images embedded per class and step"),
            ),
            (
                "refine.width",
                "DM embedder width",
                spin(1, 4096, "refineWidthSpin", "channels of the random ConvNet-3"),
            ),
        )
        adv.addWidget(box)

        box = QGroupBox("Monitoring")
        form = self._form(box)
        self._rows(
            form,
            ("monitor.grid_every", "Grid every (steps)", spin(1, 10**7, "gridEverySpin")),
            ("monitor.grid_cols", "Grid columns", spin(1, 100, "gridColsSpin")),
            (
                "monitor.checkpoint_every",
                "Checkpoint every",
                spin(1, 10**8, "checkpointEverySpin"),
            ),
            ("monitor.log_every", "Metrics every", spin(1, 10**6, "logEverySpin")),
        )
        adv.addWidget(box)

    # ---- building helpers ----
    @staticmethod
    def _weight_box(name: str, tip: str) -> SciSpinBox:
        """A loss term's weight, 0 or more, in scientific notation."""
        box = SciSpinBox(0.0, 1e6)
        box.setObjectName(name)
        box.setToolTip(tip)
        return box

    @classmethod
    def _mse_weight_box(cls) -> SciSpinBox:
        return cls._weight_box(
            "mseWeightSpin",
            "weight of DiM's MSE matching term (matching loss 'mse' only), independent of "
            "lambda; DiM's is 0.01",
        )

    @classmethod
    def _dm_weight_box(cls) -> SciSpinBox:
        return cls._weight_box(
            "dmWeightSpin",
            "weight of distribution matching of the draws beside SKD (ours): each generator "
            "step a fresh random ConvNet-3 embeds real images and draws, and the generator "
            "moves so that each class's mean embeddings meet; 0 = off (the paper's phase 2)",
        )

    def _browse_data_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Data folder", self.data_dir.text())
        if folder:
            self.data_dir.setText(folder)
            self.refresh_datasets()
