"""Images per second and GFLOP/s of each part that trains a network, per runtime setting.

    python bench/bench_runtime.py                      # every part, fp32/bf16 x eager/compiled
    python bench/bench_runtime.py --part evaluation --dataset cifar --steps 20

Parts: ``evaluation`` (ConvNet-3 width 128 on an IPC-10 set with DSA; the test pass is
``test``), ``observer`` (ConvNet-3 width 64, batch 128, DSA), ``pool`` (the cpu preset's
ConvNet-3 width 32, batch 64), ``gan`` (the cpu preset's generator + critic step with the
gradient penalty, width 32, batch 64; its FLOPs leave the penalty out, so its GFLOP/s are
a lower bound), ``dm`` (one refinement iteration: a fresh ConvNet-3 width 128 embeds 128
real images of each of 10 classes and an IPC-10 set; images/s count both).

Each figure is steady-state (after warm-up); the seconds of the warm-up, which hold the
compilation, are printed beside it. FLOPs of one step are counted with
torch.utils.flop_counter (convolutions and matrix products, forward and backward; what the
peak counts too). Record the figures with the machine in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import time
from functools import partial

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from gdd_studio.config import preset_config, resolve_defaults
from gdd_studio.data import ImageDataset
from gdd_studio.engine import trainer as trainer_module
from gdd_studio.engine.trainer import Trainer
from gdd_studio.models.augment import DIGIT_STRATEGY, DSA, DSA_STRATEGY
from gdd_studio.models.matching import DistributionMatcher
from gdd_studio.models.nets import build_classifier
from gdd_studio.models.runtime import Runtime, native_bf16

SHAPES = {"mnist": (1, 28), "cifar": (3, 32)}


def _classifier_step(width: int, batch: int, channels: int, size: int, rt: Runtime):
    torch.manual_seed(0)
    net = build_classifier("convnet3", channels, 10, size, width)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    forward = rt.wrap(net)
    x = torch.randn(batch, channels, size, size)
    y = torch.randint(10, (batch,))
    dsa = DSA(DIGIT_STRATEGY if channels == 1 else DSA_STRATEGY)
    gen = torch.Generator().manual_seed(0)

    def step():
        xb = dsa(x, gen)
        with rt.autocast():
            loss = F.cross_entropy(forward(xb), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def flops():
        with FlopCounterMode(display=False) as counter:
            loss = F.cross_entropy(net(x), y)
            loss.backward()
        return counter.get_total_flops()

    return step, batch, flops


def _test_pass(channels: int, size: int, rt: Runtime):
    torch.manual_seed(0)
    net = build_classifier("convnet3", channels, 10, size, 128).eval()
    forward = rt.wrap(net)
    x = torch.randn(1000, channels, size, size)

    @torch.no_grad()
    def step():
        with rt.autocast():
            forward(x)

    def flops():
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            net(x)
        return counter.get_total_flops()

    return step, 1000, flops


def _gan_step(channels: int, size: int, precision: str, compiled: bool):
    cfg = preset_config("cpu")
    cfg.runtime.precision, cfg.runtime.compile = precision, "on" if compiled else "off"
    n = 2048
    data = ImageDataset(
        name="bench", x_train=torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8),
        y_train=torch.arange(n) % 10, x_test=torch.zeros(10, channels, size, size,
        dtype=torch.uint8), y_test=torch.arange(10), classes=[str(i) for i in range(10)],
        mean=(0.5,) * channels, std=(0.5,) * channels, source="random",
    )  # fmt: skip
    resolve_defaults(cfg)
    t = Trainer(cfg, data, "cpu")

    def step():
        t.phase1_step()
        t.phase_step += 1

    def flops():
        # FlopCounterMode cannot follow the gradient penalty's double backward: the step
        # is counted without it, so the GAN's GFLOP/s are a lower bound.
        real = trainer_module.gradient_penalty
        trainer_module.gradient_penalty = lambda *a: torch.zeros(())
        try:
            with FlopCounterMode(display=False) as counter:
                t.phase1_step()
        finally:
            trainer_module.gradient_penalty = real
        return counter.get_total_flops()

    return step, cfg.gan.batch_size, flops


def _dm_step(channels: int, size: int, rt: Runtime):
    """One DM iteration of the refinement (IPC 10, 128 real images a class, width 128)."""
    g = torch.Generator().manual_seed(0)
    real = torch.randint(0, 256, (1280, channels, size, size), dtype=torch.uint8, generator=g)
    y_real = torch.arange(1280) % 10
    start = torch.randint(0, 256, (100, channels, size, size), dtype=torch.uint8, generator=g)
    matcher = DistributionMatcher(
        real, y_real, torch.arange(100) % 10, (0.5,) * channels, (0.5,) * channels, start,
        dsa=DSA(DIGIT_STRATEGY if channels == 1 else DSA_STRATEGY), autocast=rt.bf16,
        wrap=rt.wrap if rt.compiled else None,
    )  # fmt: skip

    def flops():
        net = build_classifier("convnet3", channels, 10, size, 128)
        with FlopCounterMode(display=False) as counter:
            with torch.no_grad():
                net.embed(real[:1280].float())
            net.embed(start.float()).sum().backward()
        return counter.get_total_flops()

    return matcher.step, 1380, flops


def measure(make, steps: int) -> tuple[float, float, float]:
    """(images/s, GFLOP/s, warm-up seconds) of a step made by ``make``."""
    start = time.perf_counter()
    step, images, count = make()
    for _ in range(3):
        step()
    warm = time.perf_counter() - start
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = (time.perf_counter() - t0) / steps
    return images / dt, count() / dt / 1e9, warm


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", action="append", choices=["evaluation", "test", "observer",
                                                        "pool", "gan", "dm"])  # fmt: skip
    ap.add_argument("--dataset", action="append", choices=list(SHAPES))
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--setting", action="append", help="fp32-eager, fp32-compiled, ...")
    args = ap.parse_args()
    parts = args.part or ["evaluation", "test", "observer", "pool", "gan", "dm"]
    datasets = args.dataset or list(SHAPES)
    settings = args.setting or ["fp32-eager", "fp32-compiled", "bf16-eager", "bf16-compiled"]
    print(
        f"# {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}, native bf16: {native_bf16('cpu')}"
    )
    print(f"{'part':<11} {'data':<6} {'setting':<14} {'images/s':>9} {'GFLOP/s':>8} {'warm-up':>8}")
    for part in parts:
        for ds in datasets:
            c, s = SHAPES[ds]
            for setting in settings:
                precision, mode = setting.split("-")
                rt = Runtime("cpu", precision == "bf16", mode == "compiled")
                torch._dynamo.reset()  # each setting pays its own compilation
                make = {
                    "evaluation": partial(_classifier_step, 128, 100, c, s, rt),
                    "test": partial(_test_pass, c, s, rt),
                    "observer": partial(_classifier_step, 64, 128, c, s, rt),
                    "pool": partial(_classifier_step, 32, 64, c, s, rt),
                    "gan": partial(_gan_step, c, s, precision, mode == "compiled"),
                    "dm": partial(_dm_step, c, s, rt),
                }[part]
                ips, gflops, warm = measure(make, args.steps)
                print(f"{part:<11} {ds:<6} {setting:<14} {ips:9.0f} {gflops:8.1f} {warm:7.1f}s",
                      flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
