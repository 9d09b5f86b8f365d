"""Parity with transformers 4.57's slow M2M100Tokenizer for pairs, truncation strategies, overflow,
token type ids, pre-split words, and the encode_plus / batch_encode_plus / prepare_for_model calls."""

from __future__ import annotations

import itertools
import logging

import pytest
import transformers

from m2m100.tokenizer import M2M100Tokenizer
from tests.tokenizer.compare import HF, assert_same, assert_same_outcome
from tests.tokenizer_fixture import SAMPLE_TEXTS

# First longer, second longer, equal, empty first or second, multilingual and with added tokens.
PAIRS = [
    ("Life is like a box of chocolates.", "La vie"),
    ("Привет", "生活就像一盒巧克力。 人生はチョコレートの箱のようなものです。"),
    ("Hello world", "Hallo Welt"),
    ("", "जीवन एक चॉकलेट बॉक्स की तरह है।"),
    ("Şeful ONU declară că nu există o soluţie militară în Siria", ""),
    ("hello </s> world __fr__", "<unk> مرحبا بالعالم 🎉"),
]
TRUNCATIONS = [None, False, True, "longest_first", "only_first", "only_second", "do_not_truncate"]


@pytest.fixture(autouse=True)
def _quiet() -> None:
    # Truncation errors are logged (not raised) by both libraries, once per call.
    transformers.logging.set_verbosity_error()
    logging.getLogger("m2m100.tokenizer").setLevel(logging.CRITICAL)


@pytest.fixture(scope="module", params=["right", "left"])
def sided(request: pytest.FixtureRequest, folders) -> tuple[M2M100Tokenizer, HF]:
    """The saved layout with model_max_length 12, truncating and padding on one side."""
    kwargs = dict(model_max_length=12, truncation_side=request.param, padding_side=request.param)
    return M2M100Tokenizer.from_pretrained(folders["saved"], **kwargs), HF.from_pretrained(
        str(folders["saved"]), **kwargs
    )


def test_pairs_under_every_truncation_strategy_with_overflow(sided):
    ours, ref = sided
    grid = itertools.product(TRUNCATIONS, [None, 0, 3, 6, 10, 30], [0, 2], [False, True])
    for truncation, max_length, stride, overflow in grid:
        kwargs = dict(
            truncation=truncation,
            max_length=max_length,
            stride=stride,
            return_overflowing_tokens=overflow,
            return_special_tokens_mask=True,
            return_token_type_ids=True,
        )
        for first, second in PAIRS:
            assert_same_outcome(lambda: ours(first, second, **kwargs), lambda: ref(first, second, **kwargs), kwargs)
        # The same pairs as one batch, padded, then as tensors.
        firsts, seconds = [p[0] for p in PAIRS], [p[1] for p in PAIRS]
        for extra in ({"padding": True}, {"padding": "max_length", "return_tensors": "np"}):
            both = {**kwargs, **extra}
            assert_same_outcome(lambda: ours(firsts, seconds, **both), lambda: ref(firsts, seconds, **both), both)


def test_single_texts_overflow_and_stride(sided):
    ours, ref = sided
    texts = SAMPLE_TEXTS[18:24] + ["", "a", "生活就像一盒巧克力。" * 3]
    for truncation, max_length, stride in itertools.product(TRUNCATIONS, [None, 2, 4, 9], [0, 1, 3, 50]):
        kwargs = dict(truncation=truncation, max_length=max_length, stride=stride, return_overflowing_tokens=True)
        for text in texts:
            assert_same_outcome(lambda: ours(text, **kwargs), lambda: ref(text, **kwargs), kwargs)
        for tensors in (None, "pt", "np"):
            both = dict(kwargs, padding=True, return_tensors=tensors, return_length=True)
            assert_same_outcome(lambda: ours(texts, **both), lambda: ref(texts, **both), both)
            one = dict(kwargs, return_tensors=tensors)
            assert_same_outcome(lambda: ours(texts[2], **one), lambda: ref(texts[2], **one), one)


