"""Phase 3's refinement: DM on the chosen set, stepped, checkpointed and resumed exactly."""

import csv

import numpy as np
import pytest
import torch

from gdd_studio.config import RefineConfig, RunConfig, validate
from gdd_studio.engine.events import GridImage, PhaseStarted, Progress, RunControl
from gdd_studio.engine.refine import refine_runtime
from gdd_studio.engine.run import Run, load_checkpoint, read_run_info
from gdd_studio.engine.sets import synthetic_set
from gdd_studio.errors import ConfigError
from gdd_studio.rundir.artifacts import read_stored_set
from tests.helpers import tiny_config, write_tiny_npz

GAN_STEPS = 12  # tiny_config: 2 x 3 steps in each of phases 1 and 2
ITERATIONS = 6


@pytest.fixture
def tiny_dataset(tmp_path):
    return "npz:" + str(write_tiny_npz(tmp_path / "tiny.npz"))


def refined_config(dataset, **changes):
    cfg = tiny_config(dataset, **changes)
    cfg.refine.method, cfg.refine.iterations = "dm", ITERATIONS
    cfg.refine.width, cfg.refine.real_per_class = 8, 8
    return cfg


def _refine_runtime(cfg):
    """The runtime a run of ``cfg`` refines its set with, as the run resolves it."""
    from gdd_studio.data import load_dataset

    data = load_dataset(cfg.dataset)
    image = (data.channels, data.image_size, data.image_size)
    return refine_runtime(cfg.refine, cfg.runtime, "cpu", image, data.num_classes, cfg.ipc)


@pytest.fixture
def reference(tiny_dataset, tmp_path):
    run = Run.create(refined_config(tiny_dataset), tmp_path / "ref")
    assert run.execute() == "finished"
    return run


def test_a_refined_run_steps_phase_3_and_records_how_its_set_was_made(tiny_dataset, tmp_path):
    events = []
    run = Run.create(refined_config(tiny_dataset), tmp_path / "runs")
    assert run.execute(events.append) == "finished"
    starts = [e for e in events if isinstance(e, PhaseStarted)]
    assert [e.phase for e in starts] == [1, 2, 3]
    assert starts[-1].total_steps == ITERATIONS and starts[-1].step == GAN_STEPS
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].step == progress[-1].total_steps == GAN_STEPS + ITERATIONS
    assert progress[-1].phase == 3 and progress[-1].phase_total == ITERATIONS
    assert any(isinstance(e, GridImage) and e.phase == 3 for e in events)
    rows = list(csv.DictReader(open(run.metrics_path)))
    phase3 = [r for r in rows if r["phase"] == "3"]
    assert [int(r["step"]) for r in phase3] == list(range(GAN_STEPS + 1, GAN_STEPS + 7))
    assert all(float(r["dm_loss"]) > 0 for r in phase3)
    stored = read_stored_set(run.distilled_path(2))
    assert stored.spec["refine"]["method"] == "dm"
    assert stored.spec["refine"]["iterations"] == ITERATIONS
    assert stored.candidates is not None  # herding's candidates stay for the viewer
    # The refinement moved the chosen draws.
    chosen = stored.candidates[stored.kept]
    assert not np.array_equal(chosen, stored.images)
    info = read_run_info(run.dir)
    assert info["total_steps"] == GAN_STEPS + ITERATIONS
    # What `auto` picks for this small refinement on this CPU (bf16 where native), recorded.
    assert info["runtime"]["refine"] == _refine_runtime(run.cfg).describe()
    assert info["runtime"]["refine"]["compile"] is False  # too little work to repay it
    # Read back as the run's distilled set, not made again.
    again = synthetic_set(run.dir, 2, "distilled", "cpu")
    assert not again.new and np.array_equal(again.images, stored.images)


@pytest.mark.parametrize("stop_at", [GAN_STEPS + 1, GAN_STEPS + 4])
def test_stop_in_the_refinement_resumes_to_the_uninterrupted_set(
    reference, tiny_dataset, tmp_path, stop_at
):
    control = RunControl()

    def on_event(e):
        if isinstance(e, Progress) and e.step == stop_at:
            control.stop()

    run = Run.create(refined_config(tiny_dataset), tmp_path / "stopped")
    assert run.execute(on_event, control) == "stopped"
    state = load_checkpoint(run.checkpoint_path)
    assert state["phase"] == 3 and state["step"] == stop_at and "refine" in state
    again = Run.open(run.dir)
    assert again.execute() == "finished"
    a, b = np.load(reference.distilled_path(2)), np.load(again.distilled_path(2))
    assert np.array_equal(a["images"], b["images"])
    rows = list(csv.DictReader(open(run.metrics_path)))
    assert [int(r["step"]) for r in rows] == list(range(1, GAN_STEPS + ITERATIONS + 1))


