"""Scoring: the log-probability the model gives a translation of a source (teacher forcing).

A pair is scored as the model would have produced it: the decoder reads the start token, the
target language token and the target's pieces, and the log-softmax of each position's logits is
read at the token that follows. The language token is given (``generate`` forces it), so it is
not scored; the pieces and the final ``</s>`` are. Pairs are sorted by length and packed into
batches of at most ``max_batch_tokens`` padded source plus target tokens, one forward pass each.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from m2m100.modeling import M2M100ForConditionalGeneration
from m2m100.tokenizer import MultilingualTokenizer


@dataclass(frozen=True)
class Score:
    """The log-probability of one target given its source.

    ``total`` is the sum of ``log_probs`` (one per scored token: the target's pieces, then
    ``</s>``; ``tokens`` names them) and ``normalized`` is ``total / len(tokens)``, the mean
    log-probability per token, which compares targets of different lengths.
    """

    total: float
    normalized: float
    log_probs: list[float]
    tokens: list[str]


@dataclass(frozen=True)
class ScorePair:
    """One pair laid out for the model: source ids as the tokenizer lays them out, and the
    target as ``[target language] pieces </s>`` (the decoder reads it shifted right)."""

    source: list[int]
    target: list[int]


def token_log_probs(
    model: M2M100ForConditionalGeneration,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    targets: torch.Tensor,
) -> torch.Tensor:
    """(B, T) log-probability of each target token given the source and the tokens before it.

    Args:
        input_ids: (B, S) source ids, right-padded; ``attention_mask`` (B, S) marks the real ones.
        targets: (B, T) the tokens to score, each row preceded (in the decoder's input) by the
            decoder start token; padding after a row's end is scored too and left to the caller
            (the decoder is causal, so padding never changes the real positions).

    Returns:
        (B, T) float32 log-probabilities.
    """
    start = torch.full_like(targets[:, :1], model.config.decoder_start_token_id)
    decoder_input_ids = torch.cat((start, targets[:, :-1]), dim=1)  # (B, T)
    logits = model(input_ids, attention_mask=attention_mask, decoder_input_ids=decoder_input_ids).logits
    log_probs = F.log_softmax(logits.float(), dim=-1)  # (B, T, V)
    return torch.gather(log_probs, 2, targets[:, :, None]).squeeze(2)


def score_batches(pairs: Sequence[ScorePair], budget: int) -> Iterator[list[int]]:
    """Indices of ``pairs``, longest first, packed so that rows x (longest source + longest
    target) stays within ``budget`` (a pair longer than the budget gets a batch of its own)."""
    order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i].source), len(pairs[i].target)), reverse=True)
    batch: list[int] = []
    widest = 0
    for index in order:
        width = len(pairs[index].source) + len(pairs[index].target)
        if batch and (len(batch) + 1) * max(widest, width) > budget:
            yield batch
            batch, widest = [], 0
        batch.append(index)
        widest = max(widest, width)
    if batch:
        yield batch


@torch.inference_mode()
def score_pairs(
    model: M2M100ForConditionalGeneration,
    pairs: Sequence[ScorePair],
    *,
    tokenizer: MultilingualTokenizer,
    budget: int,
) -> list[Score]:
    """The :class:`Score` of every pair, in input order, batched by ``budget`` tokens."""
    results: list[Score | None] = [None] * len(pairs)
    device = model.device
    for batch in score_batches(pairs, budget):
        rows = [pairs[i] for i in batch]
        pad = tokenizer.pad_token_id
        source = _padded([r.source for r in rows], pad)
        target = _padded([r.target for r in rows], pad)
        mask = _padded([[1] * len(r.source) for r in rows], 0)
        log_probs = token_log_probs(model, source.to(device), mask.to(device), target.to(device)).cpu()
        for row, (index, pair) in enumerate(zip(batch, rows)):
            scored = log_probs[row, 1 : len(pair.target)].tolist()  # the language token is given
            total = float(sum(scored))
            names = tokenizer.convert_ids_to_tokens(pair.target[1:])
            results[index] = Score(total, total / max(len(scored), 1), scored, names)
    assert all(r is not None for r in results)  # every pair is in one batch
    return [r for r in results if r is not None]


def score_texts(
    model: M2M100ForConditionalGeneration,
    tokenizer: MultilingualTokenizer,
    sources: Sequence[str],
    targets: Sequence[str],
    *,
    src: str,
    tgt: str,
    budget: int,
    max_tokens: int,
) -> list[Score]:
    """Score ``targets`` as translations of ``sources`` (checked texts, the model's language
    codes), each at most ``max_tokens`` long with its special tokens.

    Raises:
        ValueError: a pair longer than ``max_tokens``, named by its index.
    """
    before, after = tokenizer.source_layout(src)
    lang, eos = tokenizer.get_lang_id(tgt), model.config.eos_token_id
    pairs = []
    for index, (source, target) in enumerate(zip(sources, targets)):
        pair = ScorePair([*before, *_ids(tokenizer, source), *after], [lang, *_ids(tokenizer, target), eos])
        longest = max(len(pair.source), len(pair.target) + 1)  # the decoder reads the start token too
        if longest > max_tokens:
            raise ValueError(
                f"pair {index}: {longest} tokens, more than the model's {max_tokens} positions; "
                "score shorter pairs (split them into sentences)"
            )
        pairs.append(pair)
    return score_pairs(model, pairs, tokenizer=tokenizer, budget=budget) if pairs else []


def _ids(tokenizer: MultilingualTokenizer, text: str) -> list[int]:
    ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(text))
    assert isinstance(ids, list)  # a list of tokens gives a list of ids
    return ids


def _padded(rows: Sequence[Sequence[int]], fill: int) -> torch.Tensor:
    """(B, longest) long tensor of ``rows``, right-padded with ``fill``."""
    out = torch.full((len(rows), max(len(r) for r in rows)), fill, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out
