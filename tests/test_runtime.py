"""glibc malloc tuning for decoding's large per-step buffers: made by the application, not the library."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# Allocates, touches and frees a 40 MB block five times; prints the page faults of the last four.
FAULTS = """
import ctypes, resource, sys
from m2m100.runtime import tune_malloc
print(tune_malloc(), tune_malloc())
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
size = 40 << 20
def cycle():
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)
cycle()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    cycle()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def run(env_value: str | None) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if k != "M2M100_TUNE_MALLOC"}
    if env_value is not None:
        env["M2M100_TUNE_MALLOC"] = env_value
    out = subprocess.run([sys.executable, "-c", FAULTS], env=env, capture_output=True, text=True, check=True)
    tuned, faults = out.stdout.strip().splitlines()
    return tuned, int(faults)


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's")
def test_freed_large_blocks_are_reused_without_page_faults():
    tuned, faults = run(None)
    assert tuned == "True True"  # applied once, and it says so on every call
    pages = (40 << 20) // os.sysconf("SC_PAGE_SIZE")
    assert faults < pages // 10, f"{faults} page faults for 4 reuses of a {pages}-page block"


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's")
@pytest.mark.parametrize("value", ["0", "off", "False"])
def test_environment_opts_out(value):
    tuned, faults = run(value)
    assert tuned == "False False"
    pages = (40 << 20) // os.sysconf("SC_PAGE_SIZE")
    assert faults >= 4 * pages * 0.9, "glibc's default maps a block this large anew each time"


LIBRARY_THEN_CLI = """
import contextlib, io
from m2m100 import M2M100ForConditionalGeneration, M2M100Tokenizer, runtime
from m2m100.cli import main
from m2m100.demo import model_path
model = M2M100ForConditionalGeneration.from_pretrained(model_path())
tokenizer = M2M100Tokenizer.from_pretrained(model_path(), src_lang="fr")
model.generate(**tokenizer("cent", return_tensors="pt"), forced_bos_token_id=tokenizer.get_lang_id("de"))
print(runtime._tuned)
with contextlib.redirect_stdout(io.StringIO()):
    main(["languages"])
print(runtime._tuned)
"""


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's")
def test_the_library_leaves_malloc_to_the_application():
    """generate() changes no process-wide setting; the m2m100 command tunes malloc when it starts."""
    env = {k: v for k, v in os.environ.items() if k != "M2M100_TUNE_MALLOC"}
    out = subprocess.run([sys.executable, "-c", LIBRARY_THEN_CLI], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["None", "True"]
