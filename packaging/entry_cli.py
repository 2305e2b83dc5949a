"""The bundled command line, ``gdd-studio-cli``."""

import sys

from gdd_studio.cli import main

sys.exit(main())
