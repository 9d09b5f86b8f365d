"""Word (DOCX, with python-docx) and PowerPoint (PPTX, with python-pptx): the same design for
both, since both keep text in paragraphs of runs (``w:p``/``w:r``/``w:t``, ``a:p``/``a:r``/``a:t``).

A paragraph is a block. Its runs are never added, removed or moved: the translation is put into
their text elements. Runs that look the same (the same run properties, in the same hyperlink or
content control) form one stretch of text; each stretch with another look than the paragraph's
most common one becomes a pair of markers, so that bold or linked words stay bold or linked; a
tab, a break, an image, a field or a note reference is an atom kept in its place. The markers
must come back in their order (runs cannot move); otherwise each stretch is translated alone.
A stretch's translation is spread over its runs in proportion to their lengths.

DOCX: the body (tables and text boxes included), headers, footers and comments. PPTX: slides and
their notes (not the masters and layouts). The package is written again by the library: its
parts hold the same XML, with other bytes (zip dates, XML declarations).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from m2m100.documents.blocks import Block, DocumentError, Item, Kind, Part, ReadResult


@dataclass(frozen=True)
class _Dialect:
    """The element names of one Office XML vocabulary."""

    namespace: str
    atoms: frozenset[str]  # elements inside a paragraph that stand alone (tab, break, image, field)
    containers: frozenset[str]  # elements whose runs look different (hyperlink, content control)
    ignored: frozenset[str]  # run property attributes that do not change the look (language, spelling)

    def tag(self, name: str) -> str:
        return f"{{{self.namespace}}}{name}"


WORD = _Dialect(
    "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    atoms=frozenset(
        "tab br cr drawing pict object sym fldChar footnoteReference endnoteReference commentReference "
        "noBreakHyphen softHyphen ptab".split()
    ),
    containers=frozenset("hyperlink sdt ins smartTag fldSimple".split()),
    ignored=frozenset(),
)
DRAWING = _Dialect(
    "http://schemas.openxmlformats.org/drawingml/2006/main",
    atoms=frozenset({"br", "fld"}),
    containers=frozenset(),
    ignored=frozenset({"lang", "altLang", "dirty", "err", "smtClean", "smtId", "noProof"}),
)
WORD_PARTS = ("document.main", "header", "footer", "comments", "footnotes", "endnotes")


def read_docx(data: bytes) -> ReadResult:
    """Read a Word document.

    Raises:
        DocumentError: not a DOCX (zip) package, or one python-docx cannot open.
    """
    import docx
    from docx.opc.part import XmlPart

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as err:  # noqa: BLE001 - zip, XML and package errors alike mean "not a DOCX"
        raise DocumentError(f"not a readable DOCX file: {_reason(err)}") from err
    roots = [
        part._element
        for part in document.part.package.iter_parts()
        if isinstance(part, XmlPart) and any(f"{kind}+xml" in part.content_type for kind in WORD_PARTS)
    ]

    def save() -> bytes:
        out = io.BytesIO()
        document.save(out)
        return out.getvalue()

    return _read(roots, WORD, save)


def read_pptx(data: bytes) -> ReadResult:
    """Read a PowerPoint presentation.

    Raises:
        DocumentError: not a PPTX (zip) package, or one python-pptx cannot open.
    """
    import pptx
    from pptx.opc.package import XmlPart

    try:
        presentation = pptx.Presentation(io.BytesIO(data))
    except Exception as err:  # noqa: BLE001 - zip, XML and package errors alike mean "not a PPTX"
        raise DocumentError(f"not a readable PPTX file: {_reason(err)}") from err
    roots = [
        part._element
        for part in presentation.part.package.iter_parts()
        if isinstance(part, XmlPart) and str(part.partname).startswith(("/ppt/slides/", "/ppt/notesSlides/"))
    ]

    def save() -> bytes:
        out = io.BytesIO()
        presentation.save(out)
        return out.getvalue()

    return _read(roots, DRAWING, save)


def _reason(err: Exception) -> str:
    if isinstance(err, zipfile.BadZipFile):
        return "it is not a zip archive (a DOCX/PPTX file is one), or it is cut short"
    return f"{type(err).__name__}: {err}".splitlines()[0][:200]


def _read(roots: Iterable[Any], dialect: _Dialect, save: Any) -> ReadResult:
    blocks: list[Block] = []
    paragraphs = runs = 0
    for root in roots:
        for paragraph in root.iter(dialect.tag("p")):
            paragraphs += 1
            runs += sum(1 for r in paragraph.iter(dialect.tag("r")) if _paragraph_of(r, dialect) is paragraph)
            block = _block(paragraph, dialect)
            if block is not None:
                blocks.append(block)

    def write(results: list[list[Item]]) -> bytes:
        for block, items in zip(blocks, results):
            _put_back(block, items)
        return save()

    return ReadResult(blocks, write, {"paragraphs": paragraphs, "runs": runs})


def _paragraph_of(element: Any, dialect: _Dialect) -> Any:
    """The nearest paragraph around ``element`` (a text box's paragraphs are their own)."""
    parent = element.getparent()
    while parent is not None and parent.tag != dialect.tag("p"):
        parent = parent.getparent()
    return parent


def _look(text: Any, dialect: _Dialect) -> str:
    """What a text element looks like: its run's properties and the containers around it."""
    from lxml import etree

    run = text.getparent()
    properties = run.find(dialect.tag("rPr")) if run.tag == dialect.tag("r") else None
    look = ""
    if properties is not None:
        properties = etree.fromstring(etree.tostring(properties))
        for name in dialect.ignored:
            properties.attrib.pop(name, None)
        look = etree.tostring(properties, encoding="unicode")
    parent = run.getparent()
    while parent is not None and parent.tag != dialect.tag("p"):
        if etree.QName(parent).localname in dialect.containers:
            look += f"@{id(parent)}"
        parent = parent.getparent()
    return look


def _block(paragraph: Any, dialect: _Dialect) -> Block | None:
    """The paragraph as a block: stretches of one look (pairs unless the paragraph's main look),
    atoms where tabs, breaks and images are."""
    from lxml import etree

    pieces: list[tuple[str, Any, str]] = []  # ("text", element, look) or ("atom", element, "")
    inside_atom: set[Any] = set()
    for element in paragraph.iter():
        if not isinstance(element.tag, str) or element is paragraph or _paragraph_of(element, dialect) is not paragraph:
            continue
        if any(ancestor in inside_atom for ancestor in element.iterancestors()):
            continue  # the text of a field (a:fld) or inside an image: kept with it
        name = etree.QName(element).localname
        if element.tag == dialect.tag("t"):
            pieces.append(("text", element, _look(element, dialect)))
        elif name in dialect.atoms and etree.QName(element).namespace == dialect.namespace:
            pieces.append(("atom", element, ""))
            inside_atom.add(element)
    if not any(kind == "text" and (element.text or "").strip() for kind, element, _ in pieces):
        return None
    weight: dict[str, int] = {}
    for kind, element, look in pieces:
        if kind == "text":
            weight[look] = weight.get(look, 0) + len(element.text or "")
    main = max(weight, key=lambda look: weight[look])
    parts: list[Part] = []
    open_at: int | None = None
    current = main
    for kind, element, look in pieces:
        if open_at is not None and (kind == "atom" or look != current):
            parts[open_at].pair = len(parts)
            parts.append(Part(Kind.CLOSE, "", "", pair=open_at))
            open_at, current = None, main
        if kind == "atom":
            parts.append(Part(Kind.ATOM, "", "", where=element))
            continue
        if look != current:
            open_at, current = len(parts), look
            parts.append(Part(Kind.OPEN, "", ""))
        parts.append(Part(Kind.TEXT, element.text or "", element.text or "", where=element))
    if open_at is not None:
        parts[open_at].pair = len(parts)
        parts.append(Part(Kind.CLOSE, "", "", pair=open_at))
    return Block(parts, keep_order=True)


def _put_back(block: Block, items: list[Item]) -> None:
    """Spread the text between each two fixed parts over the text elements between them."""
    parts = block.parts
    gaps: list[list[int]] = [[]]  # the TEXT parts between fixed parts, in the source
    for index, part in enumerate(parts):
        if part.fixed:
            gaps.append([])
        elif part.kind is Kind.TEXT:
            gaps[-1].append(index)
    texts: list[list[Item]] = [[]]  # what the translation has between the same fixed parts
    for item in items:
        if isinstance(item, int) and parts[item].fixed:
            texts.append([])
        else:
            texts[-1].append(item)
    assert len(texts) == len(gaps)  # the engine keeps every fixed part, in order, for keep_order blocks
    orphan = ""  # text the translation put where the source had no run: goes to the next run
    for gap, got in zip(gaps, texts):
        if all(isinstance(i, int) for i in got) and not orphan:
            continue  # untouched
        text = orphan + "".join(i if isinstance(i, str) else parts[i].text for i in got)
        if not gap:
            orphan = text
            continue
        orphan = ""
        _spread(text, [parts[i] for i in gap])
    if orphan:
        last = next((p for p in reversed(parts) if p.kind is Kind.TEXT), None)
        if last is not None:
            _set(last.where, (last.where.text or "") + orphan)


def _spread(text: str, parts: list[Part]) -> None:
    """Put ``text`` into the text elements of ``parts``, each taking the share of it that its
    own text had (the first takes it all when they were empty)."""
    lengths = [len(p.text) for p in parts]
    total = sum(lengths)
    position = 0
    for index, part in enumerate(parts):
        if index == len(parts) - 1:
            piece = text[position:]
        elif total == 0:
            piece = text[position:] if index == 0 else ""
        else:
            end = round(sum(lengths[: index + 1]) * len(text) / total)
            piece = text[position:end]
        position += len(piece)
        _set(part.where, piece)


def _set(element: Any, text: str) -> None:
    element.text = text
    space = "{http://www.w3.org/XML/1998/namespace}space"
    if text != text.strip() and element.tag.endswith("}t") and "wordprocessingml" in element.tag:
        element.set(space, "preserve")
