"""generate()'s transformers call arguments against transformers 4.57, token for token.

A forced decoder prefix (``decoder_input_ids`` / ``decoder_attention_mask``), ``encoder_outputs``,
stopping criteria (``stopping_criteria``, ``max_time``, ``stop_strings``), a ``streamer``, the
per-step tensors of ``return_dict_in_generate`` (attentions, hidden states, the cache) and beam
sampling. The checkpoint is the tiny random one of test_generation.py, whose translations end at
many lengths; parity tests compare token ids (and tensors) on padded batches and check that the
lengths differ between rows, so that none passes on sequences that all run to max_length.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch

import m2m100
from tests.generation.parity import EOS, LANG, PAD, START, assert_same_tokens, strip


def both(hf, ours, *args: Any, seed: int | None = None, **kwargs: Any) -> tuple[Any, Any]:
    """The same call on transformers and on ours; with ``seed``, each from that global seed."""
    if seed is not None:
        torch.manual_seed(seed)
    expected = hf.generate(*args, **kwargs)
    if seed is not None:
        torch.manual_seed(seed)
    return expected, ours.generate(*args, **kwargs)


def encoder_calls(model) -> tuple[list[int], Any]:
    calls: list[int] = []
    encoder = model.model.encoder if hasattr(model, "model") else model.get_encoder()
    return calls, encoder.layer_norm.register_forward_hook(lambda *_: calls.append(1))  # once per encoder run


MODES = {
    "greedy": dict(),
    "beam": dict(num_beams=3, num_return_sequences=2),
    "sample": dict(do_sample=True, num_return_sequences=2, top_k=0),
    "beam_sample": dict(do_sample=True, num_beams=3, num_return_sequences=2),
}


# ------------------------------------------------------------------------------------------
# decoder_input_ids: a forced prefix
# ------------------------------------------------------------------------------------------
def left_padded(rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.tensor([[PAD] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    return ids, mask


# Without the start token in front (transformers puts it there, padding and all), and with it
# (left-padded rows then start with padding, so nothing is put in front).
PREFIXES = {
    "no_start": [[LANG, 20, 21], [LANG, 30], [LANG], [LANG, 40, 41, 42], [LANG, 5, 6], [LANG, 7]],
    "with_start": [[START, LANG, 20, 21], [START, LANG], [START, LANG, 9], [START, LANG, 40, 41], [START], [START, 7]],
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("layout", PREFIXES)
def test_prefix_of_different_lengths(hf, ours, source, mode, layout):
    ids, mask = source
    prefix, prefix_mask = left_padded(PREFIXES[layout])
    kwargs = dict(attention_mask=mask, decoder_input_ids=prefix, decoder_attention_mask=prefix_mask)
    expected, actual = both(hf, ours, ids, **kwargs, max_new_tokens=10, forced_bos_token_id=150, seed=5, **MODES[mode])
    assert_same_tokens(expected, actual)
    # the prefix comes back, after the start token transformers puts in front of it
    prompt = prefix if layout == "with_start" else torch.cat((torch.full((6, 1), START), prefix), dim=1)
    group = actual.shape[0] // ids.shape[0]
    assert torch.equal(actual[:, : prompt.shape[1]], prompt.repeat_interleave(group, dim=0))
    assert actual.shape[1] <= prompt.shape[1] + 10  # max_new_tokens counts after the prefix
    # the forced language token applies at position 1 only: a longer prompt is left alone
    assert not (actual[:, 1] == 150).any()


@pytest.mark.parametrize("mode", ["greedy", "beam"])
def test_prefix_padding_without_mask(hf, ours, source, mode):
    """Unmasked padding is read like any token (transformers gives it the padding position)."""
    ids, mask = source
    prefix, _ = left_padded(PREFIXES["no_start"])
    expected, actual = both(
        hf, ours, ids, attention_mask=mask, decoder_input_ids=prefix, max_new_tokens=10, **MODES[mode]
    )
    assert_same_tokens(expected, actual)
    masked = ours.generate(
        ids,
        attention_mask=mask,
        decoder_input_ids=prefix,
        decoder_attention_mask=(prefix != PAD).long(),
        max_new_tokens=10,
        **MODES[mode],
    )
    assert strip(masked) != strip(actual), "the mask should change what the decoder reads"


def test_prefix_of_the_language_token_equals_forcing_it(ours, source):
    """Greedy search only: beam search normalises by the generated length, which the prefix is not."""
    ids, mask = source
    forced = ours.generate(ids, attention_mask=mask, max_new_tokens=11, forced_bos_token_id=LANG)
    prefixed = ours.generate(ids, attention_mask=mask, max_new_tokens=10, decoder_input_ids=torch.full((6, 1), LANG))
    assert torch.equal(forced, prefixed)


@pytest.mark.parametrize(
    "setting",
    [
        dict(min_new_tokens=6),
        dict(begin_suppress_tokens=[EOS, 12]),
        dict(max_length=9),
        dict(forced_eos_token_id=EOS, max_length=9),
        dict(no_repeat_ngram_size=2, repetition_penalty=1.3),
    ],
    ids=lambda s: "-".join(s),
)
@pytest.mark.parametrize("mode", ["greedy", "beam"])
def test_prefix_with_length_settings(hf, ours, source, setting, mode):
    """Lengths and the rules that depend on them count from the end of the prefix."""
    ids, mask = source
    prefix, prefix_mask = left_padded(PREFIXES["no_start"])
    kwargs = dict(attention_mask=mask, decoder_input_ids=prefix, decoder_attention_mask=prefix_mask)
    if "max_length" not in setting:
        kwargs["max_new_tokens"] = 10
    expected, actual = both(hf, ours, ids, **kwargs, **setting, **MODES[mode])
    assert_same_tokens(expected, actual, varied="max_length" not in setting and "min_new_tokens" not in setting)


def test_begin_suppress_tokens_after_a_prefix(ours, source):
    """The suppression applies at the first generated token, which follows the prefix."""
    ids, mask = source
    prefix = torch.tensor([[START, LANG, 20]] * 6)
    plain = ours.generate(ids, attention_mask=mask, decoder_input_ids=prefix, max_new_tokens=6)
    first = sorted(set(plain[:, 3].tolist()))
    suppressed = ours.generate(
        ids, attention_mask=mask, decoder_input_ids=prefix, max_new_tokens=6, begin_suppress_tokens=first
    )
    assert not set(suppressed[:, 3].tolist()) & set(first)


@pytest.mark.parametrize("num_beams", [1, 3])
def test_prefix_is_prefilled_in_one_call(ours, source, num_beams):
    ids, mask = source
    prefix, prefix_mask = left_padded(PREFIXES["no_start"])
    shapes: list[tuple[int, int]] = []
    hook = ours.model.decoder.layers[0].register_forward_pre_hook(
        lambda module, args: shapes.append(tuple(args[0].shape[:2]))
    )
    try:
        out = ours.generate(
            ids,
            attention_mask=mask,
            decoder_input_ids=prefix,
            decoder_attention_mask=prefix_mask,
            max_new_tokens=8,
            num_beams=num_beams,
        )
    finally:
        hook.remove()
    prompt = prefix.shape[1] + 1
    rows = ids.shape[0]  # beams share one row per input while they hold the same tokens
    assert shapes[0] == (rows, prompt)
    assert {length for _, length in shapes[1:]} == {1}
    assert len(shapes) == out.shape[1] - prompt


# ------------------------------------------------------------------------------------------
# encoder_outputs
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_encoder_outputs(hf, ours, source, mode):
    ids, mask = source
    settings = dict(attention_mask=mask, max_new_tokens=12, forced_bos_token_id=LANG, **MODES[mode])
    # encoded before seeding: transformers' encoder draws a LayerDrop number per layer
    hf_encoded, ours_encoded = hf.get_encoder()(ids, attention_mask=mask), ours.get_encoder()(ids, attention_mask=mask)
    torch.manual_seed(2)
    expected = hf.generate(encoder_outputs=hf_encoded, **settings)
    hf_encoded = hf.get_encoder()(ids, attention_mask=mask)  # transformers expanded the last one in place
    calls, hook = encoder_calls(ours)
    try:
        results = []
        for given in (ours_encoded, hf_encoded, (ours_encoded.last_hidden_state,)):
            torch.manual_seed(2)
            results.append(ours.generate(encoder_outputs=given, **settings))
    finally:
        hook.remove()
    assert not calls, "the encoder must not run when its output is given"
    for actual in results:
        assert_same_tokens(expected, actual)
    # with input_ids too (transformers reads them only for its logits processors)
    torch.manual_seed(2)
    again = ours.generate(ids, encoder_outputs=ours_encoded, **settings)
    assert torch.equal(again, results[0])


def test_encoder_outputs_without_mask_read_every_position(hf, ours, source):
    ids, mask = source
    kwargs = dict(max_new_tokens=12, forced_bos_token_id=LANG)
    expected = hf.generate(encoder_outputs=hf.get_encoder()(ids, attention_mask=mask), **kwargs)
    actual = ours.generate(encoder_outputs=ours.get_encoder()(ids, attention_mask=mask), **kwargs)
    assert_same_tokens(expected, actual)
    masked = ours.generate(encoder_outputs=ours.get_encoder()(ids, attention_mask=mask), attention_mask=mask, **kwargs)
    assert strip(masked) != strip(actual)


# ------------------------------------------------------------------------------------------
# Stopping criteria
# ------------------------------------------------------------------------------------------
class Recorder:
    """A criterion that stops a row when its newest token is one of ``stop_at`` and writes down
    what it was shown at each call: the ids and how many per-step scores came with them."""

    def __init__(self, stop_at: set[int]) -> None:
        self.stop_at = torch.tensor(sorted(stop_at))
        self.calls: list[tuple[list[list[int]], int | None]] = []

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        self.calls.append((input_ids.tolist(), None if scores is None else len(scores)))
        return torch.isin(input_ids[:, -1], self.stop_at)


def frequent_tokens(ours, source, **kwargs: Any) -> set[int]:
    """Two tokens that plain generation uses, to stop on."""
    ids, mask = source
    plain = strip(ours.generate(ids, attention_mask=mask, max_new_tokens=12, forced_bos_token_id=LANG, **kwargs))
    counts = Counter(t for row in plain for t in row[2:] if t != EOS)
    return {token for token, _ in counts.most_common(2)}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("returned", [False, True])
def test_stopping_criteria_see_what_transformers_shows(hf, ours, source, mode, returned):
    """A caller's criterion gets the same ids at the same steps (beam search: the candidates),
    with the per-step scores when they are returned, and stops the same rows."""
    import transformers

    ids, mask = source
    stop_at = frequent_tokens(ours, source)
    recorders = []
    results = []
    for model in (hf, ours):
        recorder = Recorder(stop_at)
        criteria = transformers.StoppingCriteriaList([recorder])
        torch.manual_seed(4)
        out = model.generate(
            ids,
            attention_mask=mask,
            max_new_tokens=12,
            forced_bos_token_id=LANG,
            stopping_criteria=criteria,
            return_dict_in_generate=returned,
            output_scores=returned,
            **MODES[mode],
        )
        recorders.append(recorder)
        results.append(out.sequences if returned else out)
    expected, actual = results
    assert_same_tokens(expected, actual)
    assert recorders[1].calls == recorders[0].calls
    assert all((n is not None) == returned for _, n in recorders[1].calls)
    plain = ours.generate(ids, attention_mask=mask, max_new_tokens=12, forced_bos_token_id=LANG, seed=1)
    assert strip(plain) != strip(actual), "the criterion should stop some rows early"


@pytest.mark.parametrize("mode", ["greedy", "beam"])
def test_plain_callables_as_criteria(hf, ours, source, mode):
    import transformers

    ids, mask = source
    stop_at = torch.tensor(sorted(frequent_tokens(ours, source)))

    class PerRow(transformers.StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return torch.isin(input_ids[:, -1], stop_at)

    def per_row(input_ids, scores):
        return torch.isin(input_ids[:, -1], stop_at)

    def all_rows(input_ids, scores):  # one bool for every row
        return input_ids.shape[1] >= 7

    settings = dict(attention_mask=mask, max_new_tokens=12, forced_bos_token_id=LANG, **MODES[mode])
    expected = hf.generate(ids, stopping_criteria=transformers.StoppingCriteriaList([PerRow()]), **settings)
    assert_same_tokens(expected, ours.generate(ids, stopping_criteria=[per_row], **settings))
    assert_same_tokens(expected, ours.generate(ids, stopping_criteria=per_row, **settings))
    expected = hf.generate(ids, stopping_criteria=transformers.StoppingCriteriaList([all_rows]), **settings)
    actual = ours.generate(ids, stopping_criteria=[all_rows], **settings)
    assert_same_tokens(expected, actual)
    assert actual.shape[1] <= 7


@pytest.mark.parametrize("mode", ["greedy", "beam", "sample"])
def test_criteria_of_generate_own_classes_replace_its_own(hf, ours, source, mode):
    """As in transformers, an EosTokenCriteria or MaxLengthCriteria of the caller replaces the
    one generate makes from its settings (here: stop at token 7 instead of EOS, or earlier)."""
    import transformers

    ids, mask = source
    settings = dict(attention_mask=mask, max_new_tokens=12, forced_bos_token_id=LANG, seed=3, **MODES[mode])
    stop_at = frequent_tokens(ours, source)
    criteria = transformers.StoppingCriteriaList([transformers.EosTokenCriteria(eos_token_id=sorted(stop_at))])
    expected, actual = both(hf, ours, ids, stopping_criteria=criteria, **settings)
    assert_same_tokens(expected, actual, varied=mode != "beam")  # beams that repeat EOS run to the end
    assert any(EOS in row[2:-1] for row in strip(actual)), "EOS no longer ends a row"
    criteria = transformers.StoppingCriteriaList([transformers.MaxLengthCriteria(max_length=8)])
    expected, actual = both(hf, ours, ids, stopping_criteria=criteria, **settings)
    assert_same_tokens(expected, actual)
    assert actual.shape[1] == 8


def test_longer_max_length_criteria_lengthens_greedy_search(hf, ours, source):
    import transformers

    ids, mask = source
    criteria = transformers.StoppingCriteriaList([transformers.MaxLengthCriteria(max_length=18)])
    settings = dict(attention_mask=mask, max_new_tokens=6, forced_bos_token_id=LANG, stopping_criteria=criteria)
    expected, actual = both(hf, ours, ids, **settings)
    assert_same_tokens(expected, actual)
    assert actual.shape[1] > 7
    with pytest.raises(ValueError, match="MaxLengthCriteria"):
        ours.generate(ids, num_beams=2, **settings)


@pytest.mark.parametrize("mode", MODES)
def test_max_time(hf, ours, source, mode):
    import transformers

    ids, mask = source
    settings = dict(attention_mask=mask, max_new_tokens=12, forced_bos_token_id=LANG, seed=6, **MODES[mode])
    expected, actual = both(hf, ours, ids, max_time=0.0, **settings)  # time is up after the first step
    assert_same_tokens(expected, actual, varied=False)
    assert actual.shape[1] == 2
    expected, actual = both(hf, ours, ids, max_time=600.0, **settings)
    assert_same_tokens(expected, actual)
    # the caller's MaxTimeCriteria takes the place of the one max_time makes
    late = transformers.StoppingCriteriaList([transformers.MaxTimeCriteria(max_time=600.0)])
    expected, actual = both(hf, ours, ids, max_time=0.0, stopping_criteria=late, **settings)
    assert_same_tokens(expected, actual)
    assert actual.shape[1] > 2


def test_max_time_from_a_generation_config(hf, ours, source):
    import transformers

    ids, mask = source
    config = transformers.GenerationConfig(max_time=0.0, max_new_tokens=12, forced_bos_token_id=LANG)
    expected, actual = both(hf, ours, ids, attention_mask=mask, generation_config=config)
    assert_same_tokens(expected, actual, varied=False)
    assert actual.shape[1] == 2


# ------------------------------------------------------------------------------------------
# Streamers
# ------------------------------------------------------------------------------------------
class Tape:
    """A streamer that writes down every call."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def put(self, value: torch.Tensor) -> None:
        assert value.device.type == "cpu"
        self.calls.append(("put", tuple(value.shape), value.tolist()))

    def end(self) -> None:
        self.calls.append(("end",))


