"""Subtitles: SRT (read with the ``srt`` package) and WebVTT (``webvtt-py``).

Numbers, identifiers, timings, cue settings, NOTE, STYLE and REGION blocks are copied as they
are; the text of a cue is translated as one segment (its lines joined) and re-wrapped to its
number of lines. A cue whose lines all start with a dash is a dialogue: each line is translated
on its own, after its dash. Formatting tags (``<i>``, ``<font color=...>``, ``<c.yellow>``,
``<v Bob>``, karaoke timestamps ``<00:01.500>``, ASS overrides ``{\\an8}``) are kept. Broken
timings (a cue line that is not ``start --> end``, an end before its start) are errors naming
the line.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from m2m100.documents.blocks import Block, DocumentError, Kind, Part, ReadResult, pair_up
from m2m100.documents.spans import Region, SpanWriter, decode_text, entity_encoder, line_of

LINE_END = re.compile(r"\r\n|\r|\n")
CUE_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<\d[\d:.]*>|\{\\[^{}]*\}")
DASH = re.compile(r"-+[ \t]*")
TIMESTAMP = re.compile(r"\d+[:：]\d{1,2}[:：]\d{1,2}[,.，．]\d{1,3}")


def read_srt(data: bytes) -> ReadResult:
    """Read SubRip subtitles (UTF-8).

    Raises:
        DocumentError: text that is not a cue, or a cue that ends before it starts.
    """
    import srt

    source = decode_text(data, "SRT")
    try:
        cues = list(srt.parse(source))
    except srt.SRTParseError as err:
        where = line_of(source, err.expected_start + len(err.unmatched_content) - len(err.unmatched_content.lstrip()))
        bad = err.unmatched_content.strip().splitlines()[0][:60] if err.unmatched_content.strip() else ""
        raise DocumentError(
            f"line {where}: not a subtitle cue: {bad!r}; a cue is a number, a line "
            "'HH:MM:SS,mmm --> HH:MM:SS,mmm' and its text"
        ) from err
    except srt.TimestampParseError as err:
        raise DocumentError(f"a timing that cannot be read: {err}") from err
    regions: list[Region] = []
    for match, cue in zip(srt.SRT_REGEX.finditer(source), cues):
        after = source[match.end(3) : match.end(3) + 1]
        if not all(TIMESTAMP.fullmatch(match.group(g)) for g in (2, 3)) or after not in ("", " ", "\t", "\r", "\n"):
            timing = source[match.start(2) : source.find("\n", match.start(2))].strip()
            raise DocumentError(
                f"line {line_of(source, match.start(2))}: broken timing {timing[:60]!r}; "
                "expected 'HH:MM:SS,mmm --> HH:MM:SS,mmm'"
            )
        if cue.end < cue.start:
            raise DocumentError(
                f"line {line_of(source, match.start(2))}: the cue ends ({match.group(3)}) before it starts "
                f"({match.group(2)})"
            )
        regions.extend(cue_regions(source, match.start(5), match.end(5), decode=None))
    writer = SpanWriter(source, regions)
    return ReadResult(writer.blocks, writer, {"cues": len(cues)})


def read_vtt(data: bytes) -> ReadResult:
    """Read WebVTT subtitles (UTF-8).

    Raises:
        DocumentError: no WEBVTT header, or a cue whose timing line cannot be read.
    """
    import webvtt
    from webvtt.vtt import WebVTTCueBlock

    source = decode_text(data, "WebVTT")
    if not source.lstrip("\ufeff").startswith("WEBVTT"):
        raise DocumentError("line 1: a WebVTT file starts with 'WEBVTT'")
    ends = list(LINE_END.finditer(source))
    lines = list(zip([0] + [m.end() for m in ends], [m.start() for m in ends] + [len(source)]))
    regions: list[Region] = []
    cues = 0
    block: list[int] = []  # line numbers of the current block
    for number in [*range(len(lines)), len(lines)]:
        if number < len(lines) and source[lines[number][0] : lines[number][1]]:
            block.append(number)
            continue
        texts = [source[lines[n][0] : lines[n][1]] for n in block]
        if block and block[0] > 0 and any("-->" in t for t in texts):
            timing = next(i for i, t in enumerate(texts) if "-->" in t)
            if not WebVTTCueBlock.is_valid(texts[: timing + 1]) or not _ordered(texts[timing]):
                raise DocumentError(
                    f"line {block[timing] + 1}: broken cue timings {texts[timing][:60]!r}; "
                    "expected 'HH:MM:SS.mmm --> HH:MM:SS.mmm', the end not before the start"
                )
            cues += 1
            payload = block[timing + 1 :]
            if payload:
                start, end = lines[payload[0]][0], lines[payload[-1]][1]
                regions.extend(cue_regions(source, start, end, decode=html.unescape))
        block = []
    parsed = webvtt.from_string(source)
    if len(parsed.captions) != cues:
        raise DocumentError(
            f"{cues} cues found, but webvtt-py reads {len(parsed.captions)}: a block it reads otherwise"
        )
    writer = SpanWriter(source, regions)
    return ReadResult(writer.blocks, writer, {"cues": cues})


def _ordered(timing: str) -> bool:
    """Whether a cue's end is not before its start."""
    times = re.findall(r"(?:(\d+):)?(\d{1,2}):(\d{1,2})\.(\d{1,3})", timing)[:2]
    if len(times) < 2:
        return False
    start, end = ([int(h or 0), int(m), int(s), int(ms.ljust(3, "0"))] for h, m, s, ms in times)
    return end >= start


