"""Tests that tell a wrong method from a right one (docs/METHOD.md), on tiny data."""

import pytest
import torch
import torch.nn.functional as F

from gdd_studio.config import resolve_defaults
from gdd_studio.data import load_dataset
from gdd_studio.engine.losses import skd_loss
from gdd_studio.engine.run import Run
from gdd_studio.engine.trainer import Trainer
from tests.helpers import tiny_config, write_tiny_npz


@pytest.fixture
def tiny_dataset(tmp_path):
    return "npz:" + str(write_tiny_npz(tmp_path / "tiny.npz"))


def _trainer(dataset, **changes) -> Trainer:
    cfg = tiny_config(dataset, **changes)
    resolve_defaults(cfg)
    return Trainer(cfg, load_dataset(dataset), "cpu")


def _phase2(t: Trainer) -> None:
    t.phase, t.phase_step = 2, 0
    t.start_phase2(lambda m: None)


@pytest.mark.parametrize(
    "changes, weight",
    [
        (dict(distill__loss="skd", distill__lam=0.01, distill__tau=3.0), 0.01 * 9),
        (dict(distill__loss="mse", distill__lam=0.001), 0.01),  # DiM's, not lambda
        (dict(distill__loss="mse", distill__mse_weight=0.5), 0.5),
    ],
)
def test_matching_term_weight(tiny_dataset, changes, weight):
    t = _trainer(tiny_dataset, **changes)
    _phase2(t)
    t.generator_adv_loss = lambda fake, y: (fake.sum() * 0, fake.sum() * 0)
    t.matching_loss = lambda real, fake: fake.sum() * 0 + 1.0
    out = t.phase2_step()
    assert out["g_loss"].item() == pytest.approx(weight)


def test_dm_of_the_draws_is_weighted_and_zero_for_the_real_images(tiny_dataset):
    """Issue 28's phase-2 term: DM's class-mean distance, on the generator's draws."""
    # fp32: "auto" is bf16 autocast on a CPU with native bf16, 1e-4 off the fp32 sum below.
    t = _trainer(
        tiny_dataset, distill__dm_weight=0.25, distill__augment=False,
        runtime__precision="fp32",
    )  # fmt: skip
    _phase2(t)
    real01, y = t.batch(2)
    # The real images as draws: every class's means meet (the loss is exactly 0).
    assert t.draws_dm_loss(real01, real01 * 2 - 1, y).item() == pytest.approx(0, abs=1e-9)
    fake = (torch.rand_like(real01) * 2 - 1).requires_grad_(True)
    loss = t.draws_dm_loss(real01, fake, y)
    (grad,) = torch.autograd.grad(loss, fake)
    assert loss.item() > 0 and grad.abs().sum() > 0  # the draws get a gradient
    # Worked out here: the ConvNet-3 seeded by the step embeds both, class means compared.
    from gdd_studio.engine.trainer import _build_seeded
    from gdd_studio.models.nets import build_classifier

    d = t.data
    net = _build_seeded(
        t.cfg.seed * 1_000_003 + t.step,
        lambda: build_classifier("convnet3", d.channels, d.num_classes, d.image_size,
                                 t.cfg.distill.pool_width),
    )  # fmt: skip
    with torch.no_grad():
        er, ef = net.embed(t.normalize(real01)), net.embed(t.normalize((fake + 1) / 2))
    expected = sum(((er[y == k].mean(0) - ef[y == k].mean(0)) ** 2).sum() for k in y.unique())
    assert loss.item() == pytest.approx(float(expected), rel=1e-5)
    t.generator_adv_loss = lambda fake, y: (fake.sum() * 0, fake.sum() * 0)
    t.matching_loss = lambda real, fake: fake.sum() * 0
    t.draws_dm_loss = lambda real, fake, y: fake.sum() * 0 + 1.0
    assert t.phase2_step()["g_loss"].item() == pytest.approx(0.25)


def test_tau_mode_and_standardize_change_the_loss_as_written():
    torch.manual_seed(0)
    real, syn = torch.randn(5, 4) * 3, torch.randn(5, 4)

    def expected(tau, std, mode):
        def d(x):
            z = (x - x.mean(1, keepdim=True)) / (x.std(1, keepdim=True) + 1e-7) if std else x
            return F.log_softmax(z / tau if mode == "divide" else z * tau, dim=1)

        p, q = d(real), d(syn)
        return (p.exp() * (p - q)).sum(1).mean().item()

    values = {}
    for std in (True, False):
        for mode in ("divide", "multiply"):
            got = skd_loss(real, syn, 2.0, std, mode).item()
            assert got == pytest.approx(expected(2.0, std, mode), rel=1e-4)
            values[(std, mode)] = got
    assert len({round(v, 6) for v in values.values()}) == 4


def test_generator_lr_reset_at_phase2(tiny_dataset):
    t = _trainer(tiny_dataset, gan__lr=1e-3, distill__lr=5e-6)
    assert t.opt_g.param_groups[0]["lr"] == 1e-3
    _phase2(t)
    assert all(g["lr"] == 5e-6 for g in t.opt_g.param_groups)
    assert all(g["lr"] == 1e-3 for g in t.opt_d.param_groups)  # D keeps its own