@pytest.mark.parametrize(
    "setting",
    [dict(), dict(do_sample=True, num_return_sequences=2), dict(prefix=True)],
    ids=["greedy", "sample", "prefix"],
)
def test_streamer_is_called_as_transformers_calls_it(hf, ours, source, setting):
    """The prompt first, (rows, P); then each step's (rows,) new tokens, padding for finished
    rows; then end()."""
    ids, mask = source
    setting = dict(setting)
    if setting.pop("prefix", False):
        setting["decoder_input_ids"], setting["decoder_attention_mask"] = left_padded(PREFIXES["no_start"])
    tapes = Tape(), Tape()
    outputs = []
    for model, tape in zip((hf, ours), tapes):
        torch.manual_seed(8)
        outputs.append(
            model.generate(
                ids, attention_mask=mask, max_new_tokens=10, forced_bos_token_id=LANG, streamer=tape, **setting
            )
        )
    expected, actual = outputs
    assert_same_tokens(expected, actual)
    assert tapes[1].calls == tapes[0].calls
    assert tapes[1].calls[-1] == ("end",)
    assert len(tapes[1].calls) == actual.shape[1] - tapes[1].calls[0][1][1] + 2


def test_streamer_is_refused_with_beams(ours, source):
    ids, mask = source
    calls, hook = encoder_calls(ours)
    try:
        for setting in (dict(num_beams=2), dict(num_beams=2, do_sample=True)):
            with pytest.raises(ValueError, match="streamer"):
                ours.generate(ids, attention_mask=mask, streamer=Tape(), **setting)
    finally:
        hook.remove()
    assert not calls


