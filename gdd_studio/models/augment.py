"""Differentiable Siamese Augmentation (DSA; Zhao & Bilen, ICML 2021), reimplemented.

Why it exists here: phase 2 matches a pool model's predictions on real and generated
images, and phase 4 trains evaluation networks on a tiny distilled set. Both need
augmentation that (a) lets gradients flow back to the images, so the generator can be
trained through it, and (b) can apply *the same* random transform to a real image and to
its synthetic partner ("siamese"), so that the matching compares like with like.

Differences from the reference code, all deliberate:
- All randomness comes from an explicit CPU ``torch.Generator`` passed in by the caller,
  never from the global RNG, so a run is exactly reproducible on any device and can be
  resumed from a checkpoint by saving that generator's state.
- Parameters are per sample. In siamese use, a batch ``cat([real, syn])`` of 2n samples
  reuses the n per-sample parameters for both halves (sample i and n+i are transformed
  alike). The reference code instead gives one parameter set to the whole batch.
- Random integers (crop shifts, cutout positions) are drawn as uniforms and turned into
  integers in ``apply``, so ``sample`` does not need to know the image size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

DSA_STRATEGY = "color_crop_cutout_flip_scale_rotate"
DIGIT_STRATEGY = "color_crop_cutout_scale_rotate"  # no flip: a mirrored digit is another glyph
FAMILIES: tuple[str, ...] = ("color", "crop", "cutout", "flip", "scale", "rotate")
_IDENTITY_NAMES = ("", "none", "None")


@dataclass
class DSAParams:
    """Strength of each transform; the defaults are DSA's (ParamDiffAug)."""

    scale: float = 1.2  # scale factors drawn in [1/scale, scale], per axis
    rotate: float = 15.0  # degrees, drawn in [-rotate, rotate]
    crop: float = 0.125  # maximum translation as a fraction of the image size
    cutout: float = 0.5  # side of the zeroed square as a fraction of the image size
    brightness: float = 1.0
    saturation: float = 2.0
    contrast: float = 0.5
    flip: float = 0.5  # probability of a horizontal flip


def parse_strategy(strategy: str) -> tuple[str, ...]:
    """Split a '_'-joined strategy into family names; "" or "none" means identity."""
    if strategy in _IDENTITY_NAMES:
        return ()
    names = tuple(strategy.split("_"))
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise ValueError(
            f"unknown DSA transform(s) {unknown} in {strategy!r}; valid: {', '.join(FAMILIES)}"
        )
    return names


