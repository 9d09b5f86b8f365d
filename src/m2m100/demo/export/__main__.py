"""``python -m m2m100.demo.export``; its arguments are declared with the commands', in :mod:`m2m100.cli.demo`."""

import sys

from m2m100.cli.demo import export_main

sys.exit(export_main())
