"""``gdd-studio-cli``: the same engine as the window, headless, with the same config file.

Bad input ends with one line on stderr and a non-zero exit, never a traceback; Ctrl-C
stops a run cleanly with a checkpoint that ``resume`` continues from.

The package holds one module per verb family (``runs``, ``evaluate``, ``sweeps``,
``outputs``), the command line that wires them (``parser``), the console output
(``console``) and the executor flags (``executors``); ``main`` is the console entry point.
"""

from __future__ import annotations

import sys

from ..errors import GddError
from .console import EXIT_FAILED, EXIT_OK, EXIT_STOPPED, EXIT_USAGE, ConsoleReporter
from .evaluate import cmd_evaluate
from .outputs import cmd_chart, cmd_chart_sweep, cmd_export
from .parser import make_parser
from .runs import build_config, cmd_datasets, cmd_presets, cmd_resume, cmd_run
from .sweeps import cmd_sweep

__all__ = [
    "EXIT_FAILED", "EXIT_OK", "EXIT_STOPPED", "EXIT_USAGE", "ConsoleReporter", "build_config",
    "cmd_chart", "cmd_chart_sweep", "cmd_datasets", "cmd_evaluate", "cmd_export",
    "cmd_presets", "cmd_resume", "cmd_run", "cmd_sweep", "main", "make_parser",
]  # fmt: skip


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
