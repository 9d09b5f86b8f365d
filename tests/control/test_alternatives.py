"""n-best alternatives and scores against transformers 4.57: ``num_return_sequences`` with beam
search (texts and ``sequences_scores``), greedy scores from ``compute_transition_scores``, and
alternatives after a prefix built from transformers' own next-token log-probabilities."""

from __future__ import annotations

import pytest
import torch

from m2m100.control import Alternative
from m2m100.translator import Segment, Translator


def source(reference, text: str) -> torch.Tensor:
    reference.tokenizer.src_lang = "en"
    return torch.tensor([reference.tokenizer(text)["input_ids"]])


@pytest.mark.parametrize("beam_size", [1, 4])
def test_n_best_equals_num_return_sequences(translator: Translator, reference, distinct_texts, beam_size):
    texts = distinct_texts[:5]
    wanted = [3, 0, 3, 2, 3]
    segments = [Segment(t, "en", "fr", alternatives=n) for t, n in zip(texts, wanted)]
    results = list(translator.translate_segments(segments, beam_size=beam_size, max_new_tokens=8))
    tok, model = reference.tokenizer, reference.model
    for text, n, result in zip(texts, wanted, results):
        if n == 0:
            assert result.alternatives == [] and result.score is None
            continue
        out = model.generate(
            source(reference, text),
            forced_bos_token_id=tok.get_lang_id("fr"),
            num_beams=max(beam_size, n),
            num_return_sequences=n,
            max_new_tokens=8,
            output_scores=True,
            return_dict_in_generate=True,
        )
        assert [a.text for a in result.alternatives] == tok.batch_decode(out.sequences, skip_special_tokens=True)
        assert [a.score for a in result.alternatives] == pytest.approx(out.sequences_scores.tolist(), abs=1e-4)
        assert result.text == result.alternatives[0].text and result.score == result.alternatives[0].score
        assert len({a.text for a in result.alternatives}) == n  # distinct hypotheses


@pytest.mark.parametrize("beam_size", [1, 3])
def test_return_scores_equal_transformers(translator: Translator, reference, distinct_texts, beam_size):
    texts = distinct_texts[:4]
    segments = [Segment(t, "en", "fr", return_scores=i % 2 == 0) for i, t in enumerate(texts)]
    results = list(translator.translate_segments(segments, beam_size=beam_size, max_new_tokens=8))
    tok, model = reference.tokenizer, reference.model
    for i, (text, result) in enumerate(zip(texts, results)):
        out = model.generate(
            source(reference, text),
            forced_bos_token_id=tok.get_lang_id("fr"),
            num_beams=beam_size,
            max_new_tokens=8,
            output_scores=True,
            return_dict_in_generate=True,
        )
        assert result.text == tok.batch_decode(out.sequences, skip_special_tokens=True)[0]
        if i % 2:
            assert result.score is None
            continue
        if beam_size > 1:
            expected = float(out.sequences_scores[0])
        else:
            steps = model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)[0]
            generated = out.sequences[0, 1:]
            ended = int((generated == model.config.eos_token_id).nonzero()[0]) + 1 if (generated == 2).any() else None
            kept = steps[:ended]
            expected = float(kept.sum()) / len(kept)
        assert result.score == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("beam_size", [1, 2])
def test_alternatives_after_a_prefix(translator: Translator, reference, distinct_texts, beam_size):
    """CTranslate2's return_alternatives: the top next tokens after the prefix (special tokens
    left out), each continued by the search, in the order of that token's probability."""
    tok, model = reference.tokenizer, reference.model
    texts, prefix, n = distinct_texts[:3], "la vie", 3
    segments = [Segment(t, "en", "fr", prefix=prefix, alternatives=n) for t in texts]
    results = list(translator.translate_segments(segments, beam_size=beam_size, max_new_tokens=8))
    lang = tok.get_lang_id("fr")
    prompt = [model.config.decoder_start_token_id, lang, *tok.convert_tokens_to_ids(tok.tokenize(prefix))]
    for text, result in zip(texts, results):
        ids = source(reference, text)
        with torch.no_grad():
            logits = model(input_ids=ids, decoder_input_ids=torch.tensor([prompt])).logits[0, -1]
        log_probs = torch.log_softmax(logits, dim=-1)
        log_probs[tok.all_special_ids] = -torch.inf
        expected = []
        for token in torch.topk(log_probs, n).indices.tolist():
            out = model.generate(
                ids,
                forced_bos_token_id=lang,
                decoder_input_ids=torch.tensor([[*prompt, token]]),
                num_beams=beam_size,
                max_new_tokens=7,
            )
            expected.append(tok.batch_decode(out, skip_special_tokens=True)[0])
        assert [a.text for a in result.alternatives] == expected
        assert all(a.text.startswith(prefix) for a in result.alternatives)
        assert all(a.score < 0 for a in result.alternatives)


def test_a_split_input_gets_its_prefix_first_and_one_alternative(translator: Translator):
    text = " ".join(["la vie est comme une boîte de chocolat."] * 12)  # more than the model's 64 positions
    segment = Segment(text, "fr", "en", prefix="la vie", alternatives=2)
    result = next(translator.translate_segments([segment], max_new_tokens=8))
    assert result.text.startswith("la vie")
    assert result.score is not None and result.alternatives == [Alternative(result.text, result.score)]
