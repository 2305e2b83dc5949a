"""Tiny datasets and configs for fast engine tests."""

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from gdd_studio.config import RunConfig, preset_config
from gdd_studio.engine.run import Run


def write_tiny_npz(
    path: Path,
    classes: int = 3,
    per_class: int = 12,
    size: int = 28,
    channels: int = 1,
    seed: int = 0,
) -> Path:
    """Class k is a bright square at a class-specific place on noise: learnable, tiny."""
    rng = np.random.default_rng(seed)

    def make(n):
        xs, ys = [], []
        for k in range(classes):
            img = rng.integers(0, 40, size=(n, size, size, channels), dtype=np.uint8)
            off = 2 + 6 * k
            img[:, off : off + 6, off : off + 6, :] = 220
            xs.append(img)
            ys.append(np.full(n, k))
        x = np.concatenate(xs)
        return (x[..., 0] if channels == 1 else x), np.concatenate(ys).astype(np.uint8)

    x_train, y_train = make(per_class)
    x_test, y_test = make(4)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def tiny_config(dataset: str, **changes) -> RunConfig:
    cfg = preset_config("smoke")
    cfg.dataset = dataset
    cfg.ipc = 2
    cfg.device = "cpu"
    cfg.model.width = 4
    cfg.gan.epochs, cfg.gan.steps_per_epoch, cfg.gan.batch_size = 2, 3, 8
    cfg.distill.epochs, cfg.distill.steps_per_epoch, cfg.distill.batch_size = 2, 3, 8
    cfg.distill.pool_width = 4
    cfg.distill.pool_batches = 2
    cfg.monitor.grid_every, cfg.monitor.checkpoint_every, cfg.monitor.log_every = 2, 2, 1
    for key, value in changes.items():
        from gdd_studio.config import set_value

        set_value(cfg, key.replace("__", "."), value)
    return cfg


def long_config(data, steps=60) -> RunConfig:
    """A tiny run with enough phase-1 steps to pause or stop it in the middle."""
    cfg = tiny_config(f"npz:{data}")
    cfg.gan.epochs, cfg.gan.steps_per_epoch = steps // 3, 3
    cfg.monitor.checkpoint_every = 10
    return cfg


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch's thread count set to ``n`` for a block, and given back after: a test that
    leaves it changed changes every later test's arithmetic and speed."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def finished_tiny_run(root: Path) -> Path:
    """A run of ``tiny_config`` on a tiny 3-class dataset, finished, under ``root``."""
    data = write_tiny_npz(root / "tiny.npz", classes=3, per_class=12)
    run = Run.create(tiny_config(f"npz:{data}"), root / "runs")
    assert run.execute() == "finished"
    return run.dir
