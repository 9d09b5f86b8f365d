"""generate() against transformers 4.57's GenerationMixin on a tiny random checkpoint.

The checkpoint's end-of-sequence embedding row (tied to the lm_head) is tuned so that translations end
at many different lengths: some beams finish early, others run into max_length. Every parity
test compares token ids after stripping the trailing padding, and the tests check that the
lengths really differ, so none of them can pass on sequences that all hit max_length.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

import pytest
import torch

import m2m100
from m2m100 import GenerationConfig
from m2m100.generation import decoding
from tests.generation.parity import EOS, LANG, LANGS, START, assert_same_tokens, strip


def both(hf, ours, source, **kwargs: Any) -> tuple[Any, Any]:
    ids, mask = source
    return hf.generate(ids, attention_mask=mask, **kwargs), ours.generate(ids, attention_mask=mask, **kwargs)


# ------------------------------------------------------------------------------------------
# Parity of tokens
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("forced_bos", LANGS)
def test_greedy(hf, ours, source, forced_bos):
    expected, actual = both(hf, ours, source, max_new_tokens=20, forced_bos_token_id=forced_bos)
    assert_same_tokens(expected, actual)
    assert (actual[:, :2] == torch.tensor([START, forced_bos])).all()


def test_greedy_without_forced_language(hf, ours, source):
    # From the EOS start token this checkpoint ends at once; a language token as decoder start
    # (another documented setting) gives varied lengths.
    expected, actual = both(hf, ours, source, max_new_tokens=20)
    assert_same_tokens(expected, actual, varied=False)
    expected, actual = both(hf, ours, source, max_new_tokens=20, decoder_start_token_id=157)
    assert_same_tokens(expected, actual)
    assert (actual[:, 0] == 157).all()


def test_default_max_length_is_20_new_tokens(hf, ours, source):
    expected, actual = both(hf, ours, source, forced_bos_token_id=LANG)
    assert_same_tokens(expected, actual)
    assert actual.shape[1] <= 21


@pytest.mark.parametrize("num_beams", [4, 5])
@pytest.mark.parametrize("early_stopping", [True, False, "never"])
@pytest.mark.parametrize("length_penalty", [0.6, 1.0, 2.0])
def test_beam_search(hf, ours, source, num_beams, early_stopping, length_penalty):
    kwargs = dict(
        num_beams=num_beams,
        early_stopping=early_stopping,
        length_penalty=length_penalty,
        max_new_tokens=20,
        forced_bos_token_id=LANG,
        num_return_sequences=num_beams,
    )
    expected, actual = both(hf, ours, source, **kwargs)
    assert_same_tokens(expected, actual)


@pytest.mark.parametrize(
    "num_beams, length_penalty, early_stopping, max_new_tokens, lang",
    [
        # with few beams the finished set fills up early, which exercises the stopping rules: "never"
        # judging the best running beam at max_length, no new hypotheses once the set is full
        # (early_stopping=True) or once no running beam can beat the worst finished one
        (2, 1.0, "never", 20, 143),
        (3, 2.0, "never", 12, 159),
        (2, 0.6, True, 12, 148),
        (3, 2.0, True, 12, 148),
        (2, 2.0, False, 12, 143),
        (3, 1.0, False, 20, 148),
    ],
)
def test_beam_search_stopping_rules(hf, ours, source, num_beams, length_penalty, early_stopping, max_new_tokens, lang):
    expected, actual = both(
        hf,
        ours,
        source,
        num_beams=num_beams,
        length_penalty=length_penalty,
        early_stopping=early_stopping,
        max_new_tokens=max_new_tokens,
        forced_bos_token_id=lang,
        num_return_sequences=num_beams,
    )
    assert_same_tokens(expected, actual)


@pytest.mark.parametrize("forced", LANGS[:2])
def test_beam_search_with_chunked_candidates(hf, ours, source, monkeypatch, forced):
    """The tiny vocabulary is too short for top_k's chunked path; chunks of 4 make it run."""
    monkeypatch.setattr(decoding, "top_k", functools.partial(decoding.top_k, chunk=4))
    expected, actual = both(hf, ours, source, num_beams=4, max_new_tokens=20, forced_bos_token_id=forced)
    assert_same_tokens(expected, actual)


