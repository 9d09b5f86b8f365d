"""The engine on blocks made by hand: markers taken or refused, the run-by-run fallback, line
breaks put back, placeholders, text without letters, one translate_segments call per step."""

from __future__ import annotations

import pytest

from m2m100.documents.blocks import Block, Item, Kind, Part, pair_up, split_protected
from m2m100.documents.engine import translate_blocks
from tests.documents.samples import Identity, Rewrite


def text(value: str) -> Part:
    return Part(Kind.TEXT, value, value)


def tag(kind: Kind, name: str, raw: str) -> Part:
    return Part(kind, name, raw)


def brk(raw: str = "\n  ") -> Part:
    return Part(Kind.BREAK, " ", raw)


def written(block: Block, items: list[Item]) -> str:
    """What a span writer writes: translated strings, and the kept parts' raw text."""
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(block.encode(item))
        else:
            part = block.parts[item]
            out.append(part.raw if part.raw is not None else block.encode(part.text))
    return "".join(out)


def paragraph() -> Block:
    parts = [
        text("Hello "),
        tag(Kind.OPEN, "b", "<b>"),
        text("big"),
        brk(),
        text("world"),
        tag(Kind.CLOSE, "b", "</b>"),
        text(", dear {name}: see https://example.com/a."),
    ]
    pair_up(parts, lambda p: p.text)
    return Block(parts)


def translate(translator: object, *blocks: Block, tgt: str = "fr") -> list[str]:
    results = translate_blocks(translator, list(blocks), src="en", tgt=tgt)  # type: ignore[arg-type]
    return [written(b, items) for b, items in zip(blocks, results)]


def test_identity_gives_the_block_back_in_one_call() -> None:
    identity = Identity()
    blocks = [paragraph(), Block([text("  Two  ")]), Block([text("42 — 7")])]
    assert translate(identity, *blocks) == [
        "Hello <b>big\n  world</b>, dear {name}: see https://example.com/a.",
        "  Two  ",
        "42 — 7",
    ]
    # One call for every block (the Translator sorts and batches them); markers for tags,
    # placeholders and URLs as themselves, breaks as spaces, blank ends and numbers not sent.
    assert identity.calls == [["Hello <1>big world</1>, dear {name}: see https://example.com/a.", "Two"]]


def test_markers_that_come_back_put_tags_around_their_words() -> None:
    rewrite = Rewrite(keep_markers=True)
    assert translate(rewrite, paragraph()) == ["HELLO <b>BIG\n  WORLD</b>, DEAR {name}: SEE https://example.com/a."]
    assert len(rewrite.calls) == 1


def test_lost_markers_translate_each_run_alone_with_every_tag_and_placeholder_in_place() -> None:
    rewrite = Rewrite(keep_markers=False)
    assert translate(rewrite, paragraph()) == ["HELLO <b>BIG\n  WORLD</b>, DEAR {name}: SEE https://example.com/a."]
    assert rewrite.calls[1] == ["Hello", "big world", ", dear", ": see"]  # "." has no letter: not sent


@pytest.mark.parametrize(
    "output",
    [
        "<1>a</1> <1>b</1>",  # twice
        "</1>a<1>",  # closed before opened
        "<1>a <2/>",  # not closed
        "<1>a</1> <9/>",  # a marker that was not sent
        "<1>a</1>",  # the atom lost
    ],
)
def test_markers_are_taken_only_when_all_come_back_once_and_nested(output: str) -> None:
    class Fixed:
        def __init__(self) -> None:
            self.calls = 0

        def translate_segments(self, lines, **settings):  # type: ignore[no-untyped-def]
            self.calls += 1
            segments = list(lines)
            from m2m100.translator import Translation

            return iter([Translation(output if self.calls == 1 else "X", s.src, s.tgt) for s in segments])

    parts = [
        tag(Kind.OPEN, "b", "<b>"),
        text("a"),
        tag(Kind.CLOSE, "b", "</b>"),
        text(" b "),
        tag(Kind.ATOM, "", "<br>"),
    ]
    parts.append(text("c"))
    pair_up(parts, lambda p: p.text)
    assert translate(Fixed(), Block(parts)) == ["<b>X</b> X <br>X"]


