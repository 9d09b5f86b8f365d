"""``python -m m2m100`` runs the ``m2m100`` command."""

import sys

from m2m100.cli import main

sys.exit(main())
