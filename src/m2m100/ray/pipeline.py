"""Ray Data pipelines around :class:`~m2m100.ray.actor.BatchTranslator`.

* :func:`translate_dataset`: the translation stage, an actor pool over any Dataset with a
  ``text`` column;
* :func:`dataset_from_blocks`: a Dataset made of row blocks that the driver reads itself (the
  command line's way: its own line parser, so that every line reads as the single-process
  command reads it), one object in the object store per block;
* :func:`translate_files`: the whole pipeline from files with Ray Data's readers, read on the
  workers (the files must be where every node can read them).

Ray Data runs blocks in any order and, when an actor dies, runs its blocks again; rows keep their
place through a row-number column that the caller reorders by (the command line does).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import ray
import ray.data

from m2m100.ray.actor import BatchTranslator

FORMATS = ("text", "jsonl", "parquet")


def translate_dataset(
    dataset: ray.data.Dataset,
    *,
    workers: int = 1,
    cpus_per_worker: float = 1,
    gpus_per_worker: float = 0,
    batch_size: int | None = None,
    **options: Any,
) -> ray.data.Dataset:
    """Add the translation stage to ``dataset``: a pool of ``workers`` actors, each with one model.

    Args:
        dataset: rows with a ``text`` column, optionally ``src``/``tgt`` (and any others, kept).
        workers: actors of the pool (each loads the model once).
        cpus_per_worker: CPUs Ray reserves for each actor; its torch threads.
        gpus_per_worker: GPUs of each actor (0: CPU; 0.5: two actors share one GPU).
        batch_size: rows per call of an actor (None: a whole block); the Translator packs each
            call's rows into model batches by its token budget.
        options: the arguments of :class:`BatchTranslator` (model, src, tgt, device, dtype,
            quantize, max_batch_tokens, beam_size, max_new_tokens ...).

    Returns:
        The lazy Dataset, with the translation columns of :meth:`BatchTranslator.__call__`.

    Raises:
        ValueError: a pool size or resource below its minimum.
    """
    if workers < 1 or cpus_per_worker <= 0 or gpus_per_worker < 0:
        raise ValueError(
            f"workers must be at least 1, cpus_per_worker above 0 and gpus_per_worker at least 0, "
            f"got {workers}, {cpus_per_worker} and {gpus_per_worker}"
        )
    return dataset.map_batches(
        BatchTranslator,
        fn_constructor_kwargs=options,
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=cpus_per_worker,
        num_gpus=gpus_per_worker or None,
        batch_size=batch_size,
        batch_format="numpy",
    )


def dataset_from_blocks(blocks: Iterable[pa.Table | Mapping[str, Sequence[Any]]]) -> ray.data.Dataset:
    """A Dataset of the driver's row blocks (Arrow tables, or column name -> values), each put
    into the object store as it comes, so that the driver holds one block at a time whatever the
    input's size. Give the tables one schema: Ray Data joins the blocks' types.

    Raises:
        ValueError: no block (Ray Data has no empty Dataset of unknown columns).
    """
    refs: list[Any] = [ray.put(block if isinstance(block, pa.Table) else pa.table(dict(block))) for block in blocks]
    if not refs:
        raise ValueError("no rows to translate")
    return ray.data.from_arrow_refs(refs)


def translate_files(
    paths: str | Sequence[str],
    *,
    input_format: str = "text",
    workers: int = 1,
    cpus_per_worker: float = 1,
    gpus_per_worker: float = 0,
    batch_size: int | None = None,
    **options: Any,
) -> ray.data.Dataset:
    """The whole pipeline from files: read with Ray Data, translate on an actor pool.

    Text files are one row a line (Ray's ``read_text``: lines split by ``str.splitlines``, none
    dropped), JSONL files one object a line with ``text`` and optional ``src``/``tgt``/``id``
    (``read_json``), Parquet files a ``text`` column and optional others. Files and folders
    are read by the workers, so they must be on storage every node reads (a shared filesystem,
    S3, GCS ...). Write the result with the Dataset's writers; to keep the input order, set
    ``ray.data.DataContext.get_current().execution_options.preserve_order = True`` first.

    Args:
        paths: files or folders.
        input_format: "text", "jsonl" or "parquet".
        workers, cpus_per_worker, gpus_per_worker, batch_size, options: as for :func:`translate_dataset`.

    Returns:
        The lazy Dataset: the input's columns plus ``translation`` and the direction of each row.

    Raises:
        ValueError: an unknown ``input_format``.
    """
    paths = paths if isinstance(paths, str) else list(paths)
    if input_format == "text":
        dataset = ray.data.read_text(paths, drop_empty_lines=False)
    elif input_format == "jsonl":
        dataset = ray.data.read_json(paths, lines=True)
    elif input_format == "parquet":
        dataset = ray.data.read_parquet(paths)
    else:
        raise ValueError(f"input_format must be one of {', '.join(FORMATS)}, got {input_format!r}")
    return translate_dataset(
        dataset,
        workers=workers,
        cpus_per_worker=cpus_per_worker,
        gpus_per_worker=gpus_per_worker,
        batch_size=batch_size,
        **options,
    )
