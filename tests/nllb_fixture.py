"""Tiny NLLB-200 tokenizer folders for tests, built offline in about a second, in each layout.

``train_spm`` trains a small sentencepiece BPE model the way NLLB's is set up (``<unk>`` 0, ``<s>``
1, ``</s>`` 2; fairseq shifts every piece by one). ``pad_spm`` grows it to the real 256,000
pieces with pieces no text can form, so that ids land where facebook/nllb-200-* has them
(``eng_Latn`` = 256047). The folders:

* ``write_hub_folder``: the original hub layout: tokenizer_config.json without
  ``added_tokens_decoder``, the codes in special_tokens_map.json, their ids in tokenizer.json's
  ``"added_tokens"`` (the only part of tokenizer.json a slow tokenizer reads, and all this one
  holds), language codes first and ``<mask>`` last as in the checkpoints.
* ``write_saved_folder``: what transformers' ``save_pretrained`` writes from the hub layout.
* a bare folder: sentencepiece.bpe.model alone.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2

from m2m100.languages import NLLB_CODES
from tests.tokenizer_fixture import _sentences

MODEL_MAX_LENGTH = 1024
REAL_PIECES = 256_000  # facebook/nllb-200-*: vocab_size 256001, language codes from 256001


def train_spm(vocab_size: int = 400) -> bytes:
    """A small BPE model with sentencepiece's default <unk> 0, <s> 1, </s> 2, as NLLB's has."""
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_sentences(600, seed=10)),
        model_writer=model,
        model_type="bpe",
        vocab_size=vocab_size,
        character_coverage=1.0,
        num_threads=1,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return model.getvalue()


def pad_spm(proto: bytes, pieces: int = REAL_PIECES) -> bytes:
    """The model grown to ``pieces`` pieces with never-formed ones (a private-use character no
    text holds, then digits), so that ids are those of a vocabulary of the real size."""
    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(proto)
    lowest = min(p.score for p in model.pieces)
    for i in range(len(model.pieces), pieces):
        piece = model.pieces.add()
        piece.piece, piece.score = f"\U000f0000{i}", lowest - 1.0
    return model.SerializeToString()


def _added_tokens(pieces: int, codes: list[str]) -> list[dict]:
    """tokenizer.json's added tokens as the hub has them: specials, language codes, <mask>."""

    def token(index: int, content: str, *, mask: bool = False) -> dict:
        return {
            "id": index,
            "content": content,
            "single_word": False,
            "lstrip": mask,
            "rstrip": False,
            "normalized": mask,
            "special": True,
        }

    first = pieces + 1
    found = [token(i, t) for i, t in enumerate(["<s>", "<pad>", "</s>", "<unk>"])]
    found += [token(first + i, code) for i, code in enumerate(codes)]
    return found + [token(first + len(codes), "<mask>", mask=True)]


def write_hub_folder(path: Path, proto: bytes, *, legacy_behaviour: bool | None = None) -> Path:
    """The original facebook/nllb-200 layout (see the module docstring) at ``path``.

    Args:
        path: The folder (created if missing).
        proto: The sentencepiece model.
        legacy_behaviour: Written into tokenizer_config.json when not None.

    Returns:
        ``path``.
    """
    path.mkdir(parents=True, exist_ok=True)
    (path / "sentencepiece.bpe.model").write_bytes(proto)
    codes = list(NLLB_CODES)
    mask = {"content": "<mask>", "lstrip": True, "normalized": True, "rstrip": False, "single_word": False}
    config = {
        "additional_special_tokens": None,
        "bos_token": "<s>",
        "cls_token": "<s>",
        "eos_token": "</s>",
        "mask_token": {"__type": "AddedToken", **mask},
        "model_max_length": MODEL_MAX_LENGTH,
        "name_or_path": "facebook/nllb-200-distilled-600M",
        "pad_token": "<pad>",
        "sep_token": "</s>",
        "sp_model_kwargs": {},
        "special_tokens_map_file": None,
        "src_lang": None,
        "tgt_lang": None,
        "tokenizer_class": "NllbTokenizer",
        "tokenizer_file": "/home/user/.cache/nllb/tokenizer.json",
        "unk_token": "<unk>",
    }
    if legacy_behaviour is not None:
        config["legacy_behaviour"] = legacy_behaviour
    special = {
        "additional_special_tokens": codes,
        "bos_token": "<s>",
        "cls_token": "<s>",
        "eos_token": "</s>",
        "mask_token": mask,
        "pad_token": "<pad>",
        "sep_token": "</s>",
        "unk_token": "<unk>",
    }
    pieces = spm.SentencePieceProcessor(model_proto=proto).get_piece_size()
    fast = {"version": "1.0", "added_tokens": _added_tokens(pieces, codes)}
    for name, data in (
        ("tokenizer_config.json", config),
        ("special_tokens_map.json", special),
        ("tokenizer.json", fast),
    ):
        (path / name).write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def write_saved_folder(path: Path, hub: Path, **kwargs: object) -> Path:
    """What transformers 4.57's slow NllbTokenizer saves after loading ``hub`` with ``kwargs``."""
    from transformers import NllbTokenizer

    NllbTokenizer.from_pretrained(str(hub), **kwargs).save_pretrained(str(path))
    return path


