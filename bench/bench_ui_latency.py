"""How responsive the window stays while a run trains: the event loop's gaps.

    python bench/bench_ui_latency.py                   # cpu preset, 20 s of training
    python bench/bench_ui_latency.py --seconds 60 --preset paper --device cuda
    python bench/bench_ui_latency.py --evaluate          # during an evaluation instead
    python bench/bench_ui_latency.py --evaluate RUN_DIR  # ... of that run

With ``--evaluate`` the gaps are measured while the Evaluation tab trains ConvNet-3
networks (the literature's width) on the run's distilled set: of RUN_DIR, or of a fresh
``smoke``-preset run of the embedded sample made first (about 30 s).

A 1 ms precise QTimer in the window's thread records the time between its ticks. While
nothing else happens the gaps are about 1 ms; every redraw, every queued engine event
and every stretch the training thread holds Python's GIL makes them longer. The figure
that matters to a user is the 99th percentile gap during training (the target is under
100 ms: a click or a resize answered within a tenth of a second). The run is real (the
window's worker thread, its events, the 25 Hz redraw with curves and grids) and is
stopped after the measured time; it lives in a temporary runs folder unless ``--keep``.

Prints one line per phase of the measurement; record them with the machine in
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import numpy as np


def _gaps_ms(gaps: list[float]) -> str:
    a = np.asarray(gaps) * 1000
    return (
        f"ticks {len(a):,}, median {np.median(a):.2f} ms, p99 {np.percentile(a, 99):.1f} ms, "
        f"p99.9 {np.percentile(a, 99.9):.1f} ms, max {a.max():.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="training time measured")
    parser.add_argument("--idle", type=float, default=3.0, help="idle baseline measured first")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--dataset", default="mnist-sample")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--keep", action="store_true", help="keep the run in the user's folder")
    parser.add_argument(
        "--evaluate", nargs="?", const="", metavar="RUN_DIR",
        help="measure during an evaluation (of RUN_DIR, or of a fresh smoke run)",
    )  # fmt: skip
    args = parser.parse_args()
    if not args.keep:
        os.environ["GDD_STUDIO_HOME"] = tempfile.mkdtemp(prefix="gdd-bench-")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    import torch
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from gdd_studio.config import preset_config
    from gdd_studio.ui import MainWindow

    app = QApplication([])
    run_dir = None
    if args.evaluate is not None:
        run_dir = _evaluated_run(args)
    window = MainWindow(runs_dir=run_dir.parent if run_dir else None)
    window.confirm_close = lambda: True
    window.show()
    cfg = preset_config(args.preset)
    cfg.dataset, cfg.device = args.dataset, args.device
    window.set_config(cfg)
    ev = window.evaluation
    if run_dir is not None:
        _prepare_evaluation(window, run_dir)
    busy = (lambda: ev.evaluating) if run_dir else (lambda: window.running)

    gaps: dict[str, list[float]] = {"idle": [], "training": []}
    state = {"phase": "idle", "last": time.perf_counter(), "started": 0.0}

    def tick() -> None:
        now = time.perf_counter()
        phase = state["phase"]
        if phase in gaps:
            gaps[phase].append(now - state["last"])
        state["last"] = now
        if phase == "idle" and now - state["started"] >= args.idle:
            state["phase"] = "loading"
            ev.start() if run_dir else window.start_run()
        elif phase == "loading" and (
            "epoch" in ev.status.text() if run_dir else window.progress.value() > 0
        ):
            state["phase"], state["started"] = "training", now  # the first step is done
        elif phase == "training" and now - state["started"] >= args.seconds:
            state["phase"] = "stopping"
            state["steps"] = window.progress.value()
            ev.stop() if run_dir else window.stop_run()
        elif phase == "stopping" and not busy():
            app.quit()

    timer = QTimer(interval=1)
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.timeout.connect(tick)
    state["started"] = state["last"] = time.perf_counter()
    timer.start()
    app.exec()
    window.shutdown()

    steps = int(state.get("steps", 0))
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} "
        f"{os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} "
        f"threads, Python {platform.python_version()}, Qt platform "
        f"{os.environ['QT_QPA_PLATFORM']}"
    )
    print(f"idle ({args.idle:.0f} s): {_gaps_ms(gaps['idle'])}")
    p99 = float(np.percentile(np.asarray(gaps["training"]) * 1000, 99))
    if run_dir is not None:
        print(f"evaluation of {run_dir}: ConvNet-3 at the literature's width, its IPC")
        print(f"evaluating ({args.seconds:.0f} s): {_gaps_ms(gaps['training'])}")
        print(f"event-loop p99 gap while evaluating: {p99:.1f} ms (target < 100 ms)")
        return
    print(f"run: preset {args.preset}, dataset {args.dataset}, device {args.device}")
    print(
        f"training ({args.seconds:.0f} s, {steps} steps, {steps / args.seconds:.2f} steps/s): "
        f"{_gaps_ms(gaps['training'])}"
    )
    print(f"event-loop p99 gap while training: {p99:.1f} ms (target < 100 ms)")


def _evaluated_run(args):
    """The run to evaluate: the one named, or a fresh smoke run of the embedded sample."""
    from pathlib import Path

    if args.evaluate:
        return Path(args.evaluate).resolve()
    from gdd_studio.config import preset_config
    from gdd_studio.engine.run import Run
    from gdd_studio.paths import runs_dir

    cfg = preset_config("smoke")
    cfg.dataset, cfg.device = args.dataset, args.device
    run = Run.create(cfg, runs_dir())
    print(f"making a smoke run to evaluate: {run.dir}")
    run.execute()
    return run.dir


def _prepare_evaluation(window, run_dir) -> None:
    """Select the run, show the Evaluation tab, one long ConvNet-3 training at its IPC."""
    from PySide6.QtCore import Qt

    window.refresh_runs(force=True)
    for row in range(window.runs.count()):
        if window.runs.item(row).data(Qt.ItemDataRole.UserRole) == str(run_dir):
            window.runs.setCurrentRow(row)
    ev = window.evaluation
    window.tabs.setCurrentWidget(ev)
    ev.archs.set_checked(["convnet3"])
    ev.epochs.setValue(100_000)  # stopped after the measured time
    ev.repeats.setValue(1)
    ev.width.setValue(0)


if __name__ == "__main__":
    main()
