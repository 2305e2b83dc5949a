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
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import storage
from ..config import LEGACY_RUNTIME, RuntimeConfig, SamplingConfig
from ..data import ImageDataset, dataset_family
from ..errors import GddError
from ..models.augment import DIGIT_STRATEGY, DSA, DSA_STRATEGY
from ..models.fit import normalizer, test_accuracy, train_classifier
from ..models.gan import Generator
from ..models.nets import ConvNet3, build_classifier
from ..models.runtime import forward_flops, resolve, work_tflop
from ..rundir.folder import RunFolder
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


def selection_spec(s: SamplingConfig) -> dict:
    """The settings that decide which images a selection keeps (recorded with every set)."""
    if s.selection == "random":
        return {"selection": "random"}
    return {
        "selection": s.selection,
        "candidates": s.candidates,
        "observer_width": s.observer_width,
        "observer_epochs": s.observer_epochs,
    }


def spec_tag(spec: dict) -> str:
    """A short, stable text naming a selection spec (for file names and labels)."""
    if spec["selection"] == "random":
        return "random"
    blob = json.dumps(spec, sort_keys=True).encode()
    return f"{spec['selection']}-{hashlib.sha1(blob).hexdigest()[:6]}"


def candidates_per_class(s: SamplingConfig, ipc: int) -> int:
    """How many draws per class a selection chooses from (``candidates`` x IPC, at least 50)."""
    return ipc if s.selection == "random" else max(ipc * s.candidates, 50)


# ---- the observer ------------------------------------------------------------------------


def observer_path(run_dir: Path, s: SamplingConfig) -> Path:
    return RunFolder(run_dir).selection / f"observer-w{s.observer_width}-e{s.observer_epochs}.pt"


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
        f"{s.observer_epochs} epochs on {len(y)} real images; {rt.precision}"
        f"{', compiled' if rt.compiled else ''})"
    )
    done = train_classifier(
        net, x, y, s.observer_epochs, rng, batch_size=batch, augment=DSA(strategy),
        should_stop=should_stop, runtime=rt,
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


def real_class_means(net: nn.Module, data: ImageDataset, device: torch.device | str) -> Tensor:
    """Mean observer feature of every class's real training images, (K, D)."""
    norm = normalizer(data.mean, data.std, device)
    feats, _ = observer_outputs(net, data.x_train.to(device).float() / 255, norm)
    y = data.y_train.cpu()
    return torch.stack([feats[y == k].mean(0) for k in range(data.num_classes)])


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
) -> Selection:
    """Draw candidates from the generator and keep IPC per class by the configured rule.

    ``random`` keeps the first IPC draws per class (exactly the paper's seeded draw);
    ``herding`` needs the observer, the real class means (``targets``) and the dataset's
    normalization.
    """
    k = generator_net.num_classes
    per_class = candidates_per_class(s, ipc)
    cand, cand_labels = sample_images(generator_net, k, per_class, nz, seed, device)
    confidence = None
    if s.selection == "random":
        kept = np.arange(len(cand_labels))
    elif s.selection == "herding":
        if observer is None or targets is None or norm is None:
            raise GddError("herding selection needs the observer and the real class means")
        x01 = torch.from_numpy(cand).permute(0, 3, 1, 2).to(device).float() / 255
        feats, logits = observer_outputs(observer, x01, norm)
        probs = F.softmax(logits, dim=1)
        labels_t = torch.from_numpy(cand_labels)
        confidence = probs[torch.arange(len(labels_t)), labels_t].numpy().astype(np.float32)
        kept_list: list[int] = []
        for c in range(k):
            members = torch.nonzero(labels_t == c).flatten()
            picks = herding(feats[members], targets[c], ipc)
            kept_list += sorted(int(members[p]) for p in picks)
        kept = np.asarray(kept_list, dtype=np.int64)
    else:
        raise GddError(f"unknown selection rule '{s.selection}'")
    return Selection(
        images=cand[kept], labels=cand_labels[kept], candidates=cand,
        candidate_labels=cand_labels, kept=kept.astype(np.int64), confidence=confidence,
    )  # fmt: skip
