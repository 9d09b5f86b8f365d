"""A full disk under the command: one line naming it, exit 1, no traceback (issue 16)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

FULL = "/dev/full"  # every write fails with ENOSPC

pytestmark = pytest.mark.skipif(not os.path.exists(FULL), reason="no /dev/full on this system")


def translate(*args: str, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "m2m100", "translate", "-s", "fr", "-t", "en", *args],
        input="trois\nquatre\n",
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("where", ["output file", "stdout"])
def test_a_full_disk_is_one_line_not_a_traceback(where):
    if where == "output file":
        done = translate("-o", FULL, "--overwrite")
    else:
        with open(FULL, "w") as full:
            done = translate(stdout=full)
    errors = [line for line in done.stderr.splitlines() if line.startswith("m2m100: error:")]
    assert done.returncode == 1, done.stderr
    assert errors == ["m2m100: error: cannot go on: No space left on device"], done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
