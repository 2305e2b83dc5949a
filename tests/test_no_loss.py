"""Issue 31's data loss: an export's --force replaces only what the export writes, and an
evaluation never drops a row (another protocol's rows are moved aside whole, and two
evaluations saving at once both keep theirs)."""

import errno
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gdd_studio.cli import main
from gdd_studio.config import EvalConfig
from gdd_studio.evaluation.protocol import Evaluation, load_results
from gdd_studio.evaluation.results import save_results
from gdd_studio.export import ExportError, export_set
from gdd_studio.rundir.folder import RunFolder
from gdd_studio.rundir.lock import waiting_lock


def _export(capsys, *args) -> tuple[int, str]:
    rc = main(["export", *map(str, args)])
    return rc, capsys.readouterr().err


# ---- export --force -------------------------------------------------------------------


def test_force_never_empties_a_folder_of_other_things(tiny_run_template, tmp_path, capsys):
    target = tmp_path / "thesis"
    target.mkdir()
    (target / "thesis.txt").write_text("three years of work")
    (target / "0").mkdir()  # looks like a class folder, but holds a foreign file
    (target / "0" / "notes.md").write_text("mine")
    for fmt in ("png", "tensors"):
        rc, err = _export(capsys, tiny_run_template, "--format", fmt, "--out", target, "--force")
        assert rc == 2 and err.count("\n") == 1 and "thesis.txt" in err and "--force" in err
    assert (target / "thesis.txt").read_text() == "three years of work"
    assert (target / "0" / "notes.md").read_text() == "mine"


def test_force_never_replaces_a_run_or_a_file_of_one(run_copy, capsys):
    generator = RunFolder(run_copy).generator
    before = generator.read_bytes()
    files = sorted(p.relative_to(run_copy) for p in run_copy.rglob("*"))
    for fmt, out in (("png", run_copy), ("tensors", run_copy), ("npz", generator),
                     ("generator", generator), ("pt", RunFolder(run_copy).config)):  # fmt: skip
        rc, err = _export(capsys, run_copy, "--format", fmt, "--out", out, "--force")
        assert rc == 2 and err.count("\n") == 1 and "never replaces a run's files" in err, err
    assert generator.read_bytes() == before
    assert sorted(p.relative_to(run_copy) for p in run_copy.rglob("*")) == files


def test_force_on_a_folder_given_for_a_file_export_is_refused(tiny_run_template, tmp_path):
    (tmp_path / "sets").mkdir()
    (tmp_path / "sets" / "keep.npz").write_bytes(b"x")
    with pytest.raises(ExportError, match="is a folder"):
        export_set(tiny_run_template, "npz", 2, tmp_path / "sets", overwrite=True)
    assert (tmp_path / "sets" / "keep.npz").read_bytes() == b"x"


@pytest.mark.parametrize("fmt", ["png", "tensors", "npz"])
def test_force_replaces_an_earlier_export_of_the_same_format(tiny_run_template, tmp_path, fmt):
    out = tmp_path / ("set.npz" if fmt == "npz" else "set")
    export_set(tiny_run_template, fmt, 2, out)
    export_set(tiny_run_template, fmt, 1, out, overwrite=True)  # IPC 1 over IPC 2
    if fmt == "png":
        assert sorted(p.name for p in out.rglob("*.png")) == ["00000.png"] * 3
    elif fmt == "tensors":
        assert json.loads((out / "meta.json").read_text())["ipc"] == 1
    else:
        import numpy as np

        with np.load(out) as f:
            assert len(f["labels"]) == 3
    # An earlier export of another format is not this export's to replace.
    if fmt != "npz":
        other = "tensors" if fmt == "png" else "png"
        with pytest.raises(ExportError, match="holds files"):
            export_set(tiny_run_template, other, 1, out, overwrite=True)


