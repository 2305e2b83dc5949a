"""Classifiers for the model pool (phase 2) and for evaluation (phase 4).

These are the small-resolution variants used by the dataset-distillation literature
(DC / DSA / DM), so that accuracies are comparable to the published tables. 28 px inputs
are padded in the first layer to behave like 32 px inputs, as those papers do. No network
uses dropout and all use PyTorch's default initialisation, so that training is exactly
reproducible under ``torch.manual_seed``. ``width`` narrows a network proportionally; it
exists so that the pool networks can be made cheap enough for a CPU.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from ..config.sections import is_custom_arch

# The DC/DSA code names its instance-norm ResNet-18 "ResNet18" and the BatchNorm one
# "ResNet18BN"; ours follow, so cross-architecture figures compare with published ones.
# (Config files and results from before version 2 said "resnet18" for the BatchNorm net:
# config.upgrade_config_dict and evaluation.protocol.load_results read them so.)
ARCHITECTURES: tuple[str, ...] = (
    "convnet3", "resnet10", "resnet18", "resnet18bn", "alexnet", "vgg11",
)  # fmt: skip
ARCH_TITLES: dict[str, str] = {
    "convnet3": "ConvNet-3",
    "resnet10": "ResNet-10",
    "resnet18": "ResNet-18",
    "resnet18bn": "ResNet-18 (BatchNorm)",
    "alexnet": "AlexNet",
    "vgg11": "VGG-11",
}
SUPPORTED_SIZES: tuple[int, ...] = (28, 32)

# Literature widths, each net's reference for proportional scaling.
_DEFAULT_WIDTH: dict[str, int] = {
    "convnet3": 128,
    "resnet10": 64,
    "resnet18": 64,
    "resnet18bn": 64,
    "alexnet": 128,
    "vgg11": 64,
}
_VGG11_CFG: tuple[int | str, ...] = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")
_ALEXNET_CHANNELS: tuple[int, ...] = (128, 192, 256, 192, 192)


def _scale(channels: int, width: int, base: int) -> int:
    """Scale a literature channel count by width/base, never below one channel."""
    return max(1, round(channels * width / base))


def _first_padding(image_size: int) -> int:
    """Padding of a first 3x3 conv that makes 28 px inputs behave as 32 px ones."""
    return 3 if image_size == 28 else 1


def _instance_norm(channels: int) -> nn.Module:
    """Instance norm as the literature writes it: GroupNorm with one group per channel."""
    return nn.GroupNorm(channels, channels, affine=True)


class ConvNet3(nn.Module):
    """ConvNet-3: three [conv 3x3, instance norm, ReLU, avg-pool 2] blocks and a linear head."""

    def __init__(self, channels: int, num_classes: int, image_size: int, width: int = 128) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = channels
        for i in range(3):
            pad = _first_padding(image_size) if i == 0 else 1
            layers += [
                nn.Conv2d(c_in, width, kernel_size=3, padding=pad),
                _instance_norm(width),
                nn.ReLU(inplace=True),
                nn.AvgPool2d(kernel_size=2, stride=2),
            ]
            c_in = width
        self.features = nn.Sequential(*layers)  # 32 -> 16 -> 8 -> 4 for 28 and 32 px
        self.classifier = nn.Linear(width * 4 * 4, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Return class logits (N, K)."""
        return self.classifier(self.features(x).flatten(1))

    def embed(self, x: Tensor) -> Tensor:
        """Penultimate features (N, width * 16): what distribution matching compares."""
        return self.features(x).flatten(1)


def _norm_layer(norm: str) -> Callable[[int], nn.Module]:
    """A ResNet's norm: "batch" (BatchNorm2d) or "instance" (as ``_instance_norm``)."""
    if norm == "batch":
        return nn.BatchNorm2d
    if norm == "instance":
        return _instance_norm
    raise ValueError(f"norm must be 'batch' or 'instance', got {norm!r}")


