"""The ``evaluate`` verb: a finished run's evaluation, its settings from the run's own,
a preset and the flags; the results as a table. Ctrl-C stops after the epoch, keeping the
rows already finished."""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any

from ..config import RuntimeConfig, SamplingConfig, preset_config
from ..errors import GddError
from .console import EXIT_OK, ConsoleReporter, stop_on_signals
from .executors import _executor


def _int_list(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise GddError(f"{what} must be comma-separated whole numbers, got '{text}'") from None
    if not values:
        raise GddError(f"{what} is empty")
    return values


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..engine.events import RunControl
    from ..evaluation.protocol import Evaluation
    from ..rundir.artifacts import open_run

    run = open_run(Path(args.run_dir))  # read once; the evaluation gets this run
    settings = copy.deepcopy(run.config.evaluation)
    if args.preset:
        settings = preset_config(args.preset).evaluation
    if args.ipc:
        settings.ipcs = _int_list(args.ipc, "--ipc")
    if args.archs:
        settings.archs = [_absolute(a.strip()) for a in args.archs.split(",") if a.strip()]
    for key in ("epochs", "repeats", "width", "seed", "batch_size", "protocol", "report"):
        if getattr(args, key) is not None:
            setattr(settings, key, getattr(args, key))
    if args.full_real:
        settings.full_real = True
    if args.no_gan_only:
        settings.gan_only = False
    if args.no_dsa:
        settings.dsa = False
    if args.dm_real or args.dm_minutes is not None:
        settings.dm_real, settings.dm_minutes = True, args.dm_minutes
    sampling = _sampling_override(args, run.config.sampling)
    executor = _executor(args)
    runtime = RuntimeConfig(
        args.precision or run.config.runtime.precision, args.compile or run.config.runtime.compile
    )
    evaluation = Evaluation(run, settings, device=args.device, sampling=sampling, runtime=runtime)
    control = RunControl()
    reporter = ConsoleReporter(quiet=args.quiet)
    stopping = "stopping after this epoch (finished rows are kept)"
    try:
        with stop_on_signals(control, reporter._line, stopping) as got:
            doc = evaluation.execute(reporter, control, executor=executor)
    finally:
        if executor is not None:
            executor.close()
    print(_results_table(doc["results"]))
    from ..evaluation.results import aside_rows
    from ..evaluation.scores import scores_text

    scores = scores_text(doc["results"], aside_rows(run.dir))
    if scores:
        print(scores)
    if doc.get("status") == "stopped":
        return got.exit_code
    return EXIT_OK


def _absolute(arch: str) -> str:
    """A custom network's file as an absolute path (rows and workers find it anywhere)."""
    from ..config import is_custom_arch

    if not is_custom_arch(arch):
        return arch
    path, _, factory = arch.rpartition(":")
    return f"{Path(path).resolve()}:{factory}"


def _sampling_override(args: argparse.Namespace, run_sampling: SamplingConfig):
    """The run's phase-3 settings with --selection/--candidates/--choose-from applied, or
    None."""
    if args.selection is None and args.candidates is None and args.choose_from is None:
        return None
    sampling = copy.deepcopy(run_sampling)
    if args.selection is not None:
        sampling.selection = args.selection
    if args.candidates is not None:
        sampling.candidates = args.candidates
    if args.choose_from is not None:
        sampling.choose_from = args.choose_from
    return sampling


def _results_table(rows: list[dict[str, Any]]) -> str:
    from ..evaluation.rows import accuracy_text, generator_share

    head = (
        f"{'network':<10} {'IPC':>5}  {'source':<12} {'selection':<10} {'made by G':>9} "
        f"{'accuracy (%)':>16}  n"
    )
    lines = [head]
    for r in rows:
        ipc = "all" if r["ipc"] is None else str(r["ipc"])
        acc = accuracy_text(r)
        sel = r.get("selection") or ("random" if r["source"] in ("distilled", "gan-only") else "")
        lines.append(
            f"{r['arch']:<10} {ipc:>5}  {r['source']:<12} {sel:<10} {generator_share(r):>9} "
            f"{acc:>16}  {r['n']}"
        )
    widths = sorted({r["width"] for r in rows if r.get("width") is not None})
    if widths:  # a narrowed network scores below the literature's: say so under the table
        named = ", ".join(map(str, widths))
        lines.append(f"networks of width {named}, not the literature's (evaluate --width)")
    return "\n".join(lines)
