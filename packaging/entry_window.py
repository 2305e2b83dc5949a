"""The bundled window, ``gdd-studio`` (PyInstaller needs a script, not an entry point)."""

import sys

from gdd_studio.ui.app import main

sys.exit(main())
