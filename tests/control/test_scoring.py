"""Scoring against transformers 4.57: the summed log-softmax of each target token given the
source, over pairs of many lengths packed into several padded batches."""

from __future__ import annotations

import pytest
import torch

from m2m100.control.scoring import ScorePair, score_batches
from m2m100.translator import Translator


def reference_score(reference, source: str, target: str, src: str, tgt: str) -> list[float]:
    tok, model = reference.tokenizer, reference.model
    tok.src_lang = src
    ids = torch.tensor([tok(source)["input_ids"]])
    labels = [tok.get_lang_id(tgt), *tok.convert_tokens_to_ids(tok.tokenize(target)), model.config.eos_token_id]
    decoder = torch.tensor([[model.config.decoder_start_token_id, *labels[:-1]]])
    with torch.no_grad():
        logits = model(input_ids=ids, decoder_input_ids=decoder).logits
    log_probs = torch.log_softmax(logits, dim=-1)[0]
    return [float(log_probs[i, t]) for i, t in enumerate(labels)][1:]  # the language token is given


def test_scores_equal_transformers_log_softmax(translator: Translator, reference, distinct_texts):
    sources = distinct_texts[:7]
    targets = [*distinct_texts[3:9][::-1], "la vie"]
    scores = translator.score(sources, targets, src="en", tgt="fr", max_batch_tokens=60)
    assert len(scores) == 7
    for source, target, score in zip(sources, targets, scores):
        expected = reference_score(reference, source, target, "en", "fr")
        assert score.log_probs == pytest.approx(expected, abs=1e-4)
        assert score.total == pytest.approx(sum(expected), abs=1e-3)
        assert score.normalized == pytest.approx(sum(expected) / len(expected), abs=1e-4)
        assert score.tokens[-1] == "</s>" and len(score.tokens) == len(expected)
    assert len({round(s.total, 3) for s in scores}) == 7  # rows are distinguishable


def test_batches_respect_the_budget():
    pairs = [ScorePair([1] * n, [2] * (n // 2 + 1)) for n in (3, 9, 4, 12, 5, 7)]
    batches = list(score_batches(pairs, 40))
    assert sorted(i for b in batches for i in b) == list(range(6))
    for batch in batches:
        widest = max(len(pairs[i].source) + len(pairs[i].target) for i in batch)
        assert len(batch) == 1 or len(batch) * widest <= 40


def test_bad_pairs_are_refused(translator: Translator):
    with pytest.raises(ValueError, match="2 sources but 1 targets"):
        translator.score(["a", "b"], ["c"], src="en", tgt="fr")
    with pytest.raises(ValueError, match="pair 0: .* more than the model's 64 positions"):
        translator.score(["la " * 80], ["x"], src="en", tgt="fr")
    with pytest.raises(ValueError, match="pair 0: target: a lone surrogate"):
        translator.score(["a"], ["\ud800"], src="en", tgt="fr")