def test_a_run_chooses_among_draws_and_real_images_then_refines_and_resumes(
    tiny_dataset, tmp_path
):
    def mixed():  # "auto" at IPC 2: the draws and the real images (the cpu recipe's pool)
        cfg = refined_config(tiny_dataset)
        cfg.sampling.choose_from = "auto"
        assert cfg.ipc == 2
        return cfg

    whole = Run.create(mixed(), tmp_path / "whole")
    assert whole.execute() == "finished"
    stored = read_stored_set(whole.distilled_path(2))
    assert stored.spec["choose_from"] == "mixed" and stored.origin is not None
    assert len(stored.origin) == len(stored.candidates) and len(stored.kept) == 6
    log = (whole.dir / "log.txt").read_text()
    assert "herding among draws and real images" in log and "real training images" in log
    # The set counts the images the generator made: the draws herding kept, not the real
    # images beside them (the log says the same count).
    drawn = int((stored.origin[stored.kept] < 0).sum())
    assert stored.generator_images == drawn
    assert f"herding kept {drawn} generator draw" in log
    # Stopped in the refinement and resumed: the same set, the same record of its origin.
    control = RunControl()

    def on_event(e):
        if isinstance(e, Progress) and e.step == GAN_STEPS + 2:
            control.stop()

    run = Run.create(mixed(), tmp_path / "stopped")
    assert run.execute(on_event, control) == "stopped"
    assert Run.open(run.dir).execute() == "finished"
    again = read_stored_set(run.distilled_path(2))
    assert np.array_equal(again.images, stored.images)
    assert np.array_equal(again.origin, stored.origin)


def test_a_set_made_later_is_refined_the_same_way(reference):
    stored = synthetic_set(reference.dir, 1, "distilled", "cpu")
    assert stored.new and stored.spec["refine"]["iterations"] == ITERATIONS
    gan_only = synthetic_set(reference.dir, 1, "gan-only", "cpu")
    assert gan_only.spec == stored.spec  # the GAN-only baseline on equal footing


def test_a_set_at_another_ipc_gets_the_later_iterations(tiny_dataset, tmp_path):
    """later_iterations bounds how long a set made after the run takes: the run's own IPC
    (its set, its GAN-only baseline) keeps the run's count, another IPC gets the later one,
    and the set, its log and its evaluation row say which."""
    from gdd_studio.engine.refine import refine_at
    from gdd_studio.evaluation.rows import refine_label

    cfg = refined_config(tiny_dataset)
    cfg.refine.later_iterations = 2
    run = Run.create(cfg, tmp_path / "later")
    assert run.execute() == "finished"
    assert read_stored_set(run.distilled_path(2)).spec["refine"]["iterations"] == ITERATIONS
    assert synthetic_set(run.dir, 2, "gan-only", "cpu").spec["refine"]["iterations"] == ITERATIONS
    lines = []
    # 2 at the run's IPC 2 (8 real images per class: a unit cost of 8 + 3 * 2) take as long
    # as 3 at IPC 1 (8 + 3 * 1): round(2 * 14 / 11).
    other = synthetic_set(run.dir, 1, "distilled", "cpu", log=lines.append)
    assert other.spec["refine"]["iterations"] == 3
    assert "refining the distilled IPC-1 set: 3 DM iterations" in lines
    assert any(line.startswith("refining the distilled IPC-1 set: 3 / 3,") and "ETA" in line
               for line in lines)  # fmt: skip
    assert refine_label(refine_at(cfg.refine, 1, cfg.ipc)) == "DM x 3"
    assert refine_label(refine_at(cfg.refine, 2, cfg.ipc)) == f"DM x {ITERATIONS}"
    # A larger IPC gets proportionally fewer and a smaller one more, so its making takes
    # about as long: with 32 real images per class, 1,000 at the run's IPC 10 cost as much
    # as 341 at IPC 50 and as 1,771 at IPC 1.
    big = RefineConfig(method="dm", iterations=5000, later_iterations=1000, real_per_class=32)
    assert refine_at(big, 1, 10).iterations == round(1000 * 62 / 35) == 1771
    assert refine_at(big, 50, 10).iterations == round(1000 * 62 / 182) == 341
    assert refine_at(big, 10, 10).iterations == 5000
    # Not set: every IPC gets the run's count; no refinement: nothing to change.
    cfg.refine.later_iterations = None
    assert refine_at(cfg.refine, 1, 2) is cfg.refine
    cfg.refine.method, cfg.refine.later_iterations = "none", 2
    assert refine_at(cfg.refine, 1, 2).iterations == ITERATIONS


def test_refine_off_is_the_paper_pipeline_and_old_checkpoints_load(tiny_dataset, tmp_path):
    cfg = tiny_config(tiny_dataset, sampling__selection="random")
    run = Run.create(cfg, tmp_path / "plain")
    assert run.execute() == "finished"
    stored = read_stored_set(run.distilled_path(2))
    assert stored.spec == {"selection": "random"}
    state = load_checkpoint(run.checkpoint_path)
    assert "refine" not in state
    # A config written before the refinement existed reads as "none".
    saved = cfg.to_dict()
    del saved["refine"]
    assert RunConfig.from_dict(saved).refine.method == "none"


