"""Phase-3 selection: herding, the recorded rule, new sets for new rules, exports."""

import json

import numpy as np
import pytest
import torch

from gdd_studio.cli import main
from gdd_studio.config import SamplingConfig
from gdd_studio.engine.run import Run
from gdd_studio.engine.selection import herding, selection_spec
from gdd_studio.engine.sets import synthetic_set
from gdd_studio.errors import ConfigError
from gdd_studio.evaluation.protocol import Evaluation, load_results
from gdd_studio.export import export_set
from gdd_studio.rundir.artifacts import read_stored_set, run_config, synthetic_set_path
from tests.helpers import tiny_config, write_tiny_npz


def test_herding_tracks_the_target_mean():
    # Candidates: three tight clusters; the target is the mean of clusters a and b.
    a, b, c = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), torch.tensor([5.0, 5.0])
    feats = torch.stack([c, a, c + 0.01, b, a + 0.02, c - 0.01])
    target = (a + b) / 2
    picks = herding(feats, target, 2)
    assert sorted(picks) == [1, 3]  # one of each of a and b, never the far cluster
    # The first pick is the single candidate closest to the target.
    one = herding(feats, torch.tensor([0.9, 0.1]), 1)
    assert one == [1]
    # Never the same candidate twice, even when it stays the closest.
    assert len(set(herding(feats, a, 4))) == 4


def test_herding_beats_the_first_draws_at_matching_the_mean():
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(200, 16, generator=g) + 0.5
    target = torch.zeros(16)
    herd = feats[herding(feats, target, 10)].mean(0)
    first = feats[:10].mean(0)
    assert (herd - target).norm() < 0.5 * (first - target).norm()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("selrun")
    data = write_tiny_npz(root / "tiny.npz", classes=3, per_class=12)
    cfg = tiny_config(f"npz:{data}")
    assert cfg.sampling.selection == "herding"
    run = Run.create(cfg, root / "runs")
    assert run.execute() == "finished"
    return run.dir


def test_a_finished_run_keeps_a_herded_set_and_what_it_was_chosen_from(tiny_run):
    stored = read_stored_set(tiny_run / "distilled" / "ipc2.npz")
    cfg = run_config(tiny_run)
    assert stored.spec == selection_spec(cfg.sampling) and stored.selection == "herding"
    assert stored.images.shape == (6, 28, 28, 1) and stored.labels.tolist() == [0, 0, 1, 1, 2, 2]
    per_class = max(2 * cfg.sampling.candidates, 50)
    assert stored.candidates.shape[0] == 3 * per_class
    assert np.array_equal(stored.candidates[stored.kept], stored.images)
    assert np.array_equal(stored.candidate_labels[stored.kept], stored.labels)
    assert stored.confidence.shape == (3 * per_class,)
    assert ((stored.confidence >= 0) & (stored.confidence <= 1)).all()
    # The observer is kept, so a later set (another IPC) is chosen by the same network.
    assert list((tiny_run / "selection").glob("observer-*.pt"))
    log = (tiny_run / "log.txt").read_text()
    assert "herding selection" in log and "selection observer" in log


def test_the_same_selection_gives_the_same_set(tiny_run, tmp_path):
    again = synthetic_set(tiny_run, 3, "distilled")
    assert again.new
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(tiny_run, copy)
    for f in (copy / "distilled").glob("ipc3*.npz"):
        f.unlink()
    redo = synthetic_set(copy, 3, "distilled")
    assert redo.new and np.array_equal(redo.images, again.images)
    # Read back, not made again.
    assert not synthetic_set(tiny_run, 3, "distilled").new


def test_another_rule_makes_another_set_never_reusing_the_old_file(tiny_run):
    herded = synthetic_set(tiny_run, 2, "distilled")
    assert not herded.new and herded.selection == "herding"
    random = synthetic_set(tiny_run, 2, "distilled", sampling=SamplingConfig(selection="random"))
    assert random.new and random.selection == "random"
    assert (tiny_run / "distilled" / "ipc2-random.npz").is_file()
    assert not np.array_equal(random.images, herded.images)
    # The random rule is exactly the paper's draw: the first IPC noise draws per class.
    from gdd_studio.engine.sampling import SEED_SAMPLE, sample_images
    from gdd_studio.rundir.artifacts import load_run_generator

    cfg = run_config(tiny_run)
    g = load_run_generator(tiny_run)
    images, _ = sample_images(g, 3, 2, cfg.model.nz, cfg.seed * 1000 + SEED_SAMPLE, "cpu")
    assert np.array_equal(random.images, images)
    # The run's own file still holds its herded set; other herding settings remake it.
    assert read_stored_set(tiny_run / "distilled" / "ipc2.npz").selection == "herding"
    more = SamplingConfig(**{**cfg.sampling.__dict__, "candidates": cfg.sampling.candidates + 1})
    remade = synthetic_set(tiny_run, 2, "distilled", sampling=more)
    assert remade.new and remade.spec["candidates"] == cfg.sampling.candidates + 1
    synthetic_set(tiny_run, 2, "distilled")  # back to the run's own settings


