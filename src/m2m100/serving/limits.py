"""What one request may cost the service: the longest translation it may ask for, an estimate of
its decoding work (rows x beams x new tokens) and of the memory its decoding takes, both of which
the batcher caps per batch.

The estimate is made on the event loop, before the request is queued, without the tokenizer
(which belongs to the model's worker thread): about one source token per four bytes of UTF-8, the
parts a long text is split into, and the Translator's default length limit (about twice the
source) where the request sets none.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from m2m100.config import M2M100Config
from m2m100.serving.batcher import estimated_tokens
from m2m100.translator import Translator, line_content

logger = logging.getLogger(__name__)


class TooCostly(Exception):
    """A request the service refuses for its cost: the HTTP status and error kind to answer."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.kind = status, kind


@dataclass(frozen=True)
class Cost:
    """What a request is estimated to cost: decoding work (token steps: rows x beams x new tokens)
    and the bytes its decoding allocates beyond the model's weights."""

    work: int
    memory: int


# Decoding work of a constrained search (a glossary) relative to plain search of the same shape:
# extra candidates per beam, their bank order, and no early end before the terms are met
# (bench/bench_glossary.py measures it).
CONSTRAINED_WORK = 2


@dataclass(frozen=True)
class DecodingMemory:
    """Bytes a decoding allocates, per unit of its shape, for one model and dtype.

    The terms follow what ``generate`` keeps: self-attention keys and values of every decoder
    layer for each beam row and position (twice over with beams > 1: the beam reorder writes into a
    second buffer), cross-attention keys and values per source position (one row per input, shared
    by its beams), and per beam row the step's logits over the vocabulary (three float32 copies:
    the logits, their log-softmax and the candidate scores) with the decoder step's activations;
    per source token the encoder's output and the widest activation of one encoder layer.
    """

    self_kv: int  # per beam row and decoded position (one buffer)
    cross_kv: int  # per input row and source position
    row: int  # per beam row, held once (logits and step activations)
    source: int  # per input row and source position, while encoding

    @classmethod
    def of(cls, config: M2M100Config, itemsize: int) -> DecodingMemory:
        d, layers = config.d_model, config.decoder_layers
        return cls(
            self_kv=2 * layers * d * itemsize,
            cross_kv=2 * layers * d * itemsize,
            row=3 * config.vocab_size * 4 + (config.decoder_ffn_dim + 4 * d) * itemsize,
            source=(config.encoder_ffn_dim + 4 * d) * itemsize,
        )

    def of_call(self, rows: int, beams: int, source: int, new: int) -> int:
        """Bytes for ``rows`` inputs of ``source`` tokens, ``beams`` beams, ``new`` new tokens (the
        self-attention buffers never outgrow the positions a sequence can reach: decoder start,
        target language token and ``new``)."""
        positions = new + 2
        self_kv = rows * beams * positions * self.self_kv * (2 if beams > 1 else 1)
        return self_kv + rows * source * (self.cross_kv + self.source) + rows * beams * self.row


@dataclass(frozen=True)
class RequestLimits:
    """The limits that depend on the loaded model."""

    max_new_tokens: int  # the longest translation a request may ask for
    source_tokens: int  # source tokens the model takes at once; a longer text is split into parts
    beams: int  # the checkpoint's beam size, for requests that set none
    memory: DecodingMemory  # bytes per unit of a decoding's shape, for the memory estimate

    @classmethod
    def of(cls, translator: Translator, max_new_tokens_limit: int | None) -> RequestLimits:
        """The limits for ``translator``; ``max_new_tokens_limit`` (the ``--max-new-tokens-limit``
        flag) defaults to the model's positions less the two the decoder start and the target
        language token take."""
        positions = translator.model.config.max_position_embeddings - 2
        if max_new_tokens_limit is not None and max_new_tokens_limit > positions:
            logger.warning(
                "--max-new-tokens-limit %d is over the %d tokens the model was trained to generate",
                max_new_tokens_limit,
                positions,
            )
        generation = translator.model.generation_config
        itemsize = torch.empty((), dtype=translator.model.dtype).element_size()  # of activations and caches
        return cls(
            max_new_tokens=positions if max_new_tokens_limit is None else max_new_tokens_limit,
            source_tokens=translator.max_source_tokens,
            beams=generation.num_beams if generation is not None else 1,
            memory=DecodingMemory.of(translator.model.config, itemsize),
        )

    def check(
        self,
        texts: Sequence[str],
        beam_size: int | None,
        max_new_tokens: int | None,
        *,
        max_work: int,
        max_memory: int,
        constrained: bool = False,
    ) -> Cost:
        """The estimated cost of a request (see :meth:`cost`).

        Raises:
            TooCostly: 422 ``invalid_request`` for ``max_new_tokens`` over the limit, 413
                ``too_much_work`` for work over ``max_work``, 413 ``too_much_memory`` for memory
                over ``max_memory`` bytes.
        """
        if max_new_tokens is not None and max_new_tokens > self.max_new_tokens:
            raise TooCostly(
                422,
                "invalid_request",
                f"max_new_tokens: {max_new_tokens} is over this server's limit of {self.max_new_tokens} "
                "tokens; give at most that, or leave it out (default: about twice the input)",
            )
        cost = self.cost(texts, beam_size, max_new_tokens, constrained=constrained)
        shape = (
            f"{len(texts)} texts x {beam_size or self.beams} beams x max_new_tokens "
            f"{max_new_tokens or 'default (about twice the input)'}"
            + (f" x {CONSTRAINED_WORK} (glossary)" if constrained else "")
        )
        if cost.work > max_work:
            raise TooCostly(
                413,
                "too_much_work",
                f"{shape} make about {cost.work} token steps; "
                f"at most {max_work} a request: send fewer texts, fewer beams or fewer tokens",
            )
        if cost.memory > max_memory:
            raise TooCostly(
                413,
                "too_much_memory",
                f"{shape} need about {cost.memory / 2**20:.1f} MiB to decode; this server's memory budget "
                f"is {max_memory / 2**20:.0f} MiB a batch: send fewer texts, fewer beams or fewer tokens",
            )
        return cost

    def cost(
        self, texts: Sequence[str], beam_size: int | None, max_new_tokens: int | None, *, constrained: bool = False
    ) -> Cost:
        """Estimated decoding work and memory of a request: for each part of each text, beams x new
        tokens, and the bytes of decoding it (a blank text costs nothing: the Translator skips
        it); a ``constrained`` search (a glossary) counts :data:`CONSTRAINED_WORK` times the work.
        The memory is an upper bound for the request decoded alone in one model call; the
        Translator's token budget may split it into several calls, which then take less."""
        beams = self.beams if beam_size is None else beam_size
        work = memory = 0
        for text in texts:
            if not line_content(text).strip():
                continue
            pieces = estimated_tokens(text) - 2
            parts = max(1, math.ceil(pieces / (self.source_tokens - 2)))
            if max_new_tokens is None:  # the Translator's default: about twice the source, bucketed
                bucket = 1 << max(math.ceil(pieces / parts) + 1, 0).bit_length()
                new = min(self.max_new_tokens, 2 * bucket + 10)
            else:
                new = max_new_tokens
            work += parts * beams * new
            source = math.ceil(pieces / parts) + 2
            memory += parts * self.memory.of_call(1, beams, source, new)
        return Cost(work * (CONSTRAINED_WORK if constrained else 1), memory)
