import json

import pytest

from gdd_studio.config import (
    PRESETS,
    RunConfig,
    merge_dict,
    preset_config,
    resolve_defaults,
    resolve_device,
    set_value,
    validate,
    validate_for_dataset,
)
from gdd_studio.errors import ConfigError


def test_json_round_trip_keeps_every_setting():
    cfg = preset_config("cpu")
    cfg.distill.tau = 3.5
    cfg.distill.pool = ["resnet10", "convnet3"]
    cfg.gan.steps_per_epoch = 7
    again = RunConfig.from_json(cfg.to_json())
    assert again == cfg
    assert again.to_dict() == cfg.to_dict()


def test_save_and_load(tmp_path):
    cfg = preset_config("smoke")
    cfg.save(tmp_path / "c.json")
    assert RunConfig.load(tmp_path / "c.json") == cfg


@pytest.mark.parametrize(
    "data,needle",
    [
        ({"ipcc": 3}, "unknown config key 'ipcc'"),
        ({"distill": {"taux": 1}}, "unknown config key 'distill.taux'"),
        ({"model": 5}, "model must be an object"),
        ({"ipc": "ten"}, "ipc must be an integer"),
        ({"distill": {"standardize": "maybe"}}, "distill.standardize must be true or false"),
        ({"distill": {"pool": 3}}, "distill.pool must be a list"),
    ],
)
def test_unknown_keys_and_bad_types_rejected(data, needle):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict(data)
    assert needle in str(err.value)