def test_a_refused_write_names_the_path_and_exits_2(tiny_run_template, tmp_path, capsys,
                                                    monkeypatch):  # fmt: skip
    """A read-only folder (root passes chmod, so the file system's answer is played)."""
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    for fmt, name in (("npz", "set.npz"), ("png", "pngs"), ("generator", "g.pt")):
        out = tmp_path / name
        rc, err = _export(capsys, tiny_run_template, "--format", fmt, "--out", out)
        assert rc == 2 and err == f"gdd-studio-cli: error: cannot write {out}: " \
            "Read-only file system\n"  # fmt: skip


def test_export_never_writes_a_set_through_a_link_out_of_the_run(run_copy, tmp_path, capsys):
    outside = tmp_path / "elsewhere"
    (run_copy / "distilled").rename(outside)
    (run_copy / "distilled").symlink_to(outside)
    before = sorted(p.name for p in outside.iterdir())
    rc, err = _export(capsys, run_copy, "--format", "npz", "--ipc", "1", "--out",
                      tmp_path / "s.npz")  # fmt: skip
    assert rc == 2 and "outside the run folder" in err and err.count("\n") == 1
    assert sorted(p.name for p in outside.iterdir()) == before
    assert not (tmp_path / "s.npz").exists()


# ---- evaluation rows --------------------------------------------------------------------


def _settings(epochs: int, **changes) -> EvalConfig:
    base = dict(archs=["convnet3"], ipcs=[1], repeats=1, epochs=epochs, width=8)
    return EvalConfig(**{**base, **changes})


def _all_rows(run_dir: Path) -> list[tuple]:
    """(source, ipc, epochs) of every row the run keeps, in results.json or moved aside."""
    rows = []
    for path in sorted((run_dir / "eval").glob("results*.json")):
        doc = json.loads(path.read_text())
        rows += [(r["source"], r["ipc"], r["epochs"]) for r in doc["results"]]
    return sorted(rows)


def test_rows_of_another_protocol_are_moved_aside_whole(run_copy):
    """The audit: evaluated with 5 epochs, then with 1 at the same IPC; the old distilled
    row was in neither file."""
    said = []
    Evaluation(run_copy, _settings(5)).execute(lambda e: said.append(getattr(e, "message", "")))
    assert any("networks of width 8, not the literature's" in line for line in said)
    old = {(r["source"], r["ipc"], r["epochs"]) for r in load_results(run_copy)["results"]}
    assert {s for s, _, _ in old} == {"distilled", "gan-only", "random-real"}
    Evaluation(run_copy, _settings(1)).execute()
    (aside,) = (run_copy / "eval").glob("results-*.json")
    moved = {(r["source"], r["ipc"], r["epochs"]) for r in json.loads(aside.read_text())["results"]}
    assert moved == old
    assert {r["epochs"] for r in load_results(run_copy)["results"]} == {1}


def test_a_save_waits_for_another_save_of_the_same_run(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "eval").mkdir(parents=True)
    row = {"arch": "convnet3", "ipc": 1, "source": "random-real", "mean": 0.5, "std": 0.0,
           "n": 1, "epochs": 2, "width": 8}  # fmt: skip
    done = threading.Event()

    def save():
        save_results(run_dir, [row], _settings(2), {}, lambda *a: None)
        done.set()

    with waiting_lock(RunFolder(run_dir).results_lock):
        saver = threading.Thread(target=save)
        saver.start()
        assert not done.wait(0.5)  # held off while another writer merges
    saver.join(10)
    assert done.is_set() and len(load_results(run_dir)["results"]) == 1


SAVER = """
import sys
from gdd_studio.config import EvalConfig
from gdd_studio.evaluation.results import save_results
run_dir, epochs = sys.argv[1], int(sys.argv[2])
s = EvalConfig(archs=["convnet3"], ipcs=[1], repeats=1, epochs=epochs, width=8)
for ipc in range(1, 13):
    row = {"arch": "convnet3", "ipc": ipc, "source": "random-real", "mean": 0.5, "std": 0.0,
           "n": 1, "epochs": epochs, "width": 8}
    save_results(run_dir, [row], s, {"epochs": epochs}, lambda *a: None)
"""


