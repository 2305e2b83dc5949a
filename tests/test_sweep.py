"""Sweeps and executors: the same members make the same generators wherever they run; a
failure, a kill or Ctrl-C never loses what finished; a distributed evaluation equals the
sequential one; bad input is one line.

Tiny budgets on the CPU. The Ray tests share one local Ray session (starting Ray takes
seconds); they need the ``cluster`` extra, which CI installs.
"""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gdd_studio.cli import main
from gdd_studio.config import EvalConfig
from gdd_studio.engine.events import RunControl
from gdd_studio.engine.run import Run
from gdd_studio.evaluation.protocol import Evaluation, load_results
from gdd_studio.rundir.folder import read_run_info
from gdd_studio.rundir.records import list_runs
from gdd_studio.rundir.sweeps import read_sweep
from gdd_studio.sweep import executors
from gdd_studio.sweep.executors import LocalExecutor, ProcessExecutor, worker_slots
from gdd_studio.sweep.sweep import Sweep, member_settings, parse_axis
from tests.helpers import tiny_config, torch_threads, write_tiny_npz

ROOT = Path(__file__).resolve().parents[1]


def _generators(sweep: Sweep) -> dict[str, dict[str, torch.Tensor]]:
    return {
        m["label"]: torch.load(sweep.member_dir(m) / "generator.pt", weights_only=True)
        for m in sweep.members
    }


def _same_weights(a: dict[str, dict], b: dict[str, dict]) -> bool:
    assert a.keys() == b.keys()
    return all(torch.equal(a[k][n], b[k][n]) for k in a for n in a[k])


def tiny_eval(**changes) -> EvalConfig:
    s = EvalConfig(archs=["convnet3"], ipcs=[1, 2], epochs=2, repeats=2, width=4, batch_size=16)
    for key, value in changes.items():
        setattr(s, key, value)
    return s


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    return write_tiny_npz(tmp_path_factory.mktemp("sweepdata") / "tiny.npz")


# Generators are bit-identical only at equal thread counts (threads add numbers up in
# another order). Each distributed worker here gets 1 thread (2 workers on 2 threads, Ray
# tasks of 1 CPU), so the in-process references run at 1 thread too (torch_threads), and
# the executors are made from 2 threads, on any machine.


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory, data_file):
    """A 2-member sweep (seed 0, 1) trained one member at a time in this process."""
    runs = tmp_path_factory.mktemp("local") / "runs"
    sweep = Sweep.create(tiny_config(f"npz:{data_file}"), [("seed", ["0", "1"])], runs)
    with torch_threads(1):
        assert sweep.execute(LocalExecutor()) == {"finished": 2}
    return sweep


def test_axes_make_the_grid_product_and_the_ablation_its_four_variants():
    base = tiny_config("mnist-sample")
    members = member_settings(base, [parse_axis("distill.tau=1,2,4"), ("seed", ["0", "1"])], False)
    assert len(members) == 6
    assert members[0] == ("tau=1, seed=0", {"distill.tau": 1.0, "seed": 0})
    ablation = member_settings(base, [], True)
    assert [s for _, s in ablation] == [
        {"variant": "SKD + standardization", "distill.loss": "skd", "distill.standardize": True},
        {"variant": "SKD, no standardization", "distill.loss": "skd",
         "distill.standardize": False},
        {"variant": "DiM's MSE", "distill.loss": "mse"},
        {"variant": "no matching term", "distill.loss": "none"},
    ]  # fmt: skip
    assert parse_axis('distill.pool=["convnet3"],["convnet3","resnet10"]') == (
        "distill.pool",
        ['["convnet3"]', '["convnet3","resnet10"]'],
    )


