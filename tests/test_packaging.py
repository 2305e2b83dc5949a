"""What the wheel and the PyInstaller bundle ship: every subpackage, and every file that
the bundle's spec and the desktop entry name.

None of these runs PyInstaller (packaging/build.sh does, by hand); they are fast and
offline.
"""

import ast
import configparser
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

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


# --- the PyInstaller bundle, the desktop entry and the start-up hook -----------------------

PACKAGING = ROOT / "packaging"
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem.replace("-", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def contents():
    return load(PACKAGING / "bundle_contents.py")


def scripts() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {**project["scripts"], **project["gui-scripts"]}


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string((ROOT / "resources" / "gdd-studio.desktop").read_text())
    return parser["Desktop Entry"]


def test_desktop_entry_starts_the_window_script_with_the_shipped_icon():
    entry = desktop_entry()
    assert entry["Type"] == "Application" and entry["Name"] == "GDD Studio"
    window = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["gui-scripts"]
    assert entry["Exec"].split()[0] in window and entry["TryExec"] in window
    assert entry["Categories"].endswith(";") and entry["Terminal"] == "false"
    icons = ROOT / "resources" / "icons"
    assert (icons / f"{entry['Icon']}.svg").is_file()
    for size in ICON_SIZES:
        assert (icons / f"{entry['Icon']}-{size}.png").is_file()


@pytest.mark.skipif(not shutil.which("desktop-file-validate"), reason="desktop-file-utils")
def test_desktop_entry_is_valid_per_the_spec():
    done = subprocess.run(
        ["desktop-file-validate", str(ROOT / "resources" / "gdd-studio.desktop")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "error" not in done.stdout, done.stdout


def test_bundle_executables_run_the_declared_entry_points(contents):
    declared = scripts()
    assert [name for name, _, _ in contents.ENTRY_POINTS] == ["gdd-studio", "gdd-studio-cli"]
    for name, script, console in contents.ENTRY_POINTS:
        assert console == (name != "gdd-studio")  # the window is built windowed
        tree = ast.parse((PACKAGING / script).read_text())
        (imported,) = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert f"{imported.module}:{imported.names[0].name}" == declared[name]


def test_bundle_data_files_exist_and_land_in_the_package(contents):
    datas = contents.data_files()
    for src, dest in datas:
        assert Path(src).is_file(), src
        assert Path(dest).parts[:2] == ("gdd_studio", "resources"), dest
    shipped = {Path(dest, Path(src).name).as_posix() for src, dest in datas}
    base = "gdd_studio/resources"
    assert {
        f"{base}/{name}" for name in ("mnist_sample.npz", "README.md", "gdd-studio.desktop")
    } <= shipped
    assert f"{base}/icons/gdd-studio.svg" in shipped
    assert {f"{base}/icons/gdd-studio-{s}.png" for s in ICON_SIZES} <= shipped
    assert contents.ICON.is_file()


def test_spec_uses_only_what_bundle_contents_defines(contents):
    text = (PACKAGING / "gdd-studio.spec").read_text()
    tree = ast.parse(text)  # also: the spec is valid Python
    attributes = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute)]
    used = {
        n.attr for n in attributes if isinstance(n.value, ast.Name) and n.value.id == "contents"
    }
    assert {"ENTRY_POINTS", "data_files", "ICON", "EXCLUDES", "HIDDEN_IMPORTS"} <= used
    assert all(hasattr(contents, name) for name in used), used - set(dir(contents))
    assert "COLLECT(" in text and "SPECPATH" in text  # one folder, paths from the spec's place
    for module in contents.HIDDEN_IMPORTS:
        assert importlib.util.find_spec(module) is not None, module


def test_the_app_imports_nothing_the_bundle_excludes(contents):
    """An excluded module that the app imports would break the bundle at start-up."""
    code = (
        "import importlib, pkgutil, sys, gdd_studio\n"
        "for m in pkgutil.walk_packages(gdd_studio.__path__, 'gdd_studio.'):\n"
        "    if not m.name.endswith('__main__'):  # that one opens the window\n"
        "        importlib.import_module(m.name)\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = set(done.stdout.split())
    assert "gdd_studio" in imported and "PySide6" in imported
    assert imported & set(contents.EXCLUDES) == set()


def test_resources_hook_finds_the_package_in_the_checkout():
    hook = load(PACKAGING / "hooks" / "pre_find_module_path" / "hook-gdd_studio.resources.py")
    api = SimpleNamespace(search_dirs=[str(ROOT / "gdd_studio")])
    hook.pre_find_module_path(api)
    assert api.search_dirs == [str(ROOT)] and (ROOT / "resources" / "__init__.py").is_file()
    elsewhere = SimpleNamespace(search_dirs=["/site-packages/gdd_studio"])
    hook.pre_find_module_path(elsewhere)  # an installed gdd_studio has its own resources/
    assert elsewhere.search_dirs == ["/site-packages/gdd_studio"]


def test_gitignore_keeps_build_outputs_out():
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "build/" in ignored and "dist/" in ignored


@pytest.mark.skipif(not shutil.which("bash") or os.name != "posix", reason="bash script")
def test_install_desktop_entry_puts_entry_and_icons_in_xdg_data_home(tmp_path):
    script = PACKAGING / "install-desktop-entry.sh"
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path))
    subprocess.run(["bash", str(script)], env=env, check=True, capture_output=True)
    apps, hicolor = tmp_path / "applications", tmp_path / "icons" / "hicolor"
    installed = (apps / "gdd-studio.desktop").read_text()
    assert installed == (ROOT / "resources" / "gdd-studio.desktop").read_text()
    assert (hicolor / "scalable" / "apps" / "gdd-studio.svg").is_file()
    for size in ICON_SIZES:
        assert (hicolor / f"{size}x{size}" / "apps" / "gdd-studio.png").is_file()

    bundle = tmp_path / "my bundle" / "gdd-studio"
    bundle.parent.mkdir()
    bundle.write_text("#!/bin/sh\n")
    bundle.chmod(0o755)
    subprocess.run(["bash", str(script), "--exec", str(bundle)], env=env, check=True)
    assert f'Exec="{bundle}"\n' in (apps / "gdd-studio.desktop").read_text()

    subprocess.run(["bash", str(script), "--uninstall"], env=env, check=True)
    assert [p for p in tmp_path.rglob("*") if p.is_file() and p != bundle] == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process start from /proc")
