"""Find ``gdd_studio.resources`` in the checkout's top-level resources/ folder.

pyproject.toml maps the package there (package-dir); PyInstaller's module search knows
only folders, so when gdd_studio comes from the checkout it would look in gdd_studio/.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def pre_find_module_path(api):
    if any(Path(d).resolve() == ROOT / "gdd_studio" for d in api.search_dirs):
        api.search_dirs = [str(ROOT)]
