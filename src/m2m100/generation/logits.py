"""Logits rules: each small class changes the next-token scores for one reason.

A rule is called as ``rule(tokens, scores) -> scores`` with ``tokens`` the (N, T) sequences so far
(decoder start included) and ``scores`` the (N, V) float32 scores of the next token. Rules that
only touch a few tokens write into ``scores`` in place (a pass over N x 128k floats per rule and step
is not free), so callers pass scores they own. :func:`build_rules` puts them in the order transformers
4.57 builds its ``LogitsProcessorList``; the order matters because some rules overwrite a whole
row (forced tokens) while others scale it (repetition penalty, temperature).

Each rule computes what its transformers processor (named by ``transformers_name``) computes, with
the same operations in the same order, so the scores are equal bit for bit, ``-inf`` and NaN included.
Rules with ``needs_every_row`` read a row's position (which input, which beam): the decoder must pass
every row of the batch, finished ones included, in transformers' order (input-major).
Rules with ``screenable`` never raise a score and change each token's score from that score alone
(or set it), with no outside state: greedy search may then hand them screened logits, exact for the
tokens that can win and -inf for the rest (:mod:`m2m100.model.screened_head`), and pick the same token.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol

import torch

from m2m100.generation.config import DecodingOptions

NEG_INF = -math.inf
logger = logging.getLogger(__name__)

PrefixAllowedTokensFn = Callable[[int, torch.Tensor], list[int]]
ScoresProcessor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class LogitRule(Protocol):
    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor: ...


def _vocab_mask(token_ids: Sequence[int], scores: torch.Tensor) -> torch.Tensor:
    """(V,) bool, True at ``token_ids``."""
    mask = torch.zeros(scores.shape[-1], dtype=torch.bool, device=scores.device)
    mask[torch.as_tensor(list(token_ids), dtype=torch.long, device=scores.device)] = True
    return mask


def _check_rows(rule: str, scores: torch.Tensor, rows: int | None) -> None:
    if rows is not None and scores.shape[0] != rows:
        raise RuntimeError(
            f"{rule} reads each row's input, so it needs all {rows} rows of the batch in order, got "
            f"{scores.shape[0]}: the decoder must not drop finished rows while this rule is on"
        )


# ------------------------------------------------------------------------------------------
# Penalties, bans and biases (transformers' "logits processors")
# ------------------------------------------------------------------------------------------
class SequenceBias:
    """Add a bias to the last token of each biased sequence: always for one-token sequences, for
    longer ones when the sequence so far ends with the rest of it. Biases that meet on one score
    are summed first, then added, as transformers does."""

    transformers_name: ClassVar[str] = "SequenceBiasLogitsProcessor"

    def __init__(self, sequence_bias: Sequence[tuple[Sequence[int], float]]) -> None:
        self.screenable = all(bias <= 0 for _, bias in sequence_bias)  # bans and maluses only
        self.longer = [(list(ids), bias) for ids, bias in sequence_bias if len(ids) > 1]
        columns = sorted({ids[-1] for ids, _ in sequence_bias})  # the only scores that change
        self.where = {token: i for i, token in enumerate(columns)}
        self.columns = torch.tensor(columns, dtype=torch.long)
        self.single = torch.zeros(len(columns))  # the one-token biases, float32 as in transformers
        for ids, bias in sequence_bias:
            if len(ids) == 1:
                self.single[self.where[ids[0]]] = bias

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if not self.where:
            return scores
        if self.columns.device != scores.device:
            self.columns, self.single = self.columns.to(scores.device), self.single.to(scores.device)
        bias = scores.new_zeros(scores.shape[0], len(self.where))
        bias += self.single
        for ids, value in self.longer:
            if len(ids) > tokens.shape[1]:
                continue
            prefix = torch.tensor(ids[:-1], dtype=tokens.dtype, device=tokens.device)
            matching = torch.eq(tokens[:, -len(prefix) :], prefix).prod(dim=1)
            bias[:, self.where[ids[-1]]] += torch.where(
                matching.bool(),
                torch.tensor(value, device=tokens.device),
                torch.tensor(0.0, device=tokens.device),
            )
        scores[:, self.columns] = scores[:, self.columns] + bias
        return scores


class BadWords(SequenceBias):
    """Ban single bad tokens always, and the last token of a longer bad sequence when the
    sequence so far ends with the rest of it (a bias of -inf, as in transformers)."""

    transformers_name: ClassVar[str] = "NoBadWordsLogitsProcessor"

    def __init__(self, bad_words_ids: Sequence[Sequence[int]]) -> None:
        merged = {tuple(word): NEG_INF for word in bad_words_ids}
        super().__init__(list(merged.items()))


class EncoderRepetitionPenalty:
    """Favour (penalty > 1) or avoid (< 1) the tokens of the source: positive scores of source
    tokens are multiplied by ``penalty``, negative ones divided.

    As in transformers 4.57, which gathers with the (B, S) source ids over the rows: only the
    first B rows change, row i with the tokens of input i, whatever the beams or return sequences.
    Source padding counts as a source token."""

    transformers_name: ClassVar[str] = "EncoderRepetitionPenaltyLogitsProcessor"
    needs_every_row: ClassVar[bool] = True

    def __init__(self, penalty: float, encoder_input_ids: torch.Tensor, rows_per_input: int) -> None:
        self.penalty = 1 / penalty
        self.screenable = self.penalty >= 1  # avoiding the source only lowers scores
        self.encoder_input_ids, self.rows = encoder_input_ids, encoder_input_ids.shape[0] * rows_per_input

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        _check_rows("encoder_repetition_penalty", scores, self.rows)
        index = self.encoder_input_ids.to(scores.device)
        score = torch.gather(scores, 1, index)
        score = torch.where(score < 0, score * self.penalty, score / self.penalty)
        return scores.scatter(1, index, score)


class RepetitionPenalty:
    """Divide positive (multiply negative) scores of tokens already in the sequence by ``penalty``,
    once per token however often it occurred (CTRL's penalty)."""

    transformers_name: ClassVar[str] = "RepetitionPenaltyLogitsProcessor"

    def __init__(self, penalty: float) -> None:
        self.penalty = penalty
        self.screenable = penalty >= 1  # a penalty below 1 raises the scores of seen tokens

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        seen = torch.gather(scores, 1, tokens)
        seen = torch.where(seen < 0, seen * self.penalty, seen / self.penalty)
        return scores.scatter(1, tokens, seen)


class NoRepeatNGram:
    """Ban any token that would repeat an n-gram already in the sequence (fairseq's rule)."""

    screenable: ClassVar[bool] = True

    transformers_name: ClassVar[str] = "NoRepeatNGramLogitsProcessor"

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


class EncoderNoRepeatNGram:
    """Ban any token that would complete an n-gram of the row's source (padding included). Rows
    are ``rows_per_input`` consecutive beams or return sequences per input."""

    screenable: ClassVar[bool] = True

    transformers_name: ClassVar[str] = "EncoderNoRepeatNGramLogitsProcessor"
    needs_every_row: ClassVar[bool] = True

    def __init__(self, size: int, encoder_input_ids: torch.Tensor, rows_per_input: int) -> None:
        self.size, self.rows_per_input = size, rows_per_input
        self.ngrams: list[dict[tuple[int, ...], list[int]]] = []
        for source in encoder_input_ids.tolist():
            ngrams: dict[tuple[int, ...], list[int]] = {}
            for ngram in zip(*[source[i:] for i in range(size)]):
                ngrams.setdefault(tuple(ngram[:-1]), []).append(ngram[-1])
            self.ngrams.append(ngrams)

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        _check_rows("encoder_no_repeat_ngram_size", scores, len(self.ngrams) * self.rows_per_input)
        length = tokens.shape[1]
        start = length + 1 - self.size  # negative early on: too short a prefix, which matches nothing
        scores = scores.clone()
        for row, seq in enumerate(tokens.tolist()):
            banned = self.ngrams[row // self.rows_per_input].get(tuple(seq[start:length]), [])
            scores[row, banned] = NEG_INF
        return scores


class MinLength:
    """Ban the end-of-sequence tokens while the sequence is shorter than ``min_length``
    (decoder start included). transformers has two processors for it, one per setting."""

    screenable: ClassVar[bool] = True

    def __init__(
        self, min_length: int, eos_ids: Sequence[int], *, transformers_name: str = "MinLengthLogitsProcessor"
    ) -> None:
        self.min_length, self.eos_ids = min_length, eos_ids
        self.transformers_name = transformers_name  # or MinNewTokensLengthLogitsProcessor

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if tokens.shape[1] >= self.min_length:
            return scores
        scores[:, list(self.eos_ids)] = NEG_INF
        return scores


class PrefixAllowedTokens:
    """Allow only the tokens ``fn(batch_id, sequence)`` returns, for each row; ``batch_id`` is the
    row's index divided by ``num_beams`` (so, as in transformers, each return sequence of a
    sampling call has its own batch_id)."""

    transformers_name: ClassVar[str] = "PrefixConstrainedLogitsProcessor"
    needs_every_row: ClassVar[bool] = True

    def __init__(self, fn: PrefixAllowedTokensFn, num_beams: int, rows: int | None = None) -> None:
        self.fn, self.num_beams, self.rows = fn, num_beams, rows

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        _check_rows("prefix_allowed_tokens_fn", scores, self.rows)
        mask = torch.full_like(scores, NEG_INF)
        for batch_id in range(tokens.shape[0] // self.num_beams):
            for beam_id in range(self.num_beams):
                row = batch_id * self.num_beams + beam_id
                allowed = self.fn(batch_id, tokens[row])
                if len(allowed) == 0:
                    raise ValueError(
                        f"prefix_allowed_tokens_fn returned no token for batch_id {batch_id}: the "
                        "constraint cannot be met"
                    )
                mask[row, allowed] = 0
        return scores + mask


class ForceToken:
    """Make the token at position ``at`` certain: every other score becomes -inf and the forced
    one 0. ``token_ids`` is one id, several ids (all allowed), or a (N,) tensor with one id per row."""

    screenable: ClassVar[bool] = True

    def __init__(
        self,
        at: int,
        token_ids: int | Sequence[int] | torch.Tensor,
        *,
        transformers_name: str = "ForcedBOSTokenLogitsProcessor",
    ) -> None:
        self.at, self.token_ids = at, token_ids
        self.transformers_name = transformers_name  # or ForcedEOSTokenLogitsProcessor

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


class RemoveInvalidValues:
    """NaN becomes 0, +inf and -inf the largest and smallest finite values of the dtype."""

    transformers_name: ClassVar[str] = "InfNanRemoveLogitsProcessor"

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        cleaned = torch.where(scores != scores, 0.0, scores)
        cleaned = torch.where(scores == math.inf, torch.finfo(scores.dtype).max, cleaned)
        return torch.where(scores == -math.inf, torch.finfo(scores.dtype).min, cleaned)


class ExponentialDecayLength:
    """From ``start`` generated tokens on, add ``|score| * (factor ** steps - 1)`` to the
    end-of-sequence scores, ``steps`` counting the tokens past ``start``."""

    transformers_name: ClassVar[str] = "ExponentialDecayLengthPenalty"

    def __init__(self, start: int, factor: float, eos_ids: Sequence[int], prompt_length: int) -> None:
        self.start, self.factor = start + prompt_length, factor
        self.eos_ids = torch.tensor(list(eos_ids))

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        length = tokens.shape[-1]
        if length <= self.start:
            return scores
        eos = self.eos_ids = self.eos_ids.to(scores.device)
        penalty = torch.abs(scores[:, eos]) * (pow(self.factor, length - self.start) - 1)
        scores[:, eos] = scores[:, eos] + penalty
        return scores


class SuppressTokens:
    """Ban ``token_ids``; with ``at``, only when the sequence has exactly ``at`` tokens
    (``begin_suppress_tokens``)."""

    screenable: ClassVar[bool] = True

    def __init__(self, token_ids: Sequence[int], at: int | None = None) -> None:
        self.token_ids, self.at = list(token_ids), at
        self.transformers_name = (
            "SuppressTokensLogitsProcessor" if at is None else "SuppressTokensAtBeginLogitsProcessor"
        )

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self.at is not None and tokens.shape[1] != self.at:
            return scores
        scores[:, self.token_ids] = NEG_INF
        return scores


# ------------------------------------------------------------------------------------------
# Sampling filters (transformers' "logits warpers"), applied only when sampling
# ------------------------------------------------------------------------------------------
class Temperature:
    """Divide the scores by the temperature (> 1 flattens the distribution, < 1 sharpens it)."""

    transformers_name: ClassVar[str] = "TemperatureLogitsWarper"

    def __init__(self, temperature: float) -> None:
        self.temperature = temperature

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return scores / self.temperature


class TopK:
    """Keep the ``k`` best scores of each row (all tied with the k-th), -inf elsewhere; never
    fewer than ``min_keep``."""

    transformers_name: ClassVar[str] = "TopKLogitsWarper"

    def __init__(self, k: int, min_keep: int = 1) -> None:
        self.k = max(k, min_keep)

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        kth = torch.topk(scores, min(self.k, scores.shape[-1]))[0][..., -1:]
        return scores.masked_fill(scores < kth, NEG_INF)


class TopP:
    """Nucleus filtering: keep the smallest set of best tokens whose probability reaches ``p``."""

    transformers_name: ClassVar[str] = "TopPLogitsWarper"

    def __init__(self, p: float, min_keep: int = 1) -> None:
        self.p, self.min_keep = p, min_keep

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        ascending, order = torch.sort(scores, descending=False)
        drop = ascending.softmax(dim=-1).cumsum(dim=-1) <= (1 - self.p)  # the low tail outside the nucleus
        drop[..., -self.min_keep :] = False
        return scores.masked_fill(drop.scatter(1, order, drop), NEG_INF)


class MinP:
    """Keep the tokens whose probability is at least ``p`` times the best token's (and the
    ``min_keep`` best)."""

    transformers_name: ClassVar[str] = "MinPLogitsWarper"

    def __init__(self, p: float, min_keep: int = 1) -> None:
        self.p, self.min_keep = p, min_keep

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(scores, dim=-1)
        drop = probs < self.p * probs.max(dim=-1, keepdim=True)[0]
        order = torch.argsort(scores, descending=True, dim=-1)
        sorted_drop = torch.gather(drop, dim=-1, index=order)
        sorted_drop[..., : self.min_keep] = False
        return scores.masked_fill(sorted_drop.scatter(1, order, sorted_drop), NEG_INF)


class Typical:
    """Typical sampling: keep the tokens whose surprise is closest to the entropy, in that order,
    until their probability reaches ``mass``."""

    transformers_name: ClassVar[str] = "TypicalLogitsWarper"

    def __init__(self, mass: float, min_keep: int = 1) -> None:
        self.mass, self.min_keep = mass, min_keep

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        log_probs = torch.nn.functional.log_softmax(scores, dim=-1)
        entropy = -(log_probs * torch.exp(log_probs)).nansum(-1, keepdim=True)
        distance, order = torch.sort(torch.abs((-log_probs) - entropy), descending=False)
        cumulative = scores.gather(-1, order).softmax(dim=-1).cumsum(dim=-1)
        last = (cumulative < self.mass).sum(dim=1)
        last.clamp_(max=distance.shape[-1] - 1)
        sorted_drop = distance > distance.gather(1, last.view(-1, 1))
        sorted_drop[..., : self.min_keep] = False
        return scores.masked_fill(sorted_drop.scatter(1, order, sorted_drop), NEG_INF)


class EpsilonCutoff:
    """Drop the tokens with probability below ``epsilon`` (keeping the ``min_keep`` best)."""

    transformers_name: ClassVar[str] = "EpsilonLogitsWarper"

    def __init__(self, epsilon: float, min_keep: int = 1) -> None:
        self.epsilon, self.min_keep = epsilon, min_keep

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        drop = scores.softmax(dim=-1) < self.epsilon
        keep = min(self.min_keep, scores.size(-1))
        drop = drop & (scores < torch.topk(scores, keep)[0][..., -1, None])
        return scores.masked_fill(drop, NEG_INF)


class EtaCutoff:
    """Drop the tokens with probability below ``min(eta, sqrt(eta) * exp(-entropy))`` (keeping
    the ``min_keep`` best)."""

    transformers_name: ClassVar[str] = "EtaLogitsWarper"

    def __init__(self, eta: float, min_keep: int = 1) -> None:
        self.eta, self.min_keep = torch.tensor(eta), min_keep

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        eta = self.eta = self.eta.to(scores.device)
        entropy = torch.distributions.Categorical(logits=scores).entropy()
        cutoff = torch.min(eta, torch.sqrt(eta) * torch.exp(-entropy))[..., None]
        drop = scores.softmax(dim=-1) < cutoff
        keep = min(self.min_keep, scores.size(-1))
        drop = drop & (scores < torch.topk(scores, keep)[0][..., -1, None])
        return scores.masked_fill(drop, NEG_INF)


class Renormalize:
    """Log-softmax of the final scores (``renormalize_logits``), after every other rule."""

    transformers_name: ClassVar[str] = "LogitNormalization"

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return scores.log_softmax(dim=-1)


# ------------------------------------------------------------------------------------------
# Processors passed by the caller
# ------------------------------------------------------------------------------------------
class CustomProcessor:
    """A caller's ``(input_ids, scores) -> scores`` callable, e.g. a transformers ``LogitsProcessor``.
    What it returns is copied (unless it is ``scores`` itself), since the rules after it write in
    place; it sees every row, as in transformers."""

    needs_every_row: ClassVar[bool] = True

    def __init__(self, processor: ScoresProcessor) -> None:
        self.processor = processor

    def __call__(self, tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        result = self.processor(tokens, scores)
        return result if result is scores else result.clone()


def transformers_name(rule: Any) -> str | None:
    """The transformers processor class ``rule`` stands for: one of ours (``transformers_name``),
    a transformers processor (its class), or None (any other callable)."""
    if isinstance(rule, CustomProcessor):
        rule = rule.processor
    name = getattr(rule, "transformers_name", None)
    if isinstance(name, str):
        return name
    if type(rule).__module__.startswith("transformers."):
        return type(rule).__name__
    return None


def screenable(rules: Sequence[Any]) -> bool:
    """Whether every rule may be given screened logits (see the module's docstring)."""
    return all(getattr(rule, "screenable", False) for rule in rules)


def needs_every_row(rules: Sequence[Any]) -> bool:
    """Whether a rule reads rows by position: then the decoder passes every row, finished ones too."""
    return any(getattr(rule, "needs_every_row", False) for rule in rules)


def _check_processor(processor: Any) -> None:
    if not callable(processor):
        raise ValueError(f"logits_processor must hold callables (input_ids, scores) -> scores, got {processor!r}")
    try:
        parameters = inspect.signature(processor.__call__).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return
    if len(parameters) > 2:  # transformers passes no extra arguments and refuses such processors
        raise ValueError(
            f"logits processor {type(processor).__name__} takes the arguments {list(parameters)}, but generate "
            "passes only (input_ids, scores)"
        )


def merge_processors(rules: Sequence[Any], custom: Sequence[Any]) -> list[Any]:
    """transformers 4.57's ``_merge_criteria_processor_list``: a custom processor of the same
    transformers class as a built-in rule takes the rule's place (with a warning; up to 4.49 this
    was an error), the other custom processors follow the built-in rules, in their order, once each."""
    if len(custom) == 0:
        return list(rules)
    merged: list[Any] = []
    for rule in rules:
        name = transformers_name(rule)
        replacement = next((c for c in custom if name is not None and transformers_name(c) == name), None)
        if replacement is not None:
            logger.warning(
                "A custom logits processor of type %s was passed to generate, which also builds one from its "
                "settings; the custom one takes precedence",
                name,
            )
        merged.append(rule if replacement is None else replacement)
    for processor in custom:
        if processor not in merged:
            merged.append(processor)
    return merged


# ------------------------------------------------------------------------------------------
# The rules of one generate call
# ------------------------------------------------------------------------------------------
def build_rules(
    options: DecodingOptions,
    *,
    rows_per_input: int = 1,
    device: torch.device | None = None,
    encoder_input_ids: torch.Tensor | None = None,
    logits_processor: Sequence[ScoresProcessor] | None = None,
    prefix_allowed_tokens_fn: PrefixAllowedTokensFn | None = None,
) -> list[LogitRule]:
    """The rules that ``options`` call for, in transformers 4.57's order (``_get_logits_processor``):
    biases, penalties and bans, forced tokens, invalid values, length decay and suppression; then the
    caller's ``logits_processor``, merged as transformers merges them; then, when sampling,
    temperature, top-k, top-p, min-p, typical-p, epsilon and eta; last the renormalisation.

    Args:
        rows_per_input: decoder rows per input (beams or return sequences), for a target
            language given per input and for the rules that read the source.
        device: where per-row forced ids and the source ids live.
        encoder_input_ids: (B, S) source ids, padding included: needed by
            ``encoder_repetition_penalty`` and ``encoder_no_repeat_ngram_size``.
        logits_processor: the caller's processors: transformers ``LogitsProcessor`` objects or
            plain callables ``(input_ids, scores) -> scores``.
        prefix_allowed_tokens_fn: ``fn(batch_id, sequence) -> allowed token ids``, each step and row.

    Raises:
        ValueError: an option that needs ``encoder_input_ids`` without them, or a processor that is
            not a callable of (input_ids, scores).
    """
    o = options
    prompt_length = o.prompt_length
    forced_bos: int | torch.Tensor | None = None
    if isinstance(o.forced_bos, tuple):  # one language per input: one per row
        forced_bos = torch.tensor(o.forced_bos, dtype=torch.long, device=device).repeat_interleave(rows_per_input)
    else:
        forced_bos = o.forced_bos
    if encoder_input_ids is not None and encoder_input_ids.dim() != 2:
        raise ValueError(f"encoder_input_ids must be (batch, length) source ids, got shape {encoder_input_ids.shape}")
    if (o.encoder_repetition_penalty != 1.0 or o.encoder_no_repeat_ngram_size > 0) and encoder_input_ids is None:
        raise ValueError(
            "encoder_repetition_penalty and encoder_no_repeat_ngram_size read the source: pass its (batch, "
            "length) ids as encoder_input_ids"
        )
    source = None if encoder_input_ids is None else encoder_input_ids.to(device=device, dtype=torch.long)
    custom = list(logits_processor or [])
    for processor in custom:
        _check_processor(processor)
    if prefix_allowed_tokens_fn is not None and not callable(prefix_allowed_tokens_fn):
        raise ValueError(f"prefix_allowed_tokens_fn must be a callable, got {prefix_allowed_tokens_fn!r}")

    rules: list[Any] = []
    if o.sequence_bias is not None:
        rules.append(SequenceBias(o.sequence_bias))
    if source is not None and o.encoder_repetition_penalty != 1.0:
        rules.append(EncoderRepetitionPenalty(o.encoder_repetition_penalty, source, rows_per_input))
    if o.repetition_penalty != 1.0:
        rules.append(RepetitionPenalty(o.repetition_penalty))
    if o.no_repeat_ngram_size > 0:
        rules.append(NoRepeatNGram(o.no_repeat_ngram_size))
    if source is not None and o.encoder_no_repeat_ngram_size > 0:
        rules.append(EncoderNoRepeatNGram(o.encoder_no_repeat_ngram_size, source, rows_per_input))
    if o.bad_words_ids is not None:
        # transformers never bans the end-of-sequence token through bad_words_ids
        rules.append(BadWords([w for w in o.bad_words_ids if not (len(w) == 1 and w[0] in o.eos_ids)]))
    if o.eos_ids and o.min_length > 0:
        rules.append(MinLength(o.min_length, o.eos_ids))
    if o.eos_ids and o.min_new_tokens is not None and o.min_new_tokens > 0:
        rules.append(MinLength(o.min_length, o.eos_ids, transformers_name="MinNewTokensLengthLogitsProcessor"))
    if prefix_allowed_tokens_fn is not None:
        rows = None if source is None else source.shape[0] * rows_per_input
        rules.append(PrefixAllowedTokens(prefix_allowed_tokens_fn, o.num_beams, rows))
    if forced_bos is not None:
        rules.append(ForceToken(1, forced_bos))  # transformers forces position 1 whatever the prompt
    if o.forced_eos is not None:
        rules.append(ForceToken(o.max_length - 1, o.forced_eos, transformers_name="ForcedEOSTokenLogitsProcessor"))
    if o.remove_invalid_values:
        rules.append(RemoveInvalidValues())
    if o.exponential_decay_length_penalty is not None:
        start, factor = o.exponential_decay_length_penalty
        rules.append(ExponentialDecayLength(start, factor, o.eos_ids, prompt_length))
    if o.suppress_tokens is not None:
        rules.append(SuppressTokens(o.suppress_tokens))
    if o.begin_suppress_tokens is not None:
        begin = prompt_length + 1 if forced_bos is not None and prompt_length == 1 else prompt_length
        rules.append(SuppressTokens(o.begin_suppress_tokens, at=begin))

    built = {id(rule) for rule in rules}
    rules = [r if id(r) in built else CustomProcessor(r) for r in merge_processors(rules, custom)]

    if o.do_sample:
        # beam sampling keeps at least one token besides the end-of-sequence ones
        keep = (len(o.eos_ids) + 1 if o.eos_ids else 2) if o.num_beams > 1 else 1
        if o.temperature != 1.0:
            rules.append(Temperature(o.temperature))
        if o.top_k is not None and o.top_k != 0:
            rules.append(TopK(o.top_k, keep))
        if o.top_p is not None and o.top_p < 1.0:
            rules.append(TopP(o.top_p, keep))
        if o.min_p is not None:
            rules.append(MinP(o.min_p, keep))
        if o.typical_p < 1.0:
            rules.append(Typical(o.typical_p, keep))
        if 0.0 < o.epsilon_cutoff < 1.0:
            rules.append(EpsilonCutoff(o.epsilon_cutoff, keep))
        if 0.0 < o.eta_cutoff < 1.0:
            rules.append(EtaCutoff(o.eta_cutoff, keep))
    if o.renormalize_logits:
        rules.append(Renormalize())
    return rules


def apply_rules(rules: Sequence[LogitRule], tokens: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    for rule in rules:
        scores = rule(tokens, scores)
    return scores
