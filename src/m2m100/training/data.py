"""Parallel data for fine-tuning: read sentence pairs, tokenize them, plan token-budget batches.

Two file formats: TSV (``source<TAB>target`` a line, one direction given by the caller) and
JSONL (``{"src_lang", "tgt_lang", "src", "tgt"}`` a line, so one file may hold many directions).
Batches are planned once, fairseq-style: pairs sorted by length and cut into batches whose padded
size (source plus target tokens) fits a token budget; each epoch shuffles the batches, not the
pairs, with an RNG seeded by the epoch. A training step takes the next ``group`` batches of that
order (:func:`step_batches`), which is what lets N processes reproduce one process that
accumulates N batches.
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from m2m100.languages import unknown_language_error
from m2m100.translator import text_problem

logger = logging.getLogger(__name__)

FORMATS = ("tsv", "jsonl")
IGNORE_INDEX = -100  # label of a padded target position; the loss skips it


class DataError(ValueError):
    """A data file that cannot be used; the message starts with ``file:line`` where it can."""


class UnknownLanguageError(ValueError):
    """A language code in the data or the options that the tokenizer (or the model) does not know."""


@dataclass(frozen=True)
class Pair:
    """One sentence pair and where it was read ("file:line"), for error messages."""

    src_lang: str
    tgt_lang: str
    src: str
    tgt: str
    where: str


@dataclass
class ReadResult:
    """The usable pairs of a file, and the bad lines left out under ``skip_bad_lines``."""

    pairs: list[Pair]
    skipped: list[str] = field(default_factory=list)  # "file:line: reason" of each bad line


class _BadLine(Exception):
    """A line that is not a pair; the reason goes into a DataError or the skipped list."""


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format of a data file: "jsonl" for .jsonl/.ndjson, "tsv" for .tsv/.txt, otherwise
    guessed from the first non-blank line (a "{" starts JSONL)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".tsv", ".txt"):
        return "tsv"
    with open(path, "rb") as handle:
        for raw in handle:
            if raw.strip():
                return "jsonl" if raw.lstrip().startswith(b"{") else "tsv"
    return "tsv"


def read_pairs(
    path: str | os.PathLike[str],
    *,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    skip_bad_lines: bool = False,
    fmt: str | None = None,
) -> ReadResult:
    """Read the sentence pairs of a TSV or JSONL file; blank lines are ignored.

    Args:
        src_lang, tgt_lang: The direction of a TSV file; JSONL lines may carry their own
            ("src_lang"/"tgt_lang" keys) and fall back to these.
        skip_bad_lines: Leave out malformed lines (listed in the result) instead of stopping.
        fmt: "tsv" or "jsonl"; default: :func:`detect_format`.

    Returns:
        The pairs in file order and the skipped lines.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        DataError: A malformed line ("file:line: why"), without ``skip_bad_lines``; or no pair at all.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"data file {path} does not exist")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise ValueError(f"data format {fmt!r} is not supported; valid: {', '.join(FORMATS)}")
    if fmt == "tsv" and (src_lang is None or tgt_lang is None):
        raise DataError(f"{path} is TSV, which holds no language codes: give the direction (--src-lang, --tgt-lang)")
    parse = _parse_tsv if fmt == "tsv" else _parse_jsonl
    result = ReadResult([])
    for number, text in _lines(path):
        where = f"{path}:{number}"
        try:
            if text is None:
                raise _BadLine("not valid UTF-8")
            if not text.strip():
                continue
            src_code, tgt_code, src, tgt = parse(text, src_lang, tgt_lang)
            for name, value in (
                ("source", src),
                ("target", tgt),
                ("source language", src_code),
                ("target language", tgt_code),
            ):
                problem = text_problem(value)  # sentencepiece would raise mid-tokenization
                if problem is not None:
                    raise _BadLine(f"{name}: {problem}")
        except _BadLine as err:
            if not skip_bad_lines:
                raise DataError(f"{where}: {err} (pass --skip-bad-lines to leave such lines out)") from None
            result.skipped.append(f"{where}: {err}")
            continue
        result.pairs.append(Pair(src_code, tgt_code, src, tgt, where))
    if result.skipped:
        logger.warning("%s: left out %d bad line(s); the first: %s", path, len(result.skipped), result.skipped[0])
    if not result.pairs:
        raise DataError(f"{path} holds no sentence pair")
    return result


