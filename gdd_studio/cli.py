"""``gdd-studio-cli``: the same engine as the window, headless, with the same config file.

Bad input ends with one line on stderr and a non-zero exit, never a traceback; Ctrl-C
stops a run cleanly with a checkpoint that ``resume`` continues from.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from .config import PRESETS, RunConfig, merge_dict, preset_config, set_value
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
        "data_dir": args.data_dir,
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
        from .engine.events import LogMessage, Progress, RunFinished

        if isinstance(event, Progress):
            self._progress(event)
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

    def _progress(self, p: Any) -> None:
        now = time.monotonic()
        interval = 0.2 if self.tty else 30.0
        if now - self._last < interval and p.step != p.total_steps:
            return
        self._last = now
        frac = p.step / max(1, p.total_steps)
        eta = _fmt_time(p.eta_s) if p.eta_s is not None else "--:--"
        text = (
            f"phase {p.phase} step {p.step}/{p.total_steps} {100 * frac:5.1f}% "
            f"{p.rate:6.2f} it/s ETA {eta}"
        )
        if self.tty:
            width = 24
            filled = int(frac * width)
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {text}  ")
            self._bar_open = True
            self.stream.flush()
        elif not self.quiet:
            self._line(text)


def _fmt_time(seconds: float) -> str:
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


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
    print(f"run folder: {run.dir}", file=sys.stderr)
    return _execute(run, args.quiet)


def cmd_resume(args: argparse.Namespace) -> int:
    from .engine.run import Run

    run = Run.open(args.run_dir)
    status = run._info.get("status")
    if status == "finished" and run.generator_path.exists():
        raise GddError(f"run {run.dir} has already finished; nothing to resume")
    if status in ("running", "paused"):
        raise GddError(
            f"run {run.dir} is still being written by process {run._info.get('pid')} on "
            f"{run._info.get('host')}; stop it first"
        )
    return _execute(run, args.quiet)


def cmd_datasets(args: argparse.Namespace) -> int:
    from .data import list_datasets

    for st in list_datasets(args.data_dir):
        mark = "available" if st.available else "missing"
        print(f"{st.id:<14} {mark:<10} {st.title}")
        print(f"{'':<14} {st.note}")
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


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    resume.set_defaults(func=cmd_resume)

    ds = sub.add_parser("datasets", help="list datasets and whether they are here offline")
    ds.add_argument("--data-dir", help="also look in this folder")
    ds.set_defaults(func=cmd_datasets)

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