# ------------------------------------------------------------------------------------------
# return_dict_in_generate: attentions, hidden states, the cache
# ------------------------------------------------------------------------------------------
def assert_tensors_close(expected: Any, actual: Any, where: str = "") -> None:
    """Equal nesting of tuples, equal shapes, values within 1e-4."""
    if isinstance(expected, torch.Tensor):
        assert isinstance(actual, torch.Tensor), where
        assert actual.shape == expected.shape, f"{where}: {tuple(actual.shape)} != {tuple(expected.shape)}"
        torch.testing.assert_close(actual, expected, atol=1e-4, rtol=1e-4, msg=lambda m: f"{where}: {m}")
        return
    assert isinstance(expected, tuple) and isinstance(actual, tuple), f"{where}: {type(expected)} / {type(actual)}"
    assert len(actual) == len(expected), f"{where}: {len(actual)} != {len(expected)}"
    for i, (e, a) in enumerate(zip(expected, actual)):
        assert_tensors_close(e, a, f"{where}[{i}]")


INSPECTED = (
    "encoder_attentions",
    "encoder_hidden_states",
    "decoder_attentions",
    "cross_attentions",
    "decoder_hidden_states",
)


@pytest.mark.parametrize("mode", [*MODES, "greedy_prefix", "beam_prefix"])
def test_attentions_hidden_states_and_cache(hf_eager, ours, source, mode):
    ids, mask = source
    setting = dict(MODES[mode.removesuffix("_prefix")])
    if mode.endswith("_prefix"):
        setting["decoder_input_ids"], setting["decoder_attention_mask"] = left_padded(PREFIXES["with_start"])
    kwargs = dict(
        attention_mask=mask,
        max_new_tokens=10,
        forced_bos_token_id=LANG,
        return_dict_in_generate=True,
        output_attentions=True,
        output_hidden_states=True,
        output_scores=True,
        seed=9,
        **setting,
    )
    expected, actual = both(hf_eager, ours, ids, **kwargs)
    assert type(actual).__name__ == type(expected).__name__
    assert_same_tokens(expected.sequences, actual.sequences)
    for name in INSPECTED:
        assert_tensors_close(getattr(expected, name), getattr(actual, name), name)
    rows = ids.shape[0] * max(setting.get("num_beams", 1), setting.get("num_return_sequences", 1))
    steps = expected.decoder_attentions
    assert len(steps) == len(expected.scores) > 1
    assert steps[0][0].shape[0] == rows and steps[0][0].shape[2] == steps[0][0].shape[3] > 0  # the prompt
    assert steps[-1][0].shape[2] == 1  # then one token a step, every row (finished ones too)
    cache, reference = actual.past_key_values, expected.past_key_values
    assert_tensors_close(reference.to_legacy_cache(), cache.to_legacy_cache(), "cache")
    # what transformers' EncoderDecoderCache also answers: per-layer tuples, length, positions
    assert len(cache) == len(reference) == ours.config.decoder_layers
    assert_tensors_close(tuple(reference[i] for i in range(len(reference))), tuple(cache), "cache layers")
    assert cache.get_seq_length() == reference.get_seq_length() > 1
    if "num_beams" in setting:
        assert torch.equal(actual.beam_indices.long(), expected.beam_indices.long())
        torch.testing.assert_close(actual.sequences_scores, expected.sequences_scores, atol=1e-4, rtol=1e-4)


