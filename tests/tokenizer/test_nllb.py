"""Parity of m2m100's NllbTokenizer with transformers 4.57's slow NllbTokenizer on the same folders:
the original hub layout, what transformers saves, both ``legacy_behaviour`` settings, and a bare
sentencepiece model."""

from __future__ import annotations

import itertools
import random
import warnings

import pytest
import transformers

from m2m100.tokenizer import NllbTokenizer
from tests.nllb_fixture import NLLB_TEXTS
from tests.tokenizer.compare import assert_same, assert_same_outcome
from tests.tokenizer_fixture import SAMPLE_TEXTS

TEXTS = SAMPLE_TEXTS + NLLB_TEXTS
CODES = ["eng_Latn", "fra_Latn", "zho_Hant", "ace_Arab", "zul_Latn", "arb_Arab"]


def _id_sequences(ref: transformers.NllbTokenizer) -> list[list[int]]:
    """Encoded texts, random ids over the whole vocabulary, and runs of special and language ids."""
    rng = random.Random(0)
    top = len(ref)
    special = [0, 1, 2, 3, ref.convert_tokens_to_ids("<mask>")] + ref.convert_tokens_to_ids(CODES)
    seqs = [ref(text).input_ids for text in TEXTS[::20] + NLLB_TEXTS]
    seqs += [[rng.randrange(top) for _ in range(rng.randint(0, 25))] for _ in range(20)]
    seqs += [[rng.choice([*special, rng.randrange(4, 60)]) for _ in range(rng.randint(1, 12))] for _ in range(20)]
    space = ref.convert_tokens_to_ids("\u2581")
    lang = ref.convert_tokens_to_ids("deu_Latn")
    return seqs + [[], [2], [1, 1, 1], [lang], [lang, 2], [space, lang, space, 5, lang, 2], [5, space, lang]]


# ------------------------------------------------------------------------------ encoding
def test_tokens_and_ids_match(nllb_pair):
    ours, ref = nllb_pair
    for text in TEXTS:
        assert ours.tokenize(text) == ref.tokenize(text), text
        assert ours.tokenize(text, split_special_tokens=True) == ref.tokenize(text, split_special_tokens=True)
        for add in (True, False):
            assert ours(text, add_special_tokens=add) == ref(text, add_special_tokens=add).data, text
    assert ours(TEXTS) == ref(TEXTS).data
    tokens = ref.tokenize("Hello world")
    assert ours.encode(tokens) == ref.encode(tokens)
    assert ours.encode([5, 6, 7]) == ref.encode([5, 6, 7])


def test_the_two_layouts(nllb_folders):
    """[src_lang] X </s> by default; X </s> [src_lang] with legacy_behaviour; targets alike."""
    for layout, legacy in (("saved", False), ("legacy", True), ("hub_legacy", True)):
        ours = NllbTokenizer.from_pretrained(nllb_folders[layout], tgt_lang="fra_Latn")
        eng, fra, eos = ours.convert_tokens_to_ids("eng_Latn"), ours.convert_tokens_to_ids("fra_Latn"), 2
        pieces = ours("Hello world", add_special_tokens=False).input_ids
        assert ours.legacy_behaviour is legacy
        if legacy:
            assert ours("Hello world").input_ids == [*pieces, eos, eng]
            assert ours(text_target="Hello world").input_ids == [*pieces, eos, fra]
            assert ours.source_layout("deu_Latn") == ([], [eos, ours.convert_tokens_to_ids("deu_Latn")])
        else:
            assert ours("Hello world").input_ids == [eng, *pieces, eos]
            assert ours(text_target="Hello world").input_ids == [fra, *pieces, eos]
            assert ours.source_layout("deu_Latn") == ([ours.convert_tokens_to_ids("deu_Latn")], [eos])
        assert ours.src_lang == "eng_Latn"  # source_layout does not change the tokenizer


def test_legacy_behaviour_as_an_argument(nllb_folders):
    for legacy in (False, True):
        ours = NllbTokenizer.from_pretrained(nllb_folders["hub"], legacy_behaviour=legacy, src_lang="fra_Latn")
        ref = transformers.NllbTokenizer.from_pretrained(
            str(nllb_folders["hub"]), legacy_behaviour=legacy, src_lang="fra_Latn"
        )
        for text in TEXTS[90:120]:
            assert ours(text).input_ids == ref(text).input_ids


