"""Phase 3 selection: which of the generator's samples become the distilled set.

The paper's phase 3 keeps the first IPC noise draws per class (``random``). A generator
can draw as many candidates as we like, so a fixed set gains most by *choosing*: the
``herding`` rule draws many candidates per class and keeps, greedily, the one that brings
the kept images' mean feature closest to the mean feature of the class's *real* training
images (Welling's herding, the classic coreset rule; distribution matching done by
choosing instead of optimizing). Features are those of an *observer*: a ConvNet-3 trained
once on the real training split, kept in the run folder so every later set (another IPC,
the GAN-only baseline) is chosen by the same eyes.

Measured on the embedded sample (bench/bench_selection.py, bench/RESULTS.md): keeping the
observer's easiest samples (RDED-like) or one per k-means cluster (D4M-like) is no better
than the first draws; herding toward the real class mean is what closes the gap to (and
passes) a random real subset.

Herding can choose from more than the generator (``sampling.choose_from``): from every real
training image of the class (a herded coreset), or from both at once, where a draw is kept
only when it brings the kept images' mean closer than any real image would. On CIFAR-10 at
a CPU budget the herded real images are far the better start (40.3 % against 19.5 % for
the herded draws of a one-epoch GAN at IPC 10; bench/RESULTS.md), and in the mixed pool
the real images win almost every place. At IPC 1 it is the other way round once DM has
refined the set (26.1 % from the herded draws, 24.6 from the real images the mixed pool
keeps), so ``auto`` chooses among the draws at IPC 1 and among both above
(``SamplingConfig.at_ipc``); every set records the pool it was actually chosen from.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import storage
from ..config import AUTO_DRAWS_UP_TO_IPC, LEGACY_RUNTIME, RuntimeConfig, SamplingConfig
from ..data import ImageDataset, dataset_family
from ..errors import GddError
from ..models.augment import DIGIT_STRATEGY, DSA, DSA_STRATEGY
from ..models.fit import normalizer, test_accuracy, train_classifier
from ..models.gan import Generator
from ..models.nets import ConvNet3, build_classifier
from ..models.runtime import forward_flops, resolve, work_tflop
from ..rundir.folder import RunFolder
from .events import fmt_duration
from .sampling import sample_images

OBSERVER_FORMAT = 1


@dataclass
class Selection:
    """A chosen set and what it was chosen from, for the viewer and the record."""

    images: np.ndarray  # uint8 (N, H, W, C), grouped by class
    labels: np.ndarray  # int64 (N,)
    candidates: np.ndarray  # uint8 (M, H, W, C): every draw considered, grouped by class
    candidate_labels: np.ndarray  # int64 (M,)
    kept: np.ndarray  # int64 (N,): indices into candidates, in the set's order
    confidence: np.ndarray | None  # float32 (M,): observer's probability of the own label
    # int64 (M,), when herding chose from real images: each candidate's index in the real
    # training split, -1 for a generator draw (the candidates then hold every draw and the
    # kept real images, not the whole training split)
    origin: np.ndarray | None = None


@dataclass
class RealPool:
    """The real training split as herding sees it: images and the observer's view of them."""

    images: Tensor  # uint8 (N, C, H, W)
    labels: Tensor  # int64 (N,)
    features: Tensor  # float32 (N, D): observer's penultimate features
    confidence: Tensor  # float32 (N,): observer's probability of the own label

    def class_means(self, num_classes: int) -> Tensor:
        """Mean feature of every class, (K, D): herding's targets."""
        return torch.stack([self.features[self.labels == k].mean(0) for k in range(num_classes)])


def selection_spec(s: SamplingConfig) -> dict:
    """The settings that decide which images a selection keeps (recorded with every set)."""
    # The truncation trick changes the draws themselves: named when on, absent (as before
    # it existed) when off, so that sets stored earlier keep their specs.
    trunc = {"truncation": s.truncation} if s.truncation > 0 else {}
    if s.selection == "random":
        return {"selection": "random", **trunc}
    spec = {
        "selection": s.selection,
        "candidates": s.candidates,
        "observer_width": s.observer_width,
        "observer_epochs": s.observer_epochs,
    }
    if s.choose_from != "generator":  # absent from sets chosen among draws only, as before
        spec["choose_from"] = s.choose_from
    return {**spec, **trunc}


