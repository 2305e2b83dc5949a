"""The distillation run: phase 1 (conditional WGAN-GP), phase 2 (SKD), phase 3 (sampling).

Read it top to bottom: ``Trainer`` holds the models, optimizers, counters and one seeded
random generator per purpose; ``phase1_step`` and ``phase2_step`` are one training step
each; ``Run.execute`` loops over them, reports events, obeys the control and writes the
run folder. A checkpoint holds everything the loop reads, so a run stopped or killed and
resumed ends, on the CPU, with exactly the generator an uninterrupted run ends with.
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

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import __version__
from ..config import RunConfig, resolve_defaults, resolve_device, validate, validate_for_dataset
from ..data import ImageDataset, dataset_family, load_dataset
from ..errors import CheckpointError, DiskFullError, GddError, user_message
from ..evaluation.train import normalizer, test_accuracy, train_classifier
from ..models.augment import DIGIT_STRATEGY, DSA, DSA_STRATEGY
from ..models.gan import Discriminator, Generator, conditional_noise
from ..models.nets import build_classifier
from ..rundir.lock import RunLock, is_locked
from . import storage
from .artifacts import CHECKPOINT_FORMAT, load_checkpoint, synthetic_set, write_dataset_info
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
from .losses import gradient_penalty, mse_loss, skd_loss
from .sampling import (
    SEED_AUG,
    SEED_DATA,
    SEED_GRID,
    SEED_NOISE,
    SEED_POOL,
    SEED_SELECT,
    grid_noise,
    make_grid,
    sample_images,
    to_uint8,
)  # fmt: skip

METRIC_COLUMNS = [
    "g_loss", "g_adv", "g_cls", "match", "d_loss", "wasserstein", "gp", "d_cls",
    "pool_loss", "pool_acc",
]  # fmt: skip

EventSink = Callable[[Any], None]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _build_seeded(seed: int, build: Callable[[], nn.Module]) -> nn.Module:
    """Build a network from its own seed without touching the global RNG stream."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