def test_src_and_tgt_lang(nllb_pair):
    ours, ref = nllb_pair
    try:
        for src, tgt in zip(CODES, reversed(CODES)):
            ours.src_lang, ours.tgt_lang = src, tgt
            ref.src_lang, ref.tgt_lang = src, tgt
            assert (ours.src_lang, ours.tgt_lang) == (src, tgt)
            batch, targets = TEXTS[100:104], TEXTS[104:108]
            for kwargs in ({}, {"padding": True}, {"padding": True, "return_tensors": "pt"}):
                assert_same(ours(batch, text_target=targets, **kwargs), ref(batch, text_target=targets, **kwargs))
            assert ours(text_target=targets[0]) == ref(text_target=targets[0]).data
            assert ours.encode("x") == ref.encode("x")  # back to the source layout
            assert ours.cur_lang_code == ref.cur_lang_code
    finally:
        ours.src_lang = ref.src_lang = "eng_Latn"
        ours.tgt_lang = ref.tgt_lang = None


def test_src_and_tgt_lang_from_kwargs(nllb_folders):
    folder = nllb_folders["saved"]
    ours = NllbTokenizer.from_pretrained(folder, src_lang="deu_Latn", tgt_lang="rus_Cyrl")
    ref = transformers.NllbTokenizer.from_pretrained(str(folder), src_lang="deu_Latn", tgt_lang="rus_Cyrl")
    assert (ours.src_lang, ours.tgt_lang) == ("deu_Latn", "rus_Cyrl")
    assert_same(ours("Hallo", text_target="Привет"), ref("Hallo", text_target="Привет"))
    assert ours.cur_lang_code_id == ref.cur_lang_code_id


PADDINGS = [False, True, "longest", "max_length"]
TRUNCATIONS = [None, True, "longest_first", "only_first", "only_second"]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("layout", ["saved", "legacy", "bare"])  # model_max_length 1024, 1024 and unset
def test_padding_truncation_grid(nllb_folders, layout):
    folder = nllb_folders[layout]
    ours, ref = NllbTokenizer.from_pretrained(folder), transformers.NllbTokenizer.from_pretrained(str(folder))
    batch = ["Hello world", "", SAMPLE_TEXTS[20], "生活就像一盒巧克力。 </s> eng_Latn <mask>"]
    grid = itertools.product(PADDINGS, TRUNCATIONS, [None, 1, 3, 8, 40], [None, 4], [None, "left"])
    for padding, truncation, max_length, multiple, side in grid:
        kwargs = dict(
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            pad_to_multiple_of=multiple,
            padding_side=side,
        )
        for text in (batch, batch[2]):
            assert_same_outcome(lambda: ours(text, **kwargs), lambda: ref(text, **kwargs).data, kwargs)
        pairs = (batch[:2], batch[2:])
        assert_same_outcome(lambda: ours(*pairs, **kwargs), lambda: ref(*pairs, **kwargs).data, ("pair", kwargs))


def test_optional_outputs_and_token_types(nllb_pair):
    ours, ref = nllb_pair
    options = dict(return_token_type_ids=True, return_special_tokens_mask=True, return_length=True)
    for first, second in [("Hello world", None), ("Hello", "world <mask>"), (TEXTS[101], TEXTS[102])]:
        assert_same(ours(first, second, **options), ref(first, second, **options))
    ids = ref("Hello eng_Latn world").input_ids
    assert ours.get_special_tokens_mask(ids, already_has_special_tokens=True) == ref.get_special_tokens_mask(
        ids, already_has_special_tokens=True
    )
    assert ours.num_special_tokens_to_add() == ref.num_special_tokens_to_add() == 2
    assert ours.num_special_tokens_to_add(pair=True) == ref.num_special_tokens_to_add(pair=True)


# ------------------------------------------------------------------------------ decoding
@pytest.mark.parametrize("layout", ["hub", "bare"])  # the two numberings of <mask> and the codes
def test_decode_matches(nllb_folders, layout):
    # transformers' decode takes 10 ms here (it converts the 202 codes on every call): few sequences.
    folder = str(nllb_folders[layout])
    ours, ref = NllbTokenizer.from_pretrained(folder), transformers.NllbTokenizer.from_pretrained(folder)
    for ids in _id_sequences(ref):
        for skip, clean, spaces in itertools.product([False, True], [None, True], [True, False]):
            options = dict(skip_special_tokens=skip, clean_up_tokenization_spaces=clean)
            expected = ref.decode(ids, spaces_between_special_tokens=spaces, **options)
            assert ours.decode(ids, spaces_between_special_tokens=spaces, **options) == expected, (ids, options)
        assert ours.convert_ids_to_tokens(ids) == ref.convert_ids_to_tokens(ids)
    rows = [ref(t).input_ids for t in TEXTS[100:110]]
    assert ours.batch_decode(rows, skip_special_tokens=True) == ref.batch_decode(rows, skip_special_tokens=True)


