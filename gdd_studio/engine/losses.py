"""The losses of the method (docs/METHOD.md): logit standardization, SKD, DiM's MSE, WGAN-GP."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

EPS = 1e-7


def standardize(logits: Tensor, tau: float, mode: str = "divide") -> Tensor:
    """Z(x; tau): per-sample z-score over the class dimension, then scaled by tau.

    ``divide`` (default, Sun et al. CVPR 2024) gives std 1/tau: a high tau blurs the
    distribution, as the method describes; ``multiply`` is the formula as printed.
    """
    mean = logits.mean(dim=-1, keepdim=True)
    std = logits.std(dim=-1, keepdim=True)
    z = (logits - mean) / (std + EPS)
    if mode == "divide":
        return z / tau
    if mode == "multiply":
        return z * tau
    raise ValueError(f"unknown tau mode {mode!r}")


def _scaled(logits: Tensor, tau: float, standardize_on: bool, mode: str) -> Tensor:
    if standardize_on:
        return standardize(logits, tau, mode)
    return logits / tau if mode == "divide" else logits * tau


def skd_loss(
    real_logits: Tensor,
    syn_logits: Tensor,
    tau: float,
    standardize_on: bool = True,
    mode: str = "divide",
) -> Tensor:
    """KL(d(real) || d(syn)), summed over classes, averaged over the batch.

    Sample i of both batches must have the same label. The real branch is a target: it is
    detached here so that no gradient can reach the pool model through it.
    """
    log_p_real = F.log_softmax(_scaled(real_logits.detach(), tau, standardize_on, mode), dim=-1)
    log_p_syn = F.log_softmax(_scaled(syn_logits, tau, standardize_on, mode), dim=-1)
    return (log_p_real.exp() * (log_p_real - log_p_syn)).sum(dim=-1).mean()


def mse_loss(real_logits: Tensor, syn_logits: Tensor) -> Tensor:
    """DiM's matching term: mean squared difference of the log-softmax outputs."""
    return F.mse_loss(
        F.log_softmax(syn_logits, dim=-1), F.log_softmax(real_logits.detach(), dim=-1)
    )


def gradient_penalty(critic: torch.nn.Module, real: Tensor, fake: Tensor, alpha: Tensor) -> Tensor:
    """WGAN-GP: mean((||grad of the critic at random interpolates||_2 - 1)^2)."""
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    score, _ = critic(mixed)
    (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
