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
