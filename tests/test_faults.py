"""Faults a long run meets (a kill at any byte, a full disk, a lost checkpoint, two
resumes at once, bad files) and bad input: each ends in one line, loses nothing saved."""

import csv
import errno
import json
import os

import numpy as np
import pytest
import torch

from gdd_studio import storage
from gdd_studio.cli import main
from gdd_studio.engine.events import Progress, RunControl
from gdd_studio.engine.run import Run, load_checkpoint, read_run_info
from gdd_studio.errors import CheckpointError, ConfigError, DatasetError, GddError
from gdd_studio.rundir.lock import RunLock, is_locked
from gdd_studio.rundir.records import list_runs
from tests.helpers import tiny_config, write_tiny_npz

TOTAL = 12


@pytest.fixture
def tiny_dataset(tmp_path):
    return "npz:" + str(write_tiny_npz(tmp_path / "tiny.npz"))


@pytest.fixture
def reference(tiny_dataset, tmp_path):
    run = Run.create(tiny_config(tiny_dataset), tmp_path / "ref")
    assert run.execute() == "finished"
    return torch.load(run.generator_path, weights_only=True)


def _stopped_run(dataset, runs, at, **changes) -> Run:
    control = RunControl()

    def on_event(e):
        if isinstance(e, Progress) and e.step == at:
            control.stop()

    run = Run.create(tiny_config(dataset, **changes), runs)
    assert run.execute(on_event, control) == "stopped"
    return run


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _steps(run: Run) -> list[int]:
    return [int(r["step"]) for r in csv.DictReader(open(run.metrics_path, encoding="utf-8"))]


@pytest.mark.parametrize(
    "tail",
    [
        b"1,9,1,1700000000.1,0.53",  # a row cut by a kill, no newline
        b"1,9,1,1700000000.1,0.5\xe2\x82",  # cut inside a multi-byte character
        b"\xff\xfe\x00garbage\n",  # bytes that are not UTF-8
        b"1,x,0,1.0\n1\n\n",  # a non-numeric step, a short row, a blank line
    ],
)
def test_resume_after_damaged_metrics_rows(reference, tiny_dataset, tmp_path, tail):
    run = _stopped_run(tiny_dataset, tmp_path / "runs", 4)
    with open(run.metrics_path, "ab") as fh:
        fh.write(tail)
    again = Run.open(run.dir)
    assert again.execute() == "finished"
    assert _same(reference, torch.load(run.generator_path, weights_only=True))
    assert _steps(run) == list(range(1, TOTAL + 1))


def test_resume_after_metrics_cut_at_every_byte(tiny_dataset, tmp_path):
    """A kill can leave metrics.csv at any length, header included."""
    run = _stopped_run(tiny_dataset, tmp_path / "runs", 4)
    whole = run.metrics_path.read_bytes()
    starts = [i + 1 for i, b in enumerate(whole) if b == ord("\n")][:-1]
    cuts = {0, 10, len(whole) - 1, *(c + k for c in starts for k in (1, 2, 3, 9))}
    for cut in sorted(cuts):
        run.metrics_path.write_bytes(whole[:cut])
        Run.open(run.dir)._prepare()  # reads the checkpoint and truncates the records
        steps = _steps(run) if run.metrics_path.exists() else []
        assert steps == list(range(1, len(steps) + 1)) and len(steps) <= 4, cut
    assert Run.open(run.dir).execute() == "finished"
    steps = _steps(run)
    assert steps[-8:] == list(range(5, TOTAL + 1)) and len(set(steps)) == len(steps)


