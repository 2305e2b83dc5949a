"""How fast is distribution matching (models/matching.py) on this CPU, and what does it buy?

``speed`` (default) times DM iterations on CIFAR-10 shapes (32 x 32 x 3, 10 classes, IPC
10, 128 real images per class, ConvNet-3 width 128, DSA) with random pixels, at 1 and 2
threads, fp32 and bf16 autocast; no dataset needed. ``experiment`` runs DM from a random
real subset of the decoded CIFAR-10 (bench/prepare_cifar10.py) for a time budget, then
trains ConvNet-3s on the set with the evaluation protocol (DSA, SGD lr 0.01, batch 256, lr
x 0.1 at half time, final test accuracy) and the random real subset itself beside it.

    python bench/bench_dm.py speed [--iterations 8]
    python bench/bench_dm.py experiment --data-dir /work/data/cifar10 [--minutes 5 |
        --count N] [--networks 2] [--epochs 300] [--ipc 10] [--threads 2] [--bf16]
        [--out dm.npz]

The set is saved (``--out``) before its networks train, so an evaluation cut short can be
redone on it; ``--count N`` makes the set of exactly N iterations (the same set again).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from gdd_studio.models.augment import DSA
from gdd_studio.models.matching import DistributionMatcher

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores visible"


def speed(args: argparse.Namespace) -> None:
    g = torch.Generator().manual_seed(0)
    real = torch.randint(0, 256, (5000, 3, 32, 32), generator=g, dtype=torch.uint8)
    y = torch.arange(10).repeat_interleave(500)
    start = real[torch.arange(10) * 500][:, None].expand(-1, args.ipc, -1, -1, -1)
    labels = torch.arange(10).repeat_interleave(args.ipc)
    print(f"DM on CIFAR-10 shapes, IPC {args.ipc}, 128 real per class, ConvNet-3 width 128")
    print(f"machine: {machine()}; torch {torch.__version__}")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for bf16 in (False, True):
            m = DistributionMatcher(
                real, y, labels, CIFAR_MEAN, CIFAR_STD, images=start.reshape(-1, 3, 32, 32),
                real_per_class=128, width=128, dsa=DSA(), autocast=bf16,
            )  # fmt: skip
            m.step()  # warm-up
            t = time.perf_counter()
            for _ in range(args.iterations):
                m.step()
            per = (time.perf_counter() - t) / args.iterations
            print(f"  {threads} thread(s), {'bf16' if bf16 else 'fp32'}: {per:.3f} s/iteration, "
                  f"{1 / per:.2f} it/s, {60 / per:.0f} iterations a minute")  # fmt: skip


def evaluate(x, y, data, networks: int, epochs: int, seed: int) -> list[float]:
    """The fixed-set protocol (evaluation/protocol.py), ConvNet-3 at literature width."""
    from gdd_studio.models.augment import DSA_STRATEGY
    from gdd_studio.models.fit import normalizer, test_accuracy, train_classifier
    from gdd_studio.models.nets import build_classifier

    norm = normalizer(data.mean, data.std, "cpu")
    x_test = norm(data.x_test.float() / 255)
    accs = []
    for r in range(networks):
        s = seed * 1000 + r
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(s)
            net = build_classifier("convnet3", 3, 10, 32)
        train_classifier(net, norm(x.float() / 255), y, epochs, torch.Generator().manual_seed(s),
                         augment=DSA(DSA_STRATEGY))  # fmt: skip
        accs.append(test_accuracy(net, x_test, data.y_test))
        print(f"    network {r + 1}: {100 * accs[-1]:.2f} %", flush=True)
    return accs


def experiment(args: argparse.Namespace) -> None:
    from gdd_studio.data import load_dataset
    from gdd_studio.evaluation.protocol import random_real_indices

    torch.set_num_threads(args.threads)
    data = load_dataset("cifar10", args.data_dir)
    idx = random_real_indices(data.y_train, args.ipc, 10, seed=args.ipc)  # first subset
    m = DistributionMatcher(
        data.x_train, data.y_train, data.y_train[idx], data.mean, data.std,
        images=data.x_train[idx], real_per_class=128, width=128, dsa=DSA(), autocast=args.bf16,
    )  # fmt: skip
    print(f"machine: {machine()}, {args.threads} threads; torch {torch.__version__}")
    t0 = time.perf_counter()
    losses = []
    while (m.iteration < args.count if args.count else
           time.perf_counter() - t0 < args.minutes * 60):  # fmt: skip
        losses.append(m.step())
        if m.iteration % 50 == 0:
            print(f"  iteration {m.iteration}: loss {sum(losses[-50:]) / 50:.3f}", flush=True)
    dm_min = (time.perf_counter() - t0) / 60
    print(f"DM: {m.iteration} iterations in {dm_min:.2f} min "
          f"({'bf16' if args.bf16 else 'fp32'})")  # fmt: skip
    images = m.uint8_images()
    np.savez_compressed(args.out, images=images.permute(0, 2, 3, 1).numpy(),
                        labels=data.y_train[idx].numpy(), iterations=m.iteration)  # fmt: skip
    print(f"set saved to {args.out}", flush=True)
    for name, x in (("DM from real", images), ("random real", data.x_train[idx])):
        t = time.perf_counter()
        accs = evaluate(x, data.y_train[idx], data, args.networks, args.epochs, seed=0)
        mean = sum(accs) / len(accs)
        std = (sum((a - mean) ** 2 for a in accs) / len(accs)) ** 0.5
        each = " ".join(f"{100 * a:.2f}" for a in accs)
        took = (time.perf_counter() - t) / 60
        print(f"{name}: {100 * mean:.2f} +- {100 * std:.2f} % ({each}), ConvNet-3 "
              f"{args.epochs} epochs x {args.networks}, {took:.1f} min", flush=True)  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("mode", nargs="?", default="speed", choices=["speed", "experiment"])
    p.add_argument("--iterations", type=int, default=8)
    p.add_argument("--ipc", type=int, default=10)
    p.add_argument("--data-dir", default="/work/data/cifar10")
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--count", type=int, help="iterations instead of --minutes")
    p.add_argument("--out", default="dm_real_cifar10.npz", help="where the DM set is saved")
    p.add_argument("--networks", type=int, default=2)
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--bf16", action="store_true")
    args = p.parse_args()
    speed(args) if args.mode == "speed" else experiment(args)


if __name__ == "__main__":
    main()
