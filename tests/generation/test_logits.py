"""The logits rules against transformers 4.57's logits processors.

Three levels: each rule against its processor on random scores and token histories (with -inf,
NaN, +inf and ties); the whole :func:`build_rules` list against the list transformers' generate
builds (``_get_logits_processor``, captured from inside ``generate``) for many combinations of
options, processor by processor and on random steps; and ``generate`` itself against transformers
on the tiny checkpoint of test_generation.py (its fixtures are copied here), for the options that
reach the rules through ``DecodingOptions`` alone. Options that need ``encoder_input_ids``,
``prefix_allowed_tokens_fn`` or ``logits_processor`` are also replayed on transformers' own
generations: our rules, given its sequences and raw logits, give its processed scores.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
import torch

from m2m100 import GenerationConfig
from m2m100.generation import logits
from m2m100.generation.config import DecodingOptions, resolve_generation_config
from m2m100.generation.logits import build_rules, merge_processors, needs_every_row, transformers_name
from tests.generation.parity import EOS, LANG, PAD, START, assert_same_tokens, strip

tp = pytest.importorskip("transformers.generation.logits_process")

VOCAB = 160
INF = float("inf")


# ------------------------------------------------------------------------------------------
# Fixtures (as in test_generation.py: a tiny checkpoint whose translations end at varied lengths)
# ------------------------------------------------------------------------------------------
def assert_equal(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Bit for bit, NaN and infinities in the same places."""
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    torch.testing.assert_close(actual, expected, rtol=0, atol=0, equal_nan=True)


