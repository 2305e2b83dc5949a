"""Atomic file writes: a crash or a full disk during a write leaves the previous file whole.

Every file a run keeps (config, checkpoints, the generator, the distilled set, grids) goes
through here: write to a temporary file in the same folder, flush it to disk, then rename
over the target, which the operating system does in one step.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from .errors import NO_SPACE, DiskFullError, no_space_message
from .paths import normal_mode


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Write through a hidden temporary file and a rename. A full disk (or quota) becomes
    a DiskFullError naming the folder; the temporary file is removed either way."""
    path = Path(path)
    try:
        _atomic_write(path, write)
    except OSError as exc:
        if exc.errno in NO_SPACE:
            raise DiskFullError(no_space_message(path.parent)) from exc
        raise


def _atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        hold_while_writing(fd)
        if hasattr(os, "fchmod"):
            os.fchmod(fd, normal_mode())
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def hold_while_writing(fd: int) -> None:
    """Lock the temporary file for as long as it is open: a lock that can be taken marks
    a temporary file whose writer is gone (killed mid-write), which whoever next opens the
    folder to write may remove (``rundir.folder.clear_stale_temporaries``). The operating
    system drops the lock with the process, however it ends."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass  # a file system without locks: the cleaner falls back on the file's age


def atomic_write_bytes(path: Path, data: bytes | memoryview) -> None:
    atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_torch_save(path: Path, obj: Any) -> None:
    import torch

    # Serialized in memory first: torch.save writing straight to a full disk raises a
    # RuntimeError ("[enforce fail at inline_container.cc]") that has lost the errno.
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getbuffer())


def atomic_save_npz(path: Path, **arrays: np.ndarray) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def atomic_save_png(path: Path, image: np.ndarray) -> None:
    """Save an (H, W) or (H, W, C) uint8 image as PNG."""
    from PIL import Image

    arr = image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