def test_one_class_is_refused_and_non_finite_losses_fail_the_run(tmp_path, monkeypatch):
    one = write_tiny_npz(tmp_path / "one.npz", classes=1)
    with pytest.raises(ConfigError, match="at least two"):
        Run.create(tiny_config("npz:" + str(one)), tmp_path / "runs").execute()
    two = "npz:" + str(write_tiny_npz(tmp_path / "two.npz", classes=2))
    run = Run.create(tiny_config(two), tmp_path / "runs")
    from gdd_studio.engine import run as run_module

    real_step = run_module.Trainer.phase1_step

    def exploding(self):
        out = real_step(self)
        if self.step >= 2:
            out["g_loss"] = out["g_loss"] * float("nan")
        return out

    monkeypatch.setattr(run_module.Trainer, "phase1_step", exploding)
    with pytest.raises(GddError, match="non-finite"):
        run.execute()
    assert read_run_info(run.dir)["status"] == "failed"
    assert not run.generator_path.exists()


def test_phase_checkpoint_exists_whenever_last_says_the_phase_is_done(tiny_dataset, tmp_path):
    """Every time last.pt is written past a phase's end, phase<P>.pt is already there
    (a kill between the two writes must not lose it for good)."""
    seen = []
    real = storage.atomic_torch_save

    def watching(path, obj):
        if path.name == "last.pt":
            for p in (1, 2):
                if obj["phase"] > p:
                    seen.append((p, (path.parent / f"phase{p}.pt").exists()))
        real(path, obj)

    storage.atomic_torch_save = watching
    try:
        run = Run.create(tiny_config(tiny_dataset), tmp_path / "runs")
        assert run.execute() == "finished"
    finally:
        storage.atomic_torch_save = real
    assert seen and all(ok for _, ok in seen)
    assert {p for p, _ in seen} == {1, 2}


def test_phase_checkpoint_rebuilt_for_a_run_stopped_at_the_boundary(tiny_dataset, tmp_path):
    run = _stopped_run(tiny_dataset, tmp_path / "runs", 6)  # the last step of phase 1
    state = load_checkpoint(run.checkpoint_path)
    assert state["phase"] == 2 and state["phase_step"] == 0
    (run.dir / "checkpoints" / "phase1.pt").unlink()  # as a kill left it before the fix
    again = Run.open(run.dir)
    assert again.execute() == "finished"
    assert (run.dir / "checkpoints" / "phase1.pt").is_file()


