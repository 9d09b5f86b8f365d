"""Keep decoding's large per-step buffers in the process instead of handing them back to the OS.

A beam step on CPU allocates several buffers of tens of megabytes and frees them a moment later:
the (rows, 128,112) logits, their log-probabilities, topk's work space. glibc serves blocks that
large with ``mmap`` and unmaps them on ``free`` (or trims the heap they came from), so the next
step page-faults the same memory in again. On the 2-core machines of bench/ that was 15-25% of an
int8 beam search of 16 inputs x 4 beams. CTranslate2 avoids it with its own caching allocator;
PyTorch's CPU allocator is plain ``malloc``, so the remedy here is glibc's own knobs: serve blocks
up to 256 MiB from the heap and keep up to 1 GiB of freed heap for reuse.

The setting is process-wide and changes nothing but where freed memory waits, so it belongs to
the application, not to a library call: the ``m2m100`` command (and so its server) and the
benchmarks apply it at start; a program that embeds the library calls :func:`tune_malloc` itself.
``M2M100_TUNE_MALLOC=0`` in the environment leaves malloc alone, and elsewhere than glibc (musl,
macOS, Windows) nothing happens.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform

logger = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 256 << 20
TRIM_THRESHOLD_BYTES = 1 << 30

_tuned: bool | None = None


def tune_malloc() -> bool:
    """Raise glibc's mmap and trim thresholds (once per process).

    Returns:
        Whether the thresholds are now raised: False on other C libraries or when
        ``M2M100_TUNE_MALLOC=0``.
    """
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if os.environ.get("M2M100_TUNE_MALLOC", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
        ok = libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1 and ok
    except (OSError, AttributeError) as err:
        logger.debug("malloc left alone: %s", err)
        return False
    _tuned = ok
    logger.debug("glibc malloc thresholds raised: %s", ok)
    return ok
