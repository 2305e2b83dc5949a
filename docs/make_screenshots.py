"""Render the window in its main states to PNG files in docs/ (offscreen, no display needed).

    python docs/make_screenshots.py                  # about 4 minutes on 2 CPU cores
    python docs/make_screenshots.py --gan-epochs 20  # longer run, cleaner digits

States: ``window-idle.png`` (a fresh start on the defaults), ``window-running.png`` (a run
in its SKD phase, curves and grid filling in), ``window-finished.png`` (the finished
run selected in the runs list), ``window-evaluation.png`` (a short evaluation of it:
two networks at IPC 1 and 10 against the baselines) and ``window-distilled-set.png``
(its IPC-10 set in the viewer), ``window-candidates.png`` (the draws herding chose from,
the kept ones framed). The run is real: the embedded MNIST sample with the
``cpu`` preset, shortened to a few GAN epochs so the script ends in minutes. Runs go to a
temporary folder, never the user's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
SIZE = (1440, 900)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS)
    parser.add_argument("--gan-epochs", type=int, default=12)
    parser.add_argument("--distill-epochs", type=int, default=1)
    parser.add_argument("--eval-epochs", type=int, default=30)
    parser.add_argument(
        "--show-run", type=Path, metavar="RUN_DIR",
        help="for the evaluation and distilled-set shots, a finished run (a full cpu-preset "
        "one, with its evaluation) instead of the short run made here",
    )  # fmt: skip
    parser.add_argument(
        "--show-sweep", type=Path, metavar="SWEEP_DIR",
        help="also shoot window-sweep.png: this evaluated sweep selected in its runs folder "
        "(shown read-only), its members compared in the Evaluation tab",
    )  # fmt: skip
    parser.add_argument(
        "--states", default="idle,running,finished,evaluation,distilled-set,candidates",
        help="which shots to take (comma-separated)",
    )  # fmt: skip
    args = parser.parse_args()
    os.environ["GDD_STUDIO_HOME"] = tempfile.mkdtemp(prefix="gdd-shots-")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtWidgets import QApplication

    from gdd_studio.config import preset_config
    from gdd_studio.ui import MainWindow

    app = QApplication(sys.argv[:1])
    app.setApplicationName("GDD Studio")
    window = MainWindow()
    window.show_message = lambda kind, title, text: print(f"[{kind}] {title}: {text}")
    window.confirm_close = lambda: True
    window.resize(*SIZE)
    window.show()
    args.out.mkdir(parents=True, exist_ok=True)

    def settle(seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def wait_until(condition, timeout: float) -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError("the window did not reach the state in time")
            app.processEvents()
            time.sleep(0.02)

    def shoot(name: str) -> None:
        settle()
        path = args.out / name
        window.grab().save(str(path))
        print(f"wrote {path}")

    states = set(args.states.split(","))
    settle(0.5)
    if "idle" in states:
        shoot("window-idle.png")

    own_run = {"evaluation", "distilled-set", "candidates"}
    if states & {"running", "finished"} or (states & own_run and not args.show_run):
        cfg = preset_config("cpu")  # the defaults, with shorter phases
        cfg.gan.epochs, cfg.distill.epochs = args.gan_epochs, args.distill_epochs
        cfg.device = "cpu"
        window.set_config(cfg)
        window.start_run()
        wait_until(lambda: window.progress.maximum() > 1, 300)
        total = window.progress.maximum()
        # Into the SKD phase, so both phases and the boundary between them show.
        wait_until(lambda: window.progress.value() >= total - 30 or not window.running, 1800)
        if "running" in states:
            shoot("window-running.png")
        wait_until(lambda: not window.running, 1800)
        settle(1.5)  # the runs list and the folder view catch up
        window.runs.setCurrentRow(0)
        if "finished" in states:
            shoot("window-finished.png")

    from PySide6.QtCore import Qt

    ev = window.evaluation
    if args.show_run:
        import shutil

        shown = window.runs_dir / args.show_run.name
        shutil.copytree(args.show_run, shown, ignore=shutil.ignore_patterns("checkpoints"))
        # The GAN-only baseline needs the phase-1 checkpoint; the rest are not shown.
        (shown / "checkpoints").mkdir()
        phase1 = args.show_run / "checkpoints" / "phase1.pt"
        if phase1.is_file():
            shutil.copy2(phase1, shown / "checkpoints" / "phase1.pt")
        window.refresh_runs(force=True)
        for row in range(window.runs.count()):
            if window.runs.item(row).data(Qt.ItemDataRole.UserRole) == str(shown):
                window.runs.setCurrentRow(row)
        settle(1.0)
    if "evaluation" in states:
        window.tabs.setCurrentWidget(ev)
        if not ev.rows:  # a fresh run: a short evaluation, two networks
            ev.archs.set_checked(["convnet3", "alexnet"])
            ev.ipcs.setText("1, 10")
            ev.epochs.setValue(args.eval_epochs)
            ev.repeats.setValue(2)
            ev.start()
            wait_until(lambda: not ev.evaluating, 1800)
        index = ev.chart_kind.findText("by network, IPC 10")
        ev.chart_kind.setCurrentIndex(max(0, index))
        shoot("window-evaluation.png")
    viewer = window.viewer
    if states & {"distilled-set", "candidates"}:
        window.tabs.setCurrentWidget(viewer)
        # The set is made on a worker thread (herding may train the observer first).
        wait_until(lambda: viewer.stored is not None and not viewer.busy, 600)
    if "distilled-set" in states:
        viewer.zoom.setValue(3)
        shoot("window-distilled-set.png")
    if "candidates" in states and viewer.show_candidates.isEnabled():
        viewer.zoom.setValue(2)
        viewer.show_candidates.setChecked(True)
        shoot("window-candidates.png")
    if args.show_sweep:
        from gdd_studio.ui.main_window import KIND_ROLE

        window.set_runs_dir(args.show_sweep.parent.parent)  # the sweep's runs folder
        settle(1.0)
        for row in range(window.runs.count()):
            item = window.runs.item(row)
            target = item.data(Qt.ItemDataRole.UserRole) == str(args.show_sweep)
            if item.data(KIND_ROLE) == "sweep" and target:
                window.runs.setCurrentRow(row)
        window.tabs.setCurrentWidget(ev)
        settle(2.0)
        shoot("window-sweep.png")
    window.shutdown()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
