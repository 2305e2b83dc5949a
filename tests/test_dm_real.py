"""The dm-real baseline (evaluation/dm_real.py): DM from a random real subset, at a budget."""

import csv
import json
import shutil

import numpy as np
import pytest
import torch

from gdd_studio.cli import main
from gdd_studio.config import EvalConfig
from gdd_studio.data import load_dataset
from gdd_studio.engine.events import RunControl
from gdd_studio.errors import ConfigError
from gdd_studio.evaluation.dm_real import (
    DmProgress,
    budget_minutes,
    dm_real_set,
    dm_set_path,
    run_minutes,
)
from gdd_studio.evaluation.protocol import (
    Evaluation,
    load_results,
    random_real_indices,
    results_path,
    source_title,
)
from gdd_studio.export.charts import ordered_series
from gdd_studio.models.augment import DSA_STRATEGY
from gdd_studio.rundir.artifacts import run_config
from tests.helpers import finished_tiny_run, torch_threads

MINUTES = 0.001  # the fewest iterations: the timed ones


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    return finished_tiny_run(tmp_path_factory.mktemp("dmrun"))


@pytest.fixture
def run_dir(finished_run, tmp_path):
    """A copy of the finished run, so each test starts without an evaluation."""
    target = tmp_path / finished_run.name
    shutil.copytree(finished_run, target, ignore=shutil.ignore_patterns("eval"))
    return target


def settings(**changes) -> EvalConfig:
    s = EvalConfig(
        archs=["convnet3"], ipcs=[2], epochs=2, repeats=2, width=4, batch_size=16,
        gan_only=False, dm_real=True, dm_minutes=MINUTES,
    )  # fmt: skip
    for key, value in changes.items():
        setattr(s, key, value)
    return s


def test_dm_real_is_a_row_of_the_results_table_and_csv(run_dir):
    events = []
    doc = Evaluation(run_dir, settings(), device="cpu").execute(events.append)
    assert doc["status"] == "finished"
    by = {r["source"]: r for r in doc["results"]}
    assert set(by) == {"distilled", "random-real", "dm-real"}
    row = by["dm-real"]
    assert source_title(row) == "DM from real"
    # Its own bar in the chart, after the random real one.
    names = ordered_series(doc["results"])
    assert names.index("DM from real") == names.index("random real subset") + 1
    assert row["n"] == 2 and row["images"] == 6 and row["epochs"] == 2
    assert row["dm_iterations"] >= 1 and row["dm_minutes"] == MINUTES
    assert row["dm_minutes_taken"] >= 0 and row["dm_minutes_from"] == "asked"
    # Its progress was reported while the set was made.
    progress = [e for e in events if isinstance(e, DmProgress)]
    assert progress and progress[-1].iteration == progress[-1].iterations == row["dm_iterations"]
    with open(results_path(run_dir).with_suffix(".csv"), newline="") as fh:
        table = {t["source"]: t for t in csv.DictReader(fh)}
    assert table["dm-real"]["dm_iterations"] == str(row["dm_iterations"])
    assert table["random-real"]["dm_iterations"] == ""
    # Which images the generator made: all of the distilled set's, none of DM's or the
    # real subset's; the CLI's table shows the same counts.
    assert [table[s]["generator_images"] for s in ("distilled", "dm-real", "random-real")] == [
        "6", "0", "0",
    ]  # fmt: skip
    from gdd_studio.cli.evaluate import _results_table

    lines = _results_table(doc["results"]).splitlines()
    assert "made by G" in lines[0]
    assert ["6/6" in line for line in lines[1:4]] == [
        s == "distilled" for s in (r["source"] for r in doc["results"])
    ]
    # The stored set: the random real baseline's first subset, moved by DM.
    with np.load(dm_set_path(run_dir, 2, 0, MINUTES)) as f:
        meta = json.loads(str(f["meta"]))
        images, labels = f["images"], f["labels"]
    assert meta["iterations"] == row["dm_iterations"] and meta["minutes_asked"] == MINUTES
    data = load_dataset(run_config(run_dir).dataset)
    idx = random_real_indices(data.y_train, 2, 3, seed=2)
    assert labels.tolist() == data.y_train[idx].tolist()
    start = data.x_train[idx].permute(0, 2, 3, 1).numpy()
    assert images.shape == start.shape and not np.array_equal(images, start)


