"""What a network of an evaluation trains on, besides a stored set: the random real
subset of a row (drawn by its seed alone, so any worker draws the same), a generator's
fresh draw every epoch (the on-the-fly protocol), and images as the networks take them."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..errors import ConfigError
from ..models.gan import Generator


def random_real_indices(labels: Tensor, ipc: int, num_classes: int, seed: int) -> Tensor:
    """Exactly ``ipc`` distinct training images of every class, chosen by ``seed``."""
    rng = torch.Generator().manual_seed(seed)
    y = labels.cpu()
    chosen = []
    for k in range(num_classes):
        members = torch.nonzero(y == k).flatten()
        if len(members) < ipc:
            raise ConfigError(
                f"the random real baseline needs {ipc} images of class {k}, "
                f"the training split has {len(members)}"
            )
        chosen.append(members[torch.randperm(len(members), generator=rng)[:ipc]])
    return torch.cat(chosen)


def _to_float(images: np.ndarray | Tensor, device: torch.device) -> Tensor:
    """uint8 (N, H, W, C) numpy or (N, C, H, W) tensor -> float (N, C, H, W) in [0, 1]."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images).permute(0, 3, 1, 2)
    return images.to(device).float() / 255


def on_the_fly(g: Generator, labels: Tensor, norm, seed: int, device: torch.device, nz: int):
    """[DiM] A fresh draw from the generator every epoch, same labels."""
    from ..engine.sampling import to_uint8
    from ..models.gan import conditional_noise

    rng = torch.Generator().manual_seed(seed + 7919)
    g = g.to(device)
    k = g.num_classes

    @torch.no_grad()
    def refresh(_epoch: int) -> Tensor:
        z = conditional_noise(labels.cpu(), nz, k, rng).to(device)
        images = torch.from_numpy(to_uint8(g(z))).permute(0, 3, 1, 2)
        return norm(_to_float(images, device))

    return refresh
