"""An evaluation's grid spread over workers: each network a ``NetworkJob`` (plain and
picklable) that a worker process or a Ray task trains, the rows saved as they complete.

Each network's seed is fixed by its place in the grid, so on the CPU the accuracies equal
those of the sequential ``Evaluation.execute``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import EvalConfig, RuntimeConfig, SamplingConfig
from ..engine.events import (
    EvalFinished,
    EvalProgress,
    EvalStarted,
    FlagFileControl,
    RunControl,
)
from ..errors import GddError, user_message
from ..rundir.artifacts import SOURCES_WITH_GENERATOR, run_generator
from ..rundir.folder import RunFolder
from ..rundir.sweeps import eval_stop_flag
from .dm_real import DM_REAL
from .eta import work_left_eta
from .results import load_results, results_path
from .rows import _row_title, evaluating_line


@dataclass(frozen=True)
class NetworkJob:
    """One network of an evaluation grid, as a worker receives it (plain, picklable)."""

    run_dir: str
    settings: EvalConfig
    sampling: SamplingConfig
    device: str | None  # as asked for; None, "auto" or "cuda" take the worker's device
    arch: str
    ipc: int | None
    source: str
    repeat: int
    runtime: RuntimeConfig | None = None


# The evaluation a worker last served (an ``Evaluation`` of protocol.py, which imports
# this module: here it is only ever passed in, never named).
_WORKER_EVALUATIONS: dict[tuple, Any] = {}


def pick_device(requested: str | None, pinned: str | None) -> str | None:
    """A worker pinned to a device uses it unless the caller named a specific one."""
    if pinned and requested in (None, "auto", "cuda"):
        return pinned
    return requested


def train_network_job(
    evaluation_class: Callable[..., Any], job: NetworkJob, worker: Any
) -> dict[str, Any]:
    """Run one ``NetworkJob`` on a worker (``worker``: its ``device`` and ``stop_flag``);
    ``evaluation_class`` (the coordinator's ``Evaluation``, bound by execute_distributed)
    builds what trains it.

    A worker keeps the evaluation it last served (dataset on its device, sets read), so
    the next network of the same grid starts at once.
    """
    device = pick_device(job.device, getattr(worker, "device", None))
    key = (job.run_dir, repr(job.settings), repr(job.sampling), device, repr(job.runtime))
    evaluation = _WORKER_EVALUATIONS.get(key)
    if evaluation is None:
        _WORKER_EVALUATIONS.clear()
        evaluation = evaluation_class(
            job.run_dir, job.settings, device, sampling=job.sampling, runtime=job.runtime
        )
        _WORKER_EVALUATIONS[key] = evaluation
    control = getattr(worker, "control", None) or FlagFileControl(
        getattr(worker, "stop_flag", None)
    )
    start = time.perf_counter()
    final, best, images, epochs = evaluation.train_network(
        job.arch, job.ipc, job.source, job.repeat, control
    )
    return {
        "final": final, "best": best, "images": images, "epochs": epochs,
        "seconds": time.perf_counter() - start,
    }  # fmt: skip


def execute_distributed(ev: Any, control: RunControl, executor: Any) -> dict[str, Any]:
    """The same grid, each network a job of ``executor``; rows saved as they complete.
    ``ev``: the ``Evaluation`` (protocol.py) whose grid it is."""
    s = ev.settings
    data, norm, dsa, x_test = ev._setup(control)
    finished_rows: list[dict[str, Any]] = []
    plan = ev._take_known(finished_rows)
    if s.gan_only and not ev.has_gan_only:
        ev._log("no phase-1 checkpoint in this run: the GAN-only baseline is skipped")
    total = s.repeats * len(plan)
    ev._sink(EvalStarted(total, [_row_title(*row) for row in plan]))
    ev._log(evaluating_line(s, len(plan), total, f"with {executor.describe()}"))
    doc = load_results(ev.dir) or {"protocol": None, "results": []}
    # The generators' sets are made here, once, before any worker starts: a worker
    # only reads them, so no two workers ever choose the same set at once.
    for _, ipc, source in plan:
        if source == DM_REAL and ev._dm_set(ipc) is None:  # made once, here
            ev._sink(EvalFinished("stopped", str(results_path(ev.dir)), "0 rows"))
            return dict(doc, status="stopped")
        if source in SOURCES_WITH_GENERATOR:
            try:
                ev._synthetic_set(source, ipc, run_generator(ev.run, source))
            except GddError:
                if not control.stop_requested:
                    raise
                ev._sink(EvalFinished("stopped", str(results_path(ev.dir)), "0 rows"))
                return dict(doc, status="stopped")
    jobs = [
        NetworkJob(str(ev.dir), ev.settings, ev.sampling, ev._device_request,
                   arch, ipc, source, r, ev.runtime)
        for arch, ipc, source in plan
        for r in range(s.repeats)
    ]  # fmt: skip
    clock = ev._work_clock(plan, data)
    work = {(j.arch, j.ipc, j.source, j.repeat): clock.work(i) for i, j in enumerate(jobs)}
    outcomes: dict[tuple, dict[str, Any]] = {}
    start, status, failure = time.perf_counter(), "finished", None
    flag = eval_stop_flag(RunFolder(ev.dir).eval)
    train = functools.partial(train_network_job, type(ev))  # picklable: the class by name
    for i, out in executor.map_unordered(train, jobs, control, flag):
        job = jobs[i]
        if isinstance(out, BaseException):
            failure = failure or out
            control.stop()  # the others stop at their next epoch
            continue
        if out["final"] is None:
            status = "stopped"
            continue
        outcomes[(job.arch, job.ipc, job.source, job.repeat)] = out
        done = len(outcomes)
        elapsed = time.perf_counter() - start
        eta = work_left_eta(
            elapsed, sum(work[k] for k in outcomes), sum(work.values())
        )  # networks of unequal work: a full-real one is many distilled ones
        ev._sink(EvalProgress(done, total, job.arch, job.ipc, job.source, job.repeat,
                              out["epochs"], out["epochs"], elapsed, eta))  # fmt: skip
        row_outs = [outcomes.get((job.arch, job.ipc, job.source, r)) for r in range(s.repeats)]
        if any(o is None for o in row_outs):
            continue
        finals = [o["final"] for o in row_outs]
        accuracies = [o["best"] if s.report == "best-of-checks" else o["final"]
                      for o in row_outs]  # fmt: skip
        row = ev._row(job.arch, job.ipc, job.source, accuracies, finals,
                      out["images"], out["epochs"])  # fmt: skip
        row["seconds"] = round(sum(o["seconds"] for o in row_outs), 2)
        doc = ev._keep_row(row, finished_rows)
    if failure is not None:
        raise (
            failure
            if isinstance(failure, GddError)
            else GddError(f"a network of the evaluation failed: {user_message(failure)}")
        )
    if control.stop_requested and len(finished_rows) < len(ev.plan()):
        status = "stopped"
    return ev._end(status, finished_rows, doc)
