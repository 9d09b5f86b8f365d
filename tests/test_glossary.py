"""Glossaries: files (TSV, JSON) and their errors, finding terms in text, and the Translator on
the real demo model, whose outputs the glossary changes in ways checked word for word."""

from __future__ import annotations

from pathlib import Path

import pytest

from m2m100 import demo
from m2m100.glossary import Glossary, Match
from m2m100.translator import Segment, Translator


@pytest.fixture(scope="module")
def translator() -> Translator:
    return Translator(demo.model_path(), device="cpu")


# ------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------
def test_tsv_columns_comments_and_directions(tmp_path: Path):
    path = tmp_path / "terms.tsv"
    path.write_text("# a comment\n\nthree\ttrois\nen\tde\tseven\tacht\nACME-42\n", encoding="utf-8")
    glossary = Glossary.load(path)
    assert glossary.terms("en", "fr") == {"three": "trois", "ACME-42": "ACME-42"}
    # a direction in either spelling of its codes
    assert glossary.terms("eng_Latn", "deu_Latn") == {"three": "trois", "ACME-42": "ACME-42", "seven": "acht"}
    only_fr = Glossary.load(path, direction="en-fr")
    assert only_fr.terms("en", "de") == {"seven": "acht"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("three\ttrois\na\tb\tc\n", "terms.tsv:2: 3 tab-separated columns"),
        ("three\t \n", "terms.tsv:1: the target of 'three' must be a non-empty string"),
        ("xx\tyy\tthree\ttrois\n", None),
        ("x\t\tthree\ttrois\n", "terms.tsv:1: direction 'x-' must be"),
    ],
)
def test_malformed_tsv_names_the_line(tmp_path: Path, text: str, message: str | None):
    path = tmp_path / "terms.tsv"
    path.write_text(text, encoding="utf-8")
    if message is None:
        assert len(Glossary.load(path)) == 1
        return
    with pytest.raises(ValueError) as err:
        Glossary.load(path)
    assert str(err.value).startswith(str(tmp_path))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_json_nested_flat_and_errors(tmp_path: Path):
    path = tmp_path / "g.json"
    path.write_text('{"en-fr": {"three": "trois"},\n "*": {"Monday": "Montag"},\n "do_not_translate": ["X-1"]}')
    glossary = Glossary.load(path)
    assert glossary.terms("en", "fr") == {"Monday": "Montag", "X-1": "X-1", "three": "trois"}
    assert glossary.terms("fr", "en") == {"Monday": "Montag", "X-1": "X-1"}
    flat = tmp_path / "flat.json"
    flat.write_text('{"three": "drei"}')
    assert Glossary.load(flat).terms("en", "de") == {"three": "drei"}
    bad = tmp_path / "bad.json"
    bad.write_text('{"en-fr": {"three": "trois",\n  "four": 4}}')
    with pytest.raises(ValueError, match=r"bad.json:2: 'en-fr': the target of 'four' must be a non-empty string"):
        Glossary.load(bad)
    bad.write_text('{"en-fr": {"three": "trois"\n  "four": "quatre"}}')
    with pytest.raises(ValueError, match=r"bad.json:2: not JSON"):
        Glossary.load(bad)
    bad.write_text('{"en-fr": {"three": "trois"}, "four": "quatre"}')
    with pytest.raises(ValueError, match=r"bad.json:1: mix of directions and terms"):
        Glossary.load(bad)
    with pytest.raises(FileNotFoundError, match="no such file"):
        Glossary.load(tmp_path / "missing.tsv")


# ------------------------------------------------------------------------------------------
# Finding terms
# ------------------------------------------------------------------------------------------
def test_words_case_and_overlaps():
    glossary = Glossary({"new york": "NY", "york city hall": "YCH", "cat": "chat", "Apple": "Apple"})
    found = glossary.find("New York City Hall, a cat, concat, apple, Apple.", "en", "fr")
    # "york city hall" is longer than "new york", which overlaps it; "concat" is no word "cat";
    # "Apple" (written with a capital) does not match "apple"; "cat" matches any case
    assert [(m.source, m.target) for m in found] == [
        ("York City Hall", "YCH"),
        ("cat", "chat"),
        ("Apple", "Apple"),
    ]
    assert found[0] == Match(4, 18, "York City Hall", "YCH")


def test_placeholders_and_scripts_without_spaces():
    glossary = Glossary(placeholders=True)
    text = "Hi {user}, {{count}} files, %s and %(name)d <b>new</b>"
    assert [m.source for m in glossary.find(text, "en", "fr")] == [
        "{user}",
        "{{count}}",
        "%s",
        "%(name)d",
        "<b>",
        "</b>",
    ]
    kanji = Glossary({"東京": "Tokyo"})
    assert [m.target for m in kanji.find("私は東京に", "ja", "en")] == ["Tokyo"]
    assert kanji.find("私は東京に", "en", "fr") == []  # words need boundaries where spaces separate them