class DSA:
    """Differentiable siamese augmentation with explicit, checkpointable randomness.

    ``mode="S"`` (DSA's default) picks one family at random per call; ``mode="M"``
    applies every family of the strategy in order.
    """

    def __init__(
        self,
        strategy: str = DSA_STRATEGY,
        mode: str = "S",
        params: DSAParams | None = None,
    ) -> None:
        if mode not in ("S", "M"):
            raise ValueError(f"DSA mode must be 'S' (single) or 'M' (multiple), got {mode!r}")
        self.strategy = strategy
        self.families = parse_strategy(strategy)
        self.mode = mode
        self.params = params if params is not None else DSAParams()

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, generator: torch.Generator) -> dict[str, Any]:
        """Draw every random parameter for a batch of n samples (CPU tensors).

        The result holds ``n``, ``families`` (the families to apply, in order: one for
        mode "S", all for "M", none for identity) and per-sample tensors keyed
        ``"<family>_<what>"``.
        """
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        out: dict[str, Any] = {"n": n, "families": ()}
        if not self.families:
            return out
        if self.mode == "S":
            pick = int(torch.randint(0, len(self.families), (1,), generator=generator))
            chosen: tuple[str, ...] = (self.families[pick],)
        else:
            chosen = self.families
        out["families"] = chosen
        p = self.params

        def rand() -> Tensor:
            return torch.rand(n, generator=generator)

        for family in chosen:
            if family == "color":
                out["color_brightness"] = rand()
                out["color_saturation"] = rand()
                out["color_contrast"] = rand()
            elif family == "crop":
                out["crop_u"] = rand()
                out["crop_v"] = rand()
            elif family == "cutout":
                out["cutout_u"] = rand()
                out["cutout_v"] = rand()
            elif family == "flip":
                out["flip_mask"] = rand() < p.flip
            elif family == "scale":
                lo = 1.0 / p.scale
                out["scale_sx"] = rand() * (p.scale - lo) + lo
                out["scale_sy"] = rand() * (p.scale - lo) + lo
            elif family == "rotate":
                out["rotate_angle"] = (rand() - 0.5) * 2.0 * math.radians(p.rotate)
        return out

    # ------------------------------------------------------------------ applying
    def apply(self, x: Tensor, sampled: dict[str, Any]) -> Tensor:
        """Apply sampled parameters to x (N, C, H, W), differentiably w.r.t. x.

        x may hold k*n samples for the n sampled parameter sets: sample j then uses
        parameter set j % n, which is what a siamese batch ``cat([real, syn])`` needs.
        """
        n = int(sampled["n"])
        if x.dim() != 4:
            raise ValueError(f"expected a (N, C, H, W) batch, got shape {tuple(x.shape)}")
        if x.shape[0] % n != 0:
            raise ValueError(f"batch of {x.shape[0]} is not a multiple of the {n} sampled sets")
        k = x.shape[0] // n

        def get(key: str) -> Tensor:
            value = sampled[key].repeat(k)
            if value.dtype == torch.bool:
                return value.to(x.device)
            return value.to(device=x.device, dtype=x.dtype)

        for family in sampled["families"]:
            if family == "color":
                x = self._color(
                    x, get("color_brightness"), get("color_saturation"), get("color_contrast")
                )
            elif family == "crop":
                x = self._crop(x, get("crop_u"), get("crop_v"))
            elif family == "cutout":
                x = self._cutout(x, get("cutout_u"), get("cutout_v"))
            elif family == "flip":
                x = torch.where(get("flip_mask")[:, None, None, None], x.flip(3), x)
            elif family == "scale":
                sx, sy = get("scale_sx"), get("scale_sy")
                zero = torch.zeros_like(sx)
                theta = torch.stack(
                    [torch.stack([sx, zero, zero], 1), torch.stack([zero, sy, zero], 1)], 1
                )
                x = _affine(x, theta)
            elif family == "rotate":
                a = get("rotate_angle")
                cos, sin, zero = torch.cos(a), torch.sin(a), torch.zeros_like(a)
                theta = torch.stack(
                    [torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1
                )
                x = _affine(x, theta)
            else:  # pragma: no cover - sample() only emits known families
                raise ValueError(f"unknown DSA transform {family!r}")
        return x

    def __call__(self, x: Tensor, generator: torch.Generator, siamese_groups: int = 1) -> Tensor:
        """Augment x; with siamese_groups=k, the k consecutive blocks share parameters."""
        if siamese_groups < 1 or x.shape[0] % siamese_groups != 0:
            raise ValueError(
                f"batch of {x.shape[0]} cannot be split into {siamese_groups} siamese groups"
            )
        return self.apply(x, self.sample(x.shape[0] // siamese_groups, generator))

    # ------------------------------------------------------------------ transforms
    def _color(self, x: Tensor, b: Tensor, s: Tensor, c: Tensor) -> Tensor:
        """Brightness, saturation, contrast in DSA's order (saturation is a no-op for 1 ch)."""
        p = self.params
        x = x + (b[:, None, None, None] - 0.5) * p.brightness
        mean_c = x.mean(dim=1, keepdim=True)
        x = (x - mean_c) * (s[:, None, None, None] * p.saturation) + mean_c
        mean_all = x.mean(dim=(1, 2, 3), keepdim=True)
        return (x - mean_all) * (c[:, None, None, None] + p.contrast) + mean_all

    def _crop(self, x: Tensor, u: Tensor, v: Tensor) -> Tensor:
        """Translate by up to ratio*size pixels per axis, filling with zeros (DSA's crop)."""
        h, w = x.shape[2], x.shape[3]
        shift_h = int(h * self.params.crop + 0.5)
        shift_w = int(w * self.params.crop + 0.5)
        th = _uniform_int(u, -shift_h, shift_h)
        tw = _uniform_int(v, -shift_w, shift_w)
        rows = torch.arange(h, device=x.device)[None, :] + th[:, None]  # (N, H)
        cols = torch.arange(w, device=x.device)[None, :] + tw[:, None]  # (N, W)
        n, c = x.shape[0], x.shape[1]
        idx_r = rows.clamp(0, h - 1)[:, None, :, None].expand(n, c, h, w)
        out = x.gather(2, idx_r)
        idx_c = cols.clamp(0, w - 1)[:, None, None, :].expand(n, c, h, w)
        out = out.gather(3, idx_c)
        valid = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
        return out * valid[:, None].to(x.dtype)

    def _cutout(self, x: Tensor, u: Tensor, v: Tensor) -> Tensor:
        """Zero a square of side ratio*size at a random centre (clipped at the borders)."""
        h, w = x.shape[2], x.shape[3]
        size_h = int(h * self.params.cutout + 0.5)
        size_w = int(w * self.params.cutout + 0.5)
        off_h = _uniform_int(u, 0, h - 1 + (1 - size_h % 2))
        off_w = _uniform_int(v, 0, w - 1 + (1 - size_w % 2))
        top = (off_h - size_h // 2)[:, None]
        left = (off_w - size_w // 2)[:, None]
        r = torch.arange(h, device=x.device)[None, :]
        col = torch.arange(w, device=x.device)[None, :]
        in_r = (r >= top) & (r < top + size_h)  # (N, H)
        in_c = (col >= left) & (col < left + size_w)  # (N, W)
        keep = ~(in_r[:, :, None] & in_c[:, None, :])
        return x * keep[:, None].to(x.dtype)


def _uniform_int(u: Tensor, low: int, high: int) -> Tensor:
    """Map uniforms in [0, 1) to integers uniform in [low, high] (inclusive)."""
    span = high - low + 1
    return (u * span).floor().long().clamp(max=span - 1) + low


def _affine(x: Tensor, theta: Tensor) -> Tensor:
    """Resample x through per-sample 2x3 affine matrices (zero padding outside)."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=True)
    return F.grid_sample(x, grid, align_corners=True)
