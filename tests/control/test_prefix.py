"""Target prefixes: rows with prefixes of several lengths and rows without, in one call of the
Translator, each equal to transformers 4.57 generating that row alone from
``decoder_input_ids = [</s>, target language, prefix pieces]``."""

from __future__ import annotations

import pytest
import torch

from m2m100.translator import Segment, Translator


def reference_with_prefix(reference, text: str, tgt: str, prefix: str | None, *, beam_size: int) -> str:
    tok, model = reference.tokenizer, reference.model
    tok.src_lang = "en"
    ids = torch.tensor([tok(text)["input_ids"]])
    lang = tok.get_lang_id(tgt)
    kwargs = {}
    if prefix is not None:
        pieces = tok.convert_tokens_to_ids(tok.tokenize(prefix))
        kwargs["decoder_input_ids"] = torch.tensor([[model.config.decoder_start_token_id, lang, *pieces]])
    out = model.generate(ids, forced_bos_token_id=lang, num_beams=beam_size, max_new_tokens=8, **kwargs)
    return tok.batch_decode(out, skip_special_tokens=True)[0]


@pytest.mark.parametrize("beam_size", [1, 3])
def test_mixed_prefixes_equal_generate_on_each_row(translator: Translator, reference, distinct_texts, beam_size):
    texts = distinct_texts[:6]
    prefixes = [None, "la vie", None, "les", "la vie est comme", "les"]
    segments = [Segment(t, "en", "fr", prefix=p) for t, p in zip(texts, prefixes)]
    got = [r.text for r in translator.translate_segments(segments, beam_size=beam_size, max_new_tokens=8)]
    expected = [reference_with_prefix(reference, t, "fr", p, beam_size=beam_size) for t, p in zip(texts, prefixes)]
    assert got == expected
    for text, prefix in zip(got, prefixes):
        if prefix is not None:
            assert text.startswith(prefix)
    # the prefix changes the output: without it the rows translate otherwise
    plain = translator.translate(texts, src="en", tgt="fr", beam_size=beam_size, max_new_tokens=8)
    assert [g != p for g, p in zip(got, plain)] != [False] * len(got)


def test_translate_takes_a_prefix_for_every_text(translator: Translator, reference, distinct_texts):
    texts = distinct_texts[:3]
    got = translator.translate(texts, src="en", tgt="de", prefix="das Leben", max_new_tokens=8, beam_size=2)
    assert got == [reference_with_prefix(reference, t, "de", "das Leben", beam_size=2) for t in texts]


def test_bad_controls_are_refused_with_the_valid_range():
    with pytest.raises(ValueError, match="alternatives must be an integer of at least 0, got -1"):
        Segment("x", "en", "fr", alternatives=-1)
    with pytest.raises(ValueError, match="prefix must be a string"):
        Segment("x", "en", "fr", prefix=3)  # type: ignore[arg-type]
