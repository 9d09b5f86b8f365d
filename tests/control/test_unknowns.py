"""Unknown pieces: characters outside the vocabulary are counted (as <unk> in the tiny test
vocabulary, as byte pieces in the demo model's), and replace_unknowns puts back the source piece
that transformers' cross-attention (last layer, heads averaged) points to for each <unk> emitted."""

from __future__ import annotations

import torch

from m2m100.control.unknowns import SPACE, decode_replacing, unknown_characters
from m2m100.demo import model_path
from m2m100.tokenizer import AutoTokenizer
from m2m100.translator import Segment, Translator

UNK_BIAS = [[[3], 6.0]]  # makes the tiny model emit <unk> (id 3) now and then


def test_characters_outside_the_vocabulary_are_counted(translator: Translator):
    tok = translator.tokenizer
    pieces = tok.tokenize("la vie ☃ est ♞♜")
    ids = tok.convert_tokens_to_ids(pieces)
    assert tok.unk_token_id in ids
    assert unknown_characters(pieces, ids, tok.unk_token_id) == 3
    results = list(
        translator.translate_segments([Segment("la vie ☃ est ♞♜", "en", "fr"), Segment("la vie", "en", "fr")])
    )
    assert [r.unknowns for r in results] == [3, 0]


def test_byte_pieces_of_the_demo_vocabulary_count_as_unknown():
    tok = AutoTokenizer.from_pretrained(model_path())
    pieces = tok.tokenize("three ☃ €")
    assert "<0xE2>" in pieces  # spelled in UTF-8 bytes, not a piece of its own
    assert unknown_characters(pieces, tok.convert_tokens_to_ids(pieces), tok.unk_token_id) == 2


def test_decode_replacing_keeps_the_spaces(translator: Translator):
    tok = translator.tokenizer
    ids = [2, tok.get_lang_id("fr"), *tok.convert_tokens_to_ids(tok.tokenize("la vie")), 3, 2]
    assert tok.decode(ids, skip_special_tokens=True) == "la vie"  # the <unk> vanishes
    assert decode_replacing(tok, ids, {len(ids) - 2: SPACE + "☃"}) == "la vie ☃"
    assert decode_replacing(tok, ids, {len(ids) - 2: "☃"}) == "la vie☃"


def test_replace_unknowns_takes_the_most_attended_source_piece(
    translator: Translator, reference, distinct_texts, translation_folder
):
    import transformers

    tok = reference.tokenizer
    model = transformers.M2M100ForConditionalGeneration.from_pretrained(translation_folder, attn_implementation="eager")
    texts = [t + " ☃" for t in distinct_texts[:6]]
    segments = [Segment(t, "en", "fr", replace_unknowns=True) for t in texts]
    got = [r.text for r in translator.translate_segments(segments, max_new_tokens=8, sequence_bias=UNK_BIAS)]
    plain = translator.translate(texts, src="en", tgt="fr", max_new_tokens=8, sequence_bias=UNK_BIAS)
    replaced = 0
    for text, result, dropped in zip(texts, got, plain):
        tok.src_lang = "en"
        ids = torch.tensor([tok(text)["input_ids"]])
        out = model.generate(
            ids, forced_bos_token_id=tok.get_lang_id("fr"), max_new_tokens=8, sequence_bias={(3,): 6.0}
        )[0]
        assert dropped == tok.decode(out, skip_special_tokens=True)
        with torch.no_grad():
            attention = model(input_ids=ids, decoder_input_ids=out[None, :-1], output_attentions=True).cross_attentions
        weights = attention[-1][0].mean(dim=0)  # (T, S)
        weights[:, [0, ids.shape[1] - 1]] = -1.0  # the language token and </s> are never chosen
        pieces = ["", *tok.tokenize(text), ""]
        replacements = {
            t: pieces[int(weights[t - 1].argmax())] for t, token in enumerate(out.tolist()) if token == 3 and t > 0
        }
        replaced += len(replacements)
        assert result == decode_replacing(translator.tokenizer, out.tolist(), replacements)
        if replacements:
            assert result != dropped
    assert replaced >= 2  # the test saw <unk> emitted and put back