# ------------------------------------------------------------------------------------------
# Random steps
# ------------------------------------------------------------------------------------------
def random_scores(rows: int, vocab: int, seed: int, *, invalid: bool = False) -> torch.Tensor:
    """Scores with ties, -inf entries, a row of small integers (many ties), a row that is -inf but
    for three tokens, and (``invalid``) NaN and +inf."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(rows, vocab, generator=g) * 3
    scores[:, 5] = scores[:, 6]  # ties
    scores[:, 10:14] = scores[:, 20:21]
    scores[0, : vocab // 3] = -INF
    scores[-1] = torch.randint(-3, 3, (vocab,), generator=g).float()
    if rows > 2:
        scores[1] = -INF
        scores[1, [3, 8, 30]] = torch.tensor([0.5, 0.5, -1.0])
    scores[:, EOS] = torch.randn(rows, generator=g) * 4  # both signs, for the eos-scaling rules
    if invalid:
        scores[0, 7] = float("nan")
        scores[-1, 9] = INF
    return scores


def random_tokens(rows: int, length: int, vocab: int, seed: int) -> torch.Tensor:
    """Histories that start with the decoder start token and repeat themselves (so that n-gram
    and sequence rules fire), from a small alphabet for the same reason."""
    g = torch.Generator().manual_seed(1000 + seed)
    tokens = torch.randint(3, 12, (rows, length), generator=g)
    tokens[:, 0] = START
    if length > 4:
        tokens[::2, -2:] = tokens[::2, 1:3]
    return tokens


def both_rules(ours_rule, theirs, tokens: torch.Tensor, scores: torch.Tensor) -> None:
    expected = theirs(tokens.clone(), scores.clone())
    actual = ours_rule(tokens.clone(), scores.clone())
    assert_equal(actual, expected)


# ------------------------------------------------------------------------------------------
# Rule by rule
# ------------------------------------------------------------------------------------------
ENCODER_IDS = torch.tensor([[5, 6, 7, 5, 6, 8, EOS], [9, 9, 9, 4, EOS, PAD, PAD]])
BIAS = [[[5], 1.5], [[7, 9], -2.0], [[3, 9], 0.5], [[9], -1.0], [[4, 5, 6], INF * -1], [[4, 5], 2.5], [[5], 0.25]]


def _prefix_fn(batch_id: int, sequence: torch.Tensor) -> list[int]:
    return [int(sequence[-1]) % 7 + batch_id, 11, 3 + len(sequence) % 4]


PAIRS: list[tuple[str, Callable[[], Any], Callable[[], Any], bool]] = [
    # (id, ours, transformers', scores with NaN/+inf)
    (
        "sequence_bias",
        lambda: logits.SequenceBias(list({tuple(i): b for i, b in BIAS}.items())),
        lambda: tp.SequenceBiasLogitsProcessor(BIAS),
        False,
    ),
    (
        "bad_words",
        lambda: logits.BadWords([[5], [7, 9], [4, 5, 6], [3, 9]]),
        lambda: tp.NoBadWordsLogitsProcessor([[5], [7, 9], [4, 5, 6], [3, 9]], EOS),
        True,
    ),
    ("repetition", lambda: logits.RepetitionPenalty(1.7), lambda: tp.RepetitionPenaltyLogitsProcessor(1.7), True),
    ("no_repeat_1", lambda: logits.NoRepeatNGram(1), lambda: tp.NoRepeatNGramLogitsProcessor(1), False),
    ("no_repeat_3", lambda: logits.NoRepeatNGram(3), lambda: tp.NoRepeatNGramLogitsProcessor(3), False),
    (
        "min_length",
        lambda: logits.MinLength(4, [EOS, 7]),
        lambda: tp.MinLengthLogitsProcessor(4, [EOS, 7]),
        True,
    ),
    (
        "min_new_tokens",
        lambda: logits.MinLength(4, [EOS], transformers_name="MinNewTokensLengthLogitsProcessor"),
        lambda: tp.MinNewTokensLengthLogitsProcessor(1, 3, EOS),
        False,
    ),
    ("forced_bos", lambda: logits.ForceToken(1, LANG % 40), lambda: tp.ForcedBOSTokenLogitsProcessor(LANG % 40), True),
    (
        "forced_eos",
        lambda: logits.ForceToken(4, [EOS, 8], transformers_name="ForcedEOSTokenLogitsProcessor"),
        lambda: tp.ForcedEOSTokenLogitsProcessor(5, [EOS, 8]),
        True,
    ),
    ("remove_invalid", lambda: logits.RemoveInvalidValues(), lambda: tp.InfNanRemoveLogitsProcessor(), True),
    (
        "exp_decay",
        lambda: logits.ExponentialDecayLength(2, 1.6, [EOS, 9], 1),
        lambda: tp.ExponentialDecayLengthPenalty((2, 1.6), [EOS, 9], 1),
        True,
    ),
    (
        "exp_decay_down",
        lambda: logits.ExponentialDecayLength(0, 0.7, [EOS], 1),
        lambda: tp.ExponentialDecayLengthPenalty((0, 0.7), EOS, 1),
        False,
    ),
    ("suppress", lambda: logits.SuppressTokens([4, 9, 9]), lambda: tp.SuppressTokensLogitsProcessor([4, 9, 9]), True),
    (
        "begin_suppress",
        lambda: logits.SuppressTokens([4, EOS], at=2),
        lambda: tp.SuppressTokensAtBeginLogitsProcessor([4, EOS], 2),
        False,
    ),
    ("temperature", lambda: logits.Temperature(0.7), lambda: tp.TemperatureLogitsWarper(0.7), False),
    ("top_k", lambda: logits.TopK(5), lambda: tp.TopKLogitsWarper(5), False),
    ("top_k_keep", lambda: logits.TopK(1, 3), lambda: tp.TopKLogitsWarper(1, min_tokens_to_keep=3), False),
    ("top_p", lambda: logits.TopP(0.8), lambda: tp.TopPLogitsWarper(0.8), False),
    ("top_p_keep", lambda: logits.TopP(0.1, 3), lambda: tp.TopPLogitsWarper(0.1, min_tokens_to_keep=3), False),
    ("min_p", lambda: logits.MinP(0.1), lambda: tp.MinPLogitsWarper(0.1), False),
    ("min_p_keep", lambda: logits.MinP(0.9, 3), lambda: tp.MinPLogitsWarper(0.9, min_tokens_to_keep=3), False),
    ("min_p_0", lambda: logits.MinP(0.0), lambda: tp.MinPLogitsWarper(0.0), False),
    ("typical", lambda: logits.Typical(0.6), lambda: tp.TypicalLogitsWarper(0.6), False),
    ("typical_keep", lambda: logits.Typical(0.2, 3), lambda: tp.TypicalLogitsWarper(0.2, min_tokens_to_keep=3), False),
    ("epsilon", lambda: logits.EpsilonCutoff(0.02), lambda: tp.EpsilonLogitsWarper(0.02), False),
    (
        "epsilon_keep",
        lambda: logits.EpsilonCutoff(0.5, 3),
        lambda: tp.EpsilonLogitsWarper(0.5, min_tokens_to_keep=3),
        False,
    ),
    ("eta", lambda: logits.EtaCutoff(0.02), lambda: tp.EtaLogitsWarper(0.02), False),
    ("eta_keep", lambda: logits.EtaCutoff(0.5, 3), lambda: tp.EtaLogitsWarper(0.5, min_tokens_to_keep=3), False),
    ("renormalize", lambda: logits.Renormalize(), lambda: tp.LogitNormalization(), True),
]


@pytest.mark.parametrize("make_ours, make_theirs, invalid", [p[1:] for p in PAIRS], ids=[p[0] for p in PAIRS])
def test_rule_equals_processor(make_ours, make_theirs, invalid):
    ours_rule, theirs = make_ours(), make_theirs()
    assert transformers_name(ours_rule) == type(theirs).__name__
    for seed in range(4):
        for length in (1, 2, 3, 4, 5, 7):
            tokens = random_tokens(6, length, 40, seed)
            both_rules(ours_rule, theirs, tokens, random_scores(6, 40, seed, invalid=invalid))


def test_rules_change_the_scores():
    """The comparisons above would pass on rules that do nothing to random steps: check each of
    them changes some of them."""
    for name, make_ours, _, invalid in PAIRS:
        if name == "min_p_0":  # keeps every token by definition
            continue
        rule = make_ours()
        changed = False
        for seed in range(4):
            for length in (1, 2, 3, 4, 5, 7):
                scores = random_scores(6, 40, seed, invalid=invalid)
                out = rule(random_tokens(6, length, 40, seed), scores.clone())
                nan = out.isnan() | scores.isnan()
                changed |= not torch.equal(out.isnan(), scores.isnan()) or not torch.equal(
                    out.masked_fill(nan, 0), scores.masked_fill(nan, 0)
                )
        assert changed, name


@pytest.mark.parametrize("rows_per_input", [1, 3])
@pytest.mark.parametrize("size", [1, 2, 3])
def test_encoder_no_repeat_ngram_equals_processor(rows_per_input, size):
    rows = ENCODER_IDS.shape[0] * rows_per_input
    ours_rule = logits.EncoderNoRepeatNGram(size, ENCODER_IDS, rows_per_input)
    theirs = tp.EncoderNoRepeatNGramLogitsProcessor(size, ENCODER_IDS)
    for seed in range(3):
        for length in (1, 2, 3, 5):
            tokens = random_tokens(rows, length, 40, seed)
            if length >= 3:
                tokens[0, -2:] = ENCODER_IDS[0, :2]  # a source bigram as the last tokens
            tokens[-1, -1:] = 9
            both_rules(ours_rule, theirs, tokens, random_scores(rows, 40, seed))


@pytest.mark.parametrize("rows_per_input", [1, 3])
@pytest.mark.parametrize("penalty", [1.6, 0.5])
def test_encoder_repetition_penalty_equals_processor(rows_per_input, penalty):
    """transformers 4.57 changes only the first B rows (row i with input i): so do we."""
    rows = ENCODER_IDS.shape[0] * rows_per_input
    ours_rule = logits.EncoderRepetitionPenalty(penalty, ENCODER_IDS, rows_per_input)
    theirs = tp.EncoderRepetitionPenaltyLogitsProcessor(penalty, ENCODER_IDS)
    for seed in range(3):
        both_rules(ours_rule, theirs, random_tokens(rows, 3, 40, seed), random_scores(rows, 40, seed, invalid=True))
    with pytest.raises(RuntimeError, match="all 6 rows" if rows_per_input == 3 else "all 2 rows"):
        ours_rule(random_tokens(rows - 1, 3, 40, 0), random_scores(rows - 1, 40, 0))


@pytest.mark.parametrize("num_beams", [1, 3])
def test_prefix_allowed_tokens_equals_processor(num_beams):
    calls: list[tuple[str, int, list[int]]] = []

    def fn(who):
        def allowed(batch_id, sequence):
            calls.append((who, batch_id, sequence.tolist()))
            return _prefix_fn(batch_id, sequence)

        return allowed

    rows = 2 * num_beams
    ours_rule = logits.PrefixAllowedTokens(fn("ours"), num_beams, rows)
    theirs = tp.PrefixConstrainedLogitsProcessor(fn("theirs"), num_beams)
    for seed in range(3):
        both_rules(ours_rule, theirs, random_tokens(rows, 4, 40, seed), random_scores(rows, 40, seed, invalid=True))
    assert [c[1:] for c in calls if c[0] == "ours"] == [c[1:] for c in calls if c[0] == "theirs"]
    empty = logits.PrefixAllowedTokens(lambda batch_id, sequence: [], num_beams)
    with pytest.raises(ValueError, match="batch_id 0"):
        empty(random_tokens(rows, 2, 40, 0), random_scores(rows, 40, 0))


def test_sequence_bias_sums_before_adding():
    """Two biases on one score are summed, then added: (s + a) + b would round differently."""
    bias = [[[5], 0.1], [[3, 5], 0.2], [[4, 5], 0.3]]
    ours_rule = logits.SequenceBias(list({tuple(i): b for i, b in bias}.items()))
    theirs = tp.SequenceBiasLogitsProcessor(bias)
    tokens = torch.tensor([[2, 3], [2, 4], [2, 6]])
    scores = torch.full((3, 8), 1.0e-3) + torch.arange(8.0)
    both_rules(ours_rule, theirs, tokens, scores)


# ------------------------------------------------------------------------------------------
# The whole list: build_rules against transformers' _get_logits_processor
# ------------------------------------------------------------------------------------------
class _Captured(Exception):
    pass


def hf_processors(hf, ids, mask, **kwargs) -> list[Any]:
    """The LogitsProcessorList that transformers' generate builds for ``kwargs``: generate runs
    its preparation (lengths, special tokens) and stops when the list is built."""
    captured: list[Any] = []
    build = hf._get_logits_processor

    def spy(*args, **kw):
        captured.append(build(*args, **kw))
        raise _Captured

    hf._get_logits_processor = spy
    try:
        hf.generate(ids, attention_mask=mask, **kwargs)
    except _Captured:
        pass
    finally:
        del hf._get_logits_processor
    return list(captured[0])


def our_rules(ours, ids, *, beam_sampling: bool = False, **kwargs) -> tuple[list[Any], int]:
    """Our rules for the same call, and the rows per input."""
    custom = kwargs.pop("logits_processor", None)
    prefix = kwargs.pop("prefix_allowed_tokens_fn", None)
    config = resolve_generation_config(ours.generation_config, None, kwargs)
    if beam_sampling:  # generate refuses it for now; the rules exist already
        config = config.update(do_sample=False)
    options = DecodingOptions.from_config(
        config,
        batch_size=ids.shape[0],
        vocab_size=VOCAB,
        max_positions=64,
        max_length_given=kwargs.get("max_length") is not None,
    )
    if beam_sampling:
        sampling = resolve_generation_config(ours.generation_config, None, {**kwargs, "num_beams": 1})
        sampled = DecodingOptions.from_config(sampling, batch_size=ids.shape[0], vocab_size=VOCAB, max_positions=64)
        options = dataclasses.replace(
            sampled, num_beams=options.num_beams, num_return_sequences=options.num_return_sequences
        )
    group = max(options.num_beams, options.num_return_sequences)
    rules = build_rules(
        options,
        rows_per_input=group,
        device=torch.device("cpu"),
        encoder_input_ids=ids,
        logits_processor=custom,
        prefix_allowed_tokens_fn=prefix,
    )
    return rules, group


def describe(rule: Any, custom: list[Any]) -> Any:
    """A processor's transformers class, or the index of the caller's processor it is."""
    inner = rule.processor if isinstance(rule, logits.CustomProcessor) else rule
    for i, c in enumerate(custom):
        if inner is c:
            return ("custom", i)
    return transformers_name(rule)


def _recording(batch_id: int, sequence: torch.Tensor) -> list[int]:
    """Some tokens that depend on the batch id and the sequence; the end only after a few tokens."""
    allowed = [4 + (batch_id + len(sequence)) % 9, 5, 30 + int(sequence[-1]) % 50, *range(60 + batch_id, 75)]
    return allowed + [EOS] if len(sequence) >= 4 + batch_id % 5 else allowed


def _halve(input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    return scores * 0.5 + input_ids.shape[1]


class _Shift(tp.LogitsProcessor):
    def __call__(self, input_ids, scores):
        return scores - scores[:, :1]


COMBINATIONS: dict[str, dict[str, Any]] = {
    "defaults": dict(max_new_tokens=8),
    "everything_greedy": dict(
        max_new_tokens=6,
        forced_bos_token_id=LANG,
        forced_eos_token_id=EOS,
        sequence_bias=[[[5], 1.5], [[7, 9], -2.0], [[9], -1.0]],
        encoder_repetition_penalty=1.4,
        repetition_penalty=1.3,
        no_repeat_ngram_size=2,
        encoder_no_repeat_ngram_size=2,
        bad_words_ids=[[6], [8, 10], [EOS]],
        min_new_tokens=3,
        remove_invalid_values=True,
        exponential_decay_length_penalty=(2, 1.5),
        suppress_tokens=[4],
        begin_suppress_tokens=[5],
        renormalize_logits=True,
        prefix_allowed_tokens_fn=_recording,
    ),
    "everything_beams": dict(
        max_new_tokens=6,
        num_beams=3,
        num_return_sequences=2,
        forced_bos_token_id=LANG,
        sequence_bias={(5,): 1.5, (7, 9): -2.0},
        encoder_repetition_penalty=0.7,
        encoder_no_repeat_ngram_size=3,
        min_length=4,
        exponential_decay_length_penalty=(0, 0.8),
        renormalize_logits=True,
        prefix_allowed_tokens_fn=_recording,
    ),
    "sampling": dict(
        max_new_tokens=6,
        do_sample=True,
        num_return_sequences=2,
        temperature=0.7,
        top_k=10,
        top_p=0.9,
        min_p=0.05,
        typical_p=0.9,
        epsilon_cutoff=3e-3,
        eta_cutoff=3e-3,
        forced_bos_token_id=LANG,
        encoder_no_repeat_ngram_size=1,
        prefix_allowed_tokens_fn=_recording,
    ),
    "sampling_no_top_k": dict(max_new_tokens=6, do_sample=True, top_k=0, min_p=0.0, typical_p=0.5, eta_cutoff=0.5),
    "cutoffs_ignored": dict(max_new_tokens=6, do_sample=True, epsilon_cutoff=0.0, eta_cutoff=0.0, typical_p=1.0),
    "beam_sampling": dict(
        max_new_tokens=6,
        num_beams=3,
        do_sample=True,
        eos_token_id=[EOS, 7],
        top_k=1,
        top_p=0.2,
        min_p=0.9,
        typical_p=0.2,
        epsilon_cutoff=0.5,
        eta_cutoff=0.5,
    ),
    "beam_sampling_no_eos": dict(max_new_tokens=6, num_beams=2, do_sample=True, top_k=1, eos_token_id=None),
    "custom_processors": dict(
        max_new_tokens=6,
        do_sample=True,
        top_k=7,
        repetition_penalty=1.3,
        min_new_tokens=2,
        forced_bos_token_id=LANG,
        logits_processor=[
            tp.RepetitionPenaltyLogitsProcessor(2.0),
            _halve,
            tp.TopKLogitsWarper(4),
            tp.MinNewTokensLengthLogitsProcessor(1, 4, EOS),
            _Shift(),
            tp.RepetitionPenaltyLogitsProcessor(3.0),
            _halve,
        ],
    ),
    "custom_only": dict(max_new_tokens=6, logits_processor=[_halve, tp.MinLengthLogitsProcessor(3, EOS)]),
}


@pytest.mark.parametrize("kwargs", list(COMBINATIONS.values()), ids=list(COMBINATIONS))
def test_build_rules_equals_get_logits_processor(hf, ours, source, kwargs):
    ids, mask = source
    beam_sampling = kwargs.get("num_beams", 1) > 1 and kwargs.get("do_sample", False)
    calls: dict[str, list] = {"ours": [], "theirs": []}
    custom = list(kwargs.get("logits_processor", []))
    theirs_kwargs, ours_kwargs = dict(kwargs), dict(kwargs)
    if "prefix_allowed_tokens_fn" in kwargs:  # record the calls of each side
        for side, kw in (("theirs", theirs_kwargs), ("ours", ours_kwargs)):
            kw["prefix_allowed_tokens_fn"] = lambda b, s, side=side: (
                calls[side].append((b, s.tolist())) or _recording(b, s)
            )
    theirs = hf_processors(hf, ids, mask, **theirs_kwargs)
    rules, group = our_rules(ours, ids, beam_sampling=beam_sampling, **ours_kwargs)
    assert [describe(r, custom) for r in rules] == [describe(p, custom) for p in theirs]
    rows = ids.shape[0] * group
    for seed in range(3):
        for length in range(1, 8):
            tokens = random_tokens(rows, length, VOCAB, seed)
            scores = random_scores(rows, VOCAB, seed)
            expected = scores.clone()
            try:
                for p in theirs:
                    expected = p(tokens, expected)
            except ValueError as error:  # e.g. eta on a row that every earlier rule banned: NaN
                with pytest.raises(ValueError, match=str(error).split("(")[0]):
                    logits.apply_rules(rules, tokens.clone(), scores.clone())
                continue
            actual = logits.apply_rules(rules, tokens.clone(), scores.clone())
            assert_equal(actual, expected)
    assert calls["ours"] == calls["theirs"]


def test_merge_takes_custom_processors_like_transformers(hf):
    """A custom processor of a built-in's class takes its place; the others follow, once each."""
    rep, top_k, plain = tp.RepetitionPenaltyLogitsProcessor(2.0), tp.TopKLogitsWarper(3), _halve
    built = [logits.SequenceBias([((5,), 1.0)]), logits.RepetitionPenalty(1.3), logits.MinLength(3, [EOS])]
    custom = [plain, rep, top_k, rep, plain, tp.MinNewTokensLengthLogitsProcessor(1, 2, EOS)]
    merged = merge_processors(built, custom)
    expected = hf._merge_criteria_processor_list(
        tp.LogitsProcessorList(
            [tp.SequenceBiasLogitsProcessor([[[5], 1.0]]), tp.RepetitionPenaltyLogitsProcessor(1.3)]
            + [tp.MinLengthLogitsProcessor(3, EOS)]
        ),
        custom,
    )
    assert [describe(r, custom) for r in merged] == [describe(p, custom) for p in expected]
    assert merged[1] is rep and merged[0] is built[0] and merged[2] is built[2]
    assert merge_processors(built, []) == built


