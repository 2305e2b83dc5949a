"""Errors a user can cause. Each carries one line that the CLI or the window shows as is."""


class GddError(Exception):
    """Base class: a message meant for the user, never a traceback."""


class ConfigError(GddError):
    """A setting is out of range, unknown or inconsistent."""


class DatasetError(GddError):
    """A dataset is missing, unreadable or not in the expected format."""


class CheckpointError(GddError):
    """A checkpoint or run folder is missing, corrupt or from an incompatible run."""


def user_message(exc: BaseException) -> str:
    """The one line a user sees: a GddError's own message, else the type and the text."""
    if isinstance(exc, GddError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}".strip()
