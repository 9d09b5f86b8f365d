"""Parity of m2m100.tokenizer with transformers 4.57's slow M2M100Tokenizer on the same folders."""

from __future__ import annotations

import itertools
import json
import pickle
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers
from sentencepiece import sentencepiece_model_pb2
from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES
from transformers.tokenization_utils import Trie as HFTrie

from m2m100 import languages
from m2m100.tokenizer import BatchEncoding, M2M100Tokenizer
from m2m100.tokenizer.added_tokens import Trie
from tests.tokenizer.compare import HF, LAYOUTS
from tests.tokenizer_fixture import SAMPLE_TEXTS, build_tokenizer_dir


def _id_sequences(tok: HF) -> list[list[int]]:
    """Encoded samples plus random ids over the whole range: language, pad, unk, madeup, unknown."""
    rng = random.Random(0)
    top = tok.vocab_size + len(tok.lang_code_to_id) + tok.num_madeup_words + 3
    special = [0, 1, 2, 3, *tok.lang_code_to_id.values(), top - 1]
    seqs = [tok(text).input_ids for text in SAMPLE_TEXTS[::5]]
    seqs += [[rng.randrange(top) for _ in range(rng.randint(0, 25))] for _ in range(70)]
    seqs += [[rng.choice(special + [rng.randrange(4, 50)]) for _ in range(rng.randint(1, 12))] for _ in range(70)]
    lang, space = tok.get_lang_id("de"), tok.convert_tokens_to_ids("▁")
    seqs += [[], [2], [1, 1, 1], [lang], [lang, 2], [space, lang, space, 5, lang, 2], [5, space, lang]]
    return seqs


# ------------------------------------------------------------------------------ encoding
def test_tokenize_matches(pair):
    ours, ref = pair
    for text in SAMPLE_TEXTS:
        assert ours.tokenize(text) == ref.tokenize(text), text
        assert ours.tokenize(text, split_special_tokens=True) == ref.tokenize(text, split_special_tokens=True)


def test_ids_match_with_and_without_special_tokens(pair):
    ours, ref = pair
    for text in SAMPLE_TEXTS:
        for add in (True, False):
            assert ours(text, add_special_tokens=add) == ref(text, add_special_tokens=add).data, text
        assert ours.encode(text) == ref.encode(text)
    assert ours(SAMPLE_TEXTS) == ref(SAMPLE_TEXTS).data
    tokens = ref.tokenize("Hello world")
    assert ours.encode(tokens) == ref.encode(tokens)
    assert ours.encode([5, 6, 7]) == ref.encode([5, 6, 7])


def test_layout_is_language_code_text_eos(saved_pair):
    ours, _ = saved_pair
    ids = ours("Hello world").input_ids
    assert ids[0] == ours.get_lang_id("en") == ours.lang_code_to_id["en"] == ours.vocab_size + 18
    assert ids[-1] == ours.eos_token_id == 2
    assert ours("").input_ids == [ours.get_lang_id("en"), 2]


def test_src_lang_settable_and_from_kwargs(folders, saved_pair):
    ours, ref = saved_pair
    try:
        for code in ["hi", "zh", "fr", "ilo", "zu"]:
            ours.src_lang = code
            ref.src_lang = code
            assert ours.src_lang == code
            assert ours("Bonjour le monde").input_ids == ref("Bonjour le monde").input_ids
            assert ours("x").input_ids[0] == ours.get_lang_id(code)
            assert ours.encode("x") == ref.encode("x")
    finally:
        ours.src_lang = ref.src_lang = "en"
    loaded = M2M100Tokenizer.from_pretrained(folders["saved"], src_lang="de", tgt_lang="ru")
    assert (loaded.src_lang, loaded.tgt_lang) == ("de", "ru")
    assert loaded("Hallo").input_ids == HF.from_pretrained(str(folders["saved"]), src_lang="de")("Hallo").input_ids


def test_text_target_gives_labels_with_target_language(saved_pair):
    ours, ref = saved_pair
    src, tgt = SAMPLE_TEXTS[20:24], SAMPLE_TEXTS[24:28]
    for kwargs in ({}, {"padding": True}, {"padding": True, "return_tensors": "pt"}):
        a, b = ours(src, text_target=tgt, **kwargs), ref(src, text_target=tgt, **kwargs)
        assert list(a) == list(b) == ["input_ids", "attention_mask", "labels"]
        for key in a:
            assert _as_list(a[key]) == _as_list(b[key])
    only_target = ours(text_target=tgt[0])
    assert only_target == ref(text_target=tgt[0]).data
    assert only_target.input_ids[0] == ours.get_lang_id("fr")
    # The source layout is back after a target call.
    assert ours.encode("x")[0] == ours.get_lang_id("en") == ref.encode("x")[0]


