"""What the window asks before it acts: start over a run whose checkpoint is lost or
damaged, and close while a run or an evaluation goes. Each answer is a plain bool, so the
window's ``confirm_restart`` and ``confirm_close`` can be replaced in tests and scripts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QMessageBox, QWidget

from ..rundir.folder import RunFolder


def damaged_checkpoint(summary: Any) -> bool:
    """A resumable run whose last.pt does not load (read on the click, not per refresh)."""
    if not summary.resumable or not RunFolder(summary.path).last_checkpoint.exists():
        return False
    from ..rundir.artifacts import check_checkpoints

    return check_checkpoints(summary.path).damaged is not None


def ask_restart(parent: QWidget, run_dir: Path) -> bool:
    """Start ``run_dir`` over (or from its last phase's checkpoint)? It lost or damaged
    its own, so resuming cannot go on where it stopped."""
    from ..rundir.artifacts import check_checkpoints

    check = check_checkpoints(run_dir)
    if check.damaged is not None:
        title = "Checkpoint damaged"
        what = "Its checkpoint (checkpoints/last.pt) is damaged; it is kept aside.\n"
    else:
        title = "Checkpoint missing"
        what = "It has lost its checkpoint (checkpoints/last.pt).\n"
    if check.fallback is not None:
        how = (
            f"Resuming goes on from {check.fallback.name}, the end of phase "
            f"{check.fallback.stem[-1]} (step {check.fallback_step}). Go on from there?"
        )
    else:
        how = (
            "Resuming can only start it over from step 0; its metrics and grids are "
            "cleared. Start over?"
        )
    answer = QMessageBox.question(parent, title, f"{run_dir.name}: {what}{how}")
    return answer == QMessageBox.StandardButton.Yes


def ask_close(parent: QWidget, running: bool) -> bool:
    """Stop the run (``running``) or else the evaluation, and close?"""
    if running:
        title = "A run is going"
        text = (
            "Stop the run with a checkpoint and close?\nIt can be resumed later from the runs list."
        )
    else:
        title = "An evaluation is going"
        text = "Stop the evaluation and close?\nThe rows it finished are saved with the run."
    answer = QMessageBox.question(parent, title, text)
    return answer == QMessageBox.StandardButton.Yes
