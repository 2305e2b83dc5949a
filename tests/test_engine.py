"""The run loop: end to end, events, pause/stop/resume to the identical result, options."""

import csv
import json
import threading
import time

import numpy as np
import pytest
import torch

from gdd_studio import storage
from gdd_studio.config import resolve_defaults
from gdd_studio.data import load_dataset
from gdd_studio.engine.events import (
    CheckpointSaved,
    GridImage,
    LogMessage,
    PhaseStarted,
    Progress,
    RunControl,
    RunFinished,
    StateChanged,
    StepMetrics,
)
from gdd_studio.engine.run import Run, _RateClock, load_checkpoint, read_run_info
from gdd_studio.errors import CheckpointError, ConfigError
from tests.helpers import tiny_config, write_tiny_npz

TOTAL = 2 * 3 + 2 * 3  # tiny_config: 2 epochs x 3 steps in each phase


@pytest.fixture
def tiny_dataset(tmp_path):
    return "npz:" + str(write_tiny_npz(tmp_path / "tiny.npz"))


def _generator(run):
    return torch.load(run.generator_path, weights_only=True)


def _assert_same_generator(a, b):
    ga, gb = _generator(a), _generator(b)
    assert ga.keys() == gb.keys()
    for k in ga:
        assert torch.equal(ga[k], gb[k]), k
    da, db = np.load(a.distilled_path(2)), np.load(b.distilled_path(2))
    assert np.array_equal(da["images"], db["images"])


def _resumed_after_a_stop_in_each_phase(tiny_dataset, tmp_path, changes):
    """A tiny run with ``changes``, stopped in phase 1 and in phase 2 and resumed each time:
    it ends with the generator and set of the same run made in one go."""
    whole = Run.create(tiny_config(tiny_dataset, **changes), tmp_path / "a")
    assert whole.execute() == "finished"
    control = RunControl()

    def stop(e):
        if isinstance(e, Progress) and e.step in (4, 9):
            control.stop()

    run = Run.create(tiny_config(tiny_dataset, **changes), tmp_path / "b")
    assert run.execute(stop, control) == "stopped"
    control = RunControl()
    assert Run.open(run.dir).execute(stop, control) == "stopped"
    assert Run.open(run.dir).execute() == "finished"
    _assert_same_generator(whole, run)
    return run


@pytest.fixture
def reference(tiny_dataset, tmp_path):
    run = Run.create(tiny_config(tiny_dataset), tmp_path / "runs")
    assert run.execute() == "finished"
    return run


def test_run_end_to_end_events_and_folder(tiny_dataset, tmp_path):
    events = []
    run = Run.create(tiny_config(tiny_dataset), tmp_path / "runs")
    assert run.execute(events.append) == "finished"

    steps = [e.step for e in events if isinstance(e, StepMetrics)]
    assert steps == list(range(1, TOTAL + 1))
    phases = [e.phase for e in events if isinstance(e, PhaseStarted)]
    assert phases == [1, 2, 3]
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].step == progress[-1].total_steps == TOTAL
    # 'estimating' (no rate, no ETA) while warm-up steps pass, a rate ever after.
    known = 2 * _RateClock.WARMUP_STEPS - 1
    assert all(p.rate == 0 and p.eta_s is None for p in progress[:known])
    assert all(p.rate > 0 for p in progress[known:]) and progress[-1].eta_s == 0
    grids = [e for e in events if isinstance(e, GridImage)]
    assert grids[0].step == 0 and grids[0].image.dtype == np.uint8
    assert grids[0].image.shape[0] > 3 * 28  # one row per class
    assert any(isinstance(e, CheckpointSaved) for e in events)
    assert isinstance(events[-1], RunFinished) and events[-1].status == "finished"
    phase2 = [e.values for e in events if isinstance(e, StepMetrics) and e.phase == 2]
    assert {"match", "pool_acc", "pool_loss", "d_loss", "g_adv"} <= set(phase2[0])

    d = run.dir
    assert json.loads((d / "config.json").read_text())["distill"]["lam"] == 0.01
    rows = list(csv.DictReader(open(d / "metrics.csv")))
    assert [int(r["step"]) for r in rows] == list(range(1, TOTAL + 1))
    assert rows[-1]["match"] != "" and rows[0]["match"] == ""
    assert len(list((d / "grids").glob("*.png"))) >= 4
    assert (d / "checkpoints" / "phase1.pt").exists() and (d / "checkpoints" / "phase2.pt").exists()
    dist = np.load(run.distilled_path(2))
    assert dist["images"].shape == (6, 28, 28, 1) and dist["images"].dtype == np.uint8
    assert dist["labels"].dtype == np.int64 and dist["labels"].tolist() == [0, 0, 1, 1, 2, 2]
    assert read_run_info(d)["status"] == "finished"
    assert load_checkpoint(run.checkpoint_path)["phase"] == 3