def test_text_target_without_tgt_lang_raises(folders):
    ours = M2M100Tokenizer.from_pretrained(folders["saved"])
    with pytest.raises(ValueError, match="tgt_lang"):
        ours("a", text_target="b")
    assert ours.encode("x")[0] == ours.get_lang_id("en")
    with pytest.raises(ValueError, match="text"):
        ours()


PADDINGS = [False, True, "longest", "max_length", "do_not_pad"]
TRUNCATIONS = [None, False, True, "longest_first", "only_first", "only_second", "do_not_truncate"]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("layout", ["saved", "fresh"])  # model_max_length 1024 and unknown
def test_padding_truncation_grid(folders, layout):
    ours = M2M100Tokenizer.from_pretrained(folders[layout], model_max_length=12 if layout == "saved" else None)
    ref = HF.from_pretrained(str(folders[layout]), **({"model_max_length": 12} if layout == "saved" else {}))
    batch = ["Hello world", "", SAMPLE_TEXTS[20], "生活就像一盒巧克力。 </s> __fr__"]
    grid = itertools.product(PADDINGS, TRUNCATIONS, [None, 0, 1, 2, 3, 8, 40], [None, 4], [None, "left"])
    for padding, truncation, max_length, multiple, side in grid:
        for text in (batch, batch[2]):
            kwargs = dict(
                padding=padding,
                truncation=truncation,
                max_length=max_length,
                pad_to_multiple_of=multiple,
                padding_side=side,
            )
            try:
                expected = ref(text, **kwargs).data
            except ValueError:
                with pytest.raises(ValueError):
                    ours(text, **kwargs)
                continue
            assert ours(text, **kwargs) == expected, kwargs


def test_optional_outputs_and_truncation_side(folders):
    kwargs = dict(model_max_length=10, truncation_side="left", padding_side="left")
    ours = M2M100Tokenizer.from_pretrained(folders["saved"], **kwargs)
    ref = HF.from_pretrained(str(folders["saved"]), **kwargs)
    batch = SAMPLE_TEXTS[18:22]
    for text in (batch, batch[0]):
        for options in (
            dict(return_special_tokens_mask=True, return_length=True, padding="max_length"),
            dict(return_attention_mask=False, padding=True, truncation=True),
            dict(return_length=True, truncation=True, add_special_tokens=False, padding=True),
        ):
            assert list(ours(text, **options).items()) == list(ref(text, **options).items())


def test_return_tensors(saved_pair):
    ours, ref = saved_pair
    for kind, cls in (("pt", torch.Tensor), ("np", np.ndarray)):
        for text in (SAMPLE_TEXTS[30:35], SAMPLE_TEXTS[30]):
            a, b = ours(text, padding=True, return_tensors=kind), ref(text, padding=True, return_tensors=kind)
            for key in b:
                assert isinstance(a[key], cls) and a[key].dtype == b[key].dtype and a[key].shape == b[key].shape
                assert (a[key] == b[key]).all()
        assert (ours.encode("Hello", return_tensors=kind) == ref.encode("Hello", return_tensors=kind)).all()
    with pytest.raises(ValueError, match="padding"):
        ours(SAMPLE_TEXTS[30:35], return_tensors="pt")
    with pytest.raises(ValueError, match="return_tensors"):
        ours("x", return_tensors="tf")


