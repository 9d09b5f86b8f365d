"""NLLB tokenizer folders: saved files equal to transformers', loadable both ways; AutoTokenizer's
choice of class; folders without a sentencepiece model; the real vocabulary size (256,204 ids)."""

from __future__ import annotations

import json
import logging
import pickle
import shutil
from pathlib import Path

import pytest
import transformers

from m2m100 import AutoTokenizer, M2M100Tokenizer, NllbTokenizer
from m2m100.languages import NLLB_CODES
from tests.nllb_fixture import NLLB_TEXTS, pad_spm, train_spm, write_bare_folder, write_hub_folder
from tests.tokenizer.conftest import NLLB_LAYOUTS
from tests.tokenizer_fixture import SAMPLE_TEXTS

TEXTS = SAMPLE_TEXTS[80:140] + NLLB_TEXTS


@pytest.mark.parametrize("layout", NLLB_LAYOUTS)
def test_saved_files_are_transformers_files(nllb_folders, tmp_path, layout):
    folder = nllb_folders[layout]
    ours = NllbTokenizer.from_pretrained(folder, tgt_lang="fra_Latn")
    ref = transformers.NllbTokenizer.from_pretrained(str(folder), tgt_lang="fra_Latn")
    ours.src_lang = ref.src_lang = "deu_Latn"
    ours_paths = ours.save_pretrained(tmp_path / "ours")
    ref_paths = ref.save_pretrained(str(tmp_path / "ref"))
    assert [Path(p).name for p in ours_paths] == [Path(p).name for p in ref_paths]
    assert sorted(p.name for p in (tmp_path / "ours").iterdir()) == sorted(p.name for p in (tmp_path / "ref").iterdir())
    for path in (tmp_path / "ref").iterdir():
        assert (tmp_path / "ours" / path.name).read_bytes() == path.read_bytes(), path.name
    config = json.loads((tmp_path / "ours" / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["tokenizer_class"] == "NllbTokenizer"
    assert config["legacy_behaviour"] is ours.legacy_behaviour and config["src_lang"] == "deu_Latn"


def test_a_saved_folder_loads_both_ways_with_the_same_ids(nllb_folders, tmp_path):
    for layout in ("hub", "hub_legacy", "bare"):
        ours = NllbTokenizer.from_pretrained(nllb_folders[layout])
        ours.add_tokens(["<new>", "xyz_Latn"])
        ours.save_pretrained(tmp_path / layout, filename_prefix=None)
        ref = transformers.NllbTokenizer.from_pretrained(str(tmp_path / layout))
        again = NllbTokenizer.from_pretrained(tmp_path / layout)
        assert len(again) == len(ref) == len(ours)
        for text in [*TEXTS, "a <new> xyz_Latn"]:
            expected = ours(text).input_ids
            assert ref(text).input_ids == expected and again(text).input_ids == expected, (layout, text)


def test_auto_tokenizer_picks_the_class_of_the_folder(nllb_folders, folders, tmp_path):
    for layout in ("hub", "saved", "legacy"):
        tokenizer = AutoTokenizer.from_pretrained(nllb_folders[layout], src_lang="fra_Latn")
        assert type(tokenizer) is NllbTokenizer and tokenizer.src_lang == "fra_Latn"
        assert tokenizer.name_or_path == str(nllb_folders[layout])
    assert type(AutoTokenizer.from_pretrained(folders["saved"])) is M2M100Tokenizer
    assert type(AutoTokenizer.from_pretrained(folders["hub"])) is M2M100Tokenizer

    fast = shutil.copytree(nllb_folders["saved"], tmp_path / "fast")
    config = json.loads((fast / "tokenizer_config.json").read_text(encoding="utf-8"))
    (fast / "tokenizer_config.json").write_text(json.dumps({**config, "tokenizer_class": "NllbTokenizerFast"}))
    assert type(AutoTokenizer.from_pretrained(fast)) is NllbTokenizer  # its sentencepiece model is read

    other = shutil.copytree(nllb_folders["saved"], tmp_path / "t5")
    (other / "tokenizer_config.json").write_text(json.dumps({**config, "tokenizer_class": "T5Tokenizer"}))
    with pytest.raises(ValueError, match="names a T5Tokenizer; this package reads M2M100Tokenizer, NllbTokenizer"):
        AutoTokenizer.from_pretrained(other)
    with pytest.raises(ValueError, match="names a T5Tokenizer, not a NllbTokenizer"):
        NllbTokenizer.from_pretrained(other)
    with pytest.raises(ValueError, match="names a NllbTokenizer, not a M2M100Tokenizer"):
        M2M100Tokenizer.from_pretrained(nllb_folders["saved"])


def test_a_bare_sentencepiece_folder(nllb_folders):
    """NllbTokenizer reads it as transformers does; AutoTokenizer cannot tell it is NLLB (no
    config names the class, and config.json says m2m_100 for both families) and says so."""
    with pytest.raises(FileNotFoundError) as err:
        AutoTokenizer.from_pretrained(nllb_folders["bare"])
    message = str(err.value)
    assert "vocab.json is missing" in message and "NllbTokenizer.from_pretrained" in message and "\n" not in message
    assert type(NllbTokenizer.from_pretrained(nllb_folders["bare"])) is NllbTokenizer


def test_a_folder_with_only_tokenizer_json_names_the_missing_file(nllb_folders, tmp_path):
    folder = shutil.copytree(nllb_folders["hub"], tmp_path / "fast-only")
    (folder / "sentencepiece.bpe.model").unlink()
    for load in (NllbTokenizer.from_pretrained, AutoTokenizer.from_pretrained):
        with pytest.raises(FileNotFoundError) as err:
            load(folder)
        message = str(err.value)
        assert message.startswith(f"{folder / 'sentencepiece.bpe.model'} is missing: NllbTokenizer needs")
        assert "only tokenizer.json, the fast tokenizer's file" in message and "\n" not in message


@pytest.mark.parametrize(
    ("text", "problem"),
    [("[]", "holds a JSON list"), ('{"added_tokens": [{"content": "x"}]}', '"added_tokens" should be a list')],
)
def test_a_malformed_tokenizer_json_is_named(nllb_folders, tmp_path, text, problem):
    folder = shutil.copytree(nllb_folders["hub"], tmp_path / "tok")
    (folder / "tokenizer.json").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as err:
        NllbTokenizer.from_pretrained(folder)
    assert str(err.value).startswith(str(folder / "tokenizer.json")) and problem in str(err.value)


def test_pickle_and_repr(nllb_folders):
    ours = NllbTokenizer.from_pretrained(nllb_folders["legacy"], src_lang="fra_Latn", tgt_lang="deu_Latn")
    copy = pickle.loads(pickle.dumps(ours))
    assert (copy.src_lang, copy.tgt_lang, copy.legacy_behaviour) == ("fra_Latn", "deu_Latn", True)
    for text in TEXTS[:20]:
        assert copy(text, text_target=text) == ours(text, text_target=text)
    assert "legacy_behaviour=True" in repr(ours) and "src_lang='fra_Latn'" in repr(ours)


# ------------------------------------------------------------------------------ the real size
@pytest.fixture(scope="module")
def real_size(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The hub layout and a bare folder with a sentencepiece model of NLLB-200's 256,000 pieces."""
    root = tmp_path_factory.mktemp("nllb-real-size")
    proto = pad_spm(train_spm())
    return {"hub": write_hub_folder(root / "hub", proto), "bare": write_bare_folder(root / "bare", proto)}


def test_the_real_vocabulary_size_gives_the_checkpoints_ids(real_size):
    ours = NllbTokenizer.from_pretrained(real_size["hub"])
    ref = transformers.NllbTokenizer.from_pretrained(str(real_size["hub"]))
    # The ids facebook/nllb-200-distilled-600M's tokenizer has, and its config's vocab_size 256206 covers.
    assert (ours.vocab_size, len(ours)) == (ref.vocab_size, len(ref)) == (256_001, 256_204)
    expected = {"ace_Arab": 256001, "eng_Latn": 256047, "fra_Latn": 256057, "zho_Hans": 256200, "zul_Latn": 256202}
    assert {code: ours.get_lang_id(code) for code in expected} == expected
    assert ours.mask_token_id == ref.mask_token_id == 256203
    assert list(ours.lang_code_to_id) == list(NLLB_CODES)
    for text in TEXTS:
        ids = ref(text).input_ids
        assert ours(text).input_ids == ids and ours.decode(ids) == ref.decode(ids), text


def test_a_bare_folder_of_the_real_size_is_one_off_and_says_so(real_size, caplog):
    with caplog.at_level(logging.WARNING, logger="m2m100.tokenizer.nllb"):
        ours = NllbTokenizer.from_pretrained(real_size["bare"])
    ref = transformers.NllbTokenizer.from_pretrained(str(real_size["bare"]))
    assert ours.get_lang_id("eng_Latn") == ref.convert_tokens_to_ids("eng_Latn") == 256048
    assert ours.mask_token_id == ref.mask_token_id == 256001
    assert "<mask> gets id 256001" in caplog.text and "eng_Latn = 256047" in caplog.text