def cue_regions(source: str, start: int, end: int, *, decode: Callable[[str], str] | None) -> list[Region]:
    """The regions of a cue's text ``source[start:end]``: one for the cue, or one per line of a
    dialogue. ``decode``: the character references of the format (None: the text is as written)."""
    lines = [(start, start)]
    for match in LINE_END.finditer(source, start, end):
        lines[-1] = (lines[-1][0], match.start())
        lines.append((match.end(), match.end()))
    lines[-1] = (lines[-1][0], end)
    dialogue = len(lines) > 1 and all(DASH.match(source, a) for a, b in lines if b > a)
    groups = [[line] for line in lines] if dialogue else [lines]
    regions = []
    for group in groups:
        parts: list[Part] = []
        for index, (a, b) in enumerate(group):
            if index:
                previous = group[index - 1][1]
                parts.append(Part(Kind.BREAK, " ", source[previous:a], where=(previous, a)))
            dash = DASH.match(source, a, b) if dialogue else None
            if dash:
                parts.append(Part(Kind.ATOM, "", dash.group(), where=dash.span()))
                a = dash.end()
            parts.extend(_line_parts(source, a, b, decode))
        if any(p.kind is Kind.TEXT and p.text.strip() for p in parts):
            pair_up(parts, lambda p: p.text)
            raws = [p.raw or "" for p in parts if p.kind is Kind.TEXT]
            encode = entity_encoder(raws, xml=False) if decode else str
            regions.append(Region(parts[0].where[0], parts[-1].where[1], Block(parts, encode=encode)))
    return regions


def _line_parts(source: str, start: int, end: int, decode: Callable[[str], str] | None) -> list[Part]:
    """One line of a cue: text and formatting tags (OPEN/CLOSE named by the tag, else ATOM)."""
    parts, position = [], start
    for match in CUE_TAG.finditer(source, start, end):
        if match.start() > position:
            raw = source[position : match.start()]
            parts.append(Part(Kind.TEXT, decode(raw) if decode else raw, raw, where=(position, match.start())))
        tag = match.group()
        name = re.match(r"</?([A-Za-z]+)", tag)
        kind = Kind.ATOM if name is None else Kind.CLOSE if tag.startswith("</") else Kind.OPEN
        parts.append(Part(kind, name.group(1).lower() if name else "", tag, where=match.span()))
        position = match.end()
    if position < end:
        raw = source[position:end]
        parts.append(Part(Kind.TEXT, decode(raw) if decode else raw, raw, where=(position, end)))
    return parts
