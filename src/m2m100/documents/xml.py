"""XML: the text of elements and the ``alt`` and ``title`` attributes, read with expat (the
standard library's XML parser), which gives the byte offset of every tag and text.

XML has no list of inline tags, so the document says it: an element whose own content holds
text (mixed content, as ``<para>Click <emph>here</emph> now</para>``) is a block, and every
element inside it is inline (a pair kept around its words). Elements with ``translate="no"``
(any namespace: ITS ``its:translate``), comments, processing instructions and CDATA sections are
kept as they are. Entity declarations are refused (no entity expansion attacks); a document that
is not well-formed is an error with its line and column.
"""

from __future__ import annotations

import html
import re
import xml.parsers.expat as expat
from collections.abc import Callable
from dataclasses import dataclass, field

from m2m100.documents.blocks import Block, DocumentError, Kind, Part, ReadResult, pair_up
from m2m100.documents.spans import Region, SpanWriter, entity_encoder, text_parts

ATTRIBUTES = ("alt", "title")


@dataclass
class Event:
    """A piece of the document: ``kind`` is start, end, empty (``<x/>``), text, kept (CDATA,
    comment, processing instruction) or other; offsets are characters of the decoded source."""

    kind: str
    start: int
    end: int = 0
    name: str = ""
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""  # text: decoded by the parser
    element: int = -1  # start/end/empty: the element's number; text: the element it is in
    parent: int = -1  # start/empty: the element it is in


@dataclass
class XmlDocument:
    source: str
    encoding: str
    events: list[Event]
    text_bearing: set[int]  # elements with text of their own (not only white space)


def local(name: str) -> str:
    return name.rpartition(":")[2]


def parse_xml(data: bytes) -> XmlDocument:
    """The events of an XML document, with offsets into its decoded text.

    Raises:
        DocumentError: not well-formed ("line 3, column 7: mismatched tag"), an entity
            declaration, or an encoding Python does not know.
    """
    parser = expat.ParserCreate()
    raw: list[tuple[str, int, tuple[object, ...]]] = []
    declared: list[str | None] = [None]

    def record(kind: str) -> Callable[..., None]:
        def handler(*args: object) -> None:
            raw.append((kind, parser.CurrentByteIndex, args))

        return handler

    def xml_decl(version: str, encoding: str | None, standalone: int) -> None:
        declared[0] = encoding
        raw.append(("other", parser.CurrentByteIndex, ()))

    def refuse(name: str, *args: object) -> None:
        raise DocumentError(f"line {parser.CurrentLineNumber}: the entity declaration {name!r} is not accepted")

    parser.StartElementHandler = record("start")
    parser.EndElementHandler = record("end")
    parser.CharacterDataHandler = record("text")
    parser.StartCdataSectionHandler = record("cdata")
    parser.EndCdataSectionHandler = record("cdata_end")
    parser.CommentHandler = record("kept")
    parser.ProcessingInstructionHandler = record("kept")
    parser.DefaultHandlerExpand = record("other")
    parser.XmlDeclHandler = xml_decl
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(data, True)
    except expat.ExpatError as err:
        raise DocumentError(
            f"line {err.lineno}, column {err.offset + 1}: not well-formed XML ({expat.errors.messages[err.code]})"
        ) from err
    encoding = _encoding(data, declared[0])
    source = data.decode(encoding)
    return _events(source, data, encoding, raw)


def _encoding(data: bytes, declared: str | None) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    name = (declared or "utf-8").lower()
    try:
        "".encode(name)
    except LookupError as err:
        raise DocumentError(f"line 1: unknown encoding {declared!r}") from err
    return name


def _events(source: str, data: bytes, encoding: str, raw: list[tuple[str, int, tuple[object, ...]]]) -> XmlDocument:
    """Turn expat's byte offsets into character offsets, merge the pieces of each text and CDATA
    section, and number the elements."""
    offsets: dict[int, int] = {}
    byte, char = 0, 0
    for _, at, _ in raw:
        if at not in offsets:
            char += len(data[byte:at].decode(encoding)) if at > byte else 0
            byte = at
            offsets[at] = char
    events: list[Event] = []
    stack: list[int] = []
    text_bearing: set[int] = set()
    elements = 0
    in_cdata = False
    for kind, at, args in raw:
        start = offsets[at]
        if in_cdata and kind != "cdata_end":
            continue
        if kind == "text" and events and events[-1].kind == "text":
            events[-1].text += str(args[0])
            continue
        if kind == "cdata":
            in_cdata = True
            events.append(Event("kept", start))
            continue
        if kind == "cdata_end":
            in_cdata = False
            continue
        if kind == "start":
            name, attrs = str(args[0]), dict(args[1])  # type: ignore[call-overload]
            events.append(
                Event("start", start, name=name, attrs=attrs, element=elements, parent=stack[-1] if stack else -1)
            )
            stack.append(elements)
            elements += 1
        elif kind == "end":
            element = stack.pop()
            if (
                events
                and events[-1].kind == "start"
                and events[-1].element == element
                and _ends_empty(source, events[-1].start, start)
            ):
                events[-1].kind = "empty"
                continue
            events.append(Event("end", start, name=str(args[0]), element=element))
        elif kind == "text":
            events.append(Event("text", start, text=str(args[0]), element=stack[-1] if stack else -1))
        else:
            if events and events[-1].start == start:
                continue  # the same place (a declaration's pieces)
            events.append(Event(kind, start))
    for index, event in enumerate(events):
        event.end = events[index + 1].start if index + 1 < len(events) else len(source)
        if event.kind == "text" and event.text.strip() and event.element >= 0:
            text_bearing.add(event.element)
    return XmlDocument(source, encoding, events, text_bearing)


