"""The package list in pyproject.toml ships every subpackage (a wheel is built from it)."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "gdd_studio").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages"
    assert "gdd_studio.resources" in listed
    assert (ROOT / config["package-dir"]["gdd_studio.resources"] / "mnist_sample.npz").is_file()
