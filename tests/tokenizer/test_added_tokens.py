"""Parity with transformers 4.57's slow M2M100Tokenizer for add_tokens, add_special_tokens and the
special-token setters: the ids, decoding, ``len()``, the saved files, and loading the saved folder
back in either library."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import transformers

from m2m100.tokenizer import AddedToken, M2M100Tokenizer
from m2m100.tokenizer.encoding import InputError
from tests.tokenizer.compare import HF, LAYOUTS, assert_same, assert_same_outcome
from tests.tokenizer_fixture import SAMPLE_TEXTS

# Texts around the tokens the tests add, in several scripts, glued and spaced.
TEXTS = SAMPLE_TEXTS[:60:3] + [
    "a <new> b",
    "<new><new>x<new>",
    "Привет<new>мир",
    "x tight y",
    "xtighty tight",
    "the cat, the end",
    "生活<p>就像 <cls>一盒 <mask> __fr__ <a>",
    "<a><b> __de__ </s> <sp> 🎉",
    "hello </s> world <s> <unk> <pad>",
]


@pytest.fixture(autouse=True)
def _quiet() -> None:
    transformers.logging.set_verbosity_error()


def _load(folder: Path | str, **kwargs) -> tuple[M2M100Tokenizer, HF]:
    return M2M100Tokenizer.from_pretrained(folder, **kwargs), HF.from_pretrained(str(folder), **kwargs)


def _piece(folder: Path) -> str:
    """A multi-character sentencepiece piece of the base vocabulary."""
    vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    return max((p for p in vocab if p.startswith("▁") and p[1:].isalpha()), key=len)


def assert_same_tokenizer(ours: M2M100Tokenizer, ref: HF, texts: list[str] = TEXTS) -> None:
    """Same vocabulary, special tokens, encodings, masks and decoded text."""
    assert (len(ours), ours.vocab_size) == (len(ref), ref.vocab_size)
    assert ours.get_vocab() == ref.get_vocab()
    assert ours.added_tokens_encoder == ref.added_tokens_encoder
    assert ours.get_added_vocab() == ref.get_added_vocab()
    assert {i: t.to_dict() for i, t in ours.added_tokens_decoder.items()} == {
        i: t.__getstate__() for i, t in ref.added_tokens_decoder.items()
    }
    for name in (
        "all_special_tokens",
        "all_special_ids",
        "special_tokens_map",
        "additional_special_tokens",
        "additional_special_tokens_ids",
        "bos_token_id",
        "eos_token_id",
        "unk_token_id",
        "sep_token_id",
        "pad_token_id",
        "cls_token_id",
        "mask_token_id",
    ):
        assert getattr(ours, name) == getattr(ref, name), name
    assert {k: str(v) for k, v in ours.special_tokens_map_extended.items() if k != "additional_special_tokens"} == {
        k: str(v) for k, v in ref.special_tokens_map_extended.items() if k != "additional_special_tokens"
    }
    for text in texts:
        assert ours.tokenize(text) == ref.tokenize(text), text
    options = dict(padding=True, return_special_tokens_mask=True)
    assert_same(ours(texts, **options), ref(texts, **options))
    assert_same(
        ours(texts[-4:], texts[:4], return_token_type_ids=True), ref(texts[-4:], texts[:4], return_token_type_ids=True)
    )
    for ids in ref(texts).input_ids + [list(range(len(ref) - 6, len(ref) + 2))]:
        for skip in (False, True):
            assert ours.decode(ids, skip) == ref.decode(ids, skip), (ids, skip)
            assert ours.decode(ids, skip, spaces_between_special_tokens=False) == ref.decode(
                ids, skip, spaces_between_special_tokens=False
            )
        assert ours.get_special_tokens_mask(ids, already_has_special_tokens=True) == ref.get_special_tokens_mask(
            ids, already_has_special_tokens=True
        )
        assert ours.convert_ids_to_tokens(ids, skip_special_tokens=True) == ref.convert_ids_to_tokens(ids, True)


def assert_round_trips(ours: M2M100Tokenizer, ref: HF, tmp_path: Path) -> None:
    """Both save the same bytes, and each library reads the other's folder into the same tokenizer."""
    paths = ours.save_pretrained(tmp_path / "ours")
    expected = ref.save_pretrained(str(tmp_path / "ref"))
    assert [Path(p).name for p in paths] == [Path(p).name for p in expected]
    for name in sorted(p.name for p in (tmp_path / "ref").iterdir()):
        assert (tmp_path / "ours" / name).read_bytes() == (tmp_path / "ref" / name).read_bytes(), name
    assert sorted(p.name for p in (tmp_path / "ours").iterdir()) == sorted(p.name for p in (tmp_path / "ref").iterdir())
    # Each library reads each folder alike (a token only named by a setter is added on loading, in both).
    for mine, theirs in (("ref", "ours"), ("ours", "ref")):
        loaded = M2M100Tokenizer.from_pretrained(tmp_path / mine), HF.from_pretrained(str(tmp_path / theirs))
        assert_same_tokenizer(*loaded)
        # and saves it again alike (not always as it was: a special token read back as text is
        # written as a dict, in both).
        again = [tmp_path / f"again-{mine}-{i}" for i in range(2)]
        for tok, folder in zip(loaded, again):
            tok.save_pretrained(str(folder))
        assert {p.name: p.read_bytes() for p in again[0].iterdir()} == {
            p.name: p.read_bytes() for p in again[1].iterdir()
        }


