"""Is it faster to train an evaluation's N repeats together than one after another?

The evaluation trains many small networks on a few hundred images. This compares, for
ConvNet-3 on an IPC-sized set, the engine's loop (``train_classifier``, one network at a
time) with the N networks stacked into one batched computation through ``torch.func``
(``stack_module_state`` + ``vmap(grad(...))`` and a hand-written SGD step), each network
with its own batches and augmentation. It prints epochs per second of all N networks.

    python bench/bench_eval.py [--repeats 3] [--ipc 10] [--epochs 30] [--width 128]
"""

from __future__ import annotations

import argparse
import copy
import platform
import time

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, stack_module_state, vmap

from gdd_studio.models.augment import DIGIT_STRATEGY, DSA
from gdd_studio.models.fit import train_classifier
from gdd_studio.models.nets import build_classifier


def sequential(nets, x, y, epochs, dsa):
    for i, net in enumerate(nets):
        train_classifier(net, x, y, epochs, torch.Generator().manual_seed(i), augment=dsa)


def stacked(nets, x, y, epochs, dsa, lr=0.01, momentum=0.9, wd=5e-4, batch_size=256):
    params, buffers = stack_module_state(nets)
    base = copy.deepcopy(nets[0]).to("meta")

    def loss_fn(p, b, xb, yb):
        return F.cross_entropy(functional_call(base, (p, b), (xb,)), yb)

    grads_of = vmap(grad(loss_fn), in_dims=(0, 0, 0, 0))
    keys = list(params)
    velocity = {k: torch.zeros_like(v) for k, v in params.items()}
    gens = [torch.Generator().manual_seed(i) for i in range(len(nets))]
    n = len(x)
    for epoch in range(epochs):
        step_lr = lr * (0.1 if epoch >= epochs // 2 else 1.0)
        perms = [torch.randperm(n, generator=g) for g in gens]
        for start in range(0, n, batch_size):
            idx = [p[start : start + batch_size] for p in perms]
            xb = torch.stack([dsa(x[i], g) for i, g in zip(idx, gens, strict=True)])
            yb = torch.stack([y[i] for i in idx])
            grads = grads_of(params, buffers, xb, yb)
            with torch.no_grad():
                for k in keys:
                    d = grads[k] + wd * params[k]
                    velocity[k].mul_(momentum).add_(d)
                    params[k].sub_(step_lr * velocity[k])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ipc", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    dev = torch.device(args.device)
    k = 10
    x = torch.randn(k * args.ipc, 1, 28, 28, device=dev)
    y = torch.arange(k, device=dev).repeat_interleave(args.ipc)
    dsa = DSA(DIGIT_STRATEGY)

    def fresh():
        out = []
        for i in range(args.repeats):
            torch.manual_seed(i)
            out.append(build_classifier("convnet3", 1, k, 28, args.width).to(dev))
        return out

    results = {}
    for name, fn in (("one after another", sequential), ("stacked (torch.func)", stacked)):
        fn(fresh(), x, y, 2, dsa)  # warm-up
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn(fresh(), x, y, args.epochs, dsa)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        results[name] = args.epochs / (time.perf_counter() - t0)
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}, device {dev}"
    )
    print(f"ConvNet-3 width {args.width}, IPC {args.ipc} ({k * args.ipc} images), "
          f"{args.repeats} networks, {args.epochs} epochs")  # fmt: skip
    for name, rate in results.items():
        print(f"  {name:<22} {rate:6.2f} epochs/s of all {args.repeats} networks")
    first, second = results.values()
    print(f"  stacked / sequential: {second / first:.2f}x")


if __name__ == "__main__":
    main()
