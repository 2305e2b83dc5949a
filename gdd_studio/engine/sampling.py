"""Phase 3: turning the generator into a distilled set, and image grids."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..models.gan import Generator, conditional_noise

# Seed offsets: one generator per purpose, so that adding draws to one never shifts another.
(SEED_DATA, SEED_NOISE, SEED_AUG, SEED_POOL, SEED_GRID, SEED_SAMPLE, SEED_SELECT, SEED_OBSERVER) = (
    range(1, 9)
)
SEED_REFINE = 9
SEED_DIFFAUG = 10  # gan.diffaug's stream (only when it is on)


def to_uint8(images: Tensor) -> np.ndarray:
    """Generator output in [-1, 1], (N, C, H, W) -> uint8 (N, H, W, C)."""
    x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def sample_images(
    generator_net: Generator,
    num_classes: int,
    ipc: int,
    nz: int,
    seed: int,
    device: torch.device | str,
    batch_size: int = 500,
    truncation: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """IPC images per class from a seeded noise draw: uint8 (N, H, W, C) and int64 labels.

    The same seed gives the same set whatever the device, because the noise is drawn on
    the CPU. Labels are grouped by class (0 x IPC, 1 x IPC, ...).
    """
    rng = torch.Generator().manual_seed(seed)
    labels = torch.arange(num_classes).repeat_interleave(ipc)
    was_training = generator_net.training
    generator_net.eval()
    chunks = []
    for start in range(0, len(labels), batch_size):
        y = labels[start : start + batch_size].to(device)
        z = conditional_noise(y, nz, num_classes, rng, truncation)
        chunks.append(to_uint8(generator_net(z)))
    generator_net.train(was_training)
    return np.concatenate(chunks), labels.numpy().astype(np.int64)


def make_grid(images: np.ndarray, rows: int, cols: int, pad: int = 2) -> np.ndarray:
    """Tile uint8 (rows*cols, H, W, C) images into one (H', W', C) picture."""
    n, h, w, c = images.shape
    grid = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad, c), dtype=np.uint8)
    for i in range(min(n, rows * cols)):
        r, col = divmod(i, cols)
        y0, x0 = pad + r * (h + pad), pad + col * (w + pad)
        grid[y0 : y0 + h, x0 : x0 + w] = images[i]
    return grid


def grid_noise(num_classes: int, cols: int, nz: int, seed: int) -> tuple[Tensor, Tensor]:
    """The fixed noise of the monitoring grids: row k holds class k."""
    rng = torch.Generator().manual_seed(seed)
    labels = torch.arange(num_classes).repeat_interleave(cols)
    return conditional_noise(labels, nz, num_classes, rng), labels
