"""Markdown: paragraphs, headings, list items, quotes and table cells, read with markdown-it-py
(CommonMark, with GFM tables and strikethrough; YAML front matter is kept as it is).

markdown-it gives each block's lines and inline tokens (text, code spans, links, emphasis,
inline HTML) but not their offsets, so each token is found in the block's source in order, with
the parser's own link-destination and link-title scanners. Code spans, link destinations and
titles, autolinks, images' sources, inline HTML tags, fenced and indented code and link
reference definitions are kept as they are; emphasis and links are pairs around their words.
HTML blocks are read as HTML (:mod:`m2m100.documents.html`). A hard line break ends a block. A
block whose tokens cannot be matched to its source is left untranslated (logged), never broken.
Translated text gets a backslash before a Markdown character its block did not use (``*``,
``_``, ``` ` ```, ``[``...), and a line never starts with a list, quote or heading marker.
"""

from __future__ import annotations

import html
import logging
import re
from typing import Any

from m2m100.documents.blocks import Block, Kind, Part, ReadResult, pair_up
from m2m100.documents.html import VOID, html_regions
from m2m100.documents.spans import Region, SpanWriter, decode_text

logger = logging.getLogger(__name__)

LINE_END = re.compile(r"\r\n|\r|\n")
ESCAPABLE = "\\`*_[]<>|~"
# What a line must not start with once text is re-wrapped: it would begin another block.
BLOCK_START = re.compile(r"\s*(#{1,6}(\s|$)|>|[-+*](\s|$)|\d{1,9}[.)](\s|$)|=+\s*$|-{3,}|`{3}|~{3}|\|)")
ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"  # what a backslash escapes in CommonMark
HTML_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)")


class _Mismatch(Exception):
    """A token that is not where its block's source says it should be."""


def read_markdown(data: bytes) -> ReadResult:
    """Read a Markdown document (UTF-8)."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.front_matter import front_matter_plugin

    source = decode_text(data, "Markdown")
    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"]).use(front_matter_plugin)
    lines = _Lines(source)
    regions: list[Region] = []
    skipped = 0
    cells: dict[int, int] = {}  # table row -> where its next cell's text is looked for
    tokens = parser.parse(source)
    for index, token in enumerate(tokens):
        if token.type == "html_block" and token.map:
            start, end = lines.start(token.map[0]), lines.end(token.map[1] - 1)
            regions.extend(html_regions(source, start, end))
        elif token.type == "inline" and token.map and token.content.strip():
            in_table = index > 0 and tokens[index - 1].type in ("th_open", "td_open")
            try:
                regions.extend(_Inline(source, lines, token, cells if in_table else None).regions())
            except _Mismatch as err:
                skipped += 1
                logger.warning("line %d: left untranslated (%s)", token.map[0] + 1, err)
    writer = SpanWriter(source, regions)
    blocks = sum(1 for t in tokens if t.type.endswith("_open") and t.nesting == 1)
    return ReadResult(writer.blocks, writer, {"blocks": blocks, "regions": len(regions), "skipped": skipped})


class _Lines:
    """Where each line of the source starts and ends (any line ending)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.starts = [0] + [m.end() for m in LINE_END.finditer(source)]
        self.ends = [m.start() for m in LINE_END.finditer(source)] + [len(source)]

    def start(self, line: int) -> int:
        return self.starts[line]

    def end(self, line: int) -> int:
        return self.ends[line]

    def text(self, line: int) -> str:
        return self.source[self.starts[line] : self.ends[line]]


