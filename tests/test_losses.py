import math

import pytest
import torch
import torch.nn.functional as F

from gdd_studio.engine.losses import gradient_penalty, mse_loss, skd_loss, standardize


@pytest.fixture
def logits():
    return torch.randn(16, 10, generator=torch.Generator().manual_seed(0)) * 5 + 3


@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0, 4.0])
def test_standardize_mean_zero_std_one_over_tau(logits, tau):
    z = standardize(logits, tau, "divide")
    assert torch.allclose(z.mean(dim=1), torch.zeros(16), atol=1e-5)
    assert torch.allclose(z.std(dim=1), torch.full((16,), 1 / tau), atol=1e-4)


def test_standardize_multiply_gives_std_tau(logits):
    z = standardize(logits, 2.0, "multiply")
    assert torch.allclose(z.std(dim=1), torch.full((16,), 2.0), atol=1e-4)


def test_standardize_invariant_to_shift_and_scale(logits):
    z = standardize(logits, 2.0)
    shifted = standardize(logits + 7.5, 2.0)
    scaled = standardize(logits * 3.0, 2.0)
    per_sample = standardize(logits * torch.linspace(0.5, 4, 16)[:, None] - 2, 2.0)
    assert torch.allclose(z, shifted, atol=1e-5)
    assert torch.allclose(z, scaled, atol=1e-5)
    assert torch.allclose(z, per_sample, atol=1e-5)


def test_standardize_rejects_unknown_mode(logits):
    with pytest.raises(ValueError):
        standardize(logits, 2.0, "square")


def _reference_kl(real, syn, tau):
    """Independent computation: explicit formulas with numpy-style loops."""
    total = 0.0
    for r, s in zip(real.tolist(), syn.tolist(), strict=True):

        def dist(v):
            m = sum(v) / len(v)
            sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))
            zz = [(x - m) / (sd + 1e-7) / tau for x in v]
            e = [math.exp(x) for x in zz]
            return [x / sum(e) for x in e]

        p, q = dist(r), dist(s)
        total += sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q, strict=True))
    return total / len(real)


def test_skd_loss_equals_independent_kl(logits):
    syn = torch.randn(16, 10, generator=torch.Generator().manual_seed(1)) * 2
    got = skd_loss(logits, syn, tau=2.0).item()
    assert got == pytest.approx(_reference_kl(logits, syn, 2.0), rel=1e-4)
    # and torch's own KL of the standardized distributions agrees
    p = F.log_softmax(standardize(logits, 2.0), 1)
    q = F.log_softmax(standardize(syn, 2.0), 1)
    assert got == pytest.approx(
        F.kl_div(q, p, log_target=True, reduction="batchmean").item(), rel=1e-5
    )


def test_skd_loss_zero_for_equal_inputs_and_positive_otherwise(logits):
    assert skd_loss(logits, logits.clone(), 2.0).item() == pytest.approx(0.0, abs=1e-7)
    # standardization makes a shifted and scaled copy "equal" too
    assert skd_loss(logits, logits * 2 + 1, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    assert skd_loss(logits, logits * 2 + 1, 2.0, standardize_on=False).item() > 1e-3
    assert skd_loss(logits, logits.flip(1), 2.0).item() > 1e-3


def test_no_gradient_reaches_the_real_branch(logits):
    real = logits.clone().requires_grad_(True)
    syn = torch.randn(16, 10, requires_grad=True)
    skd_loss(real, syn, 2.0).backward()
    assert real.grad is None
    assert syn.grad is not None and syn.grad.abs().sum() > 0
    real2 = logits.clone().requires_grad_(True)
    syn2 = torch.randn(16, 10, requires_grad=True)
    mse_loss(real2, syn2).backward()
    assert real2.grad is None and syn2.grad.abs().sum() > 0


def test_mse_loss_is_mean_squared_log_softmax_difference(logits):
    syn = torch.randn(16, 10)
    expected = ((F.log_softmax(logits, 1) - F.log_softmax(syn, 1)) ** 2).mean()
    assert mse_loss(logits, syn).item() == pytest.approx(expected.item(), rel=1e-6)


def test_gradient_penalty_of_a_linear_critic():
    class Linear(torch.nn.Module):
        def forward(self, x):
            # ||grad|| = 3 everywhere: penalty (3 - 1)^2 = 4
            return 3.0 * x.flatten(1)[:, 0], None

    real, fake = torch.randn(4, 1, 2, 2), torch.randn(4, 1, 2, 2)
    gp = gradient_penalty(Linear(), real, fake, torch.rand(4, 1, 1, 1))
    assert gp.item() == pytest.approx(4.0)
