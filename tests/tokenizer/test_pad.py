"""Parity of ``pad()`` with transformers 4.57's slow M2M100Tokenizer, alone and inside
``DataCollatorForSeq2Seq``: lists of dicts, dicts of lists, tensors, labels left alone."""

from __future__ import annotations

import copy
import itertools
import random

import numpy as np
import pytest
import torch
import transformers

from m2m100.tokenizer import M2M100Tokenizer
from tests.tokenizer.compare import HF, assert_same, assert_same_outcome
from tests.tokenizer_fixture import SAMPLE_TEXTS

SOURCES = ["Hello world", "", "Life is like a box of chocolates.", "生活就像一盒巧克力。", "Привет, мир! 🎉"]
TARGETS = ["Hallo Welt", "La vie est comme une boîte de chocolat.", "", "जीवन", "مرحبا بالعالم"]


@pytest.fixture(autouse=True)
def _quiet() -> None:
    transformers.logging.set_verbosity_error()


@pytest.fixture(scope="module")
def tokenizers(folders) -> tuple[M2M100Tokenizer, HF]:
    kwargs = dict(src_lang="en", tgt_lang="fr", model_max_length=24)
    return M2M100Tokenizer.from_pretrained(folders["saved"], **kwargs), HF.from_pretrained(
        str(folders["saved"]), **kwargs
    )


def _rows(ref: HF, **options) -> list[dict]:
    """Dataset rows as a preprocessing map would leave them: unpadded lists, with labels."""
    enc = ref(SOURCES, text_target=TARGETS, **options)
    rows = [{key: enc[key][i] for key in enc} for i in range(len(SOURCES))]
    for i, row in enumerate(rows):
        row["idx"] = i  # scalar columns that pad() carries through (tensors keep their dtype)
        row["score"] = i / 2
    return rows


def _both(call, ours, ref, inputs, where):
    """pad() on deep copies of the same inputs (transformers modifies them in place)."""
    return assert_same_outcome(
        lambda: call(ours, copy.deepcopy(inputs)), lambda: call(ref, copy.deepcopy(inputs)), where
    )


def test_pad_lists_of_dicts_and_dicts_of_lists(tokenizers):
    ours, ref = tokenizers
    plain = _rows(ref)
    rich = _rows(ref, return_special_tokens_mask=True, return_token_type_ids=True, return_attention_mask=False)
    without_labels = [{k: v for k, v in row.items() if k not in ("labels", "idx")} for row in plain]
    grid = itertools.product(
        [True, "longest", "max_length", False, "do_not_pad"],
        [None, 7, 30],
        [None, 8],
        [None, "left", "right"],
        [None, True, False],
        [None, "pt", "np"],
    )
    for padding, max_length, multiple, side, mask, tensors in grid:
        kwargs = dict(
            padding=padding,
            max_length=max_length,
            pad_to_multiple_of=multiple,
            padding_side=side,
            return_attention_mask=mask,
            return_tensors=tensors,
        )
        for name, inputs in (("plain", plain), ("rich", rich), ("no labels", without_labels)):
            # Labels of different lengths cannot become one tensor: both raise for "pt".
            _both(lambda t, x: t.pad(x, **kwargs), ours, ref, inputs, (name, kwargs))
            columns = {key: [row[key] for row in inputs] for key in inputs[0]}
            _both(lambda t, x: t.pad(x, **kwargs), ours, ref, columns, (name, "columns", kwargs))
            _both(lambda t, x: t.pad(x, **kwargs), ours, ref, inputs[2], (name, "one", kwargs))


def test_pad_reads_tensors_and_arrays_and_keeps_their_kind(tokenizers):
    ours, ref = tokenizers
    rows = [{k: v for k, v in row.items() if k != "labels"} for row in _rows(ref)]
    for kind in (torch.tensor, np.asarray):
        as_kind = [{k: kind(v) for k, v in row.items()} for row in rows]
        for tensors in (None, "pt", "np"):
            for padding in (True, "max_length"):
                kwargs = dict(padding=padding, return_tensors=tensors)
                _both(lambda t, x: t.pad(x, **kwargs), ours, ref, as_kind, (kind, kwargs))
                _both(lambda t, x: t.pad(x, **kwargs), ours, ref, as_kind[0], (kind, "one", kwargs))
    batch = ref(SOURCES, padding=True, return_tensors="pt")
    _both(lambda t, x: t.pad(x, padding="max_length", max_length=32), ours, ref, dict(batch), "batch")
    # Each row of a 2-D tensor is a sequence.
    _both(lambda t, x: t.pad(x, pad_to_multiple_of=16), ours, ref, {"input_ids": batch["input_ids"]}, "2-D")


