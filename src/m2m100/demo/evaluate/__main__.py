"""``python -m m2m100.demo.evaluate``; its arguments are declared with the commands', in :mod:`m2m100.cli.demo`."""

import sys

from m2m100.cli.demo import evaluate_main

sys.exit(evaluate_main())
