"""One lifecycle for the window's background jobs: a worker on its own QThread.

Training, evaluation and making a set for the Distilled set tab each run a ``Worker``
(``ui/worker.py``) on a ``QThread`` of its own (Qt's recommended pattern). What is the same
for all three lives here once, after superqt's ``WorkerBase``: every worker has the same
signals (``started``, ``returned`` with ``work()``'s value, ``errored`` with the exception
that escaped it, ``finished``), and every job is started, stopped and waited for the same
way, with one call that waits for all of a window's jobs (``wait_for_jobs``).

The owner (the job's parent) connects the worker's signals to slots of QObjects on its
thread before ``start()``; they are queued, so a slot never runs on the worker's thread.
``Job.finished`` comes once, on the owner's thread, after the thread has ended and every
signal the worker sent has been delivered: the owner forgets the job there.
"""

from __future__ import annotations

import gc
import threading
from typing import ClassVar

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal, Slot

from ..engine.events import RunControl

COLLECT_MS = 100  # how often the GUI thread looks whether a collection is due


class GuiCollector(QObject):
    """Python's cyclic garbage collection, done by a timer on the GUI thread only.

    The collector runs on whichever thread allocates when a threshold is crossed: on a
    job's thread it can finalize QObjects (a closed dialog, a replaced chart item) off the
    GUI thread, which hung a run's thread inside PySide's destructor (seen: a training
    thread stuck in torch.save's pickling, in gc, in QObject::~QObject). So automatic
    collection is off and this timer collects, with the interpreter's thresholds, the
    oldest generation that is due (pyqtgraph's GarbageCollector did the same once a
    second, all three in turn).

    Two things keep each collection short, because it holds the GUI thread: it looks
    often (a generation-0 collection walks every object made since the last one, and a
    job can make 100,000 a second), and once the engine's one-time imports are done
    (:meth:`freeze_after` the warm-up) everything alive then (torch, Qt, pyqtgraph: about
    370,000 objects, a 250-450 ms full collection on a 2-core CPU) is moved out of the
    collector's sight with ``gc.freeze()``, so a full collection walks only what came
    after. What is frozen is never collected: at that point it is the program itself.
    """

    def __init__(self, interval_ms: int = COLLECT_MS) -> None:
        super().__init__()
        self.threshold = gc.get_threshold()
        gc.disable()
        self._after: list[threading.Thread] = []
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def freeze_after(self, thread: threading.Thread) -> None:
        """Freeze what is alive once ``thread`` (the engine's warm-up) has ended."""
        self._after.append(thread)

    @Slot()
    def check(self) -> None:
        if self._after and not any(t.is_alive() for t in self._after):
            self._after.clear()
            gc.freeze()
        counts = gc.get_count()
        due = -1
        for generation in range(3):
            if counts[generation] <= self.threshold[generation]:
                break
            due = generation  # an older generation is due only when the younger one is
        if due >= 0:
            gc.collect(due)  # the younger generations with it


_COLLECTOR: GuiCollector | None = None


def collect_garbage_on_gui_thread() -> GuiCollector:
    """The process's :class:`GuiCollector`, made on the first call (on the GUI thread;
    the window makes it)."""
    global _COLLECTOR
    if _COLLECTOR is None:
        _COLLECTOR = GuiCollector()
    return _COLLECTOR


def freeze_after(thread: threading.Thread) -> None:
    """Have the GUI thread's collector freeze what is alive once ``thread`` has ended
    (nothing when no window has made a collector)."""
    if _COLLECTOR is not None:
        _COLLECTOR.freeze_after(thread)


class Worker(QObject):
    """What a job runs: ``work()`` on the job's thread, reported by four signals.

    ``control`` is thread-safe: the owner pauses, resumes and stops the work directly,
    without a round trip through the worker's (busy) thread.
    """

    started = Signal()
    returned = Signal(object)  # work()'s value
    errored = Signal(object)  # the exception that escaped work(), without its traceback
    finished = Signal()  # after returned or errored

    def __init__(self) -> None:
        super().__init__()
        self.control = RunControl()

    def work(self) -> object:  # pragma: no cover - every worker has its own
        raise NotImplementedError

    @Slot()
    def run(self) -> None:
        self.started.emit()
        try:
            result = self.work()
        except Exception as exc:  # noqa: BLE001 - the owner shows it
            # The traceback holds the worker's frames (tensors, a dataset): only the
            # exception itself crosses to the GUI thread.
            self.errored.emit(exc.with_traceback(None))
        else:
            self.returned.emit(result)
        finally:
            self.finished.emit()
            # End this thread's event loop from inside: a quit queued to the main thread
            # could not run while the main thread waits for us (closing the window).
            QThread.currentThread().quit()


class Job(QObject):
    """A worker moved to a new QThread, from ``start()`` to the thread's end.

    ``parent`` is the owner: it receives the worker's signals and ``finished``; its
    jobs are the ones ``wait_for_jobs(owner)`` waits for.
    """

    finished = Signal()  # the thread has ended and the worker's last signals are in

    _running: ClassVar[set[Job]] = set()  # started, not yet finished (wait_for_jobs)

    def __init__(self, worker: Worker, parent: QObject) -> None:
        super().__init__(parent)
        self.worker = worker
        self._thread: QThread | None = QThread(self)
        worker.moveToThread(self._thread)
        self._thread.started.connect(worker.run)
        self._thread.finished.connect(self._on_thread_finished)

    @property
    def running(self) -> bool:
        """True from ``start()`` until ``finished`` has been emitted."""
        return self in Job._running

    def start(self) -> None:
        if self._thread is None or self.running:
            raise RuntimeError("a job starts once")
        Job._running.add(self)
        self._thread.start()

    def stop(self) -> None:
        """Ask the work to stop at its next check (this also releases a pause)."""
        self.worker.control.stop()

    def wait(self) -> None:
        """Block until the thread has ended, then deliver what it sent and finish."""
        if self._thread is not None:
            self._thread.wait()
            # The worker's last signals are queued to the owner's slots (its own or its
            # parts'): deliver what is queued now, in the order it was sent, before the
            # owner hears that the job has finished.
            QCoreApplication.sendPostedEvents()
        self._on_thread_finished()

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._thread is None:
            return  # already finished (wait() came first)
        self.worker.deleteLater()
        self._thread.deleteLater()
        self._thread = None
        Job._running.discard(self)
        self.finished.emit()
        self.deleteLater()


def jobs_of(owner: QObject) -> list[Job]:
    """The running jobs whose owner is ``owner`` or one of its descendants."""

    def under(obj: QObject | None) -> bool:
        while obj is not None:
            if obj is owner:
                return True
            obj = obj.parent()
        return False

    return [job for job in list(Job._running) if under(job.parent())]


def wait_for_jobs(owner: QObject, stop: bool = True) -> None:
    """Stop (unless ``stop`` is false) and wait for every job of ``owner``: one way to
    end a window's background work (closing, tests, scripts).

    A job's end may start another (a finished run makes the set viewer show its set):
    those are stopped and waited for too, until none is left.
    """
    while jobs := jobs_of(owner):
        if stop:
            for job in jobs:
                job.stop()
        for job in jobs:
            job.wait()
