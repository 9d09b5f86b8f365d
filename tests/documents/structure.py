"""What a document is made of besides its text, read with each format's own library (not with
the readers under test): equal before and after a translation."""

from __future__ import annotations

import io
import zipfile
from html.parser import HTMLParser
from typing import Any

TRANSLATED_ATTRIBUTES = {"alt", "title", "placeholder", "aria-label"}


def structure(name: str, data: bytes) -> Any:
    return globals()[f"_{name}"](data)


def _html(data: bytes) -> list[tuple[Any, ...]]:
    """Every tag with its attributes (translated ones by name only), comment and declaration."""
    found: list[tuple[Any, ...]] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append(("start", tag, [(k, "" if k in TRANSLATED_ATTRIBUTES else v) for k, v in attrs]))

        def handle_endtag(self, tag: str) -> None:
            found.append(("end", tag))

        def handle_comment(self, data: str) -> None:
            found.append(("comment", data))

        def handle_decl(self, decl: str) -> None:
            found.append(("decl", decl))

    parser = Tags()
    parser.feed(data.decode("utf-8"))
    parser.close()
    return found


def _xml(data: bytes) -> list[tuple[Any, ...]]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(data)
    return [(e.tag, {k: v for k, v in e.attrib.items() if k not in TRANSLATED_ATTRIBUTES}) for e in root.iter()]


def _markdown(data: bytes) -> list[tuple[Any, ...]]:
    """Block and inline tokens: type, markup, link targets, code (not the text)."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.front_matter import front_matter_plugin

    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"]).use(front_matter_plugin)
    found: list[tuple[Any, ...]] = []
    for token in parser.parse(data.decode("utf-8")):
        code = token.content if token.type in ("fence", "code_block", "front_matter") else ""
        found.append((token.type, token.markup, token.info, code))
        for child in token.children or []:
            if child.type in ("text", "softbreak"):
                continue  # text, and where re-wrapping cut its lines
            code = child.content if child.type in ("code_inline", "html_inline") else ""
            found.append((child.type, child.markup, dict(child.attrs), code))
    return found


def _srt(data: bytes) -> list[tuple[Any, ...]]:
    import srt

    return [(c.index, c.start, c.end, c.proprietary, c.content.count("\n")) for c in srt.parse(data.decode("utf-8"))]


def _vtt(data: bytes) -> list[tuple[Any, ...]]:
    import webvtt

    vtt = webvtt.from_string(data.decode("utf-8"))
    return [(c.identifier, c.start, c.end, len(c.lines)) for c in vtt.captions] + [s.text for s in vtt.styles]


def _docx(data: bytes) -> list[Any]:
    import docx

    document = docx.Document(io.BytesIO(data))
    cells = [cell for table in document.tables for row in table.rows for cell in row.cells]
    header = document.sections[0].header
    return [
        [[(r.bold, r.italic, r.style.name) for r in p.runs] for p in document.paragraphs],
        [[len(p.runs) for p in cell.paragraphs] for cell in cells],
        [len(p.runs) for p in header.paragraphs],
        _tabs(data),
    ]


def _tabs(data: bytes) -> int:
    """Tabs, breaks and images of the main part."""
    xml = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml")
    return sum(xml.count(tag) for tag in (b"<w:tab/>", b"<w:br/>", b"<w:drawing"))


def _pptx(data: bytes) -> list[Any]:
    import pptx

    presentation = pptx.Presentation(io.BytesIO(data))
    found: list[Any] = []
    for slide in presentation.slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                found.append([[(r.font.bold, r.font.italic) for r in p.runs] for p in shape.text_frame.paragraphs])
        found.append([len(p.runs) for p in slide.notes_slide.notes_text_frame.paragraphs])
    return found


def _po(data: bytes) -> list[tuple[Any, ...]]:
    import polib

    return [
        (e.msgid, e.msgid_plural, e.msgctxt, e.obsolete, tuple(e.flags), tuple(e.occurrences), tuple(e.msgstr_plural))
        for e in polib.pofile(data.decode("utf-8"))
    ]


def _xliff(data: bytes) -> list[tuple[Any, ...]]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(data)
    found = []
    for unit in root.iter():
        if unit.tag.endswith(("}trans-unit", "}segment")):
            source = next(e for e in unit if e.tag.endswith("}source"))
            source.tail = None
            found.append((unit.attrib.get("id"), ET.tostring(source), [e.tag for e in source.iter()]))
    return found


def parts_xml(data: bytes) -> dict[str, bytes]:
    """Every XML part of an Office package, canonicalized (the zip's own bytes differ per write)."""
    from lxml import etree

    package = zipfile.ZipFile(io.BytesIO(data))
    return {
        name: etree.tostring(etree.fromstring(package.read(name)), method="c14n")
        for name in package.namelist()
        if name.endswith((".xml", ".rels"))
    }
