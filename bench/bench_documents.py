"""The document layer's cost: a large document of each format translated with its structure kept,
against translating the same segments as plain lines with the same Translator.

Each document holds ``--blocks`` pieces of running text made of words the demo model knows
(number words and CLDR names, French), with the structure of its format around them: inline
tags, links, placeholders, cues, runs, plural entries. Three timings per format:

Times are CPU seconds of the process (one torch thread by default), the fastest of ``--repeat``.

- ``lines``: ``Translator.translate`` of the very segments the document layer sent (its markers
  and placeholders included, and the runs it sent again when the model lost them), in one call;
- ``document``: ``translate_document`` on the file's bytes: read, translate, write;
- ``layer``: the same with a translator that returns its input: reading, planning, checking
  markers, re-wrapping and writing alone.

The overhead is (document - lines) / lines.

    python bench/bench_documents.py                       # the demo model, 1000 blocks a format
    python bench/bench_documents.py --blocks 200 --formats html srt docx
"""

from __future__ import annotations

import argparse
import io
import random
import time
from typing import Any

import torch

from m2m100 import Translator
from m2m100.documents import FORMATS, translate_document
from m2m100.translator import Translation


def words(seed: int) -> list[str]:
    from m2m100.demo.sources import language_texts

    texts = sorted(t for t in set(language_texts("fr").texts.values()) if len(t.split()) <= 3)
    random.Random(seed).shuffle(texts)
    return texts


def make(name: str, count: int, pool: list[str]) -> bytes:
    """A document of ``count`` blocks of format ``name``."""
    w = lambda i: pool[i % len(pool)]  # noqa: E731
    if name == "html":
        body = "\n".join(f'<p>{w(i)} <b>{w(i + 1)}</b> <a href="/p{i}">{w(i + 2)}</a></p>' for i in range(count))
        return f"<!DOCTYPE html><html><body>\n{body}\n</body></html>\n".encode()
    if name == "xml":
        body = "\n".join(f"  <para>{w(i)} <emph>{w(i + 1)}</emph> {w(i + 2)}</para>" for i in range(count))
        return f'<?xml version="1.0" encoding="UTF-8"?>\n<doc>\n{body}\n</doc>\n'.encode()
    if name == "markdown":
        return "\n\n".join(f"- {w(i)} **{w(i + 1)}** [{w(i + 2)}](https://e.org/{i})" for i in range(count)).encode()
    if name == "srt":
        cues = (
            f"{i + 1}\n00:{i // 60 % 60:02d}:{i % 60:02d},000 --> 00:{i // 60 % 60:02d}:{i % 60:02d},900\n{w(i)}\n<i>{w(i + 1)}</i>"
            for i in range(count)
        )
        return ("\n\n".join(cues) + "\n").encode()
    if name == "vtt":
        cues = (
            f"00:{i // 60 % 60:02d}:{i % 60:02d}.000 --> 00:{i // 60 % 60:02d}:{i % 60:02d}.900\n{w(i)}\n{w(i + 1)}"
            for i in range(count)
        )
        return ("WEBVTT\n\n" + "\n\n".join(cues) + "\n").encode()
    if name == "po":
        entries = (f'msgid "{w(i)} %s"\nmsgstr ""' for i in range(count))
        return (
            'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n' + "\n\n".join(entries) + "\n"
        ).encode()
    if name == "xliff":
        units = "\n".join(
            f'<trans-unit id="{i}"><source>{w(i)} <g id="1">{w(i + 1)}</g></source></trans-unit>' for i in range(count)
        )
        return (
            '<?xml version="1.0"?>\n<xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2">'
            f'<file source-language="fr" datatype="plaintext" original="x"><body>\n{units}\n</body></file></xliff>\n'
        ).encode()
    if name == "docx":
        import docx

        document = docx.Document()
        for i in range(count):
            paragraph = document.add_paragraph(f"{w(i)} ")
            paragraph.add_run(w(i + 1)).bold = True
        out = io.BytesIO()
        document.save(out)
        return out.getvalue()
    if name == "pptx":
        import pptx
        from pptx.util import Inches

        presentation = pptx.Presentation()
        for start in range(0, count, 10):
            slide = presentation.slides.add_slide(presentation.slide_layouts[6])
            frame = slide.shapes.add_textbox(Inches(1), Inches(1), Inches(6), Inches(4)).text_frame
            for i in range(start, min(start + 10, count)):
                paragraph = frame.add_paragraph()
                paragraph.text = f"{w(i)} "
                run = paragraph.add_run()
                run.text, run.font.italic = w(i + 1), True
        out = io.BytesIO()
        presentation.save(out)
        return out.getvalue()
    raise ValueError(name)


class Recorder:
    """The Translator, noting the segments the document layer sends."""

    def __init__(self, translator: Translator) -> None:
        self.translator, self.texts = translator, []  # type: ignore[var-annotated]

    def translate_segments(self, lines: Any, **settings: Any) -> Any:
        segments = list(lines)
        self.texts += [s.text for s in segments]
        return self.translator.translate_segments(segments, **settings)


class Identity:
    def translate_segments(self, lines: Any, **settings: Any) -> Any:
        return iter([Translation(s.text, s.src, s.tgt) for s in lines])


def timed(run: Any, repeat: int) -> float:
    """The least CPU seconds of this process over ``repeat`` runs (the machine may be shared: its
    load changes wall time, not the work done)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=1000, help="blocks of text in each document")
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=list(FORMATS))
    parser.add_argument("--model", default=None, help="checkpoint folder (default: the demo model)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: CPU time is then the work)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each timing; the fastest counts")
    parser.add_argument("-s", "--src", default="fr")
    parser.add_argument("-t", "--tgt", default="de")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    translator = Translator(args.model, device="cpu")
    pool = words(0)
    translator.translate(pool[:64], src=args.src, tgt=args.tgt)  # warm up
    print(f"{args.blocks} blocks a document, {args.src} -> {args.tgt}, {torch.get_num_threads()} threads, CPU seconds")
    print(f"{'format':<9} {'KiB':>6} {'segments':>8} {'lines s':>8} {'document s':>10} {'layer s':>8} {'overhead':>9}")
    for name in args.formats:
        data = make(name, args.blocks, pool)
        recorder = Recorder(translator)
        translate_document(recorder, data, format=name, src=args.src, tgt=args.tgt)
        sent = list(recorder.texts)
        document = timed(
            lambda: translate_document(translator, data, format=name, src=args.src, tgt=args.tgt), args.repeat
        )
        lines = timed(lambda: translator.translate(sent, src=args.src, tgt=args.tgt), args.repeat)
        layer = timed(
            lambda: translate_document(Identity(), data, format=name, src=args.src, tgt=args.tgt), args.repeat
        )
        overhead = (document - lines) / lines
        print(
            f"{name:<9} {len(data) / 1024:>6.0f} {len(sent):>8} {lines:>8.2f} {document:>10.2f} "
            f"{layer:>8.2f} {overhead:>+8.1%}"
        )


if __name__ == "__main__":
    main()
