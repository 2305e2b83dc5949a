"""Distribution matching (models/matching.py) on tiny synthetic data: no dataset needed."""

import io

import pytest
import torch

from gdd_studio.models.augment import DSA
from gdd_studio.models.gan import Generator, conditional_noise
from gdd_studio.models.matching import DistributionMatcher, conditional_decoder
from tests.helpers import torch_threads

MEAN, STD = (0.5,), (0.25,)


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


def toy_data(per_class: int = 24, classes: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes that differ in where the bright half is, with noise."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 60, (per_class * classes, 1, 28, 28), generator=g)
    y = torch.arange(classes).repeat_interleave(per_class)
    x[y == 0, :, :14] += 180
    x[y == 1, :, :, 14:] += 180
    return x.clamp(0, 255).to(torch.uint8), y


def noise_set(ipc: int = 2, classes: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return (
        torch.randint(0, 256, (ipc * classes, 1, 28, 28), generator=g, dtype=torch.uint8),
        torch.arange(classes).repeat_interleave(ipc),
    )


def matcher(**kw) -> DistributionMatcher:
    x, y = toy_data()
    images, labels = noise_set()
    args = dict(images=images, real_per_class=16, width=8, seed=3, dsa=DSA())
    args.update(kw)
    return DistributionMatcher(x, y, labels, MEAN, STD, **args)


def test_loss_decreases_on_a_toy_problem():
    m = matcher(dsa=None)
    losses = [m.step() for _ in range(40)]
    assert m.iteration == 40
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.5 * first, (first, last)
    # The images moved towards their class: class 0's top half is now the brighter one.
    out = m.uint8_images().float()
    assert out[:2, :, :14].mean() > out[:2, :, 14:].mean()
    assert out[2:, :, :, 14:].mean() > out[2:, :, :, :14].mean()


def test_augmentation_is_siamese_per_class():
    """A set equal to the real images matches them exactly whatever the augmentation draws,
    which only holds when real and synthetic images of a class share the parameters."""
    x, y = toy_data(per_class=4)
    dsa = DSA("color_crop_cutout_flip_scale_rotate", mode="M")
    m = DistributionMatcher(x, y, y, MEAN, STD, images=x, real_per_class=4, width=8, dsa=dsa)
    assert all(m.step() < 1e-6 for _ in range(3))
    # With parameters drawn separately for the two sides, the same images do not match.
    draws = torch.Generator().manual_seed(0)

    class Unshared(DSA):
        def apply(self, x, sampled):
            return super().apply(x, self.sample(1, draws))

    m = DistributionMatcher(
        x, y, y, MEAN, STD, images=x[y.argsort()], real_per_class=4, width=8,
        dsa=Unshared("color_crop_cutout_flip_scale_rotate", mode="M"),
    )  # fmt: skip
    assert m.step() > 1e-3


def test_deterministic_for_a_seed_and_different_for_another():
    a, b, c = matcher(), matcher(), matcher(seed=4)
    la = [a.step() for _ in range(4)]
    lb = [b.step() for _ in range(4)]
    lc = [c.step() for _ in range(4)]
    assert la == lb
    assert torch.equal(a.uint8_images(), b.uint8_images())
    assert la != lc


def test_stop_and_resume_is_bit_identical():
    straight = matcher()
    losses = [straight.step() for _ in range(6)]
    first = matcher()
    resumed_losses = [first.step() for _ in range(3)]
    buf = io.BytesIO()
    torch.save(first.state_dict(), buf)
    del first
    resumed = matcher()
    resumed.load_state_dict(torch.load(io.BytesIO(buf.getvalue()), weights_only=True))
    assert resumed.iteration == 3
    resumed_losses += [resumed.step() for _ in range(3)]
    assert resumed_losses == losses
    assert torch.equal(resumed.param, straight.param)
    assert resumed.state_dict()["optimizer"]["state"][0]["momentum_buffer"].equal(
        straight.state_dict()["optimizer"]["state"][0]["momentum_buffer"]
    )


def test_run_obeys_stop():
    m = matcher()
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 2

    assert m.run(10, should_stop=stop) is False
    assert m.iteration == 2


def test_latent_mode_moves_only_the_free_part_of_z():
    x, y = toy_data()
    torch.manual_seed(0)
    g = Generator(num_classes=2, nz=8, width=8, channels=1, image_size=28).eval()
    before = {k: v.clone() for k, v in g.state_dict().items()}
    labels = torch.tensor([0, 0, 1, 1])
    z = conditional_noise(labels, 8, 2, torch.Generator().manual_seed(0))
    decode = conditional_decoder(g, labels, 2, MEAN, STD)
    m = DistributionMatcher(
        x, y, labels, MEAN, STD, latents=z, decode=decode, real_per_class=16, width=8
    )
    assert m.mode == "latents"
    losses = [m.step() for _ in range(3)]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert torch.equal(m.param[:, :2], z[:, :2])  # the one-hot part never moves
    assert not torch.equal(m.param[:, 2:], z[:, 2:])
    assert all(torch.equal(before[k], v) for k, v in g.state_dict().items())
    assert all(p.grad is None for p in g.parameters())
    out = m.uint8_images()
    assert out.shape == (4, 1, 28, 28) and out.dtype == torch.uint8
    with pytest.raises(ValueError, match="eval mode"):
        conditional_decoder(g.train(), labels, 2, MEAN, STD)


def test_wrap_and_autocast_are_applied():
    wrapped = []

    def wrap(net):
        wrapped.append(net)
        return net

    m = matcher(wrap=wrap, autocast=True)
    assert torch.isfinite(torch.tensor(m.step()))
    m.step()
    assert len(wrapped) == 2 and wrapped[0] is not wrapped[1]  # a fresh embedder each time


def test_a_state_of_another_mode_or_shape_is_refused():
    state = matcher().state_dict()
    images, labels = noise_set(ipc=3)
    x, y = toy_data()
    other = DistributionMatcher(x, y, labels, MEAN, STD, images=images, width=8)
    with pytest.raises(ValueError, match="shape"):
        other.load_state_dict(state)