@pytest.mark.parametrize("layout", LAYOUTS)
def test_add_tokens(folders, tmp_path, layout):
    ours, ref = _load(folders[layout])
    piece = _piece(folders[layout])
    new = ["<new>", piece, "<new>", "", transformers.AddedToken("tight", lstrip=True, rstrip=True, single_word=True)]
    assert ours.add_tokens(new) == ref.add_tokens(new) == 2  # "<new>" and "tight"; the piece keeps its id
    assert ours.convert_tokens_to_ids(piece) == ref.convert_tokens_to_ids(piece) < ours.vocab_size
    assert_same_tokenizer(ours, ref)
    assert ours.add_tokens("<sp>", special_tokens=True) == ref.add_tokens("<sp>", special_tokens=True) == 1
    assert ours.add_tokens(AddedToken("<b>", normalized=False)) == ref.add_tokens(
        transformers.AddedToken("<b>", normalized=False)
    )
    assert "<sp>" in ours.additional_special_tokens and "<sp>" in ours.all_special_tokens
    for nothing in (None, [], "", [""], ["<new>"]):
        assert ours.add_tokens(nothing) == ref.add_tokens(nothing) == 0
    assert_same_tokenizer(ours, ref)
    assert_round_trips(ours, ref, tmp_path)
    clone = pickle.loads(pickle.dumps(ours))
    assert len(clone) == len(ours) and clone(TEXTS) == ours(TEXTS)
    # A tokenizer pickled before the added-token map and the warning flags existed still works.
    state = ours.__getstate__()
    del state["_added_by_content"], state["deprecation_warnings"]
    old = M2M100Tokenizer.__new__(M2M100Tokenizer)
    old.__setstate__(state)
    assert old(TEXTS) == ours(TEXTS) and old.tokenize("a<new>b") == ref.tokenize("a<new>b")


