"""The run loop: phases in order, events, the control, checkpoints and the run folder.

``Trainer`` (trainer.py) is the method: models, optimizers, RNG streams, one step each.
``Run.execute`` loops over its steps, reports events, obeys the control and writes the
run folder (rundir/). A checkpoint holds everything the loop reads, so a run stopped or
killed and resumed ends, on the CPU, with exactly the generator an uninterrupted run ends
with.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import socket
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .. import storage
from ..config import (
    RunConfig,
    RuntimeConfig,
    phase1_settings,
    phase_steps,
    resolve_defaults,
    resolve_device,
    training_settings,
    validate,
    validate_for_dataset,
    validate_runtime,
)
from ..data import ImageDataset, load_dataset
from ..errors import CheckpointError, DiskFullError, GddError, user_message
from ..rundir.artifacts import (
    CheckpointCheck,
    check_checkpoints,
    load_checkpoint,
    write_dataset_info,
    write_stored_set,
)
from ..rundir.folder import (
    WRITTEN_FOLDERS,
    RunFolder,
    busy_message,
    clear_stale_temporaries,
    keep_aside,
    new_run_dir,
    read_run_info,
    require_inside,
    write_run_info,
)
from ..rundir.records import read_train_images
from .events import (
    PHASE_NAMES,
    CheckpointSaved,
    GridImage,
    LogMessage,
    PhaseStarted,
    Progress,
    RunControl,
    RunFinished,
    StateChanged,
    StepMetrics,
    fmt_elapsed,
)
from .refine import Refiner, set_spec
from .sampling import SEED_GRID, grid_noise, make_grid, to_uint8
from .sets import choose_set, selection_extra, synthetic_set
from .trainer import Trainer

METRIC_COLUMNS = [
    "g_loss", "g_adv", "g_cls", "match", "d_loss", "wasserstein", "gp", "d_cls",
    "pool_loss", "pool_acc", "dm_loss",
]  # fmt: skip

EventSink = Callable[[Any], None]


class Run:
    """One run folder and the loop that fills it.

    ``Run.create`` makes a new folder from a config; ``Run.open`` reopens one to resume it.
    ``execute`` runs to the end (or to a stop) and returns the final status.
    """

    def __init__(self, run_dir: Path, cfg: RunConfig, data: ImageDataset | None = None) -> None:
        self.dir = Path(run_dir)
        self.cfg = cfg
        self._data = data  # a dataset the caller loaded already (to check the IPC first)
        self.trainer: Trainer | None = None
        self._sink: EventSink = lambda e: None
        self._pending: list[tuple[int, int, int, dict[str, Tensor]]] = []
        self._columns: list[str] | None = None  # metrics.csv's own header, once read
        self._info: dict[str, Any] = {}
        self.restart = False  # its last.pt is missing or damaged: go on from what is whole
        self._check: CheckpointCheck | None = None
        self.folder = RunFolder(self.dir)
        self._lock = self.folder.lock()

    # ---- paths ----
    @property
    def checkpoint_path(self) -> Path:
        return self.folder.last_checkpoint

    @property
    def metrics_path(self) -> Path:
        return self.folder.metrics

    @property
    def generator_path(self) -> Path:
        return self.folder.generator

    def distilled_path(self, ipc: int) -> Path:
        return self.folder.distilled(ipc)

    # ---- creation ----
    @classmethod
    def create(cls, cfg: RunConfig, runs_dir: Path, data: ImageDataset | None = None) -> Run:
        """Validate the config and make the run folder.

        With ``data`` (the loaded dataset) the dataset-dependent checks run first too, so a
        wrong IPC leaves no run folder behind; without it they run when the run starts.
        """
        resolve_defaults(cfg)
        validate(cfg)
        if data is not None:
            validate_for_dataset(cfg, data.num_classes, data.per_class_counts())
        run = cls(new_run_dir(Path(runs_dir), cfg.dataset, cfg.ipc), cfg, data)
        cfg.save(run.folder.config)
        run._write_info(status="created", created=time.time())
        return run

    @classmethod
    def open(cls, run_dir: str | Path, restart: bool = False) -> Run:
        """Reopen a run folder to resume it, its config checked as ``create`` checks one.

        ``restart``: the run's ``last.pt`` is gone or damaged (a damaged one is kept aside);
        go on from its latest whole phase checkpoint, or else start over from step 0 and
        clear what the earlier attempt recorded (metrics, grids, phase checkpoints).
        """
        path = Path(run_dir)
        if not RunFolder(path).config.is_file():
            raise CheckpointError(f"{path} is not a run folder (no config.json in it)")
        cfg = RunConfig.load(RunFolder(path).config)
        try:
            resolve_defaults(cfg)
            validate(cfg)
        except GddError as exc:
            raise type(exc)(f"{path / 'config.json'}: {exc}") from None
        run = cls(path, cfg)
        run._info = read_run_info(path)
        run.restart = restart
        return run

    def set_runtime(self, precision: str | None, compile_mode: str | None) -> None:
        """Resume under another precision or compilation (the arithmetic, not the method:
        the checkpoint still fits). config.json says what the run goes on with."""
        r = self.cfg.runtime
        new = RuntimeConfig(precision or r.precision, compile_mode or r.compile)
        validate_runtime(new)
        if new != r:
            self.cfg.runtime = new
            self.cfg.save(self.folder.config)

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

    def _copy_phase1_records(self, src: RunFolder, step: int) -> None:
        kept = _metrics_upto(src.metrics, step) if src.metrics.is_file() else None
        if kept is not None:
            storage.atomic_write_text(self.metrics_path, kept)
        if src.grids.is_dir():
            for png in sorted(src.grids.glob("phase1_*.png")):
                storage.atomic_write_bytes(self.folder.grids / png.name, png.read_bytes())

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

    # ---- info file (run.json): what a runs list shows ----
    def _write_info(self, **changes: Any) -> None:
        self._info.update(changes)
        self._info.setdefault("id", self.dir.name)
        self._info.update(
            dataset=self.cfg.dataset, ipc=self.cfg.ipc, tau=self.cfg.distill.tau,
            seed=self.cfg.seed, preset=self.cfg.preset, updated=time.time(), pid=os.getpid(),
            host=socket.gethostname(),
        )  # fmt: skip
        write_run_info(self.dir, self._info)

    # ---- events ----
    def _emit(self, event: Any) -> None:
        self._sink(event)

    def _log(self, message: str, level: str = "info") -> None:
        line = f"{datetime.now().strftime('%Y-%m-%d %H:%M:%S')} {level}: {message}\n"
        with open(self.folder.log, "a", encoding="utf-8") as fh:
            fh.write(line)
        self._emit(LogMessage(level, message))

    # ---- the loop ----
    def execute(self, on_event: EventSink | None = None, control: RunControl | None = None) -> str:
        """Run (or resume) to the end. Returns "finished", "stopped" or "failed".

        User errors (GddError) are re-raised after being recorded, so front ends can show
        their one line; other failures are recorded with a traceback in ``error.log``.
        """
        self._sink = on_event or (lambda e: None)
        control = control or RunControl()
        validate(self.cfg)  # also a Run made by hand, not through create or open
        if not self._lock.acquire():
            # Another process trains here; its run.json is not ours to touch.
            raise GddError(busy_message(self.dir, read_run_info(self.dir)))
        try:
            return self._execute_locked(control)
        finally:
            self._lock.release()

    def _execute_locked(self, control: RunControl) -> str:
        try:
            status = self._execute(control)
        except GddError as exc:
            if isinstance(exc, DiskFullError):
                self._error_log(exc)
            self._fail(str(exc))
            raise
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                self._write_info(status="interrupted", message="interrupted")
                raise
            self._error_log(exc)
            self._fail(user_message(exc))
            raise
        return status

    def _error_log(self, exc: BaseException) -> None:
        text = "".join(traceback.format_exception(exc))
        try:
            with open(self.folder.error_log, "a", encoding="utf-8") as fh:
                fh.write(text)
        except OSError:
            pass  # a full disk: run.json below still says why

    def _fail(self, message: str) -> None:
        """Record the failure. On a full disk each write may fail in turn; the status
        must still stop saying "running", so run.json is rewritten in place as a last
        resort (a short file rewritten needs no new space)."""
        try:
            try:
                self._log(message, "error")
            except OSError:
                pass
            try:
                self._write_info(status="failed", message=message)
            except OSError:
                self._info.update(status="failed", message=message)
                try:
                    with open(self.folder.info, "r+", encoding="utf-8") as fh:
                        fh.write(json.dumps(self._info) + "\n")
                        fh.truncate()
                except OSError:
                    pass
        finally:
            self._emit(RunFinished("failed", str(self.dir), message))

    def _prepare(self) -> Trainer:
        cfg = self.cfg
        device = resolve_device(cfg.device)
        data = self._data
        if data is None:
            self._log(f"loading dataset {cfg.dataset}")
            data = load_dataset(cfg.dataset, data_dir=cfg.data_dir, download=cfg.download)
        self._data = None  # the trainer holds it (on the device) from here
        validate_for_dataset(cfg, data.num_classes, data.per_class_counts())
        self._log(
            f"{data.source}: {len(data.x_train)} training and {len(data.x_test)} test images, "
            f"{data.num_classes} classes, {data.channels}x{data.image_size}x{data.image_size}"
        )
        for note in data.notes:
            self._log(note, "warning")
        write_dataset_info(self.dir, cfg.dataset, data)
        data = data.to(device)
        trainer = Trainer(cfg, data, device)
        for phase, key, sub in ((1, "gan", cfg.gan), (2, "distill", cfg.distill)):
            if sub.steps_per_epoch and sub.steps_per_epoch > trainer.spe[phase]:
                self._log(
                    f"{key}.steps_per_epoch {sub.steps_per_epoch} is more than one pass over "
                    f"the {len(data.x_train):,} training images at batch {sub.batch_size}: an "
                    f"epoch is {trainer.spe[phase]} steps",
                    "warning",
                )
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
            if training_settings(saved) != training_settings(cfg):
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
            self._truncate_records(0)
        self._log(
            f"device {device}; loss {cfg.distill.loss}, tau {cfg.distill.tau} "
            f"({cfg.distill.tau_mode}), standardize {'on' if cfg.distill.standardize else 'off'}, "
            f"lambda {cfg.distill.lam}"
        )
        runtime = trainer.runtime_record()
        self._info["runtime"] = runtime
        self._log(
            "runtime: "
            + "; ".join(
                f"{part} {r['precision']}{', compiled' if r['compile'] else ''}"
                for part, r in runtime.items()
            )
        )
        return trainer

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

    def _clear_records(self) -> None:
        """Before a restart from step 0: nothing of the earlier attempt may mix in."""
        self.metrics_path.unlink(missing_ok=True)
        for pattern in ("grids/*.png", "checkpoints/phase*.pt"):
            for path in self.dir.glob(pattern):
                path.unlink(missing_ok=True)
        self._info.pop("step", None)
        self._write_info()
        self._log("restarting from step 0: the earlier metrics, grids and checkpoints removed")

    def _restore_phase_checkpoints(self, t: Trainer) -> None:
        """A run stopped exactly at a phase boundary by a version that wrote ``last.pt``
        before ``phase<P>.pt`` may lack the latter; ``last.pt`` is that state still."""
        for phase in (1, 2):
            path = self.folder.phase_checkpoint(phase)
            if t.phase == phase + 1 and t.phase_step == 0 and not path.exists():
                storage.atomic_write_bytes(path, self.checkpoint_path.read_bytes())
                self._log(f"rebuilt {path.name} from {self.checkpoint_path.name}", "warning")

    def _truncate_records(self, step: int) -> None:
        """Forget metrics and grids written after the checkpoint we resume from.

        A kill can cut the last row anywhere (even inside a multi-byte character) and an
        old crash may have left a damaged row: only rows whose step reads as a number at
        or before the checkpoint are kept.
        """
        if self.metrics_path.exists():
            kept = _metrics_upto(self.metrics_path, step)
            if kept is not None:
                storage.atomic_write_text(self.metrics_path, kept)
            elif b"\n" not in self.metrics_path.read_bytes():  # not even a whole header
                self.metrics_path.unlink()
            else:  # not a metrics table: a log, so the run goes on; the file is kept
                aside = keep_aside(self.metrics_path, "damaged")
                self._log(
                    f"metrics.csv is damaged (not a metrics table): kept aside as {aside.name}; "
                    f"the metrics start again after step {step}",
                    "warning",
                )
        grids = self.folder.grids
        if grids.is_dir():
            for png in grids.glob("*.png"):
                try:
                    if int(png.stem.split("_")[-1]) > step:
                        png.unlink()
                except ValueError:
                    continue

    def _execute(self, control: RunControl) -> str:
        self._write_info(status="running", message="")
        t = self.trainer = self._prepare()
        cfg = self.cfg
        total = sum(t.totals.values())
        self._grid_z, self._grid_y = grid_noise(
            t.data.num_classes, cfg.monitor.grid_cols, cfg.model.nz, cfg.seed * 1000 + SEED_GRID
        )
        if t.step == 0:
            self._save_grid(t, 1)
        clock = _RateClock(t.elapsed)
        while t.phase <= 2:
            phase = t.phase
            if t.phase_step == 0 or phase == 2:
                start = t.step - t.phase_step  # where the phase began, also on a resume
                self._emit(PhaseStarted(phase, PHASE_NAMES[phase], t.totals[phase], start))
            if t.phase_step == 0:
                self._log(
                    f"phase {phase}: {PHASE_NAMES[phase]}, {t.totals[phase]} steps "
                    f"({t.spe[phase]} per epoch)"
                )
                if phase == 2:
                    t.start_phase2(self._log, lambda: control.stop_requested)
            elif phase == 2:
                for group in t.opt_g.param_groups:  # restored already; kept for clarity
                    group["lr"] = cfg.distill.lr
            step_fn = t.phase1_step if phase == 1 else t.phase2_step
            while t.phase_step < t.totals[phase]:
                if control.paused:
                    self._pause(t, control, clock)
                if control.stop_requested:
                    return self._stop(t, clock)
                values = step_fn()
                t.phase_step += 1
                t.step += 1
                self._pending.append((phase, t.step, t.epoch, values))
                if t.step % cfg.monitor.log_every == 0:
                    self._flush_metrics()
                if phase == 1 and cfg.gan.select == "best":
                    self._maybe_select(t)
                if t.step % cfg.monitor.grid_every == 0:
                    self._save_grid(t, phase)
                clock.tick()
                self._progress(t, clock, total)
                if t.step % cfg.monitor.checkpoint_every == 0:
                    self._checkpoint(t, clock)
            # phase end
            self._flush_metrics()
            if phase == 1 and cfg.gan.select == "best" and t.best is not None:
                t.G.load_state_dict(t.best["G"])
                t.D.load_state_dict(t.best["D"])
                self._log(
                    f"phase 1: keeping the epoch-{t.best['epoch']} generator "
                    f"(quick accuracy {100 * t.best['score']:.1f} %)"
                )
            self._save_grid(t, phase)
            t.phase, t.phase_step, t.perm = phase + 1, 0, None
            t.pool_arch = t.pool_net = t.pool_opt = None
            # phase<P>.pt before last.pt moves past the boundary: a kill between the two
            # leaves last.pt inside phase P, which finishes (and writes both) on resume.
            self._checkpoint(t, clock, self.folder.phase_checkpoint(phase))
            self._checkpoint(t, clock)
        if t.totals[3]:
            stopped = self._refine(t, control, clock, total)
            if stopped is not None:
                return stopped
        return self._finish(t, clock)

    def _refine(
        self, t: Trainer, control: RunControl, clock: _RateClock, total: int
    ) -> str | None:
        """Phase 3 with a refinement: the chosen set, moved by DM one iteration a step,
        with the pauses, stops, metrics, grids and checkpoints of phases 1 and 2. Returns
        the status when stopped, None when the set is refined."""
        cfg = self.cfg
        self._emit(PhaseStarted(3, PHASE_NAMES[3], t.totals[3], t.step - t.phase_step))
        if t.refine_start is None:
            self._log(
                f"phase 3: {PHASE_NAMES[3]}, the IPC-{cfg.ipc} set chosen "
                f"({cfg.sampling.selection}) and refined by {t.totals[3]} DM iterations"
            )
            self._save_generator(t)
            try:
                chosen, _ = choose_set(
                    self.dir, cfg, cfg.ipc, t.G, t.device, cfg.sampling, t.data, self._log,
                    lambda: control.stop_requested,
                )  # fmt: skip
            except GddError:
                if control.stop_requested:
                    return self._stop(t, clock)
                raise
            extra = selection_extra(cfg.sampling, chosen)
            t.refine_start = {
                "images": torch.from_numpy(chosen.images),
                "labels": torch.from_numpy(chosen.labels),
                "extra": {k: torch.from_numpy(v) for k, v in extra.items() if v is not None},
            }
        start = t.refine_start
        t.refiner = Refiner(
            start["images"].numpy(), start["labels"].numpy(), t.data, cfg.refine, cfg.seed,
            t.runtime["refine"],
        )  # fmt: skip
        if t.refiner_state is not None:
            t.refiner.load_state_dict(t.refiner_state)
        if t.phase_step == 0:
            self._save_set_grid(t)
        while t.phase_step < t.totals[3]:
            if control.paused:
                self._pause(t, control, clock)
            if control.stop_requested:
                return self._stop(t, clock)
            loss = t.refiner.step()
            t.phase_step += 1
            t.step += 1
            self._pending.append((3, t.step, 0, {"dm_loss": torch.tensor(loss)}))
            if t.step % cfg.monitor.log_every == 0:
                self._flush_metrics()
            if t.phase_step % cfg.monitor.grid_every == 0:
                self._save_set_grid(t)
            clock.tick()
            self._progress(t, clock, total)
            if t.step % cfg.monitor.checkpoint_every == 0:
                self._checkpoint(t, clock)
        self._flush_metrics()
        if t.phase_step % cfg.monitor.grid_every != 0:
            self._save_set_grid(t)
        return None

    def _save_set_grid(self, t: Trainer) -> None:
        """The refined set as it stands: one row per class, up to grid_cols images."""
        images, labels = t.refiner.images(), t.refiner.labels
        cols = self.cfg.monitor.grid_cols
        k = t.data.num_classes
        rows = np.zeros((k * cols, *images.shape[1:]), dtype=np.uint8)
        for c in range(k):
            members = images[labels == c][:cols]
            rows[c * cols : c * cols + len(members)] = members
        grid = make_grid(rows, k, cols)
        path = self.folder.grid(3, t.step)
        storage.atomic_save_png(path, grid)
        self._emit(GridImage(3, t.step, grid, str(path)))

    def _save_generator(self, t: Trainer) -> None:
        t.G.eval()
        if not all(
            torch.isfinite(v).all() for v in t.G.state_dict().values() if v.is_floating_point()
        ):
            raise GddError("the generator's weights are not finite (NaN or infinite): not saved")
        storage.atomic_torch_save(self.generator_path, t.G.state_dict())

    def _maybe_select(self, t: Trainer) -> None:
        g = self.cfg.gan
        if t.phase_step % t.spe[1] != 0:
            return
        epoch = t.phase_step // t.spe[1]
        if epoch % g.select_every != 0 and t.phase_step != t.totals[1]:
            return
        score = t.quick_score()
        self._log(f"phase 1 epoch {epoch}: quick accuracy {100 * score:.1f} %")
        if t.best is None or score > t.best["score"]:
            t.best = {
                "epoch": epoch, "score": score,
                "G": {k: v.detach().clone() for k, v in t.G.state_dict().items()},
                "D": {k: v.detach().clone() for k, v in t.D.state_dict().items()},
            }  # fmt: skip

    def _pause(self, t: Trainer, control: RunControl, clock: _RateClock) -> None:
        self._flush_metrics()
        self._checkpoint(t, clock)
        self._write_info(status="paused")
        self._emit(StateChanged("paused"))
        self._log(f"paused at step {t.step}")
        clock.pause()
        control.wait_while_paused()
        clock.resume()
        if not control.stop_requested:
            self._write_info(status="running")
            self._emit(StateChanged("running"))
            self._log("resumed")

    def _stop(self, t: Trainer, clock: _RateClock) -> str:
        self._flush_metrics()
        self._checkpoint(t, clock)
        self._log(f"stopped at step {t.step}; resume continues from here")
        self._write_info(status="stopped", message=f"stopped at step {t.step}")
        self._emit(RunFinished("stopped", str(self.dir), f"stopped at step {t.step}"))
        return "stopped"

    def _finish(self, t: Trainer, clock: _RateClock) -> str:
        cfg = self.cfg
        if t.refiner is not None:  # refined in phase 3: that set is the distilled set
            start = t.refine_start
            extra = {k: v.numpy() for k, v in start["extra"].items()}
            labels = start["labels"].numpy()
            write_stored_set(
                self.distilled_path(cfg.ipc), t.refiner.images(), labels,
                set_spec(cfg.sampling, cfg.refine), **extra,
            )  # fmt: skip
            how = f"{cfg.sampling.selection} selection, {t.totals[3]} DM iterations"
        else:
            self._emit(PhaseStarted(3, PHASE_NAMES[3], 1, t.step))
            self._save_generator(t)
            self.distilled_path(cfg.ipc).unlink(missing_ok=True)  # a set of an earlier finish
            chosen = synthetic_set(
                self.dir, cfg.ipc, generator=t.G, device=t.device, data=t.data, log=self._log
            )
            labels = chosen.labels
            how = f"{chosen.selection} selection"
        t.elapsed = clock.elapsed()
        self._log(
            f"finished in {fmt_elapsed(t.elapsed)}: generator.pt and "
            f"distilled/ipc{cfg.ipc}.npz ({len(labels)} images, {how})"
        )
        self._write_info(status="finished", message="", elapsed_s=t.elapsed, finished=time.time())
        self._emit(RunFinished("finished", str(self.dir), f"{len(labels)} images"))
        return "finished"

    # ---- records ----
    def _flush_metrics(self) -> None:
        if not self._pending:
            return
        # One host sync for the whole bunch instead of one per loss per step.
        flat: list[Tensor] = []
        for _, _, _, values in self._pending:
            flat.extend(v.detach().float().reshape(()) for v in values.values())
        numbers = torch.stack(flat).tolist() if flat else []
        if not all(math.isfinite(x) for x in numbers):
            phase, step = self._pending[0][:2]
            self._pending.clear()
            raise GddError(
                f"the losses became non-finite (NaN or infinite) in phase {phase} by step "
                f"{step}: the run is stopped; lower the learning rate or check the data "
                "(the last checkpoint is kept)"
            )
        new_file = not self.metrics_path.exists()
        if new_file or self._columns is None:
            self._columns = METRIC_COLUMNS if new_file else self._metrics_columns()
        columns = self._columns
        i = 0
        with open(self.metrics_path, "a", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            if new_file:
                writer.writerow(["phase", "step", "epoch", "time", *columns])
            now = round(time.time(), 3)
            for phase, step, epoch, values in self._pending:
                row = {}
                for key in values:
                    row[key] = numbers[i]
                    i += 1
                writer.writerow(
                    [phase, step, epoch, now]
                    + [f"{row[c]:.6g}" if c in row else "" for c in columns]
                )
                self._emit(StepMetrics(phase, step, epoch, row))
        self._pending.clear()

    def _metrics_columns(self) -> list[str]:
        """The loss columns of an existing metrics.csv: a run written before a column was
        added keeps its own header, so its rows keep their width."""
        with open(self.metrics_path, encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh), [])
        return header[4:] if header[:2] == ["phase", "step"] else METRIC_COLUMNS

    def _save_grid(self, t: Trainer, phase: int) -> None:
        was_training = t.G.training
        t.G.eval()
        with torch.no_grad():
            images = to_uint8(t.G(self._grid_z.to(t.device)))
        t.G.train(was_training)
        grid = make_grid(images, t.data.num_classes, self.cfg.monitor.grid_cols)
        path = self.folder.grid(phase, t.step)
        storage.atomic_save_png(path, grid)
        self._emit(GridImage(phase, t.step, grid, str(path)))

    def _progress(self, t: Trainer, clock: _RateClock, total: int) -> None:
        rate = clock.rate()
        remaining = total - t.step
        eta = remaining / rate if rate > 0 else None
        memory = None
        if t.device.type == "cuda":
            memory = torch.cuda.memory_allocated(t.device)
        elif t.device.type == "mps":
            memory = torch.mps.current_allocated_memory()
        self._emit(
            Progress(
                t.phase,
                t.step,
                total,
                t.phase_step,
                t.totals[t.phase],
                rate,
                eta,
                clock.elapsed(),
                memory,
            )
        )

    def _checkpoint(self, t: Trainer, clock: _RateClock, path: Path | None = None) -> Path:
        self._flush_metrics()
        t.elapsed = clock.elapsed()
        if path is not None:  # a phase-end copy: run.json and the events follow last.pt
            storage.atomic_torch_save(path, t.state_dict())
            return path
        storage.atomic_torch_save(self.checkpoint_path, t.state_dict())
        self._write_info(
            phase=t.phase, step=t.step, total_steps=sum(t.totals.values()), elapsed_s=t.elapsed
        )
        self._emit(CheckpointSaved(t.step, str(self.checkpoint_path)))
        return self.checkpoint_path


def _metrics_upto(path: Path, step: int) -> str | None:
    """``metrics.csv`` with only its complete rows at or before ``step``; None when the
    file has no header. A last line without its newline is cut (a kill mid-write), and a
    damaged row is dropped."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    try:
        rows = list(csv.reader(io.StringIO(text[: text.rfind("\n") + 1])))
    except csv.Error:  # not CSV at all (a stray carriage return, a NUL byte)
        return None
    if not rows or rows[0][:2] != ["phase", "step"]:
        return None
    kept = [rows[0]] + [r for r in rows[1:] if _row_step(r, len(rows[0])) <= step]
    buf = io.StringIO()
    csv.writer(buf).writerows(kept)
    return buf.getvalue()


