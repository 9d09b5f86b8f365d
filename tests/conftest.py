from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def translation_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny checkpoint folder with both tokenizer and model files, for Translator and CLI tests.

    max_position_embeddings is 64 so that "long" inputs are cheap. The weights are tuned so that
    translations differ between inputs and end at many lengths: special tokens (which
    ``skip_special_tokens`` would hide) are made unlikely and end-of-sequence likely in some states.
    """
    import transformers

    from tests.checkpoints import build_hf_model
    from tests.tokenizer_fixture import build_tokenizer_dir

    transformers.logging.set_verbosity_error()
    path = build_tokenizer_dir(tmp_path_factory.mktemp("translation") / "tiny")
    vocab = len(transformers.M2M100Tokenizer.from_pretrained(str(path)))
    model = build_hf_model(seed=1, std=0.3, vocab_size=vocab + 4, max_position_embeddings=64)
    with torch.no_grad():
        embedding = model.model.shared.weight  # tied: also the output layer
        pieces = len(json.loads((path / "vocab.json").read_text(encoding="utf-8")))
        embedding[pieces:] *= 0.1  # language tokens and made-up words
        embedding[3] *= 0.1  # <unk>
        bias = model.model.decoder.layer_norm.bias
        embedding[2] = 2.0 * embedding[2] + bias / bias.norm()  # </s>
    model.save_pretrained(path)
    return path


class Reference:
    """transformers 4.57 translating one input alone, the way its documentation shows: tokenize
    with ``src_lang`` set, ``generate`` with the target language forced, then
    ``batch_decode(skip_special_tokens=True)``. A blank text gives "" (no model call). Results are
    memoized, since the tests repeat inputs on purpose."""

    def __init__(self, folder: Path) -> None:
        import transformers

        self.tokenizer = transformers.M2M100Tokenizer.from_pretrained(str(folder))
        self.model = transformers.M2M100ForConditionalGeneration.from_pretrained(folder).eval()
        self._done: dict[tuple[Any, ...], str] = {}

    def __call__(self, text: str, src: str, tgt: str, *, beam_size: int, max_new_tokens: int) -> str:
        if not text.strip():
            return ""
        self.tokenizer.src_lang = src
        ids = self.tokenizer(text)["input_ids"]
        return self.from_ids(ids, tgt, beam_size=beam_size, max_new_tokens=max_new_tokens)

    def from_ids(self, ids: list[int], tgt: str, *, beam_size: int, max_new_tokens: int) -> str:
        """The translation of source ids ([src_lang] pieces </s>)."""
        key = (tuple(ids), tgt, beam_size, max_new_tokens)
        if key not in self._done:
            out = self.model.generate(
                torch.tensor([ids]),
                forced_bos_token_id=self.tokenizer.get_lang_id(tgt),
                num_beams=beam_size,
                max_new_tokens=max_new_tokens,
            )
            self._done[key] = self.tokenizer.batch_decode(out, skip_special_tokens=True)[0]
        return self._done[key]


@pytest.fixture(scope="module")
def reference(translation_folder: Path) -> Reference:
    """transformers' translation of one input alone (see :class:`Reference`)."""
    return Reference(translation_folder)


@pytest.fixture(scope="module")
def distinct_texts(reference: Reference) -> list[str]:
    """Single-line inputs of at most 60 tokens (the model takes 64) whose greedy en->fr
    translations all differ and are not empty, so that a mix-up of rows shows."""
    from tests.tokenizer_fixture import SAMPLE_TEXTS

    chosen: dict[str, str] = {}  # translation -> text
    for text in SAMPLE_TEXTS[90:]:
        if text.strip() and "\n" not in text and len(reference.tokenizer(text)["input_ids"]) <= 60:
            chosen.setdefault(reference(text, "en", "fr", beam_size=1, max_new_tokens=8), text)
    chosen.pop("", None)
    return list(chosen.values())