def test_an_id_past_the_vocabulary_decodes_as_unk(nllb_folders):
    """transformers raises sentencepiece's IndexError; a model with spare embedding rows (NLLB's
    256206 for 256204 tokens) must not crash the Translator on one."""
    ours = NllbTokenizer.from_pretrained(nllb_folders["saved"])
    ref = transformers.NllbTokenizer.from_pretrained(str(nllb_folders["saved"]))
    with pytest.raises(IndexError):
        ref.convert_ids_to_tokens([len(ref) + 1])
    assert ours.convert_ids_to_tokens([len(ours), len(ours) + 1]) == ["<unk>", "<unk>"]
    assert ours.decode([5, len(ours) + 1], skip_special_tokens=True) == ref.decode([5], skip_special_tokens=True)


# ------------------------------------------------------------------------------ vocabulary
def test_vocabulary_and_special_tokens(nllb_pair):
    ours, ref = nllb_pair
    assert (ours.vocab_size, len(ours)) == (ref.vocab_size, len(ref))
    assert ours.get_vocab() == ref.get_vocab()
    assert ours.special_tokens_map == ref.special_tokens_map
    assert ours.all_special_tokens == ref.all_special_tokens and ours.all_special_ids == ref.all_special_ids
    assert ours.additional_special_tokens_ids == ref.additional_special_tokens_ids
    assert {i: t.to_dict() for i, t in ours.added_tokens_decoder.items()} == {
        i: {k: getattr(t, k) for k in ("content", "single_word", "lstrip", "rstrip", "normalized", "special")}
        for i, t in ref.added_tokens_decoder.items()
    }
    ids = list(range(len(ref)))
    assert ours.convert_ids_to_tokens(ids) == ref.convert_ids_to_tokens(ids)
    tokens = ref.convert_ids_to_tokens(ids) + ["never-a-piece", "eng_latn"]
    assert ours.convert_tokens_to_ids(tokens) == ref.convert_tokens_to_ids(tokens)
    for attr in ("bos", "eos", "unk", "sep", "pad", "cls", "mask"):
        assert getattr(ours, f"{attr}_token_id") == getattr(ref, f"{attr}_token_id"), attr
    assert list(ours.lang_code_to_id) == ref.additional_special_tokens
    assert list(ours.lang_code_to_id.values()) == ref.convert_tokens_to_ids(ref.additional_special_tokens)


def test_a_language_added_by_fine_tuning(nllb_folders):
    folder = str(nllb_folders["saved"])
    ours, ref = NllbTokenizer.from_pretrained(folder), transformers.NllbTokenizer.from_pretrained(folder)
    assert ours.add_tokens(["xyz_Latn"], special_tokens=True) == ref.add_tokens(["xyz_Latn"], special_tokens=True)
    ours.src_lang = ref.src_lang = "xyz_Latn"
    assert ours("Hello world").input_ids == ref("Hello world").input_ids
    assert ours.get_lang_id("xyz_Latn") == len(ours) - 1 == ours.lang_code_to_id["xyz_Latn"]


def test_prepare_seq2seq_batch_defaults(nllb_folders):
    folder = str(nllb_folders["saved"])
    ours, ref = NllbTokenizer.from_pretrained(folder), transformers.NllbTokenizer.from_pretrained(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ref.prepare_seq2seq_batch(TEXTS[100:103], tgt_texts=TEXTS[103:106])
        assert_same(ours.prepare_seq2seq_batch(TEXTS[100:103], tgt_texts=TEXTS[103:106]), expected)
    assert (ours.src_lang, ours.tgt_lang) == (ref.src_lang, ref.tgt_lang) == ("eng_Latn", "fra_Latn")


# ------------------------------------------------------------------------------ refusals
def test_an_unknown_language_is_refused_not_encoded_as_unk(nllb_folders):
    ours = NllbTokenizer.from_pretrained(nllb_folders["saved"])
    ref = transformers.NllbTokenizer.from_pretrained(str(nllb_folders["saved"]))
    ref.src_lang = "eng_Latin"
    assert ref("x").input_ids[0] == ref.unk_token_id  # transformers: silently no language
    with pytest.raises(ValueError, match=r"Unknown language code 'eng_Latin'\. Did you mean 'eng_Latn'"):
        ours.src_lang = "eng_Latin"
    with pytest.raises(KeyError):
        ours.tgt_lang = "en"
    for special in ("</s>", "<mask>", "<pad>"):
        with pytest.raises(ValueError, match="Unknown language code"):
            ours.get_lang_id(special)
    with pytest.raises(ValueError, match="Valid codes: ace_Arab, ace_Latn"):
        NllbTokenizer.from_pretrained(nllb_folders["saved"], src_lang="english")
    assert ours.src_lang == "eng_Latn" and ours("x").input_ids[0] == ours.get_lang_id("eng_Latn")


def test_a_target_needs_tgt_lang(nllb_folders):
    ours = NllbTokenizer.from_pretrained(nllb_folders["saved"])
    with pytest.raises(ValueError, match="tgt_lang"):
        ours("a", text_target="b")
    assert ours.encode("x")[0] == ours.get_lang_id("eng_Latn")
