"""Start the window: ``gdd-studio`` and ``python -m gdd_studio``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow, app_icon

    app = QApplication.instance() or QApplication(sys.argv if argv is None else argv)
    app.setApplicationName("GDD Studio")
    app.setOrganizationName("gdd-studio")
    app.setDesktopFileName("gdd-studio")
    app.setWindowIcon(app_icon())
    pg.setConfigOptions(antialias=True)
    window = MainWindow()
    window.restore_geometry()
    window.show()
    return app.exec()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
