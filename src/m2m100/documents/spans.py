"""Documents written back by splicing: the translated text replaces the spans it came from, and
every other character of the file is copied as it was.

The text formats (HTML, XML, XLIFF, Markdown, subtitles) read a file with a parser that tells
where each piece lies (a character offset); a :class:`Region` is a span of the source replaced by
a block's translation. A fixed part of a block (a tag) may itself hold regions (its ``alt`` or
``title``), written into it. So an untouched document, or one put through a translator that
returns its input, comes out byte for byte.
"""

from __future__ import annotations

import bisect
import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from m2m100.documents.blocks import Block, DocumentError, Item, Kind, Part

# White space that holds a line break: a BREAK inside running text (HTML and XML white space is
# ASCII; U+00A0 is a character of the text).
LINE_BREAK = re.compile(r"[ \t\f]*(?:\r\n|\n|\r)[ \t\n\r\f]*")


@dataclass
class Region:
    """A span of the source replaced by a block's translation, with text written around it (an
    XLIFF ``<target>`` inserted where there was none)."""

    start: int
    end: int
    block: Block
    before: str = ""
    after: str = ""


class SpanWriter:
    """Write a document: the source with its regions replaced by their blocks' items.

    Args:
        source: the decoded document.
        regions: disjoint or nested (a region inside a fixed part of another), in any order.
        encoding: of the written bytes; characters it cannot hold become ``errors``' choice.
    """

    def __init__(self, source: str, regions: list[Region], *, encoding: str = "utf-8", errors: str = "strict") -> None:
        self.source, self.encoding, self.errors = source, encoding, errors
        self.regions = sorted(regions, key=lambda r: (r.start, -r.end))
        self.starts = [r.start for r in self.regions]
        self.results: dict[int, list[Item]] = {}

    @property
    def blocks(self) -> list[Block]:
        return [r.block for r in self.regions]

    def __call__(self, results: list[list[Item]]) -> bytes:
        """The document, given the items of each block of :attr:`blocks`, in that order."""
        self.results = {id(region): items for region, items in zip(self.regions, results)}
        return self.span(0, len(self.source)).encode(self.encoding, self.errors)

    def span(self, start: int, end: int) -> str:
        """``source[start:end]`` with the regions inside it written."""
        out, position = [], start
        index = bisect.bisect_left(self.starts, start)
        while index < len(self.regions) and self.regions[index].start < end:
            region = self.regions[index]
            index += 1
            if region.start < position or region.end > end:
                continue  # inside the one written before it, or not inside this span
            out.append(self.source[position : region.start])
            out.append(region.before + self.region(region) + region.after)
            position = region.end
        out.append(self.source[position:end])
        return "".join(out)

    def region(self, region: Region) -> str:
        block = region.block
        out = []
        for item in self.results.get(id(region), range(len(block.parts))):
            if isinstance(item, str):
                out.append(block.encode(item))
                continue
            part = block.parts[item]
            if isinstance(part.where, tuple) and part.fixed:
                out.append(self.span(*part.where))  # its attributes may be translated
            elif part.raw is not None:
                out.append(part.raw)
            else:
                out.append(block.encode(part.text))
        return "".join(out)


def text_parts(raw: str, start: int, decode: Callable[[str], str]) -> list[Part]:
    """TEXT and BREAK parts of running text ``raw`` found at offset ``start``: a break wherever its
    white space holds a newline. TEXT parts carry their decoded text and their span."""
    parts, position = [], 0
    for match in LINE_BREAK.finditer(raw):
        if match.start() > position:
            piece = raw[position : match.start()]
            parts.append(Part(Kind.TEXT, decode(piece), piece, where=(start + position, start + match.start())))
        parts.append(Part(Kind.BREAK, " ", match.group(), where=(start + match.start(), start + match.end())))
        position = match.end()
    if position < len(raw):
        piece = raw[position:]
        parts.append(Part(Kind.TEXT, decode(piece), piece, where=(start + position, start + len(raw))))
    return parts


# ------------------------------------------------------------------------------------------
# Characters written as entities
# ------------------------------------------------------------------------------------------
REFERENCE = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


def entity_encoder(raws: Iterable[str], *, xml: bool, quote: str = "") -> Callable[[str], str]:
    """How a block writes translated text: each character that the block's source wrote as a
    reference (``&nbsp;``, ``&#39;``), and nowhere as itself, is written with the same reference,
    so that a translation equal to its source is written as the source was; ``<`` and ``&`` are escaped where they
    would otherwise start markup (always, in XML), and ``quote`` (the attribute's quote) too."""
    spelled: dict[str, str] = {}
    plain: set[str] = set()  # characters the source also writes as themselves
    for raw in raws:
        plain.update(REFERENCE.sub("", raw))
        for match in REFERENCE.finditer(raw):
            char = html.unescape(match.group())
            if len(char) == 1:
                spelled.setdefault(char, match.group())
    spelled = {char: ref for char, ref in spelled.items() if char not in plain or char in "&<>"}
    if quote:
        spelled.setdefault(quote, "&quot;" if quote == '"' else "&#39;")

    def encode(text: str) -> str:
        out = []
        for index, char in enumerate(text):
            if char in spelled:
                out.append(spelled[char])
            elif char == "&" and (xml or REFERENCE.match(text, index)):
                out.append("&amp;")
            elif char == "<" and (xml or re.match(r"<[A-Za-z/!?]", text[index : index + 2])):
                out.append("&lt;")
            elif char == ">" and xml and text[max(0, index - 2) : index] == "]]":
                out.append("&gt;")
            else:
                out.append(char)
        return "".join(out)

    return encode


def decode_text(data: bytes, what: str) -> str:
    """A text file's bytes as a string (UTF-8; a byte-order mark is kept, as a character).

    Raises:
        DocumentError: the bytes are not UTF-8 (with the line of the first bad byte).
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise DocumentError(
            f"line {line}: not UTF-8 (byte 0x{data[err.start]:02x}); {what} files are read as UTF-8: convert it first"
        ) from err


def line_of(text: str, offset: int) -> int:
    """The 1-based line of character ``offset``."""
    return text.count("\n", 0, offset) + 1
