"""DiM's conditional WGAN-GP networks (docs/METHOD.md, "Phase 1").

The generator is conditioned the way DiM does it: the first K entries of the noise vector
are overwritten by the one-hot label, so the network itself has no label input and the same
architecture serves every dataset. The discriminator is an auxiliary-classifier critic: a
WGAN critic score plus K class logits from a shared trunk. It uses LayerNorm instead of
BatchNorm because the gradient penalty is defined per sample, and batch statistics would
couple the samples.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

SUPPORTED_SIZES: tuple[int, ...] = (28, 32)

# Strides of the discriminator's eight 3x3 convolutions [DiM].
_DISC_STRIDES: tuple[int, ...] = (1, 2, 1, 2, 1, 1, 1, 2)


def _check_common(num_classes: int, width: int, channels: int, image_size: int) -> None:
    """Fail early with a readable message instead of a shape error deep inside a layer."""
    if image_size not in SUPPORTED_SIZES:
        raise ValueError(f"image_size must be one of {SUPPORTED_SIZES}, got {image_size}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    if channels < 1:
        raise ValueError(f"channels must be >= 1, got {channels}")


def _bn_relu(channels: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]


class Generator(nn.Module):
    """Conditional generator: noise with a one-hot prefix -> image in [-1, 1].

    The layout follows DiM so that the paper preset (width 196) reproduces its capacity;
    smaller widths exist so that a CPU can train one in minutes.
    """

    def __init__(
        self,
        num_classes: int,
        nz: int = 100,
        width: int = 196,
        channels: int = 1,
        image_size: int = 28,
    ) -> None:
        super().__init__()
        _check_common(num_classes, width, channels, image_size)
        if nz < num_classes:
            raise ValueError(f"nz ({nz}) must be >= num_classes ({num_classes}) for the one-hot")
        self.num_classes = num_classes
        self.nz = nz
        self.width = width
        self.channels = channels
        self.image_size = image_size
        c = width
        self.fc = nn.Sequential(
            nn.Linear(nz, c * 4 * 4), nn.BatchNorm1d(c * 4 * 4), nn.ReLU(inplace=True)
        )
        # 4 -> 7 for 28 px data, 4 -> 8 for 32 px data; the rest doubles twice.
        first_up = (
            nn.ConvTranspose2d(c, c, kernel_size=3, stride=2, padding=1)
            if image_size == 28
            else nn.ConvTranspose2d(c, c, kernel_size=4, stride=2, padding=1)
        )
        layers: list[nn.Module] = [first_up, *_bn_relu(c)]
        for _ in range(3):
            layers += [nn.Conv2d(c, c, kernel_size=3, padding=1), *_bn_relu(c)]
        layers += [nn.ConvTranspose2d(c, c, kernel_size=4, stride=2, padding=1), *_bn_relu(c)]
        layers += [nn.Conv2d(c, c, kernel_size=3, padding=1), *_bn_relu(c)]
        layers += [nn.ConvTranspose2d(c, c, kernel_size=4, stride=2, padding=1), *_bn_relu(c)]
        layers += [nn.Conv2d(c, channels, kernel_size=3, padding=1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """Map noise (N, nz) to images (N, channels, S, S) in [-1, 1]."""
        h = self.fc(z).view(z.shape[0], self.width, 4, 4)
        return self.body(h)


def conditional_noise(
    labels: Tensor,
    nz: int,
    num_classes: int,
    generator: torch.Generator | None = None,
    truncation: float = 0.0,
) -> Tensor:
    """Draw DiM's conditional noise: z ~ N(0, I) whose first K entries are one-hot(label).

    The draw happens on the CPU with ``generator`` so that the same seed gives the same
    noise on any device (CUDA and CPU random streams differ); the result is moved to
    ``labels.device``. ``truncation`` > 0 is the truncation trick (Brock et al., BigGAN):
    every noise entry beyond +-truncation is drawn again from the same stream until it lies
    within, trading variety for fidelity; 0 keeps the plain normal draw.
    """
    if nz < num_classes:
        raise ValueError(f"nz ({nz}) must be >= num_classes ({num_classes}) for the one-hot")
    labels_cpu = labels.detach().to("cpu", torch.long).reshape(-1)
    if labels_cpu.numel() and (labels_cpu.min() < 0 or labels_cpu.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got {labels_cpu.tolist()}")
    z = torch.randn(labels_cpu.numel(), nz, generator=generator)
    if truncation > 0:
        outside = z.abs() > truncation
        while bool(outside.any()):
            z[outside] = torch.randn(int(outside.sum()), generator=generator)
            outside = z.abs() > truncation
    z[:, :num_classes] = nn.functional.one_hot(labels_cpu, num_classes).to(z.dtype)
    return z.to(labels.device)


class Discriminator(nn.Module):
    """Auxiliary-classifier WGAN critic: returns (critic score (N,), class logits (N, K))."""

    def __init__(
        self,
        num_classes: int,
        width: int = 196,
        channels: int = 1,
        image_size: int = 28,
    ) -> None:
        super().__init__()
        _check_common(num_classes, width, channels, image_size)
        self.num_classes = num_classes
        self.width = width
        self.channels = channels
        self.image_size = image_size
        layers: list[nn.Module] = []
        size, c_in = image_size, channels
        for stride in _DISC_STRIDES:
            size = (size + 2 - 3) // stride + 1
            layers += [
                nn.Conv2d(c_in, width, kernel_size=3, stride=stride, padding=1),
                nn.LayerNorm([width, size, size], elementwise_affine=True),
                nn.LeakyReLU(0.01, inplace=True),  # PyTorch's default slope, as DiM,
            ]
            c_in = width
        # 28 -> 28,14,14,7,7,7,7,4 and 32 -> 32,16,16,8,8,8,8,4: both end at 4x4.
        self.trunk = nn.Sequential(*layers)
        self.pool = nn.MaxPool2d(kernel_size=size)
        self.critic = nn.Linear(width, 1)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Score images (N, channels, S, S): critic (N,) and class logits (N, K)."""
        h = self.pool(self.trunk(x)).flatten(1)
        return self.critic(h).squeeze(1), self.classifier(h)
