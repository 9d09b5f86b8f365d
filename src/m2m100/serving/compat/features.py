"""Language detection as the compatible APIs use it: LibreTranslate's ``source: "auto"`` and
``/detect``, DeepL without ``source_lang``. Both APIs translate from the detector's best guess,
however unsure, so a text is returned unchanged only when its language is not one of the model's
or is already the target language (:class:`~m2m100.languages.detection.AutoSource` with no
confidence threshold)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from m2m100.languages.detection import AutoSource, Detection
from m2m100.serving.service import Service, ServiceFailure

BEST_GUESS = AutoSource(min_confidence=0.0)


async def detect_languages(service: Service, texts: Sequence[str]) -> list[Detection]:
    """Each text's language among the model's, detected off the event loop and off the model's
    thread (the detector needs no model).

    Raises:
        ServiceFailure: 501 ``detection_unavailable`` without py3langid, naming the extra.
    """
    translator = service.translator()
    try:
        return await asyncio.to_thread(translator.detect, list(texts))
    except ImportError as err:
        raise ServiceFailure(501, "detection_unavailable", str(err)) from err


def detected_sources(detections: Sequence[Detection], tgt: str) -> list[str | None]:
    """The source to translate each text from (the model's code), or None to return it
    unchanged: a language the model lacks, or the target language itself."""
    return [BEST_GUESS.source(d, tgt) for d in detections]
