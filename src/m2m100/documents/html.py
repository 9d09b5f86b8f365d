"""HTML: the text of elements and the ``alt``, ``title``, ``placeholder`` and ``aria-label``
attributes, read with the standard library's tolerant tokenizer (:class:`html.parser.HTMLParser`).

The tokenizer tells where every tag, comment and text starts, and builds no tree, so malformed
HTML (unclosed ``<p>``, stray ``</b>``, bare ``&``) reads as it comes and everything but the
translated text is copied byte for byte. A block is the running text between two tags that are
not inline (``<p>``, ``<li>``, ``<td>``, ``<br>`` ...): inline tags (``<b>``, ``<a>``, ``<span>``
...) are pairs inside it, kept around their words (see :mod:`m2m100.documents.engine`).
``<code>``, ``<kbd>``, ``<samp>``, ``<var>`` and elements marked ``translate="no"`` or
``class="notranslate"`` are kept whole; ``<script>``, ``<style>``, ``<pre>``, ``<textarea>``,
``<svg>`` and ``<math>`` are not translated.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from m2m100.documents.blocks import Block, Kind, Part, ReadResult, pair_up
from m2m100.documents.spans import Region, SpanWriter, decode_text, entity_encoder, text_parts

INLINE = frozenset(
    "a abbr acronym b bdi bdo big cite data del dfn em font i img ins label mark nobr q rp rt ruby s small "
    "span strike strong sub sup time tt u wbr".split()
)
VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
KEPT_INLINE = frozenset({"code", "kbd", "samp", "var"})  # kept whole, inside the text
NOT_TEXT = frozenset({"script", "style", "pre", "textarea", "svg", "math", "template"})
ATTRIBUTES = ("alt", "title", "placeholder", "aria-label")


class _Tokens(HTMLParser):
    """The tokenizer's events with their offsets: (kind, start, tag, attrs, text)."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.lines = [0] + [m.end() for m in re.finditer("\n", source)]
        self.events: list[tuple[str, int, str, list[tuple[str, str | None]], str]] = []

    def _add(self, kind: str, tag: str = "", attrs: list[tuple[str, str | None]] | None = None, text: str = "") -> None:
        line, column = self.getpos()
        self.events.append((kind, self.lines[line - 1] + column, tag, attrs or [], text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add("start", tag, attrs, self.get_starttag_text() or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add("startend", tag, attrs, self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        self._add("end", tag)

    def handle_data(self, data: str) -> None:
        self._add("data", text=data)

    def handle_comment(self, data: str) -> None:
        self._add("comment")

    def handle_decl(self, decl: str) -> None:
        self._add("other")

    def handle_pi(self, data: str) -> None:
        self._add("other")

    def unknown_decl(self, data: str) -> None:
        self._add("other")


def read_html(data: bytes) -> ReadResult:
    """Read an HTML document (UTF-8). Never fails on malformed markup."""
    source = decode_text(data, "HTML")
    regions = html_regions(source, 0, len(source))
    writer = SpanWriter(source, regions)
    tags = sum(1 for r in regions for p in r.block.parts if p.fixed)
    return ReadResult(writer.blocks, writer, {"blocks": len(regions), "tags in blocks": tags})


def html_regions(source: str, start: int, end: int) -> list[Region]:
    """The regions to translate in ``source[start:end]`` (Markdown reads its HTML blocks here)."""
    tokens = _Tokens(source[start:end])
    tokens.feed(source[start:end])
    tokens.close()
    events = [(kind, at + start, tag, attrs, text) for kind, at, tag, attrs, text in tokens.events]
    ends = [e[1] for e in events[1:]] + [end]
    return _Walk(source).run(events, ends)


class _Walk:
    def __init__(self, source: str) -> None:
        self.source = source
        self.regions: list[Region] = []
        self.parts: list[Part] = []
        self.opaque: str | None = None  # the element kept whole (or skipped) until it ends
        self.opaque_depth = 0
        self.opaque_start = 0
        self.opaque_inline = False
        self.broken = False  # in text that is markup the tokenizer could not read

    def run(
        self, events: list[tuple[str, int, str, list[tuple[str, str | None]], str]], ends: list[int]
    ) -> list[Region]:
        for (kind, start, tag, attrs, text), end in zip(events, ends):
            self.broken = self.broken and kind == "data"
            if self.opaque is not None:
                self._inside_opaque(kind, start, tag, end)
                continue
            if kind in ("start", "startend"):
                self._attributes(start, end, attrs)
                if kind == "start" and tag not in VOID and _kept(tag, attrs):
                    self.opaque, self.opaque_depth, self.opaque_start = tag, 1, start
                    self.opaque_inline = tag in INLINE or tag in KEPT_INLINE
                    if not self.opaque_inline:
                        self._flush()
                elif tag in INLINE and tag not in VOID and kind == "start":
                    self.parts.append(Part(Kind.OPEN, tag, self.source[start:end], where=(start, end)))
                elif tag in INLINE:
                    self.parts.append(Part(Kind.ATOM, tag, self.source[start:end], where=(start, end)))
                else:
                    self._flush()
            elif kind == "end":
                if tag in INLINE:
                    self.parts.append(Part(Kind.CLOSE, tag, self.source[start:end], where=(start, end)))
                else:
                    self._flush()
            elif kind == "data":
                raw = self.source[start:end]
                parts = text_parts(raw, start, html.unescape)
                # Markup the tokenizer gave up on (an unclosed comment at the end) comes as text
                # starting with "<", and the rest of it as more text: kept as it is.
                self.broken = self.broken or raw.startswith("<")
                if self.broken or "".join((p.raw or "") if p.kind is Kind.BREAK else p.text for p in parts) != text:
                    # Or a span that holds something the tokenizer dropped: keep it too.
                    self.parts.append(Part(Kind.ATOM, "", raw, where=(start, end)))
                else:
                    self.parts.extend(parts)
            elif kind == "comment":
                self.parts.append(Part(Kind.ATOM, "", self.source[start:end], where=(start, end)))
            else:
                self._flush()
        if self.opaque is not None and self.opaque_inline:
            self.parts.append(
                Part(Kind.ATOM, "", self.source[self.opaque_start : ends[-1]], where=(self.opaque_start, ends[-1]))
            )
        self._flush()
        return self.regions

    def _inside_opaque(self, kind: str, start: int, tag: str, end: int) -> None:
        """Count nested elements of the same name, to find where the kept element ends (or, for
        an inline one left open, the first block-level tag)."""
        if self.opaque_inline and kind in ("start", "end") and tag not in INLINE and tag not in KEPT_INLINE:
            self.parts.append(
                Part(Kind.ATOM, "", self.source[self.opaque_start : start], where=(self.opaque_start, start))
            )
            self.opaque = None
            self._flush()
            return
        if tag == self.opaque and kind == "start":
            self.opaque_depth += 1
        elif tag == self.opaque and kind == "end":
            self.opaque_depth -= 1
            if self.opaque_depth == 0:
                if self.opaque_inline:
                    self.parts.append(
                        Part(Kind.ATOM, "", self.source[self.opaque_start : end], where=(self.opaque_start, end))
                    )
                self.opaque = None

    def _attributes(self, start: int, end: int, attrs: list[tuple[str, str | None]]) -> None:
        """Regions for the translatable attributes of the tag at ``source[start:end]``."""
        raw = self.source[start:end]
        position = 0
        for name, value in attrs:
            match = re.compile(
                re.escape(name) + r"""\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.IGNORECASE
            ).search(raw, position)
            if match is None:
                continue
            position = match.end()
            group = next(g for g in (1, 2, 3) if match.group(g) is not None)
            text = match.group(group)
            if name not in ATTRIBUTES or value is None or html.unescape(text) != value or group == 3:
                continue
            quote = '"' if group == 1 else "'"
            at = start + match.start(group)
            block = Block(
                [Part(Kind.TEXT, value, text, where=(at, at + len(text)))],
                encode=entity_encoder([text], xml=False, quote=quote),
            )
            self.regions.append(Region(at, at + len(text), block))

    def _flush(self) -> None:
        parts, self.parts = self.parts, []
        if not any(p.kind is Kind.TEXT and p.text.strip() for p in parts):
            return
        pair_up(parts, lambda p: p.text)
        first = next(p.where for p in parts if p.where is not None)
        last = next(p.where for p in reversed(parts) if p.where is not None)
        encode = entity_encoder([p.raw or "" for p in parts if p.kind is Kind.TEXT], xml=False)
        self.regions.append(Region(first[0], last[1], Block(parts, encode=encode)))


def _kept(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    """Whether an element is kept as it is: code, scripts, or marked not to be translated."""
    values = dict(attrs)
    return (
        tag in NOT_TEXT
        or tag in KEPT_INLINE
        or (values.get("translate") or "").lower() == "no"
        or "notranslate" in (values.get("class") or "").split()
    )