def test_bad_options_raise_value_error(saved_pair):
    ours, _ = saved_pair
    for bad in (
        dict(padding="yes"),
        dict(truncation="middle"),
        dict(padding_side="up"),
        dict(max_length=-1),
        dict(pad_to_multiple_of=0),
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            ours("x", **bad)
    with pytest.raises(ValueError):
        ours([])
    with pytest.raises(ValueError):
        ours([1, 2])


def test_batch_encoding_attributes_and_to(saved_pair):
    ours, _ = saved_pair
    enc = ours(["a b", "c"], padding=True, return_tensors="pt")
    assert isinstance(enc, BatchEncoding) and isinstance(enc, dict)
    assert enc.input_ids is enc["input_ids"] and list(enc.keys()) == ["input_ids", "attention_mask"]
    assert enc.to("cpu") is enc and enc.input_ids.device.type == "cpu"
    assert enc.to(torch.device("cpu")).attention_mask.dtype == torch.long
    with pytest.raises(AttributeError):
        enc.labels
    assert pickle.loads(pickle.dumps(enc)).input_ids.tolist() == enc.input_ids.tolist()


# ------------------------------------------------------------------------------ decoding
def test_decode_matches(pair):
    ours, ref = pair
    for ids in _id_sequences(ref):
        for skip, clean, spaces in itertools.product((False, True), (None, True), (True, False)):
            kwargs = dict(clean_up_tokenization_spaces=clean, spaces_between_special_tokens=spaces)
            assert ours.decode(ids, skip, **kwargs) == ref.decode(ids, skip, **kwargs), (ids, skip, kwargs)
        assert ours.convert_ids_to_tokens(ids, skip_special_tokens=True) == ref.convert_ids_to_tokens(
            ids, skip_special_tokens=True
        )
        tokens = ref.convert_ids_to_tokens(ids)
        assert ours.convert_ids_to_tokens(ids) == tokens
        assert ours.convert_tokens_to_string(tokens) == ref.convert_tokens_to_string(tokens)
        assert ours.convert_tokens_to_ids(tokens) == ref.convert_tokens_to_ids(tokens)
    for single in (0, 2, 5, ref.get_lang_id("de"), 10**6):
        assert ours.decode(single) == ref.decode(single)
        assert ours.decode(single, skip_special_tokens=True) == ref.decode(single, skip_special_tokens=True)
        assert ours.convert_ids_to_tokens(single) == ref.convert_ids_to_tokens(single)


def test_decode_skips_language_tokens_of_real_checkpoints(saved_pair):
    ours, _ = saved_pair
    ids = ours("La vie est belle.").input_ids
    assert ours.decode(ids, skip_special_tokens=True) == "La vie est belle."
    assert ours.decode(ids).startswith("__en__ ") and ours.decode(ids).endswith("</s>")


def test_batch_decode_accepts_lists_tensors_arrays(saved_pair):
    ours, ref = saved_pair
    enc = ref(SAMPLE_TEXTS[40:46], padding=True)
    expected = ref.batch_decode(enc.input_ids, skip_special_tokens=True)
    for rows in (enc.input_ids, torch.tensor(enc.input_ids), np.array(enc.input_ids)):
        assert ours.batch_decode(rows, skip_special_tokens=True) == expected
        assert ours.batch_decode(rows) == ref.batch_decode(enc.input_ids)
    assert ours.decode(torch.tensor(enc.input_ids[0])) == ref.decode(enc.input_ids[0])
    assert ours.decode(torch.tensor(5)) == ref.decode(5)


# ------------------------------------------------------------------------------ vocabulary and layout
def test_vocabulary_and_special_tokens_match(pair):
    ours, ref = pair
    assert len(ours) == len(ref) and ours.vocab_size == ref.vocab_size
    assert ours.get_vocab() == ref.get_vocab()
    assert ours.added_tokens_encoder == ref.added_tokens_encoder
    assert {i: t.to_dict() for i, t in ours.added_tokens_decoder.items()} == {
        i: t.__getstate__() for i, t in ref.added_tokens_decoder.items()
    }
    for name in (
        "all_special_tokens",
        "all_special_ids",
        "additional_special_tokens",
        "additional_special_tokens_ids",
        "special_tokens_map",
        "bos_token",
        "eos_token",
        "unk_token",
        "sep_token",
        "pad_token",
        "cls_token",
        "mask_token",
        "bos_token_id",
        "eos_token_id",
        "unk_token_id",
        "sep_token_id",
        "pad_token_id",
        "cls_token_id",
        "mask_token_id",
        "model_max_length",
        "padding_side",
        "truncation_side",
        "clean_up_tokenization_spaces",
        "src_lang",
        "tgt_lang",
        "lang_code_to_id",
        "lang_token_to_id",
        "id_to_lang_token",
        "lang_code_to_token",
        "encoder_size",
        "cur_lang_id",
        "prefix_tokens",
        "suffix_tokens",
        "num_madeup_words",
        "language_codes",
        "model_input_names",
        "max_len_single_sentence",
        "is_fast",
        "name_or_path",
    ):
        assert getattr(ours, name) == getattr(ref, name), name
    for code in ref.lang_code_to_id:
        assert ours.get_lang_id(code) == ref.get_lang_id(code)
        assert ours.get_lang_token(code) == ref.get_lang_token(code)


def test_special_token_helpers_match(pair):
    ours, ref = pair
    rng = random.Random(1)
    for _ in range(30):
        a = [rng.randrange(len(ref) + 8) for _ in range(rng.randint(0, 9))]
        b = [rng.randrange(len(ref)) for _ in range(rng.randint(0, 5))]
        for ids_1 in (None, b):
            assert ours.build_inputs_with_special_tokens(a, ids_1) == ref.build_inputs_with_special_tokens(a, ids_1)
            assert ours.get_special_tokens_mask(a, ids_1) == ref.get_special_tokens_mask(a, ids_1)
            assert ours.create_token_type_ids_from_sequences(a, ids_1) == ref.create_token_type_ids_from_sequences(
                a, ids_1
            )
            assert ours.num_special_tokens_to_add(ids_1 is not None) == ref.num_special_tokens_to_add(ids_1 is not None)
        full = ref.build_inputs_with_special_tokens(a)
        assert ours.get_special_tokens_mask(full, already_has_special_tokens=True) == ref.get_special_tokens_mask(
            full, already_has_special_tokens=True
        )
    with pytest.raises(ValueError):
        ours.get_special_tokens_mask([1], [2], already_has_special_tokens=True)


def test_wmt21_language_codes(folders):
    ours = M2M100Tokenizer.from_pretrained(folders["wmt21"], src_lang="ha", tgt_lang="is")
    ref = HF.from_pretrained(str(folders["wmt21"]), src_lang="ha", tgt_lang="is")
    assert list(ours.lang_code_to_id) == FAIRSEQ_LANGUAGE_CODES["wmt21"]
    assert ours.lang_code_to_id == ref.lang_code_to_id and len(ours) == len(ref)
    assert ours("Sannu", text_target="Halló") == ref("Sannu", text_target="Halló").data
    with pytest.raises(ValueError, match="Valid codes: en, ha, is, ja, cs, ru, zh, de"):
        ours.src_lang = "fr"
    assert ours.src_lang == "ha"


def test_unknown_language_suggests_and_lists_codes(saved_pair):
    ours, _ = saved_pair
    with pytest.raises(ValueError) as error:
        ours.get_lang_id("ch")
    message = str(error.value)
    assert "Unknown language code 'ch'" in message and "Did you mean 'zh'" in message
    assert "Valid codes: af, am, ar, ast" in message and message.endswith("zh, zu.")
    with pytest.raises(ValueError, match="Did you mean 'fr'"):
        ours.src_lang = "french"
    with pytest.raises(ValueError, match="Did you mean 'de'"):
        ours.tgt_lang = "deu"
    with pytest.raises(ValueError, match="Unknown language code 'xx'"):
        M2M100Tokenizer.from_pretrained(ours.name_or_path, tgt_lang="xx")
    with pytest.raises(ValueError, match="'m2m100', 'wmt21'"):
        M2M100Tokenizer.from_pretrained(ours.name_or_path, language_codes="m2m101")
    assert (ours.src_lang, ours.tgt_lang) == ("en", "fr")


def test_pickle_round_trip_without_the_files(folders, tmp_path):
    folder = shutil.copytree(folders["saved"], tmp_path / "copy")
    tok = M2M100Tokenizer.from_pretrained(folder, src_lang="hi", tgt_lang="fr", sp_model_kwargs={})
    blob = pickle.dumps(tok)
    shutil.rmtree(folder)
    clone = pickle.loads(blob)
    for text in SAMPLE_TEXTS[:40]:
        assert clone(text, text_target=text) == tok(text, text_target=text)
        assert clone.decode(tok.encode(text)) == tok.decode(tok.encode(text))
    assert (clone.src_lang, clone.tgt_lang, len(clone)) == ("hi", "fr", len(tok))


# ------------------------------------------------------------------------------ files
def _read(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _assert_saves_alike(ours: M2M100Tokenizer, ref: HF, tmp_path: Path, **kwargs) -> None:
    paths = ours.save_pretrained(tmp_path / "ours", **kwargs)
    expected = ref.save_pretrained(str(tmp_path / "ref"), **kwargs)
    assert [Path(p).name for p in paths] == [Path(p).name for p in expected]
    assert _read(tmp_path / "ours") == _read(tmp_path / "ref")


@pytest.mark.parametrize("layout", LAYOUTS + ["hub_added"])
@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"src_lang": "ru", "tgt_lang": "de", "model_max_length": 64},
        {"additional_special_tokens": ["__de__", "<new>"], "pad_token": "<unk>"},
    ],
)
def test_save_pretrained_writes_the_same_bytes(folders, tmp_path, layout, overrides):
    ours = M2M100Tokenizer.from_pretrained(folders[layout], **overrides)
    ref = HF.from_pretrained(str(folders[layout]), **overrides)
    ours.src_lang = ref.src_lang = "zh"  # saved from the live value, as transformers does
    _assert_saves_alike(ours, ref, tmp_path)
    # Both directions load back to identical tokenizers.
    for folder in ("ours", "ref"):
        a, b = M2M100Tokenizer.from_pretrained(tmp_path / folder), HF.from_pretrained(str(tmp_path / folder))
        summary = [(t.src_lang, t.tgt_lang, t.model_max_length, len(t)) for t in (a, b)]
        assert summary[0] == summary[1]
        assert a.all_special_tokens == b.all_special_tokens and a.get_vocab() == b.get_vocab()
        assert a(SAMPLE_TEXTS[:60]) == b(SAMPLE_TEXTS[:60]).data