def test_overflow_without_a_length_limit_is_a_type_error(folders):
    # No max_length and no model_max_length: transformers subtracts None; we say what is missing.
    ours, ref = M2M100Tokenizer.from_pretrained(folders["fresh"]), HF.from_pretrained(str(folders["fresh"]))
    for call in (
        lambda t: t("Hello world", return_overflowing_tokens=True),
        lambda t: t.encode_plus("a", "b", return_overflowing_tokens=True, truncation="only_first"),
    ):
        assert_same_outcome(lambda: call(ours), lambda: call(ref))
    with pytest.raises(TypeError, match="max_length"):
        ours("Hello world", return_overflowing_tokens=True)
    with pytest.raises(ValueError, match="longest_first"):
        ours("a b", "c d", max_length=3, truncation=True, return_overflowing_tokens=True)


def test_token_type_ids_and_special_tokens_masks(pair):
    ours, ref = pair
    for (first, second), padding, side in itertools.product(PAIRS, [False, "max_length"], ["left", "right"]):
        kwargs = dict(
            return_token_type_ids=True,
            return_special_tokens_mask=True,
            padding=padding,
            max_length=40,
            padding_side=side,
        )
        assert_same(ours(first, second, **kwargs), ref(first, second, **kwargs), kwargs)
        assert_same(ours(first, **kwargs), ref(first, **kwargs), kwargs)
    firsts, seconds = [p[0] for p in PAIRS], [p[1] for p in PAIRS]
    for tensors in ("pt", "np"):
        kwargs = dict(return_token_type_ids=True, return_special_tokens_mask=True, padding=True, return_tensors=tensors)
        assert_same(ours(firsts, seconds, **kwargs), ref(firsts, seconds, **kwargs), kwargs)
    # Undefined without special tokens: both refuse.
    assert_same_outcome(
        lambda: ours("a", return_token_type_ids=True, add_special_tokens=False),
        lambda: ref("a", return_token_type_ids=True, add_special_tokens=False),
    )
    ids_0, ids_1 = ref.encode("Hello world", add_special_tokens=False), ref.encode("la vie", add_special_tokens=False)
    full = ref.build_inputs_with_special_tokens(ids_0, ids_1)
    assert ours.build_inputs_with_special_tokens(ids_0, ids_1) == full
    assert ours.get_special_tokens_mask(ids_0, ids_1) == ref.get_special_tokens_mask(ids_0, ids_1)
    mask = ref.get_special_tokens_mask(full, already_has_special_tokens=True)
    assert ours.get_special_tokens_mask(full, already_has_special_tokens=True) == mask
    assert_same_outcome(
        lambda: ours.get_special_tokens_mask(full, ids_1, already_has_special_tokens=True),
        lambda: ref.get_special_tokens_mask(full, ids_1, already_has_special_tokens=True),
    )
    assert ours.max_len_sentences_pair == ref.max_len_sentences_pair
    assert ours.pad_token_type_id == ref.pad_token_type_id == 0


def test_pairs_in_every_entry_point(saved_pair):
    ours, ref = saved_pair
    for first, second in PAIRS:
        assert ours.encode(first, second) == ref.encode(first, second)
        assert_same(ours.encode_plus(first, second), ref.encode_plus(first, second))
        assert_same(ours(first, text_pair=second), ref(first, text_pair=second))
        ids_0, ids_1 = ref.encode(first, add_special_tokens=False), ref.encode(second, add_special_tokens=False)
        options = dict(return_token_type_ids=True, return_length=True, truncation="only_second", max_length=9)
        assert_same(ours.prepare_for_model(ids_0, ids_1, **options), ref.prepare_for_model(ids_0, ids_1, **options))
        assert_same(
            ours.prepare_for_model(ids_0, return_tensors="pt", prepend_batch_axis=True),
            ref.prepare_for_model(ids_0, return_tensors="pt", prepend_batch_axis=True),
        )
        tokens_0, tokens_1 = ref.tokenize(first) or ["▁"], ref.tokenize(second) or ["▁"]
        for a, b in ((tokens_0, tokens_1), (ids_0 or [5], ids_1 or [6])):
            assert_same(ours.encode_plus(a, b), ref.encode_plus(a, b), (a, b))
    batch = PAIRS + ["a lone text", ("tokens", "as a pair")]
    for kwargs in ({}, {"padding": True, "return_tensors": "pt"}, {"truncation": "only_first", "max_length": 8}):
        assert_same(ours.batch_encode_plus(batch, **kwargs), ref.batch_encode_plus(batch, **kwargs), kwargs)
    ids_batch = [([5, 6, 7], [8]), ([9], [10, 11])]
    assert_same(ours.batch_encode_plus(ids_batch), ref.batch_encode_plus(ids_batch))
    # With text_target, the pairs of the targets are encoded in the target layout.
    kwargs = dict(text_target=[p[1] for p in PAIRS], text_pair_target=[p[0] for p in PAIRS], padding=True)
    assert_same(ours([p[0] for p in PAIRS], **kwargs), ref([p[0] for p in PAIRS], **kwargs))