@pytest.mark.parametrize("stop_at", [2, 4, 7, 8, 11])
def test_stop_and_resume_gives_the_uninterrupted_result(reference, tiny_dataset, tmp_path, stop_at):
    control = RunControl()

    def on_event(e):
        if isinstance(e, Progress) and e.step == stop_at:
            control.stop()

    run = Run.create(tiny_config(tiny_dataset), tmp_path / "runs2")
    assert run.execute(on_event, control) == "stopped"
    assert read_run_info(run.dir)["status"] == "stopped"
    assert load_checkpoint(run.checkpoint_path)["step"] == stop_at
    assert not run.generator_path.exists()

    again = Run.open(run.dir)
    assert again.execute() == "finished"
    _assert_same_generator(reference, again)
    rows = list(csv.DictReader(open(run.metrics_path)))
    assert [int(r["step"]) for r in rows] == list(range(1, TOTAL + 1))


def test_stop_while_pretraining_the_pool_resumes_to_the_uninterrupted_result(
    tiny_dataset, tmp_path
):
    settings = dict(
        distill__pool_mode="pretrained", distill__pool="convnet3,resnet10",
        distill__pool_pretrain_epochs=3,
    )  # fmt: skip
    reference = Run.create(tiny_config(tiny_dataset, **settings), tmp_path / "ref")
    assert reference.execute() == "finished"

    control = RunControl()
    seen = []

    def on_event(e):
        if isinstance(e, LogMessage):
            seen.append(e.message)
            if "pretraining pool network resnet10" in e.message:
                control.stop()  # the first pool network is done, the second under way

    run = Run.create(tiny_config(tiny_dataset, **settings), tmp_path / "runs")
    assert run.execute(on_event, control) == "stopped"
    assert any("stopped while pretraining pool network resnet10" in m for m in seen)
    state = load_checkpoint(run.checkpoint_path)
    assert state["phase"] == 2 and state["phase_step"] == 0
    assert list(state["pretrained"]) == ["convnet3"]
    again = Run.open(run.dir)
    phases = []
    assert again.execute(phases.append) == "finished"
    started = [e for e in phases if isinstance(e, PhaseStarted) and e.phase == 2]
    assert started[0].step == 6  # where phase 2 began, not where the resume began
    _assert_same_generator(reference, again)


class Crash(Exception):
    pass


def test_crash_resumes_from_last_periodic_checkpoint(reference, tiny_dataset, tmp_path):
    """A crash writes no checkpoint of its own; resuming from the last periodic one, with
    the metrics written after it discarded, still ends identical."""

    def on_event(e):
        if isinstance(e, Progress) and e.step == 9:
            raise Crash("simulated crash")

    run = Run.create(tiny_config(tiny_dataset), tmp_path / "runs2")
    with pytest.raises(Crash):
        run.execute(on_event)
    assert read_run_info(run.dir)["status"] == "failed"
    assert load_checkpoint(run.checkpoint_path)["step"] == 8
    assert "simulated crash" in (run.dir / "error.log").read_text()
    again = Run.open(run.dir)
    assert again.execute() == "finished"
    _assert_same_generator(reference, again)
    rows = list(csv.DictReader(open(run.metrics_path)))
    assert [int(r["step"]) for r in rows] == list(range(1, TOTAL + 1))


