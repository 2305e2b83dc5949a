"""Distribution matching (DM; Zhao & Bilen, WACV 2023) as a resumable state machine.

Why it exists: a few hundred DM iterations turn a fixed set (random real images, the
generator's draws) into a much better one on a CPU, because an iteration trains no
network: it draws a freshly initialised ConvNet-3, embeds a real batch of each class and
that class's synthetic images through the same DSA transformation, and moves the
synthetic images so that the two mean embeddings meet:

    loss = sum over classes k of || mean_real_k(f) - mean_syn_k(f) ||^2

Two parametrisations: the pixels themselves (DM; SGD lr 1, momentum 0.5) or latent codes
decoded by a given function at every step (GLaD-style: the set stays on a generator's
image manifold; Adam lr 0.05). ``conditional_decoder`` builds that function for the
project's conditional generator, keeping the one-hot part of z fixed.

The matcher is one object a caller steps: an evaluation baseline runs it for a fixed
number of iterations, a phase of a run steps it between its pause and stop checks and
checkpoints ``state_dict()``. All randomness comes from one seeded CPU generator per
purpose (real batches, augmentation, embedder initialisation), so a stopped and resumed
matcher gives bit-identical images on the CPU.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from .augment import DSA
from .nets import build_classifier

# Seed offsets of the matcher's generators, one per purpose.
_SEED_REAL, _SEED_AUG, _SEED_NET = 1, 2, 3


class _Embed(nn.Module):
    """A network's ``embed`` as its forward, so ``wrap`` (compile, ...) sees one callable."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return self.net.embed(x)


