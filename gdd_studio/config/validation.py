"""Checks of a config: every setting that can be checked without the dataset
(``validate``), the sections that are checked on their own (an evaluation or a set made
after the run), the checks that need the loaded dataset, and the dataset-dependent
defaults.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .devices import check_device_name
from .sections import (
    CHOOSE_FROM,
    CLASSIFIERS,
    COMPILE_MODES,
    DIFFAUG_FAMILIES,
    DISCRIMINATOR_MODES,
    EVAL_ARCHS,
    EVAL_PROTOCOLS,
    EVAL_REPORT,
    GAN_LOSSES,
    GAN_SELECT,
    LAMBDA_DEFAULTS,
    LOSSES,
    POOL_BN_MODES,
    POOL_MODES,
    PRECISIONS,
    REFINE_METHODS,
    SELECTIONS,
    TAU_MODES,
    EvalConfig,
    RefineConfig,
    RunConfig,
    RuntimeConfig,
    SamplingConfig,
    is_custom_arch,
)
from .versions import CONFIG_VERSION


def resolve_defaults(cfg: RunConfig) -> None:
    """Fill settings whose default depends on the dataset (lambda)."""
    from ..data import dataset_family

    if cfg.distill.lam is None:
        cfg.distill.lam = LAMBDA_DEFAULTS[dataset_family(cfg.dataset)]


def validate(cfg: RunConfig) -> None:
    """Check every setting that can be checked without loading the dataset."""
    from ..data import check_dataset_spec

    check_dataset_spec(cfg.dataset)
    if cfg.version != CONFIG_VERSION:
        raise ConfigError(f"version must be {CONFIG_VERSION} (older files are upgraded on reading)")
    d, g, m = cfg.distill, cfg.gan, cfg.model
    if cfg.ipc < 1:
        raise ConfigError(f"IPC must be at least 1 image per class, got {cfg.ipc}")
    if not d.tau > 0:
        raise ConfigError(f"tau must be greater than 0, got {d.tau}")
    if not TAU_RANGE[0] <= d.tau <= TAU_RANGE[1]:
        raise ConfigError(
            f"tau must lie in {TAU_RANGE[0]:g} to {TAU_RANGE[1]:g}, got {d.tau:g}: a smaller "
            "one makes the standardized logits overflow, a larger one makes every class "
            "distribution flat (the paper uses 1 to 4)"
        )
    if not 0 <= cfg.seed < SEED_LIMIT:
        raise ConfigError(
            f"seed must be a whole number from 0 to {SEED_LIMIT - 1}, got {cfg.seed} (it is "
            "mixed into the 64-bit seeds of every random stream)"
        )
    _at_most(
        ("model.width", m.width, WIDTH_LIMIT),
        ("distill.pool_width", d.pool_width, WIDTH_LIMIT),
        ("model.nz", m.nz, NZ_LIMIT),
    )
    if d.lam is not None and not d.lam >= 0:
        raise ConfigError(f"lambda must be 0 or more, got {d.lam}")
    _choice("distill.loss", d.loss, LOSSES)
    _choice("distill.pool_bn", d.pool_bn, POOL_BN_MODES)
    if not d.mse_weight >= 0:
        raise ConfigError(f"distill.mse_weight must be 0 or more, got {d.mse_weight}")
    if not 0 <= d.dm_weight < float("inf"):
        raise ConfigError(
            f"distill.dm_weight must be 0 (off) or a finite weight, got {d.dm_weight}"
        )
    _choice("distill.tau_mode", d.tau_mode, TAU_MODES)
    _choice("distill.pool_mode", d.pool_mode, POOL_MODES)
    _choice("distill.discriminator", d.discriminator, DISCRIMINATOR_MODES)
    _choice("gan.select", g.select, GAN_SELECT)
    _choice("gan.loss", g.loss, GAN_LOSSES)
    if not d.pool:
        raise ConfigError(
            f"the model pool is empty: choose one or more of {', '.join(CLASSIFIERS)}"
        )
    for name in d.pool:
        if name not in CLASSIFIERS:
            raise ConfigError(
                f"unknown pool network '{name}' (choose from: {', '.join(CLASSIFIERS)})"
            )
    _at_least_one(
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
    )
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
    if not 0 <= g.ema < 1:
        raise ConfigError(
            f"gan.ema must be 0 (off) or a decay in (0, 1) such as 0.999, got {g.ema}"
        )
    unknown = [f for f in g.diffaug.split("_") if f not in DIFFAUG_FAMILIES] if g.diffaug else []
    if unknown:
        raise ConfigError(
            f"gan.diffaug must be off (empty) or transforms joined by '_' among "
            f"{', '.join(DIFFAUG_FAMILIES)}, such as color_crop_cutout; got {g.diffaug!r}"
        )
    validate_sampling(cfg.sampling)
    validate_evaluation(cfg.evaluation)
    validate_runtime(cfg.runtime)
    validate_refine(cfg.refine)
    check_device_name(cfg.device)


def validate_refine(r: RefineConfig) -> None:
    _choice("refine.method", r.method, REFINE_METHODS)
    _at_least_one(
        ("refine.iterations", r.iterations),
        ("refine.real_per_class", r.real_per_class),
        ("refine.width", r.width),
    )
    _at_most(("refine.width", r.width, WIDTH_LIMIT))
    if r.later_iterations is not None:
        _at_least_one(("refine.later_iterations", r.later_iterations))
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
        if is_custom_arch(name):  # PATH.py:FACTORY, the user's own (checked when built)
            if not Path(name.rpartition(":")[0]).is_file():
                raise ConfigError(
                    f"custom evaluation network '{name}': {name.rpartition(':')[0]} does not "
                    "exist"
                )
            continue
        if name not in CLASSIFIERS:
            raise ConfigError(
                f"unknown evaluation network '{name}' (choose from: {', '.join(EVAL_ARCHS)}, "
                "or your own as PATH.py:FACTORY)"
            )
    _at_least_one(
        ("evaluation.repeats", e.repeats),
        ("evaluation.epochs", e.epochs),
        ("evaluation.batch_size", e.batch_size),
        ("evaluation.full_real_epochs", e.full_real_epochs),
    )
    if e.width is not None and e.width < 1:
        raise ConfigError(f"evaluation.width must be at least 1 (or null), got {e.width}")
    _at_most(("evaluation.width", e.width, WIDTH_LIMIT))
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
    if cfg.model.nz <= num_classes:
        raise ConfigError(
            f"model.nz ({cfg.model.nz}) must be more than the number of classes ({num_classes}): "
            "the label is written into the first entries of the noise, and the rest is what "
            f"varies the draws (for {num_classes} classes, {num_classes + 100} is a choice)"
        )


def validate_sampling(s: SamplingConfig) -> None:
    """Check the phase-3 settings (also on their own, for a set made after the run)."""
    _choice("sampling.selection", s.selection, SELECTIONS)
    _choice("sampling.choose_from", s.choose_from, CHOOSE_FROM)
    _at_least_one(
        ("sampling.candidates", s.candidates),
        ("sampling.observer_width", s.observer_width),
        ("sampling.observer_epochs", s.observer_epochs),
    )
    _at_most(
        ("sampling.candidates", s.candidates, CANDIDATES_LIMIT),
        ("sampling.observer_width", s.observer_width, WIDTH_LIMIT),
    )
    t = s.truncation
    if not (t == 0 or TRUNCATION_RANGE[0] <= t <= TRUNCATION_RANGE[1]):
        lo, hi = TRUNCATION_RANGE
        raise ConfigError(
            f"sampling.truncation must be 0 (off) or a bound on the noise from {lo} to {hi}, "
            f"got {t}"
        )


# Bounds checked before any folder is made: a value past them asks for memory no machine
# has (a width of 100,000 is hundreds of GB of weights; a billion candidates a draw) or for
# arithmetic that overflows, and would fail only later, in the middle of a run.
TAU_RANGE = (0.01, 100.0)
SEED_LIMIT = 2**32
WIDTH_LIMIT = 2048  # the paper's generator is 196 wide, the evaluation networks 128
NZ_LIMIT = 4096
CANDIDATES_LIMIT = 10_000  # draws herding looks at for each image it keeps
# The truncation trick's bound: below 0.1 hardly any normal draw is kept (endless redraws);
# above 10 no draw is ever cut (the same as off).
TRUNCATION_RANGE = (0.1, 10.0)


def _at_most(*settings: tuple[str, int | None, int]) -> None:
    """Each (key, value, limit) at most its limit (None: not set), or one message."""
    for key, value, limit in settings:
        if value is not None and value > limit:
            raise ConfigError(
                f"{key} must be at most {limit:,}, got {value:,}: more would need memory no "
                "machine has"
            )


def _at_least_one(*settings: tuple[str, int]) -> None:
    """Each (key, value) a whole count of at least 1, or one message naming the first not."""
    for key, value in settings:
        if value < 1:
            raise ConfigError(f"{key} must be at least 1, got {value}")


def _choice(key: str, value: str, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ConfigError(f"{key} must be one of {', '.join(options)}, got '{value}'")