def test_pause_holds_progress_and_resume_finishes_identically(reference, tiny_dataset, tmp_path):
    control = RunControl()
    events = []
    observed = {}

    def on_event(e):
        events.append(e)
        if isinstance(e, Progress) and e.step == 5 and "paused_at" not in observed:
            control.pause()
            observed["paused_at"] = 5

    def watcher():
        while not any(isinstance(e, StateChanged) and e.state == "paused" for e in events):
            time.sleep(0.01)
        before = len([e for e in events if isinstance(e, Progress)])
        time.sleep(0.5)
        observed["progress_during_pause"] = (
            len([e for e in events if isinstance(e, Progress)]) - before
        )
        observed["status_during_pause"] = read_run_info(run.dir)["status"]
        control.resume()

    run = Run.create(tiny_config(tiny_dataset), tmp_path / "runs2")
    t = threading.Thread(target=watcher)
    t.start()
    assert run.execute(on_event, control) == "finished"
    t.join(10)
    assert observed["progress_during_pause"] == 0
    assert observed["status_during_pause"] == "paused"
    states = [e.state for e in events if isinstance(e, StateChanged)]
    assert states == ["paused", "running"]
    _assert_same_generator(reference, run)


def test_stop_releases_a_pause(tiny_dataset, tmp_path):
    control = RunControl()

    def on_event(e):
        if isinstance(e, StateChanged) and e.state == "paused":
            threading.Timer(0.1, control.stop).start()
        if isinstance(e, Progress) and e.step == 3:
            control.pause()

    run = Run.create(tiny_config(tiny_dataset), tmp_path / "runs")
    assert run.execute(on_event, control) == "stopped"
    assert load_checkpoint(run.checkpoint_path)["step"] == 3


def test_corrupt_checkpoint_is_one_message_and_kept(tiny_dataset, tmp_path):
    control = RunControl()
    run = Run.create(tiny_config(tiny_dataset), tmp_path / "runs")
    run.execute(lambda e: control.stop() if isinstance(e, Progress) else None, control)
    run.checkpoint_path.write_bytes(b"garbage, not a checkpoint")
    again = Run.open(run.dir)
    with pytest.raises(CheckpointError) as err:
        again.execute()
    assert "damaged" in str(err.value) and str(run.checkpoint_path) in str(err.value)
    assert run.checkpoint_path.read_bytes() == b"garbage, not a checkpoint"
    assert (run.dir / "config.json").exists()


def test_open_rejects_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(CheckpointError, match="not a run folder"):
        Run.open(tmp_path)


