"""ui/jobs.py: the one lifecycle of the window's background jobs."""

import threading
import time

import pytest
from PySide6.QtCore import QObject, Slot

from gdd_studio.ui.jobs import Job, Worker, jobs_of, wait_for_jobs


class Waits(Worker):
    """Works until stopped, then returns what it saw; or fails when told to."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.fail, self.begun = fail, threading.Event()

    def work(self) -> object:
        self.begun.set()
        if self.fail:
            raise ValueError("no generator yet")
        while not self.control.stop_requested:
            time.sleep(0.005)
        return ("stopped", threading.current_thread() is not threading.main_thread())


class Recorder(QObject):
    """Slots on the main thread: what the owner of a job hears, and on which thread."""

    def __init__(self, seen: list, parent: QObject) -> None:
        super().__init__(parent)
        self.seen = seen

    def _add(self, item: object) -> None:
        self.seen.append(item if threading.current_thread() is threading.main_thread() else "!")

    @Slot()
    def started(self) -> None:
        self._add("started")

    @Slot(object)
    def returned(self, value: object) -> None:
        self._add(("returned", value))

    @Slot(object)
    def errored(self, exc: object) -> None:
        self._add(("errored", exc))

    @Slot()
    def finished(self) -> None:
        self._add("finished")


def _start(owner: QObject, worker: Worker, seen: list) -> Job:
    job = Job(worker, owner)
    rec = Recorder(seen, owner)  # the owner's slots, as a panel's are
    worker.started.connect(rec.started)
    worker.returned.connect(rec.returned)
    worker.errored.connect(rec.errored)
    job.finished.connect(rec.finished)
    job.start()
    return job


def test_wait_for_jobs_stops_every_job_of_an_owner_and_delivers_its_signals(qtbot):
    owner, other = QObject(), QObject()
    child = QObject(owner)  # a panel's job counts as its window's
    seen_a, seen_b, seen_c = [], [], []
    a = _start(owner, Waits(), seen_a)
    b = _start(child, Waits(), seen_b)
    c = _start(other, Waits(), seen_c)
    assert a.worker.begun.wait(5) and b.worker.begun.wait(5)
    assert set(jobs_of(owner)) == {a, b} and a.running and b.running
    with pytest.raises(RuntimeError, match="starts once"):
        a.start()
    wait_for_jobs(owner)
    # every signal arrived, in order, on this thread, before the job said it had finished
    assert seen_a == ["started", ("returned", ("stopped", True)), "finished"]
    assert seen_b == seen_a and jobs_of(owner) == []
    assert c.running and seen_c in ([], ["started"])  # another owner's job goes on
    c.stop()
    qtbot.waitUntil(lambda: "finished" in seen_c, timeout=5000)
    assert seen_c[-2:] == [("returned", ("stopped", True)), "finished"] and not c.running


def test_an_exception_in_the_work_arrives_as_errored_without_its_traceback(qtbot):
    owner, seen = QObject(), []
    job = _start(owner, Waits(fail=True), seen)
    qtbot.waitUntil(lambda: "finished" in seen, timeout=5000)
    assert seen[0] == "started" and seen[-1] == "finished" and len(seen) == 3
    kind, exc = seen[1]
    assert kind == "errored" and isinstance(exc, ValueError) and str(exc) == "no generator yet"
    assert exc.__traceback__ is None  # the worker's frames stay on its thread
    assert not job.running and jobs_of(owner) == []


def test_a_job_started_by_another_ones_end_is_waited_for_too(qtbot):
    owner, seen_first, seen_next = QObject(), [], []
    first = _start(owner, Waits(), seen_first)
    follow: list[Job] = []
    first.finished.connect(lambda: follow.append(_start(owner, Waits(), seen_next)))
    assert first.worker.begun.wait(5)
    wait_for_jobs(owner)
    assert len(follow) == 1 and not follow[0].running
    assert seen_next[-1] == "finished" and jobs_of(owner) == []


def test_cyclic_garbage_made_on_a_jobs_thread_is_collected_on_the_gui_thread(qtbot):
    """A collection on a job's thread can finalize QObjects there (PySide hung a run's
    thread that way): with the window's collector, only the GUI thread collects."""
    import gc

    from gdd_studio.ui.jobs import collect_garbage_on_gui_thread

    collect_garbage_on_gui_thread()
    collect_garbage_on_gui_thread()  # once per process: a second call changes nothing
    assert not gc.isenabled()
    finalized_on: set[int] = set()

    class Cycle:
        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            finalized_on.add(threading.get_ident())

    def make_garbage() -> None:
        for _ in range(5 * gc.get_threshold()[0]):  # well past the first threshold
            Cycle()

    worker = threading.Thread(target=make_garbage)
    worker.start()
    worker.join()
    assert finalized_on == set()  # nothing collected on the worker's thread
    qtbot.waitUntil(lambda: bool(finalized_on), timeout=5000)  # the GUI thread's timer
    assert finalized_on == {threading.get_ident()}
