"""The bundled demo model translating every format (French to German): the words it knows are
translated where they stand, and everything that is not text is what it was (read back with
each format's own library)."""

from __future__ import annotations

import io

import pytest

from m2m100 import Translator
from m2m100.documents import FORMATS, translate_document
from tests.documents.samples import document
from tests.documents.structure import structure

# Pieces of each translated sample: the demo model's words in place, and what is kept.
EXPECTED = {
    "html": [
        '<h1 class="top">Deutschland</h1>',
        "<b>Dienstag</b>",
        'title="Mittwoch">einhundert</a>',
        'alt="Freitag"',
        "<li>vier<li>fünf</ul>",
        "<div>Italien<br>Spanien</b></div> < 3 & 4",
        '<script>var mardi = "<p>lundi</p>";</script>',
        "<code>samedi</code>",
        '<p translate="no">dimanche</p>',
        "<!-- mardi -->",
    ],
    "xml": [
        "<emph>Dienstag</emph>",
        'title="Mittwoch"',
        '<figure alt="Samstag" src="s.png"/>',
        '<para its:translate="no">dimanche</para>',
        "<![CDATA[jeudi < vendredi]]>",
        "<!-- lundi -->\n    <?pi mardi?>",
    ],
    "markdown": [
        "---\ntitle: janvier\n---\n",
        "**Dienstag**",
        '(https://example.com/lundi "mercredi")',
        "`code`",
        "- Samstag\n- Sonntag ![sieben](img.png)",
        "| März | Montag |",
        '```python\nmardi = "mercredi"\n```',
        '<div align="center">Mai <b>Juni</b></div>',
        "eins  \nzwei\\\ndrei <span>vier</span> ~~fünf~~ <https://example.com>",
        '    indented = "code"',
        "[ref]: https://example.com/juillet",
    ],
    "srt": [
        "2\n00:00:03,000 --> 00:00:04,000 X1:10 X2:20\n<i>einhundert</i> zwei\n",
        "- Montag\n- Donnerstag",
        "{\\an8}Deutschland",
    ],
    "vtt": [
        "WEBVTT - janvier\n\nNOTE mardi\nlundi\n\nSTYLE\n::cue { color: yellow }\n\nintro\n",
        "00:01.000 --> 00:02.000 align:start position:10%\n<v Bob>",
        "<c.loud>Mittwoch</c>",
        "einhundert <00:00:03.500>zwei",
    ],
    "po": [
        'msgid "mardi"\nmsgstr "Dienstag"',
        'msgstr "einhundert %(name)s {count}"',
        'msgstr "Montag (schon übersetzt)"',
        'msgstr "Donnerstag?"',
        '#~ msgstr "März"',
    ],
    "xliff": [
        '<target>Juli <g id="1">Dienstag</g> eins <x id="2"/> einhundert</target>',
        '<target>Montag <ph id="1">&lt;br/&gt;</ph>Donnerstag</target>',
        "<target>Freitag</target>",
        "<target>Sonntag</target>",
    ],
}


@pytest.fixture(scope="module")
def demo() -> Translator:
    return Translator(device="cpu")


@pytest.mark.parametrize("name", [n for n in FORMATS if n in EXPECTED])
def test_the_demo_model_changes_the_text_and_nothing_else(demo: Translator, name: str) -> None:
    data = document(name)
    out = translate_document(demo, data, format=name, src="fr", tgt="de")
    assert structure(name, out) == structure(name, data)
    text = out.decode("utf-8")
    for piece in EXPECTED[name]:
        assert piece in text, piece


def test_the_demo_model_translates_word_runs_and_keeps_their_looks(demo: Translator) -> None:
    import docx

    out = translate_document(demo, document("docx"), format="docx", src="fr", tgt="de")
    assert structure("docx", out) == structure("docx", document("docx"))
    translated = docx.Document(io.BytesIO(out))
    assert [(r.text, r.bold) for r in translated.paragraphs[0].runs][1] == ("Dienstag", True)
    assert translated.paragraphs[0].runs[2].text.endswith("\tzwei")  # the tab kept between its words
    assert [p.text for p in translated.paragraphs[1:]] == ["Deutschland"]
    assert [c.text for c in translated.tables[0].rows[0].cells] == ["Januar", "42"]
    assert translated.sections[0].header.paragraphs[0].text == "Montag"


def test_the_demo_model_translates_slides_and_notes(demo: Translator, tmp_path) -> None:
    import pptx

    source = tmp_path / "talk.pptx"
    source.write_bytes(document("pptx"))
    out = translate_document(demo, source, src="fr", tgt="de", output=tmp_path / "talk.de.pptx")
    assert (tmp_path / "talk.de.pptx").read_bytes() == out
    assert structure("pptx", out) == structure("pptx", document("pptx"))
    slide = pptx.Presentation(io.BytesIO(out)).slides[0]
    assert slide.shapes.title.text == "Deutschland"
    assert [(r.text, r.font.italic) for r in slide.placeholders[1].text_frame.paragraphs[0].runs][1] == (
        "Dienstag",
        True,
    )
    assert slide.notes_slide.notes_text_frame.text == "Januar"
