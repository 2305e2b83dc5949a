"""Where ``evaluate`` and ``sweep`` run their work: the ``--executor``, ``--workers``
and ``--address`` flags, checked before anything is written, and the executor they ask
for."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import GddError


def _executor(args: argparse.Namespace) -> Any:
    """The executor --executor/--workers/--address ask for (None: this process, as ever)."""
    from ..sweep.executors import LocalExecutor, make_executor

    executor = make_executor(args.executor, args.workers, args.address)
    return None if isinstance(executor, LocalExecutor) else executor


def _check_executor_flags(args: argparse.Namespace) -> None:
    """The executor's flags checked before anything is written (Ray starts later)."""
    from ..sweep.executors import import_ray

    if args.workers is not None and args.workers < 1:
        raise GddError(f"--workers must be at least 1, got {args.workers}")
    if args.address and args.executor != "ray":
        raise GddError("--address is for --executor ray")
    if args.executor == "ray":
        import_ray()


def _executor_flags(parser: argparse.ArgumentParser) -> None:
    from ..sweep.executors import EXECUTORS

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
