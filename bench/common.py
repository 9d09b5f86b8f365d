"""Shared pieces of the benchmarks: the full-size random checkpoint and the workloads.

The checkpoint is built once with transformers (random weights shaped like
facebook/m2m100_418M) and cached under bench/.cache, so every system reads the same weights.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from m2m100.runtime import tune_malloc

tune_malloc()  # as the m2m100 command does: the benchmarks measure what the CLI and server run

CACHE = Path(os.environ.get("M2M100_BENCH_CACHE", Path(__file__).parent / ".cache"))


def random_418m_checkpoint(*, seed: int = 0) -> Path:
    """A facebook/m2m100_418M-shaped checkpoint with seeded random weights (built once)."""
    folder = CACHE / "m2m100_418M_random"
    if (folder / "model.safetensors").is_file():
        return folder
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    torch.manual_seed(seed)
    model = M2M100ForConditionalGeneration(M2M100Config())
    # With transformers' N(0, 0.02) init the scaled embedding of the last token dominates the
    # residual stream and the tied head repeats it forever. Layer weights of std 1.5/sqrt(fan_in)
    # let the layers decide, so the outputs vary and the beams really branch.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("proj.weight") or name.endswith("fc1.weight") or name.endswith("fc2.weight"):
                param.normal_(0.0, 1.5 / param.shape[1] ** 0.5)
    folder.mkdir(parents=True, exist_ok=True)
    write_full_size_tokenizer(folder)
    model.save_pretrained(folder)
    del model
    gc.collect()
    return folder


def random_418m_int8_checkpoint() -> Path:
    """:func:`random_418m_checkpoint` written as an int8 checkpoint (``m2m100 quantize``), built once."""
    folder = CACHE / "m2m100_418M_random_int8"
    if (folder / "model.safetensors").is_file():
        return folder
    from m2m100.checkpoint import staged_folder
    from m2m100.modeling import M2M100ForConditionalGeneration

    source = random_418m_checkpoint()
    model = M2M100ForConditionalGeneration.from_pretrained(source, quantize="int8")
    with staged_folder(folder) as staging:
        model.save_pretrained(staging)
    del model
    gc.collect()
    return folder


def write_full_size_tokenizer(folder: Path) -> None:
    """A tokenizer folder with the 418M's id layout: 128,004 vocab.json entries, then the 100
    language tokens (CTranslate2's converter needs one; the benchmarks work on ids, so the pieces
    only have to be distinct strings)."""
    import json

    import sentencepiece as spm

    from m2m100.languages import language_codes

    corpus = folder / "spm_corpus.txt"
    corpus.write_text("\n".join(f"sentence number {i} for the benchmark tokenizer" for i in range(200)))
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(folder / "sentencepiece.bpe"),
        vocab_size=60,
        model_type="bpe",
        minloglevel=2,
    )
    corpus.unlink()
    (folder / "sentencepiece.bpe.vocab").unlink()
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    vocab.update({f"\u2581t{i}": i for i in range(4, 128004)})
    (folder / "vocab.json").write_text(json.dumps(vocab))
    langs = [f"__{c}__" for c in language_codes("m2m100")]
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "M2M100Tokenizer",
                "model_max_length": 1024,
                "additional_special_tokens": langs,
                "language_codes": "m2m100",
                "num_madeup_words": 8,
            }
        )
    )
    (folder / "special_tokens_map.json").write_text(
        json.dumps(
            {
                "bos_token": "<s>",
                "eos_token": "</s>",
                "unk_token": "<unk>",
                "sep_token": "</s>",
                "pad_token": "<pad>",
                "additional_special_tokens": langs,
            }
        )
    )


def source_batch(batch: int, *, vocab: int = 128112, min_len: int = 12, max_len: int = 40, seed: int = 0):
    """``batch`` right-padded sources of ``min_len``..``max_len`` tokens ([lang] ... </s>)."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(min_len, max_len + 1, (batch,), generator=g).tolist()
    width = max(lengths)
    ids = torch.full((batch, width), 1, dtype=torch.long)
    for row, n in enumerate(lengths):
        ids[row, 0] = 128022  # __en__
        ids[row, 1 : n - 1] = torch.randint(4, 128000, (n - 2,), generator=g)
        ids[row, n - 1] = 2
    return ids, (ids != 1).long()


def best_of(fn: Callable[[], object], repeats: int = 3) -> tuple[float, object]:
    """The fastest of ``repeats`` runs (after the first result is kept) and that result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def median(values: list[float]) -> float:
    return statistics.median(values)


def token_strings(folder: Path) -> list[str]:
    """Token string of every id of the model's vocabulary (what CTranslate2 takes and returns)."""
    import json

    from m2m100.languages import language_codes

    vocab = json.loads((folder / "vocab.json").read_text())
    tokens = [""] * len(vocab)
    for token, index in vocab.items():
        tokens[index] = token
    tokens += [f"__{c}__" for c in language_codes("m2m100")]
    tokens += [f"madeupword{i}" for i in range(8)]
    return tokens