def test_a_second_evaluation_reuses_the_stored_set(run_dir):
    first = Evaluation(run_dir, settings(), device="cpu").execute()
    path = dm_set_path(run_dir, 2, 0, MINUTES)
    stamp = path.stat().st_mtime_ns
    logs = []
    second = Evaluation(run_dir, settings(), device="cpu").execute(
        lambda e: logs.append(getattr(e, "message", ""))
    )
    assert path.stat().st_mtime_ns == stamp
    assert any("from eval/" in m for m in logs)
    row = {r["source"]: r for r in first["results"]}["dm-real"]
    again = {r["source"]: r for r in second["results"]}["dm-real"]
    assert again["accuracies"] == row["accuracies"]
    assert again["dm_iterations"] == row["dm_iterations"]


def test_the_recorded_count_makes_the_same_set_again(run_dir, tmp_path):
    data = load_dataset(run_config(run_dir).dataset)
    idx = random_real_indices(data.y_train, 2, 3, seed=7)
    timed = dm_real_set(run_dir, data, 2, MINUTES, idx, DSA_STRATEGY, subset_seed=7)
    assert timed is not None and timed.new
    count = timed.meta["iterations"]
    other = tmp_path / "elsewhere"
    again = dm_real_set(other, data, 2, MINUTES, idx, DSA_STRATEGY, subset_seed=7,
                        iterations=count)  # fmt: skip
    assert again.meta["iterations"] == count
    assert torch.equal(again.images, timed.images)
    assert torch.equal(again.labels, timed.labels)


def test_stop_during_the_making_keeps_no_set_and_no_row(run_dir):
    control = RunControl()

    def on_event(e):
        if isinstance(e, DmProgress):
            control.stop()

    doc = Evaluation(run_dir, settings(), device="cpu").execute(on_event, control)
    assert doc["status"] == "stopped"
    assert not dm_set_path(run_dir, 2, 0, MINUTES).exists()
    saved = load_results(run_dir)
    assert all(r["source"] != "dm-real" for r in (saved or {"results": []})["results"])


def test_the_budget_is_the_run_training_time_unless_asked(run_dir):
    minutes = run_minutes(run_dir)
    assert minutes is not None and minutes > 0
    assert budget_minutes(run_dir, None) == (minutes, "the run's training time")
    assert budget_minutes(run_dir, 2.5) == (2.5, "asked")
    info = json.loads((run_dir / "run.json").read_text())
    del info["elapsed_s"]
    (run_dir / "run.json").write_text(json.dumps(info))
    with pytest.raises(ConfigError, match="--dm-minutes"):
        Evaluation(run_dir, settings(dm_minutes=None), device="cpu")
    Evaluation(run_dir, settings(), device="cpu")  # the minutes asked need no record


def test_cli_flag_adds_the_row(run_dir, capsys):
    code = main([
        "evaluate", str(run_dir), "--ipc", "2", "--archs", "convnet3", "--repeats", "1",
        "--epochs", "1", "--width", "4", "--no-gan-only", "--device", "cpu",
        "--dm-minutes", str(MINUTES), "--quiet",
    ])  # fmt: skip
    assert code == 0
    assert "dm-real" in capsys.readouterr().out
    rows = load_results(run_dir)["results"]
    assert [r["dm_minutes"] for r in rows if r["source"] == "dm-real"] == [MINUTES]


