"""Fixtures of the training tests: one thread, and the tiny model with its data files."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from m2m100.config import M2M100Config
from m2m100.modeling import M2M100ForConditionalGeneration
from m2m100.tokenizer import M2M100Tokenizer
from tests.training.runs import EN_FR, PAIRS, TINY


@pytest.fixture(autouse=True)
def _one_thread() -> Any:
    """The in-process runs on one thread: a tiny model gains nothing from two, and on shared
    cores a second thread mostly waits."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A tokenizer folder, a random tiny checkpoint (model + tokenizer), its config.json, and
    data files: TSV en->fr, JSONL en->fr and de->es."""
    from tests.tokenizer_fixture import build_tokenizer_dir

    root = tmp_path_factory.mktemp("finetune")
    tokenizer_dir = build_tokenizer_dir(root / "tokenizer")
    tokenizer = M2M100Tokenizer.from_pretrained(tokenizer_dir)
    config = M2M100Config(vocab_size=tokenizer.encoder_size + len(tokenizer.lang_code_to_id) + 8, **TINY)
    torch.manual_seed(0)
    M2M100ForConditionalGeneration(config).save_pretrained(root / "model")
    tokenizer.save_pretrained(root / "model")
    (root / "config.json").write_text(config.to_json_string(), encoding="utf-8")
    tsv = root / "train.tsv"
    tsv.write_text("".join(f"{src}\t{tgt}\n" for _, _, src, tgt in EN_FR), encoding="utf-8")
    jsonl = root / "train.jsonl"
    jsonl.write_text(
        "".join(
            json.dumps(dict(src_lang=s, tgt_lang=t, src=a, tgt=b), ensure_ascii=False) + "\n" for s, t, a, b in PAIRS
        ),
        encoding="utf-8",
    )
    return SimpleNamespace(
        root=root, tokenizer=tokenizer_dir, model=root / "model", config=root / "config.json", tsv=tsv, jsonl=jsonl
    )