def test_custom_processor_output_is_ours_to_write():
    """A processor may return a view of something it keeps: the rules after it write in place."""
    kept = torch.zeros(1, 40)

    class Clean:  # takes the place of remove_invalid_values, before suppress_tokens (which writes in place)
        transformers_name = "InfNanRemoveLogitsProcessor"

        def __call__(self, input_ids, scores):
            return kept.expand_as(scores)

    custom = Clean()
    rules = build_rules(_options(remove_invalid_values=True, suppress_tokens=[3]), logits_processor=[custom])
    assert [describe(r, [custom]) for r in rules] == [("custom", 0), "SuppressTokensLogitsProcessor"]
    out = logits.apply_rules(rules, torch.full((2, 1), START), torch.randn(2, 40))
    assert torch.isinf(out[:, 3]).all() and torch.equal(kept, torch.zeros(1, 40))


def test_rules_that_need_every_row():
    options = _options(encoder_no_repeat_ngram_size=2)
    assert needs_every_row(build_rules(options, encoder_input_ids=ENCODER_IDS))
    assert needs_every_row(build_rules(_options(), logits_processor=[_halve]))
    assert needs_every_row(build_rules(_options(), prefix_allowed_tokens_fn=_recording))
    assert not needs_every_row(build_rules(_options(sequence_bias=[[[5], 1.0]], repetition_penalty=1.2)))


