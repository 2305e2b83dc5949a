"""Files shipped with GDD Studio (installed as the package ``gdd_studio.resources``)."""

from importlib.resources import files
from pathlib import Path


def resource_path(name: str) -> Path:
    """Path of a shipped resource file, whether installed normally or in editable mode."""
    return Path(str(files(__name__) / name))
