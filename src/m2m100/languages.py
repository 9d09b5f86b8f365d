"""The language codes M2M100 checkpoints know, their English names, and "did you mean" help.

The order of each code list is part of the checkpoint format: the tokenizer gives the i-th code of
a list the id ``len(vocab.json) + i``, so the lists below must keep fairseq's order exactly.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

# fmt: off
M2M100_CODES: tuple[str, ...] = (
    "af", "am", "ar", "ast", "az", "ba", "be", "bg", "bn", "br", "bs", "ca", "ceb", "cs", "cy", "da",
    "de", "el", "en", "es", "et", "fa", "ff", "fi", "fr", "fy", "ga", "gd", "gl", "gu", "ha", "he",
    "hi", "hr", "ht", "hu", "hy", "id", "ig", "ilo", "is", "it", "ja", "jv", "ka", "kk", "km", "kn",
    "ko", "lb", "lg", "ln", "lo", "lt", "lv", "mg", "mk", "ml", "mn", "mr", "ms", "my", "ne", "nl",
    "no", "ns", "oc", "or", "pa", "pl", "ps", "pt", "ro", "ru", "sd", "si", "sk", "sl", "so", "sq",
    "sr", "ss", "su", "sv", "sw", "ta", "th", "tl", "tn", "tr", "uk", "ur", "uz", "vi", "wo", "xh",
    "yi", "yo", "zh", "zu",
)
WMT21_CODES: tuple[str, ...] = ("en", "ha", "is", "ja", "cs", "ru", "zh", "de")
# fmt: on

LANGUAGE_CODES: Mapping[str, tuple[str, ...]] = MappingProxyType({"m2m100": M2M100_CODES, "wmt21": WMT21_CODES})

# Names follow the M2M100 model card, shortened to the common English name.
LANGUAGE_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "af": "Afrikaans",
        "am": "Amharic",
        "ar": "Arabic",
        "ast": "Asturian",
        "az": "Azerbaijani",
        "ba": "Bashkir",
        "be": "Belarusian",
        "bg": "Bulgarian",
        "bn": "Bengali",
        "br": "Breton",
        "bs": "Bosnian",
        "ca": "Catalan",
        "ceb": "Cebuano",
        "cs": "Czech",
        "cy": "Welsh",
        "da": "Danish",
        "de": "German",
        "el": "Greek",
        "en": "English",
        "es": "Spanish",
        "et": "Estonian",
        "fa": "Persian",
        "ff": "Fulah",
        "fi": "Finnish",
        "fr": "French",
        "fy": "Western Frisian",
        "ga": "Irish",
        "gd": "Scottish Gaelic",
        "gl": "Galician",
        "gu": "Gujarati",
        "ha": "Hausa",
        "he": "Hebrew",
        "hi": "Hindi",
        "hr": "Croatian",
        "ht": "Haitian Creole",
        "hu": "Hungarian",
        "hy": "Armenian",
        "id": "Indonesian",
        "ig": "Igbo",
        "ilo": "Iloko",
        "is": "Icelandic",
        "it": "Italian",
        "ja": "Japanese",
        "jv": "Javanese",
        "ka": "Georgian",
        "kk": "Kazakh",
        "km": "Khmer",
        "kn": "Kannada",
        "ko": "Korean",
        "lb": "Luxembourgish",
        "lg": "Ganda",
        "ln": "Lingala",
        "lo": "Lao",
        "lt": "Lithuanian",
        "lv": "Latvian",
        "mg": "Malagasy",
        "mk": "Macedonian",
        "ml": "Malayalam",
        "mn": "Mongolian",
        "mr": "Marathi",
        "ms": "Malay",
        "my": "Burmese",
        "ne": "Nepali",
        "nl": "Dutch",
        "no": "Norwegian",
        "ns": "Northern Sotho",
        "oc": "Occitan",
        "or": "Oriya",
        "pa": "Punjabi",
        "pl": "Polish",
        "ps": "Pashto",
        "pt": "Portuguese",
        "ro": "Romanian",
        "ru": "Russian",
        "sd": "Sindhi",
        "si": "Sinhala",
        "sk": "Slovak",
        "sl": "Slovenian",
        "so": "Somali",
        "sq": "Albanian",
        "sr": "Serbian",
        "ss": "Swati",
        "su": "Sundanese",
        "sv": "Swedish",
        "sw": "Swahili",
        "ta": "Tamil",
        "th": "Thai",
        "tl": "Tagalog",
        "tn": "Tswana",
        "tr": "Turkish",
        "uk": "Ukrainian",
        "ur": "Urdu",
        "uz": "Uzbek",
        "vi": "Vietnamese",
        "wo": "Wolof",
        "xh": "Xhosa",
        "yi": "Yiddish",
        "yo": "Yoruba",
        "zh": "Chinese",
        "zu": "Zulu",
    }
)


def language_codes(kind: str = "m2m100") -> tuple[str, ...]:
    """Return the language codes of one checkpoint family, in token-id order.

    Args:
        kind: ``"m2m100"`` (the 100 languages of facebook/m2m100_*) or ``"wmt21"`` (the 8 of
            facebook/wmt21-dense-24-wide-*).

    Returns:
        The codes; the i-th code's language token has id ``len(vocab.json) + i``.

    Raises:
        ValueError: ``kind`` is not a known family.
    """
    try:
        return LANGUAGE_CODES[kind]
    except (KeyError, TypeError):
        valid = ", ".join(repr(k) for k in LANGUAGE_CODES)
        raise ValueError(f"Unknown language code set {kind!r}; valid: {valid}.") from None


def language_name(code: str) -> str:
    """Return the English name of a language code, e.g. ``"fr"`` -> ``"French"``.

    Args:
        code: A code of ``M2M100_CODES`` (the WMT21 codes are a subset).

    Returns:
        The language's English name.

    Raises:
        ValueError: ``code`` is unknown; the message suggests close codes and lists valid ones.
    """
    try:
        return LANGUAGE_NAMES[code]
    except (KeyError, TypeError):
        raise unknown_language_error(code, M2M100_CODES) from None


def closest_codes(code: str, valid: Iterable[str], n: int = 3) -> list[str]:
    """Suggest the codes of ``valid`` that a mistyped ``code`` most likely meant.

    A full language name (``"french"``) maps to its code first; then codes that are spelled
    alike, then codes whose names are spelled alike.

    Args:
        code: What the user typed.
        valid: The codes that would have been accepted.
        n: At most this many suggestions.

    Returns:
        Up to ``n`` codes of ``valid``, best first; empty when nothing is close.
    """
    valid = list(valid)
    if not isinstance(code, str) or n <= 0:
        return []
    typed = code.strip().lower()
    names = {LANGUAGE_NAMES.get(c, c).lower(): c for c in valid}
    found: list[str] = []
    if typed in names:
        found.append(names[typed])
    found += difflib.get_close_matches(typed, valid, n=n, cutoff=0.5)
    found += [names[m] for m in difflib.get_close_matches(typed, list(names), n=n, cutoff=0.6)]
    # dict.fromkeys removes repeats while keeping the best-first order.
    return [c for c in dict.fromkeys(found) if c != code][:n]


def unknown_language_error(code: object, valid: Sequence[str]) -> ValueError:
    """Build the error raised for a language code the model does not know.

    Args:
        code: The rejected code.
        valid: The accepted codes, in the order they should be listed.

    Returns:
        A ValueError whose message reads like
        ``Unknown language code 'xx'. Did you mean 'xh'? Valid codes: af, am, ...``.
    """
    suggestions = closest_codes(code, valid) if isinstance(code, str) else []
    hint = ""
    if suggestions:
        hint = " Did you mean " + " or ".join(repr(s) for s in suggestions) + "?"
    return ValueError(f"Unknown language code {code!r}.{hint} Valid codes: {', '.join(valid)}.")


# config.json key under which a checkpoint declares the languages it was trained on, when they are
# fewer than its tokenizer has tokens for (the bundled demo model: 24 of the 100).
TRAINED_LANGUAGES_KEY = "languages"


def trained_languages(declared: object, known: Sequence[str]) -> list[str]:
    """The codes a checkpoint translates: those its config declares, else all its tokenizer knows.

    Args:
        declared: The value of ``config.json``'s ``"languages"`` key (None when absent).
        known: The codes the checkpoint's tokenizer has language tokens for, in id order.

    Returns:
        ``declared`` in the tokenizer's order, or ``known`` when nothing is declared.

    Raises:
        ValueError: ``declared`` is not a list of codes the tokenizer knows (the message names
            the first bad one).
    """
    if declared is None:
        return list(known)
    if not isinstance(declared, list) or not declared or not all(isinstance(c, str) for c in declared):
        raise ValueError(
            f'config.json: "{TRAINED_LANGUAGES_KEY}" must be a non-empty list of language codes, got {declared!r}'
        )
    for code in declared:
        if code not in known:
            raise ValueError(
                f'config.json: "{TRAINED_LANGUAGES_KEY}" names {code!r}, which the tokenizer has '
                f"no language token for; valid: {', '.join(known)}"
            )
    chosen = set(declared)
    return [code for code in known if code in chosen]
