"""The run folder's writer lock: one exclusive OS lock for as long as a process trains in it.

Two processes that resume the same folder at once would both append to its metrics and
overwrite each other's checkpoints. The trainer holds ``<run>/.lock`` with ``flock`` (POSIX)
or ``msvcrt.locking`` (Windows) from before it marks the run "running" until it has
written its final status; the operating system drops the lock when the process dies, so a
killed run never leaves a stale one. Readers (the runs list, the window's follower, the
CLI's refusal) ask the same lock whether anyone is writing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

LOCK_NAME = ".lock"

if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fh: IO[bytes]) -> bool:
        fh.seek(0)
        try:
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fh: IO[bytes]) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)

    def _wait_lock(fh: IO[bytes]) -> None:
        fh.seek(0)
        while True:
            try:
                msvcrt.locking(fh.fileno(), msvcrt.LK_LOCK, 1)  # retries for 10 s
                return
            except OSError:
                continue

else:
    import fcntl

    def _try_lock(fh: IO[bytes]) -> bool:
        # flock, not lockf: flock belongs to the open file, so a second open in this same
        # process (the window following its own run) sees the lock as taken too.
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def _unlock(fh: IO[bytes]) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _wait_lock(fh: IO[bytes]) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)


class RunLock:
    """Held while a process trains in ``run_dir``; ``acquire`` never waits."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self._fh: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        return self._fh is not None

    def acquire(self) -> bool:
        """Take the lock; False when another process (or another open) holds it."""
        if self._fh is not None:
            return True
        fh = open(self.path, "a+b")  # noqa: SIM115 - kept open while the lock is held
        if not _try_lock(fh):
            fh.close()
            return False
        self._fh = fh
        return True

    def release(self) -> None:
        if self._fh is None:
            return
        try:
            _unlock(self._fh)
        except OSError:  # pragma: no cover - closing drops it anyway
            pass
        self._fh.close()
        self._fh = None


def is_locked(run_dir: str | Path) -> bool | None:
    """Whether a process trains in ``run_dir`` now; None when the folder has no lock file
    (written before locks, or never started), so the caller falls back to other signs."""
    path = Path(run_dir) / LOCK_NAME
    try:
        fh = open(path, "rb+")  # noqa: SIM115
    except OSError:
        return None
    try:
        if _try_lock(fh):
            _unlock(fh)
            return False
        return True
    finally:
        fh.close()


@contextmanager
def waiting_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive OS lock on ``path`` for the block, waiting for it if another
    process holds it: for a short read-change-write of one file that several processes
    may do at once (two evaluations of one run saving their rows). The operating system
    drops the lock with a process that dies inside the block."""
    with open(path, "a+b") as fh:
        _wait_lock(fh)
        try:
            yield
        finally:
            _unlock(fh)