def test_fresh_constructor_saves_like_transformers(folders, tmp_path):
    vocab, spm = folders["saved"] / "vocab.json", folders["saved"] / "sentencepiece.bpe.model"
    extra = ["__fr__", "<extra>", transformers.AddedToken("<tight>", lstrip=True, rstrip=True)]
    kwargs = dict(src_lang="fr", model_max_length=200, additional_special_tokens=extra)
    ours, ref = M2M100Tokenizer(vocab, spm, **kwargs), HF(str(vocab), str(spm), **kwargs)
    _assert_saves_alike(ours, ref, tmp_path, filename_prefix="p")
    for text in SAMPLE_TEXTS[40:100] + ["<extra> __fr__<extra>", "a <tight> b<tight>c"]:
        assert ours(text) == ref(text).data
        assert ours.decode(ours.encode(text), skip_special_tokens=True) == ref.decode(ref.encode(text), True)


def test_added_token_flags_are_honoured(folders, tmp_path):
    folder = shutil.copytree(folders["saved"], tmp_path / "flags")
    config = json.loads((folder / "tokenizer_config.json").read_text())
    decoder = config["added_tokens_decoder"]
    decoder["2"].update(rstrip=True, special=False)  # </s>: loading makes it special again
    lang = str(M2M100Tokenizer.from_pretrained(folder).get_lang_id("fr"))
    decoder[lang].update(lstrip=True, single_word=True)
    extra = {
        "content": "hello",
        "lstrip": False,
        "normalized": True,
        "rstrip": True,
        "single_word": True,
        "special": False,
    }
    decoder["1000"] = extra  # past a gap, and sorting differently as text than as a number
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    # Keep spaces as they are, so that the stripping flags change the pieces.
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString((folder / "sentencepiece.bpe.model").read_bytes())
    proto.normalizer_spec.remove_extra_whitespaces = False
    (folder / "sentencepiece.bpe.model").write_bytes(proto.SerializeToString())
    ours, ref = M2M100Tokenizer.from_pretrained(folder), HF.from_pretrained(str(folder))
    assert ours.tokenize("a  b") == ref.tokenize("a  b") != ref.tokenize("a b")
    texts = [
        "a </s>  b",
        "a  </s>b",
        "a\t</s>\tb",
        "x __fr__ y",
        "x__fr__ y",
        "x __fr__y",
        "hello world",
        "sayhello  there",
        " hello",
        "hello",
        "hellohello hello  __fr__</s> hello",
    ] + SAMPLE_TEXTS[:80]
    for text in texts:
        assert ours.tokenize(text) == ref.tokenize(text), text
        ids = ref.encode(text)
        assert ours.decode(ids) == ref.decode(ids) and ours.decode(ids, True) == ref.decode(ids, True)
    assert len(ours) == len(ref) and ours.get_vocab() == ref.get_vocab()
    _assert_saves_alike(ours, ref, tmp_path)