# What each ``sampling.choose_from`` lets herding choose among, in words.
POOL_WORDS = {
    "generator": "draws", "real": "real images", "mixed": "draws and real images",
    "auto": f"draws at IPC {AUTO_DRAWS_UP_TO_IPC}, draws and real images above",
}  # fmt: skip


def selection_words(s: SamplingConfig) -> str:
    """The rule in a few words, for logs: "herding", "herding among real images", ..."""
    if s.selection != "herding" or s.choose_from == "generator":
        return s.selection
    return f"herding among {POOL_WORDS[s.choose_from]}"


def spec_tag(spec: dict) -> str:
    """A short, stable text naming a selection spec (for file names and labels)."""
    if spec["selection"] == "random":
        return "random"
    blob = json.dumps(spec, sort_keys=True).encode()
    return f"{spec['selection']}-{hashlib.sha1(blob).hexdigest()[:6]}"


def candidates_per_class(s: SamplingConfig, ipc: int) -> int:
    """How many draws per class a selection chooses from (``candidates`` x IPC, at least 50;
    none when herding chooses among real images only)."""
    if s.selection == "random":
        return ipc
    return 0 if s.choose_from == "real" else max(ipc * s.candidates, 50)


# ---- the observer ------------------------------------------------------------------------


def observer_path(run_dir: Path, s: SamplingConfig) -> Path:
    return RunFolder(run_dir).selection / f"observer-w{s.observer_width}-e{s.observer_epochs}.pt"


class _ProgressLines:
    """``on_batch`` for a long training: a log line every ``every_s`` seconds with the
    share done and the time left, timed from the batches after the first few (warm-up
    and compilation are not the rate); "estimating" until then."""

    WARMUP_BATCHES = 3

    def __init__(self, log: Callable[[str], None], what: str, every_s: float = 15.0) -> None:
        self.log, self.what, self.every_s = log, what, every_s
        self._start = self._said = time.perf_counter()
        self._timed_from: tuple[float, int] | None = None

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if self._timed_from is None and done >= self.WARMUP_BATCHES:
            self._timed_from = (now, done)
        if now - self._said < self.every_s or done >= total:
            return
        self._said = now
        left = "estimating the time left"
        if self._timed_from is not None and done > self._timed_from[1]:
            t0, d0 = self._timed_from
            left = f"about {fmt_duration((now - t0) / (done - d0) * (total - done))} left"
        self.log(f"{self.what}: {100 * done / total:.0f} % trained ({done:,} of {total:,} "
                 f"batches), {left}")  # fmt: skip


def train_observer(
    data: ImageDataset,
    s: SamplingConfig,
    seed: int,
    device: torch.device | str,
    log: Callable[[str], None] = lambda m: None,
    should_stop: Callable[[], bool] | None = None,
    runtime: RuntimeConfig | None = None,
) -> ConvNet3 | None:
    """A ConvNet-3 trained on the real training split (DSA, SGD); None if stopped."""
    r = runtime or RuntimeConfig(**LEGACY_RUNTIME)
    batch = 128
    shape = (data.channels, data.image_size, data.image_size)
    args = ("convnet3", data.channels, data.num_classes, data.image_size, s.observer_width)
    tflop = work_tflop(forward_flops(build_classifier, args, shape),
                       s.observer_epochs * len(data.x_train))  # fmt: skip
    rt = resolve(r.precision, r.compile, device, "observer", tflop)
    rng = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = build_classifier(
            "convnet3", data.channels, data.num_classes, data.image_size, s.observer_width
        )
    net = net.to(device)
    norm = normalizer(data.mean, data.std, device)
    x = norm(data.x_train.to(device).float() / 255)
    y = data.y_train.to(device)
    strategy = DIGIT_STRATEGY if dataset_family(data.name) == "mnist" else DSA_STRATEGY
    log(
        f"training the selection observer (ConvNet-3 width {s.observer_width}, "
        f"{s.observer_epochs} epoch{'s' * (s.observer_epochs != 1)} on {len(y)} real images; "
        f"{rt.precision}"
        f"{', compiled' if rt.compiled else ''})"
    )
    done = train_classifier(
        net, x, y, s.observer_epochs, rng, batch_size=batch, augment=DSA(strategy),
        should_stop=should_stop, runtime=rt, on_batch=_ProgressLines(log, "selection observer"),
    )  # fmt: skip
    if not done:
        return None
    xt = norm(data.x_test.to(device).float() / 255)
    acc = test_accuracy(net, xt, data.y_test.to(device), runtime=rt)
    log(f"selection observer: {100 * acc:.1f} % on the real test split")
    return net.eval()


