"""How the networks run: arithmetic precision and compilation, one setting for every phase.

``runtime.precision`` (auto | fp32 | bf16) and ``runtime.compile`` (auto | on | off) are
resolved here, per *part* of the work, into a :class:`Runtime` that the training loops use:
``rt.autocast()`` around forward passes and ``rt.wrap(net)`` for the callable to train.

What ``auto`` picks, and why (bench/bench_runtime.py measures it; bench/RESULTS.md):
- bf16 autocast only where the arithmetic is native: a CPU with AVX-512 BF16 or AMX, or a
  CUDA device that supports bf16. Elsewhere bf16 is emulated and no faster than fp32.
  The GAN (generator and WGAN-GP critic) stays fp32 under ``auto``: its gradient penalty
  is a second derivative and its losses are differences of large critic scores, where
  bf16's 8-bit mantissa is the first place precision would hurt; ask for ``bf16`` to
  use it there anyway.
- ``torch.compile`` where it works (a C++ compiler is present on a CPU; CUDA or CPU
  devices) and where the part's work repays the compilation, which costs tens of seconds
  up front: at least COMPILE_MIN_TFLOP of arithmetic (``work_tflop``: forward FLOPs of
  one image, counted once per network shape, times what the part will run). A width-16
  test network over a few hundred steps stays eager (measured: compiled, it was slower
  end to end); ConvNet-3 at width 128 over the same steps compiles. Compiled code is
  reused by every later network of the same architecture and input shape in the process
  (an evaluation's repeats).
  The critic's gradient penalty needs a double backward, which compiled graphs do not
  support: that one call runs the critic eagerly, everything else of the GAN compiled.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..config import COMPILE_MODES, PRECISIONS

# The parts of a run that train networks, each resolved on its own.
PARTS: tuple[str, ...] = ("gan", "pool", "observer", "refine", "evaluation")
# ``auto`` compiles a part only when it runs at least this much arithmetic (forward and
# backward, in TFLOP): about two minutes of eager work on a 2-core CPU (50 GFLOP/s), what
# a cold compilation of a part's few graphs (30-60 s) and its 2x faster steps break even
# on. Below it (a smoke run, the test suite, narrow networks) eager is faster end to end.
COMPILE_MIN_TFLOP = 6.0
# Parts whose precision stays fp32 under ``auto`` (see the module docstring).
_FP32_UNDER_AUTO: tuple[str, ...] = ("gan",)


@functools.cache
def native_bf16(device_type: str) -> bool:
    """Whether bf16 arithmetic is native (not emulated) on this kind of device."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type == "cpu":
        cpu = getattr(torch, "cpu", None)
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(bool(getattr(cpu, name, lambda: False)()) for name in probes)
    return False


@functools.cache
def compile_available(device_type: str) -> bool:
    """Whether torch.compile can run here: inductor needs a C++ compiler for CPU code."""
    if device_type not in ("cpu", "cuda") or not hasattr(torch, "compile"):
        return False
    if device_type == "cpu":
        return any(shutil.which(cc) for cc in ("g++", "c++", "clang++"))
    return True


@functools.cache
def _configure_inductor() -> None:
    """Compile in this process: inductor would otherwise start a pool of compile workers,
    one per core, beside the training threads that already use this process's share.
    Called before the first compilation of every process that compiles."""
    import torch._inductor.config as inductor_config

    inductor_config.compile_threads = 1
    # A CUDA build of torch on a machine without CUDA warns at the first CPU compilation
    # that it found no CUDA runtime: true, and nothing a user of the CPU path can act on.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Runtime:
    """A resolved runtime for one part: what the loops do, and what the run records."""

    device_type: str = "cpu"
    bf16: bool = False
    compiled: bool = False

    @property
    def precision(self) -> str:
        return "bf16" if self.bf16 else "fp32"

    def autocast(self) -> contextlib.AbstractContextManager:
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=torch.bfloat16)

    def wrap(self, net: nn.Module) -> Any:
        """The callable to run ``net`` with: compiled (sharing its parameters) or itself.

        The checkpoint keeps saving ``net``'s own state_dict; only calls go through this.
        Shapes are static: each batch size compiles once (an epoch's last, shorter batch is
        a second graph), which is cheaper than dynamic shapes' slower kernels.
        """
        if not self.compiled:
            return net
        _configure_inductor()
        return torch.compile(net, dynamic=False)

    def describe(self) -> dict[str, Any]:
        return {"precision": self.precision, "compile": self.compiled}


FP32_EAGER = Runtime()


def check(precision: str, compile_mode: str) -> None:
    """Raise ValueError naming the choices for an unknown setting."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not '{precision}'")
    if compile_mode not in COMPILE_MODES:
        raise ValueError(f"compile must be one of {', '.join(COMPILE_MODES)}, not '{compile_mode}'")


@functools.cache
def forward_flops(build: Callable[..., nn.Module], args: tuple, shape: tuple[int, ...]) -> float:
    """FLOPs of one forward pass of one input of ``shape`` through ``build(*args)`` in eval
    mode, counted once per process for each network and shape."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.random.fork_rng(devices=[]):
        net = build(*args).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(torch.zeros(1, *shape))
    return float(counter.get_total_flops())


def work_tflop(forward: float, passes: float) -> float:
    """Training work in TFLOP: ``passes`` images through forward and backward (x3)."""
    return 3 * forward * passes / 1e12


def resolve(
    precision: str, compile_mode: str, device: str | torch.device, part: str, tflop: float
) -> Runtime:
    """The runtime of one part that will do ``tflop`` of training arithmetic on ``device``.

    Explicit settings are obeyed where the device can run them at all (bf16 autocast
    runs everywhere, emulated where not native; compile needs ``compile_available``).
    """
    check(precision, compile_mode)
    if part not in PARTS:
        raise ValueError(f"unknown part '{part}'")
    kind = torch.device(device).type
    if precision == "auto":
        bf16 = native_bf16(kind) and part not in _FP32_UNDER_AUTO
    else:
        bf16 = precision == "bf16" and kind in ("cpu", "cuda")
    if compile_mode == "auto":
        compiled = compile_available(kind) and tflop >= COMPILE_MIN_TFLOP
    else:
        compiled = compile_mode == "on" and compile_available(kind)
    return Runtime(kind, bf16, compiled)
