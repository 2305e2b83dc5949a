"""How a run goes on: from its own ``last.pt`` (with the records after it forgotten),
after a restart when that checkpoint is lost or damaged (from the latest whole phase
checkpoint, or from step 0), or from another run's phase-1 end (``take_phase1``).

``RunResume`` is a part of ``Run`` (engine/run.py), which owns the state it reads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import storage
from ..config import RunConfig, phase1_settings, phase_steps, resolve_defaults, training_settings
from ..errors import CheckpointError, GddError
from ..rundir.artifacts import CheckpointCheck, check_checkpoints, load_checkpoint
from ..rundir.folder import (
    WRITTEN_FOLDERS,
    RunFolder,
    busy_message,
    clear_stale_temporaries,
    keep_aside,
    read_run_info,
    require_inside,
)
from ..rundir.records import read_train_images

if TYPE_CHECKING:
    from .trainer import Trainer


class CheckpointMissingError(CheckpointError):
    """The run's last.pt is gone: resuming would start over (``Run.open(restart=True)``)."""


class RunResume:
    """Reopening a run: whether its checkpoint loads, what a restart goes on from, and a
    phase 1 taken from another run."""

    dir: Path
    cfg: RunConfig
    folder: RunFolder
    _info: dict[str, Any]
    _sink: Callable[[Any], None]
    restart: bool
    _check: CheckpointCheck | None

    def _resume(self, trainer: Trainer) -> None:
        """Go on from ``last.pt`` when there is one (after a restart's repair), with the
        records it does not cover forgotten; else start the records afresh. A checkpoint
        that is gone or damaged stops here with what ``--restart`` would do."""
        self._remove_stale_temporaries()
        if self.lost_checkpoint and not self.restart:
            raise CheckpointMissingError(
                f"{self.checkpoint_path} is missing although the run had reached step "
                f"{self._info.get('step')}: resuming would start over; resume with "
                f"--restart ('gdd-studio-cli resume --restart {self.dir}'), which "
                f"{self.checkpoint_check().plan()}"
            )
        if self.restart:
            self._restart_from_whole()
        if self.checkpoint_path.exists():
            try:
                state = load_checkpoint(self.checkpoint_path)
            except CheckpointError as exc:
                raise CheckpointError(
                    f"{exc}; 'gdd-studio-cli resume --restart {self.dir}' keeps it aside "
                    f"and {self.checkpoint_check().plan()}"
                ) from None
            saved = RunConfig.from_json(state["config_json"])
            if training_settings(saved) != training_settings(self.cfg):
                raise CheckpointError(
                    f"checkpoint {self.checkpoint_path} belongs to another config than "
                    f"{self.dir / 'config.json'}"
                )
            try:
                trainer.load_state_dict(state)
            except CheckpointError as exc:
                raise CheckpointError(f"{self.checkpoint_path}: {exc}") from None
            self._restore_phase_checkpoints(trainer)
            self._truncate_records(trainer.step)
            self._log(f"resumed from step {trainer.step} (phase {trainer.phase})")
        else:
            self._start_records_over()

    def _start_records_over(self) -> None:
        """No checkpoint yet: the run starts from step 0. Metrics an earlier attempt wrote
        (killed before its first checkpoint) are kept aside, never wiped, and the user is
        told that the run starts over."""
        kept = self._keep_metrics_aside()
        if kept:
            self._log(
                "no checkpoint yet (the run was stopped before its first): it starts over "
                f"from step 0{kept}",
                "warning",
            )
        self._truncate_records(0)

    def take_phase1(self, source: str | Path) -> bool:
        """Start this run at its phase-2 start from another run's phase-1 end.

        Runs whose phase-1 settings agree (``phase1_settings``: everything but the
        distillation, sampling and IPC) reach the phase-1 end in the same state, so a
        sweep over phase-2 settings trains phase 1 once. The source's ``phase1.pt`` is
        taken with this run's config, and its phase-1 metrics and grids are copied, so the
        folder reads as if it had trained phase 1 itself; ``run.json`` names the source
        (``phase1_from``). False (and nothing written) when this run has a checkpoint of
        its own already, the source has no phase-1 checkpoint or its phase-1 settings
        differ.
        """
        src = RunFolder(Path(source))
        phase1 = src.phase_checkpoint(1)
        if self.checkpoint_path.exists() or not phase1.is_file():
            return False
        state = load_checkpoint(phase1)
        theirs = RunConfig.from_json(state["config_json"])
        resolve_defaults(theirs)
        if phase1_settings(theirs) != phase1_settings(self.cfg):
            return False
        if state.get("phase") != 2 or state.get("phase_step") != 0:
            raise CheckpointError(f"{phase1} does not hold the phase-1 end")
        if not self._lock.acquire():
            raise GddError(busy_message(self.dir, read_run_info(self.dir)))
        try:
            if self.checkpoint_path.exists():  # trained meanwhile by another process
                return False
            step = int(state["step"])
            self._copy_phase1_records(src, step)
            state["config_json"] = self.cfg.to_json()
            # last.pt last: until it exists the run starts from step 0 and drops the copies
            storage.atomic_torch_save(self.folder.phase_checkpoint(1), state)
            storage.atomic_torch_save(self.checkpoint_path, state)
            # This run's phase-2 steps on the source's training split; without it, the
            # run writes its total when it starts.
            n = read_train_images(src.dir)
            total = step + phase_steps(self.cfg, n)[1] if n else None
            self._write_info(
                phase=2, step=step, elapsed_s=float(state["elapsed"]), phase1_from=src.dir.name,
                **({"total_steps": total} if total else {}),
            )  # fmt: skip
            self._log(
                f"phase 1 taken from run {src.dir.name} (same phase-1 settings): its "
                f"phase-1 checkpoint at step {step}, metrics and grids copied"
            )
        finally:
            self._lock.release()
        return True

    @property
    def lost_checkpoint(self) -> bool:
        """The run had written a checkpoint (run.json counts its steps) that is gone now:
        resuming would silently start over, so it needs ``restart``."""
        step = self._info.get("step")
        return isinstance(step, int) and step > 0 and not self.checkpoint_path.exists()

    def checkpoint_check(self) -> CheckpointCheck:
        """Whether ``last.pt`` loads and, where not, what a restart goes on from (read once)."""
        if self._check is None:
            self._check = check_checkpoints(self.dir, self._same_training)
        return self._check

    @property
    def damaged_checkpoint(self) -> str | None:
        """The one-line reason ``last.pt`` cannot be loaded, or None (whole or missing)."""
        return self.checkpoint_check().damaged if self.checkpoint_path.exists() else None

    def _same_training(self, state: dict[str, Any]) -> bool:
        try:
            saved = RunConfig.from_json(state["config_json"])
        except (GddError, KeyError, TypeError):
            return False
        return training_settings(saved) == training_settings(self.cfg)

    def _remove_stale_temporaries(self) -> None:
        """Hidden ``.*.tmp`` files a killed writer left (an atomic write's first half); a
        file another process is writing now (an evaluation under eval/) is locked and
        stays. Writes through a link out of the run folder are refused first."""
        require_inside(self.dir, *(self.dir / sub for sub in WRITTEN_FOLDERS if sub))
        for tmp in clear_stale_temporaries(self.dir):
            self._log(f"removed {tmp.relative_to(self.dir)}, left by a write that was cut off")

    def _restart_from_whole(self) -> None:
        """``restart``: keep a damaged ``last.pt`` aside, then go on from the latest whole
        phase checkpoint, or start over from step 0 when there is none."""
        check = self.checkpoint_check()
        if check.damaged is None and not (check.missing and self.lost_checkpoint):
            return  # last.pt is whole, or the run never had one: nothing to restart
        if check.damaged is not None:
            aside = keep_aside(self.checkpoint_path, "damaged")
            self._log(f"{check.damaged}: kept aside as checkpoints/{aside.name}", "warning")
        if check.fallback is None:
            self._clear_records()
            return
        storage.atomic_write_bytes(self.checkpoint_path, check.fallback.read_bytes())
        self._log(
            f"restart: going on from {check.fallback.name} (step {check.fallback_step}); what "
            "was recorded after it is cleared",
            "warning",
        )

    def _restore_phase_checkpoints(self, t: Trainer) -> None:
        """A run stopped exactly at a phase boundary by a version that wrote ``last.pt``
        before ``phase<P>.pt`` may lack the latter; ``last.pt`` is that state still."""
        for phase in (1, 2):
            path = self.folder.phase_checkpoint(phase)
            if t.phase == phase + 1 and t.phase_step == 0 and not path.exists():
                storage.atomic_write_bytes(path, self.checkpoint_path.read_bytes())
                self._log(f"rebuilt {path.name} from {self.checkpoint_path.name}", "warning")
