"""Steps per second of phase 1 and phase 2, per preset, on this machine.

    python bench/bench_steps.py                 # cpu preset (and paper where CUDA is present)
    python bench/bench_steps.py --preset paper --device cuda --steps 50
    python bench/bench_steps.py --dataset fashion-mnist --set gan.loss=minimax

Prints one line per phase; record the figures with the machine in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from gdd_studio.config import preset_config, resolve_defaults, resolve_device, set_value
from gdd_studio.data import load_dataset
from gdd_studio.engine.trainer import Trainer


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bench(preset: str, device: str, steps: int, dataset: str, sets: list[str]) -> list[str]:
    cfg = preset_config(preset, dataset)
    cfg.dataset = dataset
    for item in sets:  # KEY=VALUE, as the CLI's --set
        key, _, value = item.partition("=")
        set_value(cfg, key, value)
    cfg.device = device
    resolve_defaults(cfg)
    device = resolve_device(device)
    data = load_dataset(cfg.dataset).to(device)
    t = Trainer(cfg, data, device)
    lines = []
    for phase in (1, 2):
        if phase == 2:
            t.phase, t.phase_step = 2, 0
            t.start_phase2(lambda m: None)
        step = t.phase1_step if phase == 1 else t.phase2_step
        for _ in range(3):  # warm-up (and phase 2's first pool network)
            step()
            t.phase_step += 1
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            out = step()
            t.phase_step += 1
        float(out["g_loss"].detach())
        _sync(device)
        rate = steps / (time.perf_counter() - start)
        total = t.totals[phase]
        lines.append(
            f"{preset:<6} {device:<7} phase {phase}: {rate:7.2f} steps/s "
            f"({total} steps in the preset: {total / rate / 60:.1f} min)"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", action="append")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--dataset", default="mnist-sample")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    presets = args.preset or (["cpu", "paper"] if torch.cuda.is_available() else ["cpu"])
    print(
        f"# {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}; {' '.join(args.set) or 'the preset as it is'}"
    )
    for preset in presets:
        for line in bench(preset, args.device, args.steps, args.dataset, args.set):
            print(line, flush=True)


if __name__ == "__main__":
    main()
