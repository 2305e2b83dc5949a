"""Phase 4: the evaluation protocol on a tiny finished run."""

import csv
import json

import numpy as np
import pytest
import torch

from gdd_studio.config import EvalConfig
from gdd_studio.engine.events import EvalFinished, EvalProgress, EvalResult, RunControl
from gdd_studio.engine.run import Run
from gdd_studio.errors import ConfigError, GddError
from gdd_studio.evaluation.protocol import (
    Evaluation,
    load_results,
    random_real_indices,
    results_path,
)
from tests.helpers import tiny_config, write_tiny_npz


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("evalrun")
    data = write_tiny_npz(root / "tiny.npz", classes=3, per_class=12)
    cfg = tiny_config(f"npz:{data}")
    run = Run.create(cfg, root / "runs")
    assert run.execute() == "finished"
    return run.dir


def tiny_settings(**changes) -> EvalConfig:
    s = EvalConfig(archs=["convnet3"], ipcs=[1, 2], epochs=3, repeats=2, width=4, batch_size=16)
    for key, value in changes.items():
        setattr(s, key, value)
    return s


def test_random_real_draws_exactly_ipc_distinct_images_per_class():
    labels = torch.tensor([0] * 7 + [1] * 5 + [2] * 9)
    idx = random_real_indices(labels, 4, 3, seed=3)
    assert len(idx) == len(set(idx.tolist())) == 12
    assert torch.bincount(labels[idx], minlength=3).tolist() == [4, 4, 4]
    assert torch.equal(idx, random_real_indices(labels, 4, 3, seed=3))
    assert not torch.equal(idx, random_real_indices(labels, 4, 3, seed=4))
    with pytest.raises(ConfigError, match="needs 6 images of class 1"):
        random_real_indices(labels, 6, 3, seed=0)


def test_evaluation_end_to_end_writes_schema_and_csv(finished_run):
    events = []
    doc = Evaluation(finished_run, tiny_settings(full_real=True), device="cpu").execute(
        events.append
    )
    assert doc["status"] == "finished"
    rows = doc["results"]
    keys = {(r["arch"], r["ipc"], r["source"]) for r in rows}
    assert keys == {
        ("convnet3", 1, "distilled"), ("convnet3", 1, "gan-only"), ("convnet3", 1, "random-real"),
        ("convnet3", 2, "distilled"), ("convnet3", 2, "gan-only"), ("convnet3", 2, "random-real"),
        ("convnet3", None, "full-real"),
    }  # fmt: skip
    for r in rows:
        assert r["n"] == 2 and len(r["accuracies"]) == 2
        assert all(0 <= a <= 1 for a in r["accuracies"])
        assert r["mean"] == pytest.approx(np.mean(r["accuracies"]), abs=1e-6)
        assert r["std"] == pytest.approx(np.std(r["accuracies"]), abs=1e-6)
    by = {(r["ipc"], r["source"]): r for r in rows}
    assert by[(2, "distilled")]["images"] == 6 and by[(None, "full-real")]["images"] == 36
    saved = json.loads(results_path(finished_run).read_text())
    assert set(saved) >= {"protocol", "results"} and saved["results"] == rows
    assert saved["protocol"]["epochs"] == 3 and saved["protocol"]["report"] == "final"
    with open(results_path(finished_run).with_suffix(".csv"), newline="") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == len(rows)
    assert {t["source"] for t in table} == {"distilled", "gan-only", "random-real", "full-real"}
    # Every IPC drawn from the one generator is kept, the run's own IPC unchanged.
    with np.load(finished_run / "distilled" / "ipc1.npz") as f:
        assert f["images"].shape == (3, 28, 28, 1) and f["labels"].tolist() == [0, 1, 2]
    assert [type(e) for e in events].count(EvalResult) == len(rows)
    assert isinstance(events[-1], EvalFinished) and events[-1].status == "finished"
    progress = [e for e in events if isinstance(e, EvalProgress)]
    assert progress[-1].index == progress[-1].total == 14


