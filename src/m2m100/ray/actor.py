"""The callable class of ``Dataset.map_batches``: one loaded model per Ray actor.

Ray Data builds one :class:`BatchTranslator` per actor of the pool (``__init__`` loads the model
once) and calls it with each batch of rows, a dict of column name to numpy array. The batch goes
through :meth:`Translator.translate_segments`, so a batch is sorted and packed by the token
budget like any other input, and comes back with the translation (and every other field of
:class:`~m2m100.translator.Translation`) as new columns; the columns it came with (an ``id``, a
row number) go through untouched.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

import numpy as np
import ray
import torch

from m2m100.runtime import tune_malloc
from m2m100.translator import DEFAULT_MAX_BATCH_TOKENS, Segment, Translation, Translator

logger = logging.getLogger(__name__)

# The fields of a Translation besides its text, each returned as a column of the same name.
RESULT_FIELDS = tuple(f.name for f in dataclasses.fields(Translation) if f.name != "text")


class BatchTranslator:
    """Translate the ``text`` column of a Ray Data batch; made once per actor by ``map_batches``.

    Rows may carry their own direction in ``src``/``tgt`` columns (a missing column, or a null
    value, takes the ``src``/``tgt`` given here), so one batch may mix directions.

    Args:
        model: checkpoint folder or hub id, as :class:`~m2m100.translator.Translator` takes it
            (None: the bundled demo model). A folder must be readable on every node.
        src: source language of the rows without a ``src`` value.
        tgt: target language of the rows without a ``tgt`` value.
        device: "cpu", "cuda" ... (default: CUDA when the actor has a GPU, else CPU).
        dtype: weight dtype ("float32", "float16", "bfloat16", "auto").
        quantize: "int8" for int8 linear layers on CPU.
        attn_implementation: the model's attention backend (default: the model's choice).
        max_batch_tokens: source tokens (padded) of one model call: the Translator's budget.
        beam_size: beams of the search (default: the checkpoint's generation config).
        max_new_tokens: longest translation in tokens (default: the Translator's, from each
            input's own length).
        num_threads: torch threads of the actor (default: the CPUs Ray assigned to it, so that
            actors sharing a node do not oversubscribe its cores). In an actor, malloc is also
            tuned as the ``m2m100`` command tunes it (:func:`m2m100.runtime.tune_malloc`).
        text_column: the column to translate.
        output_column: the column the translations go to.
        generate_kwargs: any other option of ``generate`` (length_penalty, no_repeat_ngram_size ...).

    Raises:
        ValueError: an unknown ``src``/``tgt`` or a setting out of range (when the actor starts).
        FileNotFoundError: the model folder or one of its files is missing.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        src: str | None = None,
        tgt: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        quantize: str | None = None,
        attn_implementation: str | None = None,
        max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
        beam_size: int | None = None,
        max_new_tokens: int | None = None,
        num_threads: int | None = None,
        text_column: str = "text",
        output_column: str = "translation",
        generate_kwargs: dict[str, Any] | None = None,
    ) -> None:
        threads = num_threads if num_threads is not None else assigned_cpus()
        if threads is not None:
            torch.set_num_threads(threads)
        if in_actor():
            tune_malloc()  # an actor's process exists for this model: the application's choice is ours
        self.translator = Translator(
            model,
            device=device,
            dtype=dtype,
            quantize=quantize,
            attn_implementation=attn_implementation,
            max_batch_tokens=max_batch_tokens,
        )
        for code in (src, tgt):
            if code is not None:
                self.translator.check_language(code)
        self.src, self.tgt = src, tgt
        self.text_column, self.output_column = text_column, output_column
        self.options: dict[str, Any] = dict(generate_kwargs or {}, beam_size=beam_size, max_new_tokens=max_new_tokens)
        logger.info("actor %d: %s on %s, %d torch threads", os.getpid(), model, device, torch.get_num_threads())

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Translate one batch.

        Args:
            batch: columns of equal length: ``text`` (strings), optionally ``src``/``tgt``
                (language codes or nulls), and any others, which are returned as they came.

        Returns:
            The batch with ``translation`` (or ``output_column``) and one column per other field
            of a Translation (``src``, ``tgt`` ...: the direction each row was translated in).

        Raises:
            ValueError: no text column, a row whose text is not a string, a row with no direction,
                or an unknown language code ("row 3: ...", counted within the batch).
        """
        if self.text_column not in batch:
            raise ValueError(f"the batch has no {self.text_column!r} column (columns: {', '.join(batch)})")
        texts = batch[self.text_column]
        srcs = _column(batch, "src", len(texts))
        tgts = _column(batch, "tgt", len(texts))
        segments = []
        for row, (text, src, tgt) in enumerate(zip(texts, srcs, tgts)):
            if not isinstance(text, str):
                raise ValueError(f"row {row}: {self.text_column!r} must be a string, got {text!r}")
            src, tgt = src if src is not None else self.src, tgt if tgt is not None else self.tgt
            if src is None or tgt is None:
                raise ValueError(f"row {row}: no src/tgt value in the row, and no src=/tgt= given to BatchTranslator")
            segments.append(Segment(text, str(src), str(tgt)))
        results = list(self.translator.translate_segments(segments, **self.options))
        out = dict(batch)
        out[self.output_column] = _strings([r.text for r in results])
        for name in RESULT_FIELDS:
            out[name] = _strings([getattr(r, name) for r in results])
        return out


def assigned_cpus() -> int | None:
    """The CPUs Ray assigned to the calling actor or task (at least 1), or None outside Ray."""
    if not ray.is_initialized():
        return None
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
    return None if cpus is None else max(1, int(cpus))


def in_actor() -> bool:
    """Whether the caller runs in a Ray actor (not in a driver, nor outside Ray)."""
    return ray.is_initialized() and ray.get_runtime_context().get_actor_id() is not None


def _column(batch: dict[str, np.ndarray], name: str, length: int) -> list[Any]:
    """A column's values with nulls as None (a missing column: all None)."""
    if name not in batch:
        return [None] * length
    return [None if value is None or (isinstance(value, float) and np.isnan(value)) else value for value in batch[name]]


def _strings(values: list[Any]) -> np.ndarray:
    """An object array, so that numpy keeps each string whole (no fixed-width unicode dtype)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array
