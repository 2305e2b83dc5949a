"""Which refinement buys most per CPU-minute: a set moved for a fixed wall time (or a fixed
count), then evaluated.

    python bench/refine_levers.py --data-dir /work/data/cifar10 --variant dm --minutes 6
    python bench/refine_levers.py --variant trained --init npz:RUN/sets/....npz

Every variant starts from the same set (a random real subset by default, or a stored set),
runs for the same wall-clock minutes (compiled where the runtime would compile it), and
its set is evaluated like ``evaluate`` does (ConvNet-3 width 128, DSA, 300 epochs, SGD lr
0.01 and x0.1 at half time, batch 256), over ``--networks`` networks. One JSON line per
call is appended to ``--out``. ``--variant none`` evaluates the start itself.

Variants:
  dm       DM as dm-real runs it: a freshly initialised ConvNet-3 per iteration.
  trained  embedders that learn: a queue of ConvNet-3s, each trained a few SGD steps on real
           batches as the matching goes on (IDM, Zhao et al. 2023: a new network every
           ``--new-every`` iterations, at most ``--queue`` kept), plus the synthetic
           images' cross-entropy under the drawn network, weighted by its running accuracy
           (``--ce``). Measured and not kept (bench/RESULTS.md).
  latent   DM through the generator (GLaD-style, issue 28): the set's noise vectors are
           optimised (Adam, ``--latent-lr``) and decoded by the run's generator at every
           iteration, so the set stays on its manifold. Needs ``--generator RUN`` and
           ``--init npz:RUN/distilled/ipcN.npz`` (herded draws: their noise is drawn again
           exactly as herding drew its candidates, and checked against the stored images).
  dm --attention W   DataDAM (Sajedi et al. 2023): DM plus W times the squared distance of
           the mean spatial attention maps of the embedder's inner blocks (sum over channels
           of |f|^4 after each ReLU but the last, L2-normalised per image; W = 100 there).
           Measured and not kept (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gdd_studio.data import load_dataset
from gdd_studio.evaluation.inputs import random_real_indices
from gdd_studio.models.augment import DSA, DSA_STRATEGY
from gdd_studio.models.fit import test_accuracy, train_classifier
from gdd_studio.models.matching import DistributionMatcher
from gdd_studio.models.nets import build_classifier
from gdd_studio.models.runtime import Runtime


class _FeaturesLogits(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x):
        f = self.net.features(x).flatten(1)
        return f, self.net.classifier(f)


class _EmbedWithMaps(nn.Module):
    """A ConvNet-3's embedding and the attention maps of its inner blocks' ReLU outputs."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x):
        relus = [m for m in self.net.features if isinstance(m, nn.ReLU)]
        maps = []
        for m in self.net.features:
            x = m(x)
            if isinstance(m, nn.ReLU) and m is not relus[-1]:
                maps.append(F.normalize(x.float().abs().pow(4).sum(1).flatten(1), dim=1))
        return (x.flatten(1), *maps)


def _fresh_net(m: DistributionMatcher) -> nn.Module:
    """A ConvNet-3 initialised from the matcher's "net" generator, in train mode."""
    seed = int(torch.randint(0, 2**62, (1,), generator=m.rng["net"]))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = build_classifier(m.arch, m.channels, m.num_classes, m.image_size, m.width)
    return net.to(m.device).train()