def test_same_call_is_reproducible_and_rows_merge(finished_run):
    s = tiny_settings(ipcs=[2], repeats=1)
    first = Evaluation(finished_run, s, device="cpu").execute()
    again = Evaluation(finished_run, s, device="cpu").execute()
    pick = lambda d: [(r["source"], r["accuracies"]) for r in d["results"] if r["ipc"] == 2]  # noqa: E731
    assert pick(first) == pick(again)
    # An earlier call's other rows (IPC 1, full real) are kept beside the new ones.
    assert any(r["ipc"] is None for r in load_results(finished_run)["results"])


def test_stop_mid_evaluation_keeps_finished_rows(finished_run, tmp_path):
    control = RunControl()
    results = []

    def on_event(event):
        if isinstance(event, EvalResult):
            results.append(event)
            control.stop()

    run_dir = tmp_path / "copy"
    import shutil

    shutil.copytree(finished_run, run_dir)
    results_path(run_dir).unlink(missing_ok=True)
    doc = Evaluation(run_dir, tiny_settings(), device="cpu").execute(on_event, control)
    assert doc["status"] == "stopped"
    assert len(results) == 1 and len(load_results(run_dir)["results"]) == 1


def test_best_of_checks_is_labelled_and_not_below_final(finished_run, tmp_path):
    import shutil

    run_dir = tmp_path / "copy"
    shutil.copytree(finished_run, run_dir)
    s = tiny_settings(ipcs=[1], repeats=1, epochs=5, report="best-of-checks", protocol="on-the-fly")
    doc = Evaluation(run_dir, s, device="cpu").execute()
    rows = [r for r in doc["results"] if r["ipc"] == 1]
    assert len(rows) == 3
    for r in rows:
        assert r["report"] == "best-of-checks"
        assert r["accuracies"][0] >= r["final_accuracies"][0]
        assert r["protocol"] == ("fixed" if r["source"] == "random-real" else "on-the-fly")


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"archs": ["lenet"]}, "unknown evaluation network 'lenet'"),
        ({"archs": []}, "choose one or more evaluation networks"),
        ({"ipcs": [0]}, "evaluation IPC must be at least 1"),
        ({"repeats": 0}, "evaluation.repeats must be at least 1"),
    ],
)
def test_bad_settings_get_one_message(finished_run, changes, message):
    with pytest.raises(ConfigError, match=message):
        Evaluation(finished_run, tiny_settings(**changes), device="cpu")


def test_ipc_beyond_the_smallest_class_is_refused(finished_run):
    with pytest.raises(ConfigError, match="evaluation IPC 13 is more than the 12"):
        Evaluation(finished_run, tiny_settings(ipcs=[13]), device="cpu").execute()


def test_run_without_generator_is_refused(tmp_path):
    data = write_tiny_npz(tmp_path / "tiny.npz")
    run = Run.create(tiny_config(f"npz:{data}"), tmp_path / "runs")
    with pytest.raises(GddError, match="has no generator yet"):
        Evaluation(run.dir, tiny_settings(), device="cpu")


def test_results_from_before_version_2_keep_their_batchnorm_resnet18(finished_run, tmp_path):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    old_row = {"arch": "resnet18", "ipc": 1, "source": "distilled", "accuracies": [0.5, 0.7],
               "mean": 0.6, "std": 0.1, "n": 2, "images": 3, "epochs": 3}  # fmt: skip
    results_path(run_dir).parent.mkdir(exist_ok=True)  # whether or not a test evaluated it
    results_path(run_dir).write_text(json.dumps({"protocol": None, "results": [old_row]}))
    loaded = load_results(run_dir)
    assert [r["arch"] for r in loaded["results"]] == ["resnet18bn"] and loaded["version"] == 2
    # today's resnet18 (instance norm) is another network: its rows join the old one
    s = tiny_settings(archs=["resnet18"], ipcs=[1], repeats=1, gan_only=False)
    Evaluation(run_dir, s, device="cpu").execute()
    saved = json.loads(results_path(run_dir).read_text())
    assert saved["version"] == 2
    by = {(r["arch"], r["source"]): r for r in saved["results"]}
    assert set(by) == {("resnet18bn", "distilled"), ("resnet18", "distilled"),
                       ("resnet18", "random-real")}  # fmt: skip
    assert by[("resnet18bn", "distilled")]["accuracies"] == [0.5, 0.7]
    assert load_results(run_dir) == saved  # a version-2 file is read as written