def test_inspection_only_when_asked(hf, ours, source):
    ids, mask = source
    kwargs = dict(attention_mask=mask, max_new_tokens=8, forced_bos_token_id=LANG, return_dict_in_generate=True)
    expected, actual = both(hf, ours, ids, **kwargs)
    assert_same_tokens(expected.sequences, actual.sequences)
    for name in INSPECTED:
        assert getattr(actual, name) is None
    assert_tensors_close(expected.past_key_values.to_legacy_cache(), actual.past_key_values.to_legacy_cache(), "cache")
    hidden_only = ours.generate(ids, output_hidden_states=True, **kwargs)
    assert hidden_only.decoder_attentions is None and hidden_only.encoder_attentions is None
    assert len(hidden_only.decoder_hidden_states[0]) == ours.config.decoder_layers + 1
    # without return_dict_in_generate the flags change nothing, and the stacks are not probed
    plain = ours.generate(ids, attention_mask=mask, max_new_tokens=8, forced_bos_token_id=LANG)
    calls: list[Any] = []
    layer = ours.model.decoder.layers[0]
    hook = layer.register_forward_pre_hook(lambda m, a, k: calls.append(k.get("probe")), with_kwargs=True)
    try:
        flagged = ours.generate(
            ids, attention_mask=mask, max_new_tokens=8, forced_bos_token_id=LANG, output_attentions=True
        )
    finally:
        hook.remove()
    assert torch.equal(plain, flagged)
    assert calls and all(probe is None for probe in calls)


