"""The ``sweep`` verb: many runs from one base config (``--axis`` or ``--ablation``),
each finished member evaluated with ``--evaluate``'s flags; ``--resume`` continues one as
its sweep.json records it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..config import preset_config
from ..errors import GddError
from .console import (
    EXIT_FAILED,
    EXIT_OK,
    ConsoleReporter,
    load_dataset_saying,
    stop_on_signals,
)
from .evaluate import _int_list
from .executors import _check_executor_flags, _executor
from .runs import build_config


def _evaluate_overrides(text: str, template: argparse.ArgumentParser) -> dict[str, Any]:
    """``--evaluate "--ipc 1,10 --archs convnet3 ..."``: evaluate's own flags (those of
    ``template``, the evaluate verb's parser), as the EvalConfig fields (and device,
    sampling) they set, checked now."""
    import copy
    import shlex
    from dataclasses import asdict

    from ..config import EvalConfig, validate_evaluation

    parser = argparse.ArgumentParser(prog="--evaluate", add_help=False, exit_on_error=False)
    for action in template._actions:
        if action.dest not in ("help", "run_dir", "quiet", "executor", "workers", "address"):
            parser._add_action(copy.copy(action))
    try:
        ns, unknown = parser.parse_known_args(shlex.split(text))
    except (argparse.ArgumentError, ValueError) as exc:
        raise GddError(f"--evaluate: {exc}") from None
    if unknown:
        raise GddError(f"--evaluate: evaluate does not take {' '.join(unknown)}")
    out: dict[str, Any] = asdict(preset_config(ns.preset).evaluation) if ns.preset else {}
    if ns.ipc:
        out["ipcs"] = _int_list(ns.ipc, "--ipc")
    if ns.archs:
        out["archs"] = [a.strip() for a in ns.archs.split(",") if a.strip()]
    for key in ("epochs", "repeats", "width", "seed", "batch_size", "protocol", "report"):
        if getattr(ns, key) is not None:
            out[key] = getattr(ns, key)
    if ns.full_real:
        out["full_real"] = True
    if ns.no_gan_only:
        out["gan_only"] = False
    if ns.no_dsa:
        out["dsa"] = False
    if ns.dm_real or ns.dm_minutes is not None:
        out["dm_real"], out["dm_minutes"] = True, ns.dm_minutes
    probe = EvalConfig()
    for key, value in out.items():
        setattr(probe, key, value)
    validate_evaluation(probe)
    picked = (("selection", ns.selection), ("candidates", ns.candidates),
              ("choose_from", ns.choose_from))  # fmt: skip
    if any(v is not None for _, v in picked):
        out["sampling"] = {k: v for k, v in picked if v is not None}
    if ns.device:
        out["device"] = ns.device
    return out


def cmd_sweep(args: argparse.Namespace) -> int:
    from ..config import resolve_defaults, validate
    from ..engine.events import RunControl
    from ..paths import runs_dir
    from ..sweep.sweep import Sweep, parse_axis

    _check_executor_flags(args)
    if args.resume:
        base = [f"--{a.dest.replace('_', '-')}" for a in args.base_actions
                if getattr(args, a.dest) not in (None, False, [])]  # fmt: skip
        extra = base + ["--axis"] * bool(args.axis) + ["--ablation"] * args.ablation
        extra += ["--evaluate"] * bool(args.evaluate)
        extra += ["--own-phase1"] * args.own_phase1
        if extra:
            raise GddError(
                f"--resume continues the sweep as its sweep.json records it; drop {extra[0]}"
            )
        sweep = Sweep.open(args.resume)
    else:
        cfg = build_config(args)
        axes = [parse_axis(a) for a in args.axis or []]
        if not axes and not args.ablation:
            raise GddError("a sweep needs --axis KEY=V1,V2,... or --ablation")
        evaluate = (
            _evaluate_overrides(args.evaluate, args.evaluate_parser)
            if args.evaluate is not None
            else None
        )
        resolve_defaults(cfg)
        validate(cfg)
        data = None
        if not any(k in ("dataset", "data_dir") for k, _ in axes):
            data = load_dataset_saying(cfg, args.quiet)
        root = Path(args.runs_dir) if args.runs_dir else runs_dir()
        sweep = Sweep.create(
            cfg, axes, root, args.ablation, evaluate, data, share_phase1=not args.own_phase1
        )
    print(sweep.dir, flush=True)
    executor = _executor(args)
    control = RunControl()
    reporter = ConsoleReporter(quiet=args.quiet)
    stopping = "stopping every member at its next step"
    try:
        with stop_on_signals(control, reporter._line, stopping) as got:
            counts = sweep.execute(executor, control, say=reporter._line, on_event=reporter)
    finally:
        if executor is not None:
            executor.close()
    n = sum(counts.values())
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    reporter._line(f"sweep {sweep.dir.name}: {summary} of {n} members")
    if counts.get("finished", 0) < n:
        reporter._line(f"continue with: gdd-studio-cli sweep --resume {sweep.dir}")
    if control.stop_requested:
        return got.exit_code
    return EXIT_OK if counts.get("finished", 0) == n else EXIT_FAILED
