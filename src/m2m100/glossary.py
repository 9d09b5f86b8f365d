"""Glossaries and do-not-translate terms: which target terms a translation must contain.

A :class:`Glossary` maps source terms to target terms, per direction or for every direction, and
holds terms that must come out unchanged (names, product codes) and, optionally, placeholders
(``{user}``, ``{{x}}``, ``%s``, ``%(name)s``, ``<b>``). :meth:`Glossary.find` looks for them in
an input; the Translator turns each match's target text into a lexical constraint of that row
(:mod:`m2m100.generation.constraints`), so the target term is in the output wherever the length
limit allows, and reports the ones that are not.

Files (:meth:`Glossary.load`):

* TSV, one entry a line, tab-separated: ``source<TAB>target`` (every direction, or the
  ``direction=`` given), ``src<TAB>tgt<TAB>source<TAB>target`` (one direction), or a single
  ``term`` (do not translate). Blank lines and lines starting with ``#`` are skipped.
* JSON: ``{"en-fr": {"three": "trois"}, "*": {"ACME": "ACME"}, "do_not_translate": ["X-42"]}``:
  keys are directions ``src-tgt`` (either spelling of a code: ``en`` or ``eng_Latn``) or ``*``
  (every direction); a flat ``{"three": "trois"}`` applies to every direction too.

Matching rules: a term matches whole words (no letter, digit or ``_`` right before or after it,
where the term itself starts or ends with one; none for sources in scripts written without spaces:
Japanese, Chinese, Thai, Lao, Khmer, Burmese); a term written in lower case matches any case
(``three`` matches ``Three``), one with a capital letter matches only as written; where matches
overlap the longest wins (then the leftmost).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m2m100.languages import iso_language

ANY = "*"  # the direction key of terms that apply to every direction
NO_SPACE_LANGUAGES = frozenset({"ja", "zh", "th", "lo", "km", "my"})
PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}|\{[^{}\s]*\}|%(?:\([^)\s]*\))?[sdfir]|</?[A-Za-z][^<>]*>")


@dataclass(frozen=True)
class Match:
    """A source term found in an input: characters ``start:end`` of it, and the target text the
    translation must contain (the source itself for a do-not-translate term or placeholder)."""

    start: int
    end: int
    source: str
    target: str


def direction_key(src: str, tgt: str) -> str:
    """The key of direction ``src`` -> ``tgt`` (ISO codes where there are: ``en-fr``)."""
    return f"{iso_language(src)}-{iso_language(tgt)}"


def _parse_direction(key: str, where: str) -> str:
    if key == ANY:
        return ANY
    src, sep, tgt = key.partition("-")
    if not sep or not src or not tgt:
        raise ValueError(f'{where}: direction {key!r} must be "src-tgt" (e.g. "en-fr") or "*" for every direction')
    return direction_key(src, tgt)


def _check_term(value: Any, what: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: {what} must be a non-empty string, got {value!r}")
    return value.strip()


class Glossary:
    """Source term -> target term, per direction, plus do-not-translate terms.

    Args:
        terms: ``{direction: {source: target}}`` (direction ``"src-tgt"`` or ``"*"``), or a flat
            ``{source: target}`` for every direction.
        do_not_translate: terms kept as they are in every direction.
        placeholders: also keep placeholders (``{user}``, ``{{x}}``, ``%s``, ``<b>``) unchanged.
        where: what to name in error messages (a file name, "glossary").

    Raises:
        ValueError: a malformed mapping, naming ``where`` and the entry.
    """

    def __init__(
        self,
        terms: Mapping[str, Any] | None = None,
        *,
        do_not_translate: Iterable[str] = (),
        placeholders: bool = False,
        where: str = "glossary",
    ) -> None:
        self.entries: dict[str, dict[str, str]] = {}  # direction key -> source -> target
        self.placeholders = placeholders
        self._patterns: dict[tuple[str, bool], tuple[re.Pattern[str] | None, re.Pattern[str] | None]] = {}
        if terms is not None and not isinstance(terms, Mapping):
            raise ValueError(f"{where}: a glossary must be a mapping of terms, got {type(terms).__name__}")
        terms = dict(terms or {})
        nested = [isinstance(v, Mapping) for v in terms.values()]
        if any(nested) and not all(nested):
            raise ValueError(
                f'{where}: mix of directions and terms; use {{"en-fr": {{"term": "target"}}}} or a flat {{"term": "target"}}'
            )
        per_direction = terms if terms and all(nested) else {ANY: terms}
        for key, mapping in per_direction.items():
            direction = _parse_direction(key, where)
            for source, target in mapping.items():
                self.add(source, target, direction=direction, where=f"{where}: {key!r}")
        for term in do_not_translate:
            self.add(term, term, where=f"{where}: do_not_translate")

    def add(self, source: str, target: str, *, direction: str = ANY, where: str = "glossary") -> None:
        """Add one entry (a later entry for the same source and direction replaces the earlier)."""
        source = _check_term(source, "a source term", where)
        target = _check_term(target, f"the target of {source!r}", where)
        self.entries.setdefault(direction, {})[source] = target
        self._patterns.clear()

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, direction: str | None = None) -> Glossary:
        """Read a ``.tsv`` (or ``.txt``) or ``.json`` glossary; see the module's docstring.

        Args:
            direction: ``"src-tgt"`` for the two-column entries of a TSV file (default: every direction).

        Raises:
            FileNotFoundError: no such file.
            ValueError: one line, ``file:line: what is wrong``.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"glossary {path}: no such file")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as err:
            raise ValueError(f"{path}: not UTF-8 text (byte {err.start})") from err
        if path.suffix.lower() == ".json":
            return cls._from_json(text, str(path))
        glossary = cls()
        default = ANY if direction is None else _parse_direction(direction, f"{path}: direction=")
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            where = f"{path}:{number}"
            columns = line.split("\t")
            if len(columns) == 1:
                glossary.add(columns[0], columns[0], direction=default, where=where)
            elif len(columns) == 2:
                glossary.add(columns[0], columns[1], direction=default, where=where)
            elif len(columns) == 4:
                key = _parse_direction(f"{columns[0].strip()}-{columns[1].strip()}", where)
                glossary.add(columns[2], columns[3], direction=key, where=where)
            else:
                raise ValueError(
                    f"{where}: {len(columns)} tab-separated columns; a line is 'term' (do not translate), "
                    "'source<TAB>target' or 'src<TAB>tgt<TAB>source<TAB>target'"
                )
        return glossary

    @classmethod
    def _from_json(cls, text: str, where: str) -> Glossary:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{where}:{err.lineno}: not JSON ({err.msg})") from err
        if not isinstance(data, dict):
            raise ValueError(f'{where}:1: a JSON glossary is an object, e.g. {{"en-fr": {{"three": "trois"}}}}')
        keep = data.pop("do_not_translate", [])
        if not isinstance(keep, list):
            raise ValueError(
                f'{where}:{_line_of(text, "do_not_translate")}: "do_not_translate" must be a list of terms'
            )
        try:
            return cls(data, do_not_translate=keep, where=where)
        except ValueError as err:
            # name the line: the first line that holds the entry the message quotes
            quoted = re.findall(r"'([^']*)'", str(err).partition(": ")[2])
            line = _line_of(text, quoted[-1] if quoted else "")
            raise ValueError(f"{where}:{line}: {str(err).partition(': ')[2]}") from None

    def merged(self, other: Glossary | None) -> Glossary:
        """A glossary with the entries of both (``other``'s win where both have a term)."""
        if other is None:
            return self
        result = Glossary(placeholders=self.placeholders or other.placeholders)
        for source in (self, other):
            for direction, mapping in source.entries.items():
                result.entries.setdefault(direction, {}).update(mapping)
        return result

    def __len__(self) -> int:
        return sum(len(m) for m in self.entries.values())

    def terms(self, src: str, tgt: str) -> dict[str, str]:
        """The entries of direction ``src`` -> ``tgt``: every-direction ones, then that direction's."""
        return {**self.entries.get(ANY, {}), **self.entries.get(direction_key(src, tgt), {})}

    def find(self, text: str, src: str, tgt: str) -> list[Match]:
        """The terms of direction ``src`` -> ``tgt`` in ``text``, in text order, not overlapping
        (the longest wins, then the leftmost), with the placeholders when they are kept."""
        terms = self.terms(src, tgt)
        found: list[Match] = []
        spaced = iso_language(src) not in NO_SPACE_LANGUAGES
        folded = {source.casefold(): target for source, target in terms.items() if source == source.casefold()}
        exact = {source: target for source, target in terms.items() if source != source.casefold()}
        any_case, as_written = self._compiled(src, tgt, spaced, terms)
        for pattern, lookup, fold in ((any_case, folded, True), (as_written, exact, False)):
            if pattern is None:
                continue
            for hit in pattern.finditer(text):
                source = hit.group(1)
                target = lookup.get(source.casefold() if fold else source)
                if target is not None:
                    found.append(Match(hit.start(), hit.start() + len(source), source, target))
        if self.placeholders:
            found.extend(Match(m.start(), m.end(), m.group(), m.group()) for m in PLACEHOLDER.finditer(text))
        chosen: list[Match] = []
        for match in sorted(found, key=lambda m: (m.start - m.end, m.start)):
            if all(match.end <= c.start or match.start >= c.end for c in chosen):
                chosen.append(match)
        return sorted(chosen, key=lambda m: m.start)

    def _compiled(
        self, src: str, tgt: str, spaced: bool, terms: Mapping[str, str]
    ) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
        """Two patterns (any case, as written) that find, at every position, the longest term
        starting there (a lookahead, so that overlapping matches are all seen)."""
        key = (direction_key(src, tgt), spaced)
        if key not in self._patterns:
            lower = [s for s in terms if s == s.casefold()]
            other = [s for s in terms if s != s.casefold()]
            self._patterns[key] = (_pattern(lower, spaced, re.IGNORECASE), _pattern(other, spaced, 0))
        return self._patterns[key]


def _pattern(terms: list[str], spaced: bool, flags: int) -> re.Pattern[str] | None:
    if not terms:
        return None
    parts = []
    for term in sorted(terms, key=len, reverse=True):
        body = re.escape(term)
        if spaced and re.match(r"\w", term[0]):
            body = r"(?<!\w)" + body
        if spaced and re.match(r"\w", term[-1]):
            body += r"(?!\w)"
        parts.append(body)
    return re.compile("(?=(" + "|".join(parts) + "))", flags)


def _line_of(text: str, needle: str) -> int:
    """The line of the first ``"needle"`` in ``text`` (1 when it is not there)."""
    at = text.find(json.dumps(needle)[1:-1]) if needle else -1
    return text.count("\n", 0, at) + 1 if at >= 0 else 1


def missed_terms(output: str, targets: Iterable[str]) -> list[str]:
    """The target terms that ``output`` does not contain, each once, in order."""
    return [t for t in dict.fromkeys(targets) if t not in output]
