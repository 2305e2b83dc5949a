"""The run's settings: one dataclass tree (``RunConfig`` and its sections), its strict
JSON round trip, and which settings a checkpoint and each phase depend on.

Every setting's choices are named here; ``validation.py`` checks values against them.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .convert import _build
from .versions import CONFIG_VERSION, upgrade_config_dict

LOSSES = ("skd", "mse", "none")
POOL_BN_MODES = ("eval", "train")
TAU_MODES = ("divide", "multiply")
POOL_MODES = ("online", "pretrained")
DISCRIMINATOR_MODES = ("trained", "frozen")
GAN_SELECT = ("last", "best")
# [ours, issue 28] the adversarial loss of phases 1 and 2 (engine/trainer.py)
GAN_LOSSES = ("wgan-gp", "minimax")
# gan.diffaug's transforms: the DSA families (models/augment.FAMILIES, checked by a test).
DIFFAUG_FAMILIES = ("color", "crop", "cutout", "flip", "scale", "rotate")
EVAL_REPORT = ("final", "best-of-checks")
EVAL_PROTOCOLS = ("fixed", "on-the-fly")
CLASSIFIERS = ("convnet3", "resnet10", "resnet18", "resnet18bn", "alexnet", "vgg11")
EVAL_ARCHS = ("convnet3", "resnet18", "resnet18bn", "alexnet", "vgg11")


def is_custom_arch(name: str) -> bool:
    """An evaluation network of the user's own, ``PATH.py:FACTORY``: a function in a
    Python file that returns it (models/nets.custom_network builds it)."""
    path, sep, factory = str(name).rpartition(":")
    return bool(sep) and path.endswith(".py") and factory.isidentifier()
SELECTIONS = ("herding", "random")
# what herding chooses from: the generator's draws, the real training images, both, or
# "auto": by the set's IPC (SamplingConfig.at_ipc)
CHOOSE_FROM = ("generator", "real", "mixed", "auto")
# "auto" chooses among the draws alone up to this IPC and among draws and real images above
# it: on CIFAR-10 the herded draws were the better start for DM at IPC 1 and the real
# images at IPC 10 (bench/RESULTS.md); IPCs in between were not measured.
AUTO_DRAWS_UP_TO_IPC = 1


def pool_at(choose_from: str, ipc: int) -> str:
    """The pool ``choose_from`` stands for in a set of ``ipc`` images per class ("auto"
    resolved; every other pool is itself)."""
    if choose_from != "auto":
        return choose_from
    return "generator" if ipc <= AUTO_DRAWS_UP_TO_IPC else "mixed"

# runtime.precision and runtime.compile (models/runtime.py says what each does)
PRECISIONS = ("auto", "fp32", "bf16")
COMPILE_MODES = ("auto", "on", "off")

# lambda, the weight of the matching term, per dataset family (docs/METHOD.md).
# SVHN and CIFAR-100 [ours]: CIFAR-10's (the paper lists neither).
LAMBDA_DEFAULTS = {
    "mnist": 0.001, "fashion-mnist": 0.01, "cifar10": 0.01, "svhn": 0.01, "cifar100": 0.01,
    "custom": 0.01,
}  # fmt: skip


@dataclass
class ModelConfig:
    """Generator and discriminator (DiM's conditional WGAN-GP)."""

    width: int = 196  # channels C of G and D; 196 is the paper's
    nz: int = 100  # noise size; the first K entries carry the one-hot label


@dataclass
class GanConfig:
    """Phase 1: conditional GAN pretraining."""

    epochs: int = 150
    steps_per_epoch: int | None = None  # cap on batches per epoch; None = one full pass
    batch_size: int = 128
    lr: float = 1e-4
    beta1: float = 0.0
    beta2: float = 0.9
    gp_weight: float = 10.0
    select: str = "last"  # "best": DiM's quick evaluation every `select_every` epochs
    select_every: int = 10
    select_ipc: int = 10
    select_epochs: int = 100  # training epochs of the quick-evaluation network
    # [ours, issue 28] Decay of an exponential moving average of G's weights, updated after
    # every G step of both phases; the sets, grids and generator.pt then come from the
    # average, while training goes on from the raw weights. 0 = off (the paper's G).
    ema: float = 0.0
    # [ours, issue 28] "wgan-gp": the paper's critic with a gradient penalty (a double
    # backward each D step); "minimax": the non-saturating conditional GAN loss (a logit
    # per image, binary cross-entropy, no penalty), which a CPU step pays less for.
    # gp_weight applies to "wgan-gp" only.
    loss: str = "wgan-gp"
    # [ours, issue 28] DiffAugment (Zhao et al., NeurIPS 2020): a differentiable augmentation
    # of every image the discriminator sees, real and generated, in the G and D steps of both
    # phases; a DSA strategy whose transforms all apply, e.g. "color_crop_cutout" (DiffAugment's
    # color, translation and cutout). "" = off (the paper's GAN).
    diffaug: str = ""


@dataclass
class DistillConfig:
    """Phase 2: self-knowledge-distillation refinement of the generator."""

    epochs: int = 100
    steps_per_epoch: int | None = None
    batch_size: int = 64
    lr: float = 5e-6  # G's Adam learning rate, reset at the start of phase 2 [DiM]
    tau: float = 2.0
    lam: float | None = None  # lambda; None = the dataset's default (LAMBDA_DEFAULTS)
    loss: str = "skd"  # "skd" | "mse" (DiM) | "none" (GAN only)
    mse_weight: float = 0.01  # DiM's weight of the "mse" term, independent of lambda
    standardize: bool = True  # logit standardization before the softmax
    tau_mode: str = "divide"  # Z / tau (reference implementation) or Z * tau
    pool: list[str] = field(default_factory=lambda: ["convnet3", "resnet10", "resnet18bn"])
    pool_mode: str = "online"  # fresh network every epoch, trained as G trains; or "pretrained"
    pool_batches: int = 16  # real mini-batches of pool training before each G step
    pool_width: int | None = None  # None = the literature's width
    pool_lr: float = 0.01
    pool_momentum: float = 0.9
    pool_weight_decay: float = 5e-4
    pool_pretrain_epochs: int = 10  # "pretrained" mode: epochs over the real data per member
    discriminator: str = "trained"  # keep training D after each G step, or "frozen"
    augment: bool = True  # same DSA augmentation on real and synthetic before the pool model
    pool_bn: str = "eval"  # the pool net's BatchNorm while matching: "eval" [ours] | "train" [DiM]
    # [ours, issue 28] Weight of distribution matching of the draws beside the matching
    # loss: each G step, a fresh random ConvNet-3 embeds the real batch and the draws, and
    # G is moved so that each class's mean embeddings meet (DM's loss on the generator).
    # 0 = off (the paper's phase 2).
    dm_weight: float = 0.0


@dataclass
class SamplingConfig:
    """Phase 3: how the generator's draws become the distilled set (engine/selection.py)."""

    selection: str = "herding"  # "random": the first IPC draws per class (the paper's)
    candidates: int = 10  # draws per kept image; a class chooses from max(IPC x this, 50)
    # what herding chooses from: the generator's draws (the paper's source), every real
    # training image of the class (a coreset), or both competing ("mixed": a draw is kept
    # when it brings the kept images' mean closer than any real image does), or "auto": the
    # draws at small IPC, both above (at_ipc). Herding only: the first draws ("random")
    # are always the generator's.
    choose_from: str = "generator"
    # [ours, issue 28] The truncation trick on the draws: noise entries beyond +-truncation
    # are drawn again (fidelity for variety); 0 = off (the paper's plain normal noise).
    truncation: float = 0.0
    observer_width: int = 64  # the ConvNet-3 whose features herding matches
    observer_epochs: int = 10  # its passes over the real training split

    def at_ipc(self, ipc: int) -> SamplingConfig:
        """These settings as they make a set of ``ipc`` images per class: "auto" becomes
        the pool it stands for there, every other setting is returned as it is."""
        if self.choose_from != "auto":
            return self
        return dataclasses.replace(self, choose_from=pool_at(self.choose_from, ipc))


@dataclass
class EvalConfig:
    """Phase 4: the fixed-set evaluation protocol of the distillation literature."""

    archs: list[str] = field(default_factory=lambda: ["convnet3"])
    ipcs: list[int] = field(default_factory=list)  # empty = the run's IPC
    epochs: int = 1000
    repeats: int = 10
    batch_size: int = 256
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    width: int | None = None  # None = the literature's width
    dsa: bool = True
    protocol: str = "fixed"  # "on-the-fly" [DiM]: new samples every epoch
    report: str = "final"  # "best-of-checks" [DiM] peeks at the test set
    full_real: bool = False  # also train on the full real training set (upper bound)
    full_real_epochs: int = 30  # passes over the whole training set for that upper bound
    gan_only: bool = True  # also the phase-1 generator (before SKD), when its checkpoint exists
    seed: int = 0
    dm_real: bool = False  # also DM from random real images (evaluation/dm_real.py)
    dm_minutes: float | None = None  # its budget; None = the run's own training time


@dataclass
class MonitorConfig:
    """What a run records while it goes."""

    grid_every: int = 200  # steps between image grids (one row per class, fixed noise)
    grid_cols: int = 10
    checkpoint_every: int = 2000  # steps between checkpoints (plus phase ends and stop)
    log_every: int = 10  # steps between metric flushes to metrics.csv


@dataclass
class RefineConfig:
    """Refinement of the chosen set after phase 3 (engine/refine.py; docs/METHOD.md).

    ``method`` "dm": distribution matching (DM) on the set's pixels, started from the
    chosen draws: each iteration a freshly initialised ConvNet-3 embeds real images of
    each class and the set's, and the set moves so that the class means meet. "none" is
    the paper's pipeline: the chosen draws are the set.
    """

    method: str = "none"  # none | dm
    iterations: int = 1000  # DM iterations at the run's IPC (and at any other IPC made later)
    lr: float = 1.0  # SGD on the normalised pixels (DM's)
    momentum: float = 0.5
    real_per_class: int = 128  # real images embedded per class and iteration
    width: int = 128  # the embedder ConvNet-3's width (the literature's)
    # DM iterations for a set made after the run at another IPC (evaluate --ipc, export),
    # counted at the run's IPC; None: as many as the run's. Bounds how long such a set
    # takes to make: a larger IPC gets proportionally fewer, a smaller one more, by an
    # iteration's cost (engine/refine.refine_at).
    later_iterations: int | None = None


@dataclass
class RuntimeConfig:
    """How every phase's networks run (models/runtime.py says what ``auto`` picks)."""

    precision: str = "auto"  # auto | fp32 | bf16 (autocast)
    compile: str = "auto"  # auto | on | off (torch.compile)


REFINE_METHODS = ("none", "dm")


@dataclass
class RunConfig:
    version: int = CONFIG_VERSION  # of this file's format (CONFIG_VERSION); absent = 1
    dataset: str = "mnist-sample"
    data_dir: str | None = None  # a folder holding the dataset's files
    download: bool = False  # let torchvision download MNIST / CIFAR-10 when not found
    ipc: int = 10
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    preset: str = "paper"
    model: ModelConfig = field(default_factory=ModelConfig)
    gan: GanConfig = field(default_factory=GanConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    evaluation: EvalConfig = field(default_factory=EvalConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    refine: RefineConfig = field(default_factory=RefineConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    # ---- JSON -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        return _build(cls, upgrade_config_dict(data), "")

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return cls.from_dict(_json_object(text))

    def save(self, path: str | Path) -> None:
        from ..storage import atomic_write_text

        atomic_write_text(Path(path), self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        return cls.load_with_dict(path)[0]

    @classmethod
    def load_with_dict(cls, path: str | Path) -> tuple[RunConfig, dict[str, Any]]:
        """The config in a file, and the file's own dict (which keys it held), read once."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(not_text_message(path)) from None
        try:
            data = _json_object(text)
            return cls.from_dict(data), data
        except ConfigError as exc:
            if str(path) in str(exc):
                raise
            raise ConfigError(f"{path}: {exc}") from None


def _json_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError("config must be a JSON object")
    return data


def not_text_message(path: str | Path) -> str:
    """The one line for a config file that is not UTF-8 text (a binary or a wrong encoding)."""
    return f"config file {path} is not a readable JSON text file (it is not UTF-8 text)"


# ---- what the phases depend on --------------------------------------------------------


def steps_per_epoch(n: int, batch_size: int, cap: int | None) -> int:
    steps = max(1, n // batch_size)
    return min(steps, cap) if cap else steps


def phase_steps(cfg: RunConfig, train_images: int) -> tuple[int, int]:
    """The steps of phase 1 and of phase 2 on a training split of ``train_images``."""
    g, d = cfg.gan, cfg.distill
    return (
        g.epochs * steps_per_epoch(train_images, g.batch_size, g.steps_per_epoch),
        d.epochs * steps_per_epoch(train_images, d.batch_size, d.steps_per_epoch),
    )


def training_settings(cfg: RunConfig) -> dict[str, Any]:
    """The settings a checkpoint depends on; evaluation and monitoring may change freely."""
    settings = cfg.to_dict()
    # The runtime changes the arithmetic, not the method: a run may resume under another.
    for key in ("evaluation", "monitor", "device", "data_dir", "download", "runtime"):
        settings.pop(key)
    return settings


def phase1_settings(cfg: RunConfig) -> dict[str, Any]:
    """The settings phase 1 depends on. Runs that agree on them reach the phase-1 end in
    the same state (bit for bit at equal torch thread counts): phase 2 and phase 3 are
    the only readers of ``distill``, ``sampling``, ``refine`` and ``ipc``, and phase 1
    draws from none of the pool's random streams."""
    settings = training_settings(cfg)
    for key in ("distill", "sampling", "ipc", "preset", "refine"):
        settings.pop(key)
    if cfg.gan.select == "best":  # quick_score trains a pool-width ConvNet
        settings["distill.pool_width"] = cfg.distill.pool_width
    return settings