def test_split_into_words(saved_pair):
    ours, ref = saved_pair
    words = [text.split() for text in SAMPLE_TEXTS[20:26]] + [["__fr__", "Bonjour</s>"], ["生活", "就像"]]
    for kwargs in ({}, {"padding": True, "return_tensors": "pt"}, {"truncation": True, "max_length": 6}):
        split = dict(kwargs, is_split_into_words=True)
        assert_same(ours(words, **split), ref(words, **split), split)
        assert_same(ours(words[0], **split), ref(words[0], **split), split)
        assert_same(ours(words[0], words[1], **split), ref(words[0], words[1], **split), split)
        assert_same(ours(words[:3], words[3:6], **split), ref(words[:3], words[3:6], **split), split)
        assert_same(ours.encode_plus(words[1], **split), ref.encode_plus(words[1], **split))
        assert ours.encode(words[6], is_split_into_words=True) == ref.encode(words[6], is_split_into_words=True)
        # Without the flag, a batch of word lists is a batch of (text, text_pair) when it has two words.
        two = [w[:2] for w in words if len(w) >= 2]
        assert_same(ours(two, **kwargs), ref(two, **kwargs), kwargs)


def test_split_special_tokens_applies_to_single_texts_not_batches(folders):
    ours, ref = M2M100Tokenizer.from_pretrained(folders["saved"]), HF.from_pretrained(str(folders["saved"]))
    texts = ["hello </s> world", "__fr__ <unk> x"]
    for setting in (False, True):
        for text in (texts, texts[0]):
            kwargs = dict(split_special_tokens=setting)
            assert_same(ours(text, **kwargs), ref(text, **kwargs), (text, kwargs))
            assert_same(ours.batch_encode_plus(texts, **kwargs), ref.batch_encode_plus(texts, **kwargs))
            assert ours.encode(texts[1], **kwargs) == ref.encode(texts[1], **kwargs)
    # The tokenizer's own setting applies everywhere.
    ours.split_special_tokens = ref.split_special_tokens = True
    assert_same(ours(texts), ref(texts))
    assert ours("hello </s>").input_ids != M2M100Tokenizer.from_pretrained(folders["saved"])("hello </s>").input_ids


def test_invalid_inputs_raise_like_transformers(saved_pair):
    ours, ref = saved_pair
    calls = [
        lambda t: t(["a", "b"], "c"),  # a str pair for a batch: TypeError
        lambda t: t(["a", "b"], ["c"]),  # lengths differ
        lambda t: t([1, 2]),
        lambda t: t([[1, 2]]),
        lambda t: t({"a": 1}),
        lambda t: t([]),
        lambda t: t("a", return_offsets_mapping=True),
        lambda t: t(["a"], return_offsets_mapping=True),
        lambda t: t.encode([]),
        lambda t: t.encode((5, 6, 7)),  # a tuple of ids gets a list prepended: TypeError in both
        lambda t: t.encode_plus((5, 6), add_special_tokens=False),
        lambda t: t.encode([1.5]),
        lambda t: t.encode_plus(None),
        lambda t: t.batch_encode_plus([[5, 6, 7]]),  # a list item is a pair: three values do not unpack
        lambda t: t.batch_encode_plus([[5, 6]]),  # two ints: a pair of non-texts
        lambda t: t.batch_encode_plus([("a", "b", "c")]),
        lambda t: t([[]], is_split_into_words=True),
        lambda t: t([], is_split_into_words=True),
        lambda t: t("a", padding="maybe"),
        lambda t: t("a", truncation="middle"),
        lambda t: t("a", "b", truncation="only_first", max_length=3, return_overflowing_tokens=True, stride=1),
        lambda t: t.prepare_for_model([5, 6], [7], return_overflowing_tokens=True, truncation=True, max_length=3),
    ]
    for i, call in enumerate(calls):
        assert_same_outcome(lambda: call(ours), lambda: call(ref), i)