class BasicBlock(nn.Module):
    """ResNet basic block (two 3x3 convs) with a projection shortcut when the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int, norm: str = "batch") -> None:
        super().__init__()
        make_norm = _norm_layer(norm)
        # The names bn1 / bn2 stay for either norm, so saved BatchNorm weights still load.
        self.conv1 = nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = make_norm(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = make_norm(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, kernel_size=1, stride=stride, bias=False),
                make_norm(c_out),
            )

    def forward(self, x: Tensor) -> Tensor:
        """Residual update."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """CIFAR-style BasicBlock ResNet (3x3 stem, stride 1): ResNet-10 and ResNet-18.

    ``norm="batch"`` is the literature's ResNet18BN (and our ResNet-10); ``"instance"`` its
    ResNet18, whose output for one image does not depend on the rest of the batch.
    """

    def __init__(
        self,
        blocks: Sequence[int],
        channels: int,
        num_classes: int,
        width: int = 64,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        make_norm = _norm_layer(norm)
        stage_channels = [_scale(c, width, 64) for c in (64, 128, 256, 512)]
        c0 = stage_channels[0]
        self.stem = nn.Sequential(
            nn.Conv2d(channels, c0, kernel_size=3, stride=1, padding=1, bias=False),
            make_norm(c0),
            nn.ReLU(inplace=True),
        )
        stages: list[nn.Module] = []
        c_in = c0
        for n_blocks, c_out, stride in zip(blocks, stage_channels, (1, 2, 2, 2), strict=True):
            for b in range(n_blocks):
                stages.append(BasicBlock(c_in, c_out, stride if b == 0 else 1, norm))
                c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_in, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Return class logits (N, K)."""
        return self.classifier(self.pool(self.stages(self.stem(x))).flatten(1))


