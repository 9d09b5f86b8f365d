"""Source-language detection for ``src="auto"``: py3langid (``pip install 'm2m100[detect]'``),
offline, its model shipped inside the package, its answers mapped to a checkpoint's codes.

py3langid answers with ISO 639-1 codes (``fr``) and, for languages without one, ISO 639-3 codes
(``arz``, ``nso``). :class:`LanguageDetector` maps each to the checkpoint's code through the
language registry (``fr`` -> ``fra_Latn`` for NLLB, ``nso`` -> ``ns`` for M2M100), restricts the
detector to the labels that map to one of the checkpoint's languages (so that Chinese is not
answered with Wu ``wuu``, which neither family has), and reports py3langid's normalized
probability as the confidence. Detector codes that are not ISO codes of the same language are
mapped by hand first (:data:`DETECTOR_KEYS`): the Wikipedia code ``als`` (Alemannic) would
otherwise be read as ISO 639-3 ``als``, Tosk Albanian (NLLB's ``als_Latn``).

The script of a language is not detected: ``zh`` is NLLB's default ``zho_Hans`` (see
:data:`m2m100.languages.DEFAULTS`), also for Traditional characters.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from m2m100.languages.resolve import resolve_language

INSTALL_HINT = "language detection (src 'auto') needs py3langid: pip install 'm2m100[detect]'"

# Detector labels that are not the ISO code of the language they name, read as this key instead
# (None: no language either model family has).
DETECTOR_KEYS: Mapping[str, str | None] = MappingProxyType(
    {
        "als": None,  # Wikipedia's code for Alemannic (ISO gsw), not ISO 639-3 als (Tosk Albanian)
        "zxx": None,  # "no linguistic content"
        "gug": "grn",  # Paraguayan Guarani: NLLB's grn_Latn
        "grc": None,  # Ancient Greek is not Modern Greek
        "hbo": None,  # nor Ancient Hebrew Modern Hebrew
    }
)


@dataclass(frozen=True)
class Detection:
    """The language detected for one text.

    Attributes:
        code: the checkpoint's code of the detected language; None when the detector answered
            a language the checkpoint does not translate, or the text is blank.
        confidence: the detector's probability of its answer, 0..1 (0.0 for a blank text).
        language: the detector's own answer (an ISO code, ``"und"`` for a blank text).
    """

    code: str | None
    confidence: float
    language: str


def model_code(label: str, languages: Sequence[str]) -> str | None:
    """The code of ``languages`` that a detector label means, or None.

    Args:
        label: an ISO 639-1 or 639-3 code as the detector gives it (``"fr"``, ``"arz"``).
        languages: the checkpoint's codes (M2M100 ISO codes or NLLB codes).

    Returns:
        A code of ``languages`` (``"fr"`` -> ``"fra_Latn"`` for NLLB), None when none means it.
    """
    key = DETECTOR_KEYS.get(label, label)
    if key is None:
        return None
    try:
        return resolve_language(key, languages)
    except ValueError:
        return None


@functools.cache
def _identifier() -> Any:
    """py3langid's identifier with normalized probabilities, loaded once per process (its model
    is read from the package, a few MB); :class:`LanguageDetector` restricts a copy of it."""
    try:
        from py3langid import langid
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    return langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE, norm_probs=True)


class LanguageDetector:
    """Detect which of a checkpoint's languages texts are in.

    Args:
        languages: the checkpoint's codes (M2M100's ``en`` or NLLB's ``eng_Latn`` spelling).

    Raises:
        ImportError: py3langid is not installed (the message names ``pip install 'm2m100[detect]'``).
        ValueError: none of ``languages`` is a language the detector knows.
    """

    def __init__(self, languages: Sequence[str]) -> None:
        base = _identifier()
        self._codes: dict[str, str] = {}
        for label in base.labels:
            code = model_code(label, languages)
            if code is not None:
                self._codes[label] = code
        if not self._codes:
            raise ValueError(f"none of the model's languages is one the detector knows: {', '.join(languages)}")
        # A restricted copy, so that detectors of different checkpoints do not share a restriction.
        self._identifier = copy.copy(base)
        self._identifier.set_languages(list(self._codes))

    @property
    def labels(self) -> list[str]:
        """The detector's labels it chooses among (those that map to the checkpoint's codes)."""
        return list(self._codes)

    def detect(self, texts: Sequence[str]) -> list[Detection]:
        """Detect the language of each text, in order.

        Args:
            texts: the texts; a blank one gets ``Detection(None, 0.0, "und")``.

        Returns:
            One :class:`Detection` per text.
        """
        found: list[Detection] = []
        for text in texts:
            if not text.strip():
                found.append(Detection(None, 0.0, "und"))
                continue
            label, confidence = self._identifier.classify(text)
            found.append(Detection(self._codes.get(label), min(1.0, max(0.0, float(confidence))), label))
        return found


AUTO = "auto"

# Below this confidence a detection is not trusted (AutoSource.min_confidence's default). On the
# bench's interface messages (bench/bench_detection.py) it trusts 92% of the lines, 97.7% of them
# rightly (95.2% of all lines are detected right); 0.7 trusts 82% at 99.7%.
DEFAULT_MIN_CONFIDENCE = 0.5


@dataclass(frozen=True)
class AutoSource:
    """What ``src="auto"`` does with a detection.

    Attributes:
        min_confidence: detections below this (0..1) are not trusted.
        fallback_src: the source of an untrusted detection (the checkpoint's code); None passes
            such a text through unchanged.
        translate_same_language: translate a text detected in the target language too (False
            passes it through unchanged).
    """

    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    fallback_src: str | None = None
    translate_same_language: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be between 0 and 1, got {self.min_confidence!r}")

    def trusted(self, detection: Detection) -> bool:
        """Whether ``detection`` names a language of the checkpoint with enough confidence."""
        return detection.code is not None and detection.confidence >= self.min_confidence

    def source(self, detection: Detection, tgt: str) -> str | None:
        """The source to translate a text from, or None to pass it through unchanged.

        Args:
            detection: the text's detection.
            tgt: the checkpoint's code of the target language.
        """
        if not self.trusted(detection):
            return self.fallback_src
        if detection.code == tgt and not self.translate_same_language:
            return None
        return detection.code
