"""The run's settings: one dataclass tree, presets, validation and a strict JSON round trip.

The same file drives the window and the CLI, so everything a run does is decided here and
stored with the run (``config.json``). Unknown keys are rejected rather than ignored: a
typo in a config file must not silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

LOSSES = ("skd", "mse", "none")
POOL_BN_MODES = ("eval", "train")
TAU_MODES = ("divide", "multiply")
POOL_MODES = ("online", "pretrained")
DISCRIMINATOR_MODES = ("trained", "frozen")
GAN_SELECT = ("last", "best")
EVAL_REPORT = ("final", "best-of-checks")
EVAL_PROTOCOLS = ("fixed", "on-the-fly")
CLASSIFIERS = ("convnet3", "resnet10", "resnet18", "resnet18bn", "alexnet", "vgg11")
EVAL_ARCHS = ("convnet3", "resnet18", "resnet18bn", "alexnet", "vgg11")

# The config file's version. 1 (files without a "version" key): "resnet18" named the
# BatchNorm ResNet-18. 2: that net is "resnet18bn" and "resnet18" is the literature's
# instance-norm one (models/nets.py). Older files are upgraded on reading, so a run keeps
# the network it was made with.
CONFIG_VERSION = 2
ARCH_RENAMES_V1 = {"resnet18": "resnet18bn"}
SELECTIONS = ("herding", "random")
# runtime.precision and runtime.compile (models/runtime.py says what each does)
PRECISIONS = ("auto", "fp32", "bf16")
COMPILE_MODES = ("auto", "on", "off")

# lambda, the weight of the matching term, per dataset family (docs/METHOD.md).
LAMBDA_DEFAULTS = {"mnist": 0.001, "fashion-mnist": 0.01, "cifar10": 0.01, "custom": 0.01}


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


@dataclass
class SamplingConfig:
    """Phase 3: how the generator's draws become the distilled set (engine/selection.py)."""

    selection: str = "herding"  # "random": the first IPC draws per class (the paper's)
    candidates: int = 10  # draws per kept image; a class chooses from max(IPC x this, 50)
    observer_width: int = 64  # the ConvNet-3 whose features herding matches
    observer_epochs: int = 10  # its passes over the real training split


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


@dataclass
class RuntimeConfig:
    """How every phase's networks run (models/runtime.py says what ``auto`` picks)."""

    precision: str = "auto"  # auto | fp32 | bf16 (autocast)
    compile: str = "auto"  # auto | on | off (torch.compile)


# What a run written before the runtime setting existed ran with.
LEGACY_RUNTIME = {"precision": "fp32", "compile": "off"}
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
        from .storage import atomic_write_text

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


# ---- older files ----------------------------------------------------------------------


# The sections every saved config.json holds (and a hand-written partial file lacks).
_SAVED_SECTIONS = ("dataset", "ipc", "seed", "model", "gan", "distill", "evaluation", "monitor")


def rename_archs_v1(value: Any) -> Any:
    """A version-1 list of network names (or "a,b" text) in version-2 names."""
    if isinstance(value, str):
        return ",".join(ARCH_RENAMES_V1.get(v.strip(), v.strip()) for v in value.split(","))
    if isinstance(value, list):
        return [ARCH_RENAMES_V1.get(v, v) if isinstance(v, str) else v for v in value]
    return value