def test_invalid_json_is_one_message(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        RunConfig.load(tmp_path / "bad.json")


@pytest.mark.parametrize(
    "dataset,lam",
    [
        ("mnist-sample", 0.001),
        ("mnist", 0.001),
        ("fashion-mnist", 0.01),
        ("cifar10", 0.01),
        ("folder:/x", 0.01),
        ("npz:/x.npz", 0.01),
    ],
)
def test_lambda_defaults_per_dataset(dataset, lam):
    cfg = preset_config("paper")
    cfg.dataset = dataset
    resolve_defaults(cfg)
    assert cfg.distill.lam == lam


def test_explicit_lambda_is_kept():
    cfg = preset_config("paper")
    cfg.distill.lam = 0.5
    resolve_defaults(cfg)
    assert cfg.distill.lam == 0.5


def test_presets_are_valid_and_distinct():
    cfgs = {name: preset_config(name) for name in PRESETS}
    for cfg in cfgs.values():
        resolve_defaults(cfg)
        validate(cfg)
    assert cfgs["paper"].model.width == 196
    assert cfgs["paper"].gan.epochs == 150 and cfgs["paper"].distill.epochs == 100
    assert cfgs["paper"].distill.lr == 5e-6 and cfgs["paper"].gan.lr == 1e-4
    assert cfgs["paper"].distill.pool == ["convnet3", "resnet10", "resnet18bn"]
    assert cfgs["cpu"].model.width < 196 and cfgs["smoke"].model.width < cfgs["cpu"].model.width
    with pytest.raises(ConfigError, match="unknown preset"):
        preset_config("fast")


def test_the_cpu_preset_has_an_hour_recipe_for_full_datasets(tmp_path):
    """On MNIST, Fashion-MNIST and CIFAR-10 the cpu preset is sized in steps and ends in DM
    refinement; on the embedded sample and any other dataset it stays as it was."""
    from gdd_studio.cli.parser import make_parser
    from gdd_studio.cli.runs import build_config
    from gdd_studio.config import FULL_DATASETS

    sample = preset_config("cpu")
    assert preset_config("cpu", "mnist-sample") == sample
    assert preset_config("cpu", "folder:/data/x") == sample
    assert sample.refine.method == "none" and sample.gan.epochs == 60
    for name in FULL_DATASETS:
        cfg = preset_config("cpu", name)
        cfg.dataset = name
        resolve_defaults(cfg)
        validate(cfg)
        assert cfg.refine.method == "dm" and cfg.refine.real_per_class == 32
        assert cfg.refine.later_iterations < cfg.refine.iterations
        assert cfg.gan.epochs == 1 and cfg.distill.steps_per_epoch == 62
        assert cfg.sampling.observer_epochs == 1 and cfg.sampling.choose_from == "auto"
        # herding chooses among the draws at IPC 1 and among draws and real images above
        pools = [cfg.sampling.at_ipc(ipc).choose_from for ipc in (1, 2, 10, 50)]
        assert pools == ["generator", "mixed", "mixed", "mixed"]
        assert cfg.sampling.at_ipc(1).candidates == cfg.sampling.candidates
        assert cfg.evaluation == sample.evaluation
        # the same networks; CIFAR-100's 100-class label gets noise beside it (issue 29)
        assert cfg.model.width == sample.model.width
        assert cfg.model.nz == (200 if name == "cifar100" else sample.model.nz)
    for name in ("paper", "smoke"):  # only the cpu preset has a second recipe
        assert preset_config(name, "cifar10") == preset_config(name)
    # The command line picks the recipe from --dataset, or from a config file's dataset;
    # flags and --set still win over it.
    parse = make_parser().parse_args
    cfg = build_config(parse(["run", "--dataset", "cifar10", "--set", "refine.iterations=7"]))
    assert cfg.refine.method == "dm" and cfg.refine.iterations == 7
    path = tmp_path / "c.json"
    path.write_text('{"dataset": "fashion-mnist", "ipc": 1}')
    cfg = build_config(parse(["run", "--config", str(path)]))
    assert cfg.dataset == "fashion-mnist" and cfg.refine.method == "dm" and cfg.ipc == 1
    assert build_config(parse(["run"])).refine.method == "none"


def test_set_value_parses_command_line_strings():
    cfg = RunConfig()
    set_value(cfg, "distill.tau", "4")
    set_value(cfg, "distill.standardize", "off")
    set_value(cfg, "distill.pool", "convnet3,resnet18")
    set_value(cfg, "gan.steps_per_epoch", "null")
    set_value(cfg, "data_dir", "/tmp/123")
    set_value(cfg, "dataset", "folder:/tmp/x")
    assert cfg.distill.tau == 4.0 and cfg.distill.standardize is False
    assert cfg.distill.pool == ["convnet3", "resnet18"]
    assert cfg.gan.steps_per_epoch is None
    assert cfg.data_dir == "/tmp/123" and cfg.dataset == "folder:/tmp/x"
    with pytest.raises(ConfigError, match="unknown config key 'distill.nope'"):
        set_value(cfg, "distill.nope", "1")
    with pytest.raises(ConfigError, match="is a section"):
        set_value(cfg, "distill", "1")


def _version1_file(cfg: RunConfig) -> dict:
    """``cfg`` as a config.json written before version 2 (no version; "resnet18" = BatchNorm)."""
    data = cfg.to_dict()
    del data["version"]
    return data


def test_version1_files_keep_their_batchnorm_resnet18(tmp_path):
    old = _version1_file(preset_config("paper"))
    old["distill"]["pool"] = ["convnet3", "resnet10", "resnet18"]
    old["evaluation"]["archs"] = ["resnet18", "alexnet"]
    (tmp_path / "config.json").write_text(json.dumps(old))
    cfg = RunConfig.load(tmp_path / "config.json")
    assert cfg.version == 2
    assert cfg.distill.pool == ["convnet3", "resnet10", "resnet18bn"]
    assert cfg.evaluation.archs == ["resnet18bn", "alexnet"]
    expected = preset_config("paper")  # nothing else changes
    expected.evaluation.archs = ["resnet18bn", "alexnet"]
    assert cfg == expected
    # the CLI's --config path (a whole old file merged onto a preset) reads it the same way
    merged = preset_config("cpu")
    merge_dict(merged, old)
    assert merged.distill.pool == ["convnet3", "resnet10", "resnet18bn"]
    # a hand-written partial file without a version means today's names
    merge_dict(merged, {"distill": {"pool": "resnet18,convnet3"}})
    assert merged.distill.pool == ["resnet18", "convnet3"]
    # a version-2 file means what it says, and so do command-line values
    merge_dict(merged, {"version": 2, "distill": {"pool": ["resnet18"]}})
    assert merged.distill.pool == ["resnet18"]
    set_value(merged, "evaluation.archs", "resnet18")
    assert merged.evaluation.archs == ["resnet18"]
    # what an upgraded file saves is version 2, read back unchanged
    again = RunConfig.from_json(cfg.to_json())
    assert again == cfg and json.loads(cfg.to_json())["version"] == 2


def test_config_versions_out_of_range_are_one_message():
    with pytest.raises(ConfigError, match="version 3, newer than this GDD Studio reads"):
        RunConfig.from_dict({"version": 3})
    with pytest.raises(ConfigError, match="version must be a whole number"):
        RunConfig.from_dict({"version": "2"})
    cfg = preset_config("smoke")
    set_value(cfg, "version", "1")
    with pytest.raises(ConfigError, match="version must be 2"):
        validate(cfg)


def test_merge_partial_dict():
    cfg = preset_config("cpu")
    merge_dict(cfg, {"ipc": 5, "distill": {"loss": "mse"}})
    assert cfg.ipc == 5 and cfg.distill.loss == "mse"
    assert cfg.model.width == preset_config("cpu").model.width


@pytest.mark.parametrize(
    "key,value,needle",
    [
        ("ipc", 0, "IPC must be at least 1"),
        ("distill.tau", 0.0, "tau must be greater than 0"),
        ("distill.tau", -1.0, "tau must be greater than 0"),
        ("distill.lam", -0.1, "lambda must be 0 or more"),
        ("distill.pool", [], "model pool is empty"),
        ("distill.pool", ["convnet3", "lenet"], "unknown pool network 'lenet'"),
        ("distill.loss", "kl", "distill.loss must be one of skd, mse, none"),
        ("dataset", "imagenet", "imagenet"),
        ("device", "cuda:7", "device 'cuda:7' is not available"),
        ("device", "tpu", "device 'tpu' is not available"),
        ("evaluation.archs", ["resnet50"], "unknown evaluation network 'resnet50'"),
    ],
)
def test_validation_messages(key, value, needle):
    cfg = preset_config("smoke")
    set_value(cfg, key, json.dumps(value) if not isinstance(value, str) else value)
    with pytest.raises(Exception) as err:
        resolve_defaults(cfg)
        validate(cfg)
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_ipc_against_the_smallest_class():
    cfg = preset_config("smoke")
    cfg.ipc = 13
    with pytest.raises(ConfigError, match="IPC 13 is more than the 12 training images"):
        validate_for_dataset(cfg, 3, [20, 12, 30])
    cfg.ipc = 12
    validate_for_dataset(cfg, 3, [20, 12, 30])
    cfg.model.nz = 2
    with pytest.raises(ConfigError, match="model.nz"):
        validate_for_dataset(cfg, 3, [20, 12, 30])


def test_device_resolution():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "mps") or resolve_device("auto").startswith("cuda")


def test_cpu_device_text_counts_threads_in_words():
    import torch

    from gdd_studio.config import available_devices

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert dict(available_devices())["cpu"] == "CPU, 1 thread"
        torch.set_num_threads(2)
        assert dict(available_devices())["cpu"] == "CPU, 2 threads"
    finally:
        torch.set_num_threads(before)
