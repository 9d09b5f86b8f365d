"""What every format reads a document into: blocks of parts, the unit the translator sees.

A :class:`Block` is one piece of running text (a paragraph, a heading, a table cell, a subtitle
cue, a PO message, an ``alt`` attribute) as a list of :class:`Part`: the words to translate
(``TEXT``), the line breaks inside the text (``BREAK``: a newline and indentation, a blockquote's
``"> "``), and everything that is not text (``OPEN``/``CLOSE`` pairs such as ``<b>``...``</b>`` or
``**``...``**``, and ``ATOM`` such as a code span, an image, a ``<br>``, a ``{name}`` placeholder).
The engine (:mod:`m2m100.documents.engine`) translates blocks and answers, for each, the items
to write in place of its parts: translated strings and the indexes of parts written back as they
were. A format's writer turns those items into its file; everything that is not a translated
string comes out byte for byte.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


class DocumentError(ValueError):
    """A document that cannot be read as its format: the message names the place ("line 12",
    "word/document.xml") and what is wrong, in one line."""


class Kind(enum.Enum):
    TEXT = "text"  # words to translate
    BREAK = "break"  # a line break inside the text: sent as a space, put back by re-wrapping
    OPEN = "open"  # non-text that opens a span of the text (its CLOSE is ``Part.pair``)
    CLOSE = "close"
    ATOM = "atom"  # non-text standing alone


FIXED = frozenset({Kind.OPEN, Kind.CLOSE, Kind.ATOM})


@dataclass
class Part:
    """One piece of a block.

    ``text`` is the decoded text of a TEXT part (what the model reads) and, for the other kinds,
    what stands for it when the block is sent (a placeholder's own text) or nothing. ``raw`` is
    what the writer writes when the part is kept (its bytes in the file); None for parts that
    exist only as text (a placeholder found inside TEXT is written through ``Block.encode``).
    """

    kind: Kind
    text: str
    raw: str | None = None
    pair: int | None = None  # OPEN/CLOSE: the index of the partner in the block's parts
    where: Any = None  # where the part is in the document, for the format's writer

    @property
    def fixed(self) -> bool:
        return self.kind in FIXED


def _same(text: str) -> str:
    return text


@dataclass
class Block:
    """One piece of running text to translate.

    Args:
        parts: the pieces, in document order.
        encode: turns translated text into the format's text (entities, escapes).
        keep_order: fixed parts must stay in their order (DOCX runs cannot move), so a
            translation that moves them is not taken as it is (see the engine's fallback).
        line_start_ok: whether a line of this format may start with the given text (Markdown: a
            line starting "- " would become a list); re-wrapping never breaks a line there.
        where: what the format's writer needs to put the result back.
    """

    parts: list[Part]
    encode: Callable[[str], str] = _same
    keep_order: bool = False
    line_start_ok: Callable[[str], bool] | None = None
    where: Any = None
    protect: bool = True  # look for placeholders and URLs in its TEXT (see split_protected)


# What comes out of the engine for a block: translated strings (to be encoded) and the indexes
# of parts to write back as they were.
Item = str | int


def pair_up(parts: list[Part], name: Callable[[Part], str | None]) -> None:
    """Link OPEN and CLOSE parts of the same ``name`` (a tag name) that nest, in place; an OPEN
    or CLOSE without a partner becomes an ATOM (kept, but not a span). Malformed markup (``<b>``
    never closed, ``</i>`` never opened, ``<b><i></b></i>``) is normal and ends up as atoms."""
    stack: list[int] = []
    for index, part in enumerate(parts):
        if part.kind is Kind.OPEN:
            stack.append(index)
        elif part.kind is Kind.CLOSE:
            key = name(part)
            for depth in range(len(stack) - 1, -1, -1):
                if name(parts[stack[depth]]) == key:
                    for orphan in stack[depth + 1 :]:  # crossed: those opened inside stay atoms
                        parts[orphan].kind = Kind.ATOM
                    opened = stack[depth]
                    del stack[depth:]
                    parts[opened].pair, part.pair = index, opened
                    break
            else:
                part.kind = Kind.ATOM
    for orphan in stack:
        parts[orphan].kind = Kind.ATOM


# ------------------------------------------------------------------------------------------
# Placeholders and URLs: non-text inside text
# ------------------------------------------------------------------------------------------
PROTECTED = re.compile(
    r"\{\{.*?\}\}"  # {{var}}: Jinja, Handlebars, Angular
    r"|\$\{[^{}\s]*\}"  # ${var}
    r"|\{[^{}\s]*\}"  # {name}, {0}, {}, {name!r:>10}: str.format, ICU arguments
    # printf and Python %-formatting: %s, %d, %5.2f, %(name)s, %%, %@; a space is not taken as a
    # flag, so that "50% off" stays text
    r"|%(?:\([A-Za-z_][A-Za-z0-9_]*\))?[-+#0]*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?:hh|h|ll|l|L|q|j|z|t)?[diouxXeEfFgGcrsaAp%@]"
    r"|(?:https?|ftp)://[^\s<>\"']*[^\s<>\"'.,;:!?)\]}]"  # a URL, without the sentence's punctuation
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+",  # an e-mail address
)


def split_protected(parts: Sequence[Part], pattern: re.Pattern[str] = PROTECTED) -> list[Part]:
    """``parts`` with every placeholder or URL inside a TEXT part made an ATOM of its own (written
    through the block's ``encode``, as text is). Pair indexes are renumbered."""
    out: list[Part] = []
    moved: dict[int, int] = {}
    for index, part in enumerate(parts):
        if part.kind is not Kind.TEXT or not pattern.search(part.text):
            moved[index] = len(out)
            out.append(part)
            continue
        position = 0
        for match in pattern.finditer(part.text):
            if match.start() > position:
                out.append(Part(Kind.TEXT, part.text[position : match.start()]))
            out.append(Part(Kind.ATOM, match.group()))
            position = match.end()
        if position < len(part.text):
            out.append(Part(Kind.TEXT, part.text[position:]))
    for part in out:
        if part.pair is not None:
            part.pair = moved[part.pair]
    return out


def has_words(text: str) -> bool:
    """Whether ``text`` holds anything to translate: a letter (numbers, punctuation and symbols
    alone are kept as they are)."""
    return any(ch.isalpha() for ch in text)


@dataclass
class ReadResult:
    """What a format's reader gives: the blocks, in document order, and how to write the
    document back once the engine has translated them (``write(items per block) -> bytes``)."""

    blocks: list[Block]
    write: Callable[[list[list[Item]]], bytes]
    counts: dict[str, int] = field(default_factory=dict)  # structure the format reports (tags, cues ...)
