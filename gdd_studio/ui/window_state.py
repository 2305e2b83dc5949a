"""What the window keeps between launches: its size and splitters, the set-up's dataset,
preset and data folder, and the runs folder (``MainWindow.save_state`` and
``restore_state``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QByteArray, QSettings


class KeptWindow(Protocol):
    """What of the main window is kept between launches (MainWindow has it all; this
    module does not import it, which imports this one)."""

    splitters: list[Any]
    setup_toggle: Any
    setup: Any
    runs_dir: Path

    def saveGeometry(self) -> QByteArray: ...  # noqa: N802 - Qt's name
    def restoreGeometry(self, geometry: QByteArray) -> bool: ...  # noqa: N802
    def set_runs_dir(self, folder: Path) -> None: ...


def window_settings() -> QSettings:
    """Window state lives in the per-user data folder too, so GDD_STUDIO_HOME moves it."""
    from ..paths import home_dir

    return QSettings(str(home_dir() / "window.ini"), QSettings.Format.IniFormat)


def save_window_state(w: KeptWindow) -> None:
    """What the next launch reopens with: size, splitters, dataset, preset, runs folder."""
    st = window_settings()
    st.setValue("geometry", w.saveGeometry())
    for splitter in w.splitters:
        st.setValue(f"splitters/{splitter.objectName()}", splitter.saveState())
    st.setValue("setup/visible", w.setup_toggle.isChecked())
    cfg = w.setup.config()
    st.setValue("setup/dataset", cfg.dataset)
    st.setValue("setup/preset", cfg.preset)
    st.setValue("setup/data_dir", cfg.data_dir or "")
    st.setValue("runs_dir", str(w.runs_dir))
    st.sync()


def restore_window_state(w: KeptWindow, runs_dir: bool = True) -> None:
    """Reopen as the user left the window last time (what ``save_window_state`` kept).

    ``runs_dir=False`` keeps the runs folder this window was opened on.
    """
    st = window_settings()
    value = st.value("geometry")
    if isinstance(value, QByteArray):
        w.restoreGeometry(value)
    for splitter in w.splitters:
        state = st.value(f"splitters/{splitter.objectName()}")
        if isinstance(state, QByteArray):
            splitter.restoreState(state)
    visible = st.value("setup/visible")
    if visible is not None:
        w.setup_toggle.setChecked(str(visible).lower() in ("true", "1"))
    preset = st.value("setup/preset")
    if preset and w.setup.preset.findData(preset) >= 0:
        w.setup.preset.setCurrentIndex(w.setup.preset.findData(preset))
    data_dir = st.value("setup/data_dir")
    if data_dir:
        w.setup.data_dir.setText(str(data_dir))
        w.setup.refresh_datasets()
    dataset = st.value("setup/dataset")
    if dataset:
        w.setup.select_dataset(str(dataset))
    folder = st.value("runs_dir")
    if runs_dir and folder and Path(str(folder)) != w.runs_dir:
        w.set_runs_dir(Path(str(folder)))