def test_the_baseline_matches_for_its_minutes_on_the_clock(run_dir, monkeypatch):
    """The matching stops when the budget is spent, whatever the pace: on a clock where
    the first iteration takes 5 s (compiling) and every later one 1 s, then 2 s, a
    1-minute budget ends after the iteration that crosses 60 s, and the count reached is
    what the set records (and what makes it again)."""
    from gdd_studio.evaluation import dm_real as module
    from gdd_studio.models.matching import DistributionMatcher

    clock = [0.0]
    real_step = DistributionMatcher.step

    def timed_step(self):
        done = self.iteration
        clock[0] += 5.0 if done == 0 else 1.0 if done < 20 else 2.0
        return real_step(self)

    monkeypatch.setattr(DistributionMatcher, "step", timed_step)
    monkeypatch.setattr(module.time, "perf_counter", lambda: clock[0])
    data = load_dataset(run_config(run_dir).dataset)
    idx = random_real_indices(data.y_train, 1, 3, seed=7)
    events = []
    made = dm_real_set(run_dir, data, 1, 1.0, idx, DSA_STRATEGY, subset_seed=7,
                       on_progress=events.append)  # fmt: skip
    # 5 s + 19 x 1 s = 24 s after 20 iterations; then 2 s each: 60 s after 38.
    assert made is not None and made.meta["iterations"] == 38
    assert made.meta["minutes_taken"] == 1.0
    assert events[-1].iteration == events[-1].iterations == 38 and events[-1].eta_s == 0.0
    assert all(e.eta_s is not None and 0 <= e.eta_s <= 60 for e in events)


def test_the_baseline_matches_with_the_runs_own_dm_settings(run_dir):
    """A run refined by DM gives the baseline its DM settings (real images per class,
    width, lr, momentum): the two differ only in the start and the time."""
    from gdd_studio.config import RefineConfig
    from gdd_studio.evaluation.dm_real import DmSettings

    assert DmSettings.from_refine(RefineConfig()) == DmSettings()  # not refined: DM's own
    assert DmSettings().real_per_class == 128
    config = json.loads((run_dir / "config.json").read_text())
    config["refine"] = {"method": "dm", "iterations": 2, "real_per_class": 8, "width": 8,
                        "lr": 0.5, "momentum": 0.25}  # fmt: skip
    (run_dir / "config.json").write_text(json.dumps(config))
    Evaluation(run_dir, settings(), device="cpu").execute()
    with np.load(dm_set_path(run_dir, 2, 0, MINUTES)) as f:
        meta = json.loads(str(f["meta"]))
    dm = (meta["real_per_class"], meta["width"], meta["lr"], meta["momentum"])
    assert dm == (8, 8, 0.5, 0.25)


def test_a_counted_dm_set_says_estimating_until_its_pace_is_known(run_dir, tmp_path):
    """Issue 30: the first iteration's report took torch's warm-up as the rate."""
    from gdd_studio.engine.events import StepRate

    data = load_dataset(run_config(run_dir).dataset)
    idx = random_real_indices(data.y_train, 2, 3, seed=7)
    seen = []
    made = dm_real_set(
        tmp_path / "x", data, 2, MINUTES, idx, DSA_STRATEGY, subset_seed=7,
        iterations=StepRate.WARMUP_STEPS * 2 + 2, on_progress=seen.append,
    )  # fmt: skip
    assert made is not None
    assert seen[0].iteration == 1 and seen[0].eta_s is None  # 'estimating'
    assert seen[-1].eta_s == 0.0


def test_the_step_rate_excludes_warm_up_and_outliers(monkeypatch):
    from gdd_studio.engine import events

    now = [0.0]
    monkeypatch.setattr(events.time, "perf_counter", lambda: now[0])
    pace = events.StepRate()
    for dt in (30.0, 5.0, 5.0):  # compilation and warm-up: not timed
        now[0] += dt
        pace.tick()
        assert pace.eta(100) is None
    for _ in range(3):
        now[0] += 0.5
        pace.tick()
    assert pace.eta(100) == pytest.approx(50.0)
    now[0] += 60.0  # a checkpoint: an outlier, not the pace
    pace.tick()
    assert pace.eta(100) == pytest.approx(50.0)
