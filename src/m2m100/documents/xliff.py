"""XLIFF 1.2 and 2.x, read as XML (:mod:`m2m100.documents.xml`).

Each ``<source>`` of a ``<trans-unit>`` (1.2) or ``<segment>`` (2.x) is translated into its
``<target>``: filled when it is empty, added after the source (with the source's indentation and
namespace prefix) when there is none, and left alone when it has a translation, unless
``overwrite`` is asked. The source is copied as it was; inline codes (``<g>``, ``<x/>``,
``<pc>``, ``<ph/>`` ...) go into the target around the words they belong to, and the native code
inside ``<ph>``, ``<bpt>``, ``<ept>`` and ``<it>`` is kept as it is. Units marked
``translate="no"`` are skipped.
"""

from __future__ import annotations

from m2m100.documents.blocks import ReadResult
from m2m100.documents.spans import Region, SpanWriter
from m2m100.documents.xml import XmlDocument, block_parts, is_kept, local, parse_xml, text_block

UNITS = frozenset({"trans-unit", "segment"})
NATIVE_CODE = frozenset({"ph", "bpt", "ept", "it"})  # XLIFF 1.2: their content is code, not text


def read_xliff(data: bytes, *, overwrite: bool = False) -> ReadResult:
    """Read an XLIFF file.

    Raises:
        DocumentError: not well-formed XML (with its line and column).
    """
    doc = parse_xml(data)
    events = doc.events
    ends = {e.element: i for i, e in enumerate(events) if e.kind == "end"}
    starts = {e.element: i for i, e in enumerate(events) if e.kind in ("start", "empty")}
    skipped = {
        e.element
        for e in events
        if e.kind == "start" and local(e.name) in UNITS | {"unit", "group", "file"} and is_kept(e)
    }
    regions: list[Region] = []
    units = 0
    for index, event in enumerate(events):
        if event.kind != "start" or local(event.name) != "source" or event.parent < 0:
            continue
        unit = events[starts[event.parent]]
        if local(unit.name) not in UNITS:
            continue
        units += 1
        if _inside(doc, starts, event.parent, skipped):
            continue
        stop = ends[event.element]
        block = text_block(block_parts(doc, index + 1, stop, kept_names=NATIVE_CODE))
        region = _target_region(doc, index, stop, event.parent, overwrite)
        if region is not None:
            region.block = block
            regions.append(region)
    writer = SpanWriter(doc.source, regions, encoding=doc.encoding, errors="xmlcharrefreplace")
    return ReadResult(writer.blocks, writer, {"units": units, "targets written": len(regions)})


def _inside(doc: XmlDocument, starts: dict[int, int], element: int, skipped: set[int]) -> bool:
    """Whether ``element`` is, or is inside, a unit, group or file marked translate="no"."""
    while element >= 0:
        if element in skipped:
            return True
        element = doc.events[starts[element]].parent
    return False


def _target_region(doc: XmlDocument, source: int, source_end: int, unit: int, overwrite: bool) -> Region | None:
    """Where the translation of the source at ``doc.events[source]`` goes (its block set later),
    or None for a target that has a translation already."""
    events = doc.events
    name = events[source].name
    target_name = name[: len(name) - len("source")] + "target"
    for index in range(source_end + 1, len(events)):
        event = events[index]
        if event.kind == "end" and event.element == unit:
            break
        if event.kind not in ("start", "empty") or event.parent != unit or local(event.name) != "target":
            continue
        if event.kind == "empty":
            tag = doc.source[event.start : event.end]
            opening = tag[: tag.rindex("/")].rstrip() + ">"
            return Region(event.start, event.end, text_block([]), before=opening, after=f"</{event.name}>")
        end = next(
            i for i in range(index + 1, len(events)) if events[i].kind == "end" and events[i].element == event.element
        )
        content = doc.source[event.end : events[end].start]
        if content.strip() and not overwrite:
            return None
        return Region(event.end, events[end].start, text_block([]))
    previous = events[source - 1] if source else None
    indent = (
        doc.source[previous.start : previous.end]
        if previous and previous.kind == "text" and not previous.text.strip()
        else ""
    )
    at = events[source_end].end
    return Region(at, at, text_block([]), before=f"{indent}<{target_name}>", after=f"</{target_name}>")