@pytest.mark.parametrize("mode, same", [("frozen", True), ("trained", False)])
def test_frozen_discriminator_stays_bit_identical(tiny_dataset, mode, same):
    t = _trainer(tiny_dataset, distill__discriminator=mode)
    _phase2(t)
    before = {k: v.clone() for k, v in t.D.state_dict().items()}
    g_before = {k: v.clone() for k, v in t.G.state_dict().items()}
    for _ in range(3):
        t.phase2_step()
        t.phase_step += 1
    after = t.D.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before) is same
    assert not all(torch.equal(g_before[k], v) for k, v in t.G.state_dict().items())


def test_one_pool_network_drawn_per_epoch(tiny_dataset):
    t = _trainer(tiny_dataset, distill__pool="convnet3,resnet10")
    _phase2(t)
    drawn = []
    begin = t._begin_pool_epoch

    def counting():
        begin()
        drawn.append((t.phase_step, t.pool_arch, id(t.pool_net)))

    t._begin_pool_epoch = counting
    for _ in range(2 * t.spe[2]):
        t.phase2_step()
        t.phase_step += 1
    assert [s for s, _, _ in drawn] == [0, t.spe[2]]
    assert len({n for _, _, n in drawn}) == 2


@pytest.mark.parametrize("mode, moves", [("eval", False), ("train", True)])
def test_pool_batchnorm_mode_while_matching(tiny_dataset, mode, moves):
    t = _trainer(tiny_dataset, distill__pool="resnet10", distill__pool_bn=mode)
    _phase2(t)
    t._begin_pool_epoch()
    stats = {k: v.clone() for k, v in t.pool_net.state_dict().items() if "running" in k}
    assert stats
    x = torch.rand(8, 1, 28, 28)
    t.matching_loss(x, x * 2 - 1)
    now = t.pool_net.state_dict()
    changed = any(not torch.equal(stats[k], now[k]) for k in stats)
    assert changed is moves
    assert t.pool_net.training  # back to training for its own steps


def test_gan_select_best_keeps_the_best_scoring_generator(tiny_dataset, tmp_path, monkeypatch):
    cfg = tiny_config(tiny_dataset, gan__select="best", gan__select_every=1, gan__epochs=3)
    cfg.distill.epochs = 0
    scores = iter([0.2, 0.9, 0.4])
    snapshots = []

    def fake_score(self):
        snapshots.append({k: v.clone() for k, v in self.G.state_dict().items()})
        return next(scores)

    monkeypatch.setattr(Trainer, "quick_score", fake_score)
    run = Run.create(cfg, tmp_path / "runs")
    assert run.execute() == "finished"
    assert len(snapshots) == 3
    kept = torch.load(run.folder.phase_checkpoint(1), weights_only=True)["G"]
    assert all(torch.equal(kept[k], snapshots[1][k]) for k in kept)
    assert not all(torch.equal(kept[k], snapshots[2][k]) for k in kept)


def test_the_moving_average_follows_g_with_a_warmed_up_decay(tiny_dataset):
    """Issue 28's gan.ema: after each G step the average moves (1 - decay) of the way to
    G's weights, decay warmed up as (1 + n) / (10 + n); buffers are copied; G trains on
    its raw weights, which the average leaves untouched."""
    plain, t = _trainer(tiny_dataset), _trainer(tiny_dataset, gan__ema=0.9)
    assert plain.G_ema is None and plain.sampler is plain.G
    assert t.sampler is t.G_ema
    before = {k: v.clone() for k, v in t.G_ema.state_dict().items()}
    t.phase1_step()
    plain.phase1_step()
    for (k, g), p in zip(t.G.state_dict().items(), plain.G.state_dict().values(), strict=True):
        assert torch.equal(g, p), k  # the average changes nothing of the raw trajectory
    decay = 2 / 11  # n = 1: min(0.9, 2 / 11)
    params = dict(t.G.named_parameters())
    for name, avg in t.G_ema.named_parameters():
        expected = before[name] + (params[name] - before[name]) * (1 - decay)
        assert torch.allclose(avg, expected, atol=1e-6), name
    for _ in range(60):
        t.update_ema()
    assert t.ema_updates == 61
    for (name, avg), buf in zip(t.G_ema.named_buffers(), t.G.buffers(), strict=True):
        assert torch.equal(avg, buf), name
    # Past the warm-up the decay is the configured one.
    p = next(t.G.parameters())
    a0 = next(t.G_ema.parameters()).clone()
    t.update_ema()
    assert torch.allclose(next(t.G_ema.parameters()), a0 + (p - a0) * 0.1, atol=1e-6)


def test_truncated_noise_lies_within_the_bound_and_is_seeded():
    from gdd_studio.models.gan import conditional_noise

    labels = torch.arange(4).repeat(50)
    z = conditional_noise(labels, 20, 4, torch.Generator().manual_seed(3), truncation=0.5)
    assert z[:, 4:].abs().max() <= 0.5
    assert torch.equal(z[:, :4], torch.nn.functional.one_hot(labels, 4).float())
    again = conditional_noise(labels, 20, 4, torch.Generator().manual_seed(3), truncation=0.5)
    assert torch.equal(z, again)
    plain = conditional_noise(labels, 20, 4, torch.Generator().manual_seed(3))
    assert plain[:, 4:].abs().max() > 0.5  # 3,200 normal draws go beyond 0.5
