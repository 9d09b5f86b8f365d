"""Logits rules: each small class changes the next-token scores for one reason.

A rule is called as ``rule(tokens, scores) -> scores`` with ``tokens`` the (N, T) sequences so far
(decoder start included) and ``scores`` the (N, V) float32 scores of the next token. Rules that
only ban a few tokens write into ``scores`` in place (a pass over N x 128k floats per rule and step
is not free), so callers pass scores they own. :func:`build_rules` puts them in the order transformers
4.57 builds its ``LogitsProcessorList``; the order matters because some rules overwrite a whole
row (forced tokens) while others scale it (repetition penalty, temperature).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import torch

from m2m100.generation.config import DecodingOptions

NEG_INF = -math.inf


class LogitRule(Protocol):
    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor: ...


def _vocab_mask(token_ids: Sequence[int], scores: torch.Tensor) -> torch.Tensor:
    """(V,) bool, True at ``token_ids``."""
    mask = torch.zeros(scores.shape[-1], dtype=torch.bool, device=scores.device)
    mask[torch.as_tensor(list(token_ids), dtype=torch.long, device=scores.device)] = True
    return mask


class RepetitionPenalty:
    """Divide positive (multiply negative) scores of tokens already in the sequence by ``penalty``,
    once per token however often it occurred (CTRL's penalty)."""

    def __init__(self, penalty: float) -> None:
        self.penalty = penalty

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        seen = torch.gather(scores, 1, tokens)
        seen = torch.where(seen < 0, seen * self.penalty, seen / self.penalty)
        return scores.scatter(1, tokens, seen)


class NoRepeatNGram:
    """Ban any token that would repeat an n-gram already in the sequence (fairseq's rule)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        n, length = self.size, tokens.shape[1]
        if length + 1 < n:
            return scores
        scores = scores.clone()
        for row, seq in enumerate(tokens.tolist()):
            prefix = seq[length - n + 1 :] if n > 1 else []
            banned = [seq[i + n - 1] for i in range(length - n + 1) if seq[i : i + n - 1] == prefix]
            scores[row, banned] = NEG_INF
        return scores


class BadWords:
    """Ban single bad tokens always, and the last token of a longer bad sequence when the
    sequence so far ends with the rest of it."""

    def __init__(self, bad_words_ids: Sequence[Sequence[int]]) -> None:
        self.single = [w[0] for w in bad_words_ids if len(w) == 1]
        self.longer = [list(w) for w in bad_words_ids if len(w) > 1]

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        banned = _vocab_mask(self.single, scores).expand_as(scores).clone()
        for word in self.longer:
            if len(word) > tokens.shape[1]:
                continue
            prefix = torch.as_tensor(word[:-1], dtype=tokens.dtype, device=tokens.device)
            banned[:, word[-1]] |= (tokens[:, -len(prefix) :] == prefix).all(dim=1)
        return scores.masked_fill(banned, NEG_INF)


class MinLength:
    """Ban the end-of-sequence tokens while the sequence is shorter than ``min_length``
    (decoder start included)."""

    def __init__(self, min_length: int, eos_ids: Sequence[int]) -> None:
        self.min_length, self.eos_ids = min_length, eos_ids

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if tokens.shape[1] >= self.min_length:
            return scores
        scores[:, list(self.eos_ids)] = NEG_INF
        return scores


class ForceToken:
    """Make the token at position ``at`` certain: every other score becomes -inf and the forced
    one 0. ``token_ids`` is one id, several ids (all allowed), or a (N,) tensor with one id per row."""

    def __init__(self, at: int, token_ids: int | Sequence[int] | torch.Tensor) -> None:
        self.at, self.token_ids = at, token_ids

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if tokens.shape[1] != self.at:
            return scores
        forced = torch.full_like(scores, NEG_INF)
        if isinstance(self.token_ids, torch.Tensor):
            assert self.token_ids.shape == (scores.shape[0],), "one forced id per row"
            forced[torch.arange(scores.shape[0], device=scores.device), self.token_ids.to(scores.device)] = 0
        else:
            forced[:, [self.token_ids] if isinstance(self.token_ids, int) else list(self.token_ids)] = 0
        return forced


class SuppressTokens:
    """Ban ``token_ids``; with ``at``, only when the sequence has exactly ``at`` tokens
    (``begin_suppress_tokens``)."""

    def __init__(self, token_ids: Sequence[int], at: int | None = None) -> None:
        self.token_ids, self.at = list(token_ids), at

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self.at is not None and tokens.shape[1] != self.at:
            return scores
        scores[:, self.token_ids] = NEG_INF
        return scores


class Temperature:
    def __init__(self, temperature: float) -> None:
        self.temperature = temperature

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return scores / self.temperature


class TopK:
    """Keep the ``k`` best scores of each row (all tied with the k-th), -inf elsewhere."""

    def __init__(self, k: int) -> None:
        self.k = k

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        kth = torch.topk(scores, min(self.k, scores.shape[-1]))[0][..., -1:]
        return scores.masked_fill(scores < kth, NEG_INF)


class TopP:
    """Nucleus filtering: keep the smallest set of best tokens whose probability reaches ``p``."""

    def __init__(self, p: float, min_keep: int = 1) -> None:
        self.p, self.min_keep = p, min_keep

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        ascending, order = torch.sort(scores, descending=False)
        drop = ascending.softmax(dim=-1).cumsum(dim=-1) <= (1 - self.p)  # the low tail outside the nucleus
        drop[..., -self.min_keep :] = False
        return scores.masked_fill(drop.scatter(1, order, drop), NEG_INF)


def build_rules(
    options: DecodingOptions, *, rows_per_input: int = 1, device: torch.device | None = None
) -> list[LogitRule]:
    """The rules that ``options`` call for, in transformers' order: penalties and bans, forced
    tokens, suppression, then (when sampling) temperature, top-k and top-p.

    Args:
        rows_per_input: decoder rows per input (beams or return sequences), for a target
            language given per input.
        device: where per-row forced ids live.
    """
    o = options
    prompt_length = 1  # the decoder start token
    forced_bos: int | torch.Tensor | None = None
    if isinstance(o.forced_bos, tuple):  # one language per input: one per row
        forced_bos = torch.tensor(o.forced_bos, dtype=torch.long, device=device).repeat_interleave(rows_per_input)
    else:
        forced_bos = o.forced_bos
    rules: list[LogitRule] = []
    if o.repetition_penalty != 1.0:
        rules.append(RepetitionPenalty(o.repetition_penalty))
    if o.no_repeat_ngram_size > 0:
        rules.append(NoRepeatNGram(o.no_repeat_ngram_size))
    if o.bad_words_ids:
        # transformers never bans the end-of-sequence token through bad_words_ids
        words = [w for w in o.bad_words_ids if not (len(w) == 1 and w[0] in o.eos_ids)]
        if words:
            rules.append(BadWords(words))
    if o.eos_ids and o.min_length > prompt_length:
        rules.append(MinLength(o.min_length, o.eos_ids))
    if forced_bos is not None:
        rules.append(ForceToken(1, forced_bos))  # transformers forces position 1 whatever the prompt
    if o.forced_eos is not None:
        rules.append(ForceToken(o.max_length - 1, o.forced_eos))
    if o.suppress_tokens is not None:
        rules.append(SuppressTokens(o.suppress_tokens))
    if o.begin_suppress_tokens is not None:
        begin = prompt_length + 1 if forced_bos is not None and prompt_length == 1 else prompt_length
        rules.append(SuppressTokens(o.begin_suppress_tokens, at=begin))
    if o.do_sample:
        if o.temperature != 1.0:
            rules.append(Temperature(o.temperature))
        if o.top_k is not None and o.top_k != 0:
            rules.append(TopK(o.top_k))
        if o.top_p is not None and o.top_p < 1.0:
            rules.append(TopP(o.top_p))
    return rules


def apply_rules(rules: Sequence[LogitRule], tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    for rule in rules:
        scores = rule(tokens, scores)
    return scores
