"""runtime.precision and runtime.compile: what auto picks, the record, exactness."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from gdd_studio.config import RunConfig, preset_config, validate
from gdd_studio.engine.events import Progress, RunControl
from gdd_studio.engine.run import Run, read_run_info
from gdd_studio.errors import ConfigError
from gdd_studio.evaluation.protocol import Evaluation
from gdd_studio.models import fit
from gdd_studio.models import runtime as rt_module
from gdd_studio.models.nets import build_classifier
from gdd_studio.models.runtime import COMPILE_MIN_TFLOP, Runtime, forward_flops, resolve
from tests.helpers import tiny_config, write_tiny_npz


@pytest.fixture
def tiny_dataset(tmp_path):
    return "npz:" + str(write_tiny_npz(tmp_path / "tiny.npz"))


def test_auto_picks_bf16_only_where_native_and_never_for_the_gan(monkeypatch):
    monkeypatch.setattr(rt_module, "native_bf16", lambda kind: False)
    assert not resolve("auto", "off", "cpu", "evaluation", 10).bf16
    monkeypatch.setattr(rt_module, "native_bf16", lambda kind: True)
    assert resolve("auto", "off", "cpu", "evaluation", 10).bf16
    assert resolve("auto", "off", "cpu", "pool", 10).bf16
    assert not resolve("auto", "off", "cpu", "gan", 10).bf16
    # An explicit choice is obeyed, also for the GAN and where bf16 is emulated.
    assert resolve("bf16", "off", "cpu", "gan", 10).bf16
    assert not resolve("fp32", "off", "cpu", "evaluation", 10).bf16


def test_auto_compiles_only_work_large_enough_to_repay_it(monkeypatch):
    monkeypatch.setattr(rt_module, "compile_available", lambda kind: True)
    assert not resolve("fp32", "auto", "cpu", "evaluation", COMPILE_MIN_TFLOP * 0.99).compiled
    assert resolve("fp32", "auto", "cpu", "evaluation", COMPILE_MIN_TFLOP).compiled
    # The work is counted, not the steps: 200 epochs of an IPC-10 set, 2 networks, is
    # enough for ConvNet-3 at the literature's width, not at a test's width of 16.
    wide = forward_flops(build_classifier, ("convnet3", 1, 10, 28, 128), (1, 28, 28))
    narrow = forward_flops(build_classifier, ("convnet3", 1, 10, 28, 16), (1, 28, 28))
    passes = 200 * 100 * 2
    assert rt_module.work_tflop(wide, passes) >= COMPILE_MIN_TFLOP
    assert rt_module.work_tflop(narrow, passes) < COMPILE_MIN_TFLOP
    assert resolve("fp32", "on", "cpu", "evaluation", 1).compiled
    assert not resolve("fp32", "off", "cpu", "evaluation", 10**6).compiled
    monkeypatch.setattr(rt_module, "compile_available", lambda kind: False)
    assert not resolve("fp32", "on", "cpu", "evaluation", 10**6).compiled
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16"):
        resolve("fp16", "auto", "cpu", "evaluation", 1)


def test_config_validates_and_legacy_runs_keep_fp32_eager():
    cfg = preset_config("cpu")
    assert (cfg.runtime.precision, cfg.runtime.compile) == ("auto", "auto")
    cfg.runtime.compile = "yes"
    with pytest.raises(ConfigError, match="runtime.compile must be one of auto, on, off"):
        validate(cfg)
    # A config.json written before the runtime setting existed: fp32, not compiled, so
    # that resuming it continues bit for bit.
    saved = preset_config("cpu").to_dict()
    del saved["runtime"]
    old = RunConfig.from_dict(saved)
    assert (old.runtime.precision, old.runtime.compile) == ("fp32", "off")
    # A hand-written partial file is today's: auto.
    assert RunConfig.from_dict({"dataset": "mnist-sample"}).runtime.precision == "auto"


def test_cli_flags_set_the_runtime_and_a_bad_choice_is_one_line():
    cmd = [sys.executable, "-m", "gdd_studio.cli", "run", "--preset", "smoke"]
    out = subprocess.run(
        [*cmd, "--precision", "bf16", "--compile", "off", "--print-config"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    runtime = json.loads(out.stdout)["runtime"]
    assert runtime == {"precision": "bf16", "compile": "off"}
    bad = subprocess.run([*cmd, "--precision", "fp16"], capture_output=True, text=True)
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "'auto', 'fp32', 'bf16'" in lines[0]


def _toy(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(60, 1, 28, 28, generator=g)
    y = torch.arange(60) % 3
    for k in range(3):
        x[y == k, :, 4 + 6 * k : 10 + 6 * k, 4:10] += 3.0
    return x, y


def _trained(runtime, seed=0, epochs=8):
    x, y = _toy()
    torch.manual_seed(seed)
    net = build_classifier("convnet3", 1, 3, 28, 8)
    fit.train_classifier(net, x, y, epochs, torch.Generator().manual_seed(seed), batch_size=20,
                     runtime=runtime)  # fmt: skip
    return net, fit.test_accuracy(net, x, y, runtime=runtime)


def test_bf16_training_learns_and_is_deterministic():
    bf16 = Runtime("cpu", bf16=True)
    net_a, acc = _trained(bf16)
    net_b, _ = _trained(bf16)
    assert acc > 0.9
    for a, b in zip(net_a.state_dict().values(), net_b.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # bf16 changes the arithmetic: the weights differ from fp32's (a real bf16 run).
    net_fp32, _ = _trained(Runtime("cpu"))
    assert not torch.equal(net_a.features[0].weight, net_fp32.features[0].weight)


def test_compiled_training_agrees_with_eager_and_is_deterministic():
    compiled = Runtime("cpu", compiled=True)
    net_a, acc_a = _trained(compiled, epochs=3)
    net_b, _ = _trained(compiled, epochs=3)
    net_e, acc_e = _trained(Runtime("cpu"), epochs=3)
    for a, b in zip(net_a.state_dict().values(), net_b.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for a, e in zip(net_a.state_dict().values(), net_e.state_dict().values(), strict=True):
        assert torch.allclose(a, e, atol=1e-3)
    assert abs(acc_a - acc_e) < 0.05
    # The checkpoint keeps the network's own keys, not the compiled wrapper's.
    assert not any(k.startswith("_orig_mod") for k in net_a.state_dict())


@pytest.mark.parametrize("precision,compile_mode", [("bf16", "off"), ("fp32", "on")])
def test_resume_is_bit_exact_for_a_given_runtime(tiny_dataset, tmp_path, precision, compile_mode):
    def config():
        cfg = tiny_config(tiny_dataset)
        cfg.runtime.precision, cfg.runtime.compile = precision, compile_mode
        return cfg

    reference = Run.create(config(), tmp_path / "a")
    assert reference.execute() == "finished"
    control = RunControl()

    def on_event(e):
        if isinstance(e, Progress) and e.step == 8:  # in phase 2, the pool net trained
            control.stop()

    run = Run.create(config(), tmp_path / "b")
    assert run.execute(on_event, control) == "stopped"
    again = Run.open(run.dir)
    assert again.execute() == "finished"
    ga = torch.load(reference.generator_path, weights_only=True)
    gb = torch.load(again.generator_path, weights_only=True)
    for k in ga:
        assert torch.equal(ga[k], gb[k]), k
    da, db = np.load(reference.distilled_path(2)), np.load(again.distilled_path(2))
    assert np.array_equal(da["images"], db["images"])
    recorded = read_run_info(again.dir)["runtime"]
    assert recorded["gan"] == {"precision": precision, "compile": compile_mode == "on"}
    assert set(recorded) == {"gan", "pool"}


def test_evaluation_rows_record_their_runtime_and_resume_may_change_it(tiny_dataset, tmp_path):
    run = Run.create(tiny_config(tiny_dataset), tmp_path / "runs")
    assert run.execute() == "finished"
    settings = run.cfg.evaluation
    settings.archs, settings.epochs, settings.repeats, settings.gan_only = ["convnet3"], 2, 1, False
    bf16 = Evaluation(run.dir, settings, "cpu", runtime=type(run.cfg.runtime)("bf16", "off"))
    doc = bf16.execute()
    assert {(r["precision"], r["compile"]) for r in doc["results"]} == {("bf16", False)}
    again = Run.open(run.dir)
    saved = (run.dir / "config.json").read_bytes()
    again.set_runtime("fp32", None)
    assert again.cfg.runtime.precision == "fp32"
    # config.json says so only once a resume holds the run: this one never executes.
    assert (run.dir / "config.json").read_bytes() == saved
    with pytest.raises(ConfigError):
        again.set_runtime("half", None)


def test_window_advanced_speed_settings_round_trip(qtbot):
    from gdd_studio.ui.setup_panel import SetupPanel

    panel = SetupPanel()
    qtbot.addWidget(panel)
    assert panel.config().runtime == preset_config("cpu").runtime  # auto, auto
    cfg = preset_config("cpu")
    cfg.runtime.precision, cfg.runtime.compile = "bf16", "off"
    panel.set_config(cfg)
    combo = panel.findChild(type(panel.preset), "precisionCombo")
    assert combo.currentData() == "bf16"
    combo.setCurrentIndex(combo.findData("fp32"))
    assert (panel.config().runtime.precision, panel.config().runtime.compile) == ("fp32", "off")


def test_window_gan_loss_round_trip(qtbot):
    from gdd_studio.ui.setup_panel import SetupPanel

    panel = SetupPanel()
    qtbot.addWidget(panel)
    assert panel.config().gan.loss == "wgan-gp"  # the paper's
    combo = panel.findChild(type(panel.preset), "ganLossCombo")
    assert [combo.itemData(i) for i in range(combo.count())] == ["wgan-gp", "minimax"]
    combo.setCurrentIndex(combo.findData("minimax"))
    assert panel.config().gan.loss == "minimax"
    cfg = preset_config("cpu")
    panel.set_config(cfg)
    assert combo.currentData() == "wgan-gp"


def test_window_diffaug_round_trip_keeps_a_config_files_own_choice(qtbot):
    from gdd_studio.ui.setup_panel import SetupPanel

    panel = SetupPanel()
    qtbot.addWidget(panel)
    assert panel.config().gan.diffaug == ""  # off: the paper's GAN
    combo = panel.findChild(type(panel.preset), "diffaugCombo")
    assert combo.itemData(1) == "color_crop_cutout"
    combo.setCurrentIndex(1)
    assert panel.config().gan.diffaug == "color_crop_cutout"
    cfg = preset_config("cpu")
    cfg.gan.diffaug = "color_rotate"  # not among the combo's entries: kept, not reset to off
    panel.set_config(cfg)
    assert combo.currentData() == "color_rotate"
    assert panel.config().gan.diffaug == "color_rotate"
