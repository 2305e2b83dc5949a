"""What the window shows, without Qt: the model its widgets are thin views of.

``runs`` is the runs list (which runs and sweeps, their texts, a sweep's queue);
``training`` is the Training tab (which run is shown, whether it is live or followed
through its folder, its phase boundary, the engine events waiting to be drawn). Both read
run folders through ``rundir`` and never import Qt or the trainer, so the logic of
following a run is tested without a display (tests/test_view_model.py).
"""

from __future__ import annotations

from pathlib import Path

from .runs import Entry, QueueRow, RunsModel, dataset_text
from .training import (
    TRAINING,
    Ending,
    FolderProgress,
    Here,
    TrainingModel,
    Update,
    run_ending,
    sweep_ending,
)  # fmt: skip


class WindowModel:
    """One window's state: what it trains (``here``), its runs list and its Training tab."""

    def __init__(self, runs_dir: Path) -> None:
        self.here = Here()
        self.runs = RunsModel(runs_dir, self.here)
        self.training = TrainingModel(self.here, self.runs.summary)


__all__ = [
    "TRAINING", "Ending", "Entry", "FolderProgress", "Here", "QueueRow", "RunsModel",
    "TrainingModel", "Update", "WindowModel", "dataset_text", "run_ending", "sweep_ending",
]  # fmt: skip
