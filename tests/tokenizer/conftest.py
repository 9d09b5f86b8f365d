"""Tokenizer folders shared by the tokenizer tests: built once per session, in each layout."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from m2m100.tokenizer import M2M100Tokenizer
from tests.tokenizer.compare import HF, LAYOUTS
from tests.tokenizer_fixture import build_tokenizer_dir


@pytest.fixture(scope="session")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tokenizers")
    saved = build_tokenizer_dir(root / "saved")
    fresh = root / "fresh"  # what M2M100Tokenizer(vocab, spm) writes: no special language tokens
    HF(str(saved / "vocab.json"), str(saved / "sentencepiece.bpe.model")).save_pretrained(str(fresh))
    hub_added = build_tokenizer_dir(root / "hub_added", hub_layout=True)  # legacy added_tokens.json
    shutil.copy(saved / "added_tokens.json", hub_added / "added_tokens.json")
    return {
        "saved": saved,
        "hub_added": hub_added,
        "hub": build_tokenizer_dir(root / "hub", hub_layout=True),
        "fresh": fresh,
        "wmt21": build_tokenizer_dir(root / "wmt21", language_codes="wmt21"),
    }


@pytest.fixture(scope="module", params=LAYOUTS)
def pair(request: pytest.FixtureRequest, folders: dict[str, Path]) -> tuple[M2M100Tokenizer, HF]:
    folder = str(folders[request.param])
    return M2M100Tokenizer.from_pretrained(folder), HF.from_pretrained(folder)


@pytest.fixture(scope="module")
def saved_pair(folders: dict[str, Path]) -> tuple[M2M100Tokenizer, HF]:
    folder = str(folders["saved"])
    return M2M100Tokenizer.from_pretrained(folder, tgt_lang="fr"), HF.from_pretrained(folder, tgt_lang="fr")


# ------------------------------------------------------------------------------ NLLB
NLLB_LAYOUTS = ["hub", "saved", "legacy", "hub_legacy", "bare"]


@pytest.fixture(scope="session")
def nllb_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """NLLB tokenizer folders: the original hub layout (with and without legacy_behaviour in its
    config), what transformers saves from it (with legacy_behaviour False and True), and a bare
    sentencepiece model."""
    from tests.nllb_fixture import train_spm, write_bare_folder, write_hub_folder, write_saved_folder

    root = tmp_path_factory.mktemp("nllb")
    proto = train_spm()
    hub = write_hub_folder(root / "hub", proto)
    return {
        "hub": hub,
        "saved": write_saved_folder(root / "saved", hub),
        "legacy": write_saved_folder(root / "legacy", hub, legacy_behaviour=True),
        "hub_legacy": write_hub_folder(root / "hub_legacy", proto, legacy_behaviour=True),
        "bare": write_bare_folder(root / "bare", proto),
    }


@pytest.fixture(scope="module", params=NLLB_LAYOUTS)
def nllb_pair(request: pytest.FixtureRequest, nllb_folders: dict[str, Path]) -> tuple[Any, Any]:
    """Our NllbTokenizer and transformers' on the same folder."""
    import transformers

    from m2m100.tokenizer import NllbTokenizer

    folder = str(nllb_folders[request.param])
    return NllbTokenizer.from_pretrained(folder), transformers.NllbTokenizer.from_pretrained(folder)