def test_output_flags_from_a_generation_config(hf_eager, ours, source):
    import transformers

    ids, mask = source
    config = transformers.GenerationConfig(
        max_new_tokens=6, forced_bos_token_id=LANG, return_dict_in_generate=True, output_attentions=True
    )
    expected, actual = both(hf_eager, ours, ids, attention_mask=mask, generation_config=config)
    assert_tensors_close(expected.cross_attentions, actual.cross_attentions, "cross_attentions")
    assert actual.decoder_hidden_states is None


# ------------------------------------------------------------------------------------------
# Beam sampling
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "setting",
    [
        dict(),
        dict(temperature=0.7, top_k=5),
        dict(top_p=0.3),
        dict(top_k=1),
        dict(num_return_sequences=3, early_stopping=True, length_penalty=0.6),
        dict(forced_bos_token_id=None, decoder_start_token_id=157),
    ],
    ids=str,
)
@pytest.mark.parametrize("seed", [0, 1])
def test_beam_sampling_matches_transformers_with_the_same_seed(hf, ours, source, setting, seed):
    ids, mask = source
    kwargs = dict(
        attention_mask=mask, do_sample=True, num_beams=3, max_new_tokens=12, forced_bos_token_id=LANG, seed=seed
    )
    expected, actual = both(hf, ours, ids, **{**kwargs, **setting})
    assert_same_tokens(expected, actual)


