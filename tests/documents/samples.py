"""Documents of every format, in French words the demo model knows (weekdays, months, numbers,
countries), with the structure each format must keep: tags, attributes, code, placeholders,
timings, runs, plural forms, translated entries."""

from __future__ import annotations

import io
from typing import Any

from m2m100.translator import Translation

HTML = """<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>janvier &amp; février</title>
<style>p { color: red }</style><script>var mardi = "<p>lundi</p>";</script></head>
<body>
<!-- mardi -->
<h1 class="top">Allemagne</h1>
<p>le <b>mardi</b> et <a href="https://example.com/lundi" title="mercredi">cent</a>,
   puis deux {name}&nbsp;fois</p>
<p>jeudi <img src="a.png" alt="vendredi"> <code>samedi</code>
<ul><li>quatre<li>cinq</ul>
<p translate="no">dimanche</p>
<pre>six
  sept</pre>
<div>Italie<br>Espagne</b></div> < 3 & 4
</body></html>
"""

XML = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE book>
<book xmlns:its="http://www.w3.org/2005/11/its" id="b1">
  <title>janvier &amp; février</title>
  <chapter n="1">
    <para>le <emph>mardi</emph> et <link href="x" title="mercredi"/> cent
      puis deux</para>
    <para its:translate="no">dimanche</para>
    <code><![CDATA[jeudi < vendredi]]></code>
    <figure alt="samedi" src="s.png"/>
    <!-- lundi -->
    <?pi mardi?>
  </chapter>
</book>
"""

MARKDOWN = """---
title: janvier
---

# Allemagne *et* Italie #

le **mardi** et [cent](https://example.com/lundi "mercredi"), puis
deux `code` fois &amp; `trois`.

> jeudi
> vendredi

- samedi
- dimanche ![sept](img.png)

| mois | jour |
|------|:----:|
| mars | lundi |

```python
mardi = "mercredi"
```

Setext avril
------------

<div align="center">mai <b>juin</b></div>

un  
deux\\
trois <span>quatre</span> ~~cinq~~ <https://example.com>

    indented = "code"

[ref]: https://example.com/juillet
"""

SRT = """1
00:00:01,000 --> 00:00:02,500
le mardi
et le mercredi

2
00:00:03,000 --> 00:00:04,000 X1:10 X2:20
<i>cent</i> deux

3
00:00:05,000 --> 00:00:06,000
- lundi
- jeudi

4
00:00:07,000 --> 00:00:08,000
{\\an8}Allemagne
"""

VTT = """WEBVTT - janvier

NOTE mardi
lundi

STYLE
::cue { color: yellow }

intro
00:01.000 --> 00:02.000 align:start position:10%
<v Bob>le mardi &amp;
le <c.loud>mercredi</c>

00:00:03.000 --> 00:00:04.000
cent <00:00:03.500>deux
"""

PO = """# Traductions
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"

#: app.py:1
msgid "mardi"
msgstr ""

#, python-format
msgid "cent %(name)s {count}"
msgstr ""

msgid "un jour"
msgid_plural "%d jours"
msgstr[0] ""
msgstr[1] ""

msgid "lundi"
msgstr "Montag (schon übersetzt)"

#, fuzzy
msgid "jeudi"
msgstr "Donnerstag?"

msgid ""
"janvier\\n"
"février\\n"
msgstr ""

#~ msgid "mars"
#~ msgstr "März"
"""

XLIFF = """<?xml version="1.0" encoding="UTF-8"?>
<xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2">
  <file source-language="fr" target-language="de" datatype="plaintext" original="a.txt">
    <body>
      <trans-unit id="1">
        <source>le <g id="1">mardi</g> et <x id="2"/> cent</source>
      </trans-unit>
      <trans-unit id="2">
        <source>lundi <ph id="1">&lt;br/&gt;</ph>jeudi</source>
        <target/>
      </trans-unit>
      <trans-unit id="3">
        <source>vendredi</source>
        <target>Freitag</target>
      </trans-unit>
      <trans-unit id="4" translate="no">
        <source>samedi</source>
      </trans-unit>
      <trans-unit id="5">
        <source>dimanche</source>
        <target></target>
      </trans-unit>
    </body>
  </file>
</xliff>
"""

XLIFF2 = """<?xml version="1.0" encoding="UTF-8"?>
<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="fr" trgLang="de">
  <file id="f1">
    <unit id="u1">
      <segment>
        <source>le <pc id="1">mardi</pc> <ph id="2"/></source>
      </segment>
    </unit>
  </file>
</xliff>
"""


def docx() -> bytes:
    """A Word document: runs of several looks, a tab, a table, a header, a hyperlink-less body."""
    import docx as python_docx

    document = python_docx.Document()
    paragraph = document.add_paragraph("le ")
    paragraph.add_run("mardi").bold = True
    paragraph.add_run(" et cent\tdeux")
    document.add_paragraph("Allemagne", style="Heading 1")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "janvier"
    table.cell(0, 1).text = "42"
    document.sections[0].header.paragraphs[0].text = "lundi"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pptx() -> bytes:
    """A presentation: a title, a body with an italic run, notes."""
    import pptx as python_pptx

    presentation = python_pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])
    slide.shapes.title.text = "Allemagne"
    frame = slide.placeholders[1].text_frame
    frame.text = "le "
    run = frame.paragraphs[0].add_run()
    run.text = "mardi"
    run.font.italic = True
    slide.notes_slide.notes_text_frame.text = "janvier"
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


TEXTS: dict[str, Any] = {
    "html": HTML,
    "xml": XML,
    "markdown": MARKDOWN,
    "srt": SRT,
    "vtt": VTT,
    "po": PO,
    "xliff": XLIFF,
}


def document(name: str) -> bytes:
    """The sample of format ``name``, as bytes."""
    if name == "docx":
        return docx()
    if name == "pptx":
        return pptx()
    return TEXTS[name].encode("utf-8")


class Identity:
    """A translator that returns its input: the same ``translate_segments`` as the Translator,
    so that a round trip shows what the document layer itself does to a file."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []  # the texts of each call
        self.settings: list[dict[str, Any]] = []

    def translate_segments(self, lines: Any, **settings: Any) -> Any:
        segments = list(lines)
        self.calls.append([s.text for s in segments])
        self.settings.append(settings)
        return iter([Translation(s.text, s.src, s.tgt) for s in segments])


class Rewrite:
    """A translator that rewrites every word with ``change`` (upper case by default) and keeps
    markers and placeholders only when ``keep_markers`` says so: a stand-in for a model that
    keeps tags, and for one that loses them."""

    def __init__(self, *, keep_markers: bool = True, change: Any = str.upper) -> None:
        self.keep_markers, self.change = keep_markers, change
        self.calls: list[list[str]] = []

    def translate_segments(self, lines: Any, **settings: Any) -> Any:
        import re

        segments = list(lines)
        self.calls.append([s.text for s in segments])
        out = []
        for segment in segments:
            pieces = re.split(r"(<\s*/?\s*\d+\s*/?\s*>|\{[^{}\s]*\}|%\(\w+\)s|%d|https?://\S+)", segment.text)
            text = "".join(
                piece if i % 2 and self.keep_markers else "" if i % 2 else self.change(piece)
                for i, piece in enumerate(pieces)
            )
            out.append(Translation(text, segment.src, segment.tgt))
        return iter(out)