def test_a_sweep_is_a_sweep_json_and_ordinary_run_folders(local_sweep):
    runs = local_sweep.folder.runs_dir
    assert local_sweep.dir.parent == runs / "sweeps"
    doc = read_sweep(local_sweep.dir)
    assert doc["axes"] == [{"key": "seed", "values": [0, 1]}]
    assert doc["base"]["dataset"].startswith("npz:")
    assert [(m["settings"], m["status"]) for m in doc["members"]] == [
        ({"seed": 0}, "finished"),
        ({"seed": 1}, "finished"),
    ]
    # The runs list shows the members as any run; each folder is a complete run.
    listed = {r.path.name: r.status for r in list_runs(runs)}
    assert listed == {m["run"]: "finished" for m in doc["members"]}
    for m in doc["members"]:
        cfg = json.loads((runs / m["run"] / "config.json").read_text())
        assert cfg["seed"] == m["settings"]["seed"]
    gens = _generators(local_sweep)
    assert not _same_weights({"a": gens["seed=0"]}, {"a": gens["seed=1"]})


def test_cpu_workers_split_the_cores_and_set_their_thread_count(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    assert worker_slots(2) == [("cpu", 2), ("cpu", 2)]
    assert worker_slots(3) == [("cpu", 1)] * 3
    assert worker_slots(None) == [("cpu", 4)]


def _threads_job(job, worker):
    return torch.get_num_threads(), worker.device, worker.threads


def test_two_workers_make_the_same_generators(local_sweep, tmp_path, data_file):
    with torch_threads(2):
        executor = ProcessExecutor(2)
    try:
        # Each worker set its torch threads to its share before any work.
        share = 1
        seen = list(executor.map_unordered(_threads_job, [0, 1, 2], RunControl()))
        assert sorted(i for i, _ in seen) == [0, 1, 2]
        assert {out for _, out in seen} == {(share, "cpu", share)}
        sweep = Sweep.create(
            tiny_config(f"npz:{data_file}"), [("seed", ["0", "1"])], tmp_path / "runs"
        )
        assert sweep.execute(executor) == {"finished": 2}
    finally:
        executor.close()
    assert _same_weights(_generators(sweep), _generators(local_sweep))


def test_a_failing_member_is_recorded_and_the_others_go_on(tmp_path, data_file):
    other = shutil.copy(data_file, tmp_path / "other.npz")
    base = tiny_config(f"npz:{data_file}")
    sweep = Sweep.create(base, [("dataset", [f"npz:{other}", f"npz:{data_file}"])],
                         tmp_path / "runs")  # fmt: skip
    Path(other).unlink()  # the data went missing after the sweep was made
    lines = []
    assert sweep.execute(LocalExecutor(), say=lines.append) == {"failed": 1, "finished": 1}
    failed, done = read_sweep(sweep.dir)["members"]
    assert failed["status"] == "failed" and "other.npz" in failed["message"]
    assert "\n" not in failed["message"]
    assert done["status"] == "finished" and (sweep.member_dir(done) / "generator.pt").is_file()
    assert any("failed" in line and "other.npz" in line for line in lines)


def test_a_member_with_a_damaged_config_fails_alone(tmp_path, data_file):
    sweep = Sweep.create(tiny_config(f"npz:{data_file}"), [("distill.tau", ["1", "2"])],
                         tmp_path / "runs")  # fmt: skip
    (sweep.member_dir(sweep.members[1]) / "config.json").write_text("[]")
    with torch_threads(1):
        assert sweep.execute(LocalExecutor()) == {"finished": 1, "failed": 1}
    done, failed = read_sweep(sweep.dir)["members"]
    assert "config.json" in failed["message"] and "\n" not in failed["message"]
    assert done["status"] == "finished"


def _start_cli(args, runs, **kw):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "gdd_studio.cli", *args, "--runs-dir", str(runs)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kw,
    )  # fmt: skip