def _options(**kwargs: Any) -> DecodingOptions:
    config = GenerationConfig(decoder_start_token_id=START, eos_token_id=EOS, pad_token_id=PAD, **kwargs)
    return DecodingOptions.from_config(config, batch_size=2, vocab_size=40)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(encoder_repetition_penalty=1.5), "encoder_input_ids"),
        (dict(encoder_no_repeat_ngram_size=2), "encoder_input_ids"),
    ],
)
def test_build_rules_needs_the_source(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_rules(_options(**kwargs))


def test_build_rules_refuses_bad_processors():
    class Three:
        def __call__(self, input_ids, scores, cur_len):
            return scores

    with pytest.raises(ValueError, match="cur_len"):
        build_rules(_options(), logits_processor=[Three()])
    with pytest.raises(ValueError, match="callables"):
        build_rules(_options(), logits_processor=[3])
    with pytest.raises(ValueError, match="prefix_allowed_tokens_fn"):
        build_rules(_options(), prefix_allowed_tokens_fn=[1, 2])
    with pytest.raises(ValueError, match="batch, length"):
        build_rules(_options(), encoder_input_ids=torch.tensor([1, 2]))


# ------------------------------------------------------------------------------------------
# generate() against transformers: options that reach the rules through DecodingOptions
# ------------------------------------------------------------------------------------------
def both(hf, ours, source, **kwargs: Any) -> tuple[Any, Any]:
    ids, mask = source
    return hf.generate(ids, attention_mask=mask, **kwargs), ours.generate(ids, attention_mask=mask, **kwargs)


def assert_scores_close(expected: tuple, actual: tuple) -> None:
    assert len(actual) == len(expected)
    for e, a in zip(expected, actual):
        assert a.shape == e.shape
        assert torch.equal(torch.isinf(a), torch.isinf(e))
        finite = torch.isfinite(e)
        torch.testing.assert_close(a[finite], e[finite], atol=1e-4, rtol=1e-4)


def frequent_tokens(ours, source, n: int) -> list[int]:
    from collections import Counter

    ids, mask = source
    plain = strip(ours.generate(ids, attention_mask=mask, max_new_tokens=16, forced_bos_token_id=LANG))
    return [t for t, _ in Counter(t for r in plain for t in r[2:] if t != EOS).most_common(n)]


SAMPLING = {
    "typical": dict(typical_p=0.6),
    "min_p": dict(min_p=0.2),
    "epsilon": dict(epsilon_cutoff=0.05),
    "eta": dict(eta_cutoff=0.05),
    "all_after_temperature": dict(temperature=1.3, top_k=0, min_p=0.05, typical_p=0.9, epsilon_cutoff=0.01),
    "return_sequences": dict(num_return_sequences=3, top_p=0.9, eta_cutoff=0.02, typical_p=0.8),
}


@pytest.mark.parametrize("setting", list(SAMPLING.values()), ids=list(SAMPLING))
def test_sampling_filters_match_transformers(hf, ours, source, setting):
    ids, mask = source
    kwargs = dict(attention_mask=mask, do_sample=True, max_new_tokens=16, forced_bos_token_id=LANG)
    torch.manual_seed(11)
    expected = hf.generate(ids, **kwargs, **setting)
    torch.manual_seed(11)
    actual = ours.generate(ids, **kwargs, **setting)
    assert_same_tokens(expected, actual)
    unfiltered = {k: v for k, v in setting.items() if k in ("num_return_sequences", "temperature")}
    torch.manual_seed(11)
    assert not torch.equal(ours.generate(ids, **kwargs, **unfiltered), actual), "the filter changed nothing"


def test_sampling_filter_scores_match_transformers(hf, ours, source):
    ids, mask = source
    kwargs = dict(
        attention_mask=mask,
        do_sample=True,
        max_new_tokens=10,
        forced_bos_token_id=LANG,
        min_p=0.05,
        typical_p=0.9,
        epsilon_cutoff=0.01,
        eta_cutoff=0.01,
        renormalize_logits=True,
        return_dict_in_generate=True,
        output_scores=True,
    )
    torch.manual_seed(5)
    expected = hf.generate(ids, **kwargs)
    torch.manual_seed(5)
    actual = ours.generate(ids, **kwargs)
    assert_same_tokens(expected.sequences, actual.sequences, varied=False)
    assert_scores_close(expected.scores, actual.scores)


def score_settings(ours, source) -> dict[str, dict[str, Any]]:
    a, b, c = frequent_tokens(ours, source, 3)
    return {
        "sequence_bias": dict(sequence_bias=[[[a], -4.0], [[b, b], -3.0], [[c], 1.5], [[EOS], -1.0]]),
        "sequence_bias_dict": dict(sequence_bias={(a,): 2.0, (c, a): -8.0}),
        "exp_decay": dict(exponential_decay_length_penalty=(3, 1.6)),
        "exp_decay_late": dict(exponential_decay_length_penalty=(8, 1.2), min_new_tokens=4),
        "remove_invalid": dict(remove_invalid_values=True, repetition_penalty=1.2),
        "renormalize": dict(renormalize_logits=True, repetition_penalty=1.5, bad_words_ids=[[a]]),
        "everything": dict(
            sequence_bias=[[[b], -2.0]],
            exponential_decay_length_penalty=(4, 1.3),
            remove_invalid_values=True,
            renormalize_logits=True,
            no_repeat_ngram_size=2,
        ),
    }


SCORE_SETTINGS = [
    "sequence_bias",
    "sequence_bias_dict",
    "exp_decay",
    "exp_decay_late",
    "remove_invalid",
    "renormalize",
    "everything",
]


@pytest.mark.parametrize("num_beams", [1, 4])
@pytest.mark.parametrize("name", SCORE_SETTINGS)
def test_score_options_match_transformers(hf, ours, source, num_beams, name):
    setting = score_settings(ours, source)[name]
    kwargs = dict(max_new_tokens=16, forced_bos_token_id=LANG, num_beams=num_beams, **setting)
    expected, actual = both(hf, ours, source, **kwargs)
    assert_same_tokens(expected, actual)
    if num_beams == 4:
        expected, actual = both(
            hf, ours, source, num_return_sequences=2, return_dict_in_generate=True, output_scores=True, **kwargs
        )
        assert_same_tokens(expected.sequences, actual.sequences)
        torch.testing.assert_close(actual.sequences_scores, expected.sequences_scores, atol=1e-4, rtol=1e-4)
        assert_scores_close(expected.scores, actual.scores)
    else:
        expected, actual = both(hf, ours, source, return_dict_in_generate=True, output_scores=True, **kwargs)
        assert_scores_close(expected.scores, actual.scores)


@pytest.mark.parametrize("name", SCORE_SETTINGS)
def test_score_options_take_effect(ours, source, name):
    """The parity above would also hold if both sides ignored an option."""
    ids, mask = source
    setting = score_settings(ours, source)[name]
    kwargs = dict(attention_mask=mask, max_new_tokens=16, forced_bos_token_id=LANG, num_beams=4)
    kwargs.update(return_dict_in_generate=True, output_scores=True)
    base = {k: v for k, v in setting.items() if k in ("repetition_penalty", "min_new_tokens", "bad_words_ids")}
    plain, changed = ours.generate(ids, **kwargs, **base), ours.generate(ids, **kwargs, **setting)
    if name == "remove_invalid":  # the same tokens, but no infinite score left
        assert torch.equal(plain.sequences, changed.sequences)
        assert all(torch.isinf(s).any() for s in plain.scores[:1]) and not any(
            torch.isinf(s).any() for s in changed.scores
        )
    else:
        assert not torch.equal(plain.sequences, changed.sequences) or name == "renormalize"
        assert any(not torch.equal(p, c) for p, c in zip(plain.scores, changed.scores))


# ------------------------------------------------------------------------------------------
# Options that need the new keywords of build_rules, replayed on transformers' generations
# ------------------------------------------------------------------------------------------
REPLAYS = {
    "encoder_no_repeat": dict(encoder_no_repeat_ngram_size=3),
    "encoder_no_repeat_2": dict(encoder_no_repeat_ngram_size=2, repetition_penalty=1.2),
    "encoder_repetition": dict(encoder_repetition_penalty=1.8),
    "encoder_repetition_sampling": dict(encoder_repetition_penalty=2.5, do_sample=True, num_return_sequences=2),
    "prefix": dict(prefix_allowed_tokens_fn=_recording),
    "prefix_sampling": dict(prefix_allowed_tokens_fn=_recording, do_sample=True, num_return_sequences=3),
    "custom": dict(logits_processor=[_halve, tp.RepetitionPenaltyLogitsProcessor(1.6)], repetition_penalty=1.1),
    "all_sampling": dict(
        do_sample=True,
        num_return_sequences=2,
        encoder_repetition_penalty=0.6,
        encoder_no_repeat_ngram_size=3,
        prefix_allowed_tokens_fn=_recording,
        logits_processor=[_halve, tp.TopKLogitsWarper(20)],
        typical_p=0.9,
        min_p=0.02,
    ),
}


@pytest.mark.parametrize("setting", list(REPLAYS.values()), ids=list(REPLAYS))
def test_replay_on_transformers_generations(hf, ours, source, setting):
    """transformers generates (greedy or sampling, finished rows padded); at every step our rules,
    given its sequences so far and its raw logits, give its processed scores exactly."""
    ids, mask = source
    kwargs = dict(max_new_tokens=14, forced_bos_token_id=LANG, **setting)
    torch.manual_seed(3)
    out = hf.generate(
        ids, attention_mask=mask, return_dict_in_generate=True, output_scores=True, output_logits=True, **kwargs
    )
    rules, group = our_rules(ours, ids, **dict(kwargs))
    new = ("encoder_repetition_penalty", "encoder_no_repeat_ngram_size", "prefix_allowed_tokens_fn", "logits_processor")
    without, _ = our_rules(ours, ids, **{k: v for k, v in kwargs.items() if k not in new})
    assert out.sequences.shape[0] == ids.shape[0] * group
    acted = False
    for step, (raw, processed) in enumerate(zip(out.logits, out.scores)):
        tokens = out.sequences[:, : step + 1]
        assert_equal(logits.apply_rules(rules, tokens.clone(), raw.clone()), processed)
        acted |= not torch.equal(logits.apply_rules(without, tokens.clone(), raw.clone()), processed)
    assert acted, "the options changed no score: the replay would be trivial"
    lengths = {len(r) for r in strip(out.sequences)}
    assert len(lengths) > 1, "finished rows (padded) should be part of the replay"


# ------------------------------------------------------------------------------------------
# Checks before any model call, and what is refused
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(do_sample=True, typical_p=0.0), r"typical_p must be in \(0, 1\].*got 0.0"),
        (dict(do_sample=True, typical_p=1.5), "typical_p"),
        (dict(do_sample=True, min_p=1.5), r"min_p must be a float in \[0, 1\].*1.5"),
        (dict(do_sample=True, min_p=-0.1), "min_p"),
        (dict(do_sample=True, epsilon_cutoff=1.0), r"epsilon_cutoff must be in \[0, 1\)"),
        (dict(do_sample=True, eta_cutoff=-0.1), "eta_cutoff"),
        (dict(do_sample=True, eta_cutoff="0.1"), "eta_cutoff"),
        (dict(encoder_repetition_penalty=0.0), "encoder_repetition_penalty must be a float > 0"),
        (dict(encoder_repetition_penalty=2), "encoder_repetition_penalty must be a float > 0.*got 2"),
        (dict(encoder_no_repeat_ngram_size=-1), "encoder_no_repeat_ngram_size"),
        (dict(encoder_no_repeat_ngram_size=1.5), "encoder_no_repeat_ngram_size"),
        (dict(sequence_bias=[]), "sequence_bias"),
        (dict(sequence_bias=[[[5], 1]]), "float"),
        (dict(sequence_bias=[[[0], 1.0]]), ">= 1"),
        (dict(sequence_bias=[[[], 1.0]]), "non-empty"),
        (dict(sequence_bias=[[[5, 500], 1.0]]), r"tokens \[500\].*0..159"),
        (dict(sequence_bias={(5,): 1}), "float values"),
        (dict(sequence_bias={5: 1.0}), "tuple keys"),
        (dict(sequence_bias=[[5, 1.0]]), "list of token ids"),
        (dict(exponential_decay_length_penalty=(2,)), "exponential_decay_length_penalty"),
        (dict(exponential_decay_length_penalty=(2.5, 1.1)), "exponential_decay_length_penalty"),
        (dict(exponential_decay_length_penalty=(2, 0.0)), "factor > 0"),
        (dict(exponential_decay_length_penalty=(2, 1.1), eos_token_id=None), "needs eos_token_id"),
        (dict(renormalize_logits="yes"), "renormalize_logits must be True or False"),
        (dict(remove_invalid_values=1), "remove_invalid_values"),
        (dict(num_beam_groups=2, num_beams=4, diversity_penalty=0.5), "group-beam-search"),
        (dict(diversity_penalty=0.5), "diversity_penalty.*group beam search"),
        (dict(force_words_ids=[[5]]), "constrained-beam-search"),
        (dict(constraints=["x"]), "constraints"),
        (dict(penalty_alpha=0.6, top_k=4), "contrastive-search"),
        (dict(dola_layers="low"), "dola"),
        (dict(low_memory=True, num_beams=2), "low_memory"),
        (dict(guidance_scale=1.5), "encoder-decoder"),
        (dict(token_healing=True), "tokenizer"),
        (dict(watermarking_config={"greenlist_ratio": 0.25}), "watermarking_config"),
    ],
)
def test_bad_arguments(ours, source, kwargs, message):
    ids, mask = source
    encoder_calls: list[int] = []
    hook = ours.model.encoder.layer_norm.register_forward_hook(lambda *_: encoder_calls.append(1))
    try:
        with pytest.raises(ValueError, match=message):
            ours.generate(ids, attention_mask=mask, max_new_tokens=4, **kwargs)
    finally:
        hook.remove()
    assert not encoder_calls, "arguments must be checked before the encoder runs"


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(guidance_scale=1.0),
        dict(low_memory=False),
        dict(penalty_alpha=0.0),
        dict(typical_p=0.0, min_p=5.0, epsilon_cutoff=2.0),  # sampling filters, not sampling
        dict(encoder_repetition_penalty=1, encoder_no_repeat_ngram_size=0),
    ],
    ids=str,
)
def test_settings_without_effect_in_transformers_are_accepted(hf, ours, source, kwargs):
    expected, actual = both(hf, ours, source, max_new_tokens=12, forced_bos_token_id=LANG, **kwargs)
    assert_same_tokens(expected, actual)


