"""The texts of the demo data, in every language, from sources no one here wrote.

Two installed packages carry real multilingual text:

* num2words: number words, cardinals ("two hundred and five") and, where a language has them,
  ordinals ("two hundred and fifth");
* babel (the Unicode CLDR): the names of weekdays, months, languages and territories.

Each text is filed under a :data:`Key`, ``(kind, value)``, the same in every language, e.g.
``("cardinal", 205)``, ``("month", 3)``, ``("territory", "FR")``; two languages' texts of one key
make a translation pair. :func:`language_texts` also checks that a language's num2words output is
usable (no errors, no digits, not English, in the script its CLDR names use) and drops texts that
would be ambiguous (one text for two keys), so that every pair has one right answer.
"""

from __future__ import annotations

import functools
import pickle
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from m2m100.languages import LANGUAGE_NAMES, M2M100_CODES, unknown_language_error

Key = tuple[str, int | str]  # (kind, value), e.g. ("cardinal", 205) or ("territory", "FR")

NUMBER_KINDS = ("cardinal", "ordinal")
NAME_KINDS = ("weekday", "month", "language", "territory")

# Numbers the model never sees in training: they make the test set. Every number ending in 37
# ("thirty-seven" appears in no training text, alone or in a longer number: the last two digits
# must be composed) and the block 5200-5299 ("five thousand two hundred" appears in none: the
# thousands and hundreds must be composed). Each word of a held-out number is still seen in other
# numbers. A block of whole thousands (5000-5999) would hide "five thousand" itself, which no model
# can learn where the language writes it as one word (fünftausend, beşbin): a trial gave 13% exact
# on it against 96% on the numbers ending in 37.
HELD_OUT_ENDING = 37
HELD_OUT_BLOCK = range(5200, 5300)
BLOCK_NAME = f"{HELD_OUT_BLOCK.start}-{HELD_OUT_BLOCK.stop - 1}"
HELD_OUT_RULE = f"numbers ending in {HELD_OUT_ENDING}, and {BLOCK_NAME}"
MAX_NUMBER = 9999

# 24 languages in 6 scripts (Latin, Cyrillic, Arabic, Hebrew, CJK with kana, Hangul) whose
# num2words cardinals pass the checks below, 21 of them with ordinals (see the module docstring of
# m2m100.demo.data for those left out and why).
DEFAULT_LANGUAGES: tuple[str, ...] = (
    "en",
    "fr",
    "de",
    "es",
    "it",
    "pt",
    "nl",
    "pl",
    "ru",
    "uk",
    "cs",
    "ro",
    "hu",
    "fi",
    "sv",
    "da",
    "tr",
    "vi",
    "ja",
    "ko",
    "ar",
    "he",
    "id",
    "fa",
)

# A language's ordinals are used when at least this share of the numbers has a good one; below it,
# num2words gives the cardinal (bn, th, vi) or only handles small numbers (ar), and the language
# is trained on cardinals alone.
MIN_ORDINAL_SHARE = 0.9
# num2words languages that fall back to English give English for (nearly) every number; a real
# language shares a few words with English (French "six", Italian "zero").
MAX_ENGLISH_SHARE = 0.05
# The numbers :func:`screen` tries: small ones, round ones, and where num2words' converters
# tend to break (am fails from 1100 up).
_SCREEN = (*range(21), 37, 99, 100, 101, 999, 1000, 1100, 1234, 5237, 9999)
# Language names worth knowing: those of the M2M100 languages; CLDR's pseudo-regions (ZZ unknown,
# XA/XB pseudo-locales) are no real territory.
_NAMED_LANGUAGES = frozenset(M2M100_CODES)
_SKIPPED_TERRITORIES = frozenset({"ZZ", "XA", "XB"})


def is_held_out(number: int) -> bool:
    """Whether ``number`` belongs to the test set (never to training or validation)."""
    return number % 100 == HELD_OUT_ENDING or number in HELD_OUT_BLOCK


def normalize(text: str) -> str:
    """NFC, with runs of whitespace (no-break spaces included) made one space, ends stripped."""
    return " ".join(unicodedata.normalize("NFC", text).split())


