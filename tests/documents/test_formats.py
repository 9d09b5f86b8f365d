"""Every format read and written back: a translator that returns its input gives the file back
byte for byte (the Office formats: the same XML in every part; PO and XLIFF: the same file with
each untranslated entry filled with its source), and the structure of every format survives a
translation that keeps markers and one that loses them."""

from __future__ import annotations

import re

import pytest

from m2m100.documents import FORMATS, read_document
from m2m100.documents.engine import translate_blocks
from tests.documents.samples import XLIFF2, Identity, Rewrite, document
from tests.documents.structure import parts_xml, structure

SPLICED = ("html", "xml", "markdown", "srt", "vtt")  # written back around the translated spans


def translated(name: str, data: bytes, translator: object, *, overwrite: bool = False, tgt: str = "de") -> bytes:
    read = read_document(data, name, overwrite=overwrite)
    return read.write(translate_blocks(translator, read.blocks, src="fr", tgt=tgt))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", SPLICED)
@pytest.mark.parametrize("variant", ["lf", "crlf", "bom"])
def test_identity_gives_the_file_back_byte_for_byte(name: str, variant: str) -> None:
    data = document(name)
    if variant == "crlf":
        data = data.replace(b"\n", b"\r\n")
    elif variant == "bom":
        data = b"\xef\xbb\xbf" + data
    identity = Identity()
    assert translated(name, data, identity) == data
    assert len(identity.calls) == 1 and len(identity.calls[0]) >= 2  # every block in one call


@pytest.mark.parametrize("name", ["docx", "pptx"])
def test_identity_gives_office_files_back_part_for_part(name: str) -> None:
    data = document(name)
    assert parts_xml(translated(name, data, Identity())) == parts_xml(data)


def test_identity_fills_po_entries_without_translation_with_their_source() -> None:
    import polib

    data = document("po")
    out = translated("po", data, Identity())
    before, after = polib.pofile(data.decode()), polib.pofile(out.decode())
    for old, new in zip(before, after):
        assert (new.msgid, new.msgid_plural, new.flags, new.occurrences) == (
            old.msgid,
            old.msgid_plural,
            old.flags,
            old.occurrences,
        )
        if old.obsolete or not old.msgid or old.msgstr or any(old.msgstr_plural.values()):
            assert (new.msgstr, new.msgstr_plural) == (old.msgstr, old.msgstr_plural)  # left alone
        elif old.msgid_plural:
            assert new.msgstr_plural == {0: old.msgid, 1: old.msgid_plural}
        else:
            assert new.msgstr == old.msgid
    # Asked to, it translates every entry; a file whose entries are their own translation comes
    # back byte for byte (polib's writing is a fixed point).
    again = translated("po", out, Identity(), overwrite=True)
    assert [e.msgstr for e in polib.pofile(again.decode())][:5] == [
        "mardi",
        "cent %(name)s {count}",
        "",
        "lundi",
        "jeudi",
    ]
    assert translated("po", again, Identity(), overwrite=True) == again


@pytest.mark.parametrize("source", [document("xliff"), XLIFF2.encode()], ids=["1.2", "2.0"])
def test_identity_copies_each_xliff_source_into_its_target(source: bytes) -> None:
    out = translated("xliff", source, Identity()).decode()
    for unit in re.findall(r"<(?:trans-unit|segment)\b.*?</(?:trans-unit|segment)>", out, re.S):
        inner = re.search(r"<source>(.*?)</source>", unit, re.S)
        target = re.search(r"<target>(.*?)</target>", unit, re.S)
        assert inner is not None
        if 'translate="no"' in unit:
            assert target is None
        elif "Freitag" in unit:
            assert target is not None and target.group(1) == "Freitag"  # translated already: left alone
        else:
            assert target is not None and target.group(1) == inner.group(1)
    # A target is added after its source, indented like it; the rest of the file is unchanged.
    targets = re.compile(r"\s*<target\b[^>]*?(?:/>|>.*?</target>)", re.S)
    assert targets.sub("", out) == targets.sub("", source.decode())
    # Asked to, it translates the targets that had a translation too.
    again = translated("xliff", out.encode(), Identity(), overwrite=True).decode()
    assert again == out.replace("<target>Freitag</target>", "<target>vendredi</target>")


@pytest.mark.parametrize("name", list(FORMATS))
@pytest.mark.parametrize("keep_markers", [True, False], ids=["markers kept", "markers lost"])
def test_structure_survives_translation(name: str, keep_markers: bool) -> None:
    data = document(name)
    out = translated(name, data, Rewrite(keep_markers=keep_markers))
    assert out != data
    assert structure(name, out) == structure(name, data)
    assert read_document(out, name).counts.keys() == read_document(data, name).counts.keys()


def test_upper_case_everywhere_but_the_non_text() -> None:
    """What changes is exactly the text: every kept piece of the HTML sample is still there."""
    out = translated("html", document("html"), Rewrite()).decode()
    for kept in (
        '<script>var mardi = "<p>lundi</p>";</script>',
        "<!-- mardi -->",
        "<code>samedi</code>",
        '<p translate="no">dimanche</p>',
        "<pre>six\n  sept</pre>",
        'href="https://example.com/lundi"',
        "{name}&nbsp;",
        "</b></div> < 3 & 4",
    ):
        assert kept in out
    assert 'title="MERCREDI"' in out and 'alt="VENDREDI"' in out and "<title>JANVIER &amp; FÉVRIER</title>" in out


def test_a_po_file_without_a_header_gets_none() -> None:
    data = b'# notes\nmsgid "mardi"\nmsgstr ""\n\nmsgid "lundi"\nmsgstr "Montag"\n'
    assert translated("po", data, Identity()) == data.replace(b'msgstr ""', b'msgstr "mardi"')