class DistributionMatcher:
    """DM on a labelled synthetic set; ``step()`` does one iteration and returns its loss.

    Pixel mode (default): ``images`` uint8 (N, C, H, W) start the set; the normalised
    pixels are optimised. Latent mode: ``latents`` float (N, D) are optimised and
    ``decode(latents)`` must return normalised images (N, C, H, W); ``images`` is then
    unused. ``labels`` (N,) give each synthetic image's class, in any order.
    ``real_images`` uint8 (N, C, H, W) and ``real_labels`` are the real training split,
    on the device the matching should run on; ``mean``/``std`` the dataset's constants.
    """

    def __init__(
        self,
        real_images: Tensor,
        real_labels: Tensor,
        labels: Tensor,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        images: Tensor | None = None,
        *,
        latents: Tensor | None = None,
        decode: Callable[[Tensor], Tensor] | None = None,
        num_classes: int | None = None,
        real_per_class: int = 128,
        arch: str = "convnet3",
        width: int = 128,
        lr: float | None = None,
        momentum: float = 0.5,
        dsa: DSA | None = None,
        seed: int = 0,
        autocast: bool = False,
        wrap: Callable[[nn.Module], Callable[[Tensor], Tensor]] | None = None,
    ) -> None:
        if (latents is None) == (images is None):
            raise ValueError("give either images (pixel mode) or latents (latent mode)")
        if latents is not None and decode is None:
            raise ValueError("latent mode needs decode(latents) -> normalised images")
        if real_per_class < 1:
            raise ValueError(f"real_per_class must be at least 1, got {real_per_class}")
        self.device = real_images.device
        self.channels, self.image_size = int(real_images.shape[1]), int(real_images.shape[2])
        self.num_classes = num_classes or int(real_labels.max()) + 1
        self.real_images = real_images
        self.real_per_class = real_per_class
        self.arch, self.width, self.seed = arch, width, seed
        self.dsa, self.autocast, self.wrap = dsa, autocast, wrap
        self.decode = decode
        self.labels = labels.to(self.device)
        self._mean = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        y_real = real_labels.to(self.device)
        self.classes = [k for k in range(self.num_classes) if bool((self.labels == k).any())]
        self._real_index = {k: torch.nonzero(y_real == k).flatten() for k in self.classes}
        self._syn_index = {k: torch.nonzero(self.labels == k).flatten() for k in self.classes}
        for k in self.classes:
            if len(self._real_index[k]) == 0:
                raise ValueError(f"class {k} has synthetic images but no real ones to match")
        if latents is None:
            assert images is not None
            self.mode = "pixels"
            start = self.normalize(images.to(self.device))
            self.param = start.detach().clone().requires_grad_(True)
            self.opt: torch.optim.Optimizer = torch.optim.SGD(
                [self.param], lr=1.0 if lr is None else lr, momentum=momentum
            )
        else:
            self.mode = "latents"
            self.param = latents.to(self.device).detach().clone().float().requires_grad_(True)
            self.opt = torch.optim.Adam([self.param], lr=0.05 if lr is None else lr)
        self.iteration = 0
        self.rng = {
            "real": torch.Generator().manual_seed(seed * 1000 + _SEED_REAL),
            "aug": torch.Generator().manual_seed(seed * 1000 + _SEED_AUG),
            "net": torch.Generator().manual_seed(seed * 1000 + _SEED_NET),
        }

    # ---- images in and out ----
    def normalize(self, images: Tensor) -> Tensor:
        """uint8 (N, C, H, W) -> float, scaled to [0, 1] and normalised."""
        return (images.float() / 255 - self._mean) / self._std

    def synthetic(self) -> Tensor:
        """The current set as normalised float images (N, C, H, W), with gradient."""
        return self.param if self.decode is None else self.decode(self.param)

    @torch.no_grad()
    def uint8_images(self) -> Tensor:
        """The current set as uint8 (N, C, H, W), the form every stored set takes."""
        x = self.synthetic().float() * self._std + self._mean
        return (x.clamp(0, 1) * 255).round().to(torch.uint8)

    # ---- one iteration ----
    def _embedder(self) -> Callable[[Tensor], Tensor]:
        """A freshly initialised network, its initialisation drawn from the "net" generator."""
        seed = int(torch.randint(0, 2**62, (1,), generator=self.rng["net"]))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = build_classifier(
                self.arch, self.channels, self.num_classes, self.image_size, self.width
            )
        if not hasattr(net, "embed"):
            raise ValueError(f"{self.arch} has no embed(); DM needs its penultimate features")
        net = net.to(self.device).train()
        for p in net.parameters():
            p.requires_grad_(False)
        embed = _Embed(net)
        return self.wrap(embed) if self.wrap is not None else embed

    def _real_batch(self, k: int) -> Tensor:
        members = self._real_index[k]
        pick = torch.randperm(len(members), generator=self.rng["real"])[: self.real_per_class]
        return self.normalize(self.real_images[members[pick.to(self.device)]])

    def _autocast(self):
        if not self.autocast:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def step(self) -> float:
        """One DM iteration: a fresh embedder, every class matched once; returns the loss."""
        embed = self._embedder()
        syn = self.synthetic()
        real_means, syn_parts = [], []
        for k in self.classes:
            # One set of augmentation parameters per class, shared by its real and its
            # synthetic images (siamese, as DM's reference code does it).
            params = self.dsa.sample(1, self.rng["aug"]) if self.dsa is not None else None
            real = self._real_batch(k)
            part = syn[self._syn_index[k]]
            if params is not None:
                real, part = self.dsa.apply(real, params), self.dsa.apply(part, params)
            with torch.no_grad(), self._autocast():
                real_means.append(embed(real).float().mean(0))
            syn_parts.append(part)
        with self._autocast():
            features = embed(torch.cat(syn_parts)).float()
        loss = torch.zeros((), device=self.device)
        sizes = [len(p) for p in syn_parts]
        for mean_real, f in zip(real_means, features.split(sizes), strict=True):
            loss = loss + ((mean_real - f.mean(0)) ** 2).sum()
        # Only the set moves: a decode's own weights (a generator) get no gradient.
        (grad,) = torch.autograd.grad(loss, [self.param])
        self.param.grad = grad
        self.opt.step()
        self.param.grad = None
        self.iteration += 1
        return float(loss.detach())

    def run(self, iterations: int, should_stop: Callable[[], bool] | None = None) -> bool:
        """Step until ``iterations`` in all (counting earlier ones); False if stopped."""
        while self.iteration < iterations:
            if should_stop is not None and should_stop():
                return False
            self.step()
        return True

    # ---- checkpoints ----
    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed matcher needs to continue bit-identically on the CPU."""
        return {
            "mode": self.mode,
            "iteration": self.iteration,
            "param": self.param.detach().cpu().clone(),
            "optimizer": self.opt.state_dict(),
            "rng": {name: g.get_state() for name, g in self.rng.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["mode"] != self.mode:
            raise ValueError(f"a {state['mode']} matcher's state cannot resume a {self.mode} one")
        if tuple(state["param"].shape) != tuple(self.param.shape):
            raise ValueError(
                f"the saved set has shape {tuple(state['param'].shape)}, "
                f"this matcher's {tuple(self.param.shape)}"
            )
        with torch.no_grad():
            self.param.copy_(state["param"].to(self.device))
        self.opt.load_state_dict(state["optimizer"])
        for name, g in self.rng.items():
            g.set_state(state["rng"][name])
        self.iteration = int(state["iteration"])


def conditional_decoder(
    generator: Callable[[Tensor], Tensor],
    labels: Tensor,
    num_classes: int,
    mean: tuple[float, ...],
    std: tuple[float, ...],
) -> Callable[[Tensor], Tensor]:
    """``decode`` for the project's conditional generator (output in [-1, 1]).

    The first K entries of each z are replaced by the one-hot label before decoding, as
    the generator was trained, so they get no gradient and never move; the rest of z is
    what latent-mode matching optimises. Pass a generator in eval mode: BatchNorm in
    training mode would mix the batch and change its running statistics.
    """
    if isinstance(generator, nn.Module) and generator.training:
        raise ValueError("put the generator in eval mode (generator.eval()) before decoding")
    onehot = nn.functional.one_hot(labels.long(), num_classes).float()

    def decode(z: Tensor) -> Tensor:
        m = torch.tensor(mean, dtype=z.dtype, device=z.device).view(1, -1, 1, 1)
        s = torch.tensor(std, dtype=z.dtype, device=z.device).view(1, -1, 1, 1)
        x = generator(torch.cat([onehot.to(z.device), z[:, num_classes:]], dim=1))
        return ((x + 1) / 2 - m) / s

    return decode


__all__ = ["DistributionMatcher", "conditional_decoder"]