def test_trie_split_matches_transformers():
    words = ["</s>", "<s>", "<unk>", "<pad>", "__fr__", "__f", "abd", "b", "ab", "abc", "bc", "cd", "a"]
    rng = random.Random(3)
    for k in range(1, len(words) + 1):
        subset = words[:k]
        ours, ref = Trie(subset), HFTrie()
        for word in subset:
            ref.add(word)
        for _ in range(300):
            text = "".join(
                rng.choice(["a", "b", "c", "d", "_", "f", "r", "<", "/", "s", ">", " ", "__fr__"])
                for _ in range(rng.randint(0, 14))
            )
            assert ours.split(text) == ref.split(text), (subset, text)


def test_missing_files_and_unreachable_hub(folders, tmp_path, monkeypatch):
    partial = shutil.copytree(folders["saved"], tmp_path / "partial")
    (partial / "sentencepiece.bpe.model").unlink()
    with pytest.raises(FileNotFoundError, match="sentencepiece.bpe.model"):
        M2M100Tokenizer.from_pretrained(partial)
    (partial / "vocab.json").unlink()
    with pytest.raises(FileNotFoundError, match="vocab.json"):
        M2M100Tokenizer.from_pretrained(partial)
    with pytest.raises(FileNotFoundError, match="not found"):
        M2M100Tokenizer.from_pretrained(tmp_path / "does" / "not" / "exist")
    with pytest.raises(OSError, match="Hugging Face Hub.*local folder"):
        M2M100Tokenizer.from_pretrained("facebook/m2m100_no_such_model", local_files_only=True)
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "huggingface_hub", None)  # as if not installed
        with pytest.raises(OSError, match="huggingface_hub is not installed.*local folder"):
            M2M100Tokenizer.from_pretrained("facebook/m2m100_418M")
    import huggingface_hub

    calls = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda **kw: calls.append(kw) or str(folders["saved"]))
    tok = M2M100Tokenizer.from_pretrained("facebook/m2m100_418M", src_lang="fr")
    assert calls[0]["repo_id"] == "facebook/m2m100_418M" and "vocab.json" in calls[0]["allow_patterns"]
    assert tok.name_or_path == "facebook/m2m100_418M" and tok.src_lang == "fr" and len(tok) == 503