@pytest.mark.parametrize("forced", LANGS[:2])
def test_greedy_with_chunked_arg_max(hf, ours, source, monkeypatch, forced):
    """The tiny vocabulary is too short for arg_max's chunked path; chunks of 4 make it run."""
    monkeypatch.setattr(decoding, "arg_max", functools.partial(decoding.arg_max, chunk=4))
    expected, actual = both(hf, ours, source, max_new_tokens=20, forced_bos_token_id=forced)
    assert_same_tokens(expected, actual)


@pytest.mark.parametrize("rows, n, k", [(16, 4 * 128112, 8), (64, 128112, 8), (3, 1000, 10), (5, 1003, 1), (2, 50, 8)])
def test_top_k_equals_torch_topk(rows, n, k):
    g = torch.Generator().manual_seed(n)
    scores = torch.randn(rows, n, generator=g)
    scores[0, : n // 2] = float("-inf")  # banned tokens
    scores[-1, -3:] = 10.0 + torch.arange(3.0)  # the best in the tail that fills no whole chunk
    values, index = decoding.top_k(scores, k)
    expected = torch.topk(scores, k)
    assert torch.equal(values, expected.values) and torch.equal(index, expected.indices)


@pytest.mark.parametrize("n", [128112, 4096, 3000, 1000])
def test_arg_max_equals_torch_argmax(n):
    """Greedy's argmax over chunk maxima: the index torch.argmax gives, with ties (the first
    wins, also across chunks), NaN (counts as the maximum), rows all -inf, and the best score
    in the tail that fills no whole chunk."""
    g = torch.Generator().manual_seed(n)
    scores = torch.randn(7, n, generator=g)
    scores[1, : n // 2] = float("-inf")  # banned tokens
    scores[2, -3:] = 10.0 + torch.arange(3.0)  # the best in the tail
    scores[3, [5, n // 2, n - 1]] = 9.0  # ties in different chunks: the first wins
    scores[4] = float("-inf")  # nothing allowed: index 0, as torch.argmax
    scores[5, n // 3] = float("nan")  # NaN is the maximum for torch.argmax
    scores[6, n - 1] = 9.0  # the very last score
    actual = decoding.arg_max(scores)
    assert torch.equal(actual, torch.argmax(scores, dim=-1))
    assert torch.equal(decoding.arg_max(scores[2]), torch.argmax(scores[2], dim=-1))  # one row, no batch axis


@pytest.mark.parametrize("num_beams", [1, 4])
@pytest.mark.parametrize("forced", [LANG, None])
def test_lm_head_skipped_on_the_forced_step(hf, ours, source, num_beams, forced):
    """The forced language token's scores do not depend on the model: no LM head that step
    (unless the raw logits are asked for), and the same tokens as transformers."""
    calls: Counter = Counter()
    hooks = [
        ours.lm_head.register_forward_hook(lambda *_: calls.update(["head"])),
        ours.model.decoder.layer_norm.register_forward_hook(lambda *_: calls.update(["step"])),  # once a step
    ]
    screened = ours.lm_head.screened  # greedy search's other way through the head

    def counted(hidden: torch.Tensor) -> Any:
        calls.update(["head"])
        return screened(hidden)

    ours.lm_head.screened = counted
    try:
        expected, actual = both(hf, ours, source, num_beams=num_beams, max_new_tokens=12, forced_bos_token_id=forced)
        plain, calls = calls, Counter()
        ours.generate(
            source[0],
            attention_mask=source[1],
            num_beams=num_beams,
            max_new_tokens=12,
            forced_bos_token_id=forced,
            return_dict_in_generate=True,
            output_logits=True,
        )
    finally:
        for hook in hooks:
            hook.remove()
        del ours.lm_head.screened
    assert_same_tokens(expected, actual, varied=forced is not None)  # unforced, this model ends at once
    assert plain["head"] == plain["step"] - (forced is not None) > 0
    assert calls["head"] == calls["step"] > 0, "output_logits needs the head at every step"


@pytest.mark.parametrize("lang", LANGS)
def test_beam_search_forced_language(hf, ours, source, lang):
    expected, actual = both(hf, ours, source, num_beams=4, max_new_tokens=20, forced_bos_token_id=lang)
    assert_same_tokens(expected, actual)
    assert (actual[:, 1] == lang).all()


@pytest.mark.parametrize("num_beams", [1, 4])
@pytest.mark.parametrize(
    "setting",
    [
        dict(no_repeat_ngram_size=3),
        dict(repetition_penalty=1.3),
        dict(min_new_tokens=8),
        dict(max_new_tokens=5),
        dict(forced_eos_token_id=EOS, max_length=12),
        dict(suppress_tokens=[5, 17, 33]),
        dict(begin_suppress_tokens=[4, 6]),
        dict(eos_token_id=[EOS, 7]),
    ],
    ids=lambda s: "-".join(s),
)
def test_constraints(hf, ours, source, num_beams, setting):
    kwargs = {"max_new_tokens": 16, "forced_bos_token_id": LANG, "num_beams": num_beams, **setting}
    if "max_length" in setting:
        del kwargs["max_new_tokens"]
    expected, actual = both(hf, ours, source, **kwargs)
    assert_same_tokens(expected, actual, varied="max_new_tokens" not in setting and "min_new_tokens" not in setting)


def test_constraints_take_effect(ours, source):
    """The constraint tests above would also pass if both sides ignored a setting: check the
    settings change what our generate returns."""
    ids, mask = source
    plain = ours.generate(ids, attention_mask=mask, max_new_tokens=16, forced_bos_token_id=LANG)
    longer = ours.generate(ids, attention_mask=mask, max_new_tokens=16, forced_bos_token_id=LANG, min_new_tokens=8)
    assert min(len(r) for r in strip(plain)) < 9 <= min(len(r) for r in strip(longer))
    ended = ours.generate(ids, attention_mask=mask, max_length=12, forced_bos_token_id=LANG, forced_eos_token_id=EOS)
    assert all(r[-1] == EOS for r in strip(ended))
    used = Counter(t for r in strip(plain) for t in r[2:] if t != EOS).most_common(2)
    banned = [[used[0][0]], [used[1][0], used[1][0]]]
    cleaned = ours.generate(ids, attention_mask=mask, max_new_tokens=16, forced_bos_token_id=LANG, bad_words_ids=banned)
    for row in strip(cleaned):
        assert used[0][0] not in row[2:]
        assert all(row[i : i + 2] != banned[1] for i in range(2, len(row) - 1))
    suppressed = ours.generate(
        ids, attention_mask=mask, max_new_tokens=16, forced_bos_token_id=LANG, suppress_tokens=[used[0][0]]
    )
    assert all(used[0][0] not in r for r in strip(suppressed))
    no_repeat = ours.generate(
        ids, attention_mask=mask, max_new_tokens=16, forced_bos_token_id=LANG, no_repeat_ngram_size=2
    )
    for row in strip(no_repeat):
        pairs = list(zip(row, row[1:]))
        assert len(pairs) == len(set(pairs))


def test_bad_words(hf, ours, source):
    ids, mask = source
    plain = strip(ours.generate(ids, attention_mask=mask, max_new_tokens=16, forced_bos_token_id=LANG))
    (a, _), (b, _) = Counter(t for r in plain for t in r[2:] if t != EOS).most_common(2)
    for num_beams in (1, 4):
        expected, actual = both(
            hf,
            ours,
            source,
            max_new_tokens=16,
            forced_bos_token_id=LANG,
            num_beams=num_beams,
            bad_words_ids=[[a], [b, b], [EOS]],
        )
        assert_same_tokens(expected, actual)


def test_num_return_sequences(hf, ours, source):
    expected, actual = both(
        hf, ours, source, num_beams=4, num_return_sequences=3, max_new_tokens=20, forced_bos_token_id=150
    )
    assert actual.shape[0] == 3 * source[0].shape[0]
    assert_same_tokens(expected, actual)


def test_per_row_forced_bos_equals_separate_runs(ours, source):
    ids, mask = source
    langs = [150, 155, 159, 151, 150, 158]
    for num_beams in (1, 4):
        batched = strip(
            ours.generate(
                ids,
                attention_mask=mask,
                num_beams=num_beams,
                max_new_tokens=20,
                forced_bos_token_id=torch.tensor(langs),
            )
        )
        single = [
            strip(
                ours.generate(
                    ids[i : i + 1, mask[i] == 1], num_beams=num_beams, max_new_tokens=20, forced_bos_token_id=lang
                )
            )[0]
            for i, lang in enumerate(langs)
        ]
        assert batched == single
        assert [r[1] for r in batched] == langs
    as_list = ours.generate(ids, attention_mask=mask, max_new_tokens=20, forced_bos_token_id=langs)
    assert strip(as_list) == strip(
        ours.generate(ids, attention_mask=mask, max_new_tokens=20, forced_bos_token_id=torch.tensor(langs))
    )


def test_generation_config_argument_and_kwargs(hf, ours, source):
    import transformers

    ids, mask = source
    settings = dict(num_beams=4, max_new_tokens=12, forced_bos_token_id=159, length_penalty=0.6)
    expected = hf.generate(ids, attention_mask=mask, generation_config=transformers.GenerationConfig(**settings))
    actual = ours.generate(ids, attention_mask=mask, generation_config=GenerationConfig(**settings))
    assert_same_tokens(expected, actual)
    expected = hf.generate(
        ids, attention_mask=mask, generation_config=transformers.GenerationConfig(**settings), num_beams=1
    )
    actual = ours.generate(ids, attention_mask=mask, generation_config=GenerationConfig(**settings), num_beams=1)
    assert_same_tokens(expected, actual)
    # transformers' own GenerationConfig is read through its to_dict()
    again = ours.generate(
        ids, attention_mask=mask, generation_config=transformers.GenerationConfig(**settings), num_beams=1
    )
    assert torch.equal(again, actual)


@pytest.mark.parametrize("written_by", ["4.27.0.dev0", "4.57.6"])
def test_checkpoint_generation_defaults(folder, tmp_path, source, written_by):
    """A checkpoint's generation_config.json (facebook/m2m100_418M's sets num_beams=5) fills the
    unset fields of a passed GenerationConfig only when written by transformers >= 4.50; older
    files lend just their token ids."""
    import json
    import shutil

    import transformers

    shutil.copytree(folder, tmp_path / "ckpt")
    path = tmp_path / "ckpt" / "generation_config.json"
    data = json.loads(path.read_text())
    data.update(num_beams=4, early_stopping=True, max_length=30, transformers_version=written_by)
    path.write_text(json.dumps(data))
    hf = transformers.M2M100ForConditionalGeneration.from_pretrained(tmp_path / "ckpt").eval()
    ours = m2m100.M2M100ForConditionalGeneration.from_pretrained(tmp_path / "ckpt")
    ids, mask = source
    for passed in (None, dict(forced_bos_token_id=LANG, length_penalty=0.6)):
        expected = hf.generate(
            ids,
            attention_mask=mask,
            forced_bos_token_id=LANG,
            generation_config=None if passed is None else transformers.GenerationConfig(**passed),
        )
        actual = ours.generate(
            ids,
            attention_mask=mask,
            forced_bos_token_id=LANG,
            generation_config=None if passed is None else GenerationConfig(**passed),
        )
        assert_same_tokens(expected, actual)


# ------------------------------------------------------------------------------------------
# Scores
# ------------------------------------------------------------------------------------------
def assert_scores_close(expected: tuple, actual: tuple) -> None:
    assert len(actual) == len(expected)
    for e, a in zip(expected, actual):
        assert a.shape == e.shape
        assert torch.equal(torch.isinf(a), torch.isinf(e))
        finite = torch.isfinite(e)
        torch.testing.assert_close(a[finite], e[finite], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("early_stopping", [True, False, "never"])
def test_beam_scores(hf, ours, source, early_stopping):
    kwargs = dict(
        num_beams=4,
        num_return_sequences=2,
        max_new_tokens=16,
        forced_bos_token_id=LANG,
        early_stopping=early_stopping,
        return_dict_in_generate=True,
        output_scores=True,
    )
    expected, actual = both(hf, ours, source, **kwargs)
    assert isinstance(actual, m2m100.GenerateBeamEncoderDecoderOutput)
    assert_same_tokens(expected.sequences, actual.sequences)
    torch.testing.assert_close(actual.sequences_scores, expected.sequences_scores, atol=1e-4, rtol=1e-4)
    assert_scores_close(expected.scores, actual.scores)
    assert actual.scores[0].shape == (4 * source[0].shape[0], 160)
    assert torch.equal(actual.beam_indices.long(), expected.beam_indices.long())


def test_greedy_scores_and_logits(hf, ours, source):
    kwargs = dict(
        max_new_tokens=16,
        forced_bos_token_id=LANG,
        repetition_penalty=1.3,
        return_dict_in_generate=True,
        output_scores=True,
        output_logits=True,
    )
    expected, actual = both(hf, ours, source, **kwargs)
    assert isinstance(actual, m2m100.GenerateEncoderDecoderOutput)
    assert_same_tokens(expected.sequences, actual.sequences)
    assert_scores_close(expected.scores, actual.scores)
    assert_scores_close(expected.logits, actual.logits)


# ------------------------------------------------------------------------------------------
# Sampling
# ------------------------------------------------------------------------------------------
def test_sampling_reproducible(ours, source):
    ids, mask = source
    kwargs = dict(attention_mask=mask, do_sample=True, max_new_tokens=16, forced_bos_token_id=LANG)
    first = ours.generate(ids, generator=torch.Generator().manual_seed(3), **kwargs)
    again = ours.generate(ids, generator=torch.Generator().manual_seed(3), **kwargs)
    other = ours.generate(ids, generator=torch.Generator().manual_seed(4), **kwargs)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert torch.equal(ours.generate(ids, seed=7, **kwargs), ours.generate(ids, seed=7, **kwargs))


@pytest.mark.parametrize(
    "setting",
    [dict(), dict(temperature=0.7, top_k=20), dict(top_p=0.8, top_k=0), dict(num_return_sequences=3, temperature=1.3)],
    ids=str,
)
def test_sampling_matches_transformers_with_the_same_seed(hf, ours, source, setting):
    ids, mask = source
    kwargs = dict(attention_mask=mask, do_sample=True, max_new_tokens=16, forced_bos_token_id=LANG, **setting)
    torch.manual_seed(11)
    expected = hf.generate(ids, **kwargs)
    torch.manual_seed(11)
    actual = ours.generate(ids, **kwargs)
    assert_same_tokens(expected, actual)


def test_top_k_1_is_greedy(ours, source):
    ids, mask = source
    greedy = ours.generate(ids, attention_mask=mask, max_new_tokens=16, forced_bos_token_id=LANG)
    sampled = ours.generate(
        ids, attention_mask=mask, max_new_tokens=16, forced_bos_token_id=LANG, do_sample=True, top_k=1, seed=0
    )
    assert torch.equal(greedy, sampled)


def test_sample_frequencies_follow_softmax(ours, source):
    """One step, 40000 draws at temperature 1 without top-k/top-p: a chi-square test against
    softmax(logits). The statistic of a correct sampler is about 1 per degree of freedom; a wrong
    temperature, a leftover top-k or a greedy pick gives hundreds of times more."""
    ids, mask = source
    draws = 40000
    start = LANG  # from this decoder start the next token is spread over the vocabulary
    out = ours.generate(
        ids[:1],
        max_new_tokens=1,
        do_sample=True,
        top_k=0,
        num_return_sequences=draws,
        seed=5,
        decoder_start_token_id=start,
    )
    assert out.shape == (draws, 2)
    with torch.no_grad():
        logits = ours(ids[:1], decoder_input_ids=torch.full((1, 1), start)).logits[0, -1]
    probs = logits.double().softmax(-1)
    counts = torch.bincount(out[:, 1], minlength=probs.numel()).double()
    expected = probs * draws
    big = expected >= 5  # pool the rare tokens so every cell has a usable expectation
    observed = torch.cat([counts[big], counts[~big].sum().view(1)])
    cells = torch.cat([expected[big], expected[~big].sum().view(1)])
    chi2 = float(((observed - cells) ** 2 / cells).sum())
    dof = len(cells) - 1
    assert dof > 20, "the distribution should spread over many tokens"
    assert chi2 < dof + 6 * (2 * dof) ** 0.5, f"chi2 {chi2:.1f} with {dof} degrees of freedom"


# ------------------------------------------------------------------------------------------
# The work done per call
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("num_beams", [1, 4])
def test_encoder_and_cross_projections_run_once(ours, source, num_beams):
    ids, mask = source
    calls: Counter = Counter()
    cross_rows: list[int] = []
    step_shapes: list[tuple[int, int]] = []
    layer = ours.model.decoder.layers[1]

    def count(name):
        return lambda module, args, out: calls.update([name])

    hooks = [
        ours.model.encoder.layer_norm.register_forward_hook(count("encoder")),
        layer.encoder_attn.k_proj.register_forward_hook(count("cross_k")),
        layer.encoder_attn.v_proj.register_forward_hook(count("cross_v")),
        layer.encoder_attn.k_proj.register_forward_hook(lambda module, args, out: cross_rows.append(out.shape[0])),
        layer.self_attn.register_forward_hook(
            lambda module, args, kwargs, out: step_shapes.append(tuple(args[0].shape[:2])), with_kwargs=True
        ),
    ]
    try:
        out = ours.generate(ids, attention_mask=mask, num_beams=num_beams, max_new_tokens=12, forced_bos_token_id=LANG)
    finally:
        for hook in hooks:
            hook.remove()
    assert calls == Counter(encoder=1, cross_k=1, cross_v=1)
    assert cross_rows == [ids.shape[0]], "cross keys/values are computed per input, never per beam"
    assert len(step_shapes) == out.shape[1] - 1 > 1
    assert {length for _, length in step_shapes} == {1}, "each step feeds only the newest token"
    rows = [r for r, _ in step_shapes]
    if num_beams == 1:  # rows that finished stop being computed
        assert rows[0] == ids.shape[0] and rows[-1] < ids.shape[0] and rows == sorted(rows, reverse=True)
    else:  # the beams of an input share one row while they hold the same tokens: the start, then
        # the forced language token; from the first free choice on each beam has its own row
        assert rows[:2] == [ids.shape[0]] * 2 and set(rows[2:]) == {num_beams * ids.shape[0]}


# ------------------------------------------------------------------------------------------
# Bad arguments
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_beams=4, num_return_sequences=5), "num_return_sequences"),
        (dict(num_return_sequences=2), "num_return_sequences"),
        (dict(num_beams=0), "num_beams"),
        (dict(do_sample=True, top_p=0.0), "top_p"),
        (dict(do_sample=True, top_p=1.5), "top_p"),
        (dict(do_sample=True, temperature=0.0), "temperature"),
        (dict(do_sample=True, temperature=-1.0), "temperature"),
        (dict(forced_bos_token_id=160), "forced_bos_token_id"),
        (dict(forced_bos_token_id=-1), "forced_bos_token_id"),
        (dict(forced_bos_token_id=[150, 151]), "forced_bos_token_id"),
        (dict(max_new_tokens=0), "max_new_tokens"),
        (dict(max_length=1), "max_length"),
        (dict(early_stopping="sometimes"), "early_stopping"),
        (dict(bad_words_ids=[[]]), "bad_words_ids"),
        (dict(suppress_tokens=[400]), "suppress_tokens"),
        (dict(num_beam_groups=2), "num_beam_groups"),
        (dict(beam_size=4, temprature=0.5), "beam_size"),
        (dict(attention_mask=torch.ones(6, 8, dtype=torch.long)), "attention_mask"),
    ],
)
def test_bad_arguments(ours, source, kwargs, message):
    ids, mask = source
    kwargs = {"attention_mask": mask, **kwargs}
    encoder_calls: list[int] = []
    hook = ours.model.encoder.layer_norm.register_forward_hook(lambda *_: encoder_calls.append(1))
    try:
        with pytest.raises(ValueError, match=message):
            ours.generate(ids, **kwargs)
    finally:
        hook.remove()
    assert not encoder_calls, "arguments must be checked before the encoder runs"
