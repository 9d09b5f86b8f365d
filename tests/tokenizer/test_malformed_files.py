"""Malformed tokenizer files, written for real: each is refused with one line that names the file
and what is wrong, never a traceback from deep inside the tokenizer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from m2m100.tokenizer import M2M100Tokenizer

CASES = [
    ("vocab.json", "[]", "holds a JSON list; it should be an object of pieces to ids"),
    ("vocab.json", "{}", "is empty"),
    ("vocab.json", '{"<s>": -1}', "the id of '<s>' is -1"),
    ("vocab.json", '{"<s>": 0,', "is not valid JSON"),
    ("sentencepiece.bpe.model", "garbage", "is not a sentencepiece model"),
    ("sentencepiece.bpe.model", "", "is not a sentencepiece model"),
    ("tokenizer_config.json", '"M2M100Tokenizer"', "holds a JSON str"),
    ("tokenizer_config.json", '{"added_tokens_decoder": [1]}', '"added_tokens_decoder" should map ids to tokens'),
    ("tokenizer_config.json", '{"added_tokens_decoder": {"0": 5}}', '"added_tokens_decoder" should map ids to tokens'),
    ("special_tokens_map.json", "[]", "holds a JSON list"),
    ("added_tokens.json", '{"<x>": "one"}', "the id of '<x>' is 'one'"),
]


@pytest.mark.parametrize(("name", "text", "problem"), CASES)
def test_a_malformed_file_is_named_with_its_problem(folders: dict[str, Path], tmp_path: Path, name, text, problem):
    # The legacy layout reads special_tokens_map.json and added_tokens.json; the saved one the config.
    layout = "hub_added" if name in ("special_tokens_map.json", "added_tokens.json") else "saved"
    folder = shutil.copytree(folders[layout], tmp_path / "tok")
    (folder / name).write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as err:
        M2M100Tokenizer.from_pretrained(folder)
    message = str(err.value)
    assert message.startswith(str(folder / name)) and problem in message and "\n" not in message


def test_the_checks_let_every_real_layout_through(folders: dict[str, Path]):
    for folder in folders.values():
        tokenizer = M2M100Tokenizer.from_pretrained(folder)
        vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        assert tokenizer.encoder == vocab