class Trainer:
    """Models, optimizers, counters and RNG streams of one run: the checkpointed state."""

    def __init__(self, cfg: RunConfig, data: ImageDataset, device: str) -> None:
        self.cfg, self.data, self.device = cfg, data, torch.device(device)
        k, c, s = data.num_classes, data.channels, data.image_size
        m = cfg.model
        self.G = _build_seeded(cfg.seed, lambda: Generator(k, m.nz, m.width, c, s)).to(device)
        self.D = _build_seeded(cfg.seed + 1, lambda: Discriminator(k, m.width, c, s)).to(device)
        betas = (cfg.gan.beta1, cfg.gan.beta2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.gan.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.gan.lr, betas=betas)
        self.normalize = normalizer(data.mean, data.std, device)
        strategy = DIGIT_STRATEGY if dataset_family(cfg.dataset) == "mnist" else DSA_STRATEGY
        self.dsa = DSA(strategy)
        self.rng = {
            "data": _gen(cfg.seed * 1000 + SEED_DATA),
            "noise": _gen(cfg.seed * 1000 + SEED_NOISE),
            "aug": _gen(cfg.seed * 1000 + SEED_AUG),
            "pool": _gen(cfg.seed * 1000 + SEED_POOL),
        }
        n = len(data.x_train)
        self.spe = {
            1: _steps_per_epoch(n, cfg.gan.batch_size, cfg.gan.steps_per_epoch),
            2: _steps_per_epoch(n, cfg.distill.batch_size, cfg.distill.steps_per_epoch),
        }
        self.totals = {1: cfg.gan.epochs * self.spe[1], 2: cfg.distill.epochs * self.spe[2]}
        # Counters: the phase under way (3 = both training phases done), steps done in it,
        # and steps done in all.
        self.phase, self.phase_step, self.step = 1, 0, 0
        self.perm: Tensor | None = None  # this epoch's order of the training images
        self.pool_arch: str | None = None
        self.pool_net: nn.Module | None = None
        self.pool_opt: torch.optim.Optimizer | None = None
        self.pretrained: dict[str, dict[str, Tensor]] = {}
        self.best: dict[str, Any] | None = None  # phase-1 "best" selection
        self.elapsed = 0.0

    # ---- data --------------------------------------------------------------------
    def batch(self, phase: int) -> tuple[Tensor, Tensor]:
        """The next real mini-batch of the epoch order, as images in [0, 1] and labels."""
        bs = self.cfg.gan.batch_size if phase == 1 else self.cfg.distill.batch_size
        b = self.phase_step % self.spe[phase]
        if b == 0 or self.perm is None:
            self.perm = torch.randperm(len(self.data.x_train), generator=self.rng["data"])
        idx = self.perm[b * bs : (b + 1) * bs].to(self.device)
        return self.data.x_train[idx].float() / 255, self.data.y_train[idx]

    @property
    def epoch(self) -> int:
        return self.phase_step // self.spe[self.phase] if self.phase in self.spe else 0

    # ---- the adversarial steps ---------------------------------------------------
    def generator_adv_loss(self, fake: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        self.D.requires_grad_(False)
        critic, logits = self.D(fake)
        self.D.requires_grad_(True)
        return -critic.mean(), F.cross_entropy(logits, y)

    def discriminator_step(self, real: Tensor, y: Tensor) -> dict[str, Tensor]:
        """WGAN-GP critic with an auxiliary classifier; one step.

        As DiM: the fakes are a fresh draw with uniformly random labels from the generator
        just updated, not the G step's batch.
        """
        n, k = len(real), self.data.num_classes
        y_fake = torch.randint(k, (n,), generator=self.rng["noise"]).to(self.device)
        z = conditional_noise(y_fake, self.cfg.model.nz, k, self.rng["noise"])
        with torch.no_grad():
            fake = self.G(z)
        critic, logits = self.D(torch.cat([real, fake]))
        c_real, c_fake = critic[:n], critic[n:]
        d_cls = F.cross_entropy(logits[:n], y) + F.cross_entropy(logits[n:], y_fake)
        alpha = torch.rand(n, 1, 1, 1, generator=self.rng["noise"]).to(self.device)
        gp = gradient_penalty(self.D, real, fake, alpha)
        wasserstein = c_real.mean() - c_fake.mean()
        d_loss = -wasserstein + d_cls + self.cfg.gan.gp_weight * gp
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        return {"d_loss": d_loss, "wasserstein": wasserstein, "gp": gp, "d_cls": d_cls}

    def phase1_step(self) -> dict[str, Tensor]:
        real01, y = self.batch(1)
        z = conditional_noise(y, self.cfg.model.nz, self.data.num_classes, self.rng["noise"])
        fake = self.G(z)
        g_adv, g_cls = self.generator_adv_loss(fake, y)
        g_loss = g_adv + g_cls
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        out = {"g_loss": g_loss, "g_adv": g_adv, "g_cls": g_cls}
        out.update(self.discriminator_step(real01 * 2 - 1, y))
        return out

    # ---- phase 2 -------------------------------------------------------------------
    def _new_pool_net(self, arch: str) -> nn.Module:
        d = self.data
        seed = int(torch.randint(2**62, (1,), generator=self.rng["pool"]))
        net = _build_seeded(
            seed,
            lambda: build_classifier(
                arch, d.channels, d.num_classes, d.image_size, self.cfg.distill.pool_width
            ),
        )
        return net.to(self.device)

    def _pool_optimizer(self, net: nn.Module) -> torch.optim.Optimizer:
        dc = self.cfg.distill
        return torch.optim.SGD(
            net.parameters(), lr=dc.pool_lr, momentum=dc.pool_momentum,
            weight_decay=dc.pool_weight_decay,
        )  # fmt: skip

    def start_phase2(
        self, log: Callable[[str], None], should_stop: Callable[[], bool] | None = None
    ) -> None:
        """G's learning rate is reset [DiM]; a pretrained pool is trained once here.

        Pretraining a pool on a full dataset takes minutes, so it obeys a stop: the network
        being trained is dropped and the pool's random stream rewound, so that the run,
        resumed, pretrains it exactly as an uninterrupted run would.
        """
        for group in self.opt_g.param_groups:
            group["lr"] = self.cfg.distill.lr
        dc = self.cfg.distill
        if dc.pool_mode != "pretrained" or dc.loss == "none":
            return
        x = self.normalize(self.data.x_train.float() / 255)
        for arch in dc.pool:
            if arch in self.pretrained:
                continue
            log(f"pretraining pool network {arch} for {dc.pool_pretrain_epochs} epochs")
            rewind = (self.rng["pool"].get_state(), torch.get_rng_state())
            net = self._new_pool_net(arch)
            done = train_classifier(
                net, x, self.data.y_train, dc.pool_pretrain_epochs, self.rng["pool"],
                batch_size=dc.batch_size, lr=dc.pool_lr, momentum=dc.pool_momentum,
                weight_decay=dc.pool_weight_decay, augment=self.dsa if dc.augment else None,
                should_stop=should_stop,
            )  # fmt: skip
            if not done:
                self.rng["pool"].set_state(rewind[0])
                torch.set_rng_state(rewind[1])
                log(f"stopped while pretraining pool network {arch}; it restarts on resume")
                return
            self.pretrained[arch] = {k: v.detach().clone() for k, v in net.state_dict().items()}

    def _begin_pool_epoch(self) -> None:
        dc = self.cfg.distill
        i = int(torch.randint(len(dc.pool), (1,), generator=self.rng["pool"]))
        self.pool_arch = dc.pool[i]
        self.pool_net = self._new_pool_net(self.pool_arch)
        if dc.pool_mode == "pretrained":
            self.pool_net.load_state_dict(self.pretrained[self.pool_arch])
            self.pool_opt = None
        else:
            self.pool_opt = self._pool_optimizer(self.pool_net)

    def _train_pool(self) -> tuple[Tensor, Tensor]:
        """The online pool network learns from real batches before each G step [DiM]."""
        dc, net = self.cfg.distill, self.pool_net
        assert net is not None and self.pool_opt is not None
        n = len(self.data.x_train)
        losses, correct = [], []
        for _ in range(dc.pool_batches):
            idx = torch.randint(n, (dc.batch_size,), generator=self.rng["pool"]).to(self.device)
            x = self.normalize(self.data.x_train[idx].float() / 255)
            if dc.augment:
                x = self.dsa(x, self.rng["aug"])
            y = self.data.y_train[idx]
            logits = net(x)
            loss = F.cross_entropy(logits, y)
            self.pool_opt.zero_grad(set_to_none=True)
            loss.backward()
            self.pool_opt.step()
            losses.append(loss.detach())
            correct.append((logits.argmax(1) == y).float().mean())
        return torch.stack(losses).mean(), torch.stack(correct).mean()

    def matching_loss(self, real01: Tensor, fake: Tensor) -> Tensor:
        """The pool network sees real and synthetic through one normalization and one
        siamese augmentation; its predictions are matched (SKD or MSE)."""
        dc, net = self.cfg.distill, self.pool_net
        assert net is not None
        both = self.normalize(torch.cat([real01, (fake + 1) / 2]))
        if dc.augment:
            both = self.dsa(both, self.rng["aug"], siamese_groups=2)
        net.eval()  # [ours] BatchNorm pools match on real-data statistics, not the mix
        net.requires_grad_(False)
        logits = net(both)
        net.requires_grad_(True)
        net.train()
        real_logits, syn_logits = logits.chunk(2)
        if dc.loss == "skd":
            return skd_loss(real_logits, syn_logits, dc.tau, dc.standardize, dc.tau_mode)
        return mse_loss(real_logits, syn_logits)

    def phase2_step(self) -> dict[str, Tensor]:
        dc = self.cfg.distill
        out: dict[str, Tensor] = {}
        if dc.loss != "none":
            if self.phase_step % self.spe[2] == 0 or self.pool_net is None:
                self._begin_pool_epoch()
            if dc.pool_mode == "online":
                out["pool_loss"], out["pool_acc"] = self._train_pool()
        real01, y = self.batch(2)
        z = conditional_noise(y, self.cfg.model.nz, self.data.num_classes, self.rng["noise"])
        fake = self.G(z)
        g_adv, g_cls = self.generator_adv_loss(fake, y)
        g_loss = g_adv + g_cls
        if dc.loss != "none":
            match = self.matching_loss(real01, fake)
            weight = dc.lam * dc.tau**2 if dc.loss == "skd" else dc.lam
            g_loss = g_loss + weight * match
            out["match"] = match
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        out.update({"g_loss": g_loss, "g_adv": g_adv, "g_cls": g_cls})
        if dc.discriminator == "trained":
            out.update(self.discriminator_step(real01 * 2 - 1, y))
        return out

    # ---- phase-1 checkpoint selection [DiM] --------------------------------------
    def quick_score(self) -> float:
        """Accuracy of a ConvNet trained on a small sampled set (peeks at the test split,
        as DiM's selection does; only used when gan.select = best)."""
        g, d = self.cfg.gan, self.data
        images, labels = sample_images(
            self.G, d.num_classes, g.select_ipc, self.cfg.model.nz,
            self.cfg.seed * 1000 + SEED_SELECT, self.device,
        )  # fmt: skip
        x = torch.from_numpy(images).permute(0, 3, 1, 2).to(self.device).float() / 255
        rng = _gen(self.cfg.seed * 1000 + SEED_SELECT)
        net = _build_seeded(
            self.cfg.seed,
            lambda: build_classifier(
                "convnet3", d.channels, d.num_classes, d.image_size, self.cfg.distill.pool_width
            ),
        ).to(self.device)
        train_classifier(
            net, self.normalize(x), torch.from_numpy(labels).to(self.device), g.select_epochs,
            rng, augment=self.dsa,
        )  # fmt: skip
        xt = self.normalize(d.x_test.float() / 255)
        return test_accuracy(net, xt, d.y_test)

    # ---- checkpoints -------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT,
            "version": __version__,
            "config_json": self.cfg.to_json(),
            "phase": self.phase,
            "phase_step": self.phase_step,
            "step": self.step,
            "elapsed": self.elapsed,
            "perm": self.perm,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": {k: g.get_state() for k, g in self.rng.items()},
            "torch_rng": torch.get_rng_state(),
            "pool_arch": self.pool_arch,
            "pool_net": self.pool_net.state_dict() if self.pool_net is not None else None,
            "pool_opt": self.pool_opt.state_dict() if self.pool_opt is not None else None,
            "pretrained": self.pretrained,
            "best": self.best,
        }
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        missing = [k for k in CHECKPOINT_KEYS if k not in state]
        if missing:
            raise CheckpointError(
                f"checkpoint lacks {', '.join(missing)}: it is damaged or was not written by "
                "this version of GDD Studio"
            )
        self.phase, self.phase_step, self.step = state["phase"], state["phase_step"], state["step"]
        self.elapsed = float(state["elapsed"])
        self.perm = state["perm"]
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        for k, g in self.rng.items():
            g.set_state(state["rng"][k])
        torch.set_rng_state(state["torch_rng"])
        self.pretrained = state["pretrained"] or {}
        self.best = state["best"]
        self.pool_arch = state["pool_arch"]
        self.pool_net, self.pool_opt = None, None
        if self.pool_arch is not None and state["pool_net"] is not None:
            self.pool_net = build_classifier(
                self.pool_arch, self.data.channels, self.data.num_classes, self.data.image_size,
                self.cfg.distill.pool_width,
            ).to(self.device)  # fmt: skip
            self.pool_net.load_state_dict(state["pool_net"])
            if state["pool_opt"] is not None:
                self.pool_opt = self._pool_optimizer(self.pool_net)
                self.pool_opt.load_state_dict(state["pool_opt"])