def test_option_and_language_errors_have_transformers_types(folders):
    calls = [
        lambda t: t("a", return_tensors="tf"),  # ImportError there: TensorFlow is not installed
        lambda t: t("a", return_tensors="jax"),
        lambda t: t("a b c", max_length="5"),  # TypeError
        lambda t: t(["a b c", "a"], padding=True, pad_to_multiple_of="8"),
        lambda t: t(["a b c", "a"], padding=True, pad_to_multiple_of=0),  # ZeroDivisionError
        lambda t: setattr(t, "src_lang", "xx"),  # KeyError
        lambda t: t.get_lang_id("xx"),
        lambda t: t.get_lang_token("french"),
        lambda t: (setattr(t, "tgt_lang", "xx"), t("a", text_target="b")),
        lambda t: t("a", text_target="b"),  # no tgt_lang
        lambda t: type(t).from_pretrained(str(folders["saved"]), src_lang="xx"),
        lambda t: type(t).from_pretrained(str(folders["saved"]), language_codes="m2m101"),
        lambda t: (setattr(t, "truncation_side", "middle"), t("a b c d e f", max_length=3)),
        lambda t: (setattr(t, "padding_side", "middle"), t(["a b c", "a"], padding=True)),
    ]
    for i, call in enumerate(calls):
        ours, ref = M2M100Tokenizer.from_pretrained(folders["saved"]), HF.from_pretrained(str(folders["saved"]))
        error = assert_same_outcome(lambda: call(ours), lambda: call(ref), i)
        assert isinstance(error, Exception), i
        # Ours are also ValueErrors, with a message that says what to pass.
        with pytest.raises(ValueError, match="xx|french|m2m101|tgt_lang|must|not supported|side"):
            call(M2M100Tokenizer.from_pretrained(folders["saved"]))
    with pytest.raises(KeyError) as error:
        M2M100Tokenizer.from_pretrained(folders["saved"]).src_lang = "ch"
    assert str(error.value).startswith("Unknown language code 'ch'. Did you mean 'zh'")  # not quoted


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")
def test_deprecated_seq2seq_helpers(folders):
    ours, ref = M2M100Tokenizer.from_pretrained(folders["saved"]), HF.from_pretrained(str(folders["saved"]))
    sources, targets = [p[0] for p in PAIRS], [p[1] for p in PAIRS]
    for kwargs in (
        {},
        {"src_lang": "ru", "tgt_lang": "zh", "max_length": 7, "return_tensors": "pt"},
        {"src_lang": "hi", "tgt_lang": "fr", "max_target_length": 5, "padding": "max_length", "max_length": 9},
    ):
        assert_same(
            ours.prepare_seq2seq_batch(sources, tgt_texts=targets, **kwargs),
            ref.prepare_seq2seq_batch(sources, tgt_texts=targets, **kwargs),
        )
        assert_same(ours.prepare_seq2seq_batch(sources, **kwargs), ref.prepare_seq2seq_batch(sources, **kwargs))
        assert (ours.src_lang, ours.tgt_lang) == (ref.src_lang, ref.tgt_lang)  # they stay set
    with pytest.warns(FutureWarning):
        M2M100Tokenizer.from_pretrained(folders["saved"]).prepare_seq2seq_batch(sources)
    # Inside the block the first call encodes targets; its end switches back to sources (as there).
    ours.tgt_lang = ref.tgt_lang = "de"
    with ours.as_target_tokenizer(), ref.as_target_tokenizer():
        for text in ("Hallo Welt", "Hello world"):
            assert_same(ours(text), ref(text))
        assert ours.encode("x") == ref.encode("x")
    assert_same(ours(sources[:2]), ref(sources[:2]))
    with pytest.warns(UserWarning, match="text_target"), ours.as_target_tokenizer():
        assert ours.encode("x")[0] == ours.get_lang_id("de")
