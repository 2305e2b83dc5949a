"""``gdd-studio-cli``: the same engine as the window, headless, with the same config file.

Bad input ends with one line on stderr and a non-zero exit, never a traceback; Ctrl-C
stops a run cleanly with a checkpoint that ``resume`` continues from.
"""

from __future__ import annotations

import argparse
import copy
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from .config import (
    COMPILE_MODES,
    PRECISIONS,
    PRESETS,
    RunConfig,
    RuntimeConfig,
    SamplingConfig,
    merge_dict,
    not_text_message,
    preset_config,
    set_value,
)
from .engine.events import fmt_duration
from .errors import GddError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED = 0, 1, 2, 130


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
    cfg = preset_config(preset)
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


class ConsoleReporter:
    """Prints a progress bar with rate and ETA on a terminal, plain lines otherwise."""

    def __init__(self, stream=None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.quiet = quiet
        self._last = 0.0
        self._bar_open = False

    def __call__(self, event: Any) -> None:
        from .engine.events import EvalProgress, EvalResult, LogMessage, Progress, RunFinished
        from .evaluation.dm_real import DmProgress

        if isinstance(event, Progress):
            self._progress(event)
        elif isinstance(event, EvalProgress):
            self._eval_progress(event)
        elif isinstance(event, DmProgress):
            self._dm_progress(event)
        elif isinstance(event, EvalResult) and self.quiet:
            r = event.row
            budget = "all" if r["ipc"] is None else f"IPC {r['ipc']}"
            self._line(
                f"{r['arch']} {budget} {r['source']}: "
                f"{100 * r['mean']:.2f} +- {100 * r['std']:.2f} %"
            )
        elif isinstance(event, LogMessage) and not self.quiet:
            self._line(
                f"[{event.level}] {event.message}" if event.level != "info" else event.message
            )
        elif isinstance(event, RunFinished) and event.status == "finished":
            self._line(f"run folder: {event.run_dir}")

    def _line(self, text: str) -> None:
        if self._bar_open:
            self.stream.write("\n")
            self._bar_open = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def _due(self, last: bool) -> bool:
        now = time.monotonic()
        if now - self._last < (0.2 if self.tty else 30.0) and not last:
            return False
        self._last = now
        return True

    def _progress(self, p: Any) -> None:
        if not self._due(p.step == p.total_steps):
            return
        frac = p.step / max(1, p.total_steps)
        eta = fmt_duration(p.eta_s)
        self._bar(
            frac,
            f"phase {p.phase} step {p.step}/{p.total_steps} {100 * frac:5.1f}% "
            f"{p.rate:6.2f} it/s ETA {eta}",
        )

    def _eval_progress(self, p: Any) -> None:
        if not self._due(p.index == p.total and p.epoch == p.epochs):
            return
        from .evaluation.eta import fmt_eta

        frac = (p.index - 1 + p.epoch / p.epochs) / p.total
        eta = fmt_eta(p.eta_s)  # 'estimating' until the evaluation has a rate
        budget = "all" if p.ipc is None else f"IPC {p.ipc}"
        self._bar(
            frac,
            f"network {p.index}/{p.total} ({p.arch} {budget} {p.source}) "
            f"epoch {p.epoch}/{p.epochs} ETA {eta}",
        )

    def _dm_progress(self, p: Any) -> None:
        if not self._due(p.iteration == p.iterations):
            return
        frac = p.iteration / p.iterations if p.iterations else 0.0
        total = p.iterations or "(timing)"
        self._bar(
            frac,
            f"DM from real, IPC {p.ipc}: iteration {p.iteration}/{total} "
            f"ETA {fmt_duration(p.eta_s)}",
        )

    def _bar(self, frac: float, text: str) -> None:
        if self.tty:
            width = 24
            filled = int(frac * width)
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {text}  ")
            self._bar_open = True
            self.stream.flush()
        elif not self.quiet:
            self._line(text)


def _execute(run: Any, quiet: bool) -> int:
    from .engine.events import RunControl

    control = RunControl()
    reporter = ConsoleReporter(quiet=quiet)

    def on_sigint(signum, frame):  # first Ctrl-C: clean stop; second: the default
        reporter._line("stopping at the next step boundary (Ctrl-C again to abort)...")
        control.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        status = run.execute(reporter, control)
    finally:
        signal.signal(signal.SIGINT, previous)
    if status == "stopped":
        reporter._line(f"stopped; continue with: gdd-studio-cli resume {run.dir}")
        return EXIT_STOPPED
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from .config import resolve_defaults, validate
    from .data import load_dataset
    from .engine.run import Run
    from .paths import runs_dir

    cfg = build_config(args)
    if args.print_config:
        resolve_defaults(cfg)
        validate(cfg)
        print(cfg.to_json())
        return EXIT_OK
    resolve_defaults(cfg)
    validate(cfg)  # before the (possibly slow) dataset load
    print(f"loading dataset {cfg.dataset}", file=sys.stderr)
    data = load_dataset(cfg.dataset, data_dir=cfg.data_dir, download=cfg.download)
    run = Run.create(cfg, Path(args.runs_dir) if args.runs_dir else runs_dir(), data)
    # The folder on stdout, alone, so that RUN=$(gdd-studio-cli run ...) captures it;
    # everything else (progress, log) goes to stderr.
    print(run.dir, flush=True)
    if not sys.stdout.isatty():
        print(f"run folder: {run.dir}", file=sys.stderr)
    return _execute(run, args.quiet)


def cmd_resume(args: argparse.Namespace) -> int:
    from .engine.run import Run, busy_message

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


def _int_list(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise GddError(f"{what} must be comma-separated whole numbers, got '{text}'") from None
    if not values:
        raise GddError(f"{what} is empty")
    return values


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .engine.events import RunControl
    from .evaluation.protocol import Evaluation
    from .rundir.artifacts import open_run

    run = open_run(Path(args.run_dir))  # read once; the evaluation gets this run
    settings = copy.deepcopy(run.config.evaluation)
    if args.preset:
        settings = preset_config(args.preset).evaluation
    if args.ipc:
        settings.ipcs = _int_list(args.ipc, "--ipc")
    if args.archs:
        settings.archs = [a.strip() for a in args.archs.split(",") if a.strip()]
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

    def on_sigint(signum, frame):
        reporter._line("stopping after this epoch (finished rows are kept)...")
        control.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        doc = evaluation.execute(reporter, control, executor=executor)
    finally:
        signal.signal(signal.SIGINT, previous)
        if executor is not None:
            executor.close()
    print(_results_table(doc["results"]))
    if doc.get("status") == "stopped":
        return EXIT_STOPPED
    return EXIT_OK


def _sampling_override(args: argparse.Namespace, run_sampling: SamplingConfig):
    """The run's phase-3 settings with --selection/--candidates applied, or None."""
    if args.selection is None and args.candidates is None:
        return None
    sampling = copy.deepcopy(run_sampling)
    if args.selection is not None:
        sampling.selection = args.selection
    if args.candidates is not None:
        sampling.candidates = args.candidates
    return sampling


def _results_table(rows: list[dict[str, Any]]) -> str:
    head = f"{'network':<10} {'IPC':>5}  {'source':<12} {'selection':<10} {'accuracy (%)':>16}  n"
    lines = [head]
    for r in rows:
        ipc = "all" if r["ipc"] is None else str(r["ipc"])
        acc = f"{100 * r['mean']:.2f} +- {100 * r['std']:.2f}"
        sel = r.get("selection") or ("random" if r["source"] in ("distilled", "gan-only") else "")
        lines.append(f"{r['arch']:<10} {ipc:>5}  {r['source']:<12} {sel:<10} {acc:>16}  {r['n']}")
    return "\n".join(lines)


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export_generator, export_set
    from .rundir.artifacts import open_run

    run = open_run(Path(args.run_dir))
    if args.format == "generator":
        out = export_generator(run, Path(args.out), overwrite=args.force)
        print(f"generator written to {out}")
        return EXIT_OK
    ipc = args.ipc if args.ipc is not None else run.config.ipc
    sampling = _sampling_override(args, run.config.sampling)
    out = export_set(run, args.format, ipc, Path(args.out), overwrite=args.force, sampling=sampling)
    print(f"distilled set (IPC {ipc}, {args.format}) written to {out}")
    return EXIT_OK


def cmd_chart(args: argparse.Namespace) -> int:
    from .evaluation.compare import comparison_rows
    from .export import write_chart
    from .rundir.artifacts import run_config

    dirs = [Path(d) for d in args.run_dir]
    if len(dirs) == 1 and _is_sweep(dirs[0]):
        return cmd_chart_sweep(args)
    datasets = {run_config(d).dataset for d in dirs}
    rows = comparison_rows(dirs)
    missing = [str(d) for d in dirs if not any(r.get("run", d.name) == d.name for r in rows)]
    if len(dirs) == 1 and not rows or len(dirs) > 1 and missing:
        where = ", ".join(missing or [str(dirs[0])])
        raise GddError(
            f"run {where} has no evaluation results yet: run gdd-studio-cli evaluate first"
        )
    what = "runs compared" if len(dirs) > 1 else "distilled set against baselines"
    title = args.title or f"{', '.join(sorted(datasets))}: {what}"
    out = write_chart(rows, Path(args.out), args.kind, overwrite=args.force, title=title)
    print(f"written to {out}")
    return EXIT_OK


def _is_sweep(path: Path) -> bool:
    from .rundir.sweeps import is_sweep_dir

    return is_sweep_dir(path)


def cmd_chart_sweep(args: argparse.Namespace) -> int:
    from .rundir.sweeps import read_sweep
    from .sweep.table import sweep_table, table_text, write_sweep_chart

    sweep_dir = Path(args.run_dir[0])
    table = sweep_table(sweep_dir)
    dataset = read_sweep(sweep_dir)["base"].get("dataset", "")
    title = args.title or f"{dataset}: accuracy against {table.x_key}"
    out = write_sweep_chart(table, Path(args.out), overwrite=args.force, title=title)
    print(table_text(table))
    print(f"written to {out}")
    return EXIT_OK


def _executor(args: argparse.Namespace) -> Any:
    """The executor --executor/--workers/--address ask for (None: this process, as ever)."""
    from .sweep.executors import LocalExecutor, make_executor

    executor = make_executor(args.executor, args.workers, args.address)
    return None if isinstance(executor, LocalExecutor) else executor


def _check_executor_flags(args: argparse.Namespace) -> None:
    """The executor's flags checked before anything is written (Ray starts later)."""
    from .sweep.executors import import_ray

    if args.workers is not None and args.workers < 1:
        raise GddError(f"--workers must be at least 1, got {args.workers}")
    if args.address and args.executor != "ray":
        raise GddError("--address is for --executor ray")
    if args.executor == "ray":
        import_ray()


def _evaluate_overrides(text: str) -> dict[str, Any]:
    """``--evaluate "--ipc 1,10 --archs convnet3 ..."``: evaluate's own flags, as the
    EvalConfig fields (and device, sampling) they set, checked now."""
    import copy
    import shlex
    from dataclasses import asdict

    from .config import EvalConfig, validate_evaluation

    parser = argparse.ArgumentParser(prog="--evaluate", add_help=False, exit_on_error=False)
    template = make_parser()._subparsers._group_actions[0].choices["evaluate"]
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
    if ns.selection is not None or ns.candidates is not None:
        out["sampling"] = {
            k: v for k, v in (("selection", ns.selection), ("candidates", ns.candidates))
            if v is not None
        }  # fmt: skip
    if ns.device:
        out["device"] = ns.device
    return out


def cmd_sweep(args: argparse.Namespace) -> int:
    from .config import resolve_defaults, validate
    from .data import load_dataset
    from .engine.events import RunControl
    from .paths import runs_dir
    from .sweep.sweep import Sweep, parse_axis

    _check_executor_flags(args)
    if args.resume:
        base = [f"--{a.dest.replace('_', '-')}" for a in _BASE_ACTIONS
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
        evaluate = _evaluate_overrides(args.evaluate) if args.evaluate is not None else None
        resolve_defaults(cfg)
        validate(cfg)
        data = None
        if not any(k in ("dataset", "data_dir") for k, _ in axes):
            print(f"loading dataset {cfg.dataset}", file=sys.stderr)
            data = load_dataset(cfg.dataset, data_dir=cfg.data_dir, download=cfg.download)
        root = Path(args.runs_dir) if args.runs_dir else runs_dir()
        sweep = Sweep.create(
            cfg, axes, root, args.ablation, evaluate, data, share_phase1=not args.own_phase1
        )
    print(sweep.dir, flush=True)
    executor = _executor(args)
    control = RunControl()
    reporter = ConsoleReporter(quiet=args.quiet)

    def on_sigint(signum, frame):  # first Ctrl-C: every member stops at its next step
        reporter._line("stopping every member at its next step (Ctrl-C again to abort)...")
        control.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        counts = sweep.execute(executor, control, say=reporter._line, on_event=reporter)
    finally:
        signal.signal(signal.SIGINT, previous)
        if executor is not None:
            executor.close()
    n = sum(counts.values())
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    reporter._line(f"sweep {sweep.dir.name}: {summary} of {n} members")
    if counts.get("finished", 0) < n:
        reporter._line(f"continue with: gdd-studio-cli sweep --resume {sweep.dir}")
    if control.stop_requested:
        return EXIT_STOPPED
    return EXIT_OK if counts.get("finished", 0) == n else EXIT_FAILED


def _executor_flags(parser: argparse.ArgumentParser) -> None:
    from .sweep.executors import EXECUTORS

    parser.add_argument(
        "--executor", choices=list(EXECUTORS), default="local",
        help='where the work runs: this machine, or Ray (pip install "gdd-studio[cluster]")',
    )  # fmt: skip
    parser.add_argument(
        "--workers", type=int,
        help="parallel workers: local processes (one per CUDA GPU; on a CPU the cores are "
        "split between them) or Ray tasks at a time",
    )  # fmt: skip
    parser.add_argument("--address", help="the Ray cluster to join (default: start one here)")


_BASE_ACTIONS: list[argparse.Action] = []


def cmd_datasets(args: argparse.Namespace) -> int:
    from .data import list_datasets

    for st in list_datasets(args.data_dir):
        mark = "available" if st.available else "missing"
        print(f"{st.id:<14} {mark:<10} {st.title}")
        note = st.note if st.available else f"{st.note}; pass --data-dir or --download"
        print(f"{'':<14} {note}")
    print("folder:PATH    a folder with train/<class>/ and test/<class>/ images")
    print("npz:PATH       an .npz with x_train, y_train, x_test, y_test (and classes)")
    return EXIT_OK


def cmd_presets(args: argparse.Namespace) -> int:
    for name, text in PRESETS.items():
        c = preset_config(name)
        print(f"{name:<6} {text}")
        print(
            f"       width {c.model.width}; phase 1: {c.gan.epochs} epochs, batch "
            f"{c.gan.batch_size}, lr {c.gan.lr:g}; phase 2: {c.distill.epochs} epochs, batch "
            f"{c.distill.batch_size}, pool {'+'.join(c.distill.pool)} x{c.distill.pool_batches}"
            f" batches; eval {c.evaluation.epochs} epochs x{c.evaluation.repeats}"
        )
    return EXIT_OK


def _selection_flags(parser: argparse.ArgumentParser) -> None:
    from .config import SELECTIONS

    parser.add_argument(
        "--selection", choices=list(SELECTIONS),
        help="how the generator's draws become the set (default: the run's sampling.selection)",
    )  # fmt: skip
    parser.add_argument(
        "--candidates", type=int, help="herding: draws per kept image (default: the run's)"
    )


def _runtime_flags(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--precision", choices=list(PRECISIONS),
        help=f"bf16 autocast or fp32 for every network; auto: bf16 where native "
        f"(default: {default})",
    )  # fmt: skip
    parser.add_argument(
        "--compile", choices=list(COMPILE_MODES),
        help=f"torch.compile the networks; auto: where it repays its seconds (default: {default})",
    )  # fmt: skip


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as one line on stderr (the README's promise for bad input),
    not its usage block; ``--help`` still prints the usage. Subcommands inherit it."""

    def error(self, message: str) -> NoReturn:
        line = " ".join(message.split())
        self.exit(EXIT_USAGE, f"{self.prog}: error: {line} (see {self.prog} --help)\n")


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gdd-studio-cli",
        description="Generative dataset distillation (GAN + self-knowledge distillation), "
        "headless.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start a new run")
    run.add_argument(
        "--dataset", help="mnist-sample | mnist | fashion-mnist | cifar10 | folder:PATH | npz:PATH"
    )
    run.add_argument("--ipc", type=int, help="images per class of the distilled set")
    run.add_argument("--tau", type=float, help="temperature of the logit standardization")
    run.add_argument("--lambda", dest="lam", type=float, help="weight of the matching term")
    run.add_argument("--preset", choices=list(PRESETS), help="starting point (default: cpu)")
    run.add_argument("--config", help="a JSON config file (a run's config.json works)")
    run.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps")
    _runtime_flags(run, "auto")
    run.add_argument("--seed", type=int)
    run.add_argument("--runs-dir", help="where run folders go (default: the per-user folder)")
    run.add_argument("--data-dir", help="a folder holding the dataset files")
    run.add_argument("--download", action="store_true", help="allow downloading the dataset")
    run.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="any config key, e.g. --set distill.loss=mse (repeatable)",
    )
    run.add_argument(
        "--print-config", action="store_true", help="print the resolved config as JSON and exit"
    )
    run.add_argument("--quiet", action="store_true", help="only the progress bar and errors")
    run.set_defaults(func=cmd_run)

    resume = sub.add_parser("resume", help="continue a stopped or interrupted run")
    resume.add_argument("run_dir")
    resume.add_argument("--quiet", action="store_true")
    resume.add_argument(
        "--restart", action="store_true",
        help="when the run's checkpoints/last.pt is missing or damaged (kept aside): go on "
        "from its latest whole phase checkpoint, else start over from step 0",
    )  # fmt: skip
    _runtime_flags(resume, "the run's")
    resume.set_defaults(func=cmd_resume)

    ds = sub.add_parser("datasets", help="list datasets and whether they are here offline")
    ds.add_argument("--data-dir", help="also look in this folder")
    ds.set_defaults(func=cmd_datasets)

    ev = sub.add_parser(
        "evaluate", help="train fresh networks on a run's distilled set and on baselines"
    )
    ev.add_argument("run_dir")
    ev.add_argument("--ipc", help="comma-separated IPCs to evaluate, e.g. 1,10,50")
    ev.add_argument(
        "--archs",
        help="comma-separated: convnet3,resnet18 (instance norm),resnet18bn (BatchNorm),"
        "alexnet,vgg11",
    )
    ev.add_argument("--repeats", type=int, help="networks per row (mean and std over them)")
    ev.add_argument("--epochs", type=int, help="training epochs of each network")
    ev.add_argument("--batch-size", type=int)
    ev.add_argument("--width", type=int, help="narrow the networks (default: the literature's)")
    ev.add_argument("--seed", type=int)
    ev.add_argument("--preset", choices=list(PRESETS), help="take the preset's evaluation settings")
    ev.add_argument("--full-real", action="store_true", help="add the full-training-set bound")
    ev.add_argument("--no-gan-only", action="store_true", help="skip the phase-1 baseline")
    ev.add_argument("--no-dsa", action="store_true", help="train without DSA augmentation")
    ev.add_argument(
        "--dm-real", action="store_true",
        help="add DM from random real images, given the run's own training time",
    )  # fmt: skip
    ev.add_argument(
        "--dm-minutes", type=float, metavar="M",
        help="minutes of DM for --dm-real instead of the run's training time (implies it)",
    )  # fmt: skip
    ev.add_argument(
        "--protocol", choices=["fixed", "on-the-fly"], help="on-the-fly: [DiM], not the default"
    )
    ev.add_argument(
        "--report",
        choices=["final", "best-of-checks"],
        help="best-of-checks: [DiM], peeks at the test set",
    )
    _selection_flags(ev)
    ev.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps (default: the run's)")
    _runtime_flags(ev, "the run's")
    ev.add_argument("--quiet", action="store_true", help="one line per finished row")
    _executor_flags(ev)
    ev.set_defaults(func=cmd_evaluate)

    sw = sub.add_parser(
        "sweep", help="many runs from one base config: --axis KEY=V1,V2 or --ablation"
    )
    # Every flag of `run` sets the base config, exactly as for one run.
    _BASE_ACTIONS.clear()
    for action in run._actions:
        if action.dest not in ("help", "print_config", "quiet"):
            sw._add_action(action)
            _BASE_ACTIONS.append(action)
    sw.add_argument(
        "--axis", action="append", metavar="KEY=V1,V2,...",
        help="a setting to vary, e.g. distill.tau=1,2,4 (repeatable: the grid product)",
    )  # fmt: skip
    sw.add_argument(
        "--ablation", action="store_true",
        help="the paper's ablation: SKD with and without standardization, DiM's MSE, none",
    )  # fmt: skip
    sw.add_argument(
        "--evaluate", metavar="FLAGS",
        help='evaluate every finished member with these evaluate flags, e.g. "--ipc 1,10 '
        '--archs convnet3 --repeats 3 --epochs 300"',
    )  # fmt: skip
    sw.add_argument(
        "--own-phase1", action="store_true",
        help="every member trains its own phase 1 (default: members whose phase-1 settings "
        "agree share one, as phase 2 starts from the same state either way)",
    )  # fmt: skip
    _executor_flags(sw)
    sw.add_argument("--resume", metavar="SWEEP_DIR", help="continue what is unfinished")
    sw.add_argument("--quiet", action="store_true", help="only the progress bar and errors")
    sw.set_defaults(func=cmd_sweep)

    ex = sub.add_parser("export", help="write the distilled set or the generator")
    ex.add_argument("run_dir")
    ex.add_argument(
        "--format", required=True, choices=["pt", "npz", "png", "tensors", "generator"],
        help="tensors: a folder with images_best.pt + labels_best.pt (MTT/DATM, DD-Ranking)",
    )  # fmt: skip
    ex.add_argument("--ipc", type=int, help="images per class (default: the run's IPC)")
    _selection_flags(ex)
    ex.add_argument(
        "--out", required=True, help="file (pt, npz, generator) or folder (png, tensors)"
    )
    ex.add_argument("--force", action="store_true", help="replace an existing target")
    ex.set_defaults(func=cmd_export)

    ch = sub.add_parser(
        "chart",
        help="write the evaluation chart (.png, .svg) or table (.csv); several runs compare",
    )
    ch.add_argument(
        "run_dir", nargs="+",
        help="one run, or several to compare (labelled by their settings), or a sweep folder "
        "(accuracy against the swept settings)",
    )  # fmt: skip
    ch.add_argument("--out", required=True, help="FILE.png | FILE.svg | FILE.csv")
    ch.add_argument(
        "--kind", choices=["arch", "ipc"], default="arch",
        help="arch: accuracy per architecture; ipc: accuracy against IPC",
    )  # fmt: skip
    ch.add_argument("--title")
    ch.add_argument("--force", action="store_true", help="replace an existing file")
    ch.set_defaults(func=cmd_chart)

    pr = sub.add_parser("presets", help="list the presets")
    pr.set_defaults(func=cmd_presets)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except GddError as exc:
        print(f"gdd-studio-cli: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("gdd-studio-cli: aborted", file=sys.stderr)
        return EXIT_STOPPED
    except Exception as exc:  # noqa: BLE001 - one line for the user, details in the run folder
        print(f"gdd-studio-cli: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