def test_beam_sampling_draws(ours, source):
    ids, mask = source
    kwargs = dict(attention_mask=mask, num_beams=3, max_new_tokens=12, forced_bos_token_id=LANG)
    first = ours.generate(ids, do_sample=True, seed=3, **kwargs)
    assert torch.equal(first, ours.generate(ids, do_sample=True, generator=torch.Generator().manual_seed(3), **kwargs))
    assert not torch.equal(first, ours.generate(ids, do_sample=True, seed=4, **kwargs))
    assert not torch.equal(first, ours.generate(ids, **kwargs))
    with pytest.raises(ValueError, match="num_return_sequences"):
        ours.generate(ids, do_sample=True, num_return_sequences=4, **kwargs)


# ------------------------------------------------------------------------------------------
# Stop strings and text streamers: a checkpoint with its tokenizer
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def with_tokenizer(translation_folder: Path) -> dict[str, Any]:
    """transformers' and our model and tokenizer of the tiny translation checkpoint, and a
    padded batch of English sources. Its outputs repeat pieces such as "$" and "▁عل"."""
    import transformers

    from tests.tokenizer_fixture import SAMPLE_TEXTS

    transformers.logging.set_verbosity_error()
    hf_tokenizer = transformers.M2M100Tokenizer.from_pretrained(str(translation_folder), src_lang="en")
    texts = [t for t in SAMPLE_TEXTS[:40] if t.strip() and "\n" not in t][:6]
    batch = hf_tokenizer(texts, return_tensors="pt", padding=True)
    return dict(
        hf=transformers.M2M100ForConditionalGeneration.from_pretrained(translation_folder).eval(),
        ours=m2m100.M2M100ForConditionalGeneration.from_pretrained(translation_folder),
        hf_tokenizer=hf_tokenizer,
        tokenizer=m2m100.M2M100Tokenizer.from_pretrained(translation_folder, src_lang="en"),
        ids=batch["input_ids"],
        mask=batch["attention_mask"],
        lang=hf_tokenizer.get_lang_id("fr"),
    )