@pytest.mark.parametrize(
    "key, value, needle",
    [("gan.epochs", -5, "gan.epochs"), ("distill.tau", -1, "tau"), ("gan.batch_size", 0, "batch")],
)
def test_resume_validates_the_config(tiny_dataset, tmp_path, capsys, key, value, needle):
    run = Run.create(tiny_config(tiny_dataset), tmp_path / "runs")
    doc = json.loads((run.dir / "config.json").read_text())
    section, name = key.split(".")
    doc[section][name] = value
    (run.dir / "config.json").write_text(json.dumps(doc))
    assert main(["resume", str(run.dir)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "config.json" in err and len(err.strip().splitlines()) == 1
    assert read_run_info(run.dir)["status"] == "created"


def test_a_folder_one_process_trains_is_locked_for_every_other(tiny_dataset, tmp_path, capsys):
    run = _stopped_run(tiny_dataset, tmp_path / "runs", 4)
    assert is_locked(run.dir) is False
    holder = RunLock(run.dir)
    assert holder.acquire()  # as another resume that got there first
    try:
        assert is_locked(run.dir) is True
        second = Run.open(run.dir)
        with pytest.raises(GddError, match="being trained by"):
            second.execute()
        assert read_run_info(run.dir)["status"] == "stopped"  # the holder's, untouched
        rows = _steps(run)
        # run.json saying "running" (the holder's) is believed while the lock is held...
        info = json.loads((run.dir / "run.json").read_text())
        info.update(status="running")
        (run.dir / "run.json").write_text(json.dumps(info))
        assert read_run_info(run.dir)["status"] == "running"
        assert main(["resume", str(run.dir)]) == 2
        assert "being trained by" in capsys.readouterr().err
        assert _steps(run) == rows
    finally:
        holder.release()
    # ... and once it is released (the process died), the run reads as interrupted
    assert read_run_info(run.dir)["status"] == "interrupted"
    assert Run.open(run.dir).execute() == "finished"


def test_runs_list_survives_a_run_json_that_is_not_an_object(tiny_dataset, tmp_path):
    runs = tmp_path / "runs"
    good = Run.create(tiny_config(tiny_dataset), runs)
    bad = Run.create(tiny_config(tiny_dataset), runs)
    (bad.dir / "run.json").write_text("[]")
    found = {s.path: s.status for s in list_runs(runs)}
    assert found == {good.dir: "created", bad.dir: "unknown"}


def test_checkpoint_with_missing_keys_is_one_message(tiny_dataset, tmp_path, capsys):
    run = _stopped_run(tiny_dataset, tmp_path / "runs", 4)
    state = load_checkpoint(run.checkpoint_path)
    del state["phase_step"]
    torch.save(state, run.checkpoint_path)
    assert main(["resume", str(run.dir)]) == 2
    err = capsys.readouterr().err
    assert "phase_step" in err and "last.pt" in err and "KeyError" not in err


def test_corrupt_checkpoint_message_never_advises_an_unsafe_load(tiny_dataset, tmp_path):
    run = _stopped_run(tiny_dataset, tmp_path / "runs", 4)
    run.checkpoint_path.write_bytes(b"not a checkpoint" * 40)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(run.checkpoint_path)
    text = str(err.value)
    assert "damaged" in text and "weights_only" not in text and "False" not in text


def test_truncated_npz_dataset_names_the_file(tmp_path, capsys):
    path = write_tiny_npz(tmp_path / "tiny.npz")
    path.write_bytes(path.read_bytes()[:-200])
    from gdd_studio.data import load_dataset

    with pytest.raises(DatasetError) as err:
        load_dataset("npz:" + str(path))
    assert str(path) in str(err.value)


def test_full_disk_is_one_line_and_the_run_is_not_left_running(
    tiny_dataset, tmp_path, monkeypatch, capsys
):
    run = Run.create(tiny_config(tiny_dataset), tmp_path / "runs")
    real_write = storage._atomic_write

    def full(path, write):
        if path.name == "last.pt":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_write(path, write)

    monkeypatch.setattr(storage, "_atomic_write", full)
    assert main(["resume", str(run.dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"no space left on {run.dir / 'checkpoints'}" in err
    assert read_run_info(run.dir)["status"] == "failed"
    assert "No space left" in (run.dir / "error.log").read_text()
    assert not list(run.dir.rglob(".*.tmp"))


def test_torch_save_on_a_full_disk_keeps_the_errno(tmp_path, monkeypatch):
    """torch.save writing to a full disk itself raises a RuntimeError without errno;
    serialized first, the write fails with ENOSPC and says where."""
    real_fsync = os.fsync

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(GddError, match=f"no space left on {tmp_path}"):
        storage.atomic_torch_save(tmp_path / "x.pt", {"a": torch.ones(3)})
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert not list(tmp_path.iterdir())


def test_runs_folder_that_is_a_file_exits_2(tmp_path, capsys):
    runs = tmp_path / "runs"
    runs.write_text("not a folder")
    assert main(["run", "--preset", "smoke", "--runs-dir", str(runs), "--ipc", "1"]) == 2
    assert "is a file" in capsys.readouterr().err


def test_lost_checkpoint_needs_restart_and_never_mixes_metrics(tiny_dataset, tmp_path, capsys):
    run = _stopped_run(tiny_dataset, tmp_path / "runs", 7)
    run.checkpoint_path.unlink()
    assert main(["resume", str(run.dir)]) == 2
    err = capsys.readouterr().err
    assert "--restart" in err and "last.pt" in err
    assert _steps(run) == list(range(1, 8))  # nothing touched
    assert main(["resume", "--restart", str(run.dir)]) == 0
    assert _steps(run) == list(range(1, TOTAL + 1))
    assert read_run_info(run.dir)["status"] == "finished"


def test_a_restart_from_step_0_keeps_the_earlier_metrics_aside(tiny_dataset, tmp_path):
    """No whole phase checkpoint to go on from: the run starts over, and the metrics of
    the attempt before are kept beside it, never wiped (issue 31)."""
    run = _stopped_run(tiny_dataset, tmp_path / "runs", 4)  # inside phase 1: no phase1.pt
    earlier = run.metrics_path.read_text()
    run.checkpoint_path.unlink()
    assert main(["resume", "--restart", str(run.dir)]) == 0
    (kept,) = run.dir.glob("metrics.before-start-over-*.csv")
    assert kept.read_text() == earlier and _steps(run) == list(range(1, TOTAL + 1))
    assert "4 earlier metric rows are kept" in (run.dir / "log.txt").read_text()


def test_restart_is_refused_for_a_run_with_its_checkpoint(tiny_dataset, tmp_path, capsys):
    run = _stopped_run(tiny_dataset, tmp_path / "runs", 4)
    assert main(["resume", "--restart", str(run.dir)]) == 2
    assert "resumes from its own" in capsys.readouterr().err
    assert load_checkpoint(run.checkpoint_path)["step"] == 4


def test_resume_removes_stale_temporaries(tiny_dataset, tmp_path):
    run = _stopped_run(tiny_dataset, tmp_path / "runs", 4)
    stale = [
        run.dir / "checkpoints" / ".last.pt.abc123.tmp",
        run.dir / ".run.json.x.tmp",
        run.dir / "grids" / ".phase1_0000004.png.y.tmp",
    ]
    for p in stale:
        p.write_bytes(b"\0" * 1024)
    fresh_eval = run.dir / "eval" / ".results.json.z.tmp"  # another process writes it now
    fresh_eval.parent.mkdir()
    with open(fresh_eval, "wb") as fh:
        storage.hold_while_writing(fh.fileno())  # as a live writer does
        fh.write(b"{")
        assert Run.open(run.dir).execute() == "finished"
        assert not any(p.exists() for p in stale)
        assert fresh_eval.exists()


def test_results_of_another_protocol_are_never_mixed(tmp_path):
    """Rows recorded with the protocol of their evaluation; a new evaluation measured
    another way moves the old rows aside instead of sharing the table with them."""
    from gdd_studio.config import EvalConfig
    from gdd_studio.evaluation.compare import comparison_rows
    from gdd_studio.evaluation.protocol import Evaluation, load_results

    dataset = "npz:" + str(write_tiny_npz(tmp_path / "tiny.npz"))
    run = Run.create(tiny_config(dataset), tmp_path / "runs")
    assert run.execute() == "finished"
    first = EvalConfig(archs=["convnet3"], ipcs=[1], repeats=1, epochs=2, width=8,
                       gan_only=False)  # fmt: skip
    Evaluation(run.dir, first).execute()
    second = EvalConfig(archs=["convnet3"], ipcs=[2], repeats=1,
                        epochs=3, width=8, gan_only=False, dsa=False)  # fmt: skip
    Evaluation(run.dir, second).execute()
    rows = load_results(run.dir)["results"]
    assert {(r["ipc"], r["epochs"], r["dsa"]) for r in rows} == {(2, 3, False)}
    (aside,) = list((run.dir / "eval").glob("results-*.json"))
    moved = json.loads(aside.read_text())["results"]
    assert {(r["ipc"], r["epochs"]) for r in moved} == {(1, 2)}
    table = list(csv.DictReader(open(run.dir / "eval" / "results.csv", encoding="utf-8")))
    assert {(r["epochs"], r["dsa"]) for r in table} == {("3", "False")}

    # Two runs evaluated differently are labelled apart when compared.
    other = Run.create(tiny_config(dataset), tmp_path / "runs")
    assert other.execute() == "finished"
    Evaluation(other.dir, first).execute()
    labels = {r["label"] for r in comparison_rows([run.dir, other.dir])}
    assert any("3 epochs" in s for s in labels) and any("2 epochs" in s for s in labels)
    assert np.all([("[" in s) for s in labels])


# ---- issue 19: damaged and foreign files ---------------------------------------------


def test_a_config_that_is_not_utf8_is_one_line_naming_it(tiny_dataset, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"dataset": "mnist-sample", "note": "caf\xe9 \xff"}\n')
    assert main(["run", "--config", str(bad), "--runs-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(bad) in err and "not a readable JSON text file" in err
    run = _stopped_run(tiny_dataset, tmp_path / "runs", 4)
    run.folder.config.write_bytes(bad.read_bytes())
    assert main(["resume", str(run.dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(run.folder.config) in err
    assert "not a readable JSON text file" in err


GARBAGE = b"\x89PNG\r\n\x1a\n\x00\x00\rIHDR\x00\x10\r\x08\x06garbage\r\x00\x00x\n" * 4


def test_garbage_metrics_are_kept_aside_and_the_run_resumes(reference, tiny_dataset, tmp_path,
                                                             capsys):  # fmt: skip
    run = _stopped_run(tiny_dataset, tmp_path / "runs", 4)
    run.metrics_path.write_bytes(GARBAGE)
    assert main(["resume", str(run.dir)]) == 0
    assert _same(reference, torch.load(run.generator_path, weights_only=True))
    (aside,) = run.dir.glob("metrics.damaged-*.csv")
    assert aside.read_bytes() == GARBAGE  # kept as it was
    assert aside.name in capsys.readouterr().err
    assert _steps(run) == list(range(5, TOTAL + 1))  # the log starts again after step 4
    assert read_run_info(run.dir)["status"] == "finished"


def _damage(path) -> bytes:
    bad = b"PK\x03\x04 not a checkpoint " + path.read_bytes()[100:400]
    path.write_bytes(bad)
    return bad


def test_a_damaged_checkpoint_is_refused_naming_the_way_out(tiny_dataset, tmp_path, capsys):
    run = _stopped_run(tiny_dataset, tmp_path / "runs", 4)
    bad = _damage(run.checkpoint_path)
    assert main(["resume", str(run.dir)]) == 2
    err = capsys.readouterr().err
    assert f"resume --restart {run.dir}" in err and "step 0" in err
    assert run.checkpoint_path.read_bytes() == bad  # nothing touched


def test_restart_goes_on_from_the_whole_phase1_checkpoint(reference, tiny_dataset, tmp_path,
                                                           capsys):  # fmt: skip
    run = _stopped_run(tiny_dataset, tmp_path / "runs", 8)  # phase 1 ends at step 6
    bad = _damage(run.checkpoint_path)
    assert main(["resume", str(run.dir)]) == 2
    assert "phase1.pt (step 6" in capsys.readouterr().err
    assert main(["resume", "--restart", str(run.dir)]) == 0
    err = capsys.readouterr().err
    assert "going on from phase1.pt (step 6)" in err
    (aside,) = run.folder.checkpoints.glob("last.damaged-*.pt")
    assert aside.read_bytes() == bad and aside.name in err
    assert _same(reference, torch.load(run.generator_path, weights_only=True))
    assert _steps(run) == list(range(1, TOTAL + 1))  # rows after step 6 written once


def test_restart_with_no_whole_checkpoint_starts_over(reference, tiny_dataset, tmp_path):
    run = _stopped_run(tiny_dataset, tmp_path / "runs", 4)
    _damage(run.checkpoint_path)
    assert main(["resume", "--restart", str(run.dir)]) == 0
    assert _same(reference, torch.load(run.generator_path, weights_only=True))
    assert _steps(run) == list(range(1, TOTAL + 1))
    assert len(list(run.folder.checkpoints.glob("last.damaged-*.pt"))) == 1


def test_a_killed_write_leaves_no_temporary_behind(tiny_dataset, tmp_path):
    """A kill while distilled/ipc<N>.npz was written leaves its temporary file unlocked
    (its writer is gone); a write in progress holds its lock and keeps its file."""
    run = _stopped_run(tiny_dataset, tmp_path / "runs", 4)
    stale = run.dir / "distilled" / ".ipc2.npz.k1ll3d.tmp"
    stale.parent.mkdir()
    stale.write_bytes(b"\0" * 4096)
    live = run.dir / "eval" / ".results.json.w0rk.tmp"
    live.parent.mkdir()
    with open(live, "wb") as fh:
        storage.hold_while_writing(fh.fileno())
        fh.write(b"{")
        assert Run.open(run.dir).execute() == "finished"
        assert not stale.exists() and live.exists()
    assert "distilled/.ipc2.npz.k1ll3d.tmp" in run.folder.log.read_text()


def test_evaluation_never_writes_through_a_link_out_of_the_run(tiny_dataset, tmp_path, capsys):
    run = Run.create(tiny_config(tiny_dataset), tmp_path / "runs")
    assert run.execute() == "finished"
    elsewhere = tmp_path / "shared-results"
    elsewhere.mkdir()
    theirs = elsewhere / "results.json"
    theirs.write_text('{"someone": "else"}\n')
    (run.dir / "eval").symlink_to(elsewhere, target_is_directory=True)
    flags = ["--ipc", "1", "--archs", "convnet3", "--repeats", "1", "--epochs", "1",
             "--width", "4", "--no-gan-only"]  # fmt: skip
    assert main(["evaluate", str(run.dir), *flags]) == 2
    err = capsys.readouterr().err
    assert "outside the run folder" in err and str(elsewhere) in err
    assert sorted(p.name for p in elsewhere.iterdir()) == ["results.json"]
    assert theirs.read_text() == '{"someone": "else"}\n'


def test_a_results_file_not_written_by_us_is_kept_aside(tiny_dataset, tmp_path, capsys):
    from gdd_studio.evaluation.protocol import load_results

    run = Run.create(tiny_config(tiny_dataset), tmp_path / "runs")
    assert run.execute() == "finished"
    (run.dir / "eval").mkdir()
    (run.dir / "eval" / "results.json").write_text('{"someone": "else"}\n')
    flags = ["--ipc", "1", "--archs", "convnet3", "--repeats", "1", "--epochs", "1",
             "--width", "4", "--no-gan-only"]  # fmt: skip
    assert main(["evaluate", str(run.dir), *flags]) == 0
    (aside,) = (run.dir / "eval").glob("results.unreadable-*.json")
    assert aside.read_text() == '{"someone": "else"}\n'
    assert aside.name in capsys.readouterr().err
    assert len(load_results(run.dir)["results"]) == 2  # distilled and random real


def test_a_hidden_class_folder_is_named_not_silently_dropped(tmp_path):
    from PIL import Image

    from gdd_studio.data import load_dataset

    root = tmp_path / "shapes"
    for split in ("train", "test"):
        for cls in ("circle", "square", ".triangle"):
            (root / split / cls).mkdir(parents=True)
            for i in range(3):
                Image.new("L", (8, 8), 40 * i).save(root / split / cls / f"{i}.png")
    data = load_dataset(f"folder:{root}")
    assert data.classes == ["circle", "square"]
    assert len(data.notes) == 2 and all(".triangle" in n for n in data.notes)
    cfg = tiny_config(f"folder:{root}", ipc=1)
    run = Run.create(cfg, tmp_path / "runs")
    assert run.execute() == "finished"
    log = run.folder.log.read_text()
    assert f"warning: folder {root / 'train' / '.triangle'} is left out" in log