def upgrade_config_dict(data: Any) -> Any:
    """A config dict as the current version reads it (a copy when anything changes).

    A complete file without ``"version"`` (every config.json a run wrote before version 2
    holds every section) was written before version 2: its "resnet18" meant the BatchNorm
    net, now "resnet18bn". A partial file (a hand-written ``--config``) without a version
    is read as today's: a new user's "resnet18" means the literature's network. A complete
    file without a ``"runtime"`` section was written before that setting existed, by a run
    that trained in fp32 without compilation: it keeps doing so (LEGACY_RUNTIME), so that
    resuming it continues bit for bit.
    """
    if not isinstance(data, dict):
        return data
    complete = all(key in data for key in _SAVED_SECTIONS)
    version = data.get("version", 1 if complete else CONFIG_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ConfigError(
            f"version must be a whole number from 1 to {CONFIG_VERSION}, got {version!r}"
        )
    if version > CONFIG_VERSION:
        raise ConfigError(
            f"this config file is version {version}, newer than this GDD Studio reads "
            f"({CONFIG_VERSION}): update GDD Studio"
        )
    if complete and "runtime" not in data:
        data = {**data, "runtime": dict(LEGACY_RUNTIME)}
    if version == CONFIG_VERSION:
        return data
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for section, key in (("distill", "pool"), ("evaluation", "archs")):
        if isinstance(data.get(section), dict) and key in data[section]:
            data[section][key] = rename_archs_v1(data[section][key])
    data["version"] = CONFIG_VERSION
    return data


# ---- strict typed conversion ---------------------------------------------------------


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'} must be an object, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ConfigError(f"unknown config key '{key}' (known: {', '.join(sorted(names))})")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _convert(hints[name], value, f"{where}.{name}" if where else name)
    return cls(**kwargs)


_TRUE = ("true", "on", "yes", "1")
_FALSE = ("false", "off", "no", "0")


def _convert(tp: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, where)
    if origin is list:
        (item,) = typing.get_args(tp)
        if isinstance(value, str):  # "a,b" from a command line
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
            return value.lower() in _TRUE
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ConfigError(f"{where} must be an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where} must be a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where} must be a string, got {value!r}")
    raise ConfigError(f"{where}: unsupported setting type {tp!r}")  # pragma: no cover


def _field_type(root: type, dotted: str) -> tuple[Any, list[str]]:
    parts = dotted.split(".")
    cls: Any = root
    for i, part in enumerate(parts):
        if not dataclasses.is_dataclass(cls):
            raise ConfigError(f"unknown config key '{dotted}'")
        hints = typing.get_type_hints(cls)
        if part not in hints:
            known = ", ".join(sorted(hints))
            prefix = ".".join(parts[:i]) or "config"
            raise ConfigError(f"unknown config key '{dotted}' ({prefix} has: {known})")
        cls = hints[part]
    return cls, parts


def set_value(cfg: RunConfig, key: str, raw: Any) -> None:
    """Set a dotted key (``distill.tau``) from a command-line string or a JSON value."""
    tp, parts = _field_type(RunConfig, key)
    if dataclasses.is_dataclass(tp):
        raise ConfigError(f"'{key}' is a section; set one of its keys, e.g. {key}.<name>=...")
    value = raw
    if isinstance(raw, str):
        text = raw.strip()
        is_union = typing.get_origin(tp) in (typing.Union, types.UnionType)
        args = typing.get_args(tp) if is_union else ()
        if type(None) in args and text.lower() in ("none", "null"):
            value = None
        elif tp is str or str in args:
            value = text
        else:
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                value = text
    converted = _convert(tp, value, key)
    target: Any = cfg
    for part in parts[:-1]:
        target = getattr(target, part)
    setattr(target, parts[-1], converted)


def merge_dict(cfg: RunConfig, data: dict[str, Any], where: str = "") -> None:
    """Apply a (possibly partial) config dict on top of ``cfg``, strictly.

    At the top level the dict is a config file's, so it is upgraded first
    (``upgrade_config_dict``).
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'} must be an object")
    if not where:
        data = upgrade_config_dict(data)
    for key, value in data.items():
        dotted = f"{where}.{key}" if where else key
        tp, _ = _field_type(RunConfig, dotted)
        if dataclasses.is_dataclass(tp):
            merge_dict(cfg, value, dotted)
        else:
            set_value(cfg, dotted, value)


# ---- presets -------------------------------------------------------------------------

PRESETS: dict[str, str] = {
    "paper": "the paper's budgets (G/D width 196, 150 + 100 epochs; docs/METHOD.md): for a GPU",
    "cpu": "narrow models and short phases: the embedded sample in 10:46 on an idle 2-core VM",
    "smoke": "a few steps of every phase in well under 30 seconds: for checks",
}


def preset_config(name: str) -> RunConfig:
    """A fresh config for a preset. The dataset and lambda are left for the caller."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset '{name}' (choose from: {', '.join(PRESETS)})")
    cfg = RunConfig(preset=name)
    if name == "paper":
        cfg.monitor = MonitorConfig(grid_every=500, checkpoint_every=2000, log_every=20)
        return cfg
    if name == "cpu":
        # [ours] On 2 cores, more steps of a narrow model beat fewer steps of a wide one
        # (docs/METHOD.md, the presets): width 32 with a doubled learning rate draws clean digits
        # of the right class; phase 2 keeps DiM's recipe with narrowed, shorter pool training.
        cfg.model = ModelConfig(width=32, nz=100)
        cfg.gan = GanConfig(epochs=60, batch_size=64, lr=2e-4)
        cfg.distill = DistillConfig(
            epochs=3, batch_size=64, pool=["convnet3"], pool_batches=4, pool_width=32
        )
        cfg.evaluation = EvalConfig(epochs=300, repeats=3, width=None)
        cfg.monitor = MonitorConfig(grid_every=100, checkpoint_every=500, log_every=10)
        return cfg
    # smoke
    cfg.model = ModelConfig(width=8, nz=100)
    cfg.gan = GanConfig(epochs=2, steps_per_epoch=6, batch_size=32, lr=2e-4)
    cfg.distill = DistillConfig(
        epochs=2,
        steps_per_epoch=3,
        batch_size=32,
        pool=["convnet3"],
        pool_batches=1,
        pool_width=8,
    )
    cfg.sampling = SamplingConfig(candidates=3, observer_width=8, observer_epochs=1)
    cfg.evaluation = EvalConfig(epochs=5, repeats=1, width=16, full_real_epochs=1)
    cfg.monitor = MonitorConfig(grid_every=4, checkpoint_every=5, log_every=2)
    return cfg