def write_bare_folder(path: Path, proto: bytes) -> Path:
    """A folder with sentencepiece.bpe.model alone."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "sentencepiece.bpe.model").write_bytes(proto)
    return path


# Texts that exercise NLLB's added tokens: language codes, <mask> (which eats the space on its
# left), the special tokens, and look-alikes that are not tokens.
NLLB_TEXTS = [
    "eng_Latn Hello world",
    "Hello eng_Latn world",
    "fra_Latn",
    "zho_Hans 生活就像一盒巧克力。",
    "eng_Latneng_Latn",
    "eng_latn ENG_LATN eng-Latn",
    "Hello <mask> world",
    "Hello<mask>world",
    "  <mask>  ",
    "<mask> first and last <mask>",
    "</s> eng_Latn <s> <pad> <unk>",
    "x</s>y",
    "xyz_Abcd is not a code",
    "ace_Arab\u00a0ace_Latn\tzul_Latn\n",
]


# ------------------------------------------------------------------------------ checkpoints
# facebook/nllb-200-distilled-600M's config.json, key for key; the sizes are the real ones here and
# made tiny by build_checkpoint.
NLLB_CONFIG = {
    "_name_or_path": "facebook/nllb-200-distilled-600M",
    "activation_dropout": 0.0,
    "activation_function": "relu",
    "architectures": ["M2M100ForConditionalGeneration"],
    "attention_dropout": 0.1,
    "bos_token_id": 0,
    "d_model": 1024,
    "decoder_attention_heads": 16,
    "decoder_ffn_dim": 4096,
    "decoder_layerdrop": 0,
    "decoder_layers": 12,
    "decoder_start_token_id": 2,
    "dropout": 0.1,
    "encoder_attention_heads": 16,
    "encoder_ffn_dim": 4096,
    "encoder_layerdrop": 0,
    "encoder_layers": 12,
    "eos_token_id": 2,
    "init_std": 0.02,
    "is_encoder_decoder": True,
    "max_length": 200,
    "max_position_embeddings": 1024,
    "model_type": "m2m_100",
    "num_hidden_layers": 12,
    "pad_token_id": 1,
    "scale_embedding": True,
    "torch_dtype": "float32",
    "transformers_version": "4.21.0.dev0",
    "use_cache": True,
    "vocab_size": 256206,
}
NLLB_GENERATION_CONFIG = {
    "_from_model_config": True,
    "bos_token_id": 0,
    "decoder_start_token_id": 2,
    "eos_token_id": 2,
    "max_length": 200,
    "pad_token_id": 1,
    "transformers_version": "4.27.0.dev0",
}
TINY_SIZES = {
    "d_model": 32,
    "decoder_attention_heads": 4,
    "decoder_ffn_dim": 64,
    "decoder_layers": 2,
    "encoder_attention_heads": 4,
    "encoder_ffn_dim": 64,
    "encoder_layers": 2,
    "num_hidden_layers": 2,
    "max_position_embeddings": 64,
}


def build_checkpoint(
    path: Path, proto: bytes, *, seed: int = 1, legacy_behaviour: bool | None = None, **sizes: int
) -> Path:
    """A random NLLB-shaped checkpoint at ``path``: the hub tokenizer layout of ``proto``, weights
    written by transformers, and config.json / generation_config.json with the real files' keys.

    The embedding has two rows more than the tokenizer has tokens, as the real one (256206 for
    256204). Weights are drawn so that translations differ between inputs and end at varied
    lengths: the rows of added tokens (language codes, <mask>, the spare rows), which
    ``skip_special_tokens`` would hide or which have no piece, are made unlikely, and </s> likely
    in some states.

    Args:
        path: The folder (created if missing).
        proto: The sentencepiece model (``pad_spm(train_spm())`` for the real vocabulary size).
        seed: Seed of the weights.
        legacy_behaviour: Written into tokenizer_config.json when not None.
        **sizes: Overrides of ``TINY_SIZES``.

    Returns:
        ``path``.
    """
    import torch

    from tests.checkpoints import build_hf_model

    write_hub_folder(path, proto, legacy_behaviour=legacy_behaviour)
    pieces = spm.SentencePieceProcessor(model_proto=proto).get_piece_size() + 1
    config = {**NLLB_CONFIG, **TINY_SIZES, **sizes, "vocab_size": pieces + len(NLLB_CODES) + 1 + 2}
    keys = {k: v for k, v in config.items() if not k.startswith("_") and k not in ("architectures", "model_type")}
    model = build_hf_model(seed=seed, std=0.3, **{**keys, "dropout": 0.0, "attention_dropout": 0.0})
    with torch.no_grad():
        embedding = model.model.shared.weight  # tied: also the output layer
        embedding[pieces:] *= 0.1
        embedding[3] *= 0.1  # <unk>
        bias = model.model.decoder.layer_norm.bias
        embedding[2] = 3.0 * embedding[2] + 2.5 * bias / bias.norm()  # </s>
    model.save_pretrained(path)
    (path / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    (path / "generation_config.json").write_text(json.dumps(NLLB_GENERATION_CONFIG, indent=2), encoding="utf-8")
    return path
