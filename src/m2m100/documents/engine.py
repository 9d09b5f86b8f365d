"""Translate the blocks of a document: all of them through one ``translate_segments`` call (sorted,
token-budget batches, the settings of plain text), with what is not text kept.

How a block is sent, and how its non-text comes back (the method the README documents):

1. **Markers.** The block's text is sent as one segment, so that the model sees whole sentences.
   Each tag, code span or other fixed part in it becomes a numbered marker (``<1>``...``</1>``
   around the words of a pair, ``<2/>`` for one standing alone); a placeholder (``{name}``,
   ``%s``, ``%(x)d``, ``{{var}}``) or a URL is sent as itself. Line breaks inside the block are
   sent as spaces. The translation is taken when every marker comes back exactly once, pairs
   open before they close and nest, and every placeholder comes back as often as it was sent:
   the tags are then written where the model put their markers, around the words they belong to.
2. **Runs.** Otherwise (and the small demo model never keeps markers), each run of text between
   the fixed parts is translated as a segment of its own, and the fixed parts stay exactly where
   they were: every tag and placeholder is kept and balanced, at the cost of the words of one
   sentence being translated apart.

Either way the line breaks of the block are put back: the translation is cut at the spaces
nearest to the same fractions of its length as the original lines (a subtitle keeps its number
of lines, an indented HTML paragraph its indentation). Text without a letter (numbers,
punctuation) is not sent; leading and trailing white space stays as it was.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from m2m100.documents.blocks import Block, Item, Kind, has_words, split_protected
from m2m100.translator import NO_SPACE_LANGUAGES, Segment, Translation

MARKER = re.compile(r"<\s*(/?)\s*(\d{1,4})\s*(/?)\s*>")

Progress = Callable[[int, int], None]  # (segments done, segments planned so far)


class SegmentTranslator(Protocol):
    """What the engine needs of a translator: :meth:`m2m100.translator.Translator.translate_segments`."""

    def translate_segments(self, lines: Iterable[str | Segment], **settings: Any) -> Iterator[Translation]: ...


@dataclass
class _Plan:
    """A block as sent: the region of parts translated together and the text the model reads."""

    block: Block
    start: int  # first part of the region (parts before it are written as they were)
    stop: int  # one past the last
    text: str = ""  # the segment (markers and placeholders in it); "" when nothing is sent
    markers: dict[str, int] = field(default_factory=dict)  # "<1>" -> part index
    placeholders: dict[str, list[int]] = field(default_factory=dict)  # "{name}" -> part indexes
    breaks: list[tuple[int, int]] = field(default_factory=list)  # (BREAK part, characters of text before it)
    length: int = 0  # characters of text sent (markers not counted)
    lead: str = ""  # white space taken off the start of the sent text, written back as it was
    trail: str = ""


def translate_blocks(
    translator: SegmentTranslator,
    blocks: Sequence[Block],
    *,
    src: str,
    tgt: str,
    progress: Progress | None = None,
    **settings: Any,
) -> list[list[Item]]:
    """The items to write for each block (see :mod:`m2m100.documents.blocks`).

    Args:
        translator: a :class:`~m2m100.translator.Translator` (or anything with its
            ``translate_segments``).
        settings: options of ``translate_segments`` (beam_size, max_new_tokens, on_batch ...).
        progress: called with (done, planned) after every translated segment.

    Raises:
        ValueError: from the translator (an unknown language, a bad setting).
    """
    for block in blocks:
        if block.protect:
            block.parts = split_protected(block.parts)
    plans = [_plan(block) for block in blocks]
    sent = [plan for plan in plans if plan.text]
    counter = _Counter(progress, len(sent))
    outputs = iter(counter.run(translator, [plan.text for plan in sent], src, tgt, settings))
    results: list[list[Item]] = []
    retry: list[tuple[int, list[_Plan]]] = []  # blocks whose markers did not come back: their runs
    for plan in plans:
        read = _read_markers(plan, next(outputs)) if plan.text else None
        items: list[Item] = list(range(plan.start, plan.stop))
        if read is not None:
            items = [
                *([plan.lead] if plan.lead else []),
                *_rewrap(plan, read, tgt),
                *([plan.trail] if plan.trail else []),
            ]
        elif plan.text:
            retry.append((len(results), _runs(plan)))
        results.append([*range(plan.start), *items, *range(plan.stop, len(plan.block.parts))])
    if retry:
        runs = [run for _, block_runs in retry for run in block_runs if run.text]
        counter.planned += len(runs)
        answers = dict(zip(map(id, runs), counter.run(translator, [run.text for run in runs], src, tgt, settings)))
        for index, block_runs in retry:
            plan = plans[index]
            out: list[Item] = list(range(plan.start))
            position = plan.start
            for run in block_runs:
                out.extend(range(position, run.start))
                if run.text:
                    edges = (run.start > plan.start, run.stop < plan.stop)
                    translated = _rewrap(run, [answers[id(run)].strip()], tgt, edges)
                    out.extend([*([run.lead] if run.lead else []), *translated, *([run.trail] if run.trail else [])])
                else:
                    out.extend(range(run.start, run.stop))
                position = run.stop
            out.extend(range(position, len(plan.block.parts)))
            results[index] = out
    return results


class _Counter:
    def __init__(self, progress: Progress | None, planned: int) -> None:
        self.progress, self.planned, self.done = progress, planned, 0

    def run(
        self, translator: SegmentTranslator, texts: list[str], src: str, tgt: str, settings: dict[str, Any]
    ) -> list[str]:
        out = []
        for translation in translator.translate_segments([Segment(t, src, tgt) for t in texts], **settings):
            out.append(translation.text)
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, self.planned)
        if len(out) != len(texts):
            raise RuntimeError(f"the translator returned {len(out)} translations for {len(texts)} segments")
        return out


# ------------------------------------------------------------------------------------------
# Step 1: the block as one segment, with markers
# ------------------------------------------------------------------------------------------
def _plan(block: Block) -> _Plan:
    parts = block.parts
    words = [i for i, p in enumerate(parts) if p.kind is Kind.TEXT and p.text.strip()]
    if not any(has_words(parts[i].text) for i in words):
        return _Plan(block, 0, len(parts))
    start, stop = words[0], words[-1] + 1
    # Take in the pairs that have one end in the region, so that "<b>word</b> more" is sent as
    # "<1>word</1> more" rather than with the <b> left outside.
    while True:
        ends = [p.pair for p in parts[start:stop] if p.pair is not None]
        new_start, new_stop = min([start, *ends]), max([stop, *(e + 1 for e in ends)])
        if (new_start, new_stop) == (start, stop):
            break
        start, stop = new_start, new_stop
    plan = _Plan(block, start, stop)
    numbers: dict[int, int] = {}  # OPEN part -> its marker number
    pieces: list[tuple[str, int | None]] = []  # (text, BREAK part) with markers as (marker, -1)
    for index in range(start, stop):
        part = parts[index]
        if part.kind is Kind.TEXT:
            pieces.append((part.text, None))
        elif part.kind is Kind.BREAK:
            pieces.append((" ", index))
        elif part.raw is None:  # a placeholder: sent as itself (a marker that the model can read)
            pieces.append((part.text, -1))
            plan.placeholders.setdefault(part.text, []).append(index)
        else:
            if part.kind is Kind.CLOSE and part.pair in numbers:
                marker = f"</{numbers[part.pair]}>"
            else:
                numbers[index] = len(numbers) + 1
                marker = f"<{numbers[index]}>" if part.kind is Kind.OPEN else f"<{numbers[index]}/>"
            pieces.append((marker, -1))
            plan.markers[marker] = index
    _lay_out(plan, pieces)
    return plan


def _lay_out(plan: _Plan, pieces: list[tuple[str, int | None]]) -> None:
    """Set the sent text of ``plan`` from its pieces ((text, None), (" ", BREAK part) or
    (marker, -1)), with where its line breaks stand among the characters of text."""
    text = "".join(piece for piece, _ in pieces)
    plan.text = text.strip()
    lead = len(text) - len(text.lstrip())
    plan.lead, plan.trail = text[:lead], text[len(text.rstrip()) :]
    plan.length = sum(len(piece) for piece, index in pieces if index != -1) - lead - len(plan.trail)
    position = -lead
    for piece, index in pieces:
        if index is not None and index >= 0 and 0 <= position < plan.length:
            plan.breaks.append((index, position))
        if index != -1:
            position += len(piece)


def _read_markers(plan: _Plan, output: str) -> list[Item] | None:
    """The items of a translation sent with markers, or None when its markers are not all back
    exactly once, opened before closed and nested (and in order, for a block that keeps it)."""
    parts = plan.block.parts
    if not plan.markers and not plan.placeholders:
        return [output.strip()]
    alternatives = [re.escape(p) for p in sorted(plan.placeholders, key=len, reverse=True)]
    pattern = re.compile("|".join([MARKER.pattern, *alternatives]))
    waiting = {text: list(indexes) for text, indexes in plan.placeholders.items()}
    seen: set[int] = set()
    stack: list[int] = []
    items: list[Item] = []
    position = 0
    for match in pattern.finditer(output):
        items.append(output[position : match.start()])
        position = match.end()
        if match.group(2) is None:  # a placeholder
            if not waiting.get(match.group()):
                return None
            index = waiting[match.group()].pop(0)
        else:
            closing, number, alone = match.group(1), match.group(2), match.group(3)
            key = f"</{number}>" if closing else f"<{number}/>" if alone else f"<{number}>"
            index = plan.markers.get(key, -1)
            if index < 0 or index in seen:
                return None
            if key.startswith("</"):
                if not stack or stack.pop() != parts[index].pair:
                    return None
            elif not key.endswith("/>"):
                stack.append(index)
        seen.add(index)
        items.append(index)
    items.append(output[position:])
    if stack or len(seen) != len(plan.markers) + sum(map(len, plan.placeholders.values())):
        return None
    if plan.block.keep_order:
        fixed = [i for i in items if isinstance(i, int)]
        if fixed != sorted(fixed):
            return None
    if isinstance(items[0], str):
        items[0] = items[0].lstrip()
    if isinstance(items[-1], str):
        items[-1] = items[-1].rstrip()
    return [i for i in items if i != ""]


# ------------------------------------------------------------------------------------------
# Step 2: run by run
# ------------------------------------------------------------------------------------------
def _runs(plan: _Plan) -> list[_Plan]:
    """The runs of TEXT and BREAK parts of the region, each to be sent alone; breaks and blank
    text at the ends of a run stay outside it, as they were."""
    parts = plan.block.parts
    runs: list[_Plan] = []
    first: int | None = None
    for index in range(plan.start, plan.stop + 1):
        inside = index < plan.stop and parts[index].kind in (Kind.TEXT, Kind.BREAK)
        if inside and first is None:
            first = index
        elif not inside and first is not None:
            words = [i for i in range(first, index) if parts[i].kind is Kind.TEXT and parts[i].text.strip()]
            run = _Plan(plan.block, words[0], words[-1] + 1) if words else _Plan(plan.block, first, index)
            if words and any(has_words(parts[i].text) for i in words):
                _lay_out(
                    run,
                    [
                        (" ", i) if parts[i].kind is Kind.BREAK else (parts[i].text, None)
                        for i in range(run.start, run.stop)
                    ],
                )
            runs.append(run)
            first = None
    return runs


# ------------------------------------------------------------------------------------------
# Line breaks
# ------------------------------------------------------------------------------------------
def _rewrap(plan: _Plan, items: list[Item], tgt: str, edges: tuple[bool, bool] = (False, False)) -> list[Item]:
    """``items`` (a translation, without the white space at its ends) with the plan's BREAK parts
    put back: each replaces the space nearest to the fraction of the text at which it stood (a
    language written without spaces is cut between characters). Where no space is left, a break
    goes where the text meets a kept part (a tag), so that a subtitle keeps its number of lines;
    else it is left out and its lines join: a word is never cut in two in a language with spaces.
    ``edges``: whether kept parts stand before and after ``items`` (a run between tags)."""
    if not plan.breaks:
        return items
    texts = [(k, item) for k, item in enumerate(items) if isinstance(item, str)]
    length = sum(len(item) for _, item in texts)
    spaced = tgt not in NO_SPACE_LANGUAGES or any(" " in item for _, item in texts)
    # Where a line may start: (item, offset of the cut, characters before it, characters replaced).
    candidates: list[tuple[int, int, int, int]] = []
    boundaries: list[tuple[int, int, int, int]] = []  # text next to a kept part: nothing replaced
    seen = 0
    for k, item in texts:
        for offset, ch in enumerate(item):
            if spaced and ch == " ":
                candidates.append((k, offset, seen + offset, 1))
            elif not spaced and seen + offset > 0:
                candidates.append((k, offset, seen + offset, 0))
        if item and not item[0].isspace() and (isinstance(items[k - 1], int) if k else edges[0]):
            boundaries.append((k, 0, seen, 0))
        seen += len(item)
        if item and not item[-1].isspace() and (isinstance(items[k + 1], int) if k + 1 < len(items) else edges[1]):
            boundaries.append((k, len(item), seen, 0))
    last = texts[-1][0] if texts else -1

    def usable(candidate: tuple[int, int, int, int]) -> bool:
        k, offset, _, width = candidate
        line = str(items[k])[offset + width :]
        if not line.strip() and k == last and not (edges[1] and offset + width == len(str(items[k]))):
            return False  # nothing would follow the break
        return plan.block.line_start_ok is None or plan.block.line_start_ok(line)

    wheres = [c[2] for c in candidates]
    cuts: dict[int, list[tuple[int, int, int]]] = {}  # item -> (offset, width, break part)
    low = 0  # candidates before it are taken or behind the last cut
    floor = -1  # characters before the last cut
    for index, at in plan.breaks:
        target = at * length / max(plan.length, 1)
        right = max(bisect.bisect_left(wheres, target), low)
        left = right - 1
        while left >= low and not usable(candidates[left]):
            left -= 1
        while right < len(candidates) and not usable(candidates[right]):
            right += 1
        options = [candidates[i] for i in (left, right) if low <= i < len(candidates)]
        if not options:
            options = [c for c in boundaries if c[2] > floor and usable(c)]
        if not options:
            continue
        best = min(options, key=lambda c: abs(c[2] - target))
        k, offset, floor, width = best
        cuts.setdefault(k, []).append((offset, width, index))
        if best in candidates:
            low = candidates.index(best) + 1
        else:
            boundaries.remove(best)
            low = bisect.bisect_right(wheres, floor)
    out: list[Item] = []
    for k, piece in enumerate(items):
        if k not in cuts:
            out.append(piece)
            continue
        text, start = str(piece), 0
        for offset, width, index in cuts[k]:
            out.extend([text[start:offset], index] if text[start:offset] else [index])
            start = offset + width
        if text[start:]:
            out.append(text[start:])
    return out
