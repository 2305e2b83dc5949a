"""The set-up column (left of the window): the next run's settings and its config files.

The settings themselves are ``SetupPanel``'s (scrolled, as they are long); this column
adds Save config... and Load config... (the JSON the CLI reads too), the pickers of a
custom dataset, and what a path dropped on the window means here. Errors go through the
window's ``message``; a line for the status bar is sent as ``said``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..config import RunConfig
from ..errors import GddError
from .setup_panel import SetupPanel

Message = Callable[[str, str, str], None]  # (kind, title, text)


class SetupArea(QWidget):
    """The scrolled set-up panel above Save config... and Load config....

    The set-up is for the next run: it stands beside the Training tab and steps aside for
    results (the Evaluation and Distilled set tabs), or when collapsed with ``toggle``
    (which the window places in the corner of its tabs). ``ask_save_path`` and
    ``confirm_replace`` open the file dialogs; tests and scripts replace them.
    """

    said = Signal(str)  # a line for the window's status line ("Config saved to ...")
    # The toggle clicked beside a results tab: the window goes to the Training tab, where
    # the set-up stands (a greyed toggle there looked like a disabled tab).
    show_training = Signal()

    def __init__(self, message: Message, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._message = message
        self.ask_save_path = self._ask_save_path  # (title, suggested, filters) -> path or ""
        self.confirm_replace = self._ask_replace  # (path) -> replace it?
        self.setup = SetupPanel()
        self.setup.customDatasetRequested.connect(self._pick_dataset)
        lv = QVBoxLayout(self)
        lv.setContentsMargins(6, 6, 0, 6)
        self.scroll = QScrollArea(widgetResizable=True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(self.setup)
        self.scroll.setMinimumWidth(self.setup.sizeHint().width() + 20)
        lv.addWidget(self.scroll, 1)
        files = QHBoxLayout()
        self.save_button = QPushButton("Save config...", objectName="saveConfigButton")
        self.save_button.setToolTip("Write these settings to a JSON file (the CLI reads it too)")
        self.save_button.clicked.connect(self.save_config)
        self.load_button = QPushButton("Load config...", objectName="loadConfigButton")
        self.load_button.setToolTip("Show the settings of a JSON config file")
        self.load_button.clicked.connect(self.load_config)
        files.addWidget(self.save_button)
        files.addWidget(self.load_button)
        lv.addLayout(files)
        self._beside_training = True
        self.toggle = QToolButton(objectName="setupToggle", checkable=True, checked=True)
        self.toggle.setAutoRaise(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.toggled.connect(self._toggled)

    def place(self, beside_training: bool) -> None:
        """The tab beside the column changed: shown beside the Training tab (if wanted)."""
        self._beside_training = beside_training
        on_training, wanted = beside_training, self.toggle.isChecked()
        self.setVisible(on_training and wanted)
        self.toggle.setArrowType(
            Qt.ArrowType.LeftArrow if on_training and wanted else Qt.ArrowType.RightArrow
        )
        if not on_training:
            self.toggle.setText("Set-up")
            self.toggle.setToolTip("Go to the Training tab and show the set-up panel beside it")
        else:
            self.toggle.setText("Hide set-up" if wanted else "Set-up")
            self.toggle.setToolTip(
                "Hide the set-up panel to give the curves room" if wanted
                else "Show the set-up panel (settings, Start, Pause, Stop)"
            )  # fmt: skip

    @Slot(bool)
    def _toggled(self, checked: bool) -> None:
        if not self._beside_training:  # beside a results tab: it takes the user to set-up
            if not checked:
                self.toggle.blockSignals(True)
                self.toggle.setChecked(True)
                self.toggle.blockSignals(False)
            self.show_training.emit()
            return
        self.place(self._beside_training)

    def set_locked(self, locked: bool) -> None:
        """What is shown is what runs: no setting changes while a run goes."""
        self.setup.setEnabled(not locked)
        self.load_button.setEnabled(not locked)

    @Slot(object)
    def _pick_dataset(self, kind: str) -> None:
        if kind == "folder":
            path = QFileDialog.getExistingDirectory(self, "Image folder (with train/ and test/)")
        else:
            path, _ = QFileDialog.getOpenFileName(self, "NPZ dataset", "", "NumPy (*.npz)")
        if path:
            self.setup.select_dataset(f"{kind}:{path}")

    def use_path(self, path: Path) -> bool:
        """A folder or .npz becomes the dataset; a .json config is loaded; False for
        anything else."""
        if path.is_dir():
            self.setup.select_dataset(f"folder:{path}")
        elif path.suffix.lower() == ".npz":
            self.setup.select_dataset(f"npz:{path}")
        elif path.suffix.lower() == ".json":
            self.load_config_file(path)
        else:
            return False
        return True

    def _ask_save_path(self, title: str, suggested: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(
            self, title, suggested, filters, options=QFileDialog.Option.DontConfirmOverwrite
        )
        return path

    def _ask_replace(self, path: Path) -> bool:
        answer = QMessageBox.question(self, "Replace?", f"{path} exists. Replace it?")
        return answer == QMessageBox.StandardButton.Yes

    @Slot()
    def save_config(self) -> Path | None:
        """Save the settings as JSON; a name without .json gets it, so Load config finds it."""
        path = self.ask_save_path("Save config", "run.json", "JSON (*.json)")
        if not path:
            return None
        out = Path(path)
        if out.suffix.lower() != ".json":
            out = out.with_name(out.name + ".json")
        if out.exists() and not self.confirm_replace(out):
            return None
        try:
            self.setup.config().save(out)
        except (OSError, GddError) as exc:
            self._message("error", "Cannot save the config", f"{out}: {exc}")
            return None
        self.said.emit(f"Config saved to {out}")
        return out

    @Slot()
    def load_config(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load config", "", "JSON (*.json)")
        if path:
            self.load_config_file(Path(path))

    def load_config_file(self, path: Path) -> None:
        try:
            self.setup.set_config(RunConfig.load(path))
            self.said.emit(f"Config loaded from {path}")
        except (GddError, OSError, ValueError) as exc:
            text = str(exc)  # named once: most messages name the file already
            self._message("error", "Cannot load the config", text if str(path) in text
                          else f"{path}: {text}")  # fmt: skip
