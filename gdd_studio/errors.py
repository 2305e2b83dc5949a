"""Errors a user can cause. Each carries one line that the CLI or the window shows as is."""

import errno
from pathlib import Path

NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class GddError(Exception):
    """Base class: a message meant for the user, never a traceback."""


class ConfigError(GddError):
    """A setting is out of range, unknown or inconsistent."""


class DatasetError(GddError):
    """A dataset is missing, unreadable or not in the expected format."""


class CheckpointError(GddError):
    """A checkpoint or run folder is missing, corrupt or from an incompatible run."""


class DiskFullError(GddError):
    """A write failed for lack of space (or quota); the previous file was kept."""


def no_space_message(where: str | Path | None) -> str:
    return f"no space left on {where}" if where else "no space left on the device"


def user_message(exc: BaseException) -> str:
    """The one line a user sees: a GddError's own message, else the type and the text."""
    if isinstance(exc, GddError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno in NO_SPACE:
        return no_space_message(Path(exc.filename).parent if exc.filename else None)
    return f"{type(exc).__name__}: {exc}".strip()
