"""The languages of the checkpoint families: codes in token order, names, scripts, and one
resolver for both spellings.

* :mod:`~m2m100.languages.m2m100_codes`: the 100 M2M100 codes (ISO 639-1, ``en``) and the 8 of
  WMT21, with their English names.
* :mod:`~m2m100.languages.flores`: the 202 NLLB-200 codes (FLORES-200, ``eng_Latn``), with
  names, scripts, the ISO 639-1 code of each, and the default code of an ISO code that names
  several (``zh`` -> ``zho_Hans``; ``zho_Hant`` and ``yue_Hant`` are its alternatives).
* :mod:`~m2m100.languages.registry`: names, "did you mean" errors, the languages a checkpoint
  declares it was trained on.
* :mod:`~m2m100.languages.resolve`: :func:`resolve_language`, the model's code for a code in
  either spelling (``en`` -> ``eng_Latn`` for NLLB, ``eng_Latn`` -> ``en`` for M2M100).
* :mod:`~m2m100.languages.detection`: :class:`LanguageDetector`, which language a text is in,
  among a checkpoint's (py3langid, the ``[detect]`` extra; imported when first used).
"""

from m2m100.languages.detection import Detection, LanguageDetector
from m2m100.languages.flores import ALIASES, DEFAULTS, NLLB_CODES, NLLB_ISO, NLLB_NAMES, SCRIPT_NAMES
from m2m100.languages.m2m100_codes import LANGUAGE_CODES, LANGUAGE_NAMES, M2M100_CODES, WMT21_CODES
from m2m100.languages.registry import (
    TRAINED_LANGUAGES_KEY,
    closest_codes,
    language_codes,
    language_name,
    language_script,
    trained_languages,
    unknown_language_error,
)
from m2m100.languages.resolve import candidates, iso_language, nllb_codes_for, resolve_language

__all__ = [
    "ALIASES",
    "DEFAULTS",
    "Detection",
    "LANGUAGE_CODES",
    "LANGUAGE_NAMES",
    "LanguageDetector",
    "M2M100_CODES",
    "NLLB_CODES",
    "NLLB_ISO",
    "NLLB_NAMES",
    "SCRIPT_NAMES",
    "TRAINED_LANGUAGES_KEY",
    "WMT21_CODES",
    "candidates",
    "closest_codes",
    "iso_language",
    "language_codes",
    "language_name",
    "language_script",
    "nllb_codes_for",
    "resolve_language",
    "trained_languages",
    "unknown_language_error",
]
