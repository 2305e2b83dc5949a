"""Refinement: the chosen set, moved by distribution matching toward the real data.

Selection only chooses among the generator's draws; on real data (CIFAR-10) the chosen
set ties random real images at a CPU budget, while a few hundred DM iterations from any
start add many points (bench/RESULTS.md). The refinement starts from the chosen draws, so
the generator decides where the set begins (its classes' modes, as herding picked them)
and DM moves it (models/matching.py; docs/METHOD.md, "Beyond phase 3").

Used in two places, the same way: at the end of a run, as a phase the loop steps between
its pause and stop checks and checkpoints (``Refiner.state_dict``), and for a set made
later (another IPC, the GAN-only baseline: the same refinement keeps the comparison at
equal footing), run to its end in one call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from ..config import RefineConfig, RuntimeConfig, SamplingConfig
from ..data import ImageDataset, dataset_family
from ..models.augment import DIGIT_STRATEGY, DSA, DSA_STRATEGY
from ..models.matching import DistributionMatcher
from ..models.nets import build_classifier
from ..models.runtime import Runtime, forward_flops, resolve, work_tflop
from .events import StepRate
from .sampling import SEED_REFINE
from .selection import selection_spec


def refine_at(r: RefineConfig, ipc: int, run_ipc: int) -> RefineConfig:
    """The refinement a set at ``ipc`` gets: the run's, with ``later_iterations`` in place
    of ``iterations`` for a set at another IPC than the run's (when it is set).

    ``later_iterations`` is counted at the run's IPC, and a set at another IPC gets as many
    as take about as long: fewer for a larger IPC, more for a smaller one. An iteration
    embeds ``real_per_class`` real images per class forward and the class's ``ipc`` images
    forward and backward (3 passes), and its time follows ``real_per_class + 3 * ipc``
    closely (measured on CIFAR-10 with 32 real images: 0.24, 0.44 and 1.30 s at IPC 1, 10
    and 50, 6.8 to 7.1 ms a unit). So the ``cpu`` recipe's 1,000 at IPC 10 become 341 at
    IPC 50 and 1,771 at IPC 1, each about the same few minutes.
    """
    if ipc == run_ipc or r.later_iterations is None or r.method == "none":
        return r
    cost = lambda n: r.real_per_class + 3 * n  # noqa: E731
    iterations = max(1, round(r.later_iterations * cost(run_ipc) / cost(ipc)))
    return replace(r, iterations=iterations)


def refine_spec(r: RefineConfig) -> dict[str, Any] | None:
    """The settings that decide a refined set (None: not refined)."""
    if r.method == "none":
        return None
    return {
        "method": r.method, "iterations": r.iterations, "lr": r.lr, "momentum": r.momentum,
        "real_per_class": r.real_per_class, "width": r.width,
    }  # fmt: skip


def set_spec(sampling: SamplingConfig, refine: RefineConfig) -> dict[str, Any]:
    """How a stored set was made: its selection and, when refined, the refinement."""
    spec = selection_spec(sampling)
    refined = refine_spec(refine)
    if refined is not None:
        spec["refine"] = refined
    return spec


def refine_tflop(r: RefineConfig, image: tuple[int, int, int], classes: int, ipc: int) -> float:
    """A refinement's arithmetic: each iteration embeds ``real_per_class`` real images of
    every class (forward only, a third of a training pass) and trains the set's."""
    forward = forward_flops(build_classifier, ("convnet3", image[0], classes, image[1], r.width),
                            image)  # fmt: skip
    per_iteration = classes * (ipc + r.real_per_class / 3)
    return work_tflop(forward, r.iterations * per_iteration)


def refine_runtime(
    r: RefineConfig, runtime: RuntimeConfig, device: Any, image: tuple[int, int, int],
    classes: int, ipc: int,
) -> Runtime:  # fmt: skip
    tflop = refine_tflop(r, image, classes, ipc)
    return resolve(runtime.precision, runtime.compile, device, "refine", tflop)


class Refiner:
    """DM on a chosen set (uint8 (N, H, W, C) images and labels), one iteration a step."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        data: ImageDataset,
        refine: RefineConfig,
        seed: int,
        runtime: Runtime,
    ) -> None:
        if refine.method != "dm":
            raise ValueError(f"no refinement to run for method '{refine.method}'")
        device = data.x_train.device
        strategy = DIGIT_STRATEGY if dataset_family(data.name) == "mnist" else DSA_STRATEGY
        start = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).to(device)
        self.labels = labels
        self.total = refine.iterations
        self.matcher = DistributionMatcher(
            data.x_train, data.y_train, torch.from_numpy(labels), data.mean, data.std,
            images=start, num_classes=data.num_classes, real_per_class=refine.real_per_class,
            width=refine.width, lr=refine.lr, momentum=refine.momentum, dsa=DSA(strategy),
            seed=seed * 1000 + SEED_REFINE, autocast=runtime.bf16,
            wrap=runtime.wrap if runtime.compiled else None,
        )  # fmt: skip

    @property
    def iteration(self) -> int:
        return self.matcher.iteration

    def step(self) -> float:
        return self.matcher.step()

    def images(self) -> np.ndarray:
        """The set as it stands, uint8 (N, H, W, C) like every stored set."""
        return self.matcher.uint8_images().permute(0, 2, 3, 1).cpu().numpy()

    def run(
        self,
        should_stop: Callable[[], bool] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> bool:
        """Step to the end; False when ``should_stop`` cut it short. ``pace`` times the
        iterations for ``on_progress``'s ETA (None until the warm-up is behind)."""
        every = max(1, self.total // 10)
        self.pace = StepRate()
        while self.iteration < self.total:
            if should_stop is not None and should_stop():
                return False
            self.step()
            self.pace.tick()
            if on_progress is not None and (
                self.iteration % every == 0 or self.iteration == self.total
            ):
                on_progress(self.iteration, self.total)
        return True

    def state_dict(self) -> dict[str, Any]:
        return self.matcher.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.matcher.load_state_dict(state)
