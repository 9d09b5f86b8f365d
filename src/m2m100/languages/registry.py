"""Language codes of the checkpoint families, their names, and the "did you mean" help."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from m2m100.languages.flores import NLLB_NAMES, SCRIPT_NAMES
from m2m100.languages.m2m100_codes import LANGUAGE_CODES, LANGUAGE_NAMES, M2M100_CODES


def language_codes(kind: str = "m2m100") -> tuple[str, ...]:
    """Return the language codes of one checkpoint family, in token-id order.

    Args:
        kind: ``"m2m100"`` (the 100 languages of facebook/m2m100_*) or ``"wmt21"`` (the 8 of
            facebook/wmt21-dense-24-wide-*). The NLLB codes are :data:`NLLB_CODES`; an NLLB
            tokenizer takes its codes from its files, not from a named set.

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


def language_name(code: str, default: str | None = None) -> str:
    """Return the English name of a language code, e.g. ``"fr"`` -> ``"French"``,
    ``"zho_Hant"`` -> ``"Chinese (Traditional)"``.

    Args:
        code: A code of ``M2M100_CODES`` (the WMT21 codes are a subset) or of ``NLLB_CODES``.
        default: Returned for an unknown code (e.g. a language a fine-tuning run added) instead
            of raising.

    Returns:
        The language's English name.

    Raises:
        ValueError: ``code`` is unknown and no ``default`` is given; the message suggests close
            codes and lists valid ones.
    """
    if isinstance(code, str) and code in NLLB_NAMES:
        return NLLB_NAMES[code]
    try:
        return LANGUAGE_NAMES[code]
    except (KeyError, TypeError):
        if default is not None:
            return default
        raise unknown_language_error(code, M2M100_CODES) from None


def language_script(code: str) -> str | None:
    """The script an NLLB code names, e.g. ``"zho_Hant"`` -> ``"Han (Traditional)"``; None for a
    code without one (the M2M100 codes)."""
    if code not in NLLB_NAMES:
        return None
    script = code.rpartition("_")[2]
    return SCRIPT_NAMES.get(script, script)


def _names(valid: Sequence[str]) -> dict[str, str]:
    """Lower-case English name -> code for ``valid``; an NLLB name also without its parenthesis
    ("chinese" for "Chinese (Simplified)", the first code keeping it)."""
    names: dict[str, str] = {}
    for c in valid:
        name = (NLLB_NAMES.get(c) or LANGUAGE_NAMES.get(c) or c).lower()
        names.setdefault(name, c)
    for c in valid:
        name = (NLLB_NAMES.get(c) or "").lower()
        if " (" in name:
            names.setdefault(name.partition(" (")[0], c)
    return names


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
    names = _names(valid)
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
