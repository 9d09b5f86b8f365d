"""The demo model's tokenizer folder and architecture.

The tokenizer is laid out like the facebook/m2m100 checkpoints: a sentencepiece BPE model
(``sentencepiece.bpe.model``) and fairseq's dictionary (``vocab.json``: ``<s>``, ``<pad>``,
``</s>``, ``<unk>``, then the pieces), followed by the 100 language tokens ``__xx__`` of every
M2M100 code, so that any code the library knows is a valid token even where the demo was not
trained on it. ``character_coverage=1.0`` keeps every character of the training text (CJK, Hangul,
Hebrew ...) as a piece; ``byte_fallback`` spells any other character in UTF-8 bytes instead of
``<unk>``.

The vocabulary is small (2000 pieces: 758 characters, 256 bytes, the rest merges) because the
test numbers are new combinations of seen parts: a piece that spans two parts ("五千" for
5000, "miladue" for Italian "...mila due...") turns a held-out number into a piece pair that no
training text holds, and the model cannot compose it. Of the held-out test texts, 86% have only
piece pairs seen in training with 2000 pieces, 55% with 4000 (a trial model trained on the
4000-piece vocabulary failed exactly the languages worst by that count: it, ja, ko, tr). BPE is
used as in the real checkpoints; a unigram model did no better by that count.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import sentencepiece as spm
import torch

from m2m100.config import M2M100Config
from m2m100.languages import language_codes
from m2m100.modeling import M2M100ForConditionalGeneration
from m2m100.tokenizer import M2M100Tokenizer

# Longest input in tokens. A number takes at most about 20 pieces, the longest CLDR name 50 (a
# Danish territory name); positions are sinusoidal (no parameters), a larger table only costs memory.
MAX_POSITIONS = 128


def train_sentencepiece(texts: Sequence[str], *, vocab_size: int) -> bytes:
    """A BPE sentencepiece model trained on ``texts`` (the same bytes for the same texts).

    Args:
        texts: The training sentences.
        vocab_size: Pieces wanted; fewer when the text has too few distinct merges.

    Returns:
        The serialized model.
    """
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=model,
        model_type="bpe",
        vocab_size=vocab_size,
        character_coverage=1.0,
        byte_fallback=True,
        # NFKC without the "nmt" rules, which turn the zero-width non-joiner of Persian words
        # into a space (the decoded text would then never equal the reference).
        normalization_rule_name="nfkc",
        # fairseq's dictionary has its own <s>/<pad>/</s>/<unk>; sentencepiece keeps only its unk.
        bos_id=-1,
        eos_id=-1,
        hard_vocab_limit=False,
        input_sentence_size=0,  # all of it: the text is small
        num_threads=1,  # one thread: the merges, and so the bytes, do not depend on scheduling
        minloglevel=2,
    )
    return model.getvalue()


def fairseq_vocab(proto: bytes) -> dict[str, int]:
    """fairseq's dictionary for a sentencepiece model: the four specials, then every piece
    but sentencepiece's own ``<unk>`` in sentencepiece's order."""
    sp = spm.SentencePieceProcessor(model_proto=proto)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for i in range(sp.get_piece_size()):
        if not sp.is_unknown(i):
            vocab.setdefault(sp.id_to_piece(i), len(vocab))
    return vocab


def write_tokenizer(folder: Path, texts: Sequence[str], *, vocab_size: int) -> M2M100Tokenizer:
    """Train the vocabulary on ``texts`` and write a complete tokenizer folder (what
    transformers 4.57 writes for facebook/m2m100_418M, with ``model_max_length`` MAX_POSITIONS).

    Returns:
        The tokenizer, loaded back from ``folder``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    proto = train_sentencepiece(texts, vocab_size=vocab_size)
    (folder / "sentencepiece.bpe.model").write_bytes(proto)
    (folder / "vocab.json").write_text(json.dumps(fairseq_vocab(proto), ensure_ascii=False, indent=2), encoding="utf-8")
    lang_tokens = [f"__{code}__" for code in language_codes("m2m100")]
    special = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "pad_token": "<pad>",
        "additional_special_tokens": lang_tokens,
    }
    config = {
        **special,
        "src_lang": None,
        "tgt_lang": None,
        "language_codes": "m2m100",
        "num_madeup_words": 8,
        "model_max_length": MAX_POSITIONS,
        "tokenizer_class": "M2M100Tokenizer",
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2), encoding="utf-8")
    # Loaded and saved again, the folder gets the layout the current transformers writes
    # (language tokens as special added tokens in tokenizer_config.json).
    M2M100Tokenizer.from_pretrained(folder).save_pretrained(folder)
    return M2M100Tokenizer.from_pretrained(folder)


def model_config(vocab_size: int) -> M2M100Config:
    """The demo architecture: M2M100 at about 1/60 of the 418M model's width and 1/4 of its depth.

    d_model 256 with 4 heads of 64 (the head size of the real models), 3 encoder and 3 decoder
    layers with 1024-wide feed-forwards: about 6.1 M parameters with the 2000-piece vocabulary,
    12 MB in float16, fast enough to train on one GPU in minutes and to run on a laptop CPU. The texts
    are short phrases, so depth matters less than it does for sentences; layerdrop, which drops
    whole layers, is off (with 3 layers it would remove a third of the model); dropout 0.1 as in
    the real models.

    Args:
        vocab_size: ``len(tokenizer)``: pieces, specials and the 100 language tokens.
    """
    return M2M100Config(
        vocab_size=vocab_size,
        max_position_embeddings=MAX_POSITIONS,
        d_model=256,
        encoder_layers=3,
        decoder_layers=3,
        encoder_ffn_dim=1024,
        decoder_ffn_dim=1024,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_layerdrop=0.0,
        decoder_layerdrop=0.0,
        dropout=0.1,
        attention_dropout=0.1,
        activation_dropout=0.0,
        activation_function="relu",
        scale_embedding=True,
        decoder_start_token_id=2,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        tie_word_embeddings=True,
    )


def parameter_count(config: M2M100Config) -> int:
    """Parameters of the model ``config`` describes, as its ``num_parameters`` counts them (the
    tied embedding once), on the meta device without allocating them (``m2m100 info`` and the
    demo build report it)."""
    with torch.device("meta"):
        return M2M100ForConditionalGeneration(config).num_parameters()
