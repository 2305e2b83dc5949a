"""The headless CLI as a user meets it: runs, resume, listings, and one line per mistake."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from gdd_studio.cli import main
from gdd_studio.engine.run import Run, load_checkpoint, read_run_info
from tests.helpers import write_tiny_npz


def _only_run(runs: Path) -> Path:
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run


def test_smoke_run_of_the_embedded_sample(tmp_path, capsys):
    runs = tmp_path / "runs"
    code = main(
        [
            "run",
            "--dataset",
            "mnist-sample",
            "--preset",
            "smoke",
            "--ipc",
            "10",
            "--runs-dir",
            str(runs),
        ]
    )
    assert code == 0
    run = _only_run(runs)
    gen = torch.load(run / "generator.pt", weights_only=True)
    assert any(k.endswith("weight") for k in gen)
    dist = np.load(run / "distilled" / "ipc10.npz")
    assert dist["images"].shape == (100, 28, 28, 1) and dist["images"].dtype == np.uint8
    assert np.bincount(dist["labels"]).tolist() == [10] * 10
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["preset"] == "smoke" and cfg["distill"]["lam"] == 0.001
    assert read_run_info(run)["status"] == "finished"
    assert "run folder:" in capsys.readouterr().err


def test_default_runs_dir_is_under_gdd_studio_home(_isolated_home, tmp_path):
    npz = write_tiny_npz(tmp_path / "t.npz")
    code = main(
        [
            "run",
            "--dataset",
            f"npz:{npz}",
            "--preset",
            "smoke",
            "--ipc",
            "2",
            "--set",
            "model.width=4",
            "--set",
            "gan.epochs=1",
            "--set",
            "distill.epochs=1",
        ]
    )
    assert code == 0
    run = _only_run(_isolated_home / "runs")
    assert (run / "distilled" / "ipc2.npz").exists()


def test_run_prints_its_folder_alone_on_stdout_and_says_what_it_changed(tmp_path, capsys):
    """RUN=$(gdd-studio-cli run ...) captures the folder; progress and log go to stderr.
    A steps-per-epoch cap above one pass over the data is reported, not silently lowered."""
    npz = write_tiny_npz(tmp_path / "t.npz")  # 36 images: 4 batches of 8 an epoch
    runs = tmp_path / "runs"
    argv = ["run", "--dataset", f"npz:{npz}", "--preset", "smoke", "--ipc", "2",
            "--runs-dir", str(runs), "--set", "model.width=4", "--set", "gan.batch_size=8",
            "--set", "gan.steps_per_epoch=150", "--set", "gan.epochs=1",
            "--set", "distill.epochs=1"]  # fmt: skip
    assert main(argv) == 0
    out, err = capsys.readouterr()
    run = _only_run(runs)
    assert out == f"{run}\n"
    assert "gan.steps_per_epoch 150 is more than one pass" in err and "epoch is 4 steps" in err
    log = (run / "log.txt").read_text()
    assert "finished in " in log and " s: generator.pt" in log and "0.0 min" not in log


def test_export_refusal_names_force(tmp_path, capsys):
    npz = write_tiny_npz(tmp_path / "t.npz")
    runs = tmp_path / "runs"
    argv = ["run", "--dataset", f"npz:{npz}", "--preset", "smoke", "--ipc", "2",
            "--runs-dir", str(runs), "--set", "model.width=4", "--set", "gan.epochs=1",
            "--set", "distill.epochs=1"]  # fmt: skip
    assert main(argv) == 0
    run = _only_run(runs)
    target = tmp_path / "set.npz"
    target.write_bytes(b"precious")
    capsys.readouterr()
    assert main(["export", str(run), "--format", "npz", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert "exists already" in err and "--force" in err and len(err.splitlines()) == 1
    assert target.read_bytes() == b"precious"


def test_flags_config_file_and_set_compose(tmp_path, capsys):
    assert (
        main(
            [
                "run",
                "--preset",
                "smoke",
                "--tau",
                "3",
                "--lambda",
                "0.2",
                "--seed",
                "7",
                "--set",
                "distill.loss=mse",
                "--set",
                "distill.pool=convnet3,resnet10",
                "--print-config",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    cfg = json.loads(printed)
    assert cfg["distill"]["tau"] == 3.0 and cfg["distill"]["lam"] == 0.2 and cfg["seed"] == 7
    assert cfg["distill"]["loss"] == "mse" and cfg["distill"]["pool"] == ["convnet3", "resnet10"]
    path = tmp_path / "c.json"
    path.write_text(printed)
    assert main(["run", "--config", str(path), "--ipc", "3", "--print-config"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again == {**cfg, "ipc": 3}


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--ipc", "0"], "IPC must be at least 1"),
        (["--ipc", "401"], "IPC 401 is more than the 400 training images"),
        (["--tau", "0"], "tau must be greater than 0"),
        (["--lambda", "-1"], "lambda must be 0 or more"),
        (["--set", "distill.pool=[]"], "model pool is empty"),
        (["--set", "distill.pool=convnet3,lenet5"], "unknown pool network 'lenet5'"),
        (["--set", "distill.nope=1"], "unknown config key 'distill.nope'"),
        (["--set", "distill.tau"], "--set expects KEY=VALUE"),
        (["--dataset", "imagenet"], "imagenet"),
        (["--dataset", "mnist"], "mnist"),
        (["--dataset", "folder:/nonexistent/place"], "/nonexistent/place"),
        (["--device", "cuda:3"], "device 'cuda:3' is not available"),
        (["--config", "/nonexistent/c.json"], "cannot read config file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, needle):
    runs = tmp_path / "runs"
    code = main(["run", "--preset", "smoke", "--runs-dir", str(runs), *argv])
    err = capsys.readouterr().err
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.startswith("gdd-studio-cli: error:")]
    assert len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err
    assert not runs.exists() or not any(runs.iterdir()), "a bad input left a run folder"


def test_config_file_with_unknown_key(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"preset": "smoke", "gan": {"epochz": 3}}))
    assert main(["run", "--config", str(path)]) == 2
    assert "unknown config key 'gan.epochz'" in capsys.readouterr().err


def test_resume_errors(tmp_path, capsys):
    assert main(["resume", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err
    runs = tmp_path / "runs"
    assert main(["run", "--preset", "smoke", "--runs-dir", str(runs), "--ipc", "1"]) == 0
    run = _only_run(runs)
    capsys.readouterr()
    assert main(["resume", str(run)]) == 2
    assert "already finished" in capsys.readouterr().err


def test_datasets_and_presets_listings(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("mnist-sample"))
    assert "available" in line
    for ds in ("mnist ", "fashion-mnist", "cifar10", "folder:PATH", "npz:PATH"):
        assert ds in out
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert [ln.split()[0] for ln in out.splitlines() if not ln.startswith(" ")] == [
        "paper",
        "cpu",
        "smoke",
    ]
    full = "on mnist, fashion-mnist, cifar10, svhn, cifar100"
    assert f"{full}: phase 1: 1 epoch; phase 2: 62 steps" in out
    assert (
        "herding among draws at IPC 1, draws and real images above; then 5000 DM iterations"
        in out
    )
    assert "(a set made later at another IPC: the time of 1000 at the run's IPC)" in out
    # The paper's recipe has no refinement and counts phase 2 in epochs: said so, no "None".
    assert (
        f"{full}: phase 1: 150 epochs; phase 2: 100 epochs; herding among draws; "
        "no refinement" in out
    )
    assert "None" not in out


LONG_RUN = [
    "--preset",
    "smoke",
    "--ipc",
    "2",
    "--set",
    "model.width=4",
    "--set",
    "gan.epochs=40",
    "--set",
    "gan.steps_per_epoch=4",
    "--set",
    "gan.batch_size=8",
    "--set",
    "distill.epochs=2",
    "--set",
    "distill.steps_per_epoch=3",
    "--set",
    "distill.batch_size=8",
    "--set",
    "distill.pool_width=4",
    "--set",
    "monitor.checkpoint_every=10",
    "--set",
    "monitor.grid_every=50",
    "--device",
    "cpu",
]


def _spawn(args, tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "gdd_studio.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
    )


def _wait_for_checkpoint(runs: Path, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = list(runs.glob("*/checkpoints/last.pt"))
        if found:
            return found[0].parents[1]
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("no checkpoint appeared")


@pytest.mark.slow
def test_sigint_and_sigterm_stop_with_checkpoint_and_sigkill_resumes_identically(tmp_path):
    npz = write_tiny_npz(tmp_path / "t.npz")
    args = ["run", "--dataset", f"npz:{npz}", *LONG_RUN]

    ref_runs = tmp_path / "ref"
    assert main([*args, "--runs-dir", str(ref_runs)]) == 0
    ref = Run.open(_only_run(ref_runs))

    # Ctrl-C: a clean stop with a checkpoint and exit 130
    runs = tmp_path / "int"
    proc = _spawn([*args, "--runs-dir", str(runs)], tmp_path)
    run_dir = _wait_for_checkpoint(runs, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "resume" in err and "Traceback" not in err
    assert read_run_info(run_dir)["status"] == "stopped"
    stopped_at = load_checkpoint(run_dir / "checkpoints" / "last.pt")["step"]

    def resume_past_the_checkpoint():
        """``resume`` in a new process, once it has written a later checkpoint."""
        before = load_checkpoint(run_dir / "checkpoints" / "last.pt")["step"]
        proc = _spawn(["resume", str(run_dir)], tmp_path)
        deadline = time.time() + 120
        while load_checkpoint(run_dir / "checkpoints" / "last.pt")["step"] <= before:
            assert time.time() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        return proc

    # SIGTERM (kill, timeout, systemd, Docker, Slurm): a clean stop too, with exit 143
    proc = resume_past_the_checkpoint()
    proc.terminate()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "SIGTERM" in err and "resume" in err and "Traceback" not in err
    assert read_run_info(run_dir)["status"] == "stopped"
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["step"] > stopped_at

    # kill -9 after its next checkpoint
    proc = resume_past_the_checkpoint()
    proc.kill()
    proc.wait()
    assert read_run_info(run_dir)["status"] == "interrupted"

    assert main(["resume", str(run_dir)]) == 0
    a = torch.load(ref.generator_path, weights_only=True)
    b = torch.load(run_dir / "generator.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert np.array_equal(
        np.load(ref.distilled_path(2))["images"],
        np.load(run_dir / "distilled" / "ipc2.npz")["images"],
    )