def spanning_string(tokenizer: Any, sequences: torch.Tensor) -> str:
    """Three characters of generated text that span two tokens: the last two of one and the
    first of the next, from the first row where there are such."""
    for row in strip(sequences):
        generated = [t for t in row[2:] if t != EOS]
        for j in range(1, len(generated) - 1):
            before, after = tokenizer.decode(generated[:j]), tokenizer.decode(generated[: j + 1])
            if len(before) >= 2 and after.startswith(before) and len(after) > len(before):
                return after[len(before) - 2 : len(before) + 1]
    raise AssertionError("no two generated tokens to span")


def inner_string(tokenizer: Any, sequences: torch.Tensor) -> str:
    """A character from inside one generated token's text (the string ends before the token
    does), from the first token of three or more characters whose first character differs."""
    for row in strip(sequences):
        for token in row[2:]:
            text = tokenizer.decode([token], skip_special_tokens=True)
            if len(text) >= 3 and text[0] != text[1]:
                return text[1]
    raise AssertionError("no generated token of three characters")


@pytest.mark.parametrize("mode", ["greedy", "beam", "sample"])
@pytest.mark.parametrize(
    "stop_strings",
    ["spanning", "inner", ["$$$", "ل ع"], "כמו כ", ["ل عل عل ع"], ["عل$"]],
    ids=["spanning", "inner", "two", "one", "long", "never"],
)
def test_stop_strings(with_tokenizer, mode, stop_strings):
    """A stop string that ends inside the newest token stops the row, one that spans tokens
    included, as transformers' StopStringCriteria decides with the same tokenizer.

    transformers 4.57 cannot run ``stop_strings=..., tokenizer=...`` on M2M100 itself (it hands
    ``tokenizer`` on to the model's forward, which refuses it), so its reference is the criterion
    that those arguments make, passed as a stopping criterion.
    """
    import transformers

    w = with_tokenizer
    settings = dict(attention_mask=w["mask"], max_new_tokens=12, forced_bos_token_id=w["lang"], **MODES[mode])
    torch.manual_seed(2)
    plain = w["ours"].generate(w["ids"], **settings)
    chosen = stop_strings in ("spanning", "inner")  # from this mode's own output
    if stop_strings == "spanning":
        stop_strings = [spanning_string(w["hf_tokenizer"], plain)]
    elif stop_strings == "inner":
        stop_strings = inner_string(w["hf_tokenizer"], plain)
    reference = transformers.StopStringCriteria(tokenizer=w["hf_tokenizer"], stop_strings=stop_strings)
    criteria = transformers.StoppingCriteriaList([reference])
    expected, actual = both(w["hf"], w["ours"], w["ids"], stopping_criteria=criteria, seed=2, **settings)
    assert_same_tokens(expected, actual, varied=False)
    for tokenizer in (w["tokenizer"], w["hf_tokenizer"]):
        torch.manual_seed(2)
        with_strings = w["ours"].generate(w["ids"], stop_strings=stop_strings, tokenizer=tokenizer, **settings)
        assert torch.equal(with_strings, expected)
    if stop_strings == ["عل$"]:
        assert strip(actual) == strip(plain)
    elif chosen or mode == "greedy":  # the fixed strings come from greedy outputs
        assert strip(actual) != strip(plain), "the stop strings should end some rows early"


