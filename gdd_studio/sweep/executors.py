"""Where a sweep's members and an evaluation's networks run: here, in worker processes, or
on Ray.

Every executor does one thing: run a module-level function on a list of picklable jobs and
yield ``(index, result or exception)`` as each one ends. The function is called as
``fn(job, worker)``, where ``worker`` says which device the worker is pinned to (None:
the job's own choice) and which flag file asks it to stop. The coordinating process owns
the control: when it is told to stop, the executor writes the flag file, every job sees it
at its next step (a training run checkpoints there) and jobs not yet started are dropped.

Thread counts matter on a CPU: two processes that each use every core run together far
slower than one (on 2 cores, 4.25 steps/s alone against under 1 each side by side), so
each worker sets ``torch.set_num_threads`` to its share before any work.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine.events import RunControl
from ..errors import GddError

EXECUTORS = ("local", "ray")
RAY_HINT = 'the ray executor needs Ray: pip install "gdd-studio[cluster]"'
POLL_S = 0.2


@dataclass(frozen=True)
class Worker:
    """What a job knows of the worker that runs it."""

    device: str | None = None  # pinned device; None = the job's own setting
    threads: int | None = None  # torch threads it was given
    stop_flag: str | None = None  # the file that asks it to stop
    # In this process only (the local executor): the coordinator's own control and
    # event sink, so a job stops the moment it is asked and shows its progress.
    control: RunControl | None = None
    on_event: Callable[[Any], None] | None = None


def cpu_threads() -> int:
    """The threads this process may use (torch's count honours OMP_NUM_THREADS)."""
    import torch

    return max(1, torch.get_num_threads())


def worker_slots(workers: int | None) -> list[tuple[str | None, int]]:
    """(device, threads) for each local worker: one per CUDA GPU by default, each with its
    share of the CPU threads; on a CPU, the threads split evenly between the workers."""
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    n = workers or gpus or 1
    share = max(1, cpu_threads() // n)
    if gpus:
        return [(f"cuda:{i % gpus}", share) for i in range(n)]
    return [("cpu", share) for _ in range(n)]


def _request_stop(flag: Path | None) -> None:
    if flag is not None:
        flag.parent.mkdir(parents=True, exist_ok=True)
        flag.touch()


class LocalExecutor:
    """One job at a time, in this process (as ``run`` and ``evaluate`` always did)."""

    workers = 1

    def __init__(self, on_event: Callable[[Any], None] | None = None) -> None:
        self.on_event = on_event

    def describe(self) -> str:
        return "1 worker in this process"

    def close(self) -> None:
        pass

    def map_unordered(
        self, fn: Callable[[Any, Worker], Any], jobs: Sequence[Any], control: RunControl,
        flag: Path | None = None,
    ) -> Iterator[tuple[int, Any]]:  # fmt: skip
        worker = Worker(
            stop_flag=str(flag) if flag else None, control=control, on_event=self.on_event
        )
        try:
            for i, job in enumerate(jobs):
                if control.stop_requested:
                    _request_stop(flag)
                    return
                try:
                    yield i, fn(job, worker)
                except Exception as exc:  # noqa: BLE001 - the caller records it
                    yield i, exc
                if control.stop_requested:
                    _request_stop(flag)
        finally:
            if flag is not None:
                flag.unlink(missing_ok=True)


# ---- worker processes ------------------------------------------------------------------

_SLOT: tuple[str | None, int] | None = None


def _init_worker(slots: Any) -> None:
    """A new worker process takes one (device, threads) slot for its lifetime."""
    global _SLOT
    import torch

    _SLOT = slots.get()
    torch.set_num_threads(_SLOT[1])
    _die_with_parent()
    # Ctrl-C reaches the whole process group: the worker's job stops at its next step
    # with a checkpoint (the coordinator writes the flag file), it must not die mid-step.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _stop_on_sigterm()


def _stop_on_sigterm() -> None:
    """SIGTERM to a worker (a pre-emption, ``kill``, the whole job's group by a scheduler):
    its job stops at the next step with a checkpoint, as a stopped run does, and so does
    every later job it is handed. A later SIGTERM changes nothing: a scheduler that signals
    the whole group after one worker must not kill that worker mid-stop (a worker that dies
    breaks the pool, and its coordinator's exit takes the other workers with it before
    their checkpoints). SIGKILL still ends it at once."""
    from ..engine.events import PROCESS_STOP

    def on_sigterm(signum, frame):
        PROCESS_STOP.set()

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread (an executor that runs jobs in threads)
        pass


def _die_with_parent() -> None:
    """A worker whose coordinator was killed must not train on unseen: on Linux it gets
    SIGKILL with its parent (the member is then "interrupted" and resumes from its
    checkpoint; not SIGTERM, which a worker takes as a stop at its next step, and which
    would let it train on alone until then); elsewhere it finishes its job and waits,
    idle, until it is ended."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
        pass


def _call_in_worker(fn: Callable[[Any, Worker], Any], job: Any, flag: str | None) -> Any:
    assert _SLOT is not None
    return fn(job, Worker(_SLOT[0], _SLOT[1], flag))


class ProcessExecutor:
    """N worker processes on this machine, each pinned to one device and its share of the
    cores (concurrent.futures with the spawn start method: safe with CUDA)."""

    def __init__(self, workers: int | None = None) -> None:
        self.slots = worker_slots(workers)
        self.workers = len(self.slots)
        self._pool: cf.ProcessPoolExecutor | None = None

    def describe(self) -> str:
        devices = ", ".join(f"{d} x{t} threads" for d, t in self.slots)
        return f"{self.workers} worker processes ({devices})"

    def map_unordered(
        self, fn: Callable[[Any, Worker], Any], jobs: Sequence[Any], control: RunControl,
        flag: Path | None = None,
    ) -> Iterator[tuple[int, Any]]:  # fmt: skip
        pool = self._get_pool()
        flag_text = str(flag) if flag else None
        futures = {pool.submit(_call_in_worker, fn, job, flag_text): i for i, job in
                   enumerate(jobs)}  # fmt: skip
        pending = set(futures)
        stopping = False
        try:
            while pending:
                done, pending = cf.wait(pending, timeout=POLL_S, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    if fut.cancelled():
                        continue
                    exc = fut.exception()
                    yield futures[fut], exc if exc is not None else fut.result()
                if control.stop_requested and not stopping:
                    stopping = True
                    _request_stop(flag)
                    for fut in pending:
                        fut.cancel()  # not started yet: dropped
        finally:
            if stopping or pending:  # stopped or abandoned: never leave a job running
                self.close()
            if flag is not None:
                flag.unlink(missing_ok=True)

    def _get_pool(self) -> cf.ProcessPoolExecutor:
        """The worker processes, started once and kept for the executor's later calls (a
        sweep's training and then its evaluations): each start imports torch anew."""
        if self._pool is None:
            ctx = multiprocessing.get_context("spawn")
            slots = ctx.Queue()
            for slot in self.slots:
                slots.put(slot)
            self._pool = cf.ProcessPoolExecutor(
                self.workers, mp_context=ctx, initializer=_init_worker, initargs=(slots,)
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


# ---- Ray -------------------------------------------------------------------------------


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise GddError(RAY_HINT) from None
    return ray


def _ray_call(fn: Callable[[Any, Worker], Any], job: Any, flag: str | None) -> Any:
    """Runs inside a Ray worker: its device and its share of the cores come from what Ray
    assigned to this task."""
    import ray
    import torch

    from ..engine.events import PROCESS_STOP

    _stop_on_sigterm()  # a pre-empted member stops with a checkpoint; Ray retries it
    assigned = ray.get_runtime_context().get_assigned_resources()
    threads = max(1, int(assigned.get("CPU", 1)))
    torch.set_num_threads(threads)
    device = "cuda" if assigned.get("GPU", 0) and torch.cuda.is_available() else "cpu"
    out = fn(job, Worker(device, threads, flag))
    if PROCESS_STOP.is_set() and not (flag and Path(flag).exists()):
        # Pre-empted (SIGTERM to this worker, not a stop of the whole sweep): the job
        # stopped at a step with its checkpoint. The worker ends as the signal asked, so
        # that Ray retries the task on another worker, where the member resumes from that
        # checkpoint instead of waiting for `sweep --resume`.
        os._exit(128 + signal.SIGTERM)
    return out


class RayExecutor:
    """Each job a Ray task asking for one GPU where the cluster has GPUs (else its share
    of CPUs); Ray schedules them, retries a task whose worker or node died (a training
    run resumes from its checkpoint) and shows them on its dashboard.

    Without ``address`` Ray starts on this machine (or joins the cluster that
    ``RAY_ADDRESS`` names, as ``ray.init`` does).
    """

    def __init__(
        self, address: str | None = None, workers: int | None = None, retries: int = 2
    ) -> None:
        self.ray = import_ray()
        if not self.ray.is_initialized():
            self.ray.init(address=address, log_to_driver=False, configure_logging=False)
        resources = self.ray.cluster_resources()
        self.gpus = int(resources.get("GPU", 0))
        cpus = max(1, int(resources.get("CPU", 1)))
        self.workers = workers or (self.gpus or cpus)
        self.cpus_per_task = max(1, cpus // self.workers) if not self.gpus else 1
        self.retries = retries
        self._remote = self.ray.remote(_ray_call)

    def close(self) -> None:
        pass  # Ray stays up for the driver's lifetime; ray.shutdown() is the caller's

    def describe(self) -> str:
        per = f"1 GPU, {self.cpus_per_task} CPU" if self.gpus else f"{self.cpus_per_task} CPU"
        return f"Ray ({self.workers} at a time, {per} each)"

    def map_unordered(
        self, fn: Callable[[Any, Worker], Any], jobs: Sequence[Any], control: RunControl,
        flag: Path | None = None,
    ) -> Iterator[tuple[int, Any]]:  # fmt: skip
        ray = self.ray
        task = self._remote.options(
            num_cpus=self.cpus_per_task, num_gpus=1 if self.gpus else 0,
            max_retries=self.retries, retry_exceptions=False,
        )  # fmt: skip
        flag_text = str(flag) if flag else None
        refs = {task.remote(fn, job, flag_text): i for i, job in enumerate(jobs)}
        pending = list(refs)
        stopping = False
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1, timeout=POLL_S)
                for ref in done:
                    try:
                        yield refs[ref], ray.get(ref)
                    except ray.exceptions.TaskCancelledError:
                        continue
                    except ray.exceptions.RayTaskError as exc:
                        yield refs[ref], _task_error(exc)
                    except Exception as exc:  # noqa: BLE001 - a worker or node lost for good
                        yield refs[ref], exc
                if control.stop_requested and not stopping:
                    stopping = True
                    _request_stop(flag)
        finally:
            if flag is not None:
                flag.unlink(missing_ok=True)


def _task_error(exc: Exception) -> Exception:
    """The job's own exception (a GddError keeps its one line), not Ray's wrapper."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, Exception) else exc


def make_executor(
    name: str = "local", workers: int | None = None, address: str | None = None
) -> LocalExecutor | ProcessExecutor | RayExecutor:
    """The executor a command line asks for, or one line saying why not."""
    if name not in EXECUTORS:
        raise GddError(f"unknown executor '{name}' (choose from: {', '.join(EXECUTORS)})")
    if workers is not None and workers < 1:
        raise GddError(f"--workers must be at least 1, got {workers}")
    if name == "ray":
        return RayExecutor(address, workers)
    if address:
        raise GddError("--address is for --executor ray")
    if workers is None or workers == 1 and not _has_cuda():
        return LocalExecutor()
    return ProcessExecutor(workers)


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


__all__ = [
    "EXECUTORS", "LocalExecutor", "ProcessExecutor", "RAY_HINT", "RayExecutor", "Worker",
    "cpu_threads", "import_ray", "make_executor", "worker_slots",
]  # fmt: skip
