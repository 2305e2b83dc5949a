"""The verbs that write files for elsewhere: ``export`` (the distilled set in a format,
or the generator) and ``chart`` (one run, runs compared, or a sweep)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import GddError
from .console import EXIT_OK
from .evaluate import _sampling_override


def cmd_export(args: argparse.Namespace) -> int:
    from ..export import export_generator, export_set
    from ..rundir.artifacts import open_run

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
    from ..evaluation.compare import comparison_rows
    from ..export import write_chart
    from ..rundir.artifacts import run_config

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
    from ..rundir.sweeps import is_sweep_dir

    return is_sweep_dir(path)


def cmd_chart_sweep(args: argparse.Namespace) -> int:
    from ..rundir.sweeps import read_sweep
    from ..sweep.table import sweep_table, table_text, write_sweep_chart

    sweep_dir = Path(args.run_dir[0])
    table = sweep_table(sweep_dir)
    dataset = read_sweep(sweep_dir)["base"].get("dataset", "")
    title = args.title or f"{dataset}: accuracy against {table.x_key}"
    out = write_sweep_chart(table, Path(args.out), overwrite=args.force, title=title)
    print(table_text(table))
    print(f"written to {out}")
    return EXIT_OK