def _lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str | None]]:
    """(1-based number, text) of each line, split on "\\n" only; None for a line that is not UTF-8."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            raw = raw.rstrip(b"\n").rstrip(b"\r")
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError:
                yield number, None


def _parse_tsv(text: str, src_lang: str | None, tgt_lang: str | None) -> tuple[str, str, str, str]:
    fields = text.split("\t")
    if len(fields) != 2:
        raise _BadLine(f"expected 2 tab-separated fields (source, target), found {len(fields)}")
    src, tgt = fields
    if not src.strip() or not tgt.strip():
        raise _BadLine(f"empty {'source' if not src.strip() else 'target'}")
    assert src_lang is not None and tgt_lang is not None  # read_pairs checked it
    return src_lang, tgt_lang, src, tgt


def _parse_jsonl(text: str, src_lang: str | None, tgt_lang: str | None) -> tuple[str, str, str, str]:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as err:
        raise _BadLine(f"not a JSON object ({err.msg})") from None
    if not isinstance(record, dict):
        raise _BadLine(f"not a JSON object: {text[:80]!r}")
    values: dict[str, Any] = {"src_lang": src_lang, "tgt_lang": tgt_lang, **record}
    for key in ("src_lang", "tgt_lang", "src", "tgt"):
        value = values.get(key)
        if value is None:
            hint = " and no --src-lang/--tgt-lang given" if key.endswith("lang") else ""
            raise _BadLine(
                f'no "{key}"{hint}; a line reads {{"src_lang": "en", "tgt_lang": "fr", "src": ..., "tgt": ...}}'
            )
        if not isinstance(value, str):
            raise _BadLine(f'"{key}" must be a string, got {value!r}')
    if not values["src"].strip() or not values["tgt"].strip():
        raise _BadLine(f'empty "{"src" if not values["src"].strip() else "tgt"}"')
    return values["src_lang"], values["tgt_lang"], values["src"], values["tgt"]


def check_languages(pairs: Sequence[Pair], valid: Sequence[str]) -> None:
    """Stop at the first pair whose language code is not in ``valid``.

    Raises:
        UnknownLanguageError: "file:line: Unknown language code 'xx'. Did you mean ...".
    """
    known = set(valid)
    for pair in pairs:
        for code in (pair.src_lang, pair.tgt_lang):
            if code not in known:
                raise UnknownLanguageError(f"{pair.where}: {unknown_language_error(code, valid)}")


# ------------------------------------------------------------------------------------------
# Tokens and batches
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Example:
    """A tokenized pair: ``[__src__] pieces </s>`` and ``[__tgt__] pieces </s>`` (the labels)."""

    src_ids: list[int]
    tgt_ids: list[int]
    pair: Pair


def tokenize_pairs(pairs: Sequence[Pair], tokenizer: Any, *, max_length: int) -> tuple[list[Example], int]:
    """Tokenize every pair with the tokenizer's ``src_lang``/``tgt_lang`` set to the pair's.

    Returns:
        The examples, in the order of ``pairs``, and how many pairs were left out because a side
        is longer than ``max_length`` tokens (fairseq skips such pairs rather than cut them).
    """
    by_direction: dict[tuple[str, str], list[int]] = {}
    for i, pair in enumerate(pairs):
        by_direction.setdefault((pair.src_lang, pair.tgt_lang), []).append(i)
    encoded: dict[int, tuple[list[int], list[int]]] = {}
    for (src_lang, tgt_lang), indices in by_direction.items():
        tokenizer.src_lang, tokenizer.tgt_lang = src_lang, tgt_lang
        out = tokenizer([pairs[i].src for i in indices], text_target=[pairs[i].tgt for i in indices])
        for i, src_ids, tgt_ids in zip(indices, out["input_ids"], out["labels"]):
            encoded[i] = (src_ids, tgt_ids)
    examples, too_long = [], 0
    for i, pair in enumerate(pairs):
        src_ids, tgt_ids = encoded[i]
        if len(src_ids) > max_length or len(tgt_ids) > max_length:
            too_long += 1
            continue
        examples.append(Example(src_ids, tgt_ids, pair))
    return examples, too_long


def batch_cost(examples: Sequence[Example], indices: Sequence[int]) -> int:
    """Tokens of a padded batch: rows times (longest source + longest target)."""
    src = max(len(examples[i].src_ids) for i in indices)
    tgt = max(len(examples[i].tgt_ids) for i in indices)
    return len(indices) * (src + tgt)


def plan_batches(examples: Sequence[Example], max_tokens: int) -> tuple[list[list[int]], int]:
    """Cut the examples, sorted by (source, target) length, into batches of at most
    ``max_tokens`` padded tokens.

    Returns:
        The batches (lists of example indices, shortest first) and the number of examples left
        out because even alone they exceed the budget.
    """
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i].src_ids), len(examples[i].tgt_ids), i))
    batches: list[list[int]] = []
    current: list[int] = []
    too_big = 0
    for i in order:
        if batch_cost(examples, [i]) > max_tokens:
            too_big += 1
        elif current and batch_cost(examples, current + [i]) > max_tokens:
            batches.append(current)
            current = [i]
        else:
            current.append(i)
    if current:
        batches.append(current)
    return batches, too_big


def epoch_order(batches: Sequence[list[int]], *, seed: int, epoch: int) -> list[list[int]]:
    """The batches in the order epoch ``epoch`` visits them (the same on every process)."""
    order = list(batches)
    random.Random(seed * 100_003 + epoch).shuffle(order)
    return order


def steps_per_epoch(num_batches: int, group: int) -> int:
    """Steps that visit every batch once when a step takes ``group`` batches."""
    return -(-num_batches // group)


def step_batches(order: Sequence[list[int]], step_in_epoch: int, group: int) -> list[list[int]]:
    """The ``group`` batches of one step. The epoch's last step, when the batches do not divide
    evenly, is filled from the start of the order, so that every process has the same number of
    batches (as DistributedSampler pads)."""
    start = step_in_epoch * group
    return [order[(start + j) % len(order)] for j in range(group)]


@dataclass
class Dataset:
    """A data file ready for training: its examples, its batch plan, and what was left out."""

    examples: list[Example]
    batches: list[list[int]]  # example indices, see plan_batches
    skipped_lines: int  # malformed lines left out (skip_bad_lines)
    left_out: int  # pairs longer than max_length, or than max_tokens together


def load_dataset(
    path: str | os.PathLike[str],
    tokenizer: Any,
    *,
    src_lang: str | None,
    tgt_lang: str | None,
    skip_bad_lines: bool,
    max_length: int,
    max_tokens: int,
    vocab_size: int,
) -> Dataset:
    """Read a data file, check its language codes, tokenize it and plan its batches.

    Args:
        vocab_size: Rows of the model's embedding: a language token beyond it is unknown to the
            model even if the tokenizer has it.

    Raises:
        FileNotFoundError, DataError: see :func:`read_pairs`; DataError too when no pair fits.
        UnknownLanguageError: a code the tokenizer or the model does not know ("file:line: ...").
    """
    read = read_pairs(path, src_lang=src_lang, tgt_lang=tgt_lang, skip_bad_lines=skip_bad_lines)
    check_languages(read.pairs, list(tokenizer.lang_code_to_id))
    for pair in read.pairs:
        for code in (pair.src_lang, pair.tgt_lang):
            token_id = tokenizer.get_lang_id(code)
            if token_id >= vocab_size:
                raise UnknownLanguageError(
                    f"{pair.where}: language {code!r} has token id {token_id}, beyond the "
                    f"model's vocabulary of {vocab_size}"
                )
    examples, too_long = tokenize_pairs(read.pairs, tokenizer, max_length=max_length)
    batches, too_big = plan_batches(examples, max_tokens)
    if too_long + too_big:
        logger.warning(
            "%s: left out %d pair(s) longer than %d tokens a side or %d tokens together "
            "(--max-length, --max-batch-tokens)",
            path,
            too_long + too_big,
            max_length,
            max_tokens,
        )
    if not batches:
        raise DataError(f"{path}: no pair fits --max-length {max_length} and --max-batch-tokens {max_tokens}")
    return Dataset(examples, batches, len(read.skipped), too_long + too_big)


@dataclass
class Batch:
    """Padded tensors of one batch (B rows)."""

    input_ids: torch.Tensor  # (B, S) source ids, right-padded with pad_id
    attention_mask: torch.Tensor  # (B, S) 1 for source tokens, 0 for padding
    labels: torch.Tensor  # (B, T) target ids, IGNORE_INDEX at padding
    tgt_lang_ids: list[int]  # the first label of each row: the target language token

    def to(self, device: torch.device) -> Batch:
        return Batch(
            self.input_ids.to(device), self.attention_mask.to(device), self.labels.to(device), self.tgt_lang_ids
        )


def target_tokens(examples: Sequence[Example], indices: Sequence[int]) -> int:
    """Label tokens of a batch: the denominator of the per-token loss."""
    return sum(len(examples[i].tgt_ids) for i in indices)


def collate(examples: Sequence[Example], indices: Sequence[int], *, pad_id: int) -> Batch:
    rows = [examples[i] for i in indices]
    src_len = max(len(r.src_ids) for r in rows)
    tgt_len = max(len(r.tgt_ids) for r in rows)
    input_ids = torch.full((len(rows), src_len), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), src_len), dtype=torch.long)
    labels = torch.full((len(rows), tgt_len), IGNORE_INDEX, dtype=torch.long)
    for row, example in enumerate(rows):
        input_ids[row, : len(example.src_ids)] = torch.tensor(example.src_ids)
        attention_mask[row, : len(example.src_ids)] = 1
        labels[row, : len(example.tgt_ids)] = torch.tensor(example.tgt_ids)
    return Batch(input_ids, attention_mask, labels, [r.tgt_ids[0] for r in rows])