def _ends_empty(source: str, start: int, end: int) -> bool:
    """Whether the start tag at ``source[start:end]`` is an empty-element tag (``<x/>``)."""
    return source[start:end].rstrip().endswith("/>")


def xml_unescape(raw: str) -> str:
    """Decode the references of XML text (``&amp;``, ``&#233;``) and normalise line ends, as
    the parser does."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"&(?:#[0-9]+|#x[0-9a-fA-F]+|amp|lt|gt|quot|apos);", lambda m: html.unescape(m.group()), text)


def is_kept(event: Event) -> bool:
    """An element marked not to be translated (``translate="no"`` in any namespace)."""
    return any(local(name) == "translate" and value.strip().lower() == "no" for name, value in event.attrs.items())


def block_parts(doc: XmlDocument, first: int, stop: int, *, kept_names: frozenset[str] = frozenset()) -> list[Part]:
    """The parts of ``doc.events[first:stop]``: text, with every tag inside it inline; elements
    marked translate="no" or named in ``kept_names`` are kept whole."""
    parts: list[Part] = []
    skip_until = -1  # element kept whole: its end
    kept_from = 0
    for event in doc.events[first:stop]:
        if skip_until >= 0:
            if event.kind == "end" and event.element == skip_until:
                parts.append(Part(Kind.ATOM, "", doc.source[kept_from : event.end], where=(kept_from, event.end)))
                skip_until = -1
            continue
        span = (event.start, event.end)
        raw = doc.source[event.start : event.end]
        if event.kind == "start" and (is_kept(event) or local(event.name) in kept_names):
            skip_until, kept_from = event.element, event.start
        elif event.kind == "start":
            parts.append(Part(Kind.OPEN, str(event.element), raw, where=span))
        elif event.kind == "end":
            parts.append(Part(Kind.CLOSE, str(event.element), raw, where=span))
        elif event.kind == "text":
            pieces = text_parts(raw, event.start, xml_unescape)
            if "".join(p.text if p.kind is Kind.TEXT else xml_unescape(p.raw or "") for p in pieces) == event.text:
                parts.extend(pieces)
            else:
                parts.append(Part(Kind.ATOM, "", raw, where=span))
        elif event.end > event.start:
            parts.append(Part(Kind.ATOM, "", raw, where=span))
    pair_up(parts, lambda p: p.text)
    return parts


def text_block(parts: list[Part]) -> Block:
    return Block(parts, encode=entity_encoder([p.raw or "" for p in parts if p.kind is Kind.TEXT], xml=True))


def attribute_regions(doc: XmlDocument, event: Event, names: tuple[str, ...] = ATTRIBUTES) -> list[Region]:
    """Regions for the translatable attributes of a start tag."""
    regions = []
    tag = doc.source[event.start : event.end]
    for name, value in event.attrs.items():
        if local(name) not in names or not value.strip():
            continue
        match = re.search(r"\s" + re.escape(name) + r"""\s*=\s*(?:"([^"]*)"|'([^']*)')""", tag)
        if match is None:
            continue
        group = 1 if match.group(1) is not None else 2
        text = match.group(group)
        if xml_unescape(text) != value:
            continue  # white space the parser normalised: leave it
        at = event.start + match.start(group)
        part = Part(Kind.TEXT, value, text, where=(at, at + len(text)))
        encode = entity_encoder([text], xml=True, quote='"' if group == 1 else "'")
        regions.append(Region(at, at + len(text), Block([part], encode=encode)))
    return regions


def read_xml(data: bytes) -> ReadResult:
    """Read an XML document: a block per element with text of its own (see the module)."""
    doc = parse_xml(data)
    regions: list[Region] = []
    events = doc.events
    index = 0
    kept_until = -1
    while index < len(events):
        event = events[index]
        if kept_until >= 0:
            if event.kind == "end" and event.element == kept_until:
                kept_until = -1
            index += 1
            continue
        if event.kind in ("start", "empty"):
            if event.kind == "start" and is_kept(event):
                kept_until = event.element
                index += 1
                continue
            regions.extend(attribute_regions(doc, event))
        if event.kind == "start" and event.element in doc.text_bearing:
            stop = next(
                i
                for i in range(index + 1, len(events))
                if events[i].kind == "end" and events[i].element == event.element
            )
            inner_kept = -1
            for inner in events[index + 1 : stop]:
                if inner_kept >= 0:
                    inner_kept = -1 if inner.kind == "end" and inner.element == inner_kept else inner_kept
                elif inner.kind == "start" and is_kept(inner):
                    inner_kept = inner.element
                elif inner.kind in ("start", "empty"):
                    regions.extend(attribute_regions(doc, inner))
            parts = block_parts(doc, index + 1, stop)
            regions.append(Region(events[index + 1].start, events[stop].start, text_block(parts)))
            index = stop
            continue
        index += 1
    writer = SpanWriter(doc.source, regions, encoding=doc.encoding, errors="xmlcharrefreplace")
    elements = sum(1 for e in events if e.kind in ("start", "empty"))
    return ReadResult(writer.blocks, writer, {"elements": elements, "blocks": len(regions)})
