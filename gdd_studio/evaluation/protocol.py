"""Phase 4: what a distilled set is worth, measured the way the literature measures it.

The fixed-set protocol of DC / DSA / DM (METHOD.md): sample IPC images per class from the
run's generator once (seeded, kept as ``distilled/ipc<N>.npz``), train freshly initialised
networks on that set only, with DSA augmentation, and test them on the real test split.
The baselines go through the same protocol with the same seeds in the same call, so the
k-th network of every source starts from the same initial weights and sees the same batch
order: a random real subset of the same IPC (always), the full training set (optional
upper bound) and the phase-1 generator before SKD ("gan-only", when its checkpoint
exists). DiM's on-the-fly protocol and best-of-checks reporting are options, labelled as
such in the results, never the default.

The rows and how they were measured are ``rows.py``; the results file, ``results.py``;
the networks of a grid spread over workers, ``jobs.py``; what each network trains on,
``inputs.py``. Every name they hold is importable from here as before.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..config import (
    EvalConfig,
    RuntimeConfig,
    SamplingConfig,
    is_custom_arch,
    resolve_device,
    validate_evaluation,
    validate_runtime,
    validate_sampling,
)
from ..data import ImageDataset, dataset_family, load_dataset
from ..engine.events import (
    EvalFinished,
    EvalProgress,
    EvalResult,
    EvalStarted,
    LogMessage,
    RunControl,
)
from ..engine.refine import refine_at
from ..engine.sets import synthetic_set
from ..errors import ConfigError, GddError, user_message
from ..models.augment import DIGIT_STRATEGY, DSA, DSA_STRATEGY
from ..models.fit import normalizer, test_accuracy, train_classifier
from ..models.gan import Generator
from ..models.nets import build_eval_network, custom_network
from ..models.runtime import COMPILE_MIN_TFLOP, Runtime, forward_flops, resolve, work_tflop
from ..rundir.artifacts import (
    SOURCES_WITH_GENERATOR,
    OpenedRun,
    dataset_info,
    load_run_generator,
    open_run,
    require_generator,
    run_generator,
    synthetic_set_path,
)
from ..rundir.folder import RunFolder, clear_stale_temporaries, keep_aside, require_inside
from .dm_real import DM_REAL, DmSettings, budget_minutes, dm_real_set
from .eta import EvalEta
from .inputs import _to_float, on_the_fly, random_real_indices
from .jobs import NetworkJob, execute_distributed, pick_device, train_network_job
from .results import RESULTS_VERSION, load_results, results_path, save_results, upgrade_results
from .rows import (
    RESULT_COLUMNS,
    SOURCE_TITLES,
    SOURCES,
    _row_title,
    evaluating_line,
    networks_text,
    protocol_tag,
    protocols_differ,
    refine_label,
    row_protocol,
    settings_protocol,
    source_title,
)
from .scores import results_csv

CHECKS = 5  # test-set checks of the best-of-checks report [DiM]

EventSink = Callable[[Any], None]


class Evaluation:
    """One evaluation call on a run folder: a plan of rows, each trained ``repeats`` times.

    ``settings`` defaults to the run's own ``evaluation`` section; its ``ipcs`` default to
    the run's IPC. ``execute`` obeys a ``RunControl`` between epochs and writes every
    finished row at once, so a stopped evaluation keeps what it completed.
    """

    def __init__(
        self,
        run_dir: str | Path | OpenedRun,
        settings: EvalConfig | None = None,
        device: str | None = None,
        data: ImageDataset | None = None,
        sampling: SamplingConfig | None = None,
        known_rows: Sequence[dict[str, Any]] = (),
        runtime: RuntimeConfig | None = None,
    ) -> None:
        """``runtime``: precision and compilation of the networks (default: the run's own
        ``runtime`` section). ``known_rows``: rows measured already elsewhere with exactly
        this computation (a sweep's random real rows of another member with the same data
        and settings, its GAN-only rows of a member that shares the phase-1 generator):
        kept as they are, with ``copied_from``, instead of trained again."""
        # Opened once here (or by the caller): every reader below gets this run.
        self.run = open_run(run_dir)
        self.dir = self.run.dir
        self.run_cfg = self.run.config
        # How generator-made sets are chosen: the run's rule unless the caller names one;
        # the same rule for the distilled set and the GAN-only baseline.
        self.sampling = copy.deepcopy(sampling or self.run_cfg.sampling)
        validate_sampling(self.sampling)
        self._control = RunControl()
        self._loaded: ImageDataset | None = None
        self.settings = copy.deepcopy(settings or self.run_cfg.evaluation)
        if not self.settings.ipcs:
            self.settings.ipcs = [self.run_cfg.ipc]
        validate_evaluation(self.settings)
        self.runtime = copy.deepcopy(runtime or self.run_cfg.runtime)
        validate_runtime(self.runtime)
        require_generator(self.dir)
        self._check_custom_networks()
        if self.run.folder.is_imported:  # one set, stored: no generator behind it
            self._check_imported()
        self.device = torch.device(resolve_device(device or self.run_cfg.device))
        self._device_request = device  # what a worker resolves on its own device
        self._prepared: tuple[ImageDataset, Any, DSA | None, Tensor] | None = None
        self._sets: dict[tuple[str, int], tuple[Tensor, Tensor]] = {}
        self._data = data
        self._sink: EventSink = lambda e: None
        self._known = {(r["arch"], r["ipc"], r["source"]): dict(r) for r in known_rows}
        self._dm_meta: dict[int, dict[str, Any]] = {}
        # (source, ipc): how many of a generator set's images the generator made
        self._generator_images: dict[tuple[str, int], int | None] = {}
        if self.settings.dm_real:  # refused now, before anything is trained, if unknown
            self.dm_minutes, self.dm_minutes_from = budget_minutes(
                self.dir, self.settings.dm_minutes
            )

    def _check_custom_networks(self) -> None:
        """The user's own networks (``PATH.py:FACTORY``) load and fit the run's data, or
        the evaluation is refused in one line before anything trains."""
        c, size, _, k = self._dataset_shape
        for arch in self.settings.archs:
            if is_custom_arch(arch):
                try:
                    custom_network(arch, c, k, size)
                except ValueError as exc:
                    raise GddError(str(exc)) from None

    def _check_imported(self) -> None:
        """What an imported set can be judged by: its own IPC, the fixed protocol."""
        ipc, s = self.run_cfg.ipc, self.settings
        other = [i for i in s.ipcs if i != ipc]
        if other:
            raise GddError(
                f"{self.dir.name} is a set imported at IPC {ipc}: it has no generator to make "
                f"IPC {', '.join(map(str, other))} (evaluate it with --ipc {ipc})"
            )
        if s.protocol == "on-the-fly":
            raise GddError(
                f"{self.dir.name} is an imported set: the on-the-fly protocol draws new "
                "images from a generator, which it has not (use the fixed protocol)"
            )

    @property
    def has_gan_only(self) -> bool:
        return RunFolder(self.dir).phase_checkpoint(1).is_file()

    def plan(self) -> list[tuple[str, int | None, str]]:
        """(architecture, IPC or None for the full set, source) of every row, in order."""
        s = self.settings
        sources = ["distilled", "random-real"]
        if s.gan_only and self.has_gan_only:
            sources.insert(1, "gan-only")
        if s.dm_real:
            sources.append(DM_REAL)
        rows: list[tuple[str, int | None, str]] = []
        for arch in s.archs:
            rows += [(arch, ipc, src) for ipc in s.ipcs for src in sources]
            if s.full_real:
                rows.append((arch, None, "full-real"))
        return rows

    def _take_known(self, finished_rows: list[dict[str, Any]]) -> list[tuple]:
        """Keep the planned rows known already; the plan of what is left to train."""
        todo = []
        for key in self.plan():
            row = self._known.get(key)
            if row is None:
                todo.append(key)
                continue
            self._log(f"{_row_title(*key)}: taken from {row.get('copied_from')} (the same "
                      "networks on the same images)")  # fmt: skip
            self._keep_row(row, finished_rows)
        return todo

    def _log(self, message: str, level: str = "info") -> None:
        self._sink(LogMessage(level, message))

    def execute(
        self,
        on_event: EventSink | None = None,
        control: RunControl | None = None,
        executor: Any = None,
    ) -> dict[str, Any]:
        """Train and test every planned network; returns the saved results document.

        ``executor`` (``gdd_studio.sweep.executors``) spreads the grid's networks over
        worker processes or a Ray cluster; each network's seed is fixed by its place in
        the grid, so on the CPU the accuracies equal those of the sequential call.
        """
        self._sink = on_event or (lambda e: None)
        control = control or RunControl()
        try:
            self._open_to_write()
            if executor is None:
                return self._execute(control)
            return execute_distributed(self, control, executor)
        except Exception as exc:
            self._sink(EvalFinished("failed", str(results_path(self.dir)), user_message(exc)))
            raise

    def _open_to_write(self) -> None:
        """Before anything is written: never through a link out of the run folder, no
        temporary file a killed write left, and a results file this layout cannot read
        (someone else's, or damaged) kept aside rather than replaced."""
        folder = RunFolder(self.dir)
        require_inside(self.dir, folder.eval, folder.distilled(0).parent, folder.selection)
        for tmp in clear_stale_temporaries(self.dir, ("eval", "distilled", "selection")):
            self._log(f"removed {tmp.relative_to(self.dir)}, left by a write that was cut off")
        path = results_path(self.dir)
        if path.exists() and load_results(self.dir) is None:
            aside = keep_aside(path, "unreadable")
            self._log(
                f"{path.name} is not an evaluation this program wrote (or it is damaged): "
                f"kept aside as {aside.name}",
                "warning",
            )

    def _setup(self, control: RunControl) -> tuple[ImageDataset, Any, DSA | None, Tensor]:
        """The data on the device, its normalizer, DSA and the normalized test split:
        what every network of the grid shares, on whichever worker trains it."""
        s, cfg, device = self.settings, self.run_cfg, self.device
        data = self._data
        if data is None:
            self._log(f"loading dataset {cfg.dataset}")
            data = load_dataset(cfg.dataset, data_dir=cfg.data_dir, download=cfg.download)
        smallest = min(data.per_class_counts())
        if max(s.ipcs) > smallest:
            raise ConfigError(
                f"evaluation IPC {max(s.ipcs)} is more than the {smallest} training images of "
                f"the smallest class: the random real baseline could not be drawn"
            )
        data = data.to(device)
        self._data = data  # loaded once, also for the next network of a worker
        self._loaded, self._control = data, control
        norm = normalizer(data.mean, data.std, device)
        strategy = DIGIT_STRATEGY if dataset_family(cfg.dataset) == "mnist" else DSA_STRATEGY
        dsa = DSA(strategy) if s.dsa else None
        x_test = norm(data.x_test.float() / 255)
        return data, norm, dsa, x_test

    def _inputs(
        self, data: ImageDataset, arch: str, ipc: int | None, source: str, r: int,
        sets: dict[tuple[str, int], tuple[Tensor, Tensor]],
    ) -> tuple[Tensor, Tensor, int, int]:  # fmt: skip
        """(images, labels, epochs, seed) of network ``r`` of a row: fixed by its place in
        the grid alone, so any worker that trains it trains the same network."""
        s = self.settings
        seed = s.seed * 1000 + r
        if source == "full-real":
            return data.x_train, data.y_train, s.full_real_epochs, seed
        if source == "random-real":
            idx = random_real_indices(data.y_train, ipc, data.num_classes, seed + ipc)
            idx = idx.to(self.device)
            return data.x_train[idx], data.y_train[idx], s.epochs, seed
        images, labels = sets[(source, ipc)]
        return images, labels, s.epochs, seed

    def _execute(self, control: RunControl) -> dict[str, Any]:
        s = self.settings
        data, norm, dsa, x_test = self._setup(control)
        finished_rows: list[dict[str, Any]] = []
        plan = self._take_known(finished_rows)
        if s.gan_only and not self.has_gan_only:
            self._log("no phase-1 checkpoint in this run: the GAN-only baseline is skipped")
        per_row = [s.repeats] * len(plan)
        total = sum(per_row)
        self._eta = self._work_clock(plan, data)
        self._sink(EvalStarted(total, [_row_title(*row) for row in plan]))
        self._log(evaluating_line(s, len(plan), total, f"on {self.device}"))
        generators = {
            source: run_generator(self.run, source)
            for source in SOURCES_WITH_GENERATOR
            if any(src == source for _, _, src in plan)
        }
        sets: dict[tuple[str, int], tuple[Tensor, Tensor]] = {}
        done_networks, start = 0, time.perf_counter()
        doc = load_results(self.dir) or {"protocol": None, "results": []}
        status = "finished"
        for arch, ipc, source in plan:
            accuracies, finals = [], []
            row_start = time.perf_counter()
            for r in range(s.repeats):
                if source in SOURCES_WITH_GENERATOR and (source, ipc) not in sets:
                    try:
                        sets[(source, ipc)] = self._synthetic_set(source, ipc, generators[source])
                    except GddError:
                        if not control.stop_requested:
                            raise
                        status = "stopped"  # during the observer's training
                        break
                if source == DM_REAL and (source, ipc) not in sets:
                    made = self._dm_set(ipc)
                    if made is None:
                        status = "stopped"
                        break
                    sets[(source, ipc)] = made
                images, labels, epochs, seed = self._inputs(data, arch, ipc, source, r, sets)
                x = norm(_to_float(images, self.device))
                refresh = None
                if s.protocol == "on-the-fly" and source in generators:
                    refresh = self._on_the_fly(generators[source], labels, norm, seed)
                report = functools.partial(
                    self._report, done_networks, total, start, arch, ipc, source, r, epochs
                )
                self._eta.begin(done_networks)
                final, best = self._train_one(
                    arch, x, labels, epochs, seed, dsa, x_test, data, control, report, refresh
                )
                if final is None:
                    status = "stopped"
                    break
                finals.append(final)
                accuracies.append(best if s.report == "best-of-checks" else final)
                self._eta.end(done_networks)
                done_networks += 1
            if status == "stopped":
                break
            row = self._row(arch, ipc, source, accuracies, finals, len(labels), epochs)
            row["seconds"] = round(time.perf_counter() - row_start, 2)
            doc = self._keep_row(row, finished_rows)
        return self._end(status, finished_rows, doc)

    def _end(self, status: str, finished_rows: list[dict[str, Any]], doc: dict) -> dict:
        """Say how the evaluation ended (a stopped one: how many rows it saved)."""
        planned = len(self.plan())
        message = f"{len(finished_rows)} of {planned} rows" if status == "stopped" else ""
        if status == "stopped":
            self._log(f"evaluation stopped; {message} saved")
        self._sink(EvalFinished(status, str(results_path(self.dir)), message))
        doc["status"] = status
        return doc

    def train_network(
        self, arch: str, ipc: int | None, source: str, repeat: int, control: RunControl
    ) -> tuple[float | None, float, int, int]:
        """Train and test network ``repeat`` of one row, as the sequential loop trains it:
        (final accuracy or None when stopped, best of the checks, images, epochs)."""
        if self._prepared is None:
            self._prepared = self._setup(control)
        self._control = control
        data, norm, dsa, x_test = self._prepared
        s = self.settings
        generator = None
        if source in SOURCES_WITH_GENERATOR:
            if (source, ipc) not in self._sets:
                generator = run_generator(self.run, source)
                self._sets[(source, ipc)] = self._synthetic_set(source, ipc, generator)
        if source == DM_REAL and (source, ipc) not in self._sets:
            self._sets[(source, ipc)] = self._dm_set(ipc)  # stored by the caller already
        images, labels, epochs, seed = self._inputs(data, arch, ipc, source, repeat, self._sets)
        x = norm(_to_float(images, self.device))
        refresh = None
        if s.protocol == "on-the-fly" and source in SOURCES_WITH_GENERATOR:
            generator = generator or load_run_generator(self.run, source)
            refresh = self._on_the_fly(generator, labels, norm, seed)
        final, best = self._train_one(
            arch, x, labels, epochs, seed, dsa, x_test, data, control, lambda epoch: None,
            refresh,
        )  # fmt: skip
        return final, best, len(labels), epochs

    def _work_clock(
        self, plan: Sequence[tuple[str, int | None, str]], data: ImageDataset
    ) -> EvalEta:
        """The ETA's record of the grid's work: each network's epochs over its images."""
        s = self.settings
        networks = [
            (s.full_real_epochs, len(data.x_train)) if source == "full-real"
            else (s.epochs, (ipc or 0) * data.num_classes)
            for _, ipc, source in plan
            for _ in range(s.repeats)
        ]  # fmt: skip
        return EvalEta(networks, s.batch_size, len(data.x_test))

    def _report(
        self, done: int, total: int, start: float, arch: str, ipc: int | None, source: str,
        repeat: int, epochs: int, epoch: int,
    ) -> None:  # fmt: skip
        elapsed = time.perf_counter() - start
        self._eta.epoch(done, epoch)
        eta = self._eta.eta()  # None until a rate is known: 'estimating'
        self._sink(
            EvalProgress(done + 1, total, arch, ipc, source, repeat, epoch, epochs, elapsed, eta)
        )

    def _synthetic_set(self, source: str, ipc: int, g: Generator) -> tuple[Tensor, Tensor]:
        """A generator's fixed set: stored once, reused by every later evaluation."""
        stored = synthetic_set(
            self.run, ipc, source, self.device, generator=g, sampling=self.sampling,
            data=self._loaded, log=self._log, should_stop=lambda: self._control.stop_requested,
        )  # fmt: skip
        if stored.new:
            where = synthetic_set_path(
                self.run, ipc, source, self.sampling.selection, self.sampling.choose_from
            )
            self._log(
                f"chose {len(stored.labels)} images from the {source} generator "
                f"({stored.selection} selection) into {where}"
            )
        self._generator_images[(source, ipc)] = stored.generator_images
        x = torch.from_numpy(stored.images).permute(0, 3, 1, 2).contiguous().to(self.device)
        return x, torch.from_numpy(stored.labels).to(self.device)

    def _dm_set(self, ipc: int) -> tuple[Tensor, Tensor] | None:
        """The dm-real set of ``ipc`` (evaluation/dm_real.py), made once and stored in
        eval/; it starts from the random real baseline's first subset. None if stopped."""
        data, s = self._loaded, self.settings
        assert data is not None  # _setup ran
        digits = dataset_family(self.run_cfg.dataset) == "mnist"
        strategy = DIGIT_STRATEGY if digits else DSA_STRATEGY
        subset_seed = s.seed * 1000 + ipc  # as _inputs draws the first random real subset
        made = dm_real_set(
            self.dir, data, ipc, self.dm_minutes,
            random_real_indices(data.y_train, ipc, data.num_classes, subset_seed), strategy,
            seed=s.seed, subset_seed=subset_seed, runtime=self.dm_runtime(),
            dm=DmSettings.from_refine(self.run_cfg.refine), on_progress=self._sink,
            should_stop=lambda: self._control.stop_requested, log=self._log,
        )  # fmt: skip
        if made is None:
            return None
        self._dm_meta[ipc] = made.meta
        return made.images, made.labels

    def _on_the_fly(self, g: Generator, labels: Tensor, norm, seed: int):
        """[DiM] A fresh draw from the generator every epoch, same labels."""
        return on_the_fly(g, labels, norm, seed, self.device, self.run_cfg.model.nz)

    def _train_one(
        self, arch, x, labels, epochs, seed, dsa, x_test, data, control, report, refresh
    ) -> tuple[float | None, float]:
        """Train one network; (final accuracy, best of the checks), or (None, _) if stopped."""
        s = self.settings
        rt = self.network_runtime(arch, epochs, len(labels))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = build_eval_network(
                arch, data.channels, data.num_classes, data.image_size, s.width
            )
        net = net.to(self.device)
        checks = {round(epochs * (i + 1) / CHECKS) for i in range(CHECKS)}
        best = [0.0]
        last_report = [0.0]

        def on_epoch(epoch: int) -> None:
            if s.report == "best-of-checks" and epoch in checks and epoch < epochs:
                best[0] = max(best[0], test_accuracy(net, x_test, data.y_test, runtime=rt))
            now = time.perf_counter()
            if now - last_report[0] > 0.25 or epoch == epochs:
                last_report[0] = now
                report(epoch)
            if control.paused:
                control.wait_while_paused()

        completed = train_classifier(
            net, x, labels, epochs, torch.Generator().manual_seed(seed),
            batch_size=s.batch_size, lr=s.lr, momentum=s.momentum,
            weight_decay=s.weight_decay, augment=dsa, should_stop=lambda: control.stop_requested,
            on_epoch=on_epoch, refresh=refresh, runtime=rt,
        )  # fmt: skip
        if not completed:
            return None, 0.0
        final = test_accuracy(net, x_test, data.y_test, runtime=rt)
        return final, max(best[0], final)

    def dm_runtime(self) -> Runtime:
        """The dm-real baseline runs as the run's own refinement would: compiled where a
        minute or more of matching repays it (the iteration count is unknown until timed)."""
        r = self.runtime
        tflop = COMPILE_MIN_TFLOP if self.dm_minutes >= 1 else 0.0
        return resolve(r.precision, r.compile, self.device, "refine", tflop)

    def network_runtime(self, arch: str, epochs: int, images: int) -> Runtime:
        """How a network of ``arch`` trained ``epochs`` over ``images`` runs: ``auto``
        counts the work of the row's repeats, which share one compilation."""
        s, r, d = self.settings, self.runtime, self._dataset_shape
        forward = forward_flops(build_eval_network, (arch, d[0], d[3], d[1], s.width), d[:3])
        tflop = work_tflop(forward, epochs * images * s.repeats)
        return resolve(r.precision, r.compile, self.device, "evaluation", tflop)

    @functools.cached_property
    def _dataset_shape(self) -> tuple[int, int, int, int]:
        """(channels, size, size, classes) of the run's data, as recorded when it ran."""
        info = dataset_info(self.dir, self.run)
        c, size = int(info["channels"]), int(info["image_size"])
        return c, size, size, len(info["classes"])

    def _selection_word(self) -> str:
        """How a generator's set was chosen, or "imported" for a set made elsewhere."""
        return "imported" if self.run.folder.is_imported else self.sampling.selection

    def _row(self, arch, ipc, source, accuracies, finals, images, epochs) -> dict[str, Any]:
        s = self.settings
        acc = np.asarray(accuracies, dtype=np.float64)
        row: dict[str, Any] = {
            "arch": arch,
            "ipc": ipc,
            "source": source,
            "n": len(acc),
            "mean": float(acc.mean()),
            "std": float(acc.std()),
            "accuracies": [round(float(a), 6) for a in acc],
            "images": images,
            # images the generator made: a generator's set counts its draws (herding may
            # keep real images beside them); the baselines are real images
            "generator_images": self._generator_images.get((source, ipc))
            if source in SOURCES_WITH_GENERATOR
            else 0,
            "epochs": epochs,
            "selection": self._selection_word() if source in SOURCES_WITH_GENERATOR else None,
            # A generator-made set is refined as the run says (engine/refine.py).
            "refine": refine_label(refine_at(self.run_cfg.refine, ipc, self.run_cfg.ipc))
            if source in SOURCES_WITH_GENERATOR
            else None,
            "protocol": s.protocol if source in ("distilled", "gan-only") else "fixed",
            "report": s.report,
            "width": s.width,
            "dsa": s.dsa,
            "lr": s.lr,
            "batch_size": s.batch_size,
            "seconds": 0.0,
            **self.network_runtime(arch, epochs, images).describe(),
        }
        if s.report == "best-of-checks":
            row["final_accuracies"] = [round(float(a), 6) for a in finals]
        if source == DM_REAL:
            meta = self._dm_meta[ipc]
            row.update(dm_iterations=meta["iterations"], dm_minutes=meta["minutes_asked"],
                       dm_minutes_taken=meta["minutes_taken"],
                       dm_minutes_from=self.dm_minutes_from)  # fmt: skip
        return row

    def _keep_row(self, row: dict[str, Any], finished_rows: list[dict[str, Any]]) -> dict:
        """A finished row: saved at once (a stop keeps it), reported and logged."""
        finished_rows.append(row)
        doc = self._save(finished_rows)
        self._sink(EvalResult(row))
        self._log(
            f"{_row_title(row['arch'], row['ipc'], row['source'])}: {100 * row['mean']:.2f} %"
            + (f" +- {100 * row['std']:.2f}" if row["n"] > 1 else "")
            + f" over {networks_text(row['n'])}"
        )
        return doc

    def _save(self, new_rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Merge the new rows into eval/results.json (and .csv), replacing same-key rows."""
        protocol = asdict(self.settings)
        protocol.update(
            dataset=self.run_cfg.dataset, device=str(self.device), dsa_strategy=(
                DIGIT_STRATEGY if dataset_family(self.run_cfg.dataset) == "mnist" else DSA_STRATEGY
            ) if self.settings.dsa else None,
            checks=CHECKS if self.settings.report == "best-of-checks" else None,
            updated=time.time(),
        )  # fmt: skip
        return save_results(self.dir, new_rows, self.settings, protocol, self._log)


__all__ = [
    "CHECKS",
    "Evaluation",
    "NetworkJob",
    "RESULTS_VERSION",
    "RESULT_COLUMNS",
    "SOURCES",
    "SOURCE_TITLES",
    "load_results",
    "pick_device",
    "protocol_tag",
    "protocols_differ",
    "random_real_indices",
    "refine_label",
    "results_csv",
    "results_path",
    "row_protocol",
    "settings_protocol",
    "source_title",
    "train_network_job",
    "upgrade_results",
]
