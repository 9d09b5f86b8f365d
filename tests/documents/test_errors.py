"""Bad documents: one line naming the place and the problem, never a half-written output.
Malformed HTML is not one of them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from m2m100.documents import DocumentError, MissingDependency, format_named, read_document, translate_document
from m2m100.documents.blocks import Kind
from m2m100.documents.formats import Format
from tests.documents.samples import Identity, document

BAD = {
    "srt: letters in a timing": ("srt", b"1\n00:00:01,000 --> 00:00:0x,000\nmardi\n", "line 2: broken timing"),
    "srt: end before start": (
        "srt",
        b"1\n00:00:05,000 --> 00:00:01,000\nmardi\n",
        "line 2: the cue ends (00:00:01,000) before it starts",
    ),
    "srt: text before the cues": (
        "srt",
        b"lundi\n\n1\n00:00:01,000 --> 00:00:02,000\nmardi\n",
        "line 1: not a subtitle cue: 'lundi'",
    ),
    "srt: a broken arrow": (
        "srt",
        b"1\n00:00:01,000 --> 00:00:02,000\nmardi\n\n2\n00:00:03,000 -> 00:00:04,000\nlundi\n",
        "line 5: not a subtitle cue: '2'",
    ),
    "vtt: no header": ("vtt", b"00:01.000 --> 00:02.000\nmardi\n", "line 1: a WebVTT file starts with 'WEBVTT'"),
    "vtt: broken timing": ("vtt", b"WEBVTT\n\nid\n00:01.000 --> 00:0x.000\nmardi\n", "line 4: broken cue timings"),
    "po: syntax": ("po", b'msgid "mardi"\nmsgstr "Dienstag"\nbogus line\n', "line 3: not a valid PO file"),
    "xml: mismatched tag": ("xml", b"<a>\n  <b>mardi</a>", "line 2, column 13: not well-formed XML (mismatched tag)"),
    "xml: entity declaration": (
        "xml",
        b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>',
        "the entity declaration 'e' is not accepted",
    ),
    "xliff: not XML": ("xliff", b"<xliff><file>", "not well-formed XML"),
    "docx: not a zip": ("docx", b"PK\x03\x04 not really", "not a readable DOCX file: it is not a zip archive"),
    "docx: cut short": ("docx", document("docx")[:2000], "not a readable DOCX file"),
    "pptx: a docx": ("pptx", document("docx"), "not a readable PPTX file"),
    "html: not UTF-8": ("html", b"<p>f\xe9vrier</p>", "line 1: not UTF-8 (byte 0xe9)"),
    "markdown: not UTF-8": ("markdown", b"# mardi\n\nf\xe9vrier\n", "line 3: not UTF-8 (byte 0xe9)"),
}


@pytest.mark.parametrize("name, data, message", BAD.values(), ids=BAD.keys())
def test_a_bad_document_is_one_line_with_its_place(name: str, data: bytes, message: str) -> None:
    with pytest.raises(DocumentError) as caught:
        read_document(data, name)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_malformed_html_is_translated_as_it_comes() -> None:
    data = b"<p>mardi <b>lundi<p>jeudi</i> & <a href=x>cent <li>un</b></div><!-- -- <p"
    read = read_document(data, "html")
    words = [[p.text for p in block.parts if p.kind is Kind.TEXT] for block in read.blocks]
    assert words == [["mardi ", "lundi"], ["jeudi", " & ", "cent "], ["un"]]  # the comment left open is kept
    assert translate_document(Identity(), data, format="html", src="fr", tgt="de") == data


def test_a_file_that_fails_leaves_the_output_as_it_was(tmp_path: Path) -> None:
    source, output = tmp_path / "talk.srt", tmp_path / "talk.de.srt"
    source.write_bytes(BAD["srt: end before start"][1])
    output.write_bytes(b"the previous translation")
    with pytest.raises(DocumentError, match=r"talk.srt: line 2: "):
        translate_document(Identity(), source, src="fr", tgt="de", output=output)
    assert output.read_bytes() == b"the previous translation"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["talk.de.srt", "talk.srt"]


def test_an_interrupted_write_leaves_no_half_file(tmp_path: Path) -> None:
    from m2m100.documents import write_atomically

    output = tmp_path / "page.html"
    output.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_atomically(output, "not bytes")  # type: ignore[arg-type]  # fails inside the write
    assert output.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["page.html"]
    write_atomically(output, b"new")
    assert output.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["page.html"]
    if os.name == "posix":
        fresh = tmp_path / "fresh.html"
        write_atomically(fresh, b"x")
        mask = os.umask(0)
        os.umask(mask)
        assert fresh.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600


def test_formats_and_their_names() -> None:
    with pytest.raises(ValueError, match=r"unknown document format 'rtf'; formats: html, xml, markdown, srt"):
        format_named("rtf")
    with pytest.raises(ValueError, match=r"format= is needed for a document given as bytes"):
        translate_document(Identity(), b"<p>x</p>", src="fr", tgt="de")
    with pytest.raises(ValueError, match=r"notes.rtf: no document format for this extension"):
        translate_document(Identity(), Path(__file__).with_name("notes.rtf"), src="fr", tgt="de")


def test_a_missing_parser_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "polib", None)  # as if it were not installed
    with pytest.raises(
        MissingDependency, match=r"the po format needs polib, which is not installed: pip install 'm2m100\[documents\]'"
    ):
        read_document(document("po"), "po")
    assert isinstance(MissingDependency("x"), ImportError)
    assert Format("x", (".x",), "", "", read_document).check_installed() is None  # no package needed