def test_atomic_write_keeps_the_previous_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "ck.pt"
    storage.atomic_torch_save(target, {"a": torch.ones(2)})

    def broken_save(obj, fh):
        fh.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        storage.atomic_torch_save(target, {"a": torch.zeros(2)})
    monkeypatch.undo()
    assert torch.equal(torch.load(target, weights_only=True)["a"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]


def test_ipc_larger_than_a_class_fails_with_one_message(tiny_dataset, tmp_path):
    cfg = tiny_config(tiny_dataset)
    cfg.ipc = 13
    run = Run.create(cfg, tmp_path / "runs")
    with pytest.raises(ConfigError, match="IPC 13 is more than the 12"):
        run.execute()
    assert read_run_info(run.dir)["status"] == "failed"


@pytest.mark.parametrize(
    "changes,present,absent",
    [
        ({"distill__loss": "mse"}, {"match", "pool_acc"}, set()),
        ({"distill__loss": "none"}, {"d_loss"}, {"match", "pool_acc"}),
        ({"distill__standardize": False}, {"match"}, set()),
        ({"distill__tau_mode": "multiply"}, {"match"}, set()),
        ({"distill__discriminator": "frozen"}, {"match"}, {"d_loss", "gp"}),
        (
            {
                "distill__pool_mode": "pretrained",
                "distill__pool_pretrain_epochs": 1,
                "distill__pool": ["convnet3", "resnet10"],
            },
            {"match"},
            {"pool_acc"},
        ),
        ({"distill__pool": ["resnet18bn", "alexnet", "vgg11"]}, {"match", "pool_acc"}, set()),
        ({"distill__dm_weight": 0.5}, {"match", "g_dm"}, set()),
        ({"distill__dm_weight": 0.5, "distill__loss": "none"}, {"g_dm"}, {"match", "pool_acc"}),
        ({}, {"match"}, {"g_dm"}),
    ],
)
def test_phase2_options(tiny_dataset, tmp_path, changes, present, absent):
    events = []
    run = Run.create(tiny_config(tiny_dataset, **changes), tmp_path / "runs")
    assert run.execute(events.append) == "finished"
    phase2 = [e.values for e in events if isinstance(e, StepMetrics) and e.phase == 2]
    assert present <= set(phase2[-1])
    assert not (absent & set(phase2[-1]))
    assert all(np.isfinite(v) for row in phase2 for v in row.values())


def test_gan_best_checkpoint_selection(tiny_dataset, tmp_path):
    events = []
    cfg = tiny_config(
        tiny_dataset,
        gan__select="best",
        gan__select_every=1,
        gan__select_ipc=2,
        gan__select_epochs=2,
    )
    run = Run.create(cfg, tmp_path / "runs")
    assert run.execute(events.append) == "finished"
    logs = [e.message for e in events if e.__class__.__name__ == "LogMessage"]
    assert sum("quick accuracy" in m for m in logs) == 3  # two epochs + the kept one
    assert any(m.startswith("phase 1: keeping the epoch-") for m in logs)


def test_colour_32px_dataset(tmp_path):
    path = write_tiny_npz(tmp_path / "c.npz", size=32, channels=3)
    run = Run.create(tiny_config("npz:" + str(path)), tmp_path / "runs")
    assert run.execute() == "finished"
    assert np.load(run.distilled_path(2))["images"].shape == (6, 32, 32, 3)


def test_dm_of_the_draws_resumes_to_the_uninterrupted_generator(tiny_dataset, tmp_path):
    """distill.dm_weight: its embedder is seeded by the step, its augmentation comes from
    the checkpointed stream, so a stop in phase 2 resumes bit-exact."""
    whole = Run.create(tiny_config(tiny_dataset, distill__dm_weight=0.5), tmp_path / "a")
    assert whole.execute() == "finished"
    control = RunControl()

    def stop_in_phase2(e):
        if isinstance(e, Progress) and e.phase == 2 and e.step == 8:
            control.stop()

    run = Run.create(tiny_config(tiny_dataset, distill__dm_weight=0.5), tmp_path / "b")
    assert run.execute(stop_in_phase2, control) == "stopped"
    assert Run.open(run.dir).execute() == "finished"
    _assert_same_generator(whole, run)
    g_dm = [r["g_dm"] for r in csv.DictReader(open(run.metrics_path)) if r["phase"] == "2"]
    assert g_dm and all(float(v) > 0 for v in g_dm)


def test_the_run_eta_says_estimating_until_warm_up_and_compilation_are_behind(monkeypatch):
    """Issue 30: a compiled run's first line read 'ETA 199:06:54': the first step's
    compilation was taken as the rate."""
    from gdd_studio.engine import run as run_module
    from gdd_studio.engine.events import fmt_eta

    now = [0.0]
    monkeypatch.setattr(run_module.time, "perf_counter", lambda: now[0])
    clock = run_module._RateClock()
    total, rates = 1000, []
    for seconds in [100.0] + [1.0] * 20 + [60.0] + [1.0] * 5:
        now[0] += seconds  # step 1 compiles; step 22 starts a phase that compiles again
        clock.tick()
        rates.append(clock.rate())
    warm = run_module._RateClock.WARMUP_STEPS
    known = 2 * warm - 1  # warm-up untimed, then WARMUP_STEPS timed ones
    assert rates[:known] == [0.0] * known
    assert all(r == pytest.approx(1.0) for r in rates[known:])  # the 60 s step skipped
    assert fmt_eta(None) == "estimating"
    # The first ETA shown is within 10 times the time the whole run takes.
    first_eta = (total - known - 1) / rates[known]
    assert first_eta <= 10 * (100 + total)


def test_a_moving_average_run_resumes_bit_exact_and_its_sets_come_from_the_average(
    tiny_dataset, tmp_path
):
    """gan.ema: the average is checkpointed (a stop in each phase resumes to the same
    generator.pt), and generator.pt, the gan-only generator and the grids are the average."""
    from gdd_studio.rundir.artifacts import load_run_generator

    cfg = dict(gan__ema=0.99, sampling__truncation=1.5)
    run = _resumed_after_a_stop_in_each_phase(tiny_dataset, tmp_path, cfg)
    ckpt = load_checkpoint(run.folder.phase_checkpoint(1))
    assert ckpt["ema_updates"] == 6
    assert not torch.equal(ckpt["G_ema"]["fc.0.weight"], ckpt["G"]["fc.0.weight"])
    gan_only = load_run_generator(run.dir, "gan-only").state_dict()
    assert all(torch.equal(v, ckpt["G_ema"][k]) for k, v in gan_only.items())
    final = load_checkpoint(run.checkpoint_path)
    assert all(torch.equal(v, final["G_ema"][k]) for k, v in _generator(run).items())
    spec = json.loads(str(np.load(run.distilled_path(2))["selection"]))
    assert spec["truncation"] == 1.5


def test_the_minimax_loss_trains_without_a_penalty_and_resumes_bit_exact(tiny_dataset, tmp_path):
    """gan.loss="minimax": binary cross-entropy on the critic's score, no gradient penalty
    (its column is 0), in both phases; a stop in each phase resumes to the same generator,
    and the generator is not the WGAN-GP one."""
    run = _resumed_after_a_stop_in_each_phase(tiny_dataset, tmp_path, {"gan__loss": "minimax"})
    rows = [r for r in csv.DictReader(open(run.metrics_path)) if r["phase"] in ("1", "2")]
    assert {r["phase"] for r in rows} == {"1", "2"}
    assert all(float(r["gp"]) == 0 for r in rows if r["gp"])
    # A softplus of a logit: every adversarial loss is positive (WGAN's may be any sign).
    assert all(float(r["g_adv"]) > 0 for r in rows if r["g_adv"])
    wgan = Run.create(tiny_config(tiny_dataset), tmp_path / "c")
    assert wgan.execute() == "finished"
    assert any(not torch.equal(v, _generator(wgan)[k]) for k, v in _generator(run).items())


def test_diffaugment_trains_through_its_augmentation_and_resumes_bit_exact(tiny_dataset, tmp_path):
    """gan.diffaug: D sees every image through all of the strategy's transforms, drawn from
    a stream of its own, in both phases; a stop in each phase resumes to the same generator,
    and the generator is not the plain one."""
    from gdd_studio.config import DIFFAUG_FAMILIES
    from gdd_studio.models.augment import FAMILIES

    assert DIFFAUG_FAMILIES == FAMILIES  # the config's check and the transforms agree
    policy = {"gan__diffaug": "color_crop_cutout"}
    run = _resumed_after_a_stop_in_each_phase(tiny_dataset, tmp_path, policy)
    plain = Run.create(tiny_config(tiny_dataset), tmp_path / "c")
    assert plain.execute() == "finished"
    assert any(not torch.equal(v, _generator(plain)[k]) for k, v in _generator(run).items())


def test_d_sees_augmented_images_and_g_gets_gradients_through_them(tiny_dataset):
    from gdd_studio.engine.trainer import Trainer

    cfg, plain = tiny_config(tiny_dataset, gan__diffaug="crop_cutout"), tiny_config(tiny_dataset)
    resolve_defaults(cfg)
    resolve_defaults(plain)
    t = Trainer(cfg, load_dataset(cfg.dataset), "cpu")
    x = torch.rand(8, 1, 16, 16, requires_grad=True)
    seen = t.d_view(x)
    assert seen.shape == x.shape and not torch.equal(seen, x)
    assert (seen == 0).any()  # cutout zeroes a square of every image
    seen.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    off = Trainer(plain, load_dataset(cfg.dataset), "cpu")
    assert off.d_view(x) is x and "diffaug" not in off.rng


def test_an_unknown_diffaug_transform_is_one_line(tiny_dataset):
    from gdd_studio.config import validate

    with pytest.raises(ConfigError, match=r"gan.diffaug must be off .* got 'color_zoom'"):
        validate(tiny_config(tiny_dataset, gan__diffaug="color_zoom"))


def test_an_unknown_gan_loss_is_one_line(tiny_dataset):
    from gdd_studio.config import validate

    with pytest.raises(ConfigError, match=r"gan.loss must be one of wgan-gp, minimax, got 'hinge'"):
        validate(tiny_config(tiny_dataset, gan__loss="hinge"))