def _row_step(row: list[str], width: int) -> float:
    """The step of a metrics row, or infinity for a damaged one (dropped on resume)."""
    if len(row) != width:
        return math.inf
    try:
        return int(row[1])
    except ValueError:
        return math.inf


class CheckpointMissingError(CheckpointError):
    """The run's last.pt is gone: resuming would start over (``Run.open(restart=True)``)."""


class _RateClock:
    """Elapsed time without pauses, and a smoothed step rate for the ETA."""

    def __init__(self, elapsed: float = 0.0) -> None:
        self._base = elapsed
        self._start = time.perf_counter()
        self._paused_at: float | None = None
        self._last = self._start
        self._rate = 0.0

    def pause(self) -> None:
        self._paused_at = time.perf_counter()

    def resume(self) -> None:
        if self._paused_at is not None:
            gap = time.perf_counter() - self._paused_at
            self._start += gap
            self._last += gap
            self._paused_at = None

    def tick(self) -> None:
        now = time.perf_counter()
        dt = max(now - self._last, 1e-9)
        self._last = now
        inst = 1.0 / dt
        self._rate = inst if self._rate == 0 else 0.9 * self._rate + 0.1 * inst

    def rate(self) -> float:
        return self._rate

    def elapsed(self) -> float:
        return self._base + (time.perf_counter() - self._start)


__all__ = [
    "CheckpointMissingError", "Run", "Trainer", "busy_message", "load_checkpoint",
    "read_run_info",
]  # fmt: skip
