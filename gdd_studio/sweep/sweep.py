"""A sweep: one base config, the settings each member changes, and the members' runs.

Members are made up front as ordinary run folders (status "created") in the runs folder,
so a sweep that is stopped, killed or half failed is continued by running again whatever
has not finished: finished members are kept, stopped or killed ones resume from their
checkpoints. ``sweep.json`` (rundir/sweeps.py) records the base, the axes and each
member's run id, status and, for a failure, its one-line reason.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import (
    RunConfig,
    phase1_settings,
    resolve_defaults,
    set_value,
    validate,
    validate_for_dataset,
)
from ..data import ImageDataset
from ..engine.events import FlagFileControl, RunControl, fmt_elapsed
from ..errors import ConfigError, GddError, user_message
from ..evaluation.compare import _fmt
from ..evaluation.protocol import (
    Evaluation,
    load_results,
    pick_device,
    protocols_differ,
    row_protocol,
    settings_protocol,
)
from ..rundir.artifacts import run_config
from ..rundir.folder import RunFolder, read_run_info
from ..rundir.sweeps import (
    SweepFolder,
    member_status,
    new_sweep_dir,
    read_sweep,
    write_sweep,
)
from .executors import LocalExecutor, Worker

# The paper's ablation (Li et al., ICASSP 2025, Table 3) at one budget: what the matching
# term and the standardization each bring.
ABLATION: list[tuple[str, dict[str, Any]]] = [
    ("SKD + standardization", {"distill.loss": "skd", "distill.standardize": True}),
    ("SKD, no standardization", {"distill.loss": "skd", "distill.standardize": False}),
    ("DiM's MSE", {"distill.loss": "mse"}),
    ("no matching term", {"distill.loss": "none"}),
]
ABLATION_AXIS = "variant"
MAX_MEMBERS = 1000
DONE = "finished"


def split_values(text: str) -> list[str]:
    """Comma-separated values; commas inside [...] or quotes stay (a list value)."""
    out, depth, quote, cur = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    out.append(cur.strip())
    return out


def parse_axis(text: str) -> tuple[str, list[str]]:
    """``KEY=V1,V2,...`` as (key, [values]), or one line saying what is wrong."""
    if "=" not in text:
        raise ConfigError(f"--axis expects KEY=V1,V2,..., got '{text}'")
    key, values = (part.strip() for part in text.split("=", 1))
    items = split_values(values)
    if not key or not values or any(v == "" for v in items):
        raise ConfigError(f"--axis {text}: give a key and one or more values, e.g. seed=0,1,2")
    if len(set(items)) < len(items):
        raise ConfigError(f"--axis {key} names a value twice")
    return key, items


def _typed(cfg: RunConfig, key: str, raw: Any) -> Any:
    """The value as the config holds it (checked: an unknown key or a bad value fails)."""
    probe = copy.deepcopy(cfg)
    set_value(probe, key, raw)
    target: Any = probe
    for part in key.split("."):
        target = getattr(target, part)
    return target


def member_settings(
    base: RunConfig, axes: Sequence[tuple[str, Sequence[Any]]], ablation: bool
) -> list[tuple[str, dict[str, Any]]]:
    """(label, {key: value}) of every member: the grid product of the axes (after the
    ablation's variants, when asked for)."""
    keys = [k for k, _ in axes]
    if len(set(keys)) < len(keys):
        raise ConfigError("an --axis key is given twice")
    if ablation and any(k.startswith(("distill.loss", "distill.standardize")) for k in keys):
        raise ConfigError("--ablation sets distill.loss and distill.standardize itself")
    typed = [(k, [_typed(base, k, v) for v in values]) for k, values in axes]
    variants = ABLATION if ablation else [("", {})]
    members = []
    for name, fixed in variants:
        for combo in itertools.product(*[values for _, values in typed]):
            settings = {ABLATION_AXIS: name} if name else {}
            settings.update(fixed)
            settings.update({k: v for (k, _), v in zip(typed, combo, strict=True)})
            parts = [name] if name else []
            parts += [f"{k.rsplit('.', 1)[-1]}={_fmt(v)}" for (k, _), v in
                      zip(typed, combo, strict=True)]  # fmt: skip
            members.append((", ".join(parts) or "base", settings))
    if len(members) > MAX_MEMBERS:
        raise ConfigError(f"the sweep has {len(members)} members, more than {MAX_MEMBERS}")
    return members


def member_configs(
    base: RunConfig,
    axes: Sequence[tuple[str, Sequence[Any]]],
    ablation: bool,
    data: ImageDataset | None = None,
) -> list[tuple[str, dict[str, Any], RunConfig]]:
    """(label, settings, checked config) of every member (checked against the data too,
    when given); the first member that cannot run says so in one line."""
    resolve_defaults(base)
    validate(base)
    configs = []
    for label, settings in member_settings(base, axes, ablation):
        cfg = copy.deepcopy(base)
        for key, value in settings.items():
            if key != ABLATION_AXIS:  # a name for what the keys beside it set
                set_value(cfg, key, value)
        if "distill.lam" not in settings and "dataset" in settings:
            cfg.distill.lam = None  # the member's own dataset's default
        resolve_defaults(cfg)
        try:
            validate(cfg)
            if data is not None:
                validate_for_dataset(cfg, data.num_classes, data.per_class_counts())
        except GddError as exc:
            raise type(exc)(f"member {label}: {exc}") from None
        configs.append((label, settings, cfg))
    return configs


def phase1_groups(configs: Sequence[RunConfig]) -> int:
    """How many phase 1s a sweep of these members trains when they share them."""
    return len({json.dumps(phase1_settings(c), sort_keys=True, default=str) for c in configs})


@dataclass(frozen=True)
class MemberJob:
    """One member's training, as a worker receives it."""

    run_dir: str


def train_member_job(job: MemberJob, worker: Worker) -> dict[str, Any]:
    """Train (or resume) one member on a worker; its status and one-line message."""
    from ..engine.run import Run

    control = worker.control or FlagFileControl(worker.stop_flag)
    if control.stop_requested:
        return {"status": "pending", "message": ""}
    start = time.perf_counter()
    try:
        run = Run.open(job.run_dir)
        info = read_run_info(Path(job.run_dir))
        if info.get("status") == DONE and run.generator_path.is_file():
            return {"status": DONE, "message": "", "seconds": 0.0}
        device = pick_device(run.cfg.device, worker.device)
        if device and device != run.cfg.device:
            run.cfg.device = device  # this worker's device; config.json keeps the setting
        status = run.execute(worker.on_event, control)
    except Exception as exc:  # noqa: BLE001 - one member's failure never stops the others
        return {"status": "failed", "message": user_message(exc)}
    return {"status": status, "message": "", "seconds": time.perf_counter() - start}


class Sweep:
    """A sweep folder and the loop that trains (and evaluates) its members."""

    def __init__(self, sweep_dir: Path, doc: dict[str, Any]) -> None:
        self.dir = Path(sweep_dir)
        self.folder = SweepFolder(self.dir)
        self.doc = doc

    @classmethod
    def create(
        cls,
        base: RunConfig,
        axes: Sequence[tuple[str, Sequence[Any]]],
        runs_dir: Path,
        ablation: bool = False,
        evaluate: dict[str, Any] | None = None,
        data: ImageDataset | None = None,
        share_phase1: bool = True,
    ) -> Sweep:
        """Check every member's config (against the data, when given) before anything is
        written, then make the sweep folder and one run folder per member.

        ``share_phase1``: members whose phase-1 settings agree train phase 1 once
        (``_next_wave``); False: each trains its own."""
        from ..engine.run import Run

        if not axes and not ablation:
            raise ConfigError("a sweep needs --axis KEY=V1,V2,... or --ablation")
        configs = member_configs(base, axes, ablation, data)
        keys = [k for k, _ in axes]
        name = "-".join(["ablation"] * ablation + [k.rsplit(".", 1)[-1] for k in keys])
        sweep_dir = new_sweep_dir(Path(runs_dir), name)
        doc: dict[str, Any] = {
            "id": sweep_dir.name,
            "created": time.time(),
            "base": base.to_dict(),
            "axes": ([{"key": ABLATION_AXIS, "values": [n for n, _ in ABLATION]}] * ablation)
            + [{"key": k, "values": [_typed(base, k, v) for v in vs]} for k, vs in axes],
            "ablation": ablation,
            "evaluate": evaluate,
            "share_phase1": share_phase1,
            "members": [],
        }
        for label, settings, cfg in configs:
            run = Run.create(cfg, Path(runs_dir))
            member = {"run": run.dir.name, "label": label, "settings": settings}
            member.update(status="pending", message="", evaluated=False)
            doc["members"].append(member)
        write_sweep(sweep_dir, doc)
        return cls(sweep_dir, doc)

    @classmethod
    def open(cls, sweep_dir: str | Path) -> Sweep:
        return cls(Path(sweep_dir), read_sweep(sweep_dir))

    @property
    def members(self) -> list[dict[str, Any]]:
        return self.doc["members"]

    def member_dir(self, member: dict[str, Any]) -> Path:
        return self.folder.member_dir(member["run"])

    def _save(self) -> None:
        write_sweep(self.dir, self.doc)

    def unfinished(self) -> list[dict[str, Any]]:
        """Members still to train: every one whose run has not finished with a generator."""
        out = []
        for m in self.members:
            done = member_status(self.dir, m) == DONE
            if not (done and RunFolder(self.member_dir(m)).generator.is_file()):
                out.append(m)
        return out

    def execute(
        self,
        executor: Any = None,
        control: RunControl | None = None,
        say: Callable[[str], None] = lambda line: None,
        on_event: Callable[[Any], None] | None = None,
    ) -> dict[str, int]:
        """Train every unfinished member, then evaluate every finished one (when the sweep
        has evaluation settings). Returns the count of members by status."""
        executor = executor or LocalExecutor()
        control = control or RunControl()
        todo = self.unfinished()
        for m in self.members:
            if m not in todo:
                m["status"] = DONE
        n = len(self.members)
        if todo:
            say(f"training {len(todo)} of {n} members with {executor.describe()}")
        if isinstance(executor, LocalExecutor):
            executor.on_event = on_event
        remaining = todo
        while remaining and not control.stop_requested:
            if self.doc.get("share_phase1", True):
                wave, remaining = self._next_wave(remaining, say)
            else:
                wave, remaining = remaining, []
            self._train(wave, executor, control, say)
        if self.doc.get("evaluate") and not control.stop_requested:
            self._evaluate(executor, control, say, on_event)
        self._save()
        counts: dict[str, int] = {}
        for m in self.members:
            counts[m["status"]] = counts.get(m["status"], 0) + 1
        return counts

    def _train(self, wave, executor, control, say) -> None:
        n = len(self.members)
        jobs = [MemberJob(str(self.member_dir(m))) for m in wave]
        for i, out in executor.map_unordered(
            train_member_job, jobs, control, self.folder.stop_flag()
        ):
            m = wave[i]
            if isinstance(out, BaseException):
                out = {"status": "failed", "message": user_message(out)}
            m["status"], m["message"] = out["status"], out.get("message", "")
            self._save()
            index = self.members.index(m) + 1
            took = f" in {fmt_elapsed(out['seconds'])}" if out.get("seconds") else ""
            reason = f": {m['message']}" if m["message"] else ""
            say(f"member {index}/{n} ({m['label']}): {m['status']}{took}{reason}")

    def _phase1_key(self, m: dict[str, Any]) -> str | None:
        """What the member's phase 1 depends on; None for a folder whose config cannot be
        read (it trains on its own and fails there with its own one line)."""
        try:
            cfg = run_config(self.member_dir(m))
            resolve_defaults(cfg)
        except (GddError, OSError, ValueError):
            return None
        return json.dumps(phase1_settings(cfg), sort_keys=True, default=str)

    def _next_wave(
        self, remaining: list[dict[str, Any]], say: Callable[[str], None]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The members to train now, and those that wait for a phase 1 under way.

        Members whose phase-1 settings agree (an ablation, a sweep of tau or lambda) share
        one phase 1: the first of them (the leader) trains it, the others start at their
        phase 2 from its ``phase1.pt`` (``Run.take_phase1``), which is where each would
        have arrived on its own. A member with a checkpoint of its own resumes from it.
        """
        from ..engine.run import Run

        sources: dict[str, Path] = {}
        for m in self.members:
            key = self._phase1_key(m)
            if key and RunFolder(self.member_dir(m)).phase_checkpoint(1).is_file():
                sources.setdefault(key, self.member_dir(m))
        wave, waiting, led = [], [], set()
        for m in remaining:
            folder, key = RunFolder(self.member_dir(m)), self._phase1_key(m)
            if key is None:
                wave.append(m)
            elif folder.last_checkpoint.exists():
                wave.append(m)
                if key not in sources:
                    led.add(key)  # its phase 1 is under way: the others wait for it
            elif key in sources:
                try:
                    if Run.open(folder.dir).take_phase1(sources[key]):
                        say(f"member {m['label']}: phase 1 taken from {sources[key].name}")
                except GddError as exc:
                    say(f"member {m['label']}: phase 1 not taken ({exc}); it trains its own")
                wave.append(m)
            elif key not in led:
                led.add(key)
                wave.append(m)
            else:
                waiting.append(m)
        if waiting:
            say(f"{len(waiting)} members wait for a phase 1 they share with another member")
        return wave, waiting

    def _member_evaluation(self, m: dict[str, Any]) -> _MemberEvaluation:
        """How the sweep evaluates a member: its run's evaluation settings and sampling
        with the sweep's overrides, the device, and the keys of its shared rows."""
        overrides = dict(self.doc["evaluate"])
        device = overrides.pop("device", None)
        sampling_overrides = overrides.pop("sampling", {}) or {}
        cfg = run_config(self.member_dir(m))
        settings = cfg.evaluation
        for key, value in overrides.items():
            setattr(settings, key, value)
        sampling = None
        if sampling_overrides:
            sampling = cfg.sampling
            for key, value in sampling_overrides.items():
                setattr(sampling, key, value)
        # For the rows that do not depend on a member's own phase 2, what makes two
        # members' rows the same computation: random real rows on the same data with the
        # same evaluation settings and device; GAN-only rows also on the same phase-1
        # generator (a member and those that took its phase 1) and the same selection
        planned = dataclasses.replace(settings, ipcs=settings.ipcs or [cfg.ipc])
        common = json.dumps(
            [cfg.dataset, cfg.data_dir, device or cfg.device, dataclasses.asdict(planned)],
            sort_keys=True, default=str,
        )  # fmt: skip
        origin = read_run_info(self.member_dir(m)).get("phase1_from") or m["run"]
        # ... and the same refinement, which GAN-only sets get as the distilled set does
        chosen = [dataclasses.asdict(sampling or cfg.sampling), dataclasses.asdict(cfg.refine)]
        keys = {
            "random-real": common,
            "gan-only": common + json.dumps([origin, chosen], sort_keys=True, default=str),
        }
        return _MemberEvaluation(settings, sampling, device, keys)

    def _evaluate(self, executor, control, say, on_event) -> None:
        # Rows measured once serve every member whose row is the same computation.
        known: dict[tuple[str, str], list[dict[str, Any]]] = {}

        def remember(m: dict[str, Any], plan: _MemberEvaluation) -> None:
            doc = load_results(self.member_dir(m))
            ours = settings_protocol(plan.settings)

            def same(r: dict[str, Any]) -> bool:  # not a row the user measured otherwise
                return r.get("n") == plan.settings.repeats and not protocols_differ(
                    row_protocol(r), ours
                )

            for source, key in plan.keys.items():
                rows = [r for r in (doc or {}).get("results", [])
                        if r["source"] == source and same(r)]  # fmt: skip
                if rows and (source, key) not in known:
                    known[(source, key)] = [
                        dict(r, copied_from=r.get("copied_from") or m["run"], seconds=0.0)
                        for r in rows
                    ]

        for m in self.members:
            if m.get("evaluated"):
                remember(m, self._member_evaluation(m))
        for m in self.members:
            if m["status"] != DONE or m.get("evaluated") or control.stop_requested:
                continue
            run_dir = self.member_dir(m)
            say(f"evaluating member {self.members.index(m) + 1}/{len(self.members)} "
                f"({m['label']})")  # fmt: skip
            try:
                plan = self._member_evaluation(m)
                rows = [row for source, key in plan.keys.items()
                        for row in known.get((source, key), [])]  # fmt: skip
                evaluation = Evaluation(
                    run_dir, plan.settings, device=plan.device, sampling=plan.sampling,
                    known_rows=rows,
                )  # fmt: skip
                distributed = None if isinstance(executor, LocalExecutor) else executor
                doc = evaluation.execute(on_event, control, executor=distributed)
            except Exception as exc:  # noqa: BLE001 - recorded; the next member goes on
                m["message"] = f"evaluation failed: {user_message(exc)}"
                say(f"member {m['label']}: {m['message']}")
                self._save()
                continue
            m["evaluated"] = doc.get("status") == DONE
            if m["evaluated"]:
                remember(m, plan)
            self._save()


@dataclass(frozen=True)
class _MemberEvaluation:
    settings: Any  # EvalConfig
    sampling: Any  # SamplingConfig, or None for the run's own
    device: str | None
    keys: dict[str, str]  # source -> what makes its rows the same computation


def sweep_results(sweep_dir: str | Path) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(member, its evaluation rows) for every member that has results."""
    sweep = Sweep.open(sweep_dir)
    out = []
    for m in sweep.members:
        doc = load_results(sweep.member_dir(m))
        if doc and doc["results"]:
            out.append((m, doc["results"]))
    return out


__all__ = [
    "ABLATION", "MemberJob", "Sweep", "member_configs", "member_settings", "phase1_groups",
    "parse_axis", "split_values",
    "sweep_results", "train_member_job",
]  # fmt: skip
