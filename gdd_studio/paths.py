"""Where GDD Studio keeps its files.

Everything lives under one per-user data folder (platformdirs), or under
``$GDD_STUDIO_HOME`` when that is set, so tests, servers and portable installs can move it.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

APP_NAME = "gdd-studio"


def home_dir() -> Path:
    env = os.environ.get("GDD_STUDIO_HOME")
    if env:
        return Path(env).expanduser()
    return Path(user_data_dir(APP_NAME, appauthor=False))


def runs_dir() -> Path:
    return home_dir() / "runs"


def datasets_dir() -> Path:
    return home_dir() / "datasets"


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows.

    ``os.umask`` can only be read by setting it, which for a moment would give files made
    by other threads the wrong mode; Linux shows it in /proc instead.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def normal_mode(directory: bool = False) -> int:
    """The mode open() or mkdir() would give a new file or folder under the umask.

    Temporary files (``mkstemp``) and folders (``mkdtemp``) are made 0600 / 0700; a file
    renamed into place from one would be readable by its owner only, which breaks a shared
    runs folder and shared exports.
    """
    return (0o777 if directory else 0o666) & ~current_umask()
