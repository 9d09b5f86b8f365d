"""Source-language detection in the service: ``"src": "auto"`` in ``POST /translate`` and
``POST /detect``.

A request's texts are detected together (:meth:`m2m100.translator.Translator.detect`, off the
event loop and off the model's thread, as py3langid needs no model), then each text goes to the
batcher with its detected source (texts of one source as one job, so that they batch as any
request does), or comes back unchanged: detected in the target language, or detected with less
confidence than ``min_confidence`` and no ``fallback_src``.

``POST /detect``: ``{"texts": [...]}`` -> ``[{"language", "confidence"}]``, the model's code of
each text's language (None when the model has none for it) and the detector's probability, 0..1
(LibreTranslate answers 0-100), within the same ``max_texts``/``max_chars`` limits as
``/translate``. Without py3langid both answer 501 ``detection_unavailable`` naming
``pip install 'm2m100[detect]'``.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoint's annotations.
import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from types import SimpleNamespace
from typing import Any

from m2m100.languages.detection import AUTO, AutoSource, Detection
from m2m100.translator import Translation, Translator, text_problem

PATH = "/detect"


@functools.cache
def schemas() -> Any:
    """The request and answer models of the detection fields (built on first use)."""
    from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

    class DetectRequest(BaseModel):
        model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"texts": ["Bonjour.", "Hallo."]}]})
        texts: list[StrictStr] = Field(description="the texts whose languages to detect")

        @field_validator("texts")
        @classmethod
        def _valid_unicode(cls, texts: list[str]) -> list[str]:
            for index, text in enumerate(texts):
                problem = text_problem(text)
                if problem is not None:
                    raise ValueError(f"texts[{index}]: {problem}")
            return texts

    class DetectedLanguage(BaseModel):
        language: str | None = Field(description="the model's code of the text's language; null when it has none")
        confidence: float = Field(description="the detector's probability, 0..1")

    class SourceDetection(DetectedLanguage):
        src: str | None = Field(description="the source the text was translated from; null: returned unchanged")

    return SimpleNamespace(
        DetectRequest=DetectRequest, DetectedLanguage=DetectedLanguage, SourceDetection=SourceDetection
    )


async def detect(translator: Translator, texts: Sequence[str], error: Callable[..., Exception]) -> list[Detection]:
    """Detect ``texts`` on a thread; 501 ``detection_unavailable`` without py3langid."""
    try:
        return await asyncio.to_thread(translator.detect, list(texts))
    except ImportError as err:
        raise error(501, "detection_unavailable", str(err)) from err


async def translate_auto(
    translator: Translator,
    texts: Sequence[str],
    tgt: str,
    options: AutoSource,
    submit: Callable[[list[str], str], Awaitable[list[Translation]]],
    error: Callable[..., Exception],
) -> tuple[list[Translation], list[dict[str, Any]]]:
    """Translate ``texts`` from their detected languages into ``tgt``.

    Args:
        tgt: the model's code of the target.
        options: what an untrusted detection and text in the target language become.
        submit: queues texts of one source for the model, returns their translations.

    Returns:
        The texts' translations (a text passed through is its own translation, from its detected
        language), and per text its detection: ``{"language", "confidence", "src"}``.
    """
    found = await detect(translator, texts, error)
    sources = [options.source(d, tgt) for d in found]
    groups: dict[str, list[int]] = {}
    for index, src in enumerate(sources):
        if src is not None:
            groups.setdefault(src, []).append(index)
    done = await asyncio.gather(*(submit([texts[i] for i in indices], src) for src, indices in groups.items()))
    out = [
        Translation(text, d.code or AUTO, tgt, detected=d.code, confidence=d.confidence)
        for text, d in zip(texts, found)
    ]
    for indices, translations in zip(groups.values(), done):
        for index, translation in zip(indices, translations):
            out[index] = translation
    report = [{"language": d.code, "confidence": round(d.confidence, 4), "src": src} for d, src in zip(found, sources)]
    return out, report


def auto_options(body: Any, translator: Translator, error: Callable[..., Exception]) -> AutoSource:
    """The request's ``min_confidence``, ``fallback_src`` (the model's code) and
    ``translate_same_language``; 422 ``unknown_language`` for a fallback the model lacks."""
    fallback = None
    if body.fallback_src is not None:
        try:
            fallback = translator.resolve_language(body.fallback_src)
        except ValueError as message:
            raise error(422, "unknown_language", f"fallback_src: {message}", valid=translator.languages) from None
    kwargs = {} if body.min_confidence is None else {"min_confidence": body.min_confidence}
    return AutoSource(fallback_src=fallback, translate_same_language=body.translate_same_language, **kwargs)


def register(app: Any, *, ready: Callable[[], Translator], settings: Any, error: Callable[..., Exception]) -> None:
    """Add ``POST /detect`` to ``app``.

    Args:
        ready: the Translator, or raises the service's 503.
        settings: the service's settings (max_texts, max_chars).
        error: the service's error: ``error(status, kind, detail, **extra)``.
    """
    models = schemas()

    @app.post(
        PATH,
        response_model=list[models.DetectedLanguage],  # type: ignore[name-defined]  # a class made at run time
        responses={
            413: {"description": "too many texts or characters"},
            501: {"description": "the server has no language detector (pip install 'm2m100[detect]')"},
            503: {"description": "the model is loading"},
        },
    )
    async def detect_languages(body: models.DetectRequest) -> list[dict[str, Any]]:  # type: ignore[name-defined]
        """The language of each text, among the model's, with the detector's confidence."""
        translator = ready()
        if len(body.texts) > settings.max_texts:
            raise error(413, "too_many_texts", f"{len(body.texts)} texts; at most {settings.max_texts} a request")
        chars = sum(len(t) for t in body.texts)
        if chars > settings.max_chars:
            raise error(413, "too_many_chars", f"{chars} characters; at most {settings.max_chars} a request")
        found = await detect(translator, body.texts, error)
        return [{"language": d.code, "confidence": round(d.confidence, 4)} for d in found]
