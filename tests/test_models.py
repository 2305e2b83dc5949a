"""Shape, determinism and differentiability checks of the networks and of DSA (CPU, fast)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gdd_studio.models import (
    ARCH_TITLES,
    ARCHITECTURES,
    DIGIT_STRATEGY,
    DSA,
    DSA_STRATEGY,
    Discriminator,
    Generator,
    build_classifier,
    conditional_noise,
)
from gdd_studio.models.augment import FAMILIES, DSAParams

SHAPES = [(28, 1), (28, 3), (32, 1), (32, 3)]


def _images(n: int, channels: int, size: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, channels, size, size, generator=g) * 2 - 1


# ---------------------------------------------------------------------------- GAN


@pytest.mark.parametrize(("size", "channels"), SHAPES)
def test_generator_and_discriminator_shapes(size: int, channels: int) -> None:
    torch.manual_seed(0)
    gen = Generator(10, nz=100, width=8, channels=channels, image_size=size)
    disc = Discriminator(10, width=8, channels=channels, image_size=size)
    z = conditional_noise(torch.arange(6) % 10, 100, 10, torch.Generator().manual_seed(1))
    x = gen(z)
    assert x.shape == (6, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1
    score, logits = disc(x)
    assert score.shape == (6,)
    assert logits.shape == (6, 10)


def test_gan_paper_width_builds() -> None:
    gen = Generator(10).eval()
    disc = Discriminator(10).eval()
    with torch.no_grad():
        score, logits = disc(gen(conditional_noise(torch.tensor([0, 9]), 100, 10)))
    assert score.shape == (2,) and logits.shape == (2, 10)


def test_gan_rejects_bad_image_size_and_small_nz() -> None:
    with pytest.raises(ValueError):
        Generator(10, image_size=64)
    with pytest.raises(ValueError):
        Discriminator(10, image_size=30)
    with pytest.raises(ValueError):
        Generator(120, nz=100)


def test_gradient_penalty_double_backward() -> None:
    disc = Discriminator(10, width=8)
    x = _images(4, 1, 28).requires_grad_(True)
    score, _ = disc(x)
    (grad,) = torch.autograd.grad(score.sum(), x, create_graph=True)
    penalty = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
    penalty.backward()
    assert disc.trunk[0].weight.grad is not None
    assert disc.trunk[0].weight.grad.abs().sum() > 0


def test_conditional_noise_one_hot_and_reproducible() -> None:
    labels = torch.tensor([3, 0, 9, 3])
    z1 = conditional_noise(labels, 100, 10, torch.Generator().manual_seed(7))
    z2 = conditional_noise(labels, 100, 10, torch.Generator().manual_seed(7))
    z3 = conditional_noise(labels, 100, 10, torch.Generator().manual_seed(8))
    assert z1.shape == (4, 100)
    assert torch.equal(z1[:, :10], F.one_hot(labels, 10).float())
    assert torch.equal(z1, z2)
    assert not torch.equal(z1[:, 10:], z3[:, 10:])
    assert z1.device == labels.device


def test_conditional_noise_errors() -> None:
    with pytest.raises(ValueError):
        conditional_noise(torch.tensor([0, 1]), 5, 10)
    with pytest.raises(ValueError):
        conditional_noise(torch.tensor([10]), 100, 10)


def test_same_seed_same_gan_weights() -> None:
    torch.manual_seed(3)
    a = Generator(10, width=8)
    torch.manual_seed(3)
    b = Generator(10, width=8)
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)


# ---------------------------------------------------------------------------- classifiers


def test_titles_cover_architectures() -> None:
    assert set(ARCH_TITLES) == set(ARCHITECTURES)


@pytest.mark.parametrize("name", ARCHITECTURES)
@pytest.mark.parametrize(("size", "channels"), SHAPES)
@pytest.mark.parametrize("width", [None, 8])
def test_classifier_shapes(name: str, size: int, channels: int, width: int | None) -> None:
    torch.manual_seed(0)
    net = build_classifier(name, channels, 10, size, width=width)
    assert net(_images(2, channels, size)).shape == (2, 10)


def test_width_narrows_networks() -> None:
    for name in ARCHITECTURES:
        wide = build_classifier(name, 3, 10, 32)
        narrow = build_classifier(name, 3, 10, 32, width=8)
        n_wide = sum(p.numel() for p in wide.parameters())
        n_narrow = sum(p.numel() for p in narrow.parameters())
        assert n_narrow < n_wide / 4, name
    # width 1 still builds (at least one channel everywhere)
    assert build_classifier("alexnet", 1, 10, 28, width=1)(_images(2, 1, 28)).shape == (2, 10)


def test_literature_sizes() -> None:
    # ConvNet-3 on CIFAR-10 has ~320k parameters in the DC/DSA/DM papers.
    net = build_classifier("convnet3", 3, 10, 32)
    assert sum(p.numel() for p in net.parameters()) == 320_010
    assert not any(isinstance(m, torch.nn.Dropout) for m in net.modules())


def test_resnet18_is_the_literatures_instance_norm_net_and_resnet18bn_the_batchnorm_one() -> None:
    inst = build_classifier("resnet18", 3, 10, 32)
    bn = build_classifier("resnet18bn", 3, 10, 32)
    # the CIFAR ResNet-18 of the DC/DSA code: 11,173,962 parameters either way
    assert sum(p.numel() for p in inst.parameters()) == 11_173_962
    assert sum(p.numel() for p in bn.parameters()) == 11_173_962
    norms = [m for m in inst.modules() if isinstance(m, torch.nn.GroupNorm)]
    assert len(norms) == 20 and not any(isinstance(m, torch.nn.BatchNorm2d) for m in inst.modules())
    assert all(m.num_groups == m.num_channels and m.affine for m in norms)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in bn.modules()) == 20
    # instance norm: an image's logits do not depend on its batch, in train mode too
    torch.manual_seed(0)
    small = build_classifier("resnet18", 1, 10, 28, width=8).train()
    x = _images(4, 1, 28, seed=3)
    assert torch.allclose(small(x)[:1], small(x[:1]), atol=1e-5)
    small_bn = build_classifier("resnet18bn", 1, 10, 28, width=8).train()
    assert not torch.allclose(small_bn(x)[:1], small_bn(x[:1]), atol=1e-3)


def test_resnet18bn_loads_weights_saved_as_the_old_resnet18() -> None:
    # before version 2, "resnet18" built this very module tree: its state dicts still load
    from gdd_studio.models.nets import ResNet

    old = ResNet((2, 2, 2, 2), 1, 10, width=8).state_dict()
    build_classifier("resnet18bn", 1, 10, 28, width=8).load_state_dict(old)
    with pytest.raises(RuntimeError):
        build_classifier("resnet18", 1, 10, 28, width=8).load_state_dict(old)


def test_unknown_architecture_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="convnet3"):
        build_classifier("lenet", 1, 10, 28)
    with pytest.raises(ValueError):
        build_classifier("convnet3", 1, 10, 64)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_same_seed_same_classifier_weights(name: str) -> None:
    torch.manual_seed(11)
    a = build_classifier(name, 1, 10, 28, width=8)
    torch.manual_seed(11)
    b = build_classifier(name, 1, 10, 28, width=8)
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_one_step_reduces_loss(name: str) -> None:
    torch.manual_seed(0)
    net = build_classifier(name, 1, 4, 28, width=8)
    x = _images(16, 1, 28, seed=5)
    y = torch.arange(16) % 4
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    before = F.cross_entropy(net(x), y)
    opt.zero_grad()
    before.backward()
    opt.step()
    after = F.cross_entropy(net(x), y)
    assert after.item() < before.item()


# ---------------------------------------------------------------------------- DSA


@pytest.mark.parametrize("mode", ["S", "M"])
def test_dsa_same_seed_same_output(mode: str) -> None:
    aug = DSA(DSA_STRATEGY, mode=mode)
    x = _images(8, 3, 32)
    for seed in range(6):
        a = aug(x, torch.Generator().manual_seed(seed))
        b = aug(x, torch.Generator().manual_seed(seed))
        assert torch.equal(a, b)


def test_dsa_different_seeds_differ() -> None:
    aug = DSA(DSA_STRATEGY, mode="M")
    x = _images(8, 3, 32)
    a = aug(x, torch.Generator().manual_seed(0))
    b = aug(x, torch.Generator().manual_seed(1))
    assert not torch.equal(a, b)


@pytest.mark.parametrize("strategy", [*FAMILIES, DSA_STRATEGY])
@pytest.mark.parametrize("mode", ["S", "M"])
def test_dsa_siamese_halves_identical(strategy: str, mode: str) -> None:
    aug = DSA(strategy, mode=mode)
    a = _images(5, 3, 32)
    for seed in range(4):
        out = aug(torch.cat([a, a]), torch.Generator().manual_seed(seed), siamese_groups=2)
        assert torch.equal(out[:5], out[5:])


def test_dsa_siamese_uses_per_sample_parameters() -> None:
    """Within one group the samples get different transforms (unlike reference DSA)."""
    aug = DSA("rotate")
    a = _images(1, 1, 28).expand(4, 1, 28, 28)
    out = aug(a, torch.Generator().manual_seed(0))
    assert not torch.equal(out[0], out[1])


@pytest.mark.parametrize("strategy", ["", "none"])
def test_dsa_identity(strategy: str) -> None:
    x = _images(4, 1, 28)
    out = DSA(strategy)(x, torch.Generator().manual_seed(0))
    assert torch.equal(out, x)


def test_dsa_rejects_unknown_names_and_bad_batches() -> None:
    with pytest.raises(ValueError):
        DSA("color_blur")
    with pytest.raises(ValueError):
        DSA(mode="X")
    aug = DSA("crop")
    with pytest.raises(ValueError):
        aug(_images(5, 1, 28), torch.Generator(), siamese_groups=2)
    with pytest.raises(ValueError):
        aug.apply(_images(5, 1, 28), aug.sample(2, torch.Generator()))


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("channels", [1, 3])
def test_each_family_changes_image_and_keeps_shape(family: str, channels: int) -> None:
    aug = DSA(family, mode="M")
    x = _images(8, channels, 28)
    out = aug(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert not torch.allclose(out, x)


@pytest.mark.parametrize("family", FAMILIES)
def test_gradients_flow_through_each_family(family: str) -> None:
    aug = DSA(family, mode="M")
    x = _images(8, 3, 32).requires_grad_(True)
    out = aug(x, torch.Generator().manual_seed(0))
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    assert x.grad is not None
    assert x.grad.abs().sum() > 0


def test_mode_s_picks_one_family_and_varies() -> None:
    aug = DSA(DIGIT_STRATEGY, mode="S")
    picked = set()
    for seed in range(40):
        sampled = aug.sample(4, torch.Generator().manual_seed(seed))
        assert len(sampled["families"]) == 1
        picked.add(sampled["families"][0])
    assert picked == set(DIGIT_STRATEGY.split("_"))
    assert "flip" not in picked


def test_sample_is_cpu_and_respects_params() -> None:
    params = DSAParams(scale=1.5, rotate=30.0)
    sampled = DSA("scale_rotate", mode="M", params=params).sample(
        500, torch.Generator().manual_seed(0)
    )
    assert sampled["families"] == ("scale", "rotate")
    for key in ("scale_sx", "scale_sy", "rotate_angle"):
        assert sampled[key].device.type == "cpu" and sampled[key].shape == (500,)
    assert sampled["scale_sx"].min() >= 1 / 1.5 and sampled["scale_sx"].max() <= 1.5
    assert sampled["rotate_angle"].abs().max() <= torch.pi / 6 + 1e-6


def test_crop_is_zero_filled_translation() -> None:
    aug = DSA("crop", mode="M")
    x = torch.arange(1.0, 17.0).view(1, 1, 4, 4)
    sampled = {
        "n": 1,
        "families": ("crop",),
        "crop_u": torch.tensor([0.0]),
        "crop_v": torch.tensor([0.99]),
    }
    out = aug.apply(x, sampled)  # shift rows by -1 and columns by +1 (max shift 1 px at 4 px)
    expected = torch.zeros(4, 4)
    expected[1:, :3] = x[0, 0, :3, 1:]
    assert torch.equal(out[0, 0], expected)