# ---- validation ----------------------------------------------------------------------


def resolve_defaults(cfg: RunConfig) -> None:
    """Fill settings whose default depends on the dataset (lambda)."""
    from .data import dataset_family

    if cfg.distill.lam is None:
        cfg.distill.lam = LAMBDA_DEFAULTS[dataset_family(cfg.dataset)]


def validate(cfg: RunConfig) -> None:
    """Check every setting that can be checked without loading the dataset."""
    from .data import check_dataset_spec

    check_dataset_spec(cfg.dataset)
    if cfg.version != CONFIG_VERSION:
        raise ConfigError(f"version must be {CONFIG_VERSION} (older files are upgraded on reading)")
    d, g, m = cfg.distill, cfg.gan, cfg.model
    if cfg.ipc < 1:
        raise ConfigError(f"IPC must be at least 1 image per class, got {cfg.ipc}")
    if not d.tau > 0:
        raise ConfigError(f"tau must be greater than 0, got {d.tau}")
    if d.lam is not None and not d.lam >= 0:
        raise ConfigError(f"lambda must be 0 or more, got {d.lam}")
    _choice("distill.loss", d.loss, LOSSES)
    _choice("distill.pool_bn", d.pool_bn, POOL_BN_MODES)
    if not d.mse_weight >= 0:
        raise ConfigError(f"distill.mse_weight must be 0 or more, got {d.mse_weight}")
    _choice("distill.tau_mode", d.tau_mode, TAU_MODES)
    _choice("distill.pool_mode", d.pool_mode, POOL_MODES)
    _choice("distill.discriminator", d.discriminator, DISCRIMINATOR_MODES)
    _choice("gan.select", g.select, GAN_SELECT)
    if not d.pool:
        raise ConfigError(
            f"the model pool is empty: choose one or more of {', '.join(CLASSIFIERS)}"
        )
    for name in d.pool:
        if name not in CLASSIFIERS:
            raise ConfigError(
                f"unknown pool network '{name}' (choose from: {', '.join(CLASSIFIERS)})"
            )
    for key, value in (
        ("model.width", m.width),
        ("model.nz", m.nz),
        ("gan.batch_size", g.batch_size),
        ("distill.batch_size", d.batch_size),
        ("distill.pool_batches", d.pool_batches),
        ("gan.select_every", g.select_every),
        ("gan.select_ipc", g.select_ipc),
        ("gan.select_epochs", g.select_epochs),
        ("monitor.grid_every", cfg.monitor.grid_every),
        ("monitor.checkpoint_every", cfg.monitor.checkpoint_every),
        ("monitor.log_every", cfg.monitor.log_every),
        ("monitor.grid_cols", cfg.monitor.grid_cols),
        ("distill.pool_pretrain_epochs", d.pool_pretrain_epochs),
    ):
        if value < 1:
            raise ConfigError(f"{key} must be at least 1, got {value}")
    for key, value in (("gan.epochs", g.epochs), ("distill.epochs", d.epochs)):
        if value < 0:
            raise ConfigError(f"{key} must be 0 or more, got {value}")
    for key, value in (
        ("gan.steps_per_epoch", g.steps_per_epoch),
        ("distill.steps_per_epoch", d.steps_per_epoch),
        ("distill.pool_width", d.pool_width),
    ):
        if value is not None and value < 1:
            raise ConfigError(f"{key} must be at least 1 (or null), got {value}")
    for key, value in (
        ("gan.lr", g.lr),
        ("distill.lr", d.lr),
        ("distill.pool_lr", d.pool_lr),
    ):
        if not value > 0:
            raise ConfigError(f"{key} must be greater than 0, got {value}")
    if g.gp_weight < 0:
        raise ConfigError(f"gan.gp_weight must be 0 or more, got {g.gp_weight}")
    if not (0 <= g.beta1 < 1 and 0 <= g.beta2 < 1):
        raise ConfigError(f"gan.beta1 and gan.beta2 must lie in [0, 1), got {g.beta1}, {g.beta2}")
    validate_sampling(cfg.sampling)
    validate_evaluation(cfg.evaluation)
    validate_runtime(cfg.runtime)
    validate_refine(cfg.refine)
    check_device_name(cfg.device)


