"""Start the window: ``gdd-studio`` and ``python -m gdd_studio``.

With ``GDD_STUDIO_QUIT_AFTER_SHOW=1`` in the environment the window reports on stderr how
many seconds after the process started it was shown, then closes and exits 0: the
start-up figure of an install or a bundle (``bench/bench_startup.py``), and a check that
a packaged build starts at all.
"""

from __future__ import annotations

import os
import sys
import time

QUIT_AFTER_SHOW = "GDD_STUDIO_QUIT_AFTER_SHOW"
_IMPORTED = time.monotonic()


def seconds_since_start() -> float:
    """Seconds since this process started, interpreter (or bundle) start-up included.

    On Linux from the kernel's start time in /proc, so a launcher, the PyInstaller
    bootloader and Python's own start-up count; elsewhere from the import of this module.
    """
    try:
        with open("/proc/self/stat") as f:
            stat = f.read()
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, starttime
        return time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic() - _IMPORTED


NO_DISPLAY = (
    "gdd-studio: no display found (DISPLAY and WAYLAND_DISPLAY are unset): run the same "
    "work headless with gdd-studio-cli, or set QT_QPA_PLATFORM=offscreen"
)


def display_missing(environ: dict[str, str] | None = None) -> bool:
    """On Linux and the BSDs, whether Qt would find no display to open the window on (it
    aborts the process then, with a message about xcb plugins); elsewhere never."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return False
    if env.get("QT_QPA_PLATFORM"):  # offscreen, vnc, eglfs, wayland, xcb: the user chose
        return False
    return not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def main(argv: list[str] | None = None) -> int:
    if display_missing():
        print(NO_DISPLAY, file=sys.stderr)
        return 2
    import pyqtgraph as pg
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow, app_icon
    from .worker import warm_up_engine

    app = QApplication.instance() or QApplication(sys.argv if argv is None else argv)
    app.setApplicationName("GDD Studio")
    app.setOrganizationName("gdd-studio")
    app.setDesktopFileName("gdd-studio")
    app.setWindowIcon(app_icon())
    pg.setConfigOptions(antialias=True)
    window = MainWindow()
    window.restore_state()
    window.show()
    warm = warm_up_engine()  # torch's one-time imports, off the first run's start
    if os.environ.get(QUIT_AFTER_SHOW, "0") != "0":

        def report_and_quit() -> None:
            # Runs once the event loop has handled the show. Quitting emits aboutToQuit
            # (pyqtgraph tears its views down then): meant for a process of its own.
            shown = seconds_since_start()
            if sys.stderr is not None:  # None in a windowed build on Windows
                print(f"gdd-studio: window shown {shown:.3f} s after start", file=sys.stderr)
                sys.stderr.flush()
            window.close()
            app.exit(0)

        QTimer.singleShot(0, report_and_quit)
    code = app.exec()
    # A window closed within a second of launch: let the warm-up's imports end before the
    # interpreter does (a daemon thread cut off mid-import can crash the exit).
    warm.join(timeout=30)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
