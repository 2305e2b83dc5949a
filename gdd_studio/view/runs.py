"""The runs list without Qt: which runs and sweeps it shows, in which order, with which
texts, and a sweep's queue of members.

Everything here is re-read from the runs folder (``list_runs``, ``list_sweeps``), so
runs that another process writes (the CLI, a server whose runs folder is shared) appear
and change as they go. The run and the sweep trained by this process (:class:`Here`) are
marked "running here" and show the live progress, not run.json's.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import phase1_settings, resolve_defaults
from ..errors import GddError
from ..rundir.artifacts import run_config
from ..rundir.folder import RunFolder
from ..rundir.records import RunsCache, RunSummary, list_runs
from ..rundir.sweeps import SweepFolder, list_sweeps, member_status, read_sweep
from .training import TRAINING, Here


def dataset_text(spec: str) -> str:
    """A dataset as a runs list shows it: 'cifar10-png (folder)', 'tiny.npz', 'mnist'."""
    kind, sep, path = spec.partition(":")
    if not sep or kind not in ("folder", "npz"):
        return spec
    p = Path(path)
    if kind == "npz":
        return p.name
    # A folder's own name is often generic ('images', 'data'): its parent tells more.
    name = f"{p.parent.name}/{p.name}" if p.parent.name else p.name
    return f"{name} (folder)"


@dataclass(frozen=True)
class Entry:
    """One row of the runs list."""

    kind: str  # "run", "sweep" or "member" (a run listed under its sweep)
    path: str  # the run or sweep folder
    text: str
    tooltip: str


@dataclass(frozen=True)
class RunsSnapshot:
    """One read of a runs folder: its runs (newest first) and its sweeps' sweep.json."""

    runs_dir: Path
    order: list[RunSummary]
    sweeps: dict[str, dict[str, Any]]
    entries: list[Entry]  # the list's rows, in order
    member_labels: dict[str, str]  # member run folder -> its sweep label
    key: tuple  # what the rows depend on: a change means the list changed
    seq: int  # scans are numbered: an older one finishing late is not shown
    summaries: dict[str, RunSummary]  # run folder -> its summary
    here: tuple[Path | None, Path | None]  # the run and sweep trained here when read


@dataclass(frozen=True)
class QueueRow:
    """One member in a sweep's queue."""

    label: str  # "2. seed=1"
    state: str  # its status, "training here", or "failed: why"
    progress: str  # "40 %", "100 %" or "-"
    run_dir: Path

    @property
    def texts(self) -> tuple[str, str, str]:
        return self.label, self.state, self.progress