def test_a_run_folder_from_before_selections_reads_as_random(tiny_run, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(tiny_run, old)
    cfg = json.loads((old / "config.json").read_text())
    del cfg["sampling"]
    (old / "config.json").write_text(json.dumps(cfg))
    assert run_config(old).sampling.selection == "random"
    with np.load(old / "distilled" / "ipc2.npz") as f:
        legacy = {k: f[k] for k in ("images", "labels")}
    np.savez(old / "distilled" / "ipc2.npz", **legacy)  # no "selection" key
    stored = synthetic_set(old, 2, "distilled")
    assert not stored.new and stored.selection == "random"


def test_evaluation_rows_record_the_selection_and_keep_both_rules(tiny_run):
    settings = run_config(tiny_run).evaluation
    settings.epochs, settings.repeats = 1, 1
    Evaluation(tiny_run, settings, device="cpu").execute()
    Evaluation(
        tiny_run, settings, device="cpu", sampling=SamplingConfig(selection="random")
    ).execute()
    rows = load_results(tiny_run)["results"]
    sel = {(r["source"], r["selection"]) for r in rows}
    assert {("distilled", "herding"), ("distilled", "random"), ("gan-only", "herding"),
            ("gan-only", "random"), ("random-real", None)} <= sel  # fmt: skip
    assert sum(r["source"] == "random-real" for r in rows) == 1  # replaced, not doubled
    # GAN-only chose its set with the same rule and the same observer.
    gan = read_stored_set(tiny_run / "eval" / "gan-only-ipc2.npz")
    assert gan.spec == read_stored_set(tiny_run / "distilled" / "ipc2.npz").spec
    csv_text = (tiny_run / "eval" / "results.csv").read_text()
    assert "selection" in csv_text.splitlines()[0] and ",herding," in csv_text


def test_bad_selection_settings_are_refused(tiny_run, tmp_path, capsys):
    from gdd_studio.config import preset_config, set_value, validate

    cfg = preset_config("smoke")
    with pytest.raises(ConfigError, match="sampling.selection must be one of"):
        set_value(cfg, "sampling.selection", "best")
        validate(cfg)
    cfg = preset_config("smoke")
    set_value(cfg, "sampling.candidates", 0)
    with pytest.raises(ConfigError, match="sampling.candidates must be at least 1"):
        validate(cfg)
    rc = main(["export", str(tiny_run), "--format", "npz", "--out", str(tmp_path / "x.npz"),
               "--candidates", "0"])  # fmt: skip
    assert rc == 2 and "sampling.candidates must be at least 1" in capsys.readouterr().err


def test_tensor_export_reads_as_mtt_files(tiny_run, tmp_path):
    out = export_set(tiny_run, "tensors", 2, tmp_path / "set")
    images = torch.load(out / "images_best.pt", weights_only=True)
    labels = torch.load(out / "labels_best.pt", weights_only=True)
    meta = json.loads((out / "meta.json").read_text())
    assert images.shape == (6, 1, 28, 28) and images.dtype == torch.float32
    assert labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert meta["selection"]["selection"] == "herding" and "normalized" in meta["images"]
    # Undoing the stated normalization gives the stored pixels back.
    mean, std = meta["mean"][0], meta["std"][0]
    pixels = ((images * std + mean) * 255).round().byte().permute(0, 2, 3, 1).numpy()
    assert np.array_equal(pixels, read_stored_set(tiny_run / "distilled" / "ipc2.npz").images)
    # Other exports record the selection too.
    payload = torch.load(export_set(tiny_run, "pt", 2, tmp_path / "s.pt"), weights_only=True)
    assert payload["selection"]["selection"] == "herding"
    with np.load(export_set(tiny_run, "npz", 2, tmp_path / "s.npz")) as f:
        assert json.loads(str(f["selection"]))["selection"] == "herding"


def test_cli_export_with_another_selection(tiny_run, tmp_path, capsys):
    out = tmp_path / "r.npz"
    rc = main(["export", str(tiny_run), "--format", "npz", "--out", str(out),
               "--selection", "random"])  # fmt: skip
    assert rc == 0
    with np.load(out) as f:
        # the rule, and how many of the 6 images the generator made (all: first draws)
        assert json.loads(str(f["selection"])) == {"selection": "random", "generator_images": 6}


def test_legends_name_a_rule_other_than_the_default():
    from gdd_studio.evaluation.protocol import source_title

    assert source_title({"source": "distilled", "selection": "herding"}) == "distilled (GAN + SKD)"
    assert source_title({"source": "gan-only", "selection": "random"}) == (
        "GAN only (phase 1), random selection"
    )
    # Rows saved before selections were recorded were the first draws.
    assert source_title({"source": "distilled"}).endswith("random selection")
    assert source_title({"source": "random-real", "selection": None}) == "random real subset"


def test_herding_can_choose_among_the_real_training_images(tiny_run):
    from gdd_studio.data import load_dataset

    cfg = run_config(tiny_run)
    data = load_dataset(cfg.dataset, data_dir=cfg.data_dir, download=False)

    def chosen_from(pool: str) -> SamplingConfig:
        return SamplingConfig(**{**cfg.sampling.__dict__, "choose_from": pool})

    real = synthetic_set(tiny_run, 2, "distilled", sampling=chosen_from("real"))
    assert real.new and real.spec["choose_from"] == "real"
    assert (tiny_run / "distilled" / "ipc2-herding-real.npz").is_file()
    # Every kept image is a real training image of its class, named by its index there.
    assert real.origin is not None and (real.origin[real.kept] >= 0).all()
    x = data.x_train.permute(0, 2, 3, 1).numpy()
    for image, label, index in zip(real.images, real.labels, real.origin[real.kept], strict=True):
        assert np.array_equal(image, x[index]) and int(data.y_train[index]) == label
    assert real.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert len(set(real.origin[real.kept].tolist())) == 6
    # Only the kept real images are stored as candidates, not the whole training split.
    assert len(real.candidates) == 6 and real.confidence.shape == (6,)
    # Mixed: the draws and the real images compete; every draw is stored as a candidate.
    mixed = synthetic_set(tiny_run, 2, "distilled", sampling=chosen_from("mixed"))
    per_class = max(2 * cfg.sampling.candidates, 50)
    draws = int((mixed.origin < 0).sum())
    assert draws == 3 * per_class
    assert len(mixed.candidates) == draws + int((mixed.origin[mixed.kept] >= 0).sum())
    assert np.array_equal(mixed.candidates[mixed.kept], mixed.images)
    assert np.array_equal(mixed.candidate_labels[mixed.kept], mixed.labels)
    # Read back as it was stored, and the run's own set is untouched.
    again = synthetic_set(tiny_run, 2, "distilled", sampling=chosen_from("mixed"))
    assert not again.new and np.array_equal(again.origin, mixed.origin)
    assert "choose_from" not in read_stored_set(tiny_run / "distilled" / "ipc2.npz").spec


def test_auto_chooses_among_the_draws_at_ipc_1_and_among_both_above(tiny_run):
    cfg = run_config(tiny_run)
    assert cfg.sampling.choose_from == "generator"

    def chosen_from(pool: str) -> SamplingConfig:
        return SamplingConfig(**{**cfg.sampling.__dict__, "choose_from": pool})

    # At IPC 1 "auto" is the draws: the run's own set, recorded as chosen among draws.
    auto1 = synthetic_set(tiny_run, 1, "distilled", sampling=chosen_from("auto"))
    own1 = synthetic_set(tiny_run, 1, "distilled")
    assert not own1.new and np.array_equal(own1.images, auto1.images)
    assert auto1.spec == selection_spec(cfg.sampling) and auto1.origin is None
    own_path = tiny_run / "distilled" / "ipc1.npz"
    assert synthetic_set_path(tiny_run, 1, choose_from="auto") == own_path
    # Above, it is the mixed pool: the same set, in the same file, and it says so.
    path = synthetic_set_path(tiny_run, 3, choose_from="auto")
    assert path == synthetic_set_path(tiny_run, 3, choose_from="mixed")
    assert path.name == "ipc3-herding-mixed.npz"
    auto3 = synthetic_set(tiny_run, 3, "distilled", sampling=chosen_from("auto"))
    assert auto3.spec["choose_from"] == "mixed" and auto3.origin is not None
    mixed3 = synthetic_set(tiny_run, 3, "distilled", sampling=chosen_from("mixed"))
    assert not mixed3.new and np.array_equal(mixed3.images, auto3.images)


def test_choosing_among_real_images_is_herding_s_and_named_in_one_line(tmp_path):
    from gdd_studio.config import validate

    cfg = tiny_config("npz:unused.npz")
    cfg.sampling.choose_from = "real"
    cfg.sampling.selection = "random"
    validate(cfg)  # the first draws are the generator's whatever the pool says
    assert selection_spec(cfg.sampling) == {"selection": "random"}
    cfg.sampling.choose_from = "everything"
    with pytest.raises(ConfigError, match="sampling.choose_from"):
        validate(cfg)


def test_window_sets_what_herding_chooses_from(qtbot):
    from PySide6.QtWidgets import QComboBox

    from gdd_studio.ui.setup_panel import SetupPanel

    panel = SetupPanel()
    qtbot.addWidget(panel)
    pool = panel.findChild(QComboBox, "chooseFromCombo")
    assert pool.isEnabled() and panel.config().sampling.choose_from == "generator"
    pool.setCurrentIndex(pool.findData("real"))
    assert panel.config().sampling.choose_from == "real"
    # The first draws are always the generator's: the choice greys out and goes back.
    rule = panel.findChild(QComboBox, "selectionCombo")
    rule.setCurrentIndex(rule.findData("random"))
    assert not pool.isEnabled() and panel.config().sampling.choose_from == "generator"
    rule.setCurrentIndex(rule.findData("herding"))
    assert pool.isEnabled()


def test_the_viewer_says_which_image_is_a_draw_and_which_a_real_one(qtbot):
    from gdd_studio.rundir.artifacts import StoredSet
    from gdd_studio.ui.set_viewer import SetViewer

    v = SetViewer(lambda *a: None)
    qtbot.addWidget(v)
    images = np.zeros((3, 4, 4, 1), dtype=np.uint8)
    v.stored = StoredSet(
        images[:2], np.array([0, 1]), {"selection": "herding", "choose_from": "mixed"}, False,
        candidates=images, candidate_labels=np.array([0, 0, 1]), kept=np.array([1, 2]),
        confidence=np.array([0.2, 0.9, 0.5], dtype=np.float32), origin=np.array([-1, 417, -1]),
    )  # fmt: skip
    v._classes = ["zero", "one"]
    assert v.describe(0).startswith("zero: in the set; real training image #417")
    assert "a generator draw" in v.describe(1) and "50.0 %" in v.describe(1)
    v.show_candidates.setEnabled(True)
    v.show_candidates.blockSignals(True)  # no redraw: this viewer shows no run
    v.show_candidates.setChecked(True)
    assert v.describe(0).startswith("zero: rejected; a generator draw")
    assert "real training image #417" in v.describe(1) and "kept" in v.describe(1)


def test_the_observer_says_how_far_its_training_is(monkeypatch):
    """Issue 31, item 4: minutes of silence after 'training the selection observer'."""
    from gdd_studio.engine import selection
    from gdd_studio.models.fit import train_classifier

    now = [0.0]
    monkeypatch.setattr(selection.time, "perf_counter", lambda: now[0])
    said = []
    progress = selection._ProgressLines(said.append, "selection observer", every_s=15.0)
    for done in range(1, 101):  # 100 batches: 30 s of warm-up first, then 1 s each
        now[0] += 30.0 if done == 1 else 1.0
        progress(done, 100)
    assert said[0] == ("selection observer: 1 % trained (1 of 100 batches), estimating the "
                       "time left")  # fmt: skip
    assert "16 % trained (16 of 100 batches), about 01:24 left" in said[1]
    assert len(said) == 7  # one line every 15 s, none at the end (the result line follows)

    seen = []
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    x, y = torch.randn(10, 1, 2, 2), torch.tensor([0, 1] * 5)
    train_classifier(net, x, y, 2, torch.Generator().manual_seed(0), batch_size=4,
                     on_batch=lambda d, t: seen.append((d, t)))  # fmt: skip
    assert seen == [(d, 6) for d in range(1, 7)]