def validate_refine(r: RefineConfig) -> None:
    _choice("refine.method", r.method, REFINE_METHODS)
    for key, value in (
        ("refine.iterations", r.iterations),
        ("refine.real_per_class", r.real_per_class),
        ("refine.width", r.width),
    ):
        if value < 1:
            raise ConfigError(f"{key} must be at least 1, got {value}")
    if not r.lr > 0:
        raise ConfigError(f"refine.lr must be greater than 0, got {r.lr}")
    if not 0 <= r.momentum < 1:
        raise ConfigError(f"refine.momentum must lie in [0, 1), got {r.momentum}")


def validate_runtime(r: RuntimeConfig) -> None:
    _choice("runtime.precision", r.precision, PRECISIONS)
    _choice("runtime.compile", r.compile, COMPILE_MODES)


def validate_evaluation(e: EvalConfig) -> None:
    """Check the phase-4 settings (also on their own, for an evaluation of a finished run)."""
    _choice("evaluation.report", e.report, EVAL_REPORT)
    _choice("evaluation.protocol", e.protocol, EVAL_PROTOCOLS)
    if not e.archs:
        raise ConfigError(f"choose one or more evaluation networks of {', '.join(EVAL_ARCHS)}")
    for name in e.archs:
        if name not in CLASSIFIERS:
            raise ConfigError(
                f"unknown evaluation network '{name}' (choose from: {', '.join(EVAL_ARCHS)})"
            )
    for key, value in (
        ("evaluation.repeats", e.repeats),
        ("evaluation.epochs", e.epochs),
        ("evaluation.batch_size", e.batch_size),
        ("evaluation.full_real_epochs", e.full_real_epochs),
    ):
        if value < 1:
            raise ConfigError(f"{key} must be at least 1, got {value}")
    if e.width is not None and e.width < 1:
        raise ConfigError(f"evaluation.width must be at least 1 (or null), got {e.width}")
    if not e.lr > 0:
        raise ConfigError(f"evaluation.lr must be greater than 0, got {e.lr}")
    for ipc in e.ipcs:
        if ipc < 1:
            raise ConfigError(f"evaluation IPC must be at least 1, got {ipc}")
    if e.dm_minutes is not None and not e.dm_minutes > 0:
        raise ConfigError(f"evaluation.dm_minutes must be greater than 0, got {e.dm_minutes}")


def validate_for_dataset(cfg: RunConfig, num_classes: int, per_class: list[int]) -> None:
    """Checks that need the loaded dataset: two classes at least, IPC against the smallest
    class, nz against K."""
    if num_classes < 2:
        raise ConfigError(
            f"{cfg.dataset} has {num_classes} class: distilling needs at least two "
            "(the generator and every classifier learn to tell classes apart)"
        )
    smallest = min(per_class)
    if cfg.ipc > smallest:
        raise ConfigError(
            f"IPC {cfg.ipc} is more than the {smallest} training images of the smallest class "
            f"of {cfg.dataset}: choose an IPC from 1 to {smallest}"
        )
    if cfg.model.nz < num_classes:
        raise ConfigError(
            f"model.nz ({cfg.model.nz}) must be at least the number of classes ({num_classes}), "
            "because the label is written into the first entries of the noise"
        )


def validate_sampling(s: SamplingConfig) -> None:
    """Check the phase-3 settings (also on their own, for a set made after the run)."""
    _choice("sampling.selection", s.selection, SELECTIONS)
    for key, value in (
        ("sampling.candidates", s.candidates),
        ("sampling.observer_width", s.observer_width),
        ("sampling.observer_epochs", s.observer_epochs),
    ):
        if value < 1:
            raise ConfigError(f"{key} must be at least 1, got {value}")


def _choice(key: str, value: str, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ConfigError(f"{key} must be one of {', '.join(options)}, got '{value}'")


def check_device_name(name: str) -> None:
    """Reject a device that is not on this machine, with the ones that are."""
    resolve_device(name)


def available_devices() -> list[tuple[str, str]]:
    """(id, description) of every device a run can use here, best first."""
    import torch

    out = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            out.append((f"cuda:{i}", f"{p.name}, {p.total_memory / 2**30:.0f} GiB"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append(("mps", "Apple GPU (Metal)"))
    threads = torch.get_num_threads()
    out.append(("cpu", f"CPU, {threads} thread{'s' if threads != 1 else ''}"))
    return out


def resolve_device(name: str) -> str:
    """Turn ``auto`` into the best device here; check that a named one exists."""
    ids = [d for d, _ in available_devices()]
    if name == "auto":
        return ids[0]
    if name == "cuda" and any(d.startswith("cuda:") for d in ids):
        return "cuda:0"
    if name in ids:
        return name
    raise ConfigError(f"device '{name}' is not available here (available: auto, {', '.join(ids)})")


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