def load_or_train_observer(
    run_dir: Path,
    data: ImageDataset,
    s: SamplingConfig,
    seed: int,
    device: torch.device | str,
    log: Callable[[str], None] = lambda m: None,
    should_stop: Callable[[], bool] | None = None,
    runtime: RuntimeConfig | None = None,
) -> ConvNet3 | None:
    """The run's observer from ``selection/``, trained (and kept) the first time."""
    path = observer_path(run_dir, s)
    net = build_classifier(
        "convnet3", data.channels, data.num_classes, data.image_size, s.observer_width
    )
    if path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            net.load_state_dict(state["net"])
            return net.to(device).eval()
        except Exception:  # noqa: BLE001 - a damaged file is retrained, not trusted
            log(f"{path} is damaged or not ours; training the observer again")
    trained = train_observer(data, s, seed, device, log, should_stop, runtime)
    if trained is None:
        return None
    weights = {k: v.cpu() for k, v in trained.state_dict().items()}
    state = {"format": OBSERVER_FORMAT, "net": weights}
    storage.atomic_torch_save(path, state)
    return trained


@torch.no_grad()
def observer_outputs(
    net: nn.Module, images01: Tensor, norm, batch_size: int = 500
) -> tuple[Tensor, Tensor]:
    """(penultimate features, logits) of images in [0, 1], float32 on the CPU."""
    feats, logits = [], []
    for start in range(0, len(images01), batch_size):
        f = net.features(norm(images01[start : start + batch_size])).flatten(1)
        feats.append(f.float().cpu())
        logits.append(net.classifier(f).float().cpu())
    return torch.cat(feats), torch.cat(logits)


def real_pool(net: nn.Module, data: ImageDataset, device: torch.device | str) -> RealPool:
    """The real training split with the observer's features and confidences."""
    norm = normalizer(data.mean, data.std, device)
    feats, logits = observer_outputs(net, data.x_train.to(device).float() / 255, norm)
    y = data.y_train.cpu()
    conf = F.softmax(logits, dim=1)[torch.arange(len(y)), y]
    return RealPool(data.x_train.cpu(), y, feats, conf)


def real_class_means(net: nn.Module, data: ImageDataset, device: torch.device | str) -> Tensor:
    """Mean observer feature of every class's real training images, (K, D)."""
    return real_pool(net, data, device).class_means(data.num_classes)


# ---- the rules ---------------------------------------------------------------------------


def herding(features: Tensor, target: Tensor, k: int) -> list[int]:
    """Greedily pick k rows whose running mean stays closest to ``target``.

    Step t keeps the candidate that minimises ||target - (sum of kept + f_i) / t||; the
    order of the result is the order of choice (the first is the single best image).
    """
    f = features.double()
    t_ = target.double()
    total = torch.zeros_like(t_)
    taken = torch.zeros(len(f), dtype=torch.bool)
    chosen: list[int] = []
    for step in range(1, min(k, len(f)) + 1):
        dist = ((total + f) / step - t_).norm(dim=1)
        dist[taken] = float("inf")
        i = int(dist.argmin())
        chosen.append(i)
        taken[i] = True
        total += f[i]
    return chosen


