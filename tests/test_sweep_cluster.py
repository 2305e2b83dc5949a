"""A node lost in the middle of a sweep, on a two-node Ray cluster simulated on this
machine (``ray.cluster_utils.Cluster``: a head node and a second node, one CPU each, their
own raylets and worker processes).

The second node is killed (its raylet and its workers, as a machine that loses power)
while its member trains past a checkpoint. Ray retries the task on the surviving node,
the member resumes from its checkpoint and ends with the generator it would have had
uninterrupted (CPU, one thread); sweep.json never says anything untrue on the way.
Needs the ``cluster`` extra, which CI installs.
"""

import os
import signal
import time
from pathlib import Path

import pytest
import torch

from gdd_studio.engine.run import Run
from gdd_studio.rundir.folder import read_run_info
from gdd_studio.rundir.sweeps import member_status, read_sweep
from gdd_studio.sweep import executors
from gdd_studio.sweep.sweep import Sweep
from tests.helpers import tiny_config, write_tiny_npz

STEPS = 90  # phase-1 steps of a member: long enough to be caught training (and under
# the step count from which the runtime would compile the GAN by default)


def _member_config(data: Path):
    cfg = tiny_config(f"npz:{data}")
    cfg.gan.epochs, cfg.gan.steps_per_epoch = STEPS // 3, 3
    cfg.monitor.checkpoint_every, cfg.monitor.grid_every, cfg.monitor.log_every = 10, 1000, 10
    return cfg


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                out.append(int(entry))
    return out


@pytest.fixture
def cluster():
    pytest.importorskip("ray")
    import ray
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    if not os.path.isdir("/proc"):
        pytest.skip("finds the lost node's processes through /proc")
    # A lost node is declared dead after 2 missed health checks 0.5 s apart (Ray's default
    # waits for 5 checks 3 s apart, which only makes the test longer).
    health = {"health_check_period_ms": 500, "health_check_failure_threshold": 2}
    c = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False, "_system_config": health},
    )
    second = c.add_node(num_cpus=1)
    c.wait_for_nodes()
    raylet = second.all_processes[ray_constants.PROCESS_TYPE_RAYLET][0].process.pid
    try:
        yield c, second, raylet
    finally:
        ray.shutdown()
        c.shutdown()


@pytest.mark.slow
def test_a_member_on_a_lost_node_resumes_on_the_other_and_ends_the_same(cluster, tmp_path):
    import ray

    c, second, raylet = cluster
    data = write_tiny_npz(tmp_path / "tiny.npz")
    sweep = Sweep.create(_member_config(data), [("seed", ["0", "1", "2"])], tmp_path / "runs")
    executor = executors.RayExecutor(address=c.address)
    assert executor.describe() == "Ray (2 at a time, 1 CPU each)"

    import threading

    counts: dict = {}
    worker = threading.Thread(target=lambda: counts.update(sweep.execute(executor)))
    worker.start()
    seen: list[tuple[str, ...]] = []  # (sweep.json's word, the member's status) over time

    def look() -> None:
        doc = read_sweep(sweep.dir)
        for m in doc["members"]:
            run = sweep.folder.member_dir(m["run"])
            seen.append((m["status"], member_status(sweep.dir, m), m["run"]))
            has_generator = (run / "generator.pt").is_file()
            assert m["status"] in ("pending", "finished"), m  # never failed, never lost
            assert m["status"] != "finished" or has_generator

    # The member on the second node: its worker's parent is that node's raylet.
    lost = None
    deadline = time.monotonic() + 60
    while lost is None and time.monotonic() < deadline:
        look()
        for m in sweep.members:
            info = read_run_info(sweep.member_dir(m))
            pid = info.get("pid")
            if info.get("status") == "running" and pid in _children(raylet):
                if int(info.get("step", 0)) >= 20:  # past two checkpoints
                    lost = (m, info)
        time.sleep(0.02)
    assert lost is not None, "no member trained on the second node"
    member, before = lost
    run_dir = sweep.member_dir(member)
    workers = _children(raylet)
    killed_at = time.perf_counter()
    c.remove_node(second, allow_graceful=False)  # its raylet is killed...
    for pid in workers:  # ...and every process of the node with it
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    back_at = None
    while worker.is_alive():
        look()
        info = read_run_info(run_dir)
        if (
            back_at is None
            and info.get("pid") not in (before["pid"], None)
            and (info.get("status") in ("running", "finished"))
        ):
            back_at = time.perf_counter()
        time.sleep(0.02)
    worker.join()
    done_at = time.perf_counter()
    look()

    assert counts == {"finished": 3}
    assert [m["status"] for m in read_sweep(sweep.dir)["members"]] == ["finished"] * 3
    log = (run_dir / "log.txt").read_text()
    resumed = [line for line in log.splitlines() if "resumed from step" in line]
    assert resumed and int(resumed[-1].split("resumed from step ")[1].split()[0]) >= 10
    assert read_run_info(run_dir)["pid"] != before["pid"]  # trained on by another worker
    assert back_at is not None
    print(
        f"\nnode lost at step {before['step']}: member running again after "
        f"{back_at - killed_at:.1f} s, sweep done {done_at - killed_at:.1f} s after the loss"
    )
    lost_statuses = {s for _, s, r in seen if r == member["run"]}
    assert "failed" not in lost_statuses

    # The generator it would have had uninterrupted: the same config, trained alone here at
    # the thread count the Ray task had (1 CPU).
    ray.shutdown()
    before_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        alone = Run.create(Run.open(run_dir).cfg, tmp_path / "alone")
        assert alone.execute() == "finished"
    finally:
        torch.set_num_threads(before_threads)
    ours = torch.load(run_dir / "generator.pt", weights_only=True)
    theirs = torch.load(alone.generator_path, weights_only=True)
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
