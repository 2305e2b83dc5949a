"""How responsive the window stays while a run trains: the event loop's gaps.

    python bench/bench_ui_latency.py                   # cpu preset, 20 s of training
    python bench/bench_ui_latency.py --seconds 60 --preset paper --device cuda
    python bench/bench_ui_latency.py --evaluate          # during an evaluation instead
    python bench/bench_ui_latency.py --evaluate RUN_DIR  # ... of that run
    python bench/bench_ui_latency.py --whole-run         # a smoke run, start to end
    python bench/bench_ui_latency.py --follow            # ... written by another process

``--whole-run`` measures a whole ``smoke`` run in the window, from Start through loading,
both phases, the phase ends and the end of the run (its set, the finished dialog, the
runs list and the viewer catching up) until the window is idle again; ``--follow`` does
the same while the CLI writes the run in another process and the window follows its
folder. Both print the slowest calls on the GUI thread (what made the longest gaps).

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
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument(
        "--whole-run", action="store_true", help="a whole smoke run in the window, start to end"
    )
    parser.add_argument(
        "--follow", action="store_true", help="a whole smoke run written by another process"
    )
    parser.add_argument("--repeat", type=int, default=1, help="whole runs measured in a row")
    parser.add_argument(
        "--cold", action="store_true", help="no engine warm-up after launch (as before)"
    )
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

    if args.threads:
        torch.set_num_threads(args.threads)
    app = QApplication([])
    if args.whole_run or args.follow:
        for k in range(args.repeat):
            _whole_run(app, args, k)
        return
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


GUI_CALLS = (  # (class, method): the GUI-thread work at a run's edges
    ("MainWindow", "_on_created"), ("MainWindow", "_on_done"),
    ("MainWindow", "_on_thread_finished"), ("MainWindow", "_drain"), ("MainWindow", "_poll"),
    ("MainWindow", "refresh_runs"), ("RunsPanel", "refresh"), ("TrainingView", "show_run"),
    ("TrainingView", "reread"), ("TrainingView", "poll"), ("TrainingView", "drain"),
    ("MainWindow", "_selection_changed"), ("MainWindow", "show_run"),
    ("MainWindow", "show_message"), ("EvalPanel", "set_runs"), ("EvalPanel", "poll"),
    ("EvalPanel", "refresh_results"), ("SetViewer", "set_run"), ("SetViewer", "reload"),
    ("SetViewer", "_on_done"), ("GridPanel", "redraw"), ("LossPanel", "redraw"),
    ("MainWindow", "start_run"), ("MainWindow", "_launch"), ("MainWindow", "_set_running"),
    ("MainWindow", "_on_event"),
)  # fmt: skip


def _instrument() -> list[tuple[float, str]]:
    """Time the window's slots that run at a run's edges; returns (seconds, name) calls.

    The classes are patched, not the instances: a signal connected to a bound method of a
    QObject is queued to that object's thread, while one connected to a plain function
    would run it on the emitting (worker) thread.
    """
    import functools

    from gdd_studio.ui import (
        eval_panel,
        main_window,
        monitor,
        runs_panel,
        set_viewer,
        training_view,
    )  # fmt: skip

    classes = {
        "MainWindow": main_window.MainWindow, "EvalPanel": eval_panel.EvalPanel,
        "RunsPanel": runs_panel.RunsPanel, "TrainingView": training_view.TrainingView,
        "SetViewer": set_viewer.SetViewer, "GridPanel": monitor.GridPanel,
        "LossPanel": monitor.LossPanel,
    }  # fmt: skip
    for path, name in GUI_CALLS:
        cls = classes[path]
        method = next((c.__dict__[name] for c in cls.__mro__ if name in c.__dict__), None)
        if method is None:
            raise SystemExit(f"bench_ui_latency: {path}.{name} no longer exists; update GUI_CALLS")
        if getattr(method, "_timed", False):
            continue

        @functools.wraps(method)
        def timed(self, *a, _m=method, _n=f"{path}.{name}", **kw):
            t0 = time.perf_counter()
            try:
                return _m(self, *a, **kw)
            finally:
                t1 = time.perf_counter()
                _CALLS.append((t1 - t0, _n, t1))

        timed._timed = True
        setattr(cls, name, timed)
    _watch_gc()
    return _CALLS


_CALLS: list[tuple[float, str, float]] = []  # (seconds, name, when it ended)


def _watch_gc() -> None:
    """Time Python's cyclic collections on the GUI thread as calls ("gc gen2"): the
    window's collector runs them there, on a timer no slot above covers."""
    import gc
    import threading

    if any(getattr(cb, "_bench", False) for cb in gc.callbacks):
        return
    main, started = threading.main_thread(), [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if threading.current_thread() is not main:
            return
        now = time.perf_counter()
        if phase == "start":
            started[0] = now
        else:
            _CALLS.append((now - started[0], f"gc gen{info['generation']}", now))

    on_gc._bench = True
    gc.callbacks.append(on_gc)


def _during(calls: list[tuple[float, str, float]], start: float, end: float) -> str:
    """The timed calls that overlap [start, end] (what the GUI thread did in a gap)."""
    inside = [(t, n) for t, n, t1 in calls if t1 >= start and t1 - t <= end and t >= 0.002]
    return ", ".join(f"{n} {1000 * t:.0f}" for t, n in inside[-4:]) or "no timed call"


def _whole_run(app, args, k: int) -> None:
    """A smoke run from Start to idle (or followed from another process), its gaps."""
    import subprocess
    import sys
    from pathlib import Path

    from PySide6.QtCore import Qt, QTimer

    from gdd_studio.config import preset_config
    from gdd_studio.ui import MainWindow

    runs = Path(tempfile.mkdtemp(prefix="gdd-bench-runs-"))
    calls = _instrument()  # before the window, so its connections reach the timed methods
    window = MainWindow(runs_dir=runs)
    window.confirm_close = lambda: True
    window.resize(1440, 900)
    window.show()
    warm = None
    if k == 0 and not args.cold:
        from gdd_studio.ui.worker import warm_up_engine

        warm = warm_up_engine()  # as gdd-studio does after showing the window
    cfg = preset_config("smoke")
    cfg.dataset, cfg.device = args.dataset, args.device if args.device != "auto" else "cpu"
    window.set_config(cfg)
    gaps: list[float] = []
    idle_gaps: list[float] = []
    big: list[tuple[float, float, str]] = []  # (gap, when, the status line then)
    state = {"phase": "idle", "last": time.perf_counter(), "started": 0.0, "proc": None}

    def start() -> None:
        if not args.follow:
            window.start_run()
            return
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads or 1))
        cmd = [sys.executable, "-m", "gdd_studio.cli", "run", "--preset", "smoke",
               "--dataset", args.dataset, "--device", cfg.device, "--runs-dir", str(runs),
               "--quiet"]  # fmt: skip
        state["proc"] = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )

    def followed_done() -> bool:
        proc = state["proc"]
        return proc is not None and proc.poll() is not None

    def tick() -> None:
        now = time.perf_counter()
        phase = state["phase"]
        if phase == "idle":
            idle_gaps.append(now - state["last"])
        if phase in ("run", "after"):
            gaps.append(now - state["last"])
            if gaps[-1] > 0.05:  # what the GUI thread did meanwhile (else: another thread)
                what = _during(calls, state["last"], now)
                big.append((gaps[-1], now - state["started"], f"during: {what}"))
        state["last"] = now
        warming = warm is not None and warm.is_alive()  # a user takes longer to choose
        if phase == "idle" and now - state["started"] >= args.idle and not warming:
            state["phase"], state["started"] = "run", now
            calls.clear()
            start()
        elif phase == "run" and args.follow and window.runs.count() and not window.selected_paths():
            window.runs.setCurrentRow(0)  # the user selects the run as it appears
        elif phase == "run" and (followed_done() if args.follow else not window.running):
            state["phase"], state["ended"] = "after", now
        elif phase == "after" and now - state["ended"] >= 2.5:  # the poll that sees the end
            state["total"] = now - state["started"]
            app.quit()

    timer = QTimer(interval=1)
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.timeout.connect(tick)
    state["started"] = state["last"] = time.perf_counter()
    timer.start()
    app.exec()
    timer.stop()
    window.shutdown()
    window.close()
    what = "followed from another process" if args.follow else "in the window"
    print(f"whole smoke run {k + 1} {what} ({state.get('total', 0):.1f} s incl. 2.5 s after):")
    idle_s = sum(idle_gaps)
    print(f"  idle {idle_s:.1f} s before Start (3 s at least, warm-up over): {_gaps_ms(idle_gaps)}")
    print(f"  Start to idle: {_gaps_ms(gaps)}; over 100 ms: {sum(g > 0.1 for g in gaps)}")
    slow = sorted(calls, reverse=True)[:6]
    print("  slowest GUI-thread calls: " + ", ".join(f"{n} {1000 * t:.0f} ms" for t, n, _ in slow))
    gcs = [t for t, n, _ in calls if n.startswith("gc ")]
    if gcs:
        print(
            f"  cyclic gc on the GUI thread: {len(gcs)} collections, {1000 * sum(gcs):.0f} ms "
            f"in all, longest {1000 * max(gcs):.0f} ms"
        )
    for gap, when, status in sorted(big, reverse=True)[:4]:
        print(f"  gap {1000 * gap:.0f} ms at {when:.2f} s ({status})")


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
