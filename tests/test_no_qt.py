"""The engine stands alone: everything but the window's widgets imports and runs with Qt
absent (the window's model, gdd_studio.view, too)."""

import subprocess
import sys
import textwrap


def test_engine_and_cli_import_without_qt():
    code = textwrap.dedent(
        """
        import sys
        for name in ("PySide6", "pyqtgraph", "shiboken6"):
            sys.modules[name] = None  # any import of these now raises ImportError
        import gdd_studio.cli, gdd_studio.config, gdd_studio.engine.run
        import gdd_studio.data, gdd_studio.models, gdd_studio.evaluation.protocol
        import gdd_studio.export, gdd_studio.rundir.artifacts, gdd_studio.view
        loaded = [m for m in sys.modules if m.startswith(("PySide6", "pyqtgraph"))]
        assert all(sys.modules[m] is None for m in loaded), loaded
        print("ok")
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
