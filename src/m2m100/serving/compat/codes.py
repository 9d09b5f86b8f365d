"""Language codes as the compatible APIs spell them, to and from the loaded model's codes (which
:func:`m2m100.languages.resolve_language` then takes in either of its spellings).

LibreTranslate uses ISO 639-1 codes with two of its own: ``zt`` (Chinese, Traditional) and ``pb``
(Portuguese, Brazil). DeepL uses upper-case ISO codes, with regional variants for targets
(``EN-GB``, ``EN-US``, ``PT-BR``, ``PT-PT``) and scripts for Chinese (``ZH-HANS``, ``ZH-HANT``): a
model translates into the language, so a variant means its language (and Chinese's its script).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from m2m100.languages import iso_language, language_name

LIBRETRANSLATE_OWN = {"zt": "zh-Hant", "pb": "pt"}
DEEPL_TARGET_VARIANTS = {
    "EN": (("EN-GB", "English (British)"), ("EN-US", "English (American)")),
    "PT": (("PT-BR", "Portuguese (Brazilian)"), ("PT-PT", "Portuguese (European)")),
}
_REGION = re.compile(r"([A-Za-z]{2,3})-([A-Za-z]{2})")


def from_libretranslate(code: str) -> str:
    """The registry's spelling of a LibreTranslate code (``zt`` -> ``zh-Hant``)."""
    return LIBRETRANSLATE_OWN.get(code.strip().lower(), code.strip())


def to_libretranslate(code: str) -> str:
    """A model code as LibreTranslate spells it (``eng_Latn`` -> ``en``, ``zho_Hant`` -> ``zt``)."""
    iso = iso_language(code)
    return "zt" if iso == "zh" and _script(code) == "Hant" else iso


def from_deepl(code: str) -> str:
    """The registry's spelling of a DeepL code: ``EN-GB`` -> ``en``, ``ZH-HANT`` -> ``zh-Hant``,
    ``DE`` -> ``de`` (a region means its language; Chinese's scripts are kept)."""
    code = code.strip()
    match = _REGION.fullmatch(code)
    if match is not None and match.group(1).lower() != "zh":
        return match.group(1).lower()
    return code.lower()


def to_deepl(code: str) -> str:
    """A model code as DeepL spells a source language (``eng_Latn`` -> ``EN``, ``zho_Hant`` ->
    ``ZH-HANT``)."""
    iso = iso_language(code).upper()
    script = _script(code) if iso == "ZH" else None
    return f"ZH-{script.upper()}" if script else iso


def _script(code: str) -> str | None:
    """The ISO 15924 subtag of an NLLB code (``zho_Hant`` -> ``Hant``), None for an ISO code."""
    return code.rpartition("_")[2] if "_" in code else None


def listed(
    model_codes: Sequence[str], spell: Callable[[str], str], read: Callable[[str], str], resolve: Callable[[str], str]
) -> list[tuple[str, str]]:
    """(API code, model code) for each model code whose API spelling leads back to it (a model
    code no API spelling reaches is listed as itself, which the APIs also take)."""
    out: dict[str, str] = {}
    for code in model_codes:
        api = spell(code)
        try:
            back = resolve(read(api))
        except ValueError:
            back = None
        out.setdefault(api if back == code else code, code)
    return list(out.items())


def name_of(code: str) -> str:
    """The English name of a model code."""
    return language_name(code, default=code)