def test_two_evaluations_saving_at_once_both_keep_their_rows(tmp_path):
    """Two processes, one measuring with 2 epochs and one with 3, save the same rows at
    once: every row either saved is in results.json or in a file moved aside."""
    run_dir = tmp_path / "run"
    (run_dir / "eval").mkdir(parents=True)
    procs = [subprocess.Popen([sys.executable, "-c", SAVER, str(run_dir), str(e)]) for e in (2, 3)]
    assert [p.wait(120) for p in procs] == [0, 0]
    kept = set(_all_rows(run_dir))
    assert kept == {("random-real", ipc, e) for ipc in range(1, 13) for e in (2, 3)}


# ---- a refused command changes no file -------------------------------------------------


def test_a_refused_resume_changes_no_file_and_an_accepted_one_records_its_runtime(run_copy, capsys):
    files = {p: p.read_bytes() for p in run_copy.rglob("*") if p.is_file()}
    rc = main(["resume", str(run_copy), "--precision", "bf16", "--compile", "on"])
    assert rc == 2 and "already finished" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in run_copy.rglob("*") if p.is_file()} == files


def test_a_resume_records_the_runtime_it_goes_on_with(tiny, tmp_path):
    from gdd_studio.config import RunConfig
    from gdd_studio.engine.events import RunControl, StepMetrics
    from gdd_studio.engine.run import Run
    from tests.helpers import long_config

    run, control = Run.create(long_config(tiny, steps=12), tmp_path / "runs"), RunControl()
    stop_at_first_step = lambda e: isinstance(e, StepMetrics) and control.stop()  # noqa: E731
    assert run.execute(stop_at_first_step, control) == "stopped"
    assert main(["resume", str(run.dir), "--precision", "fp32", "--compile", "off", "--quiet"]) == 0
    runtime = RunConfig.load(run.dir / "config.json").runtime
    assert (runtime.precision, runtime.compile) == ("fp32", "off")


# ---- SIGTERM is a stop, not a loss ----------------------------------------------------


@pytest.mark.slow
def test_sigterm_stops_an_evaluation_with_its_finished_rows_kept(run_copy):
    import os
    import time

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    args = ["evaluate", str(run_copy), "--ipc", "1", "--archs", "convnet3", "--repeats", "2",
            "--epochs", "800", "--width", "8", "--no-gan-only"]  # fmt: skip
    (run_copy / "eval").mkdir(exist_ok=True)
    for old in (run_copy / "eval").iterdir():
        old.unlink()
    proc = subprocess.Popen([sys.executable, "-m", "gdd_studio.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while load_results(run_copy) is None:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.terminate()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 143, err
    assert "SIGTERM" in err and "Traceback" not in err
    rows = load_results(run_copy)["results"]
    assert [r["source"] for r in rows] == ["distilled"] and rows[0]["n"] == 2


def test_one_network_shows_no_spread_and_counts_in_the_singular(capsys):
    from gdd_studio.cli.evaluate import _results_table
    from gdd_studio.evaluation.rows import accuracy_text

    one = {"arch": "convnet3", "ipc": 1, "source": "distilled", "mean": 0.5, "std": 0.0, "n": 1}
    three = {**one, "n": 3, "std": 0.0123}
    assert accuracy_text(one) == "50.00 (1 network)"
    assert accuracy_text(three) == "50.00 +- 1.23" and accuracy_text(three, "±") == "50.00 ± 1.23"
    assert accuracy_text(one, unit=" %") == "50.00 % (1 network)"
    table = _results_table([one, three])
    assert "+- 0.00" not in table and "50.00 (1 network)" in table and "50.00 +- 1.23" in table


@pytest.mark.parametrize("quiet", [[], ["--quiet"]])
def test_a_dataset_error_is_one_line(tmp_path, capsys, quiet):
    rc = main(["run", "--dataset", f"npz:{tmp_path / 'missing.npz'}", "--runs-dir",
               str(tmp_path / "runs"), *quiet])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "missing.npz" in err, err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


# ---- bounds before any folder is made ----------------------------------------------------


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--set", "seed=99999999999999999999"], "seed must be a whole number from 0"),
        (["--set", "sampling.candidates=1000000000"], "sampling.candidates must be at most"),
        (["--set", "model.width=100000"], "model.width must be at most"),
        (["--tau", "inf"], "tau must lie in 0.01 to 100"),
        (["--tau", "1e-320"], "tau must lie in 0.01 to 100"),
        (["--set", "sampling.truncation=0.01"], "sampling.truncation must be 0 (off) or"),
        (["--set", "gan.ema=1"], "gan.ema must be 0 (off) or a decay in (0, 1)"),
    ],
)
def test_settings_past_their_bounds_are_refused_before_a_folder(tmp_path, capsys, flags, words):
    """Issue 31: these made a run folder, then overflowed or asked for hundreds of GB, or
    failed later with advice about the learning rate."""
    runs = tmp_path / "runs"
    rc = main(["run", "--preset", "smoke", "--runs-dir", str(runs), *flags])
    err = capsys.readouterr().err
    assert rc == 2 and words in err and err.count("\n") == 1, err
    assert not runs.exists() or not any(runs.iterdir())


