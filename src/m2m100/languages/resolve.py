"""One language, either spelling: ISO codes (``en``, ``zh-Hant``, ``fra``) and NLLB codes
(``eng_Latn``) resolved to the code a loaded model uses.

M2M100 checkpoints name their languages with ISO 639-1 codes (``en``), NLLB checkpoints with
FLORES-200 codes (``eng_Latn``). :func:`resolve_language` takes either for either model and
returns the model's own code: an NLLB model given ``en`` uses ``eng_Latn``, an M2M100 model given
``eng_Latn`` uses ``en``. A code the model has is used as it is; otherwise the code is read as a
language key (ISO 639-1, ISO 639-2/B, ISO 639-3, or an NLLB code) with an optional ISO 15924 script
subtag (``zh-Hant``, ``zh_Hant``), and the key's codes are tried in order: the default first
(:data:`m2m100.languages.flores.DEFAULTS`), then the alternatives. Names ("french") and region
subtags ("fr_FR", "pt-BR") are not guessed at: they get the "did you mean" error; Chinese's are
the exception, as they are how a script is usually asked for (``zh-CN``, ``zh-SG``: Simplified;
``zh-TW``, ``zh-HK``, ``zh-MO``: Traditional).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from m2m100.languages.flores import ALIASES, DEFAULTS, MACROLANGUAGES, NLLB_CODES, NLLB_ISO
from m2m100.languages.registry import unknown_language_error

_KEY = re.compile(r"([A-Za-z]{2,3})(?:[-_]([A-Za-z]{4}|[A-Za-z]{2}))?")
# The Chinese region subtags, by the script they stand for.
_CHINESE_REGIONS = {"CN": "Hans", "SG": "Hans", "TW": "Hant", "HK": "Hant", "MO": "Hant"}


@functools.cache
def _groups() -> dict[str, tuple[str, ...]]:
    """Language key -> its NLLB codes, the default first: ISO 639-1 codes (``zh``), ISO 639-3
    codes (the part before ``_``: ``zho``, ``arz``) and macrolanguages (``no``)."""
    groups: dict[str, list[str]] = {}
    for code in NLLB_CODES:
        keys = [code.partition("_")[0]] + ([NLLB_ISO[code]] if code in NLLB_ISO else [])
        for key in keys:
            groups.setdefault(key, []).append(code)
    for key, codes in MACROLANGUAGES.items():
        groups[key] = list(codes)
    for key, preferred in DEFAULTS.items():
        groups[key] = list(preferred) + [c for c in groups[key] if c not in preferred]
    return {key: tuple(codes) for key, codes in groups.items()}


@functools.cache
def _keys_of(code: str) -> tuple[str, ...]:
    """The language keys an NLLB code answers to, ISO 639-1 first (``nob_Latn``: nb, no, nob),
    with the spellings that alias them (``nso_Latn``: nso, ns)."""
    keys = [key for key, codes in _groups().items() if code in codes]
    keys.sort(key=lambda k: (len(k) != 2, k not in (NLLB_ISO.get(code),)))
    keys += [alias for alias, key in ALIASES.items() if key in keys]
    return tuple(keys)


def candidates(code: str) -> list[str]:
    """The codes ``code`` may stand for, best first: itself, then the NLLB codes of its language
    key (the default first, only those of its script subtag when it has one), then the ISO codes
    of those (for models with ISO codes).

    Args:
        code: What the user typed, e.g. ``"zh-Hant"``.

    Returns:
        Candidate codes, without repeats; ``[code]`` alone when it is not a language key.
    """
    found = [code]
    match = _KEY.fullmatch(code.strip()) if isinstance(code, str) else None
    if match is not None:
        lang, script = match.group(1).lower(), match.group(2)
        keys = [lang] + ([ALIASES[lang]] if lang in ALIASES else [])
        if script is not None and len(script) == 2:  # a region: only Chinese's name a script
            script = _CHINESE_REGIONS.get(script.upper()) if "zh" in keys or "zho" in keys else None
            if script is None:
                return found
        nllb = [c for key in keys for c in _groups().get(key, ())]
        if script is not None:
            nllb = [c for c in nllb if c.endswith("_" + script.title())]
        found += nllb + keys + [key for c in nllb for key in _keys_of(c)]
    return list(dict.fromkeys(found))


def resolve_language(code: str, model_codes: Sequence[str]) -> str:
    """Return the code of ``model_codes`` that ``code`` means: ``code`` itself when the model has
    it, else the model's code for the same language in the other spelling.

    Examples, for an NLLB model: ``en`` -> ``eng_Latn``, ``zh`` -> ``zho_Hans`` (the default;
    ``zh-Hant`` -> ``zho_Hant``), ``ar`` -> ``arb_Arab``, ``fra`` -> ``fra_Latn``,
    ``ENG_LATN`` -> ``eng_Latn``; for an M2M100 model: ``eng_Latn`` -> ``en``, ``zho_Hant`` ->
    ``zh``, ``arz_Arab`` -> ``ar``, ``nso_Latn`` -> ``ns``, ``nob_Latn`` -> ``no``.

    Args:
        code: A language code in either spelling.
        model_codes: The codes the loaded model translates (its tokenizer's, or those its
            config declares).

    Returns:
        A code of ``model_codes``.

    Raises:
        ValueError: No code of the model means ``code``; the message suggests the closest codes
            and lists the valid ones ("Unknown language code 'xx'. Did you mean ...").
    """
    if code in model_codes:
        return code
    by_lower = {c.lower(): c for c in model_codes}
    for candidate in candidates(code):
        if candidate.lower() in by_lower:
            return by_lower[candidate.lower()]
    raise unknown_language_error(code, list(model_codes))


def nllb_codes_for(key: str) -> tuple[str, ...]:
    """The NLLB codes an ISO (or NLLB) language key stands for, the default first, e.g.
    ``"zh"`` -> ``("zho_Hans", "zho_Hant", "yue_Hant")``, ``"en"`` -> ``("eng_Latn",)``.

    Args:
        key: An ISO 639-1/639-2/639-3 code, or an NLLB code (its language's codes).

    Returns:
        The codes; empty for a key NLLB has no language for (``"br"``).
    """
    return tuple(c for c in candidates(key) if c in _NLLB_SET)


def iso_language(code: str) -> str:
    """The ISO 639-1 code of a language code where there is one, else its ISO 639-3 part:
    ``"zho_Hant"`` -> ``"zh"``, ``"ast_Latn"`` -> ``"ast"``, ``"fr"`` -> ``"fr"``; what sentence
    splitters and BLEU tokenizers, which know ISO codes, are given.

    Args:
        code: An NLLB code, or an ISO code (returned as it is).

    Returns:
        The ISO code.
    """
    if code in NLLB_ISO:
        return NLLB_ISO[code]
    if code in _NLLB_SET:
        return code.partition("_")[0]
    return code


_NLLB_SET = frozenset(NLLB_CODES)
