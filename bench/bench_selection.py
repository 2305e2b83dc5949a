"""Which phase-3 selection rule makes the best fixed set? Measured on finished runs.

For each run folder given, draws candidates per class from the run's generator (and its
phase-1 generator), chooses IPC per class by each rule, and trains ConvNet-3 networks on
every set with the fixed-set protocol (DSA, SGD, lr x 0.1 at half time, the final test
accuracy), with the same network seeds as ``gdd-studio-cli evaluate`` and a random real
subset per network as the baseline. One JSON line per set goes to stdout (and --out).

    OMP_NUM_THREADS=1 python bench/bench_selection.py RUN_DIR --ipc 10 --repeats 2 \\
        --epochs 300 --rules random,herding --out results.jsonl

Rules: random (first IPC draws), herding (toward the real class mean of observer features),
herding-l2 (the same on L2-normalised features), herding-filter (misclassified candidates
dropped first), easy (lowest observer cross-entropy, RDED-like), kmeans (one per cluster,
D4M-like).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gdd_studio.config import SamplingConfig  # noqa: E402
from gdd_studio.data import dataset_family, load_dataset  # noqa: E402
from gdd_studio.engine.sampling import SEED_OBSERVER, SEED_SAMPLE, sample_images  # noqa: E402
from gdd_studio.engine.selection import (  # noqa: E402
    herding,
    load_or_train_observer,
    observer_outputs,
    real_class_means,
)
from gdd_studio.evaluation.protocol import random_real_indices  # noqa: E402
from gdd_studio.models.augment import DIGIT_STRATEGY, DSA, DSA_STRATEGY  # noqa: E402
from gdd_studio.models.fit import normalizer, test_accuracy, train_classifier  # noqa: E402
from gdd_studio.models.nets import build_classifier  # noqa: E402
from gdd_studio.rundir.artifacts import load_run_generator, run_config  # noqa: E402


def kmeans_pick(f: torch.Tensor, k: int, seed: int, iters: int = 30) -> list[int]:
    g = torch.Generator().manual_seed(seed)
    centers = f[torch.randperm(len(f), generator=g)[:k]].clone()
    for _ in range(iters):
        assign = torch.cdist(f, centers).argmin(1)
        for j in range(k):
            if (assign == j).any():
                centers[j] = f[assign == j].mean(0)
    d = torch.cdist(centers, f)
    picks: list[int] = []
    for j in range(k):
        order = d[j].argsort()
        picks.append(next(int(i) for i in order if int(i) not in picks))
    return picks


def mmd_pick(f: torch.Tensor, real: torch.Tensor, k: int) -> list[int]:
    """Kernel herding: greedily minimise the MMD (RBF kernel, median bandwidth) to the real
    images of the class: matches their whole distribution, not only the mean."""
    f, real = f.double(), real.double()
    d_rr = torch.cdist(real, real)
    sigma2 = d_rr[d_rr > 0].median() ** 2
    k_cr = torch.exp(-(torch.cdist(f, real) ** 2) / (2 * sigma2)).mean(1)
    k_cc = torch.exp(-(torch.cdist(f, f) ** 2) / (2 * sigma2))
    s = torch.zeros(len(f), dtype=torch.float64)
    taken = torch.zeros(len(f), dtype=torch.bool)
    chosen: list[int] = []
    for t in range(1, k + 1):
        score = (2 * s + k_cc.diagonal()) / t**2 - 2 * k_cr / t
        score[taken] = float("inf")
        i = int(score.argmin())
        chosen.append(i)
        taken[i] = True
        s += k_cc[:, i]
    return chosen


def choose(rule, feats, logits, labels, targets, targets_l2, ipc, k, seed, real=None):
    kept = []
    probs = F.softmax(logits, 1)
    for c in range(k):
        members = torch.nonzero(labels == c).flatten()
        f = feats[members]
        if rule == "random":
            picks = list(range(ipc))
        elif rule == "herding":
            picks = herding(f, targets[c], ipc)
        elif rule == "herding-l2":
            picks = herding(F.normalize(f, dim=1), targets_l2[c], ipc)
        elif rule == "herding-filter":
            ok = torch.nonzero(probs[members].argmax(1) == c).flatten()
            if len(ok) < ipc:
                ok = torch.arange(len(members))
            picks = [int(ok[p]) for p in herding(f[ok], targets[c], ipc)]
        elif rule == "easy":
            ce = -torch.log(probs[members, c] + 1e-12)
            picks = ce.argsort()[:ipc].tolist()
        elif rule == "mmd":
            picks = mmd_pick(f, real[0][real[1] == c], ipc)
        elif rule == "kmeans":
            picks = kmeans_pick(f, ipc, seed + c)
        else:
            raise SystemExit(f"unknown rule {rule}")
        kept += [int(members[p]) for p in picks]
    return torch.tensor(kept)


def evaluate(x01, y, data, seeds, epochs, width, device):
    norm = normalizer(data.mean, data.std, device)
    strategy = DIGIT_STRATEGY if dataset_family(data.name) == "mnist" else DSA_STRATEGY
    dsa = DSA(strategy)
    xt = norm(data.x_test.float() / 255)
    accs = []
    for seed in seeds:  # evaluation.seed 0: network r has seed r, as the protocol does
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = build_classifier(
                "convnet3", data.channels, data.num_classes, data.image_size, width
            )
        train_classifier(
            net, norm(x01), y, epochs, torch.Generator().manual_seed(seed), augment=dsa
        )
        accs.append(test_accuracy(net, xt, data.y_test))
    return accs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--ipc", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--width", type=int, default=None)
    ap.add_argument("--candidates", type=int, default=20, help="draws per kept image")
    ap.add_argument("--observer-width", type=int, default=64)
    ap.add_argument("--observer-epochs", type=int, default=10)
    ap.add_argument("--rules", default="random,herding")
    ap.add_argument("--sources", default="distilled")
    ap.add_argument("--random-real", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()
    device = "cpu"
    for run in args.runs:
        run = Path(run)
        cfg = run_config(run)
        data = load_dataset(cfg.dataset, data_dir=cfg.data_dir)
        k = data.num_classes
        s = SamplingConfig(
            selection="herding",
            candidates=args.candidates,
            observer_width=args.observer_width,
            observer_epochs=args.observer_epochs,
        )
        t0 = time.perf_counter()
        observer = load_or_train_observer(
            run,
            data,
            s,
            cfg.seed * 1000 + SEED_OBSERVER,
            device,
            log=lambda m: print(m, file=sys.stderr),
        )
        t_obs = time.perf_counter() - t0
        norm = normalizer(data.mean, data.std, device)
        targets = real_class_means(observer, data, device)
        real_feats, _ = observer_outputs(observer, data.x_train.float() / 255, norm)
        real_l2 = F.normalize(real_feats, dim=1)
        targets_l2 = torch.stack([real_l2[data.y_train == c].mean(0) for c in range(k)])
        rows = []
        if args.random_real:  # each network its own subset, as the protocol does
            accs = []
            for r in range(args.repeats):
                idx = random_real_indices(data.y_train, args.ipc, k, r + args.ipc)
                accs += evaluate(
                    data.x_train[idx].float() / 255,
                    data.y_train[idx],
                    data,
                    [r],
                    args.epochs,
                    args.width,
                    device,
                )
            rows.append({"run": run.name, "source": "random-real", "rule": "-", "accs": accs})
            print(json.dumps(rows[-1]), flush=True)
        for source in args.sources.split(","):
            g = load_run_generator(run, source)
            per_class = max(args.ipc * args.candidates, 50)
            cand, labels = sample_images(
                g, k, per_class, cfg.model.nz, cfg.seed * 1000 + SEED_SAMPLE, device
            )
            x01 = torch.from_numpy(cand).permute(0, 3, 1, 2).float() / 255
            feats, logits = observer_outputs(observer, x01, norm)
            y = torch.from_numpy(labels)
            for rule in args.rules.split(","):
                if rule == "random":  # exactly the paper's draw: IPC per class, same seed
                    c2, l2 = sample_images(
                        g, k, args.ipc, cfg.model.nz, cfg.seed * 1000 + SEED_SAMPLE, device
                    )
                    xs = torch.from_numpy(c2).permute(0, 3, 1, 2).float() / 255
                    ys = torch.from_numpy(l2)
                else:
                    kept = choose(
                        rule,
                        feats,
                        logits,
                        y,
                        targets,
                        targets_l2,
                        args.ipc,
                        k,
                        cfg.seed,
                        real=(real_feats, data.y_train),
                    )
                    xs, ys = x01[kept], y[kept]
                t1 = time.perf_counter()
                accs = evaluate(xs, ys, data, range(args.repeats), args.epochs, args.width, device)
                rows.append(
                    {
                        "run": run.name,
                        "source": source,
                        "rule": rule,
                        "candidates": args.candidates,
                        "accs": accs,
                        "observer_s": round(t_obs, 1),
                        "eval_s": round(time.perf_counter() - t1, 1),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
        if args.out:
            with open(args.out, "a") as fh:
                for row in rows:
                    fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
