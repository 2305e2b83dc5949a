"""``python -m gdd_studio`` opens the window (the CLI is ``gdd-studio-cli``)."""

import sys

from gdd_studio.ui.app import main

sys.exit(main())