class AlexNet(nn.Module):
    """The DC/DSA 32 px AlexNet (no dropout); 28 px inputs get 4 px of padding."""

    def __init__(self, channels: int, num_classes: int, image_size: int, width: int = 128) -> None:
        super().__init__()
        c1, c2, c3, c4, c5 = (_scale(c, width, 128) for c in _ALEXNET_CHANNELS)
        pad = 4 if image_size == 28 else 2  # 28 + 8 - 4 = 32 and 32 + 4 - 4 = 32
        self.features = nn.Sequential(
            nn.Conv2d(channels, c1, kernel_size=5, stride=1, padding=pad),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(c1, c2, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(c2, c3, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c3, c4, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c4, c5, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )  # 32 -> 16 -> 8 -> 4
        self.classifier = nn.Linear(c5 * 4 * 4, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Return class logits (N, K)."""
        return self.classifier(self.features(x).flatten(1))


class VGG11(nn.Module):
    """The DC/DSA 32 px VGG-11 with instance norm; the final feature map is 1x1."""

    def __init__(self, channels: int, num_classes: int, image_size: int, width: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = channels
        first = True
        for item in _VGG11_CFG:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                continue
            c_out = _scale(int(item), width, 64)
            pad = _first_padding(image_size) if first else 1
            layers += [
                nn.Conv2d(c_in, c_out, kernel_size=3, padding=pad),
                _instance_norm(c_out),
                nn.ReLU(inplace=True),
            ]
            c_in, first = c_out, False
        self.features = nn.Sequential(*layers)  # 32 -> 16 -> 8 -> 4 -> 2 -> 1
        self.classifier = nn.Linear(c_in, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Return class logits (N, K)."""
        return self.classifier(self.features(x).flatten(1))


# ---- your own network for evaluation (issue 29) -------------------------------------------


def arch_title(name: str) -> str:
    """A network as tables and charts name it: "ConvNet-3", or "factory (file.py)"."""
    if name in ARCH_TITLES:
        return ARCH_TITLES[name]
    if is_custom_arch(name):
        path, _, factory = name.rpartition(":")
        return f"{factory} ({Path(path).name})"
    return name


def arch_order(names: Iterable[str]) -> list[str]:
    """Distinct networks in the order tables and charts show them: the built-in ones in
    their usual order, then custom ones as they come."""
    seen = list(dict.fromkeys(names))
    return [a for a in ARCH_TITLES if a in seen] + [a for a in seen if a not in ARCH_TITLES]


def custom_network(spec: str, channels: int, num_classes: int, image_size: int) -> nn.Module:
    """The network ``FACTORY(channels, num_classes, image_size)`` of ``PATH.py:FACTORY``
    returns, checked on a batch of two images of the data's shape; ValueError with one
    line naming the file when it cannot be loaded, called, or does not fit the data."""
    import importlib.util

    path_text, _, factory = spec.rpartition(":")
    path = Path(path_text)
    if not path.is_file():
        raise ValueError(f"custom network {spec}: {path} does not exist")
    module_name = f"gdd_custom_{abs(hash(str(path.resolve())))}"
    module = sys.modules.get(module_name)
    if module is None:
        try:
            loader_spec = importlib.util.spec_from_file_location(module_name, path)
            assert loader_spec is not None and loader_spec.loader is not None
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 - the user's file can fail in any way
            raise ValueError(
                f"custom network {spec}: {path.name} does not import "
                f"({type(exc).__name__}: {exc})"
            ) from None
        sys.modules[module_name] = module
    make = getattr(module, factory, None)
    if not callable(make):
        raise ValueError(f"custom network {spec}: {path.name} has no function {factory}")
    try:
        net = make(channels, num_classes, image_size)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(
            f"custom network {spec}: {factory}({channels}, {num_classes}, {image_size}) "
            f"failed ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(net, nn.Module):
        raise ValueError(
            f"custom network {spec}: {factory} returned a {type(net).__name__}, not a "
            "torch.nn.Module"
        )
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            was = net.training
            net.eval()
            out = net(torch.zeros(2, channels, image_size, image_size))
            net.train(was)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(
            f"custom network {spec}: it does not take {channels} x {image_size} x "
            f"{image_size} images ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, num_classes):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"custom network {spec}: it returns {shape} for 2 images; expected (2, "
            f"{num_classes}) class logits"
        )
    return net


def build_eval_network(
    name: str, channels: int, num_classes: int, image_size: int, width: int | None = None
) -> nn.Module:
    """An evaluation network: a built-in one by name (``width`` scales it) or the user's
    own (``PATH.py:FACTORY``, which builds it at its own width)."""
    if is_custom_arch(name):
        return custom_network(name, channels, num_classes, image_size)
    return build_classifier(name, channels, num_classes, image_size, width)


def build_classifier(
    name: str,
    channels: int,
    num_classes: int,
    image_size: int,
    width: int | None = None,
) -> nn.Module:
    """Build a freshly initialised classifier by name (one of ``ARCHITECTURES``).

    ``width=None`` gives the literature width, so that results are comparable to the
    published tables; any other width scales every channel count of the net by
    ``width / literature_width`` (at least one channel).
    """
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; valid names: {', '.join(ARCHITECTURES)}")
    if image_size not in SUPPORTED_SIZES:
        raise ValueError(f"image_size must be one of {SUPPORTED_SIZES}, got {image_size}")
    if channels < 1 or num_classes < 1:
        raise ValueError(f"channels and num_classes must be >= 1, got {channels}, {num_classes}")
    if width is not None and width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    w = _DEFAULT_WIDTH[name] if width is None else width
    if name == "convnet3":
        return ConvNet3(channels, num_classes, image_size, width=w)
    if name == "resnet10":
        return ResNet((1, 1, 1, 1), channels, num_classes, width=w)
    if name == "resnet18":
        return ResNet((2, 2, 2, 2), channels, num_classes, width=w, norm="instance")
    if name == "resnet18bn":
        return ResNet((2, 2, 2, 2), channels, num_classes, width=w, norm="batch")
    if name == "alexnet":
        return AlexNet(channels, num_classes, image_size, width=w)
    return VGG11(channels, num_classes, image_size, width=w)