class UnusableLanguage(ValueError):
    """A language whose num2words or CLDR data cannot give clean training pairs."""


@dataclass(frozen=True)
class LanguageTexts:
    """Every text of one language, by key, ambiguous texts removed."""

    code: str
    texts: dict[Key, str]
    has_ordinals: bool
    dropped: int  # texts removed as ambiguous (one text, several keys)


def candidate_languages() -> tuple[str, ...]:
    """M2M100 codes that both num2words and babel know (in M2M100 order); not all pass
    :func:`language_texts`' checks."""
    from babel.localedata import exists
    from num2words import CONVERTER_CLASSES

    return tuple(code for code in M2M100_CODES if code in CONVERTER_CLASSES and exists(code))


@functools.cache
def screen(code: str) -> str | None:
    """Why a candidate language is unusable, judged on a sample of numbers (None: it passes;
    :func:`language_texts` checks every number)."""
    try:
        texts, _ = _number_texts(code, _SCREEN)
        _check_script(code, texts, _cldr_texts(code))
    except UnusableLanguage as err:
        return str(err)
    return None


def usable_languages() -> tuple[str, ...]:
    """The candidate languages that pass :func:`screen` (about a second, the first time)."""
    return tuple(code for code in candidate_languages() if screen(code) is None)


def check_codes(codes: list[str]) -> list[str]:
    """The codes, checked for being M2M100 languages whose num2words and CLDR data are usable.

    Raises:
        ValueError: fewer than two codes, a repeated code or one that is not usable; the message
            names the usable codes (:class:`UnusableLanguage` for a language with bad data).
    """
    candidates = candidate_languages()
    for code in codes:
        if code in candidates and screen(code) is None:
            continue
        usable = ", ".join(usable_languages())
        if code in candidates:
            raise UnusableLanguage(f"{screen(code)}; usable languages: {usable}")
        if code in M2M100_CODES:
            raise ValueError(
                f"{code} ({LANGUAGE_NAMES[code]}) is an M2M100 language but num2words or babel "
                f"has no data for it; usable languages: {usable}"
            )
        raise unknown_language_error(code, usable_languages())
    repeated = sorted(code for code, count in Counter(codes).items() if count > 1)
    if repeated:
        raise ValueError(f"language codes given twice: {', '.join(repeated)}")
    if len(codes) < 2:
        raise ValueError(f"at least two languages are needed for a translation direction, got {codes}")
    return codes


def _script(text: str) -> str | None:
    """The most common script of the letters of ``text`` (the first word of their Unicode names:
    LATIN, CYRILLIC, CJK, HANGUL ...)."""
    scripts = Counter(unicodedata.name(ch, "?").split()[0] for ch in text if ch.isalpha())
    return scripts.most_common(1)[0][0] if scripts else None


def _number_words(code: str, to: str) -> Callable[[int], str | None]:
    from num2words import num2words

    def words(number: int) -> str | None:
        try:
            return normalize(num2words(number, lang=code, to=to))
        # num2words' converters fail in many ways (KeyError, IndexError, TypeError,
        # NotImplementedError, ...) on the numbers they do not handle: such a number has no text.
        except Exception:  # noqa: BLE001
            return None

    return words