class AttentionMatcher(DistributionMatcher):
    """DataDAM: DM's mean-embedding term plus ``attention`` x the attention-map term."""

    def __init__(self, *args, attention: float = 100.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.attention = attention

    def step(self) -> float:
        net = _fresh_net(self)
        for p in net.parameters():
            p.requires_grad_(False)
        embed = _EmbedWithMaps(net)
        embed = self.wrap(embed) if self.wrap is not None else embed
        syn = self.synthetic()
        real_means, parts = [], []
        for k in self.classes:
            params = self.dsa.sample(1, self.rng["aug"]) if self.dsa is not None else None
            real, part = self._real_batch(k), syn[self._syn_index[k]]
            if params is not None:
                real, part = self.dsa.apply(real, params), self.dsa.apply(part, params)
            with torch.no_grad():
                real_means.append([o.float().mean(0) for o in embed(real)])
            parts.append(part)
        outs = embed(torch.cat(parts))
        sizes = [len(p) for p in parts]
        split = list(zip(*(o.float().split(sizes) for o in outs), strict=True))
        loss = torch.zeros(())
        for means, syn_outs in zip(real_means, split, strict=True):
            loss = loss + ((means[0] - syn_outs[0].mean(0)) ** 2).sum()
            for m, o in zip(means[1:], syn_outs[1:], strict=True):
                loss = loss + self.attention * ((m - o.mean(0)) ** 2).sum()
        (grad,) = torch.autograd.grad(loss, [self.param])
        self.param.grad = grad
        self.opt.step()
        self.param.grad = None
        self.iteration += 1
        return float(loss.detach())


class TrainedMatcher(DistributionMatcher):
    """DM whose embedders are a queue of networks trained on real batches as it goes."""

    def __init__(self, *args, queue=10, new_every=10, train_steps=2, train_batch=128,
                 ce=0.5, **kwargs) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.queue_max, self.new_every = queue, new_every
        self.train_steps, self.train_batch, self.ce = train_steps, train_batch, ce
        self.nets: list[dict] = []
        self.pick = random.Random(self.seed)
        self.all_real = torch.cat([self._real_index[k] for k in self.classes])
        self.y_real = torch.empty(0, dtype=torch.long)
        self._labels_all = None
        for _ in range(3):
            self._push()

    def _push(self) -> None:
        net = _fresh_net(self)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        fl = _FeaturesLogits(net)
        entry = {"net": net, "opt": opt, "fl": self.wrap(fl) if self.wrap else fl,
                 "logits": self.wrap(net) if self.wrap else net, "acc": 0.0, "seen": 0}  # fmt: skip
        if len(self.nets) == self.queue_max:
            self.nets.pop(0)
        self.nets.append(entry)

    def set_real_labels(self, y: torch.Tensor) -> None:
        self._labels_all = y

    def step(self) -> float:
        if self.iteration % self.new_every == 0 and self.iteration > 0:
            self._push()
        entry = self.nets[self.pick.randrange(len(self.nets))]
        net, fl = entry["net"], entry["fl"]
        for p in net.parameters():
            p.requires_grad_(False)
        syn = self.synthetic()
        real_means, syn_parts = [], []
        for k in self.classes:
            params = self.dsa.sample(1, self.rng["aug"])
            real = self.dsa.apply(self._real_batch(k), params)
            part = self.dsa.apply(syn[self._syn_index[k]], params)
            with torch.no_grad():
                real_means.append(fl(real)[0].float().mean(0))
            syn_parts.append(part)
        feats, logits = fl(torch.cat(syn_parts))
        sizes = [len(p) for p in syn_parts]
        loss = torch.zeros(())
        for mean_real, f in zip(real_means, feats.float().split(sizes), strict=True):
            loss = loss + ((mean_real - f.mean(0)) ** 2).sum()
        if self.ce > 0 and entry["seen"]:
            ys = torch.cat([self.labels[self._syn_index[k]] for k in self.classes])
            loss = loss + self.ce * entry["acc"] * F.cross_entropy(logits.float(), ys)
        (grad,) = torch.autograd.grad(loss, [self.param])
        self.param.grad = grad
        self.opt.step()
        self.param.grad = None
        for p in net.parameters():
            p.requires_grad_(True)
        # Train one network of the queue on real batches.
        train = self.nets[self.pick.randrange(len(self.nets))]
        for _ in range(self.train_steps):
            idx = self.all_real[torch.randint(len(self.all_real), (self.train_batch,),
                                              generator=self.rng["real"])]  # fmt: skip
            x = self.normalize(self.real_images[idx])
            y = self._labels_all[idx]
            out = train["logits"](x)
            ce = F.cross_entropy(out, y)
            train["opt"].zero_grad(set_to_none=True)
            ce.backward()
            train["opt"].step()
            acc = float((out.argmax(1) == y).float().mean())
            train["acc"] = acc if not train["seen"] else 0.9 * train["acc"] + 0.1 * acc
            train["seen"] += 1
        self.iteration += 1
        return float(loss.detach())


def _latents(a, data, labels: torch.Tensor, start: torch.Tensor):
    """The noise of a run's herded draws (drawn again as ``sample_images`` drew the
    candidates: one seeded stream, classes in order, chunks of 500) and the decoder."""
    from gdd_studio.engine.sampling import SEED_SAMPLE
    from gdd_studio.engine.selection import candidates_per_class
    from gdd_studio.models.gan import conditional_noise
    from gdd_studio.models.matching import conditional_decoder
    from gdd_studio.rundir.artifacts import load_run_generator, run_config

    cfg = run_config(a.generator)
    sampling = cfg.sampling.at_ipc(a.ipc)
    k, per = data.num_classes, candidates_per_class(sampling, a.ipc)
    with np.load(a.init.removeprefix("npz:")) as f:
        kept = torch.from_numpy(f["kept"])
    rng = torch.Generator().manual_seed(cfg.seed * 1000 + SEED_SAMPLE)
    every = torch.arange(k).repeat_interleave(per)
    z = torch.cat([conditional_noise(every[i : i + 500], cfg.model.nz, k, rng,
                                     sampling.truncation)
                   for i in range(0, len(every), 500)])[kept]  # fmt: skip
    g = load_run_generator(a.generator).eval()
    decode = conditional_decoder(g, labels, k, data.mean, data.std)
    with torch.no_grad():
        x = decode(z) * torch.tensor(data.std).view(1, -1, 1, 1)
        x = x + torch.tensor(data.mean).view(1, -1, 1, 1)
        again = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    off = (again.int() - start.int()).abs().max().item()
    if off > 1:
        raise SystemExit(f"the redrawn noise does not give the stored draws (off by {off})")
    return z, decode


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--data-dir", default="/work/data/cifar10")
    ap.add_argument("--variant", choices=["dm", "trained", "latent", "none"], default="dm")
    ap.add_argument("--generator", help="latent: the run whose generator decodes the set")
    ap.add_argument("--latent-lr", type=float, default=0.05, help="latent: Adam's rate")
    ap.add_argument("--minutes", type=float, default=6.0)
    ap.add_argument(
        "--iterations",
        type=int,
        default=None,
        help="stop after this many iterations instead of on the clock",
    )
    ap.add_argument("--ipc", type=int, default=10)
    ap.add_argument("--init", default="real", help="real | npz:PATH (images N,H,W,C uint8, labels)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--networks", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--real-per-class", type=int, default=128)
    ap.add_argument("--queue", type=int, default=10)
    ap.add_argument("--new-every", type=int, default=10)
    ap.add_argument("--train-steps", type=int, default=2)
    ap.add_argument("--train-batch", type=int, default=128)
    ap.add_argument("--ce", type=float, default=0.5)
    ap.add_argument("--lr", type=float, default=1.0)
    ap.add_argument(
        "--attention",
        type=float,
        default=0.0,
        help="dm: weight of DataDAM's spatial attention term (0: plain DM)",
    )
    ap.add_argument("--out", default="bench/refine_levers.jsonl")
    ap.add_argument("--save", default=None)
    a = ap.parse_args()
    torch.set_num_threads(2)
    data = load_dataset(a.dataset, a.data_dir)
    if a.init == "real":
        idx = random_real_indices(data.y_train, a.ipc, data.num_classes, a.seed)
        start, labels = data.x_train[idx], data.y_train[idx]
    else:
        with np.load(a.init.removeprefix("npz:")) as f:
            start = torch.from_numpy(f["images"]).permute(0, 3, 1, 2).contiguous()
            labels = torch.from_numpy(f["labels"]).long()
    rt = Runtime("cpu", False, True)
    t0 = time.perf_counter()
    its = 0
    images = start
    if a.variant != "none":
        common = dict(
            images=start, num_classes=data.num_classes, real_per_class=a.real_per_class,
            lr=a.lr, dsa=DSA(DSA_STRATEGY), seed=a.seed * 1000 + 9, wrap=rt.wrap,
        )  # fmt: skip
        if a.variant == "latent":
            z, decode = _latents(a, data, labels, start)
            common.pop("images")
            common["lr"] = a.latent_lr
            m = DistributionMatcher(data.x_train, data.y_train, labels, data.mean, data.std,
                                    latents=z, decode=decode, **common)  # fmt: skip
        elif a.variant == "dm" and a.attention > 0:
            m = AttentionMatcher(data.x_train, data.y_train, labels, data.mean, data.std,
                                 attention=a.attention, **common)  # fmt: skip
        elif a.variant == "dm":
            m = DistributionMatcher(
                data.x_train, data.y_train, labels, data.mean, data.std, **common
            )
        else:
            m = TrainedMatcher(data.x_train, data.y_train, labels, data.mean, data.std,
                               queue=a.queue, new_every=a.new_every, train_steps=a.train_steps,
                               train_batch=a.train_batch, ce=a.ce, **common)  # fmt: skip
            m.set_real_labels(data.y_train)
        while (
            its < a.iterations
            if a.iterations is not None
            else time.perf_counter() - t0 < a.minutes * 60
        ):
            loss = m.step()
            its += 1
            if its % 50 == 0:
                print(
                    f"{a.variant} it {its} loss {loss:.3f} {time.perf_counter() - t0:.0f}s",
                    flush=True,
                )
        images = m.uint8_images()
    made_s = time.perf_counter() - t0
    if a.save:
        np.savez(a.save, images=images.permute(0, 2, 3, 1).numpy(), labels=labels.numpy())
    mean = torch.tensor(data.mean).view(1, -1, 1, 1)
    std = torch.tensor(data.std).view(1, -1, 1, 1)

    def norm(x: torch.Tensor) -> torch.Tensor:
        return (x.float() / 255 - mean) / std

    x, xt = norm(images), norm(data.x_test)
    accs = []
    for r in range(a.networks):
        g = torch.Generator().manual_seed(100 + r)
        torch.manual_seed(100 + r)
        net = build_classifier("convnet3", data.channels, data.num_classes, data.image_size, 128)
        train_classifier(net, x, labels, a.epochs, g, augment=DSA(DSA_STRATEGY), runtime=rt)
        accs.append(100 * test_accuracy(net, xt, data.y_test, runtime=rt))
        print(f"network {r}: {accs[-1]:.2f}", flush=True)
    row = {
        "variant": a.variant, "init": a.init, "ipc": a.ipc, "seed": a.seed,
        "minutes": a.minutes, "iterations": its, "made_s": round(made_s, 1),
        "acc_mean": round(float(np.mean(accs)), 2), "acc_std": round(float(np.std(accs)), 2),
        "accs": [round(v, 2) for v in accs], "args": vars(a),
        "machine": platform.processor() or platform.machine(),
        "at": time.strftime("%Y-%m-%d %H:%M"),
    }  # fmt: skip
    print(json.dumps(row))
    with open(a.out, "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