def test_a_block_that_keeps_order_refuses_moved_markers() -> None:
    class Swap:
        def translate_segments(self, lines, **settings):  # type: ignore[no-untyped-def]
            from m2m100.translator import Translation

            swapped = {"<1>a</1> <2>b</2>": "<2>B</2> <1>A</1>"}
            return iter([Translation(swapped.get(s.text, s.text.upper()), s.src, s.tgt) for s in lines])

    def block(keep_order: bool) -> Block:
        parts = [tag(Kind.OPEN, "", ""), text("a"), tag(Kind.CLOSE, "", ""), text(" "), tag(Kind.OPEN, "", "")]
        parts += [text("b"), tag(Kind.CLOSE, "", "")]
        parts[0].pair, parts[2].pair, parts[4].pair, parts[6].pair = 2, 0, 6, 4
        return Block(parts, keep_order=keep_order)

    moved, kept = block(False), block(True)
    results = translate_blocks(Swap(), [moved, kept], src="en", tgt="fr")  # type: ignore[arg-type]
    assert results[0] == [4, "B", 6, " ", 0, "A", 2]
    assert results[1] == [0, "A", 2, 3, 4, "B", 6]


def test_line_breaks_come_back_at_the_same_fractions() -> None:
    parts = [text("one two"), brk("\n    "), text("three four"), brk("\n    "), text("five six")]
    longer = Rewrite(change=lambda t: " ".join(w + " " + w for w in t.split()))
    assert translate(longer, Block(parts)) == ["one one two two\n    three three four four\n    five five six six"]
    # One word cannot be cut: the lines join, no word is split.
    assert translate(Rewrite(change=lambda t: "word"), Block(list(parts))) == ["word"]
    # A language written without spaces is cut between characters.
    assert translate(Rewrite(change=lambda t: "火曜日と水曜日"), Block(list(parts)), tgt="ja") == [
        "火曜\n    日と水\n    曜日"
    ]


def test_a_line_never_starts_with_what_the_format_forbids() -> None:
    parts = [text("alpha beta"), brk("\n"), text("gamma")]
    block = Block(parts, line_start_ok=lambda line: not line.startswith("-"))
    # The nearest space (before "- c") would start a list in Markdown: the next one is taken.
    assert translate(Rewrite(change=lambda t: "a b - c"), block) == ["a b -\nc"]


def test_settings_and_progress_reach_the_translator() -> None:
    identity = Identity()
    seen: list[tuple[int, int]] = []
    translate_blocks(
        identity,
        [Block([text("a b")]), Block([text("c")])],
        src="en",
        tgt="fr",
        progress=lambda done, planned: seen.append((done, planned)),
        beam_size=3,
        max_new_tokens=7,
    )
    assert identity.settings == [{"beam_size": 3, "max_new_tokens": 7}]
    assert seen == [(1, 2), (2, 2)]


def test_placeholders_and_urls_become_parts_of_their_own() -> None:
    source = "Hi %(user)s, {{ n }} of {count} at 50% off: %d %% %s http://a.b/c?d=1. {x y} a@b.org"
    parts = split_protected([text(source)])
    atoms = [p.text for p in parts if p.kind is Kind.ATOM]
    assert atoms == ["%(user)s", "{{ n }}", "{count}", "%d", "%%", "%s", "http://a.b/c?d=1", "a@b.org"]
    assert all(p.raw is None for p in parts if p.kind is Kind.ATOM)  # written through the block's encode
    assert "".join(p.text for p in parts) == source


def test_a_break_with_no_space_left_goes_next_to_a_tag() -> None:
    """A subtitle of two lines translated into two words keeps its two lines: the break goes
    where the text meets the tag, not into a word, and is not lost."""
    parts = [text("le mardi"), brk("\n"), tag(Kind.OPEN, "i", "<i>"), text("cent"), tag(Kind.CLOSE, "i", "</i>")]
    pair_up(parts, lambda p: p.text)
    for keep_markers in (True, False):
        one_word = Rewrite(keep_markers=keep_markers, change=lambda t: "X" if t.strip() else t)
        assert translate(one_word, Block(list(parts))) == ["X\n<i>X</i>"]