def test_missing_config_uses_constructor_defaults(folders, tmp_path):
    folder = tmp_path / "bare"
    folder.mkdir()
    for name in ("vocab.json", "sentencepiece.bpe.model"):
        shutil.copy(folders["saved"] / name, folder / name)
    ours, ref = M2M100Tokenizer.from_pretrained(folder), HF.from_pretrained(str(folder))
    assert len(ours) == len(ref) and ours.all_special_tokens == ref.all_special_tokens
    assert ours(SAMPLE_TEXTS[:50]) == ref(SAMPLE_TEXTS[:50]).data


# ------------------------------------------------------------------------------ languages and fixture
def test_language_tables():
    assert list(languages.language_codes()) == FAIRSEQ_LANGUAGE_CODES["m2m100"]
    assert list(languages.language_codes("wmt21")) == FAIRSEQ_LANGUAGE_CODES["wmt21"]
    assert set(languages.LANGUAGE_NAMES) == set(languages.M2M100_CODES)
    assert languages.language_name("ns") == "Northern Sotho" and languages.language_name("ilo") == "Iloko"
    with pytest.raises(ValueError, match="'m2m100', 'wmt21'"):
        languages.language_codes("m2m")
    with pytest.raises(ValueError, match="Did you mean 'fr'"):
        languages.language_name("fre")
    assert languages.closest_codes("German", languages.M2M100_CODES)[0] == "de"
    assert languages.closest_codes("zz", languages.WMT21_CODES) == ["zh"]
    assert languages.closest_codes("qqqq", languages.M2M100_CODES) == []


def test_fixture_is_deterministic(tmp_path, folders):
    assert _read(build_tokenizer_dir(tmp_path / "again")) == _read(folders["saved"])
    assert len(SAMPLE_TEXTS) >= 300 and "" in SAMPLE_TEXTS and max(map(len, SAMPLE_TEXTS)) > 5000


def test_package_does_not_import_transformers():
    code = "import sys, m2m100.tokenizer, m2m100.languages; sys.exit('transformers' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def _as_list(value):
    return value.tolist() if hasattr(value, "tolist") else value