def select_set(
    generator_net: Generator,
    ipc: int,
    nz: int,
    seed: int,
    device: torch.device | str,
    s: SamplingConfig,
    observer: nn.Module | None = None,
    targets: Tensor | None = None,
    norm=None,
    real: RealPool | None = None,
) -> Selection:
    """Draw candidates from the generator and keep IPC per class by the configured rule.

    ``random`` keeps the first IPC draws per class (exactly the paper's seeded draw);
    ``herding`` needs the observer, the real class means (``targets``) and the dataset's
    normalization, and ``real`` when it chooses among real images too.
    """
    k = generator_net.num_classes
    per_class = candidates_per_class(s, ipc)
    if s.selection == "random":
        cand, cand_labels = sample_images(
            generator_net, k, per_class, nz, seed, device, truncation=s.truncation
        )
        kept = np.arange(len(cand_labels), dtype=np.int64)
        return Selection(cand[kept], cand_labels[kept], cand, cand_labels, kept, None)
    if s.selection != "herding":
        raise GddError(f"unknown selection rule '{s.selection}'")
    if observer is None or targets is None or norm is None:
        raise GddError("herding selection needs the observer and the real class means")
    if s.choose_from != "generator" and real is None:
        raise GddError(f"choosing from '{s.choose_from}' needs the real training images")
    if per_class:
        cand, cand_labels = sample_images(
            generator_net, k, per_class, nz, seed, device, truncation=s.truncation
        )
        x01 = torch.from_numpy(cand).permute(0, 3, 1, 2).to(device).float() / 255
        feats, logits = observer_outputs(observer, x01, norm)
        labels_t = torch.from_numpy(cand_labels)
        confidence = F.softmax(logits, dim=1)[torch.arange(len(labels_t)), labels_t].numpy()
    else:
        size = generator_net.image_size
        cand = np.zeros((0, size, size, generator_net.channels), dtype=np.uint8)
        cand_labels = np.zeros(0, dtype=np.int64)
        labels_t = torch.from_numpy(cand_labels)
        feats = torch.zeros(0, targets.shape[1])
        confidence = np.zeros(0, dtype=np.float32)
    if real is None or s.choose_from == "generator":
        kept_list: list[int] = []
        for c in range(k):
            members = torch.nonzero(labels_t == c).flatten()
            picks = herding(feats[members], targets[c], ipc)
            kept_list += sorted(int(members[p]) for p in picks)
        kept = np.asarray(kept_list, dtype=np.int64)
        return Selection(
            images=cand[kept], labels=cand_labels[kept], candidates=cand,
            candidate_labels=cand_labels, kept=kept,
            confidence=confidence.astype(np.float32),
        )  # fmt: skip
    return _herd_with_real(cand, cand_labels, feats, confidence, real, targets, ipc, k)


def _herd_with_real(
    cand: np.ndarray, cand_labels: np.ndarray, feats: Tensor, confidence: np.ndarray,
    real: RealPool, targets: Tensor, ipc: int, k: int,
) -> Selection:  # fmt: skip
    """Herding over a class's draws (if any) and all its real images at once.

    The stored candidates are every draw and the kept real images (not the whole split),
    class by class; ``origin`` says which is which.
    """
    labels_t = torch.from_numpy(cand_labels)
    real_hwc = real.images.permute(0, 2, 3, 1)
    images, origins, confs, labels, kept = [], [], [], [], []
    for c in range(k):
        draws = torch.nonzero(labels_t == c).flatten()
        reals = torch.nonzero(real.labels == c).flatten()
        picks = herding(torch.cat([feats[draws], real.features[reals]]), targets[c], ipc)
        kept_reals = sorted(int(reals[p - len(draws)]) for p in picks if p >= len(draws))
        kept_draws = {int(p) for p in picks if p < len(draws)}
        start = len(origins)
        images += [cand[int(i)] for i in draws] + [real_hwc[i].numpy() for i in kept_reals]
        origins += [-1] * len(draws) + kept_reals
        confs += [float(confidence[int(i)]) for i in draws]
        confs += [float(real.confidence[i]) for i in kept_reals]
        labels += [c] * (len(draws) + len(kept_reals))
        kept += [start + p for p in sorted(kept_draws)]
        kept += [start + len(draws) + j for j in range(len(kept_reals))]
    shape = (0, *real_hwc.shape[1:])
    candidates = np.stack(images) if images else np.zeros(shape, dtype=np.uint8)
    cand_all = np.asarray(labels, dtype=np.int64)
    kept_a = np.asarray(sorted(kept), dtype=np.int64)
    return Selection(
        images=candidates[kept_a], labels=cand_all[kept_a], candidates=candidates,
        candidate_labels=cand_all, kept=kept_a,
        confidence=np.asarray(confs, dtype=np.float32),
        origin=np.asarray(origins, dtype=np.int64),
    )  # fmt: skip
