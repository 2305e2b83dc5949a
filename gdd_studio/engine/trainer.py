"""The method: models, optimizers, counters and one seeded RNG stream per purpose.

``phase1_step`` and ``phase2_step`` are one training step each, callable on their own (a
test drives them directly); ``state_dict`` / ``load_state_dict`` are the checkpoint. The
loop that calls them, reports and writes the run folder is ``run.Run``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import __version__
from ..config import RunConfig, steps_per_epoch
from ..data import ImageDataset, dataset_family
from ..errors import CheckpointError
from ..models.augment import DIGIT_STRATEGY, DSA, DSA_STRATEGY
from ..models.fit import normalizer, test_accuracy, train_classifier
from ..models.gan import Discriminator, Generator, conditional_noise
from ..models.nets import build_classifier
from ..models.runtime import Runtime, forward_flops, resolve, work_tflop
from ..rundir.artifacts import CHECKPOINT_FORMAT
from .losses import gradient_penalty, mse_loss, skd_loss
from .refine import refine_tflop
from .sampling import (
    SEED_AUG,
    SEED_DATA,
    SEED_DIFFAUG,
    SEED_NOISE,
    SEED_POOL,
    SEED_SELECT,
    sample_images,
)  # fmt: skip


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
        # [issue 28] The moving average of G's weights (gan.ema), the generator the sets
        # and grids come from; None when off. ema_updates counts the G steps averaged.
        self.G_ema: nn.Module | None = copy.deepcopy(self.G).eval() if cfg.gan.ema > 0 else None
        if self.G_ema is not None:
            self.G_ema.requires_grad_(False)
        self.ema_updates = 0
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
        # [issue 28] DiffAugment: every image D sees goes through all of gan.diffaug's
        # transforms, each image its own draw from its own stream (absent when off, so a
        # checkpoint without it still loads).
        self.diffaug = DSA(cfg.gan.diffaug, mode="M") if cfg.gan.diffaug else None
        if self.diffaug is not None:
            self.rng["diffaug"] = _gen(cfg.seed * 1000 + SEED_DIFFAUG)
        n = len(data.x_train)
        self.spe = {
            1: steps_per_epoch(n, cfg.gan.batch_size, cfg.gan.steps_per_epoch),
            2: steps_per_epoch(n, cfg.distill.batch_size, cfg.distill.steps_per_epoch),
        }
        self.totals = {1: cfg.gan.epochs * self.spe[1], 2: cfg.distill.epochs * self.spe[2]}
        # Phase 3 refines the chosen set (one DM iteration a step); 0 steps when it is off.
        self.totals[3] = cfg.refine.iterations if cfg.refine.method != "none" else 0
        self.runtime = self._resolve_runtime()
        # What the steps call: G and D themselves, or their compiled forms (same parameters;
        # the checkpoint saves G and D). The critic's gradient penalty runs D eagerly.
        self.g, self.d = self.runtime["gan"].wrap(self.G), self.runtime["gan"].wrap(self.D)
        # Counters: the phase under way (3 = both training phases done), steps done in it,
        # and steps done in all.
        self.phase, self.phase_step, self.step = 1, 0, 0
        self.perm: Tensor | None = None  # this epoch's order of the training images
        self.pool_arch: str | None = None
        self.pool_net: nn.Module | None = None
        self.pool_forward: Callable[[Tensor], Tensor] | None = None
        self.pool_opt: torch.optim.Optimizer | None = None
        self.pretrained: dict[str, dict[str, Tensor]] = {}
        self.best: dict[str, Any] | None = None  # phase-1 "best" selection
        # Phase 3: the chosen set it started from ({"images", "labels", "extra"}) and the
        # refiner stepping it (engine/refine.py), or its saved state before it is rebuilt.
        self.refine_start: dict[str, Any] | None = None
        self.refiner: Any = None
        self.refiner_state: dict[str, Any] | None = None
        self.elapsed = 0.0

    def _resolve_runtime(self) -> dict[str, Runtime]:
        """Each part's precision and compilation, from runtime.* and the work it will do."""
        cfg, r, d = self.cfg, self.cfg.runtime, self.data
        dc, m = cfg.distill, cfg.model
        k, c, s = d.num_classes, d.channels, d.image_size
        image = (c, s, s)
        g = forward_flops(Generator, (k, m.nz, m.width, c, s), (m.nz,))
        dis = forward_flops(Discriminator, (k, m.width, c, s), image)
        # A step: G forward and backward, D on the fakes for G's loss, D on real and fake,
        # and the gradient penalty's double backward (about two more passes).
        gan_batches = self.totals[1] * cfg.gan.batch_size + self.totals[2] * dc.batch_size
        work = {"gan": work_tflop(g + 5 * dis, gan_batches)}
        if dc.loss != "none":
            if dc.pool_mode == "online":
                pool_images = self.totals[2] * dc.pool_batches * dc.batch_size
            else:
                pool_images = dc.pool_pretrain_epochs * len(d.x_train)
            pool = max(
                forward_flops(build_classifier, (a, c, k, s, dc.pool_width), image)
                for a in dc.pool
            )
            work["pool"] = work_tflop(pool, pool_images)
        if self.totals[3]:
            work["refine"] = refine_tflop(cfg.refine, image, k, cfg.ipc)
        return {
            part: resolve(r.precision, r.compile, self.device, part, tflop)
            for part, tflop in work.items()
        }

    def runtime_record(self) -> dict[str, dict[str, Any]]:
        """What each part ran with, for run.json."""
        return {part: rt.describe() for part, rt in self.runtime.items()}

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
    def sampler(self) -> nn.Module:
        """The generator the run's sets, grids and generator.pt come from: the moving
        average of G's weights when gan.ema is on, else G itself."""
        return self.G_ema if self.G_ema is not None else self.G

    @torch.no_grad()
    def update_ema(self) -> None:
        """After a G step: the average moves towards G (its decay warmed up from 0.1, as
        (1 + n) / (10 + n), so that the first steps' weights fade quickly); BatchNorm's
        running statistics are copied, as they are estimates, not weights."""
        if self.G_ema is None:
            return
        self.ema_updates += 1
        n = self.ema_updates
        decay = min(self.cfg.gan.ema, (1 + n) / (10 + n))
        for avg, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
            avg.lerp_(p.detach(), 1 - decay)
        for avg, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
            avg.copy_(b)

    @property
    def epoch(self) -> int:
        return self.phase_step // self.spe[self.phase] if self.phase in self.spe else 0

    # ---- the adversarial steps ---------------------------------------------------
    def d_view(self, x: Tensor) -> Tensor:
        """What D sees of images in [-1, 1]: themselves, or their DiffAugment (gan.diffaug),
        differentiable, so that G learns through it."""
        return x if self.diffaug is None else self.diffaug(x, self.rng["diffaug"])

    def generator_adv_loss(self, fake: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        self.D.requires_grad_(False)
        with self.runtime["gan"].autocast():
            critic, logits = self.d(self.d_view(fake))
        self.D.requires_grad_(True)
        if self.cfg.gan.loss == "minimax":  # non-saturating: -log sigmoid(critic)
            return F.softplus(-critic.float()).mean(), F.cross_entropy(logits, y)
        return -critic.mean(), F.cross_entropy(logits, y)

    def discriminator_step(self, real: Tensor, y: Tensor) -> dict[str, Tensor]:
        """WGAN-GP critic with an auxiliary classifier; one step. With ``gan.loss``
        "minimax" the critic's score is a logit, trained by binary cross-entropy (real 1,
        fake 0) with no gradient penalty (``gp`` is then 0).

        As DiM: the fakes are a fresh draw with uniformly random labels from the generator
        just updated, not the G step's batch.
        """
        n, k = len(real), self.data.num_classes
        y_fake = torch.randint(k, (n,), generator=self.rng["noise"]).to(self.device)
        z = conditional_noise(y_fake, self.cfg.model.nz, k, self.rng["noise"])
        with torch.no_grad(), self.runtime["gan"].autocast():
            fake = self.g(z).float()
        if self.diffaug is not None:  # the penalty then interpolates what D saw
            real, fake = self.d_view(torch.cat([real, fake])).split(n)
        with self.runtime["gan"].autocast():
            critic, logits = self.d(torch.cat([real, fake]))
            critic, logits = critic.float(), logits.float()
        c_real, c_fake = critic[:n], critic[n:]
        d_cls = F.cross_entropy(logits[:n], y) + F.cross_entropy(logits[n:], y_fake)
        wasserstein = c_real.mean() - c_fake.mean()
        if self.cfg.gan.loss == "minimax":
            gp = torch.zeros((), device=self.device)
            d_loss = F.softplus(-c_real).mean() + F.softplus(c_fake).mean() + d_cls
        else:
            alpha = torch.rand(n, 1, 1, 1, generator=self.rng["noise"]).to(self.device)
            with self.runtime["gan"].autocast():  # eager D: a double backward does not compile
                gp = gradient_penalty(self.D, real, fake, alpha)
            d_loss = -wasserstein + d_cls + self.cfg.gan.gp_weight * gp
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        return {"d_loss": d_loss, "wasserstein": wasserstein, "gp": gp, "d_cls": d_cls}

    def phase1_step(self) -> dict[str, Tensor]:
        real01, y = self.batch(1)
        z = conditional_noise(y, self.cfg.model.nz, self.data.num_classes, self.rng["noise"])
        with self.runtime["gan"].autocast():
            fake = self.g(z).float()
        g_adv, g_cls = self.generator_adv_loss(fake, y)
        g_loss = g_adv + g_cls
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self.update_ema()
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
                should_stop=should_stop, runtime=self.runtime["pool"],
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
        self._set_pool_net(self._new_pool_net(self.pool_arch))
        if dc.pool_mode == "pretrained":
            self.pool_net.load_state_dict(self.pretrained[self.pool_arch])
            self.pool_opt = None
        else:
            self.pool_opt = self._pool_optimizer(self.pool_net)

    def _set_pool_net(self, net: nn.Module | None) -> None:
        self.pool_net = net
        self.pool_forward = None if net is None else self.runtime["pool"].wrap(net)

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
            with self.runtime["pool"].autocast():
                logits = self.pool_forward(x).float()
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
        # BatchNorm while matching: "eval" [ours] normalizes with the statistics of real
        # data the pool net learnt; "train" [DiM] with the real+synthetic batch's own.
        net.train(dc.pool_bn == "train")
        net.requires_grad_(False)
        with self.runtime["pool"].autocast():
            logits = self.pool_forward(both).float()
        net.requires_grad_(True)
        net.train()
        real_logits, syn_logits = logits.chunk(2)
        if dc.loss == "skd":
            return skd_loss(real_logits, syn_logits, dc.tau, dc.standardize, dc.tau_mode)
        return mse_loss(real_logits, syn_logits)

    def draws_dm_loss(self, real01: Tensor, fake: Tensor, y: Tensor) -> Tensor:
        """Distribution matching of the draws [ours, issue 28]: a freshly initialised
        ConvNet-3 of the pool's width (its initialisation seeded by the step, so a resumed
        run draws the same one and no random stream moves) embeds the real batch and the
        draws through one siamese augmentation; the loss sums, over the batch's classes,
        the squared distance between the real and the synthetic mean embedding (DM's loss,
        Zhao & Bilen 2023, moving G instead of a set's pixels)."""
        dc, d = self.cfg.distill, self.data
        net = _build_seeded(
            self.cfg.seed * 1_000_003 + self.step,
            lambda: build_classifier("convnet3", d.channels, d.num_classes, d.image_size,
                                     dc.pool_width),
        ).to(self.device)  # fmt: skip
        net.requires_grad_(False)
        both = self.normalize(torch.cat([real01, (fake + 1) / 2]))
        if dc.augment:
            both = self.dsa(both, self.rng["aug"], siamese_groups=2)
        # The pool's precision (the GAN's when there is no pool: loss "none"); the embedder
        # is new every step, so it runs eagerly whatever the part's compilation.
        with self.runtime.get("pool", self.runtime["gan"]).autocast():
            real_e, fake_e = net.embed(both).float().chunk(2)
        loss = torch.zeros((), device=self.device)
        for k in torch.unique(y):
            member = y == k
            loss = loss + ((real_e[member].mean(0) - fake_e[member].mean(0)) ** 2).sum()
        return loss

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
        with self.runtime["gan"].autocast():
            fake = self.g(z).float()
        g_adv, g_cls = self.generator_adv_loss(fake, y)
        g_loss = g_adv + g_cls
        if dc.loss != "none":
            match = self.matching_loss(real01, fake)
            weight = dc.lam * dc.tau**2 if dc.loss == "skd" else dc.mse_weight  # [DiM] 0.01
            g_loss = g_loss + weight * match
            out["match"] = match
        if dc.dm_weight > 0:
            g_dm = self.draws_dm_loss(real01, fake, y)
            g_loss = g_loss + dc.dm_weight * g_dm
            out["g_dm"] = g_dm
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self.update_ema()
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
            self.sampler, d.num_classes, g.select_ipc, self.cfg.model.nz,
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
        if self.G_ema is not None:
            state["G_ema"] = self.G_ema.state_dict()
            state["ema_updates"] = self.ema_updates
        if self.refine_start is not None:
            refiner = self.refiner.state_dict() if self.refiner is not None else self.refiner_state
            state["refine"] = {"start": self.refine_start, "refiner": refiner}
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
        if self.G_ema is not None:
            if "G_ema" not in state:
                raise CheckpointError(
                    "checkpoint holds no moving average of the generator (gan.ema): it was "
                    "written without it"
                )
            self.G_ema.load_state_dict(state["G_ema"])
            self.ema_updates = int(state["ema_updates"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        for k, g in self.rng.items():
            g.set_state(state["rng"][k])
        torch.set_rng_state(state["torch_rng"])
        self.pretrained = state["pretrained"] or {}
        self.best = state["best"]
        refine = state.get("refine")  # absent before phase 3 and in older checkpoints
        self.refine_start = refine["start"] if refine else None
        self.refiner, self.refiner_state = None, refine["refiner"] if refine else None
        self.pool_arch = state["pool_arch"]
        self._set_pool_net(None)
        self.pool_opt = None
        if self.pool_arch is not None and state["pool_net"] is not None:
            self._set_pool_net(
                build_classifier(
                    self.pool_arch, self.data.channels, self.data.num_classes,
                    self.data.image_size, self.cfg.distill.pool_width,
                ).to(self.device)
            )  # fmt: skip
            self.pool_net.load_state_dict(state["pool_net"])
            if state["pool_opt"] is not None:
                self.pool_opt = self._pool_optimizer(self.pool_net)
                self.pool_opt.load_state_dict(state["pool_opt"])


CHECKPOINT_KEYS = (
    "phase", "phase_step", "step", "elapsed", "perm", "G", "D", "opt_g", "opt_d", "rng",
    "torch_rng", "pool_arch", "pool_net", "pool_opt", "pretrained", "best",
)  # fmt: skip