def test_seconds_since_start_counts_from_the_process_start():
    code = (
        "import time; t = time.monotonic()\n"
        "from gdd_studio.ui.app import seconds_since_start\n"
        "print(seconds_since_start(), time.monotonic() - t)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    since_start, since_import = map(float, done.stdout.split())
    # Python's own start-up comes before the first line runs: more than the import alone.
    assert since_import < since_start < since_import + 30


def test_quit_after_show_reports_the_start_up_and_exits_0(tmp_path):
    """In a process of its own, as a bundle or an install runs it: quitting the app
    ends the QApplication's exec() (pyqtgraph tears its views down on aboutToQuit),
    which would spoil a test process's shared QApplication for the tests after it."""
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        GDD_STUDIO_HOME=str(tmp_path),
        GDD_STUDIO_QUIT_AFTER_SHOW="1",
    )
    done = subprocess.run(
        [sys.executable, "-m", "gdd_studio"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    shown = re.search(r"gdd-studio: window shown ([0-9.]+) s after start", done.stderr)
    assert shown and 0 < float(shown.group(1)) < 120
    assert (tmp_path / "window.ini").is_file()  # the window closed normally: geometry saved


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first = next(ln.strip() for ln in readme.splitlines() if "-m pytest" in ln)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert first in [ln.strip() for ln in ci], (first, ci)
    assert ".[test,cluster]" in first  # CI runs the sweep tests on a local Ray too


def test_no_display_is_one_line_naming_the_ways_out():
    """Issue 31, item 5: Qt aborted the process (rc 134) with a message about xcb-cursor0."""
    from gdd_studio.ui.app import display_missing

    if not sys.platform.startswith("linux"):
        pytest.skip("Linux only")
    assert display_missing({})
    assert not display_missing({"DISPLAY": ":0"}) and not display_missing({"WAYLAND_DISPLAY": "w"})
    assert not display_missing({"QT_QPA_PLATFORM": "offscreen"})
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "gdd_studio"], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "gdd-studio-cli" in proc.stderr and "QT_QPA_PLATFORM=offscreen" in proc.stderr