CHECKPOINT_KEYS = (
    "phase", "phase_step", "step", "elapsed", "perm", "G", "D", "opt_g", "opt_d", "rng",
    "torch_rng", "pool_arch", "pool_net", "pool_opt", "pretrained", "best",
)  # fmt: skip


def _steps_per_epoch(n: int, batch_size: int, cap: int | None) -> int:
    steps = max(1, n // batch_size)
    return min(steps, cap) if cap else steps


def _training_settings(cfg: RunConfig) -> dict[str, Any]:
    """The settings a checkpoint depends on; evaluation and monitoring may change freely."""
    settings = cfg.to_dict()
    for key in ("evaluation", "monitor", "device", "data_dir", "download"):
        settings.pop(key)
    return settings


# ---- run folders -------------------------------------------------------------------------


def _slug(text: str) -> str:
    keep = "".join(ch if ch.isalnum() else "-" for ch in Path(text.split(":")[-1]).name or text)
    return "-".join(filter(None, keep.lower().split("-")))[:32] or "data"


def new_run_dir(runs_dir: Path, cfg: RunConfig) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{_slug(cfg.dataset)}-ipc{cfg.ipc}"
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise GddError(f"the runs folder {runs_dir} is a file, not a folder") from None
    except PermissionError:
        raise GddError(f"cannot create the runs folder {runs_dir}: permission denied") from None
    for i in range(1, 1000):
        path = runs_dir / (base if i == 1 else f"{base}-{i}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise GddError(f"cannot create a run folder in {runs_dir}")  # pragma: no cover


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
        self._info: dict[str, Any] = {}
        self.restart = False  # start over from step 0 although the run had a checkpoint
        self._lock = RunLock(self.dir)

    # ---- paths ----
    @property
    def checkpoint_path(self) -> Path:
        return self.dir / "checkpoints" / "last.pt"

    @property
    def metrics_path(self) -> Path:
        return self.dir / "metrics.csv"

    @property
    def generator_path(self) -> Path:
        return self.dir / "generator.pt"

    def distilled_path(self, ipc: int) -> Path:
        return self.dir / "distilled" / f"ipc{ipc}.npz"

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
        run = cls(new_run_dir(Path(runs_dir), cfg), cfg, data)
        cfg.save(run.dir / "config.json")
        run._write_info(status="created", created=time.time())
        return run

    @classmethod
    def open(cls, run_dir: str | Path, restart: bool = False) -> Run:
        """Reopen a run folder to resume it, its config checked as ``create`` checks one.

        ``restart``: the run's checkpoint is gone; start over from step 0 and clear what
        the earlier attempt recorded (metrics, grids, phase checkpoints).
        """
        path = Path(run_dir)
        if not (path / "config.json").is_file():
            raise CheckpointError(f"{path} is not a run folder (no config.json in it)")
        cfg = RunConfig.load(path / "config.json")
        try:
            resolve_defaults(cfg)
            validate(cfg)
        except GddError as exc:
            raise type(exc)(f"{path / 'config.json'}: {exc}") from None
        run = cls(path, cfg)
        run._info = read_run_info(path)
        run.restart = restart
        return run

    @property
    def lost_checkpoint(self) -> bool:
        """The run had written a checkpoint (run.json counts its steps) that is gone now:
        resuming would silently start over, so it needs ``restart``."""
        step = self._info.get("step")
        return isinstance(step, int) and step > 0 and not self.checkpoint_path.exists()

    # ---- info file (run.json): what a runs list shows ----
    def _write_info(self, **changes: Any) -> None:
        self._info.update(changes)
        self._info.setdefault("id", self.dir.name)
        self._info.update(
            dataset=self.cfg.dataset, ipc=self.cfg.ipc, tau=self.cfg.distill.tau,
            preset=self.cfg.preset, updated=time.time(), pid=os.getpid(),
            host=socket.gethostname(),
        )  # fmt: skip
        storage.atomic_write_text(self.dir / "run.json", json.dumps(self._info, indent=2) + "\n")

    # ---- events ----
    def _emit(self, event: Any) -> None:
        self._sink(event)

    def _log(self, message: str, level: str = "info") -> None:
        line = f"{datetime.now().strftime('%Y-%m-%d %H:%M:%S')} {level}: {message}\n"
        with open(self.dir / "log.txt", "a", encoding="utf-8") as fh:
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
            with open(self.dir / "error.log", "a", encoding="utf-8") as fh:
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
                    with open(self.dir / "run.json", "r+", encoding="utf-8") as fh:
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
                f"{self._info.get('step')}: resuming would start over from step 0; "
                "resume with --restart to do that (its metrics and grids are cleared)"
            )
        if self.restart and self.lost_checkpoint:
            self._clear_records()
        if self.checkpoint_path.exists():
            state = load_checkpoint(self.checkpoint_path)
            saved = RunConfig.from_json(state["config_json"])
            if _training_settings(saved) != _training_settings(cfg):
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
        return trainer

    def _remove_stale_temporaries(self) -> None:
        """Hidden ``.*.tmp`` files a killed writer left (an atomic write's first half).

        Only the trainer writes the folder itself, checkpoints/ and grids/, and we hold the
        lock: all of those go. An evaluation or export in another process may be writing
        under distilled/, eval/ or selection/ right now, so there only old ones go.
        """
        now = time.time()
        for sub, min_age in (("", 0), ("checkpoints", 0), ("grids", 0), ("distilled", 3600),
                             ("eval", 3600), ("selection", 3600)):  # fmt: skip
            folder = self.dir / sub
            try:
                found = list(folder.glob(".*.tmp"))
            except OSError:
                continue
            for tmp in found:
                try:
                    if now - tmp.stat().st_mtime >= min_age:
                        tmp.unlink()
                except OSError:
                    continue

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
            path = self.dir / "checkpoints" / f"phase{phase}.pt"
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
            text = self.metrics_path.read_bytes().decode("utf-8", errors="replace")
            complete = text[: text.rfind("\n") + 1]  # a last line without its newline is cut
            rows = list(csv.reader(io.StringIO(complete)))
            if rows and rows[0][:2] == ["phase", "step"]:
                kept = [rows[0]] + [r for r in rows[1:] if _row_step(r, len(rows[0])) <= step]
                buf = io.StringIO()
                csv.writer(buf).writerows(kept)
                storage.atomic_write_text(self.metrics_path, buf.getvalue())
            else:  # not even a header: nothing in it is worth keeping
                self.metrics_path.unlink()
        grids = self.dir / "grids"
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
        total = t.totals[1] + t.totals[2]
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
            self._checkpoint(t, clock, self.dir / "checkpoints" / f"phase{phase}.pt")
            self._checkpoint(t, clock)
        return self._finish(t, clock)

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
        self._emit(PhaseStarted(3, PHASE_NAMES[3], 1, t.step))
        t.G.eval()
        if not all(
            torch.isfinite(v).all() for v in t.G.state_dict().values() if v.is_floating_point()
        ):
            raise GddError("the generator's weights are not finite (NaN or infinite): not saved")
        storage.atomic_torch_save(self.generator_path, t.G.state_dict())
        self.distilled_path(cfg.ipc).unlink(missing_ok=True)  # a set of an earlier finish
        chosen = synthetic_set(
            self.dir, cfg.ipc, generator=t.G, device=t.device, data=t.data, log=self._log
        )
        labels = chosen.labels
        t.elapsed = clock.elapsed()
        self._log(
            f"finished in {fmt_elapsed(t.elapsed)}: generator.pt and "
            f"distilled/ipc{cfg.ipc}.npz ({len(labels)} images, {chosen.selection} selection)"
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
        i = 0
        with open(self.metrics_path, "a", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            if new_file:
                writer.writerow(["phase", "step", "epoch", "time", *METRIC_COLUMNS])
            now = round(time.time(), 3)
            for phase, step, epoch, values in self._pending:
                row = {}
                for key in values:
                    row[key] = numbers[i]
                    i += 1
                writer.writerow(
                    [phase, step, epoch, now]
                    + [f"{row[c]:.6g}" if c in row else "" for c in METRIC_COLUMNS]
                )
                self._emit(StepMetrics(phase, step, epoch, row))
        self._pending.clear()

    def _save_grid(self, t: Trainer, phase: int) -> None:
        was_training = t.G.training
        t.G.eval()
        with torch.no_grad():
            images = to_uint8(t.G(self._grid_z.to(t.device)))
        t.G.train(was_training)
        grid = make_grid(images, t.data.num_classes, self.cfg.monitor.grid_cols)
        path = self.dir / "grids" / f"phase{phase}_{t.step:07d}.png"
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
            phase=t.phase, step=t.step, total_steps=t.totals[1] + t.totals[2], elapsed_s=t.elapsed
        )
        self._emit(CheckpointSaved(t.step, str(self.checkpoint_path)))
        return self.checkpoint_path


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


def read_run_info(run_dir: Path) -> dict[str, Any]:
    """run.json, with a run whose process died marked "interrupted"."""
    path = Path(run_dir) / "run.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = None
    if not isinstance(info, dict):  # unreadable, or JSON that is not an object ([])
        return {"id": Path(run_dir).name, "status": "unknown"}
    if info.get("status") in ("running", "paused") and not _writer_alive(run_dir, info):
        info["status"] = "interrupted"
    return info


def busy_message(run_dir: Path, info: dict[str, Any]) -> str:
    """The refusal when another process trains in ``run_dir`` (it holds the lock)."""
    who = f"process {info.get('pid')} on {info.get('host')}" if info.get("pid") else "a process"
    return f"run {run_dir} is being trained by {who}; stop it first"


def _writer_alive(run_dir: Path, info: dict[str, Any]) -> bool:
    """The lock says it on this machine; a folder from before locks falls back on the pid."""
    if info.get("host") == socket.gethostname():
        locked = is_locked(run_dir)
        if locked is not None:
            return locked
    return _process_alive(info)


def _process_alive(info: dict[str, Any]) -> bool:
    if info.get("host") != socket.gethostname():
        # Another machine writes it (a shared runs folder): trust a recent heartbeat.
        return time.time() - float(info.get("updated", 0)) < 3600
    pid = info.get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return pid == os.getpid()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


__all__ = [
    "CheckpointMissingError", "Run", "Trainer", "busy_message", "load_checkpoint",
    "read_run_info",
]  # fmt: skip
