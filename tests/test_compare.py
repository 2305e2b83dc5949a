"""Comparing runs' evaluations: labels from differing settings, shared baselines once."""

import csv
import io
import json

from gdd_studio.config import RunConfig, preset_config
from gdd_studio.evaluation.compare import comparison_rows, run_labels
from gdd_studio.evaluation.protocol import results_csv


def fake_run(root, name, rows, **settings) -> object:
    """A run folder with a config and saved results, as an evaluation leaves it."""
    d = root / name
    (d / "eval").mkdir(parents=True)
    cfg = preset_config("smoke")
    for key, value in settings.items():
        section, _, field = key.partition("__")
        setattr(getattr(cfg, section), field, value) if field else setattr(cfg, section, value)
    cfg.save(d / "config.json")
    (d / "eval" / "results.json").write_text(json.dumps({"protocol": {}, "results": rows}))
    return d


def row(source, mean, accuracies=None, ipc=10, arch="convnet3"):
    return {"arch": arch, "ipc": ipc, "source": source, "n": 2, "mean": mean, "std": 0.01,
            "accuracies": accuracies or [mean - 0.01, mean + 0.01], "epochs": 300}  # fmt: skip


def test_labels_name_the_settings_that_differ(tmp_path):
    a = fake_run(tmp_path, "a", [], distill__loss="skd")
    b = fake_run(tmp_path, "b", [], distill__loss="mse")
    c = fake_run(tmp_path, "c", [], distill__loss="skd", distill__standardize=False)
    assert run_labels([a, b]) == {a: "loss=skd", b: "loss=mse"}
    labels = run_labels([a, b, c])
    assert labels[c] == "loss=skd, standardize=off" and labels[a] == "loss=skd, standardize=on"
    # Evaluation, monitoring and device settings are not what a comparison is about.
    d = fake_run(tmp_path, "d", [], distill__loss="skd", device="cuda")
    assert run_labels([a, d]) == {a: "a", d: "d"}
    assert run_labels([a]) == {a: "a"}
    assert isinstance(RunConfig.load(a / "config.json"), RunConfig)


def test_ambiguous_keys_keep_their_section_and_many_differences_are_counted(tmp_path):
    a = fake_run(tmp_path, "a", [], gan__epochs=3, distill__epochs=1)
    b = fake_run(tmp_path, "b", [], gan__epochs=4, distill__epochs=2)
    assert run_labels([a, b])[b] == "distill.epochs=2, gan.epochs=4"
    c = fake_run(tmp_path, "c", [], gan__epochs=5, distill__epochs=3, seed=4, ipc=7)
    assert run_labels([a, c])[c].endswith("+1 more")


def test_comparison_rows_share_identical_baselines_once(tmp_path):
    same = [0.5, 0.52]
    a = fake_run(tmp_path, "a", [row("distilled", 0.8), row("random-real", 0.51, same)],
                 distill__loss="skd")  # fmt: skip
    b = fake_run(tmp_path, "b", [row("distilled", 0.7), row("random-real", 0.51, same)],
                 distill__loss="mse")  # fmt: skip
    rows = comparison_rows([a, b])
    labels = sorted(r["label"] for r in rows)
    assert labels == [
        # Rows saved before selections were recorded were the first draws ("random").
        "loss=mse: distilled (GAN + SKD), random selection",
        "loss=skd: distilled (GAN + SKD), random selection",
        "random real subset",
    ]  # fmt: skip
    # Baselines measured differently (other seeds) stay per run.
    c = fake_run(tmp_path, "c", [row("random-real", 0.4, [0.39, 0.41])], distill__loss="none")
    rows = comparison_rows([a, c])
    assert sorted(r["label"] for r in rows if r["source"] == "random-real") == [
        "loss=none: random real subset", "loss=skd: random real subset",
    ]  # fmt: skip
    # One run: its rows as saved; a run without results adds nothing.
    assert comparison_rows([a]) == json.loads((a / "eval" / "results.json").read_text())["results"]
    (b / "eval" / "results.json").unlink()
    assert {r["run"] for r in comparison_rows([a, b])} == {"a", ""}


def test_results_csv_of_a_comparison_names_the_runs(tmp_path):
    a = fake_run(tmp_path, "a", [row("distilled", 0.8)], distill__loss="skd")
    b = fake_run(tmp_path, "b", [row("distilled", 0.7)], distill__loss="mse")
    out = list(csv.DictReader(io.StringIO(results_csv(comparison_rows([a, b])))))
    assert [(r["run"], r["run_label"], r["mean"]) for r in out] == [
        ("a", "loss=skd", "80.00"), ("b", "loss=mse", "70.00"),
    ]  # fmt: skip
    plain = list(csv.DictReader(io.StringIO(results_csv(comparison_rows([a])))))
    assert "run" not in plain[0]
