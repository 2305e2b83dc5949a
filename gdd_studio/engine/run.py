"""The run loop: phases in order, events, the control, checkpoints and the run folder.

``Trainer`` (trainer.py) is the method: models, optimizers, RNG streams, one step each.
``Run.execute`` loops over its steps, reports events, obeys the control and writes the
run folder (rundir/). A checkpoint holds everything the loop reads, so a run stopped or
killed and resumed ends, on the CPU, with exactly the generator an uninterrupted run ends
with.

``Run`` is the loop; what it records as it goes (metrics.csv, grids, run.json, run.log)
is ``RunRecords`` (run_records.py), and how it reopens a run (the checkpoint to go on
from, a restart, another run's phase 1) is ``RunResume`` (run_resume.py). Both are parts
of the writer: only the front ends that start a run import them (tests/test_layers.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .. import storage
from ..config import (
    RunConfig,
    RuntimeConfig,
    resolve_defaults,
    resolve_device,
    validate,
    validate_for_dataset,
    validate_runtime,
)
from ..data import ImageDataset, load_dataset
from ..errors import CheckpointError, DiskFullError, GddError, user_message
from ..models.runtime import native_bf16
from ..rundir.artifacts import (
    CheckpointCheck,
    load_checkpoint,
    write_dataset_info,
    write_stored_set,
)
from ..rundir.folder import (
    RunFolder,
    busy_message,
    keep_aside,
    new_run_dir,
    read_run_info,
    require_inside,
)
from .events import (
    PHASE_NAMES,
    CheckpointSaved,
    PhaseStarted,
    Progress,
    RunControl,
    RunFinished,
    StateChanged,
    StepRate,
    fmt_elapsed,
)
from .refine import Refiner, set_spec
from .run_records import RunRecords
from .run_resume import CheckpointMissingError, RunResume
from .sampling import SEED_GRID, grid_noise
from .selection import selection_words
from .sets import choose_set, selection_extra, synthetic_set
from .trainer import Trainer

EventSink = Callable[[Any], None]
# A run's first checkpoint comes after this many steps or seconds, whichever is first,
# however far apart ``monitor.checkpoint_every`` puts the later ones (the cpu preset: 500).
FIRST_CHECKPOINT_STEPS = 50
FIRST_CHECKPOINT_S = 60.0


class Run(RunResume, RunRecords):
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
        self._runtime_changed = False  # set_runtime's change, saved once the lock is held

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
        the checkpoint still fits). config.json says so once ``execute`` holds the run's
        lock: a resume refused before that (finished, busy) changes no file."""
        r = self.cfg.runtime
        new = RuntimeConfig(precision or r.precision, compile_mode or r.compile)
        validate_runtime(new)
        if new != r:
            self.cfg.runtime = new
            self._runtime_changed = True

    # ---- the loop ----
    def execute(self, on_event: EventSink | None = None, control: RunControl | None = None) -> str:
        """Run (or resume) to the end. Returns "finished", "stopped" or "failed".

        User errors (GddError) are re-raised after being recorded, so front ends can show
        their one line; other failures are recorded with a traceback in ``error.log``.
        """
        self._sink = on_event or (lambda e: None)
        control = control or RunControl()
        validate(self.cfg)  # also a Run made by hand, not through create or open
        require_inside(self.dir, *self.folder.written())  # the lock file included
        if not self._lock.acquire():
            # Another process trains here; its run.json is not ours to touch.
            raise GddError(busy_message(self.dir, read_run_info(self.dir)))
        try:
            if self._runtime_changed:
                self.cfg.save(self.folder.config)
                self._runtime_changed = False
            info = self.folder.info
            if info.exists() and not info.is_file():  # run.json is rewritten from the state
                aside = keep_aside(info, "not-a-file")
                self._log(f"run.json was not a file: kept aside as {aside.name}", "warning")
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
        self._resume(trainer)
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
        emulated = [p for p, r in runtime.items() if r["precision"] == "bf16"]
        if emulated and trainer.device.type == "cpu" and not native_bf16("cpu"):
            self._log(
                f"bf16 for {', '.join(emulated)} is emulated on this CPU (it has neither "
                "AVX-512 BF16 nor AMX): measured 30-35 % slower than fp32 here; "
                "--precision auto or fp32 is faster",
                "warning",
            )
        return trainer

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
                self._record_step(t, phase, t.epoch, step_fn())
                if phase == 1 and cfg.gan.select == "best":
                    self._maybe_select(t)
                if t.step % cfg.monitor.grid_every == 0:
                    self._save_grid(t, phase)
                self._after_step(t, clock, total)
            # phase end
            self._flush_metrics()
            if phase == 1 and cfg.gan.select == "best" and t.best is not None:
                t.G.load_state_dict(t.best["G"])
                t.D.load_state_dict(t.best["D"])
                if t.G_ema is not None:
                    t.G_ema.load_state_dict(t.best["G_ema"])
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

    def _refine(self, t: Trainer, control: RunControl, clock: _RateClock, total: int) -> str | None:
        """Phase 3 with a refinement: the chosen set, moved by DM one iteration a step,
        with the pauses, stops, metrics, grids and checkpoints of phases 1 and 2. Returns
        the status when stopped, None when the set is refined."""
        cfg = self.cfg
        sampling = cfg.sampling.at_ipc(cfg.ipc)
        self._emit(PhaseStarted(3, PHASE_NAMES[3], t.totals[3], t.step - t.phase_step))
        if t.refine_start is None:
            self._log(
                f"phase 3: {PHASE_NAMES[3]}, the IPC-{cfg.ipc} set chosen "
                f"({selection_words(sampling)}) and refined by {t.totals[3]} DM iterations"
            )
            self._save_generator(t)
            try:
                chosen, _ = choose_set(
                    self.dir, cfg, cfg.ipc, t.sampler, t.device, sampling, t.data, self._log,
                    lambda: control.stop_requested,
                )  # fmt: skip
            except GddError:
                if control.stop_requested:
                    return self._stop(t, clock)
                raise
            extra = selection_extra(sampling, chosen)
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
            self._record_step(t, 3, 0, {"dm_loss": torch.tensor(t.refiner.step())})
            if t.phase_step % cfg.monitor.grid_every == 0:
                self._save_set_grid(t)
            self._after_step(t, clock, total)
        self._flush_metrics()
        if t.phase_step % cfg.monitor.grid_every != 0:
            self._save_set_grid(t)
        return None

    def _save_generator(self, t: Trainer) -> None:
        g = t.sampler  # the moving average when gan.ema is on
        g.eval()
        if not all(
            torch.isfinite(v).all() for v in g.state_dict().values() if v.is_floating_point()
        ):
            raise GddError("the generator's weights are not finite (NaN or infinite): not saved")
        storage.atomic_torch_save(self.generator_path, g.state_dict())

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
            if t.G_ema is not None:
                t.best["G_ema"] = {k: v.detach().clone() for k, v in t.G_ema.state_dict().items()}

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
            sampling = cfg.sampling.at_ipc(cfg.ipc)
            write_stored_set(
                self.distilled_path(cfg.ipc), t.refiner.images(), labels,
                set_spec(sampling, cfg.refine), **extra,
            )  # fmt: skip
            how = f"{selection_words(sampling)} selection, {t.totals[3]} DM iterations"
        else:
            self._emit(PhaseStarted(3, PHASE_NAMES[3], 1, t.step))
            self._save_generator(t)
            self.distilled_path(cfg.ipc).unlink(missing_ok=True)  # a set of an earlier finish
            chosen = synthetic_set(
                self.dir, cfg.ipc, generator=t.sampler, device=t.device, data=t.data,
                log=self._log,
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

    def _record_step(self, t: Trainer, phase: int, epoch: int, values: dict[str, Tensor]) -> None:
        """A step done: the counters move and its losses join the next metrics flush."""
        t.phase_step += 1
        t.step += 1
        self._pending.append((phase, t.step, epoch, values))
        if t.step % self.cfg.monitor.log_every == 0:
            self._flush_metrics()

    def _after_step(self, t: Trainer, clock: _RateClock, total: int) -> None:
        """After a step's own records: the rate, the progress event, a periodic checkpoint."""
        clock.tick()
        self._progress(t, clock, total)
        if t.step % self.cfg.monitor.checkpoint_every == 0 or self._first_checkpoint_due(t, clock):
            self._checkpoint(t, clock)

    def _first_checkpoint_due(self, t: Trainer, clock: _RateClock) -> bool:
        """A run has its first checkpoint early, whatever ``checkpoint_every`` says: after
        FIRST_CHECKPOINT_STEPS steps or FIRST_CHECKPOINT_S seconds, whichever comes first,
        so that a laptop lid closed in the first minutes loses at most that."""
        if self.checkpoint_path.exists():
            return False
        return t.step >= FIRST_CHECKPOINT_STEPS or clock.elapsed() >= FIRST_CHECKPOINT_S

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


class _RateClock(StepRate):
    """Elapsed time without pauses, and a step rate for the ETA that excludes warm-up
    (``StepRate``: the first steps after the clock starts or resumes are not timed)."""

    def __init__(self, elapsed: float = 0.0) -> None:
        super().__init__()
        self._base = elapsed
        self._start = self._last
        self._paused_at: float | None = None

    def pause(self) -> None:
        self._paused_at = time.perf_counter()

    def resume(self) -> None:
        if self._paused_at is not None:
            gap = time.perf_counter() - self._paused_at
            self._start += gap
            self._last += gap
            self._paused_at = None

    def elapsed(self) -> float:
        return self._base + (time.perf_counter() - self._start)


__all__ = [
    "CheckpointMissingError", "Run", "Trainer", "busy_message", "load_checkpoint",
    "read_run_info",
]  # fmt: skip
