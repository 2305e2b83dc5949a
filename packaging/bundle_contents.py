"""What the PyInstaller bundle holds, kept out of gdd-studio.spec so tests can check it.

The spec imports this file; tests/test_packaging.py imports it too and checks that every
file named here exists, without running PyInstaller.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

NAME = "gdd-studio"  # the folder dist/gdd-studio/

# (executable, entry script in packaging/, console). The window's executable is built
# windowed; on Linux that changes nothing (stderr stays the terminal's), on Windows and
# macOS it opens no console. Both share the one folder's libraries.
ENTRY_POINTS = [
    ("gdd-studio", "entry_window.py", False),
    ("gdd-studio-cli", "entry_cli.py", True),
]

# The icon embedded in the executables (used on Windows and macOS; Linux desktops take
# the icon from the .desktop entry, see install-desktop-entry.sh).
ICON = ROOT / "resources" / "icons" / "gdd-studio-256.png"

# Imported by name at run time, so PyInstaller's analysis cannot see them: charts are
# written by matplotlib's Agg (PNG) and SVG backends, chosen from the file's suffix.
HIDDEN_IMPORTS = ["matplotlib.backends.backend_agg", "matplotlib.backends.backend_svg"]
MATPLOTLIB_BACKENDS = ["Agg", "SVG"]

# Packages whose native libraries are loaded by path (torch.ops.load_library), which the
# analysis cannot follow: torchvision's operators and image codecs (_C_stable, image_stable).
NATIVE_LIBRARIES_OF = ["torchvision"]
NATIVE_LIBRARY_PATTERNS = ["*.so", "*.so.*", "*.pyd", "*.dll", "*.dylib"]

# Installed next to the app's dependencies but never imported by it; collecting them
# would add hundreds of megabytes. triton (about 0.9 GB) serves only torch.compile on a
# GPU, which the app does not use; torch checks for it and carries on without it.
EXCLUDES = [
    "triton",
    "scipy",
    "tkinter",
    "_tkinter",
    "PyQt5",
    "PyQt6",
    "PySide2",
    "IPython",
    "ipykernel",
    "jupyter_client",
    "jupyter_core",
    "matplotlib_inline",
    "notebook",
    "pytest",
    "_pytest",
    "pytestqt",
    "hypothesis",
]


def resource_patterns(root: Path = ROOT) -> list[str]:
    """The package-data patterns of gdd_studio.resources: the bundle ships what a wheel does."""
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    return list(config["package-data"]["gdd_studio.resources"])


def data_files(root: Path = ROOT) -> list[tuple[str, str]]:
    """(source file, folder in the bundle) for every shipped resource file."""
    resources = root / "resources"
    found: dict[Path, None] = {}
    for pattern in resource_patterns(root):
        for path in sorted(resources.glob(pattern)):
            if path.is_file():
                found[path] = None
    return [
        (str(path), str(Path("gdd_studio", "resources", *path.relative_to(resources).parent.parts)))
        for path in found
    ]
