"""What one request may cost the service: the longest translation it may ask for, and an estimate
of its decoding work (rows x beams x new tokens), which the batcher caps per batch.

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

from m2m100.serving.batcher import estimated_tokens
from m2m100.translator import Translator, line_content

logger = logging.getLogger(__name__)


class TooCostly(Exception):
    """A request the service refuses for its cost: the HTTP status and error kind to answer."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.kind = status, kind


@dataclass(frozen=True)
class RequestLimits:
    """The limits that depend on the loaded model."""

    max_new_tokens: int  # the longest translation a request may ask for
    source_tokens: int  # source tokens the model takes at once; a longer text is split into parts
    beams: int  # the checkpoint's beam size, for requests that set none

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
        return cls(
            max_new_tokens=positions if max_new_tokens_limit is None else max_new_tokens_limit,
            source_tokens=translator.max_source_tokens,
            beams=generation.num_beams if generation is not None else 1,
        )

    def check(self, texts: Sequence[str], beam_size: int | None, max_new_tokens: int | None, *, max_work: int) -> int:
        """The estimated work of a request (see :meth:`work`).

        Raises:
            TooCostly: 422 ``invalid_request`` for ``max_new_tokens`` over the limit, 413
                ``too_much_work`` for work over ``max_work``.
        """
        if max_new_tokens is not None and max_new_tokens > self.max_new_tokens:
            raise TooCostly(
                422,
                "invalid_request",
                f"max_new_tokens: {max_new_tokens} is over this server's limit of {self.max_new_tokens} "
                "tokens; give at most that, or leave it out (default: about twice the input)",
            )
        work = self.work(texts, beam_size, max_new_tokens)
        if work > max_work:
            raise TooCostly(
                413,
                "too_much_work",
                f"{len(texts)} texts x {beam_size or self.beams} beams x max_new_tokens "
                f"{max_new_tokens or 'default (about twice the input)'} make about {work} token steps; "
                f"at most {max_work} a request: send fewer texts, fewer beams or fewer tokens",
            )
        return work

    def work(self, texts: Sequence[str], beam_size: int | None, max_new_tokens: int | None) -> int:
        """Estimated decoding work of a request: for each part of each text, beams x new tokens
        (a blank text costs nothing: the Translator skips it)."""
        beams = self.beams if beam_size is None else beam_size
        total = 0
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
            total += parts * beams * new
        return total
