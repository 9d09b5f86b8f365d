"""Batch translation on a Ray cluster with Ray Data (``pip install 'm2m100[ray]'``).

* ``actor``: :class:`BatchTranslator`, the callable class of ``Dataset.map_batches``, one loaded
  model per actor;
* ``pipeline``: :func:`translate_dataset` (the actor-pool stage), :func:`dataset_from_blocks`
  (rows the driver reads) and :func:`translate_files` (the whole pipeline from files);
* ``cluster``: :func:`connect`, to start a local cluster or join one.

The core never imports this package; ``m2m100 translate --ray`` (``cli/ray_translate.py``) does.
Ray is imported here by its absolute name, so ``import ray`` means the Ray package, never this one.
"""

from __future__ import annotations

try:
    import ray  # noqa: F401
    import ray.data  # noqa: F401
except ImportError as err:  # one line that says what to install, not Ray's traceback
    raise ImportError(f"m2m100.ray needs Ray Data ({err.name} is not installed): pip install 'm2m100[ray]'") from err

from m2m100.ray.actor import BatchTranslator  # noqa: E402
from m2m100.ray.cluster import connect  # noqa: E402
from m2m100.ray.pipeline import dataset_from_blocks, translate_dataset, translate_files  # noqa: E402

__all__ = ["BatchTranslator", "connect", "dataset_from_blocks", "translate_dataset", "translate_files"]
