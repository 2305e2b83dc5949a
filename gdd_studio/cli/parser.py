"""The command line: every verb's flags and the function that runs it.

Errors in the flags are one line on stderr (``_Parser``), never the usage block.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from ..config import COMPILE_MODES, PRECISIONS, PRESETS
from .console import EXIT_USAGE
from .evaluate import cmd_evaluate
from .executors import _executor_flags
from .outputs import cmd_chart, cmd_export
from .runs import cmd_datasets, cmd_import, cmd_presets, cmd_resume, cmd_run
from .sweeps import cmd_sweep


def _selection_flags(parser: argparse.ArgumentParser) -> None:
    from ..config import AUTO_DRAWS_UP_TO_IPC, CHOOSE_FROM, SELECTIONS

    parser.add_argument(
        "--selection", choices=list(SELECTIONS),
        help="how the generator's draws become the set (default: the run's sampling.selection)",
    )  # fmt: skip
    parser.add_argument(
        "--candidates", type=int, help="herding: draws per kept image (default: the run's)"
    )
    parser.add_argument(
        "--choose-from", choices=list(CHOOSE_FROM),
        help="herding: choose among the generator's draws, the real training images, "
        f"both, or auto (the draws at IPC {AUTO_DRAWS_UP_TO_IPC}, both above) (default: "
        "the run's sampling.choose_from)",
    )  # fmt: skip


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
    base_actions = [a for a in run._actions if a.dest not in ("help", "print_config", "quiet")]
    for action in base_actions:
        sw._add_action(action)
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
    # What `sweep` reads of the other verbs travels with its arguments, so that the verb's
    # module never imports this one: the base flags (--resume refuses them) and evaluate's
    # flags (--evaluate parses them).
    sw.set_defaults(func=cmd_sweep, base_actions=base_actions, evaluate_parser=ev)

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
    ex.add_argument(
        "--force", action="store_true",
        help="replace an earlier export at --out (never a run's files, nor a folder that "
        "holds anything else)",
    )  # fmt: skip
    ex.set_defaults(func=cmd_export)

    im = sub.add_parser(
        "import",
        help="store a set made elsewhere (MTT/DATM tensors, an image folder, .npz, .pt) "
        "beside the runs, to evaluate, compare and export it as a run",
    )  # fmt: skip
    im.add_argument("path", help="the set: a file or a folder")
    im.add_argument(
        "--dataset", required=True,
        help="the dataset the set stands for (its test split, normalisation and classes)",
    )  # fmt: skip
    im.add_argument("--data-dir", help="a folder holding the dataset's files")
    im.add_argument("--runs-dir", help="where the set's folder is made (default: the runs folder)")
    im.add_argument("--quiet", action="store_true", help="only errors")
    im.set_defaults(func=cmd_import)

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