def test_generation_config_round_trip(ours, source, tmp_path):
    import transformers

    ids, mask = source
    config = GenerationConfig(
        sequence_bias={(5,): 1.5, (7, 9): -2.0},
        exponential_decay_length_penalty=(3, 1.4),
        typical_p=0.8,
        min_p=0.1,
        epsilon_cutoff=0.01,
        eta_cutoff=0.02,
        renormalize_logits=True,
        remove_invalid_values=True,
        encoder_repetition_penalty=1.3,
        encoder_no_repeat_ngram_size=3,
    )
    config.save_pretrained(tmp_path)
    again = GenerationConfig.from_pretrained(tmp_path)
    assert again.sequence_bias == [[[5], 1.5], [[7, 9], -2.0]]
    assert again.exponential_decay_length_penalty == [3, 1.4]
    assert (again.typical_p, again.min_p, again.eta_cutoff, again.encoder_no_repeat_ngram_size) == (0.8, 0.1, 0.02, 3)
    theirs = transformers.GenerationConfig.from_pretrained(tmp_path)  # transformers reads it too
    assert theirs.sequence_bias == again.sequence_bias and theirs.encoder_repetition_penalty == 1.3
    kwargs = dict(attention_mask=mask, max_new_tokens=12, forced_bos_token_id=LANG)
    settings = dict(sequence_bias={(5,): 1.5, (7, 9): -2.0}, exponential_decay_length_penalty=(3, 1.4))
    assert torch.equal(
        ours.generate(ids, generation_config=GenerationConfig(**settings), **kwargs),
        ours.generate(ids, generation_config=GenerationConfig(**{k: getattr(again, k) for k in settings}), **kwargs),
    )


