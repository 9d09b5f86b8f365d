"""Translator against transformers 4.57 translating each input alone (the ``reference`` fixture).

Every comparison uses inputs whose reference translations differ from one another, so that a
mix-up of rows (sorting, padding, order restoration, directions) cannot pass unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sentencex
import torch

from m2m100.translator import Segment, Translator
from tests.tokenizer_fixture import SAMPLE_TEXTS

SHORT = [t for t in SAMPLE_TEXTS[90:] if t.strip() and "\n" not in t]


class Calls:
    """Records every ``generate`` call of a translator's model (the source ids of each row)."""

    def __init__(self, translator: Translator, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rows: list[list[list[int]]] = []  # per call: each row's ids without padding
        self.widths: list[int] = []
        self.forced: list[Any] = []
        generate = translator.model.generate

        def record(input_ids: torch.Tensor, attention_mask: torch.Tensor, **kwargs: Any) -> Any:
            self.rows.append([row[mask.bool()].tolist() for row, mask in zip(input_ids, attention_mask)])
            self.widths.append(input_ids.shape[1])
            self.forced.append(kwargs.get("forced_bos_token_id"))
            return generate(input_ids, attention_mask, **kwargs)

        monkeypatch.setattr(translator.model, "generate", record)


@pytest.fixture(scope="module")
def translator(translation_folder: Path) -> Translator:
    return Translator(translation_folder, device="cpu")


@pytest.fixture(scope="module")
def texts(distinct_texts: list[str]) -> list[str]:
    """Inputs of several lengths, with duplicates and blank lines."""
    d = distinct_texts[:9]
    assert len(d) == 9
    return [*d[:4], "", d[0], *d[4:], "   ", d[5], "\t", d[2]]


@pytest.mark.parametrize("beam_size", [1, 3])
def test_equals_generate_on_each_input_alone(translator, reference, texts, monkeypatch, beam_size):
    calls = Calls(translator, monkeypatch)
    got = translator.translate(texts, src="en", tgt="fr", beam_size=beam_size, max_new_tokens=8, max_batch_tokens=90)
    expected = [reference(t, "en", "fr", beam_size=beam_size, max_new_tokens=8) for t in texts]
    assert got == expected
    assert len(set(expected)) >= 6  # the rows are distinguishable
    # Several padded batches within the token budget (a lone row may exceed it); every
    # non-blank input sent once, the blank ones never.
    assert len(calls.rows) >= 3
    assert any(len({len(r) for r in rows}) > 1 for rows in calls.rows)
    assert all(len(rows) * width <= 90 or len(rows) == 1 for rows, width in zip(calls.rows, calls.widths))
    assert sum(len(rows) for rows in calls.rows) == sum(1 for t in texts if t.strip())


def test_mixed_directions_in_one_batch(translator, reference, texts):
    directions = [("en", "fr"), ("fr", "de"), ("de", "zh"), ("ru", "en"), ("en", "de"), ("ja", "ar")]
    segments = [Segment(t, *directions[i % len(directions)]) for i, t in enumerate(texts)]
    segments.append(Segment(texts[0], "en", "ru"))  # the same text, another target
    got = list(translator.translate_stream(segments, beam_size=2, max_new_tokens=8))
    expected = [reference(s.text, s.src, s.tgt, beam_size=2, max_new_tokens=8) for s in segments]
    assert got == expected
    assert expected[0] != expected[-1]  # the target language matters
    results = list(translator.translate_segments(segments, beam_size=2, max_new_tokens=8))
    assert [(r.text, r.src, r.tgt) for r in results] == [(e, s.src, s.tgt) for e, s in zip(expected, segments)]


def test_mixed_directions_share_a_model_call(translator, texts, monkeypatch):
    calls = Calls(translator, monkeypatch)
    segments = [Segment(texts[0], "en", "fr"), Segment(texts[1], "fr", "de"), Segment(texts[2], "de", "zh")]
    list(translator.translate_stream(segments, max_new_tokens=4))
    assert len(calls.rows) == 1
    lang = translator.tokenizer.get_lang_id
    directions = sorted(zip([row[0] for row in calls.rows[0]], list(calls.forced[0])))
    assert directions == sorted((lang(s.src), lang(s.tgt)) for s in segments)


def test_blank_inputs_come_back_empty_without_a_model_call(translator, monkeypatch):
    calls = Calls(translator, monkeypatch)
    assert translator.translate(["", "   ", "\t\n", "\u3000"], src="en", tgt="fr") == ["", "", "", ""]
    assert translator.translate(" ", src="en", tgt="fr") == ""
    assert translator.translate([], src="en", tgt="fr") == []
    assert calls.rows == []


def test_one_string_in_one_string_out(translator, reference, texts):
    got = translator.translate(texts[1], src="fr", tgt="en", max_new_tokens=6)
    assert isinstance(got, str)
    assert got == reference(texts[1], "fr", "en", beam_size=1, max_new_tokens=6)


def test_input_longer_than_the_model_is_split_not_cut(translator, reference, monkeypatch):
    tokenizer = translator.tokenizer
    sentences = [t.strip(" .!?") + "." for t in SHORT[:40] if " " in t]
    long_sentence = " ".join(t.strip(" .!?") for t in SHORT[40:50]) + "."  # to be cut at token boundaries
    assert len(tokenizer.encode(long_sentence)) > 64
    chosen = sentences[:10] + [long_sentence] + sentences[10:14]
    text = " ".join(chosen)
    pieces = tokenizer.encode(text, add_special_tokens=False)
    assert len(pieces) > 4 * 64
    sentence_ids = [tokenizer.encode(s, add_special_tokens=False) for s in sentencex.segment("en", text)]
    assert [i for ids in sentence_ids for i in ids] == pieces
    assert max(map(len, sentence_ids)) > 62 and len(sentence_ids) > 10

    calls = Calls(translator, monkeypatch)
    got = translator.translate(text, src="en", tgt="de", beam_size=2, max_new_tokens=6)
    parts = [row for rows in calls.rows for row in rows]
    assert len(parts) >= 5
    assert all(len(part) <= 64 for part in parts)  # max_position_embeddings
    en, eos = tokenizer.get_lang_id("en"), tokenizer.eos_token_id
    assert all(part[0] == en and part[-1] == eos for part in parts)
    # Every piece of the input reached the model once: the parts (sent sorted by length) tile
    # the input's pieces.
    ordered, position = [], 0
    while parts:
        part = next((p for p in parts if p[1:-1] == pieces[position : position + len(p) - 2]), None)
        assert part is not None, f"no part holds the pieces from {position} on"
        parts.remove(part)
        ordered.append(part)
        position += len(part) - 2
    assert position == len(pieces)
    # Parts end at sentence ends (sentencex's): each sentence that fits the model lies within one part.
    ends = [sum(len(p) - 2 for p in ordered[: k + 1]) for k in range(len(ordered))]
    start = 0
    for ids in sentence_ids:
        if len(ids) <= 62:
            assert next(end for end in ends if end > start) >= start + len(ids)
        start += len(ids)
    translations = [reference.from_ids(part, "de", beam_size=2, max_new_tokens=6) for part in ordered]
    assert got == " ".join(t for t in translations if t)


def test_stream_reads_lazily_and_yields_in_order(translator, reference, texts):
    many = [t for _ in range(6) for t in texts]
    read = 0

    def lines() -> Iterator[str]:
        nonlocal read
        for line in many:
            read += 1
            yield line

    stream = translator.translate_stream(
        lines(), src="en", tgt="fr", window_tokens=60, max_batch_tokens=60, max_new_tokens=4
    )
    assert read == 0
    first = next(stream)
    assert 0 < read < len(many) // 4
    got = [first, *stream]
    assert read == len(many)
    assert got == [reference(t, "en", "fr", beam_size=1, max_new_tokens=4) for t in many]


def test_default_length_limit_does_not_depend_on_the_batch(translator, distinct_texts):
    # Without max_new_tokens the limit grows with the input: a short input must get the same
    # translation alone as next to long ones (in one batch, or in another window of a stream).
    short = min(distinct_texts, key=lambda t: len(translator.tokenizer.encode(t)))
    long = " ".join(SHORT[:12])
    alone = translator.translate(short, src="en", tgt="fr")
    assert alone != translator.translate(short, src="en", tgt="fr", max_new_tokens=62)  # the limit shows
    assert translator.translate([long, short, long], src="en", tgt="fr")[1] == alone
    streamed = list(translator.translate_stream([short, long, short], src="en", tgt="fr", window_tokens=20))
    assert streamed[0] == streamed[2] == alone


def test_unknown_language_names_the_closest_codes(translator):
    with pytest.raises(ValueError, match=r"Unknown language code 'zz'\. Did you mean .*'zh'.*Valid codes: af, am"):
        translator.translate("hello", src="en", tgt="zz")
    read = []
    with pytest.raises(ValueError, match="'ch'. Did you mean .*'zh'"):  # at the call, before any input is read
        translator.translate_stream((read.append(t) or t for t in ["a"]), src="ch", tgt="en")
    assert read == []
    with pytest.raises(ValueError, match="Did you mean .*'fr'"):
        list(translator.translate_stream([Segment("bonjour", "french", "en")]))


def test_options_are_checked_before_any_work(translator, translation_folder):
    with pytest.raises(ValueError, match="num_return_sequences=2"):  # would pair rows with the wrong inputs
        translator.translate(["a", "b"], src="en", tgt="fr", num_beams=2, num_return_sequences=2)
    with pytest.raises(ValueError, match="max_batch_tokens"):
        translator.translate_stream(["a"], src="en", tgt="fr", max_batch_tokens=0)
    with pytest.raises(ValueError, match="max_batch_tokens must be at least 1, got 0"):
        Translator(translation_folder, max_batch_tokens=0)


def test_stream_of_a_file_translates_what_translate_does(tmp_path: Path) -> None:
    """Lines read from a file keep their ending ("\\n", "\\r\\n") and the first its BOM; neither
    is content, so translate_stream(open(path)) must equal translate() of the bare lines."""
    from m2m100.demo import model_path

    translator = Translator(model_path(), device="cpu")
    lines = ["un", "deux", "trois", "", "mardi"]
    path = tmp_path / "lines.fr"
    path.write_bytes("\ufeffun\ndeux\r\ntrois\n\r\nmardi".encode("utf-8"))
    expected = translator.translate(lines, src="fr", tgt="en")
    assert expected[:3] == ["one", "two", "three"]
    with open(path, encoding="utf-8", newline="") as f:  # newline="": "\r\n" is kept as read
        assert list(translator.translate_stream(f, src="fr", tgt="en")) == expected
    with open(path, encoding="utf-8") as f:
        assert list(translator.translate_stream(f, src="fr", tgt="en")) == expected
    assert translator.translate("deux\n", src="fr", tgt="en") == "two"


def test_lone_surrogate_is_refused_before_any_model_call(translator, texts, monkeypatch):
    """A lone surrogate (what a JSON "\\ud800" escape decodes to) made sentencepiece raise in the
    middle of a run; it is a ValueError naming the input, before any translation."""
    calls = Calls(translator, monkeypatch)
    bad = [*texts[:5], "caf\ud800 au lait", *texts[5:]]
    with pytest.raises(ValueError, match=r"^text 5: a lone surrogate \\ud800 at character 4\b"):
        translator.translate(bad, src="en", tgt="fr", max_new_tokens=4)
    with pytest.raises(ValueError, match=r"^text: a lone surrogate \\udfff at character 1\b"):
        translator.translate("\udfff", src="en", tgt="fr")
    assert calls.rows == []  # nothing was translated
    stream = translator.translate_stream(bad, src="en", tgt="fr", max_new_tokens=4)
    with pytest.raises(ValueError, match=r"^input 5: a lone surrogate"):
        list(stream)
    # Characters that are odd but valid Unicode are translated, not refused.
    odd = ["a\x00b", "\x7f\x1b[0m", "\ufffe\U0010ffff", "\U0001f600"]
    assert len(translator.translate(odd, src="en", tgt="fr", max_new_tokens=4)) == len(odd)