def test_bad_refine_settings_are_one_message(tiny_dataset):
    cfg = refined_config(tiny_dataset)
    cfg.refine.method = "glad"
    with pytest.raises(ConfigError, match="refine.method must be one of none, dm"):
        validate(cfg)
    cfg = refined_config(tiny_dataset)
    cfg.refine.iterations = 0
    with pytest.raises(ConfigError, match="refine.iterations must be at least 1"):
        validate(cfg)
    cfg = refined_config(tiny_dataset)
    cfg.refine.later_iterations = 0
    with pytest.raises(ConfigError, match="refine.later_iterations must be at least 1"):
        validate(cfg)


def test_refiner_state_round_trips(reference):
    from gdd_studio.data import load_dataset
    from gdd_studio.engine.refine import Refiner

    cfg = reference.cfg
    data = load_dataset(cfg.dataset)
    stored = read_stored_set(reference.distilled_path(2))
    start = stored.candidates[stored.kept]
    rt = _refine_runtime(cfg)  # the run's (bf16 where this CPU has it natively)
    one = Refiner(start, stored.labels, data, cfg.refine, cfg.seed, rt)
    one.run()
    two = Refiner(start, stored.labels, data, cfg.refine, cfg.seed, rt)
    for _ in range(2):
        two.step()
    three = Refiner(start, stored.labels, data, cfg.refine, cfg.seed, rt)
    three.load_state_dict(two.state_dict())
    three.run()
    assert np.array_equal(one.images(), three.images())
    assert np.array_equal(one.images(), stored.images)  # what the run stored
    assert torch.is_tensor(one.state_dict()["param"])


def test_window_sets_the_refinement(qtbot):
    from PySide6.QtWidgets import QComboBox, QSpinBox

    from gdd_studio.ui.setup_panel import SetupPanel

    panel = SetupPanel()
    qtbot.addWidget(panel)
    combo = panel.findChild(QComboBox, "refineCombo")
    combo.setCurrentIndex(combo.findData("dm"))
    panel.findChild(QSpinBox, "refineIterationsSpin").setValue(250)
    later = panel.findChild(QSpinBox, "refineLaterSpin")
    assert later.value() == 0 and later.specialValueText() == "as the run's"
    cfg = panel.config()
    assert (cfg.refine.method, cfg.refine.iterations) == ("dm", 250)
    assert cfg.refine.later_iterations is None
    later.setValue(40)
    assert panel.config().refine.later_iterations == 40


def test_window_shows_the_cpu_recipe_of_a_full_dataset(qtbot):
    """Choosing CIFAR-10 under the cpu preset shows its hour recipe (refinement on), as
    choosing the preset again would; back on the sample, the sample's recipe returns.
    The dataset, IPC and tau chosen stay."""
    from PySide6.QtWidgets import QComboBox, QSpinBox

    from gdd_studio.ui.setup_panel import SetupPanel

    panel = SetupPanel()
    qtbot.addWidget(panel)
    panel.ipc.setValue(7)
    tau_before = panel.config().distill.tau
    assert panel.config().refine.method == "none"
    panel.select_dataset("cifar10")
    cfg = panel.config()
    assert cfg.dataset == "cifar10" and cfg.refine.method == "dm"
    assert (cfg.gan.epochs, cfg.refine.later_iterations) == (1, 1000)
    assert panel.findChild(QComboBox, "refineCombo").currentData() == "dm"
    assert panel.findChild(QComboBox, "chooseFromCombo").currentData() == "auto"
    assert panel.findChild(QComboBox, "chooseFromCombo").currentText().startswith("by IPC")
    assert panel.findChild(QSpinBox, "refineLaterSpin").value() == 1000
    assert (cfg.ipc, cfg.distill.tau) == (7, tau_before)
    note = panel.note.text()
    assert note.startswith("Preset cpu on CIFAR-10") and "under an hour on 2 cores" in note
    assert "herding among the draws (IPC 1) or the draws and the real images (above)" in note
    assert "1 GAN epoch," in note
    assert "5000 DM iterations" in note
    panel.findChild(QSpinBox, "refineIterationsSpin").setValue(300)
    panel.select_dataset("fashion-mnist")  # the same recipe: the user's edit stays
    assert panel.config().refine.iterations == 300
    panel.select_dataset("mnist-sample")
    cfg = panel.config()
    assert cfg.dataset == "mnist-sample" and cfg.refine.method == "none" and cfg.gan.epochs == 60
    assert cfg.sampling.choose_from == "generator"
    assert panel.note.text().startswith("Preset cpu: narrow models")