def _wait_for(predicate, proc, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _long_config(tmp_path, data_file) -> Path:
    """Long enough (a few seconds a member) to be caught in the middle; a checkpoint every
    10 steps and no grids, which would otherwise take half of a member's time."""
    cfg = tiny_config(f"npz:{data_file}")
    cfg.gan.epochs = 40
    cfg.monitor.checkpoint_every, cfg.monitor.grid_every, cfg.monitor.log_every = 10, 1000, 10
    path = tmp_path / "base.json"
    path.write_text(cfg.to_json())
    return path


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The generator a member ends with when nothing stops it (1 thread), trained once per
    config for the tests that kill or stop members of the same config."""
    made: dict[str, dict] = {}

    def generator(member: Path) -> dict:
        cfg = Run.open(member).cfg
        key = cfg.to_json()
        if key not in made:
            whole = Run.create(cfg, tmp_path_factory.mktemp("whole"))
            with torch_threads(1):
                assert whole.execute() == "finished"
            made[key] = torch.load(whole.dir / "generator.pt", weights_only=True)
        return made[key]

    return generator


def _member_dirs(runs: Path) -> list[Path]:
    (sweep_dir,) = (runs / "sweeps").iterdir()
    return [runs / m["run"] for m in read_sweep(sweep_dir)["members"]]


@pytest.mark.slow
def test_a_sweep_killed_mid_member_resumes_to_the_same_generators(
    tmp_path, data_file, uninterrupted
):
    runs = tmp_path / "runs"
    config = _long_config(tmp_path, data_file)
    proc = _start_cli(["sweep", "--config", str(config), "--axis", "seed=0,1"], runs)
    try:
        _wait_for(lambda: (runs / "sweeps").is_dir() and any(runs.glob("*/checkpoints/last.pt")),
                  proc)  # fmt: skip
        proc.kill()
    finally:
        proc.kill()
        proc.communicate()
    first, second = _member_dirs(runs)
    assert read_run_info(first)["status"] == "interrupted"
    assert read_run_info(second)["status"] == "created"
    (sweep_dir,) = (runs / "sweeps").iterdir()
    with torch_threads(1):  # as the CLI child ran (OMP_NUM_THREADS=1)
        assert main(["sweep", "--resume", str(sweep_dir)]) == 0
    assert [m["status"] for m in read_sweep(sweep_dir)["members"]] == ["finished"] * 2
    assert "resumed from step" in (first / "log.txt").read_text()
    # The killed member ends with exactly the generator of an uninterrupted run.
    a = torch.load(first / "generator.pt", weights_only=True)
    b = uninterrupted(first)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_stops_every_worker_at_a_checkpoint_and_resume_finishes(
    tmp_path, data_file, sig, code, uninterrupted
):
    """SIGINT as a terminal's Ctrl-C, SIGTERM as a scheduler's pre-emption (Slurm, Docker,
    systemd signal the whole group): the coordinator and each worker stop at a step.
    SIGTERM first reaches one worker alone (``kill PID``): its member stops at a step with
    a checkpoint while the other trains on, and resumes to the uninterrupted generator."""
    runs = tmp_path / "runs"
    config = _long_config(tmp_path, data_file)
    args = ["sweep", "--config", str(config), "--axis", "seed=0,1", "--workers", "2"]
    proc = _start_cli(args, runs, start_new_session=True)
    try:
        _wait_for(lambda: len(list(runs.glob("*/checkpoints/last.pt"))) == 2, proc)
        if sig == signal.SIGTERM:
            alone = _member_dirs(runs)[0]
            os.kill(read_run_info(alone)["pid"], sig)  # one worker
            _wait_for(lambda: read_run_info(alone)["status"] == "stopped", proc)
        os.killpg(proc.pid, sig)  # the whole group
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code, err
    members = _member_dirs(runs)
    assert [read_run_info(d)["status"] for d in members] == ["stopped", "stopped"]
    assert "sweep --resume" in err
    (sweep_dir,) = (runs / "sweeps").iterdir()
    assert not list(sweep_dir.glob(".stop-*"))  # the stop request is cleared
    with torch_threads(1):  # as the workers ran (2 workers, a core each)
        assert main(["sweep", "--resume", str(sweep_dir)]) == 0
    assert [read_run_info(d)["status"] for d in members] == ["finished", "finished"]
    if sig == signal.SIGTERM:  # the member stopped alone ends as if never stopped
        a = torch.load(members[0] / "generator.pt", weights_only=True)
        b = uninterrupted(members[0])
        assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_workers_die_with_a_killed_coordinator_and_resume_finishes(tmp_path, data_file):
    runs = tmp_path / "runs"
    config = _long_config(tmp_path, data_file)
    args = ["sweep", "--config", str(config), "--axis", "seed=0,1", "--workers", "2"]
    proc = _start_cli(args, runs)
    try:
        _wait_for(lambda: len(list(runs.glob("*/checkpoints/last.pt"))) == 2, proc)
    finally:
        proc.kill()  # the coordinator only, as an OOM killer or a lost terminal would
        proc.wait()  # not communicate(): a surviving worker would hold its pipes open
        proc.stdout.close()
        proc.stderr.close()
    members = _member_dirs(runs)
    deadline = time.monotonic() + 60
    while any(read_run_info(d)["status"] == "running" for d in members):
        assert time.monotonic() < deadline, "a worker trains on without its coordinator"
        time.sleep(0.1)
    assert [read_run_info(d)["status"] for d in members] == ["interrupted"] * 2
    (sweep_dir,) = (runs / "sweeps").iterdir()
    assert main(["sweep", "--resume", str(sweep_dir)]) == 0
    assert [read_run_info(d)["status"] for d in members] == ["finished", "finished"]


def _accuracies(run_dir: Path) -> dict[tuple, list[float]]:
    doc = load_results(run_dir)
    return {(r["arch"], r["ipc"], r["source"]): r["accuracies"] for r in doc["results"]}


@pytest.fixture(scope="module")
def sequential_eval(local_sweep, tmp_path_factory):
    """Member seed=0 copied untouched, and the accuracies of its sequential evaluation."""
    src = local_sweep.member_dir(local_sweep.members[0])
    pristine = tmp_path_factory.mktemp("pristine") / src.name
    shutil.copytree(src, pristine)
    seq = tmp_path_factory.mktemp("seq") / src.name
    shutil.copytree(src, seq)
    with torch_threads(1):
        doc = Evaluation(seq, tiny_eval(), device="cpu").execute()
    assert doc["status"] == "finished" and len(doc["results"]) == 6
    return pristine, _accuracies(seq)


def test_distributed_evaluation_equals_the_sequential_one(sequential_eval, tmp_path):
    pristine, expected = sequential_eval
    run = tmp_path / pristine.name
    shutil.copytree(pristine, run)
    with torch_threads(2):
        executor = ProcessExecutor(2)
    try:
        events = []
        doc = Evaluation(run, tiny_eval(), device="cpu").execute(events.append,
                                                                 executor=executor)  # fmt: skip
    finally:
        executor.close()
    assert doc["status"] == "finished"
    assert _accuracies(run) == expected
    assert any("2 worker processes" in getattr(e, "message", "") for e in events)


def test_sweep_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, data_file):
    runs = str(tmp_path / "runs")
    base = ["sweep", "--dataset", f"npz:{data_file}", "--preset", "smoke", "--runs-dir", runs]
    bad = [
        (base, "--axis KEY=V1,V2"),
        (base + ["--axis", "distill.taux=1,2"], "unknown config key 'distill.taux'"),
        (base + ["--axis", "seed"], "--axis expects KEY=V1,V2"),
        (base + ["--axis", "seed=0,0"], "names a value twice"),
        (base + ["--axis", "distill.tau=1,x"], "distill.tau"),
        (base + ["--axis", "seed=0,1", "--workers", "0"], "--workers must be at least 1"),
        (base + ["--axis", "seed=0,1", "--address", "h:1"], "--address is for --executor ray"),
        (base + ["--axis", "seed=0,1", "--evaluate", "--bogus 1"], "does not take --bogus"),
        (base + ["--axis", "seed=0,1", "--evaluate", "--epochs x"], "--evaluate"),
        (base + ["--axis", "seed=0,1", "--ipc", "99"], "member seed=0"),
        (["sweep", "--resume", runs], "is not a sweep folder"),
        (["chart", str(tmp_path), "--out", str(tmp_path / "c.png")], "not a run folder"),
    ]
    for args, message in bad:
        assert main(args) == 2, args
        lines = capsys.readouterr().err.strip().splitlines()
        err = "\n".join(ln for ln in lines if not ln.startswith("loading dataset"))
        assert err.startswith("gdd-studio-cli: error:") and message in err, (args, err)
        assert len(err.splitlines()) == 1, err
    assert not (tmp_path / "runs" / "sweeps").exists()  # nothing was written
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert main(base + ["--axis", "seed=0,1", "--executor", "ray"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"gdd-studio-cli: error: {executors.RAY_HINT}"
    assert 'pip install "gdd-studio[cluster]"' in err


def test_ablation_with_evaluation_then_one_chart_and_table(tmp_path, capsys, data_file):
    config = tmp_path / "base.json"
    config.write_text(tiny_config(f"npz:{data_file}").to_json())
    evaluate = "--ipc 1 --archs convnet3 --repeats 2 --epochs 2 --width 4 --batch-size 16"
    args = ["sweep", "--config", str(config), "--ablation", "--evaluate", evaluate,
            "--runs-dir", str(tmp_path / "runs")]  # fmt: skip
    assert main(args) == 0
    sweep_dir = Path(capsys.readouterr().out.strip())
    doc = read_sweep(sweep_dir)
    assert doc["evaluate"] == {"ipcs": [1], "archs": ["convnet3"], "repeats": 2, "epochs": 2,
                               "width": 4, "batch_size": 16}  # fmt: skip
    assert [m["evaluated"] for m in doc["members"]] == [True] * 4
    assert main(["chart", str(sweep_dir), "--out", str(tmp_path / "ablation.svg")]) == 0
    out = capsys.readouterr().out
    assert "SKD, no standardization" in out and "no matching term" in out
    assert (tmp_path / "ablation.svg").read_text().lstrip().startswith("<?xml")
    assert main(["chart", str(sweep_dir), "--out", str(tmp_path / "ablation.csv")]) == 0
    with open(tmp_path / "ablation.csv", newline="") as fh:
        distilled = [r for r in csv.DictReader(fh) if r["source"] == "distilled"]
    assert [r["variant"] for r in distilled] == [
        "SKD + standardization", "SKD, no standardization", "DiM's MSE", "no matching term",
    ]  # fmt: skip
    # Not every variant's phase 2 is SKD: the series does not say it is.
    assert {r["series"] for r in distilled} == {"distilled (GAN + phase 2)"}
    # Each member's point is its own evaluation, averaged over its networks.
    for member, point in zip(doc["members"], distilled, strict=True):
        rows = load_results(sweep_dir.parent.parent / member["run"])["results"]
        row = next(r for r in rows if r["source"] == "distilled")
        assert point["mean"] == f"{100 * row['mean']:.2f}" and point["over"] == "networks"
        assert point["runs"] == member["run"]
    # The members share one phase 1 and the data: their GAN-only and random real rows
    # are the first member's networks, taken rather than trained again...
    runs = sweep_dir.parent.parent
    first, *others = [runs / m["run"] for m in doc["members"]]
    first_rows = {r["source"]: r for r in load_results(first)["results"]}
    assert "copied_from" not in first_rows["gan-only"]
    for member in others:
        rows = {r["source"]: r for r in load_results(member)["results"]}
        assert rows["distilled"].get("copied_from") is None
        for source in ("gan-only", "random-real"):
            assert rows[source]["copied_from"] == first.name
            assert rows[source]["accuracies"] == first_rows[source]["accuracies"]
    # ...which are exactly what training them in that member gives.
    fresh = shutil.copytree(others[-1], tmp_path / "fresh")
    shutil.rmtree(fresh / "eval")
    settings = EvalConfig(archs=["convnet3"], ipcs=[1], repeats=2, epochs=2, width=4,
                          batch_size=16)  # fmt: skip
    assert Evaluation(fresh, settings).execute()["status"] == "finished"
    rows = {r["source"]: r for r in load_results(fresh)["results"]}
    for source in ("gan-only", "random-real"):
        assert "copied_from" not in rows[source]
        assert rows[source]["accuracies"] == first_rows[source]["accuracies"]


# ---- a shared phase 1 ---------------------------------------------------------------


def _metrics_rows(run_dir: Path, phase: str) -> list[list[str]]:
    with open(run_dir / "metrics.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    return [r[:3] + r[4:] for r in rows[1:] if r[0] == phase]  # all but the wall-clock time


def test_members_that_agree_on_phase1_train_it_once_and_end_as_on_their_own(tmp_path, data_file):
    base = tiny_config(f"npz:{data_file}")
    grid = [("distill.tau", ["1", "4"]), ("seed", ["0", "1"])]
    sweep = Sweep.create(base, grid, tmp_path / "runs")
    lines = []
    with torch_threads(1):
        assert sweep.execute(LocalExecutor(), say=lines.append) == {"finished": 4}
    # The first member of each phase-1 group (seed 0 and seed 1) trains phase 1; the
    # others wait for it, then start at their phase 2 from its phase1.pt.
    finished = [line.split("(")[1].split(")")[0] for line in lines if ": finished" in line]
    assert finished == ["tau=1, seed=0", "tau=1, seed=1", "tau=4, seed=0", "tau=4, seed=1"]
    assert any("2 members wait for a phase 1" in line for line in lines)
    m = {x["label"]: sweep.member_dir(x) for x in sweep.members}
    for seed in (0, 1):
        leader, follower = m[f"tau=1, seed={seed}"], m[f"tau=4, seed={seed}"]
        assert "phase1_from" not in read_run_info(leader)
        assert read_run_info(follower)["phase1_from"] == leader.name
        assert read_run_info(follower)["total_steps"] == read_run_info(leader)["total_steps"]
        assert f"phase 1 taken from run {leader.name}" in (follower / "log.txt").read_text()
        # The follower's folder reads as if it had trained phase 1 itself.
        assert _metrics_rows(follower, "1") == _metrics_rows(leader, "1") != []
        assert _metrics_rows(follower, "2") != _metrics_rows(leader, "2")
        grids = sorted(p.name for p in (leader / "grids").glob("phase1_*.png"))
        assert grids and grids == sorted(p.name for p in (follower / "grids").glob("phase1_*"))
        assert json.loads(
            (follower / "config.json").read_text()
        )["distill"]["tau"] == 4.0  # fmt: skip
    # ...and ends with exactly the generator it would have trained on its own.
    alone = Run.create(Run.open(m["tau=4, seed=1"]).cfg, tmp_path / "alone")
    with torch_threads(1):
        assert alone.execute() == "finished"
    a = torch.load(m["tau=4, seed=1"] / "generator.pt", weights_only=True)
    b = torch.load(alone.dir / "generator.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    other = {"a": torch.load(m["tau=1, seed=1"] / "generator.pt", weights_only=True)}
    assert not _same_weights(other, {"a": a})


def test_phase1_is_only_taken_from_a_run_with_the_same_phase1_settings(tmp_path, data_file):
    source = Run.create(tiny_config(f"npz:{data_file}"), tmp_path / "runs")
    with torch_threads(1):
        assert source.execute() == "finished"
    for change, taken in (
        ({"seed": 1}, False),
        ({"gan.lr": 1e-3}, False),
        ({"model.width": 8}, False),
        ({"distill.loss": "none", "ipc": 1, "sampling.selection": "random"}, True),
    ):
        target = Run.create(tiny_config(f"npz:{data_file}", **change), tmp_path / "runs")
        assert target.take_phase1(source.dir) is taken, change
        if taken:  # the runs list shows it halfway: 6 of 12 steps
            info = read_run_info(target.dir)
            assert (info["status"], info["step"], info["total_steps"]) == ("created", 6, 12)
        assert target.checkpoint_path.exists() is taken
        assert (target.dir / "metrics.csv").exists() is taken
        # A run with a checkpoint of its own keeps it.
        assert target.take_phase1(source.dir) is False
    own = Sweep.create(
        tiny_config(f"npz:{data_file}"), [("distill.tau", ["1", "4"])], tmp_path / "own",
        share_phase1=False,
    )  # fmt: skip
    with torch_threads(1):
        assert own.execute(LocalExecutor()) == {"finished": 2}
    assert not any("phase1_from" in read_run_info(own.member_dir(x)) for x in own.members)


def test_a_sweep_stopped_in_the_shared_phase1_resumes_it_once(tmp_path, data_file):
    sweep = Sweep.create(tiny_config(f"npz:{data_file}"), [("distill.tau", ["1", "2", "4"])],
                         tmp_path / "runs")  # fmt: skip
    control = RunControl()

    def stop_in_phase1(event):
        if type(event).__name__ == "StepMetrics" and event.step >= 3:
            control.stop()

    with torch_threads(1):
        counts = sweep.execute(LocalExecutor(), control, on_event=stop_in_phase1)
    assert counts == {"stopped": 1, "pending": 2}
    leader, *others = [sweep.member_dir(x) for x in sweep.members]
    assert not any((d / "checkpoints" / "last.pt").exists() for d in others)
    lines = []
    with torch_threads(1):
        assert Sweep.open(sweep.dir).execute(LocalExecutor(), say=lines.append) == {"finished": 3}
    assert "resumed from step" in (leader / "log.txt").read_text()
    assert [read_run_info(d).get("phase1_from") for d in others] == [leader.name] * 2
    assert sum(": finished" in line for line in lines) == 3


# ---- Ray ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    # This module's job function travels by value: Ray's workers cannot import tests/.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_ray_sweep_makes_the_same_generators(ray_session, local_sweep, tmp_path, data_file):
    executor = executors.RayExecutor()
    assert executor.describe() == "Ray (2 at a time, 1 CPU each)"
    seen = list(executor.map_unordered(_threads_job, [0, 1], RunControl()))
    assert {out for _, out in seen} == {(1, "cpu", 1)}  # its share of the cores, set
    sweep = Sweep.create(tiny_config(f"npz:{data_file}"), [("seed", ["0", "1"])],
                         tmp_path / "runs")  # fmt: skip
    assert sweep.execute(executor) == {"finished": 2}
    assert _same_weights(_generators(sweep), _generators(local_sweep))


def test_ray_evaluation_equals_the_sequential_one(ray_session, sequential_eval, tmp_path):
    pristine, expected = sequential_eval
    run = tmp_path / pristine.name
    shutil.copytree(pristine, run)
    doc = Evaluation(run, tiny_eval(), device="cpu").execute(executor=executors.RayExecutor())
    assert doc["status"] == "finished"
    assert _accuracies(run) == expected


def test_a_ray_member_preempted_by_sigterm_resumes_on_the_next_worker(
    ray_session, tmp_path, data_file, uninterrupted
):
    """Issue 31: SIGTERM to a Ray member's worker (a pre-emption) stops it at a step with a
    checkpoint; the worker ends, Ray retries the task on another worker, and the member
    resumes there to the generator of an uninterrupted run."""
    import threading

    cfg = tiny_config(f"npz:{data_file}")
    cfg.gan.epochs = 40
    sweep = Sweep.create(cfg, [("seed", ["0"])], tmp_path / "runs")
    run_dir = sweep.member_dir(sweep.members[0])
    counts: dict = {}
    thread = threading.Thread(
        target=lambda: counts.update(sweep.execute(executors.RayExecutor()))
    )
    thread.start()
    deadline = time.monotonic() + 120
    while True:
        info = read_run_info(run_dir)
        if info.get("status") == "running" and (run_dir / "checkpoints" / "last.pt").exists():
            break
        assert thread.is_alive() and time.monotonic() < deadline, info
        time.sleep(0.02)
    first = info["pid"]
    assert first != os.getpid()
    os.kill(first, signal.SIGTERM)
    thread.join(timeout=600)
    assert not thread.is_alive()
    assert counts == {"finished": 1}
    log = (run_dir / "log.txt").read_text()
    assert "stopped at step" in log and "resumed from step" in log, log
    assert read_run_info(run_dir)["pid"] != first  # on another worker
    a = torch.load(run_dir / "generator.pt", weights_only=True)
    b = uninterrupted(run_dir)
    assert all(torch.equal(a[k], b[k]) for k in a)
