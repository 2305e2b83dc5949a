"""Start-up time of the window: from process start until the main window is shown.

    python bench/bench_startup.py -- gdd-studio
    python bench/bench_startup.py --cold dist/gdd-studio -- dist/gdd-studio/gdd-studio

Runs the command ``--runs`` times (default 4) with ``GDD_STUDIO_QUIT_AFTER_SHOW=1``, so the
window prints the seconds from its process's start to its first show and quits, offscreen
unless QT_QPA_PLATFORM says otherwise, with a fresh GDD_STUDIO_HOME. Reports the first
run and the median of the others (warm: the files are in the page cache), each as the
app's own figure and as the wall time to exit.

``--cold DIR`` (repeatable) first drops every file under DIR from the page cache
(posix_fadvise DONTNEED after a sync), so the first run reads them from disk again: a
cold-ish start without dropping the whole machine's cache. Libraries that another
running process has mapped stay cached.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

SHOWN = re.compile(r"window shown ([0-9.]+) s after start")


def evict(folder: Path) -> tuple[int, int]:
    """Drop the files under folder from the page cache; returns (files, bytes)."""
    os.sync()
    files = size = 0
    for path in folder.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            files += 1
            size += path.stat().st_size
        finally:
            os.close(fd)
    return files, size


def start_once(command: list[str]) -> tuple[float, float]:
    """(seconds to the window's first show as the app reports it, seconds to exit)."""
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, GDD_STUDIO_QUIT_AFTER_SHOW="1", GDD_STUDIO_HOME=home)
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        t0 = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - t0
    match = SHOWN.search(done.stderr)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"{command[0]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return float(match.group(1)), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4, help="starts in all (first + warm)")
    parser.add_argument("--cold", type=Path, action="append", default=[], metavar="DIR")
    parser.add_argument("command", nargs="+", help="the window's command, after --")
    args = parser.parse_args()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"command: {' '.join(args.command)}")
    for folder in args.cold:
        files, size = evict(folder)
        print(f"evicted from the page cache: {folder} ({files:,} files, {size / 2**30:.2f} GiB)")
    results = [start_once(args.command) for _ in range(args.runs)]
    for i, (shown, wall) in enumerate(results):
        print(f"run {i + 1}: window shown {shown:.2f} s, exited {wall:.2f} s")
    first, warm = results[0], results[1:]
    line = f"first: shown {first[0]:.2f} s (exit {first[1]:.2f} s)"
    if warm:
        shown = statistics.median(r[0] for r in warm)
        wall = statistics.median(r[1] for r in warm)
        line += f"; warm median of {len(warm)}: shown {shown:.2f} s (exit {wall:.2f} s)"
    print(line)


if __name__ == "__main__":
    main()
