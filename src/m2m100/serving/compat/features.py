"""The controls the compatible APIs hand to the Translator but this server does not offer yet:
each is one function, so that offering it is a change to that function alone. Until then each
raises :class:`Unavailable`, which every API answers in its own error shape (a 400)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from m2m100.serving.service import Service, ServiceFailure


class Unavailable(ServiceFailure):
    """A feature this server does not offer."""

    def __init__(self, detail: str) -> None:
        super().__init__(400, "unavailable", detail)


@dataclass(frozen=True)
class Detected:
    """A text's language as the model spells it, and how sure the detector is (0 to 1)."""

    code: str
    confidence: float


async def detect_languages(service: Service, texts: Sequence[str]) -> list[Detected]:
    """The language of each text (``source="auto"``, LibreTranslate's ``/detect``, DeepL without
    ``source_lang``).

    Raises:
        Unavailable: always, for now: this server does not detect languages.
    """
    raise Unavailable("language detection is not available on this server: give the source language")


async def translate_alternatives(
    service: Service, texts: Sequence[str], src: str, tgt: str, count: int
) -> list[list[str]]:
    """``count`` other translations of each text, best first (LibreTranslate's ``alternatives``).

    Raises:
        Unavailable: always, for now: this server gives one translation per text.
    """
    raise Unavailable("alternatives are not available on this server: send alternatives=0 or leave it out")
