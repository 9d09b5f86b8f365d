"""The output controls on the server: what they add to a ``/translate`` answer, what they cost,
and ``POST /score`` (the log-probability of given translations, ``Translator.score``).

Scoring runs on the model's worker thread (between translation batches, never beside one), within
the request limits of translation (``max_texts`` pairs, ``max_chars`` characters) and a token
budget per model call lowered so that its logits (tokens x vocabulary, float32, twice) fit the
server's memory budget.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from m2m100.translator import Translation, Translator

PATH = "/score"


def controlled_beams(beam_size: int | None, alternatives: int, default: int) -> int:
    """Beam rows per text that the cost estimate counts: n alternatives take at most n searches
    of the request's beams (after a prefix) or one of n beams (the n-best)."""
    return (beam_size or default) * max(1, alternatives)


def control_fields(translations: Sequence[Translation], *, scores: bool) -> dict[str, Any]:
    """The answer's ``unknowns`` and, when asked, ``scores`` and ``alternatives``."""
    fields: dict[str, Any] = {"unknowns": [t.unknowns for t in translations]}
    if scores:
        fields["scores"] = [t.score if t.score is not None else 0.0 for t in translations]
    if any(t.alternatives for t in translations):
        fields["alternatives"] = [[{"text": a.text, "score": a.score} for a in t.alternatives] for t in translations]
    return fields


def scoring_budget(translator: Translator, memory_bytes: int) -> int:
    """Tokens per scoring call: the Translator's budget, or fewer when their logits would not fit."""
    per_token = 2 * 4 * translator.model.config.vocab_size
    return max(1, min(translator.max_batch_tokens, memory_bytes // per_token))


def register(
    app: Any, *, ready: Callable[[], Translator], state: Any, settings: Any, error: Callable[..., Exception]
) -> None:
    """Add ``POST /score`` to ``app`` (``error(status, kind, detail, **extra)`` is the service's error)."""
    from pydantic import BaseModel, ConfigDict, Field, StrictStr

    class ScoreRequest(BaseModel):
        model_config = ConfigDict(
            extra="forbid",
            json_schema_extra={
                "examples": [{"sources": ["forty two"], "targets": ["quarante-deux"], "src": "en", "tgt": "fr"}]
            },
        )
        sources: list[StrictStr] = Field(description="source texts")
        targets: list[StrictStr] = Field(description="one translation per source, to score")
        src: StrictStr
        tgt: StrictStr

    async def score(body: ScoreRequest) -> dict[str, Any]:
        """The log-probability of each target given its source: total, normalized (per token) and
        per token."""
        translator = ready()
        if len(body.sources) != len(body.targets):
            raise error(
                422,
                "invalid_request",
                f"{len(body.sources)} sources but {len(body.targets)} targets; give one per source",
            )
        if len(body.sources) > settings.max_texts:
            raise error(413, "too_many_texts", f"{len(body.sources)} pairs; at most {settings.max_texts} a request")
        chars = sum(map(len, body.sources)) + sum(map(len, body.targets))
        if chars > settings.max_chars:
            raise error(413, "too_many_chars", f"{chars} characters; at most {settings.max_chars} a request")
        budget = scoring_budget(translator, settings.memory_budget_mib * 2**20)

        def run() -> list[Any]:
            return translator.score(body.sources, body.targets, src=body.src, tgt=body.tgt, max_batch_tokens=budget)

        try:
            scores = await asyncio.wait_for(state.batcher.on_worker(run), settings.request_timeout)
        except ValueError as err:  # an unknown language, a bad text or a pair too long: the message says which
            raise error(422, "invalid_request", str(err), valid=translator.languages) from None
        except asyncio.TimeoutError as err:
            raise error(
                504, "timeout", f"not scored within this server's limit of {settings.request_timeout:g} s"
            ) from err
        return {
            "scores": [
                {"score": s.total, "normalized": s.normalized, "tokens": s.tokens, "log_probs": s.log_probs}
                for s in scores
            ],
            "model": translator.name,
            "src": translator.resolve_language(body.src),
            "tgt": translator.resolve_language(body.tgt),
        }

    score.__annotations__["body"] = ScoreRequest  # a class made here: FastAPI reads the annotation itself
    app.post(
        PATH,
        responses={
            413: {"description": "too many pairs or characters"},
            422: {"description": "a bad field, lists of different lengths, an unknown language or a pair too long"},
        },
    )(score)