def test_stop_strings_need_the_tokenizer(ours, source):
    ids, mask = source
    calls, hook = encoder_calls(ours)
    try:
        with pytest.raises(ValueError, match="tokenizer"):
            ours.generate(ids, attention_mask=mask, stop_strings=["ab"])
        with pytest.raises(ValueError, match="stop_strings"):
            ours.generate(ids, attention_mask=mask, stop_strings=[""], tokenizer=object())
    finally:
        hook.remove()
    assert not calls


@pytest.mark.parametrize("row", [0, 1])
def test_text_iterator_streamer(with_tokenizer, row):
    """transformers' TextIteratorStreamer, with our model and tokenizer, yields the same pieces
    of text as with transformers'."""
    import transformers

    w = with_tokenizer
    chunks = []
    for model, tokenizer in ((w["hf"], w["hf_tokenizer"]), (w["ours"], w["tokenizer"])):
        streamer = transformers.TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        model.generate(w["ids"][row : row + 1], max_new_tokens=10, forced_bos_token_id=w["lang"], streamer=streamer)
        chunks.append(list(streamer))  # generate has ended: the queue holds everything
    assert chunks[1] == chunks[0]
    assert "".join(chunks[1]).strip()


# ------------------------------------------------------------------------------------------
# Bad arguments: refused before the encoder runs
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(decoder_input_ids=torch.full((5, 2), LANG)), "decoder_input_ids has 5 rows"),
        (dict(decoder_input_ids=torch.full((6, 2), 160)), "outside the vocabulary"),
        (dict(decoder_input_ids=torch.zeros(6, 0, dtype=torch.long)), "decoder_input_ids"),
        (dict(decoder_input_ids=torch.full((6, 12), LANG), max_length=12), "max_length"),
        (dict(decoder_attention_mask=torch.ones(6, 2)), "decoder_attention_mask"),
        (dict(decoder_input_ids=torch.full((6, 2), LANG), decoder_attention_mask=torch.ones(6, 3)), "shape"),
        (dict(encoder_outputs="hidden"), "encoder_outputs"),
        (dict(encoder_outputs=(torch.zeros(6, 9),)), "last_hidden_state"),
        (dict(encoder_outputs=(torch.zeros(5, 9, 32),)), "encoder_outputs has 5"),
        (dict(stopping_criteria=[42]), "stopping_criteria"),
        (dict(max_time="soon"), "max_time"),
        (dict(output_attentions="yes", return_dict_in_generate=True), "output_attentions"),
        (dict(streamer=object()), "put"),
        (dict(num_beams=2, do_sample=True, num_return_sequences=3), "num_return_sequences"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_arguments_are_refused_first(ours, source, kwargs, message):
    ids, mask = source
    calls, hook = encoder_calls(ours)
    try:
        with pytest.raises(ValueError, match=message):
            ours.generate(ids, attention_mask=mask, **kwargs)
    finally:
        hook.remove()
    assert not calls, "arguments must be checked before the encoder runs"
