"""The PySide6 window: a thin layer over the engine (which never imports Qt)."""

from .main_window import MainWindow

__all__ = ["MainWindow"]
