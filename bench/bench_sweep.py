"""What each executor costs: the same sweep and the same evaluation grid, run here one at a
time, in worker processes, and on a local Ray.

At smoke scale the work is seconds, so the figures are mostly the executors' own
overhead (starting worker processes, importing torch in each, starting Ray, shipping jobs)
against what running two jobs at once saves. It also checks that every executor made the
same generators and the same accuracies as the executor before it (on a CPU they are equal
when the thread counts are: the local executor uses every torch thread, a worker its share,
and a different thread count sums in a different order).

    python bench/bench_sweep.py [--members 4] [--workers 2] [--skip-ray]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch

from gdd_studio.config import EvalConfig, preset_config
from gdd_studio.engine.events import RunControl
from gdd_studio.evaluation.protocol import Evaluation, load_results
from gdd_studio.sweep.executors import LocalExecutor, ProcessExecutor, RayExecutor
from gdd_studio.sweep.sweep import Sweep


def eval_settings() -> EvalConfig:
    # One grid: ConvNet-3 at IPC 10, distilled / GAN only / random real, 2 repeats each.
    return EvalConfig(archs=["convnet3"], ipcs=[10], epochs=20, repeats=2, width=16)


def timed_sweep(executor, members: int, root: Path) -> tuple[float, Sweep]:
    base = preset_config("smoke")
    base.dataset, base.ipc, base.device = "mnist-sample", 10, "cpu"
    start = time.perf_counter()
    sweep = Sweep.create(base, [("seed", [str(s) for s in range(members)])], root / "runs")
    counts = sweep.execute(executor, RunControl())
    wall = time.perf_counter() - start
    assert counts == {"finished": members}, counts
    return wall, sweep


def timed_eval(executor, template: Path, root: Path) -> tuple[float, dict]:
    run = root / template.name
    shutil.copytree(template, run)
    start = time.perf_counter()
    doc = Evaluation(run, eval_settings(), device="cpu").execute(
        control=RunControl(), executor=None if isinstance(executor, LocalExecutor) else executor
    )
    wall = time.perf_counter() - start
    assert doc["status"] == "finished"
    return wall, {(r["source"], r["ipc"]): r["accuracies"] for r in load_results(run)["results"]}


def generators(sweep: Sweep) -> list[dict[str, torch.Tensor]]:
    return [
        torch.load(sweep.member_dir(m) / "generator.pt", weights_only=True) for m in sweep.members
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-ray", action="store_true")
    args = ap.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} torch threads; load average before: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    threads = torch.get_num_threads()
    executors = [(f"local (this process, {threads} threads)", lambda: LocalExecutor())]
    share = max(1, threads // args.workers)
    executors.append(
        (f"{args.workers} processes x {share} threads", lambda: ProcessExecutor(args.workers))
    )
    if not args.skip_ray:
        import ray

        def ray_executor():
            if not ray.is_initialized():
                ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
            return RayExecutor()

        executors.append((f"Ray, local, {args.workers} tasks x {share} CPU", ray_executor))
    reference_gens = reference_acc = template = None
    print(f"\n{'executor':<36} {'sweep wall (s)':>14} {'eval wall (s)':>14}  "
          "same results as the row above")  # fmt: skip
    try:
        for i, (name, make) in enumerate(executors):
            root = tmp / f"e{i}"
            start = time.perf_counter()
            executor = make()
            started = time.perf_counter() - start
            try:
                sweep_wall, sweep = timed_sweep(executor, args.members, root)
                gens = generators(sweep)
                if template is None:
                    # The grid's sets are chosen once (herding's observer is trained here),
                    # so every executor's evaluation times the networks alone.
                    template = tmp / "template" / sweep.member_dir(sweep.members[0]).name
                    shutil.copytree(sweep.member_dir(sweep.members[0]), template)
                    Evaluation(template, eval_settings(), device="cpu").execute()
                    (template / "eval" / "results.json").unlink()
                    (template / "eval" / "results.csv").unlink()
                eval_wall, acc = timed_eval(executor, template, root)
            finally:
                executor.close()
            same = ""
            if reference_gens is not None:
                same_g = all(
                    torch.equal(a[k], b[k])
                    for a, b in zip(gens, reference_gens, strict=True)
                    for k in a
                )
                same = f"generators {'equal' if same_g else 'differ'}, accuracies " + (
                    "equal" if acc == reference_acc else "differ"
                )
            reference_gens, reference_acc = gens, acc
            print(f"{name:<36} {sweep_wall:>14.1f} {eval_wall:>14.1f}  {same}"
                  f"{f' (start {started:.1f} s)' if started > 0.5 else ''}")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