def test_a_narrowed_evaluation_names_its_width(capsys):
    """Issue 31, item 8: a smoke run evaluates at width 16, and nothing said so."""
    from gdd_studio.cli.evaluate import _results_table

    row = {"arch": "convnet3", "ipc": 1, "source": "distilled", "mean": 0.5, "std": 0.01,
           "n": 2, "width": 16}  # fmt: skip
    assert "networks of width 16, not the literature's" in _results_table([row])
    assert "width" not in _results_table([{**row, "width": None}]).splitlines()[-1]


# ---- damaged files: one line naming them, kept aside where the app goes on -------------


@pytest.mark.parametrize("doc", ['{"results": [1, "x"]}', '{"results": [{"arch": 3}]}'])
def test_a_malformed_results_file_is_kept_aside_and_named(run_copy, capsys, doc):
    """The audit: AttributeError / TypeError from evaluate and chart."""
    results = RunFolder(run_copy).results
    results.parent.mkdir(exist_ok=True)
    results.write_text(doc)
    rc = main(["chart", str(run_copy), "--out", str(run_copy.parent / "c.png")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Error" not in err, err
    assert main(["evaluate", str(run_copy), "--ipc", "1", "--archs", "convnet3", "--repeats",
                 "1", "--epochs", "1", "--width", "8", "--no-gan-only"]) == 0  # fmt: skip
    err = capsys.readouterr().err
    (aside,) = results.parent.glob("results.unreadable-*.json")
    assert aside.read_text() == doc and aside.name in err
    assert {r["source"] for r in load_results(run_copy)["results"]} == {"distilled", "random-real"}


def test_a_damaged_stored_set_is_kept_aside_and_made_again(run_copy, tmp_path, capsys):
    """The audit: a truncated distilled/ipc2.npz gave BadZipFile; a folder in its place an
    IsADirectoryError naming a .tmp."""
    stored = RunFolder(run_copy).distilled(2)
    whole = stored.read_bytes()
    for damage in ("truncate", "folder"):
        if damage == "truncate":
            stored.write_bytes(whole[: len(whole) // 2])
        else:
            stored.unlink()
            stored.mkdir()
        out = tmp_path / f"{damage}.npz"
        assert main(["export", str(run_copy), "--format", "npz", "--ipc", "2", "--out",
                     str(out)]) == 0  # fmt: skip
        assert stored.read_bytes() == whole  # made again, the same draws
        kept = list(stored.parent.glob("ipc2.damaged-*"))
        assert kept, damage
        for k in kept:
            k.rename(tmp_path / f"kept-{damage}-{k.name}")


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("dataset.json", "[1, 2, 3]", "dataset.json is damaged"),
        ("dataset.json", None, "dataset.json cannot be read"),
        ("generator.pt", "list", "holds no generator's weights"),
    ],
)
def test_a_damaged_run_file_is_one_line_naming_it(run_copy, tmp_path, capsys, name, content,
                                                   words):  # fmt: skip
    import torch

    path = run_copy / name
    path.unlink()
    if content is None:
        path.mkdir()
    elif content == "list":
        torch.save([1, 2], path)
    else:
        path.write_text(content)
    (run_copy / "distilled").rename(tmp_path / "old-distilled")  # the set must be made
    for verb in (["export", str(run_copy), "--format", "npz", "--out", str(tmp_path / "s.npz")],
                 ["evaluate", str(run_copy), "--ipc", "1", "--epochs", "1", "--repeats", "1"]):
        rc = main(verb)
        err = capsys.readouterr().err  # evaluate's progress lines, then the one error line
        last = err.splitlines()[-1]
        assert rc == 2 and last.startswith("gdd-studio-cli: error: ") and words in last, err
        assert "Traceback" not in err and (verb[0] != "export" or err.count("\n") == 1)


def test_a_folder_in_place_of_run_json_is_kept_aside_and_the_run_resumes(tiny, tmp_path):
    """The audit: resume gave IsADirectoryError."""
    from gdd_studio.engine.events import RunControl, StepMetrics
    from gdd_studio.engine.run import Run
    from tests.helpers import long_config

    run, control = Run.create(long_config(tiny, steps=12), tmp_path / "runs"), RunControl()
    stop_at_first_step = lambda e: isinstance(e, StepMetrics) and control.stop()  # noqa: E731
    assert run.execute(stop_at_first_step, control) == "stopped"
    info = RunFolder(run.dir).info
    info.unlink()
    info.mkdir()
    assert main(["resume", str(run.dir), "--quiet"]) == 0
    assert info.is_file() and json.loads(info.read_text())["status"] == "finished"
    assert list(run.dir.glob("run.not-a-file-*.json"))


@pytest.mark.parametrize("name", ["log.txt", ".lock", "metrics.csv", "checkpoints"])
def test_no_write_follows_a_link_out_of_the_run(tiny, tmp_path, capsys, name):
    """The audit: log lines were appended to a linked outside file, and a .lock linked to a
    missing outside path was created there."""
    from gdd_studio.engine.run import Run
    from tests.helpers import long_config

    run = Run.create(long_config(tiny, steps=12), tmp_path / "runs")
    outside = tmp_path / "outside" / name
    outside.parent.mkdir()
    target = run.dir / name
    if target.is_dir():
        target.rmdir()
    else:
        target.unlink(missing_ok=True)
    target.symlink_to(outside)  # to a missing path: whatever is written would create it
    assert main(["resume", str(run.dir), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "outside the run folder" in err
    assert not outside.exists() and list((tmp_path / "outside").iterdir()) == []


def test_an_npz_whose_labels_skip_classes_is_refused_in_one_line(tmp_path, capsys):
    """The audit: labels going to 99 for 3 classes gave 'choose an IPC from 1 to 0'."""
    import numpy as np

    from tests.helpers import write_tiny_npz

    path = write_tiny_npz(tmp_path / "t.npz")
    with np.load(path) as f:
        arrays = dict(f)
    arrays["y_train"] = np.where(arrays["y_train"] == 2, 99, arrays["y_train"]).astype(np.uint8)
    np.savez(path, **arrays)
    rc = main(["run", "--dataset", f"npz:{path}", "--preset", "smoke", "--runs-dir",
               str(tmp_path / "runs")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "no images of class 2" in err, err


def test_bf16_on_a_cpu_that_emulates_it_is_said(tiny, tmp_path, monkeypatch):
    """The audit: --precision bf16 ran emulated, 30-35 % slower, with no notice."""
    from gdd_studio.engine import run as run_module
    from gdd_studio.engine.run import Run
    from tests.helpers import tiny_config

    monkeypatch.setattr(run_module, "native_bf16", lambda device_type: False)
    cfg = tiny_config(f"npz:{tiny}")
    cfg.runtime.precision = "bf16"
    run = Run.create(cfg, tmp_path / "runs")
    assert run.execute() == "finished"
    assert "is emulated on this CPU" in (run.dir / "log.txt").read_text()
    cfg.runtime.precision = "fp32"
    other = Run.create(cfg, tmp_path / "runs")
    assert other.execute() == "finished"
    assert "emulated" not in (other.dir / "log.txt").read_text()
