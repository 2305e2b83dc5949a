"""The presets: a starting config for a GPU (the paper's budgets), a CPU, or a quick check.

docs/METHOD.md says why each differs from the paper where it does.
"""

from __future__ import annotations

from ..errors import ConfigError
from .sections import (
    DistillConfig,
    EvalConfig,
    GanConfig,
    ModelConfig,
    MonitorConfig,
    RunConfig,
    SamplingConfig,
)

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
