"""The run's settings: one dataclass tree, presets, validation and a strict JSON round trip.

The same file drives the window and the CLI, so everything a run does is decided here and
stored with the run (``config.json``). Unknown keys are rejected rather than ignored: a
typo in a config file must not silently fall back to a default.

The package holds the dataclasses and their JSON (``sections``), how older files read
today (``versions``), the strict conversion of values (``convert``), the presets
(``presets``), the checks (``validation``) and this machine's devices (``devices``);
everything is importable from ``gdd_studio.config`` as before.
"""

from .convert import merge_dict, set_value
from .devices import available_devices, check_device_name, resolve_device
from .presets import FULL_DATASETS, PRESETS, preset_config
from .sections import (
    AUTO_DRAWS_UP_TO_IPC,
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
    DistillConfig,
    EvalConfig,
    GanConfig,
    ModelConfig,
    MonitorConfig,
    RefineConfig,
    RunConfig,
    RuntimeConfig,
    SamplingConfig,
    is_custom_arch,
    not_text_message,
    phase1_settings,
    phase_steps,
    pool_at,
    steps_per_epoch,
    training_settings,
)
from .validation import (
    resolve_defaults,
    validate,
    validate_evaluation,
    validate_for_dataset,
    validate_refine,
    validate_runtime,
    validate_sampling,
)
from .versions import (
    ARCH_RENAMES_V1,
    CONFIG_VERSION,
    LEGACY_RUNTIME,
    rename_archs_v1,
    upgrade_config_dict,
)

__all__ = [
    "ARCH_RENAMES_V1", "AUTO_DRAWS_UP_TO_IPC", "CHOOSE_FROM", "CLASSIFIERS", "COMPILE_MODES",
    "CONFIG_VERSION",
    "DISCRIMINATOR_MODES",
    "EVAL_ARCHS", "EVAL_PROTOCOLS", "is_custom_arch", "EVAL_REPORT", "FULL_DATASETS",
    "DIFFAUG_FAMILIES", "GAN_LOSSES", "GAN_SELECT",
    "LAMBDA_DEFAULTS", "LEGACY_RUNTIME", "LOSSES", "POOL_BN_MODES", "POOL_MODES", "PRECISIONS",
    "PRESETS",
    "REFINE_METHODS", "SELECTIONS", "TAU_MODES",
    "DistillConfig", "EvalConfig", "GanConfig", "ModelConfig", "MonitorConfig", "RefineConfig",
    "RunConfig", "RuntimeConfig", "SamplingConfig",
    "available_devices", "check_device_name", "merge_dict", "not_text_message",
    "phase1_settings", "phase_steps", "pool_at", "preset_config", "rename_archs_v1",
    "resolve_defaults", "resolve_device", "set_value", "steps_per_epoch", "training_settings",
    "upgrade_config_dict", "validate", "validate_evaluation", "validate_for_dataset",
    "validate_refine", "validate_runtime", "validate_sampling",
]  # fmt: skip