def test_pad_does_not_modify_its_input(tokenizers):
    ours, ref = tokenizers
    rows = _rows(ref)
    before = copy.deepcopy(rows)
    padded = ours.pad(rows, padding="max_length", max_length=30)
    assert rows == before and padded["labels"] == [row["labels"] for row in before]


def test_pad_edge_cases_and_errors(tokenizers, folders):
    ours, ref = tokenizers
    cases = [
        [],  # nothing to pad: IndexError in transformers
        [[1, 2], [3]],  # lists, not encodings: AttributeError
        {"input_ids": []},  # empty: returned as it is
        {"input_ids": [[], []]},
        {"input_ids": [[5], []], "attention_mask": [[1], []]},
        {"attention_mask": [1, 1]},  # no input_ids
        {"input_ids": [[1, 2], [3]], "labels": [[1]]},  # batch sizes differ: AssertionError
        {"input_ids": ["a", "b"]},  # not ids
        {"input_ids": [1.5, 2.5]},
        {"input_ids": np.array([5, 6])},  # numpy ints (not arrays, not ints): ValueError
        "input_ids",  # neither a dict nor a list: TypeError
        5,
    ]
    for i, inputs in enumerate(cases):
        for kwargs in ({}, {"return_attention_mask": True}, {"padding": "max_length", "max_length": 4}):
            _both(lambda t, x: t.pad(x, **kwargs), ours, ref, inputs, (i, kwargs))
    for bad in ({"padding": "maybe"}, {"padding_side": "middle"}, {"return_tensors": "tf2"}):
        with pytest.raises(ValueError):
            ours.pad({"input_ids": [[1, 2], [3]]}, **bad)
    # Without a pad token, padding is refused; "do_not_pad" still adds the attention mask.
    kwargs = dict(pad_token=None)
    no_pad = (
        M2M100Tokenizer.from_pretrained(folders["saved"], **kwargs),
        HF.from_pretrained(str(folders["saved"]), **kwargs),
    )
    for padding in (True, False):
        _both(lambda t, x: t.pad(x, padding=padding), *no_pad, {"input_ids": [[1, 2], [3]]}, padding)
        _both(lambda t, x: t(x, padding=padding), *no_pad, SOURCES, padding)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"padding": "max_length", "max_length": 30},
        {"padding": "longest", "pad_to_multiple_of": 8, "label_pad_token_id": 1},
        {"padding": False},
        {"padding": False, "return_tensors": "np"},
        {"return_tensors": "np", "pad_to_multiple_of": 4},
    ],
)
@pytest.mark.parametrize("side", ["right", "left"])
def test_data_collator_for_seq2seq(tokenizers, options, side):
    ours, ref = tokenizers
    ours.padding_side = ref.padding_side = side
    try:
        rng = random.Random(0)
        texts = [t for t in SAMPLE_TEXTS if t.strip() and len(t) < 200]
        pairs = [(rng.choice(texts), rng.choice(texts)) for _ in range(9)]
        features = [ref(src, text_target=tgt, truncation=True) for src, tgt in pairs]
        for tok in (ours, ref):
            assert_same(tok(pairs[0][0], text_target=pairs[0][1], truncation=True), features[0])
        rows = [dict(f) for f in features]
        # Unpadded rows of different lengths cannot become tensors: both collators raise then.
        assert_same_outcome(
            lambda: transformers.DataCollatorForSeq2Seq(ours, **options)(copy.deepcopy(rows)),
            lambda: transformers.DataCollatorForSeq2Seq(ref, **options)(copy.deepcopy(rows)),
            options,
        )
        lists = [{k: v for k, v in row.items() if k != "labels"} for row in rows]  # the collator's own pad call
        kwargs = {k: v for k, v in options.items() if k != "label_pad_token_id"}
        _both(lambda t, x: t.pad(x, **kwargs), ours, ref, lists, options)
    finally:
        ours.padding_side = ref.padding_side = "right"
