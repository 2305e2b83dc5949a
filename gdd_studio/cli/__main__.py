"""``python -m gdd_studio.cli``: the same as ``gdd-studio-cli``."""

import sys

from . import main

sys.exit(main())
