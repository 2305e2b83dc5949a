"""Training and testing classifiers on small image sets held on the device.

Used by phase 1's checkpoint selection, by phase 2's pretrained pool, and by phase 4's
evaluation. Images are float tensors already normalized with the dataset's constants;
batches are index draws from one seeded generator, not a DataLoader.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .augment import DSA
from .runtime import FP32_EAGER, Runtime


def normalizer(mean: tuple[float, ...], std: tuple[float, ...], device: torch.device | str):
    """A function mapping images in [0, 1] to the dataset's normalization."""
    m = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    return lambda x: (x - m) / s


def train_classifier(
    net: nn.Module,
    images: Tensor,
    labels: Tensor,
    epochs: int,
    generator: torch.Generator,
    batch_size: int = 256,
    lr: float = 0.01,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    augment: DSA | None = None,
    decay_at_half: bool = True,
    should_stop: Callable[[], bool] | None = None,
    on_epoch: Callable[[int], None] | None = None,
    refresh: Callable[[int], Tensor] | None = None,
    runtime: Runtime = FP32_EAGER,
    on_batch: Callable[[int, int], None] | None = None,
) -> bool:
    """SGD with cross-entropy over ``epochs`` passes; lr x 0.1 at half time (DC/DSA protocol).

    ``refresh(epoch)``, when given, replaces the images at the start of every epoch (DiM's
    on-the-fly protocol: new samples from the generator, same labels). ``runtime`` says
    whether the network runs compiled and under bf16 autocast. ``on_batch(done, total)``
    hears of every batch trained (for progress over long epochs). Returns False when
    ``should_stop`` cut the training short.
    """
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    forward = runtime.wrap(net)
    n = len(images)
    total, done = epochs * -(-n // batch_size), 0
    net.train()
    for epoch in range(epochs):
        if decay_at_half and epoch == epochs // 2 and epochs > 1:
            for group in opt.param_groups:
                group["lr"] = lr * 0.1
        if refresh is not None and epoch > 0:
            images = refresh(epoch)
        perm = torch.randperm(n, generator=generator).to(images.device)
        for start in range(0, n, batch_size):
            if start and should_stop is not None and should_stop():
                return False  # the full real set's epochs are long: stop within one
            idx = perm[start : start + batch_size]
            x = images[idx]
            if augment is not None:
                x = augment(x, generator)
            with runtime.autocast():
                loss = F.cross_entropy(forward(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            if on_batch is not None:
                on_batch(done, total)
        if on_epoch is not None:
            on_epoch(epoch + 1)
        if should_stop is not None and should_stop():
            return False
    return True


@torch.no_grad()
def test_accuracy(
    net: nn.Module,
    images: Tensor,
    labels: Tensor,
    batch_size: int = 1000,
    runtime: Runtime = FP32_EAGER,
) -> float:
    """Top-1 accuracy in [0, 1] with the network in eval mode."""
    was_training = net.training
    net.eval()
    forward = runtime.wrap(net)
    correct = torch.zeros((), dtype=torch.long, device=images.device)
    for start in range(0, len(images), batch_size):
        with runtime.autocast():
            logits = forward(images[start : start + batch_size])
        correct += (logits.argmax(dim=1) == labels[start : start + batch_size]).sum()
    net.train(was_training)
    return correct.item() / max(1, len(images))
