"""Reading run folders that another process is still writing (no Qt)."""

import json
import os
import subprocess
import sys
import textwrap
import time

from gdd_studio.engine.run import Run
from gdd_studio.rundir.records import (
    LogReader,
    MetricsReader,
    list_grids,
    list_runs,
    parse_metrics_row,
    read_log_tail,
)
from tests.helpers import tiny_config, write_tiny_npz

HEADER = (
    "phase,step,epoch,time,g_loss,g_adv,g_cls,match,d_loss,wasserstein,gp,d_cls,"
    "pool_loss,pool_acc\n"
)


def row(phase, step, d_loss="", match=""):
    return f"{phase},{step},0,1.0,,,,{match},{d_loss},,,,,\n"


def test_metrics_reader_returns_only_new_complete_rows(tmp_path):
    path = tmp_path / "metrics.csv"
    reader = MetricsReader(path)
    assert reader.read_new() == ([], False)  # no file yet
    path.write_text(HEADER + row(1, 1, d_loss="0.5") + "1,2,0,1.0,,,")  # half a row
    rows, restarted = reader.read_new()
    assert not restarted and [r["step"] for r in rows] == [1]
    assert rows[0]["values"] == {"d_loss": 0.5}  # empty cells are absent, not zero
    with open(path, "a") as fh:
        fh.write(",,0.25,,,,,\n" + row(2, 3, match="0.1"))
    rows, _ = reader.read_new()
    assert [(r["phase"], r["step"]) for r in rows] == [(1, 2), (2, 3)]
    assert rows[0]["values"] == {"d_loss": 0.25} and rows[1]["values"] == {"match": 0.1}
    assert reader.read_new() == ([], False)


def test_metrics_reader_restarts_when_the_file_is_replaced(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text(HEADER + row(1, 1, "1") + row(1, 2, "2") + row(1, 3, "3"))
    reader = MetricsReader(path)
    assert len(reader.read_new()[0]) == 3
    # A resume rewrites the file up to its checkpoint (a new file, renamed over the old)
    # and appends more: the new file may even be longer than the old one by now.
    tmp = tmp_path / "new.csv"
    tmp.write_text(HEADER + row(1, 1, "1") + row(1, 2, "9") + row(1, 3, "8") + row(1, 4, "7"))
    os.replace(tmp, path)
    rows, restarted = reader.read_new()
    assert restarted and [r["values"]["d_loss"] for r in rows] == [1, 9, 8, 7]


def test_parse_metrics_row_reads_numbers():
    header = HEADER.strip().split(",")
    parsed = parse_metrics_row(header, row(2, 17, d_loss="1.5e-3", match="nan").strip().split(","))
    assert parsed["phase"] == 2 and parsed["step"] == 17
    assert parsed["values"]["d_loss"] == 1.5e-3 and set(parsed["values"]) == {"d_loss", "match"}


def test_log_reader_and_tail(tmp_path):
    path = tmp_path / "log.txt"
    reader = LogReader(path)
    path.write_text("a\nb\nhalf")
    assert reader.read_new() == (["a", "b"], False)
    with open(path, "a") as fh:
        fh.write(" line\n")
    assert reader.read_new() == (["half line"], False)
    assert read_log_tail(tmp_path, max_lines=2) == ["b", "half line"]
    assert read_log_tail(tmp_path / "missing") == []


def test_grids_and_runs_of_a_real_run(tmp_path):
    data = write_tiny_npz(tmp_path / "tiny.npz")
    runs = tmp_path / "runs"
    first = Run.create(tiny_config(f"npz:{data}"), runs)
    assert first.execute() == "finished"
    time.sleep(0.01)
    second = Run.create(tiny_config(f"npz:{data}", ipc=3), runs)
    (runs / "not-a-run").mkdir()
    grids = list_grids(first.dir)
    steps = [s for s, _, _ in grids]
    assert steps == sorted(steps) and grids[0][1] == 1 and grids[-1][1] == 2
    assert all(p.is_file() for _, _, p in grids)
    summaries = list_runs(runs)
    assert [s.path for s in summaries] == [second.dir, first.dir]  # newest first
    assert summaries[0].status == "created" and summaries[0].resumable
    assert summaries[1].status == "finished" and not summaries[1].resumable
    assert summaries[0].info["ipc"] == 3
    # A run that another process was writing when it died reads as interrupted.
    info = json.loads((first.dir / "run.json").read_text())
    info.update(status="running", pid=2**22 + 12345)
    (first.dir / "run.json").write_text(json.dumps(info))
    interrupted = list_runs(runs)[1]
    assert interrupted.status == "interrupted" and interrupted.resumable
    assert list_runs(tmp_path / "nowhere") == []


def test_records_need_no_qt():
    code = textwrap.dedent(
        """
        import sys
        for name in ("PySide6", "pyqtgraph", "shiboken6"):
            sys.modules[name] = None  # any import of these now raises ImportError
        import gdd_studio.rundir.records
        print("ok")
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