@pytest.mark.parametrize("layout", ["saved", "fresh"])
@pytest.mark.parametrize("replace", [True, False])
def test_add_special_tokens(folders, tmp_path, layout, replace):
    ours, ref = _load(folders[layout], tgt_lang="ru")
    tokens = {
        "pad_token": "<p>",
        "cls_token": transformers.AddedToken("<cls>", lstrip=True),
        "mask_token": "<mask>",
        "eos_token": "</s>",
        "additional_special_tokens": ["<a>", "__fr__", transformers.AddedToken("<b>", rstrip=True)],
    }
    assert ours.add_special_tokens(tokens, replace) == ref.add_special_tokens(tokens, replace)
    assert ours.pad_token == "<p>" and ours.pad_token_id == ref.pad_token_id >= ours.vocab_size
    assert_same_tokenizer(ours, ref)
    # Again, with a shorter list: replaced (the dropped tokens stay added, no longer special) or merged.
    more = {"additional_special_tokens": ["<b>", "<c>"], "sep_token": "<a>"}
    assert ours.add_special_tokens(more, replace) == ref.add_special_tokens(more, replace) == 1
    assert ours.add_special_tokens({}) == 0 and ours.add_special_tokens({"additional_special_tokens": []}, replace) == 0
    assert ours.add_special_tokens({"additional_special_tokens": []}, replace) == ref.add_special_tokens(
        {"additional_special_tokens": []}, replace
    )
    assert_same_tokenizer(ours, ref)
    # Padding uses the new pad token, and the language layout the (unchanged) eos.
    for side in ("left", "right"):
        options = dict(padding="max_length", max_length=30, padding_side=side, truncation=True)
        assert_same(ours(TEXTS, text_target=TEXTS[::-1], **options), ref(TEXTS, text_target=TEXTS[::-1], **options))
    assert_round_trips(ours, ref, tmp_path)


def test_special_token_setters(folders, tmp_path):
    ours, ref = _load(folders["saved"], tgt_lang="de")
    piece = _piece(folders["saved"])
    steps = [
        ("pad_token", "<unk>"),
        ("eos_token", "<s>"),  # the layout's suffix follows at the next call
        ("bos_token", None),
        ("unk_token_id", 5),  # unknown pieces now map to id 5
        ("sep_token", transformers.AddedToken(piece, lstrip=True)),
        ("mask_token", "<never-added>"),  # named, not added: its id is the unk id
        ("additional_special_tokens", ["__de__", "<x>"]),
        ("additional_special_tokens_ids", [7, 8]),
        ("pad_token_id", 9),
        ("cls_token_id", None),
    ]
    for name, value in steps:
        setattr(ours, name, value)
        setattr(ref, name, value)
        assert getattr(ours, name) == getattr(ref, name), name
        assert_same_tokenizer(ours, ref)
        assert_same(
            ours(TEXTS[:5], text_target=TEXTS[5:10], padding=True),
            ref(TEXTS[:5], text_target=TEXTS[5:10], padding=True),
        )
    assert ours.eos_token_id == 0 and ours("x").input_ids[-1] == 0 and ours.pad_token == ours.convert_ids_to_tokens(9)
    # Adding a named special token as text makes it a special (unnormalized) added token.
    named = ["<never-added>", ours.additional_special_tokens[0], "<plain>"]
    assert ours.add_tokens(named) == ref.add_tokens(named) == 2
    assert ours.added_tokens_decoder[ours.mask_token_id].special
    assert_same_tokenizer(ours, ref)
    assert_round_trips(ours, ref, tmp_path)


def test_setters_and_adders_reject_what_transformers_rejects(folders):
    ours, ref = _load(folders["saved"])
    calls = [
        lambda t: setattr(t, "pad_token", 5),
        lambda t: setattr(t, "pad_token", ["<pad>"]),
        lambda t: setattr(t, "eos_token", {"content": "</s>"}),
        lambda t: setattr(t, "bos_token_id", "x"),
        lambda t: t.add_special_tokens({"foo_token": "x"}),
        lambda t: t.add_special_tokens({"additional_special_tokens": "<a>"}),
        lambda t: t.add_special_tokens({"additional_special_tokens": ["<a>", 5]}),
        lambda t: t.add_special_tokens({"pad_token": 5}),
        lambda t: t.add_special_tokens({"pad_token": ["<p>"]}),
        lambda t: t.add_tokens([5]),
        lambda t: t.add_tokens(["<ok>", None]),
        lambda t: t.add_tokens(5),
    ]
    for i, call in enumerate(calls):
        error = assert_same_outcome(lambda: call(ours), lambda: call(ref), i)
        assert isinstance(error, Exception), i
    assert_same_tokenizer(ours, ref)  # "<ok>" went in before the None, in both
    with pytest.raises(ValueError, match="foo_token"):
        ours.add_special_tokens({"foo_token": "x"})
    assert issubclass(
        type(pytest.raises(AssertionError, ours.add_special_tokens, {"foo_token": "x"}).value), InputError
    )