def _number_texts(code: str, numbers: Sequence[int]) -> tuple[dict[Key, str], bool]:
    """Cardinals (all required) and ordinals (where good) of ``numbers``.

    Raises:
        UnusableLanguage: a cardinal is missing or holds digits, or the language is English in disguise.
    """
    cardinal, ordinal, english = (
        _number_words(code, "cardinal"),
        _number_words(code, "ordinal"),
        _number_words("en", "cardinal"),
    )
    texts: dict[Key, str] = {}
    same_as_english = 0
    for number in numbers:
        text = cardinal(number)
        if not text or re.search(r"\d", text):
            raise UnusableLanguage(f"{code}: num2words gives no cardinal in words for {number} ({text!r})")
        texts["cardinal", number] = text
        same_as_english += code != "en" and text == english(number)
    if same_as_english > max(2, MAX_ENGLISH_SHARE * len(numbers)):
        raise UnusableLanguage(
            f"{code}: num2words falls back to English ({same_as_english} of "
            f"{len(numbers)} cardinals are the English ones)"
        )
    ordinals: dict[tuple[str, int | str], str] = {}
    for number in numbers:
        text = ordinal(number)
        # An "ordinal" equal to the cardinal is a fallback, not an ordinal.
        if text and not re.search(r"\d", text) and text != texts["cardinal", number]:
            ordinals["ordinal", number] = text
    has_ordinals = len(ordinals) >= MIN_ORDINAL_SHARE * len(numbers)
    if has_ordinals:
        texts.update(ordinals)
    return texts, has_ordinals


def _check_script(code: str, numbers: dict[Key, str], names: dict[Key, str]) -> None:
    """Raise UnusableLanguage when num2words and CLDR write the language in different scripts."""
    number_script = _script(" ".join(v for k, v in numbers.items() if k[0] == "cardinal"))
    name_script = _script(" ".join(v for k, v in names.items() if k[0] == "weekday"))
    if number_script != name_script:
        raise UnusableLanguage(f"{code}: num2words writes {number_script} script, CLDR {name_script}")


def _own_cldr_data(code: str) -> dict[str, Any]:
    """The CLDR data of one locale as babel stores it, read afresh from babel's file.

    Not ``babel.Locale(code).months`` and the like: babel resolves CLDR's aliases by writing the
    result into dictionaries that locales share with their parent, so once one locale's
    stand-alone month names are read, another locale that has none of its own gets those
    (Arabic "10月" after Japanese, in babel 2.18) or the root's placeholders ("M10").
    """
    from babel.localedata import resolve_locale_filename

    with open(resolve_locale_filename(code), "rb") as f:
        return pickle.load(f)


def _calendar_names(data: dict[str, Any], kind: str) -> dict[int, str]:
    """The wide names of ``kind`` ("months", "days"): stand-alone (the nominative: Russian
    "январь", not "января") where the locale has them, else the format ones, as CLDR's alias says."""
    contexts = data.get(kind, {})
    names = dict(contexts.get("format", {}).get("wide", {}))
    standalone = contexts.get("stand-alone", {}).get("wide")
    if isinstance(standalone, dict):
        names.update(standalone)
    return names


def _cldr_texts(code: str) -> dict[Key, str]:
    """Weekday, month, language and territory names of one CLDR locale."""
    data = _own_cldr_data(code)
    names: dict[Key, str] = {}
    names.update((("weekday", k), v) for k, v in _calendar_names(data, "days").items())
    names.update((("month", k), v) for k, v in _calendar_names(data, "months").items())
    names.update((("language", k), v) for k, v in data.get("languages", {}).items() if k in _NAMED_LANGUAGES)
    names.update(
        (("territory", k), v)
        for k, v in data.get("territories", {}).items()
        if re.fullmatch(r"[A-Z]{2}", k) and k not in _SKIPPED_TERRITORIES
    )
    return {key: normalize(text) for key, text in names.items() if isinstance(text, str) and normalize(text)}


@functools.cache
def language_texts(code: str, max_number: int = MAX_NUMBER) -> LanguageTexts:
    """All texts of one language, checked.

    Args:
        code: An M2M100 language code of :func:`candidate_languages`.
        max_number: Numbers 0..max_number are written out.

    Returns:
        The texts; a text that two keys share (e.g. a month and a territory named alike) is
        removed for both keys.

    Raises:
        UnusableLanguage: num2words' cardinals fail or are not in the language's own script.
    """
    texts, has_ordinals = _number_texts(code, range(max_number + 1))
    names = _cldr_texts(code)
    _check_script(code, texts, names)
    texts.update(names)
    uses = Counter(texts.values())
    kept = {key: text for key, text in texts.items() if uses[text] == 1}
    return LanguageTexts(code, kept, has_ordinals, len(texts) - len(kept))
