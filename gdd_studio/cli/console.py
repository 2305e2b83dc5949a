"""What the CLI prints while work goes: a progress bar with rate and ETA on a terminal,
plain lines otherwise, and the exit codes every verb returns."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..engine.events import fmt_eta

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED = 0, 1, 2, 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143: stopped cleanly because SIGTERM asked


def load_dataset_saying(cfg: Any, quiet: bool, after_s: float = 1.0) -> Any:
    """``cfg``'s dataset, loaded; "loading dataset X" is said on stderr only when the load
    takes longer than ``after_s`` (and not with ``quiet``), so that a dataset error is the
    one line the user reads, not the second."""
    import threading

    from ..data import load_dataset

    say = threading.Timer(
        after_s, lambda: print(f"loading dataset {cfg.dataset}", file=sys.stderr, flush=True)
    )
    if not quiet:
        say.start()
    try:
        return load_dataset(cfg.dataset, data_dir=cfg.data_dir, download=cfg.download)
    finally:
        say.cancel()


class StopSignals:
    """Which stop signal ended the work, if any: ``exit_code`` is the status a stopped
    verb returns (130 after Ctrl-C, 143 after SIGTERM, as a shell reports them)."""

    def __init__(self) -> None:
        self.received: list[int] = []

    @property
    def exit_code(self) -> int:
        return EXIT_TERMINATED if signal.SIGTERM in self.received else EXIT_STOPPED


@contextmanager
def stop_on_signals(control: Any, say: Callable[[str], None], what: str) -> Iterator[StopSignals]:
    """For the block: the first Ctrl-C (SIGINT) or SIGTERM (``kill``, ``timeout``, systemd,
    Docker, a cluster's pre-emption) asks ``control`` to stop at the next step with a
    checkpoint, and ``say`` tells the user ``what`` that means. A second Ctrl-C aborts at
    once (KeyboardInterrupt); a second SIGTERM ends the process as SIGTERM does. The
    previous handlers come back after the block."""
    got = StopSignals()

    def on_signal(signum, frame):
        got.received.append(signum)
        again = "Ctrl-C again to abort" if signum == signal.SIGINT else "SIGTERM again to end now"
        say(f"{what} ({again})...")
        control.stop()
        signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT
                      else signal.SIG_DFL)  # fmt: skip

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield got
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class ConsoleReporter:
    """Prints a progress bar with rate and ETA on a terminal, plain lines otherwise."""

    def __init__(self, stream=None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.quiet = quiet
        self._last = 0.0
        self._bar_open = False

    def __call__(self, event: Any) -> None:
        from ..engine.events import EvalProgress, EvalResult, LogMessage, Progress, RunFinished
        from ..evaluation.dm_real import DmProgress
        from ..evaluation.rows import accuracy_text

        if isinstance(event, Progress):
            self._progress(event)
        elif isinstance(event, EvalProgress):
            self._eval_progress(event)
        elif isinstance(event, DmProgress):
            self._dm_progress(event)
        elif isinstance(event, EvalResult) and self.quiet:
            r = event.row
            budget = "all" if r["ipc"] is None else f"IPC {r['ipc']}"
            self._line(f"{r['arch']} {budget} {r['source']}: {accuracy_text(r, unit=' %')}")
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
        eta = fmt_eta(p.eta_s)  # 'estimating' until warm-up and compilation are behind
        self._bar(
            frac,
            f"phase {p.phase} step {p.step}/{p.total_steps} {100 * frac:5.1f}% "
            f"{p.rate:6.2f} it/s ETA {eta}",
        )

    def _eval_progress(self, p: Any) -> None:
        if not self._due(p.index == p.total and p.epoch == p.epochs):
            return
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
            f"ETA {fmt_eta(p.eta_s)}",
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