class _Inline:
    """The parts of one inline token (a paragraph's or heading's text, a table cell), found in
    the source: each child token is matched, in order, against the token's content."""

    def __init__(self, source: str, lines: _Lines, token: Any, cells: dict[int, int] | None) -> None:
        self.source, self.token = source, token
        self.content: str = token.content
        self.pos = 0
        self.offsets = self._locate(lines, cells)

    def _locate(self, lines: _Lines, cells: dict[int, int] | None) -> list[tuple[int, int]]:
        """(content offset, source offset) of the start of each content line; a table cell's
        text is looked for after the cells before it on its row (``cells``)."""
        first = self.token.map[0]
        found, position = [], 0
        for number, text in enumerate(self.content.split("\n")):
            line = lines.text(first + number)
            if cells is not None:
                # The parser takes the backslash off "\\|" in a cell: look for the text as written.
                if line.find(text, cells.get(first, 0)) < 0 and "|" in text:
                    text = self.content = text.replace("|", "\\|")
                at = line.find(text, cells.get(first, 0))
                cells[first] = at + len(text)
            else:
                at = line.rfind(text)
                while at >= 0 and not re.fullmatch(r"[ \t]*(#+[ \t]*)?", line[at + len(text) :]):
                    at = line.rfind(text, 0, at + len(text) - 1) if at > 0 else -1
            if at < 0:
                raise _Mismatch(f"line {first + number + 1} does not hold its text")
            found.append((position, lines.start(first + number) + at))
            position += len(text) + 1
        return found

    def at(self, offset: int) -> int:
        """The source offset of content offset ``offset``."""
        line = max(i for i, (start, _) in enumerate(self.offsets) if start <= offset) if offset else 0
        start, source = self.offsets[line]
        return source + offset - start

    def regions(self) -> list[Region]:
        groups: list[list[Part]] = [[]]
        self._children(self.token.children or [], groups)
        if self.content[self.pos :].strip():
            raise _Mismatch(f"text left over: {self.content[self.pos : self.pos + 20]!r}")
        regions = []
        for parts in groups:
            if not any(p.kind is Kind.TEXT and p.text.strip() for p in parts):
                continue
            pair_up(parts, lambda p: p.text)
            used = set("".join(p.raw or "" for p in parts if p.kind is Kind.TEXT))
            block = Block(parts, encode=_escaper(used), line_start_ok=lambda text: not BLOCK_START.match(text))
            regions.append(Region(parts[0].where[0], parts[-1].where[1], block))
        return regions

    def _part(self, kind: Kind, name: str, start: int) -> Part:
        raw = self.content[start : self.pos]
        text = raw if kind is Kind.TEXT else name
        return Part(
            kind, text, self.source[self.at(start) : self.at(self.pos)], where=(self.at(start), self.at(self.pos))
        )

    def _children(self, children: list[Any], groups: list[list[Part]]) -> None:
        skip_to_close = False
        for child in children:
            start = self.pos
            kind = child.type
            if skip_to_close:  # inside an autolink: kept whole
                skip_to_close = kind != "link_close"
                continue
            if kind == "text":
                self._text(child.content)
                groups[-1].append(self._part(Kind.TEXT, "", start))
            elif kind == "softbreak":
                self._expect(r"[ \t]*\n[ \t]*")
                groups[-1].append(self._part(Kind.BREAK, "", start))
            elif kind == "hardbreak":
                self._expect(r"[ \t]*\\?\n[ \t]*")
                groups.append([])  # a new block: the break itself is kept outside both
            elif kind == "code_inline":
                fence = self._expect("`+")
                closing = re.compile(rf"(?<!`){fence}(?!`)").search(self.content, self.pos)
                if closing is None:
                    raise _Mismatch("code span not closed")
                self.pos = closing.end()
                groups[-1].append(self._part(Kind.ATOM, "code", start))
            elif kind in ("em_open", "strong_open", "s_open", "em_close", "strong_close", "s_close"):
                self._expect(re.escape(child.markup))
                name, _, side = kind.rpartition("_")
                groups[-1].append(self._part(Kind.OPEN if side == "open" else Kind.CLOSE, name, start))
            elif kind == "link_open" and child.markup == "autolink":
                self._expect(r"<[^<>\s]*>")
                groups[-1].append(self._part(Kind.ATOM, "autolink", start))
                skip_to_close = True
            elif kind == "link_open":
                self._expect(r"\[")
                groups[-1].append(self._part(Kind.OPEN, "link", start))
            elif kind == "link_close":
                self._destination()
                groups[-1].append(self._part(Kind.CLOSE, "link", start))
            elif kind == "image":
                self._expect(r"!\[")
                groups[-1].append(self._part(Kind.OPEN, "image", start))
                self._children(child.children or [], groups)
                start = self.pos
                self._destination()
                groups[-1].append(self._part(Kind.CLOSE, "image", start))
            elif kind == "html_inline":
                self._expect(re.escape(child.content))
                tag = HTML_TAG.match(child.content)
                if tag is None or child.content.endswith("/>") or tag.group(2).lower() in VOID:
                    groups[-1].append(self._part(Kind.ATOM, "html", start))
                else:
                    side = Kind.CLOSE if tag.group(1) else Kind.OPEN
                    groups[-1].append(self._part(side, "html:" + tag.group(2).lower(), start))
            else:
                raise _Mismatch(f"a {kind} token")

    def _expect(self, pattern: str) -> str:
        match = re.compile(pattern).match(self.content, self.pos)
        if match is None:
            raise _Mismatch(f"expected {pattern!r} at {self.content[self.pos : self.pos + 20]!r}")
        self.pos = match.end()
        return match.group()

    def _text(self, text: str) -> None:
        """Move past ``text`` as the source writes it: backslash escapes and entities decoded."""
        content, i, j = self.content, self.pos, 0
        while j < len(text):
            entity = ENTITY.match(content, i)
            if content.startswith("\\", i) and i + 1 < len(content) and content[i + 1] in PUNCTUATION:
                if text[j] != content[i + 1]:
                    raise _Mismatch(f"text {text[j : j + 20]!r} not at {content[i : i + 20]!r}")
                i, j = i + 2, j + 1
            elif entity and html.unescape(entity.group()) != entity.group():
                decoded = html.unescape(entity.group())
                if not text.startswith(decoded, j):
                    raise _Mismatch(f"text {text[j : j + 20]!r} not at {content[i : i + 20]!r}")
                i, j = entity.end(), j + len(decoded)
            elif content.startswith(text[j], i):
                i, j = i + 1, j + 1
            else:
                raise _Mismatch(f"text {text[j : j + 20]!r} not at {content[i : i + 20]!r}")
        self.pos = i

    def _destination(self) -> None:
        """Move past the end of a link or image: ``](dest "title")``, ``][label]``, ``][]`` or ``]``."""
        from markdown_it.helpers import parseLinkDestination, parseLinkTitle

        content = self.content
        self._expect(r"\]")
        if content.startswith("(", self.pos):
            self.pos += 1
            self._expect(r"\s*")
            if not content.startswith(")", self.pos):
                destination = parseLinkDestination(content, self.pos, len(content))
                if not destination.ok:
                    raise _Mismatch("link destination")
                self.pos = destination.pos
                self._expect(r"\s*")
                title = parseLinkTitle(content, self.pos, len(content))
                if title.ok:
                    self.pos = title.pos
                    self._expect(r"\s*")
            self._expect(r"\)")
        elif content.startswith("[", self.pos):
            self._expect(r"\[(?:\\.|[^\\\[\]])*\]")


def _escaper(used: set[str]) -> Any:
    """Backslash-escape the Markdown characters a translation brings that its source did not use."""
    new = {ch for ch in ESCAPABLE if ch not in used}

    def encode(text: str) -> str:
        return "".join("\\" + ch if ch in new else ch for ch in text)

    return encode
