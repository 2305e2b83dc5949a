"""The verbs of runs: ``run`` (a config from preset, file, flags and ``--set``),
``resume``, and the lists a new run chooses from (``datasets``, ``presets``). Ctrl-C stops
a run cleanly with a checkpoint that ``resume`` continues from."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..config import (
    FULL_DATASETS,
    PRESETS,
    RunConfig,
    merge_dict,
    not_text_message,
    preset_config,
    set_value,
)
from ..errors import GddError
from .console import EXIT_OK, ConsoleReporter, load_dataset_saying, stop_on_signals


def build_config(args: argparse.Namespace) -> RunConfig:
    """Preset, then the config file, then the flags, then ``--set``: later wins."""
    file_data: dict[str, Any] | None = None
    if args.config:
        try:
            file_data = json.loads(Path(args.config).read_text(encoding="utf-8"))
        except OSError as exc:
            raise GddError(f"cannot read config file {args.config}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise GddError(not_text_message(args.config)) from None
        except json.JSONDecodeError as exc:
            raise GddError(f"config file {args.config} is not valid JSON: {exc}") from None
        if not isinstance(file_data, dict):
            raise GddError(f"config file {args.config} must hold a JSON object")
    preset = args.preset or (file_data or {}).get("preset") or "cpu"
    dataset = args.dataset or (file_data or {}).get("dataset")
    cfg = preset_config(preset, dataset if isinstance(dataset, str) else None)
    if file_data:
        merge_dict(cfg, file_data)
        cfg.preset = preset if args.preset else cfg.preset
    flags = {
        "dataset": args.dataset, "ipc": args.ipc, "distill.tau": args.tau,
        "distill.lam": args.lam, "device": args.device, "seed": args.seed,
        "data_dir": args.data_dir, "runtime.precision": args.precision,
        "runtime.compile": args.compile,
    }  # fmt: skip
    for key, value in flags.items():
        if value is not None:
            set_value(cfg, key, value)
    if args.download:
        cfg.download = True
    for item in args.set or []:
        if "=" not in item:
            raise GddError(f"--set expects KEY=VALUE, got '{item}'")
        key, value = item.split("=", 1)
        set_value(cfg, key.strip(), value)
    return cfg


def _execute(run: Any, quiet: bool) -> int:
    from ..engine.events import RunControl

    control = RunControl()
    reporter = ConsoleReporter(quiet=quiet)
    with stop_on_signals(control, reporter._line, "stopping at the next step boundary") as got:
        status = run.execute(reporter, control)
    if status == "stopped":
        reporter._line(f"stopped; continue with: gdd-studio-cli resume {run.dir}")
        return got.exit_code
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from ..config import resolve_defaults, validate
    from ..engine.run import Run
    from ..paths import runs_dir

    cfg = build_config(args)
    if args.print_config:
        resolve_defaults(cfg)
        validate(cfg)
        print(cfg.to_json())
        return EXIT_OK
    resolve_defaults(cfg)
    validate(cfg)  # before the (possibly slow) dataset load
    data = load_dataset_saying(cfg, args.quiet)
    run = Run.create(cfg, Path(args.runs_dir) if args.runs_dir else runs_dir(), data)
    # The folder on stdout, alone, so that RUN=$(gdd-studio-cli run ...) captures it;
    # everything else (progress, log) goes to stderr.
    print(run.dir, flush=True)
    if not sys.stdout.isatty():
        print(f"run folder: {run.dir}", file=sys.stderr)
    return _execute(run, args.quiet)


def cmd_resume(args: argparse.Namespace) -> int:
    from ..engine.run import Run, busy_message

    run = Run.open(args.run_dir, restart=args.restart)
    run.set_runtime(args.precision, args.compile)
    status = run._info.get("status")
    if status == "finished" and run.generator_path.exists():
        raise GddError(f"run {run.dir} has already finished; nothing to resume")
    if status in ("running", "paused"):
        raise GddError(busy_message(run.dir, run._info))
    if args.restart and not (run.lost_checkpoint or run.damaged_checkpoint):
        raise GddError(
            f"--restart is only for a run whose checkpoint is missing or damaged; {run.dir} "
            "resumes from its own"
        )
    return _execute(run, args.quiet)


def cmd_import(args: argparse.Namespace) -> int:
    """A set made elsewhere, checked against its dataset and stored as a folder of the
    runs folder, printed on stdout (as ``run`` prints its folder)."""
    from ..config import RunConfig
    from ..export.imported import import_set
    from ..paths import runs_dir

    cfg = RunConfig(dataset=args.dataset, data_dir=args.data_dir)
    data = load_dataset_saying(cfg, args.quiet)
    folder = import_set(
        Path(args.path), args.dataset, data, Path(args.runs_dir) if args.runs_dir else runs_dir()
    )
    print(folder, flush=True)
    if not args.quiet:
        print(f"imported {args.path} as {folder.name}: evaluate it with gdd-studio-cli evaluate "
              f"{folder}", file=sys.stderr)  # fmt: skip
    return EXIT_OK


def cmd_datasets(args: argparse.Namespace) -> int:
    from ..data import list_datasets

    for st in list_datasets(args.data_dir):
        mark = "available" if st.available else "missing"
        print(f"{st.id:<14} {mark:<10} {st.title}")
        note = st.note if st.available else f"{st.note}; pass --data-dir or --download"
        print(f"{'':<14} {note}")
    print("folder:PATH    a folder with train/<class>/ and test/<class>/ images")
    print("npz:PATH       an .npz with x_train, y_train, x_test, y_test (and classes)")
    return EXIT_OK


def cmd_presets(args: argparse.Namespace) -> int:
    from ..engine.selection import POOL_WORDS

    for name, text in PRESETS.items():
        c = preset_config(name)
        print(f"{name:<6} {text}")
        print(
            f"       width {c.model.width}; phase 1: {c.gan.epochs} epochs, batch "
            f"{c.gan.batch_size}, lr {c.gan.lr:g}; phase 2: {c.distill.epochs} epochs, batch "
            f"{c.distill.batch_size}, pool {'+'.join(c.distill.pool)} x{c.distill.pool_batches}"
            f" batches; eval {c.evaluation.epochs} epochs x{c.evaluation.repeats}"
        )
        full = preset_config(name, FULL_DATASETS[-1])
        if full != c:
            epochs = f"{full.gan.epochs} epoch{'s' if full.gan.epochs != 1 else ''}"
            d = full.distill
            phase2 = (
                f"{d.epochs * d.steps_per_epoch} steps" if d.steps_per_epoch
                else f"{d.epochs} epochs"
            )  # fmt: skip
            later = full.refine.later_iterations
            later = (
                f"the time of {later} at the run's IPC" if later is not None
                else "as many iterations"
            )  # fmt: skip
            refine = (
                f"then {full.refine.iterations} DM iterations (a set made later at another "
                f"IPC: {later})" if full.refine.method == "dm" else "no refinement"
            )  # fmt: skip
            print(
                f"       on {', '.join(FULL_DATASETS)}: phase 1: {epochs}; "
                f"phase 2: {phase2}; herding among "
                f"{POOL_WORDS[full.sampling.choose_from]}; {refine}"
            )
    return EXIT_OK