class RunsModel:
    """The runs folder's runs and sweeps as the list shows them."""

    def __init__(self, runs_dir: Path, here: Here) -> None:
        self.runs_dir = Path(runs_dir)
        self.here = here
        self.summaries: dict[str, RunSummary] = {}  # run folder -> its summary
        self.sweeps: dict[str, dict[str, Any]] = {}  # sweep folder -> sweep.json
        self.member_labels: dict[str, str] = {}  # member run folder -> its sweep label
        self._phase1_keys: dict[Path, str | None] = {}  # member run folder -> phase-1 key
        self.queue_sweep: Path | None = None  # the sweep the queue shows when none runs here
        self._order: list[RunSummary] = []  # newest first
        self._key: tuple = ()
        self.rows: list[Entry] = []  # the list's rows as last read (entries())
        # (run folder, indented) -> (its summary, its sweep label, its row), for reuse
        self._entry_memo: dict[tuple[str, bool], tuple[RunSummary, str | None, Entry]] = {}
        self._last: RunsSnapshot | None = None  # the last scan's result
        self._scan_lock = threading.Lock()  # one scan at a time: they share the cache
        self._cache, self._cache_dir = RunsCache(), self.runs_dir
        self._scans = self._applied = 0

    # ---- reading the folder -----------------------------------------------------------
    def scan(self) -> RunsSnapshot:
        """Read the runs folder and work out the list's rows (safe on a worker thread: it
        changes nothing the list shows; :meth:`apply` takes the result on the GUI thread).
        A run's summary is read again only when its run.json changed (``RunsCache``), so
        thousands of runs cost a stat each."""
        with self._scan_lock:
            runs_dir = self.runs_dir
            if runs_dir != self._cache_dir:
                self._cache, self._cache_dir = RunsCache(), runs_dir
                self._entry_memo, self._last = {}, None
            order = list_runs(runs_dir, self._cache)
            self._scans += 1
            sweeps: dict[str, dict[str, Any]] = {}
            for sweep_dir in list_sweeps(runs_dir):
                try:
                    sweeps[str(sweep_dir)] = read_sweep(sweep_dir)
                except GddError:
                    continue  # half written by another machine: the next poll shows it
            here_run, here_sweep = self.here.run_dir, self.here.sweep_dir
            last = self._last
            if (
                last is not None and not self._cache.changed and sweeps == last.sweeps
                and (here_run, here_sweep) == last.here
            ):  # nothing new on disk: the same rows (what the list shows stays as it is)
                snap = dataclasses.replace(last, seq=self._scans)
                self._last = snap
                return snap
            view = copy.copy(self)  # the rows as they will read, worked out off the model
            view._order, view.sweeps, view.member_labels = order, sweeps, {}
            view.summaries = {str(s.path): s for s in order}
            entries = view.entries()
            key = tuple(
                (str(s.path), s.status, s.info.get("step"), s.path == here_run) for s in order
            ) + tuple(
                (d, tuple(m.get("run") for m in doc["members"]), Path(d) == here_sweep)
                for d, doc in sweeps.items()
            )
            snap = RunsSnapshot(
                runs_dir, order, sweeps, entries, view.member_labels, key, self._scans,
                view.summaries, (here_run, here_sweep),
            )  # fmt: skip
            self._last = snap
            return snap

    def apply(self, snap: RunsSnapshot) -> bool:
        """Show a scan's result; True when what the list shows has changed. A scan of
        another folder than the one shown now (the user chose another meanwhile) is
        dropped, and so is a scan older than the one shown."""
        if snap.runs_dir != self.runs_dir or snap.seq < self._applied:
            return False  # another folder's, or older than the one shown (read before it)
        self._applied = snap.seq
        if snap.key == self._key and snap.order is self._order:
            return False  # the very rows shown: nothing to take
        self._order = snap.order
        self.summaries = snap.summaries
        self.sweeps = snap.sweeps
        self.member_labels = snap.member_labels
        self.rows = snap.entries
        changed, self._key = snap.key != self._key, snap.key
        return changed

    def refresh(self) -> bool:
        """Re-read the runs folder now; True when what the list shows has changed."""
        return self.apply(self.scan())

    def summary(self, path: Path) -> RunSummary | None:
        return self.summaries.get(str(path))

    def label_text(self) -> str:
        return f"in {self.runs_dir}" if self.summaries else f"None yet in {self.runs_dir}"

    def recorded(self) -> list[RunSummary]:
        """Finished runs, newest first (their step rates estimate a sweep's time)."""
        done = [s for s in self.summaries.values() if s.status == "finished"]
        done.sort(key=lambda s: float(s.info.get("created", 0) or 0), reverse=True)
        return done

    # ---- the list -----------------------------------------------------------------------
    def entries(self) -> list[Entry]:
        """Every row, in order: a sweep is one entry with its members indented under it,
        in the sweep's order, where its first member would be; other runs newest first."""
        grouped: set[str] = set()
        blocks: dict[str, list[Entry]] = {}
        for sweep_dir, doc in self.sweeps.items():
            block = [self._sweep_entry(Path(sweep_dir), doc)]
            for m in doc["members"]:
                path = str(SweepFolder(Path(sweep_dir)).member_dir(str(m.get("run", ""))))
                if path in self.summaries and path not in grouped:
                    grouped.add(path)
                    if m.get("label"):
                        self.member_labels[path] = str(m["label"])
                    block.append(self._run_entry(self.summaries[path], True))
            blocks[sweep_dir] = block
        order = [(float(s.info.get("created", 0) or 0), "run", s) for s in self._order
                 if str(s.path) not in grouped]  # fmt: skip
        for sweep_dir, doc in self.sweeps.items():
            order.append((float(doc.get("created", 0) or 0), "sweep", sweep_dir))
        order.sort(key=lambda t: t[0], reverse=True)
        out: list[Entry] = []
        for _, kind, obj in order:
            out.extend(blocks[obj] if kind == "sweep" else [self._run_entry(obj, False)])
        return out

    def _run_entry(self, s: RunSummary, indented: bool) -> Entry:
        """A run's row; the same Entry object as last time for a run whose summary is the
        same object (unchanged on disk) and that is not trained here, so that a folder of
        thousands of runs is not written out again every second, and the list tells an
        unchanged row by identity."""
        path = str(s.path)
        label = self.member_labels.get(path) if indented else None
        memo_key = (path, indented)
        if s.path != self.here.run_dir:
            hit = self._entry_memo.get(memo_key)
            if hit is not None and hit[0] is s and hit[1] == label:
                return hit[2]
        entry = self._new_run_entry(s, indented)
        self._entry_memo[memo_key] = (s, label, entry)
        return entry

    def _new_run_entry(self, s: RunSummary, indented: bool) -> Entry:
        info = s.info
        tip = (str(s.path), f"preset {info.get('preset', '?')}, host {info.get('host', '?')}",
               str(info.get("message", "")))  # fmt: skip
        kind = "member" if indented else "run"
        return Entry(kind, str(s.path), self.run_text(s, indented), "\n".join(x for x in tip if x))

    def _sweep_entry(self, sweep_dir: Path, doc: dict[str, Any]) -> Entry:
        tip = (
            f"{sweep_dir}\nSelect the sweep to compare its members in the Evaluation tab "
            "and follow the member being trained"
        )
        return Entry("sweep", str(sweep_dir), self.sweep_text(sweep_dir, doc), tip)

    def run_text(self, s: RunSummary, indented: bool = False) -> str:
        """Dataset, IPC, tau, seed and preset (a sweep's member: what it varies, as the sweep names
        it, e.g. "DiM's MSE, seed=1"); status (with its percentage) and when it began."""
        info = s.info
        created = info.get("created")
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(created)) if created else ""
        here = s.path == self.here.run_dir
        status = "running here" if here else s.status
        step, total = info.get("step"), info.get("total_steps")
        if here and self.here.step is not None:
            step, total = self.here.step  # the progress bar's figure, not run.json's
        if status != "finished" and step is not None and total:
            status += f" ({100 * int(step) // max(1, int(total))} %)"
        dataset = dataset_text(str(info.get("dataset", "?")))
        ipc, tau = info.get("ipc", "?"), info.get("tau", "?")
        seed = f"   seed {info['seed']}" if "seed" in info else ""  # older run.json: none
        # A smoke and a cpu run of the same settings differ by their budget: the preset.
        preset = f"   {info['preset']} preset" if info.get("preset") else ""
        what = f"{dataset}   IPC {ipc}   tau {tau}{seed}{preset}"
        if s.status == "imported":  # a set made elsewhere: no tau, seed or preset of ours
            what = f"{dataset}   IPC {ipc}   set imported ({info.get('format', '?')})"
            status = f"from {Path(str(info.get('imported_from', '?'))).name}"
        if indented and str(s.path) in self.member_labels:
            what = self.member_labels[str(s.path)]
        text = f"{what}\n{status} · {when}"
        if indented:  # a sweep's member, under the sweep's entry
            text = "\n".join(f"      {line}" for line in text.splitlines())
        return text

    def sweep_text(self, sweep_dir: Path, doc: dict[str, Any]) -> str:
        states = [member_status(sweep_dir, m) for m in doc["members"]]
        counts: dict[str, int] = {}
        for state in states:
            counts[state] = counts.get(state, 0) + 1
        parts = ", ".join(f"{n} {state}" for state, n in counts.items())
        axes = " x ".join(str(a.get("key", "?")).rsplit(".", 1)[-1] for a in doc.get("axes", []))
        here = "running here · " if sweep_dir == self.here.sweep_dir else ""
        return f"Sweep of {axes or '?'}: {len(states)} runs\n{here}{parts}"

    # ---- sweeps -------------------------------------------------------------------------
    def member_states(self, sweep_dir: Path) -> list[str]:
        doc = self.sweeps.get(str(sweep_dir))
        return [member_status(sweep_dir, m) for m in doc["members"]] if doc else []

    def sweep_of(self, run_dir: Path) -> Path | None:
        """The sweep a run is a member of, if any."""
        for sweep_dir, doc in self.sweeps.items():
            folder = SweepFolder(Path(sweep_dir))
            if any(folder.member_dir(str(m.get("run", ""))) == run_dir for m in doc["members"]):
                return Path(sweep_dir)
        return None

    def sweep_members(self, sweep_dir: Path) -> list[Path]:
        """The run folders of a sweep's members that exist, in the sweep's order."""
        doc = self.sweeps.get(str(sweep_dir))
        if doc is None:
            return []
        folder = SweepFolder(Path(sweep_dir))
        dirs = [folder.member_dir(str(m.get("run", ""))) for m in doc["members"]]
        return [d for d in dirs if str(d) in self.summaries]

    def sweep_resumable(self, sweep_dir: Path) -> bool:
        """Not running anywhere, and some member is not finished."""
        if str(sweep_dir) not in self.sweeps or sweep_dir == self.here.sweep_dir:
            return False
        states = self.member_states(sweep_dir)
        return not any(s in TRAINING for s in states) and any(s != "finished" for s in states)

    def follow_target(self, sweep_dir: Path | None) -> Path | None:
        """The member of a sweep (not trained here) to show: the one being trained, by the
        CLI or a cluster, else the last one started; None when it has none."""
        doc = self.sweeps.get(str(sweep_dir)) if sweep_dir is not None else None
        if doc is None or sweep_dir == self.here.sweep_dir:
            return None
        assert sweep_dir is not None
        folder = SweepFolder(sweep_dir)
        target = None
        for m in doc["members"]:
            state = member_status(sweep_dir, m)
            if state in TRAINING:
                return folder.member_dir(str(m["run"]))
            if state not in ("created", "missing", "unknown"):
                target = folder.member_dir(str(m["run"]))
        return target

    def _phase1_key(self, run_dir: Path) -> str | None:
        """What a member's phase 1 depends on (its config never changes: kept)."""
        if run_dir not in self._phase1_keys:
            try:
                cfg = run_config(run_dir)
                resolve_defaults(cfg)
                key: str | None = json.dumps(phase1_settings(cfg), sort_keys=True, default=str)
            except (GddError, OSError, ValueError):
                key = None
            self._phase1_keys[run_dir] = key
        return self._phase1_keys[run_dir]

    def _waiting_for_phase1(
        self, doc: dict[str, Any], members: list[tuple[Path, dict[str, Any], str]]
    ) -> dict[Path, str]:
        """Members not started that will take their phase 1 from a member training it
        now (the sweep shares phase 1 among members that agree on it): member -> the
        label of the one they wait for. ``members``: (run folder, entry, status)."""
        if not doc.get("share_phase1", True):
            return {}
        leaders: dict[str, str] = {}
        for run_dir, m, state in members:
            training = state in TRAINING or run_dir == self.here.run_dir
            key = self._phase1_key(run_dir)
            if training and key and not RunFolder(run_dir).phase_checkpoint(1).exists():
                leaders.setdefault(key, str(m.get("label", run_dir.name)))
        out = {}
        for run_dir, _, state in members:
            key = self._phase1_key(run_dir)
            not_begun = state in ("created", "pending")
            if key in leaders and not_begun and not RunFolder(run_dir).last_checkpoint.exists():
                out[run_dir] = leaders[key]
        return out

    def queue_rows(self) -> list[QueueRow] | None:
        """The queue: each member of the sweep trained here (else of :attr:`queue_sweep`)
        with its state and progress; None when there is no such sweep to show."""
        sweep_dir = self.here.sweep_dir or self.queue_sweep
        doc = self.sweeps.get(str(sweep_dir)) if sweep_dir is not None else None
        if doc is None:
            return None
        assert sweep_dir is not None
        folder = SweepFolder(sweep_dir)
        members = [(folder.member_dir(str(m.get("run", ""))), m, member_status(sweep_dir, m))
                   for m in doc["members"]]  # fmt: skip
        waits = self._waiting_for_phase1(doc, members)
        rows = []
        for i, (run_dir, m, state) in enumerate(members):
            if run_dir in waits:
                state = f"waits for phase 1 of {waits[run_dir]}"
            info = self.summaries.get(str(run_dir))
            step, total = (info.info.get("step"), info.info.get("total_steps")) if info else (0, 0)
            if run_dir == self.here.run_dir:
                state = "training here"
                if self.here.step is not None:
                    step, total = self.here.step
            if state == "finished":
                progress = "100 %"
            elif total:
                progress = f"{100 * int(step or 0) // max(1, int(total))} %"
            else:
                progress = "-"
            if m.get("message") and state == "failed":
                state = f"failed: {m['message']}"
            rows.append(QueueRow(f"{i + 1}. {m.get('label', '?')}", state, progress, run_dir))
        return rows