# ------------------------------------------------------------------------------------------
# The Translator on the demo model
# ------------------------------------------------------------------------------------------
def test_a_glossary_forces_a_number_word(translator: Translator):
    assert translator.translate(["seven", "three"], src="en", tgt="de") == ["sieben", "drei"]
    glossary = Glossary({"en-de": {"seven": "acht"}})
    out = list(translator.translate_segments(["seven", "three"], src="en", tgt="de", glossary=glossary))
    assert [r.text for r in out] == ["acht", "drei"]  # the unmatched row as without a glossary
    assert [r.glossary_missed for r in out] == [[], []]
    # another direction: not matched
    assert translator.translate("seven", src="en", tgt="fr", glossary=glossary) == "sept"


@pytest.mark.parametrize("beam_size", [1, 4])
def test_several_terms_per_row_and_mixed_rows(translator: Translator, beam_size: int):
    texts = ["three hundred and seven", "twelve", "Monday", "seven"]
    plain = translator.translate(texts, src="en", tgt="fr", beam_size=beam_size)
    glossary = Glossary({"three hundred": "trois cents", "seven": "huit", "Monday": "mardi"})
    segments = [Segment(t, "en", "fr") for t in texts]
    out = list(translator.translate_segments(segments, glossary=glossary, beam_size=beam_size))
    assert "trois cents" in out[0].text and "huit" in out[0].text
    assert out[1].text == plain[1]  # no term: exactly the plain translation, in the same batch
    assert "mardi" in out[2].text and "huit" in out[3].text
    assert all(r.glossary_missed == [] for r in out)


def test_per_segment_glossary_and_do_not_translate(translator: Translator):
    segments = [
        Segment("seven", "en", "de", Glossary({"seven": "neun"})),
        Segment("seven", "en", "de"),
        Segment("ACME-42 seven", "en", "de", Glossary(do_not_translate=["ACME-42"])),
    ]
    out = list(translator.translate_segments(segments, glossary=Glossary({"seven": "acht"})))
    assert out[0].text == "neun"  # the segment's own term wins over the call's
    assert out[1].text == "acht"
    assert "ACME-42" in out[2].text and out[2].glossary_missed == []


def test_terms_of_the_detected_direction_apply_under_src_auto(translator: Translator):
    pytest.importorskip("py3langid")
    glossary = Glossary({"fr-de": {"sept": "acht"}, "en-de": {"seven": "neun"}})
    texts = ["sept cent vingt-trois", "quatre-vingt-dix-neuf"]
    out = list(translator.translate_segments(texts, src="auto", tgt="de", glossary=glossary, beam_size=4))
    assert [(r.detected, r.src) for r in out] == [("fr", "fr"), ("fr", "fr")]  # the fr-de entry, not en-de's
    assert "acht" in out[0].text and "neun" not in out[0].text and out[0].glossary_missed == []
    assert out[1].text == "neunundneunzig"  # no term of its own


def test_terms_hold_in_every_alternative_and_after_a_prefix(translator: Translator):
    segments = [
        Segment("seven", "en", "de", alternatives=3),
        Segment("seven hundred", "en", "de", prefix="sieben"),
        Segment("seven", "en", "de", return_scores=True),
    ]
    out = list(translator.translate_segments(segments, glossary=Glossary({"seven": "acht"}), beam_size=4))
    assert len(out[0].alternatives) == 3 and all("acht" in a.text for a in out[0].alternatives)
    assert out[1].text.startswith("sieben") and "acht" in out[1].text
    assert out[2].score is not None and "acht" in out[2].text
    assert all(r.glossary_missed == [] for r in out)


def test_placeholders_come_out_unchanged(translator: Translator):
    texts = ["{user} three", "seven %s", "<b>twelve</b>"]
    plain = translator.translate(texts, src="en", tgt="fr", beam_size=4)
    kept = translator.translate(texts, src="en", tgt="fr", beam_size=4, glossary=Glossary(placeholders=True))
    assert not all(p in out for p, out in zip(["{user}", "%s", "<b>"], plain))  # the model alone loses some
    for out, marks in zip(kept, [["{user}"], ["%s"], ["<b>", "</b>"]]):
        assert all(mark in out for mark in marks), out


def test_an_unsatisfiable_term_is_reported(translator: Translator):
    glossary = Glossary({"seven": "dreihundertachtzig"})  # three tokens, with room for two
    [result] = translator.translate_segments(["seven"], src="en", tgt="de", glossary=glossary, max_new_tokens=2)
    assert result.glossary_missed == ["dreihundertachtzig"]
    assert result.text != "dreihundertachtzig"