# ------------------------------------------------------------------------------------------
# generate() against transformers: options that need what only generate sees (the source ids,
# the caller's processors, the prefix function), in every search
# ------------------------------------------------------------------------------------------
class _Favour(tp.LogitsProcessor):
    """A caller's processor: some tokens become likelier (finite in, finite out)."""

    def __call__(self, input_ids, scores):
        return scores + torch.where(torch.arange(scores.shape[-1]) % 11 == input_ids.shape[1] % 11, 3.0, 0.0)


def _ban_best_on_odd_steps(input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """A plain callable that changes the ranking: the best token is banned at odd lengths (not at
    the forced language step, where it is the only one left)."""
    if input_ids.shape[1] % 2 == 0 or input_ids.shape[1] == 1:
        return scores
    return scores.scatter(1, scores.argmax(dim=1, keepdim=True), -INF)


SOURCE_AND_CALLER = {
    "encoder_repetition_penalty": dict(encoder_repetition_penalty=1.8),
    "encoder_no_repeat_ngram": dict(encoder_no_repeat_ngram_size=1),
    "prefix_allowed_tokens_fn": dict(prefix_allowed_tokens_fn=_recording),
    "logits_processor": dict(logits_processor=[_Favour()]),
    "plain_callable": dict(logits_processor=[_ban_best_on_odd_steps]),
}
SEARCHES = {
    "greedy": dict(),
    "beam": dict(num_beams=3, num_return_sequences=2),
    "sampling": dict(do_sample=True, num_return_sequences=2, top_k=20),
    "beam_sampling": dict(do_sample=True, num_beams=2, top_k=20),
}


@pytest.mark.parametrize("search", list(SEARCHES), ids=list(SEARCHES))
@pytest.mark.parametrize("option", list(SOURCE_AND_CALLER), ids=list(SOURCE_AND_CALLER))
def test_source_and_caller_options_through_generate_match_transformers(hf, ours, source, option, search):
    ids, mask = source
    kwargs = dict(attention_mask=mask, max_new_tokens=12, forced_bos_token_id=LANG, **SEARCHES[search])
    torch.manual_seed(5)
    expected = hf.generate(ids, **kwargs, **SOURCE_AND_CALLER[option])
    torch.manual_seed(5)
    actual = ours.generate(ids, **kwargs, **SOURCE_AND_CALLER[option])
    assert_same_tokens(expected, actual, varied=False)
    torch.manual_seed(5)
    assert not torch.equal(ours.generate(ids, **kwargs), actual), f"{option} changed nothing"


def test_screenable_rules_never_raise_a_score():
    """Greedy search hands screened logits only to rules that lower scores token by token."""
    ids = torch.tensor([[2, 5]])
    screenable = [
        logits.RepetitionPenalty(1.3),
        logits.EncoderRepetitionPenalty(0.7, ids, 1),
        logits.BadWords([[7], [5, 9]]),
        logits.SequenceBias([([7], -2.0)]),
        logits.NoRepeatNGram(2),
        logits.EncoderNoRepeatNGram(2, ids, 1),
        logits.MinLength(5, [2]),
        logits.SuppressTokens([3]),
        logits.ForceToken(2, 4),
    ]
    not_screenable = [
        logits.RepetitionPenalty(0.7),
        logits.EncoderRepetitionPenalty(1.3, ids, 1),
        logits.SequenceBias([([7], 2.0), ([8], -1.0)]),
        logits.ExponentialDecayLength(0, 1.5, [2], 1),
        logits.Temperature(0.7),
        logits.CustomProcessor(lambda tokens, scores: scores),
        logits.PrefixAllowedTokens(lambda batch, tokens: [3], 1),
    ]
    assert logits.screenable(screenable)
    assert not any(logits.screenable([rule]) for rule in not_screenable)
    scores = torch.randn(1, 12) * 3
    for rule in screenable[:-1]:  # ForceToken sets the row: it does not read it
        changed = rule(torch.tensor([[2, 5, 9]]), scores.clone())
        assert (changed <= scores).all(), rule
